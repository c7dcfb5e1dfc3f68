"""`winnow report PATH`: write a self-contained report.html for a run or a bench folder.

Imports only typer at top level (``winnow --help`` stays fast).
"""

from __future__ import annotations

from typing import Optional

import typer

from winnow.cli_common import cli_errors, fail, working


@cli_errors()
def report(
    path: str = typer.Argument(..., help="A run folder (manifest.json) or a bench output folder (bench.json)."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Where to write the HTML (default: PATH/report.html)."
    ),
    sample_rows: int = typer.Option(100_000, help="Rows sampled per population for the histograms."),
    scan_rows: int = typer.Option(2_000_000, help="Rows scanned per shard set to find examples and clusters."),
    examples: int = typer.Option(3, help="Examples shown per rule and per dedup cluster."),
    seed: int = typer.Option(0, help="Seed of the row-group sampling."),
):
    """Write a self-contained HTML report (no network needed to open it): the funnel of rows,
    bytes and tokens per step, the rules that fired with real examples, histograms of every
    statistic with its threshold, dedup clusters; for a bench folder, metric vs budget with
    95% confidence intervals.

    Example:

        winnow report runs/demo            # -> runs/demo/report.html
    """
    import os

    from winnow.report import ReportOptions, build_report

    for name, v in (("--sample-rows", sample_rows), ("--scan-rows", scan_rows), ("--examples", examples)):
        if v < 1:
            fail(f"{name} must be ≥ 1, got {v}")
    opts = ReportOptions(hist_rows=sample_rows, scan_rows=scan_rows, examples=examples, seed=seed)
    with working(f"building the report of {path}"):
        out = build_report(path, output, opts)
    size = os.path.getsize(out)
    typer.echo(f"wrote {out} ({size / 1e6:.1f} MB); open it in a browser: file://{os.path.abspath(out)}")
