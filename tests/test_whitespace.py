"""Whitespace splitting that does not depend on the bytes after an array's data (pyarrow 26's
``utf8_split_whitespace`` reads one byte past a string that ends in whitespace; a Ray worker got
another word list than a local worker for the same document)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from winnow.core.text import spacy_words
from winnow.core.text.whitespace import count_words, split_whitespace, with_readable_end
from winnow.curate.filters.gopher import GopherRepetition

TEXTS = ["ab cd\n", "x", 'to both "c" and "d".)\n', "tail \u2003", "", "  ", "é ", "(Note that x.)\n"]
TAILS = [b"", b"\x00", b"\xff", b"\x80", b"\xc3", b"\xe2\x80", b" ", b"a"]


def _with_tail(texts: list[str], tail: bytes, large: bool = False) -> pa.Array:
    """The strings of ``texts`` in one array whose data buffer goes on with ``tail`` after the
    last string (what a buffer from another process or a file may hold)."""
    raw = [(t or "").encode() for t in texts]
    offs = np.zeros(len(raw) + 1, np.int64 if large else np.int32)
    np.cumsum([len(r) for r in raw], out=offs[1:])
    typ = pa.large_string() if large else pa.string()
    valid = None
    if any(t is None for t in texts):
        valid = pa.py_buffer(np.packbits([t is not None for t in texts], bitorder="little").tobytes())
    bufs = [valid, pa.py_buffer(offs.tobytes()), pa.py_buffer(b"".join(raw) + tail)]
    return pa.Array.from_buffers(typ, len(raw), bufs)


def _words(texts: list[str]) -> list[list[str]]:
    """The non-empty pieces: runs of Unicode whitespace separate them."""
    import re

    return [[w for w in re.split(r"\s+", t) if w] for t in texts]


@pytest.mark.parametrize("last", range(len(TEXTS)))
@pytest.mark.parametrize("large", [False, True])
def test_split_whitespace_ignores_what_follows_the_data(last, large):
    texts = TEXTS[:last] + TEXTS[last + 1 :] + [TEXTS[last]]  # each text once at the end
    runs = [split_whitespace(_with_tail(texts, tail, large)).to_pylist() for tail in TAILS]
    assert all(r == runs[0] for r in runs)  # the same pieces whatever follows the data
    # Arrow's pieces: an empty one after trailing whitespace; the words themselves
    assert [[w for w in r if w] for r in runs[0]] == _words(texts)
    assert [r[-1] == "" for r in runs[0]] == [t == "" or t[-1].isspace() for t in texts]


@pytest.mark.parametrize("tail", [b"\xff", b"\xc3"])
def test_spacy_words_and_gopher_do_not_depend_on_the_buffer(tail):
    text = 'Objects, values and types.  (Note that "c = d = []" assigns the same object\nto both "c" and "d".)\n'
    texts = ["Type objects represent the various object types.", text * 3]
    clean = pa.array(texts)
    hostile = _with_tail(texts, tail)
    words = spacy_words.words(clean).to_pylist()
    assert spacy_words.words(hostile).to_pylist() == words
    assert words[1][-5:] == ['"', "d", '"', ".", ")"]
    g = GopherRepetition()
    a = g.annotate(pa.table({"text": clean}))
    b = g.annotate(pa.table({"text": hostile}))
    assert a.equals(b)


def test_slices_chunks_nulls_and_the_copy_only_when_needed():
    arr = _with_tail(["a b ", "c d", "e "], b"\xff")
    fixed = with_readable_end(arr)
    assert fixed is not arr and fixed.to_pylist() == arr.to_pylist()
    assert with_readable_end(fixed) is fixed  # an ASCII byte follows now: no second copy
    inner = arr.slice(0, 2)  # the byte after "c d" is the next string's first byte
    assert with_readable_end(inner) is inner
    assert split_whitespace(inner).to_pylist() == [["a", "b", ""], ["c", "d"]]
    assert split_whitespace(arr.slice(1, 2)).to_pylist() == [["c", "d"], ["e", ""]]
    chunked = pa.chunked_array([_with_tail(["x "], b"\xff"), _with_tail([None, "y\n"], b"\xc3")])
    assert split_whitespace(chunked).to_pylist() == [["x", ""], None, ["y", ""]]
    assert split_whitespace(pa.array([], pa.string())).to_pylist() == []


def test_count_words():
    arr = _with_tail(["a b\n", "", None, " \u2003 ", "x  y z", "é"], b"\xff")
    assert count_words(arr).tolist() == [2, 0, 0, 0, 3, 1]
    assert count_words(pa.chunked_array([arr, arr])).tolist() == [2, 0, 0, 0, 3, 1] * 2
