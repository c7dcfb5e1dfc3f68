"""The demo pipeline on 2 local Ray worker nodes vs the local executor with 2 workers (issue 23),
and Ray's fixed cost per stage on that cluster.

A :class:`~winnow.core.executors.ray_cluster.LocalRayCluster` (head with 0 CPUs + 2 worker nodes
of 1 CPU each, separate ``ray start`` processes, token authentication) runs
``examples/demo.yaml`` through ``winnow run --ray-address`` on the sample corpus replicated
``--copies`` times (``benchmarks/ray/bench.py``'s corpus); the local executor runs the same YAML
with ``--workers 2``. Each run is a fresh ``winnow run`` process (CLI start and imports included,
as a user sees them), repeated ``--repeat`` times, best kept; rows are checked to be identical.

Fixed cost per stage: the same cluster runs ``length`` (one stage) and ``length, exact_dedup,
length`` (two stages and a partitioned reduce) on a 2-file input of 2 documents; every stage's
wall (``_work/stage-*/ray.json``) there is overhead, not work.

    PYTHONPATH=src .venv/bin/python benchmarks/ray/cluster.py --copies 4 --repeat 2

Writes ``benchmarks/out/ray/cluster.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _yaml(path: str, inp: list[str], steps: list) -> str:
    with open(path, "w") as fh:
        yaml.safe_dump({"input": {"path": inp}, "output": "unused", "steps": steps}, fh)
    return path


def _run(env: dict, spec: str, out: str, *args) -> float:
    cmd = [sys.executable, "-m", "winnow.cli", "run", spec, "-o", out, "--overwrite", "--no-progress", *args]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return wall


def _stages(out: str) -> dict:
    res = {}
    for d in sorted(glob.glob(os.path.join(out, "_work", "stage-*"))):
        info = {}
        if os.path.exists(os.path.join(d, "ray.json")):
            r = json.load(open(os.path.join(d, "ray.json")))
            info.update(wall_s=r["wall_seconds"], busy_max_s=max(r["task_busy_seconds"] or [0]))
        if os.path.exists(os.path.join(d, "reduce.json")):
            r = json.load(open(os.path.join(d, "reduce.json")))
            info.update(
                reduce_s=r["seconds"], reduce_tasks=len(r["tasks"]), reduce_nodes=len({t["node"] for t in r["tasks"]})
            )
        res[os.path.basename(d)] = info
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="benchmarks/_work/ray")
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/ray/cluster.json")
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    from bench import build_corpus

    from winnow.core.executors.ray_cluster import LocalRayCluster
    from winnow.core.io.writers import read_dataset_table

    os.makedirs(a.work, exist_ok=True)
    info = build_corpus(a.work, a.copies, a.shards)
    with open(os.path.join(ROOT, "examples", "demo.yaml")) as fh:
        demo_steps = yaml.safe_load(fh)["steps"]
    demo = _yaml(os.path.join(a.work, "demo.yaml"), [info["path"] + "/"], demo_steps)
    tiny = os.path.join(a.work, "tiny")
    os.makedirs(tiny, exist_ok=True)
    for k in range(2):
        with open(os.path.join(tiny, f"t{k}.jsonl"), "w") as fh:
            fh.write(json.dumps({"id": f"t{k}", "text": "a small document of a few words"}) + "\n")
    res = {"corpus": info, "load_start": os.getloadavg(), "runs": {}}
    with LocalRayCluster(nodes=2, cpus_per_node=1, object_store_mb=512) as c:
        env = c.env
        walls = {"local-w2": [], "ray-2nodes": []}
        for _ in range(a.repeat):
            walls["local-w2"].append(_run(env, demo, os.path.join(a.work, "demo-local"), "--workers", "2"))
            walls["ray-2nodes"].append(
                _run(env, demo, os.path.join(a.work, "demo-ray"), "--executor", "ray", "--ray-address", c.address)
            )
            print({k: [round(x, 1) for x in v] for k, v in walls.items()}, flush=True)
        same = read_dataset_table(os.path.join(a.work, "demo-local", "data")).equals(
            read_dataset_table(os.path.join(a.work, "demo-ray", "data"))
        )
        res["runs"]["demo"] = {
            "walls_s": {k: [round(x, 2) for x in v] for k, v in walls.items()},
            "best_s": {k: round(min(v), 2) for k, v in walls.items()},
            "same_rows": same,
            "ray_stages": _stages(os.path.join(a.work, "demo-ray")),
            "local_reduce": _stages(os.path.join(a.work, "demo-local")),
        }
        fixed = {}
        for name, steps in (
            ("one_stage", [{"length": {"min_words": 1}}]),
            ("two_stages_reduce", [{"length": {"min_words": 1}}, {"exact_dedup": {}}, {"length": {"min_words": 1}}]),
        ):
            spec = _yaml(os.path.join(a.work, f"tiny-{name}.yaml"), [tiny + "/"], steps)
            out = os.path.join(a.work, f"tiny-{name}")
            ws = [_run(env, spec, out, "--executor", "ray", "--ray-address", c.address) for _ in range(a.repeat + 1)]
            fixed[name] = {"walls_s": [round(w, 2) for w in ws], "stages": _stages(out)}
            print(name, fixed[name], flush=True)
        local_tiny = [
            _run(
                env,
                _yaml(os.path.join(a.work, "tiny-local.yaml"), [tiny + "/"], [{"length": {"min_words": 1}}]),
                os.path.join(a.work, "tiny-local"),
                "--workers",
                "2",
            )
            for _ in range(a.repeat + 1)
        ]
        fixed["one_stage_local_w2_walls_s"] = [round(w, 2) for w in local_tiny]
        res["fixed"] = fixed
    res["load_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res["runs"]["demo"]["best_s"]), "same rows:", same)


if __name__ == "__main__":
    main()
