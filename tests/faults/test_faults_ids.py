"""Issue 19, items 8 and 12: generated ids are relative to the input root (the same from any
working directory) and integer ids of any size are kept as their exact decimal text."""

from __future__ import annotations

import json

from _faults import assert_accounted, good_rows, python, run_ids, write_lines

from winnow import Pipeline


def test_ids_do_not_depend_on_the_working_directory(tmp_path, real_docs):
    corpus = tmp_path / "home" / "me" / "corpus"
    rows = [{"text": r["text"]} for r in good_rows(real_docs, 30)]  # no ids: derived from file + offset
    write_lines(corpus / "in" / "part0.jsonl", [json.dumps(r).encode() for r in rows])
    code = "import sys; from winnow import Pipeline; Pipeline([]).run(sys.argv[1], sys.argv[2], workers=1)"
    a = python(code, "corpus/in", str(tmp_path / "ra"), cwd=str(tmp_path / "home" / "me"))
    b = python(code, str(corpus / "in"), str(tmp_path / "rb"), cwd="/")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ida, idb = run_ids(str(tmp_path / "ra")), run_ids(str(tmp_path / "rb"))
    assert ida == idb and len(ida) == 30
    assert ida[0] == "part0.jsonl:0"
    # resuming from another directory keeps one form of ids
    c = python(
        "import sys; from winnow import Pipeline; Pipeline([]).run(sys.argv[1], sys.argv[2], workers=1, resume=True)",
        "in",
        str(tmp_path / "ra"),
        cwd=str(corpus),
    )
    assert c.returncode == 0, c.stderr
    assert run_ids(str(tmp_path / "ra")) == ida


def test_big_integer_ids_are_exact_and_distinct(tmp_path, real_docs):
    rows = good_rows(real_docs, 6)
    big = [2**64, 2**64 + 1, 2**63, 2**63 + 1, 12345678901234567890123, -(2**70)]
    p = tmp_path / "ids.jsonl"
    write_lines(p, [json.dumps({"id": i, "text": r["text"]}).encode() for i, r in zip(big, rows)])
    res = Pipeline([]).run(str(p), str(tmp_path / "run"), workers=1)
    assert_accounted(res, n_input=6, good_ids=[str(i) for i in big], bad=[])
