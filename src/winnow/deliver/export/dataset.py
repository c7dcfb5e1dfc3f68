"""``TokenDataset``: a PyTorch dataset over exported token shards (memory-mapped, resumable).

Sample ``i`` of a split is ``stream[i*L : i*L + L + 1]`` (``L + 1`` tokens: inputs and the
next-token targets overlap by one, as in nanoGPT and Megatron), so a split of ``N`` tokens holds
``(N - 1) // L`` samples. The order is a seeded permutation of the samples (per ``seed`` and
``epoch``); rank ``r`` of ``world_size`` reads global positions ``start_index + r, start_index + r
+ world_size, ...``. A job restarted at step ``k`` with ``start_index = k * batch_size *
world_size`` therefore sees exactly the batches it would have seen.

    >>> import numpy as np, json, os, tempfile
    >>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/train")
    >>> np.arange(21, dtype=np.uint16).tofile(f"{d}/train/shard-00000.bin")
    >>> m = {"format": "bin", "dtype": "uint16", "seq_len": 4, "splits": {"train": {"tokens": 21,
    ...      "shards": [{"file": "train/shard-00000.bin", "tokens": 21, "start": 0}]}}}
    >>> json.dump(m, open(f"{d}/manifest.json", "w"))
    >>> ds = TokenDataset(d, shuffle=False)
    >>> len(ds), ds[1].tolist()
    (5, [4, 5, 6, 7, 8])
    >>> TokenDataset(d, shuffle=False, start_index=2, rank=1, world_size=2)[0].tolist()
    [12, 13, 14, 15, 16]
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch


class TokenDataset(torch.utils.data.Dataset):
    """Samples of ``seq_len + 1`` tokens (int64 tensors) from ``OUT/<split>/shard-*.bin``.

    Args:
        path: an export folder (holds ``manifest.json``; format ``bin``).
        seq_len: tokens per sample, minus one (default: the export's ``seq_len``).
        split: ``"train"`` or ``"val"``.
        rank, world_size: this process's share (DDP): every ``world_size``-th position from ``rank``.
        seed, epoch: the sample order (a permutation of all samples); ``shuffle=False`` keeps the
            stream order (already globally shuffled by export).
        start_index: global position to start from (``step * batch_size * world_size`` to resume).
    """

    def __init__(
        self,
        path: str,
        seq_len: int | None = None,
        *,
        split: str = "train",
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        epoch: int = 0,
        start_index: int = 0,
        shuffle: bool = True,
    ):
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
            man = json.load(fh)
        if man.get("format") != "bin":
            raise ValueError(f"TokenDataset reads format 'bin' exports; {path} is {man.get('format')!r}")
        if split not in man["splits"]:
            raise ValueError(f"no split {split!r} in {path}; splits: {sorted(man['splits'])}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.path, self.split = path, split
        self.seq_len = int(seq_len or man["seq_len"])
        self.dtype = np.dtype(man["dtype"])
        sh = man["splits"][split]["shards"]
        self._files = [os.path.join(path, s["file"]) for s in sh]
        self._starts = np.array([s["start"] for s in sh] + [man["splits"][split]["tokens"]], np.int64)
        for f, s in zip(self._files, sh):
            if os.path.getsize(f) != s["tokens"] * self.dtype.itemsize:
                raise ValueError(f"{f} has {os.path.getsize(f)} bytes; the manifest says {s['tokens']} tokens")
        self.n_tokens = int(self._starts[-1])
        self.n_samples = max(0, (self.n_tokens - 1) // self.seq_len)
        self.rank, self.world_size, self.start_index = rank, world_size, int(start_index)
        self.seed, self.epoch, self.shuffle = seed, epoch, shuffle
        self._order = (
            np.random.default_rng([seed, epoch]).permutation(self.n_samples) if shuffle else np.arange(self.n_samples)
        )
        self._mm: list | None = None

    def __len__(self) -> int:
        return max(0, (self.n_samples - self.start_index) // self.world_size)

    def global_position(self, j: int) -> int:
        """Position in the global order of this rank's ``j``-th item."""
        return self.start_index + j * self.world_size + self.rank

    def sample_id(self, j: int) -> int:
        """Index of the sample (``stream[i*L : i*L+L+1]``) this rank's ``j``-th item reads."""
        if not 0 <= j < len(self):
            raise IndexError(j)
        return int(self._order[self.global_position(j)])

    def tokens(self, a: int, b: int) -> np.ndarray:
        """Tokens ``[a, b)`` of the split's stream (across shard boundaries)."""
        if self._mm is None:  # opened lazily: the dataset pickles to DataLoader workers cheaply
            self._mm = [np.memmap(f, dtype=self.dtype, mode="r") for f in self._files]
        parts = []
        k = int(np.searchsorted(self._starts, a, side="right")) - 1
        while a < b:
            lo, hi = self._starts[k], self._starts[k + 1]
            e = min(b, hi)
            parts.append(self._mm[k][a - lo : e - lo])
            a = e
            k += 1
        return np.concatenate(parts) if len(parts) != 1 else np.asarray(parts[0])

    def __getitem__(self, j: int) -> torch.Tensor:
        i = self.sample_id(j)
        L = self.seq_len
        return torch.from_numpy(self.tokens(i * L, i * L + L + 1).astype(np.int64))

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_mm"] = None
        return d
