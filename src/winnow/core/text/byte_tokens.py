"""Byte-level tokenisers and polynomial n-gram hashing over Arrow string arrays (numpy only, no
per-token Python): the features of quality models and the n-grams of decontamination.

A batch of documents is one UTF-8 byte buffer plus offsets (that is how Arrow stores a string
array). Tokens are maximal runs of "word" bytes, found from the edges of a separator mask
(``bytes.translate`` does the per-byte table lookup). Each token's bytes are read 8 at a time as
unaligned uint64 words (a stride-1 view of the buffer) and chained through murmur3's ``fmix64``
(:func:`token_hashes`). Word n-grams are polynomial hashes over the sequence of token hashes,
computed for every window at once from prefix sums:

    T[i] = sum_{j<i} h_j * Q^j                   (mod 2^64, numpy's wrapping uint64 arithmetic)
    g(window [s, s+n)) = (T[s+n] - T[s]) * Q^-s  (Q odd, so Q^-1 exists mod 2^64)

so a window's hash does not depend on where it sits. Byte n-grams inside tokens (fastText's
subwords) use the same prefix trick over the bytes. Two tokenisers:

* ``"whitespace"`` (fastText's): tokens are runs of non-whitespace bytes, punctuation kept;
* ``"words"`` (decontamination's byte words): tokens are runs of ASCII letters, digits,
  ``_`` and non-ASCII characters; punctuation, whitespace, NBSP and the Unicode "General
  Punctuation" block (curly quotes, dashes, ellipsis) separate them. Unlike dedup's
  :mod:`~winnow.core.text.normalized_words` there is no NFKC, no Unicode lower-casing and no digit
  folding, so byte offsets map back onto the original text (decontamination reports spans).

Lowercasing is ASCII-only and done on the bytes, so byte offsets of tokens are offsets into the
original text.

Example:
    >>> import pyarrow as pa
    >>> tok = tokenize(pa.array(["Hello, world!", "hello world"]), mode="words")
    >>> tok.doc.tolist(), tok.start.tolist(), tok.end.tolist()
    ([0, 0, 1, 1], [0, 7, 0, 6], [5, 12, 5, 11])
    >>> bool(tok.hash[0] == tok.hash[2]) and bool(tok.hash[1] == tok.hash[3])
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from winnow.core.text.hashing import CHAR_NGRAM_SALT, FNV_PRIME, GOLDEN, MASK64, TOKEN_SEED
from winnow.core.text.hashing import murmur_fmix64 as fmix64

_P = FNV_PRIME  # byte-level base (odd, so invertible mod 2^64)
_PINV = np.uint64(pow(int(FNV_PRIME), -1, 1 << 64))
_Q = GOLDEN  # token-level base (odd)
_QINV = np.uint64(pow(int(GOLDEN), -1, 1 << 64))
_MASK8 = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # low k bytes

Mode = Literal["whitespace", "words"]

# byte classes: True = separator
_SEP_WS = np.zeros(256, dtype=bool)
_SEP_WS[:33] = True  # controls + space
_SEP_WS[127] = True
_SEP_WORDS = np.ones(256, dtype=bool)
for _lo, _hi in ((48, 57), (65, 90), (97, 122)):
    _SEP_WORDS[_lo : _hi + 1] = False
_SEP_WORDS[ord("_")] = False
_SEP_WORDS[128:] = False  # UTF-8 bytes of non-ASCII characters are word bytes...
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] += 32

_LOWER_T = _LOWER.tobytes()
_SEP_WS_T = _SEP_WS.astype(np.uint8).tobytes()
_SEP_WORDS_T = _SEP_WORDS.astype(np.uint8).tobytes()

_POW_CACHE: dict[str, np.ndarray] = {}


def _powers(base: np.uint64, inv: np.uint64, n: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """``base^i`` and ``base^-i`` for i < n (cached and grown geometrically)."""
    have = _POW_CACHE.get(key)
    if have is None or have.shape[1] < n:
        m = max(n, 1 << 16, 0 if have is None else 2 * have.shape[1])
        with np.errstate(over="ignore"):
            fw = np.full(m, base, dtype=np.uint64)
            fw[0] = 1
            bw = np.full(m, inv, dtype=np.uint64)
            bw[0] = 1
            have = np.stack([np.cumprod(fw, dtype=np.uint64), np.cumprod(bw, dtype=np.uint64)])
        if m <= (4 << 20):
            _POW_CACHE[key] = have
    return have[0, :n], have[1, :n]


def _prefix(raw: bytes, lowercase: bool) -> np.ndarray:
    """``S[i] = sum_{j<i} b_j P^j`` (mod 2^64) over the (lowercased) bytes. Byte 0 never occurs
    inside a token (it is a separator in both modes), so no +1 offset is needed."""
    nb = len(raw)
    b = np.frombuffer(raw.translate(_LOWER_T) if lowercase else raw, dtype=np.uint8)
    pw, _ = _powers(_P, _PINV, nb + 1, "bytes")
    S = np.empty(nb + 1, dtype=np.uint64)
    S[0] = 0
    with np.errstate(over="ignore"):
        np.cumsum(np.multiply(b, pw[:nb], dtype=np.uint64), out=S[1:])
    return S


def token_hashes(raw: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hash of each byte range ``raw[starts[i]:ends[i]]``, vectorised over ranges.

    The buffer is viewed as unaligned little-endian uint64 words at every byte offset (stride 1),
    so each token's bytes are read 8 at a time with one gather; words are chained through
    murmur3's ``fmix64`` and the length is mixed in last.
    """
    nb = len(raw)
    buf = raw + bytes(8)
    U = np.ndarray(shape=(nb + 1,), dtype="<u8", buffer=buf, strides=(1,))
    L = (ends - starts).astype(np.int64)
    with np.errstate(over="ignore"):
        h = U[starts] & _MASK8[np.minimum(L, 8)]
        h ^= TOKEN_SEED
        sel = np.flatnonzero(L > 8)
        k = 1
        while len(sel):
            rem = np.minimum(L[sel] - 8 * k, 8).astype(np.uint64)
            w = U[starts[sel] + 8 * k] & (MASK64 >> (np.uint64(64) - np.uint64(8) * rem))
            h[sel] = fmix64(h[sel]) ^ w
            k += 1
            sel = sel[L[sel] > 8 * k]
        return fmix64(h ^ (L.astype(np.uint64) * _Q))


