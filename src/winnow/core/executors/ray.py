"""Ray executor: the same stages as the local executor, on Ray Data.

Each stage of a pipeline (see :mod:`winnow.core.pipeline.runner`) becomes one Ray Data job:

* **read** — a :class:`ray.data.Datasource` with one Ray read task per winnow task (an input
  file, or a group of small files). Stage 0 reads through winnow's own readers, so ids,
  quarantine (``quarantine/``) and read counters are exactly those of the local executor;
  later stages read the previous stage's per-task Arrow IPC files.
* **map** — ``map_batches`` over Arrow batches (``batch_format="pyarrow"``) runs the *same*
  step code as local (:meth:`StagePlan.run_batch <winnow.core.pipeline.runner.StagePlan.run_batch>`):
  ``GlobalStep.apply`` of the previous global step, then every ``MapStep.process`` of the
  segment, then ``GlobalStep.map`` (keys) for the next global step.
  Rejected rows are written to ``rejects/`` with ``step`` and ``reason``; kept rows to
  ``data/`` (last stage) or to the stage's intermediate folder. Every file name is derived
  from the rows it holds (task and first row), and written atomically, so a retried task
  rewrites the same files: no row is duplicated or lost when Ray retries a killed worker.
  The map output is one small row of counters per batch, collected by the driver into the
  same per-task results (and completion markers) as the local executor.
* **reduce** — the phases of ``GlobalStep.reduce_plan`` over the per-task key files (the same
  files, in the same task order, as local): one Ray task per partition (``reduce_partitions``,
  default one per task slot of the cluster), then the next phase; decisions per task.

The stage loop (markers, resume, when to reduce) is :meth:`Executor.run_stages
<winnow.core.executors.base.Executor.run_stages>`, shared with the local executor.

Rows, rejects, quarantine and the manifest's counts equal the local executor's. Resume works
per stage: a stage whose tasks all have markers is skipped; an interrupted stage is rerun.

Example:
    >>> from winnow import Pipeline, Length
    >>> Pipeline([Length(min_words=5)]).run("raw/*.jsonl.gz", "runs/demo", executor="ray",
    ...     executor_options={"num_cpus": 2, "cpus_per_task": 1})              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from winnow.core.executors.base import Executor
from winnow.core.executors.options import RayOptions
from winnow.core.io.writers import ShardWriter
from winnow.core.pipeline.executor_registry import register_executor
from winnow.core.pipeline.reduce import run_measured
from winnow.core.pipeline.runner import (
    RunLayout,
    StagePlan,
    StrictInputError,
    TaskResult,
    cleanup_task,
    iter_stage_input,
    stage_plan,
    write_json_atomic,
)
from winnow.core.pipeline.stats import ReadStats, StepStats

#: bookkeeping columns carried between stages (never seen by steps, never written to data/)
TASK, ROW, POS = "_task", "_row", "_pos"
_META = (TASK, ROW, POS)


def _keyparts(layout: RunLayout, s: int) -> str:
    return os.path.join(layout.stage(s), "keyparts")


def _read_json_path(layout: RunLayout, s: int, task: int) -> str:
    return os.path.join(layout.stage(s), "read", f"{task:05d}.json")


# ------------------------------------------------------------------ read (Datasource)


def _read_task_blocks(root: str, spec, s: int, task, batch_rows: int, strict: bool):
    """Blocks of one winnow task for stage ``s``, with ``_task``/``_row`` (and ``_pos``) added."""
    layout = RunLayout(root)
    rstats = ReadStats()
    qw = ShardWriter(layout.quarantine, f"t{task.index:05d}", max_rows=1_000_000) if s == 0 else None
    pos = 0
    t0 = time.perf_counter()
    try:
        for b in iter_stage_input(layout, spec, task, s, batch_rows, rstats, qw, strict):
            n = b.num_rows
            if s == 0:
                b = b.append_column(TASK, pa.array(np.full(n, task.index, np.int64)))
                b = b.append_column(ROW, pa.array(np.arange(pos, pos + n, dtype=np.int64)))
            else:  # a later stage: rows of the task's intermediate files, in order (as local reads them)
                b = b.append_column(TASK, pa.array(np.full(n, task.index, np.int64)))
                b = b.append_column(ROW, pa.array(np.arange(pos, pos + n, dtype=np.int64)))
                b = b.append_column(POS, pa.array(np.arange(pos, pos + n, dtype=np.int64)))
            pos += n
            yield b
    except BaseException:
        if qw is not None:
            qw.abort()
        raise
    files = qw.close() if qw is not None else []
    rstats.seconds = time.perf_counter() - t0
    write_json_atomic(
        _read_json_path(layout, s, task.index),
        {"read": rstats.to_dict(), "rows": pos, "quarantine": [os.path.relpath(p, root) for p in files]},
    )


def _make_datasource(root: str, spec, s: int, tasks: list, batch_rows: int, strict: bool):
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class WinnowStageDatasource(Datasource):
        """One Ray read task per winnow task (file or group of small files)."""

        def get_name(self) -> str:
            return f"WinnowStage{s}"

        def estimate_inmemory_data_size(self):
            return int(sum(t.size for t in tasks)) or None

        def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
            out = []
            for t in tasks:
                meta = BlockMetadata(
                    num_rows=None, size_bytes=int(t.size) or None, input_files=list(t.files), exec_stats=None
                )
                out.append(ReadTask(partial(_read_task_blocks, root, spec, s, t, batch_rows, strict), meta))
            return out

    return WinnowStageDatasource()


# ------------------------------------------------------------------ map (map_batches)


@dataclass
class _StageCtx:
    key: str
    root: str
    steps: list
    s: int
    last: bool
    out_format: str
    shard_rows: int
    shard_bytes: int
    batch_rows: int


#: per worker process: the stage's steps already set up (models loaded once), decisions of the last task seen
_PROC: dict = {"plan": {}, "decisions": {}}


def _proc_plan(ctx: _StageCtx) -> StagePlan:
    plan = _PROC["plan"].get(ctx.key)
    if plan is None:
        plan = stage_plan(ctx.steps, ctx.s)
        plan.setup()
        _PROC["plan"] = {ctx.key: plan}  # keep one pipeline per process
    return plan


def _decisions(layout: RunLayout, s: int, task: int) -> pa.Table:
    key = (layout.root, s, task)
    d = _PROC["decisions"].get(key)
    if d is None:
        path = os.path.join(layout.decisions(s - 1), f"{task:05d}.parquet")
        if not os.path.exists(path):
            raise RuntimeError(f"missing decisions of stage {s - 1} for task {task}: {path}")
        d = pq.read_table(path)
        _PROC["decisions"] = {key: d}
    return d


def _run_batch(ctx: _StageCtx, batch: pa.Table) -> pa.Table:
    """Process one Arrow batch (possibly rows of several tasks): one counters row per task part."""
    if batch.num_rows == 0:
        return _stats_table([])
    plan = _proc_plan(ctx)
    # a block holds rows of one task in row order; file names rely on it, so make sure (no copy if so)
    tasks = batch.column(TASK).to_numpy()
    dt, dr = np.diff(tasks), np.diff(batch.column(ROW).to_numpy())
    if not np.all((dt > 0) | ((dt == 0) & (dr > 0))):
        batch = batch.take(pc.sort_indices(batch, [(TASK, "ascending"), (ROW, "ascending")]))
        tasks = batch.column(TASK).to_numpy()
    cuts = np.flatnonzero(np.diff(tasks)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(tasks)]])
    out = []
    for a, b in zip(starts, ends):  # one task's rows, in row order; steps see <= batch_rows rows
        for c in range(a, b, ctx.batch_rows):
            out.append(_run_part(ctx, plan, batch.slice(c, min(b, c + ctx.batch_rows) - c), int(tasks[a])))
    return _stats_table(out)


def _stats_table(rows: list[tuple[int, int, str]]) -> pa.Table:
    return pa.table(
        {
            TASK: pa.array([r[0] for r in rows], pa.int64()),
            ROW: pa.array([r[1] for r in rows], pa.int64()),
            "stats": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def _run_part(ctx: _StageCtx, plan: StagePlan, part: pa.Table, task: int) -> tuple[int, int, str]:
    layout = RunLayout(ctx.root)
    s = ctx.s
    row0 = int(part.column(ROW)[0].as_py())
    tag = f"t{task:05d}-r{row0:012d}"
    batch = part.drop_columns([c for c in _META if c in part.column_names])
    d = None
    if s > 0:  # the previous global step's decisions of these rows (by their position in the task)
        dec = _decisions(layout, s, task)
        p = part.column(POS).to_numpy()
        if p.size and int(p.max()) >= dec.num_rows:
            raise RuntimeError(f"decisions of step {plan.steps[0][0]} are misaligned for task {task}")
        d = dec.take(pa.array(p))
    stats = plan.new_stats()
    batch, rejects, keys = plan.run_batch(batch, stats, d, task=task)
    files: dict[str, list[str]] = {"rejects": []}
    for i, rej in rejects:
        w = ShardWriter(layout.rejects, f"st{s:02d}-s{i:02d}-{tag}")
        w.write(rej)
        files["rejects"] += w.close()
    if batch.num_rows:
        if plan.last:
            w = ShardWriter(layout.data, tag, max_rows=ctx.shard_rows, max_bytes=ctx.shard_bytes, format=ctx.out_format)
            w.write(batch)
            files["data"] = w.close()
        else:
            kw = ShardWriter(_keyparts(layout, s), tag, max_rows=1 << 62, max_bytes=1 << 62)
            kw.write(keys)
            files["keyparts"] = kw.close()
            # intermediate rows, same columns as local writes (the next stage reads them in name order)
            dw = ShardWriter(layout.stage_data(s), tag, max_rows=1 << 62, max_bytes=1 << 62, format="arrow")
            dw.write(batch)
            files["data"] = dw.close()
    step_list = [st.to_dict() for st in plan.step_stats(stats)]
    rel = {k: [os.path.relpath(p, ctx.root) for p in v] for k, v in files.items()}
    return (
        task,
        row0,
        json.dumps(
            {"steps": step_list, "rows_out": batch.num_rows, "files": rel, "rows_in": part.num_rows, "pid": os.getpid()}
        ),
    )


# ------------------------------------------------------------------ reduce helpers (Ray tasks)


def _concat_keys(root: str, parts: list[str], out_dir: str, prefix: str) -> list[str]:
    """Concatenate a task's key parts (in row order) into one file, as local writes it."""
    w = ShardWriter(out_dir, prefix, max_rows=1 << 62, max_bytes=1 << 62)
    for p in parts:
        pf = pq.ParquetFile(os.path.join(root, p))
        for b in pf.iter_batches(batch_size=65536):
            w.write(pa.Table.from_batches([b]))
    return [os.path.relpath(p, root) for p in w.close()]


