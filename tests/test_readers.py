"""Readers: formats, stable ids, and quarantine of every kind of unreadable input."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from winnow.core.io.readers import InputError, InputSpec, plan_tasks, read_task


def read_all(spec: InputSpec):
    tables, qs = [], []
    for task in plan_tasks(spec):
        for ch in read_task(spec, task):
            tables.append(ch.table)
            qs.append(ch.quarantine)
    t = pa.concat_tables(tables, promote_options="permissive")
    q = pa.concat_tables(qs)
    return t, q


@pytest.mark.parametrize("compression,suffix", [(None, ".jsonl"), ("gzip", ".jsonl.gz"), ("zstd", ".jsonl.zst")])
def test_jsonl_compressions_read_every_row(tmp_path, real_docs, compression, suffix):
    rows = real_docs[:300]
    p = write_jsonl(str(tmp_path / f"a{suffix}"), rows, compression)
    t, q = read_all(InputSpec(path=p))
    assert q.num_rows == 0
    assert t.column("id").to_pylist() == [r["id"] for r in rows]
    assert t.column("text").to_pylist() == [r["text"] for r in rows]
    assert t.column_names[:3] == ["id", "text", "source"]


def test_ids_derived_from_file_and_offset_when_missing(tmp_path, real_docs):
    rows = [{"text": r["text"]} for r in real_docs[:50]]
    p = write_jsonl(str(tmp_path / "noid.jsonl"), rows)
    t, _ = read_all(InputSpec(path=p, source="docs"))
    ids = t.column("id").to_pylist()
    assert len(set(ids)) == 50
    # offsets are the byte offsets of each line: check against the file itself
    raw = open(p, "rb").read()
    offsets = [0] + [i + 1 for i, b in enumerate(raw) if b == 10][:-1]
    assert [int(i.rsplit(":", 1)[1]) for i in ids] == offsets
    assert set(t.column("source").to_pylist()) == {"docs"}
    # stable: reading again gives the same ids
    t2, _ = read_all(InputSpec(path=p, source="docs"))
    assert t2.column("id").to_pylist() == ids


def test_invalid_json_undecodable_and_missing_text_are_quarantined(tmp_path, real_docs):
    good = [json.dumps(r).encode() for r in real_docs[:5]]
    lines = [
        good[0],
        b'{"id": "x", "text": "unterminated',
        good[1],
        '{"id": "lat", "text": "caf\u00e9"}'.encode("latin-1"),
        good[2],
        b'{"id": "nt", "body": "no text field"}',
        b"[1, 2, 3]",
        good[3],
        b"",
        good[4],
    ]
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    t, q = read_all(InputSpec(path=str(p)))
    assert t.column("id").to_pylist() == [r["id"] for r in real_docs[:5]]
    errs = q.column("error").to_pylist()
    assert len(errs) == 4
    assert errs[0].startswith("invalid JSON")
    assert errs[1].startswith("undecodable bytes")
    assert errs[2].startswith("missing required column 'text'")
    assert "expected an object" in errs[3]
    # offsets point at the bad lines
    raw = p.read_bytes()
    for off, needle in zip(q.column("offset").to_pylist(), [b'{"id": "x"', b'{"id": "lat"', b'{"id": "nt"', b"[1, 2"]):
        assert raw[off : off + len(needle)] == needle
    assert set(q.column("file").to_pylist()) == {str(p)}  # outside the cwd: absolute path


def test_corrupt_gzip_keeps_prefix_and_quarantines_tail(tmp_path, real_docs):
    rows = real_docs[:400]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    t, q = read_all(InputSpec(path=str(p)))
    assert 0 < t.num_rows < 400
    assert t.column("id").to_pylist() == [r["id"] for r in rows[: t.num_rows]]
    assert q.num_rows == 1 and q.column("error")[0].as_py().startswith("corrupt input stream")


def test_parquet_reader_and_missing_column(tmp_path, real_docs):
    rows = real_docs[:100]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ok.parquet", row_group_size=30)
    pq.write_table(pa.table({"body": ["x"] * 7}), tmp_path / "nocol.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"this is not parquet at all")
    t, q = read_all(InputSpec(path=str(tmp_path / "*.parquet"), batch_rows=16))
    assert t.column("id").to_pylist() == [r["id"] for r in rows]
    errs = sorted(q.column("error").to_pylist())
    assert len(errs) == 2
    assert any("missing required column 'text'" in e for e in errs)
    assert any("not a readable Parquet file" in e for e in errs)
    nocol = [r for r in q.to_pylist() if "missing required" in r["error"]][0]
    assert nocol["rows"] == 7


def test_text_and_html_folders(tmp_path):
    import pydoc

    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("Plain text document.\nSecond line.", encoding="utf-8")
    (d / "b.md").write_text("# Title\n\nSome *markdown*.", encoding="utf-8")
    (d / "c.txt").write_bytes("caf\u00e9".encode("latin-1"))
    h = tmp_path / "html"
    h.mkdir()
    import json as json_mod

    page = pydoc.html.page("json", pydoc.html.document(json_mod, "json"))
    (h / "json.html").write_text(page, encoding="utf-8")
    t, q = read_all(InputSpec(path=str(d)))
    assert t.num_rows == 2 and q.num_rows == 1
    assert q.column("error")[0].as_py().startswith("undecodable bytes")
    th, qh = read_all(InputSpec(path=str(h)))
    assert qh.num_rows == 0 and th.num_rows == 1
    text = th.column("text")[0].as_py()
    assert "JSON" in text and "<table" not in text and "<a href" not in text


def test_fsspec_urls(tmp_path, real_docs):
    import fsspec

    p = write_jsonl(str(tmp_path / "u.jsonl.gz"), real_docs[:20], "gzip")
    t, _ = read_all(InputSpec(path=f"file://{p}"))
    assert t.num_rows == 20
    mem = fsspec.filesystem("memory")
    with mem.open("/bucket/x.jsonl", "wb") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in real_docs[:7]).encode())
    t, _ = read_all(InputSpec(path="memory://bucket/*.jsonl"))
    assert t.column("id").to_pylist() == [r["id"] for r in real_docs[:7]]


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        plan_tasks(InputSpec(path=str(tmp_path / "nope.jsonl")))
    (tmp_path / "x.weird").write_text("?")
    with pytest.raises(InputError, match="cannot infer the format"):
        plan_tasks(InputSpec(path=str(tmp_path / "x.weird")))
