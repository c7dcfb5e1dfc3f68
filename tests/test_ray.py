"""The Ray executor (Ray Data, local Ray with 2 CPUs) gives exactly the local executor's output:
kept rows, rejects (step, reason), quarantine and manifest counts — for map-only pipelines, for
every registered global step (and a small global step defined here), across several global
stages, after a worker is killed mid-run, and after an interrupted run is resumed."""

from __future__ import annotations

import glob
import os
import sys
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from winnow import Length, Pipeline
from winnow.core.pipeline.config import ConfigError, parse_config
from winnow.core.pipeline.registry import get_step_class, step_names
from winnow.core.pipeline.step import GlobalStep, MapStep, reasons_from_masks

# ----------------------------------------------------------------------------- steps for the tests


class FirstWords(GlobalStep):
    """Keep the first document (in task, row order) among those sharing their first ``words``
    lowercased words; the others are rejected. Attaches ``fw_group`` (group size)."""

    name = "first_words"
    words: int = 3

    def map(self, table: pa.Table) -> pa.Table:
        toks = pc.utf8_split_whitespace(pc.utf8_lower(table.column("text")))
        key = pc.binary_join(pc.list_slice(toks, 0, self.words), " ")
        return pa.table({"key": key})

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1) -> None:
        tables = [pq.read_table(f) if f else None for f in key_files]
        sizes = [0 if t is None else t.num_rows for t in tables]
        if not sum(sizes):
            return
        keys = pa.concat_arrays([t.column("key").combine_chunks() for t in tables if t is not None])
        codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
        _, first = np.unique(codes, return_index=True)
        is_first = np.zeros(len(codes), bool)
        is_first[first] = True
        group = np.bincount(codes)[codes]
        off = 0
        for task, n in enumerate(sizes):
            if tables[task] is None:
                continue
            sl = slice(off, off + n)
            reason = np.where(is_first[sl], None, "first_words:duplicate")
            pq.write_table(
                pa.table({"reason": pa.array(reason, pa.string()), "fw_group": pa.array(group[sl], pa.int64())}),
                os.path.join(out_dir, f"{task:05d}.parquet"),
            )
            off += n


class KillOnce(MapStep):
    """Drop texts with many digits; when ``armed``, kill its own worker process (``os._exit``)
    the first time it sees ``target_id`` (a marker file makes it happen once)."""

    name = "kill_once"
    max_digits: int = 20
    armed: bool = False
    marker: str = ""
    target_id: str = ""

    def annotate(self, table: pa.Table) -> pa.Table:
        if (
            self.armed
            and not os.path.exists(self.marker)
            and pc.any(pc.equal(table.column("id"), self.target_id)).as_py()
        ):
            with open(self.marker, "w") as fh:
                fh.write(str(os.getpid()))
            os._exit(1)  # a worker dies mid-run
        n = pc.count_substring_regex(table.column("text"), r"\d")
        return table.append_column("n_digits", pc.cast(n, pa.int64()))

    def decide(self, table: pa.Table) -> pa.Array:
        return reasons_from_masks(
            table.num_rows, [(pc.greater(table["n_digits"], self.max_digits), "kill_once:digits")]
        )


class FailOnce(MapStep):
    """Raise (an application error: not retried) the first time, to interrupt a run."""

    name = "fail_once"
    marker: str = ""

    def annotate(self, table: pa.Table) -> pa.Table:
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError("interrupted on purpose")
        return table


# steps whose required arguments have no default: real arguments for the equality check
_ARGS = {"decontaminate": {"eval_sets": ["humaneval"]}}
# needs a trained model file; its Ray/local equality is the map-step code path covered above
_NEEDS_ARTIFACT = {"quality_classifier"}


def _registered(kind) -> list:
    out = []
    for name in step_names():
        cls = get_step_class(name)
        if issubclass(cls, kind) and name not in _NEEDS_ARTIFACT:
            out.append(cls(**_ARGS.get(name, {})))
    return out


GLOBAL_STEPS = [FirstWords(words=4)] + _registered(GlobalStep)
MAP_STEPS = [s for s in _registered(MapStep) if s.name != "length"]


# ----------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray (2 CPUs, no dashboard) for the module; test-defined steps travel by value."""
    import ray
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    pp = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", runtime_env={"env_vars": {"PYTHONPATH": pp}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(sample_corpus) -> list[str]:
    """The sample corpus (JSONL shards + HTML pages, with its broken inputs)."""
    return [f"{sample_corpus}/raw/", f"{sample_corpus}/html/"]


@pytest.fixture(scope="module")
def raw(sample_corpus) -> list[str]:
    """The sample's JSONL shards only (real text, broken inputs included; no HTML to parse)."""
    return [f"{sample_corpus}/raw/"]


