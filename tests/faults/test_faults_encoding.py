"""Issue 19, item 1: invalid UTF-8 never reaches the output; the row is quarantined with its
file and offset (JSONL byte offset, Parquet row), every other row is kept."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from _faults import assert_accounted, count_nonblank_lines, good_rows, jsonl_bytes, run_ids, write_lines

from winnow import Pipeline
from winnow.core.io.writers import read_dataset_table

STEPS = [{"length": {"min_words": 3}}]


def test_latin1_line_in_jsonl_is_quarantined(tmp_path, real_docs):
    rows = good_rows(real_docs, 40)
    lines = jsonl_bytes(rows)
    lines.insert(7, b'{"id":"b","text":"caf\xe9 latin one"}')
    p = tmp_path / "in" / "a.jsonl"
    offs = write_lines(p, lines)
    res = Pipeline(STEPS).run(str(p), str(tmp_path / "run"), workers=1)
    m, q = assert_accounted(
        res, n_input=count_nonblank_lines(p), good_ids=[r["id"] for r in rows], bad=[(str(p), offs[7])]
    )
    assert "not UTF-8" in q[0]["error"]
    assert "b" not in run_ids(res.path)
    # what used to fail downstream (report, language step): every kept string is valid UTF-8
    read_dataset_table(str(tmp_path / "run" / "data")).validate(full=True)


def test_one_bad_line_in_ten_thousand(tmp_path, real_docs):
    rows = good_rows(real_docs, 10_000)
    lines = jsonl_bytes(rows)
    lines[6_543] = lines[6_543].replace(b'"text": "', b'"text": "\xff\xfe ', 1)
    bad_id = rows[6_543]["id"]
    p = tmp_path / "big.jsonl"
    offs = write_lines(p, lines)
    res = Pipeline(STEPS).run(str(p), str(tmp_path / "run"), workers=1)
    assert_accounted(
        res,
        n_input=count_nonblank_lines(p),
        good_ids=[r["id"] for r in rows if r["id"] != bad_id],
        bad=[(str(p), offs[6_543])],
    )
    read_dataset_table(str(tmp_path / "run" / "data")).validate(full=True)


def _invalid_string_array(values: list[bytes], typ=pa.string()) -> pa.Array:
    import numpy as np

    offs = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int32)
    return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(offs.tobytes()), pa.py_buffer(b"".join(values))])


def test_parquet_string_column_with_invalid_bytes(tmp_path, real_docs):
    rows = good_rows(real_docs, 300)
    texts = [r["text"].encode() for r in rows]
    titles = [f"title {i}".encode() for i in range(300)]
    texts[17] = b"caf\xe9 in the text column"
    titles[250] = b"bad \xc3\x28 title"  # invalid UTF-8 in another string column
    t = pa.table(
        {"id": [r["id"] for r in rows], "text": _invalid_string_array(texts), "title": _invalid_string_array(titles)}
    )
    p = tmp_path / "a.parquet"
    pq.write_table(t, p, row_group_size=100)
    res = Pipeline(STEPS).run(str(p), str(tmp_path / "run"), workers=1)
    good = [r["id"] for i, r in enumerate(rows) if i not in (17, 250)]
    m, q = assert_accounted(
        res, n_input=pq.ParquetFile(p).metadata.num_rows, good_ids=good, bad=[(str(p), 17), (str(p), 250)]
    )
    assert all("not UTF-8" in r["error"] for r in q)
    assert "'title'" in [r for r in q if r["offset"] == 250][0]["error"]
    read_dataset_table(str(tmp_path / "run" / "data")).validate(full=True)


def test_parquet_binary_text_one_bad_row_not_its_batch(tmp_path, real_docs):
    """Item 11: one invalid binary row is quarantined alone, not its 8,192-row batch."""
    rows = good_rows(real_docs, 9_000)
    texts = [r["text"].encode() for r in rows]
    texts[4_321] = b"\x80 not utf-8"
    t = pa.table({"id": [r["id"] for r in rows], "text": pa.array(texts, pa.binary())})
    p = tmp_path / "bin.parquet"
    pq.write_table(t, p)
    res = Pipeline(STEPS).run(str(p), str(tmp_path / "run"), workers=1)
    m, q = assert_accounted(
        res, n_input=9_000, good_ids=[r["id"] for i, r in enumerate(rows) if i != 4_321], bad=[(str(p), 4_321)]
    )
    assert "not UTF-8" in q[0]["error"] and q[0]["rows"] == 1
