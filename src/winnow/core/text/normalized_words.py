"""Normalised words and shingle hashing of the dedup steps (FineWeb-style normalisation), vectorised.

Everything here works on a whole Arrow batch at once: normalisation with Arrow compute,
tokens as one flat array with per-document offsets, 64-bit token hashes (xxh3 over the
batch's *unique* tokens only), n-gram shingle hashes combined in numpy over the flat array.

Example:
    >>> import pyarrow as pa
    >>> sh, counts = shingle_hashes(pa.array(["a b c d e f", "a b c d e f", ""]), ngram=5)
    >>> counts.tolist()
    [2, 2, 0]
    >>> bool((sh[:2] == sh[2:4]).all())
    True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from winnow.core.text.byte_tokens import string_buffers
from winnow.core.text.hashing import GOLDEN, SHINGLE_PAD, splitmix64


def normalize(
    text: pa.Array | pa.ChunkedArray,
    *,
    lowercase: bool = True,
    punctuation: bool = True,
    digits: bool = True,
    whitespace: bool = True,
    unicode_form: str | None = "NFKC",
) -> pa.Array:
    """Vectorised text normalisation (Arrow compute).

    Args:
        lowercase: Unicode lower-casing.
        punctuation: replace punctuation and symbols (``\\p{P}``, ``\\p{S}``) by a space.
        digits: map every run of digits to ``0`` (FineWeb's number normalisation).
        whitespace: collapse whitespace runs to one space and strip the ends.
        unicode_form: ``NFC``/``NFKC``/``NFD``/``NFKD`` or ``None``.
    """
    t = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if t.type != pa.string() and t.type != pa.large_string():
        t = pc.cast(t, pa.string())
    t = _no_nulls(t)
    if unicode_form:
        non_ascii = pc.invert(pc.string_is_ascii(t))
        k = pc.sum(non_ascii).as_py() or 0
        if k == len(t):
            t = pc.utf8_normalize(t, unicode_form)
        elif k:  # ASCII text is already normalised: only touch the other rows
            t = pc.replace_with_mask(t, non_ascii, pc.utf8_normalize(pc.filter(t, non_ascii), unicode_form))
    if lowercase:
        t = pc.utf8_lower(t)
    if punctuation:
        t = pc.replace_substring_regex(t, r"[\p{P}\p{S}]+", " ")
    if digits:
        t = pc.replace_substring_regex(t, r"\d+", "0")
    if whitespace:
        t = pc.utf8_trim_whitespace(pc.replace_substring_regex(t, r"\s+", " "))
    return t


def _no_nulls(values):
    """``values`` with nulls replaced by ``""`` (no copy when there are none)."""
    if values.null_count == 0:
        return values
    return pc.fill_null(values, pa.scalar("", values.type))


def _string_slices(values: pa.Array):
    """(memoryview of the UTF-8 data, start offsets, end offsets) of a string array."""
    data, offs = string_buffers(values)
    return memoryview(data), offs[:-1].tolist(), offs[1:].tolist()


def hash_strings(values: pa.Array, seed: int = 0) -> np.ndarray:
    """xxh3-64 of the UTF-8 bytes of each string (nulls hash as ``""``)."""
    h = xxhash.xxh3_64_intdigest
    data, a, b = _string_slices(values)
    return np.fromiter((h(data[i:j], seed) for i, j in zip(a, b)), dtype=np.uint64, count=len(a))


def hash_strings_128(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-128 of the UTF-8 bytes of each string, as (high, low) uint64 arrays."""
    h = xxhash.xxh3_128_digest
    data, a, b = _string_slices(values)
    raw = b"".join(h(data[i:j]) for i, j in zip(a, b))
    arr = np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return arr[:, 0].copy(), arr[:, 1].copy()


def tokens(norm: pa.Array, *, ascii: bool = False) -> tuple[pa.Array, np.ndarray]:
    """Split text on whitespace runs: (flat non-empty tokens, per-document offsets of length n+1).

    ``ascii=True`` splits on ASCII whitespace only (faster; tokens may still contain Unicode
    spaces — :func:`word_tokens` re-splits its distinct tokens with the Unicode rule)."""
    # (trimmed first, so no text ends in a separator: pyarrow's read past the end cannot happen,
    # see winnow.core.text.whitespace)
    lists = pc.ascii_split_whitespace(norm) if ascii else pc.utf8_split_whitespace(pc.utf8_trim_whitespace(norm))
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    base = offsets[0]
    flat = lists.values.slice(base, offsets[-1] - base)
    offsets = offsets - base
    empty = np.asarray(pc.equal(pc.binary_length(flat), 0).to_numpy(zero_copy_only=False), bool)
    if empty.any():  # "" documents split into [""], and untrimmed ends into "" tokens
        keep = ~empty
        flat = flat.filter(pa.array(keep))
        kc = np.r_[0, np.cumsum(keep)]
        offsets = kc[offsets]
    return flat, offsets


def token_hashes(flat: pa.Array, seed: int = 0) -> np.ndarray:
    """64-bit hash of every token; only the batch's distinct tokens are hashed."""
    if len(flat) == 0:
        return np.zeros(0, np.uint64)
    enc = pc.dictionary_encode(flat)
    uniq = hash_strings(enc.dictionary, seed)
    idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return uniq[idx]


_PUNCT = r"[\p{P}\p{S}]+"


def _raw_to_words(raw_vocab: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """Expand distinct raw tokens into normalised words (0, 1 or more each).

    Returns ``(nsub, first, widx, vocab)``: raw token ``r`` becomes the words
    ``vocab[widx[first[r]:first[r] + nsub[r]]]``."""
    pieces = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.replace_substring_regex(raw_vocab, _PUNCT, " ")))
    words = pieces.values
    parent = np.asarray(pc.list_parent_indices(pieces).to_numpy(zero_copy_only=False), np.int64)
    keep = np.asarray(pc.greater(pc.binary_length(words), 0).to_numpy(zero_copy_only=False), bool)
    if not keep.all():
        words = words.filter(pa.array(keep))
        parent = parent[keep]
    nsub = np.bincount(parent, minlength=len(raw_vocab))
    first = np.zeros(len(nsub), np.int64)
    np.cumsum(nsub[:-1], out=first[1:])
    wenc = pc.dictionary_encode(words)
    widx = np.asarray(wenc.indices.to_numpy(zero_copy_only=False), np.int64)
    vocab = normalize(
        wenc.dictionary, lowercase=True, punctuation=False, digits=True, whitespace=False, unicode_form="NFKC"
    )
    return nsub, first, widx, vocab


