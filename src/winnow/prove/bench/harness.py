"""DataComp-style harness: strategy × budget × seed → select → train the fixed proxy → metric.

Only the data varies: every run trains the task's fixed recipe from scratch on the selected
rows. For each seed, a strategy is fitted once (seeded) and its scores are reused for every
budget; the proxy's training seed is the run seed, so strategies are compared *paired by seed*
(same initialisation and batch order). Confidence intervals are 95% Student-t intervals over
seeds; the gain over random is the paired per-seed difference, oriented so that positive =
better than random (higher accuracy, lower perplexity).

``bench.json`` schema (``"schema": "winnow.prove.bench/1"``; read by the report module)::

    {
      "schema": "winnow.prove.bench/1",
      "config": {...},                       # the validated config, as run
      "task": {"name": "noisy_labels" | "lm", "metric": "accuracy" | "perplexity",
               "higher_is_better": bool, "info": {...task details...}},
      "strategies": [{"label": str, "method": str, "params": {...}, "model_aware": bool}],
      "budgets": [0.1, 0.25, 0.5],           # as given (fraction, row count or "N tokens")
      "seeds": [0, 1, 2],
      "full_pool": {"mean": float, "ci_low": float, "ci_high": float, "values": [float, ...]} | null,
      "runs": [{"strategy": label, "method": str, "budget": b, "seed": s, "metric": float,
                "n_selected": int, "n_tokens": int, "fit_seconds": float, "train_seconds": float,
                "fit_cpu_seconds": float,               # CPU seconds of the strategy's fit (all threads)
                "fixed_cpu_seconds": float,             # of which fixed: proxies, training a scorer
                "score_cpu_s_per_1k_docs": float,       # the rest (scoring the pool), per 1k documents
                "fit_peak_mib": float | null,           # peak RSS growth while the selector fit (Linux)
                "detection_auc": float | null,          # noisy-label task: AUC of -score vs flipped
                "flipped_selected": float | null,       # noisy-label task: fraction of flipped rows kept
                "target_domain_selected": float | null, # lm task: fraction of selected rows from the target domain
                # LM task on your data (task: {pool, target, eval}) adds:
                "metrics": {eval_name: float},   # the metric on every eval set (``metric`` = primary_eval's)
                "proxy": str, "params": int,     # the proxy recipe (label) and its parameter count
                "train_tokens": int,             # tokens the proxy trained on (the same for every subset)
                "epochs": float                  # train_tokens / n_tokens: how often the subset was repeated
               }, ...],
      "summary": [{"strategy": label, "budget": b, "n": int, "mean": float, "std": float,
                   "ci_low": float, "ci_high": float,
                   "gain": float, "gain_ci_low": float, "gain_ci_high": float,   # vs random, + = better
                   "significant": bool,                  # gain CI excludes 0
                   "detection_auc": float | null, "flipped_selected": float | null,
                   "target_domain_selected": float | null}, ...],
      "detection": [{"strategy": label, "auc_mean": float, "auc_ci_low": float, "auc_ci_high": float}],
      "costs": [{"strategy": label, "fixed_cpu_seconds": float, "score_cpu_s_per_1k_docs": float,
                 "fit_seconds": float}],   # means over seeds
      "warnings": [str, ...],                # too few seeds, nothing separates from random, leaks
      "seconds": float,
      # LM task on your data adds:
      "evals": [name, ...], "primary_eval": name,
      "eval_summary": [{"eval": name, "strategy": label, "budget": b, "mean", "std", "ci_low", "ci_high",
                        "gain", "gain_ci_low", "gain_ci_high", "significant"}, ...],  # primary proxy
      "proxies": [{"label", "preset", "layers", "width", "heads", "context", "batch", "steps", "tokens",
                   "lr", "schedule", "vocab", "params"}, ...],
      "transfer": [{"eval", "small", "large", "cells", "spearman", "ci_low", "ci_high"}, ...]  # >= 2 proxies
    }

    Summary rows of that task also carry ``metrics: {eval: {mean, ci_low, ci_high, gain, ...}}``,
    and the mean ``n_selected``, ``n_tokens`` and ``epochs`` over seeds.

``bench.csv`` holds the same numbers flat: one row per (strategy, budget, seed) with
``kind=run``, then one row per (strategy, budget) with ``kind=summary``. ``bench.png`` plots the
metric against the budget per strategy (error bars = 95% CI; dashed line = full pool).

Config (YAML)::

    task: {name: noisy_labels, dataset: digits, noise: 0.3, proxy: logistic}
    strategies:                     # a name, or {name: params}, or {method:, label:, params:}
      - random
      - el2n: {keep: easy}
      - {method: prototype, label: prototype-labels, params: {use_labels: true}}
    budgets: [0.1, 0.25, 0.5]
    seeds: [0, 1, 2]
    full_pool: true                 # also train on the whole pool (a reference line)
    output: runs/bench_noisy

Example:
    >>> res = run_bench({"task": {"name": "noisy_labels", "pool_size": 300},
    ...                  "strategies": ["random", "forgetting"], "budgets": [0.5], "seeds": [0, 1, 2]})
    >>> [round(r["mean"], 2) > 0.5 for r in res["summary"]]
    [True, True]
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from typing import Any, Callable

import numpy as np

from winnow.core.memory import PeakRSS
from winnow.errors import BenchConfigError  # defined there; importable from here too

SCHEMA = "winnow.prove.bench/1"


def _norm_strategy(s: Any, i: int) -> dict:
    if isinstance(s, str):
        return {"method": s, "label": s, "params": {}}
    if isinstance(s, dict):
        if "method" in s:
            bad = set(s) - {"method", "label", "params"}
            if bad:
                raise BenchConfigError(f"strategies[{i}]: unknown key(s) {sorted(bad)}; use method, label, params")
            return {"method": s["method"], "label": s.get("label", s["method"]), "params": dict(s.get("params") or {})}
        if len(s) == 1:
            ((m, p),) = s.items()
            return {"method": m, "label": m, "params": dict(p or {})}
    raise BenchConfigError(f"strategies[{i}] must be a name, {{name: params}} or {{method, label, params}}; got {s!r}")


def load_config(config: str | dict) -> dict:
    """Validate a bench config (a YAML path or a mapping) and fill defaults."""
    if isinstance(config, (str, os.PathLike)):
        import yaml

        with open(config, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    if not isinstance(config, dict):
        raise BenchConfigError("bench config must be a mapping")
    cfg = dict(config)
    allowed = {"task", "strategies", "budgets", "seeds", "full_pool", "output", "baseline"}
    bad = set(cfg) - allowed
    if bad:
        raise BenchConfigError(f"unknown config key(s) {sorted(bad)}; valid: {sorted(allowed)}")
    if "task" not in cfg or not isinstance(cfg["task"], dict) or "name" not in cfg["task"]:
        raise BenchConfigError("config needs task: {name: noisy_labels | lm, ...options}")
    strategies = [_norm_strategy(s, i) for i, s in enumerate(cfg.get("strategies") or ["random"])]
    from winnow.select import SELECTORS, get_selector

    labels = [s["label"] for s in strategies]
    if len(set(labels)) != len(labels):
        raise BenchConfigError(f"strategy labels must be unique, got {labels}; give duplicates a label:")
    for i, s in enumerate(strategies):
        if s["method"] not in SELECTORS:
            raise BenchConfigError(f"strategies[{i}]: unknown method {s['method']!r}; valid: {sorted(SELECTORS)}")
        try:
            get_selector(s["method"], **s["params"])
        except ValueError as e:
            raise BenchConfigError(f"strategies[{i}]: {e}") from e
    baseline = cfg.get("baseline", "random")
    if baseline not in labels:
        strategies.insert(0, {"method": "random", "label": "random", "params": {}})
        baseline = "random"
    budgets = cfg.get("budgets", [0.1, 0.25, 0.5])
    from winnow.select.base import BudgetError, parse_budget

    for b in budgets:
        try:
            parse_budget(b)
        except BudgetError as e:
            raise BenchConfigError(f"budgets: {e}") from e
    seeds = cfg.get("seeds", [0, 1, 2])
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise BenchConfigError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    return {
        "task": dict(cfg["task"]),
        "strategies": strategies,
        "budgets": list(budgets),
        "seeds": list(seeds),
        "full_pool": bool(cfg.get("full_pool", True)),
        "output": cfg.get("output"),
        "baseline": baseline,
    }


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high): Student-t interval over the values (NaNs ignored)."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return (math.nan,) * 4
    m = float(v.mean())
    if len(v) < 2:
        return m, 0.0, m, m
    sd = float(v.std(ddof=1))
    h = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * sd / math.sqrt(len(v)))
    return m, sd, m - h, m + h


def _auc(flipped: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, np.float64).copy()
    finite = np.isfinite(s)
    if not finite.all():
        s[~finite] = (s[finite].min() - 1) if finite.any() else 0
    if flipped.all() or not flipped.any():
        return math.nan
    return float(roc_auc_score(flipped, -s))


def run_bench(
    config: str | dict,
    output: str | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run the benchmark; write ``bench.json``, ``bench.csv`` and ``bench.png`` if an output folder is
    given (argument or ``output:`` key); return the ``bench.json`` content. ``progress(done, total)``
    is called after every trained proxy."""
    from winnow.prove.bench.tasks import build_task
    from winnow.select import get_selector

    cfg = load_config(config)
    out = output or cfg["output"]
    log = log or (lambda s: None)
    t_start = time.perf_counter()
    task = build_task(cfg["task"])
    evals = list(getattr(task, "eval_names", None) or [])
    primary = getattr(task, "primary_eval", None)
    proxies = list(getattr(task, "proxies", None) or [None])
    recipes = list(getattr(task, "recipes", None) or [None])
    log(
        f"task {task.name}: "
        + (
            f"pool {len(task.pool):,} docs, evals {evals}, proxies {[p['label'] for p in proxies]}"
            if evals
            else json.dumps(task.info())
        )
    )
    sign = 1.0 if task.higher_is_better else -1.0
    n_total = len(cfg["strategies"]) * len(cfg["seeds"]) * len(cfg["budgets"]) * len(proxies)
    if progress is not None:
        progress(0, n_total)
    runs = []
    for st in cfg["strategies"]:
        for seed in cfg["seeds"]:
            sel = get_selector(st["method"], **{**st["params"], "seed": seed})
            t0, c0 = time.perf_counter(), time.process_time()
            with PeakRSS() as mem:
                scores = sel.fit(task.pool, task.target).scores_
            fit_s = time.perf_counter() - t0
            cost = _cost(sel, time.process_time() - c0, len(task.pool))
            auc = _auc(task.flipped, scores) if task.flipped is not None else None
            for b in cfg["budgets"]:
                mask = sel.select_mask(b)
                for pi, (px, rc) in enumerate(zip(proxies, recipes)):
                    t1 = time.perf_counter()
                    if evals:
                        metrics = task.evaluate(mask, seed, proxy=pi)
                        metric = metrics[primary]
                    else:
                        metrics, metric = None, task.evaluate(mask, seed)
                    tr_s = time.perf_counter() - t1
                    row = {
                        "strategy": st["label"],
                        "method": st["method"],
                        "budget": b,
                        "seed": seed,
                        "metric": float(metric),
                        "n_selected": int(mask.sum()),
                        "n_tokens": int(task.pool.n_tokens[mask].sum()),
                        "fit_seconds": round(fit_s, 3),
                        "fit_peak_mib": mem.mib,
                        "train_seconds": round(tr_s, 3),
                        **cost,
                        "detection_auc": auc,
                        "flipped_selected": (
                            float(task.flipped[mask].mean()) if task.flipped is not None and mask.any() else None
                        ),
                        "target_domain_selected": (
                            float(task.is_target_domain[mask].mean())
                            if hasattr(task, "is_target_domain") and mask.any()
                            else None
                        ),
                    }
                    if metrics is not None:
                        row["metrics"] = {k: float(v) for k, v in metrics.items()}
                        row["proxy"] = px["label"]
                        row["params"] = rc.get("params")
                        row["train_tokens"] = rc["tokens"]
                        row["epochs"] = round(rc["tokens"] / max(row["n_tokens"], 1), 3)
                    runs.append(row)
                    if progress is not None:
                        progress(len(runs), n_total)
                    log(
                        f"{st['label']:<16} budget={b!s:<6} seed={seed} "
                        + (f"proxy={px['label']} " if len(proxies) > 1 else "")
                        + f"{task.metric}={metric:.4f} (n={row['n_selected']}, fit {fit_s:.1f}s, train {tr_s:.1f}s)"
                    )
    full = None
    if cfg["full_pool"]:
        vals = []
        for s_ in cfg["seeds"]:
            v = task.evaluate(np.ones(len(task.pool), bool), s_)
            vals.append(float(v[primary] if evals else v))
        m, _, lo, hi = mean_ci(vals)
        full = {"mean": m, "ci_low": lo, "ci_high": hi, "values": vals}
    main_runs = [r for r in runs if r.get("proxy") in (None, proxies[0] and proxies[0]["label"])]
    summary, detection = _summarise(main_runs, cfg, sign, evals)
    costs = _costs(main_runs, cfg)
    res = {
        "schema": SCHEMA,
        "config": cfg,
        "task": {
            "name": task.name,
            "metric": task.metric,
            "higher_is_better": task.higher_is_better,
            "info": task.info(),
        },
        "strategies": [
            {
                "label": s["label"],
                "method": s["method"],
                "params": s["params"],
                "model_aware": bool(getattr(get_selector(s["method"], **s["params"]), "model_aware", False)),
            }
            for s in cfg["strategies"]
        ],
        "budgets": cfg["budgets"],
        "seeds": cfg["seeds"],
        "full_pool": full,
        "runs": runs,
        "summary": summary,
        "detection": detection,
        "costs": costs,
    }
    if evals:
        res["evals"], res["primary_eval"] = evals, primary
        res["eval_summary"] = [
            {"eval": e, "strategy": r["strategy"], "budget": r["budget"], **r["metrics"][e]}
            for e in evals
            for r in summary
        ]
        res["proxies"] = recipes
        if len(proxies) > 1:
            res["transfer"] = rank_transfer(runs, cfg, [p["label"] for p in proxies], evals)
    res["warnings"] = bench_warnings(res)
    res["seconds"] = round(time.perf_counter() - t_start, 2)
    for w in res["warnings"]:
        log(f"warning: {w}")
    if out:
        write_outputs(res, out)
    return res


