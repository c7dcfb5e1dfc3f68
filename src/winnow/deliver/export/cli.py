"""``winnow export``: a run's kept rows → token shards a training job reads (typer only at import)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from winnow.cli_common import cli_errors


@cli_errors(ValueError)
def export_cmd(
    run_dir: List[str] = typer.Argument(
        ..., help="A winnow run folder (its data/*.parquet), Parquet files or globs; the last argument is OUT."
    ),
    tokenizer: str = typer.Option(
        "gpt2", "--tokenizer", "-t", help="gpt2 (offline GPT-2 BPE) or a tokenizer.json path/folder."
    ),
    seq_len: int = typer.Option(2048, "--seq-len", help="Tokens per training sequence."),
    mix: Optional[str] = typer.Option(
        None, "--mix", help='Mix weights JSON: {"weights": {group: w}, "group_by": "source"}.'
    ),
    tokens: Optional[float] = typer.Option(
        None, "--tokens", help="Training tokens in total with --mix (e.g. 5e9); default: the corpus size."
    ),
    format: str = typer.Option(
        "bin",
        "--format",
        "-f",
        help="bin (flat uint16/uint32 + manifest, np.memmap), parquet (input_ids lists), mds (MosaicML streaming).",
    ),
    val_fraction: float = typer.Option(0.005, "--val-fraction", help="Share of documents held out for validation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the shuffle, the split and the partial epochs."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes (the output does not depend on it)."),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted export (byte-identical result)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete an existing OUT first."),
    keep_boundaries: bool = typer.Option(
        False,
        "--keep-boundaries",
        help="No EOS packing: documents kept whole, doc_offsets.npy per split (bin) or one document per row (parquet).",
    ),
    progress: bool = typer.Option(True, help="Show progress bars (tokens/s)."),
):
    """Tokenize, mix, shuffle, pack and shard a curated run into training-ready files.

    Example:

        winnow export runs/demo runs/demo_tokens --tokenizer gpt2 --seq-len 2048 --workers 4

        winnow export runs/demo runs/mixed --mix mix.json --tokens 5e9 --format mds

    OUT gets train/ and val/ shards and manifest.json (tokens per source and shard, epochs per
    source, tokenizer sha256, sha256 per shard). Read it with winnow.export.TokenDataset.
    """
    from rich.console import Console
    from rich.markup import escape

    from winnow.deliver.export.core import ExportError, export
    from winnow.deliver.export.tokenizer import TokenizerError

    err = Console(stderr=True, soft_wrap=True)
    if len(run_dir) < 2:
        err.print("[bold red]error:[/bold red] give the input (RUN_DIR or files) and then OUT")
        raise typer.Exit(2)
    *src, out = run_dir
    try:
        man = export(
            src if len(src) > 1 else src[0],
            out,
            tokenizer=tokenizer,
            seq_len=seq_len,
            mix=mix,
            tokens=tokens,
            format=format,
            val_fraction=val_fraction,
            seed=seed,
            workers=workers,
            resume=resume,
            overwrite=overwrite,
            keep_boundaries=keep_boundaries,
            progress=progress and sys.stderr.isatty(),
        )
    except (ExportError, TokenizerError) as e:
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        raise typer.Exit(2)
    _print(man, out)


def _print(man: dict, out: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(
        title=f"winnow export: {escape(out)} ({man['format']}, seq_len {man['seq_len']}, {man['dtype']})",
        title_justify="left",
    )
    for c in ("source", "docs", "tokens in", "train tokens", "target", "epochs", "val tokens"):
        t.add_column(c, justify="left" if c == "source" else "right")
    for g, s in man["sources"].items():
        t.add_row(
            escape(g),
            f"{s['documents']:,}",
            f"{s['train_tokens_in']:,}",
            f"{s['train_tokens']:,}",
            f"{s['target_tokens']:,}",
            f"{s['epochs']:.3f}",
            f"{s['val_tokens']:,}",
        )
    con = Console()
    con.print(t)
    tk = man["tokens"]
    con.print(
        f"train {tk['train']:,} tokens in {len(man['splits']['train']['shards'])} shards, "
        f"val {tk['val']:,}; {man['seconds']:.1f} s "
        f"({man['inputs']['tokens'] / max(man['tokenize_seconds'], 1e-9) / 1e6:.2f}M tokens/s tokenizing)"
    )