def word_tokens(text) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Normalised word tokens of every document, computed on the batch's distinct tokens.

    Equivalent to: punctuation and symbols (``\\p{P}``, ``\\p{S}``) become spaces, the text
    is split on whitespace, each token is NFKC-normalised, lower-cased and has digit runs
    mapped to ``0``. Only the whitespace split touches the full text; every regex and Unicode
    operation runs on the *distinct* raw tokens (a raw token such as ``"foo.bar"`` expands to
    several words). Returns (token → index into vocabulary, normalised vocabulary, offsets n+1).
    This is the all-Arrow reference; :func:`word_token_hashes` gives the same words faster.
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    raw, offsets = tokens(_no_nulls(text), ascii=True)
    if len(raw) == 0:
        return np.zeros(0, np.int64), pa.array([], pa.string()), offsets
    enc = pc.dictionary_encode(raw)
    ridx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
    nsub, first, widx, vocab = _raw_to_words(enc.dictionary)
    if (nsub == 1).all():  # no raw token splits or vanishes: a plain gather
        return widx[first[ridx]], vocab, offsets
    # expand every raw token occurrence into its words
    per = nsub[ridx]
    pos = concat_ranges(first[ridx], per)
    new_off = np.r_[0, np.cumsum(per)][offsets]
    return widx[pos], vocab, new_off


def concat_ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for every (s, l), vectorised."""
    lens = np.asarray(lens, np.int64)
    tot = int(lens.sum())
    if tot == 0:
        return np.zeros(0, np.int64)
    first = np.zeros(len(lens), np.int64)
    np.cumsum(lens[:-1], out=first[1:])
    return np.repeat(np.asarray(starts, np.int64) - first, lens) + np.arange(tot, dtype=np.int64)


def hash_words(vocab: pa.Array, seed: int = 0) -> np.ndarray:
    """64-bit hash of each (already normalised) word — the hash :func:`word_token_hashes` uses."""
    from winnow.core.text.kernels import hash_strings_nb

    return hash_strings_nb(*string_buffers(vocab), seed)


def word_token_hashes(text, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every normalised word token, offsets of length n+1).

    The same words as :func:`word_tokens`, hashed with :func:`hash_words`. One compiled pass
    over the UTF-8 bytes (:func:`winnow.core.text.kernels.word_slots`) splits the text and hashes
    every word of ASCII letters and digits and of the characters whose normalisation does not
    depend on their neighbours (:mod:`winnow.core.text.word_chars`: accents, Cyrillic, Arabic,
    CJK, typographic punctuation...); only the *distinct* words holding other characters
    (combining marks, jamo, 4-byte characters) go through Arrow's Unicode kernels.
    """
    from winnow.core.text import word_chars
    from winnow.core.text.kernels import expand_slots, word_slots

    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    data, offs = string_buffers(text)
    slot_hash, ph_slot, ph_start, ph_end, counts = word_slots(data, offs, seed, word_chars.table())
    slot_off = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=slot_off[1:])
    if len(ph_start) == 0:
        return slot_hash, slot_off
    # placeholders: their bytes as one string array, normalised on distinct spellings
    plen = ph_end - ph_start
    poff = np.zeros(len(plen) + 1, np.int64)
    np.cumsum(plen, out=poff[1:])
    raw = pa.LargeStringArray.from_buffers(
        len(plen), pa.py_buffer(poff), pa.py_buffer(data[concat_ranges(ph_start, plen)])
    )
    enc = pc.dictionary_encode(raw)
    ridx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
    nsub, first, widx, vocab = _raw_to_words(enc.dictionary)
    wh = hash_words(vocab, seed)[widx] if len(widx) else np.zeros(0, np.uint64)  # words in piece order
    return expand_slots(slot_hash, slot_off, ph_slot, first[ridx], nsub[ridx], wh)


