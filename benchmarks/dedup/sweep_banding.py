"""Cost and quality of LSH bandings that all reach P(candidate) ≥ 0.99 at the threshold.

For each rows-per-band ``r`` the fewest bands ``b`` with ``1 − (1 − t^r)^b ≥ 0.99``; per banding:
map CPU (shingling + MinHash + band keys of the whole corpus), LSH candidate pairs (distinct
pairs sharing a bucket, counted on the exact ground truth's overlapping pairs) and how many
of them are below ``t − 0.3``, then the default pipeline (verify on, centre clustering) end to
end: CPU seconds, reduce seconds, pairs verified exactly, precision / recall at ``t``.

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/sweep_banding.py --threshold 0.8
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_quality import labels_for, load_corpus, run_winnow  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus")
    ap.add_argument("--out", default="benchmarks/out/dedup")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--rows", default="3,4,5,6,7,8")
    a = ap.parse_args()
    from winnow.curate.dedup.evaluate import exact_jaccard_pairs, pair_metrics
    from winnow.curate.dedup.minhash import MinhashDedup, collision_probability

    os.makedirs(a.out, exist_ok=True)
    tab = load_corpus(a.corpus)
    ids = tab.column("id").combine_chunks()
    gt = os.path.join(a.out, f"gt-{tab.num_rows}-5.npz")
    if os.path.exists(gt):
        z = np.load(gt)
        i, j, jac = z["i"], z["j"], z["jac"]
    else:
        i, j, jac = exact_jaccard_pairs(tab.column("text"), 5)
        np.savez(gt, i=i, j=j, jac=jac)
    t = a.threshold
    rows_out = []
    configs = [(math.ceil(math.log(0.01) / math.log(1 - t**r)), r) for r in map(int, a.rows.split(","))]
    configs.append((14, 8))
    for b, r in configs:
        step = MinhashDedup(bands=b, rows=r)
        step.map(tab.slice(0, 10))  # kernels loaded
        c0 = time.process_time()
        bands = np.concatenate(
            [
                np.stack([np.asarray(c.to_numpy()) for c in step.map(tab.slice(s, 4096)).columns[1 : 1 + b]], 1)
                for s in range(0, tab.num_rows, 4096)
            ]
        )
        map_cpu = time.process_time() - c0
        collide = np.zeros(len(i), bool)
        for s in range(0, len(i), 1_000_000):
            bi, bj = bands[i[s : s + 1_000_000]], bands[j[s : s + 1_000_000]]
            collide[s : s + 1_000_000] = ((bi == bj) & (bi != 0)).any(1)
        c0 = time.process_time()
        stats, cl, dt = run_winnow(a.corpus, os.path.join(a.out, "run-sweep"), threshold=t, bands=b, rows=r)
        e2e_cpu = time.process_time() - c0
        m = pair_metrics(labels_for(ids, cl), i, j, jac, t)
        row = {
            "bands": b,
            "rows": r,
            "perms": b * r,
            "P(t)": round(float(collision_probability(t, b, r)), 4),
            "P(t-0.3)": round(float(collision_probability(t - 0.3, b, r)), 4),
            "map_cpu_s": round(map_cpu, 2),
            "lsh_candidate_pairs": int(collide.sum()),
            "candidates_below_t-0.3": int((collide & (jac < t - 0.3)).sum()),
            "candidate_recall_at_t": round(float(collide[jac >= t].mean()), 4),
            "e2e_cpu_s": round(e2e_cpu, 2),
            "reduce_s": stats.get("seconds"),
            "verified_pairs": stats.get("verified_pairs"),
            "bucket_pairs": stats.get("bucket_pairs"),
            "precision": round(m["precision"], 4),
            "recall": round(m["recall"], 4),
        }
        rows_out.append(row)
        print(json.dumps(row), flush=True)
    with open(os.path.join(a.out, f"sweep-{t}.json"), "w") as fh:
        json.dump(rows_out, fh, indent=1)


if __name__ == "__main__":
    main()
