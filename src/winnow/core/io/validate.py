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
#: schemas deeper than 100 levels and a list costs two, so 40 keeps every kept row readable.
MAX_JSON_DEPTH = 40
#: lines with more opening brackets than this get the exact depth scan before any parser
#: sees them: pyarrow's JSON parser crashes (segfault) on lines nested ~100,000 deep. Lines
#: under it are at most this deep, which the parser handles; their nesting beyond
#: MAX_JSON_DEPTH is caught on the parsed table's schema instead.
SCAN_ABOVE = 1000


def lines_array(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> "_EvenSlots":
    """The lines ``buf[starts[i]:ends[i]]`` as a zero-copy Arrow string array, for
    :func:`invalid_utf8_rows` (not yet validated).

    Lines must be contiguous (``starts[i+1] == ends[i] + 1``, one separator byte, as
    ``_line_bounds`` gives them); the separators sit in odd slots between the lines.
    """
    n = len(starts)
    if n == 0:
        return _EvenSlots(pa.array([], pa.string()), 0)
    offs = np.empty(2 * n, dtype=np.int64)
    offs[0::2] = starts
    offs[1::2] = ends
    if len(buf) >= (1 << 31) - 1:
        arr = pa.LargeStringArray.from_buffers(2 * n - 1, pa.py_buffer(offs.tobytes()), pa.py_buffer(buf))
    else:
        arr = pa.StringArray.from_buffers(2 * n - 1, pa.py_buffer(offs.astype(np.int32).tobytes()), pa.py_buffer(buf))
    return _EvenSlots(arr, n)


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


def too_deep_lines(
    buf: bytes, starts: np.ndarray, ends: np.ndarray, *, limit: int = MAX_JSON_DEPTH, scan_above: int = SCAN_ABOVE
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, depth) of lines whose nesting exceeds ``limit``, among those with more than
    ``scan_above`` opening brackets (the only ones scanned exactly; ``depth`` is 0 elsewhere).

    >>> buf = b'{"a": [[[1]]]}\\n' + b"[" * 2000 + b"]" * 2000 + b"\\n"
    >>> mask, depth = too_deep_lines(buf, np.array([0, 15]), np.array([14, 4015]), scan_above=100)
    >>> mask.tolist(), depth.tolist()
    ([False, True], [0, 2000])
    """
    depth, scanned = _depths(buf, starts, ends, scan_above)
    depth = np.where(scanned, depth, 0)
    return scanned & (depth > limit), depth


def _line_of(pos: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.searchsorted(starts, pos, side="right") - 1


def json_depths(buf: bytes, starts: np.ndarray, ends: np.ndarray, *, at_least: int = 0) -> np.ndarray:
    """Maximum bracket nesting of each JSON line, ignoring brackets inside strings.

    Lines with at most ``at_least`` opening brackets in total cannot be deeper than that and
    are reported as their opening-bracket count (an upper bound) without the exact scan; the
    exact scan runs only over the bytes of the other lines. Everything is numpy over the
    bytes: brackets, quotes and backslashes are found with whole-buffer comparisons, escapes
    and string spans with searchsorted.
    """
    return _depths(buf, starts, ends, at_least)[0]


def _depths(buf: bytes, starts: np.ndarray, ends: np.ndarray, at_least: int) -> tuple[np.ndarray, np.ndarray]:
    """(depth or opening-bracket count, mask of the lines scanned exactly)."""
    n = len(starts)
    out = np.zeros(n, dtype=np.int64)
    scanned = np.zeros(n, dtype=bool)
    if n == 0:
        return out, scanned
    a = np.frombuffer(buf, dtype=np.uint8)
    opens = _positions(a, 0x7B, 0x5B)  # '{' and '[' (unordered)
    if not len(opens):
        return out, scanned
    n_open = np.bincount(_line_of(opens, starts), minlength=n)
    out[:] = n_open
    todo = np.flatnonzero(n_open > at_least)
    if not len(todo):
        return out, scanned
    scanned[todo] = True
    if len(todo) < n:  # copy out only the lines that could be deep
        lens = (ends[todo] - starts[todo]).astype(np.int64)
        sub = np.concatenate([a[s:e] for s, e in zip(starts[todo].tolist(), ends[todo].tolist())])
        sub_starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        out[todo] = _exact_depths(sub, sub_starts)
    else:
        out[:] = _exact_depths(a, np.asarray(starts))
    return out, scanned


def _exact_depths(a: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Exact string-aware nesting depth of lines starting at ``starts`` in bytes ``a``."""
    n = len(starts)
    quotes = np.flatnonzero(a == 0x22)
    bsl = np.flatnonzero(a == 0x5C)
    if len(quotes) and len(bsl):
        # a quote is escaped when preceded by an odd run of backslashes
        run_start = np.ones(len(bsl), dtype=bool)
        run_start[1:] = bsl[1:] != bsl[:-1] + 1
        rs = np.flatnonzero(run_start)
        re_ = np.append(rs[1:] - 1, len(bsl) - 1)
        ends_pos = bsl[re_]
        lengths = re_ - rs + 1
        k = np.minimum(np.searchsorted(ends_pos, quotes - 1), len(ends_pos) - 1)
        escaped = (ends_pos[k] == quotes - 1) & (lengths[k] % 2 == 1)
        quotes = quotes[~escaped]
    op = _positions(a, 0x7B, 0x5B)
    cl = _positions(a, 0x7D, 0x5D)
    br = np.concatenate([op, cl])
    order = np.argsort(br, kind="stable")
    br = br[order]
    d = np.concatenate([np.ones(len(op), np.int64), -np.ones(len(cl), np.int64)])[order]
    line = _line_of(br, starts)
    first_q = np.searchsorted(quotes, starts)  # index of the first quote of each line
    inside = (np.searchsorted(quotes, br) - first_q[line]) % 2 == 1
    br, d, line = br[~inside], d[~inside], line[~inside]
    depth = np.zeros(n, dtype=np.int64)
    if not len(br):
        return depth
    cs = np.cumsum(d)
    # depth within a line = running sum minus the sum before the line's first event
    first_ev = np.searchsorted(line, np.arange(n))
    base = np.where(first_ev > 0, cs[np.maximum(first_ev - 1, 0)], 0)
    np.maximum.at(depth, line, cs - base[line])
    return depth


def _positions(a: np.ndarray, x: int, y: int) -> np.ndarray:
    """Positions of bytes ``x`` and of bytes ``y`` (each group sorted, not merged): two
    compare + nonzero passes are 2x cheaper than one pass over ``(a == x) | (a == y)``."""
    return np.concatenate([np.flatnonzero(a == x), np.flatnonzero(a == y)])
