"""EK-FAC influence: winnow (``method="influence", solver="ekfac"``) vs kronfluence (``strategy="ekfac"``)
on the same trained model, data, retrained ground truth and damping grid (issue 17).

Protocol = bench_lds.py / bench_defaults.py: M models retrained on random half-subsets, target =
minus the test loss, LDS = mean Spearman over targets, 95% CI over targets; damping per library
chosen on 20 separate validation subsets from the same grid (plus each library's own default,
"None": 0.1 x mean eigenvalue in both). Time = fitting factors + scoring, one torch thread, CPU.

Run:
    bash benchmarks/attribution/setup_kronfluence.sh
    benchmarks/.venv-kronfluence/bin/python benchmarks/attribution/bench_ekfac.py --data digits --model mlp1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lds as B  # noqa: E402

torch.set_num_threads(1)


def winnow_scores(model, tr, te, damping):
    from winnow.select.attribution import ClassificationTask, attribute

    return attribute(
        model, ClassificationTask(), tr, te, method="influence", solver="ekfac", damping=damping, batch_size=256
    ).scores


def kron_scores(model, tr, te, damping, workdir):
    import logging

    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    logging.disable(logging.WARNING)

    class T(Task):
        def compute_train_loss(self, batch, model, sample=False):
            x, y = batch
            logits = model(x)
            if sample:
                with torch.no_grad():
                    y = torch.multinomial(torch.softmax(logits.detach(), -1), 1).flatten()
            return F.cross_entropy(logits, y, reduction="sum")

        def compute_measurement(self, batch, model):
            x, y = batch
            return F.cross_entropy(model(x), y, reduction="sum")

    import copy

    m = prepare_model(copy.deepcopy(model).eval(), T())
    an = Analyzer(analysis_name="bench", model=m, task=T(), cpu=True, output_dir=workdir, disable_tqdm=True)
    trd = torch.utils.data.TensorDataset(*tr)
    ted = torch.utils.data.TensorDataset(*te)
    an.fit_all_factors(
        factors_name="ekfac",
        dataset=trd,
        per_device_batch_size=256,
        factor_args=FactorArguments(strategy="ekfac"),
        overwrite_output_dir=True,
    )
    an.compute_pairwise_scores(
        scores_name="s",
        factors_name="ekfac",
        query_dataset=ted,
        train_dataset=trd,
        per_device_query_batch_size=len(ted),
        per_device_train_batch_size=256,
        score_args=ScoreArguments(damping_factor=damping),
        overwrite_output_dir=True,
    )
    return an.load_pairwise_scores("s")["all_modules"].T.numpy()  # [n_train, n_query]


def main():
    from winnow.select.attribution import lds, subset_masks

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="digits")
    ap.add_argument("--model", default="mlp1")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--n-models", type=int, default=50)
    ap.add_argument("--dampings", default="None,1e-4,1e-3,1e-2,1e-1")
    ap.add_argument("--libs", default="winnow,kronfluence")
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
        gt = -B.ground_truth(args.model, tr, te, masks)
        gv = -B.ground_truth(args.model, tr, te, vmasks)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, gt=gt, gv=gv)
    model = B.train(args.model, *tr, seed=0)
    P = sum(p.numel() for p in model.parameters())
    print(f"{args.data} {args.model}: P={P}, n_train={args.n_train}, n_test={args.n_test}", flush=True)
    nv = min(40, args.n_test)
    grid = [None if d == "None" else float(d) for d in args.dampings.split(",")]
    rows, rhos = [], {}
    work = tempfile.mkdtemp()
    for lib in args.libs.split(","):
        fn = winnow_scores if lib == "winnow" else (lambda m, a, b, d: kron_scores(m, a, b, d, work))
        val = {}
        for d in grid:
            S = fn(model, tr, (te[0][:nv], te[1][:nv]), d)
            val[d] = lds(S, vmasks, gv[:, :nv]) if np.isfinite(S).all() else -2
        best = max(val, key=val.get)
        for label, d in (("best", best), ("default", None)):
            t = time.perf_counter()
            S = fn(model, tr, te, d)
            sec = time.perf_counter() - t
            v, rho = lds(S, masks, gt, return_per_target=True)
            rhos[(lib, label)] = rho
            r = rho[np.isfinite(rho)]
            rows.append(
                {
                    "data": args.data,
                    "model": args.model,
                    "P": P,
                    "lib": lib,
                    "damping_choice": label,
                    "damping": d,
                    "lds": v,
                    "ci95": float(1.96 * r.std(ddof=1) / np.sqrt(len(r))),
                    "seconds": sec,
                }
            )
            print(
                f"{lib:12s} {label:8s} damping {d!s:>7}: LDS {v:.4f} ± {rows[-1]['ci95']:.4f}  {sec:6.2f}s", flush=True
            )
    if ("winnow", "best") in rhos and ("kronfluence", "best") in rhos:
        for label in ("best", "default"):
            d = rhos[("winnow", label)] - rhos[("kronfluence", label)]
            d = d[np.isfinite(d)]
            print(f"winnow - kronfluence ({label}): {d.mean():+.4f} ± {1.96 * d.std(ddof=1) / np.sqrt(len(d)):.4f}")
            rows.append({"diff": label, "mean": float(d.mean()), "ci95": float(1.96 * d.std(ddof=1) / np.sqrt(len(d)))})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
