"""Interop (issue 22): DataFrames and Datasets in and out, rejects readable by every tool."""

from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from winnow import Pipeline


def _frame(real_docs, n=400) -> pd.DataFrame:
    docs = real_docs[:n]
    return pd.DataFrame(
        {"id": [d["id"] for d in docs], "text": [d["text"] for d in docs], "source": ["python_docs"] * len(docs)}
    )


STEPS = [{"length": {"min_words": 8}}, {"pii": {}}, {"gopher_repetition": {}}, {"exact_dedup": {}}]


def test_pandas_in_pandas_polars_hf_out(real_docs, tmp_path):
    import datasets
    import polars as pl

    df = _frame(real_docs)
    df = pd.concat([df, df.iloc[:5].assign(id=lambda d: d["id"] + "-copy")], ignore_index=True)
    res = Pipeline(STEPS).run(df, str(tmp_path / "run"), workers=2)
    t = res.manifest["totals"]
    assert t["rows_in"] == len(df) == t["rows_kept"] + t["rows_rejected"] + t["rows_quarantined"]
    out = res.to_pandas()
    assert set(out["id"]) | set(res.rejects(["id"]).column("id").to_pylist()) == set(df["id"])
    kept = dict(zip(out["id"], out["text"]))
    src = dict(zip(df["id"], df["text"]))
    assert all(kept[i] == src[i] for i in kept if "@" not in src[i])  # untouched unless PII redacted
    assert res.to_polars().shape[0] == len(out) and isinstance(res.to_polars(), pl.DataFrame)
    hf = res.to_hf(["id", "text"])
    assert isinstance(hf, datasets.Dataset) and hf.num_rows == len(out) and hf[0]["id"] == out["id"].iloc[0]
    # polars and HF Dataset in: the same decisions as pandas in
    for other in (pl.from_pandas(df), datasets.Dataset.from_pandas(df, preserve_index=False), pa.Table.from_pandas(df)):
        r2 = Pipeline(STEPS).run(other, str(tmp_path / f"run-{type(other).__name__}"), workers=1)
        assert sorted(r2.to_pandas()["id"]) == sorted(out["id"])


def test_rejects_read_by_polars_duckdb_hf_pandas(real_docs, tmp_path):
    import datasets
    import duckdb
    import polars as pl

    df = _frame(real_docs, 600)
    df = pd.concat([df, df.iloc[:20].assign(id=lambda d: d["id"] + "-copy")], ignore_index=True)
    res = Pipeline(STEPS).run(df, str(tmp_path / "run"), workers=2)
    by_step = res.manifest["steps"]
    n_rej = sum(s["rows_rejected"] for s in by_step)
    assert sum(1 for s in by_step if s["rows_rejected"]) >= 2, by_step  # several steps, different columns
    files = sorted(glob.glob(str(tmp_path / "run" / "rejects" / "*.parquet")))
    pattern = str(tmp_path / "run" / "rejects" / "*.parquet")
    lp = pl.scan_parquet(pattern).collect()
    # one table: the length step's statistics and the dedup step's duplicate_of side by side
    assert lp.height == n_rej and {"id", "step", "reason", "n_words", "duplicate_of"} <= set(lp.columns), lp.columns
    dd = duckdb.sql(f"select step, count(*) as n from read_parquet('{pattern}') group by step").fetchall()
    assert dict(dd) == {s["name"]: s["rows_rejected"] for s in by_step if s["rows_rejected"]}
    hf = datasets.load_dataset("parquet", data_files=files, split="train")
    assert hf.num_rows == n_rej
    pdf = pd.concat([pd.read_parquet(f) for f in files])
    assert pdf.shape == (n_rej, lp.width) and list(pdf.columns) == lp.columns
    assert list(lp.columns[:5]) == ["id", "text", "source", "step", "reason"]


def test_selectors_take_dataframes(real_docs):
    import datasets
    import polars as pl

    from winnow.select import get_selector

    df = _frame(real_docs, 300)
    target = df.iloc[:30]
    ref = get_selector("dsir", seed=0)
    ref.fit(pa.Table.from_pandas(df.iloc[30:]), pa.Table.from_pandas(target))
    for pool, tgt in (
        (df.iloc[30:], target),
        (pl.from_pandas(df.iloc[30:]), pl.from_pandas(target)),
        (
            datasets.Dataset.from_pandas(df.iloc[30:], preserve_index=False),
            datasets.Dataset.from_pandas(target, preserve_index=False),
        ),
    ):
        s = get_selector("dsir", seed=0)
        s.fit(pool, tgt)
        assert np.allclose(s.scores_, ref.scores_) and list(s.ids_) == list(ref.ids_)


def test_not_a_table_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="input must be a path"):
        Pipeline([{"length": {}}]).run(42, str(tmp_path / "x"))
