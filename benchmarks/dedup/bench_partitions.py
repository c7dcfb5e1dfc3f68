"""Partitioned reduce (issue 23): wall time and peak memory per reduce task vs partitions.

Keys are computed once per step (``map`` over every shard of the corpus, as the pipeline's
stage 0 would), then the reduce plan runs for each partition count P with every task in a
*fresh process*, one at a time, so each task's memory is its own and its seconds are not
disturbed by a sibling. Before its task the process runs the step's reduce on 60 tiny
documents (imports, compiled kernels, Arrow pools in place); *growth* is then the task's peak
RSS (sampled every 5 ms) above its start — its data. Per P it reports: the sum of task seconds
(total work), the critical path Σ_phases max(task seconds) (the wall time with ≥ P CPUs), the
largest task peak RSS and the largest growth. Decisions are checked to be identical for every P.

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/bench_partitions.py \\
        --corpus benchmarks/_work/dedup/corpus10 --partitions 1 2 4 8

Writes ``benchmarks/out/dedup/partitions.json``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import multiprocessing as mp
import os
import pickle
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pyarrow.parquet as pq


def _warm(step_payload: bytes) -> None:
    """Run the same step's whole reduce on 60 tiny documents first: imports, compiled kernels
    and Arrow's pools are then in place, so a task's growth above its start is its data."""
    import tempfile

    import pyarrow as pa

    from winnow.core.memory import release_memory
    from winnow.core.pipeline.reduce import run_plan

    step = pickle.loads(step_payload)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    t = pa.table({"id": [f"w{i}" for i in range(60)], "text": [" ".join(words[i % 5 :] * 3) for i in range(60)]})
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "k.parquet")
        pq.write_table(step.map(t), f)
        run_plan(step.reduce_plan([f, f], os.path.join(d, "dec"), partitions=2))
    release_memory()


def _child(step_payload: bytes, payload: bytes) -> dict:
    from winnow.core.pipeline.reduce import run_measured

    _warm(step_payload)
    rec = run_measured(pickle.loads(payload))
    rec["growth_mb"] = round(rec["peak_rss_mb"] - rec["start_rss_mb"], 1)
    rec.pop("result", None)
    return rec


def make_keys(step, corpus: str, out: str) -> list[str]:
    """``step.map`` over every shard (batches of 8192 rows), one key file per shard."""
    from winnow.core.io.readers import InputSpec, plan_tasks, read_task

    if os.path.exists(os.path.join(out, "_done")):
        return sorted(glob.glob(os.path.join(out, "k*.parquet")))
    os.makedirs(out, exist_ok=True)
    spec = InputSpec(path=[corpus + "/"], batch_rows=8192)
    files = []
    t0 = time.perf_counter()
    if hasattr(step, "setup"):
        step.setup()
    for t in plan_tasks(spec):
        f = os.path.join(out, f"k{t.index:05d}.parquet")
        w = None
        for ch in read_task(spec, t):
            if not ch.table.num_rows:
                continue
            keys = step.map(ch.table)
            w = w or pq.ParquetWriter(f, keys.schema, compression="zstd")
            w.write_table(keys)
        if w is not None:
            w.close()
            files.append(f)
    open(os.path.join(out, "_done"), "w").write(f"{time.perf_counter() - t0:.1f}")
    return files


def digest(dec_dir: str) -> str:
    h = hashlib.sha256()
    for f in sorted(glob.glob(os.path.join(dec_dir, "*.parquet"))):
        t = pq.read_table(f)
        h.update(json.dumps(t.to_pydict(), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def run(step, key_files: list[str], work: str, P: int, jobs: int = 1) -> dict:
    out = os.path.join(work, f"dec-P{P}")
    shutil.rmtree(out, ignore_errors=True)
    plan = step.reduce_plan(key_files, out, partitions=P)
    recs = []
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    for phase in plan:  # one fresh process per task, `jobs` at a time
        with ProcessPoolExecutor(jobs, mp_context=ctx, max_tasks_per_child=1) as ex:
            futs = [ex.submit(_child, pickle.dumps(step), pickle.dumps(task)) for task in phase]
            recs.extend(f.result() for f in futs)
    wall = time.perf_counter() - t0
    from winnow.core.pipeline.reduce import scratch_dir

    shutil.rmtree(scratch_dir(out), ignore_errors=True)
    phases: dict[str, list[dict]] = {}
    for r in recs:
        phases.setdefault(r["phase"], []).append(r)
    return {
        "partitions": P,
        "tasks": len(recs),
        "sum_task_s": round(sum(r["seconds"] for r in recs), 2),
        "critical_path_s": round(sum(max(r["seconds"] for r in v) for v in phases.values()), 2),
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in recs),
        "max_growth_mb": max(r["growth_mb"] for r in recs),
        "by_phase": {
            k: {
                "tasks": len(v),
                "max_s": max(r["seconds"] for r in v),
                "sum_s": round(sum(r["seconds"] for r in v), 2),
                "max_peak_mb": max(r["peak_rss_mb"] for r in v),
                "max_growth_mb": max(r["growth_mb"] for r in v),
            }
            for k, v in phases.items()
        },
        "wall_with_process_starts_s": round(wall, 1),
        "decisions": digest(out),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus10")
    ap.add_argument("--work", default="benchmarks/_work/dedup/partitions")
    ap.add_argument("--partitions", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--steps", nargs="+", default=["exact_dedup", "minhash_dedup"])
    ap.add_argument("--out", default="benchmarks/out/dedup/partitions.json")
    ap.add_argument("--jobs", type=int, default=1, help="fresh task processes at a time (1: clean timings)")
    a = ap.parse_args()
    from winnow.curate.dedup.exact import ExactDedup
    from winnow.curate.dedup.minhash import MinhashDedup
    from winnow.curate.dedup.semantic import SemanticDedup

    steps = {"exact_dedup": ExactDedup(), "minhash_dedup": MinhashDedup(), "semantic_dedup": SemanticDedup()}
    res = {"corpus": a.corpus, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "steps": {}}
    res["load_before"] = os.getloadavg()
    for name in a.steps:
        step = steps[name]
        kdir = os.path.join(a.work, name, "keys")
        t0 = time.perf_counter()
        files = make_keys(step, a.corpus, kdir)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        kb = sum(os.path.getsize(f) for f in files)
        print(f"{name}: {rows} docs, {len(files)} key files, {kb / 2**20:.0f} MiB ({time.perf_counter() - t0:.0f} s)")
        out = {"docs": rows, "key_files": len(files), "key_mib": round(kb / 2**20, 1), "runs": []}
        for P in a.partitions:
            r = run(step, files, os.path.join(a.work, name), P, a.jobs)
            out["runs"].append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "by_phase"}), flush=True)
        assert len({r["decisions"] for r in out["runs"]}) == 1, "decisions differ between partition counts"
        res["steps"][name] = out
    res["load_after"] = os.getloadavg()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print("wrote", a.out, file=sys.stderr)


if __name__ == "__main__":
    main()
