"""The result every proxy recipe returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProxyResult:
    """Metric of a proxy trained on some rows, measured on a held-out target set.

    Attributes:
        metric: ``"perplexity"``, ``"loss"`` or ``"accuracy"``.
        value: the metric on the target set.
        higher_is_better: direction of ``value``.
        n_train: rows (documents or examples) trained on.
        n_tokens: tokens trained on (LMs), else 0.
        seconds: wall time of training + evaluation.
        model: the trained model (a torch module, :class:`NgramLM`, ...), for attribution.
        extra: recipe-specific details (losses, dynamics, preset).
    """

    metric: str
    value: float
    higher_is_better: bool
    n_train: int
    n_tokens: int = 0
    seconds: float = 0.0
    model: Any = None
    extra: dict = field(default_factory=dict)


class torch_threads:
    """Context manager: run torch with ``n`` intra-op threads (restored on exit).

    Small proxies are fastest — and bit-for-bit reproducible — on one thread; on a shared
    machine, more threads mostly wait on each other.
    """

    def __init__(self, n: int | None = 1):
        self.n = n

    def __enter__(self):
        import torch

        self.prev = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.prev)
        return False
