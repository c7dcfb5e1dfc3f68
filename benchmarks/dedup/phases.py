"""Where winnow's minhash_dedup spends CPU and memory, phase by phase, in one process.

Phases: ``imports``; ``map`` (stage 0: read, shingle, MinHash, write keys and stage data — the
first call also loads the compiled kernels); ``reduce`` (buckets, batches, verification);
``apply`` (stage 1: read stage data, apply decisions, write output and rejects). Peak RSS per
phase comes from a thread reading ``/proc/self/statm`` every 20 ms.

    PYTHONPATH=src benchmarks/.venv-dedup/bin/python benchmarks/dedup/phases.py \
        benchmarks/_work/dedup/corpus [--clustering components] [--no-verify] \
        [--trim-slack-mb 64] [--mmap-threshold 0]

``--trim-slack-mb`` sets when memory is handed back after a task or batch
(:func:`winnow.core.memory.release_memory`; ``0`` = after every one, a huge value = never);
``--mmap-threshold N`` pins glibc's mmap threshold to N bytes first (the alternative that was
measured and not kept).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import resource
import shutil
import threading
import time


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", help="folder of *.jsonl shards (build_corpus.py)")
    ap.add_argument("--clustering", default="center")
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    ap.add_argument("--preset", default=None, help="e.g. fineweb (default: banding chosen for the threshold)")
    ap.add_argument("--trim-slack-mb", type=float, default=None)
    ap.add_argument("--mmap-threshold", type=int, default=0)
    ap.add_argument("--work", default="benchmarks/_work/dedup/phases")
    a = ap.parse_args()
    if a.mmap_threshold:
        ctypes.CDLL("libc.so.6").mallopt(-3, a.mmap_threshold)  # M_MMAP_THRESHOLD

    phase = {"name": "imports"}
    peak: dict[str, float] = {}
    page = os.sysconf("SC_PAGE_SIZE")

    def sample():
        while True:
            with open("/proc/self/statm", "rb") as fh:
                rss = int(fh.read().split()[1]) * page / 2**20
            peak[phase["name"]] = max(peak.get(phase["name"], 0.0), rss)
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    c0 = cpu()
    import winnow.core.executors.base as B
    import winnow.core.executors.local as L
    import winnow.core.memory as M
    import winnow.core.pipeline.runner as R
    import winnow.curate.dedup.minhash as MH
    from winnow import Pipeline

    if a.trim_slack_mb is not None:
        rm = functools.partial(M.release_memory, slack=int(a.trim_slack_mb * 2**20))
        R.release_memory = B.release_memory = MH.release_memory = rm
    seconds = {"imports": cpu() - c0}

    def timed(name, fn):
        def run(*args, **kw):
            prev = phase["name"]
            phase["name"] = name
            t = cpu()
            try:
                return fn(*args, **kw)
            finally:
                seconds[name] = seconds.get(name, 0.0) + cpu() - t
                phase["name"] = prev

        return run

    stage = L.LocalExecutor.run_stage
    L.LocalExecutor.run_stage = lambda self, layout, spec, steps, s, *r: timed(("map", "apply")[s], stage)(
        self, layout, spec, steps, s, *r
    )
    MH.MinhashDedup.reduce = timed("reduce", MH.MinhashDedup.reduce)
    out = os.path.join(a.work, "out")
    shutil.rmtree(out, ignore_errors=True)
    phase["name"] = "other"
    cfg = {"clustering": a.clustering, "verify": a.verify, **({"preset": a.preset} if a.preset else {})}
    res = Pipeline([{"minhash_dedup": cfg}]).run(os.path.join(a.corpus, "*.jsonl"), out, workers=1)
    seconds["total"] = cpu()  # the whole process, interpreter start-up included
    time.sleep(0.05)
    report = {
        "corpus": a.corpus,
        "clustering": a.clustering,
        "verify": a.verify,
        "trim_slack_mb": a.trim_slack_mb,
        "mmap_threshold": a.mmap_threshold,
        "docs": res.manifest["totals"]["rows_in"],
        "removed": res.manifest["totals"]["rows_rejected"],
        "cpu_s": {k: round(v, 2) for k, v in seconds.items()},
        "peak_rss_mb": {k: round(v) for k, v in peak.items()},
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
