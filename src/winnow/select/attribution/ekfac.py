"""EK-FAC influence (George et al. 2018; Grosse et al. 2023): a block-diagonal, Kronecker-factored
curvature per ``nn.Linear`` layer with its eigenvalues re-fitted to the gradients.

Per layer, with ``a`` its input (a 1 appended for the bias) and ``g`` the gradient at its output
under labels sampled from the model (so the curvature is the Fisher = Gauss-Newton Hessian of the
cross-entropy, positive semi-definite on any model):

1. ``A = E[a a^T]``, ``S = E[g g^T]``; eigenbases ``Q_A``, ``Q_S`` (K-FAC: ``F ~ S kron A``);
2. eigenvalue correction: ``Lambda[p, q] = mean_i ((Q_S^T dW_i Q_A)[p, q])^2`` with
   ``dW_i = sum_t g_t a_t^T`` the per-example gradient (computed in factored form, never formed);
3. ``(F + damping I)^{-1} v`` = rotate into the eigenbasis, divide by ``Lambda + damping``, rotate back.

Influence ``score_ij = grad f_j^T (F + damping I)^{-1} grad L_i / n``, the same convention as
``attribute(..., method="influence")`` (positive = training on i lowers target j's loss).
With ``proj_dim`` the same is done on factored (LoGra) features: the factors are those of the
projected activations ``P_in^T a`` and gradients ``P_out^T g``.

Example:
    >>> import torch
    >>> from winnow.select.attribution import ClassificationTask
    >>> from winnow.select.attribution.ekfac import EKFAC
    >>> torch.manual_seed(0)
    <torch._C.Generator object at ...>
    >>> m = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    >>> ek = EKFAC(m, ClassificationTask()).fit((X, y))
    >>> ek.scores((X, y), (X[:5], y[:5])).shape
    (40, 5)
"""

from __future__ import annotations

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError, Data
from winnow.select.attribution.factored import FactoredProjector, capture, find_sites
from winnow.select.attribution.grads import _model_device, eval_mode
from winnow.select.attribution.task import CausalLMTask, ClassificationTask, Task


def _sampled_loss(task: Task, gen: torch.Generator):
    """Loss under labels drawn from the model's own predictive distribution (true Fisher)."""
    import torch.nn.functional as F

    if isinstance(task, ClassificationTask):

        def f(out, y):
            with torch.no_grad():
                ys = torch.multinomial(torch.softmax(out.detach().double(), -1).cpu(), 1, generator=gen)[:, 0]
            return F.cross_entropy(out, ys.to(out.device), reduction="none")

        return f
    if isinstance(task, CausalLMTask):

        def f(out, y):
            logits = out.logits if hasattr(out, "logits") else out
            with torch.no_grad():
                p = torch.softmax(logits[:, :-1].detach().double(), -1).reshape(-1, logits.shape[-1]).cpu()
                ys = torch.multinomial(p, 1, generator=gen)[:, 0].view(logits.shape[0], -1).to(y.device)
                ys = torch.where(y[:, 1:] == task.ignore_index, torch.full_like(ys, task.ignore_index), ys)
            return task.loss(logits, torch.cat([y[:, :1], ys], 1))

        return f
    return "loss"  # other tasks: the empirical Fisher (the given labels)


