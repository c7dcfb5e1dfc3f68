"""Rademacher vs Gaussian random projections for winnow's TRAK-10 on the MNIST-like MLP.

Same protocol as bench_lds.py / bench_seeds.py on BIG-bench ``mnist_ascii`` (1,000 train / 100
test, MLP 784-128-64-10, 50 retrained half-subset models as ground truth, the 10-model TRAK
ensemble, projection dimension 512, damping 1,094 as chosen by bench_lds.py on its validation
subsets), projection seeds 0, 1, 2 for each kind. Compare with dattri's 3-seed figure in RESULTS.

    pip download --no-deps bigbench==1.0.0 -d benchmarks/_work
    OMP_NUM_THREADS=1 benchmarks/.venv-attribution/bin/python benchmarks/attribution/proj_kind.py
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bench_lds as B  # noqa: E402
import numpy as np  # noqa: E402


def main(seeds=(0, 1, 2), damping=1094.0, proj_dim=512):
    from winnow.select.attribution import ClassificationTask, attribute, lds, subset_masks

    train_data, test_data = B.load(1000, 100, data="mnist_ascii")
    masks = subset_masks(1000, 50, alpha=0.5, seed=0)
    gt = -B.ground_truth("mlp", train_data, test_data, masks)
    ens = B.train_many("mlp", *train_data, [np.arange(1000)] * 10, list(range(10)))
    res: dict[str, list[float]] = {}
    for kind in ("rademacher", "gaussian"):
        for seed in seeds:
            t = time.perf_counter()
            S = attribute(
                ens,
                ClassificationTask(),
                train_data,
                test_data,
                method="trak",
                proj_dim=proj_dim,
                damping=damping,
                batch_size=256,
                seed=seed,
                proj_kind=kind,
            ).scores
            res.setdefault(kind, []).append(lds(S, masks, gt))
            print(f"{kind:<10} seed {seed}: LDS {res[kind][-1]:.4f} ({time.perf_counter() - t:.1f} s)", flush=True)
    for kind, v in res.items():
        print(f"{kind:<10} {np.mean(v):.4f} ± {np.std(v, ddof=1):.4f} over {len(v)} seeds")
    d = np.array(res["gaussian"]) - np.array(res["rademacher"])
    print(f"gaussian − rademacher, paired by seed: {d.mean():+.4f} ({np.round(d, 4).tolist()})")


if __name__ == "__main__":
    main()
