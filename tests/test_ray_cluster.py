"""A real multi-node Ray cluster on one machine (issue 23): a head and two worker nodes as
separate processes (``ray start``, token authentication on), the demo pipeline run through
``winnow run --ray-address`` in its own process, rows compared with the local executor; one
worker node is killed (``kill -9`` of all its processes) in the middle of a stage and the run
still gives the local rows. The cluster is always stopped and no process is left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from winnow.core.executors.ray_cluster import LocalRayCluster
from winnow.core.pipeline.manifest import load_manifest
from winnow.core.pipeline.pipeline import RunResult

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a map step that, the first time it sees rows, writes its pid to ``marker`` and waits to be
# killed with its node (a plugin module: every node imports it from PYTHONPATH)
PAUSE_STEP = """
import os, time
from winnow import MapStep


class PauseOnce(MapStep):
    name = "pause_once"
    marker: str = ""
    seconds: float = 60.0

    def annotate(self, table):
        if self.marker and table.num_rows:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return table
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            time.sleep(self.seconds)  # the test kills this node meanwhile
        return table
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "pause_step.py").write_text(PAUSE_STEP)
    c = LocalRayCluster(nodes=2, cpus_per_node=1, pythonpath=[str(plugins)])
    try:
        c.start()
        yield c
    finally:
        c.stop()
        assert not c.leftover_pids(), "processes of the local Ray cluster survived stop()"


