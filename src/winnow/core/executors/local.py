"""Local executor: a process pool over tasks, with rich progress (rows/s, ETA).

``workers=1`` runs tasks in the calling process (no pool), which is also what tests use
for speed; ``workers>1`` uses a ``spawn`` process pool so no state leaks between workers.
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable

from winnow.core.pipeline.runner import RunLayout, TaskResult, run_task

_WORKER_STATE: dict = {}


def _init_worker(payload: bytes) -> None:
    from winnow.core.executors.lifeline import exit_with_parent

    exit_with_parent()  # a killed driver must not leave workers behind
    # payload is our own pickled pipeline from the parent process (not external input)
    _WORKER_STATE["args"] = pickle.loads(payload)


def _worker_run(s: int, task) -> TaskResult:
    layout, spec, steps, opts = _WORKER_STATE["args"]
    return run_task(layout, spec, steps, s, task, **opts)


class LocalExecutor:
    """Runs the tasks of a stage on ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    def run_stage(self, layout: RunLayout, spec, steps: list, s: int, tasks: list, opts: dict,
                  on_done: Callable[[TaskResult, object], None]) -> list[TaskResult]:
        results: list[TaskResult] = []
        if not tasks:
            return results
        if self.workers == 1 or len(tasks) == 1:
            for t in tasks:
                r = run_task(layout, spec, steps, s, t, **opts)
                results.append(r)
                on_done(r, t)
            return results
        payload = pickle.dumps((layout, spec, steps, opts))
        ctx = mp.get_context("spawn")
        n = min(self.workers, len(tasks))
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                 initargs=(payload,)) as pool:
            pending = {pool.submit(_worker_run, s, t): t for t in tasks}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        t = pending.pop(f)
                        r = f.result()
                        results.append(r)
                        on_done(r, t)
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
        return results

    def close(self) -> None:
        pass


def make_executor(name: str, workers: int, **kwargs):
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        try:
            from winnow.core.executors.ray import RayExecutor
        except ImportError as e:  # pragma: no cover
            raise ValueError(f"the ray executor is not available: {e}") from None
        return RayExecutor(workers=workers, **kwargs)
    raise ValueError(f"unknown executor {name!r}; valid executors: local, ray")

