"""Pipeline: an ordered list of steps run over a dataset, resumable, with full accounting.

Example:
    >>> from winnow import Pipeline, Length
    >>> p = Pipeline([Length(min_words=5)])
    >>> result = p.run("raw/*.jsonl.gz", "runs/demo", workers=2)         # doctest: +SKIP
    >>> result.manifest["totals"]                                        # doctest: +SKIP
    {'rows_in': 1200, 'rows_kept': 1013, 'rows_rejected': 187, 'rows_quarantined': 0, ...}

The same pipeline in YAML (``winnow run demo.yaml``)::

    input: {path: "raw/*.jsonl.gz"}
    output: runs/demo
    steps:
      - length: {min_words: 5}
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

from winnow.core.io.readers import InputSpec, plan_tasks
from winnow.core.memory import release_memory
from winnow.core.pipeline.config import ConfigError, build_step, load_config
from winnow.core.pipeline.fingerprint import input_stamps
from winnow.core.pipeline.manifest import build_manifest
from winnow.core.pipeline.runfolder import (IncompleteRunError, RunExistsError, check_run_args,
                                            discard_unstarted, prepare_run_folder, preflight)
from winnow.core.pipeline.runner import RunLayout, load_marker, segments, write_json_atomic
from winnow.core.pipeline.stats import ReadStats
from winnow.core.pipeline.step import Step


@dataclass
class RunResult:
    """A finished run: its folder and manifest."""

    path: str
    manifest: dict

    def kept(self, columns: list[str] | None = None):
        """Kept rows as one Arrow table (reads ``data/``)."""
        from winnow.core.io.writers import read_dataset_table

        return read_dataset_table(os.path.join(self.path, "data"), columns)

    def rejects(self, columns: list[str] | None = None):
        from winnow.core.io.writers import read_dataset_table

        return read_dataset_table(os.path.join(self.path, "rejects"), columns)

    def quarantine(self):
        from winnow.core.io.writers import read_dataset_table

        return read_dataset_table(os.path.join(self.path, "quarantine"))


def _fingerprint(spec: InputSpec, steps: list[Step], extra: dict) -> str:
    blob = json.dumps({
        # the files themselves (resolved paths, sizes, mtimes) are compared separately, so the
        # same input named from another working directory resumes
        "input": {k: v for k, v in spec.__dict__.items() if k not in ("storage_options", "path")},
        "steps": [[s.name, s.model_dump(mode="json")] for s in steps],
        **extra,
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Pipeline:
    """An ordered list of steps.

    Args:
        steps: step instances (``Length(min_words=5)``), YAML-style dicts
            (``{"length": {"min_words": 5}}``) or step names.
    """

    def __init__(self, steps: list[Any] | None = None):
        self.steps: list[Step] = [build_step(s, i) for i, s in enumerate(steps or [])]

    @classmethod
    def from_yaml(cls, path: str) -> tuple["Pipeline", Any]:
        cfg, steps = load_config(path)
        return cls(steps), cfg

    def __repr__(self) -> str:
        return f"Pipeline({self.steps!r})"

    def run(self, input: str | list[str] | InputSpec | dict, output: str, *, executor: str = "local",
            workers: int | None = None, resume: bool = False, overwrite: bool = False, strict: bool = False,
            progress: bool = False, output_format: str = "parquet", shard_rows: int = 1_000_000,
            shard_bytes: int = 512 << 20, executor_options: dict | None = None,
            config: dict | None = None) -> RunResult:
        """Run the pipeline from ``input`` into the run folder ``output``.

        Args:
            input: a path/glob/URL (or list), an :class:`InputSpec` or an ``input:`` mapping.
            output: run folder; gets ``data/``, ``rejects/``, ``quarantine/``, ``manifest.json``.
            workers: processes (default: CPU count, at most the number of tasks).
            resume: finish an interrupted run (completed tasks are skipped).
            overwrite: delete an existing run folder first.
            strict: stop at the first unreadable input instead of quarantining it.
        """
        spec = _as_spec(input)
        layout = RunLayout(output)
        segs = segments(self.steps)
        fp = _fingerprint(spec, self.steps, {"format": output_format, "shard_rows": shard_rows})
        run_json = os.path.join(layout.work, "run.json")
        check_run_args(output, workers)
        from winnow.core.executors.options import validate_executor_options

        try:
            ex_opts = validate_executor_options(executor, executor_options)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        # everything that can be wrong with the config is found before a folder is created
        tasks = plan_tasks(spec, exclude=[output])
        preflight(self.steps, keep_state=executor == "local" and (workers == 1 or len(tasks) == 1))
        lock = prepare_run_folder(layout, fp, input_stamps(tasks), resume=resume, overwrite=overwrite)
        write_json_atomic(run_json, {"fingerprint": fp, "tasks": len(tasks), "started": time.time(),
                                     "inputs": input_stamps(tasks)})
        from winnow.core.executors.local import make_executor

        try:
            if executor == "ray":
                # Ray schedules map tasks by CPUs; `workers` only sizes a global step's reduce
                ex = make_executor(executor, workers, **ex_opts)
                workers = ex.workers
            else:
                if workers is None:
                    workers = os.cpu_count() or 1
                workers = max(1, min(int(workers), len(tasks)))
                ex = make_executor(executor, workers, **ex_opts)
        except Exception as e:  # e.g. --ray-address auto with no cluster: no stub folder left behind
            discard_unstarted(layout, lock)
            raise ConfigError(f"cannot start the {executor} executor: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        opts = dict(batch_rows=spec.batch_rows, strict=strict, shard_rows=shard_rows, shard_bytes=shard_bytes,
                    out_format=output_format)
        t0 = time.perf_counter()
        all_results = []
        reduce_seconds: dict[int, float] = {}
        bar = _Progress(progress)
        try:
            for s, seg in enumerate(segs):
                todo, done = [], []
                for t in tasks:
                    r = load_marker(layout, s, t.index)
                    (done if r is not None else todo).append(r if r is not None else t)
                all_results.extend(done)
                label = "read + map" if s == 0 else f"stage {s}"
                total = sum(t.size for t in tasks) if s == 0 else sum(
                    r.rows_out for r in all_results if r.stage == s - 1)
                bar.start(label, total, sum(t.size for t in tasks if t not in todo) if s == 0 else
                          sum(r.read.rows_read for r in done), unit="bytes" if s == 0 else "rows")
                bar.add_rows(sum(r.read.rows_read for r in done))

                def on_done(r, t, s=s):
                    bar.advance(t.size if s == 0 else r.read.rows_read, r.read.rows_read + r.read.rows_quarantined)

                all_results.extend(ex.run_stage(layout, spec, self.steps, s, todo, opts, on_done))
                bar.stop()
                if seg.glob is not None:
                    gi, gs = seg.glob
                    rmark = layout.reduce_marker(s)
                    if os.path.exists(rmark):
                        with open(rmark) as fh:
                            reduce_seconds[gi] = json.load(fh)["seconds"]
                    else:
                        key_files = []
                        for t in tasks:
                            r = next(x for x in all_results if x.stage == s and x.task == t.index)
                            kf = [os.path.join(layout.root, p) for p in r.files.get("keys", [])]
                            key_files.append(kf[0] if kf else None)
                        rs = time.perf_counter()
                        dec_dir = layout.decisions(s)
                        if os.path.isdir(dec_dir):
                            shutil.rmtree(dec_dir)
                        os.makedirs(dec_dir)
                        bar.note(f"{gs.name}: reduce over {len(key_files)} tasks")
                        if hasattr(ex, "reduce"):
                            ex.reduce(gs, key_files, dec_dir)
                        else:
                            gs.reduce(key_files, dec_dir, workers=workers)
                            release_memory()
                        reduce_seconds[gi] = time.perf_counter() - rs
                        write_json_atomic(rmark, {"seconds": reduce_seconds[gi]})
        except BaseException:
            lock.release()
            raise
        finally:
            bar.stop()
            ex.close()
        read = ReadStats()
        for r in all_results:
            if r.stage == 0:
                read.merge(r.read)
        cfg = config or {
            "input": {k: v for k, v in spec.__dict__.items() if k != "storage_options"},
            "output": {"path": output, "format": output_format},
            "steps": [{s.name: s.model_dump(mode="json", exclude_defaults=True)} for s in self.steps],
        }
        manifest = build_manifest(output, self.steps, all_results, read=read, reduce_seconds=reduce_seconds,
                                  config=cfg, wall_seconds=time.perf_counter() - t0, n_tasks=len(tasks),
                                  executor=executor, workers=workers)
        write_json_atomic(layout.manifest, manifest)
        # intermediate rows/keys/decisions of global steps are no longer needed (markers stay)
        for s in range(len(segs) - 1):
            for sub in (layout.stage_data(s), layout.keys(s), layout.decisions(s)):
                shutil.rmtree(sub, ignore_errors=True)
        lock.release()
        return RunResult(output, manifest)


def _as_spec(input) -> InputSpec:
    if isinstance(input, InputSpec):
        return input
    if isinstance(input, dict):
        from winnow.core.pipeline.config import InputConfig

        return InputSpec(**InputConfig(**input).model_dump())
    if isinstance(input, (str, list)):
        return InputSpec(path=input)
    raise ConfigError(f"input must be a path, a list of paths, a mapping or an InputSpec, got {type(input).__name__}")


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
        from rich.progress import (BarColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self._rows = 0
        self._t0 = time.perf_counter()
        self._p = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=False)
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


def run_yaml(path: str, *, executor: str | None = None, workers: int | None = None, resume: bool = False,
             overwrite: bool = False, strict: bool = False, progress: bool = False,
             output: str | None = None, executor_options: dict | None = None) -> RunResult:
    """Load a pipeline YAML and run it (what ``winnow run`` does).

    ``executor_options`` (e.g. from ``--ray-address``) override the YAML's ``executor_options``.
    """
    cfg, steps = load_config(path)
    spec = InputSpec(**cfg.input.model_dump())
    raw = cfg.model_dump(mode="json")
    ex = executor or cfg.executor
    cli = {k: v for k, v in (executor_options or {}).items() if v is not None}
    opts = {**cfg.executor_options, **cli} if ex == "ray" else cli  # YAML options are Ray's
    return Pipeline(steps).run(
        spec, output or cfg.output.path, executor=ex,
        workers=workers if workers is not None else cfg.workers, resume=resume, overwrite=overwrite,
        strict=strict, progress=progress, output_format=cfg.output.format, shard_rows=cfg.output.shard_rows,
        shard_bytes=cfg.output.shard_bytes, executor_options=opts, config=raw)

