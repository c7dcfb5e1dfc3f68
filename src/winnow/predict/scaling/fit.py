"""Fit scaling laws (Huber loss on log-loss, L-BFGS from a grid of starts) with bootstrap
confidence intervals on parameters and predictions.

The fitting follows Hoffmann et al. (2022), Approach 3: minimise
``Σ_i Huber_δ(LSE(terms_i) − log L_i)`` with ``δ = 1e-3`` by L-BFGS, started from every point
of a grid (or the best ``n_starts`` points of it, ranked by the objective at the start), keeping
the best minimum. All starts, all bootstrap resamples (and, in the coverage study, all trials)
run together through :func:`winnow.predict.scaling.optim.lbfgs_batched`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .laws import Law, get_law
from .optim import lbfgs_batched

HUBER_DELTA = 1e-3


# ---------------------------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------------------------
def _huber(r: np.ndarray, delta: float):
    a = np.abs(r)
    quad = a <= delta
    rho = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    drho = np.clip(r, -delta, delta)
    return rho, drho


class _Problem:
    """P independent Huber fits of one law. Arrays in X / logy / w are ``(n,)`` (shared by every
    problem) or ``(P, n)`` (one row per problem)."""

    def __init__(self, law: Law, X: dict[str, np.ndarray], logy: np.ndarray, w: np.ndarray | None, delta: float):
        self.law, self.X, self.logy, self.w, self.delta = law, X, logy, w, delta

    @staticmethod
    def _take(a, idx):
        return a[idx] if a is not None and np.ndim(a) == 2 else a

    def fg(self, theta: np.ndarray, idx: np.ndarray):
        law = self.law
        X = {c: self._take(v, idx) for c, v in self.X.items()}
        y = self._take(self.logy, idx)
        w = self._take(self.w, idx)
        T, xs, dxr = law.log_terms(theta, X, with_grad=True)
        mx = T.max(-1, keepdims=True)
        ex = np.exp(T - mx)
        se = ex.sum(-1, keepdims=True)
        pred = (mx + np.log(se))[..., 0]
        soft = ex / se
        rho, drho = _huber(pred - y, self.delta)
        if w is None:
            n = rho.shape[-1]
            f = rho.sum(-1) / n
            coef = drho / n
        else:
            tot = np.maximum(np.sum(w, axis=-1, keepdims=True), 1e-300)
            f = (rho * w).sum(-1) / tot[..., 0]
            coef = drho * w / tot
        Wt = soft * coef[..., None]  # (P, n, J)
        pos = {nm: i for i, nm in enumerate(law.fit_names)}
        g = np.zeros_like(theta)
        g[:, pos["e"]] = Wt[..., 0].sum(-1)
        for j, t in enumerate(law.terms, start=1):
            wj = Wt[..., j]
            g[:, pos[t.coef]] = wj.sum(-1)
            g[:, pos[t.exponent]] = -(wj * xs[j - 1]).sum(-1)
            if dxr[j - 1] is not None:
                g[:, pos["r"]] += -(theta[:, pos[t.exponent], None] * wj * dxr[j - 1]).sum(-1)
        bad = ~np.isfinite(f)
        if bad.any():
            f = np.where(bad, np.inf, f)
            g[bad] = 0.0
        return f, g

    def f_grid(self, grid: np.ndarray, P: int, chunk: int = 2_000_000) -> np.ndarray:
        """Objective of every grid start for every problem, ``(P, G)`` (no gradients)."""
        G = grid.shape[0]
        n = self.logy.shape[-1]
        out = np.empty((P, G))
        step = max(1, chunk // max(1, n * G))
        for p0 in range(0, P, step):
            idx = np.arange(p0, min(P, p0 + step))
            X = {c: (v[idx][:, None, :] if np.ndim(v) == 2 else v) for c, v in self.X.items()}
            y = self.logy[idx][:, None, :] if np.ndim(self.logy) == 2 else self.logy
            w = self.w[idx][:, None, :] if self.w is not None and np.ndim(self.w) == 2 else self.w
            # evaluate as a (len(idx)*G) batch by broadcasting theta over problems
            th = np.broadcast_to(grid[None], (idx.size, G, grid.shape[1])).reshape(-1, grid.shape[1])
            Xf = {
                c: (np.broadcast_to(v, (idx.size, G, n)).reshape(-1, n) if np.ndim(v) == 3 else v) for c, v in X.items()
            }
            T = self.law.log_terms(th, Xf)
            mx = T.max(-1)
            pred = (mx + np.log(np.exp(T - mx[..., None]).sum(-1))).reshape(idx.size, G, n)
            rho, _ = _huber(pred - y, self.delta)
            if w is None:
                f = rho.mean(-1)
            else:
                f = (rho * w).sum(-1) / np.maximum(np.sum(w, axis=-1), 1e-300)
            out[idx] = np.where(np.isfinite(f), f, np.inf)
        return out


def _solve(
    law: Law, X, logy, w, starts: np.ndarray, delta: float, maxiter: int = 1000, gtol: float = 1e-9, ftol: float = 1e-11
):
    """Minimise from ``starts`` shaped ``(P, S, k)``; return best theta ``(P, k)`` and its f."""
    P, S, k = starts.shape
    # replicate problem data over the S starts
    rep = lambda a: np.repeat(a, S, axis=0) if a is not None and np.ndim(a) == 2 else a  # noqa: E731
    prob = _Problem(law, {c: rep(v) for c, v in X.items()}, rep(logy), rep(w), delta)
    res = lbfgs_batched(prob.fg, starts.reshape(P * S, k), maxiter=maxiter, gtol=gtol, ftol=ftol)
    f = res.fun.reshape(P, S)
    f = np.where(np.isfinite(f), f, np.inf)
    best = np.argmin(f, axis=1)
    theta = res.x.reshape(P, S, k)[np.arange(P), best]
    return theta, f[np.arange(P), best], res


# ---------------------------------------------------------------------------------------------
# result object
# ---------------------------------------------------------------------------------------------
@dataclass
class ScalingFit:
    """A fitted law: point estimate, bootstrap draws and intervals.

    ``params`` maps natural names (``E``, ``A``, ``alpha``, ``B``, ``beta``, ``R_D_star``) to
    values; ``ci`` maps them to ``(low, high)`` at ``level``; ``boot`` holds the bootstrap draws
    ``(n_boot, k)`` in ``law.param_names`` order.

    Example:
        >>> import numpy as np
        >>> D = np.geomspace(1e6, 1e9, 12)
        >>> f = fit_law("power", D=D, loss=2.0 + 300.0 / D ** 0.3, n_boot=0)
        >>> {k: round(v, 3) for k, v in f.params.items()}
        {'E': 2.0, 'B': 300.0, 'beta': 0.3}
    """

    law: Law
    params: dict[str, float]
    objective: float
    n_points: int
    boot: np.ndarray | None = None
    level: float = 0.95
    bootstrap: str = "none"
    residual_sd: float = float("nan")
    huber_delta: float = HUBER_DELTA
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        if self.boot is None or len(self.boot) == 0:
            return {}
        q = _quantiles(self.boot, self.level)
        return {n: (float(q[0, i]), float(q[1, i])) for i, n in enumerate(self.law.param_names)}

    def param_array(self) -> np.ndarray:
        return np.array([self.params[n] for n in self.law.param_names])

    def predict(self, *, interval: bool = False, **inputs):
        """Predicted loss at ``inputs`` (``N=``, ``D=``, ``U=`` arrays). With ``interval``
        returns ``(pred, low, high)``: the bootstrap percentile interval of the fitted curve
        (a confidence interval for the mean loss, not for one noisy run)."""
        pred = self.law.predict(self.params, **inputs)
        if not interval:
            return pred
        if self.boot is None or len(self.boot) == 0:
            raise ValueError("interval=True needs a fit with n_boot > 0")
        draws = self.law.predict(self.boot, **inputs)
        lo, hi = _quantiles(draws, self.level)
        return pred, lo, hi

    def to_dict(self) -> dict:
        d = {
            "law": self.law.name,
            "formula": self.law.description,
            "params": self.params,
            "ci": {k: list(v) for k, v in self.ci.items()},
            "level": self.level,
            "bootstrap": self.bootstrap,
            "n_boot": 0 if self.boot is None else int(len(self.boot)),
            "n_points": self.n_points,
            "objective": self.objective,
            "huber_delta": self.huber_delta,
            "residual_sd_log": self.residual_sd,
        }
        if self.boot is not None:
            d["boot"] = self.boot.tolist()
        d.update(self.extra)
        return d

    def save(self, path: str) -> None:
        """Write the fit (with bootstrap draws) as JSON; :func:`load_fit` reads it back."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)


