"""Is the MinHash permutation family unbiased? Mean signature agreement − exact Jaccard on real pairs.

Run after bench_quality.py (it reuses its cached exact ground truth):

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/check_minhash_bias.py

Compares winnow's 64-bit affine family (``(a·x + b) mod 2⁶⁴``, high 32 bits) with 32-bit
alternatives on 3,000 pairs with exact Jaccard in (0.3, 0.95), 256 permutations each, over 5
independent permutation draws (all pairs share a draw, so one draw's bias is not independent
across pairs).
"""

import glob
import os
import sys

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(__file__))
import bench_quality as B  # noqa: E402

from winnow.core.text.normalized_words import shingle_hashes  # noqa: E402


def main():
    tab = B.load_corpus("benchmarks/_work/dedup/corpus")
    z = np.load(sorted(glob.glob("benchmarks/out/dedup/gt-*-5.npz"))[0])
    i, j, jac = z["i"], z["j"], z["jac"]
    rng = np.random.default_rng(0)
    sel = rng.choice(np.flatnonzero((jac > 0.3) & (jac < 0.95)), 3000, replace=False)
    docs = np.unique(np.r_[i[sel], j[sel]])
    pos = {d: k for k, d in enumerate(docs.tolist())}
    sh, c = shingle_hashes(tab.column("text").take(pa.array(docs)))
    doc_of = np.repeat(np.arange(len(docs)), c)
    K = 256
    SEEDS = 5
    x32 = (sh >> np.uint64(32)).astype(np.uint32)
    pi = np.array([pos[x] for x in i[sel].tolist()])
    pj = np.array([pos[x] for x in j[sel].tolist()])
    expect = np.mean(np.sqrt(jac[sel] * (1 - jac[sel]) / K)) * np.sqrt(2 / np.pi)
    res: dict = {}
    for seed in range(1, SEEDS + 1):  # every pair shares one permutation draw: vary the draw
        r = np.random.default_rng(seed)
        A64 = r.integers(0, 2**63, K, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        B64 = r.integers(0, 2**63, K, dtype=np.uint64)
        A32 = (r.integers(0, 2**31, K, dtype=np.uint64) * 2 + 1).astype(np.uint32)
        B32 = r.integers(0, 2**32, K, dtype=np.uint64).astype(np.uint32)
        variants = {
            "64-bit affine (winnow)": lambda k: (A64[k] * sh + B64[k]) >> np.uint64(32),
            "32-bit affine": lambda k: A32[k] * x32 + B32[k],
            "32-bit xor-multiply-xorshift": lambda k: (lambda v: v ^ (v >> np.uint32(16)))((x32 ^ B32[k]) * A32[k]),
        }
        for name, fn in variants.items():
            S = np.zeros((len(docs), K), np.uint64)
            for k in range(K):
                v = fn(k)
                m = np.full(len(docs), np.iinfo(v.dtype).max, v.dtype)
                np.minimum.at(m, doc_of, v)
                S[:, k] = m
            err = (S[pi] == S[pj]).mean(1) - jac[sel]
            res.setdefault(name, []).append((err.mean(), np.abs(err).mean()))
    print(f"{len(sel)} pairs, {K} permutations, {SEEDS} permutation draws (mean ± sd over draws)")
    for name, v in res.items():
        b_, e_ = np.array(v).T
        print(
            f"{name:<30} bias {b_.mean():+.4f} ± {b_.std(ddof=1):.4f}  mean |error| {e_.mean():.4f} "
            f"(binomial expectation {expect:.4f})"
        )


if __name__ == "__main__":
    main()
