"""Training recipes that fully determine a run, so it can be differentiated through (metagradients).

A :class:`TrainRecipe` is a model factory plus every choice training makes: optimizer, learning
rate schedule, L2, steps, batch size and seed. ``recipe.train((X, y), weights=w)`` runs it with
hand-written, functional optimizer steps (the same code the metagradient replay differentiates),
so the same inputs give bit-identical parameters.

The training loss at step t, over the step's batch B (all rows when ``batch_size=None``)::

    L_t(theta, w) = sum_{i in B} w_i * loss_i(theta) / sum_{i in B} w_i  +  l2/2 * ||theta||^2

i.e. the **weighted mean** of the per-example losses (``normalize="weights"``, default): with
``w = 1`` it is the plain mean, and with ``w`` a 0/1 mask a full-batch run equals training on the
subset (what retraining-based truth such as the LDS does). ``normalize="n"`` divides by the batch
size instead; at ``w = 1`` the two metagradients differ only by a term that is the same for every
training example (a per-target constant), so rankings and the LDS are unchanged. ``l2`` applies
to every trainable parameter (biases included).

Example:
    >>> import torch
    >>> from winnow.select.attribution.recipe import TrainRecipe
    >>> def make_model(seed):
    ...     return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    >>> recipe = TrainRecipe(model=make_model, optimizer="sgd", lr=0.1, momentum=0.9, l2=1e-4, steps=20)
    >>> a, b = recipe.train((X, y)), recipe.train((X, y))
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "linear")


@dataclass
class TrainRecipe:
    """Everything that determines a training run (see the module docstring for the loss).

    Args:
        model: ``callable(seed) -> torch.nn.Module``; called under ``torch.manual_seed(seed)`` (in a
            forked RNG), so factories that do not seed themselves are deterministic too.
        optimizer: ``"sgd"`` (``momentum``, ``nesterov``), ``"adam"`` or ``"adamw"`` (``betas``,
            ``eps``; ``weight_decay`` is AdamW's decoupled decay, on top of ``l2``).
        lr: peak learning rate; ``schedule`` ``"constant"``, ``"cosine"`` (to 0 at the last step) or
            ``"linear"`` (linear decay to 0), after ``warmup`` steps of linear warm-up.
        l2: the L2 term ``l2/2 * ||theta||^2`` added to the loss (all trainable parameters).
        steps: optimizer steps. batch_size: rows per step (``None`` = full batch); minibatches are
            consecutive slices of a per-epoch permutation drawn from ``torch.Generator(seed)``.
        seed: seeds the model factory and the minibatch order.
        dtype: parameter and input dtype (``torch.float64`` for finite-difference checks).
        device: where to train (``None`` = CPU; ``"cuda"`` when a GPU is there).
        task: the training loss (``task.loss``); ``None`` = the task passed to ``attribute``, or
            :class:`~winnow.select.attribution.task.ClassificationTask` for ``train``.
        normalize: ``"weights"`` (divide by the batch's weight sum, default) or ``"n"`` (by its size).
    """

    model: Callable[[int], torch.nn.Module]
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    l2: float = 0.0
    steps: int = 100
    batch_size: int | None = None
    seed: int = 0
    schedule: str = "constant"
    warmup: int = 0
    dtype: torch.dtype = torch.float32
    device: str | None = None
    task: object | None = None
    normalize: str = "weights"

    def __post_init__(self):
        if not callable(self.model):
            raise AttributionError(
                f"model must be a callable(seed) -> torch.nn.Module, got {type(self.model).__name__}"
            )
        self.optimizer = str(self.optimizer).lower()
        if self.optimizer not in OPTIMIZERS:
            raise AttributionError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise AttributionError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise AttributionError(f"steps must be an int >= 1, got {self.steps!r}")
        if self.batch_size is not None and not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise AttributionError(f"batch_size must be None (full batch) or an int >= 1, got {self.batch_size!r}")
        for k in ("lr", "l2", "eps", "weight_decay"):
            if not (isinstance(getattr(self, k), (int, float)) and getattr(self, k) >= 0):
                raise AttributionError(f"{k} must be a number >= 0, got {getattr(self, k)!r}")
        if not 0 <= self.momentum < 1:
            raise AttributionError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise AttributionError("nesterov=True needs optimizer='sgd' and momentum > 0")
        if self.weight_decay and self.optimizer != "adamw":
            raise AttributionError("weight_decay is AdamW's decoupled decay; use l2= for sgd and adam")
        if self.optimizer != "sgd" and self.momentum:
            raise AttributionError(f"momentum is for sgd; {self.optimizer} uses betas=")
        if not (isinstance(self.warmup, int) and 0 <= self.warmup <= self.steps):
            raise AttributionError(f"warmup must be an int in [0, steps], got {self.warmup!r}")
        if self.normalize not in ("weights", "n"):
            raise AttributionError(f"normalize must be 'weights' or 'n', got {self.normalize!r}")
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise AttributionError(f"dtype must be a floating torch dtype, got {self.dtype!r}")

    def lr_at(self, t: int) -> float:
        """The learning rate of step ``t`` (0-based)."""
        if t < self.warmup:
            return self.lr * (t + 1) / self.warmup
        if self.schedule == "constant":
            return self.lr
        frac = (t - self.warmup) / max(1, self.steps - self.warmup)
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * frac))
        return self.lr * (1.0 - frac)

    def build(self) -> torch.nn.Module:
        """The untrained model: ``model(seed)`` under a seeded, forked RNG, cast to dtype/device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            m = self.model(self.seed)
        if not isinstance(m, torch.nn.Module):
            raise AttributionError(f"model(seed) must return a torch.nn.Module, got {type(m).__name__}")
        return m.to(dtype=self.dtype, device=self.device)

    def train(self, train, weights=None) -> torch.nn.Module:
        """Run the recipe on ``train = (X, y)`` (numpy arrays or tensors) with per-example ``weights``
        (``None`` = all 1) and return the trained module (``eval()`` mode)."""
        run = Run(self, train, self.task)
        params, state = run.train(run.weights(weights))
        return run.to_module(params)


def _as_tensor(a, dtype, device):
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    if t.is_floating_point():
        t = t.to(dtype)
    return t.to(device)


class Run:
    """A recipe bound to data: the functional loss and optimizer step that training and the
    metagradient replay share. Parameters and optimizer state are tuples of tensors."""

    def __init__(self, recipe: TrainRecipe, train, task=None):
        from winnow.select.attribution.task import ClassificationTask, Task

        self.recipe = r = recipe
        if not isinstance(train, (tuple, list)) or len(train) != 2:
            raise AttributionError("train must be a tuple (X, y) of arrays or tensors")
        self.X, self.y = _as_tensor(train[0], r.dtype, r.device), _as_tensor(train[1], r.dtype, r.device)
        if self.X.ndim == 0 or self.X.shape[0] != self.y.shape[0] or self.X.shape[0] == 0:
            raise AttributionError(
                f"train: X and y need the same, non-zero number of rows, got "
                f"{tuple(self.X.shape)} and {tuple(self.y.shape)}"
            )
        self.n = int(self.X.shape[0])
        self.task = r.task or task or ClassificationTask()
        if not isinstance(self.task, Task):
            raise AttributionError(f"task must be a winnow.select.attribution.Task, got {type(self.task).__name__}")
        self.module = r.build()
        self.names = [k for k, p in self.module.named_parameters() if p.requires_grad]
        self.buffers = {k: b for k, b in self.module.named_buffers()}
        self.batches = self._batches()

    def _batches(self):
        b = self.recipe.batch_size
        if b is None or b >= self.n:
            return None
        g = torch.Generator().manual_seed(self.recipe.seed)
        out, perm, pos = [], torch.randperm(self.n, generator=g), 0
        for _ in range(self.recipe.steps):
            if pos >= self.n:
                perm, pos = torch.randperm(self.n, generator=g), 0
            out.append(perm[pos : pos + b].to(self.X.device))
            pos += b
        return out

    def weights(self, weights=None) -> torch.Tensor:
        if weights is None:
            return torch.ones(self.n, dtype=self.recipe.dtype, device=self.X.device)
        w = _as_tensor(weights, self.recipe.dtype, self.X.device).to(self.recipe.dtype)
        if w.shape != (self.n,):
            raise AttributionError(f"weights must have shape ({self.n},), got {tuple(w.shape)}")
        if bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
            raise AttributionError("weights must be finite and >= 0")
        return w

    def init(self) -> tuple[tuple, tuple]:
        params = tuple(dict(self.module.named_parameters())[k].detach().clone() for k in self.names)
        r = self.recipe
        if r.optimizer == "sgd":
            state = tuple(torch.zeros_like(p) for p in params) if r.momentum else ()
        else:
            state = tuple(torch.zeros_like(p) for p in params) * 2  # (m..., v...)
        return params, state

    def outputs(self, params, X):
        from torch.func import functional_call

        return functional_call(self.module, ({**dict(zip(self.names, params)), **self.buffers}), (X,))

    def loss(self, params, w, t: int):
        idx = None if self.batches is None else self.batches[t]
        X, y, wb = (self.X, self.y, w) if idx is None else (self.X[idx], self.y[idx], w[idx])
        per = self.task.loss(self.outputs(params, X), y)
        den = wb.sum().clamp(min=torch.finfo(wb.dtype).tiny) if self.recipe.normalize == "weights" else wb.shape[0]
        L = (wb * per).sum() / den
        if self.recipe.l2:
            L = L + 0.5 * self.recipe.l2 * sum((p * p).sum() for p in params)
        return L

    def step(
        self, t: int, params: tuple, state: tuple, w: torch.Tensor, create_graph: bool = False
    ) -> tuple[tuple, tuple]:
        """One optimizer step (pure function of its inputs; torch.optim's update rules).

        ``create_graph=True`` keeps the graph of the update (gradient included), so the new
        parameters and state can be differentiated with respect to ``params``, ``state`` and ``w``
        (the metagradient replay and the unrolled reference); otherwise the update runs without one.
        """
        with torch.enable_grad():
            ps = tuple(p if p.requires_grad else p.detach().requires_grad_() for p in params)
            g = torch.autograd.grad(self.loss(ps, w, t), ps, create_graph=create_graph)
        if create_graph:
            with torch.enable_grad():
                return self._update(t, ps, state, g)
        with torch.no_grad():
            return self._update(t, tuple(p.detach() for p in params), state, g)

    def _update(self, t: int, params: tuple, state: tuple, g: tuple) -> tuple[tuple, tuple]:
        r = self.recipe
        lr = r.lr_at(t)
        if r.optimizer == "sgd":
            if not r.momentum:
                return tuple(p - lr * gi for p, gi in zip(params, g)), ()
            buf = tuple(r.momentum * b + gi for b, gi in zip(state, g))
            d = tuple(gi + r.momentum * b for gi, b in zip(g, buf)) if r.nesterov else buf
            return tuple(p - lr * di for p, di in zip(params, d)), buf
        b1, b2 = r.betas
        k = len(params)
        m = tuple(b1 * mi + (1 - b1) * gi for mi, gi in zip(state[:k], g))
        v = tuple(b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(state[k:], g))
        c1, c2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
        new = []
        for p, mi, vi in zip(params, m, v):
            if r.optimizer == "adamw" and r.weight_decay:
                p = p * (1 - lr * r.weight_decay)
            # sqrt with a finite derivative at v = 0 (parameters that never got a gradient)
            pos = vi > 0
            den = torch.where(pos, torch.sqrt(torch.where(pos, vi, torch.ones_like(vi))), torch.zeros_like(vi))
            new.append(p - (lr / c1) * mi / (den / math.sqrt(c2) + r.eps))
        return tuple(new), m + v

    def train(self, w: torch.Tensor, start: int = 0, stop: int | None = None, params=None, state=None):
        """Run steps ``start..stop-1`` from ``(params, state)`` (default: the initial ones)."""
        if params is None:
            params, state = self.init()
        with torch.no_grad():
            for t in range(start, self.recipe.steps if stop is None else stop):
                params, state = self.step(t, params, state, w)
        return params, state

    def to_module(self, params) -> torch.nn.Module:
        m = self.recipe.build()
        with torch.no_grad():
            named = dict(m.named_parameters())
            for k, p in zip(self.names, params):
                named[k].copy_(p)
        return m.eval()
