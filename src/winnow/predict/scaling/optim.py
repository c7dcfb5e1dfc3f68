"""Batched L-BFGS: many small, independent minimisation problems solved in lock-step with numpy.

Scaling-law fitting needs thousands of tiny (3–7 parameter) fits: every start of the
initialisation grid, every bootstrap resample, every trial of a coverage study. Looping over
``scipy.optimize.minimize`` costs ~ms of Python per fit; stacking them into one big L-BFGS
problem mixes their curvature and makes each converge only as fast as the worst. Here each
problem keeps its *own* L-BFGS history, step length and convergence flag, while every
arithmetic operation runs over the whole batch at once (arrays shaped ``(P, k)``).

The algorithm is textbook L-BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a backtracking Armijo
line search; curvature pairs with ``s·y <= 0`` are skipped, so the inverse-Hessian
approximation stays positive definite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

FG = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class BatchResult:
    x: np.ndarray  # (P, k) minimisers
    fun: np.ndarray  # (P,) objective values
    grad_norm: np.ndarray  # (P,) max-abs gradient at x
    nit: np.ndarray  # (P,) iterations used
    converged: np.ndarray  # (P,) bool


def lbfgs_batched(
    fg: FG,
    x0: np.ndarray,
    *,
    m: int = 10,
    maxiter: int = 500,
    gtol: float = 1e-9,
    ftol: float = 1e-13,
    max_ls: int = 40,
    c1: float = 1e-4,
) -> BatchResult:
    """Minimise P independent objectives at once.

    ``fg(x, idx)`` returns ``(f, g)`` for the problems ``idx`` (an int array) at points ``x``
    (shape ``(len(idx), k)``): ``f`` shape ``(len(idx),)``, ``g`` shape ``(len(idx), k)``.

    Example:
        >>> import numpy as np
        >>> c = np.array([[1.0, 2.0], [-3.0, 0.5]])
        >>> fg = lambda x, i: (((x - c[i]) ** 2).sum(1), 2 * (x - c[i]))
        >>> np.round(lbfgs_batched(fg, np.zeros((2, 2))).x, 6).tolist()
        [[1.0, 2.0], [-3.0, 0.5]]
    """
    x = np.array(x0, dtype=float, copy=True)
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (P, k), got {x.shape}")
    P, k = x.shape
    all_idx = np.arange(P)
    f, g = fg(x, all_idx)
    S = np.zeros((P, m, k))
    Y = np.zeros((P, m, k))
    rho = np.zeros((P, m))  # 0 marks an empty / skipped slot (a no-op in the recursion)
    gamma = np.ones(P)  # initial inverse-Hessian scale, per problem
    nit = np.zeros(P, dtype=int)
    active = np.max(np.abs(g), axis=1) > gtol
    order_cache: list[int] = []
    for it in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        xa, fa, ga = x[idx], f[idx], g[idx]
        Sa, Ya, ra = S[idx], Y[idx], rho[idx]
        # two-loop recursion, newest pair first (slot order is shared: a ring buffer)
        q = ga.copy()
        alph = np.zeros((idx.size, m))
        for j in reversed(order_cache):
            a = ra[:, j] * np.einsum("pk,pk->p", Sa[:, j], q)
            alph[:, j] = a
            q -= a[:, None] * Ya[:, j]
        r = gamma[idx, None] * q
        for j in order_cache:
            b = ra[:, j] * np.einsum("pk,pk->p", Ya[:, j], r)
            r += Sa[:, j] * (alph[:, j] - b)[:, None]
        d = -r
        gd = np.einsum("pk,pk->p", ga, d)
        bad = ~(gd < 0) | ~np.isfinite(gd)
        if bad.any():  # not a descent direction: restart that problem from steepest descent
            d[bad] = -ga[bad]
            gd[bad] = -np.einsum("pk,pk->p", ga[bad], ga[bad])
            rho[idx[bad]] = 0.0
            gamma[idx[bad]] = 1.0
        # first step of a fresh history: keep the trial step modest
        fresh = rho[idx].max(axis=1) == 0
        t = np.ones(idx.size)
        dn = np.max(np.abs(d), axis=1)
        t[fresh] = np.minimum(1.0, 1.0 / np.maximum(dn[fresh], 1e-300))
        # backtracking Armijo line search, vectorised over the problems still searching
        xn = xa.copy()
        fn = fa.copy()
        gn = ga.copy()
        pending = np.arange(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        for _ in range(max_ls):
            xt = xa[pending] + t[pending, None] * d[pending]
            ft, gt = fg(xt, idx[pending])
            ok = np.isfinite(ft) & (ft <= fa[pending] + c1 * t[pending] * gd[pending])
            okp = pending[ok]
            xn[okp], fn[okp], gn[okp] = xt[ok], ft[ok], gt[ok]
            accepted[okp] = True
            pending = pending[~ok]
            if pending.size == 0:
                break
            t[pending] *= 0.5
        s = xn - xa
        y = gn - ga
        sy = np.einsum("pk,pk->p", s, y)
        yy = np.einsum("pk,pk->p", y, y)
        slot = it % m
        good = accepted & (sy > 1e-12 * np.sqrt(np.einsum("pk,pk->p", s, s) * yy + 1e-300))
        S[idx, slot] = s
        Y[idx, slot] = y
        rho[idx, slot] = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
        gamma[idx[good]] = sy[good] / yy[good]
        if slot in order_cache:
            order_cache.remove(slot)
        order_cache.append(slot)
        df = fa - fn
        x[idx], f[idx], g[idx] = xn, fn, gn
        nit[idx] += 1
        gmax = np.max(np.abs(gn), axis=1)
        done = (gmax <= gtol) | (accepted & (df <= ftol * np.maximum(np.abs(fn), 1e-300)) & (df >= 0))
        # a failed line search restarts that problem's history once; failing again from steepest
        # descent means it sits at machine precision
        failed = ~accepted
        done |= failed & fresh
        restart = idx[failed & ~fresh]
        rho[restart] = 0.0
        gamma[restart] = 1.0
        active[idx[done]] = False
    gmax = np.max(np.abs(g), axis=1)
    return BatchResult(x=x, fun=f, grad_norm=gmax, nit=nit, converged=~active)
