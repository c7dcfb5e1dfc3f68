"""Read→write throughput: JSONL.gz → Parquet, winnow vs pyarrow's own JSON reader (the ceiling).

Builds a corpus by repeating the real sample corpus (distinct ids) to --mb decompressed MB,
then times, on the same file:
  * winnow: Pipeline([]) run (read JSONL.gz with quarantine checks, stable ids, write Parquet
    shards, manifest), workers=1;
  * pyarrow: gzip stream → pyarrow.json.read_json → pyarrow.parquet.write_table (no accounting).
Throughput = decompressed JSON bytes / wall second.

    .venv/bin/python benchmarks/io/bench_jsonl_to_parquet.py --mb 200
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shutil
import sys
import tempfile
import time


def build(path: str, mb: int) -> int:
    from winnow.core.datasets import build_dataset

    tmp = tempfile.mkdtemp()
    build_dataset("sample", tmp, shards=1)
    rows = []
    for f in sorted(glob.glob(os.path.join(tmp, "raw", "part-*.jsonl.gz"))):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    shutil.rmtree(tmp)
    size = 0
    k = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as fh:
        while size < mb * 1_000_000:
            for r in rows:
                line = json.dumps({**r, "id": f"{r['id']}#{k}"}, ensure_ascii=False) + "\n"
                fh.write(line)
                size += len(line.encode())
            k += 1
    return size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=200, help="decompressed size of the test file")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    from winnow import Pipeline

    work = tempfile.mkdtemp(prefix="winnow-io-bench-")
    src = os.path.join(work, "corpus.jsonl.gz")
    nbytes = build(src, args.mb)
    print(f"corpus: {nbytes / 1e6:.0f} MB decompressed, {os.path.getsize(src) / 1e6:.0f} MB gzip")
    res = {"winnow": [], "pyarrow (threads)": [], "pyarrow (1 thread)": []}
    for _ in range(args.repeat):
        out = os.path.join(work, "run")
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        r = Pipeline([]).run(src, out, workers=1)
        res["winnow"].append(time.perf_counter() - t0)
        assert r.manifest["checks"]["ok"]
        for label, threads in (("pyarrow (threads)", True), ("pyarrow (1 thread)", False)):
            pa.set_cpu_count(os.cpu_count() if threads else 1)
            t0 = time.perf_counter()
            with gzip.open(src, "rb") as fh:
                table = pajson.read_json(fh, read_options=pajson.ReadOptions(use_threads=threads, block_size=16 << 20))
            pq.write_table(table, os.path.join(work, "pa.parquet"), compression="zstd")
            res[label].append(time.perf_counter() - t0)
            assert table.num_rows == r.manifest["totals"]["rows_kept"]
        pa.set_cpu_count(os.cpu_count())
    best = {k: min(v) for k, v in res.items()}
    print(f"{'reader':<20} {'best s':>8} {'MB/s':>8} {'ratio vs winnow':>16}")
    for k, v in best.items():
        print(f"{k:<20} {v:8.2f} {nbytes / 1e6 / v:8.1f} {best['winnow'] / v:16.2f}")
    print(f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, cpus {os.cpu_count()}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
