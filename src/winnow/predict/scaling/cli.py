"""`winnow scaling ...`: fit laws to runs, allocate compute, check proxy transfer.

Imports only typer at top level (``winnow --help`` stays fast)."""

from __future__ import annotations

import json
from typing import Optional

import typer

from winnow.cli_common import cli_errors, fail

app = typer.Typer(
    help="Scaling laws: fit runs with bootstrap intervals, extrapolate, allocate compute, "
    "check that small proxies rank recipes like large runs.",
    no_args_is_help=True,
)


def _cols(specs: list[str]) -> dict[str, str]:
    out = {}
    for s in specs:
        if "=" not in s:
            fail(f"--col expects CANON=COLUMN (e.g. D=tokens), got {s!r}")
        k, v = s.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@app.command("fit")
@cli_errors(ValueError)
def fit_cmd(
    runs_file: str = typer.Argument(..., help="CSV/JSON/JSONL of runs (see `winnow.predict.scaling.io` for columns)."),
    law: str = typer.Option("auto", help="auto, power, chinchilla, data-constrained, data-constrained-1d."),
    recipe: Optional[str] = typer.Option(None, help="Fit this recipe (required when the file has several)."),
    metric: Optional[str] = typer.Option(None, help="Metric column, or metric name in a long-format file."),
    col: list[str] = typer.Option([], "--col", help="Map a column: D=tokens, N=params, loss=val_loss, ..."),
    error: bool = typer.Option(False, help="Fit 1 - metric (for accuracy-like metrics)."),
    holdout_largest: int = typer.Option(0, help="Hold out the runs at the k largest sizes and report the error."),
    n_boot: int = typer.Option(200, help="Bootstrap refits (0: none)."),
    bootstrap: str = typer.Option("pairs", help="pairs or residual."),
    level: float = typer.Option(0.95, help="Interval level."),
    predict: list[float] = typer.Option([], help="Also predict at these D values (power / 1-D laws)."),
    seed: int = typer.Option(0),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the fit (JSON, with bootstrap draws)."),
    plot: Optional[str] = typer.Option(None, help="Write a PNG of the fit."),
):
    """Fit a law (Huber on log-loss, L-BFGS from a grid) with bootstrap intervals; print a table."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from winnow.predict.scaling.fit import fit_runs
    from winnow.predict.scaling.io import load_runs

    runs = load_runs(runs_file, columns=_cols(col), metric=metric, recipe=recipe)
    if error:
        runs.loss = 1.0 - runs.loss
        runs.metric_name = f"1 - {runs.metric_name}"
    fit = fit_runs(
        runs, law=law, exclude_largest=holdout_largest, n_boot=n_boot, bootstrap=bootstrap, level=level, seed=seed
    )
    con = Console()
    t = Table(
        title=f"{fit.law.name}: {fit.law.description}  ({fit.n_points} runs, {runs.metric_name})", title_justify="left"
    )
    for c in ("parameter", "estimate", f"{int(level * 100)}% CI"):
        t.add_column(c, justify="right" if c != "parameter" else "left")
    ci = fit.ci
    for k, v in fit.params.items():
        lo, hi = ci.get(k, (float("nan"), float("nan")))
        t.add_row(k, f"{v:.4g}", f"[{lo:.4g}, {hi:.4g}]" if ci else "-")
    con.print(t)
    report = fit.to_dict()
    held = fit.extra.get("held_out")
    if held:
        inputs = {k: np.asarray(held[k]) for k in fit.law.inputs}
        if fit.extra.get("axis") == "N":
            inputs = {"D": np.asarray(held["N"])}
        if n_boot:
            p, lo, hi = fit.predict(interval=True, **inputs)
        else:
            p = fit.predict(**inputs)
            lo = hi = np.full_like(p, np.nan)
        obs = np.asarray(held["loss"])
        rel = (p - obs) / obs
        rows = []
        ht = Table(title="held-out runs (extrapolation)", title_justify="left")
        names = list(inputs)
        for c in ("size", "observed", "predicted", "CI", "rel. error", "inside CI"):
            ht.add_column(c, justify="right")
        sizes = np.stack([np.asarray(inputs[k], dtype=float) for k in names], axis=1)
        label = [
            ", ".join(f"{k}={v:.4g}" for k, v in zip(names, row)) if len(names) > 1 else f"{row[0]:.4g}"
            for row in sizes
        ]
        for i in range(obs.size):
            inside = bool(lo[i] <= obs[i] <= hi[i])
            ht.add_row(
                label[i],
                f"{obs[i]:.4g}",
                f"{p[i]:.4g}",
                f"[{lo[i]:.4g}, {hi[i]:.4g}]",
                f"{rel[i]:+.2%}",
                "yes" if inside else "no",
            )
            rows.append(
                {
                    "size": {k: float(v) for k, v in zip(names, sizes[i])} if len(names) > 1 else float(sizes[i, 0]),
                    "observed": float(obs[i]),
                    "predicted": float(p[i]),
                    "low": float(lo[i]),
                    "high": float(hi[i]),
                    "rel_error": float(rel[i]),
                    "inside": inside,
                }
            )
        con.print(ht)
        report["held_out_eval"] = rows
        # per held-out configuration (every input equal, i.e. seeds of one run): mean vs the fitted curve.
        # Runs that share D but differ in N are different configurations and are never averaged.
        summ = []
        _, group = np.unique(sizes, axis=0, return_inverse=True)
        for g in range(int(group.max()) + 1):
            m = group.ravel() == g
            i0 = int(np.flatnonzero(m)[0])
            om = float(obs[m].mean())
            pv, lv, hv = float(p[i0]), float(lo[i0]), float(hi[i0])
            summ.append(
                {
                    "size": rows[i0]["size"],
                    "runs": int(m.sum()),
                    "observed_mean": om,
                    "predicted": pv,
                    "low": lv,
                    "high": hv,
                    "rel_error": (pv - om) / om,
                    "inside": bool(lv <= om <= hv),
                }
            )
            con.print(
                f"extrapolation to {label[i0]}: mean of {int(m.sum())} held-out run(s) {om:.4g}, "
                f"predicted {pv:.4g} [{lv:.4g}, {hv:.4g}], error {(pv - om) / om:+.2%}"
            )
        report["held_out_summary"] = summ
    if predict:
        if "N" in fit.law.inputs or "U" in fit.law.inputs:
            fail("--predict supports one-axis laws (power); use the Python API for N, D, U")
        xs = np.asarray(predict, dtype=float)
        pt = Table(title="predictions", title_justify="left")
        for c in ("D", "predicted", "CI"):
            pt.add_column(c, justify="right")
        if n_boot:
            p, lo, hi = fit.predict(interval=True, D=xs)
        else:
            p = fit.predict(D=xs)
            lo = hi = np.full_like(p, np.nan)
        for i in range(xs.size):
            pt.add_row(f"{xs[i]:.4g}", f"{p[i]:.4g}", f"[{lo[i]:.4g}, {hi[i]:.4g}]")
        con.print(pt)
        report["predictions"] = [
            {"D": float(a), "predicted": float(b), "low": float(c), "high": float(d)}
            for a, b, c, d in zip(xs, p, lo, hi)
        ]
    if out:
        with open(out, "w") as fh:
            json.dump(report, fh, indent=1)
    if plot:
        from winnow.predict.scaling.plot import plot_fit

        plot_fit(fit, runs, plot)
        con.print(f"plot: {plot}")


@app.command("allocate")
@cli_errors(ValueError)
def allocate_cmd(
    compute: list[float] = typer.Argument(..., help="FLOP budgets, e.g. 5.76e23."),
    preset: Optional[str] = typer.Option(None, help="chinchilla (Hoffmann 2022) or besiroglu (2024 refit)."),
    fit_json: Optional[str] = typer.Option(
        None, "--fit", help="A fit written by `winnow scaling fit -o` (two-axis law); intervals from its draws."
    ),
    params: Optional[str] = typer.Option(None, help="E,A,alpha,B,beta as comma-separated numbers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Compute-optimal parameters N* and tokens D* for FLOP budgets (C = 6 N D), closed form."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from winnow.predict.scaling.allocation import compute_optimal

    given = [x for x in (preset, fit_json, params) if x]
    if len(given) != 1:
        fail("give exactly one of --preset, --fit, --params")
    boot = None
    if preset:
        p = preset
    elif params:
        vals = [float(v) for v in params.split(",")]
        if len(vals) != 5:
            fail("--params needs 5 numbers: E,A,alpha,B,beta")
        p = dict(zip(("E", "A", "alpha", "B", "beta"), vals))
    else:
        from winnow.predict.scaling.fit import load_fit

        f = load_fit(fit_json)
        if f.law.name != "chinchilla":
            fail(f"--fit needs a chinchilla (N, D) fit, got {f.law.name!r}")
        p = f.params
        boot = f.boot
    rows = []
    for c in compute:
        r = compute_optimal(p, c)
        if boot is not None and len(boot):
            rb = compute_optimal(boot, c)
            for k in ("N", "D", "tokens_per_param"):
                lo, hi = np.nanquantile(rb[k], [0.025, 0.975])
                r[f"{k}_ci"] = [float(lo), float(hi)]
        rows.append(r)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    t = Table(title="compute-optimal allocation (C = 6 N D)", title_justify="left")
    for c in ("FLOPs", "N* (params)", "D* (tokens)", "tokens/param", "loss"):
        t.add_column(c, justify="right")
    for r in rows:
        ci = lambda k: f" [{r[k + '_ci'][0]:.3g}, {r[k + '_ci'][1]:.3g}]" if k + "_ci" in r else ""  # noqa: E731
        t.add_row(
            f"{r['compute']:.3g}",
            f"{r['N']:.3g}{ci('N')}",
            f"{r['D']:.3g}{ci('D')}",
            f"{r['tokens_per_param']:.1f}{ci('tokens_per_param')}",
            f"{r['loss']:.4g}",
        )
    Console().print(t)


@app.command("transfer")
@cli_errors(ValueError)
def transfer_cmd(
    runs_file: str = typer.Argument(..., help="Runs of several recipes at several scales (and seeds)."),
    scale: Optional[str] = typer.Option(
        None,
        help="Scale column: D, N or C (= 6 N D). Default: the one of "
        "D and N that varies (N for a bench.json with several proxies).",
    ),
    metric: Optional[str] = typer.Option(None, help="Metric column, or metric name in a long-format file."),
    col: list[str] = typer.Option([], "--col", help="Map a column: D=budget, recipe=strategy, ..."),
    higher_is_better: Optional[bool] = typer.Option(
        None, "--higher-is-better/--lower-is-better", help="Default: from the metric name."
    ),
    extrapolate_to: Optional[float] = typer.Option(
        None, help="Also report crossings of fitted power laws up to this scale."
    ),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the report as JSON."),
    plot: Optional[str] = typer.Option(None, help="Write a PNG of the recipes across scales."),
):
    """Is the ranking of data recipes stable across scales? Rank correlations and crossings."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from winnow.predict.scaling.io import load_runs
    from winnow.predict.scaling.transfer import transfer_report

    runs = load_runs(runs_file, columns=_cols(col), metric=metric)
    if scale is None:
        varies = [
            k
            for k in ("D", "N")
            if getattr(runs, k) is not None and len(np.unique(getattr(runs, k)[np.isfinite(getattr(runs, k))])) > 1
        ]
        scale = varies[0] if len(varies) == 1 else "D"
    rep = transfer_report(runs, scale=scale, higher_is_better=higher_is_better, extrapolate_to=extrapolate_to)
    con = Console()
    t = Table(
        title=f"{rep['metric']} by recipe and {scale} "
        f"({'higher' if rep['higher_is_better'] else 'lower'} is better; rank in brackets)",
        title_justify="left",
    )
    t.add_column("recipe")
    for s in rep["scales"]:
        t.add_column(f"{s:.3g}", justify="right")
    for i, r in enumerate(rep["recipes"]):
        t.add_row(r, *[f"{m:.4g} ({rk:.0f})" if m == m else "-" for m, rk in zip(rep["mean"][i], rep["ranks"][i])])
    con.print(t)
    ct = Table(title="rank correlation with the largest scale", title_justify="left")
    for c in ("scale", "Spearman", "95% CI (seeds)", "Kendall", "P(same winner)", "recipes"):
        ct.add_column(c, justify="right")
    for p in rep["vs_largest"]:
        ci = p.get("spearman_ci")
        ct.add_row(
            f"{p['scale_a']:.3g}",
            f"{p['spearman']:.3f}",
            f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-",
            f"{p['kendall']:.3f}",
            f"{p['p_same_winner']:.2f}" if "p_same_winner" in p else "-",
            str(p["n_recipes"]),
        )
    con.print(ct)
    for c in rep["crossings"]:
        con.print(
            f"crossing: {c['a']} × {c['b']} at ≈{c['at']:.3g} (between {c['between'][0]:.3g} and "
            f"{c['between'][1]:.3g}); {c['better_before']} better before, {c['better_after']} after"
            f"{'' if c['significant'] else ' (not significant at 2 s.e.)'}"
        )
    for c in rep["fitted_crossings"]:
        con.print(
            f"fitted crossing beyond the data: {c['a']} × {c['b']} at ≈{c['at']:.3g}; {c['better_after']} better after"
        )
    if not rep["crossings"] and not rep["fitted_crossings"]:
        con.print("no crossings")
    if out:
        with open(out, "w") as fh:
            json.dump(rep, fh, indent=1)
    if plot:
        from winnow.predict.scaling.plot import plot_transfer

        plot_transfer(rep, plot)
        con.print(f"plot: {plot}")
