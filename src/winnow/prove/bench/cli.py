"""``winnow bench CONFIG.yaml``: strategy × budget × seed table with CIs (typer only at import)."""
from __future__ import annotations

from typing import Optional

import typer

from winnow.cli_common import cli_errors


@cli_errors(ValueError)
def bench(
    config: str = typer.Argument(..., help="Bench config YAML (task, strategies, budgets, seeds, output)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (overrides output: in the YAML)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not log each run."),
):
    """Strategy x budget x seed: select, train the fixed proxy, print mean, 95% CI, gain over random.

    Writes bench.json, bench.csv and bench.png into the output folder.

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
    log = None if quiet else (lambda s: err.print(escape(s), highlight=False))
    res = run_bench(config, output=out, log=log)
    t = Table(title=f"winnow bench: {res['task']['name']} — {res['task']['metric']} "
                    f"({'higher' if res['task']['higher_is_better'] else 'lower'} is better), "
                    f"{len(res['seeds'])} seeds, 95% CI", title_justify="left")
    for c in ("strategy", "budget", "mean [95% CI]", "gain vs random [95% CI]", "beats random", "notes"):
        t.add_column(c)
    for row in format_table(res):
        t.add_row(*[escape(x) for x in row])
    con = Console()
    con.print(t)
    if res.get("full_pool"):
        fp = res["full_pool"]
        con.print(f"full pool: {fp['mean']:.4f} [{fp['ci_low']:.4f}, {fp['ci_high']:.4f}]")
    if res["detection"]:
        con.print("detection AUC of flipped labels (score low = flagged): " + ", ".join(
            f"{d['strategy']} {d['auc_mean']:.3f}" for d in res["detection"]))
    con.print(f"wrote {out}/bench.json, bench.csv, bench.png ({res['seconds']:.0f} s)")
    sys.stdout.flush()
