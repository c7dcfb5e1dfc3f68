"""Seeded random projections of gradients, applied blockwise (the full P x k matrix never sits
in memory unless it fits the cache budget).

The matrix R (P x k) is defined in fixed units of 256 rows, unit u drawn from a generator seeded
with ``(seed, u)``; a block is a run of whole units, so any block can be regenerated on demand and
R (hence every score) is identical whatever the batch or block size. ``project(G) = G @ R / sqrt(k)``
preserves inner products in expectation (Johnson-Lindenstrauss).

Example:
    >>> import torch
    >>> from winnow.select.attribution import RandomProjector
    >>> proj = RandomProjector(dim_in=1000, dim_out=64, seed=0)
    >>> proj.project(torch.randn(8, 1000)).shape
    torch.Size([8, 64])
"""

from __future__ import annotations

import torch

from winnow.select.attribution.data import AttributionError


class RandomProjector:
    """Seeded Rademacher (+-1) or Gaussian projection from ``dim_in`` to ``dim_out``.

    ``block_bytes`` bounds the memory of one generated block; blocks are cached up to
    ``cache_bytes`` in total and regenerated beyond that.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        seed: int = 0,
        kind: str = "rademacher",
        block_bytes: int = 32 << 20,
        cache_bytes: int = 256 << 20,
        dtype=torch.float32,
    ):
        if kind not in ("rademacher", "gaussian"):
            raise AttributionError(f"proj_kind must be 'rademacher' or 'gaussian', got {kind!r}")
        if dim_out < 1 or dim_in < 1:
            raise AttributionError(f"projection dims must be >= 1, got dim_in={dim_in}, dim_out={dim_out}")
        self.dim_in, self.dim_out, self.seed, self.kind, self.dtype = int(dim_in), int(dim_out), int(seed), kind, dtype
        itemsize = torch.empty((), dtype=dtype).element_size()
        unit = self.UNIT
        self.block_rows = max(unit, (block_bytes // (self.dim_out * itemsize)) // unit * unit)
        self.n_blocks = -(-self.dim_in // self.block_rows)
        self._cache: dict[int, torch.Tensor] = {}
        self._cache_budget = cache_bytes // (self.block_rows * self.dim_out * itemsize)

    UNIT = 256

    def _unit(self, u: int, rows: int) -> torch.Tensor:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + u * 7919 + 17) % (2**63 - 1))
        if self.kind == "rademacher":
            R = torch.randint(0, 2, (rows, self.dim_out), generator=g, dtype=torch.int8).to(self.dtype)
            return R.mul_(2).sub_(1)
        return torch.randn(rows, self.dim_out, generator=g, dtype=self.dtype)

    def block(self, j: int) -> torch.Tensor:
        """Rows ``[j*block_rows, ...)`` of R (unscaled), regenerated deterministically."""
        if j in self._cache:
            return self._cache[j]
        s = j * self.block_rows
        e = min(self.dim_in, s + self.block_rows)
        R = torch.cat([self._unit(u // self.UNIT, min(self.UNIT, e - u)) for u in range(s, e, self.UNIT)])
        if len(self._cache) < self._cache_budget:
            self._cache[j] = R
        return R

    def project(self, G: torch.Tensor) -> torch.Tensor:
        """Project ``G [B, dim_in]`` to ``[B, dim_out]``."""
        if G.shape[-1] != self.dim_in:
            raise AttributionError(f"projection expects vectors of size {self.dim_in}, got {G.shape[-1]}")
        out = torch.zeros(G.shape[0], self.dim_out, dtype=self.dtype, device=G.device)
        for j in range(self.n_blocks):
            s = j * self.block_rows
            R = self.block(j).to(G.device)
            out.addmm_(G[:, s : s + R.shape[0]].to(self.dtype), R)
        return out.mul_(self.dim_out**-0.5)

    __call__ = project

    def config(self) -> dict:
        return {"dim_in": self.dim_in, "dim_out": self.dim_out, "seed": self.seed, "kind": self.kind}
