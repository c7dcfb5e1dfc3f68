"""CLI: fast --help, run + stats on a real corpus, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import write_jsonl


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "winnow.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_verbs_without_heavy_imports():
    r = run_cli("--help")
    assert r.returncode == 0
    for verb in ("run", "stats", "datasets", "steps"):
        assert verb in r.stdout
    # --help stays fast because heavy modules (pyarrow, torch, ray, sklearn) do not load
    # (checked by what is imported, not by a timer)
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, winnow.cli; print(sorted(m for m in ('pyarrow','torch','ray','sklearn') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


def test_run_then_stats_json(tmp_path, real_docs):
    write_jsonl(str(tmp_path / "raw" / "a.jsonl.gz"), real_docs[:120], "gzip")
    (tmp_path / "p.yaml").write_text("input: {path: raw/}\noutput: out\nsteps:\n  - length: {min_words: 10}\n")
    r = run_cli("run", "p.yaml", "--workers", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "balanced" in r.stdout
    r = run_cli("stats", "out", "--json", cwd=tmp_path)
    m = json.loads(r.stdout)
    expected_kept = sum(len(d["text"].split()) >= 10 for d in real_docs[:120])
    assert m["totals"]["rows_kept"] == expected_kept
    assert m["totals"]["rows_in"] == 120 and m["checks"]["ok"]


def test_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "p.yaml").write_text("input: {path: raw/}\noutput: out\nsteps:\n  - length: {min_wrds: 10}\n")
    r = run_cli("run", "p.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "min_wrds" in r.stderr and "min_words" in r.stderr
    r = run_cli("stats", str(tmp_path / "nope"))
    assert r.returncode == 2 and "not a winnow run" in r.stderr
