"""cProfile of `minhash_dedup` end to end (one worker, in this process) on a corpus folder of
JSONL shards: the functions with the most own time (issue 20, where MinHash's time goes).

    PYTHONPATH=src python benchmarks/dedup/profile_e2e.py benchmarks/_work/dedup/corpus10 [--clustering center]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--clustering", default="correlation")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sort", default="tottime", help="tottime (own time) or cumulative")
    a = ap.parse_args()
    from winnow import Pipeline

    out = tempfile.mkdtemp(prefix="winnow-prof-")
    step = {"minhash_dedup": {"threshold": 0.8, "clustering": a.clustering}}
    prof = cProfile.Profile()
    prof.runcall(Pipeline([step]).run, os.path.join(a.corpus, "*.jsonl"), os.path.join(out, "run"), workers=1)
    pstats.Stats(prof).sort_stats(a.sort).print_stats(a.top)


if __name__ == "__main__":
    main()
