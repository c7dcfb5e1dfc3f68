"""First use of the compiled kernels: a fresh process running minhash_dedup on 2,000 real
documents, with an empty numba cache (what a fresh clone saw before the install warmed it) and
after ``python -m winnow.core.text.kernels`` (what ``make`` now runs at install).

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/first_use.py --corpus benchmarks/_work/dedup/corpus
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from winnow import Pipeline
res = Pipeline([{"minhash_dedup": {}}]).run(sys.argv[1], sys.argv[2], workers=1, overwrite=True)
st = next(s for s in res.manifest["steps"] if s["name"] == "minhash_dedup")
from winnow.core.text import kernels
compiled = sum(sum(d.stats.cache_misses.values()) for d in kernels.dispatchers().values())
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": st["rows_in"], "step_seconds": st["seconds"],
                  "compiled": compiled}))
"""


def child(env, *args):
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=True)
    return p.stdout.strip().splitlines()[-1], time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus")
    a = ap.parse_args()
    first = sorted(glob.glob(os.path.join(a.corpus, "*.jsonl")))[0]
    with tempfile.TemporaryDirectory() as d:
        with open(first) as fh, open(os.path.join(d, "in.jsonl"), "w") as out:
            for _, line in zip(range(2000), fh):
                out.write(line)
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(d, "cache"))
        inp, run = os.path.join(d, "in.jsonl"), os.path.join(d, "run")
        cold = json.loads(child(env, "-c", CHILD, inp, run)[0])
        import shutil

        shutil.rmtree(os.path.join(d, "cache"))
        msg, warm_s = child(env, "-m", "winnow.core.text.kernels")
        warm = json.loads(child(env, "-c", CHILD, inp, run)[0])
    for name, r in (("empty cache (fresh clone before)", cold), ("after install warm-up", warm)):
        print(
            f"{name:<34} process {r['seconds']:.2f} s, minhash_dedup step {r['step_seconds']:.2f} s "
            f"({r['rows'] / r['step_seconds']:,.0f} rows/s), kernels compiled {r['compiled']}"
        )
    print(f"warm-up at install: {warm_s:.1f} s ({msg})")


if __name__ == "__main__":
    main()