@dataclass
class Tokens:
    """Tokens of a batch of documents, flattened in document order.

    Attributes:
        n_docs: number of documents.
        doc: document index of each token (int64).
        start, end: byte offsets of each token inside its document (int64).
        hash: 64-bit hash of each (lowercased) token (uint64).
        counts: tokens per document (int64, length ``n_docs``).
    """

    n_docs: int
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    hash: np.ndarray
    counts: np.ndarray

    @property
    def doc_offsets(self) -> np.ndarray:
        """Index of each document's first token (length ``n_docs + 1``)."""
        out = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(self.counts, out=out[1:])
        return out


def string_buffers(texts) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, offsets) of a string array without copying the text; nulls are empty.
    Binary arrays give their bytes as they are."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.string())
    t = texts.type
    if not (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
    ):
        texts = pc.cast(texts, pa.string())  # null or dictionary columns
    odt = np.int64 if pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type) else np.int32
    if texts.null_count:
        texts = pc.fill_null(texts, pa.scalar("", pa.string()).cast(texts.type))
    n = len(texts)
    bufs = texts.buffers()
    offsets = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=texts.offset * np.dtype(odt).itemsize)
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def tokenize(texts, *, mode: Mode = "whitespace", lowercase: bool = True) -> Tokens:
    """Tokenise and hash a batch of documents (see the module docstring).

    Args:
        texts: a pyarrow string array (or chunked array, or a list of str).
        mode: ``"whitespace"`` (fastText-like) or ``"words"`` (normalised words).
        lowercase: fold ASCII letters to lower case before hashing.
    """
    data, offsets = string_buffers(texts)
    return tokenize_buffer(data, offsets, mode=mode, lowercase=lowercase)


