"""Influence defaults on non-convex models (issue 17): LDS against retraining of each influence
variant (Hessian-CG, Gauss-Newton-CG, Gauss-Newton LiSSA, EK-FAC) at its best damping (chosen on
separate validation subsets), and of ``attribute(..., method="influence")`` with no options
(``damping="auto"``: the split-half rule; the damping it chose is printed). ``--data``: digits,
breast_cancer, wine (the set held out while the auto rule was designed).

Same protocol as bench_lds.py (50 models retrained on random half-subsets, target = minus test loss).
CI = 95% over targets (mean +/- 1.96 sd / sqrt(n_target)); "diff" is paired per target vs the best.

Run (project venv is enough, no peers):
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_defaults.py --data digits --model mlp1
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_defaults.py --data breast_cancer --model mlp1 --n-train 400
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lds as B  # noqa: E402

torch.set_num_threads(1)

VARIANTS = {
    "default": dict(),
    "cg_hessian": dict(solver="cg", hessian="hessian", max_iter=50),
    "cg_gauss_newton": dict(solver="cg", hessian="gauss_newton", max_iter=50),
    "lissa_gauss_newton": dict(solver="lissa", hessian="gauss_newton", depth=300),
    "ekfac": dict(solver="ekfac"),
    "ekfac_default": dict(solver="ekfac"),
}


def ci(rho):
    rho = rho[np.isfinite(rho)]
    return float(rho.mean()), float(1.96 * rho.std(ddof=1) / np.sqrt(len(rho)))


def main():
    from winnow.select.attribution import ClassificationTask, attribute, lds, subset_masks

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="digits")
    ap.add_argument("--model", default="mlp1")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--n-models", type=int, default=50)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--dampings", default="1e-3,1e-2,1e-1,1")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tr, te = B.load(args.n_train, args.n_test, data=args.data)
    masks = subset_masks(args.n_train, args.n_models, alpha=0.5, seed=0)
    vmasks = subset_masks(args.n_train, 20, alpha=0.5, seed=99)
    cache = os.path.join(
        os.path.dirname(__file__),
        "..",
        "out",
        f"gt_{args.data}_{args.model}_{args.n_train}_{args.n_test}_{args.n_models}.npz",
    )
    if os.path.exists(cache):
        z = np.load(cache)
        gt, gv = z["gt"], z["gv"]
    else:
        t = time.perf_counter()
        gt = -B.ground_truth(args.model, tr, te, masks)
        gv = -B.ground_truth(args.model, tr, te, vmasks)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, gt=gt, gv=gv)
        print(f"ground truth: {time.perf_counter() - t:.1f}s", flush=True)
    model = B.train(args.model, *tr, seed=0)
    P = sum(p.numel() for p in model.parameters())
    print(f"{args.data} {args.model}: P={P}, n_train={args.n_train}, n_test={args.n_test}", flush=True)
    task = ClassificationTask()
    nv = min(40, args.n_test)
    rows, rhos = [], {}
    for name in args.variants.split(","):
        opts = VARIANTS[name]
        grid = [None] if name.endswith("default") else [float(d) for d in args.dampings.split(",")]
        best, bestv = None, -2.0
        if len(grid) > 1:
            for d in grid:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    S = attribute(
                        model, task, tr, (te[0][:nv], te[1][:nv]), method="influence", damping=d, batch_size=256, **opts
                    ).scores
                v = lds(S, vmasks, gv[:, :nv]) if np.isfinite(S).all() else -2.0
                if v > bestv:
                    best, bestv = d, v
        else:
            best = grid[0]
        kw = dict(opts, **({} if best is None else {"damping": best}))
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            res = attribute(model, task, tr, te, method="influence", batch_size=256, **kw)
        S = res.scores
        sec = time.perf_counter() - t
        if best is None and res.options.get("auto_damping"):
            best = "auto=" + ",".join(f"{d:.4g}" for d in res.options["auto_damping"])
        val, rho = lds(S, masks, gt, return_per_target=True)
        rhos[name] = rho
        m, h = ci(rho)
        rows.append(
            {
                "data": args.data,
                "model": args.model,
                "P": P,
                "variant": name,
                "damping": best,
                "lds": m,
                "ci95": h,
                "seconds": sec,
                "max_abs_score": float(np.abs(S).max()),
                "warnings": sorted({type(x.message).__name__ for x in w}),
            }
        )
        print(
            f"{name:20s} damping {best!s:>6}  LDS {m:.4f} ± {h:.4f}  {sec:6.2f}s  max|s| {np.abs(S).max():.3g}"
            f"  {rows[-1]['warnings']}",
            flush=True,
        )
    bestname = max((r for r in rows), key=lambda r: r["lds"])["variant"]
    for r in rows:
        d = rhos[r["variant"]] - rhos[bestname]
        d = d[np.isfinite(d)]
        r["diff_vs_best"], r["diff_ci95"] = (
            float(d.mean()),
            float(1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0),
        )
        print(f"{r['variant']:20s} - {bestname}: {r['diff_vs_best']:+.4f} ± {r['diff_ci95']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
