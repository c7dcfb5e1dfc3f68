"""Shared vectorised hashing primitives (one place for the math several modules use).

    >>> import numpy as np
    >>> bool(splitmix64(np.array([0, 1], dtype=np.uint64))[1] != 1)
    True
"""
from __future__ import annotations

import numpy as np

_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)


def splitmix64_steps(x):
    """The splitmix64 finaliser as plain arithmetic: works on a uint64 numpy array and, compiled
    by numba, on a uint64 scalar (:mod:`winnow.curate.dedup._kernels` inlines it) — one formula for both."""
    x = x ^ (x >> _S30)
    x = x * _SM1
    x = x ^ (x >> _S27)
    x = x * _SM2
    return x ^ (x >> _S31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array: a bijection with full avalanche (wraps mod 2^64)."""
    with np.errstate(over="ignore"):
        return splitmix64_steps(np.asarray(x).astype(np.uint64))
