"""Datamodels and the linear datamodeling score (LDS).

Train M models on random alpha-subsets of the training set, record each target's output, then:

* :func:`lds` -- for any score matrix tau, predict ``g_S(j) = sum_{i in S} tau_ij`` and report the
  Spearman correlation with the actual outputs across the M subsets, averaged over targets
  (Park et al. 2023, the TRAK paper's yardstick);
* :func:`fit_datamodels` -- fit tau directly by ridge regression of outputs on subset masks
  (Ilyas et al. 2022).

Example:
    >>> import numpy as np
    >>> from winnow.select.attribution import subset_masks, lds
    >>> masks = subset_masks(n_train=50, n_models=30, alpha=0.5, seed=0)
    >>> tau = np.random.default_rng(0).normal(size=(50, 4))
    >>> outputs = masks @ tau + 0.01 * np.random.default_rng(1).normal(size=(30, 4))
    >>> round(lds(tau, masks, outputs), 2) > 0.9
    True
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError, Data


def subset_masks(n_train: int, n_models: int, alpha: float = 0.5, seed: int = 0) -> np.ndarray:
    """``[n_models, n_train]`` boolean masks, each selecting exactly ``round(alpha * n_train)`` examples."""
    if not 0 < alpha <= 1:
        raise AttributionError(f"alpha must be in (0, 1], got {alpha}")
    if n_models < 1 or n_train < 1:
        raise AttributionError(f"n_models and n_train must be >= 1, got {n_models}, {n_train}")
    rng = np.random.default_rng(seed)
    k = max(1, int(round(alpha * n_train)))
    masks = np.zeros((n_models, n_train), dtype=bool)
    for m in range(n_models):
        masks[m, rng.choice(n_train, size=k, replace=False)] = True
    return masks


def _rank(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=0)


def lds(scores: np.ndarray, masks: np.ndarray, outputs: np.ndarray, return_per_target: bool = False):
    """Linear datamodeling score: mean over targets of Spearman(masks @ scores[:, j], outputs[:, j]).

    ``scores [n_train, n_target]``, ``masks [M, n_train]``, ``outputs [M, n_target]``. Targets whose
    prediction or output is constant across subsets count as NaN and are left out of the mean.
    """
    scores, masks, outputs = np.asarray(scores, float), np.asarray(masks, float), np.asarray(outputs, float)
    if scores.ndim != 2 or masks.ndim != 2 or outputs.ndim != 2:
        raise AttributionError("scores, masks and outputs must be 2-D")
    if masks.shape[1] != scores.shape[0]:
        raise AttributionError(f"masks cover {masks.shape[1]} train examples but scores has {scores.shape[0]} rows")
    if outputs.shape != (masks.shape[0], scores.shape[1]):
        raise AttributionError(
            f"outputs must be [n_models={masks.shape[0]}, n_target={scores.shape[1]}], got {outputs.shape}"
        )
    pred = masks @ scores
    rp, ro = _rank(pred), _rank(outputs)
    rp -= rp.mean(0)
    ro -= ro.mean(0)
    den = np.sqrt((rp**2).sum(0) * (ro**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, (rp * ro).sum(0) / np.where(den > 0, den, 1), np.nan)
    val = float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")
    return (val, rho) if return_per_target else val


def fit_datamodels(masks: np.ndarray, outputs: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Ridge-regression datamodels: ``tau [n_train, n_target]`` with outputs ~ masks @ tau + b."""
    Xm = np.asarray(masks, float)
    Y = np.asarray(outputs, float)
    Xc, Yc = Xm - Xm.mean(0), Y - Y.mean(0)
    n = Xm.shape[1]
    if Xm.shape[0] < n:  # dual form: cheaper when M < n
        K = Xc @ Xc.T
        K[np.diag_indices_from(K)] += l2
        return Xc.T @ np.linalg.solve(K, Yc)
    A = Xc.T @ Xc
    A[np.diag_indices(n)] += l2
    return np.linalg.solve(A, Xc.T @ Yc)


def retrain_outputs(
    fit: Callable, task, train, target, masks: np.ndarray, seed: int = 0, batch_size: int = 1024
) -> np.ndarray:
    """Train one model per mask with ``fit(X_subset, y_subset, seed) -> model`` and return the targets'
    ``task.output`` for each: ``[M, n_target]`` (the ground truth for :func:`lds`)."""
    from winnow.select.attribution.grads import model_outputs

    tr = train if isinstance(train, Data) else Data(train, "train")
    tg = target if isinstance(target, Data) else Data(target, "target")
    if tr.dataset is not None:
        raise AttributionError("retrain_outputs needs train as an (X, y) tuple of tensors")
    masks = np.asarray(masks, bool)
    if masks.ndim != 2 or masks.shape[1] != tr.n:
        raise AttributionError(f"masks must be [M, n_train={tr.n}], got {masks.shape}")
    out = np.empty((masks.shape[0], tg.n))
    for m, mask in enumerate(masks):
        idx = torch.as_tensor(np.flatnonzero(mask))
        model = fit(tr.X[idx], tr.y[idx], seed + m)
        out[m] = model_outputs(model, task, tg, ("output",), batch_size)["output"].double().numpy()
    return out


def datamodel_scores(
    task,
    tr: Data,
    tg: Data,
    *,
    fit: Callable | None = None,
    n_models: int | None = None,
    alpha: float = 0.5,
    l2: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """The ``method="datamodels"`` backend of :func:`~winnow.select.attribution.attribute`.
    ``n_models`` defaults to ``max(100, n_train // 2)`` (on digits, 1,000 points: 100 models give LDS
    0.22, below TracIn's 0.24; 400 give 0.42; benchmarks/attribution/bench_user_defaults.py)."""
    if fit is None:
        raise AttributionError("method='datamodels' needs fit=callable(X, y, seed) -> trained model")
    if n_models is None:
        n_models = max(100, tr.n // 2)
    masks = subset_masks(tr.n, n_models, alpha, seed)
    outs = retrain_outputs(fit, task, tr, tg, masks, seed)
    return fit_datamodels(masks, outs, l2)
