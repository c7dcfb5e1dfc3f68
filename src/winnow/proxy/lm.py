"""A tiny causal transformer LM with fixed, seeded recipes (presets).

Training samples random windows of ``ctx + 1`` tokens from the concatenated training documents
(each ended by the tokenizer's end-of-document token) for a fixed number of steps — a fixed
compute budget, as in DataComp: only the data varies. Evaluation is the mean next-token loss
over non-overlapping windows of the target documents; the metric is ``exp(loss)`` (perplexity).

Presets (``LM_PRESETS``): ``cpu-tiny`` (seconds on 2 CPU cores), ``cpu-small`` (a minute),
``gpu-small`` and ``gpu-base`` (for an accelerator). ``cpu-tiny-x4`` and ``cpu-tiny-x16`` are
``cpu-tiny`` with the width doubled / quadrupled and 3 layers: 4.3x / 15.6x the parameters (with a
1,024-token vocabulary), same context, batch and tokens, so a ranking can be checked at a larger proxy.

Fixed compute: ``tokens=`` (instead of ``steps=``) trains for ``ceil(tokens / (batch * ctx))``
steps whatever the size of the training set — a small subset is repeated for more epochs, as in
DataComp. ``mixture=`` trains on several groups of documents with fixed sampling weights (each
batch draws its windows from the groups in those proportions), ``eval_sets=`` measures the loss
on several named held-out sets at once. :func:`describe_recipe` gives every parameter of a
recipe (layers, width, heads, context, batch, steps, tokens, lr schedule, parameter count).

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
    "cpu-small": dict(
        d_model=128, n_layers=2, n_heads=4, ctx=128, batch=32, steps=400, lr=2e-3, device="cpu", threads=2
    ),
    "cpu-tiny-x4": dict(
        d_model=128, n_layers=3, n_heads=4, ctx=64, batch=16, steps=120, lr=3e-3, device="cpu", threads=1
    ),
    "cpu-tiny-x16": dict(
        d_model=256, n_layers=3, n_heads=4, ctx=64, batch=16, steps=120, lr=2e-3, device="cpu", threads=1
    ),
    "gpu-small": dict(
        d_model=256, n_layers=4, n_heads=4, ctx=256, batch=64, steps=2000, lr=1e-3, device="cuda", threads=None
    ),
    "gpu-base": dict(
        d_model=512, n_layers=8, n_heads=8, ctx=512, batch=64, steps=5000, lr=6e-4, device="cuda", threads=None
    ),
}


LR_SCHEDULE = "AdamW (betas 0.9/0.95, weight decay 0.1, grad clip 1.0); linear warm-up over 10% of steps, cosine to 0"


def lm_params(vocab_size: int, d_model: int, n_layers: int, ctx: int, **_) -> int:
    """Parameters of :func:`TinyLM` (tied embeddings): V·d + ctx·d + L·(12d² + 13d) + 2d.

    >>> lm_params(1024, 64, 2, 64) == sum(p.numel() for p in TinyLM(1024, 64, 2, 4, 64).parameters())
    True
    """
    d = d_model
    return vocab_size * d + ctx * d + n_layers * (12 * d * d + 13 * d) + 2 * d


def lm_step(model, opt, windows) -> float:
    """One training step of a causal LM on token windows ``[B, T + 1]`` (next-token cross-entropy,
    gradient norm clipped at 1); returns the loss. Shared by the proxy recipe and the export check."""
    import torch

    logits = model(windows[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def resolve_recipe(preset: str = "cpu-tiny", **overrides) -> dict:
    """The full training config of a preset with overrides; ``tokens`` sets the steps (fixed compute).

    >>> c = resolve_recipe("cpu-tiny", tokens=100_000)
    >>> c["steps"], c["tokens"]
    (98, 100352)
    """
    if preset not in LM_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(LM_PRESETS)}")
    tokens = overrides.pop("tokens", None)
    unknown = set(overrides) - set(LM_PRESETS[preset]) - {"hf_config"}
    if unknown:
        raise ValueError(
            f"unknown LM option(s) {sorted(unknown)}; valid: {sorted(LM_PRESETS[preset])}, tokens or hf_config"
        )
    cfg = {**LM_PRESETS[preset], **overrides}
    if tokens is not None:
        if "steps" in overrides:
            raise ValueError("give the proxy either tokens (fixed compute) or steps, not both")
        cfg["steps"] = max(1, math.ceil(float(tokens) / (cfg["batch"] * cfg["ctx"])))
    cfg["tokens"] = cfg["steps"] * cfg["batch"] * cfg["ctx"]
    return cfg


def describe_recipe(preset: str = "cpu-tiny", vocab_size: int | None = None, **overrides) -> dict:
    """Every parameter of a proxy recipe, for reports: layers, width, heads, context, batch, steps,
    tokens, learning rate and schedule, and the parameter count (given the vocabulary size).

    >>> d = describe_recipe("cpu-tiny-x4", vocab_size=1024, tokens=200_000)
    >>> d["layers"], d["width"], d["params"] > 3.5 * describe_recipe("cpu-tiny", vocab_size=1024)["params"]
    (3, 128, True)
    """
    c = resolve_recipe(preset, **overrides)
    out = {
        "preset": preset,
        "layers": c["n_layers"],
        "width": c["d_model"],
        "heads": c["n_heads"],
        "context": c["ctx"],
        "batch": c["batch"],
        "steps": c["steps"],
        "tokens": c["tokens"],
        "lr": c["lr"],
        "schedule": LR_SCHEDULE,
        "device": c["device"],
    }
    if c.get("hf_config"):  # a transformers model: its own shape, counted on a built copy
        m = HFCausalLM(c["hf_config"], int(vocab_size or 256), c["ctx"])
        hc = m.hf.config
        out.update(
            architecture=f"transformers:{hc.model_type}",
            layers=hc.num_hidden_layers,
            width=hc.hidden_size,
            heads=hc.num_attention_heads,
        )
        if vocab_size is not None:
            out["vocab"] = int(vocab_size)
            out["params"] = sum(p.numel() for p in m.parameters())
        return out
    if vocab_size is not None:
        out["vocab"] = int(vocab_size)
        out["params"] = lm_params(vocab_size, c["d_model"], c["n_layers"], c["ctx"])
    return out


def _torch():
    import torch

    return torch


def HFCausalLM(config, vocab_size: int, ctx: int):
    """A Hugging Face ``transformers`` causal LM as the proxy, built from a config with random
    weights (nothing is downloaded): ``config`` is a ``transformers.PretrainedConfig``, a path to a
    ``config.json``, or a dict with ``model_type`` (``{"model_type": "gpt2", "n_layer": 2, ...}``).
    The vocabulary size and positions (``ctx + 1``) are set from the proxy's tokenizer and ``ctx``. Same
    interface as :func:`TinyLM`: ``model(ids [B, T]) -> logits [B, T, vocab]``.

    >>> m = HFCausalLM({"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2}, vocab_size=100, ctx=16)
    >>> import torch
    >>> tuple(m(torch.zeros(2, 16, dtype=torch.long)).shape)
    (2, 16, 100)
    """
    import torch.nn as nn
    from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

    if isinstance(config, PretrainedConfig):
        cfg = config
    elif isinstance(config, dict):
        kw = dict(config)
        cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    else:
        cfg = AutoConfig.from_pretrained(str(config), local_files_only=True)  # a local config.json / folder
    cfg.vocab_size = vocab_size
    for key in ("n_positions", "max_position_embeddings"):  # the proxy never sees more than ctx + 1
        if hasattr(cfg, key):
            setattr(cfg, key, ctx + 1)

    class _HF(nn.Module):
        def __init__(self):
            super().__init__()
            self.hf = AutoModelForCausalLM.from_config(cfg)

        def forward(self, ids):
            return self.hf(input_ids=ids).logits

    return _HF()


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


def evaluate_lm(model, docs: Sequence[np.ndarray], eos: int, ctx: int, device: str = "cpu", batch: int = 64) -> float:
    """Mean next-token loss (nats) over non-overlapping ``ctx``-windows of the target stream."""
    torch = _torch()
    s = _stream(docs, eos)
    n = (len(s) - 1) // ctx
    if n < 1:
        raise ValueError(f"target set has {len(s)} tokens, fewer than one window of ctx={ctx}")
    x = torch.from_numpy(s[: n * ctx].reshape(n, ctx))
    y = torch.from_numpy(s[1 : n * ctx + 1].reshape(n, ctx))
    model.eval()
    tot = 0.0
    with torch.no_grad():
        for i in range(0, n, batch):
            logits = model(x[i : i + batch].to(device))
            tot += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y[i : i + batch].reshape(-1).to(device), reduction="sum"
            ).item()
    return tot / (n * ctx)


def train_lm(
    train_texts: Sequence[str] | None,
    target_texts: Sequence[str] | None,
    *,
    tokenizer=None,
    preset: str = "cpu-tiny",
    seed: int = 0,
    train_ids: Sequence[np.ndarray] | None = None,
    target_ids: Sequence[np.ndarray] | None = None,
    mixture: Sequence[tuple] | None = None,
    eval_sets: dict | None = None,
    progress=None,
    **overrides,
) -> ProxyResult:
    """Train the tiny LM from scratch on ``train_texts``; metric = perplexity on ``target_texts``.

    Pass pre-tokenised ``train_ids`` / ``target_ids`` (lists of int arrays) to skip tokenisation.
    ``overrides`` replace preset fields (``steps``, ``d_model``, ``lr``, ``device``, ...);
    ``tokens=`` fixes the training tokens instead of the steps (see :func:`resolve_recipe`).
    ``mixture``: ``[(train_ids_of_group, weight), ...]`` instead of ``train_ids`` — every batch
    takes its windows from the groups with these probabilities. ``eval_sets``: ``{name: ids}``;
    their mean losses (nats/token) go to ``extra["eval_losses"]`` (the metric is then the first
    set's perplexity unless ``target_ids`` is given). ``progress(step, steps)`` is called every step.
    The same inputs, preset and seed give the same model and metric.
    """
    cfg = {**LM_PRESETS.get(preset, {}), **overrides}
    with torch_threads(cfg.get("threads", 1)):
        return _train_lm(
            train_texts,
            target_texts,
            tokenizer=tokenizer,
            preset=preset,
            seed=seed,
            train_ids=train_ids,
            target_ids=target_ids,
            mixture=mixture,
            eval_sets=eval_sets,
            progress=progress,
            **overrides,
        )


def _train_lm(
    train_texts,
    target_texts,
    *,
    tokenizer,
    preset,
    seed,
    train_ids,
    target_ids,
    mixture=None,
    eval_sets=None,
    progress=None,
    **overrides,
):
    torch = _torch()
    cfg = resolve_recipe(preset, **overrides)
    if tokenizer is None:
        from winnow.proxy.tokenize import ByteTokenizer

        tokenizer = ByteTokenizer()
    if mixture is None and train_ids is None:
        train_ids = tokenizer.encode(list(train_texts or []))
    if target_ids is None and (target_texts is not None or not eval_sets):
        target_ids = tokenizer.encode(list(target_texts or []))
    device = cfg["device"]
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"preset {preset!r} needs a GPU (device='cuda'); use a cpu-* preset or device='cpu'")
    t0 = time.perf_counter()
    ctx = cfg["ctx"]
    if mixture is None:
        groups = [_stream(train_ids, tokenizer.eos_id)]
        probs = None
        n_docs = len(train_ids)
    else:
        w = np.asarray([float(m[1]) for m in mixture], np.float64)
        if len(w) == 0 or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"mixture weights must be >= 0 with a positive sum, got {w.tolist()}")
        keep = np.flatnonzero(w > 0)
        groups = [_stream(mixture[k][0], tokenizer.eos_id) for k in keep]
        probs = w[keep] / w[keep].sum()
        n_docs = sum(len(mixture[k][0]) for k in keep)
    for g in groups:
        if len(g) < ctx + 2:
            raise ValueError(f"training set has {len(g)} tokens, fewer than one window of ctx={ctx}")
    stream = groups[0]
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    if cfg.get("hf_config"):  # any transformers causal-LM config, randomly initialised here
        model = HFCausalLM(cfg["hf_config"], tokenizer.vocab_size, ctx).to(device)
    else:
        model = TinyLM(tokenizer.vocab_size, cfg["d_model"], cfg["n_layers"], cfg["n_heads"], ctx).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.1, betas=(0.9, 0.95))
    steps, warm = cfg["steps"], max(1, cfg["steps"] // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))
    )
    sts = [torch.from_numpy(g) for g in groups]
    st = sts[0]
    idx = torch.arange(ctx + 1)
    losses = []
    model.train()
    for step in range(steps):
        if probs is None:
            starts = torch.from_numpy(gen.integers(0, len(stream) - ctx - 1, size=cfg["batch"]))
            w = st[starts[:, None] + idx].to(device)
        else:
            counts = gen.multinomial(cfg["batch"], probs)
            w = torch.cat(
                [
                    s_[torch.from_numpy(gen.integers(0, len(s_) - ctx - 1, size=c))[:, None] + idx]
                    for s_, c in zip(sts, counts)
                    if c
                ]
            ).to(device)
        losses.append(lm_step(model, opt, w))
        sched.step()
        if progress is not None:
            progress(step + 1, steps)
    eval_losses = {
        name: evaluate_lm(model, ids, tokenizer.eos_id, ctx, device) for name, ids in (eval_sets or {}).items()
    }
    eval_loss = (
        evaluate_lm(model, target_ids, tokenizer.eos_id, ctx, device)
        if target_ids is not None
        else next(iter(eval_losses.values()))
    )
    return ProxyResult(
        "perplexity",
        float(math.exp(eval_loss)),
        False,
        n_docs,
        int(sum(len(g) for g in groups)),
        time.perf_counter() - t0,
        model,
        {
            "recipe": f"tiny-lm/{preset}",
            "loss": eval_loss,
            "train_loss_last": losses[-1],
            "config": cfg,
            "tokenizer": getattr(tokenizer, "name", "?"),
            "eval_losses": eval_losses,
            "train_tokens": steps * cfg["batch"] * ctx,
        },
    )
