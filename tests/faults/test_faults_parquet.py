"""Issue 19, item 11: Parquet damage is quarantined at row-group granularity (a corrupt page
no longer quarantines every row group), bad rows of a readable batch one by one."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from _faults import assert_accounted, good_rows

from winnow import Pipeline


def test_corrupt_page_quarantines_its_row_group_only(tmp_path, real_docs):
    rows = good_rows(real_docs, 1000)
    t = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    p = tmp_path / "five.parquet"
    pq.write_table(t, p, row_group_size=200, compression="zstd")
    md = pq.ParquetFile(p).metadata
    assert md.num_row_groups == 5
    col = md.row_group(2).column(1)  # the text column chunk of row group 2
    start = (col.dictionary_page_offset or col.data_page_offset) + 64
    end = min(start + 256, start - 64 + col.total_compressed_size)  # stay inside this column chunk
    data = bytearray(p.read_bytes())
    data[start:end] = bytes(b ^ 0xFF for b in data[start:end])
    p.write_bytes(bytes(data))
    res = Pipeline([]).run(str(p), str(tmp_path / "run"), workers=1)
    m, q = assert_accounted(res, n_input=1000, good_ids=[r["id"] for r in rows[:400] + rows[600:]], bad=[(str(p), 400)])
    assert q[0]["rows"] == 200 and "row group 2" in q[0]["error"]