def _sorted(t: pa.Table, keys=("id",)) -> pa.Table:
    return t.take(pc.sort_indices(t, [(k, "ascending") for k in keys]))


def _same_for_any_split(step: dict) -> dict:
    """A manifest step without what depends on timing or on how the reduce was split (its task
    count, and MinHash's verification batches / rounds)."""
    out = {k: v for k, v in step.items() if k not in ("seconds", "reduce_tasks")}
    if "reduce" in out:
        out["reduce"] = {k: v for k, v in out["reduce"].items() if k not in ("batches", "rounds")}
    return out


def _strip_times(m: dict) -> dict:
    tot = {k: v for k, v in m["totals"].items() if k != "seconds"}
    steps = [_same_for_any_split(s) for s in m["steps"]]
    read = {k: v for k, v in m["read"].items() if k != "seconds"}
    checks = m["checks"]
    return {"totals": tot, "steps": steps, "read": read, "checks": checks}


def assert_same_output(local, rayres) -> None:
    """Everything but timings equals: manifest counts, kept rows (in order), rejects, quarantine."""
    assert rayres.manifest["executor"] == "ray"
    assert rayres.manifest["checks"]["ok"], rayres.manifest["checks"]
    assert _strip_times(rayres.manifest) == _strip_times(local.manifest)
    lk, rk = local.kept(), rayres.kept()
    assert lk.column("id").to_pylist() == rk.column("id").to_pylist()  # same rows, same order
    assert lk.equals(rk)
    lr, rr = local.rejects(), rayres.rejects()
    assert lr.num_rows == rr.num_rows
    assert _sorted(lr, ("step", "id")).equals(_sorted(rr, ("step", "id")))
    lq, rq = local.quarantine(), rayres.quarantine()
    assert _sorted(lq, ("file", "offset")).equals(_sorted(rq, ("file", "offset")))
    assert not glob.glob(os.path.join(rayres.path, "**", "*.tmp-*"), recursive=True)


def _both(steps, inp, tmp_path, name, **ray_opts):
    local = Pipeline(steps).run(inp, str(tmp_path / f"{name}-local"), workers=1)
    rayres = Pipeline(steps).run(
        inp, str(tmp_path / f"{name}-ray"), executor="ray", executor_options={"batch_rows": 256, **ray_opts}
    )
    return local, rayres


# ----------------------------------------------------------------------------- tests


def test_demo_pipeline_equals_local(ray_session, corpus, tmp_path):
    steps = [Length(min_words=5, max_chars=1_000_000)] + MAP_STEPS
    local, rayres = _both(steps, corpus, tmp_path, "demo")
    assert_same_output(local, rayres)
    tot = rayres.manifest["totals"]
    assert (
        tot["rows_rejected"] > 0 and tot["rows_quarantined"] >= 4 and tot["rows_kept"] > 0
    )  # every registered map step runs with its defaults
    # final data is written per task, in row order, like local (not one file per Ray block)
    names = sorted(os.listdir(os.path.join(rayres.path, "data")))
    assert all(n.startswith("t") and n.endswith(".parquet") for n in names)


@pytest.mark.parametrize("gstep", GLOBAL_STEPS, ids=lambda s: s.name)
def test_each_global_step_equals_local(ray_session, raw, tmp_path, gstep):
    steps = [Length(min_words=3), gstep]
    local, rayres = _both(steps, raw, tmp_path, gstep.name)
    assert_same_output(local, rayres)
    g = rayres.manifest["steps"][1]
    assert g["kind"] == "global" and g["rows_in"] == rayres.manifest["steps"][0]["rows_kept"]
    if gstep.name == "first_words":
        assert g["rows_rejected"] > 0  # the corpus has real near-duplicates by opening words


def test_two_global_stages_with_map_steps_between(ray_session, raw, tmp_path):
    steps = [Length(min_words=3), FirstWords(words=6), Length(max_words=3000), FirstWords(words=2)]
    local, rayres = _both(steps, raw, tmp_path, "chain")
    assert_same_output(local, rayres)
    assert [s["rows_rejected"] > 0 for s in rayres.manifest["steps"]] == [True, True, True, True]
    assert "fw_group" in rayres.kept().column_names


