"""Read a ``winnow bench`` output folder (``bench.json``) tolerantly for the report.

The bench writes one row per (task, strategy, budget, seed) with the metric, and a summary
with the mean and 95% confidence interval per (task, strategy, budget). Field names are
matched loosely (``strategy``/``method``, ``ci_low``/``ci95``/``lo``...) so the report keeps
working while the bench format evolves; a missing summary is computed from the rows
(Student-t interval over seeds).
"""
from __future__ import annotations

import glob
import json
import math
import os
from collections import defaultdict
from typing import Any

from winnow.report import plots

_STRATEGY = ("strategy", "method", "selector", "name")
_BUDGET = ("budget", "budget_frac", "budget_fraction", "fraction", "frac", "budget_rows", "k")
_ROWS = ("rows", "runs", "results", "records", "trials")
_SUMMARY = ("summary", "aggregate", "aggregates", "table")
_MEAN = ("mean", "metric_mean", "value_mean", "avg")
_N = ("n", "n_seeds", "seeds", "count")
_GAIN = ("gain", "gain_over_random", "gain_vs_random", "delta_vs_random", "delta", "diff_vs_random")
_CI_PAIRS = (("ci_low", "ci_high"), ("ci95_low", "ci95_high"), ("ci_lo", "ci_hi"), ("lo", "hi"),
             ("low", "high"), ("lower", "upper"))


def find_bench_json(path: str) -> str | None:
    """``path`` itself, ``path/bench.json``, or the first ``bench.json`` below ``path``."""
    if os.path.isfile(path) and path.endswith(".json"):
        return path
    p = os.path.join(path, "bench.json")
    if os.path.exists(p):
        return p
    found = sorted(glob.glob(os.path.join(path, "**", "bench.json"), recursive=True))
    return found[0] if found else None


def _first(d: dict, keys: tuple, numeric: bool = False) -> tuple[str | None, Any]:
    for k in keys:
        if k in d and d[k] is not None:
            v = d[k]
            if numeric and not _is_num(v):
                continue
            return k, v
    return None, None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _metric_value(row: dict, metric_name: str | None) -> tuple[str | None, float | None]:
    if metric_name and _is_num(row.get(metric_name)):
        return metric_name, float(row[metric_name])
    for k in ("value", "metric_value", "score", "result"):
        if _is_num(row.get(k)):
            return (row.get("metric") if isinstance(row.get("metric"), str) else k), float(row[k])
    if _is_num(row.get("metric")):
        return "metric", float(row["metric"])
    if isinstance(row.get("metrics"), dict):  # {"metrics": {"ppl": 12.3}}
        for k, v in row["metrics"].items():
            if _is_num(v):
                return k, float(v)
    return None, None


def _budget_key(v: Any) -> tuple:
    if _is_num(v):
        return (0, float(v), "")
    if isinstance(v, str):
        s = v.strip().rstrip("%")
        try:
            return (0, float(s) / (100 if v.strip().endswith("%") else 1), "")
        except ValueError:
            pass
    return (1, 0.0, str(v))


def _ci(values: list[float]) -> tuple[float, float | None, float | None]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, None
    var = sum((x - mean) ** 2 for x in values) / (n - 1)
    try:
        from scipy.stats import t

        q = float(t.ppf(0.975, n - 1))
    except Exception:  # scipy missing: normal approximation
        q = 1.96
    h = q * math.sqrt(var / n)
    return mean, mean - h, mean + h


def _summary_ci(d: dict, mean: float | None) -> tuple[float | None, float | None]:
    for a, b in _CI_PAIRS:
        if _is_num(d.get(a)) and _is_num(d.get(b)):
            return float(d[a]), float(d[b])
    for k in ("ci95", "ci", "ci_95", "confidence_interval"):
        v = d.get(k)
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_num(x) for x in v):
            return float(v[0]), float(v[1])
        if isinstance(v, dict):
            lo, hi = _summary_ci(v, mean)
            if lo is not None:
                return lo, hi
        if _is_num(v) and mean is not None:  # half-width
            return mean - float(v), mean + float(v)
    for k in ("ci_half_width", "half_width", "ci95_half", "pm"):
        if _is_num(d.get(k)) and mean is not None:
            return mean - float(d[k]), mean + float(d[k])
    return None, None


def _list_of_dicts(v: Any) -> list[dict] | None:
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return v
    if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
        # {"random@0.1": {...}} -> rows carrying their key
        return [{"_key": k, **x} for k, x in v.items()]
    return None


