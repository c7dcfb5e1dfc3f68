"""Batched bootstrap vs a loop of scipy fits (same objective, same starts, same resamples).

PYTHONPATH=src python benchmarks/scaling/speed.py --n-boot 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize

from winnow.predict.scaling import fit_law, get_law
from winnow.predict.scaling.fit import _prepare, _Problem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-boot", type=int, default=200)
    a = ap.parse_args()
    law = get_law("chinchilla")
    N = np.repeat(np.geomspace(7e7, 1.6e10, 6), 7)
    D = N * np.tile(np.geomspace(2, 200, 7), 6)
    L = law.predict(dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28), N=N, D=D)
    L = L * np.exp(np.random.default_rng(0).normal(0, 0.01, L.size))
    t0, c0 = time.time(), time.process_time()
    f = fit_law(law, N=N, D=D, loss=L, n_boot=a.n_boot, seed=0)
    tb, cb = time.time() - t0, time.process_time() - c0
    # the same refits one by one with scipy's L-BFGS-B (from the point estimate, as winnow does)
    X, scales, logy = _prepare(law, {"N": N, "D": D}, L)
    th0 = law.from_natural(f.params, scales)
    w = np.random.default_rng(0).multinomial(L.size, np.full(L.size, 1 / L.size), size=a.n_boot).astype(float)
    prob = _Problem(law, X, logy, w, 1e-3)
    t0, c0 = time.time(), time.process_time()
    out = []
    for b in range(a.n_boot):
        fun = lambda t, b=b: tuple(x[0] for x in prob.fg(t[None], np.array([b])))  # noqa: E731
        r = minimize(fun, th0, jac=True, method="L-BFGS-B", options={"ftol": 1e-11, "gtol": 1e-9, "maxiter": 1000})
        out.append(law.to_natural(r.x, scales))
    ts, cs = time.time() - t0, time.process_time() - c0
    sb = np.quantile(np.array(out), [0.025, 0.975], axis=0)
    print(
        f"chinchilla, 42 runs, {a.n_boot} bootstrap refits: winnow batched (grid + fit + refits) {tb:.2f} s wall, "
        f"{cb:.2f} s CPU; scipy loop (refits only) {ts:.2f} s wall, {cs:.2f} s CPU; CPU ratio {cs / cb:.1f}x"
    )
    for i, k in enumerate(law.param_names):
        lo, hi = f.ci[k]
        print(f"  {k:6s} winnow CI [{lo:.4g}, {hi:.4g}]  scipy-loop CI [{sb[0, i]:.4g}, {sb[1, i]:.4g}]")


if __name__ == "__main__":
    main()
