"""Issue 19, items 7 and 18: per-document bounds. A pathologically nested HTML page and a
giant document are quarantined with the reason; the other documents are kept."""

from __future__ import annotations

import json

from _faults import assert_accounted, good_rows, write_lines

from winnow import Pipeline
from winnow.core.io.readers import InputSpec


def test_deep_html_is_quarantined_fast(tmp_path, real_docs):
    d = tmp_path / "site"
    d.mkdir()
    names = []
    for i, r in enumerate(good_rows(real_docs, 5)):
        (d / f"p{i}.html").write_text(f"<html><body><article><p>{r['text']}</p></article></body></html>")
        names.append(f"p{i}.html")
    (d / "deep.html").write_text("<html><body>" + "<div>" * 40_000 + "x")  # took 70 s to extract
    res = Pipeline([]).run(str(d), str(tmp_path / "run"), workers=1)
    m, q = assert_accounted(res, n_input=6, good_ids=names, bad=[(str(d / "deep.html"), 0)])
    assert "nested deeper than" in q[0]["error"]


def test_giant_document_quarantined_with_reason(tmp_path, real_docs):
    rows = good_rows(real_docs, 20)
    lines = [json.dumps(r).encode() for r in rows]
    lines.insert(5, json.dumps({"id": "huge", "text": "word " * 300_000}).encode())  # 1.5 M characters
    p = tmp_path / "a.jsonl"
    offs = write_lines(p, lines)
    spec = InputSpec(path=str(p), max_chars=1_000_000)
    res = Pipeline([]).run(spec, str(tmp_path / "run"), workers=1)
    m, q = assert_accounted(res, n_input=21, good_ids=[r["id"] for r in rows], bad=[(str(p), offs[5])])
    assert "document too large" in q[0]["error"] and "max_chars=1,000,000" in q[0]["error"]
    # a bound so small that the raw line alone exceeds it: refused before it is parsed
    res = Pipeline([]).run(InputSpec(path=str(p), max_chars=100_000), str(tmp_path / "run2"), workers=1)
    m, q = assert_accounted(res, n_input=21, good_ids=[r["id"] for r in rows], bad=[(str(p), offs[5])])
    assert "line of 1,500,0" in q[0]["error"]
    # the default bound exists and is documented on the spec
    assert InputSpec(path="x").max_chars == 10_000_000


def test_over_long_line_is_skipped_without_holding_it(tmp_path, real_docs, monkeypatch):
    """A line longer than the bound and than a read block is skipped as it streams by (memory
    stays at the bound plus a block, not the line's size); the lines after it keep their
    byte offsets, so their derived ids are exact."""
    from winnow.core.io import readers

    monkeypatch.setattr(readers, "JSONL_BLOCK_BYTES", 1 << 16)  # a 64 kB read block
    rows = [{"text": r["text"]} for r in good_rows(real_docs, 30)]  # ids derived from offsets
    lines = [json.dumps(r).encode() for r in rows]
    lines.insert(10, json.dumps({"text": "x" * 3_000_000}).encode())  # 3 MB > 4 * 1000 + 1 MiB
    p = tmp_path / "a.jsonl"
    offs = write_lines(p, lines)
    res = Pipeline([]).run(InputSpec(path=str(p), max_chars=1000), str(tmp_path / "run"), workers=1)
    good = [f"a.jsonl:{o}" for i, o in enumerate(offs) if i != 10]
    m, q = assert_accounted(res, n_input=31, good_ids=good, bad=[(str(p), offs[10])])
    assert "line of 3,000,0" in q[0]["error"]
