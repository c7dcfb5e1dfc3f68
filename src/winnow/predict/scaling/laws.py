"""Scaling-law families, in the log-sum-exp form of Hoffmann et al. (2022), Approach 3.

Every law here is ``L = E + Σ_j A_j / x_j^{α_j}`` and is fitted in log space as

    log L = LSE(e, a_1 − α_1 log x_1, a_2 − α_2 log x_2, ...),   E = exp(e), A_j = exp(a_j)

so the fitted coefficients stay positive without constraints and the Huber loss on
``log L`` is smooth in the parameters.

Laws (``get_law(name)``):

- ``power``: ``L(D) = E + B / D^β`` (one axis: data, or any other size variable).
- ``chinchilla``: ``L(N, D) = E + A / N^α + B / D^β`` (Hoffmann et al. 2022).
- ``data-constrained``: ``L(N, D, U) = E + A / N^α + B / D'^β`` with the effective data of
  Muennighoff et al. (2023), ``D' = U + U·R*·(1 − exp(−R / R*))``, ``R = D / U − 1`` repeated
  epochs beyond the first, ``U`` unique tokens and the decay constant ``R* = exp(r)`` fitted.
  Without an ``N`` column it drops the ``A / N^α`` term (``data-constrained-1d``).
  Muennighoff's analogous effective *parameters* (excess parameters decaying with ``R_N*``) are
  not modelled: it needs the compute-optimal ``N`` of the law being fitted inside the fit.

Inputs are normalised internally (each size variable divided by its geometric mean in the
data) so the optimiser sees well-conditioned coordinates; the reported ``A``/``B`` are in the
caller's units. The minimiser is the same as the raw parameterisation's: only the path to it
changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np


@dataclass(frozen=True)
class Term:
    coef: str  # name of the log-coefficient fit parameter (e.g. "a"), natural name is upper-case
    exponent: str  # name of the exponent (e.g. "alpha")
    var: str  # input column: "N", "D" or "D_eff" (effective data, needs "D" and "U")


@dataclass(frozen=True)
class Law:
    """A law ``L = exp(e) + Σ exp(coef) / var^exponent`` (plus an optional decay ``r``)."""

    name: str
    terms: tuple[Term, ...]
    decay: bool = False  # fits r = log R* of the effective-data formula
    description: str = ""
    fit_names: tuple[str, ...] = field(init=False)
    param_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        fit = ["e"]
        for t in self.terms:
            fit += [t.coef, t.exponent]
        if self.decay:
            fit.append("r")
        object.__setattr__(self, "fit_names", tuple(fit))
        object.__setattr__(self, "param_names", tuple(_NATURAL[n] for n in fit))

    @property
    def inputs(self) -> tuple[str, ...]:
        cols: list[str] = []
        for t in self.terms:
            for c in ("D", "U") if t.var == "D_eff" else (t.var,):
                if c not in cols:
                    cols.append(c)
        return tuple(cols)

    @property
    def k(self) -> int:
        return len(self.fit_names)

    # ---- parameter transforms -------------------------------------------------------------
    def to_natural(self, theta: np.ndarray, scales: dict[str, float] | None = None) -> np.ndarray:
        """Fit coordinates (normalised inputs) -> natural parameters in the caller's units.

        Column order is ``param_names``, e.g. ``(E, A, alpha, B, beta)``.
        """
        th = np.asarray(theta, dtype=float)
        out = np.array(th, copy=True)
        pos = {n: i for i, n in enumerate(self.fit_names)}
        scales = scales or {}
        out[..., pos["e"]] = np.exp(th[..., pos["e"]])
        for t in self.terms:
            s = scales.get("D" if t.var == "D_eff" else t.var, 1.0)
            # A_s / (x/s)^α = (A_s s^α) / x^α
            out[..., pos[t.coef]] = np.exp(th[..., pos[t.coef]] + th[..., pos[t.exponent]] * np.log(s))
        if self.decay:
            out[..., pos["r"]] = np.exp(th[..., pos["r"]])
        return out

    def from_natural(self, params, scales: dict[str, float] | None = None) -> np.ndarray:
        """Inverse of :meth:`to_natural`. ``params`` is a dict by natural name or an array."""
        if isinstance(params, dict):
            missing = [n for n in self.param_names if n not in params]
            if missing:
                raise ValueError(f"params is missing {missing} for law {self.name!r}")
            arr = np.array([float(params[n]) for n in self.param_names])
        else:
            arr = np.asarray(params, dtype=float)
        if np.any(arr[..., 0] <= 0):
            raise ValueError("params: E must be > 0")
        th = np.array(arr, copy=True)
        pos = {n: i for i, n in enumerate(self.fit_names)}
        scales = scales or {}
        th[..., pos["e"]] = np.log(arr[..., pos["e"]])
        for t in self.terms:
            s = scales.get("D" if t.var == "D_eff" else t.var, 1.0)
            c = arr[..., pos[t.coef]]
            if np.any(c <= 0):
                raise ValueError(f"params: {_NATURAL[t.coef]} must be > 0")
            th[..., pos[t.coef]] = np.log(c) - arr[..., pos[t.exponent]] * np.log(s)
        if self.decay:
            if np.any(arr[..., pos["r"]] <= 0):
                raise ValueError("params: R_D_star must be > 0")
            th[..., pos["r"]] = np.log(arr[..., pos["r"]])
        return th

    # ---- evaluation -----------------------------------------------------------------------
    def log_terms(self, theta: np.ndarray, X: dict[str, np.ndarray], with_grad: bool = False):
        """Log of each additive term, shape ``(P, n, J)``; ``theta`` is ``(P, k)`` in fit
        coordinates, ``X`` maps columns to ``(n,)`` or ``(P, n)`` arrays of *normalised* inputs.

        With ``with_grad`` also returns, per term, the derivative of its log-variable w.r.t. r
        (``None`` where the term does not depend on r) and the log-variables themselves.
        """
        pos = {n: i for i, n in enumerate(self.fit_names)}
        P = theta.shape[0]
        logs = []
        dxr = []
        xs = []
        n = _n_rows(X)
        logs.append(np.broadcast_to(theta[:, pos["e"], None], (P, n)))
        for t in self.terms:
            if t.var == "D_eff":
                x, dx = _log_deff(X["D"], X["U"], theta[:, pos["r"], None], with_grad)
            else:
                x, dx = np.log(X[t.var]), None
            x = np.broadcast_to(x, (P, n))
            xs.append(x)
            dxr.append(dx)
            logs.append(theta[:, pos[t.coef], None] - theta[:, pos[t.exponent], None] * x)
        T = np.stack(logs, axis=-1)
        if with_grad:
            return T, xs, dxr
        return T

    def log_predict(self, theta: np.ndarray, X: dict[str, np.ndarray]) -> np.ndarray:
        T = self.log_terms(theta, X)
        mx = T.max(-1)
        return mx + np.log(np.exp(T - mx[..., None]).sum(-1))

    def predict(self, params, **inputs) -> np.ndarray:
        """Loss predicted by natural ``params`` (dict or array in ``param_names`` order, or a
        ``(B, k)`` array of bootstrap draws) at the given inputs (arrays broadcast together).

        Example:
            >>> law = get_law("chinchilla")
            >>> p = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)
            >>> round(float(law.predict(p, N=7e10, D=1.4e12)), 3)
            1.937
        """
        missing = [c for c in self.inputs if c not in inputs or inputs[c] is None]
        if missing:
            raise ValueError(f"law {self.name!r} needs inputs {list(self.inputs)}; missing {missing}")
        arr = self.from_natural(params) if isinstance(params, dict) else self.from_natural(np.asarray(params))
        theta = np.atleast_2d(arr)
        vals = np.broadcast_arrays(*[np.asarray(inputs[c], dtype=float) for c in self.inputs])
        shape = vals[0].shape
        X = {c: v.reshape(-1) for c, v in zip(self.inputs, vals)}
        out = np.exp(self.log_predict(theta, X))
        if np.ndim(arr) == 1:
            return out[0].reshape(shape)
        return out.reshape((theta.shape[0],) + shape)

    def grid(self, logy: np.ndarray, kind: str = "auto") -> np.ndarray:
        """Initialisation grid in fit coordinates (normalised inputs).

        ``hoffmann``: the grid of Hoffmann et al. (2022), α, β ∈ {0, 0.5, …, 2},
        e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25} — meaningful for raw parameter and token
        counts only, so it is given here in raw coordinates (``scales`` applied by the caller).
        ``auto``: adapted to the data's loss range, for any units: E from 0 to 95 % of the
        smallest loss, each coefficient 0.03–3× the loss range, exponents 0.05–2.
        """
        if kind not in ("auto", "hoffmann"):
            raise ValueError(f"grid must be 'auto' or 'hoffmann', got {kind!r}")
        axes: list[np.ndarray] = []
        ly = np.asarray(logy, dtype=float)
        lmin, lmax = float(np.exp(ly.min())), float(np.exp(ly.max()))
        span = max(lmax - lmin, 1e-3 * lmax)
        for nm in self.fit_names:
            if kind == "hoffmann":
                if nm == "e":
                    axes.append(np.arange(-1.0, 1.01, 0.5))
                elif nm in ("a", "b"):
                    axes.append(np.arange(0.0, 25.1, 5.0))
                elif nm in ("alpha", "beta"):
                    axes.append(np.arange(0.0, 2.01, 0.5))
                else:  # r
                    axes.append(np.log([2.0, 8.0, 30.0]))
            else:
                if nm == "e":
                    axes.append(np.log(lmin * np.array([0.02, 0.3, 0.6, 0.8, 0.95])))
                elif nm in ("a", "b"):
                    axes.append(np.log(span * np.array([0.03, 0.2, 1.0, 3.0])))
                elif nm in ("alpha", "beta"):
                    axes.append(np.array([0.05, 0.2, 0.4, 0.8, 1.4, 2.0]))
                else:
                    axes.append(np.log([2.0, 8.0, 30.0]))
        return np.array(list(product(*axes)), dtype=float)


def _n_rows(X: dict[str, np.ndarray]) -> int:
    return max(np.shape(v)[-1] for v in X.values())


def _log_deff(D, U, r, with_grad: bool):
    """log D' for D' = U + U R* (1 − exp(−R/R*)), R = max(D/U − 1, 0), R* = exp(r)."""
    D = np.asarray(D, dtype=float)
    U = np.asarray(U, dtype=float)
    R = np.maximum(D / U - 1.0, 0.0)
    Rs = np.exp(np.clip(r, -30.0, 30.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = R / Rs
    em = np.exp(-z)
    # -expm1(-z) = 1 - exp(-z), accurate for small z
    frac = -np.expm1(-z)
    deff = U * (1.0 + Rs * frac)
    x = np.log(deff)
    if not with_grad:
        return x, None
    # d D'/d R* = U (frac − z e^{−z});  d/dr = R* d/dR*
    dx = Rs * U * (frac - z * em) / deff
    return x, dx


_NATURAL = {"e": "E", "a": "A", "b": "B", "alpha": "alpha", "beta": "beta", "r": "R_D_star"}

LAWS: dict[str, Law] = {
    "power": Law("power", (Term("b", "beta", "D"),), description="L(D) = E + B / D^beta"),
    "chinchilla": Law(
        "chinchilla",
        (Term("a", "alpha", "N"), Term("b", "beta", "D")),
        description="L(N, D) = E + A / N^alpha + B / D^beta",
    ),
    "data-constrained": Law(
        "data-constrained",
        (Term("a", "alpha", "N"), Term("b", "beta", "D_eff")),
        decay=True,
        description="L(N, D, U) = E + A / N^alpha + B / D'^beta, D' = U + U R*(1 - exp(-(D/U - 1)/R*))",
    ),
    "data-constrained-1d": Law(
        "data-constrained-1d",
        (Term("b", "beta", "D_eff"),),
        decay=True,
        description="L(D, U) = E + B / D'^beta, D' = U + U R*(1 - exp(-(D/U - 1)/R*))",
    ),
}


def get_law(name: str | Law) -> Law:
    """Look a law up by name: ``power``, ``chinchilla``, ``data-constrained``,
    ``data-constrained-1d``.

    Example:
        >>> get_law("chinchilla").param_names
        ('E', 'A', 'alpha', 'B', 'beta')
    """
    if isinstance(name, Law):
        return name
    key = str(name).strip().lower().replace("_", "-")
    key = {"single": "power", "1d": "power", "hoffmann": "chinchilla", "muennighoff": "data-constrained"}.get(key, key)
    if key not in LAWS:
        raise ValueError(f"law must be one of {sorted(LAWS)}, got {name!r}")
    return LAWS[key]
