"""Recovery / coverage benchmark for winnow.predict.scaling (issue 10, quality bar 1).

Data from known parameters on a fixed design, multiplicative log-normal noise, fitted with the
Hoffmann et al. Approach-3 objective, pairs bootstrap; reports per-parameter coverage of the
true values by the 95 % percentile intervals.

    PYTHONPATH=src python benchmarks/scaling/coverage.py --trials 200 --n-boot 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from winnow.predict.scaling.simulate import coverage_study

CHIN = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)


def designs():
    Ns = np.geomspace(7e7, 1.6e10, 6)
    ratio = np.geomspace(2, 200, 7)
    N = np.repeat(Ns, len(ratio))
    D = N * np.tile(ratio, len(Ns))
    # data-constrained: fixed N grid, unique data U, 1..16 epochs (Muennighoff et al. R*_D = 15.4)
    Nd = np.repeat(np.geomspace(1e8, 3e9, 4), 12)
    U = np.tile(np.repeat(np.geomspace(2e9, 2e10, 3), 4), 4)
    ep = np.tile(np.array([1, 4, 16, 40.0]), 12)
    return {
        "power": (dict(E=2.0, B=300.0, beta=0.3), dict(D=np.repeat(np.geomspace(1e6, 1e9, 8), 2))),
        "chinchilla": (CHIN, dict(N=N, D=D)),
        "data-constrained": (dict(CHIN, R_D_star=15.4), dict(N=Nd, D=U * ep, U=U)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--sigma", type=float, default=0.01)
    ap.add_argument("--bootstrap", default="pairs")
    ap.add_argument("--laws", default="power,chinchilla,data-constrained")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    out = []
    for name, (true, design) in designs().items():
        if name not in a.laws.split(","):
            continue
        t = time.time()
        r = coverage_study(name, true, trials=a.trials, n_boot=a.n_boot, sigma=a.sigma, bootstrap=a.bootstrap, **design)
        r["seconds"] = round(time.time() - t, 1)
        out.append(r)
        cov = ", ".join(f"{k} {v:.3f}" for k, v in r["coverage"].items())
        ratio = ", ".join(f"{k} {v:.2f}" for k, v in r["boot_sd_over_true_sd"].items())
        print(
            f"{name:17s} n={r['n_points']:3d} trials={a.trials} B={a.n_boot} sigma={a.sigma} "
            f"{a.bootstrap}: coverage {cov} | boot sd / true sd: {ratio} | {r['seconds']} s",
            flush=True,
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
