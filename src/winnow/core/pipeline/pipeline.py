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

from winnow.core.io.memory import is_in_memory, materialize
from winnow.core.io.readers import InputSpec, plan_tasks
from winnow.core.io.writers import unify_folder_schema
from winnow.core.pipeline.config import ConfigError, build_step, load_config
from winnow.core.pipeline.executor_registry import make_executor, takes_options, validate_executor_options
from winnow.core.pipeline.fingerprint import input_stamps
from winnow.core.pipeline.manifest import build_manifest
from winnow.core.pipeline.runfolder import (
    check_run_args,
    discard_unstarted,
    preflight,
    prepare_run_folder,
)
from winnow.core.pipeline.runner import RunLayout, segments, write_json_atomic
from winnow.core.pipeline.stats import ReadStats
from winnow.core.pipeline.step import Step
from winnow.errors import IncompleteRunError, RunExistsError  # noqa: F401  (importable from here too)


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

    def to_pandas(self, columns: list[str] | None = None):
        """Kept rows as a pandas DataFrame."""
        return self.kept(columns).to_pandas()

    def to_polars(self, columns: list[str] | None = None):
        """Kept rows as a polars DataFrame (needs ``polars``)."""
        import polars as pl

        return pl.from_arrow(self.kept(columns))

    def to_hf(self, columns: list[str] | None = None):
        """Kept rows as a Hugging Face ``datasets.Dataset`` (needs ``datasets``; nothing downloads)."""
        import datasets

        return datasets.Dataset(self.kept(columns))


def _on_workers(ex):
    """``run(fn, [args, ...])`` calling ``fn(*args)`` for each item as tasks of executor ``ex``
    (its process pool, Ray tasks, or this process for one worker)."""
    from winnow.core.pipeline.reduce import ReduceTask

    def run(fn, arg_lists: list) -> list:
        return [r["result"] for r in ex.run_tasks([ReduceTask("unify", i, fn, a) for i, a in enumerate(arg_lists)])]

    return run