def load_fit(path: str) -> ScalingFit:
    """Read a fit written by :meth:`ScalingFit.save` (plain JSON, no pickle)."""
    with open(path) as fh:
        d = json.load(fh)
    law = get_law(d["law"])
    boot = np.asarray(d["boot"], dtype=float) if d.get("boot") else None
    known = {
        "law",
        "formula",
        "params",
        "ci",
        "level",
        "bootstrap",
        "n_boot",
        "n_points",
        "objective",
        "huber_delta",
        "residual_sd_log",
        "boot",
    }
    return ScalingFit(
        law=law,
        params={k: float(v) for k, v in d["params"].items()},
        objective=d["objective"],
        n_points=d["n_points"],
        boot=boot,
        level=d.get("level", 0.95),
        bootstrap=d.get("bootstrap", "none"),
        residual_sd=d.get("residual_sd_log", float("nan")),
        huber_delta=d.get("huber_delta", HUBER_DELTA),
        extra={k: v for k, v in d.items() if k not in known},
    )


def _quantiles(draws: np.ndarray, level: float) -> np.ndarray:
    a = (1.0 - level) / 2.0
    return np.nanquantile(draws, [a, 1.0 - a], axis=0)


# ---------------------------------------------------------------------------------------------
# public fitting API
# ---------------------------------------------------------------------------------------------
def _prepare(law: Law, inputs: dict[str, Any], loss) -> tuple[dict, dict, np.ndarray]:
    missing = [c for c in law.inputs if inputs.get(c) is None]
    if missing:
        raise ValueError(f"law {law.name!r} needs inputs {list(law.inputs)}; missing {missing}")
    y = np.asarray(loss, dtype=float)
    if y.ndim not in (1, 2):
        raise ValueError(f"loss must be 1-D (or 2-D: one row per problem), got shape {y.shape}")
    n = y.shape[-1]
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("loss must be finite and > 0 (fit 1 - accuracy, not accuracy)")
    X, scales = {}, {}
    for c in law.inputs:
        v = np.asarray(inputs[c], dtype=float)
        if v.shape[-1] != n:
            raise ValueError(f"{c} has {v.shape[-1]} values but loss has {n}")
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{c} must be finite and > 0")
        X[c] = v
    # one scale per size axis (U shares D's scale: D' mixes them)
    for c in ("N", "D"):
        if c in X:
            scales[c] = float(np.exp(np.mean(np.log(X[c]))))
    Xs = {c: X[c] / scales["D" if c == "U" else c] for c in X}
    if law.k >= n:
        raise ValueError(f"law {law.name!r} has {law.k} parameters but only {n} points: need more runs")
    return Xs, scales, np.log(y)