def bench_warnings(res: dict) -> list[str]:
    """Honest-statistics warnings: too few seeds, no strategy separated from the baseline, leaks."""
    out = []
    n = len(res["seeds"])
    if n < 3:
        out.append(
            f"only {n} seed(s): 95% intervals from fewer than 3 seeds are very wide (or absent); use >= 3, better 5"
        )
    base = res["config"]["baseline"]
    evals = res.get("evals") or [None]
    for e in evals:
        rows = res["eval_summary"] if e is not None else res["summary"]
        rows = [r for r in rows if (e is None or r["eval"] == e) and r["strategy"] != base]
        if rows and not any(r.get("significant") for r in rows):
            out.append(
                f"no strategy differs from {base} with 95% confidence"
                + (f" on eval {e!r}" if e else "")
                + ": every gain interval includes zero"
            )
    leaks = (res["task"].get("info") or {}).get("leaks")
    for p in (leaks or {}).get("pairs", []):
        if p["ngram"] and (p["b"] != "target" or p["a"] != "pool"):
            out.append(
                f"leak: {p['ngram']} of {p['of']} {p['a']} documents share a {leaks['n']}-gram with "
                f"{p['b']} ({p['exact']} exact copies)"
                + ("; drop them with task.drop_leaks: true" if p["a"] == "pool" else "")
            )
    return out