def test_killed_worker_is_retried_and_output_is_exact(ray_session, raw, tmp_path):
    base = [Length(min_words=3), FirstWords(words=4)]
    local = Pipeline(base + [KillOnce()]).run(raw, str(tmp_path / "kill-local"), workers=1)
    # a row that reaches the step late in the run: its worker dies while processing it
    ids = local.kept(["id"]).column("id").to_pylist()
    target = ids[int(len(ids) * 0.7)]
    marker = str(tmp_path / "killed.pid")
    rayres = Pipeline(base + [KillOnce(armed=True, marker=marker, target_id=target)]).run(
        raw, str(tmp_path / "kill-ray"), executor="ray", executor_options={"batch_rows": 256, "max_retries": 2}
    )
    assert os.path.exists(marker), "the worker was not killed"
    assert int(open(marker).read()) != os.getpid()
    # the killed step differs only in its (unused) arguments: counts, rows and rejects are the same
    assert rayres.manifest["steps"][2]["rows_rejected"] > 0
    assert_same_output(local, rayres)
    ids = rayres.kept(["id"]).column("id").to_pylist() + rayres.rejects(["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids))  # nothing written twice by the retried attempt


def test_interrupted_ray_run_resumes_per_stage(ray_session, raw, tmp_path):
    marker = str(tmp_path / "failed-once")
    steps = [Length(min_words=3), FirstWords(words=4), FailOnce(marker=marker)]
    out = str(tmp_path / "resume-ray")
    opts = {"batch_rows": 512}
    with pytest.raises(Exception, match="interrupted on purpose"):
        Pipeline(steps).run(raw, out, executor="ray", executor_options=opts)
    assert os.path.exists(marker)
    assert not os.path.exists(os.path.join(out, "manifest.json"))
    stage0 = sorted(glob.glob(os.path.join(out, "_work", "stage-0", "done", "*.json")))
    assert stage0  # the first stage finished and is kept
    mtimes = {f: os.path.getmtime(f) for f in stage0}
    res = Pipeline(steps).run(raw, out, executor="ray", executor_options=opts, resume=True)
    assert {f: os.path.getmtime(f) for f in stage0} == mtimes  # stage 0 was not rerun
    local = Pipeline(steps).run(raw, str(tmp_path / "resume-local"), workers=1)
    assert_same_output(local, res)


def test_executor_options_are_validated():
    base = {"input": "x/*.jsonl", "output": "runs/x", "executor": "ray", "steps": ["length"]}
    cfg, _ = parse_config({**base, "executor_options": {"cpus_per_task": 0.5, "object_store_memory": "1GB"}})
    assert cfg.executor_options["cpus_per_task"] == 0.5
    with pytest.raises(ConfigError, match=r"executor_options\.cpu_per_task: unknown key.*cpus_per_task"):
        parse_config({**base, "executor_options": {"cpu_per_task": 1}})
    with pytest.raises(ConfigError, match=r"executor_options\.object_store_memory"):
        parse_config({**base, "executor_options": {"object_store_memory": "lots"}})
    with pytest.raises(ConfigError, match=r"executor_options\.max_retries"):
        parse_config({**base, "executor_options": {"max_retries": -1}})
    with pytest.raises(ConfigError, match="local executor takes no options"):
        Pipeline(["length"]).run("x", "/nonexistent/out", executor="local", executor_options={"address": "auto"})


def test_cli_runs_yaml_on_ray_and_rejects_bad_options(ray_session, corpus, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from winnow.cli import app

    cfg = {
        "input": {"path": corpus},
        "output": str(tmp_path / "cli-run"),
        "executor": "ray",
        "executor_options": {"batch_rows": 512, "max_retries": 1},
        "steps": [{"length": {"min_words": 5}}],
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["run", str(path), "--no-progress", "--ray-cpus-per-task", "1"])
    assert r.exit_code == 0, r.output
    assert "ray" in r.output and "balanced" in r.output
    m = json.load(open(tmp_path / "cli-run" / "manifest.json"))
    assert m["executor"] == "ray" and m["checks"]["ok"]
    local = Pipeline([Length(min_words=5)]).run(corpus, str(tmp_path / "cli-local"), workers=1)
    assert _strip_times(m)["totals"] == _strip_times(local.manifest)["totals"]
    r = CliRunner().invoke(app, ["run", str(path), "--overwrite", "--ray-cpus-per-task", "0"])
    assert r.exit_code == 2 and "cpus_per_task" in r.output
    r = CliRunner().invoke(app, ["run", str(path), "--overwrite", "--executor", "local", "--ray-address", "auto"])
    assert r.exit_code == 2 and "local executor takes no options" in r.output


def test_strict_stops_at_unreadable_input_on_ray(ray_session, raw, tmp_path):
    from winnow.core.pipeline.runner import StrictInputError

    with pytest.raises(StrictInputError, match="unreadable input"):
        Pipeline([Length(min_words=5)]).run(raw, str(tmp_path / "strict"), executor="ray", strict=True)
