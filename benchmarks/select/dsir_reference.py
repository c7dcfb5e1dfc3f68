"""DSIR: winnow vs the reference implementation (data-selection 1.0.3, Xie et al. 2023) on the same pool.

Run (after benchmarks/select/setup.sh):
    PYTHONPATH=src .venv/bin/python benchmarks/select/dsir_reference.py [--seeds 0 1 2] [--steps 150]

1. Builds the bundled LM task's pool and target sample (the same as benchmarks/select/bench_lm.yaml)
   and writes them as JSONL under benchmarks/_work/select/.
2. Runs the reference HashedNgramDSIR in benchmarks/.venv-select (child process): log importance
   weights, top-k and Gumbel resampling (np.random.seed(seed)) at 10/25/50%.
3. Runs winnow's DSIR with the same featurisation (hash="sha256", min_example_length=100).
4. Reports: Pearson/Spearman correlation of the weights, Jaccard of top-k sets, overlap of Gumbel
   samples (vs. the overlap two seeds of one implementation get), target-domain share, and the
   target perplexity of the fixed tiny LM trained on each implementation's sample (mean, 95% CI).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "benchmarks", "_work", "select")
REF_PY = os.path.join(ROOT, "benchmarks", ".venv-select", "bin", "python")

CHILD = r"""
import json, sys, time, os, numpy as np
from data_selection import HashedNgramDSIR
pool, target, cache, budgets, seeds = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
t0 = time.perf_counter()
d = HashedNgramDSIR([pool], [target], cache_dir=cache, num_proc=1)
d.fit_importance_estimator(num_tokens_to_fit="all")
d.compute_importance_weights()
fit_s = time.perf_counter() - t0
w = np.load(os.path.join(cache, "log_importance_weights", "0.npy"))
out = {"weights": w.tolist(), "fit_seconds": fit_s, "topk": {}, "gumbel": {}}
def ids(path):
    with open(path) as fh:
        return [json.loads(l)["id"] for l in fh if l.strip()]
