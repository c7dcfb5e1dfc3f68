"""Per-example gradients with ``torch.func`` (vmap over grad), batched and memory-bounded.

Example:
    >>> import torch
    >>> from winnow.select.attribution import ClassificationTask, per_example_grads
    >>> m = torch.nn.Linear(3, 2)
    >>> X, y = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])
    >>> G = torch.cat(list(per_example_grads(m, ClassificationTask(), (X, y), batch_size=2)))
    >>> G.shape  # 5 examples x (3*2 + 2) parameters
    torch.Size([5, 8])
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch.func import functional_call, grad, vmap

from winnow.select.attribution.data import AttributionError, Data
from winnow.select.attribution.task import Task


class _Wrapped(torch.nn.Module):
    """Routes ``forward`` through ``task.forward`` so functional_call works with any Task."""

    def __init__(self, model: torch.nn.Module, task: Task):
        super().__init__()
        self.model = model
        self._task = task

    def forward(self, x):
        return self._task.forward(self.model, x)


@dataclass
class ParamSpec:
    """The parameters attributed over: names (in the model), shapes, and the total size P."""

    names: list[str]
    shapes: list[torch.Size]

    @property
    def sizes(self) -> list[int]:
        return [int(torch.Size(s).numel()) for s in self.shapes]

    @property
    def dim(self) -> int:
        return sum(self.sizes)

    def flatten(self, d: dict[str, torch.Tensor], batch: bool = False) -> torch.Tensor:
        if batch:
            return torch.cat([d[n].reshape(d[n].shape[0], -1) for n in self.names], 1)
        return torch.cat([d[n].reshape(-1) for n in self.names])

    def unflatten(self, v: torch.Tensor) -> dict[str, torch.Tensor]:
        out, s = {}, 0
        for n, shp, k in zip(self.names, self.shapes, self.sizes):
            out[n] = v[..., s : s + k].reshape(*v.shape[:-1], *shp)
            s += k
        return out


def select_params(model: torch.nn.Module, params=None) -> ParamSpec:
    """Choose the parameters to attribute over: ``None`` = all with ``requires_grad``; a list of
    names (or name prefixes); or a predicate ``(name, tensor) -> bool``."""
    if not isinstance(model, torch.nn.Module):
        raise AttributionError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = list(model.named_parameters())
    if params is None:
        chosen = [(n, p) for n, p in named if p.requires_grad]
        if not chosen:
            raise AttributionError(
                "model has no parameters with requires_grad=True: nothing to differentiate "
                "(unfreeze some, or pass params=[names])"
            )
    elif callable(params):
        chosen = [(n, p) for n, p in named if params(n, p)]
    else:
        want = [params] if isinstance(params, str) else list(params)
        chosen = [(n, p) for n, p in named if any(n == w or n.startswith(w + ".") for w in want)]
        unknown = [w for w in want if not any(n == w or n.startswith(w + ".") for n, _ in named)]
        if unknown:
            raise AttributionError(
                f"params: no parameter named {unknown} in the model (have e.g. {[n for n, _ in named[:5]]})"
            )
    if not chosen:
        raise AttributionError("params selected no parameters")
    return ParamSpec([n for n, _ in chosen], [p.shape for _, p in chosen])


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Eval mode (no dropout, frozen batch-norm statistics) for the duration, then restore."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


class GradFn:
    """Per-example gradient of ``task.loss`` or ``task.output`` w.r.t. the selected parameters."""

    def __init__(self, model: torch.nn.Module, task: Task, params=None, fn: str = "loss"):
        if fn not in ("loss", "output"):
            raise AttributionError(f"fn must be 'loss' or 'output', got {fn!r}")
        self.model, self.task, self.fn = model, task, fn
        self.spec = select_params(model, params)
        self.wrapped = _Wrapped(model, task)
        chosen = set(self.spec.names)
        self.frozen = {"model." + n: p.detach() for n, p in model.named_parameters() if n not in chosen}
        self.frozen.update({"model." + n: b for n, b in model.named_buffers()})
        task_fn = getattr(task, fn)

        def single(p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            state = {**self.frozen, **{"model." + n: v for n, v in p.items()}}
            out = functional_call(self.wrapped, state, (x.unsqueeze(0),))
            return task_fn(out, y.unsqueeze(0)).sum()

        self._vgrad = vmap(grad(single), in_dims=(None, 0, 0))
        self._single = single

    def params(self) -> dict[str, torch.Tensor]:
        named = dict(self.model.named_parameters())
        return {n: named[n].detach() for n in self.spec.names}

    def __call__(self, x: torch.Tensor, y: torch.Tensor, params: dict | None = None) -> torch.Tensor:
        p = self.params() if params is None else params
        with torch.no_grad():
            g = self._vgrad(p, x, y)
        return self.spec.flatten(g, batch=True)


def per_example_grads(
    model: torch.nn.Module, task: Task, data, *, params=None, fn: str = "loss", batch_size: int = 64, device=None
) -> Iterator[torch.Tensor]:
    """Yield per-example gradients ``[B, P]`` (flattened over the selected parameters), one batch at
    a time, so memory is bounded by ``batch_size * P``.

    ``fn="loss"`` differentiates ``task.loss``; ``fn="output"`` differentiates ``task.output``.
    """
    d = data if isinstance(data, Data) else Data(data, "data")
    if batch_size < 1:
        raise AttributionError(f"batch_size must be >= 1, got {batch_size}")
    gf = GradFn(model, task, params, fn)
    dev = device if device is not None else _model_device(model)
    with eval_mode(model):
        for xb, yb in d.batches(batch_size, dev):
            yield gf(xb, yb)


def model_outputs(
    model: torch.nn.Module, task: Task, data, what: Sequence[str] = ("output",), batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Evaluate ``task.output`` / ``task.loss`` / ``task.output_weight`` for every example."""
    d = data if isinstance(data, Data) else Data(data, "data")
    dev = _model_device(model)
    res: dict[str, list] = {w: [] for w in what}
    with eval_mode(model), torch.no_grad():
        for xb, yb in d.batches(batch_size, dev):
            out = task.forward(model, xb)
            for w in what:
                res[w].append(getattr(task, w)(out, yb).detach().float().cpu())
    return {w: torch.cat(v) for w, v in res.items()}


def _model_device(model: torch.nn.Module):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
