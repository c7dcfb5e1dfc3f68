"""Execution of one (stage, task): the code every executor runs.

A pipeline is cut into *stages* at each global step: stage ``s`` applies the decisions of
global step ``s-1`` (if any), runs the map steps of its segment, then either calls the next
global step's ``map`` (writing keys and intermediate rows under ``_work/stage-s/``) or writes
the final rows to ``data/``. :func:`stage_plan` chains a stage's steps (the one place that does);
:meth:`StagePlan.run_batch` runs a batch through them, for every executor. A task's outputs
become valid only when its completion marker ``_work/stage-s/done/{task}.json`` is written
(atomically, last); a task without a marker is cleaned (:func:`cleanup_task`) and rerun on
resume, so no row is duplicated or lost.

Executors (:mod:`winnow.core.executors`) import this module; it imports none of them.
"""

from __future__ import annotations

import glob
import json
import os
import time
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from winnow.core.io.readers import InputSpec, ReadTask, read_task
from winnow.core.io.writers import ShardWriter
from winnow.core.memory import release_memory, tune_malloc
from winnow.core.pipeline.stats import ReadStats, StepStats, error_kind
from winnow.core.pipeline.step import GlobalStep, MapStep, Step
from winnow.core.records import set_columns, text_bytes
from winnow.core.shared_rows import carry, sharing
from winnow.errors import StrictInputError  # defined there; importable from here too


@dataclass
class Segment:
    """Map steps (with their global indices) followed by an optional global step."""

    maps: list[tuple[int, MapStep]]
    glob: tuple[int, GlobalStep] | None


def segments(steps: list) -> list[Segment]:
    segs: list[Segment] = []
    cur: list[tuple[int, MapStep]] = []
    for i, s in enumerate(steps):
        if isinstance(s, GlobalStep):
            segs.append(Segment(cur, (i, s)))
            cur = []
        elif isinstance(s, MapStep):
            cur.append((i, s))
        else:
            raise TypeError(f"step {i} ({type(s).__name__}) is neither a MapStep nor a GlobalStep")
    segs.append(Segment(cur, None))
    return segs


@dataclass
class StagePlan:
    """The steps stage ``s`` runs on every batch, in order: the one place a stage's steps are chained.

    ``steps`` holds the previous global step (stages after the first: it applies its decisions)
    then the map steps of the stage's segment; ``glob`` is the global step whose keys the stage
    maps (``None`` in the last stage, which writes ``data/``). Every executor runs each batch
    through :meth:`run_batch`, so rows, rejects and counters do not depend on the executor.

    Example:
        >>> from winnow import ExactDedup, Length
        >>> steps = [Length(min_words=2), ExactDedup(), Length(min_words=3)]
        >>> [(i, st.name) for i, st in stage_plan(steps, 0).steps], stage_plan(steps, 0).glob[0]
        ([(0, 'length')], 1)
        >>> plan = stage_plan(steps, 1)
        >>> [(i, st.name) for i, st in plan.steps], plan.last
        ([(1, 'exact_dedup'), (2, 'length')], True)
    """

    s: int
    steps: list[tuple[int, Step]]
    glob: tuple[int, GlobalStep] | None

    @property
    def last(self) -> bool:
        """The last stage writes ``data/``; the others write keys for the next global step."""
        return self.glob is None

    def setup(self) -> None:
        """Set up (load models of) the steps that process rows in this stage."""
        for _, st in self.steps:
            st.setup()

    def new_stats(self) -> dict[int, StepStats]:
        """Fresh counters by step index (the global step of ``glob`` counts its ``map`` seconds)."""
        stats = {i: StepStats(i, st.name, "global" if isinstance(st, GlobalStep) else "map") for i, st in self.steps}
        if self.glob is not None:
            gi, gs = self.glob
            stats[gi] = StepStats(gi, gs.name, "global")
        return stats

    def step_stats(self, stats: dict[int, StepStats]) -> list[StepStats]:
        """The counters of a task's marker, in step order."""
        return [stats[i] for i, _ in self.steps] + ([stats[self.glob[0]]] if self.glob is not None else [])

    def run_batch(
        self, batch: pa.Table, stats: dict[int, StepStats], decisions: pa.Table | None = None, *, task: int = -1
    ) -> tuple[pa.Table, list[tuple[int, pa.Table]], pa.Table | None]:
        """Run ``batch`` through the stage's steps, counting into ``stats``.

        ``decisions`` are the previous global step's decisions aligned with ``batch`` (stages
        after the first). Returns the kept rows, the rejected rows per step index (with ``step``
        and ``reason`` columns), and the keys of the kept rows for the next global step (``None``
        in the last stage or when no row is kept).
        """
        rejects: list[tuple[int, pa.Table]] = []
        with sharing():  # the steps of this batch share what they derive from its text (one token pass)
            for i, st in self.steps:
                if batch.num_rows == 0:
                    break
                d = None
                if isinstance(st, GlobalStep):
                    if decisions is None:
                        raise RuntimeError(f"missing decisions of global step {i} for task {task}")
                    if decisions.num_rows != batch.num_rows:
                        raise RuntimeError(f"decisions of step {i} are misaligned for task {task}")
                    d = decisions
                batch, rej = run_step(st, batch, stats[i], d)
                if rej is not None:
                    rejects.append((i, rej))
        keys = None
        if batch.num_rows and self.glob is not None:
            gi, gs = self.glob
            t0 = time.perf_counter()
            keys = gs.map(batch)
            if keys.num_rows != batch.num_rows:
                raise RuntimeError(f"global step {gs.name}.map returned {keys.num_rows} keys for {batch.num_rows} rows")
            stats[gi].seconds += time.perf_counter() - t0
        return batch, rejects, keys


