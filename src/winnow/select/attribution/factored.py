"""Factored (LoGra-style) gradient features: per-example gradients of linear layers projected
without ever forming them.

For a linear map with weight ``W [d_out, d_in]`` (``nn.Linear``, ``nn.Embedding`` with one-hot
inputs, or a tied LM head ``logits = h @ E^T``) the per-example gradient is a sum of outer
products over positions, ``dW = sum_t g_t a_t^T`` (``a`` = layer input, with a 1 appended for the
bias; ``g`` = gradient at the layer output). Two small seeded matrices per layer,
``P_out [d_out, k_out]`` and ``P_in [d_in, k_in]``, give

    ``P_out^T dW P_in = sum_t (P_out^T g_t)(P_in^T a_t)^T``  (``k_out x k_in``)

which is exactly ``vec(dW) @ (P_out kron P_in)``: a random projection with a Kronecker-structured
matrix, at O(T (d_in k_in + d_out k_out)) per layer instead of O(d_in d_out k). One batched
forward and backward pass (no per-example autograd) yields the ``a_t`` and ``g_t`` of every
example. Parameters outside linear layers (layer norms, position tables used as raw tensors) are
left out, as in LoGra.

Example:
    >>> import torch
    >>> from winnow.select.attribution import ClassificationTask
    >>> from winnow.select.attribution.factored import FactoredFeaturizer
    >>> from winnow.select.attribution.data import Data
    >>> m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> fz = FactoredFeaturizer(m, ClassificationTask(), proj_dim=64)
    >>> X, y = torch.randn(10, 8), torch.randint(0, 3, (10,))
    >>> fz.matrix(Data((X, y), "train")).shape, [s.name for s in fz.sites]
    ((10, 40), ['0', '2'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError, Data
from winnow.select.attribution.grads import _model_device, eval_mode
from winnow.select.attribution.store import FeatureStore
from winnow.select.attribution.task import Task


@dataclass
class Site:
    """One factored parameter block: ``W [d_out, d_in]`` (+ bias as an extra input column)."""

    name: str  # module name (or the embedding's name for a tied head)
    kind: str  # "linear", "embedding" or "tied_head"
    weight: str  # parameter name of W
    bias: str | None  # parameter name of b (Linear only)
    d_out: int
    d_in: int  # without the bias column
    k_out: int = 0
    k_in: int = 0

    @property
    def cols(self) -> int:
        return self.d_in + (self.bias is not None)

    @property
    def dim(self) -> int:
        return self.k_out * self.k_in


def find_sites(model: torch.nn.Module, params=None, tied_head: str | None = "auto") -> list[Site]:
    """The factorable layers of ``model``: every ``nn.Linear`` and ``nn.Embedding`` whose weight is
    selected (``params`` as in :func:`~winnow.select.attribution.grads.select_params`), plus a tied
    LM head ``logits = norm(h) @ E^T`` given as ``tied_head="<module producing h>"`` (``"auto"``:
    a top-level ``ln``/``ln_f``/``norm`` module when the model has one ``nn.Embedding`` and no
    ``nn.Linear`` of the vocabulary size; ``None``: no head)."""
    from winnow.select.attribution.grads import select_params

    chosen = set(select_params(model, params).names)
    sites: list[Site] = []
    emb = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and f"{name}.weight" in chosen:
            b = f"{name}.bias" if mod.bias is not None and f"{name}.bias" in chosen else None
            sites.append(Site(name, "linear", f"{name}.weight", b, mod.out_features, mod.in_features))
        elif isinstance(mod, torch.nn.Embedding) and f"{name}.weight" in chosen:
            emb.append((name, mod))
            sites.append(Site(name, "embedding", f"{name}.weight", None, mod.num_embeddings, mod.embedding_dim))
    mods = dict(model.named_modules())
    if tied_head == "auto":
        tied_head = None
        if emb and not any(s.kind == "linear" and s.d_out == max(m.num_embeddings for _, m in emb) for s in sites):
            tied_head = next((n for n in ("ln_f", "ln", "norm", "final_norm") if n in mods), None)
    if tied_head is not None:
        if not emb:
            raise AttributionError(f"tied_head={tied_head!r} needs a selected nn.Embedding (the tied weight)")
        if tied_head not in mods:
            raise AttributionError(f"tied_head: no module named {tied_head!r} in the model")
        name, mod = max(emb, key=lambda e: e[1].num_embeddings)  # the token table, not positions
        sites.append(Site(tied_head, "tied_head", f"{name}.weight", None, mod.num_embeddings, mod.embedding_dim))
    if not sites:
        raise AttributionError(
            "projection='factored' found no nn.Linear / nn.Embedding layer among the selected "
            "parameters (use projection='dense')"
        )
    return sites


def _rand(rows: int, cols: int, seed: int, kind: str, dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed % (2**63 - 1))
    if kind == "rademacher":
        return torch.randint(0, 2, (rows, cols), generator=g, dtype=torch.int8).to(dtype).mul_(2).sub_(1)
    if kind == "gaussian":
        return torch.randn(rows, cols, generator=g, dtype=dtype)
    raise AttributionError(f"proj_kind must be 'rademacher' or 'gaussian', got {kind!r}")


class FactoredProjector:
    """The seeded ``P_out``/``P_in`` pair of every parameter (sites that share a weight, such as an
    embedding and its tied head, share the pair, so their projected gradients add up)."""

    def __init__(self, sites: list[Site], proj_dim: int, seed: int = 0, kind: str = "rademacher", dtype=torch.float32):
        if proj_dim < 1:
            raise AttributionError(f"proj_dim must be >= 1, got {proj_dim}")
        self.kind, self.seed, self.dtype = kind, int(seed), dtype
        weights = list(dict.fromkeys(s.weight for s in sites))  # unique, in order
        k = max(1, int(math.isqrt(max(1, proj_dim // len(weights)))))
        self.mats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.offsets: dict[str, int] = {}
        off = 0
        for wi, w in enumerate(weights):
            s0 = next(s for s in sites if s.weight == w)
            cols = max(s.cols for s in sites if s.weight == w)
            ko, ki = min(k, s0.d_out), min(k, cols)
            base = (self.seed * 1_000_003 + wi * 7919 + 17) * 2
            self.mats[w] = (_rand(s0.d_out, ko, base, kind, dtype), _rand(cols, ki, base + 1, kind, dtype))
            self.offsets[w] = off
            off += ko * ki
        for s in sites:
            s.k_out, s.k_in = self.mats[s.weight][0].shape[1], self.mats[s.weight][1].shape[1]
        self.dim = off

    def config(self) -> dict:
        return {
            "factored": True,
            "dim": self.dim,
            "seed": self.seed,
            "kind": self.kind,
            "blocks": {w: [int(a.shape[1]), int(b.shape[1])] for w, (a, b) in self.mats.items()},
        }

    def to(self, device):
        self.mats = {w: (a.to(device), b.to(device)) for w, (a, b) in self.mats.items()}
        return self

    def dense_matrix(self, site: Site) -> torch.Tensor:
        """``P_out kron P_in`` (``[d_out * cols, k_out * k_in]``, unscaled): the dense projection the
        factored one equals (for tests; never needed to compute features)."""
        a, b = self.mats[site.weight]
        return torch.kron(a, b[: site.cols])


class FactoredFeaturizer:
    """Per-example gradient features of ``fn`` (``"loss"`` or ``"output"``) under the factored
    projection, batch by batch; same interface as :class:`~winnow.select.attribution.features.Featurizer`
    (``dim``, ``iter``, ``matrix``, ``key``). With a :class:`FeatureStore` the features are written in
    shards of ``shard_rows`` rows, each committed on its own, so an interrupted run resumes."""

    def __init__(
        self,
        model: torch.nn.Module,
        task: Task,
        *,
        params=None,
        fn: str = "loss",
        proj_dim: int = 2048,
        proj_kind: str = "rademacher",
        seed: int = 0,
        batch_size: int = 64,
        store: FeatureStore | None = None,
        tied_head: str | None = "auto",
        shard_rows: int = 8192,
        progress: bool = False,
    ):
        if fn not in ("loss", "output"):
            raise AttributionError(f"fn must be 'loss' or 'output', got {fn!r}")
        self.model, self.task, self.fn = model, task, fn
        self.sites = find_sites(model, params, tied_head)
        self.device = _model_device(model)
        self.proj_dim, self.proj_kind, self.seed = proj_dim, proj_kind, seed
        self.projector: FactoredProjector | None = None
        self.batch_size, self.store, self.shard_rows, self.progress = batch_size, store, shard_rows, progress
        pdt = next(iter(model.parameters())).dtype
        self.dtype = torch.float64 if pdt == torch.float64 else torch.float32
        self.np_dtype = np.float64 if pdt == torch.float64 else np.float32
        self._fp = None

    def setup(self, data: Data) -> "FactoredFeaturizer":
        """Run one example through the model to drop layers it never calls (e.g. an embedding table
        indexed as a raw tensor), then draw the projections. Done once, on first use."""
        if self.projector is not None:
            return self
        called: set[str] = set()
        mods = dict(self.model.named_modules())
        hs = [mods[s.name].register_forward_hook(lambda m, i, o, n=s.name: called.add(n)) for s in self.sites]
        try:
            xb, _ = next(iter(data.batches(1, self.device)))
            with eval_mode(self.model), torch.no_grad():
                out = self.task.forward(self.model, xb)
        finally:
            for h in hs:
                h.remove()
        self.sites = [s for s in self.sites if s.name in called]
        logits = out.logits if hasattr(out, "logits") else out
        for s in self.sites:
            if s.kind == "tied_head" and logits.shape[-1] != s.d_out:
                raise AttributionError(
                    f"tied head: the model output has {logits.shape[-1]} columns but "
                    f"{s.weight} has {s.d_out} rows; pass tied_head=None"
                )
        if not self.sites:
            raise AttributionError("projection='factored': no nn.Linear / nn.Embedding layer is called by the model")
        self.projector = FactoredProjector(self.sites, self.proj_dim, self.seed, self.proj_kind, self.dtype).to(
            self.device
        )
        return self

    @property
    def dim(self) -> int:
        if self.projector is None:
            raise AttributionError("call setup(data) (or matrix/iter) before asking for dim")
        return self.projector.dim

    def project_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Factored features ``[B, dim]`` of one batch."""
        pairs = capture(self.model, self.task, self.sites, xb, yb, self.fn)
        B = xb.shape[0]
        res = torch.zeros(B, self.dim, dtype=self.dtype, device=xb.device)
        for s, g, a in pairs:
            Pout, Pin = self.projector.mats[s.weight]
            off = self.projector.offsets[s.weight]
            g = g.reshape(B, -1, g.shape[-1]).to(self.dtype)
            if s.kind == "embedding":  # one-hot input rows: P_out^T e_id = P_out[id]
                go = Pout[a.reshape(B, -1).long()]  # [B, T, k_out]
                ai = g @ Pin[: s.d_in]  # [B, T, k_in]  (the "input" side is the embedding dim)
            else:
                go = g @ Pout  # [B, T, k_out]
                ai = a.reshape(B, -1, a.shape[-1]).to(self.dtype) @ Pin[: s.d_in]
                if s.bias is not None:
                    ai = ai + Pin[s.d_in]
            res[:, off : off + s.dim] += torch.einsum("btp,btq->bpq", go, ai).reshape(B, -1)
        for s in dict((s.weight, s) for s in self.sites).values():
            off = self.projector.offsets[s.weight]
            res[:, off : off + s.dim] *= (s.k_out * s.k_in) ** -0.5
        return res

    # -- featurizer interface -----------------------------------------------------------------
    def key(self, data: Data) -> dict:
        from winnow.select.attribution.features import model_fingerprint

        if self._fp is None:
            self._fp = model_fingerprint(self.model)
        self.setup(data)
        return {
            "kind": "factored_grad_features",
            "model": self._fp,
            "task": repr(self.task),
            "fn": self.fn,
            "sites": [(s.name, s.kind, s.weight, s.bias) for s in self.sites],
            "data": data.fingerprint(),
            "projection": self.projector.config(),
        }

    def iter(self, data: Data, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(start, features[B, dim])`` for rows ``start..stop`` of ``data``."""
        stop = data.n if stop is None else stop
        self.setup(data)
        with eval_mode(self.model):
            if start == 0 and stop == data.n:
                batches = data.batches(self.batch_size, self.device)
            else:
                batches = _slice_batches(data, start, stop, self.batch_size, self.device)
            pos = start
            for xb, yb in batches:
                g = self.project_batch(xb, yb).detach()
                yield pos, g
                pos += g.shape[0]

    def matrix(self, data: Data) -> np.ndarray:
        """All features ``[n, dim]``; with a store, computed shard by shard and resumed after an interruption."""
        self.setup(data)
        if self.store is None:
            out = np.empty((data.n, self.dim), dtype=self.np_dtype)
            for s, g in self._progress(self.iter(data), data.n):
                out[s : s + g.shape[0]] = g.cpu().numpy()
            return out
        key = self.key(data)
        got = self.store.get(key)
        if got is not None:
            return got
        path = self.store.path / f"{self.store._name(key)}.npy"
        done_path = path.with_suffix(".shards")
        if path.exists() and done_path.exists():
            out = np.load(path, mmap_mode="r+")
            done = {int(t) for t in done_path.read_text().split()}
        else:
            out = self.store.create(key, (data.n, self.dim), self.np_dtype)
            done = set()
            done_path.write_text("")
        shards = [i for i in range(-(-data.n // self.shard_rows)) if i not in done]
        for i in self._progress(shards, len(shards), unit="shard"):
            s, e = i * self.shard_rows, min(data.n, (i + 1) * self.shard_rows)
            for p, g in self.iter(data, s, e):
                out[p : p + g.shape[0]] = g.cpu().numpy()
            out.flush()
            with open(done_path, "a") as fh:
                fh.write(f"{i}\n")
        self.store.commit(key)
        done_path.unlink(missing_ok=True)
        return self.store.get(key)

    def _progress(self, it, total, unit="batch"):
        if not self.progress:
            yield from it
            return
        from rich.progress import Progress

        with Progress(transient=True) as prog:
            t = prog.add_task(f"factored features ({unit}s)", total=total)
            for x in it:
                yield x
                prog.advance(t, x[1].shape[0] if unit == "batch" else 1)


def capture(
    model: torch.nn.Module, task: Task, sites: list[Site], xb: torch.Tensor, yb: torch.Tensor, fn="loss"
) -> list[tuple[Site, torch.Tensor, torch.Tensor]]:
    """One batched forward and backward pass: ``(site, g, a)`` for every call of every site, with
    ``g`` the gradient of ``sum_i fn_i`` at the layer output and ``a`` its input (token ids for an
    embedding, the head input for a tied head). ``fn``: ``"loss"``, ``"output"``, or a callable
    ``(out, y) -> [B]``. Examples do not mix (no batch statistics), so row i of g is example i's."""
    mods = dict(model.named_modules())
    acts: dict[str, list] = {}
    outs: dict[str, list] = {}

    def make(s):
        def hook(mod, inp, out):
            if s.kind == "tied_head":
                acts.setdefault(s.name + "#head", []).append(out.detach())
            else:
                acts.setdefault(s.name, []).append(inp[0].detach())
                outs.setdefault(s.name, []).append(out)

        return hook

    names = list(dict.fromkeys(s.name for s in sites))
    hs = [mods[n].register_forward_hook(make(next(s for s in sites if s.name == n))) for n in names]
    try:
        with torch.enable_grad():
            out = task.forward(model, xb)
            logits = out.logits if hasattr(out, "logits") else out
            f = (fn(out, yb) if callable(fn) else getattr(task, fn)(out, yb)).sum()
            targets, keys = [], []
            for name, lst in outs.items():
                for i, o in enumerate(lst):
                    targets.append(o)
                    keys.append((name, i))
            if any(s.kind == "tied_head" for s in sites):
                targets.append(logits)
                keys.append(("#logits", 0))
            if any(not t.requires_grad for t in targets):
                raise AttributionError("a layer output does not require grad (are the model's parameters frozen?)")
            grads = dict(zip(keys, torch.autograd.grad(f, targets, allow_unused=True)))
    finally:
        for h in hs:
            h.remove()
    pairs = []
    for s in sites:
        if s.kind == "tied_head":
            pairs.append((s, grads[("#logits", 0)], acts[s.name + "#head"][0]))
        else:
            for i, a in enumerate(acts.get(s.name, [])):
                if grads[(s.name, i)] is not None:
                    pairs.append((s, grads[(s.name, i)], a))
    return pairs


def _slice_batches(data: Data, start: int, stop: int, batch_size: int, device):
    if data.dataset is None:
        for s in range(start, stop, batch_size):
            e = min(stop, s + batch_size)
            yield data.X[s:e].to(device), data.y[s:e].to(device)
    else:
        sub = torch.utils.data.Subset(data.dataset, range(start, stop))
        for xb, yb in torch.utils.data.DataLoader(sub, batch_size=batch_size, shuffle=False):
            yield torch.as_tensor(xb).to(device), torch.as_tensor(yb).to(device)
