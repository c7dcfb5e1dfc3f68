"""Shared vectorised hashing primitives (one place for the math several modules use).

    >>> import numpy as np
    >>> splitmix64(np.array([0, 1], dtype=np.uint64))[1] != 1
    True
"""
from __future__ import annotations

import numpy as np

_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array: a bijection with full avalanche (wraps mod 2^64)."""
    with np.errstate(over="ignore"):
        x = np.asarray(x).astype(np.uint64, copy=True)
        x ^= x >> np.uint64(30)
        x *= _SM1
        x ^= x >> np.uint64(27)
        x *= _SM2
        x ^= x >> np.uint64(31)
    return x
