"""Input normalisation: (X, y) tuples or torch Datasets -> batches, with clear errors."""

from __future__ import annotations

from typing import Iterator

import torch

from winnow.errors import AttributionError  # defined there; importable from here too


class Data:
    """A validated (X, y) pair of tensors, or a map-style ``torch.utils.data.Dataset`` of (x, y)."""

    def __init__(self, data, name: str):
        self.name = name
        self.dataset = None
        if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, (tuple, list)):
            try:
                n = len(data)  # type: ignore[arg-type]
            except TypeError as e:
                raise AttributionError(f"{name}: a Dataset must have a length (map-style)") from e
            self.dataset = data
            self.n = n
            self.X = self.y = None
        elif isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise AttributionError(f"{name} must be a tuple (X, y) of two tensors, got {len(data)} items")
            X, y = (torch.as_tensor(t) for t in data)
            if X.ndim == 0 or y.ndim == 0:
                raise AttributionError(f"{name}: X and y need a leading example dimension")
            if X.shape[0] != y.shape[0]:
                raise AttributionError(
                    f"{name}: X has {X.shape[0]} examples but y has {y.shape[0]} (mismatched shapes)"
                )
            self.X, self.y, self.n = X, y, int(X.shape[0])
        else:
            raise AttributionError(
                f"{name} must be a tuple (X, y) of tensors or a torch Dataset, got {type(data).__name__}"
            )
        if self.n == 0:
            raise AttributionError(f"{name} is empty: need at least one example")

    def batches(self, batch_size: int, device=None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.dataset is None:
            for s in range(0, self.n, batch_size):
                yield self.X[s : s + batch_size].to(device), self.y[s : s + batch_size].to(device)
        else:
            loader = torch.utils.data.DataLoader(self.dataset, batch_size=batch_size, shuffle=False)
            for xb, yb in loader:
                yield torch.as_tensor(xb).to(device), torch.as_tensor(yb).to(device)

    def fingerprint(self) -> str:
        """A content hash (xxhash of the tensors' bytes) used to key stored features."""
        import xxhash

        h = xxhash.xxh3_128()
        h.update(str(self.n).encode())
        for xb, yb in self.batches(4096):
            for t in (xb, yb):
                t = t.detach().cpu().contiguous()
                h.update(str((tuple(t.shape), str(t.dtype))).encode())
                h.update(t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.numpy().tobytes())
        return h.hexdigest()