def codepoints(norm: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Unicode code points of every document as one uint64 array plus offsets (n+1)."""
    lens = np.asarray(pc.utf8_length(norm).to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    joined = "".join(norm.to_pylist())
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return cps, offsets


def _mix_windows(cols: list[np.ndarray], n: int) -> np.ndarray:
    x = np.full(len(cols[0]), np.uint64(n), np.uint64)
    for c in cols:
        x ^= c
        x *= GOLDEN
        x ^= x >> np.uint64(29)
    return splitmix64(x)


def ngram_hashes(vals: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every window of ``n`` consecutive values inside each document.

    A document with fewer than ``n`` (but at least one) values yields one shingle made of all
    of them; an empty document yields none. Returns (flat shingle hashes in document order,
    count per document).
    """
    vals = np.asarray(vals, np.uint64)
    lens = np.diff(offsets)
    ndoc = len(lens)
    counts = np.where(lens >= n, lens - n + 1, np.where(lens > 0, 1, 0)).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.uint64), counts
    L = len(vals)
    short = (lens > 0) & (lens < n)
    parts_main = None
    if L >= n:
        m = L - n + 1
        # every window of the flat array, by shifted views (no gathers) ...
        x = _mix_windows([vals[k : m + k] for k in range(n)], n)
        # ... kept where it does not cross a document boundary
        doc_end = np.repeat(offsets[1:], lens)[:m]
        parts_main = x[(doc_end - np.arange(m)) >= n]
    if not short.any():
        return parts_main, counts
    # documents shorter than n: one padded shingle each, merged back in document order
    sd = np.flatnonzero(short)
    cols = []
    for k in range(n):
        ok = k < lens[sd]
        cols.append(np.where(ok, vals[np.minimum(offsets[sd] + k, L - 1)], SHINGLE_PAD))
    xs = _mix_windows(cols, n)
    out = np.empty(total, np.uint64)
    first = np.zeros(ndoc, np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    out[first[sd]] = xs
    if parts_main is not None and len(parts_main):
        is_main = np.ones(total, bool)
        is_main[first[sd]] = False
        out[is_main] = parts_main
    return out, counts


def shingle_hashes(
    text: pa.Array | pa.ChunkedArray,
    *,
    ngram: int = 5,
    unit: Literal["word", "char"] = "word",
    normalized: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the word (or character) n-gram shingles of every document.

    Text is normalised first (lower-case, punctuation removed, digits → 0, whitespace
    collapsed, NFKC) unless ``normalized=True``. Returns (flat hashes, count per document).
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    # word tokens are split on whitespace anyway; character shingles need collapsed whitespace
    if unit == "word":
        if normalized:
            flat, offsets = tokens(text)
            vals = token_hashes(flat, seed)
        else:
            vals, offsets = word_token_hashes(text, seed)
    elif unit == "char":
        vals, offsets = codepoints(text if normalized else normalize(text))
    else:
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    from winnow.core.text.kernels import ngram_shingles

    return ngram_shingles(vals, offsets, ngram)


def shingle_strings(text: pa.Array, *, ngram: int = 5, unit: str = "word") -> list[set]:
    """The exact shingles of each document as Python sets of tuples (slow; for ground truth)."""
    if unit == "word":
        idx, vocab, offsets = word_tokens(text)
        words = vocab.to_pylist()
        toks = [words[i] for i in idx.tolist()]
        docs = [toks[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    else:
        docs = [list(t) for t in normalize(text).to_pylist()]
    out = []
    for items in docs:
        if not items:
            out.append(set())
        elif len(items) < ngram:
            out.append({tuple(items)})
        else:
            out.append({tuple(items[i : i + ngram]) for i in range(len(items) - ngram + 1)})
    return out
