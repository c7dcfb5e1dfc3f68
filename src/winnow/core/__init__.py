"""winnow.core: records, hashing, memory, io, pipeline, executors, datasets.

Importing it registers the built-in executors (``local``, ``ray``) with the pipeline's executor
registry, so ``Pipeline.run(executor="ray")`` finds them while :mod:`winnow.core.pipeline` itself
imports no executor (dependencies point from executors to the pipeline only).
"""
from winnow.core import executors as _executors  # noqa: F401  (registers local and ray)
