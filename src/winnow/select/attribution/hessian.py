"""Hessian of the mean training loss: explicit (small models), or Hessian-vector products for
conjugate gradient and LiSSA (larger ones). All in the flattened space of the selected params."""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, grad, jvp, vjp, vmap

from winnow.select.attribution.data import AttributionError, Data
from winnow.select.attribution.grads import GradFn, eval_mode


class HVP:
    """``v -> (mean_i H_i) v`` for a batch of vectors ``V [m, P]``, over all (or a sample of) the
    training batches."""

    def __init__(self, gf: GradFn, data: Data, batch_size: int, kind: str = "hessian"):
        if kind not in ("hessian", "gauss_newton"):
            raise AttributionError(f"hessian must be 'hessian' or 'gauss_newton', got {kind!r}")
        self.gf, self.data, self.batch_size, self.kind = gf, data, batch_size, kind
        spec = gf.spec
        self.theta = spec.flatten(gf.params()).detach()
        task = gf.task

        def batch_loss(flat, x, y):
            p = spec.unflatten(flat)
            state = {**gf.frozen, **{"model." + n: v for n, v in p.items()}}
            out = functional_call(gf.wrapped, state, (x,))
            return task.loss(out, y).sum()

        def hvp_one(v, x, y):
            return jvp(lambda t: grad(batch_loss)(t, x, y), (self.theta,), (v,))[1]

        def outputs(flat, x):
            p = spec.unflatten(flat)
            state = {**gf.frozen, **{"model." + n: v for n, v in p.items()}}
            return functional_call(gf.wrapped, state, (x,))

        def gnh_one(v, x, y):  # J^T (d^2 loss / d out^2) J v: positive semi-definite for convex losses
            out, jv = jvp(lambda t: outputs(t, x), (self.theta,), (v,))
            hjv = jvp(lambda o: grad(lambda o2: task.loss(o2, y).sum())(o), (out.detach(),), (jv,))[1]
            return vjp(lambda t: outputs(t, x), self.theta)[1](hjv)[0]

        self._hvp = vmap(hvp_one if kind == "hessian" else gnh_one, in_dims=(0, None, None))

    def batch(self, V: torch.Tensor, x, y) -> torch.Tensor:
        """Sum over the examples of one batch of ``H_i V`` (not divided by n)."""
        return self._hvp(V.to(self.theta.dtype), x, y)

    def __call__(self, V: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        dev = self.theta.device
        out = torch.zeros(V.shape[0], V.shape[1], dtype=self.theta.dtype, device=dev)
        with eval_mode(self.gf.model):
            for xb, yb in self.data.batches(self.batch_size, dev):
                for s in range(0, V.shape[0], chunk):
                    out[s : s + chunk] += self.batch(V[s : s + chunk].to(dev), xb, yb)
        return out / self.data.n


def explicit_hessian(hvp: HVP, chunk: int | None = None) -> np.ndarray:
    """The full ``P x P`` Hessian of the mean loss (float64), built column-block by column-block.
    ``chunk`` (basis vectors per vmapped HVP call) defaults to all P when ``P * batch`` is small
    (one call per data batch: several times faster than splitting), else as many as fit 2**19."""
    P = hvp.theta.numel()
    H = linear_softmax_hessian(hvp)
    if H is not None:
        return H
    if chunk is None:
        chunk = min(P, max(64, (1 << 19) // max(1, hvp.batch_size)))
    H = np.empty((P, P), dtype=np.float64)
    for s in range(0, P, chunk):
        e = min(P, s + chunk)
        E = torch.zeros(e - s, P, dtype=hvp.theta.dtype, device=hvp.theta.device)
        E[torch.arange(e - s), torch.arange(s, e)] = 1.0
        H[s:e] = hvp(E, chunk=chunk).double().cpu().numpy()
    return 0.5 * (H + H.T)


def solve_exact(H: np.ndarray, B: np.ndarray, damping: float) -> np.ndarray:
    """``(H + damping I)^{-1} B``. A Cholesky solve first (the usual, convex case); for indefinite
    Hessians (non-convex models) an eigendecomposition with negative curvature clipped to 0 before
    damping, so the system is always positive definite. (torch linear algebra: it honours
    ``torch.set_num_threads``.)"""
    Ht = torch.as_tensor(H, dtype=torch.float64)
    Bt = torch.as_tensor(B, dtype=torch.float64)
    A = Ht.clone()
    A.diagonal().add_(damping)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0 and bool((L.diagonal() > 1e-12 * max(1.0, float(A.diagonal().abs().max()))).all()):
        return torch.cholesky_solve(Bt, L).numpy()
    w, U = torch.linalg.eigh(Ht)
    w = w.clamp(min=0.0) + damping
    if bool((w <= 0).any()):
        raise AttributionError("damping must be > 0 when the Hessian is singular")
    return (U @ ((U.T @ Bt) / w[:, None])).numpy()


class IndefiniteSystemWarning(RuntimeWarning):
    """A linear system ``(H + damping I) x = b`` met negative curvature: H + damping I is not positive
    definite (a non-convex model's Hessian with too little damping). The solver switched to MINRES,
    which is sound for symmetric indefinite systems; for influence scores prefer
    ``hessian="gauss_newton"`` (positive semi-definite) or more damping."""


def _as_op(hvp, damping: float, dev, dt):
    if callable(hvp) and not isinstance(hvp, HVP):
        return lambda V: hvp(V).to(dt) + damping * V
    return lambda V: hvp(V.to(hvp.theta.dtype)).to(dt) + damping * V


def _device(hvp, B):
    return hvp.theta.device if isinstance(hvp, HVP) else B.device


def solve_cg(
    hvp, B: torch.Tensor, damping: float, max_iter: int = 100, tol: float = 1e-7, on_indefinite: str = "minres"
) -> torch.Tensor:
    """Solve ``(H + damping I) X = B`` for all columns of ``B [P, m]`` at once (vectorised CG).

    ``hvp``: an :class:`HVP`, or any callable ``V [m, P] -> (H V^T)^T [m, P]`` (symmetric H).
    CG is only sound for positive definite systems. A column whose search direction meets
    ``p^T (H + damping I) p <= 0`` is stopped there; then, with ``on_indefinite="minres"`` (default),
    those columns are re-solved with :func:`solve_minres` and an :class:`IndefiniteSystemWarning` is
    issued; ``on_indefinite="raise"`` raises :class:`AttributionError` instead.

    Example:
        >>> import torch, warnings
        >>> H = torch.diag(torch.tensor([1.0, -0.5], dtype=torch.float64))
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     x = solve_cg(lambda V: V @ H, torch.ones(2, 1, dtype=torch.float64), damping=0.1)
        >>> [round(float(v), 3) for v in x[:, 0]], w[0].category.__name__
        ([0.909, -2.5], 'IndefiniteSystemWarning')
    """
    if on_indefinite not in ("minres", "raise"):
        raise AttributionError(f"on_indefinite must be 'minres' or 'raise', got {on_indefinite!r}")
    dev, dt = _device(hvp, B), torch.float64
    Bt = B.T.to(dev, dt).contiguous()  # [m, P]
    A = _as_op(hvp, damping, dev, dt)

    X = torch.zeros_like(Bt)
    R = Bt.clone()
    Pd = R.clone()
    rs = (R * R).sum(1)
    bnorm = rs.sqrt().clamp(min=1e-30)
    bad = torch.zeros_like(rs, dtype=torch.bool)
    for _ in range(max_iter):
        active = (rs.sqrt() / bnorm > tol) & ~bad
        if not bool(active.any()):
            break
        AP = A(Pd)
        pap = (Pd * AP).sum(1)
        # negative (or zero) curvature along p: CG's step is meaningless there; stop the column
        neg = active & (pap <= 1e-14 * (Pd * Pd).sum(1) * max(1.0, abs(damping)))
        bad |= neg
        active = active & ~neg
        alpha = torch.where(active, rs / pap.clamp(min=1e-300), torch.zeros_like(rs))
        X += alpha[:, None] * Pd
        R -= alpha[:, None] * AP
        rs_new = torch.where(active, (R * R).sum(1), rs)
        beta = torch.where(active, rs_new / rs.clamp(min=1e-300), torch.ones_like(rs))
        Pd = torch.where(active[:, None], R + beta[:, None] * Pd, Pd)
        rs = rs_new
    if bool(bad.any()):
        nb = int(bad.sum())
        msg = (
            f"conjugate gradient met negative curvature in {nb} of {len(bad)} column(s): H + damping I "
            f"(damping={damping:g}) is indefinite"
        )
        if on_indefinite == "raise":
            raise AttributionError(msg + "; use hessian='gauss_newton' or more damping")
        import warnings

        warnings.warn(
            IndefiniteSystemWarning(
                msg + "; those columns were re-solved with MINRES (for influence scores prefer "
                "hessian='gauss_newton' or more damping)"
            ),
            stacklevel=2,
        )
        idx = torch.nonzero(bad)[:, 0]
        X[idx] = solve_minres(hvp, Bt[idx].T, damping, max_iter=2 * max_iter, tol=tol).T
    return X.T


def solve_minres(hvp, B: torch.Tensor, damping: float, max_iter: int = 200, tol: float = 1e-7) -> torch.Tensor:
    """MINRES (Paige & Saunders 1975) for ``(H + damping I) X = B``, all columns of ``B [P, m]`` at once:
    sound for symmetric indefinite (nonsingular) systems, where CG is not. Same ``hvp`` as :func:`solve_cg`."""
    dev, dt = _device(hvp, B), torch.float64
    Bt = B.T.to(dev, dt).contiguous()
    A = _as_op(hvp, damping, dev, dt)
    m = Bt.shape[0]
    z = lambda: torch.zeros(m, dtype=dt, device=dev)  # noqa: E731
    X = torch.zeros_like(Bt)
    r1, r2, y = Bt.clone(), Bt.clone(), Bt.clone()
    beta1 = Bt.norm(dim=1)
    beta, oldb, dbar, epsln, phibar = beta1.clone(), z(), z(), z(), beta1.clone()
    cs, sn = -torch.ones(m, dtype=dt, device=dev), z()
    w, w2 = torch.zeros_like(Bt), torch.zeros_like(Bt)
    done = beta1 == 0
    tiny = torch.finfo(dt).tiny
    for it in range(max_iter):
        live = ~done
        if not bool(live.any()):
            break
        s = torch.where(live, 1.0 / beta.clamp(min=tiny), z())
        v = s[:, None] * y
        y = A(v)
        if it > 0:
            y = y - (beta / oldb.clamp(min=tiny))[:, None] * r1
        alfa = (v * y).sum(1)
        y = y - (alfa / beta.clamp(min=tiny))[:, None] * r2
        r1, r2 = r2, y
        oldb, beta = beta, y.norm(dim=1)
        oldeps = epsln
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        gamma = torch.hypot(gbar, beta).clamp(min=tiny)
        cs, sn = gbar / gamma, beta / gamma
        phi = cs * phibar
        phibar = sn * phibar
        w1, w2 = w2, w
        w = (v - oldeps[:, None] * w1 - delta[:, None] * w2) / gamma[:, None]
        X = X + torch.where(live, phi, z())[:, None] * w
        done = done | (phibar <= tol * beta1) | (beta <= tiny)
    return X.T


def solve_lissa(
    hvp: HVP,
    B: torch.Tensor,
    damping: float,
    depth: int = 200,
    repeat: int = 1,
    scale: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """LiSSA (Agarwal et al.; Koh & Liang): ``h <- b + (I - (H_batch + damping I)/scale) h``,
    ``depth`` steps on random mini-batches, averaged over ``repeat`` runs; returns ``h / scale``.
    ``scale`` must exceed the largest eigenvalue of H + damping (estimated by power iteration when None)."""
    dev, dt = hvp.theta.device, hvp.theta.dtype
    Bt = B.T.to(dev, dt).contiguous()
    data = hvp.data
    bs = batch_size or hvp.batch_size
    gen = torch.Generator().manual_seed(seed)
    if scale is None:
        v = torch.randn(1, Bt.shape[1], generator=gen, dtype=dt).to(dev)
        for _ in range(20):
            hv = hvp(v)
            lam = float(hv.norm() / v.norm())
            v = hv / hv.norm()
        scale = 1.5 * (lam + damping)
    total = torch.zeros_like(Bt)
    for _ in range(repeat):
        h = Bt.clone()
        for _ in range(depth):
            idx = torch.randint(0, data.n, (bs,), generator=gen)
            xb, yb = _gather(data, idx, dev)
            with eval_mode(hvp.gf.model):
                Hh = hvp.batch(h, xb, yb) / len(idx)
            h = Bt + h - (Hh + damping * h) / scale
        total += h / scale
    return (total / repeat).T


def _gather(data: Data, idx: torch.Tensor, dev):
    if data.dataset is None:
        return data.X[idx].to(dev), data.y[idx].to(dev)
    items = [data.dataset[int(i)] for i in idx]
    return (
        torch.stack([torch.as_tensor(a) for a, _ in items]).to(dev),
        torch.stack([torch.as_tensor(b) for _, b in items]).to(dev),
    )


def linear_softmax_hessian(hvp: HVP, dtype=torch.float64) -> np.ndarray | None:
    """Closed-form Hessian of the mean cross-entropy of a softmax-linear model (multinomial logistic
    regression / a linear probe: ``model`` is one ``nn.Linear``, task ``ClassificationTask``):
    ``H = mean_i (diag(p_i) - p_i p_i^T) (x) [x_i, 1][x_i, 1]^T``, i.e. block (c, c') =
    ``X~^T diag(delta_cc' p_c - p_c p_c') X~ / n``: one ``[n, C*D]`` Gram matrix plus C small
    diagonal blocks, no P Hessian-vector products. Exact (the Gauss-Newton and the true Hessian
    coincide for a linear model). Returns None when the model/task/parameters are not that case."""
    from winnow.select.attribution.task import ClassificationTask

    gf = hvp.gf
    model = gf.model
    names = list(gf.spec.names)
    if (
        type(gf.task) is not ClassificationTask
        or not isinstance(model, torch.nn.Linear)
        or "weight" not in names
        or not set(names) <= {"weight", "bias"}
    ):
        return None
    W = model.weight.detach().to(dtype)
    b = model.bias.detach().to(dtype) if model.bias is not None else None
    C, d = W.shape
    has_b = "bias" in names
    D = d + int(has_b)
    dev = W.device
    Gram = torch.zeros(C * D, C * D, dtype=dtype, device=dev)
    diag = torch.zeros(C, D, D, dtype=dtype, device=dev)
    for xb, _ in hvp.data.batches(max(hvp.batch_size, 1024), dev):
        x = xb.reshape(xb.shape[0], -1).to(dtype)
        logits = x @ W.T + (b if b is not None else 0.0)
        p = torch.softmax(logits, dim=1)  # [B, C]
        xt = torch.cat([x, torch.ones(x.shape[0], 1, dtype=dtype, device=dev)], 1) if has_b else x
        Z = (p[:, :, None] * xt[:, None, :]).reshape(x.shape[0], C * D)
        Gram.addmm_(Z.T, Z)
        diag += torch.einsum("bc,bd,be->cde", p, xt, xt)
    H4 = -Gram.view(C, D, C, D)
    idx = torch.arange(C, device=dev)
    H4[idx, :, idx, :] += diag
    H4 /= hvp.data.n
    # reorder from [(c, a)] with a = bias slot last to the flattened spec: weight (C x d row-major) then bias
    pos = torch.arange(C * D).view(C, D)
    order = {"weight": pos[:, :d].reshape(-1)}
    if has_b:
        order["bias"] = pos[:, d]
    perm = torch.cat([order[n] for n in names])
    H = H4.reshape(C * D, C * D)[perm][:, perm]
    return (0.5 * (H + H.T)).cpu().numpy()


def subset(data: Data, idx: np.ndarray, name: str = "train") -> Data:
    """The rows ``idx`` of ``data`` as a new :class:`Data`."""
    if data.dataset is None:
        t = torch.as_tensor(np.asarray(idx))
        return Data((data.X[t], data.y[t]), name)
    return Data(torch.utils.data.Subset(data.dataset, [int(i) for i in idx]), name)


def top_eigenvalue(hvp, n_iter: int = 20, seed: int = 0) -> float:
    """The largest eigenvalue of a positive semi-definite ``hvp`` by power iteration."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(1, hvp.theta.numel(), generator=gen, dtype=hvp.theta.dtype).to(hvp.theta.device)
    lam = 0.0
    for _ in range(n_iter):
        hv = hvp(v)
        lam = float(hv.norm() / v.norm())
        if lam == 0.0:
            break
        v = hv / hv.norm()
    return lam


def auto_damping(
    gf: GradFn,
    data: Data,
    G_probe: torch.Tensor,
    G_train: torch.Tensor,
    *,
    kind: str = "gauss_newton",
    batch_size: int = 256,
    threshold: float = 0.75,
    steps_per_decade: int = 2,
    decades: int = 4,
    max_iter: int = 100,
    tol: float = 1e-7,
    seed: int = 0,
) -> tuple[float, list[tuple[float, float]]]:
    """The smallest damping at which influence scores are reproducible across halves of the data.

    Split the training set into two random halves A and B, build the (Gauss-Newton) Hessian of
    each, and for a ladder of dampings ``lambda = top_eigenvalue(H) * 10**(-k / steps_per_decade)``,
    k = 1, 2, ..., solve ``(H_A + lambda I)^-1 g`` and ``(H_B + lambda I)^-1 g`` for the probe
    target gradients ``G_probe [m, P]``; the scores of the training gradients ``G_train [k, P]``
    under A and under B correlate (Pearson per probe, averaged) close to 1 for large damping
    (both tend to gradient similarity) and fall as the damping shrinks and the inverse starts to
    amplify directions that one half of the data cannot pin down. Walks down the ladder until the
    correlation drops below ``threshold``; returns the damping where it crosses ``threshold``
    (log-linear interpolation between the last two rungs; the first rung if it is already below;
    the last if it never is), and the ladder as ``[(lambda, correlation), ...]``. Scale-free: the
    ladder is relative to the top eigenvalue.
    """
    n = data.n
    if n < 4:
        return 0.03, []
    perm = np.random.default_rng(seed).permutation(n)
    ha = HVP(gf, subset(data, np.sort(perm[: n // 2])), batch_size, kind=kind)
    hb = HVP(gf, subset(data, np.sort(perm[n // 2 :])), batch_size, kind=kind)
    top = max(top_eigenvalue(HVP(gf, data, batch_size, kind=kind), seed=seed), 1e-12)
    Bp = G_probe.T.to(ha.theta.dtype)
    Gtr = G_train.to(ha.theta.dtype)
    ladder: list[tuple[float, float]] = []
    best = None
    for k in range(1, decades * steps_per_decade + 1):
        lam = top * 10 ** (-k / steps_per_decade)
        Sa = Gtr @ solve_cg(ha, Bp, lam, max_iter=max_iter, tol=tol).to(Gtr)
        Sb = Gtr @ solve_cg(hb, Bp, lam, max_iter=max_iter, tol=tol).to(Gtr)
        Sa, Sb = Sa - Sa.mean(0), Sb - Sb.mean(0)
        den = (Sa.norm(dim=0) * Sb.norm(dim=0)).clamp(min=1e-300)
        corr = float(((Sa * Sb).sum(0) / den).mean())
        ladder.append((lam, corr))
        if corr < threshold:
            if best is not None:  # interpolate log(lambda) linearly in the correlation between the two rungs
                (l1, c1), (l0, c0) = ladder[-2], ladder[-1]
                best = float(np.exp(np.log(l1) + (c1 - threshold) / (c1 - c0) * (np.log(l0) - np.log(l1))))
            break
        best = lam
    return (best if best is not None else ladder[0][0]), ladder
