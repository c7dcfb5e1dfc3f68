"""Attribute every document of your pool against your target set (``winnow attribute --pool``).

Trains the fixed-compute proxy LM (:mod:`winnow.proxy`, BPE trained on the pool) — or
loads one saved by an earlier call (a folder with ``model.safetensors``, ``config.json`` and
``tokenizer.json``; nothing is unpickled) — then scores each pool document with
:func:`winnow.select.attribution.attribute` (TRAK by default) against the target documents over
each document's first ``ctx`` tokens. The output ``(id, score)`` is what ``winnow select
--method topk --param column=score``, ``winnow quality train --scores`` and ``winnow report`` read.

Example:
    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> pool = [f"cats purr {i} " * 30 for i in range(12)] + [f"dogs bark {i} " * 30 for i in range(12)]
    >>> for name, rows in [("pool.jsonl", pool),
    ...                    ("target.jsonl", ["cats purr and purr " * 20] * 3)]:
    ...     with open(os.path.join(d, name), "w") as fh:
    ...         fh.writelines(json.dumps({"text": t}) + "\\n" for t in rows)
    >>> t = attribute_documents(os.path.join(d, "pool.jsonl"), os.path.join(d, "target.jsonl"),
    ...                         preset="cpu-tiny", tokens=8192, vocab_size=300)
    >>> t.column_names, t.num_rows
    (['id', 'score'], 24)
"""

from __future__ import annotations

import json
import os
from typing import Callable

import numpy as np

PROXY_FILES = ("model.safetensors", "config.json", "tokenizer.json")


def save_proxy(folder: str, model, tokenizer, config: dict) -> None:
    """Save a proxy LM: safetensors weights, its config (JSON) and the tokenizer (JSON)."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        os.path.join(folder, "model.safetensors"),
    )
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump({"format": "winnow.proxy-lm/1", **config}, fh, indent=2)
    tokenizer._tok.save(os.path.join(folder, "tokenizer.json"))


def load_proxy(folder: str):
    """``(model, tokenizer, config)`` of a folder written by :func:`save_proxy`."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from winnow.proxy.lm import TinyLM
    from winnow.proxy.tokenize import BPETokenizer

    missing = [f for f in PROXY_FILES if not os.path.exists(os.path.join(folder, f))]
    if missing:
        raise ValueError(f"proxy folder {folder!r} lacks {missing} (write one with --save-proxy)")
    with open(os.path.join(folder, "config.json")) as fh:
        cfg = json.load(fh)
    if cfg.get("format") != "winnow.proxy-lm/1":
        raise ValueError(f"{folder}/config.json is not a winnow proxy (format {cfg.get('format')!r})")
    tok = BPETokenizer(Tokenizer.from_file(os.path.join(folder, "tokenizer.json")), name=cfg.get("tokenizer", "bpe"))
    model = TinyLM(tok.vocab_size, cfg["d_model"], cfg["n_layers"], cfg["n_heads"], cfg["ctx"])
    model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    return model, tok, cfg


def attribute_documents(
    pool: str,
    target: str,
    *,
    method: str = "trak",
    preset: str = "cpu-tiny",
    tokens: int | None = None,
    vocab_size: int = 1024,
    n_models: int = 1,
    seed: int = 0,
    load: str | None = None,
    save: str | None = None,
    text_column: str = "text",
    how: str = "mean",
    progress: Callable[[str, int, int], None] | None = None,
    **options,
):
    """``(id, score)`` Arrow table: each pool document's attributed effect on the target loss
    (positive = training on it lowers the target loss). ``progress(phase, done, total)``.
    ``options`` go to ``attribute`` (default ``proj_dim=512``: the projection dominates the cost)."""
    options.setdefault("proj_dim", 512)
    from winnow.proxy.lm import resolve_recipe, train_lm
    from winnow.proxy.tokenize import BPETokenizer
    from winnow.select.attribution import CausalLMTask, attribute
    from winnow.select.influence import _windows
    from winnow.select.io import read_table

    tp = read_table(pool, text_column=text_column)
    tt = read_table(target, text_column=text_column)
    ids = [str(i) for i in tp.column("id").to_pylist()]
    texts = [t or "" for t in tp.column("text").to_pylist()]
    ttexts = [t or "" for t in tt.column("text").to_pylist()]
    models = []
    if load:
        model, tok, cfg = load_proxy(load)
        models = [model]
    else:
        tok = BPETokenizer.train(texts, vocab_size=vocab_size)
        cfg = resolve_recipe(preset, **({"tokens": tokens} if tokens else {}))
    P, T = tok.encode(texts), tok.encode(ttexts)
    if not load:
        for m in range(n_models):
            cb = None if progress is None else (lambda i, n, m=m: progress(f"training proxy {m + 1}/{n_models}", i, n))
            models.append(
                train_lm(
                    None,
                    None,
                    tokenizer=tok,
                    preset=preset,
                    seed=seed * 1000 + m,
                    train_ids=P,
                    target_ids=T,
                    progress=cb,
                    **({"tokens": tokens} if tokens else {}),
                ).model.cpu()
            )
        if save:
            save_proxy(save, models[0], tok, {**cfg, "preset": preset, "tokenizer": tok.name})
    ctx = cfg["ctx"]
    train, tgt = _windows(P, ctx, tok.eos_id), _windows(T, ctx, tok.eos_id)
    if progress is not None:
        progress("gradients and scores", 0, 1)
    model = models if (method == "trak" and len(models) > 1) else models[0]
    res = attribute(model, CausalLMTask(), train, tgt, method=method, seed=seed, **options)
    if progress is not None:
        progress("gradients and scores", 1, 1)
    return res.to_table(ids, how=how)


def attribute_cli(
    pool, target, out: str, *, method: str, preset: str, tokens, seed: int, load, save, proj_dim, how: str
) -> None:
    """The ``winnow attribute --pool P --target T`` command: progress bars, errors, Parquet output."""
    import time

    import pyarrow.parquet as pq
    import typer
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from winnow.select.attribution import AttributionError

    err = Console(stderr=True)
    if pool is None or target is None:
        err.print("[bold red]error:[/bold red] give both --pool and --target")
        raise typer.Exit(2)
    t0 = time.perf_counter()
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )
    tasks: dict[str, int] = {}

    def progress(phase, done, total):
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    opts = {"proj_dim": proj_dim} if proj_dim is not None else {}
    try:
        with bar:
            table = attribute_documents(
                pool,
                target,
                method=method,
                preset=preset,
                tokens=tokens,
                seed=seed,
                load=load,
                save=save,
                how=how,
                progress=progress,
                **opts,
            )
    except (AttributionError, ValueError, OSError) as e:
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        raise typer.Exit(2)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    pq.write_table(table, out)
    s = np.asarray(table.column("score"))
    typer.echo(
        f"wrote {table.num_rows:,} scores ({method}) to {out} in {time.perf_counter() - t0:.1f}s; "
        f"score range [{s.min():.3g}, {s.max():.3g}]"
    )
