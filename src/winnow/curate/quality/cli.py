"""`winnow quality train|score`: train a fastText-style quality model and apply it to a dataset."""

from __future__ import annotations

import json
from typing import Optional

import typer

from winnow.cli_common import cli_errors, fail, print_stats, working

app = typer.Typer(
    help="Train a hashed n-gram quality classifier (DCLM recipe or influence-distilled) and score a dataset with it.",
    no_args_is_help=True,
)


def _char_ngrams(s: Optional[str]):
    if not s:
        return None
    try:
        lo, hi = (int(v) for v in s.split(","))
    except ValueError:
        fail(f"--char-ngrams must be 'MINN,MAXN' (e.g. 3,5), got {s!r}")
    return (lo, hi)


@app.command("train")
@cli_errors(ValueError)
def train(
    out: str = typer.Option(..., "--out", "-o", help="Model folder to write (model.json + weights.npy)."),
    positives: Optional[str] = typer.Option(None, help="High-quality reference texts (file/folder/glob)."),
    negatives: Optional[str] = typer.Option(None, help="Pool texts sampled as negatives (file/folder/glob)."),
    scores: Optional[str] = typer.Option(
        None, help="Parquet of (id, score) to distil instead of pos/neg, e.g. attribution scores."
    ),
    texts: Optional[str] = typer.Option(None, help="With --scores: the dataset whose ids the scores refer to."),
    score_column: str = typer.Option("score", help="With --scores: the score column."),
    id_column: str = typer.Option("id", help="With --scores: the id column."),
    binarize: Optional[float] = typer.Option(None, help="With --scores: train a classifier on the top fraction."),
    n_negatives: Optional[int] = typer.Option(None, help="Sample at most this many negatives."),
    n_bits: int = typer.Option(20, help="log2 of the number of hash buckets."),
    word_ngrams: int = typer.Option(2, help="Longest word n-gram."),
    char_ngrams: Optional[str] = typer.Option(None, help="Byte n-grams inside words, 'MINN,MAXN' (off by default)."),
    c: float = typer.Option(10.0, "--C", help="Inverse L2 regularisation (classifier)."),
    alpha: float = typer.Option(1.0, help="L2 regularisation (regressor)."),
    test_frac: float = typer.Option(0.2, help="Held-out fraction for the reported AUC / Spearman."),
    text_column: str = typer.Option("text", help="Field holding the text."),
    seed: int = typer.Option(0, help="Seed for sampling and splitting."),
    overwrite: bool = typer.Option(False, help="Replace an existing model folder."),
):
    """Train a quality model. DCLM recipe: --positives REF --negatives POOL. Influence-distilled:
    --scores scores.parquet --texts POOL (regression on the score, or --binarize 0.2).

    Example: winnow quality train --positives ref.jsonl --negatives 'pool/*.jsonl.gz' --out models/q
    """
    from winnow.curate.quality.train import train_dclm, train_distilled

    kw = dict(n_bits=n_bits, word_ngrams=word_ngrams, char_ngrams=_char_ngrams(char_ngrams))
    if scores:
        if positives or negatives or not texts:
            fail("--scores needs --texts (and no --positives/--negatives)")
        with working("training the distilled scorer"):
            m, rep = train_distilled(
                scores,
                texts,
                id_column=id_column,
                score_column=score_column,
                text_column=text_column,
                binarize=binarize,
                test_frac=test_frac,
                seed=seed,
                alpha=alpha,
                C=c,
                **kw,
            )
    else:
        if not (positives and negatives):
            fail("give --positives and --negatives (DCLM recipe), or --scores and --texts (distilled)")
        with working("training the quality classifier"):
            m, rep = train_dclm(
                positives,
                negatives,
                n_negatives=n_negatives,
                test_frac=test_frac,
                seed=seed,
                text_column=text_column,
                C=c,
                **kw,
            )
    m.save(out, overwrite=overwrite)
    typer.echo(json.dumps({"model": out, "kind": m.kind, **rep}, indent=1))


@app.command("score")
@cli_errors(ValueError)
def score(
    input: str = typer.Argument(..., help="Dataset to score (file/folder/glob)."),
    model: str = typer.Option(..., "--model", "-m", help="Model folder from `winnow quality train`."),
    output: str = typer.Option(..., "--output", "-o", help="Run folder (data/, rejects/, manifest.json)."),
    threshold: Optional[float] = typer.Option(None, help="Keep rows with quality_score >= threshold."),
    top_fraction: Optional[float] = typer.Option(None, help="Keep the top fraction (calibrated on the model's pool)."),
    column: str = typer.Option("quality_score", help="Score column name."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes."),
    overwrite: bool = typer.Option(False, help="Replace an existing run folder."),
):
    """Annotate every document with quality_score (and optionally keep a threshold / top fraction)."""
    from winnow.core.pipeline.pipeline import Pipeline

    p = Pipeline(
        [
            {
                "quality_classifier": {
                    "model": model,
                    "threshold": threshold,
                    "top_fraction": top_fraction,
                    "column": column,
                }
            }
        ]
    )
    res = p.run(input, output, workers=workers, overwrite=overwrite)
    print_stats(res.manifest, res.path)
