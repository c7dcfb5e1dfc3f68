"""Record schema helpers and stable ids.

A record is one Arrow row. Required columns: ``id`` (stable string), the payload
(``text`` for text data) and ``source``. Steps add columns or drop rows.

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"text": ["hello world"]})
    >>> t = ensure_record_columns(t, file="raw/a.jsonl", offsets=[0], source="web")
    >>> t.column("id").to_pylist()
    ['raw/a.jsonl:0']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REQUIRED_COLUMNS = ("id", "text", "source")
#: columns added by the accounting layer to rejected rows
REJECT_COLUMNS = ("step", "reason")
#: quarantine schema: one row per unreadable piece of input
QUARANTINE_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("offset", pa.int64()),
        ("rows", pa.int64()),
        ("error", pa.string()),
        ("raw", pa.string()),
    ]
)


def set_columns(table: pa.Table, cols) -> pa.Table:
    """Replace or append columns (a mapping or (name, array) pairs; numpy arrays accepted).

    >>> set_columns(pa.table({"a": [1]}), {"a": [2], "b": ["x"]}).to_pylist()
    [{'a': 2, 'b': 'x'}]
    """
    items = cols.items() if isinstance(cols, dict) else cols
    for name, col in items:
        if not isinstance(col, (pa.Array, pa.ChunkedArray)):
            col = pa.array(col)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, col)
        else:
            table = table.append_column(name, col)
    return table


def stable_ids(file: str, offsets: Sequence[int] | np.ndarray) -> pa.Array:
    """Ids derived from the source file and the byte (or row) offset of each record.

    The same file read twice gives the same ids, whatever the shard split.
    """
    offs = pa.array(np.asarray(offsets, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(pa.scalar(file), offs, ":")


def text_bytes(table: pa.Table | pa.RecordBatch, column: str = "text") -> int:
    """UTF-8 byte size of a text column (0 for an empty table)."""
    if table.num_rows == 0 or column not in table.column_names:
        return 0
    lens = pc.binary_length(table.column(column))
    total = pc.sum(lens).as_py()
    return int(total or 0)


def ensure_record_columns(
    table: pa.Table,
    *,
    file: str,
    offsets: Sequence[int] | np.ndarray,
    source: str | None,
    text_column: str = "text",
    id_column: str = "id",
) -> pa.Table:
    """Normalise a freshly read table to the record contract.

    * renames ``text_column``/``id_column`` to ``text``/``id``;
    * casts ``text`` and ``id`` to string (ids that are numbers stay stable);
    * fills missing ``id`` with :func:`stable_ids` and missing ``source``.
    Rows whose id is null get the stable id too.
    """
    names = table.column_names
    if text_column != "text" and text_column in names:
        table = table.rename_columns(["text" if n == text_column else n for n in names])
        names = table.column_names
    if id_column != "id" and id_column in names:
        if "id" in names:
            table = table.drop_columns(["id"])
            names = table.column_names
        table = table.rename_columns(["id" if n == id_column else n for n in names])
        names = table.column_names
    if "id" in names:
        col = table.column("id")
        if col.type != pa.string():
            col = pc.cast(col, pa.string())
        if col.null_count:
            col = pc.coalesce(col, stable_ids(file, offsets))
        table = table.set_column(names.index("id"), "id", col)
    else:
        table = table.append_column("id", stable_ids(file, offsets))
    if "text" in table.column_names and table.column("text").type != pa.string():
        i = table.column_names.index("text")
        table = table.set_column(i, "text", pc.cast(table.column("text"), pa.string()))
    src_val = source if source is not None else file
    if "source" not in table.column_names:
        table = table.append_column("source", pa.repeat(pa.scalar(src_val, pa.string()), table.num_rows))
    else:
        col = table.column("source")
        if col.type != pa.string():
            col = pc.cast(col, pa.string())
        if col.null_count:
            col = pc.fill_null(col, src_val)
        table = table.set_column(table.column_names.index("source"), "source", col)
    # put the contract columns first, in a fixed order
    rest = [c for c in table.column_names if c not in REQUIRED_COLUMNS]
    return table.select(list(REQUIRED_COLUMNS) + rest)


def empty_quarantine() -> pa.Table:
    # built from empty arrays: Schema.empty_table() would import pandas
    return pa.table([pa.nulls(0, f.type) for f in QUARANTINE_SCHEMA], schema=QUARANTINE_SCHEMA)


def quarantine_table(rows: list[dict]) -> pa.Table:
    """Build a quarantine table from dicts with file/offset/rows/error/raw keys."""
    if not rows:
        return empty_quarantine()
    cols = {f.name: [r.get(f.name) for r in rows] for f in QUARANTINE_SCHEMA}
    cols["rows"] = [1 if v is None else v for v in cols["rows"]]
    cols["raw"] = [None if v is None else str(v)[:2000] for v in cols["raw"]]
    return pa.table(cols, schema=QUARANTINE_SCHEMA)
