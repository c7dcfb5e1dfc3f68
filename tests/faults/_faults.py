"""Helpers of the fault-injection suite: independent counts of the input and the checks
every fault test makes (return code, counts add up, good rows kept, bad rows quarantined
with file and offset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")


def good_rows(real_docs, n: int, tag: str = "") -> list[dict]:
    """n real documents with distinct ids (cycled from the shared real corpus)."""
    return [{**real_docs[i % len(real_docs)], "id": f"{tag}{i}"} for i in range(n)]


def jsonl_bytes(rows: list[dict]) -> list[bytes]:
    return [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in rows]


def write_lines(path, lines: list[bytes]) -> list[int]:
    """Write lines (bytes) with "\\n"; return the byte offset of each line."""
    offs, pos = [], 0
    for ln in lines:
        offs.append(pos)
        pos += len(ln) + 1
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"".join(ln + b"\n" for ln in lines))
    return offs


def count_nonblank_lines(path) -> int:
    """Independent count of the records of a plain JSONL file: non-blank lines."""
    with open(path, "rb") as fh:
        return sum(1 for ln in fh if ln.strip())


def run_ids(run_dir: str, sub: str = "data") -> list[str]:
    d = os.path.join(run_dir, sub)
    files = sorted(f for f in os.listdir(d) if f.endswith(".parquet")) if os.path.isdir(d) else []
    return [i for f in files for i in pq.read_table(os.path.join(d, f), columns=["id"]).column("id").to_pylist()]


def quarantine_rows(run_dir: str) -> list[dict]:
    d = os.path.join(run_dir, "quarantine")
    files = sorted(f for f in os.listdir(d) if f.endswith(".parquet")) if os.path.isdir(d) else []
    return [r for f in files for r in pq.read_table(os.path.join(d, f)).to_pylist()]


def assert_accounted(res_or_dir, *, n_input: int, good_ids: list[str], bad: list[tuple[str, int]]):
    """The promise, checked against an independent count of the input:

    * the manifest is ``ok`` and ``rows_in`` equals the count made by the test;
    * kept + rejected ids are exactly the good rows (each once);
    * the quarantine holds exactly the bad rows, as (file, offset) pairs.
    """
    run_dir = res_or_dir if isinstance(res_or_dir, str) else res_or_dir.path
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as fh:
        m = json.load(fh)
    t = m["totals"]
    assert m["checks"]["ok"], m["checks"]
    assert t["rows_in"] == n_input, (t, n_input)
    assert t["rows_kept"] + t["rows_rejected"] + t["rows_quarantined"] == n_input
    out = run_ids(run_dir) + run_ids(run_dir, "rejects")
    assert sorted(out) == sorted(good_ids)
    q = quarantine_rows(run_dir)
    assert sorted((r["file"], r["offset"]) for r in q) == sorted(bad), [(r["file"], r["offset"], r["error"]) for r in q]
    assert t["rows_quarantined"] == n_input - len(good_ids) == sum(r["rows"] for r in q)
    return m, q


def python(
    code: str, *args, cwd=None, timeout: float = 240, env_extra: dict | None = None, **kw
) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter with this worktree's sources."""
    env = {**os.environ, "PYTHONPATH": SRC, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kw
    )
