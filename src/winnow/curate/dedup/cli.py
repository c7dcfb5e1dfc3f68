"""``winnow dedup IN OUT --method exact|minhash|semantic``: a one-step dedup pipeline.

Only typer is imported at module level so ``winnow --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from winnow.cli_common import check_accounting, cli_errors, fail, print_stats


@cli_errors()
def dedup(
    input: str = typer.Argument(..., help="Input file, folder or glob (jsonl/parquet/text/html)."),
    output: str = typer.Argument(..., help="Run folder: data/, rejects/ (with duplicate_of), manifest.json."),
    method: str = typer.Option("minhash", "--method", "-m", help="exact | minhash | semantic"),
    threshold: float = typer.Option(0.8, help="minhash: Jaccard threshold for verification."),
    verify: bool = typer.Option(True, help="minhash: check candidate pairs with true Jaccard before merging."),
    ngram: int = typer.Option(5, help="minhash: shingle size."),
    unit: str = typer.Option("word", help="minhash: word or char shingles."),
    bands: Optional[int] = typer.Option(
        None, help="minhash: LSH bands (default: chosen for --threshold so a pair at it is a candidate with P ≥ 0.99)."
    ),
    rows: Optional[int] = typer.Option(None, help="minhash: rows (MinHash values) per band (default: chosen)."),
    preset: Optional[str] = typer.Option(None, help="minhash: named banding instead: fineweb (14 bands × 8 rows)."),
    clustering: Optional[str] = typer.Option(
        None,
        help="minhash: correlation (default; centres refined: a document joins a cluster when it matches ≥ 1/3 "
        "of it), center (no chains: each dropped document matches its kept one) or components (union-find, FineWeb).",
    ),
    join_fraction: Optional[float] = typer.Option(
        None,
        help="minhash, correlation: share of a cluster's other members a document must match to join it (default 1/3).",
    ),
    lowercase: bool = typer.Option(False, help="exact: lower-case before hashing."),
    punctuation: bool = typer.Option(False, help="exact: ignore punctuation."),
    eps: Optional[float] = typer.Option(
        None, help="semantic: cosine distance below which documents are duplicates (default 0.1 hashed, 0.05 minilm)."
    ),
    embedder: str = typer.Option("hashed", help="semantic: hashed (fast) or minilm (all-MiniLM-L6-v2)."),
    n_clusters: Optional[int] = typer.Option(None, help="semantic: k-means clusters (default docs/1000)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (default: CPU count)."),
    overwrite: bool = typer.Option(False, help="Delete an existing output folder first."),
    resume: bool = typer.Option(False, help="Finish an interrupted run."),
    progress: bool = typer.Option(True, help="Show a progress bar (on a terminal)."),
):
    """Remove duplicates: exact (normalised text hash), minhash (MinHash-LSH banded for the
    threshold, verified with true Jaccard) or semantic (SemDeDup). The smallest id of each group is kept;
    dropped rows go to rejects/ with duplicate_of.

    Example:  winnow dedup "raw/*.jsonl.gz" runs/dedup --method minhash --threshold 0.8
    """
    from winnow.core.pipeline.config import build_step
    from winnow.core.pipeline.pipeline import Pipeline

    if method == "exact":
        spec = {"exact_dedup": {"lowercase": lowercase, "punctuation": punctuation}}
    elif method == "minhash":
        spec = {
            "minhash_dedup": {
                "threshold": threshold,
                "verify": verify,
                "ngram": ngram,
                "unit": unit,
                "bands": bands,
                "rows": rows,
                "preset": preset,
            }
        }
        # left out when not given: the step's own defaults apply
        spec["minhash_dedup"].update(
            {k: v for k, v in (("clustering", clustering), ("join_fraction", join_fraction)) if v is not None}
        )
    elif method == "semantic":
        spec = {"semantic_dedup": {"eps": eps, "embedder": embedder, "n_clusters": n_clusters}}
    else:
        fail(f"--method must be exact, minhash or semantic, got {method!r}")
    step = build_step(spec, 0)
    res = Pipeline([step]).run(
        input, output, workers=workers, overwrite=overwrite, resume=resume, progress=progress and sys.stderr.isatty()
    )
    print_stats(res.manifest, res.path)
    check_accounting(res.manifest)
