"""``winnow select``: score a pool with a strategy and keep a budget of it (typer only at import)."""

from __future__ import annotations

from typing import List, Optional

import typer

from winnow.cli_common import cli_errors, fail, working


@cli_errors(ValueError, ImportError)
def select(
    pool: str = typer.Option(..., "--pool", "-p", help="Pool: JSONL/Parquet file, folder or glob."),
    method: str = typer.Option(
        ...,
        "--method",
        "-m",
        help="Strategy: random, topk, dsir, similarity, ce_diff, influence, distilled, quality_classifier, "
        "diversity, el2n, forgetting, prototype.",
    ),
    budget: str = typer.Option(
        ..., "--budget", "-b", help="Fraction (0.25, 25%), rows (1000) or tokens ('50k tokens')."
    ),
    out: str = typer.Option(
        ..., "--out", "-o", help="Output folder: data/ (kept rows), scores.parquet, selection.json."
    ),
    target: Optional[str] = typer.Option(
        None, "--target", "-t", help="Target set (for dsir, similarity, influence...)."
    ),
    param: List[str] = typer.Option([], "--param", help="Strategy parameter KEY=VALUE (YAML value), repeatable."),
    seed: int = typer.Option(0, help="Seed."),
    text_column: str = typer.Option("text", help="Field holding the text in pool and target."),
    scores: Optional[str] = typer.Option(
        None,
        "--scores",
        help="Parquet of (id, score) to join onto the pool "
        "as column `score` (e.g. from `winnow attribute`); then --method topk "
        "--param column=score.",
    ),
):
    """Score every pool row with METHOD and keep BUDGET of them.

    Example:

        winnow select --pool data/pool.jsonl --target data/target.jsonl --method dsir --budget 10% -o runs/sel
    """
    import json
    import os
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    from winnow.select import get_selector
    from winnow.select.base import parse_budget
    from winnow.select.io import read_table

    params = {}
    for p in param:
        if "=" not in p:
            fail(f"--param {p!r} must be KEY=VALUE")
        k, v = p.split("=", 1)
        params[k] = yaml.safe_load(v)
    b = parse_budget(budget)
    b = b[1] if b[0] != "tokens" else budget
    sel = get_selector(method, **params, seed=seed)
    tpool = read_table(pool, text_column=text_column)
    ttarget = read_table(target, text_column=text_column) if target else None
    if scores:
        import numpy as np

        try:
            st = pq.read_table(scores, columns=["id", "score"])
        except Exception as e:
            fail(f"--scores {scores}: {e}")
        lookup = dict(zip(map(str, st.column("id").to_pylist()), st.column("score").to_pylist()))
        vals = [lookup.get(str(i)) for i in tpool.column("id").to_pylist()]
        missing = sum(v is None for v in vals)
        if missing == len(vals):
            fail(f"--scores {scores}: no id matches the pool's ids")
        col = np.asarray([np.nan if v is None else v for v in vals], np.float64)
        tpool = tpool.drop_columns([c for c in ("score",) if c in tpool.column_names]).append_column(
            "score", pa.array(col)
        )
        if missing:
            typer.echo(f"warning: {missing:,} pool rows have no score in {scores} (never selected by topk)", err=True)
    t0 = time.perf_counter()
    with working(f"{method}: scoring {tpool.num_rows:,} pool rows"):
        scores = sel.fit(tpool, ttarget).scores_
    mask = sel.select_mask(b)
    secs = time.perf_counter() - t0
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    pq.write_table(tpool.filter(pa.array(mask)), os.path.join(out, "data", "selected-0000.parquet"))
    pq.write_table(
        pa.table({"id": tpool.column("id"), "score": pa.array(scores), "selected": pa.array(mask)}),
        os.path.join(out, "scores.parquet"),
    )
    info = {
        "method": method,
        "params": params,
        "seed": seed,
        "budget": budget,
        "pool": pool,
        "target": target,
        "rows_in": int(len(mask)),
        "rows_selected": int(mask.sum()),
        "tokens_selected": int(sel.n_tokens_[mask].sum()),
        "tokens_in": int(sel.n_tokens_.sum()),
        "seconds": round(secs, 3),
    }
    with open(os.path.join(out, "selection.json"), "w") as fh:
        json.dump(info, fh, indent=2)
    typer.echo(
        f"selected {info['rows_selected']:,} of {info['rows_in']:,} rows "
        f"({info['tokens_selected']:,} of {info['tokens_in']:,} tokens) with {method} in {secs:.1f} s -> {out}"
    )
