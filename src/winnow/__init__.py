"""winnow: curate, select and prove ML training data.

Heavy modules load lazily, so ``import winnow`` and ``winnow --help`` are fast.

Example:
    >>> from winnow import Pipeline, Length
    >>> p = Pipeline([Length(min_words=5)])          # or Pipeline([{"length": {"min_words": 5}}])
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Pipeline": "winnow.pipeline.pipeline:Pipeline",
    "RunResult": "winnow.pipeline.pipeline:RunResult",
    "run_yaml": "winnow.pipeline.pipeline:run_yaml",
    "MapStep": "winnow.pipeline.step:MapStep",
    "GlobalStep": "winnow.pipeline.step:GlobalStep",
    "InputSpec": "winnow.io.readers:InputSpec",
    "load_manifest": "winnow.pipeline.manifest:load_manifest",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        mod, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(mod), attr)
    # step classes by their CamelCase names (Length, GopherQuality, ...)
    from winnow.pipeline.registry import STEPS, camel

    for key in STEPS:
        if camel(key) == name:
            from winnow.pipeline.registry import get_step_class

            return get_step_class(key)
    raise AttributeError(f"module 'winnow' has no attribute {name!r}")


def __dir__():
    from winnow.pipeline.registry import STEPS, camel

    return sorted(list(globals()) + list(_LAZY) + [camel(k) for k in STEPS])
