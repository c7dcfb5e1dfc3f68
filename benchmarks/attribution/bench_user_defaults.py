"""Defaults a user gets without tuning (issue 17): grad_dot/TracIn projection dimension, and the
number of models datamodels fits. Protocol of bench_lds.py (digits, 1,000 train / 100 test,
50 retrained half-subsets, target = minus test loss).

Run: PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_user_defaults.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lds as B  # noqa: E402

torch.set_num_threads(1)


def main():
    from winnow.select.attribution import ClassificationTask, attribute, fit_datamodels, lds, subset_masks

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp1")
    ap.add_argument("--dims", default="none,8192,2048,1024")
    ap.add_argument("--n-models", default="100,500,1000,2000")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tr, te = B.load(1000, 100)
    masks = subset_masks(1000, 50, alpha=0.5, seed=0)
    gt = -B.ground_truth(args.model, tr, te, masks)
    model = B.train(args.model, *tr, seed=0)
    rows = []
    for d in args.dims.split(","):
        pd = None if d == "none" else int(d)
        t = time.perf_counter()
        S = attribute(model, ClassificationTask(), tr, te, method="grad_dot", proj_dim=pd, batch_size=256).scores
        rows.append({"what": "grad_dot", "proj_dim": d, "lds": lds(S, masks, gt), "seconds": time.perf_counter() - t})
        print(rows[-1], flush=True)
    for M in map(int, args.n_models.split(",")):
        dm = subset_masks(1000, M, alpha=0.5, seed=1)
        t = time.perf_counter()
        outs = -B.ground_truth(args.model, tr, te, dm)
        S = fit_datamodels(dm, outs)
        rows.append({"what": "datamodels", "n_models": M, "lds": lds(S, masks, gt), "seconds": time.perf_counter() - t})
        print(rows[-1], flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
