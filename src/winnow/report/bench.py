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
import re
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
_CI_PAIRS = (
    ("ci_low", "ci_high"),
    ("ci95_low", "ci95_high"),
    ("ci_lo", "ci_hi"),
    ("lo", "hi"),
    ("low", "high"),
    ("lower", "upper"),
)


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
    """Sort/plot key of a budget: a fraction, a row count, ``"25%"`` or ``"20000 tokens"``."""
    if _is_num(v):
        return (0, float(v), "")
    if isinstance(v, str):
        m = re.match(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(%|tokens?)?\s*$", v, flags=re.I)
        if m:
            return (0, float(m.group(1)) / (100 if m.group(2) == "%" else 1), "")
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
    task_info: dict = {}
    extra: dict[str, Any] = {"strategies": {}, "full_pool": None, "detection": [], "config": ""}
    setup = _setup(data) if isinstance(data, dict) and data.get("evals") else None
    if setup is not None:  # LM task on your data: one table / panel per eval set (the primary proxy's runs)
        data = dict(data)
        data["summary"] = [dict(s, task=s["eval"]) for s in data.get("eval_summary") or []]
        primary = (data.get("proxies") or [{}])[0].get("label")
        data["runs"] = [
            {"task": e, "strategy": r["strategy"], "budget": r["budget"], "seed": r.get("seed"), "value": v}
            for r in data.get("runs") or []
            if r.get("proxy") in (None, primary)
            for e, v in (r.get("metrics") or {}).items()
        ]
        for k in ("eval_summary", "evals", "primary_eval", "proxies", "transfer", "warnings"):
            data.pop(k, None)
        data["task"] = {k: v for k, v in data["task"].items() if k != "info"}
    if isinstance(data, list):
        rows = _list_of_dicts(data)
    elif isinstance(data, dict):
        for k in _ROWS:
            rows = rows or _list_of_dicts(data.get(k))
        for k in _SUMMARY:
            summary = summary or _list_of_dicts(data.get(k))
        if isinstance(data.get("task"), dict):  # winnow.prove.bench/1: {"name", "metric", "higher_is_better", "info"}
            task_info = data["task"]
        if isinstance(data.get("strategies"), list):
            for st in data["strategies"]:
                if isinstance(st, dict) and ("label" in st or "name" in st):
                    extra["strategies"][str(st.get("label", st.get("name")))] = st
        fp = data.get("full_pool")
        if isinstance(fp, dict) and _is_num(fp.get("mean")):
            lo, hi = _summary_ci(fp, float(fp["mean"]))
            extra["full_pool"] = {"mean": float(fp["mean"]), "lo": lo, "hi": hi}
        extra["detection"] = [d for d in (_list_of_dicts(data.get("detection")) or [])]
        if isinstance(data.get("config"), dict):
            extra["config"] = json.dumps(data["config"], indent=2, default=str)
        skip = set(_ROWS) | set(_SUMMARY) | {"strategies", "full_pool", "detection", "config"}
        for k, v in data.items():
            if k in skip:
                continue
            if k == "task" and task_info:
                for tk, tv in task_info.items():
                    meta[f"task.{tk}"] = (
                        tv
                        if isinstance(tv, (str, int, float, bool)) or tv is None
                        else json.dumps(tv, default=str)[:600]
                    )
            elif isinstance(v, (str, int, float, bool)) or v is None:
                meta[k] = v
            elif isinstance(v, (dict, list)) and len(json.dumps(v, default=str)) < 600:
                meta[k] = json.dumps(v, default=str)
    metric_name = None
    if isinstance(data, dict):
        if isinstance(data.get("metric"), str):
            metric_name = data["metric"]
        elif isinstance(task_info.get("metric"), str):
            metric_name = task_info["metric"]
    hib = task_info.get("higher_is_better") if isinstance(data, dict) else None
    if hib is None and isinstance(data, dict):
        hib = data.get("higher_is_better")
    default_task = str(task_info.get("name", "")) if task_info else ""
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
        norm_rows.append(
            {
                "task": _task_of(r, default_task),
                "strategy": str(strat),
                "budget": budget,
                "seed": r.get("seed"),
                "value": val,
            }
        )
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
            table.append(
                {
                    "task": _task_of(s, default_task),
                    "strategy": str(strat),
                    "budget": budget,
                    "n": n,
                    "mean": float(mean),
                    "lo": lo,
                    "hi": hi,
                    "gain": gain,
                    "gain_lo": s.get("gain_ci_low", s.get("gain_lo")),
                    "gain_hi": s.get("gain_ci_high", s.get("gain_hi")),
                    "significant": s.get("significant"),
                    "gain_computed": False,
                }
            )
        if not table:
            notes.append("summary found but unreadable; recomputed from the rows")
    if not table and norm_rows:
        groups: dict[tuple, list[float]] = defaultdict(list)
        for r in norm_rows:
            groups[(r["task"], r["strategy"], json.dumps(r["budget"]))].append(r["value"])
        for (task, strat, b), vals in groups.items():
            mean, lo, hi = _ci(vals)
            table.append(
                {
                    "task": task,
                    "strategy": strat,
                    "budget": json.loads(b),
                    "n": len(vals),
                    "mean": mean,
                    "lo": lo,
                    "hi": hi,
                    "gain": None,
                    "gain_lo": None,
                    "gain_hi": None,
                    "significant": None,
                    "gain_computed": False,
                }
            )
        notes.append("confidence intervals computed by the report (Student t over seeds)")
    # gain over random where the bench did not give it
    rand = {(t["task"], json.dumps(t["budget"])): t["mean"] for t in table if t["strategy"].lower() == "random"}
    for t in table:
        if t["gain"] is None:
            base = rand.get((t["task"], json.dumps(t["budget"])))
            sign = -1.0 if hib is False else 1.0  # oriented so that + = better when the bench says which is
            t["gain"] = None if base is None or t["strategy"].lower() == "random" else sign * (t["mean"] - base)
            t["gain_computed"] = t["gain"] is not None
    for t in table:
        st = extra["strategies"].get(t["strategy"], {})
        t["model_aware"] = bool(st.get("model_aware")) if isinstance(st, dict) else False
    table.sort(
        key=lambda t: (str(t["task"]), _budget_key(t["budget"]), t["strategy"].lower() != "random", t["strategy"])
    )
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
        ylabel = (metric_name or "metric") + (
            "" if hib is None else " (higher is better)" if hib else " (lower is better)"
        )
        plots_out.append(
            {
                "task": task,
                "plot": plots.metric_vs_budget(
                    title,
                    ylabel,
                    dict(curves),
                    dict(points),
                    None if numeric else [str(json.loads(b)) for b in budgets],
                    reference=extra["full_pool"]["mean"] if extra["full_pool"] else None,
                    log_y=(metric_name or "").lower() == "perplexity",
                ),
            }
        )
    detection = []
    for d in extra["detection"]:
        _, strat = _first(d, _STRATEGY)
        _, auc = _first(d, ("auc_mean", "auc", "mean"), numeric=True)
        if strat is not None and auc is not None:
            lo, hi = _summary_ci({k.replace("auc_", ""): v for k, v in d.items()}, float(auc))
            detection.append({"strategy": str(strat), "auc": float(auc), "lo": lo, "hi": hi})
    return {
        "path": os.path.abspath(p),
        "meta": meta,
        "metric": metric_name or "metric",
        "table": table,
        "rows": norm_rows,
        "plots": plots_out,
        "notes": notes,
        "higher_is_better": hib,
        "full_pool": extra["full_pool"],
        "detection": detection,
        "config": extra["config"],
        "has_task": len({t["task"] for t in table}) > 1,
        "setup": setup,
    }


def _setup(data: dict) -> dict:
    """The task, proxy recipes, data sizes, leak check, warnings and rank transfer of a bench on
    your data, as rows for small tables (instead of raw JSON)."""
    info = (data.get("task") or {}).get("info") or {}
    data_rows = [
        (
            "pool",
            f"{info.get('pool', '')}",
            f"{info.get('pool_docs', 0):,} documents, "
            f"{info.get('pool_tokens', 0):,} tokens ({info.get('tokenizer', '')})",
        ),
        ("target", f"{info.get('target', '')}", f"{info.get('target_docs', 0):,} documents"),
    ]
    for k, v in (info.get("eval") or {}).items():
        data_rows.append(
            (
                f"eval: {k}" + (" (primary)" if k == data.get("primary_eval") else ""),
                v.get("path", ""),
                f"{v.get('docs', 0):,} documents, {v.get('tokens', 0):,} tokens",
            )
        )
    if info.get("sources"):
        data_rows.append(("pool sources", "", ", ".join(f"{k} {v:,}" for k, v in info["sources"].items())))
    if info.get("dropped_leaks"):
        data_rows.append(("dropped (leaks)", "", f"{info['dropped_leaks']:,} pool documents"))
    leaks = info.get("leaks") or {}
    return {
        "data": data_rows,
        "proxies": data.get("proxies") or [],
        "leaks": leaks.get("pairs") or [],
        "leak_n": leaks.get("n"),
        "warnings": data.get("warnings") or [],
        "transfer": data.get("transfer") or [],
    }


def _task_of(row: dict, default: str) -> str:
    v = row.get("task") or row.get("benchmark") or default
    return str(v.get("name", "")) if isinstance(v, dict) else str(v)
