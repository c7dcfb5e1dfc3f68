"""`winnow decontam`: find (and drop) documents overlapping evaluation sets."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from winnow.cli_common import cli_errors, print_stats


@cli_errors(ValueError, ImportError)
def decontam(
    input: str = typer.Argument(..., help="Dataset to check (file/folder/glob)."),
    output: str = typer.Option(
        ..., "--output", "-o", help="Run folder (data/, rejects/, manifest.json, decontam_summary.json)."
    ),
    eval_set: List[str] = typer.Option(
        ["humaneval"], "--eval", "-e", help="Eval set: bundled name (humaneval) or JSONL/Parquet path; repeatable."
    ),
    n: int = typer.Option(13, help="Words per n-gram."),
    min_matches: int = typer.Option(1, help="Matching n-grams needed to flag a document."),
    annotate_only: bool = typer.Option(False, help="Keep contaminated documents, only annotate them."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes."),
    overwrite: bool = typer.Option(False, help="Replace an existing run folder."),
):
    """N-gram overlap (default 13 lowercase words) against eval sets: drop (or --annotate-only) documents,
    with the overlapping byte spans and the eval item matched; prints contamination per eval set.

    Example: winnow decontam 'pool/*.jsonl.gz' -o runs/clean -e humaneval -e evals/mine.jsonl
    """
    import os

    import pyarrow as pa
    from rich.console import Console
    from rich.table import Table

    from winnow.core.io.writers import read_dataset_table
    from winnow.core.pipeline.pipeline import Pipeline
    from winnow.curate.decontam.step import Decontaminate, contamination_summary

    step = Decontaminate(eval_sets=list(eval_set), n=n, min_matches=min_matches, annotate_only=annotate_only)
    step.setup()
    res = Pipeline([step]).run(input, output, workers=workers, overwrite=overwrite)
    cols = ["decontam_set", "decontam_items"]
    parts = [
        t
        for t in (
            read_dataset_table(os.path.join(output, "data"), columns=None),
            read_dataset_table(os.path.join(output, "rejects"), columns=None),
        )
        if t.num_rows and "decontam_set" in t.column_names
    ]
    table = pa.concat_tables([t.select(cols) for t in parts]) if parts else pa.table({})
    summary = contamination_summary(table, step.index)
    with open(os.path.join(output, "decontam_summary.json"), "w") as fh:
        json.dump(
            {"n": n, "min_matches": min_matches, "eval_sets": summary, "rows_in": res.manifest["totals"]["rows_in"]},
            fh,
            indent=1,
        )
    print_stats(res.manifest, res.path)
    t = Table(title=f"contamination (n={n})", title_justify="left")
    for c in ("eval set", "items", "documents flagged", "items matched"):
        t.add_column(c, justify="left" if c == "eval set" else "right")
    for name, v in summary.items():
        t.add_row(
            name,
            f"{v.get('items', 0):,}",
            f"{v['documents']:,}",
            f"{v['items_matched']:,} ({100 * v.get('items_matched_frac', 0):.1f}%)",
        )
    Console().print(t)
