"""Factored (LoGra) vs dense projection for TRAK on the tiny LM of ``winnow bench`` (issue 17).

Setting: ByteTokenizer, TinyLM preset ``cpu-tiny`` (d_model 64, 2 layers, ctx 64, 120 AdamW steps,
fixed seed). Train set = N documents of 64 bytes drawn from pydoc topics, package METADATA and
stdlib code (a mixed pool); targets = held-out pydoc documents. Ground truth: M models retrained
from scratch on random half-subsets (same seed: common random numbers); output = the target
document's log-probability (``CausalLMTask.output``). LDS = mean over targets of Spearman(sum of
scores over the subset, output). TRAK-1 on the full model, dense vs factored projection at the
same total dimension, projection seeds 0..S-1. Features cover all parameters (dense) or the
linear layers + tied token embedding/head (factored: layer norms and the position table left out).

Run: PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_factored.py --json benchmarks/out/factored_lm.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "out")


def docs(n_train: int, n_target: int, length: int = 64, seed: int = 0):
    from winnow.prove.bench.tasks import source_documents

    rng = np.random.default_rng(seed)
    chunks = {}
    for src in ("pydoc", "metadata", "code"):
        out = []
        for parent, text in source_documents(src):
            b = text.encode("utf-8", "ignore")
            out += [(parent, b[i : i + length]) for i in range(0, len(b) - length, length)]
        chunks[src] = out
    pyd = chunks["pydoc"]
    parents = sorted({p for p, _ in pyd})
    rng.shuffle(parents)
    held = set(parents[: len(parents) // 5])
    tgt = [c for p, c in pyd if p in held]
    pool = [c for p, c in pyd if p not in held]
    per = n_train // 3
    train = []
    for src, lst in (
        ("pydoc", pool),
        ("metadata", [c for _, c in chunks["metadata"]]),
        ("code", [c for _, c in chunks["code"]]),
    ):
        idx = rng.choice(len(lst), size=per if src != "code" else n_train - 2 * per, replace=False)
        train += [lst[i] for i in idx]
    tidx = rng.choice(len(tgt), size=n_target, replace=False)
    to_ids = lambda bs: torch.tensor(np.stack([np.frombuffer(b, np.uint8).astype(np.int64) for b in bs]))  # noqa: E731
    return to_ids(train), to_ids([tgt[i] for i in tidx])


def train(X: torch.Tensor, seed: int = 0):
    from winnow.proxy.lm import train_lm

    return train_lm(
        None, None, train_ids=[x.numpy() for x in X], target_ids=[X[0].numpy()] * 2, preset="cpu-tiny", seed=seed
    ).model


def outputs(model, T: torch.Tensor) -> np.ndarray:
    from winnow.select.attribution import CausalLMTask
    from winnow.select.attribution.grads import model_outputs

    return model_outputs(model, CausalLMTask(), (T, T), ("output",), 64)["output"].double().numpy()


def main():
    from winnow.select.attribution import CausalLMTask, attribute, lds, subset_masks
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.factored import FactoredFeaturizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-target", type=int, default=40)
    ap.add_argument("--n-models", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--proj-dim", type=int, default=2048)
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--pool",
        type=int,
        default=0,
        help="only measure factored-feature throughput over a pool "
        "of this many 64-byte documents (sharded, resumable store), and extrapolate to 100k",
    )
    args = ap.parse_args()
    if args.pool:
        return throughput(args)
    X, T = docs(args.n_train, args.n_target)
    masks = subset_masks(args.n_train, args.n_models, alpha=0.5, seed=0)
    cache = os.path.join(OUT, f"gt_lm_{args.n_train}_{args.n_target}_{args.n_models}.npz")
    if os.path.exists(cache):
        gt = np.load(cache)["gt"]
    else:
        t = time.perf_counter()
        gt = np.stack([outputs(train(X[torch.as_tensor(np.flatnonzero(m))]), T) for m in masks])
        os.makedirs(OUT, exist_ok=True)
        np.savez(cache, gt=gt)
        print(f"ground truth: {args.n_models} LMs in {time.perf_counter() - t:.0f}s", flush=True)
    model = train(X)
    task = CausalLMTask()
    P = sum(p.numel() for p in model.parameters())
    fz = FactoredFeaturizer(model, task, proj_dim=args.proj_dim).setup(Data((X, X), "train"))
    k = fz.dim
    print(
        f"tiny LM: P={P}, train docs={args.n_train}, targets={args.n_target}, factored dim={k} "
        f"({len(fz.projector.mats)} blocks {sorted(set(map(tuple, fz.projector.config()['blocks'].values())))})",
        flush=True,
    )
    rows, rho = [], {}
    for proj in ("dense", "factored"):
        per = []
        for s in range(args.seeds):
            t = time.perf_counter()
            r = attribute(
                model, task, (X, X), (T, T), method="trak", projection=proj, proj_dim=k, seed=s, batch_size=32
            )
            sec = time.perf_counter() - t
            v, rr = lds(r.scores, masks, gt, return_per_target=True)
            per.append(rr)
            rows.append(
                {
                    "projection": proj,
                    "seed": s,
                    "dim": k,
                    "lds": v,
                    "seconds": sec,
                    "ms_per_example": 1e3 * sec / (args.n_train + args.n_target),
                }
            )
            print(
                f"{proj:9s} seed {s}: LDS {v:.4f}  {sec:7.2f}s  {rows[-1]['ms_per_example']:.2f} ms/example", flush=True
            )
        rho[proj] = np.nanmean(np.stack(per), 0)  # per target, averaged over projection seeds
    summary = {}
    for proj in rho:
        r = rho[proj][np.isfinite(rho[proj])]
        secs = [x["ms_per_example"] for x in rows if x["projection"] == proj]
        summary[proj] = {
            "lds": float(r.mean()),
            "ci95": float(1.96 * r.std(ddof=1) / np.sqrt(len(r))),
            "ms_per_example": float(np.median(secs)),
        }
    d = rho["factored"] - rho["dense"]
    d = d[np.isfinite(d)]
    summary["diff"] = {"mean": float(d.mean()), "ci95": float(1.96 * d.std(ddof=1) / np.sqrt(len(d)))}
    summary["speedup"] = summary["dense"]["ms_per_example"] / summary["factored"]["ms_per_example"]
    for kk, v in summary.items():
        print(kk, v)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "summary": summary, "P": P, "dim": k}, f, indent=1)


def throughput(args):
    import tempfile

    from winnow.select.attribution import CausalLMTask, FeatureStore
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.factored import FactoredFeaturizer

    X, _ = docs(300, 10)
    model = train(X)
    pool = X[torch.as_tensor(np.random.default_rng(0).integers(0, len(X), args.pool))]
    fz = FactoredFeaturizer(
        model,
        CausalLMTask(),
        fn="output",
        proj_dim=args.proj_dim,
        batch_size=64,
        store=FeatureStore(tempfile.mkdtemp()),
        shard_rows=1024,
    )
    t = time.perf_counter()
    F = fz.matrix(Data((pool, pool), "pool"))
    sec = time.perf_counter() - t
    rec = {
        "pool": args.pool,
        "dim": fz.dim,
        "seconds": sec,
        "docs_per_s": args.pool / sec,
        "extrapolated_100k_min": 1e5 / (args.pool / sec) / 60,
        "cpu_s_per_1k_docs": 1e3 * sec / args.pool,
        "threads": torch.get_num_threads(),
    }
    print(rec, F.shape)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rec, f, indent=1)


if __name__ == "__main__":
    main()
