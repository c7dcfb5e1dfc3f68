"""Train the proxy LM from exported shards through :class:`TokenDataset` (the demo's last step).

    python -m winnow.deliver.export.train_check runs/demo_tokens --steps 40

Builds winnow's tiny LM (``winnow.proxy.lm.TinyLM``, preset ``cpu-tiny`` sizes) over the
export's vocabulary, trains it for ``--steps`` batches drawn by a ``DataLoader`` over
``TokenDataset(OUT, ctx)`` (so the order is the export's seeded, resumable order), and prints
the validation loss before and after — it must fall for the loop to be closed.

    >>> import inspect; "TokenDataset" in inspect.getsource(train)
    True
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np


def _val_loss(model, ds, n: int, batch: int) -> float:
    import torch

    model.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for i in range(0, min(n, len(ds)), batch):
            w = torch.stack([ds[j] for j in range(i, min(i + batch, n, len(ds)))])
            logits = model(w[:, :-1])
            tot += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum"
            ).item()
            cnt += w[:, 1:].numel()
    model.train()
    return tot / max(cnt, 1)


def train(
    out: str,
    *,
    steps: int = 30,
    ctx: int = 64,
    batch: int = 8,
    seed: int = 0,
    lr: float = 3e-3,
    start_index: int = 0,
    val_samples: int = 32,
) -> dict:
    """Train the tiny LM on ``out``'s train split for ``steps`` batches; returns losses."""
    import torch
    from torch.utils.data import DataLoader

    from winnow.deliver.export.dataset import TokenDataset
    from winnow.proxy.lm import TinyLM, lm_step

    with open(f"{out}/manifest.json", encoding="utf-8") as fh:
        man = json.load(fh)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    train_ds = TokenDataset(out, ctx, split="train", seed=seed, start_index=start_index)
    val_split = "val" if man["splits"]["val"]["tokens"] > ctx + 1 else "train"
    val_ds = TokenDataset(out, ctx, split=val_split, shuffle=False)
    if len(train_ds) < batch:
        raise ValueError(f"{out} has {len(train_ds)} training samples of {ctx + 1} tokens; need at least {batch}")
    model = TinyLM(man["tokenizer"]["vocab_size"], d_model=64, n_layers=2, n_heads=4, ctx=ctx)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.95))
    t0 = time.perf_counter()
    before = _val_loss(model, val_ds, val_samples, batch)
    losses, step = [], 0
    while step < steps:
        for w in DataLoader(train_ds, batch_size=batch, drop_last=True):
            losses.append(lm_step(model, opt, w))
            step += 1
            if step >= steps:
                break
    after = _val_loss(model, val_ds, val_samples, batch)
    return {
        "steps": steps,
        "tokens_seen": steps * batch * ctx,
        "val_split": val_split,
        "val_loss_before": round(before, 4),
        "val_loss_after": round(after, 4),
        "train_loss_first": round(losses[0], 4),
        "train_loss_last": round(float(np.mean(losses[-5:])), 4),
        "uniform_loss": round(math.log(man["tokenizer"]["vocab_size"]), 4),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="an export folder (format bin)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    r = train(a.out, steps=a.steps, ctx=a.ctx, batch=a.batch, seed=a.seed)
    print(json.dumps(r))
    if not r["val_loss_after"] < r["val_loss_before"]:
        raise SystemExit("validation loss did not fall")
    print(
        f"trained the proxy LM from {a.out} via TokenDataset: validation loss "
        f"{r['val_loss_before']:.3f} -> {r['val_loss_after']:.3f} in {r['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
