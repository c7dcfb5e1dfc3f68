"""Task adapters: how to get per-example loss and the model output function from a torch model.

A :class:`Task` makes any ``torch.nn.Module`` attributable. Methods receive the raw model
outputs for a batch and return one value per example:

* ``loss(out, y)`` -- the training loss per example (gradients of it drive influence / TracIn);
* ``output(out, y)`` -- the measured model output f (TRAK's model output function, what the LDS
  compares), e.g. the log-odds of the correct class;
* ``output_weight(out, y)`` -- TRAK's per-example weight Q = -d loss / d output (1 - p for
  cross-entropy with the margin as output).

Example:
    >>> import torch
    >>> from winnow.select.attribution.task import ClassificationTask
    >>> t = ClassificationTask()
    >>> out = torch.tensor([[2.0, 0.0, 0.0]]); y = torch.tensor([0])
    >>> round(float(t.output(out, y)[0]), 4)  # log p/(1-p) = 2 - log(2)
    1.3069
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Task:
    """Base adapter. Subclass and implement :meth:`loss` and :meth:`output`."""

    name = "task"

    def forward(self, model: torch.nn.Module, x: torch.Tensor):
        """Run the model on a batch of inputs (override for models that take other arguments)."""
        return model(x)

    def loss(self, out, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def output(self, out, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def output_weight(self, out, y: torch.Tensor) -> torch.Tensor:
        """TRAK's Q_i; 1 by default."""
        return torch.ones(y.shape[0], dtype=torch.float32, device=y.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ClassificationTask(Task):
    """Cross-entropy classification. Output = log-odds of the correct class, as in TRAK:
    ``f = logit_y - logsumexp(logits_{c != y}) = log(p_y / (1 - p_y))``."""

    name = "classification"

    def loss(self, out, y):
        return F.cross_entropy(out, y.long(), reduction="none")

    def output(self, out, y):
        y = y.long()
        correct = out.gather(1, y[:, None])[:, 0]
        is_y = torch.arange(out.shape[1], device=out.device)[None, :] == y[:, None]
        others = out.masked_fill(is_y, float("-inf"))
        return correct - torch.logsumexp(others, dim=1)

    def output_weight(self, out, y):
        p = torch.softmax(out.detach(), dim=1).gather(1, y.long()[:, None])[:, 0]
        return 1.0 - p


class CausalLMTask(Task):
    """Next-token prediction. ``x`` = token ids [B, T]; ``y`` = labels [B, T] (pass the ids again;
    -100 marks ignored positions). Loss = mean next-token cross-entropy per sequence; output =
    the sequence log-probability (minus the summed token losses). Works with models returning
    logits or an object with ``.logits`` (Hugging Face)."""

    name = "causal_lm"

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = ignore_index

    def _token_losses(self, out, y):
        logits = out.logits if hasattr(out, "logits") else out
        logits = logits[:, :-1]
        labels = y[:, 1:].long()
        tok = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=self.ignore_index, reduction="none"
        ).view(labels.shape)
        valid = (labels != self.ignore_index).to(tok.dtype)
        return tok * valid, valid

    def loss(self, out, y):
        tok, valid = self._token_losses(out, y)
        return tok.sum(1) / valid.sum(1).clamp(min=1)

    def output(self, out, y):
        tok, _ = self._token_losses(out, y)
        return -tok.sum(1)


class RegressionTask(Task):
    """Squared error ``0.5 * (pred - y)^2`` (summed over output dims). Output = the prediction
    (summed over output dims); Q = the residual y - pred."""

    name = "regression"

    def _pred(self, out, y):
        return out.reshape(out.shape[0], -1), y.reshape(y.shape[0], -1).to(out.dtype)

    def loss(self, out, y):
        p, t = self._pred(out, y)
        return 0.5 * ((p - t) ** 2).sum(1)

    def output(self, out, y):
        p, _ = self._pred(out, y)
        return p.sum(1)

    def output_weight(self, out, y):
        p, t = self._pred(out.detach(), y)
        return (t - p).sum(1)


TASKS = {"classification": ClassificationTask, "causal_lm": CausalLMTask, "regression": RegressionTask}
