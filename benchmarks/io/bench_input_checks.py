"""Cost of the per-line input checks of the JSONL fast path (issue 19), in one process.

On 16 MB blocks of real JSONL (the sample corpus, repeated), times:
  * pyarrow.json.read_json of the block (what the fast path spent before the checks);
  * UTF-8 validation of every line (one Arrow validation over a zero-copy string array);
  * nesting depth guard of every line (numpy over the bytes; exact scan only for lines with
    more than 1,000 opening brackets);
  * winnow's whole block parse (checks + parse + record columns).
Relative figures (checks / parse) are robust to a busy machine; absolute MB/s are not.

    .venv/bin/python benchmarks/io/bench_input_checks.py --mb 64
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import shutil
import sys
import tempfile
import time


def corpus_bytes(mb: int) -> bytes:
    from winnow.core.datasets import build_dataset

    tmp = tempfile.mkdtemp()
    build_dataset("sample", tmp, shards=1)
    raw = b"".join(gzip.open(f).read() for f in sorted(glob.glob(os.path.join(tmp, "raw", "part-*.jsonl.gz"))))
    shutil.rmtree(tmp)
    reps = mb * 1_000_000 // len(raw) + 1
    return (raw * reps)[: mb * 1_000_000].rsplit(b"\n", 1)[0] + b"\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.json as pajson

    from winnow.core.io.readers import JSONL_BLOCK_BYTES, InputSpec, _line_bounds, _parse_jsonl_block
    from winnow.core.io.validate import invalid_utf8_rows, lines_array, too_deep_lines

    data = corpus_bytes(args.mb)
    blocks, pos = [], 0
    while pos < len(data):
        cut = data.rfind(b"\n", pos, pos + JSONL_BLOCK_BYTES) + 1 or len(data)
        blocks.append(data[pos:cut])
        pos = cut
    spec = InputSpec(path="x")
    t = {"pyarrow read_json": [], "utf-8 check": [], "depth check": [], "winnow block parse": []}
    for _ in range(args.repeat):
        acc = dict.fromkeys(t, 0.0)
        for b in blocks:
            t0 = time.perf_counter()
            pajson.read_json(pa.BufferReader(pa.py_buffer(b)), read_options=pajson.ReadOptions(block_size=len(b) + 1))
            t1 = time.perf_counter()
            s, e = _line_bounds(b)
            assert not invalid_utf8_rows(lines_array(b, s, e)).any()
            t2 = time.perf_counter()
            assert not too_deep_lines(b, s, e)[0].any()
            t3 = time.perf_counter()
            _parse_jsonl_block(spec, "x", b, 0)
            t4 = time.perf_counter()
            acc["pyarrow read_json"] += t1 - t0
            acc["utf-8 check"] += t2 - t1
            acc["depth check"] += t3 - t2
            acc["winnow block parse"] += t4 - t3
        for k in t:
            t[k].append(acc[k])
    best = {k: min(v) for k, v in t.items()}
    mb = len(data) / 1e6
    print(f"{mb:.0f} MB of JSONL in {len(blocks)} blocks")
    print(f"{'part':<22} {'best s':>8} {'MB/s':>9} {'% of read_json':>15}")
    for k, v in best.items():
        print(f"{k:<22} {v:8.3f} {mb / v:9.0f} {100 * v / best['pyarrow read_json']:14.1f}%")
    print(f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()