def _fingerprint(spec: InputSpec, steps: list[Step], extra: dict) -> str:
    blob = json.dumps(
        {
            # the files themselves (resolved paths, sizes, mtimes) are compared separately, so the
            # same input named from another working directory resumes
            "input": {k: v for k, v in spec.__dict__.items() if k not in ("storage_options", "path")},
            "steps": [[s.name, s.model_dump(mode="json")] for s in steps],
            **extra,
        },
        sort_keys=True,
        default=str,
    )
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

    def run(
        self,
        input: str | list[str] | InputSpec | dict | Any,
        output: str,
        *,
        executor: Any = "local",
        workers: int | None = None,
        resume: bool = False,
        overwrite: bool = False,
        strict: bool = False,
        progress: bool = False,
        output_format: str = "parquet",
        shard_rows: int = 1_000_000,
        shard_bytes: int = 512 << 20,
        executor_options: dict | None = None,
        config: dict | None = None,
    ) -> RunResult:
        """Run the pipeline from ``input`` into the run folder ``output``.

        Args:
            input: a path/glob/URL (or list), an :class:`InputSpec`, an ``input:`` mapping, or an
                in-memory table (pandas / polars DataFrame, ``pyarrow.Table``, HF ``Dataset``).
            output: run folder; gets ``data/``, ``rejects/``, ``quarantine/``, ``manifest.json``.
            executor: a registered executor's name (``local``, ``ray``) or an executor instance
                (a :class:`winnow.core.executors.base.Executor`; the caller closes it).
            workers: processes (default: CPU count, at most the number of tasks).
            resume: finish an interrupted run (completed tasks are skipped).
            overwrite: delete an existing run folder first.
            strict: stop at the first unreadable input instead of quarantining it.
            executor_options: options of the named executor (e.g. Ray's ``cpus_per_task``).
        """
        spec = _as_spec(input)
        layout = RunLayout(output)
        segs = segments(self.steps)
        fp = _fingerprint(spec, self.steps, {"format": output_format, "shard_rows": shard_rows})
        run_json = os.path.join(layout.work, "run.json")
        check_run_args(output, workers)
        named = isinstance(executor, str)
        try:
            if named:
                ex_opts = validate_executor_options(executor, executor_options)
            elif executor_options:
                raise ValueError(
                    "executor_options are for a named executor; configure an executor instance when you create it"
                )
        except ValueError as e:
            raise ConfigError(str(e)) from None
        # everything that can be wrong with the config is found before a folder is created
        tasks = plan_tasks(spec, exclude=[output])
        preflight(self.steps, keep_state=named and executor == "local" and (workers == 1 or len(tasks) == 1))
        lock = prepare_run_folder(layout, fp, input_stamps(tasks), resume=resume, overwrite=overwrite)
        write_json_atomic(
            run_json, {"fingerprint": fp, "tasks": len(tasks), "started": time.time(), "inputs": input_stamps(tasks)}
        )
        try:
            ex = make_executor(executor, workers=workers, n_tasks=len(tasks), options=ex_opts) if named else executor
        except Exception as e:  # e.g. --ray-address auto with no cluster: no stub folder left behind
            discard_unstarted(layout, lock)
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"cannot start the {executor} executor: {msg}") from None
        opts = dict(
            batch_rows=spec.batch_rows,
            strict=strict,
            shard_rows=shard_rows,
            shard_bytes=shard_bytes,
            out_format=output_format,
        )
        t0 = time.perf_counter()
        try:
            all_results, reduces = ex.run_stages(layout, spec, self.steps, tasks, opts, progress=progress)
            # one schema per folder: rejects of different steps (and data from inputs with different
            # columns) read as one table in polars, DuckDB, HF datasets and pandas. The rewrites run
            # on the executor's workers (its warm processes), before it is closed
            for folder in (layout.rejects, layout.data):
                unify_folder_schema(folder, threads=max(1, int(ex.workers or 1)), run=_on_workers(ex))
        except BaseException:
            lock.release()
            raise
        finally:
            if named:  # an executor instance passed in belongs to the caller
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
        manifest = build_manifest(
            output,
            self.steps,
            all_results,
            read=read,
            reduces=reduces,
            config=cfg,
            wall_seconds=time.perf_counter() - t0,
            n_tasks=len(tasks),
            executor=ex.name,
            workers=ex.workers,
        )
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
    if is_in_memory(input):  # DataFrames, Arrow tables, HF Datasets: written once, read like a file
        return InputSpec(path=materialize(input))
    if isinstance(input, dict):
        from winnow.core.pipeline.config import InputConfig

        return InputSpec(**InputConfig(**input).model_dump())
    if isinstance(input, (str, list)):
        return InputSpec(path=input)
    raise ConfigError(f"input must be a path, a list of paths, a mapping or an InputSpec, got {type(input).__name__}")


def run_yaml(
    path: str,
    *,
    executor: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    strict: bool = False,
    progress: bool = False,
    output: str | None = None,
    executor_options: dict | None = None,
    input: str | list[str] | None = None,
) -> RunResult:
    """Load a pipeline YAML and run it (what ``winnow run`` does).

    ``input`` (files, folders, globs or URLs) replaces the YAML's ``input.path`` and ``output`` its
    output folder, so an example pipeline runs on your own data unchanged. ``executor_options``
    (e.g. from ``--ray-address``) override the YAML's ``executor_options``.
    """
    cfg, steps = load_config(path)
    inp = cfg.input.model_dump()
    if input:
        inp["path"] = list(input) if isinstance(input, (list, tuple)) else input
    spec = InputSpec(**inp)
    raw = cfg.model_dump(mode="json")
    raw["input"]["path"] = inp["path"]  # the manifest records what ran
    ex = executor or cfg.executor
    cli = {k: v for k, v in (executor_options or {}).items() if v is not None}
    try:  # the YAML's options apply to executors that take options (a YAML for ray also runs locally)
        opts = {**cfg.executor_options, **cli} if takes_options(ex) else cli
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return Pipeline(steps).run(
        spec,
        output or cfg.output.path,
        executor=ex,
        workers=workers if workers is not None else cfg.workers,
        resume=resume,
        overwrite=overwrite,
        strict=strict,
        progress=progress,
        output_format=cfg.output.format,
        shard_rows=cfg.output.shard_rows,
        shard_bytes=cfg.output.shard_bytes,
        executor_options=opts,
        config=raw,
    )