def _demo_yaml(tmp_path, sample, marker, steps=None) -> str:
    with open(os.path.join(ROOT, "examples", "demo.yaml")) as fh:
        cfg = yaml.safe_load(fh)
    cfg["input"]["path"] = [f"{sample}/raw/", f"{sample}/html/"]
    cfg["steps"] = steps or cfg["steps"]
    at = next(i for i, s in enumerate(cfg["steps"]) if "exact_dedup" in s) + 1  # stage 1 starts here
    cfg["steps"].insert(at, {"pause_step:PauseOnce": {"marker": marker}})
    cfg["output"] = str(tmp_path / "unused")
    path = tmp_path / f"demo-{os.path.basename(marker)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _run(cluster, spec, out, *args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "winnow.cli", "run", spec, "-o", out, "--no-progress", *args]
    return subprocess.Popen(cmd, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _result(path) -> RunResult:
    return RunResult(path, load_manifest(path))


def _counts(m: dict) -> dict:
    # how the work was split, not what it decided: tasks of a reduce, and the batches a MinHash
    # reduce cut its components into (both follow the partition count, which is the executor's:
    # a local run does a small reduce as one partition, Ray as one per task slot)
    drop = ("seconds", "reduce_tasks")

    def step(s: dict) -> dict:
        out = {k: v for k, v in s.items() if k not in drop}
        if isinstance(out.get("reduce"), dict):
            out["reduce"] = {k: v for k, v in out["reduce"].items() if k != "batches"}
        return out

    return {
        "totals": {k: v for k, v in m["totals"].items() if k not in drop},
        "steps": [step(s) for s in m["steps"]],
        "checks": m["checks"],
    }


def assert_same_rows(local: RunResult, ray: RunResult) -> None:
    assert ray.manifest["executor"] == "ray" and ray.manifest["checks"]["ok"]
    assert _counts(ray.manifest) == _counts(local.manifest)
    assert ray.kept().equals(local.kept())  # same rows, same order
    order = [("step", "ascending"), ("id", "ascending")]
    a, b = ray.rejects().sort_by(order), local.rejects().sort_by(order)
    assert a.equals(b), _table_diff(a, b)


def _table_diff(a, b) -> str:
    """Which columns differ, and the first differing row of each (to read a failure from CI)."""
    if a.schema != b.schema:
        return f"schemas differ:\n{a.schema}\n---\n{b.schema}"
    out = []
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        bad = [i for i, (u, v) in enumerate(zip(x, y)) if u != v]
        if bad:
            i = bad[0]
            key = (a.column("step")[i].as_py(), a.column("id")[i].as_py())
            out.append(f"{name}: {len(bad)} rows differ, first at {key}: {str(x[i])[:200]!r} != {str(y[i])[:200]!r}")
    return "; ".join(out) or "same values, different chunk types"


# the demo's filters and both dedup steps, without the fastText model (loaded by every worker)
SMALL_DEMO = [
    {"length": {"min_words": 5, "max_chars": 1000000}},
    {"gopher_repetition": {}},
    {"exact_dedup": {}},
    {"minhash_dedup": {}},
    {"pii": {}},
]


@pytest.mark.parametrize(
    "steps", [pytest.param(SMALL_DEMO, id="small"), pytest.param(None, id="demo", marks=pytest.mark.slow)]
)
def test_killed_worker_node_mid_stage_gives_the_local_rows(cluster, sample_corpus, tmp_path, steps):
    marker = str(tmp_path / "paused")
    spec = _demo_yaml(tmp_path, sample_corpus, marker, steps)
    open(marker, "w").close()  # the local run does not pause
    p = _run(cluster, spec, str(tmp_path / "local"), "--workers", "2")
    log = p.communicate(timeout=300)[0]
    assert p.returncode == 0, log[-3000:]
    local = _result(str(tmp_path / "local"))
    os.remove(marker)

    out = str(tmp_path / "ray")
    t0 = time.monotonic()
    p = _run(cluster, spec, out, "--executor", "ray", "--ray-address", cluster.address)
    try:
        while not (os.path.exists(marker) and open(marker).read()):
            assert p.poll() is None, p.communicate()[0][-3000:]
            assert time.monotonic() - t0 < 240, "the paused task never started"
            time.sleep(0.1)
        node = cluster.node_of_pid(int(open(marker).read()))
        assert node is not None, "the paused task does not run on a worker node"
        cluster.kill_node(node)  # kill -9 of every process of the node, mid-stage
        log = p.communicate(timeout=300)[0]
    finally:
        if p.poll() is None:
            p.kill()
    # the head and the surviving node: Ray declares the killed node dead after its health checks
    # fail (seconds), which can be after a run that retried on the other node has finished
    deadline = time.monotonic() + 120
    while cluster.alive_nodes() != 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert cluster.alive_nodes() == 2
    assert p.returncode == 0, log[-3000:]
    ray = _result(out)
    assert_same_rows(local, ray)
    # the reduce before the kill ran one task per node slot, as Ray tasks on the cluster's nodes
    # (which node takes which task is Ray's choice: both may land on the same node)
    info = json.load(open(os.path.join(out, "_work", "stage-0", "reduce.json")))
    assert info["step"] == "exact_dedup" and info["partitions"] == 2
    assert len(info["tasks"]) >= 2 and all(t["node"] for t in info["tasks"])


def test_a_driver_with_another_token_is_refused(cluster, sample_corpus, tmp_path):
    env = {**cluster.env, "RAY_AUTH_TOKEN": "0" * 64}
    cmd = [sys.executable, "-m", "winnow.cli", "run", "-i", f"{sample_corpus}/raw/", "-o", str(tmp_path / "x")]
    spec = tmp_path / "p.yaml"
    spec.write_text("input: {path: unused}\noutput: unused\nsteps: [length]\n")
    p = subprocess.run(
        cmd[:4] + [str(spec)] + cmd[4:] + ["--executor", "ray", "--ray-address", cluster.address, "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode != 0
    assert "auth" in p.stderr.lower(), p.stderr[-2000:]
    assert not os.path.exists(tmp_path / "x" / "data")


def test_the_readme_cluster_guide_names_real_options():
    from winnow.core.executors.ray import RayExecutor

    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    guide = readme.split("#### Running on a cluster", 1)[1].split("### ", 1)[0]
    for block in re.findall(r"```yaml\n(.*?)```", guide, flags=re.S):
        cfg = yaml.safe_load(block)
        assert RayExecutor.validate_options(cfg["executor_options"])["reduce_partitions"] == 64
    flags = set(re.findall(r"(--ray-[a-z-]+)", guide))
    help_text = subprocess.run(
        [sys.executable, "-m", "winnow.cli", "run", "--help"], capture_output=True, text=True, env=cluster_env()
    ).stdout
    assert flags and all(f in help_text for f in flags), flags


def cluster_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src"), "COLUMNS": "200"}
