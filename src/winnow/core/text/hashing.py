"""Hash constants and 64-bit mixers of the text module: every magic number is named here, once.

Two finalisers, used by different hash families (they are not interchangeable: changing either
changes MinHash signatures, dedup keys, repetition statistics or a saved model's features):

* :func:`splitmix64` — dedup word/shingle hashes, the repetition n-gram keys of the filters;
* :func:`murmur_fmix64` — murmur3's finaliser, the byte-level tokens and n-grams of
  :mod:`winnow.core.text.byte_tokens` (quality models, decontamination).

    >>> import numpy as np
    >>> bool(splitmix64(np.array([0, 1], dtype=np.uint64))[1] != 1)
    True
    >>> hex(int(GOLDEN))
    '0x9e3779b97f4a7c15'
"""

from __future__ import annotations

import numpy as np

#: 2^64 / golden ratio (odd): token-level polynomial base, word-shingle multiplier, per-document seed
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: FNV-1a 64-bit offset basis and prime (odd): byte-level polynomial base, compiled word hashes
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
#: pads a word shingle of a document shorter than the n-gram size (PCG's multiplier)
SHINGLE_PAD = np.uint64(0x5851F42D4C957F2D)
#: mixed in per n-gram length k (times k) when a repetition n-gram key grows by one word
NGRAM_STEP = np.uint64(0x632BE59BD9B4E019)
#: seed of the byte-range token hash (π's fractional bits)
TOKEN_SEED = np.uint64(0x243F6A8885A308D3)
#: salt of byte n-gram (subword) hashes, plus n
CHAR_NGRAM_SALT = 0xC0FFEE00
#: murmur3 fmix64 multipliers
MURMUR_M1 = np.uint64(0xFF51AFD7ED558CCD)
MURMUR_M2 = np.uint64(0xC4CEB9FE1A85EC53)
#: splitmix64 finaliser multipliers
SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)

_S27, _S30, _S31, _S33 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(33)


def splitmix64_steps(x):
    """The splitmix64 finaliser as plain arithmetic: works on a uint64 numpy array and, compiled
    by numba, on a uint64 scalar (:mod:`winnow.core.text.kernels` inlines it) — one formula for both."""
    x = x ^ (x >> _S30)
    x = x * SPLITMIX_M1
    x = x ^ (x >> _S27)
    x = x * SPLITMIX_M2
    return x ^ (x >> _S31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array: a bijection with full avalanche (wraps mod 2^64)."""
    with np.errstate(over="ignore"):
        return splitmix64_steps(np.asarray(x).astype(np.uint64))


def murmur_fmix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser (avalanche), vectorised; wraps mod 2^64."""
    x = x ^ (x >> _S33)
    x = x * MURMUR_M1
    x = x ^ (x >> _S33)
    x = x * MURMUR_M2
    return x ^ (x >> _S33)
