"""The exact Jaccard test on real candidate pairs: a MinHash run on a corpus, with the first
verification batch of more than ``--min-pairs`` pairs captured (after the free size bound), then
the third session's single blocked merge against the current kernel on those pairs, best of 3
CPU seconds, results checked equal.

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/verify_real_pairs.py benchmarks/_work/dedup/corpus10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def capture(corpus: str, min_pairs: int):
    import winnow.curate.dedup.minhash as M
    from winnow import Pipeline

    got = {}
    orig = M.verify_pairs

    def hook(vals, offs, u, v, threshold):
        if not got and len(u) > min_pairs:
            st, en = offs if isinstance(offs, tuple) else (offs[:-1], offs[1:])
            lens = en - st
            ok = np.minimum(lens[u], lens[v]) >= threshold * np.maximum(lens[u], lens[v])
            got.update(vals=vals.copy(), st=np.array(st, np.int64), en=np.array(en, np.int64), u=u[ok], v=v[ok])
        return orig(vals, offs, u, v, threshold)

    M.verify_pairs = hook
    try:
        with tempfile.TemporaryDirectory() as tmp:
            Pipeline([{"minhash_dedup": {"threshold": 0.8}}]).run(
                os.path.join(corpus, "*.jsonl"), tmp + "/out", workers=1
            )
    finally:
        M.verify_pairs = orig
    if not got:
        raise SystemExit(f"no verification batch of more than {min_pairs:,} pairs")
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--min-pairs", type=int, default=200_000)
    a = ap.parse_args()
    from bench_kernels import _jaccard_ok_blocked, best

    from winnow.core.text.kernels import jaccard_at_least

    d = capture(a.corpus, a.min_pairs)
    vals, st, en, u, v = d["vals"], d["st"], d["en"], d["u"].astype(np.int64), d["v"].astype(np.int64)
    out = np.zeros(len(u), np.bool_)
    _jaccard_ok_blocked(vals, st, en, u[:2], v[:2], 0.8, out[:2])  # compile
    t0, _ = best(lambda: _jaccard_ok_blocked(vals, st, en, u, v, 0.8, out))
    t1, new = best(lambda: jaccard_at_least(vals, (st, en), u, v, 0.8))
    print(f"{len(u):,} real candidate pairs, mean set size {float((en - st).mean()):.0f}, {new.mean():.0%} pass")
    print(
        f"one blocked merge {t0:.3f} s ({t0 / len(u) * 1e9:.0f} ns/pair), four side by side {t1:.3f} s "
        f"({t1 / len(u) * 1e9:.0f} ns/pair): {t0 / t1:.2f}x, same={bool((out == new).all())}"
    )


if __name__ == "__main__":
    main()
