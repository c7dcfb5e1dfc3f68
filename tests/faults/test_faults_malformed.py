"""Issue 19, item 5: one malformed line is quarantined as that line; the rest of the file is
kept, nothing crashes (no segfault in the JSON parser), and ``--resume`` equals a clean run."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest
from _faults import assert_accounted, count_nonblank_lines, good_rows, jsonl_bytes, python, run_ids, write_lines

from winnow import Pipeline

STEPS = [{"length": {"min_words": 3}}]

CASES = {
    # 100,000-deep nesting segfaulted pyarrow.json (rc 139)
    "deep_100k": b'{"id":"deep","text":"x y z","meta":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    # a lone surrogate escape: UnicodeEncodeError when the block fell back to Python
    "lone_surrogate": b'{"id":"sur","text":"bad \\ud800 surrogate here"}',
    # an object nested 101 deep in an extra field was written, then unreadable (Parquet depth limit)
    "deep_101_extra": b'{"id":"d101","text":"a b c","extra":' + b'{"k":' * 101 + b"1" + b"}" * 101 + b"}",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_line_is_quarantined_rest_kept(tmp_path, real_docs, case):
    rows = good_rows(real_docs, 200)
    lines = jsonl_bytes(rows)
    lines.insert(120, CASES[case])
    p = tmp_path / "in" / "part.jsonl"
    offs = write_lines(p, lines)
    other = good_rows(real_docs, 30, tag="o")  # a second file: two tasks, two worker processes
    write_lines(tmp_path / "in" / "other.jsonl", jsonl_bytes(other))
    out = str(tmp_path / "run")
    # in a separate interpreter with 2 worker processes: a crash must show as a return code
    code = (
        "import sys, json; from winnow import Pipeline; "
        "r = Pipeline(json.loads(sys.argv[3])).run(sys.argv[1], sys.argv[2], workers=2); "
        "print(r.manifest['checks']['ok'])"
    )
    proc = python(code, str(tmp_path / "in"), out, json.dumps(STEPS))
    assert proc.returncode == 0, proc.stderr[-2000:]
    m, q = assert_accounted(
        out,
        n_input=count_nonblank_lines(p) + len(other),
        good_ids=[r["id"] for r in rows + other],
        bad=[(str(p), offs[120])],
    )
    assert m["workers"] == 2
    # every output file reads back (the 101-deep case failed here, in build_manifest)
    for d in ("data", "rejects", "quarantine"):
        for f in os.listdir(os.path.join(out, d)):
            pq.read_table(os.path.join(out, d, f))
    # resume hits the line again and still finishes, equal to the clean run
    before = sorted(run_ids(out))
    res = Pipeline(STEPS).run(str(tmp_path / "in"), out, workers=1, resume=True)
    assert sorted(run_ids(res.path)) == before and res.manifest["checks"]["ok"]


def test_big_int_id_then_string_id(tmp_path, real_docs):
    """An integer id >= 2**64 followed by a string id raised OverflowError."""
    rows = good_rows(real_docs, 50)
    lines = jsonl_bytes(rows)
    lines[0] = json.dumps({"id": 2**64 + 5, "text": rows[0]["text"]}).encode()  # the first id of the block
    lines[1] = json.dumps({"id": "s1", "text": rows[1]["text"]}).encode()
    p = tmp_path / "ids.jsonl"
    write_lines(p, lines)
    res = Pipeline(STEPS).run(str(p), str(tmp_path / "run"), workers=1)
    ids = [r["id"] for r in rows]
    ids[0], ids[1] = str(2**64 + 5), "s1"
    assert_accounted(res, n_input=count_nonblank_lines(p), good_ids=ids, bad=[])
