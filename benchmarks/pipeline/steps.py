"""CPU seconds of each map step of winnow.yaml, in pipeline order, in this process (batches of 8,192 rows).

PYTHONPATH=src .venv/bin/python benchmarks/pipeline/steps.py [N_SHARDS]   # corpus of bench.py --mb 50
"""

import glob
import json
import os
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from winnow.core.pipeline.config import parse_config

HERE = os.path.dirname(os.path.abspath(__file__))
MAP = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb_quality", "pii")


def main():
    with open(os.path.join(HERE, "winnow.yaml")) as fh:
        _, steps = parse_config({"input": {"path": "x"}, "output": "x", **yaml.safe_load(fh)})
    files = sorted(glob.glob(os.path.join(HERE, "..", "_work", "pipeline", "corpus-1x", "*.jsonl")))
    if not files:
        sys.exit(
            "no corpus: build it with `PYTHONPATH=src .venv/bin/python benchmarks/pipeline/bench.py --mb 50` first"
        )
    rows = [json.loads(line) for f in files[: int(sys.argv[1]) if len(sys.argv) > 1 else 8] for line in open(f)]
    t = pa.table({"id": [str(r["id"]) for r in rows], "text": [r["text"] for r in rows]})
    maps = [s for s in steps if s.name in MAP]
    for s in maps:
        s.setup()
        s.process(t.slice(0, 16))  # compiled kernels loaded outside the timings
    secs = {s.name: 0.0 for s in maps}
    for off in range(0, t.num_rows, 8192):
        b = t.slice(off, 8192)
        for s in maps:
            t0 = time.process_time()
            new, reasons = s.process(b)
            b = new.filter(pc.is_null(reasons))
            secs[s.name] += time.process_time() - t0
    mb = sum(len(r["text"].encode()) for r in rows) / 1e6
    print(f"{len(rows)} docs, {mb:.1f} MB: " + ", ".join(f"{k} {v:.2f}" for k, v in secs.items()))
    print(f"all map steps: {sum(secs.values()):.2f} CPU s")


if __name__ == "__main__":
    main()
