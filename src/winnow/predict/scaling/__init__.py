"""Scaling laws: fit, extrapolate with uncertainty, allocate compute, check proxy transfer.

Example:
    >>> import numpy as np
    >>> from winnow.predict.scaling import fit_law, compute_optimal
    >>> D = np.geomspace(1e6, 1e9, 10)
    >>> fit = fit_law("power", D=D, loss=1.8 + 50 / D ** 0.25, n_boot=50)
    >>> pred, lo, hi = fit.predict(D=1e10, interval=True)
    >>> round(float(pred), 3)
    1.958
    >>> round(compute_optimal("chinchilla", 5.76e23)["N"] / 1e9, 1)
    32.2

Heavy modules load lazily (``winnow --help`` stays fast).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "fit_law": "fit",
    "fit_runs": "fit",
    "fit_many": "fit",
    "ScalingFit": "fit",
    "load_fit": "fit",
    "get_law": "laws",
    "LAWS": "laws",
    "Law": "laws",
    "compute_optimal": "allocation",
    "CHINCHILLA": "allocation",
    "BESIROGLU": "allocation",
    "load_runs": "io",
    "runs_from_rows": "io",
    "Runs": "io",
    "transfer_report": "transfer",
    "aggregate": "transfer",
    "coverage_study": "simulate",
    "lbfgs_batched": "optim",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