@contextlib.contextmanager
def _quiet_ray_data():
    """Ray Data logs a banner per dataset at INFO/WARNING; winnow prints its own accounting."""
    lg = logging.getLogger("ray.data")
    old = lg.level
    lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lg.setLevel(old)


def _unwrap(e: BaseException) -> BaseException:
    """The user-facing error inside a Ray task error (StrictInputError, ...), else ``e``."""
    from winnow.core.io.readers import InputError

    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (StrictInputError, InputError)):
            return cur
        cause = getattr(cur, "cause", None)
        cur = cause if isinstance(cause, BaseException) else (cur.__cause__ or cur.__context__)
    return e


# ------------------------------------------------------------------ executor


@register_executor
@dataclass
class RayExecutor(Executor):
    """Runs a pipeline's stages on Ray Data (see the module docstring).

    Args:
        workers: processes given to a global step's ``reduce`` (default: the CPUs of the
            largest node, over ``cpus_per_task``).
        address, num_cpus, cpus_per_task, batch_rows, object_store_memory, max_retries,
        reduce_partitions: see :class:`winnow.core.executors.options.RayOptions`.
    """

    workers: int | None = None
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_task: float = 1.0
    batch_rows: int | None = None
    object_store_memory: int | None = None
    max_retries: int = 3
    reduce_partitions: int | None = None
    _started: bool = field(default=False, repr=False)
    name: ClassVar[str] = "ray"
    Options: ClassVar[type[RayOptions]] = RayOptions

    @classmethod
    def for_run(cls, workers: int | None, n_tasks: int, options: dict) -> "RayExecutor":
        # Ray schedules map tasks by CPUs; `workers` only sizes a global step's reduce
        return cls(workers=workers, **options)

    def __post_init__(self):
        opts = self.validate_options(
            {
                "address": self.address,
                "num_cpus": self.num_cpus,
                "cpus_per_task": self.cpus_per_task,
                "batch_rows": self.batch_rows,
                "object_store_memory": self.object_store_memory,
                "max_retries": self.max_retries,
                "reduce_partitions": self.reduce_partitions,
            }
        )
        for k, v in opts.items():
            setattr(self, k, v)
        import ray

        if not ray.is_initialized():
            kw = dict(
                include_dashboard=False,
                ignore_reinit_error=True,
                log_to_driver=True,
                configure_logging=True,
                logging_level="WARNING",
            )
            if self.address:
                if self.num_cpus or self.object_store_memory:
                    raise ValueError(
                        "executor_options: num_cpus and object_store_memory size a local Ray; "
                        "they cannot be set together with address (the cluster's own apply)"
                    )
                ray.init(address=self.address, **kw)
            else:
                # workers must import the same winnow as the driver (e.g. a source checkout)
                import winnow

                src = os.path.dirname(os.path.dirname(os.path.abspath(winnow.__file__)))
                pp = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
                ray.init(
                    num_cpus=self.num_cpus,
                    object_store_memory=self.object_store_memory,
                    runtime_env={"env_vars": {"PYTHONPATH": pp}},
                    **kw,
                )
            self._started = True
        from ray.data import DataContext

        dc = DataContext.get_current()
        dc.enable_progress_bars = False
        dc.print_on_execution_start = False
        dc.verbose_stats_logs = False
        node_cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        self._node_cpus = max(node_cpus or [1])
        self._cluster_cpus = float(ray.cluster_resources().get("CPU", 1))
        if self.cpus_per_task > self._node_cpus:
            self.close()
            raise ValueError(
                f"executor_options.cpus_per_task={self.cpus_per_task} exceeds the CPUs of the "
                f"largest Ray node ({self._node_cpus:g})"
            )
        if self.workers is None:
            self.workers = max(1, int(self._node_cpus // self.cpus_per_task))

    # -- the executor interface (the stage loop is Executor.run_stages)

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
        """Run stage ``s`` for ``tasks`` as one Ray Data job; write their markers; return results."""
        if not tasks:
            return []
        import ray

        last = stage_plan(steps, s).last
        for t in tasks:
            self._clean_task(layout, s, t.index, last)
        batch_rows = int(self.batch_rows or opts.get("batch_rows") or 8192)
        root = os.path.abspath(layout.root)
        ctx = _StageCtx(
            uuid.uuid4().hex,
            root,
            steps,
            s,
            last,
            opts.get("out_format", "parquet"),
            int(opts.get("shard_rows", 1_000_000)),
            int(opts.get("shard_bytes", 512 << 20)),
            batch_rows,
        )
        t_stage = time.perf_counter()
        remote = {"max_retries": self.max_retries}
        parts: dict[int, list[dict]] = defaultdict(list)
        with warnings.catch_warnings(), _quiet_ray_data():
            # Ray 2.60 has no named parameter for max_retries yet (ray_remote_args is deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ray.data.read_datasource(
                _make_datasource(root, spec, s, tasks, batch_rows, bool(opts.get("strict"))),
                override_num_blocks=len(tasks),
                num_cpus=self.cpus_per_task,
                ray_remote_args=remote,
            )
            # batch_size=None: whole blocks (one task's rows each), sliced to batch_rows in _run_batch
            out = ds.map_batches(
                partial(_run_batch, ctx),
                batch_format="pyarrow",
                batch_size=None,
                zero_copy_batch=True,
                num_cpus=self.cpus_per_task,
                **remote,
            )
            try:
                for b in out.iter_batches(batch_format="pyarrow", batch_size=None):
                    for t, r, st in zip(
                        b.column(TASK).to_pylist(), b.column(ROW).to_pylist(), b.column("stats").to_pylist()
                    ):
                        parts[t].append({"row": r, **json.loads(st)})
            except Exception as e:
                inner = _unwrap(e)
                if inner is not e:
                    raise inner from None
                raise
        t_map = time.perf_counter() - t_stage
        by_index = {t.index: t for t in tasks}
        # keys: one file per task, in row order (what GlobalStep.reduce expects, as from local)
        key_jobs = {}
        if not last:
            concat = ray.remote(num_cpus=min(self.cpus_per_task, 1), max_retries=self.max_retries)(_concat_keys)
            for t in tasks:
                kp = [
                    f
                    for p in sorted(parts.get(t.index, []), key=lambda p: p["row"])
                    for f in p["files"].get("keyparts", [])
                ]
                if kp:
                    key_jobs[t.index] = concat.remote(root, kp, layout.keys(s), f"t{t.index:05d}")
        key_files = dict(zip(key_jobs, ray.get(list(key_jobs.values())))) if key_jobs else {}
        results = []
        for t in tasks:
            res = self._task_result(
                layout,
                steps,
                s,
                t.index,
                sorted(parts.get(t.index, []), key=lambda p: p["row"]),
                key_files.get(t.index, []),
                last,
            )
            write_json_atomic(layout.marker(s, t.index), res.to_dict())
            results.append(res)
            on_done(res, by_index[t.index])
        self._sweep_tmp(layout, s)
        if not last:  # the per-batch key parts are now concatenated per task (markers point there)
            shutil.rmtree(_keyparts(layout, s), ignore_errors=True)
        # per-stage timing, for diagnosis and scaling estimates (benchmarks/ray)
        busy = [r.read.seconds + sum(x.seconds for x in r.steps) for r in results]
        write_json_atomic(
            os.path.join(layout.stage(s), "ray.json"),
            {
                "tasks": len(tasks),
                "batches": sum(len(v) for v in parts.values()),
                "worker_pids": len({p["pid"] for v in parts.values() for p in v}),
                "wall_seconds": round(time.perf_counter() - t_stage, 4),
                "map_wall_seconds": round(t_map, 4),
                "task_busy_seconds": [round(b, 4) for b in busy],
                "cpus_per_task": self.cpus_per_task,
                "cluster_cpus": self._cluster_cpus,
            },
        )
        return results

    def reduce_partition_count(self, key_files: list | None = None) -> int:
        """``reduce_partitions`` if set, else one per task slot of the cluster."""
        return int(self.reduce_partitions or max(1, self._cluster_cpus // self.cpus_per_task))

    def run_reduce_tasks(self, tasks: list) -> list[dict]:
        """One Ray task per reduce task (retried up to ``max_retries`` times if its worker or
        node dies; a task rewrites the same files), on any node that sees the run folder."""
        import ray

        fn = ray.remote(max_retries=self.max_retries, retry_exceptions=False)(run_measured)
        refs = [fn.options(num_cpus=min(float(t.cpus) * self.cpus_per_task, self._node_cpus)).remote(t) for t in tasks]
        try:
            return ray.get(refs)
        except Exception as e:
            for r in refs:
                ray.cancel(r, force=True)
            inner = _unwrap(e)
            if inner is not e:
                raise inner from None
            raise

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    # -- helpers

    def _clean_task(self, layout: RunLayout, s: int, task: int, last: bool) -> None:
        cleanup_task(layout, s, task, last)
        for pat in (os.path.join(_keyparts(layout, s), f"t{task:05d}-*"), _read_json_path(layout, s, task)):
            for f in glob.glob(pat):
                os.remove(f)

    def _sweep_tmp(self, layout: RunLayout, s: int) -> None:
        """Remove temporary files left by attempts that died (all writers of the stage are done)."""
        for d in (layout.data, layout.rejects, layout.quarantine, layout.stage(s)):
            for f in glob.glob(os.path.join(d, "**", "*.tmp-*"), recursive=True):
                try:
                    os.remove(f)
                except FileNotFoundError:
                    pass

    def _task_result(
        self, layout: RunLayout, steps: list, s: int, task: int, parts: list[dict], keys: list[str], last: bool
    ) -> TaskResult:
        plan = stage_plan(steps, s)
        stats = plan.new_stats()
        files: dict[str, list[str]] = {"data": [], "rejects": []}
        rows_out = 0
        rows_in = 0
        for p in parts:
            for d in p["steps"]:
                st = StepStats.from_dict(d)
                stats[st.index].merge(st)
            rows_out += p["rows_out"]
            rows_in += p["rows_in"]
            files["data"] += p["files"].get("data", [])
            files["rejects"] += p["files"].get("rejects", [])
        rj = _read_json_path(layout, s, task)
        if not os.path.exists(rj):
            raise RuntimeError(f"stage {s}, task {task}: the read task left no counters ({rj})")
        with open(rj, encoding="utf-8") as fh:
            info = json.load(fh)
        read = ReadStats.from_dict(info["read"])
        if s > 0:
            read.rows_read = info["rows"]
        if rows_in != info["rows"]:
            raise RuntimeError(f"stage {s}, task {task}: {info['rows']} rows read but {rows_in} processed")
        if s > 0:
            dec = os.path.join(layout.decisions(s - 1), f"{task:05d}.parquet")
            n_dec = pq.ParquetFile(dec).metadata.num_rows if os.path.exists(dec) else 0
            if n_dec != rows_in:
                raise RuntimeError(f"task {task}: {n_dec} decisions for {rows_in} rows")
        if not last:
            files["keys"] = keys
        if s == 0:
            files["quarantine"] = info.get("quarantine", [])
        return TaskResult(s, task, read, plan.step_stats(stats), rows_out, files)
