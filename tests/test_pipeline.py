"""Pipeline runs end to end: accounting, config errors, resume after kill -9, shard-split invariance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winnow import Length, Pipeline
from winnow.core.io.writers import read_dataset_table
from winnow.core.pipeline.config import ConfigError, parse_config
from winnow.core.pipeline.pipeline import RunExistsError
from winnow.core.pipeline.runner import StrictInputError


def kept_ids(run_dir: str) -> list[str]:
    return sorted(read_dataset_table(os.path.join(run_dir, "data"), ["id"]).column("id").to_pylist())


def test_demo_pipeline_on_sample_corpus_accounts_for_every_row(sample_corpus, tmp_path):
    out = str(tmp_path / "run")
    res = Pipeline([Length(min_words=5)]).run([f"{sample_corpus}/raw/", f"{sample_corpus}/html/"], out, workers=2)
    m = res.manifest
    tot = m["totals"]
    assert m["checks"]["ok"], m["checks"]
    assert tot["rows_in"] == tot["rows_kept"] + tot["rows_rejected"] + tot["rows_quarantined"]
    assert tot["rows_quarantined"] >= 4  # the sample's broken inputs
    assert tot["rows_rejected"] > 0 and tot["rows_kept"] > 1000
    step = m["steps"][0]
    assert step["name"] == "length" and step["rows_in"] == m["read"]["rows_read"]
    assert step["reasons"] == {"length:min_words": step["rows_rejected"]}
    # rejected rows carry step and reason, and really are short
    rej = res.rejects(["id", "step", "reason", "n_words"])
    assert set(rej.column("step").to_pylist()) == {"length"}
    assert max(rej.column("n_words").to_pylist()) < 5
    kept = res.kept(["n_words"])
    assert min(kept.column("n_words").to_pylist()) >= 5
    q = res.quarantine()
    assert {"file", "offset", "error"} <= set(q.column_names)
    # ids are unique across kept + rejected
    all_ids = res.kept(["id"]).column("id").to_pylist() + rej.column("id").to_pylist()
    assert len(all_ids) == len(set(all_ids))


def test_workers_do_not_change_output(sample_corpus, tmp_path):
    p = Pipeline([{"length": {"min_words": 20}}])
    a = p.run(f"{sample_corpus}/raw/part-*.jsonl.gz", str(tmp_path / "a"), workers=1)
    b = p.run(f"{sample_corpus}/raw/part-*.jsonl.gz", str(tmp_path / "b"), workers=2)
    assert kept_ids(a.path) == kept_ids(b.path)
    assert a.manifest["totals"] == {**b.manifest["totals"], "seconds": a.manifest["totals"]["seconds"]}


def test_annotate_only_drops_nothing(real_docs, tmp_path):
    p = write_jsonl(str(tmp_path / "in.jsonl"), real_docs[:200])
    res = Pipeline([Length(min_words=50, annotate_only=True)]).run(p, str(tmp_path / "r"), workers=1)
    assert res.manifest["totals"]["rows_kept"] == 200
    assert "n_words" in res.kept().column_names


def test_existing_output_needs_resume_or_overwrite(real_docs, tmp_path):
    p = write_jsonl(str(tmp_path / "in.jsonl"), real_docs[:20])
    Pipeline([Length(min_words=1)]).run(p, str(tmp_path / "r"), workers=1)
    with pytest.raises(RunExistsError, match="--resume"):
        Pipeline([Length(min_words=1)]).run(p, str(tmp_path / "r"), workers=1)
    res = Pipeline([Length(min_words=1)]).run(p, str(tmp_path / "r"), workers=1, overwrite=True)
    assert res.manifest["totals"]["rows_in"] == 20


def test_strict_stops_at_unreadable_input(tmp_path, real_docs):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(real_docs[0]) + "\n{oops\n")
    with pytest.raises(StrictInputError, match="offset"):
        Pipeline([Length()]).run(str(p), str(tmp_path / "r"), workers=1, strict=True)


def test_config_errors_name_the_bad_key_and_list_valid_ones():
    base = {"input": {"path": "x.jsonl"}, "output": "runs/x"}
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "steps": [{"length": {"min_word": 5}}]})
    msg = str(e.value)
    assert "steps[0].length.min_word" in msg and "min_words" in msg and "did you mean 'min_words'" in msg
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "steps": [{"lenght": {}}]})
    assert "unknown step 'lenght'" in str(e.value) and "length" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "outptu": "y"})
    assert "outptu" in str(e.value) and "valid keys" in str(e.value) and "output" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "steps": [{"length": {"min_words": -3}}]})
    assert "steps[0].length.min_words" in str(e.value)
    with pytest.raises(ConfigError, match=r"input\.formt"):
        parse_config({"input": {"path": "x", "formt": "jsonl"}, "output": "o"})


def _write_shards(tmp_path, docs, n_files):
    d = tmp_path / "raw"
    d.mkdir(exist_ok=True)
    for k in range(n_files):
        write_jsonl(str(d / f"p{k:03d}.jsonl.gz"), docs[k::n_files], "gzip")
    return str(d)


def _cli(*args, env=None):
    return [sys.executable, "-m", "winnow.cli", *args]


def test_kill_9_then_resume_equals_clean_run(tmp_path, real_docs):
    docs = real_docs * 3
    docs = [{**d, "id": f"{d['id']}#{i}"} for i, d in enumerate(docs)]
    raw = _write_shards(tmp_path, docs, 24)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"input: {{path: '{raw}'}}\noutput: {tmp_path / 'run'}\nsteps:\n  - length: {{min_words: 8}}\n")
    clean = Pipeline([Length(min_words=8)]).run(raw, str(tmp_path / "clean"), workers=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(
        _cli("run", str(cfg), "--workers", "1", "--no-progress"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done_dir = tmp_path / "run" / "_work" / "stage-0" / "done"
    deadline = time.time() + 60
    while time.time() < deadline:
        if done_dir.exists() and len(os.listdir(done_dir)) >= 3:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(os.listdir(done_dir))
    assert 3 <= n_done < 24, f"kill landed outside the run ({n_done} tasks done)"
    assert not (tmp_path / "run" / "manifest.json").exists()
    r = subprocess.run(
        _cli("run", str(cfg), "--resume", "--workers", "2", "--no-progress"), env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["checks"]["ok"]
    ids = read_dataset_table(str(tmp_path / "run" / "data"), ["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids))  # nothing duplicated
    assert sorted(ids) == kept_ids(clean.path)  # nothing lost
    assert {k: v for k, v in m["totals"].items() if k != "seconds"} == {
        k: v for k, v in clean.manifest["totals"].items() if k != "seconds"
    }
    leftovers = [f for _, _, fs in os.walk(tmp_path / "run") for f in fs if ".tmp-" in f]
    assert leftovers == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=299), max_size=6, unique=True),
    min_words=st.integers(min_value=1, max_value=60),
)
def test_any_shard_split_gives_the_same_kept_ids(tmp_path_factory, real_docs, cuts, min_words):
    docs = real_docs[:300]
    tmp = tmp_path_factory.mktemp("split")
    bounds = [0] + sorted(cuts) + [len(docs)]
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        write_jsonl(str(tmp / "raw" / f"s{k:03d}.jsonl"), docs[a:b])
    res = Pipeline([Length(min_words=min_words)]).run(str(tmp / "raw"), str(tmp / "run"), workers=1)
    expected = sorted(d["id"] for d in docs if len(d["text"].split()) >= min_words)
    assert kept_ids(res.path) == expected
    assert res.manifest["checks"]["ok"]


def test_shard_size_target(real_docs, tmp_path):
    p = write_jsonl(str(tmp_path / "in.jsonl"), real_docs[:250])
    res = Pipeline([Length()]).run(p, str(tmp_path / "r"), workers=1, shard_rows=100)
    files = sorted(os.listdir(tmp_path / "r" / "data"))
    assert [pq.ParquetFile(tmp_path / "r" / "data" / f).metadata.num_rows for f in files] == [100, 100, 50]
    assert res.manifest["checks"]["data_matches"]


def test_jsonl_output_format(real_docs, tmp_path):
    import gzip

    p = write_jsonl(str(tmp_path / "in.jsonl"), real_docs[:60])
    res = Pipeline([Length(min_words=3)]).run(p, str(tmp_path / "r"), workers=1, output_format="jsonl")
    files = sorted((tmp_path / "r" / "data").glob("*.jsonl.gz"))
    rows = [json.loads(line) for f in files for line in gzip.open(f, "rt")]
    assert [r["id"] for r in rows] == [d["id"] for d in real_docs[:60] if len(d["text"].split()) >= 3]
    assert res.manifest["checks"]["data_matches"]


def test_overwrite_never_deletes_a_foreign_folder(real_docs, tmp_path):
    p = write_jsonl(str(tmp_path / "in.jsonl"), real_docs[:5])
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(RunExistsError, match="not a winnow run"):
        Pipeline([Length()]).run(p, str(precious), workers=1, overwrite=True)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_stage_data_ipc_and_earlier_parquet_read_in_order(tmp_path):
    """Stage data is written as Arrow IPC (memory-mapped back) and read in batches of at most
    ``batch_rows``; a folder left by an earlier version (Parquet) reads the same rows."""
    import pyarrow as pa

    from winnow.core.io.writers import ShardWriter
    from winnow.core.pipeline.runner import read_stage_data

    t = pa.table({"id": [str(i) for i in range(25)], "text": [f"doc {i}" for i in range(25)]})
    for fmt in ("arrow", "parquet"):
        d = tmp_path / fmt
        w = ShardWriter(str(d), "t00003", max_rows=10, format=fmt)
        w.write(t)
        assert [p.rsplit(".", 1)[1] for p in w.close()] == [fmt] * 3
        got = list(read_stage_data(str(d), 3, batch_rows=4))
        assert max(b.num_rows for b in got) <= 4
        assert pa.concat_tables(got).column("id").to_pylist() == t.column("id").to_pylist()
        assert list(read_stage_data(str(d), 4, batch_rows=4)) == []