for k in budgets:
    od = os.path.join(cache, f"topk-{k}")
    d.resample(od, num_to_sample=k, cache_dir=od, top_k=True)
    out["topk"][str(k)] = sum((ids(os.path.join(od, f)) for f in sorted(os.listdir(od)) if f.endswith(".jsonl")), [])
    for s in seeds:
        np.random.seed(s)
        od = os.path.join(cache, f"gumbel-{k}-{s}")
        d.resample(od, num_to_sample=k, cache_dir=od, top_k=False)
        out["gumbel"][f"{k}-{s}"] = sum((ids(os.path.join(od, f)) for f in sorted(os.listdir(od)) if f.endswith(".jsonl")), [])
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    args = ap.parse_args()
    if not os.path.exists(REF_PY):
        sys.exit("run benchmarks/select/setup.sh first (creates benchmarks/.venv-select)")
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from scipy import stats

    from winnow.prove.bench.harness import mean_ci
    from winnow.prove.bench.tasks import LMTask
    from winnow.select import DSIR

    task = LMTask(
        per_source=200,
        target_fit=60,
        target_eval=100,
        proxy="tiny-lm",
        preset="cpu-tiny",
        proxy_options={"steps": args.steps},
        vocab_size=1024,
        seed=0,
    )
    os.makedirs(WORK, exist_ok=True)
    pool_p, tgt_p = os.path.join(WORK, "pool.jsonl"), os.path.join(WORK, "target.jsonl")
    with open(pool_p, "w") as fh:
        for i, t in zip(task.pool.ids, task.pool.texts):
            fh.write(json.dumps({"id": str(i), "text": t}) + "\n")
    with open(tgt_p, "w") as fh:
        for i, t in zip(task.target.ids, task.target.texts):
            fh.write(json.dumps({"id": str(i), "text": t}) + "\n")
    n = len(task.pool)
    ks = [int(round(b * n)) for b in args.budgets]
    cache = os.path.join(WORK, "ref_cache")
    subprocess.run(["rm", "-rf", cache], check=True)
    t0 = time.perf_counter()
    p = subprocess.run(
        [REF_PY, "-c", CHILD, pool_p, tgt_p, cache, json.dumps(ks), json.dumps(args.seeds)],
        capture_output=True,
        text=True,
    )
    ref_wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(p.stderr[-3000:])
    ref = json.loads(p.stdout.strip().splitlines()[-1])
    t0 = time.perf_counter()
    win = DSIR(hash="sha256", min_example_length=100, seed=0)
    w_win = win.fit(task.pool, task.target).scores_
    win_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    DSIR(hash="xxhash", min_example_length=100).fit(task.pool, task.target)
    win_fit_xx = time.perf_counter() - t0
    w_ref = np.asarray(ref["weights"])
    ok = np.isfinite(w_win)
    res = {
        "pool": n,
        "eligible (>=100 tokens)": int(ok.sum()),
        "weights_max_abs_diff": float(np.max(np.abs(w_win[ok] - w_ref[ok]))),
        "pearson": float(stats.pearsonr(w_win[ok], w_ref[ok])[0]),
        "spearman": float(stats.spearmanr(w_win[ok], w_ref[ok])[0]),
        "seconds": {
            "reference_fit_weights": round(ref["fit_seconds"], 2),
            "reference_wall": round(ref_wall, 2),
            "winnow_sha256": round(win_fit, 2),
            "winnow_xxhash": round(win_fit_xx, 2),
        },
        "budgets": [],
    }
    id2i = {str(i): j for j, i in enumerate(task.pool.ids)}
    for b, k in zip(args.budgets, ks):
        top_ref = {id2i[i] for i in ref["topk"][str(k)]}
        w_top = DSIR(hash="sha256", min_example_length=100, resample="topk")
        w_top.fit(task.pool, task.target)
        top_win = set(np.flatnonzero(w_top.select_mask(k)).tolist())
        row = {"budget": b, "k": k, "topk_jaccard": len(top_ref & top_win) / len(top_ref | top_win)}
        g_ref, g_win, m_ref, m_win, td_ref, td_win = [], [], [], [], [], []
        for s in args.seeds:
            mr = np.zeros(n, bool)
            mr[[id2i[i] for i in ref["gumbel"][f"{k}-{s}"]]] = True
            sw = DSIR(hash="sha256", min_example_length=100, seed=s)
            sw.scores_, sw.ids_, sw.n_tokens_ = w_win, task.pool.ids, task.pool.n_tokens
            mw = sw.select_mask(k)
            g_ref.append(mr)
            g_win.append(mw)
            td_ref.append(task.is_target_domain[mr].mean())
            td_win.append(task.is_target_domain[mw].mean())
            m_ref.append(task.evaluate(mr, s))
            m_win.append(task.evaluate(mw, s))

        def jac(a, c):
            return (a & c).sum() / (a | c).sum()

        row["gumbel_jaccard_winnow_vs_reference"] = float(np.mean([jac(a, c) for a, c in zip(g_win, g_ref)]))
        row["gumbel_jaccard_reference_seed_vs_seed"] = float(
            np.mean([jac(g_ref[i], g_ref[j]) for i in range(len(g_ref)) for j in range(i + 1, len(g_ref))])
        )
        row["target_domain_share"] = {"winnow": float(np.mean(td_win)), "reference": float(np.mean(td_ref))}
        for name, vals in (("winnow", m_win), ("reference", m_ref)):
            m, _, lo, hi = mean_ci(vals)
            row[f"ppl_{name}"] = {"mean": m, "ci_low": lo, "ci_high": hi, "values": vals}
        d, _, dlo, dhi = mean_ci([a - c for a, c in zip(m_win, m_ref)])
        row["ppl_diff_winnow_minus_reference"] = {"mean": d, "ci_low": dlo, "ci_high": dhi}
        res["budgets"].append(row)
        print(json.dumps(row), flush=True)
    out = os.path.join(ROOT, "benchmarks", "out", "select")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dsir_reference.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    print(json.dumps({k: v for k, v in res.items() if k != "budgets"}, indent=2))


if __name__ == "__main__":
    main()
