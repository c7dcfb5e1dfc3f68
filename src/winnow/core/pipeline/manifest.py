"""The run manifest: per-step accounting and the check that the counts add up.

``manifest.json`` holds ``totals`` {rows_in, rows_kept, rows_rejected, rows_quarantined, ...}
and ``steps`` (per step: name, rows_in, rows_kept, rows_rejected, bytes, reasons, seconds),
plus ``checks`` that compare the counters with the rows actually written to disk.
"""

from __future__ import annotations

import glob
import json
import os
import time

import pyarrow.parquet as pq

from winnow.core.pipeline.stats import ReadStats, StepStats

MANIFEST_VERSION = 1


def _rows_on_disk(pattern: str, weight_column: str | None = None) -> int:
    n = 0
    for f in sorted(glob.glob(pattern)):
        if ".tmp-" in f:
            continue
        if weight_column:
            t = pq.read_table(f, columns=[weight_column])
            n += int(sum(t.column(weight_column).to_pylist()))
        elif f.endswith(".parquet"):
            n += pq.ParquetFile(f).metadata.num_rows
        else:  # jsonl.gz
            import gzip

            with gzip.open(f, "rb") as fh:
                n += sum(1 for _ in fh)
    return n


def build_manifest(
    root: str,
    steps: list,
    results: list,
    *,
    read: ReadStats,
    reduces: dict,
    config: dict,
    wall_seconds: float,
    n_tasks: int,
    executor: str,
    workers: int,
) -> dict:
    """Aggregate task results (markers) of every stage into the manifest dict (``reduces``: by
    global step index, its reduce's ``tasks`` and ``stats``, shown as the step's ``reduce_tasks``
    and ``reduce`` entries)."""
    from winnow.core.pipeline.step import GlobalStep

    agg: dict[int, StepStats] = {
        i: StepStats(i, s.name, "global" if isinstance(s, GlobalStep) else "map") for i, s in enumerate(steps)
    }
    last_stage = max((r.stage for r in results), default=0)
    rows_kept = 0
    for r in results:
        for st in r.steps:
            agg[st.index].merge(st)
        if r.stage == last_stage:
            rows_kept += r.rows_out
    for i, red in reduces.items():
        agg[int(i)].seconds += red["seconds"]
    rows_rejected = sum(s.rows_rejected for s in agg.values())
    rows_in = read.rows_read + read.rows_quarantined
    bytes_kept = agg[len(steps) - 1].bytes_kept if steps else read.bytes_read
    totals = {
        "rows_in": rows_in,
        "rows_kept": rows_kept,
        "rows_rejected": rows_rejected,
        "rows_quarantined": read.rows_quarantined,
        "quarantine_entries": read.quarantine_entries,
        "bytes_in": read.bytes_read,
        "bytes_kept": bytes_kept,
        "bytes_rejected": sum(s.bytes_rejected for s in agg.values()),
        "seconds": round(wall_seconds, 3),
    }
    steps_out = [agg[i].to_dict() for i in sorted(agg)]
    for i, red in reduces.items():  # tasks of the global step's reduce (details: _work/stage-*/reduce.json)
        steps_out[int(i)]["reduce_tasks"] = red["tasks"]
        if red.get("stats"):
            steps_out[int(i)]["reduce"] = red["stats"]
    chain_ok = True
    prev = read.rows_read
    for s in steps_out:
        if s["rows_in"] != prev or s["rows_in"] != s["rows_kept"] + s["rows_rejected"]:
            chain_ok = False
        prev = s["rows_kept"]
    data_rows = _rows_on_disk(os.path.join(root, "data", "*.parquet")) + _rows_on_disk(
        os.path.join(root, "data", "*.jsonl.gz")
    )
    reject_rows = _rows_on_disk(os.path.join(root, "rejects", "*.parquet"))
    checks = {
        "balanced": rows_in == rows_kept + rows_rejected + read.rows_quarantined,
        "steps_chain": chain_ok,
        "data_rows_on_disk": data_rows,
        "data_matches": data_rows == rows_kept,
        "rejects_rows_on_disk": reject_rows,
        "rejects_match": reject_rows == rows_rejected,
    }
    checks["ok"] = all(v for k, v in checks.items() if isinstance(v, bool))
    from winnow import __version__

    return {
        "manifest_version": MANIFEST_VERSION,
        "winnow_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "executor": executor,
        "workers": workers,
        "tasks": n_tasks,
        "config": config,
        "read": read.to_dict(),
        "totals": totals,
        "steps": steps_out,
        "checks": checks,
        "layout": {"data": "data/", "rejects": "rejects/", "quarantine": "quarantine/"},
    }


from winnow.errors import ManifestError  # noqa: E402  (defined there; importable from here too)

#: keys (and their types) every reader of a manifest relies on
_REQUIRED = {"totals": dict, "read": dict, "steps": list, "checks": dict}
_TOTALS = ("rows_in", "rows_kept", "rows_rejected", "rows_quarantined", "seconds")


def validate_manifest(m, where: str = "manifest.json") -> dict:
    """Check the structure readers rely on; raise :class:`ManifestError` naming the first problem.

    >>> validate_manifest({"totals": {}, "read": {}, "steps": [], "checks": {}})
    Traceback (most recent call last):
    ...
    winnow.errors.ManifestError: manifest.json: totals.rows_in is missing or not a number
    """
    if not isinstance(m, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(m).__name__}")
    for k, typ in _REQUIRED.items():
        if not isinstance(m.get(k), typ):
            raise ManifestError(f"{where}: {k!r} is missing or not a {typ.__name__} (was the file edited by hand?)")
    for k in _TOTALS:
        v = m["totals"].get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ManifestError(f"{where}: totals.{k} is missing or not a number")
    for i, st in enumerate(m["steps"]):
        if (
            not isinstance(st, dict)
            or not isinstance(st.get("name"), str)
            or not isinstance(st.get("reasons", {}), dict)
        ):
            raise ManifestError(f"{where}: steps[{i}] is not a step record (name, rows_in, rows_kept, ...)")
        for k in ("rows_in", "rows_kept", "rows_rejected"):
            if isinstance(st.get(k), bool) or not isinstance(st.get(k), (int, float)):
                raise ManifestError(f"{where}: steps[{i}].{k} is missing or not a number")
    return m


def load_manifest(run_dir: str) -> dict:
    """Read ``RUN_DIR/manifest.json`` (clear error when the run is missing, unfinished or the
    file is not a valid manifest: :class:`ManifestError`)."""
    p = os.path.join(run_dir, "manifest.json")
    if not os.path.exists(p):
        if os.path.isdir(os.path.join(run_dir, "_work")):
            raise FileNotFoundError(
                f"{run_dir} has no manifest.json: the run did not finish; rerun it with resume=True (--resume)"
            )
        raise FileNotFoundError(f"{run_dir} is not a winnow run folder (no manifest.json)")
    try:
        with open(p, encoding="utf-8") as fh:
            m = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{p}: not valid JSON ({e})") from None
    return validate_manifest(m, p)