def rank_transfer(runs: list[dict], cfg: dict, proxies: list[str], evals: list[str]) -> list[dict]:
    """Spearman rank correlation between the primary proxy and each larger one over strategy × budget
    cells (per eval set; mean over seeds), with a 95% bootstrap interval over seeds."""
    from scipy.stats import spearmanr

    cells = [(st["label"], str(b)) for st in cfg["strategies"] for b in cfg["budgets"]]
    seeds = cfg["seeds"]
    out = []
    rng = np.random.default_rng(0)
    for e in evals:
        # value[proxy][cell][seed]
        val = {p: np.full((len(cells), len(seeds)), np.nan) for p in proxies}
        ci = {c: i for i, c in enumerate(cells)}
        si = {s: i for i, s in enumerate(seeds)}
        for r in runs:
            val[r["proxy"]][ci[(r["strategy"], str(r["budget"]))], si[r["seed"]]] = r["metrics"][e]
        a = val[proxies[0]]
        for p in proxies[1:]:
            b = val[p]
            rho = float(spearmanr(np.nanmean(a, 1), np.nanmean(b, 1)).statistic)
            boots = []
            for _ in range(1000):
                k = rng.integers(0, len(seeds), len(seeds))
                x, y = np.nanmean(a[:, k], 1), np.nanmean(b[:, k], 1)
                if np.ptp(x) > 0 and np.ptp(y) > 0:
                    boots.append(spearmanr(x, y).statistic)
            lo, hi = np.percentile(boots, [2.5, 97.5]).tolist() if len(boots) > 10 else [math.nan, math.nan]
            out.append(
                {
                    "eval": e,
                    "small": proxies[0],
                    "large": p,
                    "cells": len(cells),
                    "spearman": rho,
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                }
            )
    return out