class EKFAC:
    """Eigenvalue-corrected K-FAC over the ``nn.Linear`` layers of ``model`` (see the module doc).

    Args:
        params: which parameters (as :func:`~winnow.select.attribution.grads.select_params`); only
            ``nn.Linear`` layers among them are used.
        proj_dim: None (full gradients) or a total dimension for factored (LoGra) projections.
        sample_labels: True (default): true Fisher, labels drawn from the model; False: empirical Fisher.
        damping: added to the corrected eigenvalues; ``None`` = 0.1 x their mean per layer.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        task: Task,
        *,
        params=None,
        proj_dim: int | None = None,
        proj_kind: str = "rademacher",
        seed: int = 0,
        batch_size: int = 64,
        damping: float | None = None,
        sample_labels: bool = True,
    ):
        self.model, self.task = model, task
        self.sites = [s for s in find_sites(model, params, tied_head=None) if s.kind == "linear"]
        if not self.sites:
            raise AttributionError("EK-FAC needs at least one nn.Linear layer among the selected parameters")
        self.device = _model_device(model)
        self.dtype = torch.float64
        self.proj = (
            FactoredProjector(self.sites, proj_dim, seed, proj_kind, self.dtype).to(self.device)
            if proj_dim is not None
            else None
        )
        self.batch_size, self.damping, self.seed, self.sample_labels = batch_size, damping, seed, sample_labels
        self.QA: dict[str, torch.Tensor] = {}
        self.QS: dict[str, torch.Tensor] = {}
        self.lam: dict[str, torch.Tensor] = {}

    # per-site (g, a) in the working space (projected when proj_dim is set), bias folded into a
    def _ga(self, s, g, a, B):
        g = g.reshape(B, -1, g.shape[-1]).to(self.dtype)
        a = a.reshape(B, -1, a.shape[-1]).to(self.dtype)
        if s.bias is not None:
            a = torch.cat([a, torch.ones(*a.shape[:2], 1, dtype=a.dtype, device=a.device)], -1)
        if self.proj is not None:
            Pout, Pin = self.proj.mats[s.weight]
            g, a = g @ Pout, a @ Pin[: a.shape[-1]]
        return g, a

    def _pairs(self, xb, yb, fn):
        with eval_mode(self.model):
            return capture(self.model, self.task, self.sites, xb, yb, fn)

    def fit(self, train) -> "EKFAC":
        """Two passes over ``train``: Kronecker factors, then the eigenvalue correction."""
        tr = train if isinstance(train, Data) else Data(train, "train")
        gen = torch.Generator().manual_seed(self.seed)
        fn = _sampled_loss(self.task, gen) if self.sample_labels else "loss"
        A: dict[str, torch.Tensor] = {}
        S: dict[str, torch.Tensor] = {}
        for xb, yb in tr.batches(self.batch_size, self.device):
            for s, g, a in self._pairs(xb, yb, fn):
                g, a = self._ga(s, g, a, xb.shape[0])
                a2, g2 = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
                A[s.weight] = A.get(s.weight, 0) + a2.T @ a2
                S[s.weight] = S.get(s.weight, 0) + g2.T @ g2
        for w in A:
            self.QA[w] = torch.linalg.eigh(A[w])[1]
            self.QS[w] = torch.linalg.eigh(S[w])[1]
        gen.manual_seed(self.seed + 1)
        lam: dict[str, torch.Tensor] = {}
        for xb, yb in tr.batches(self.batch_size, self.device):
            for w, R in self._rotated_batch(xb, yb, fn).items():
                lam[w] = lam.get(w, 0) + (R * R).sum(0)
        self.lam = {w: v / tr.n for w, v in lam.items()}
        return self

    def _rotated_batch(self, xb, yb, fn) -> dict[str, torch.Tensor]:
        """Per-example gradients in the eigenbasis, ``{weight: [B, d_out', cols']}`` (summed over the
        calls of a layer)."""
        out: dict[str, torch.Tensor] = {}
        B = xb.shape[0]
        for s, g, a in self._pairs(xb, yb, fn):
            g, a = self._ga(s, g, a, B)
            R = torch.einsum("btp,btq->bpq", g @ self.QS[s.weight], a @ self.QA[s.weight])
            out[s.weight] = out[s.weight] + R if s.weight in out else R
        return out

    def rotated(self, data, fn: str = "loss") -> torch.Tensor:
        """``[n, D]``: every example's gradient of ``fn`` in the eigenbasis, layers concatenated."""
        d = data if isinstance(data, Data) else Data(data, "data")
        rows = []
        for xb, yb in d.batches(self.batch_size, self.device):
            R = self._rotated_batch(xb, yb, fn)
            rows.append(torch.cat([R[w].reshape(xb.shape[0], -1) for w in self.lam], 1))
        return torch.cat(rows)

    def inverse_diag(self, damping: float | None = None) -> torch.Tensor:
        """``1 / (Lambda + damping)`` in the layout of :meth:`rotated`."""
        damping = self.damping if damping is None else damping
        parts = []
        for w, lam in self.lam.items():
            dmp = 0.1 * float(lam.mean()) if damping is None else float(damping)
            if dmp <= 0 and bool((lam <= 0).any()):
                raise AttributionError("EK-FAC: some corrected eigenvalues are 0; use damping > 0")
            parts.append((1.0 / (lam + dmp)).reshape(-1))
        return torch.cat(parts)

    def scores(self, train, target, target_fn: str = "loss", damping: float | None = None) -> np.ndarray:
        """``[n_train, n_target]`` influence scores (positive = train example i lowers target j's loss,
        with ``target_fn="loss"``; with ``"output"`` it raises target j's output)."""
        if not self.lam:
            raise AttributionError("call fit(train) first")
        if target_fn not in ("loss", "output"):
            raise AttributionError(f"target_fn must be 'loss' or 'output', got {target_fn!r}")
        tr = train if isinstance(train, Data) else Data(train, "train")
        Gt = self.rotated(target, target_fn) * self.inverse_diag(damping)
        Gr = self.rotated(tr, "loss")
        sign = 1.0 if target_fn == "loss" else -1.0
        return (sign / tr.n * (Gr @ Gt.T)).cpu().numpy()
