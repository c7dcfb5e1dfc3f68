"""Whitespace splitting of Arrow string arrays that gives the same pieces for the same text.

pyarrow 26's ``utf8_split_whitespace`` reads one byte past the end of a string that ends in
whitespace (after a separator it decodes the next character before checking the end). Within an
array that byte is the next string's first byte, so only the last string is affected: what lies
after the data buffer decides whether its trailing whitespace is split off (``"cd\\n"`` comes back
as ``["cd", ""]`` or as ``["cd\\n"]``). A Ray worker fed the same batch as a local worker gave
another word list for one document (``tests/test_ray_cluster.py`` caught it).

:func:`split_whitespace` makes that byte part of the array: when the byte after the last string
is not inside the data buffer, or is not ASCII, the data is copied once with a NUL byte after
it (a NUL ends the separator the way the end of the string should). The result is what
``utf8_split_whitespace`` gives on a correct buffer.

    >>> import pyarrow as pa
    >>> split_whitespace(pa.array(["ab cd\\n", "e"])).to_pylist()
    [['ab', 'cd', ''], ['e']]
    >>> count_words(pa.array([" a  b ", "", "\\n", "c"])).tolist()
    [2, 0, 0, 1]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def with_readable_end(arr: pa.Array) -> pa.Array:
    """``arr`` (``string`` or ``large_string``) whose data buffer holds an ASCII byte after its
    last string (the same array when it already does; else its data copied once, NUL-ended)."""
    if len(arr) == 0:
        return arr
    bufs = arr.buffers()
    otype = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    end = int(np.frombuffer(bufs[1], otype, count=1, offset=(arr.offset + len(arr)) * otype().itemsize)[0])
    data = bufs[2]
    if data is not None and data.size > end and np.frombuffer(data, np.uint8, count=1, offset=end)[0] < 0x80:
        return arr
    fixed = np.zeros(end + 1, np.uint8)
    if end:
        fixed[:end] = np.frombuffer(data, np.uint8, count=end)
    return pa.Array.from_buffers(arr.type, len(arr), [bufs[0], bufs[1], pa.py_buffer(fixed)], offset=arr.offset)


def _string_array(text) -> pa.Array:
    """One ``string`` or ``large_string`` array from a (chunked) text column."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        text = pc.cast(text, pa.string())
    return text


def split_whitespace(text) -> pa.Array:
    """``pc.utf8_split_whitespace`` without its read past the end (see the module doc): a
    ``list<string>`` per text, with Arrow's pieces (an empty piece after trailing whitespace)."""
    return pc.utf8_split_whitespace(with_readable_end(_string_array(text)))


def count_words(text) -> np.ndarray:
    """Non-empty whitespace-separated pieces per text (int64; null and empty texts count 0)."""
    trimmed = pc.fill_null(pc.utf8_trim_whitespace(_string_array(text)), "")  # no trailing separator left
    n = pc.list_value_length(pc.utf8_split_whitespace(trimmed)).to_numpy(zero_copy_only=False).astype(np.int64)
    n[pc.equal(trimmed, "").to_numpy(zero_copy_only=False)] = 0  # "" splits into [""]
    return n
