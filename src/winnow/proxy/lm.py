"""A tiny causal transformer LM with fixed, seeded recipes (presets).

Training samples random windows of ``ctx + 1`` tokens from the concatenated training documents
(each ended by the tokenizer's end-of-document token) for a fixed number of steps — a fixed
compute budget, as in DataComp: only the data varies. Evaluation is the mean next-token loss
over non-overlapping windows of the target documents; the metric is ``exp(loss)`` (perplexity).

Presets (``LM_PRESETS``): ``cpu-tiny`` (seconds on 2 CPU cores), ``cpu-small`` (a minute),
``gpu-small`` and ``gpu-base`` (for an accelerator).

Example:
    >>> from winnow.proxy import ByteTokenizer
    >>> tok = ByteTokenizer()
    >>> r = train_lm(["hello world. " * 40] * 4, ["hello world. " * 10], tokenizer=tok,
    ...              preset="cpu-tiny", seed=0, steps=30)
    >>> r.metric, r.value < 257
    ('perplexity', True)
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from winnow.proxy.result import ProxyResult, torch_threads

LM_PRESETS: dict[str, dict] = {
    "cpu-tiny": dict(d_model=64, n_layers=2, n_heads=4, ctx=64, batch=16, steps=120, lr=3e-3, device="cpu", threads=1),
    "cpu-small": dict(d_model=128, n_layers=2, n_heads=4, ctx=128, batch=32, steps=400, lr=2e-3, device="cpu", threads=2),
    "gpu-small": dict(d_model=256, n_layers=4, n_heads=4, ctx=256, batch=64, steps=2000, lr=1e-3, device="cuda", threads=None),
    "gpu-base": dict(d_model=512, n_layers=8, n_heads=8, ctx=512, batch=64, steps=5000, lr=6e-4, device="cuda", threads=None),
}


def _torch():
    import torch

    return torch


def TinyLM(vocab_size: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, ctx: int = 64):
    """Build the tiny decoder-only transformer (pre-LN, learned positions, tied embeddings).

    ``model(ids [B, T]) -> logits [B, T, vocab]``.
    """
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, n_heads, C // n_heads).permute(2, 0, 3, 1, 4)
            # explicit attention (not SDPA): per-example gradients (torch.func.vmap) batch it natively
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // n_heads))
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            a = torch.softmax(att, dim=-1) @ v
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
            return x + self.mlp(self.ln2(x))

    class _TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            if d_model % n_heads:
                raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
            self.ctx = ctx
            self.tok = nn.Embedding(vocab_size, d_model)
            self.pos = nn.Embedding(ctx, d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(n_layers))
            self.ln = nn.LayerNorm(d_model)
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos.weight, std=0.02)

        def forward(self, ids):
            x = self.tok(ids) + self.pos.weight[: ids.shape[1]]
            for b in self.blocks:
                x = b(x)
            return self.ln(x) @ self.tok.weight.T

    return _TinyLM()


def _stream(docs: Sequence[np.ndarray], eos: int) -> np.ndarray:
    if not docs:
        return np.zeros(0, np.int64)
    return np.concatenate([np.concatenate([np.asarray(d, np.int64), [eos]]) for d in docs])


def evaluate_lm(model, docs: Sequence[np.ndarray], eos: int, ctx: int, device: str = "cpu",
                batch: int = 64) -> float:
    """Mean next-token loss (nats) over non-overlapping ``ctx``-windows of the target stream."""
    torch = _torch()
    s = _stream(docs, eos)
    n = (len(s) - 1) // ctx
    if n < 1:
        raise ValueError(f"target set has {len(s)} tokens, fewer than one window of ctx={ctx}")
    x = torch.from_numpy(s[: n * ctx].reshape(n, ctx))
    y = torch.from_numpy(s[1: n * ctx + 1].reshape(n, ctx))
    model.eval()
    tot = 0.0
    with torch.no_grad():
        for i in range(0, n, batch):
            logits = model(x[i:i + batch].to(device))
            tot += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y[i:i + batch].reshape(-1).to(device),
                reduction="sum").item()
    return tot / (n * ctx)


def train_lm(train_texts: Sequence[str] | None, target_texts: Sequence[str] | None, *, tokenizer=None,
             preset: str = "cpu-tiny", seed: int = 0, train_ids: Sequence[np.ndarray] | None = None,
             target_ids: Sequence[np.ndarray] | None = None, **overrides) -> ProxyResult:
    """Train the tiny LM from scratch on ``train_texts``; metric = perplexity on ``target_texts``.

    Pass pre-tokenised ``train_ids`` / ``target_ids`` (lists of int arrays) to skip tokenisation.
    ``overrides`` replace preset fields (``steps``, ``d_model``, ``lr``, ``device``, ...).
    The same inputs, preset and seed give the same model and metric.
    """
    cfg = {**LM_PRESETS.get(preset, {}), **overrides}
    with torch_threads(cfg.get("threads", 1)):
        return _train_lm(train_texts, target_texts, tokenizer=tokenizer, preset=preset, seed=seed,
                         train_ids=train_ids, target_ids=target_ids, **overrides)


def _train_lm(train_texts, target_texts, *, tokenizer, preset, seed, train_ids, target_ids, **overrides):
    torch = _torch()
    if preset not in LM_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(LM_PRESETS)}")
    cfg = {**LM_PRESETS[preset], **overrides}
    unknown = set(overrides) - set(LM_PRESETS[preset])
    if unknown:
        raise ValueError(f"unknown LM option(s) {sorted(unknown)}; valid: {sorted(LM_PRESETS[preset])}")
    if tokenizer is None:
        from winnow.proxy.tokenize import ByteTokenizer

        tokenizer = ByteTokenizer()
    if train_ids is None:
        train_ids = tokenizer.encode(list(train_texts or []))
    if target_ids is None:
        target_ids = tokenizer.encode(list(target_texts or []))
    device = cfg["device"]
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"preset {preset!r} needs a GPU (device='cuda'); use a cpu-* preset or device='cpu'")
    t0 = time.perf_counter()
    stream = _stream(train_ids, tokenizer.eos_id)
    ctx = cfg["ctx"]
    if len(stream) < ctx + 2:
        raise ValueError(f"training set has {len(stream)} tokens, fewer than one window of ctx={ctx}")
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    model = TinyLM(tokenizer.vocab_size, cfg["d_model"], cfg["n_layers"], cfg["n_heads"], ctx).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.1, betas=(0.9, 0.95))
    steps, warm = cfg["steps"], max(1, cfg["steps"] // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    st = torch.from_numpy(stream)
    idx = torch.arange(ctx + 1)
    losses = []
    model.train()
    for _ in range(steps):
        starts = torch.from_numpy(gen.integers(0, len(stream) - ctx - 1, size=cfg["batch"]))
        w = st[starts[:, None] + idx].to(device)
        logits = model(w[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    eval_loss = evaluate_lm(model, target_ids, tokenizer.eos_id, ctx, device)
    return ProxyResult("perplexity", float(math.exp(eval_loss)), False, len(train_ids), int(len(stream)),
                       time.perf_counter() - t0, model,
                       {"recipe": f"tiny-lm/{preset}", "loss": eval_loss, "train_loss_last": losses[-1],
                        "config": cfg, "tokenizer": getattr(tokenizer, "name", "?")})
