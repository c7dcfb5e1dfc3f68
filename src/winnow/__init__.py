"""winnow: curate, select and prove ML training data.

Heavy modules load lazily, so ``import winnow`` and ``winnow --help`` are fast.

Example:
    >>> from winnow import Pipeline, Length
    >>> p = Pipeline([Length(min_words=5)])          # or Pipeline([{"length": {"min_words": 5}}])
"""

from __future__ import annotations

__version__ = "0.1.0"

# Short public names for packages that live inside a layer folder (docs/ARCHITECTURE.md):
# ``winnow.attribution`` is ``winnow.select.attribution``, and so on. The modules are the same
# objects under both names; the code itself imports the layered names.
PUBLIC_ALIASES = {
    "attribution": "winnow.select.attribution",
    "scaling": "winnow.predict.scaling",
    "mix": "winnow.prove.mix",
    "bench": "winnow.prove.bench",
    "export": "winnow.deliver.export",
    "filters": "winnow.curate.filters",
    "dedup": "winnow.curate.dedup",
}


class _AliasFinder:
    """Resolve ``winnow.<alias>[.sub]`` to the module of its layered name (the same object)."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if not fullname.startswith("winnow."):
            return None
        parts = fullname.split(".")
        if parts[1] not in PUBLIC_ALIASES:
            return None
        import importlib.util

        real = ".".join([PUBLIC_ALIASES[parts[1]], *parts[2:]])
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real))


class _AliasLoader:
    def __init__(self, real: str):
        self.real = real

    def create_module(self, spec):
        import importlib

        return importlib.import_module(self.real)

    def exec_module(self, module):
        pass


def _install_aliases() -> None:
    import sys

    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


_install_aliases()

_LAZY = {
    "Pipeline": "winnow.core.pipeline.pipeline:Pipeline",
    "RunResult": "winnow.core.pipeline.pipeline:RunResult",
    "run_yaml": "winnow.core.pipeline.pipeline:run_yaml",
    "MapStep": "winnow.core.pipeline.step:MapStep",
    "GlobalStep": "winnow.core.pipeline.step:GlobalStep",
    "Rule": "winnow.core.pipeline.step:Rule",
    "register_step": "winnow.core.pipeline.registry:register_step",
    "InputSpec": "winnow.core.io.readers:InputSpec",
    "load_manifest": "winnow.core.pipeline.manifest:load_manifest",
    "WinnowError": "winnow.errors:WinnowError",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        mod, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(mod), attr)
    # step classes by their CamelCase names (Length, GopherQuality, ...)
    if name[:1].isupper():
        from winnow.core.pipeline.registry import camel, registered_steps

        for key, cls in registered_steps().items():
            if camel(key) == name:
                return cls
    raise AttributeError(f"module 'winnow' has no attribute {name!r}")


def __dir__():
    from winnow.core.pipeline.registry import camel, step_names

    return sorted(list(globals()) + list(_LAZY) + [camel(k) for k in step_names()])
