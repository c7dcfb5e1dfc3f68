"""Sorted distinct shingle sets per document, as the MinHash route phase builds them: one global
64-bit sort (`unique_per_doc`, the previous path) vs a radix sort per document of the stored
32-bit values (`sort_unique_u32`). Same output is checked. Synthetic: documents of 0–4,000 random
32-bit values with in-document repeats.

    PYTHONPATH=src python benchmarks/dedup/bench_set_sort.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=20000)
    a = ap.parse_args()
    from winnow.core.text.kernels import sort_unique_u32
    from winnow.curate.dedup.minhash import unique_per_doc

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4000, a.docs)
    vals = rng.integers(0, 2**32, int(counts.sum()), dtype=np.uint64).astype(np.uint32)
    vals[5::13] = vals[4::13][: len(vals[5::13])]  # repeats within documents
    sort_unique_u32(vals[:100], np.array([100]))  # load the compiled kernel
    t = time.perf_counter()
    v2, c2 = sort_unique_u32(vals, counts)
    t_radix = time.perf_counter() - t
    t = time.perf_counter()
    v1, c1 = unique_per_doc(vals.astype(np.uint64) << np.uint64(32), counts)
    t_global = time.perf_counter() - t
    same = np.array_equal(c1, c2) and np.array_equal((v1 >> np.uint64(32)).astype(np.uint32), v2)
    print(
        f"{len(vals):,} values in {a.docs:,} documents: global sort {t_global:.2f} s, per-document radix "
        f"{t_radix:.2f} s ({t_global / t_radix:.0f}x), same output: {same}"
    )


if __name__ == "__main__":
    main()
