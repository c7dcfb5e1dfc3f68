"""Gradient features for one model: per-example gradients, optionally projected, optionally stored."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from winnow.select.attribution.data import Data
from winnow.select.attribution.grads import GradFn, _model_device, eval_mode
from winnow.select.attribution.projection import RandomProjector
from winnow.select.attribution.store import FeatureStore
from winnow.select.attribution.task import Task


def model_fingerprint(model: torch.nn.Module) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    for n, t in list(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(n.encode())
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class Featurizer:
    """Computes (projected) per-example gradients of ``fn`` for one model, batch by batch."""

    def __init__(
        self,
        model: torch.nn.Module,
        task: Task,
        *,
        params=None,
        fn: str = "loss",
        proj_dim: int | None = None,
        proj_kind: str = "rademacher",
        seed: int = 0,
        batch_size: int = 64,
        store: FeatureStore | None = None,
    ):
        self.model, self.task, self.fn = model, task, fn
        self.gf = GradFn(model, task, params, fn)
        P = self.gf.spec.dim
        self.projector = (
            RandomProjector(P, proj_dim, seed=seed, kind=proj_kind) if proj_dim is not None and proj_dim < P else None
        )
        self.dim = self.projector.dim_out if self.projector else P
        self.batch_size, self.store = batch_size, store
        self.device = _model_device(model)
        pdt = next(iter(model.parameters())).dtype
        self.np_dtype = np.float64 if (pdt == torch.float64 and self.projector is None) else np.float32
        self._fp = None

    def key(self, data: Data) -> dict:
        if self._fp is None:
            self._fp = model_fingerprint(self.model)
        return {
            "kind": "grad_features",
            "model": self._fp,
            "task": repr(self.task),
            "fn": self.fn,
            "params": self.gf.spec.names,
            "data": data.fingerprint(),
            "projection": self.projector.config() if self.projector else None,
        }

    def iter(self, data: Data) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(start, features[B, dim])`` (float32, on the model's device)."""
        start = 0
        with eval_mode(self.model):
            for xb, yb in data.batches(self.batch_size, self.device):
                g = self.gf(xb, yb)
                if self.projector is not None:
                    g = self.projector.project(g)
                yield start, g
                start += g.shape[0]

    def matrix(self, data: Data) -> np.ndarray:
        """All features ``[n, dim]``: from the store when present, else computed (and stored)."""
        if self.store is not None:
            key = self.key(data)
            got = self.store.get(key)
            if got is not None:
                return got
            out = self.store.create(key, (data.n, self.dim), self.np_dtype)
        else:
            out = np.empty((data.n, self.dim), dtype=self.np_dtype)
        for s, g in self.iter(data):
            out[s : s + g.shape[0]] = g.detach().cpu().numpy()
        if self.store is not None:
            out.flush()
            self.store.commit(key)
        return out
