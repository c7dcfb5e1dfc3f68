"""In-memory tables as pipeline and selector input: pandas / polars DataFrames, Arrow tables and
record batches, Hugging Face ``datasets.Dataset`` (and lists of dicts).

:func:`to_arrow` converts any of them to a ``pyarrow.Table`` without importing the libraries
(the object's type is inspected by name). :func:`materialize` writes the table once to a Parquet
file named by the hash of its content, so a pipeline run reads it like any other input and a
``resume`` with the same data finds the same file.

Example:
    >>> import pandas as pd
    >>> to_arrow(pd.DataFrame({"id": ["a"], "text": ["hello"]})).column_names
    ['id', 'text']
    >>> is_in_memory("data/*.jsonl"), is_in_memory(pd.DataFrame())
    (False, True)
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq


def _type_name(obj) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def is_in_memory(obj) -> bool:
    """True for the in-memory table types :func:`to_arrow` accepts."""
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return True
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        return True
    name = _type_name(obj)
    if name.startswith("polars."):
        return hasattr(obj, "to_arrow") or hasattr(obj, "collect")
    if name.startswith("pandas."):
        return hasattr(obj, "columns")
    return name.startswith("datasets.") and hasattr(obj, "data")


def to_arrow(obj) -> pa.Table:
    """A ``pyarrow.Table`` from an Arrow table/batch, pandas or polars DataFrame (or LazyFrame),
    HF ``datasets.Dataset`` or a list of dicts. Raises ``TypeError`` for anything else."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, list):
        return pa.Table.from_pylist(obj)
    name = _type_name(obj)
    if name.startswith("pandas.") and hasattr(obj, "columns"):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if name.startswith("polars."):
        if hasattr(obj, "collect") and not hasattr(obj, "to_arrow"):
            obj = obj.collect()
        return obj.to_arrow()
    if name.startswith("datasets.") and hasattr(obj, "data"):
        # Dataset.data is its Arrow table; select_columns/indices (a filtered view) are flattened first
        if getattr(obj, "_indices", None) is not None:
            obj = obj.flatten_indices()
        t = obj.data
        return t.table if hasattr(t, "table") else pa.table(t)
    raise TypeError(
        f"cannot use a {type(obj).__name__} as a table: pass a path, a pandas or polars DataFrame, "
        "a pyarrow Table or a datasets.Dataset"
    )


def materialize(obj, folder: str | None = None) -> str:
    """Write an in-memory table to ``folder`` (default: the system temp dir) as one Parquet file
    named by its content hash, once; return the path."""
    t = to_arrow(obj)
    if "text" not in t.column_names:
        raise ValueError(f"the table has no 'text' column (columns: {', '.join(t.column_names)})")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    digest = hashlib.sha256(sink.getvalue()).hexdigest()[:24]
    folder = folder or os.path.join(tempfile.gettempdir(), "winnow-inputs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"table-{digest}.parquet")
    if not os.path.exists(path):
        tmp = f"{path}.tmp-{os.getpid()}"
        pq.write_table(t, tmp)
        os.replace(tmp, path)
    return path
