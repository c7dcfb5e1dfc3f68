"""Exact metagradients: d(target output) / d(per-example data weight), through a whole training run.

MAGIC/REPLAY style (Ilyas & Engstrom 2025): a :class:`~winnow.select.attribution.recipe.TrainRecipe`
determines the run, so the target outputs after training are a differentiable function of the
per-example weights ``w`` (the loss is ``sum_i w_i loss_i / sum_i w_i + l2/2 ||theta||^2``). The
replay runs training forward once, storing ``(params, optimizer state)`` at a few checkpoints, then
walks the steps backwards: each segment between checkpoints is recomputed forward, and each step
is differentiated on its own (one autograd pass through the optimizer update built with
``create_graph``, so through its gradient too), carrying the adjoints of the parameters and the optimizer state and
accumulating ``d/dw``. The adjoints have a leading target dimension, so all targets go backwards
together (``is_grads_batched``). Memory is the checkpoints plus one segment, not the whole graph:

* ``checkpoints="sqrt"`` (default): ``ceil(sqrt(T))`` checkpoints, segments of ``~sqrt(T)`` steps
  (``~2 sqrt(T)`` stored states, 2 forward passes);
* ``checkpoints=k`` (int): ``k`` checkpoints (``k + T/k`` states);
* ``checkpoints="log"``: recursive bisection (``~log2(T)`` states, ``~log2(T)/2`` forward passes).

The result is exact up to float error: :func:`unrolled_metagradients` (naive autograd through the
unrolled run, memory ∝ T) gives the same numbers and float64 finite differences agree when the
run is smooth (smooth activations, SGD; see the README for ReLU + Adam).

Example:
    >>> import torch
    >>> from winnow.select.attribution import TrainRecipe, ClassificationTask, attribute
    >>> def make_model(seed):
    ...     return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    >>> recipe = TrainRecipe(model=make_model, lr=0.1, momentum=0.9, l2=1e-4, steps=30)
    >>> res = attribute(recipe, ClassificationTask(), (X, y), (X[:5], y[:5]), method="metagradient")
    >>> res.scores.shape
    (40, 5)
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError
from winnow.select.attribution.recipe import Run, TrainRecipe, _as_tensor

TARGET_FNS = ("output", "loss", "mean_output", "mean_loss")


def _targets_fn(run: Run, task, target, kind: str):
    if kind not in TARGET_FNS:
        raise AttributionError(f"target_fn must be one of {list(TARGET_FNS)}, got {kind!r}")
    if not isinstance(target, (tuple, list)) or len(target) != 2:
        raise AttributionError("target must be a tuple (X, y) of arrays or tensors")
    Xt = _as_tensor(target[0], run.recipe.dtype, run.X.device)
    yt = _as_tensor(target[1], run.recipe.dtype, run.X.device)
    if Xt.shape[0] != yt.shape[0] or Xt.shape[0] == 0:
        raise AttributionError(
            f"target: X and y need the same, non-zero number of rows, got {tuple(Xt.shape)} and {tuple(yt.shape)}"
        )

    def f(params, idx=None):
        X, y = (Xt, yt) if idx is None else (Xt[idx], yt[idx])
        out = run.outputs(params, X)
        if kind == "output":
            return task.output(out, y)
        if kind == "loss":
            return -task.loss(out, y)
        if kind == "mean_output":
            return task.output(out, y).mean()[None]
        return -task.loss(out, y).mean()[None]

    m = 1 if kind.startswith("mean") else int(Xt.shape[0])
    return f, m


def _schedule(checkpoints, T: int) -> int | str:
    """Steps per segment (int), or "log"."""
    if checkpoints is None or checkpoints == "sqrt":
        k = max(1, math.ceil(math.sqrt(T)))
    elif checkpoints == "log":
        return "log"
    elif isinstance(checkpoints, int) and not isinstance(checkpoints, bool) and checkpoints >= 1:
        k = min(checkpoints, T)
    else:
        raise AttributionError(f"checkpoints must be 'sqrt', 'log' or an int >= 1, got {checkpoints!r}")
    return math.ceil(T / k)


class _Reverse:
    """The backward walk for one block of targets (adjoints carry a leading target dim)."""

    def __init__(self, run: Run, w: torch.Tensor):
        self.run, self.w = run, w
        self.aw = None
        self.held = 0  # states held right now / at most (for the memory report)
        self.peak = 0

    def _hold(self, k: int):
        self.held += k
        self.peak = max(self.peak, self.held)

    def back(self, t: int, params, state):
        """Pull the adjoints of step t's outputs back to its inputs (and accumulate d/dw): one
        autograd pass through the step built with ``create_graph``, batched over the target dim."""
        run = self.run
        ps = tuple(p.detach().requires_grad_() for p in params)
        ss = tuple(x.detach().requires_grad_() for x in state)
        w = self.w.detach().requires_grad_()
        with torch.enable_grad():
            new_p, new_s = run.step(t, ps, ss, w, create_graph=True)
            outs, adj = new_p + new_s, self.ap + self.as_
            keep = [k for k, o in enumerate(outs) if o.requires_grad]
            inputs = ps + ss + (w,)
            if self.ap[0].shape[0] == 1:
                gs = torch.autograd.grad([outs[k] for k in keep], inputs, [adj[k][0] for k in keep], allow_unused=True)
                gs = tuple(None if g is None else g[None] for g in gs)
            else:
                gs = torch.autograd.grad(
                    [outs[k] for k in keep], inputs, [adj[k] for k in keep], allow_unused=True, is_grads_batched=True
                )
        m = self.ap[0].shape[0]
        gs = tuple(
            torch.zeros((m, *x.shape), dtype=x.dtype, device=x.device) if g is None else g for g, x in zip(gs, inputs)
        )
        k = len(ps)
        self.ap, self.as_, gw = gs[:k], gs[k : k + len(ss)], gs[-1]
        self.aw = gw if self.aw is None else self.aw + gw

    def segment(self, a: int, b: int, params, state):
        """Reverse steps b-1 .. a, recomputing the states from the state at step a."""
        states = [(params, state)]
        with torch.no_grad():
            for t in range(a, b - 1):
                states.append(self.run.step(t, *states[-1], self.w))
        self._hold(len(states) - 1)
        for t in range(b - 1, a - 1, -1):
            self.back(t, *states[t - a])
            states.pop()
        self.held -= b - a - 1

    def bisect(self, a: int, b: int, params, state):
        if b - a <= 2:
            self.segment(a, b, params, state)
            return
        mid = (a + b) // 2
        with torch.no_grad():
            pm, sm = self.run.train(self.w, a, mid, params, state)
        self._hold(1)
        self.bisect(mid, b, pm, sm)
        del pm, sm
        self.held -= 1
        self.bisect(a, mid, params, state)


def metagradients(
    recipe: TrainRecipe,
    task,
    train,
    target,
    *,
    weights=None,
    checkpoints="sqrt",
    target_fn: str = "output",
    target_chunk: int | None = None,
    progress: bool = False,
    info: dict | None = None,
) -> np.ndarray:
    """``[n_train, n_target]`` exact ``d f_j(theta_T(w)) / d w_i`` at ``w = weights`` (default all 1).

    ``target_fn``: ``"output"`` (the task's output per target, TRAK's margin for classification),
    ``"loss"`` (minus the target loss, so + = helps), or ``"mean_output"`` / ``"mean_loss"`` (one
    column: the mean over targets). ``target_chunk`` bounds the targets carried backwards at once
    (memory ∝ chunk × one step's activations; each chunk replays the run). Pass a dict as ``info``
    to get ``seconds``, ``stored_states`` (peak (params, state) copies held) and ``forward_steps``.
    This is ``attribute(recipe, task, train, target, method="metagradient")``'s backend.
    """
    from torch.func import jacrev

    if not isinstance(recipe, TrainRecipe):
        raise AttributionError(f"method='metagradient' needs a TrainRecipe as the model, got {type(recipe).__name__}")
    t0 = time.perf_counter()
    run = Run(recipe, train, task)
    f, m = _targets_fn(run, run.task if recipe.task is not None else task, target, target_fn)
    w = run.weights(weights)
    T = recipe.steps
    seg = _schedule(checkpoints, T)
    chunk = m if target_chunk is None else int(target_chunk)
    if chunk < 1:
        raise AttributionError(f"target_chunk must be >= 1, got {target_chunk!r}")
    out = np.empty((run.n, m))
    peak, fwd = 0, 0
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task_id = bar.add_task("metagradient replay", total=math.ceil(m / chunk))
    try:
        for c0 in range(0, m, chunk):
            idx = (
                None
                if (c0 == 0 and chunk >= m) or target_fn.startswith("mean")
                else torch.arange(c0, min(m, c0 + chunk))
            )
            rv = _Reverse(run, w)
            p0, s0 = run.init()
            if seg == "log":
                pT, sT = run.train(w, 0, T, p0, s0)
                fwd += T
                ap = jacrev(lambda p: f(p, idx))(pT)
                del pT, sT
                rv.ap, rv.as_ = (
                    ap,
                    tuple(torch.zeros((ap[0].shape[0], *s.shape), dtype=s.dtype, device=s.device) for s in s0),
                )
                rv._hold(1)
                rv.bisect(0, T, p0, s0)
                fwd += int(T * max(1, math.log2(T)) / 2)
            else:
                cks, (p, s) = {}, (p0, s0)
                with torch.no_grad():
                    for a in range(0, T, seg):
                        cks[a] = (p, s)
                        p, s = run.train(w, a, min(T, a + seg), p, s)
                fwd += 2 * T
                ap = jacrev(lambda q: f(q, idx))(p)
                rv.ap, rv.as_ = (
                    ap,
                    tuple(torch.zeros((ap[0].shape[0], *x.shape), dtype=x.dtype, device=x.device) for x in s0),
                )
                rv._hold(len(cks))
                for a in sorted(cks, reverse=True):
                    rv.segment(a, min(T, a + seg), *cks.pop(a))
            out[:, c0 : c0 + chunk] = rv.aw.detach().double().cpu().numpy().T
            peak = max(peak, rv.peak)
            if bar is not None:
                bar.advance(task_id)
    finally:
        if bar is not None:
            bar.stop()
    if info is not None:
        info.update(seconds=time.perf_counter() - t0, stored_states=peak, forward_steps=fwd, segment=seg)
    return out


def unrolled_metagradients(
    recipe: TrainRecipe, task, train, target, *, weights=None, target_fn: str = "output"
) -> np.ndarray:
    """The naive reference: autograd through the whole unrolled run (memory ∝ steps × activations).

    Same result as :func:`metagradients`; use it only to check on small runs.
    """
    run = Run(recipe, train, task)
    f, m = _targets_fn(run, run.task if recipe.task is not None else task, target, target_fn)
    w = run.weights(weights).clone().requires_grad_(True)
    params, state = run.init()
    with torch.enable_grad():
        for t in range(recipe.steps):
            params, state = run.step(t, params, state, w, create_graph=True)
        vals = f(params)
        rows = [torch.autograd.grad(vals[j], w, retain_graph=j < m - 1)[0] for j in range(m)]
    return torch.stack(rows, 1).detach().double().cpu().numpy()
