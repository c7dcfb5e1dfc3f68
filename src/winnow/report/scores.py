"""Read a per-document score file for the report: ``winnow attribute -o scores.parquet`` or the
``scores.parquet`` of a ``winnow select`` output folder (columns ``id``, ``score``; optionally
``selected``).

Example:
    >>> import tempfile, os, pyarrow as pa, pyarrow.parquet as pq
    >>> p = os.path.join(tempfile.mkdtemp(), "scores.parquet")
    >>> pq.write_table(pa.table({"id": ["a", "b", "c"], "score": [0.5, -1.0, 2.0]}), p)
    >>> s = collect_scores(p, examples=1)
    >>> s["n"], s["top"][0]["id"], s["bottom"][0]["id"]
    (3, 'c', 'b')
"""

from __future__ import annotations

import os

import numpy as np


def find_scores(path: str) -> str | None:
    """``path`` itself if it is a Parquet file with ``id`` and ``score`` columns, else its
    ``scores.parquet`` (a ``winnow select`` output folder), else None."""
    import pyarrow.parquet as pq

    cand = path if os.path.isfile(path) else os.path.join(path, "scores.parquet")
    if not (os.path.isfile(cand) and cand.endswith(".parquet")):
        return None
    try:
        names = pq.read_schema(cand).names
    except Exception:  # noqa: BLE001 - not a Parquet file: not a score file
        return None
    return cand if {"id", "score"} <= set(names) else None


def collect_scores(path: str, examples: int = 20) -> dict:
    """Counts, quantiles, a histogram and the highest / lowest scored ids."""
    import pyarrow.parquet as pq

    from winnow.report import plots

    p = find_scores(path)
    if p is None:
        raise FileNotFoundError(f"{path} is not a score file (a Parquet file with id and score columns)")
    cols = [c for c in ("id", "score", "selected") if c in pq.read_schema(p).names]
    t = pq.read_table(p, columns=cols)
    ids = np.asarray(t.column("id").to_pylist(), dtype=object)
    score = np.asarray(t.column("score").to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(score)
    fs = score[finite]
    order = np.flatnonzero(finite)[np.argsort(-fs, kind="stable")]
    q = np.quantile(fs, [0.0, 0.1, 0.5, 0.9, 1.0]) if len(fs) else np.full(5, np.nan)
    uri = None
    if len(fs):
        uri, _ = plots.histogram("score", [("documents", fs, 1.0, plots.ACCENT)], None, None)
    selected = None
    if "selected" in cols:
        selected = int(np.asarray(t.column("selected").to_numpy(zero_copy_only=False), bool).sum())
    return {
        "path": os.path.abspath(p),
        "n": len(score),
        "finite": int(finite.sum()),
        "selected": selected,
        "quantiles": dict(zip(("min", "p10", "median", "p90", "max"), map(float, q))),
        "plot": uri,
        "top": [{"id": str(ids[i]), "score": float(score[i])} for i in order[:examples]],
        "bottom": [{"id": str(ids[i]), "score": float(score[i])} for i in order[::-1][:examples]],
    }
