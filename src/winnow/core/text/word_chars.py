"""What each character of the Basic Multilingual Plane does inside a normalised word, as tables
for the compiled word pass (:func:`winnow.core.text.kernels.word_slots`).

The dedup steps' words are defined by the all-Arrow reference
(:func:`winnow.core.text.normalized_words.word_tokens`: punctuation and symbols split words,
Unicode whitespace splits, then NFKC, lower-case and digit runs → ``0``). The compiled pass
normalises ASCII itself; before this table every word holding any other byte went back to Arrow
(regexes, NFKC) on its distinct spellings, which cost more than the byte pass itself on text with
typographic quotes, accents, Cyrillic or Arabic. Here each code point U+0080–U+FFFF is classed
*by running the reference* on it in five contexts (``a·b``, alone, ``x·``, ``·y``, ``1·2``):

* ``-1`` a separator (the reference splits there: ``’``, ``—``, NBSP, ``«``, ...);
* ``k ≥ 0`` a context-free mapping: inside any word the character becomes the UTF-8 bytes
  ``pool[k : k + lens[cp]]`` (``É`` → ``é``, ``ﬁ`` → ``fi``, ``Ж`` → ``ж``, ``中`` → ``中``);
* ``-2`` anything else — the word goes to Arrow as before: combining marks, characters that can
  be the second half of a canonical composition or a Hangul jamo (NFKC may join them with a
  neighbour), mappings holding digits, and whatever the five contexts disagree on.

The table is built on first use (about 0.7 s), cached per pyarrow and Python version next to the compiled
kernels and loaded with ``allow_pickle=False``; ``make`` builds it with the kernel warm-up. A
word hashes identically whichever path it takes (tested against the reference on random text
drawn from the whole plane).

    >>> kind, lens, pool = table()
    >>> def mapped(ch):
    ...     k = int(kind[ord(ch)])
    ...     return k if k < 0 else bytes(pool[k : k + int(lens[ord(ch)])]).decode()
    >>> mapped("É"), mapped("ﬁ"), mapped("’"), mapped("\\u0301")
    ('é', 'fi', -1, -2)
"""

from __future__ import annotations

import os
import sys
import unicodedata

import numpy as np

#: bump when the classification rules change (the cache file name carries it)
VERSION = 1
SEPARATOR, OTHER = -1, -2
_CONTEXTS = (("a", "b"), ("", ""), ("x", ""), ("", "y"), ("1", "2"))
_HANGUL_JAMO = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))
_TABLE: list = []


def _second_halves() -> set[int]:
    """Code points that are the second character of some canonical (two-character) decomposition."""
    out = set()
    for c in range(0x110000):
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                out.add(int(parts[1], 16))
    return out


def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classify every BMP code point with the reference (see the module docstring):
    ``(kind int32[65536], lens uint8[65536], pool uint8[...])``."""
    import pyarrow as pa

    from winnow.core.text.normalized_words import word_tokens

    second = _second_halves()

    def joins_neighbours(ch: str) -> bool:
        c = ord(ch)
        return (
            unicodedata.combining(ch) != 0
            or unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cn", "Cs", "Co", "Cc")
            or c in second
            or any(a <= c <= b for a, b in _HANGUL_JAMO)
        )

    cps = [c for c in range(0x80, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    texts = [left + chr(c) + right for c in cps for left, right in _CONTEXTS]
    idx, vocab, offs = word_tokens(pa.array(texts, pa.string()))
    words = np.array(vocab.to_pylist(), dtype=object)[idx] if len(idx) else np.zeros(0, object)
    nctx = len(_CONTEXTS)
    kind = np.full(65536, OTHER, np.int32)
    lens = np.zeros(65536, np.uint8)
    pool = bytearray()
    for k, c in enumerate(cps):
        ch = chr(c)
        if joins_neighbours(ch):
            continue
        got = [list(words[offs[nctx * k + j] : offs[nctx * k + j + 1]]) for j in range(nctx)]
        if got == [["a", "b"], [], ["x"], ["y"], ["0", "0"]]:
            kind[c] = SEPARATOR
            continue
        w = got[0]
        if len(w) != 1 or not (w[0].startswith("a") and w[0].endswith("b")):
            continue
        x = w[0][1:-1]
        if any(d in x for d in "0123456789") or (x and joins_neighbours(x[0])):
            continue
        want = [["a" + x + "b"], [x] if x else [], ["x" + x], [x + "y"], ["0" + x + "0"]]
        b = x.encode()
        if got == want and len(b) < 256:
            kind[c] = len(pool)
            lens[c] = len(b)
            pool += b
    return kind, lens, np.frombuffer(bytes(pool), np.uint8).copy()


def _cache_path() -> str:
    import pyarrow as pa

    from winnow.core.text.kernels import CACHE_DIR

    py = "%d%d" % sys.version_info[:2]  # Python's unicodedata decides the exclusions
    return os.path.join(CACHE_DIR, f"word_chars-v{VERSION}-pyarrow{pa.__version__}-py{py}.npz")


def _load(path: str):
    try:
        with np.load(path, allow_pickle=False) as z:
            kind, lens, pool = z["kind"], z["lens"], z["pool"]
    except (OSError, ValueError, KeyError):
        return None
    if kind.shape != (65536,) or lens.shape != (65536,) or kind.dtype != np.int32 or pool.dtype != np.uint8:
        return None
    mapped = kind >= 0
    if (kind < OTHER).any() or (mapped.any() and int((kind[mapped] + lens[mapped]).max()) > len(pool)):
        return None  # a damaged file: rebuild
    return kind, lens, pool


def table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The table of this process: loaded from the cache, else built (and cached when the
    cache folder is writable)."""
    if _TABLE:
        return _TABLE[0]
    path = _cache_path()
    t = _load(path) if os.path.exists(path) else None
    if t is None:
        t = build()
        tmp = f"{path}.tmp-{os.getpid()}.npz"
        try:
            np.savez(tmp, kind=t[0], lens=t[1], pool=t[2])
            os.replace(tmp, path)
        except OSError:
            pass
    _TABLE.append(t)
    return t
