"""Local executor vs Ray executor (local Ray, 2 CPUs) on the same pipeline and corpus.

The corpus is the bundled sample (real text from installed packages: JSONL shards + HTML
pages, read through winnow's readers) replicated ``--copies`` times with distinct ids, written
as ``--shards`` JSONL.gz files. Each configuration runs the same pipeline; the Ray runs are
checked to give exactly the local rows. Per-task figures come from the run's completion
markers and ``_work/stage-*/ray.json``.

    PYTHONPATH=src python benchmarks/ray/bench.py --copies 12 --shards 24

No peer is needed (Ray is winnow's own dependency), so there is no setup script.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shutil
import statistics
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc


def build_corpus(work: str, copies: int, shards: int) -> dict:
    from winnow.core.datasets import build_dataset
    from winnow.core.io.readers import InputSpec, plan_tasks, read_task

    sample = os.path.join(work, "sample")
    corpus = os.path.join(work, f"corpus-x{copies}-{shards}")
    if os.path.exists(os.path.join(corpus, "_info.json")):
        return json.load(open(os.path.join(corpus, "_info.json")))
    if not os.path.exists(os.path.join(sample, "manifest.json")):
        build_dataset("sample", sample, shards=8, seed=0)
    spec = InputSpec(path=[f"{sample}/raw/", f"{sample}/html/"])
    tables = []
    for t in plan_tasks(spec):
        for ch in read_task(spec, t):
            if ch.table.num_rows:
                tables.append(ch.table.select(["id", "text", "source"]))
    base = pa.concat_tables(tables)
    os.makedirs(corpus, exist_ok=True)
    rows = []
    for k in range(copies):
        ids = pc.binary_join_element_wise(pa.scalar(f"copy{k:02d}"), base.column("id"), "/")
        rows.extend(pa.table({"id": ids, "text": base.column("text"), "source": base.column("source")}).to_pylist())
    for s in range(shards):
        with gzip.open(os.path.join(corpus, f"part-{s:04d}.jsonl.gz"), "wt", encoding="utf-8", compresslevel=3) as fh:
            for r in rows[s::shards]:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    sample_bytes = int(pc.sum(pc.binary_length(base.column("text"))).as_py())
    info = {
        "path": corpus,
        "sample_rows": base.num_rows,
        "sample_text_bytes": sample_bytes,
        "rows": base.num_rows * copies,
        "text_bytes": sample_bytes * copies,
        "copies": copies,
        "shards": shards,
    }
    json.dump(info, open(os.path.join(corpus, "_info.json"), "w"))
    return info


def per_task(run: str) -> dict:
    out = {}
    for d in sorted(glob.glob(os.path.join(run, "_work", "stage-*"))):
        s = os.path.basename(d)
        busy = []
        for f in glob.glob(os.path.join(d, "done", "*.json")):
            m = json.load(open(f))
            busy.append(m["read"]["seconds"] + sum(x["seconds"] for x in m["steps"]))
        rj = os.path.join(d, "ray.json")
        info = {
            "tasks": len(busy),
            "busy_sum_s": round(sum(busy), 3),
            "busy_mean_s": round(statistics.mean(busy), 4) if busy else 0,
            "busy_max_s": round(max(busy), 4) if busy else 0,
        }
        if os.path.exists(rj):
            r = json.load(open(rj))
            info.update(stage_wall_s=r["wall_seconds"], worker_pids=r["worker_pids"], batches=r["batches"])
        red = os.path.join(d, "reduce.done.json")
        if os.path.exists(red):
            info["reduce_s"] = round(json.load(open(red))["seconds"], 3)
        out[s] = info
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="benchmarks/_work/ray")
    ap.add_argument("--copies", type=int, default=12)
    ap.add_argument("--shards", type=int, default=24)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--batch-rows", type=int, default=8192)
    ap.add_argument("--pipelines", default="demo,dedup")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration; the fastest is kept")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()

    from winnow import Pipeline
    from winnow.core.io.writers import read_dataset_table
    from winnow.core.pipeline.registry import step_names

    os.makedirs(args.work, exist_ok=True)
    t0 = time.perf_counter()
    info = build_corpus(args.work, args.copies, args.shards)
    print(
        f"corpus: {info['rows']:,} docs, {info['text_bytes'] / 1e6:.1f} MB text "
        f"({info['copies']}x the sample's {info['sample_rows']:,} docs), {info['shards']} shards "
        f"[built in {time.perf_counter() - t0:.1f} s]",
        flush=True,
    )
    pipelines = {"demo": [{"length": {"min_words": 5, "max_chars": 1_000_000}}]}
    if "exact_dedup" in step_names():
        pipelines["dedup"] = pipelines["demo"] + [{"exact_dedup": {}}]
    results = {"corpus": info, "cpus": args.cpus, "runs": {}}
    import ray

    for pname in [p for p in args.pipelines.split(",") if p in pipelines]:
        steps = pipelines[pname]
        runs = {}
        for label, kw in (("local-w1", dict(workers=1)), ("local-w2", dict(workers=args.cpus))):
            out = os.path.join(args.work, f"run-{pname}-{label}")
            walls = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = Pipeline(steps).run(info["path"], out, overwrite=True, **kw)
                walls.append(time.perf_counter() - t)
            runs[label] = {
                "wall_s": round(min(walls), 3),
                "walls_s": [round(w, 2) for w in walls],
                "kept": res.manifest["totals"]["rows_kept"],
                "tasks": per_task(out),
            }
            print(f"[{pname}] {label:<14} {runs[label]['wall_s']:7.2f} s", flush=True)
        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
        init_s = time.perf_counter() - t
        for label, reps in (("ray-cold", 1), ("ray-warm", args.repeat)):
            out = os.path.join(args.work, f"run-{pname}-{label}")
            walls = []
            for _ in range(reps):
                t = time.perf_counter()
                res = Pipeline(steps).run(
                    info["path"], out, overwrite=True, executor="ray", executor_options={"batch_rows": args.batch_rows}
                )
                walls.append(time.perf_counter() - t)
            runs[label] = {
                "wall_s": round(min(walls), 3),
                "walls_s": [round(w, 2) for w in walls],
                "kept": res.manifest["totals"]["rows_kept"],
                "tasks": per_task(out),
            }
            print(f"[{pname}] {label:<14} {runs[label]['wall_s']:7.2f} s", flush=True)
        ray.shutdown()
        runs["ray-cold"]["ray_init_s"] = round(init_s, 3)
        # exactness: the same kept ids, in the same order
        ref = read_dataset_table(os.path.join(args.work, f"run-{pname}-local-w1", "data"), ["id"])
        for label in ("local-w2", "ray-cold", "ray-warm"):
            got = read_dataset_table(os.path.join(args.work, f"run-{pname}-{label}", "data"), ["id"])
            runs[label]["same_rows_as_local"] = got.equals(ref)
        base = runs["local-w2"]["wall_s"]
        for label, r in runs.items():
            r["docs_per_s"] = round(info["rows"] / r["wall_s"], 1)
            r["mb_per_s"] = round(info["text_bytes"] / 1e6 / r["wall_s"], 2)
            r["ratio_vs_local_w2"] = round(r["wall_s"] / base, 3)
        results["runs"][pname] = runs
        for label, r in runs.items():
            print(
                f"  {label:<10} wall {r['wall_s']:7.2f} s  {r['docs_per_s']:9,.0f} docs/s  {r['mb_per_s']:6.2f} MB/s  "
                f"x{r['ratio_vs_local_w2']:.2f} vs local-w2  exact={r.get('same_rows_as_local', True)}"
            )
            for s, f in r["tasks"].items():
                print(f"      {s}: {f}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
    if args.work.startswith("benchmarks/_work"):
        for d in glob.glob(os.path.join(args.work, "run-*")):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
