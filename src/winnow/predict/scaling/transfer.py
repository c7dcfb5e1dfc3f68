"""Proxy-transfer check: do small-scale runs rank data recipes the way large-scale runs do?

Given a metric for several recipes at several scales (and seeds), report the per-scale means,
the rank correlation (Spearman ρ and Kendall τ) between every pair of scales — above all
between each proxy scale and the largest one — and where the curves of two recipes cross:
observed crossings (the sign of the difference flips between two adjacent scales, located by
interpolating in log-scale) and, optionally, crossings of fitted power laws beyond the largest
observed scale.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .io import Runs


def _scale_of(runs: Runs, scale: str) -> np.ndarray:
    if scale == "C":
        if runs.N is None or runs.D is None:
            raise ValueError("scale='C' (compute = 6 N D) needs both N and D columns")
        return 6.0 * runs.N * runs.D
    arr = getattr(runs, scale, None) if scale in ("N", "D") else None
    if scale not in ("N", "D"):
        raise ValueError(f"scale must be 'D', 'N' or 'C', got {scale!r}")
    if arr is None:
        raise ValueError(f"scale={scale!r} but the runs have no {scale} column")
    return arr


def aggregate(runs: Runs, scale: str = "D") -> dict:
    """Mean, standard error and count of the metric per recipe × scale: arrays ``(R, S)``."""
    s = _scale_of(runs, scale)
    recipes = runs.recipes()
    scales = np.unique(s[np.isfinite(s)])
    R, S = len(recipes), len(scales)
    ri = np.array([recipes.index(r) for r in runs.recipe.tolist()])
    si = np.searchsorted(scales, s)
    cnt = np.zeros((R, S))
    sm = np.zeros((R, S))
    sq = np.zeros((R, S))
    np.add.at(cnt, (ri, si), 1.0)
    np.add.at(sm, (ri, si), runs.loss)
    np.add.at(sq, (ri, si), runs.loss**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, sm / cnt, np.nan)
        var = np.where(cnt > 1, (sq - cnt * mean**2) / (cnt - 1), np.nan)
        se = np.sqrt(np.maximum(var, 0.0) / cnt)
    return {"recipes": recipes, "scales": scales, "mean": mean, "se": se, "count": cnt}


def _rank_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    from scipy.stats import kendalltau, spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan"), float("nan"), n
    return float(spearmanr(a[ok], b[ok]).statistic), float(kendalltau(a[ok], b[ok]).statistic), n


def transfer_report(
    runs: Runs,
    scale: str = "D",
    higher_is_better: bool | None = None,
    extrapolate_to: float | None = None,
    min_points_fit: int = 4,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Rank stability of recipes across scales and where their curves cross.

    ``higher_is_better`` defaults from the metric name (accuracy/AUC/score: higher; loss:
    lower). ``n_boot``: resample the seeds of every recipe × scale cell to give each proxy scale a
    95 % interval on its Spearman ρ with the largest scale and the probability that it picks the
    largest scale's winner (cells with one seed do not vary). ``extrapolate_to`` (a scale value):
    also fit ``L = E + B / s^β`` per recipe (on the
    loss, or on ``1 − metric`` for a metric in (0, 1) where higher is better) and report fitted
    crossings between the largest observed scale and it.

    Example:
        >>> from winnow.predict.scaling.io import runs_from_rows
        >>> rows = [{"recipe": r, "D": d, "loss": l} for r, d, l in [
        ...     ("a", 1, 3.0), ("b", 1, 3.2), ("c", 1, 3.4),
        ...     ("a", 10, 2.6), ("b", 10, 2.5), ("c", 10, 2.9)]]
        >>> rep = transfer_report(runs_from_rows(rows))
        >>> rep["vs_largest"][0]["spearman"], [(c["a"], c["b"]) for c in rep["crossings"]]
        (0.5, [('a', 'b')])
    """
    agg = aggregate(runs, scale)
    recipes, scales, mean, se = agg["recipes"], agg["scales"], agg["mean"], agg["se"]
    if len(recipes) < 2:
        raise ValueError("transfer_report needs at least 2 recipes")
    if len(scales) < 2:
        raise ValueError("transfer_report needs at least 2 scales")
    hib = runs.higher_is_better if higher_is_better is None else bool(higher_is_better)
    sign = -1.0 if hib else 1.0  # rank 1 = best
    S = len(scales)
    pairs = []
    for i, j in combinations(range(S), 2):
        rho, tau, n = _rank_corr(mean[:, i], mean[:, j])
        pairs.append(
            {"scale_a": float(scales[i]), "scale_b": float(scales[j]), "spearman": rho, "kendall": tau, "n_recipes": n}
        )
    vs_largest = [p for p in pairs if p["scale_b"] == float(scales[-1])]
    from scipy.stats import rankdata

    ranks = np.full(mean.shape, np.nan)
    for j in range(S):
        ok = np.isfinite(mean[:, j])
        ranks[ok, j] = rankdata(sign * mean[ok, j], method="min")
    best = [recipes[int(np.nanargmin(sign * mean[:, j]))] if np.isfinite(mean[:, j]).any() else None for j in range(S)]
    crossings = []
    logs = np.log(scales)
    for a, b in combinations(range(len(recipes)), 2):
        d = mean[a] - mean[b]
        e = np.sqrt(np.nan_to_num(se[a]) ** 2 + np.nan_to_num(se[b]) ** 2)
        for j in range(S - 1):
            d0, d1 = d[j], d[j + 1]
            if not (np.isfinite(d0) and np.isfinite(d1)) or d0 * d1 >= 0:
                continue
            x = logs[j] + (logs[j + 1] - logs[j]) * d0 / (d0 - d1)
            sig = bool(np.all(e[[j, j + 1]] > 0) and abs(d0) > 2 * e[j] and abs(d1) > 2 * e[j + 1])
            before = recipes[a] if sign * d0 < 0 else recipes[b]
            crossings.append(
                {
                    "a": recipes[a],
                    "b": recipes[b],
                    "between": [float(scales[j]), float(scales[j + 1])],
                    "at": float(np.exp(x)),
                    "better_before": before,
                    "better_after": recipes[b] if before == recipes[a] else recipes[a],
                    "significant": sig,
                    "kind": "observed",
                }
            )
    fitted = []
    if extrapolate_to is not None:
        fitted = _fitted_crossings(runs, scale, recipes, float(scales[-1]), float(extrapolate_to), hib, min_points_fit)
    if n_boot > 0:
        _bootstrap_vs_largest(runs, scale, recipes, scales, sign, vs_largest, n_boot, seed)
    finite_rho = [p["spearman"] for p in vs_largest if np.isfinite(p["spearman"])]
    return {
        "scale": scale,
        "metric": runs.metric_name,
        "higher_is_better": hib,
        "recipes": recipes,
        "scales": scales.tolist(),
        "mean": mean.tolist(),
        "se": se.tolist(),
        "ranks": ranks.tolist(),
        "best": best,
        "pairs": pairs,
        "vs_largest": vs_largest,
        "crossings": crossings,
        "fitted_crossings": fitted,
        "min_spearman_vs_largest": float(min(finite_rho)) if finite_rho else float("nan"),
        "same_winner_all_scales": len(set(best)) == 1,
    }


