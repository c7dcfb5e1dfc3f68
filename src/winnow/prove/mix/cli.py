"""``winnow mix MIX.yaml``: the best mixture of sources from small proxy runs (typer only at import)."""

from __future__ import annotations

from typing import Optional

import typer

from winnow.cli_common import cli_errors, run_progress


@cli_errors(ValueError)
def mix(
    config: str = typer.Argument(..., help="Mix config YAML (pool, group_by, eval, objective, proxy, runs, seeds)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (overrides output: in the YAML)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Proxy runs in parallel (processes)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No log lines and no progress bars."),
):
    """Sample mixtures of the pool's groups, train the fixed-compute proxy on each, regress eval loss
    on the weights, search the simplex for the best predicted mixture, then validate it against the
    natural and the uniform mixture over seeds (95% CIs). Writes mix.json (weights per group, read
    by the export step) and mix.png. Re-running the same command resumes: finished proxy runs in
    OUTPUT/runs/ are reused.

    \\b
        pool: runs/curated            # run folder / files; documents grouped by a column
        group_by: source
        eval: {python-docs: data/eval/py.jsonl, german: data/eval/de.jsonl}
        objective: python-docs        # or {mean: [a, b]} / {weights: {a: 0.7, b: 0.3}}
        proxy: {preset: cpu-tiny, tokens: 1000000}
        runs: 48                      # proxy runs on sampled mixtures
        seeds: [0, 1, 2]              # validation runs
        limits: {max_epochs: 4}       # no group repeated more than 4 times at the proxy's tokens
        output: runs/mix

    Example: winnow mix examples/mix.yaml -w 2
    """
    import yaml
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from winnow.prove.mix.run import MixConfigError, load_mix_config, run_mix

    err = Console(stderr=True)
    try:
        with open(config, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh) or {}
        if workers is not None and isinstance(cfg, dict):
            cfg["workers"] = workers
        load_mix_config(cfg)
    except (MixConfigError, OSError, yaml.YAMLError) as e:
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        raise typer.Exit(2)
    out = out or cfg.get("output") or "runs/mix"
    bar = run_progress(err, quiet)
    ids: dict[str, int] = {}

    def progress(phase, done, total):
        if phase not in ids:
            ids[phase] = bar.add_task(phase, total=total)
        bar.update(ids[phase], completed=done, total=total)

    try:
        with bar:
            res = run_mix(
                cfg, output=out, log=None if quiet else (lambda s: bar.console.print(escape(s))), progress=progress
            )
    except (MixConfigError, ValueError) as e:
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        raise typer.Exit(2)
    con = Console()
    t = Table(title=f"mixture by {res['group_by']} (share of training tokens)", title_justify="left")
    for c in ("group", "docs", "tokens", "natural", "uniform", "chosen", "max"):
        t.add_column(c, justify="left" if c == "group" else "right")
    for k, w in res["weights"].items():
        g = res["groups"][k]
        t.add_row(
            escape(k),
            f"{g['docs']:,}",
            f"{g['tokens']:,}",
            f"{res['natural'][k]:.3f}",
            f"{res['uniform'][k]:.3f}",
            f"{w:.3f}",
            f"{min(g['max_weight'], 1):.3f}",
        )
    con.print(t)
    reg = res["regression"]
    con.print(
        "regression, 5-fold CV Spearman: "
        + "; ".join(
            f"{e}: quadratic {v['quadratic']:.3f}, gbm {v['gbm']:.3f} (chosen {reg['chosen'][e]})"
            for e, v in reg["cv_spearman"].items()
        )
        + f"; objective {reg['objective_cv_spearman']:.3f} over "
        f"{reg['n_runs']} runs"
    )
    v = res.get("validation")
    if v:
        vt = Table(
            title=f"validation: objective loss over {len(v['seeds'])} seeds (lower is better), 95% CI",
            title_justify="left",
        )
        for c in ("mixture", "loss [95% CI]", "gain of chosen [95% CI]"):
            vt.add_column(c)
        for kind, m in v["mixtures"].items():
            g = v["gains"].get(f"vs_{kind}")
            vt.add_row(
                kind,
                f"{m['mean']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]",
                "—"
                if g is None
                else f"{g['mean']:+.4f} [{g['ci_low']:+.4f}, {g['ci_high']:+.4f}]" + (" *" if g["significant"] else ""),
            )
        con.print(vt)
    con.print(f"wrote {out}/mix.json and mix.png ({res['seconds']:.0f} s)")