def tokenize_buffer(
    data: np.ndarray, offsets: np.ndarray, *, mode: Mode = "whitespace", lowercase: bool = True
) -> Tokens:
    """:func:`tokenize` on a raw UTF-8 buffer and int64 document offsets (``offsets[0] == 0``)."""
    n_docs = len(offsets) - 1
    nb = len(data)
    if mode == "whitespace":
        sep_tab = _SEP_WS_T
    elif mode == "words":
        sep_tab = _SEP_WORDS_T
    else:
        raise ValueError(f"mode must be 'whitespace' or 'words', got {mode!r}")
    if nb == 0:
        z = np.zeros(0, np.int64)
        return Tokens(n_docs, z, z, z, np.zeros(0, np.uint64), np.zeros(n_docs, np.int64))
    raw = data.tobytes()
    sep = np.frombuffer(raw.translate(sep_tab), dtype=bool)  # bytes.translate: a fast table lookup
    if mode == "words":
        sep = sep.copy()
    if mode == "words":
        # NBSP (C2 A0) and U+2000..U+206F (E2 80|81 xx): treat all their bytes as separators
        e2 = np.flatnonzero(data[:-2] == 0xE2)
        if len(e2):
            e2 = e2[(data[e2 + 1] == 0x80) | (data[e2 + 1] == 0x81)]
            sep[e2] = sep[e2 + 1] = sep[e2 + 2] = True
        c2 = np.flatnonzero(data[:-1] == 0xC2)
        if len(c2):
            c2 = c2[data[c2 + 1] == 0xA0]
            sep[c2] = sep[c2 + 1] = True
    # token boundaries: rising/falling edges of the word mask, split where a token would run
    # across a document boundary
    edge = np.diff(sep.view(np.int8), prepend=np.int8(1), append=np.int8(1))
    starts = np.flatnonzero(edge == -1)
    ends = np.flatnonzero(edge == 1)
    del edge
    inner = offsets[1:-1]
    inner = np.unique(inner[(inner > 0) & (inner < nb)])
    if len(inner):
        cross = inner[~sep[inner - 1] & ~sep[inner]]
        if len(cross):
            starts = np.insert(starts, np.searchsorted(starts, cross), cross)
            ends = np.insert(ends, np.searchsorted(ends, cross), cross)
    h = token_hashes(raw.translate(_LOWER_T) if lowercase else raw, starts, ends)
    first = np.searchsorted(starts, offsets)  # first token of each doc (n_docs searches)
    counts = np.diff(first).astype(np.int64)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    base = np.repeat(offsets[:-1], counts)
    return Tokens(n_docs, doc, starts - base, ends - base, h, counts)


def ngram_hashes(tok: Tokens, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every window of ``n`` consecutive tokens inside one document.

    Returns ``(first_token_index, hash)``: the window ``[i, i + n)`` of ``tok`` for each
    returned ``i``. ``n == 1`` gives the token hashes themselves.

    Example:
        >>> import pyarrow as pa
        >>> t = tokenize(pa.array(["a b c", "b c"]), mode="words")
        >>> i, h = ngram_hashes(t, 2)
        >>> i.tolist(), bool(h[1] == h[2])
        ([0, 1, 3], True)
    """
    m = len(tok.hash)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n == 1:
        return np.arange(m, dtype=np.int64), tok.hash
    if m < n:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    idx = np.arange(m - n + 1, dtype=np.int64)
    ok = tok.doc[idx] == tok.doc[idx + n - 1]
    idx = idx[ok]
    qw, iqw = _powers(_Q, _QINV, m + 1, "tokens")
    with np.errstate(over="ignore"):
        T = np.empty(m + 1, dtype=np.uint64)
        T[0] = 0
        np.cumsum(tok.hash * qw[:m], out=T[1:])
        h = fmix64((T[idx + n] - T[idx]) * iqw[idx] + np.uint64(n))
    return idx, h


def char_ngram_hashes(
    data: np.ndarray, offsets: np.ndarray, tok: Tokens, n: int, lowercase: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every byte n-gram inside a token (fastText-style subwords, on bytes).

    Returns ``(doc_index, hash)`` per n-gram. Tokens shorter than ``n`` give none.
    """
    if len(tok.hash) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    base = offsets[tok.doc]
    gs = tok.start + base
    ge = tok.end + base
    ln = ge - gs - n + 1  # n-grams per token
    keep = ln > 0
    if not keep.any():
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    gs, ln, d = gs[keep], ln[keep], tok.doc[keep]
    tot = int(ln.sum())
    first = np.zeros(len(ln), dtype=np.int64)
    np.cumsum(ln[:-1], out=first[1:])
    pos = np.arange(tot, dtype=np.int64) - np.repeat(first - gs, ln)
    docs = np.repeat(d, ln)
    nb = len(data)
    S = _prefix(data.tobytes(), lowercase)
    _, ipw = _powers(_P, _PINV, nb + 1, "bytes")
    with np.errstate(over="ignore"):
        h = fmix64(((S[pos + n] - S[pos]) * ipw[pos]) ^ np.uint64(CHAR_NGRAM_SALT + n))
    return docs, h


def iter_chunks(offsets: np.ndarray, max_bytes: int = 2 << 20):
    """Document ranges ``[a, b)`` whose text spans at most ``max_bytes`` (a larger document gets
    its own range): tokenising in chunks bounds memory and keeps arrays in cache."""
    n = len(offsets) - 1
    a = 0
    while a < n:
        b = int(np.searchsorted(offsets, offsets[a] + max_bytes, side="right")) - 1
        b = min(max(b, a + 1), n)
        yield a, b
        a = b
