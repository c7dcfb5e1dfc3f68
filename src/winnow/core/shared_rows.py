"""Row-aligned results derived from a column, shared by the steps of a stage (one token pass).

Several filters of a stage need the same thing of the same text: Gopher repetition, Gopher quality
and FineWeb all count spaCy-like words. :func:`derived` computes it once per batch: the first step
stores its result, the next step asking for the same derivation of the same column gets it back.
Between two steps the runner drops the rejected rows; :func:`carry` drops them from every stored
result as well, so the next step's (smaller) batch still finds them.

"The same column" is decided on the Arrow buffers: arrays are immutable, so a column whose
buffers (address, size, offset and length) are those of the stored one holds the same values. A
step that rewrites the column (C4's line removal, PII redaction) gives it new buffers, and the
stored result is dropped, never reused. Each stored result holds a reference to its column, so no
buffer address can be reused while the result lives. Outside a batch (:func:`sharing` not active,
e.g. a user calling ``step.annotate`` directly) nothing is stored.

    >>> import pyarrow as pa
    >>> calls = []
    >>> def n_chars(t):
    ...     calls.append(1)
    ...     return pa.array([len(s) for s in t.column("text").to_pylist()])
    >>> t = pa.table({"text": ["ab", "cde", "f"]})
    >>> with sharing():
    ...     a = derived(t, "text", "n_chars", lambda: n_chars(t))
    ...     keep = pa.array([True, False, True])
    ...     t2 = t.filter(keep)
    ...     carry(t, t2, keep)
    ...     b = derived(t2, "text", "n_chars", lambda: n_chars(t2))
    >>> b.to_pylist(), len(calls)
    ([2, 1], 1)
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

import pyarrow as pa

_STORE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("winnow_shared_rows", default=None)


def _key(col) -> tuple:
    """The identity of a column's values: its buffers (address, size), offset and length per chunk."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    return tuple(
        (c.offset, len(c), tuple((b.address, b.size) if b is not None else None for b in c.buffers())) for c in chunks
    )


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    """Store derivations for the batch being processed in this block (the runner wraps each batch)."""
    token = _STORE.set({})
    try:
        yield
    finally:
        _STORE.reset(token)


def derived(table: pa.Table, column: str, name: str, compute: Callable[[], pa.Array]) -> pa.Array:
    """``compute()`` — a row-aligned Arrow array derived from ``table[column]`` (one value per row)
    — or the result stored for the same column by an earlier step of this batch."""
    store = _STORE.get()
    if store is None:
        return compute()
    col = table.column(column)
    key = _key(col)
    hit = store.get((column, name))
    if hit is not None and hit[0] == key:
        return hit[2]
    value = compute()
    if len(value) != table.num_rows:
        raise ValueError(f"derivation {name!r} of {column!r} has {len(value)} values for {table.num_rows} rows")
    store[(column, name)] = (key, col, value)
    return value


def carry(before: pa.Table, after: pa.Table, keep) -> None:
    """``after`` is ``before.filter(keep)``: results stored for a column of ``before`` follow it
    (their rows filtered the same way); results for a column ``before`` no longer has unchanged
    are dropped."""
    store = _STORE.get()
    if not store:
        return
    for (column, name), (key, _col, value) in list(store.items()):
        if column in before.column_names and column in after.column_names and _key(before.column(column)) == key:
            col = after.column(column)
            store[(column, name)] = (_key(col), col, value.filter(keep))
        else:
            del store[(column, name)]