def _cost(sel, fit_cpu_s: float, n_docs: int) -> dict:
    """CPU seconds of a fit, split into a fixed part (proxies, training a scorer) and per-document
    scoring: from the selector's ``cost_`` when it keeps one, else all of the fit counts as scoring."""
    c = getattr(sel, "cost_", None) or {"fixed_cpu_s": 0.0, "per_doc_cpu_s": fit_cpu_s, "n_docs": n_docs}
    out = {
        "fit_cpu_seconds": round(fit_cpu_s, 3),
        "fixed_cpu_seconds": round(float(c["fixed_cpu_s"]), 3),
        "score_cpu_s_per_1k_docs": round(1000.0 * float(c["per_doc_cpu_s"]) / max(int(c["n_docs"]), 1), 4),
    }
    if c.get("n_teacher"):  # distilled: the attribution of its sample, per 1k documents
        out["teacher_cpu_s_per_1k_docs"] = round(1000.0 * float(c["teacher_cpu_s"]) / int(c["n_teacher"]), 4)
    return out


def _costs(runs: list[dict], cfg: dict) -> list[dict]:
    """Per strategy: mean fixed CPU-seconds and scoring CPU-seconds per 1k documents over seeds
    (one fit per seed; budgets reuse it)."""
    out = []
    b0 = str(cfg["budgets"][0])
    for st in cfg["strategies"]:
        rs = [r for r in runs if r["strategy"] == st["label"] and str(r["budget"]) == b0]
        out.append(
            {
                "strategy": st["label"],
                "fixed_cpu_seconds": float(np.mean([r["fixed_cpu_seconds"] for r in rs])),
                "score_cpu_s_per_1k_docs": float(np.mean([r["score_cpu_s_per_1k_docs"] for r in rs])),
                "fit_seconds": float(np.mean([r["fit_seconds"] for r in rs])),
            }
        )
    return out


