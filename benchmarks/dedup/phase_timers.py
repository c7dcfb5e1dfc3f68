"""Wall seconds per function of a MinHash dedup run, with no profiler overhead: each named
function is wrapped with a ``perf_counter`` timer, then ``minhash_dedup`` runs end to end (one
worker, in this process) on a corpus folder of JSONL shards (issue 20, where the time goes).

    PYTHONPATH=src python benchmarks/dedup/phase_timers.py benchmarks/_work/dedup/corpus10

Timers nest (``map`` includes ``word_token_hashes``), so the column does not sum to the total.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import resource
import shutil
import sys
import tempfile
import time

TARGETS = {
    "winnow.curate.dedup.minhash": [
        "verify_pairs",
        "bucket_pairs",
        "correlation_clusters",
        "_buckets",
        "_components",
        "_route_memberships",
    ],
    "winnow.curate.dedup._reduce": ["shuffle_keys", "write_groups", "write_sparse_decisions"],
    "winnow.core.text.normalized_words": ["word_token_hashes", "_raw_to_words"],
    "winnow.core.text.kernels": ["word_slots", "ngram_shingles", "minhash", "sort_unique_u32", "expand_slots"],
}
METHODS = {
    ("winnow.curate.dedup.minhash", "MinhashDedup"): ["map", "_route_keys", "_decide"],
    ("winnow.core.io.writers", "ShardWriter"): ["write"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--clustering", default="correlation")
    a = ap.parse_args()
    seconds: dict[str, float] = collections.defaultdict(float)

    def timed(label, f):
        def g(*args, **kw):
            t0 = time.perf_counter()
            try:
                return f(*args, **kw)
            finally:
                name = label
                if label == "ShardWriter.write":  # by destination folder and codec
                    w = args[0]
                    name = f"write {os.path.basename(w.directory)} ({w.format}, {w.compression})"
                seconds[name] += time.perf_counter() - t0

        return g

    for mod_name, names in TARGETS.items():
        mod = importlib.import_module(mod_name)
        for n in names:
            f = getattr(mod, n)
            g = timed(f"{mod_name.rsplit('.', 1)[1]}.{n}", f)
            for m in list(sys.modules.values()):  # every module that imported the function by name
                if getattr(m, "__name__", "").startswith("winnow") and getattr(m, n, None) is f:
                    setattr(m, n, g)
    for (mod_name, cls_name), names in METHODS.items():
        cls = getattr(importlib.import_module(mod_name), cls_name)
        for n in names:
            setattr(cls, n, timed(f"{cls_name}.{n}", getattr(cls, n)))

    from winnow import Pipeline

    out = tempfile.mkdtemp(prefix="winnow-phases-")
    t0 = time.perf_counter()
    res = Pipeline([{"minhash_dedup": {"threshold": 0.8, "clustering": a.clustering}}]).run(
        os.path.join(a.corpus, "*.jsonl"), os.path.join(out, "run"), workers=1
    )
    ru = resource.getrusage(resource.RUSAGE_SELF)
    red = res.manifest["steps"][0]["reduce"]
    print(
        f"wall {time.perf_counter() - t0:.2f} s, CPU {ru.ru_utime + ru.ru_stime:.2f} s (sys {ru.ru_stime:.2f}), "
        f"verified pairs {red['verified_pairs']:,}, duplicates {red['duplicates']:,}, peak RSS {ru.ru_maxrss / 1024:.0f} MB"
    )
    for k, v in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"{v:8.3f}  {k}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
