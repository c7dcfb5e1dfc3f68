"""Map-side cost of a banding: CPU seconds of ``minhash_dedup``'s map (shingling, MinHash with
``bands × rows`` permutations, band keys, shingle column for verification) over a corpus held in
memory, per banding, best of ``--repeat`` interleaved runs; and of the MinHash kernel alone.

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/map_cost.py --corpus benchmarks/_work/dedup/corpus
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_quality import load_corpus  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from winnow.curate.dedup.minhash import MinhashDedup, minhash_signatures

    tab = load_corpus(a.corpus)
    batches = [tab.slice(s, 4096) for s in range(0, tab.num_rows, 4096)]
    configs = {"8x7 (t=0.9)": (8, 7), "16x6 (t=0.8)": (16, 6), "26x5 (t=0.7)": (26, 5), "14x8 (fineweb)": (14, 8)}
    steps = {k: MinhashDedup(bands=b, rows=r) for k, (b, r) in configs.items()}
    shingles = [steps["14x8 (fineweb)"].shingles(t.column("text")) for t in batches]
    for s in steps.values():
        s.map(batches[0].slice(0, 10))
    best = {k: [float("inf"), float("inf")] for k in steps}
    for _ in range(a.repeat):
        for k, s in steps.items():
            c0 = time.process_time()
            for t in batches:
                s.map(t)
            best[k][0] = min(best[k][0], time.process_time() - c0)
            c0 = time.process_time()
            for sh, counts in shingles:
                minhash_signatures(sh, counts, *s._perm)
            best[k][1] = min(best[k][1], time.process_time() - c0)
    for k, (m, mh) in best.items():
        print(
            json.dumps(
                {
                    "banding": k,
                    "permutations": steps[k].num_perm,
                    "map_cpu_s": round(m, 3),
                    "minhash_kernel_cpu_s": round(mh, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