def format_cost_table(res: dict) -> tuple[list[str], list[list[str]]]:
    """Scoring cost next to gain: strategy, fixed CPU-s, scoring CPU-s per 1k documents, then the
    gain over the baseline at each budget (``+g [lo, hi]``, primary eval set)."""
    head = ["strategy", "fixed CPU-s", "scoring CPU-s / 1k docs"] + [f"gain at {b}" for b in res["budgets"]]
    base = res["config"]["baseline"]
    by = {(r["strategy"], str(r["budget"])): r for r in res["summary"]}
    rows = []
    for c in res.get("costs") or []:
        row = [c["strategy"], f"{c['fixed_cpu_seconds']:.1f}", f"{c['score_cpu_s_per_1k_docs']:.3g}"]
        for b in res["budgets"]:
            r = by[(c["strategy"], str(b))]
            g = f"{r['gain']:+.4g} [{r['gain_ci_low']:+.4g}, {r['gain_ci_high']:+.4g}]"
            row.append("—" if c["strategy"] == base else g)
        rows.append(row)
    return head, rows


def _mean_and_gain(values: list, baseline: list, sign: float, is_baseline: bool) -> dict:
    """Mean, std and 95% CI of ``values``; the gain over the seed-paired ``baseline`` with its CI
    (``sign`` makes higher better); significant when the gain's CI excludes zero."""
    m, sd, lo, hi = mean_ci(values)
    g, _, glo, ghi = mean_ci([sign * (v - b) for v, b in zip(values, baseline)])
    return {
        "mean": m,
        "std": sd,
        "ci_low": lo,
        "ci_high": hi,
        "gain": g,
        "gain_ci_low": glo,
        "gain_ci_high": ghi,
        "significant": bool(not is_baseline and (glo > 0 or ghi < 0)),
    }