def _bootstrap_vs_largest(
    runs: Runs, scale: str, recipes, scales, sign: float, vs_largest: list, n_boot: int, seed: int
) -> None:
    """Seed bootstrap, vectorised over draws: every row is replaced by a random row of its cell."""
    from scipy.stats import rankdata

    s = _scale_of(runs, scale)
    R, S = len(recipes), len(scales)
    ri = np.array([recipes.index(r) for r in runs.recipe.tolist()])
    si = np.searchsorted(scales, s)
    cell = ri * S + si
    order = np.argsort(cell, kind="stable")
    cs = cell[order]
    starts = np.searchsorted(cs, cs, side="left")
    counts = np.searchsorted(cs, cs, side="right") - starts
    rng = np.random.default_rng(seed)
    pick = order[starts + np.floor(rng.random((n_boot, cs.size)) * counts).astype(int)]  # (B, n)
    vals = runs.loss[pick]
    sums = np.zeros((n_boot, R * S))
    np.add.at(sums, (np.arange(n_boot)[:, None], np.broadcast_to(cs, vals.shape)), vals)
    cnt = np.bincount(cell, minlength=R * S).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums / cnt).reshape(n_boot, R, S)
    means[:, cnt.reshape(R, S) == 0] = np.nan
    last = S - 1
    for p in vs_largest:
        j = int(np.searchsorted(scales, p["scale_a"]))
        ok = np.isfinite(means[0, :, j]) & np.isfinite(means[0, :, last])
        if ok.sum() < 3:
            continue
        a = rankdata(sign * means[:, ok, j], axis=1)
        b = rankdata(sign * means[:, ok, last], axis=1)
        a = a - a.mean(1, keepdims=True)
        b = b - b.mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
        lo, hi = np.nanquantile(rho, [0.025, 0.975])
        p["spearman_ci"] = [float(lo), float(hi)]
        win_a = np.argmin(sign * means[:, ok, j], axis=1)
        win_b = np.argmin(sign * means[:, ok, last], axis=1)
        p["p_same_winner"] = float(np.mean(win_a == win_b))


def _fitted_crossings(
    runs: Runs, scale: str, recipes: list[str], lo: float, hi: float, hib: bool, min_points: int
) -> list[dict]:
    from .fit import fit_law

    if hi <= lo:
        raise ValueError(f"extrapolate_to ({hi:g}) must exceed the largest observed scale ({lo:g})")
    s = _scale_of(runs, scale)
    curves = {}
    for r in recipes:
        m = runs.recipe == r
        y = runs.loss[m]
        if hib:
            if np.any((y <= 0) | (y >= 1)):
                continue
            y = 1.0 - y
        if len(np.unique(s[m])) < min_points or np.any(y <= 0):
            continue
        try:
            f = fit_law("power", D=s[m], loss=y, n_boot=0)
        except ValueError:
            continue
        curves[r] = f
    grid = np.geomspace(lo, hi, 400)
    out = []
    for a, b in combinations(list(curves), 2):
        d = curves[a].predict(D=grid) - curves[b].predict(D=grid)
        flips = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
        for k in flips:
            x = np.log(grid[k]) + (np.log(grid[k + 1]) - np.log(grid[k])) * d[k] / (d[k] - d[k + 1])
            before = a if d[k] < 0 else b  # on the loss scale lower is better
            out.append(
                {
                    "a": a,
                    "b": b,
                    "at": float(np.exp(x)),
                    "better_before": before,
                    "better_after": b if before == a else a,
                    "kind": "fitted",
                }
            )
    return out
