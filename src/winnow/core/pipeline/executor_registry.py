"""Executor registry: executor name → class, filled by the executors themselves.

Dependencies point one way: :mod:`winnow.core.executors` imports the pipeline (the runner, the
steps and this registry); the pipeline never imports an executor. An executor class registers
its ``name`` with :func:`register_executor` where it is defined; ``Pipeline.run(executor="ray")``
and ``executor: ray`` in a pipeline YAML resolve the name here, and the executor's own pydantic
``Options`` model validates its ``executor_options``. The built-in executors (local, ray) are
loaded on the first lookup from the package named by :data:`BUILTIN_EXECUTORS` (a name, as the
step registry names its built-in step modules: no import edge, and ``import winnow.core.x`` stays
light); any other executor registers by being imported, or is passed as an instance.

Example:
    >>> executor_names()
    ['local', 'ray']
    >>> validate_executor_options("ray", {"cpus_per_task": 2})["cpus_per_task"]
    2.0
    >>> validate_executor_options("local", {"address": "auto"})
    Traceback (most recent call last):
    ...
    ValueError: executor_options: the local executor takes no options (got address); they are for executor: ray
"""

from __future__ import annotations

#: name → executor class (a subclass of :class:`winnow.core.executors.base.Executor`)
EXECUTORS: dict[str, type] = {}
#: the package whose import registers the built-in executors, loaded on the first lookup
BUILTIN_EXECUTORS = "winnow.core.executors"
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        import importlib

        importlib.import_module(BUILTIN_EXECUTORS)


def register_executor(cls: type) -> type:
    """Class decorator: make an executor class available under its ``name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"{cls.__qualname__}: an executor needs a class attribute `name` (an identifier)")
    prev = EXECUTORS.get(name)
    if prev is not None and (prev.__module__, prev.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"executor {name!r} is already registered by {prev.__module__}.{prev.__qualname__}")
    EXECUTORS[name] = cls
    return cls


def executor_names() -> list[str]:
    _load_builtins()
    return sorted(EXECUTORS)


def executor_class(name: str) -> type:
    """The executor class registered as ``name``; ``ValueError`` listing the valid names if none."""
    _load_builtins()
    cls = EXECUTORS.get(name)
    if cls is None:
        raise ValueError(f"unknown executor {name!r}; valid executors: {', '.join(executor_names())}")
    return cls


def takes_options(name: str) -> bool:
    """Whether the executor ``name`` declares any ``executor_options``."""
    return bool(executor_class(name).Options.model_fields)


def validate_executor_options(name: str, options: dict | None) -> dict:
    """Validate ``executor_options`` for executor ``name``; return them with defaults filled in.

    Raises ``ValueError`` naming the bad key (``executor_options.cpus_per_task: ...``).
    """
    return executor_class(name).validate_options(options)


def make_executor(name: str, *, workers: int | None, n_tasks: int, options: dict | None = None):
    """An executor ``name`` for a run of ``n_tasks`` tasks (``workers``: the user's request or None)."""
    cls = executor_class(name)
    opts = cls.validate_options(options)
    try:
        return cls.for_run(workers, n_tasks, opts)
    except ImportError as e:  # e.g. ray not installed
        raise ValueError(f"the {name} executor is not available: {e}") from None