def _summarise(runs: list[dict], cfg: dict, sign: float, evals: list[str] = ()) -> tuple[list[dict], list[dict]]:
    base = cfg["baseline"]
    by = {(r["strategy"], str(r["budget"]), r["seed"]): r for r in runs}
    summary, detection = [], []
    for st in cfg["strategies"]:
        lab = st["label"]
        for b in cfg["budgets"]:
            rs = [by[(lab, str(b), s)] for s in cfg["seeds"]]
            paired = [by[(base, str(b), r["seed"])] for r in rs]
            aucs = [r["detection_auc"] for r in rs if r["detection_auc"] is not None]
            fl = [r["flipped_selected"] for r in rs if r["flipped_selected"] is not None]
            td = [r["target_domain_selected"] for r in rs if r["target_domain_selected"] is not None]
            summary.append(
                {
                    "strategy": lab,
                    "budget": b,
                    "n": len(rs),
                    **_mean_and_gain([r["metric"] for r in rs], [p["metric"] for p in paired], sign, lab == base),
                    "detection_auc": float(np.nanmean(aucs)) if aucs else None,
                    "flipped_selected": float(np.mean(fl)) if fl else None,
                    "target_domain_selected": float(np.mean(td)) if td else None,
                    "fit_seconds": float(np.mean([r["fit_seconds"] for r in rs])),
                    "fit_peak_mib": max((r.get("fit_peak_mib") or 0.0 for r in rs), default=0.0),
                }
            )
            if evals:
                summary[-1]["n_selected"] = float(np.mean([r["n_selected"] for r in rs]))
                summary[-1]["n_tokens"] = float(np.mean([r["n_tokens"] for r in rs]))
                summary[-1]["epochs"] = float(np.mean([r["epochs"] for r in rs]))
                summary[-1]["metrics"] = {}
                for e in evals:
                    summary[-1]["metrics"][e] = _mean_and_gain(
                        [r["metrics"][e] for r in rs], [p["metrics"][e] for p in paired], sign, lab == base
                    )
        aucs = [by[(lab, str(cfg["budgets"][0]), s)]["detection_auc"] for s in cfg["seeds"]]
        if any(a is not None for a in aucs):
            m, _, lo, hi = mean_ci([a for a in aucs if a is not None])
            detection.append({"strategy": lab, "auc_mean": m, "auc_ci_low": lo, "auc_ci_high": hi})
    return summary, detection