def _grid_starts(
    law: Law, prob: _Problem, logy: np.ndarray, scales: dict, P: int, grid: str | np.ndarray, n_starts: int | None
) -> np.ndarray:
    """Best ``n_starts`` grid points per problem, shape ``(P, S, k)`` in fit coordinates."""
    if isinstance(grid, str):
        G = law.grid(logy, grid)
        if grid == "hoffmann":  # raw -> normalised coordinates
            G = law.from_natural(law.to_natural(G), scales)
    else:
        G = np.asarray(grid, dtype=float)
        if G.ndim != 2 or G.shape[1] != law.k:
            raise ValueError(f"grid must be 'auto', 'hoffmann' or an array (G, {law.k}) of natural params")
        G = law.from_natural(G, scales)
    if n_starts is None or n_starts >= len(G):
        return np.broadcast_to(G[None], (P,) + G.shape).copy()
    fg = prob.f_grid(G, P)
    order = np.argsort(fg, axis=1, kind="stable")[:, :n_starts]
    return G[order]


def fit_law(
    law: str | Law = "chinchilla",
    *,
    loss,
    N=None,
    D=None,
    U=None,
    n_boot: int = 200,
    level: float = 0.95,
    bootstrap: str = "pairs",
    seed: int = 0,
    grid: str | np.ndarray = "auto",
    n_starts: int | None = 16,
    boot_starts: int = 0,
    delta: float = HUBER_DELTA,
    maxiter: int = 1000,
) -> ScalingFit:
    """Fit ``law`` to runs (arrays of equal length) and bootstrap it.

    ``bootstrap``: ``pairs`` (default: resample runs with replacement, as multinomial weights;
    measured to cover at or above the nominal rate, see benchmarks/RESULTS.md), ``residual``
    (refit to the fitted curve plus resampled log-space residuals inflated by
    ``sqrt(n / (n − k))``; narrower, but it under-covers a little with this median-like loss) or
    ``none``. ``grid``: ``auto``, ``hoffmann`` or an array of natural-parameter starts; the
    ``n_starts`` best grid points (by the objective at the start) are optimised, ``None``
    optimises all. Each bootstrap refit starts from the point estimate (plus the ``boot_starts``
    best grid points if > 0: the grid search on the full data already found the basin; extra
    far starts cost ~10x and did not change the coverage in our runs).

    Example:
        >>> import numpy as np
        >>> N, D = np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e8, 1e11, 6))
        >>> L = 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28
        >>> f = fit_law("chinchilla", N=N.ravel(), D=D.ravel(), loss=L.ravel(), n_boot=0)
        >>> round(f.params["alpha"], 3), round(f.params["beta"], 3)
        (0.34, 0.28)
    """
    law = get_law(law)
    if bootstrap not in ("residual", "pairs", "none"):
        raise ValueError(f"bootstrap must be 'residual', 'pairs' or 'none', got {bootstrap!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    X, scales, logy = _prepare(law, {"N": N, "D": D, "U": U}, loss)
    if logy.ndim != 1:
        raise ValueError("fit_law takes one data set (1-D loss); see fit_many for a batch")
    res = fit_many(
        law,
        X=X,
        logy=logy[None],
        scales=scales,
        n_boot=n_boot,
        bootstrap=bootstrap,
        seed=seed,
        grid=grid,
        n_starts=n_starts,
        boot_starts=boot_starts,
        delta=delta,
        maxiter=maxiter,
    )
    theta, fval, boot, resid_sd = res["theta"][0], res["f"][0], res["boot"], res["resid_sd"][0]
    nat = law.to_natural(theta, scales)
    params = {n: float(v) for n, v in zip(law.param_names, nat)}
    return ScalingFit(
        law=law,
        params=params,
        objective=float(fval),
        n_points=int(logy.shape[-1]),
        boot=None if boot is None else boot[0],
        level=level,
        bootstrap=bootstrap if n_boot > 0 else "none",
        residual_sd=float(resid_sd),
        huber_delta=delta,
        extra={"scales": scales},
    )


def fit_many(
    law: str | Law,
    *,
    X: dict[str, np.ndarray],
    logy: np.ndarray,
    scales: dict[str, float],
    n_boot: int = 200,
    bootstrap: str = "pairs",
    seed: int = 0,
    grid: str | np.ndarray = "auto",
    n_starts: int | None = 16,
    boot_starts: int = 0,
    delta: float = HUBER_DELTA,
    maxiter: int = 1000,
    smooth: bool = True,
) -> dict:
    """Fit ``P`` data sets at once (``logy`` shaped ``(P, n)`` of log-loss, ``X`` normalised inputs
    shared ``(n,)`` or per data set ``(P, n)``), each with ``n_boot`` bootstrap refits, all in one
    batched L-BFGS per stage. Used by :func:`fit_law` (P = 1) and by the coverage study.

    Returns ``theta`` ``(P, k)`` (fit coordinates), ``f`` ``(P,)``, ``boot`` ``(P, n_boot, k)``
    natural parameters or ``None``, ``resid_sd`` ``(P,)``.
    """
    law = get_law(law)
    logy = np.atleast_2d(np.asarray(logy, dtype=float))
    P, n = logy.shape
    prob = _Problem(law, X, logy, None, delta)
    starts = _grid_starts(law, prob, logy, scales, P, grid, n_starts)
    theta, fbest, _ = _solve(law, X, logy, None, starts, delta, maxiter)
    pred = law.log_predict(theta, {c: (v if np.ndim(v) == 2 else v) for c, v in X.items()})
    resid = logy - pred
    resid_sd = resid.std(axis=1, ddof=0) * np.sqrt(n / max(n - law.k, 1))
    boot = None
    if n_boot > 0 and bootstrap != "none":
        rng = np.random.default_rng(seed)
        # starts for each refit: the point estimate + the best grid points of the original data
        bs = [theta[:, None, :]]
        if boot_starts > 0:
            bs.append(starts[:, :boot_starts])
        bstarts = np.concatenate(bs, axis=1)  # (P, S, k)
        bstarts = np.repeat(bstarts, n_boot, axis=0)  # (P*B, S, k)
        rep = lambda a: np.repeat(a, n_boot, axis=0) if np.ndim(a) == 2 else a  # noqa: E731
        Xb = {c: rep(v) for c, v in X.items()}
        if bootstrap == "residual":
            infl = np.sqrt(n / max(n - law.k, 1))
            centred = (resid - resid.mean(axis=1, keepdims=True)) * infl
            pick = rng.integers(0, n, size=(P, n_boot, n))
            estar = np.take_along_axis(centred[:, None, :].repeat(n_boot, 1), pick, axis=2)
            if smooth:
                # smoothed bootstrap (Silverman bandwidth, variance-preserving shrink): the Huber
                # fit with a tiny delta is median-like, and resampling its residuals alone puts a
                # spike at 0 (the points it interpolates), which understates its variance
                sd = centred.std(axis=1)
                iqr = np.subtract(*np.quantile(centred, [0.75, 0.25], axis=1)) / 1.349
                h = 0.9 * np.minimum(sd, np.where(iqr > 0, iqr, sd)) * n**-0.2
                shrink = 1.0 / np.sqrt(1.0 + (h / np.maximum(sd, 1e-300)) ** 2)
                estar = (estar + h[:, None, None] * rng.standard_normal(estar.shape)) * shrink[:, None, None]
            ystar = pred[:, None, :] + estar
            yb = ystar.reshape(P * n_boot, n)
            wb = None
        else:
            yb = np.repeat(logy, n_boot, axis=0)
            wb = rng.multinomial(n, np.full(n, 1.0 / n), size=P * n_boot).astype(float)
        tb, _, _ = _solve(law, Xb, yb, wb, bstarts, delta, maxiter)
        boot = law.to_natural(tb, scales).reshape(P, n_boot, law.k)
    return {"theta": theta, "f": fbest, "boot": boot, "resid_sd": resid_sd, "starts": starts}


def fit_runs(
    runs, law: str | Law = "auto", *, recipe: str | None = None, exclude_largest: int = 0, **kwargs
) -> ScalingFit:
    """Fit a law to :class:`winnow.predict.scaling.io.Runs` (one recipe at a time).

    ``law="auto"`` picks ``chinchilla`` when the runs vary both N and D, ``data-constrained-1d``
    / ``data-constrained`` when a unique-data column shows repetition, else ``power`` on D (or on
    N). ``exclude_largest`` holds out the runs at the k largest D (or N) values, for an
    extrapolation check; they are listed in ``fit.extra["held_out"]``. Metrics where higher is
    better must be transformed first (fit ``1 − accuracy``).
    """
    if recipe is not None:
        runs = runs.subset(runs.recipe == recipe)
        if len(runs) == 0:
            raise ValueError(f"no runs for recipe {recipe!r}")
    elif len(runs.recipes()) > 1:
        raise ValueError(
            f"runs hold several recipes {runs.recipes()}: choose one (recipe= in Python, --recipe on the CLI)"
        )
    varies = lambda a: a is not None and len(np.unique(a[np.isfinite(a)])) > 1  # noqa: E731
    repeated = runs.U is not None and runs.D is not None and bool(np.any(runs.D > runs.U * (1 + 1e-9)))
    if law == "auto":
        if varies(runs.N) and varies(runs.D):
            law = "data-constrained" if repeated else "chinchilla"
        elif varies(runs.D):
            law = "data-constrained-1d" if repeated else "power"
        elif varies(runs.N):
            law = "power-N"
        else:
            raise ValueError("runs vary neither N nor D: nothing to fit")
    axis_N = law == "power-N"
    lw = get_law("power" if axis_N else law)
    size = runs.N if axis_N else runs.D
    held = np.zeros(len(runs), dtype=bool)
    if exclude_largest:
        if size is None:
            raise ValueError("exclude_largest needs a D (or N) column")
        top = np.unique(size)[-int(exclude_largest) :]
        held = np.isin(size, top)
    keep = ~held
    inputs = {"N": runs.N, "D": runs.N if axis_N else runs.D, "U": runs.U}
    inputs = {k: (None if v is None else v[keep]) for k, v in inputs.items() if k in lw.inputs}
    f = fit_law(lw, loss=runs.loss[keep], **inputs, **kwargs)
    f.extra["axis"] = "N" if axis_N else "D"
    f.extra["metric"] = runs.metric_name
    if held.any():
        f.extra["held_out"] = {
            "N": None if runs.N is None else runs.N[held].tolist(),
            "D": None if runs.D is None else runs.D[held].tolist(),
            "U": None if runs.U is None else runs.U[held].tolist(),
            "loss": runs.loss[held].tolist(),
        }
    return f