def stage_plan(steps: list, s: int) -> StagePlan:
    """The :class:`StagePlan` of stage ``s`` of a pipeline's ``steps``."""
    segs = segments(steps)
    return StagePlan(s, ([segs[s - 1].glob] if s > 0 else []) + list(segs[s].maps), segs[s].glob)


@dataclass
class RunLayout:
    """Paths inside a run folder."""

    root: str

    @property
    def data(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def rejects(self) -> str:
        return os.path.join(self.root, "rejects")

    @property
    def quarantine(self) -> str:
        return os.path.join(self.root, "quarantine")

    @property
    def work(self) -> str:
        return os.path.join(self.root, "_work")

    @property
    def manifest(self) -> str:
        return os.path.join(self.root, "manifest.json")

    def stage(self, s: int) -> str:
        return os.path.join(self.work, f"stage-{s}")

    def marker(self, s: int, task: int) -> str:
        return os.path.join(self.stage(s), "done", f"{task:05d}.json")

    def stage_data(self, s: int) -> str:
        return os.path.join(self.stage(s), "data")

    def keys(self, s: int) -> str:
        return os.path.join(self.stage(s), "keys")

    def decisions(self, s: int) -> str:
        return os.path.join(self.stage(s), "decisions")

    def reduce_marker(self, s: int) -> str:
        return os.path.join(self.stage(s), "reduce.done.json")


@dataclass
class TaskResult:
    stage: int
    task: int
    read: ReadStats
    steps: list[StepStats]
    rows_out: int
    files: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "task": self.task,
            "read": self.read.to_dict(),
            "steps": [s.to_dict() for s in self.steps],
            "rows_out": self.rows_out,
            "files": self.files,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TaskResult":
        return cls(
            d["stage"],
            d["task"],
            ReadStats.from_dict(d["read"]),
            [StepStats.from_dict(x) for x in d["steps"]],
            d["rows_out"],
            d.get("files", {}),
        )


def write_json_atomic(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_marker(layout: RunLayout, s: int, task: int) -> TaskResult | None:
    p = layout.marker(s, task)
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as fh:
        return TaskResult.from_dict(json.load(fh))


def cleanup_task(layout: RunLayout, s: int, task: int, last: bool) -> None:
    """Remove the partial outputs of stage ``s`` of a task that has no completion marker."""
    pats = [
        os.path.join(layout.rejects, f"st{s:02d}-*-t{task:05d}-*"),
        os.path.join(layout.stage_data(s), f"t{task:05d}-*"),
        os.path.join(layout.keys(s), f"t{task:05d}-*"),
    ]
    if s == 0:
        pats.append(os.path.join(layout.quarantine, f"t{task:05d}-*"))
    for pat in pats:
        for f in glob.glob(pat):
            os.remove(f)
    if last:  # final data is written by the last stage only
        for f in glob.glob(os.path.join(layout.data, f"t{task:05d}-*")):
            os.remove(f)


def iter_stage_input(
    layout: RunLayout,
    spec: InputSpec,
    task: ReadTask,
    s: int,
    batch_rows: int,
    rstats: ReadStats,
    q_writer: ShardWriter | None,
    strict: bool,
) -> Iterator[pa.Table]:
    """Batches (at most ``batch_rows`` rows) of a task's input to stage ``s``, counted in ``rstats``.

    Stage 0 reads the task's input files (unreadable parts go to ``q_writer``, or raise
    :class:`StrictInputError` under ``strict``); later stages read the rows the task kept in
    the previous stage, in order.
    """
    if s == 0:
        for chunk in read_task(spec, task):
            q = chunk.quarantine
            if q.num_rows:
                if strict:
                    first = q.slice(0, 1).to_pylist()[0]
                    raise StrictInputError(
                        f"unreadable input in {first['file']} at offset {first['offset']}: {first['error']} "
                        "(run without --strict to quarantine it and continue)"
                    )
                q_writer.write(q)
                rstats.quarantine_entries += q.num_rows
                rstats.rows_quarantined += int(pc.sum(q.column("rows")).as_py() or 0)
                for err in q.column("error").to_pylist():
                    rstats.errors[error_kind(err)] += 1
            t = chunk.table
            if t.num_rows:
                rstats.rows_read += t.num_rows
                rstats.bytes_read += text_bytes(t)
                # bound batch size for the steps
                for off in range(0, t.num_rows, batch_rows):
                    yield t.slice(off, batch_rows)
    else:
        for t in read_stage_data(layout.stage_data(s - 1), task.index, batch_rows):
            rstats.rows_read += t.num_rows
            yield t


def read_stage_data(folder: str, task: int, batch_rows: int) -> Iterator[pa.Table]:
    """A task's intermediate rows in order, as batches of at most ``batch_rows``: its Arrow IPC
    files, memory-mapped (Parquet files of a run begun by an earlier version are read too)."""
    files = sorted(glob.glob(os.path.join(folder, f"t{task:05d}-*.arrow")))
    files += sorted(glob.glob(os.path.join(folder, f"t{task:05d}-*.parquet")))
    for f in files:
        if f.endswith(".arrow"):
            reader = pa.ipc.open_file(pa.memory_map(f))
            for k in range(reader.num_record_batches):
                b = reader.get_batch(k)
                for off in range(0, b.num_rows, batch_rows):
                    yield pa.Table.from_batches([b.slice(off, batch_rows)])
        else:
            for b in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, use_threads=False):  # one core
                yield pa.Table.from_batches([b])


def load_decisions(layout: RunLayout, s: int, task: int) -> pa.Table | None:
    """The decisions of global step ``s - 1`` for a task's rows (one row each, in order), if written."""
    path = os.path.join(layout.decisions(s - 1), f"{task:05d}.parquet")
    if not os.path.exists(path):
        return None
    return pq.read_table(path)


def run_step(st, batch: pa.Table, ss: StepStats, decisions: pa.Table | None = None) -> tuple[pa.Table, pa.Table | None]:
    """Run one step on a batch and count it in ``ss`` (the code every executor shares).

    Returns the kept rows and the rejected rows (with ``step`` and ``reason`` columns) or None.
    ``decisions`` is the slice of a global step's decisions aligned with ``batch``.
    """
    t0 = time.perf_counter()
    if isinstance(st, GlobalStep):
        new, reasons = st.apply(batch, decisions)
    else:
        new, reasons = st.process(batch)
    if st.__dict__.get("drop_stats") and st.stat_columns():
        new = new.drop_columns([c for c in st.stat_columns() if c in new.column_names])
    if new.num_rows != batch.num_rows or len(reasons) != batch.num_rows:
        raise RuntimeError(
            f"step {st.name} returned {new.num_rows} rows / {len(reasons)} reasons for a batch of {batch.num_rows}"
        )
    ss.rows_in += new.num_rows
    ss.bytes_in += text_bytes(batch)
    drop = pc.is_valid(reasons)
    n_drop = int(pc.sum(drop).as_py() or 0)
    rej = None
    if n_drop:
        rej = new.filter(drop)
        rreasons = pc.filter(reasons, drop)
        rej = set_columns(rej, {"step": pa.repeat(pa.scalar(st.name, pa.string()), n_drop), "reason": rreasons})
        for item in pc.value_counts(rreasons).to_pylist():
            ss.reasons[item["values"]] += item["counts"]
        ss.bytes_rejected += text_bytes(rej)
        keep = pc.invert(drop)
        kept = new.filter(keep)
        carry(new, kept, keep)  # words etc. derived by this step follow the kept rows to the next
        new = kept
    ss.rows_rejected += n_drop
    ss.rows_kept += new.num_rows
    ss.bytes_kept += text_bytes(new)
    ss.seconds += time.perf_counter() - t0
    return new, rej


def run_task(layout: RunLayout, spec: InputSpec, steps: list, s: int, task: ReadTask, **opts) -> TaskResult:
    """Run stage ``s`` of the pipeline on one task and write its completion marker; freed
    memory goes back to the OS afterwards (peak RSS does not ratchet up over many tasks)."""
    tune_malloc()
    try:
        return _run_task(layout, spec, steps, s, task, **opts)
    finally:
        release_memory()


#: called as ``sink(task_index, amount, rows)`` after every batch of a task running in this process
#: (``amount``: raw input bytes in stage 0, rows later): progress within a file. Set by the executor.
_PROGRESS_SINK: list = [None]


def set_progress_sink(sink) -> None:
    """Where tasks running in this process report progress after each batch (None: nowhere)."""
    _PROGRESS_SINK[0] = sink


def progress_sink():
    """The current progress sink of this process (or None)."""
    return _PROGRESS_SINK[0]


def _run_task(
    layout: RunLayout,
    spec: InputSpec,
    steps: list,
    s: int,
    task: ReadTask,
    *,
    batch_rows: int = 8192,
    strict: bool = False,
    shard_rows: int = 1_000_000,
    shard_bytes: int = 512 << 20,
    out_format: str = "parquet",
) -> TaskResult:
    plan = stage_plan(steps, s)
    cleanup_task(layout, s, task.index, plan.last)
    rstats = ReadStats()
    q_writer = ShardWriter(layout.quarantine, f"t{task.index:05d}", max_rows=1_000_000) if s == 0 else None
    stats = plan.new_stats()
    # one rejects writer per step of this stage
    rej_writers = {i: ShardWriter(layout.rejects, f"st{s:02d}-s{i:02d}-t{task.index:05d}") for i, _ in plan.steps}
    if plan.last:
        out_writer = ShardWriter(
            layout.data, f"t{task.index:05d}", max_rows=shard_rows, max_bytes=shard_bytes, format=out_format
        )
        key_writer = None
    else:
        # intermediate stage data is read back once by the next stage and then deleted: an
        # Arrow IPC file (the buffers as they are; the next stage maps it without decoding):
        # half the CPU of uncompressed Parquet to write, none to decode
        out_writer = ShardWriter(
            layout.stage_data(s), f"t{task.index:05d}", max_rows=1 << 62, max_bytes=1 << 62, format="arrow"
        )
        # key files are read once by the reduce and are mostly random hashes: compression
        # costs CPU and saves next to nothing
        key_writer = ShardWriter(
            layout.keys(s),
            f"t{task.index:05d}",
            max_rows=1 << 62,
            max_bytes=1 << 62,
            compression="none",
            use_dictionary=False,
        )
    decisions = load_decisions(layout, s, task.index) if s > 0 else None
    dec_pos = 0
    rows_out = 0
    read_seconds = 0.0
    t_last = time.perf_counter()
    plan.setup()
    from winnow.core.io.readers import RAW_BYTES_READ

    sink, raw0, reported = _PROGRESS_SINK[0], RAW_BYTES_READ[0], 0
    for batch in iter_stage_input(layout, spec, task, s, batch_rows, rstats, q_writer, strict):
        read_seconds += time.perf_counter() - t_last
        if sink is not None:  # progress within the file: raw bytes consumed (stage 0) or rows
            pos = min(RAW_BYTES_READ[0] - raw0, task.size) if s == 0 else reported + batch.num_rows
            sink(task.index, max(pos - reported, 0), batch.num_rows)
            reported = max(pos, reported)
        d = None
        if decisions is not None:  # the slice aligned with this batch
            d = decisions.slice(dec_pos, batch.num_rows)
            dec_pos += batch.num_rows
        batch, rejects, keys = plan.run_batch(batch, stats, d, task=task.index)
        for i, rej in rejects:
            rej_writers[i].write(rej)
        if batch.num_rows:
            if keys is not None:
                key_writer.write(keys)
            out_writer.write(batch)
            rows_out += batch.num_rows
        t_last = time.perf_counter()
    if decisions is not None and dec_pos != decisions.num_rows:
        raise RuntimeError(f"task {task.index}: {decisions.num_rows} decisions for {dec_pos} rows")
    files = {"data": out_writer.close()}
    if key_writer is not None:
        files["keys"] = key_writer.close()
    files["rejects"] = [p for w in rej_writers.values() for p in w.close()]
    if q_writer is not None:
        files["quarantine"] = q_writer.close()
    rstats.seconds = read_seconds
    result = TaskResult(
        s,
        task.index,
        rstats,
        plan.step_stats(stats),
        rows_out,
        {k: [os.path.relpath(p, layout.root) for p in v] for k, v in files.items()},
    )
    write_json_atomic(layout.marker(s, task.index), result.to_dict())
    return result
