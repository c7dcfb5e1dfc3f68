"""On-disk feature store: gradient features are written once (numpy ``.npy`` memmaps keyed by a
hash of everything that determines them) and reused, not recomputed.

Example:
    >>> import numpy as np, tempfile
    >>> from winnow.select.attribution import FeatureStore
    >>> st = FeatureStore(tempfile.mkdtemp())
    >>> key = {"what": "demo", "n": 3}
    >>> arr = st.create(key, (3, 2)); arr[:] = 1.0; st.commit(key)
    >>> float(st.get(key).sum())
    6.0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


class FeatureStore:
    """A folder of ``<hash>.npy`` feature matrices with ``<hash>.json`` keys; a matrix counts only
    once its key file is written (``commit``), so interrupted writes are recomputed."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _name(key: dict) -> str:
        import xxhash

        return xxhash.xxh3_128_hexdigest(json.dumps(key, sort_keys=True, default=str).encode())

    def get(self, key: dict):
        """The stored matrix (read-only memmap) for ``key``, or None."""
        name = self._name(key)
        meta, arr = self.path / f"{name}.json", self.path / f"{name}.npy"
        if meta.exists() and arr.exists():
            stored = json.loads(meta.read_text())
            if stored.get("key") == json.loads(json.dumps(key, sort_keys=True, default=str)):
                self.hits += 1
                return np.load(arr, mmap_mode="r")
        self.misses += 1
        return None

    def create(self, key: dict, shape, dtype=np.float32):
        """A writable memmap for ``key``; call :meth:`commit` when it is filled."""
        name = self._name(key)
        (self.path / f"{name}.json").unlink(missing_ok=True)
        return np.lib.format.open_memmap(self.path / f"{name}.npy", mode="w+", dtype=dtype, shape=tuple(shape))

    def commit(self, key: dict) -> None:
        name = self._name(key)
        tmp = self.path / f"{name}.json.tmp"
        tmp.write_text(json.dumps({"key": key}, sort_keys=True, default=str))
        os.replace(tmp, self.path / f"{name}.json")
