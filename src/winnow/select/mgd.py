"""Metagradient descent on data weights (Engstrom et al. 2025, "Optimizing ML Training with MGD").

Start from weights ``w = 1`` on every pool row, train a small proxy with a deterministic
:class:`~winnow.select.attribution.recipe.TrainRecipe`, and take the exact metagradient of the
target loss with respect to ``w`` (:func:`~winnow.select.attribution.metagrad.metagradients`:
reverse-mode through every optimizer step). Then a few steps of projected gradient descent on the
target loss: ``w <- clip(w - step_size * g / max|g|, 0, 1)`` (weights stay in the box [0, 1],
the loss is the weighted mean, so only relative weights matter). The score of a row is its final
weight (ties broken by the last metagradient); ``select(budget)`` keeps the highest.

Labelled vectors (``(X, y)`` pools, ``winnow bench``'s noisy-label task: a logistic or GELU proxy,
full-batch SGD, target = mean cross-entropy) and text (the target-domain LM task: the tiny LM proxy
on the first ``ctx`` BPE tokens of each document, warm-started by full-batch Adam on the whole
pool, then a short full-batch SGD run that is differentiated; target = mean next-token loss on the
target documents).

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from winnow.select import get_selector
    >>> X, y = load_digits(return_X_y=True)
    >>> y_noisy = y[:300].copy(); y_noisy[:60] = (y_noisy[:60] + 1) % 10          # 60 flipped labels
    >>> sel = get_selector("mgd", n_steps=1, steps=40, seed=0)
    >>> _ = sel.fit((X[:300], y_noisy), target=(X[300:400], y[300:400]))
    >>> bool(np.isin(np.arange(60), sel.scores_.argsort()[:60]).mean() > 0.6)   # flipped rows score lowest
    True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from winnow.errors import SelectorError
from winnow.select.base import Selector, SelectorParams

PRETRAIN_TEXT, STEPS_TEXT, LR_TEXT = 60, 20, 0.1


class MetagradientDescent(Selector):
    """Projected metagradient descent on per-row data weights for the target loss.

    Args:
        n_steps: metagradient steps on the weights (each is one training run + one replay).
        step_size: the largest weight change per step (the metagradient is scaled by its max).
        hidden: vector proxy hidden width (0 = logistic regression; else one GELU layer, a smooth run).
        optimizer, steps, lr, momentum, l2: the differentiated full-batch recipe (mean loss +
            ``l2/2 ||theta||^2``); ``None`` = the default of the pool's kind, plain SGD (smooth in the
            weights; with momentum 0.9 / large steps on standardised digits, or Adam, the
            metagradient is far noisier): vectors 100 steps at lr 0.05 from the initialisation;
            text 20 steps at lr 0.1 from the pretrained start (``pretrain_steps``).
        pretrain_steps: steps of full-batch Adam (lr 0.01) on the whole pool, not differentiated,
            whose end is the differentiated run's start (``None``: 60 for text, 0 for vectors). A
            tiny LM learns little in a few smooth SGD steps from scratch, and Adam from scratch is
            too rough (metagradients near chance on the LM task).
        threads: torch intra-op threads while fitting (small proxies are fastest on one; on a
            shared machine more threads mostly wait on each other).
        checkpoints: the replay schedule (``"sqrt"``, ``"log"`` or an int).
        vocab_size, ctx, d_model, n_layers, n_heads: text pools: a BPE tokenizer trained on the
            pool, the first ``ctx`` tokens of each document, and the tiny LM proxy
            (:func:`~winnow.proxy.lm.TinyLM`) of that shape; the target loss is its mean
            next-token loss on the target documents.
    """

    name = "mgd"
    model_aware = True
    needs_target = True

    class Params(SelectorParams):
        n_steps: int = Field(3, ge=1)
        step_size: float = Field(0.5, gt=0, le=1)
        hidden: int = Field(0, ge=0)
        optimizer: Literal["sgd", "adam"] | None = None
        steps: int | None = Field(None, ge=1)
        lr: float | None = Field(None, gt=0)
        momentum: float = Field(0.0, ge=0, lt=1)
        l2: float = Field(1e-3, ge=0)
        checkpoints: str | int = "sqrt"
        vocab_size: int = Field(512, ge=260)
        ctx: int = Field(16, ge=2)
        d_model: int = Field(16, ge=2)
        n_layers: int = Field(1, ge=0)
        n_heads: int = Field(2, ge=1)
        pretrain_steps: int | None = Field(None, ge=0)
        threads: int = Field(1, ge=1)

    def _recipe(self, make_model, text: bool, task, train):
        from winnow.select.attribution.recipe import TrainRecipe

        pre = self.pretrain_steps if self.pretrain_steps is not None else (PRETRAIN_TEXT if text else 0)
        if pre:  # a run on the whole pool (not differentiated) is the start of the differentiated one
            base = TrainRecipe(model=make_model, optimizer="adam", lr=0.01, steps=pre, seed=self.seed, task=task)
            state = base.train(train).state_dict()

            def start(seed, _make=make_model, _state=state):
                m = _make(seed)
                m.load_state_dict(_state)
                return m

            make_model = start
        opt = self.optimizer or "sgd"
        return TrainRecipe(
            model=make_model,
            optimizer=opt,
            lr=self.lr or (LR_TEXT if text else 0.05),
            momentum=self.momentum if opt == "sgd" else 0.0,
            l2=self.l2,
            steps=self.steps or (STEPS_TEXT if text else 100),
            seed=self.seed,
            task=task,
        )

    def _vectors(self, pool, target):
        import torch

        from winnow.select.attribution import ClassificationTask

        if target.X is None or target.y is None:
            raise SelectorError("mgd: a labelled vector pool needs a labelled vector target (x, label)")
        classes = np.unique(np.concatenate([pool.y, target.y]))
        yp, yt = np.searchsorted(classes, pool.y), np.searchsorted(classes, target.y)
        X = np.asarray(pool.X, np.float32)
        d, k, hidden = X.shape[1], len(classes), self.hidden
        mean, std = X.mean(0), X.std(0) + 1e-3

        class Standardise(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
                self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

            def forward(self, x):
                return (x - self.mean) / self.std

        def make_model(seed):
            body = (
                [torch.nn.Linear(d, k)]
                if hidden == 0
                else [torch.nn.Linear(d, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, k)]
            )
            return torch.nn.Sequential(Standardise(), *body)

        task = ClassificationTask()
        train = (X, yp)
        return self._recipe(make_model, False, task, train), task, train, (np.asarray(target.X, np.float32), yt)

    def _texts(self, pool, target):
        from winnow.proxy.lm import TinyLM
        from winnow.proxy.tokenize import BPETokenizer
        from winnow.select.attribution import CausalLMTask
        from winnow.select.influence import _windows

        if target.texts is None:
            raise SelectorError("mgd: a text pool needs a text target")
        if self.d_model % self.n_heads:
            raise SelectorError(f"mgd: d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        tok = BPETokenizer.train(pool.texts, vocab_size=self.vocab_size)
        train = _windows(tok.encode(pool.texts), self.ctx, tok.eos_id)
        tgt = _windows(tok.encode(target.texts), self.ctx, tok.eos_id)
        V, shape = tok.vocab_size, (self.d_model, self.n_layers, self.n_heads, self.ctx)

        def make_model(seed):
            return TinyLM(V, *shape)

        task = CausalLMTask()
        return self._recipe(make_model, True, task, train), task, train, tgt

    def _score(self, pool, target):
        from winnow.proxy.result import torch_threads

        with torch_threads(self.threads):
            return self._descend(pool, target)

    def _descend(self, pool, target):
        from winnow.select.attribution.metagrad import metagradients

        if pool.X is not None and pool.y is not None:
            recipe, task, train, tgt = self._vectors(pool, target)
        elif pool.texts is not None:
            recipe, task, train, tgt = self._texts(pool, target)
        else:
            raise SelectorError("mgd needs labelled vectors (x, label) or text")
        if self.lr is None:  # the default step size must give a run that descends
            recipe = _descending(recipe, train)
        self.lr_ = recipe.lr
        w = np.ones(len(pool))
        self.history_ = []
        for _ in range(self.n_steps):
            g = metagradients(recipe, task, train, tgt, weights=w, target_fn="mean_loss", checkpoints=self.checkpoints)[
                :, 0
            ]
            scale = float(np.abs(g).max()) or 1.0
            w = np.clip(w + self.step_size * g / scale, 0.0, 1.0)  # + g: g is d(-target loss)/dw
            self.history_.append(float(w.mean()))
        self.weights_, self.metagradient_ = w, g
        return w + 1e-6 * g / scale


def _descending(recipe, train, halvings: int = 6):
    """``recipe`` with its learning rate halved until the full-batch training loss (all weights 1)
    never rises above its start during the run. A run that overshoots is not smooth in the data
    weights: its metagradient can point the wrong way (a toy text pool where lr 0.1 after the Adam
    warm start ranked the target domain last, AUC 0.06; at lr 0.05 it ranks it first)."""
    import dataclasses

    import torch

    from winnow.select.attribution.recipe import Run

    for _ in range(halvings):
        run = Run(recipe, train, recipe.task)
        w = run.weights()
        params, state = run.init()
        with torch.no_grad():
            start = float(run.loss(params, w, 0))
        ok = True
        for t in range(recipe.steps):
            params, state = run.step(t, params, state, w)
            with torch.no_grad():
                if not float(run.loss(params, w, min(t + 1, recipe.steps - 1))) <= start:
                    ok = False
                    break
        if ok:
            return recipe
        recipe = dataclasses.replace(recipe, lr=recipe.lr / 2)
    return recipe
