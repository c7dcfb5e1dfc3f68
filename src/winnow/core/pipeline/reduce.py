"""Partitioned reduces: a global step's reduce as phases of independent tasks.

A :class:`~winnow.core.pipeline.step.GlobalStep` describes its reduce as a *plan*
(:meth:`~winnow.core.pipeline.step.GlobalStep.reduce_plan`): a list of phases, each a list of
:class:`ReduceTask` that may run in any order, on any process or node that sees the run folder.
A phase starts when the previous one has finished; tasks pass data to later phases through
files under the decisions folder only (so a task that is retried rewrites the same files). The
executor decides where tasks run (the local executor: its process pool; Ray: one Ray task each);
:func:`run_plan` runs a plan in this process (what ``GlobalStep.reduce`` does).

The decisions do not depend on the number of partitions: each step partitions by keys that
never need to meet keys of another partition (hash prefixes for exact dedup, bucket hashes then
connected components for MinHash, k-means clusters for semantic dedup), and the tests compare
every partition count with one.

Example:
    >>> def square(x):
    ...     return x * x
    >>> plan = [[ReduceTask("square", p, square, (p,)) for p in range(3)]]
    >>> [r["result"] for r in run_plan(plan)]
    [0, 1, 4]
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable, NamedTuple, Sequence

from winnow.core.memory import PeakRSS


class ReduceTask(NamedTuple):
    """One independent piece of a reduce: ``fn(*args)`` (picklable; returns something small).

    ``phase`` names the kind of work (``split``, ``buckets``, ``decide``, ...), ``part`` its
    partition; ``cpus`` is what the task may use (a one-task reduce gets the executor's workers).
    """

    phase: str
    part: int
    fn: Callable[..., Any]
    args: tuple
    cpus: int = 1


def run_measured(task: ReduceTask) -> dict:
    """Run one task; return its result with ``seconds``, ``peak_rss_mb`` (sampled resident size
    of the process during the task), ``start_rss_mb``, ``pid``, ``host`` and Ray ``node``."""
    from winnow.core.memory import release_memory, tune_malloc

    tune_malloc()
    t0 = time.perf_counter()
    with PeakRSS() as m:
        result = task.fn(*task.args)
    seconds = time.perf_counter() - t0
    release_memory()
    return {
        "phase": task.phase,
        "part": task.part,
        "result": result,
        "seconds": round(seconds, 4),
        "peak_rss_mb": round(m.peak / 2**20, 1),
        "start_rss_mb": round(m.start / 2**20, 1),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "node": _ray_node(),
    }


def _ray_node() -> str | None:
    """The Ray node id of this process (None outside Ray)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()


def run_plan(plan: Sequence[Sequence[ReduceTask]], run: Callable[[list], list] | None = None) -> list[dict]:
    """Run the phases of a plan in order; ``run(tasks) -> [run_measured(t) for t in tasks]``
    (default: one after the other, in this process). Returns every task's measured record."""
    run = run or (lambda tasks: [run_measured(t) for t in tasks])
    out: list[dict] = []
    for phase in plan:
        if phase:
            out.extend(run(list(phase)))
    return out


def scratch_dir(out_dir: str) -> str:
    """Where a partitioned reduce keeps its intermediate files (the executor removes it after
    the last phase)."""
    return os.path.join(out_dir, "_scratch")


def whole_reduce(gs, key_files: list, out_dir: str, workers: int) -> None:
    """The one task of a step that does not partition its reduce."""
    gs.reduce(key_files, out_dir, workers=workers)


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``0..n`` (some empty when ``n < parts``).

    >>> chunks(5, 2)
    [(0, 3), (3, 5)]
    """
    parts = max(1, parts)
    cuts = [(n * i + parts - 1) // parts for i in range(parts + 1)]
    return list(zip(cuts[:-1], cuts[1:]))
