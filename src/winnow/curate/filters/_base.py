"""Small helpers shared by the filter steps."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from winnow.core.records import set_columns  # noqa: F401  (re-exported for the filters)


def col_np(table: pa.Table, name: str, dtype=np.float64) -> np.ndarray:
    """A statistic column as numpy (nulls → NaN / 0)."""
    c = table.column(name)
    arr = c.to_numpy() if c.null_count == 0 else np.asarray(c.to_pylist(), dtype=object)
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
    return arr.astype(dtype, copy=False)


def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b == 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.float64)
    np.divide(a, b, out=out, where=b != 0)
    return out
