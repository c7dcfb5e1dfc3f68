"""Vectorised input checks: UTF-8 validity and JSON nesting depth, per line or per row.

These run on raw byte buffers and Arrow arrays without per-row Python in the common
(all-good) case: one Arrow UTF-8 validation of a whole block, one numpy pass for brackets.
Only when something is wrong do they narrow down to the offending rows (bisection).

Example:
    >>> import numpy as np
    >>> buf = b'{"a": 1}\\n{"b": "caf\\xe9"}\\n{"c": [[[]]]}\\n'
    >>> starts, ends = np.array([0, 9, 23]), np.array([8, 22, 36])
    >>> invalid_utf8_rows(lines_array(buf, starts, ends)).tolist()
    [False, True, False]
    >>> json_depths(buf, starts, ends).tolist()
    [1, 1, 4]
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

#: deepest JSON nesting kept (the line's own object counts as 1). Parquet readers refuse
#: schemas deeper than 100 levels and a list costs two, so 40 keeps every kept row readable;
#: pyarrow's JSON parser crashes (segfault) on lines nested ~100,000 deep.
MAX_JSON_DEPTH = 40


def lines_array(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A zero-copy Arrow string array over ``buf[starts[i]:ends[i]]`` (not yet validated).

    Lines must be contiguous (``starts[i+1] == ends[i] + 1``, one separator byte); the
    separator is excluded from each line.
    """
    n = len(starts)
    if n == 0:
        return pa.array([], pa.string())
    big = len(buf) >= (1 << 31) - 1
    offs = np.empty(2 * n, dtype=np.int64)
    offs[0::2] = starts
    offs[1::2] = ends
    # a LargeString with 2n slots: even slots are the lines, odd slots the separators
    arr = pa.LargeStringArray.from_buffers(2 * n - 1, pa.py_buffer(np.ascontiguousarray(offs[: 2 * n]).tobytes()),
                                           pa.py_buffer(buf)) if big else \
        pa.StringArray.from_buffers(2 * n - 1, pa.py_buffer(offs.astype(np.int32).tobytes()), pa.py_buffer(buf))
    return _EvenSlots(arr, n)  # type: ignore[return-value]


class _EvenSlots:
    """The even slots of an interleaved (line, separator) array, validated as one."""

    def __init__(self, arr: pa.Array, n: int):
        self.arr = arr
        self.n = n

    def __len__(self) -> int:
        return self.n

    def valid(self, a: int, b: int) -> bool:
        """Whether lines a..b-1 are all valid UTF-8 (one Arrow validation)."""
        try:
            self.arr.slice(2 * a, 2 * (b - a) - 1).validate(full=True)
            return True
        except pa.ArrowInvalid:
            return False


def invalid_utf8_rows(arr) -> np.ndarray:
    """Boolean mask of rows that are not valid UTF-8.

    ``arr`` is a string or binary Arrow array (or :func:`lines_array`). The whole array is
    validated at once (Arrow's SIMD validator); only if that fails is it bisected down to the
    bad rows, so k bad rows cost O(k log n) validations.
    """
    if isinstance(arr, pa.ChunkedArray):
        parts = [invalid_utf8_rows(c) for c in arr.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, bool)
    if not isinstance(arr, _EvenSlots):
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            arr = arr.view(pa.string() if pa.types.is_binary(arr.type) else pa.large_string())
        arr = _Plain(arr)
    n = len(arr)
    bad = np.zeros(n, dtype=bool)
    if n == 0 or arr.valid(0, n):
        return bad
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        if b - a == 1:
            bad[a] = True
            continue
        m = (a + b) // 2
        for lo, hi in ((a, m), (m, b)):
            if not arr.valid(lo, hi):
                stack.append((lo, hi))
    return bad


class _Plain:
    def __init__(self, arr: pa.Array):
        self.arr = arr

    def __len__(self) -> int:
        return len(self.arr)

    def valid(self, a: int, b: int) -> bool:
        try:
            self.arr.slice(a, b - a).validate(full=True)
            return True
        except pa.ArrowInvalid:
            return False


def _line_of(pos: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.searchsorted(starts, pos, side="right") - 1


def json_depths(buf: bytes, starts: np.ndarray, ends: np.ndarray, *, at_least: int = 0) -> np.ndarray:
    """Maximum bracket nesting of each JSON line, ignoring brackets inside strings.

    Lines with at most ``at_least`` opening brackets in total cannot be deeper than that and
    are reported as their opening-bracket count (an upper bound) without the exact scan.
    Everything is numpy over the byte buffer: brackets, quotes and backslashes are found
    with whole-buffer comparisons, escapes and string spans with searchsorted.
    """
    n = len(starts)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    a = np.frombuffer(buf, dtype=np.uint8)
    folded = a | 0x20  # '[' -> '{', ']' -> '}'
    opens = np.flatnonzero(folded == 0x7B)
    if not len(opens):
        return out
    open_line = _line_of(opens, starts)
    n_open = np.bincount(open_line, minlength=n)
    out[:] = n_open
    todo = np.flatnonzero(n_open > at_least)
    if not len(todo):
        return out
    # exact scan, only over the lines that could be deep
    closes = np.flatnonzero(folded == 0x7D)
    quotes = np.flatnonzero(a == 0x22)
    if len(quotes):
        bsl = np.flatnonzero(a == 0x5C)
        if len(bsl):
            # a quote is escaped when preceded by an odd run of backslashes
            run_start = np.ones(len(bsl), dtype=bool)
            run_start[1:] = bsl[1:] != bsl[:-1] + 1
            rs = np.flatnonzero(run_start)
            re_ = np.append(rs[1:] - 1, len(bsl) - 1)
            ends_pos = bsl[re_]
            lengths = re_ - rs + 1
            k = np.searchsorted(ends_pos, quotes - 1)
            k = np.minimum(k, len(ends_pos) - 1)
            escaped = (ends_pos[k] == quotes - 1) & (lengths[k] % 2 == 1)
            quotes = quotes[~escaped]
    q_line = _line_of(quotes, starts)
    first_q = np.searchsorted(q_line, np.arange(n))  # index of the first real quote of each line

    def outside_strings(pos):
        line = _line_of(pos, starts)
        before = np.searchsorted(quotes, pos) - first_q[line]
        return pos[before % 2 == 0], line[before % 2 == 0]

    op, ol = outside_strings(opens)
    cp, cl = outside_strings(closes)
    ev_pos = np.concatenate([op, cp])
    ev_line = np.concatenate([ol, cl])
    ev_d = np.concatenate([np.ones(len(op), np.int64), -np.ones(len(cp), np.int64)])
    order = np.argsort(ev_pos, kind="stable")
    ev_line, ev_d = ev_line[order], ev_d[order]
    cs = np.cumsum(ev_d)
    # depth within a line = running sum minus the sum before the line's first event
    first_ev = np.searchsorted(ev_line, np.arange(n))
    base = np.where(first_ev > 0, cs[np.maximum(first_ev - 1, 0)], 0)
    rel = cs - base[ev_line]
    depth = np.zeros(n, dtype=np.int64)
    np.maximum.at(depth, ev_line, rel)
    out[todo] = depth[todo]
    return out
