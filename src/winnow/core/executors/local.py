"""Local executor (the default): a process pool over the tasks of a stage.

``workers=1`` runs tasks in the calling process (no pool), which is also what tests use
for speed; ``workers>1`` uses a ``spawn`` process pool so no state leaks between workers.
The pool is started once per run and reused by every stage (a worker imports winnow, loads the
compiled kernels and the steps' models once, not once per stage); :meth:`LocalExecutor.close`
(called at the end of ``Pipeline.run``) stops it.
A global step's reduce runs as ``workers`` partitions (:meth:`Executor.reduce`): each phase of
its plan with several tasks goes to that warm pool (or, if no stage started one, a pool for the
whole reduce), a phase of one task (a global pass, or a step that does not partition) runs in
this process, and so does a small reduce (fewer than ``pool_min_rows`` key rows: a pool would
cost more than it saves), as one partition. The run-end schema rewrites of ``rejects/`` run on
the warm pool too (:meth:`LocalExecutor.run_tasks`).
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable

import cloudpickle

from winnow.core.executors.base import Executor
from winnow.core.pipeline.executor_registry import register_executor
from winnow.core.pipeline.reduce import run_measured
from winnow.core.pipeline.runner import RunLayout, TaskResult, progress_sink, run_task, set_progress_sink
from winnow.core.spawn import main_not_reimported

_WORKER_STATE: dict = {}


def _init_worker(payload: bytes, progress=None) -> None:
    from winnow.core.executors.lifeline import exit_with_parent

    exit_with_parent()  # a killed driver must not leave workers behind
    if progress is not None:  # per-batch progress goes back to the driver through this queue
        set_progress_sink(lambda *item: progress.put(item))
    # payload is our own pickled pipeline from the parent process (not external input)
    _WORKER_STATE["args"] = pickle.loads(payload)


def _worker_run(s: int, task) -> TaskResult:
    layout, spec, steps, opts = _WORKER_STATE["args"]
    return run_task(layout, spec, steps, s, task, **opts)


def _init_reduce_worker() -> None:
    from winnow.core.executors.lifeline import exit_with_parent

    exit_with_parent()


def _run_pickled(payload: bytes) -> dict:
    # payload: a reduce task pickled by this run's driver (not external input)
    return run_measured(pickle.loads(payload))


def _drain(queue, sink) -> None:
    if queue is None:
        return
    import queue as q

    while True:
        try:
            item = queue.get_nowait()
        except q.Empty:
            return
        sink(*item)


@register_executor
class LocalExecutor(Executor):
    """Runs the tasks of a stage on ``workers`` processes."""

    name = "local"
    #: a reduce over fewer key rows runs its partitions in this process: starting a pool (imports,
    #: compiled kernels) costs seconds, more than such a reduce takes
    pool_min_rows: int = 200_000
    _rpool = None
    _pool_ok = False

    def _small(self, key_files: list) -> bool:
        """Whether a reduce over ``key_files`` is below ``pool_min_rows`` key rows."""
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in key_files if f) < self.pool_min_rows

    def reduce_partition_count(self, key_files: list | None = None) -> int:
        """One per worker; one for a small reduce (it runs in this process, where more
        partitions would only repeat each phase's fixed costs)."""
        if key_files is not None and self.workers > 1 and self._small(key_files):
            return 1
        return self.workers

    def reduce(self, gs, key_files: list, dec_dir: str) -> list[dict]:
        self._pool_ok = not self._small(key_files)
        try:
            return super().reduce(gs, key_files, dec_dir)
        finally:
            if self._rpool is not None:
                self._rpool.shutdown(cancel_futures=True)
                self._rpool = None

    def run_tasks(self, tasks: list) -> list[dict]:
        """On the stages' warm pool when there is one (nothing to start), else in this process."""
        if self.workers == 1 or len(tasks) == 1 or self._pool is None:
            return [run_measured(t) for t in tasks]
        return self._on_pool(self._pool, tasks)

    def run_reduce_tasks(self, tasks: list) -> list[dict]:
        """Tasks of a reduce phase on a process pool (started at the first phase with several
        tasks, kept for the rest of the reduce); a single task runs in this process."""
        if self.workers == 1 or len(tasks) == 1 or not self._pool_ok:
            return [run_measured(t) for t in tasks]
        if self._pool is None and self._rpool is None:
            ctx = mp.get_context("spawn")
            self._rpool = ProcessPoolExecutor(
                max_workers=min(self.workers, self.reduce_partition_count()),
                mp_context=ctx,
                initializer=_init_reduce_worker,
            )
        return self._on_pool(self._pool or self._rpool, tasks)  # the run's warm pool, when a stage started one

    @staticmethod
    def _on_pool(pool, tasks: list) -> list[dict]:
        """Every task on ``pool``; records in task order (the rest cancelled at the first failure)."""
        with main_not_reimported():  # workers start at the first submits
            futures = [pool.submit(_run_pickled, cloudpickle.dumps(t)) for t in tasks]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool = None
        self._pool_key = None
        self._queue = None

    def _get_pool(self, payload: bytes, n: int, progress: bool):
        """The warm pool of this run (a new one only if the pipeline or the progress wiring changed)."""
        key = (payload, n, progress)
        if self._pool is not None and self._pool_key == key:
            _drain(self._queue, lambda *item: None)  # late reports of the previous stage
            return self._pool, self._queue
        self.close()
        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue() if progress else None
        self._pool = ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(payload, self._queue)
        )
        self._pool_key = key
        return self._pool, self._queue

    def close(self) -> None:
        """Stop the worker pool (if one was started)."""
        pool, self._pool, self._pool_key = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._queue = None

    def run_stage(
        self,
        layout: RunLayout,
        spec,
        steps: list,
        s: int,
        tasks: list,
        opts: dict,
        on_done: Callable[[TaskResult, object], None],
    ) -> list[TaskResult]:
        results: list[TaskResult] = []
        if not tasks:
            return results
        if self.workers == 1 or len(tasks) == 1:
            for t in tasks:
                r = run_task(layout, spec, steps, s, t, **opts)
                results.append(r)
                on_done(r, t)
            return results
        # steps defined in a script, a notebook or stdin (module __main__) travel by value
        payload = cloudpickle.dumps((layout, spec, steps, opts))
        sink = progress_sink()
        pool, queue = self._get_pool(payload, min(self.workers, len(tasks)), sink is not None)
        with main_not_reimported():  # a new pool's workers start at the first submits
            pending = {pool.submit(_worker_run, s, t): t for t in tasks}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.25 if queue is not None else None, return_when=FIRST_COMPLETED)
                _drain(queue, sink)  # in this thread, before the finished tasks' on_done
                for f in done:
                    t = pending.pop(f)
                    r = f.result()
                    results.append(r)
                    on_done(r, t)
        except BaseException:
            for f in pending:
                f.cancel()
            self.close()
            raise
        return results
