"""Projection-seed noise: LDS of winnow and dattri for the projected methods (TRAK-1, TRAK-10,
TracIn) over several projection seeds, on the same models / subsets / targets / damping as
bench_lds.py (damping read from its JSON, i.e. chosen there on the validation subsets).

Run: benchmarks/.venv-attribution/bin/python benchmarks/attribution/bench_seeds.py --seeds 5 \
        --dampings benchmarks/out/attribution_lds.json --json benchmarks/out/attribution_seeds.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bench_lds as B  # noqa: E402
import numpy as np  # noqa: E402


def main():
    from winnow.select.attribution import lds, subset_masks

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--models", default="lr,mlp")
    ap.add_argument("--methods", default="trak_1,trak_10,tracin")
    ap.add_argument("--dampings", required=True, help="bench_lds.py JSON (damping per model/method)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--data", default="digits", help="digits or mnist_ascii (as bench_lds.py)")
    args = ap.parse_args()
    damp = {(r["model"], r["method"]): r.get("damping") for r in json.load(open(args.dampings))}
    train_data, test_data = B.load(1000, 100, data=args.data)
    masks = subset_masks(1000, 50, alpha=0.5, seed=0)
    out = []
    for kind in args.models.split(","):
        gt = -B.ground_truth(kind, train_data, test_data, masks)
        ens = B.train_many(kind, *train_data, [np.arange(1000)] * 10, list(range(10)))
        _, cks = B.train(kind, *train_data, seed=0, checkpoints=True)
        for name in args.methods.split(","):
            models = ens if name == "trak_10" else ens[:1]
            d = damp.get((kind, name))
            res = {"winnow": [], "dattri": []}
            times = {"winnow": [], "dattri": []}
            for seed in range(args.seeds):
                for lib in ("winnow", "dattri"):
                    t = time.perf_counter()
                    S = run(lib, name, kind, models, cks, train_data, test_data, d, seed)
                    times[lib].append(time.perf_counter() - t)
                    res[lib].append(lds(S, masks, gt))
            rec = {
                "model": kind,
                "method": name,
                "damping": d,
                **{f"{k}_lds": v for k, v in res.items()},
                **{f"{k}_s": v for k, v in times.items()},
            }
            out.append(rec)
            w, a = np.array(res["winnow"]), np.array(res["dattri"])
            diff = w - a
            print(
                f"{kind:4s} {name:8s} winnow {w.mean():.4f} ± {w.std(ddof=1):.4f}   dattri {a.mean():.4f} ± "
                f"{a.std(ddof=1):.4f}   diff {diff.mean():+.4f} (95% CI ±{1.96 * np.sqrt(w.var(ddof=1) / len(w) + a.var(ddof=1) / len(a)):.4f})"
                f"   per-seed w {np.round(w, 4).tolist()} d {np.round(a, 4).tolist()}",
                flush=True,
            )
            if args.json:
                json.dump(out, open(args.json, "w"), indent=1)


def run(lib, name, kind, models, cks, train_data, test_data, damping, seed):
    if lib == "dattri":
        return B.dattri_run(name, kind, models, cks, train_data, test_data, damping, 512, seed=seed)
    return B.winnow_run(name, kind, models, cks, train_data, test_data, damping, 512, seed=seed)


if __name__ == "__main__":
    main()
