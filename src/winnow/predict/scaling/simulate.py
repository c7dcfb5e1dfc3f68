"""Coverage study: how often do bootstrap intervals contain the true parameters?

Data are generated from known parameters on a fixed design with multiplicative log-normal
noise (``log L_obs = log L_true + N(0, sigma²)``; seed-to-seed noise of small LM runs is ~1 %
of the loss, hence the default ``sigma = 0.01``), fitted, bootstrapped, and the share of trials
whose ``level`` interval contains the truth is reported per parameter. All trials and all
bootstrap refits run as one batch (:func:`winnow.predict.scaling.fit.fit_many`).
"""

from __future__ import annotations

import numpy as np

from .fit import _prepare, _quantiles, fit_many
from .laws import get_law


def coverage_study(
    law: str,
    true_params: dict,
    *,
    trials: int = 50,
    n_boot: int = 200,
    sigma: float = 0.01,
    level: float = 0.95,
    bootstrap: str = "pairs",
    seed: int = 0,
    boot_starts: int = 0,
    n_starts: int | None = 16,
    predict_at: dict | None = None,
    **design,
) -> dict:
    """Simulate ``trials`` data sets on ``design`` (arrays ``N=``, ``D=``, ``U=``), fit each with
    ``n_boot`` bootstrap refits, and report per-parameter coverage of the true values. With
    ``predict_at`` (inputs, e.g. ``{"N": [...], "D": [...]}``) also the coverage of the true loss
    there by the prediction intervals (``prediction_coverage``, one value per point).

    Example:
        >>> import numpy as np
        >>> D = np.repeat(np.geomspace(1e6, 1e9, 8), 2)
        >>> r = coverage_study("power", dict(E=2.0, B=300.0, beta=0.3), D=D, trials=4, n_boot=20)
        >>> sorted(r["coverage"])
        ['B', 'E', 'beta']
    """
    law_ = get_law(law)
    tv = np.array([float(true_params[n]) for n in law_.param_names])
    L = law_.predict(true_params, **design)
    rng = np.random.default_rng(seed)
    Y = L[None] * np.exp(rng.normal(0.0, sigma, (trials, L.size)))
    X, scales, _ = _prepare(law_, design, Y[0])
    res = fit_many(
        law_,
        X=X,
        logy=np.log(Y),
        scales=scales,
        n_boot=n_boot,
        bootstrap=bootstrap,
        seed=seed + 1,
        boot_starts=boot_starts,
        n_starts=n_starts,
    )
    q = np.quantile(res["boot"], [(1 - level) / 2, (1 + level) / 2], axis=1)  # (2, trials, k)
    inside = (q[0] <= tv) & (tv <= q[1])  # (trials, k)
    est = law_.to_natural(res["theta"], scales)
    pred_cov = None
    if predict_at is not None:
        truth = law_.predict(true_params, **predict_at)
        draws = law_.predict(res["boot"].reshape(-1, law_.k), **predict_at).reshape(trials, n_boot, -1)
        pq = _quantiles(np.moveaxis(draws, 1, 0), level)  # (2, trials, m)
        pred_cov = ((pq[0] <= truth) & (truth <= pq[1])).mean(0).tolist()
    return {
        "law": law_.name,
        "prediction_coverage": pred_cov,
        "coverage": {n: float(v) for n, v in zip(law_.param_names, inside.mean(0))},
        "trials": trials,
        "n_boot": n_boot,
        "level": level,
        "sigma": sigma,
        "bootstrap": bootstrap,
        "n_points": int(L.size),
        "median_estimate": {n: float(v) for n, v in zip(law_.param_names, np.median(est, 0))},
        "boot_sd_over_true_sd": {
            n: float(v) for n, v in zip(law_.param_names, res["boot"].std(1).mean(0) / est.std(0))
        },
        "median_width": {n: float(v) for n, v in zip(law_.param_names, np.median(q[1] - q[0], 0))},
    }
