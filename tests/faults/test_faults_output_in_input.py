"""Issue 19, item 3: an output folder inside the input folder is never read back as input."""

from __future__ import annotations

from _faults import assert_accounted, count_nonblank_lines, good_rows, jsonl_bytes, write_lines

from winnow import Pipeline

STEPS = [{"length": {"min_words": 3}}]


def test_output_inside_input_is_excluded(tmp_path, real_docs):
    d = tmp_path / "corpus"
    rows = good_rows(real_docs, 400)
    for k in range(4):
        write_lines(d / f"part{k}.jsonl", jsonl_bytes(rows[k * 100 : (k + 1) * 100]))
    n_input = sum(count_nonblank_lines(d / f"part{k}.jsonl") for k in range(4))
    out = str(d / "runs" / "r1")  # inside the input folder
    ids = [r["id"] for r in rows]
    res = Pipeline(STEPS).run(str(d), out, workers=1)
    assert_accounted(res, n_input=n_input, good_ids=ids, bad=[])
    # resumed twice: rows_in stayed 400 (it grew 4,000 -> 8,075 -> 16,258 before)
    for _ in range(2):
        res = Pipeline(STEPS).run(str(d), out, workers=1, resume=True)
        assert_accounted(res, n_input=n_input, good_ids=ids, bad=[])
    res = Pipeline(STEPS).run(str(d), out, workers=1, overwrite=True)
    assert_accounted(res, n_input=n_input, good_ids=ids, bad=[])
