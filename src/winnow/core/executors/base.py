"""The executor interface: run a stage, reduce a global step, close.

:meth:`Executor.run_stages` is the stage loop every executor shares: for each stage of the
pipeline it skips the tasks whose completion markers exist (resume), hands the others to
:meth:`~Executor.run_stage`, then, if the stage ends at a global step, runs
:meth:`~Executor.reduce` over the tasks' key files and marks the reduce done. What a task does
with its rows (read, the chained steps of its stage, write) is
:func:`winnow.core.pipeline.runner.run_task` and :class:`~winnow.core.pipeline.runner.StagePlan`,
shared by every executor too; an executor only decides *where* tasks run.

A new executor is one class: subclass :class:`Executor`, give it a ``name``, implement
``run_stage`` (and ``Options``, ``reduce`` or ``close`` if it needs them), decorate it with
:func:`~winnow.core.pipeline.executor_registry.register_executor`, and import its module before
``Pipeline.run(executor=name)`` (an instance works without registering:
``Pipeline.run(..., executor=MyExecutor())``).

Example (an executor running the tasks of a stage one by one, in this process):
    >>> from winnow.core.executors.base import Executor
    >>> from winnow.core.pipeline.runner import run_task
    >>> class Serial(Executor):
    ...     name = "serial"
    ...     def run_stage(self, layout, spec, steps, s, tasks, opts, on_done):
    ...         results = []
    ...         for t in tasks:
    ...             results.append(run_task(layout, spec, steps, s, t, **opts))
    ...             on_done(results[-1], t)
    ...         return results
    >>> from winnow import Length, Pipeline
    >>> Pipeline([Length(min_words=5)]).run("raw/*.jsonl", "runs/x", executor=Serial())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import time
from abc import ABC, abstractmethod
from typing import Callable, ClassVar

from pydantic import ValidationError

from winnow.core.executors.options import ExecutorOptions
from winnow.core.memory import release_memory
from winnow.core.pipeline.executor_registry import executor_names, takes_options
from winnow.core.pipeline.reduce import ReduceTask, run_measured, run_plan, scratch_dir
from winnow.core.pipeline.runner import (
    RunLayout,
    TaskResult,
    load_marker,
    segments,
    set_progress_sink,
    write_json_atomic,
)
from winnow.core.pipeline.step import GlobalStep


class Executor(ABC):
    """Runs the stages of a pipeline: the interface every executor implements.

    Attributes:
        name: the executor's name (``executor: name`` in a YAML, ``--executor name``).
        Options: the pydantic model of its ``executor_options`` (none by default).
        workers: processes it uses (recorded in the manifest; given to a global step's ``reduce``).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[ExecutorOptions]] = ExecutorOptions
    workers: int = 1

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    @classmethod
    def validate_options(cls, options: dict | None) -> dict:
        """``executor_options`` checked against :attr:`Options`, with defaults filled in.

        Raises ``ValueError`` with one line per bad key (``executor_options.key: ...``).
        """
        options = dict(options or {})
        if not cls.Options.model_fields:
            if options:
                takers = ", ".join(n for n in executor_names() if takes_options(n)) or "none"
                raise ValueError(
                    f"executor_options: the {cls.name} executor takes no options (got "
                    f"{', '.join(sorted(options))}); they are for executor: {takers}"
                )
            return {}
        try:
            return cls.Options(**options).model_dump()
        except ValidationError as e:
            lines = []
            for err in e.errors():
                key = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    lines.append(
                        f"executor_options.{key}: unknown key; valid keys: {', '.join(cls.Options.model_fields)}"
                    )
                elif not key:  # a rule over several keys
                    lines.append(f"executor_options: {err['msg'].removeprefix('Value error, ')}")
                else:
                    lines.append(f"executor_options.{key}: {err['msg']}")
            raise ValueError("; ".join(lines)) from None

    @classmethod
    def for_run(cls, workers: int | None, n_tasks: int, options: dict) -> "Executor":
        """The executor for a run of ``n_tasks`` tasks, given the requested ``workers`` (or None)
        and validated ``options``. Default: one worker per CPU, at most one per task."""
        if workers is None:
            workers = os.cpu_count() or 1
        return cls(workers=max(1, min(int(workers), n_tasks)), **options)

    @abstractmethod
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
        """Run stage ``s`` of ``steps`` for ``tasks``; return their results.

        Each task's result, outputs and completion marker must be what
        :func:`~winnow.core.pipeline.runner.run_task` (``**opts``) makes of it; call
        ``on_done(result, task)`` as each task finishes (progress).
        """

    def reduce_partition_count(self, key_files: list | None = None) -> int:
        """Partitions of a global step's reduce over ``key_files`` (default: one per worker)."""
        return self.workers

    def run_reduce_tasks(self, tasks: list[ReduceTask]) -> list[dict]:
        """Run the independent tasks of one phase of a reduce plan; return their
        :func:`~winnow.core.pipeline.reduce.run_measured` records. Default: in this process."""
        return [run_measured(t) for t in tasks]

    def run_tasks(self, tasks: list[ReduceTask]) -> list[dict]:
        """Independent tasks on this executor's workers, e.g. the run-end schema rewrites
        (records as :meth:`run_reduce_tasks` returns them). Default: as a reduce phase."""
        return self.run_reduce_tasks(tasks)

    def reduce(self, gs: GlobalStep, key_files: list, dec_dir: str) -> list[dict]:
        """Run global step ``gs``'s reduce over the tasks' key files (``None``: a task kept no row),
        writing per-task decisions into ``dec_dir``: the phases of ``gs.reduce_plan`` (one task per
        partition, :meth:`reduce_partition_count` of them) through :meth:`run_reduce_tasks`.
        Returns every task's record (phase, partition, seconds, peak RSS, host)."""
        plan = gs.reduce_plan(
            key_files, dec_dir, partitions=self.reduce_partition_count(key_files), workers=self.workers
        )
        records = run_plan(plan, self.run_reduce_tasks)
        shutil.rmtree(scratch_dir(dec_dir), ignore_errors=True)
        release_memory()
        return records

    def close(self) -> None:
        """Release what the executor holds (pools, clusters it started)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_stages(
        self, layout: RunLayout, spec, steps: list, tasks: list, opts: dict, *, progress: bool = False
    ) -> tuple[list[TaskResult], dict[int, dict]]:
        """Run every stage of ``steps`` over ``tasks`` (resuming from markers): the stage loop.

        Returns every (stage, task) result and, by global step index, its reduce's ``seconds``,
        number of ``tasks`` and ``stats`` (:meth:`GlobalStep.plan_stats`).
        """
        all_results: list[TaskResult] = []
        reduces: dict[int, dict] = {}
        bar = _Progress(progress)
        try:
            for s, seg in enumerate(segments(steps)):
                todo, done = [], []
                for t in tasks:
                    r = load_marker(layout, s, t.index)
                    (done if r is not None else todo).append(r if r is not None else t)
                all_results.extend(done)
                label = "read + map" if s == 0 else f"stage {s}"
                total = (
                    sum(t.size for t in tasks) if s == 0 else sum(r.rows_out for r in all_results if r.stage == s - 1)
                )
                bar.start(
                    label,
                    total,
                    sum(t.size for t in tasks if t not in todo) if s == 0 else sum(r.read.rows_read for r in done),
                    unit="bytes" if s == 0 else "rows",
                )
                bar.add_rows(sum(r.read.rows_read for r in done))

                # progress within tasks (per batch, see runner.set_progress_sink), then the
                # remainder when a task finishes; reports that arrive after it are ignored
                seen: dict[int, list[int]] = {}
                finished: set[int] = set()

                def on_batch(task_index, amount, rows):
                    if task_index not in finished:
                        got = seen.setdefault(task_index, [0, 0])
                        got[0] += amount
                        got[1] += rows
                        bar.advance(amount, rows)

                def on_done(r, t, s=s):
                    finished.add(t.index)
                    amount, rows = seen.pop(t.index, (0, 0))
                    full = t.size if s == 0 else r.read.rows_read
                    bar.advance(max(full - amount, 0), max(r.read.rows_read + r.read.rows_quarantined - rows, 0))

                set_progress_sink(on_batch if bar.enabled else None)
                try:
                    all_results.extend(self.run_stage(layout, spec, steps, s, todo, opts, on_done))
                finally:
                    set_progress_sink(None)
                bar.stop()
                if seg.glob is not None:
                    gi, gs = seg.glob
                    reduces[gi] = self._reduce_stage(layout, s, gs, tasks, all_results, bar)
        finally:
            bar.stop()
        return all_results, reduces

    def _reduce_stage(
        self, layout: RunLayout, s: int, gs: GlobalStep, tasks: list, results: list[TaskResult], bar: "_Progress"
    ) -> dict:
        """Reduce the global step ending stage ``s`` unless its marker exists; return its
        ``seconds`` and number of ``tasks``. Per-task seconds and peak RSS go to
        ``_work/stage-s/reduce.json``."""
        rmark = layout.reduce_marker(s)
        if os.path.exists(rmark):
            with open(rmark) as fh:
                m = json.load(fh)
            return {"seconds": m["seconds"], "tasks": m.get("reduce_tasks", 1), "stats": m.get("stats", {})}
        key_files = []
        for t in tasks:
            r = next(x for x in results if x.stage == s and x.task == t.index)
            kf = [os.path.join(layout.root, p) for p in r.files.get("keys", [])]
            key_files.append(kf[0] if kf else None)
        rs = time.perf_counter()
        dec_dir = layout.decisions(s)
        if os.path.isdir(dec_dir):
            shutil.rmtree(dec_dir)
        os.makedirs(dec_dir)
        parts = self.reduce_partition_count(key_files)
        bar.note(f"{gs.name}: reduce over {len(key_files)} tasks, {parts} partition(s)")
        records = self.reduce(gs, key_files, dec_dir) or []
        seconds = time.perf_counter() - rs
        write_json_atomic(
            os.path.join(layout.stage(s), "reduce.json"),
            {
                "step": gs.name,
                "partitions": parts,
                "seconds": round(seconds, 4),
                "tasks": [
                    {k: v for k, v in r.items() if k != "result"} | {"result": _jsonable(r.get("result"))}
                    for r in records
                ],
            },
        )
        n = len(records) or 1  # an executor whose own reduce() reports no tasks ran one
        stats = _jsonable(gs.plan_stats(records)) or {}
        write_json_atomic(rmark, {"seconds": seconds, "reduce_tasks": n, "stats": stats})
        return {"seconds": seconds, "tasks": n, "stats": stats}


def _jsonable(x):
    """A task's result as JSON (numbers, strings, dicts and lists of them; anything else as None)."""
    try:
        json.dumps(x)
        return x
    except TypeError:
        return None


class _Progress:
    """Rich progress bar (rows, rows/s, ETA) that degrades to nothing when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._p = None
        self._task = None
        self._rows = 0
        self._t0 = 0.0

    def start(self, label: str, total: float, completed: float, unit: str) -> None:
        if not self.enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._rows = 0
        self._t0 = time.perf_counter()
        self._p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._p.start()
        self._task = self._p.add_task(label, total=max(total, 1), completed=completed, rows=0, rate=0.0)

    def add_rows(self, n: int) -> None:
        self._rows += n

    def advance(self, amount: float, rows: int) -> None:
        if self._p is None:
            return
        self._rows += rows
        dt = max(time.perf_counter() - self._t0, 1e-9)
        self._p.update(self._task, advance=amount, rows=self._rows, rate=self._rows / dt)

    def note(self, msg: str) -> None:
        if self.enabled:
            from rich.console import Console

            Console(stderr=True).print(f"[dim]{msg}[/dim]")

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
