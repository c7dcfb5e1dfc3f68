"""Step registry: steps register themselves where they are defined.

A step class becomes a YAML name with the :func:`register_step` decorator in its own module, so
adding a filter touches its file and one line of :data:`BUILTIN_STEPS` (a test names a missing
one). A lookup of a built-in name imports just that step's module. Any other lookup imports the
built-in step modules (every public module of :mod:`winnow.curate.filters` plus
:data:`BUILTIN_MODULES`) and the modules named by ``winnow.steps`` entry points of installed
packages; ``winnow --help`` imports none of them. A step from any other module registers by
being imported (``plugins:`` in a pipeline YAML imports modules), and a YAML step name may also
be a dotted path ``package.module:ClassName`` to a step class. The Python API needs no registry at all:
``Pipeline([MyStep()])``.

    >>> get_step_class("gopher_quality").__name__, get_step_class("GopherQuality").name
    ('GopherQuality', 'gopher_quality')
    >>> get_step_class("winnow.curate.filters.length:Length").name
    'length'
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from winnow.errors import UnknownStepError, WinnowError  # UnknownStepError: importable from here too

#: modules holding built-in steps outside :mod:`winnow.curate.filters` (whose modules are all scanned)
BUILTIN_MODULES = (
    "winnow.curate.dedup.exact",
    "winnow.curate.dedup.minhash",
    "winnow.curate.dedup.semantic",
    "winnow.curate.decontam.step",
    "winnow.curate.quality.step",
    "winnow.select.step",
)
#: packages every public module of which may define built-in steps
BUILTIN_PACKAGES = ("winnow.curate.filters",)
#: where each built-in step is defined: a lookup of one of these names imports that module only
#: (importing every step module costs a process ~0.4 s); any other name triggers the full scan.
#: A test checks this index against the full scan.
BUILTIN_STEPS = {
    "c4": "winnow.curate.filters.c4",
    "decontaminate": "winnow.curate.decontam.step",
    "exact_dedup": "winnow.curate.dedup.exact",
    "fineweb_quality": "winnow.curate.filters.fineweb",
    "gopher_quality": "winnow.curate.filters.gopher",
    "gopher_repetition": "winnow.curate.filters.gopher",
    "language": "winnow.curate.filters.language",
    "length": "winnow.curate.filters.length",
    "minhash_dedup": "winnow.curate.dedup.minhash",
    "pii": "winnow.curate.filters.pii",
    "quality_classifier": "winnow.curate.quality.step",
    "select": "winnow.select.step",
    "semantic_dedup": "winnow.curate.dedup.semantic",
    "url_filter": "winnow.curate.filters.url",
}
#: entry-point group through which installed packages add steps (value: ``module`` or ``module:Class``)
ENTRY_POINT_GROUP = "winnow.steps"

_REGISTRY: dict[str, type] = {}
_loaded = False


class StepRegistrationError(WinnowError, ValueError):
    """Two different step classes claim one YAML name, or a registered class has no valid name."""


def camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def register_step(cls):
    """Class decorator: make a step class available under its ``name`` (YAML) and CamelCase name.

    >>> from winnow.core.pipeline.step import MapStep
    >>> @register_step
    ... class KeepAll(MapStep):
    ...     name = "keep_all_doc_example"
    >>> get_step_class("keep_all_doc_example") is KeepAll
    True
    >>> unregister_step("keep_all_doc_example")
    """
    from winnow.core.pipeline.step import Step

    if not (isinstance(cls, type) and issubclass(cls, Step)):
        raise StepRegistrationError(f"register_step: {cls!r} is not a Step subclass")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise StepRegistrationError(
            f"register_step: {cls.__qualname__} needs a snake_case class attribute `name` (its YAML name), got {name!r}"
        )
    old = _REGISTRY.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise StepRegistrationError(
            f"step name {name!r} is already registered by {old.__module__}:{old.__qualname__}; "
            f"rename {cls.__module__}:{cls.__qualname__}"
        )
    _REGISTRY[name] = cls
    return cls


def unregister_step(name: str) -> None:
    """Forget a registered step name (tests, notebooks redefining a step)."""
    _REGISTRY.pop(name, None)


def builtin_modules() -> list[str]:
    """Modules of the built-in steps (the filters package is scanned, so a new filter file needs no entry)."""
    mods = []
    for pkg in BUILTIN_PACKAGES:
        p = importlib.import_module(pkg)
        mods += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(p.__path__) if not m.name.startswith("_")]
    return mods + list(BUILTIN_MODULES)


def load_steps() -> None:
    """Import the built-in step modules and the ``winnow.steps`` entry points (once)."""
    global _loaded
    if _loaded:
        return
    for m in builtin_modules():
        importlib.import_module(m)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()  # a module registers its steps by being imported
        except Exception as e:
            raise StepRegistrationError(
                f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} "
                f"failed to load: {type(e).__name__}: {e}"
            ) from e
        if isinstance(obj, type):
            register_step(obj)
    _loaded = True


def _from_path(path: str):
    """``package.module:ClassName`` → the step class (importing the module registers its steps)."""
    from winnow.core.pipeline.step import Step

    mod, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise UnknownStepError(f"unknown step {path!r}: cannot import it ({type(e).__name__}: {e})") from None
    if not (isinstance(obj, type) and issubclass(obj, Step)):
        raise UnknownStepError(f"{path!r} is not a step class (a subclass of winnow MapStep or GlobalStep)")
    return obj


def get_step_class(name: str):
    """Return the step class registered under ``name`` (YAML name, CamelCase name or ``module:Class``)."""
    if ":" in name:
        return _from_path(name)
    builtin = name if name in BUILTIN_STEPS else {camel(k): k for k in BUILTIN_STEPS}.get(name)
    if builtin is not None:  # a built-in step: import its module only
        if builtin not in _REGISTRY:
            importlib.import_module(BUILTIN_STEPS[builtin])
        if builtin in _REGISTRY:
            return _REGISTRY[builtin]
    load_steps()
    if name in _REGISTRY:
        return _REGISTRY[name]
    by_camel = {camel(k): v for k, v in _REGISTRY.items()}
    if name in by_camel:
        return by_camel[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownStepError(
        f"unknown step {name!r}.{hint} Valid steps: {', '.join(sorted(_REGISTRY))} "
        "(or a `package.module:ClassName` path to a step class)"
    )


def step_names() -> list[str]:
    """Every registered YAML step name (built-in steps, entry points, imported plugins)."""
    load_steps()
    return sorted(_REGISTRY)


def registered_steps() -> dict[str, type]:
    """``{yaml name: step class}`` of every registered step."""
    load_steps()
    return dict(sorted(_REGISTRY.items()))
