"""Sort-based set operations on large integer arrays.

numpy 2.x's ``np.unique`` (no ``return_*`` flags) builds a hash table of integer values before
sorting them; on millions of mostly distinct 64-bit keys that is about 12× slower than one
``np.sort`` (vectorised on x86) and a neighbour comparison (3.0 s vs 0.25 s on 4M keys,
``benchmarks/dedup/bench_kernels.py``). The dedup reduces and filters call these helpers instead.

    >>> unique_sorted(np.array([5, 1, 5, 3, 1])).tolist()
    [1, 3, 5]
    >>> u, inv, first = unique_inverse(np.array([7, 2, 7, 9]))
    >>> u.tolist(), inv.tolist(), (u[inv] == [7, 2, 7, 9]).all()
    ([2, 7, 9], [1, 0, 1, 2], np.True_)
"""

from __future__ import annotations

import numpy as np


def unique_sorted(x: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``x`` (equal to ``np.unique(x)``): by a presence table when
    the integers are dense, else by one sort."""
    x = np.asarray(x).ravel()
    lo, span = _dense_span(x)
    if span:
        return (np.flatnonzero(_presence(x, lo, span)) + lo).astype(x.dtype)
    s = np.sort(x)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _dense_span(x: np.ndarray) -> tuple[int, int]:
    """``(min, max − min + 1)`` of integer ``x`` when that range is at most 4 × its length
    (a table over it costs about what sorting ``x`` does in memory), else ``(0, 0)``."""
    if not np.issubdtype(x.dtype, np.integer) or len(x) == 0:
        return 0, 0
    lo, hi = int(x.min()), int(x.max())
    return (lo, hi - lo + 1) if hi - lo + 1 <= 4 * len(x) else (0, 0)


def _presence(x: np.ndarray, lo: int, span: int) -> np.ndarray:
    """``seen[v - lo]``: whether value ``v`` occurs in ``x`` (a dense range, see :func:`_dense_span`)."""
    seen = np.zeros(span, bool)
    seen[x - lo] = True
    return seen


def unique_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, inverse, first)``: the sorted distinct values ``u`` of ``x``, the position in ``u``
    of every element (``u[inverse] == x``) and, for every value, the index of one element of
    ``x`` holding it (not necessarily the first). Dense integers need no sort; others one
    unstable ``argsort`` instead of ``np.unique(..., return_index=True)``'s stable one plus a
    ``searchsorted``."""
    x = np.asarray(x).ravel()
    if len(x) == 0:
        return x.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, span = _dense_span(x)
    if span:  # dense integers (ids of a range): a presence table and its running count, no sort
        seen = _presence(x, lo, span)
        rank = np.cumsum(seen) - 1
        inverse = rank[x - lo]
        u = (np.flatnonzero(seen) + lo).astype(x.dtype)
        first = np.empty(len(u), np.int64)
        first[inverse] = np.arange(len(x), dtype=np.int64)
        return u, inverse, first
    order = np.argsort(x)
    s = x[order]
    new = np.empty(len(s), bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    inverse = np.empty(len(x), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse, order[new]


def lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values[i]`` for every query equal to ``keys[i]``: ``keys`` sorted and distinct integers,
    every query one of them (the caller's contract, as for ``values[np.searchsorted(keys, q)]``,
    which this equals). When the keys are dense (span at most 4 × their number) a direct table
    replaces the binary searches; otherwise it is that ``searchsorted``.

    >>> lookup(np.array([3, 4, 6]), np.array([30, 40, 60]), np.array([6, 3, 3])).tolist()
    [60, 30, 30]
    """
    keys, values, queries = np.asarray(keys), np.asarray(values), np.asarray(queries)
    lo, span = _dense_span(keys)
    if span:
        table = np.empty(span, values.dtype)
        table[keys - lo] = values
        return table[queries - lo]
    return values[np.searchsorted(keys, queries)]


def group_order(group: np.ndarray) -> np.ndarray:
    """The stable ``argsort`` of non-negative group numbers (rows of a group keep their order).
    Below 2¹⁶ groups the keys are sorted as uint16, which numpy radix-sorts (5-10× faster than
    its stable sort of int64, a timsort).

    >>> group_order(np.array([2, 0, 2, 1, 0])).tolist()
    [1, 4, 3, 0, 2]
    """
    g = np.asarray(group)
    if len(g) and g.min() >= 0 and g.max() < 1 << 16:
        g = g.astype(np.uint16)
    return np.argsort(g, kind="stable")


def pair_order(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """``np.lexsort((minor, major))`` for non-negative integer pairs that are distinct, by one
    unstable sort of ``major · span + minor`` when that fits in 63 bits (distinct keys make the
    order unique); otherwise the lexsort.

    >>> pair_order(np.array([1, 0, 1]), np.array([5, 9, 2])).tolist()
    [1, 2, 0]
    """
    major, minor = np.asarray(major, np.int64), np.asarray(minor, np.int64)
    if len(major) == 0:
        return np.zeros(0, np.int64)
    span = int(minor.max()) + 1
    if major.min() >= 0 and minor.min() >= 0 and (int(major.max()) + 1) * span < 1 << 63:
        return np.argsort(major * span + minor)
    return np.lexsort((minor, major))
