"""Does `winnow report` stay bounded as the run grows? Time and peak memory of the report for
runs of the real sample corpus repeated 4x, 64x and 512x (Length filter, 2 workers).

    .venv/bin/python benchmarks/report/bench_report_scale.py --copies 4 64 512 [--work benchmarks/_work/report]

Run folders are reused when they already hold a manifest (the 512x run takes minutes).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, nargs="+", default=[4, 64, 512])
    ap.add_argument("--work", default="benchmarks/_work/report")
    ap.add_argument("--sample", default=None, help="an existing sample corpus (default: build one)")
    args = ap.parse_args()
    from winnow import Length, Pipeline

    sample = args.sample or os.path.join(args.work, "sample")
    if not os.path.exists(os.path.join(sample, "manifest.json")):
        from winnow.core.datasets import build_dataset

        build_dataset("sample", sample, shards=4, seed=0)
    parts = sorted(glob.glob(os.path.join(sample, "raw", "part-*.jsonl.gz")))
    print(
        f"{'copies':>6} {'docs':>9} {'text GB':>8} {'run s':>7} {'report s':>9} {'report CPU s':>12} {'peak RSS MB':>11}"
    )
    for n in args.copies:
        src, run = os.path.join(args.work, f"in{n}"), os.path.join(args.work, f"run{n}")
        run_s = float("nan")
        if not os.path.exists(os.path.join(run, "manifest.json")):
            os.makedirs(src, exist_ok=True)
            for k in range(n):
                for p in parts:
                    dst = os.path.join(src, f"c{k:04d}-{os.path.basename(p)}")
                    if not os.path.exists(dst):
                        shutil.copy(p, dst)
            t = time.perf_counter()
            Pipeline([Length(min_words=20, max_chars=20000)]).run(src, run, workers=2, overwrite=True)
            run_s = time.perf_counter() - t
        m = json.load(open(os.path.join(run, "manifest.json")))
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "winnow.cli", "report", run, "-o", os.path.join(args.work, f"r{n}.html")],
            stdout=subprocess.DEVNULL,
        )
        _, status, ru = os.wait4(proc.pid, 0)  # this child's own CPU time and peak RSS
        wall = time.perf_counter() - t
        if status != 0:
            raise SystemExit(f"winnow report failed on {run}")
        print(
            f"{n:>6} {m['totals']['rows_in']:>9,} {m['totals']['bytes_in'] / 1e9:>8.2f} {run_s:>7.0f} "
            f"{wall:>9.1f} {ru.ru_utime + ru.ru_stime:>12.1f} {ru.ru_maxrss / 1024:>11.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
