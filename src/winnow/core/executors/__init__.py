"""Executors: where the tasks of a pipeline's stages run.

:class:`~winnow.core.executors.base.Executor` is the interface (run a stage, reduce a global
step, close) and holds the stage loop every executor shares; ``local`` (process pool, the
default) and ``ray`` (Ray Data) implement it and register their names in
:mod:`winnow.core.pipeline.executor_registry` when this package is imported (``winnow.core``
imports it). Executors import the pipeline; the pipeline imports no executor.
"""

from winnow.core.executors import local, ray  # noqa: F401  (register the built-in executors)
from winnow.core.executors.base import Executor
from winnow.core.executors.local import LocalExecutor
from winnow.core.executors.ray import RayExecutor

__all__ = ["Executor", "LocalExecutor", "RayExecutor"]
