"""``winnow attribute``: score the training examples of a bundled proxy task against its test set
and write them to Parquet (id, score, label, flipped[, score_<j> per target]).

Imports only typer at module level (heavy imports happen inside the command)."""

from __future__ import annotations

from typing import Optional

import typer

from winnow.cli_common import cli_errors, fail


@cli_errors()
def attribute_cmd(
    proxy: str = typer.Argument("digits-lr", help="Bundled proxy task: digits-lr or digits-mlp."),
    out: str = typer.Option("attribution.parquet", "--out", "-o", help="Parquet file to write."),
    method: str = typer.Option("trak", help="trak, influence, tracin, cosine, grad_dot."),
    n_train: int = typer.Option(1000, help="Training examples."),
    n_test: int = typer.Option(200, help="Target (test) examples."),
    flip: float = typer.Option(0.0, help="Fraction of training labels to flip (mislabel detection demo)."),
    self_scores: bool = typer.Option(
        False,
        "--self",
        help="Score each example on itself (self-influence) instead of against the targets: high = likely mislabelled.",
    ),
    proj_dim: Optional[int] = typer.Option(None, help="Projection dimension (default: the method's)."),
    damping: Optional[float] = typer.Option(None, help="Damping (influence) / kernel ridge (trak)."),
    aggregate: str = typer.Option("mean", help="How target scores become one score: mean, sum, max, min, median."),
    per_target: bool = typer.Option(False, help="Also write one score_<j> column per target."),
    store: Optional[str] = typer.Option(None, help="Folder to store/reuse gradient features."),
    seed: int = typer.Option(0, help="Seed for the split, training and projection."),
    pool: Optional[str] = typer.Option(
        None,
        "--pool",
        help="Your pool (JSONL/Parquet/text, folder or glob): attribute its documents instead of a bundled task.",
    ),
    target: Optional[str] = typer.Option(None, "--target", help="Your target set (with --pool)."),
    lm_preset: str = typer.Option(
        "cpu-tiny", "--proxy", help="Proxy LM preset for --pool (cpu-tiny, cpu-tiny-x4, cpu-small, gpu-small, ...)."
    ),
    tokens: Optional[int] = typer.Option(None, help="Proxy training tokens (fixed compute; with --pool)."),
    load_proxy: Optional[str] = typer.Option(
        None, help="Load the proxy from this folder (safetensors) instead of training it."
    ),
    save_proxy: Optional[str] = typer.Option(None, help="Save the trained proxy to this folder (safetensors)."),
):
    """Attribute a bundled proxy model's test behaviour to its training examples — or, with
    --pool/--target, every document of your pool against your target set.

    Positive scores = the example reduces the targets' loss. Examples:

        winnow attribute digits-lr --method influence --flip 0.1 --self -o scores.parquet

        winnow attribute --pool pool.jsonl --target target.jsonl --proxy cpu-tiny --method trak -o scores.parquet
    """
    if pool is not None or target is not None:
        from winnow.select.attribute_data import attribute_cli

        return attribute_cli(
            pool,
            target,
            out,
            method=method,
            preset=lm_preset,
            tokens=tokens,
            seed=seed,
            load=load_proxy,
            save=save_proxy,
            proj_dim=proj_dim,
            how=aggregate,
        )
    import time

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from winnow.select.attribution import ClassificationTask, attribute, self_influence
    from winnow.select.attribution.proxy_tasks import build_proxy

    t0 = time.perf_counter()
    p = build_proxy(proxy, n_train=n_train, n_test=n_test, seed=seed, flip=flip)
    task = ClassificationTask()
    opts: dict = {}
    if proj_dim is not None:
        opts["proj_dim"] = proj_dim
    if self_scores:
        if method not in ("influence", "if", "trak", "tracin"):
            fail("--self works with influence, trak or tracin")
        tracin = method == "tracin"
        if damping is None and method != "trak":
            damping = 0.1
        score = self_influence(
            p.model,
            task,
            p.train,
            method=method,
            damping=damping,
            seed=seed,
            checkpoints=p.checkpoints if tracin else None,
            lrs=[p.lr] * len(p.checkpoints) if tracin else None,
            **opts,
        )
        cols = {"id": p.train_ids, "score": score}
    else:
        if method in ("influence", "if", "trak") and damping is not None:
            opts["damping"] = damping
        elif method in ("influence", "if"):
            opts["damping"] = 0.1
        if method in ("tracin", "cosine", "grad_dot"):
            opts["checkpoints"] = p.checkpoints
            if method == "tracin":
                opts["lrs"] = [p.lr] * len(p.checkpoints)
        res = attribute(p.model, task, p.train, p.target, method=method, seed=seed, store=store, **opts)
        tbl = res.to_table(p.train_ids, how=aggregate, per_target=per_target)
        cols = {n: tbl.column(n) for n in tbl.column_names}
    cols["label"] = p.train[1].numpy()
    cols["flipped"] = p.flipped
    table = pa.table(cols)
    pq.write_table(table, out)
    what = f"{method}{', self' if self_scores else ''}"
    msg = f"wrote {table.num_rows:,} scores ({what}) to {out} in {time.perf_counter() - t0:.1f}s"
    if flip > 0:
        from sklearn.metrics import roc_auc_score

        auc = roc_auc_score(p.flipped, np.asarray(table.column("score")) * (1 if self_scores else -1))
        msg += f"; flipped-label AUC {auc:.3f}"
    typer.echo(msg)
