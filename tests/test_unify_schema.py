"""``unify_folder_schema`` (the end of every run): rejects of different steps carry different
statistic columns; afterwards every file has the union schema, rewritten on threads or not."""

from __future__ import annotations

import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winnow.core.io.writers import unify_folder_schema


def _folder(path: str) -> dict:
    rng = random.Random(0)
    os.makedirs(path)
    cols = {"n_words": pa.int64(), "ratio": pa.float64(), "lang": pa.string()}
    want = {}
    for k in range(12):
        extra = rng.sample(sorted(cols), rng.randint(0, 3))
        n = rng.randint(1, 50)
        t = {"id": [f"{k}-{i}" for i in range(n)], "text": ["x" * rng.randint(0, 99) for _ in range(n)]}
        for c in extra:
            t[c] = pa.array(
                [rng.random() if c == "ratio" else (i if c == "n_words" else "en") for i in range(n)], cols[c]
            )
        tab = pa.table(t)
        pq.write_table(tab, os.path.join(path, f"f{k:02d}.parquet"))
        want[f"f{k:02d}.parquet"] = tab
    return want


@pytest.mark.parametrize("threads", [1, 4])
def test_every_file_gets_the_union_schema_and_keeps_its_values(tmp_path, threads):
    want = _folder(str(tmp_path / "d"))
    schema = unify_folder_schema(str(tmp_path / "d"), threads=threads)
    assert set(schema.names) == {"id", "text", "n_words", "ratio", "lang"}
    assert schema.names[:2] == ["id", "text"]
    for name, tab in want.items():
        got = pq.read_table(tmp_path / "d" / name)
        assert got.schema.remove_metadata().equals(schema.remove_metadata())
        for c in schema.names:
            if c in tab.column_names:
                assert got.column(c).to_pylist() == tab.column(c).to_pylist()
            else:
                assert got.column(c).null_count == got.num_rows
    assert sorted(os.listdir(tmp_path / "d")) == sorted(want)  # no temporary file left
