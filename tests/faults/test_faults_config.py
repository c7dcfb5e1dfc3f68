"""Issue 19, items 13, 16 and 19: configuration errors are found before any folder is
created, and reported as one line (CLI exit code 2), not as a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _faults import SRC, good_rows, jsonl_bytes, write_lines

from winnow import Pipeline
from winnow.core.pipeline.config import ConfigError


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "winnow.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=240
    )


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


BAD_STEPS = {
    "unknown_eval_set": ({"decontaminate": {"eval_sets": ["nosuchbench"]}}, "nosuchbench"),
    "missing_blocklist": ({"url_filter": {"blocked_domains_file": "nowhere/blocklist.txt"}}, "not found"),
}


@pytest.mark.parametrize("case", sorted(BAD_STEPS))
def test_step_resource_errors_before_any_folder(tmp_path, real_docs, case):
    step, needle = BAD_STEPS[case]
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(good_rows(real_docs, 10)))
    (tmp_path / "p.yaml").write_text(json.dumps({"input": "raw/", "output": "out", "steps": [step]}))
    r = _cli("run", "p.yaml", "--workers", "1", "--no-progress", cwd=tmp_path)
    _one_line_error(r, needle, "steps[0]")
    assert not (tmp_path / "out").exists()  # so the corrected rerun needs no --overwrite
    with pytest.raises(ConfigError, match=needle):
        Pipeline([step]).run(str(tmp_path / "raw"), str(tmp_path / "out2"), workers=1)
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize(
    "yaml_extra,needle",
    [
        ({"workers": -3}, "workers"),
        (
            {"executor": "ray", "executor_options": {"address": "auto", "num_cpus": 4}},
            "cannot be set together with address",
        ),
        ({"steps": [{"length": {"min_words": 50, "max_words": 10}}]}, "min_words=50 is above max_words=10"),
        ({"steps": [{"gopher_quality": {"min_doc_words": 100, "max_doc_words": 50}}]}, "min_doc_words=100"),
    ],
)
def test_invalid_values_rejected(tmp_path, real_docs, yaml_extra, needle):
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(good_rows(real_docs, 10)))
    (tmp_path / "p.yaml").write_text(json.dumps({"input": "raw/", "output": "out", **yaml_extra}))
    _one_line_error(_cli("run", "p.yaml", "--no-progress", cwd=tmp_path), needle)
    assert not (tmp_path / "out").exists()


def test_workers_flag_and_api_reject_nonpositive(tmp_path, real_docs):
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(good_rows(real_docs, 10)))
    (tmp_path / "p.yaml").write_text(json.dumps({"input": "raw/", "output": "out"}))
    _one_line_error(_cli("run", "p.yaml", "--workers", "-3", "--no-progress", cwd=tmp_path), "workers")
    with pytest.raises(ConfigError, match="workers must be a positive integer, got 0"):
        Pipeline([]).run(str(tmp_path / "raw"), str(tmp_path / "out"), workers=0)
    assert not (tmp_path / "out").exists()


def test_output_path_is_a_file(tmp_path, real_docs):
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(good_rows(real_docs, 10)))
    (tmp_path / "out").write_text("a file")
    (tmp_path / "p.yaml").write_text(json.dumps({"input": "raw/", "output": "out"}))
    _one_line_error(_cli("run", "p.yaml", "--no-progress", cwd=tmp_path), "is a file")
    assert (tmp_path / "out").read_text() == "a file"


def test_hand_edited_manifest_in_stats_and_report(tmp_path, real_docs):
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(good_rows(real_docs, 10)))
    Pipeline([]).run(str(tmp_path / "raw"), str(tmp_path / "out"), workers=1)
    mp = tmp_path / "out" / "manifest.json"
    m = json.loads(mp.read_text())
    m["totals"]["rows_kept"] = "ten"
    mp.write_text(json.dumps(m))
    for verb in ("stats", "report"):
        _one_line_error(_cli(verb, "out", cwd=tmp_path), "totals.rows_kept")
    mp.write_text("{not json")
    _one_line_error(_cli("stats", "out", cwd=tmp_path), "not valid JSON")


def test_file_too_large_is_one_line_error_then_resume(tmp_path, real_docs):
    """EFBIG while writing (a file-size limit standing in for a full disk): one line, exit 1,
    and ``--resume`` once space is back gives the clean run."""
    import resource
    import signal

    rows = good_rows(real_docs, 3000)
    write_lines(tmp_path / "raw" / "a.jsonl", jsonl_bytes(rows))
    (tmp_path / "p.yaml").write_text(json.dumps({"input": "raw/", "output": "out"}))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run(
        [sys.executable, "-m", "winnow.cli", "run", "p.yaml", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=limit,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.startswith("error:") and "File too large" in r.stderr
    r = _cli("run", "p.yaml", "--no-progress", "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    from _faults import run_ids

    assert sorted(run_ids(str(tmp_path / "out"))) == sorted(x["id"] for x in rows)