def collect_bench(path: str) -> dict:
    """Everything the bench part of the report shows, as plain data for the template."""
    p = find_bench_json(path)
    if p is None:
        raise FileNotFoundError(f"{path} has no bench.json")
    with open(p, encoding="utf-8") as fh:
        data = json.load(fh)
    notes: list[str] = []
    meta: dict[str, Any] = {}
    rows = summary = None
    if isinstance(data, list):
        rows = _list_of_dicts(data)
    elif isinstance(data, dict):
        for k in _ROWS:
            rows = rows or _list_of_dicts(data.get(k))
        for k in _SUMMARY:
            summary = summary or _list_of_dicts(data.get(k))
        for k, v in data.items():
            if k in _ROWS or k in _SUMMARY:
                continue
            if isinstance(v, (str, int, float, bool)) or v is None:
                meta[k] = v
            elif isinstance(v, (dict, list)) and len(json.dumps(v, default=str)) < 600:
                meta[k] = json.dumps(v, default=str)
    metric_name = data.get("metric") if isinstance(data, dict) and isinstance(data.get("metric"), str) else None
    rows = rows or []
    # ---- per-seed rows
    norm_rows = []
    for r in rows:
        _, strat = _first(r, _STRATEGY)
        _, budget = _first(r, _BUDGET)
        mname, val = _metric_value(r, metric_name)
        if strat is None or val is None:
            continue
        metric_name = metric_name or mname
        norm_rows.append({"task": r.get("task") or r.get("benchmark") or "", "strategy": str(strat),
                          "budget": budget, "seed": r.get("seed"), "value": val})
    if rows and not norm_rows:
        notes.append("rows found but none had a recognisable strategy and metric value")
    # ---- summary (given, else computed from rows)
    table = []
    if summary:
        for s in summary:
            _, strat = _first(s, _STRATEGY)
            _, budget = _first(s, _BUDGET)
            _, mean = _first(s, _MEAN, numeric=True)
            if strat is None and "_key" in s:
                strat = s["_key"]
            if strat is None or mean is None:
                continue
            lo, hi = _summary_ci(s, float(mean))
            _, n = _first(s, _N, numeric=True)
            _, gain = _first(s, _GAIN, numeric=True)
            table.append({"task": s.get("task") or s.get("benchmark") or "", "strategy": str(strat), "budget": budget,
                          "n": n, "mean": float(mean), "lo": lo, "hi": hi, "gain": gain,
                          "gain_lo": s.get("gain_ci_low", s.get("gain_lo")),
                          "gain_hi": s.get("gain_ci_high", s.get("gain_hi"))})
        if not table:
            notes.append("summary found but unreadable; recomputed from the rows")
    if not table and norm_rows:
        groups: dict[tuple, list[float]] = defaultdict(list)
        for r in norm_rows:
            groups[(r["task"], r["strategy"], json.dumps(r["budget"]))].append(r["value"])
        for (task, strat, b), vals in groups.items():
            mean, lo, hi = _ci(vals)
            table.append({"task": task, "strategy": strat, "budget": json.loads(b), "n": len(vals), "mean": mean,
                          "lo": lo, "hi": hi, "gain": None, "gain_lo": None, "gain_hi": None})
        notes.append("confidence intervals computed by the report (Student t over seeds)")
    # gain over random where the bench did not give it
    rand = {(t["task"], json.dumps(t["budget"])): t["mean"] for t in table if t["strategy"].lower() == "random"}
    for t in table:
        if t["gain"] is None:
            base = rand.get((t["task"], json.dumps(t["budget"])))
            t["gain"] = None if base is None or t["strategy"].lower() == "random" else t["mean"] - base
            t["gain_computed"] = t["gain"] is not None
    table.sort(key=lambda t: (str(t["task"]), _budget_key(t["budget"]), t["strategy"]))
    # ---- one plot per task
    tasks = sorted({t["task"] for t in table}, key=str)
    plots_out = []
    for task in tasks:
        tt = [t for t in table if t["task"] == task]
        budgets = sorted({json.dumps(t["budget"]) for t in tt}, key=lambda b: _budget_key(json.loads(b)))
        numeric = all(_budget_key(json.loads(b))[0] == 0 for b in budgets)
        pos = {b: (_budget_key(json.loads(b))[1] if numeric else i) for i, b in enumerate(budgets)}
        curves: dict[str, list] = defaultdict(list)
        for t in tt:
            curves[t["strategy"]].append((pos[json.dumps(t["budget"])], t["mean"], t["lo"], t["hi"]))
        points: dict[str, list] = defaultdict(list)
        for r in norm_rows:
            b = json.dumps(r["budget"])
            if r["task"] == task and b in pos:
                points[r["strategy"]].append((pos[b], r["value"]))
        title = f"{task}" if task else "metric vs budget"
        plots_out.append({"task": task, "plot": plots.metric_vs_budget(
            title, metric_name or "metric", dict(curves), dict(points),
            None if numeric else [str(json.loads(b)) for b in budgets])})
    return {"path": os.path.abspath(p), "meta": meta, "metric": metric_name or "metric", "table": table,
            "rows": norm_rows, "plots": plots_out, "notes": notes,
            "has_task": any(t["task"] for t in table)}
