"""The executor interface: a new executor is one class, and the pipeline imports no executor."""

from __future__ import annotations

import ast
import pathlib

import pytest
from conftest import write_jsonl

import winnow.core.pipeline.executor_registry as registry
from winnow import ExactDedup, Length, Pipeline
from winnow.core.executors.base import Executor
from winnow.core.pipeline.config import ConfigError, parse_config
from winnow.core.pipeline.executor_registry import register_executor
from winnow.core.pipeline.runner import run_task

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "winnow"


def _corpus(tmp_path, real_docs, n_files=4):
    docs = real_docs[:300]
    docs = docs + [{**d, "id": d["id"] + "#copy"} for d in docs[::7]]  # exact copies in other files
    for k in range(n_files):
        write_jsonl(str(tmp_path / "raw" / f"p{k}.jsonl"), docs[k::n_files])
    return str(tmp_path / "raw")


def _steps():
    # demo-like: a filter, a global step, a filter after it (stages 0 and 1 both run map steps)
    return [Length(min_words=5), ExactDedup(), Length(max_chars=2000)]


def _counts(manifest):
    return (
        {k: v for k, v in manifest["totals"].items() if "seconds" not in k},
        [{k: v for k, v in s.items() if k not in ("seconds", "reduce_tasks")} for s in manifest["steps"]],
    )


@pytest.fixture
def serial(monkeypatch):
    """The recipe of docs/ARCHITECTURE.md ("Add an executor"), registered for this test only."""
    monkeypatch.setattr(registry, "EXECUTORS", dict(registry.EXECUTORS))

    @register_executor  # `executor: serial` in YAML, --executor serial
    class Serial(Executor):
        name = "serial"  # Options = MyOptions (pydantic) if it takes executor_options

        def run_stage(self, layout, spec, steps, s, tasks, opts, on_done):
            results = [run_task(layout, spec, steps, s, t, **opts) for t in tasks]  # where tasks run
            for r, t in zip(results, tasks):
                on_done(r, t)
            return results  # override reduce() / close() / for_run() only if needed

    return Serial


def test_a_new_executor_is_one_class_with_rows_identical_to_local(tmp_path, real_docs, serial):
    raw = _corpus(tmp_path, real_docs)
    local = Pipeline(_steps()).run(raw, str(tmp_path / "local"), workers=1)
    new = Pipeline(_steps()).run(raw, str(tmp_path / "new"), executor="serial")
    assert new.manifest["executor"] == "serial" and new.manifest["tasks"] == 4
    assert local.manifest["totals"]["rows_rejected"] > 0
    assert any(s["name"] == "exact_dedup" and s["rows_rejected"] > 0 for s in local.manifest["steps"])
    assert new.kept().equals(local.kept())
    assert new.rejects().equals(local.rejects())
    assert _counts(new.manifest) == _counts(local.manifest)
    # the YAML names it like a built-in executor
    cfg, _ = parse_config({"input": raw, "output": "x", "executor": "serial", "steps": ["length"]})
    assert cfg.executor == "serial"


def test_an_executor_instance_runs_without_registering(tmp_path, real_docs, serial):
    raw = _corpus(tmp_path, real_docs)
    local = Pipeline(_steps()).run(raw, str(tmp_path / "local"), workers=1)
    registry.EXECUTORS.pop(serial.name)  # an instance needs no registry entry
    with serial() as ex:
        new = Pipeline(_steps()).run(raw, str(tmp_path / "new"), executor=ex)
    assert new.kept().equals(local.kept()) and _counts(new.manifest) == _counts(local.manifest)
    with pytest.raises(ConfigError, match="executor_options are for a named executor"):
        Pipeline(_steps()).run(raw, str(tmp_path / "opts"), executor=serial(), executor_options={"a": 1})


def test_the_interface_is_enforced_and_names_are_checked(serial):
    class NoStage(Executor):
        name = "no_stage"

    with pytest.raises(TypeError, match="run_stage"):
        NoStage()
    with pytest.raises(ValueError, match="already registered"):
        register_executor(type("Local2", (serial,), {"name": "local"}))
    assert registry.executor_names() == ["local", "ray", "serial"]
    with pytest.raises(ConfigError, match="unknown executor 'rai'; valid executors: local, ray, serial"):
        parse_config({"input": "x", "output": "y", "executor": "rai", "steps": ["length"]})
    with pytest.raises(ValueError, match="serial executor takes no options"):
        registry.validate_executor_options("serial", {"workers": 2})


def _imports(path: pathlib.Path, text: str | None = None) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import in a file, at any depth (functions included)."""
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = pkg.rsplit(".", node.level - 1)[0] if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            out.append((mod, [a.name for a in node.names]))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.append((str(node.args[0].value), []))
    return out


def test_the_pipeline_imports_no_executor():
    files = sorted((SRC / "core" / "pipeline").glob("*.py"))
    assert len(files) >= 8
    bad = [(f.name, m) for f in files for m, _ in _imports(f) if m.startswith("winnow.core.executors")]
    assert bad == []
    # the one reference: the registry names the built-in executors' package and loads it lazily on
    # the first lookup (as the step registry loads built-in steps), so importing core stays light
    from winnow.core.pipeline import executor_registry

    assert executor_registry.BUILTIN_EXECUTORS == "winnow.core.executors"
    assert {"local", "ray"} <= set(executor_registry.executor_names())
    # the parser sees imports inside functions, relative ones and import_module calls
    probe = SRC / "core" / "pipeline" / "probe.py"
    text = (
        "def f():\n    from ..executors.local import LocalExecutor\n"
        "    importlib.import_module('winnow.core.executors.ray')\n"
    )
    assert [m for m, _ in _imports(probe, text)] == ["winnow.core.executors.local", "winnow.core.executors.ray"]


def test_executors_import_no_private_name_from_another_package():
    files = sorted((SRC / "core" / "executors").glob("*.py"))
    assert len(files) >= 5
    bad = [
        (f.name, m, n)
        for f in files
        for m, names in _imports(f)
        for n in names
        if n.startswith("_") and not m.startswith("winnow.core.executors")
    ]
    assert bad == []
    # what the check catches: the import the ray executor used to make
    probe = SRC / "core" / "executors" / "probe.py"
    assert _imports(probe, "from winnow.core.pipeline.runner import _cleanup\n") == [
        ("winnow.core.pipeline.runner", ["_cleanup"])
    ]


def test_local_workers_are_started_once_per_run(tmp_path, real_docs):
    """Every stage runs on the same warm pool: one worker process per worker for the whole run."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    from winnow.core.pipeline.step import MapStep

    class Pid(MapStep):
        name = "pid"
        column: str = "pid"

        def process(self, table):
            return table.append_column(self.column, pa.array([os.getpid()] * table.num_rows)), pa.nulls(
                table.num_rows, pa.string()
            )

    raw = _corpus(tmp_path, real_docs)
    steps = [Pid(column="pid0"), ExactDedup(), Pid(column="pid1")]
    Pipeline(steps).run(raw, str(tmp_path / "run"), workers=2)
    t = pq.read_table(str(tmp_path / "run" / "data"))
    pids = set(t.column("pid0").to_pylist()) | set(t.column("pid1").to_pylist())
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2, pids  # (a pool per stage: usually 3-4 processes)