CSV_FIELDS = [
    "kind",
    "strategy",
    "method",
    "budget",
    "seed",
    "metric",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "gain",
    "gain_ci_low",
    "gain_ci_high",
    "significant",
    "n_selected",
    "n_tokens",
    "detection_auc",
    "flipped_selected",
    "target_domain_selected",
    "fit_seconds",
    "fit_peak_mib",
    "train_seconds",
    "fit_cpu_seconds",
    "fixed_cpu_seconds",
    "score_cpu_s_per_1k_docs",
]


def write_outputs(res: dict, out: str) -> dict:
    """Write ``bench.json``, ``bench.csv`` and ``bench.png`` into ``out``; return their paths."""
    os.makedirs(out, exist_ok=True)
    paths = {k: os.path.join(out, f"bench.{k}") for k in ("json", "csv", "png")}
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=2, default=float)
    evals = res.get("evals") or []
    fields = CSV_FIELDS + (
        ["proxy", "params", "train_tokens", "epochs"] + [f"metric:{e}" for e in evals] if evals else []
    )
    with open(paths["csv"], "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in res["runs"]:
            w.writerow({"kind": "run", **r, **{f"metric:{e}": v for e, v in (r.get("metrics") or {}).items()}})
        for r in res["summary"]:
            w.writerow(
                {"kind": "summary", **r, **{f"metric:{e}": v["mean"] for e, v in (r.get("metrics") or {}).items()}}
            )
    plot(res, paths["png"])
    return paths


def plot(res: dict, path: str) -> None:
    """Metric vs budget per strategy (95% CI error bars), full pool as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from winnow.select.base import parse_budget

    budgets = res["budgets"]
    xs = []
    for b in budgets:
        kind, v = parse_budget(b)
        xs.append(v * 100 if kind == "fraction" else v)
    xlabel = "budget (% of pool)" if all(parse_budget(b)[0] == "fraction" for b in budgets) else "budget"
    evals = res.get("evals") or [None]
    ncol = min(len(evals), 3)
    nrow = math.ceil(len(evals) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.5 * ncol, 4.6 * nrow), dpi=110, squeeze=False)
    for k, e in enumerate(evals):
        ax = axes[k // ncol][k % ncol]
        for st in res["strategies"]:
            rows = [r for r in res["summary"] if r["strategy"] == st["label"]]
            if e is not None:
                rows = [r["metrics"][e] for r in rows]
            m = np.array([r["mean"] for r in rows])
            err = np.array([[r["mean"] - r["ci_low"] for r in rows], [r["ci_high"] - r["mean"] for r in rows]])
            style = dict(lw=2.2, color="black", ls="--") if st["label"] == res["config"]["baseline"] else dict(lw=1.5)
            ax.errorbar(xs, m, yerr=err, marker="o", capsize=3, label=st["label"], **style)
        if res.get("full_pool") and (e is None or e == res.get("primary_eval")):
            ax.axhline(res["full_pool"]["mean"], color="grey", ls=":", label="full pool")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(
            res["task"]["metric"] + (" (higher is better)" if res["task"]["higher_is_better"] else " (lower is better)")
        )
        ax.set_title(
            f"eval: {e}"
            if e is not None
            else f"winnow bench: {res['task']['name']} ({len(res['seeds'])} seeds, 95% CI)"
        )
        ax.legend(fontsize=8, ncol=2)
        ax.grid(alpha=0.3)
    for k in range(len(evals), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    if evals[0] is not None:
        fig.suptitle(f"winnow bench: {res['task']['name']} ({len(res['seeds'])} seeds, 95% CI)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_table(res: dict) -> list[list[str]]:
    """Rows for printing: strategy, budget, mean [CI], gain vs random [CI], significance, extra."""
    hib = res["task"]["higher_is_better"]
    fmt = (lambda x: f"{x:.4f}") if hib else (lambda x: f"{x:.2f}")
    rows = []
    for r in res["summary"]:
        extra = ""
        if r.get("flipped_selected") is not None:
            extra = f"flipped kept {r['flipped_selected']:.1%}"
            if r.get("detection_auc") is not None:
                extra += f", AUC {r['detection_auc']:.3f}"
        elif r.get("target_domain_selected") is not None:
            extra = f"target-domain {r['target_domain_selected']:.0%}"
        base = r["strategy"] == res["config"]["baseline"]
        rows.append(
            [
                r["strategy"],
                str(r["budget"]),
                f"{fmt(r['mean'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                "—" if base else f"{r['gain']:+.4f} [{r['gain_ci_low']:+.4f}, {r['gain_ci_high']:+.4f}]",
                ""
                if base
                else ("yes" if r["significant"] and r["gain"] > 0 else "worse" if r["significant"] else "no"),
                extra,
            ]
        )
    return rows


def format_eval_table(res: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows with every eval set (LM task on your data): strategy, budget, documents,
    tokens and epochs trained, then per eval set ``mean [95% CI]`` and the gain over the baseline
    ``+g [lo, hi]`` (``*`` = the interval excludes zero)."""
    base = res["config"]["baseline"]
    head = ["strategy", "budget", "docs", "tokens", "epochs"]
    for e in res["evals"]:
        head += [f"{e}{' (primary)' if e == res.get('primary_eval') and len(res['evals']) > 1 else ''}", f"gain on {e}"]
    rows = []
    for r in res["summary"]:
        row = [
            r["strategy"],
            str(r["budget"]),
            f"{r['n_selected']:,.0f}",
            f"{r['n_tokens']:,.0f}",
            f"{r['epochs']:.1f}",
        ]
        for e in res["evals"]:
            m = r["metrics"][e]
            row.append(f"{m['mean']:.2f} [{m['ci_low']:.2f}, {m['ci_high']:.2f}]")
            row.append(
                "—"
                if r["strategy"] == base
                else f"{m['gain']:+.2f} [{m['gain_ci_low']:+.2f}, {m['gain_ci_high']:+.2f}]"
                + (" *" if m["significant"] else "")
            )
        rows.append(row)
    return head, rows


def markdown_table(res: dict) -> str:
    """The summary as a Markdown table (for READMEs and reports).

    Example:
        >>> import json; print(markdown_table(json.load(open("runs/bench/bench.json"))))   # doctest: +SKIP
    """
    if res.get("evals"):
        head, rows = format_eval_table(res)
        lines = _md(head, rows)
        if res.get("full_pool"):
            fp = res["full_pool"]
            lines.append(
                f"\nFull pool ({res['primary_eval']}): {fp['mean']:.4g} [{fp['ci_low']:.4g}, {fp['ci_high']:.4g}]."
            )
        for t in res.get("transfer") or []:
            lines.append(
                f"\nRank transfer {t['small']} → {t['large']} on {t['eval']}: Spearman {t['spearman']:.2f} "
                f"[{t['ci_low']:.2f}, {t['ci_high']:.2f}] over {t['cells']} strategy × budget cells."
            )
        return "\n".join(lines + _md_costs(res))
    lines = [
        "| strategy | budget | " + res["task"]["metric"] + " mean [95% CI] | gain vs random [95% CI] "
        "| beats random | notes |",
        "|---|---|---|---|---|---|",
    ]
    for row in format_table(res):
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
    if res.get("full_pool"):
        fp = res["full_pool"]
        lines.append(f"\nFull pool: {fp['mean']:.4g} [{fp['ci_low']:.4g}, {fp['ci_high']:.4g}].")
    return "\n".join(lines + _md_costs(res))


def _md(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(x.replace("|", "\\|") for x in row) + " |" for row in rows
    ]


def _md_costs(res: dict) -> list[str]:
    if not res.get("costs"):
        return []
    head, rows = format_cost_table(res)
    return ["\nScoring cost (CPU-seconds) next to the gain over " + res["config"]["baseline"] + ":\n"] + _md(head, rows)
