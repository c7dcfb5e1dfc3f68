"""``winnow bench CONFIG.yaml``: strategy × budget × seed table with CIs (typer only at import)."""

from __future__ import annotations

from typing import Optional

import typer

from winnow.cli_common import cli_errors, run_progress


@cli_errors(ValueError)
def bench(
    config: str = typer.Argument(..., help="Bench config YAML (task, strategies, budgets, seeds, output)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (overrides output: in the YAML)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not log each run."),
):
    """Strategy x budget x seed: select, train the fixed proxy, print mean, 95% CI, gain over random.

    Writes bench.json, bench.csv and bench.png into the output folder. On your own data:

    \b
        task:
          name: lm
          pool: runs/curated                 # run folder, files or globs (JSONL, Parquet, text)
          target: data/target/*.jsonl        # what the model should be good at
          eval: {python-docs: data/eval/py.jsonl, german: data/eval/de.jsonl}
          proxy: {preset: cpu-tiny, tokens: 500000}   # fixed compute: every subset sees as many tokens
        strategies: [random, dsir, ce_diff]
        budgets: [0.1, 0.25]                 # fractions, rows (500) or tokens ("50k tokens")
        seeds: [0, 1, 2, 3, 4]

    Example: winnow bench examples/bench_noisy_labels.yaml -o runs/bench_noisy
    """
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from winnow.prove.bench.harness import format_table, load_config, run_bench

    err = Console(stderr=True)
    cfg = load_config(config)
    out = out or cfg["output"] or "runs/bench"

    from winnow.prove.bench.harness import format_eval_table

    log = None if quiet else (lambda s: err.print(escape(s), highlight=False))
    bar = run_progress(err, quiet, "training proxies")
    task_id = bar.add_task("runs", total=None)
    with bar:
        res = run_bench(
            config, output=out, log=log, progress=lambda done, total: bar.update(task_id, completed=done, total=total)
        )
    t = Table(
        title=f"winnow bench: {res['task']['name']} — {res['task']['metric']} "
        f"({'higher' if res['task']['higher_is_better'] else 'lower'} is better), "
        f"{len(res['seeds'])} seeds, 95% CI" + (" (* = excludes zero)" if res.get("evals") else ""),
        title_justify="left",
    )
    if res.get("evals"):
        head, rows = format_eval_table(res)
    else:
        head = ["strategy", "budget", "mean [95% CI]", "gain vs random [95% CI]", "beats random", "notes"]
        rows = format_table(res)
    for c in head:
        t.add_column(escape(c))
    for row in rows:
        t.add_row(*[escape(x) for x in row])
    con = Console()
    con.print(t)
    if res.get("costs"):
        from winnow.prove.bench.harness import format_cost_table

        head, rows = format_cost_table(res)
        ct = Table(title="scoring cost (CPU-seconds) next to the gain", title_justify="left")
        for c in head:
            ct.add_column(escape(c))
        for row in rows:
            ct.add_row(*[escape(x) for x in row])
        con.print(ct)
    for p in res.get("proxies") or []:
        con.print(
            f"proxy {p['label']}: {p['layers']} layers, width {p['width']}, {p['heads']} heads, context "
            f"{p['context']}, batch {p['batch']}, {p['steps']} steps = {p['tokens']:,} tokens, lr {p['lr']}, "
            f"{p['params']:,} parameters"
        )
    for tr in res.get("transfer") or []:
        con.print(
            f"rank transfer {tr['small']} -> {tr['large']} ({tr['eval']}): Spearman {tr['spearman']:.2f} "
            f"[{tr['ci_low']:.2f}, {tr['ci_high']:.2f}] over {tr['cells']} strategy x budget cells"
        )
    for w in res.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if res.get("full_pool"):
        fp = res["full_pool"]
        con.print(f"full pool: {fp['mean']:.4f} [{fp['ci_low']:.4f}, {fp['ci_high']:.4f}]")
    if res["detection"]:
        con.print(
            "detection AUC of flipped labels (score low = flagged): "
            + ", ".join(f"{d['strategy']} {d['auc_mean']:.3f}" for d in res["detection"])
        )
    con.print(f"wrote {out}/bench.json, bench.csv, bench.png ({res['seconds']:.0f} s)")
    sys.stdout.flush()
