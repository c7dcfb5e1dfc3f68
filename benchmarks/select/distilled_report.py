"""Summarise bench_distilled.yaml: gain over random (paired by seed, 95% CI) next to scoring cost,
and the issue-17 bars (distilled keeps >= 80% of direct attribution's gain at >= 100x less scoring
cost per document; distilled vs DCLM-style classifier and DSIR).

Reads one or more ``bench.json`` files of the same task and seeds (e.g. a run split over two
processes: ``--extra`` adds strategies from a second file; rows of the same strategy, budget and
seed must agree, which checks that the runs are paired) and, optionally, ``winnow bench`` log
lines for strategies whose bench.json was not written (``--log``: ``label budget=b seed=s
perplexity=v`` lines).

    PYTHONPATH=src .venv/bin/python benchmarks/select/distilled_report.py benchmarks/out/select/distilled/bench.json
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np

from winnow.prove.bench.harness import mean_ci


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", nargs="+", help="bench.json files (same task, seeds)")
    ap.add_argument("--log", action="append", default=[], help="LABEL=PATH: take LABEL's runs from a bench log")
    ap.add_argument("--budget", default=None, help="budget to compare (default: every budget present)")
    args = ap.parse_args()
    runs: dict[tuple[str, str, int], float] = {}
    costs: dict[str, dict] = {}
    for path in args.bench:
        res = json.load(open(path))
        for r in res["runs"]:
            key = (r["strategy"], str(r["budget"]), int(r["seed"]))
            if key in runs and abs(runs[key] - r["metric"]) > 1e-3:
                raise SystemExit(f"{key}: {runs[key]} in one file, {r['metric']} in another: not paired")
            runs[key] = r["metric"]
            c = costs.setdefault(r["strategy"], {"fixed": [], "score": [], "teacher": []})
            c["fixed"].append(r.get("fixed_cpu_seconds", np.nan))
            c["score"].append(r.get("score_cpu_s_per_1k_docs", np.nan))
            if "teacher_cpu_s_per_1k_docs" in r:
                c["teacher"].append(r["teacher_cpu_s_per_1k_docs"])
    pat = re.compile(r"^(\S+)\s+budget=(\S+)\s+seed=(\d+).*?perplexity=([\d.]+)")
    for spec in args.log:
        label, path = spec.split("=", 1)
        for line in open(path):
            m = pat.match(line)
            if m and m.group(1) == label:
                runs[(label, m.group(2), int(m.group(3)))] = float(m.group(4))
    budgets = sorted({b for _, b, _ in runs}, key=float) if args.budget is None else [args.budget]
    labels = list(dict.fromkeys(s for s, _, _ in runs))
    gains = {}
    print("| strategy | budget | seeds | perplexity [95% CI] | gain vs random [95% CI] |")
    print("|---|---|---|---|---|")
    for b in budgets:
        seeds = sorted(s for (lab, bb, s) in runs if lab == "random" and bb == b)
        for lab in labels:
            ss = [s for s in seeds if (lab, b, s) in runs]
            if not ss:
                continue
            v = [runs[(lab, b, s)] for s in ss]
            m, _, lo, hi = mean_ci(v)
            g = [runs[("random", b, s)] - runs[(lab, b, s)] for s in ss]  # perplexity: lower is better
            gm, _, glo, ghi = mean_ci(g)
            gains[(lab, b)] = (gm, glo, ghi, np.asarray(g))
            gtxt = "—" if lab == "random" else f"{gm:+.2f} [{glo:+.2f}, {ghi:+.2f}]"
            print(f"| {lab} | {b} | {len(ss)} | {m:.2f} [{lo:.2f}, {hi:.2f}] | {gtxt} |")
    print("\n| strategy | fixed CPU-s | scoring CPU-s / 1k docs |")
    print("|---|---|---|")
    for lab, c in costs.items():
        print(f"| {lab} | {np.nanmean(c['fixed']):.1f} | {np.nanmean(c['score']):.4g} |")
    t = costs.get("distilled", {}).get("teacher") or []
    if t:
        print(f"| (attribution of the distilled sample) | | {np.mean(t):.4g} |")
    for b in budgets:
        if ("distilled", b) in gains and ("attribution", b) in gains:
            d, a = gains[("distilled", b)][3], gains[("attribution", b)][3]
            if len(d) == len(a):
                # ratio of mean gains with a seed bootstrap interval
                rng = np.random.default_rng(0)
                idx = rng.integers(0, len(d), size=(10000, len(d)))
                boot = d[idx].mean(1) / a[idx].mean(1)
                lo, hi = np.percentile(boot, [2.5, 97.5])
                print(
                    f"\nbudget {b}: distilled keeps {d.mean() / a.mean():.0%} of direct attribution's gain "
                    f"(seed bootstrap 95% [{lo:.0%}, {hi:.0%}])"
                )
        for other in ("dclm", "dsir"):
            if ("distilled", b) in gains and (other, b) in gains:
                d = np.asarray(
                    [
                        runs[(other, b, s)] - runs[("distilled", b, s)]
                        for s in range(100)
                        if (other, b, s) in runs and ("distilled", b, s) in runs
                    ]
                )
                m, _, lo, hi = mean_ci(d)
                print(
                    f"budget {b}: distilled − {other} perplexity gain {m:+.2f} [{lo:+.2f}, {hi:+.2f}] (positive = distilled better)"
                )
    sc = {lab: np.nanmean(c["score"]) for lab, c in costs.items()}
    direct = sc.get("attribution", np.nan)
    if not np.isfinite(direct) and t:
        direct = float(np.mean(t))
    if "distilled" in sc and np.isfinite(direct):
        print(f"scoring cost per document: direct attribution / distilled = {direct / sc['distilled']:.0f}x")


if __name__ == "__main__":
    main()
