"""Metagradient descent on data weights (Engstrom et al. 2025, "Optimizing ML Training with MGD").

Start from weights ``w = 1`` on every pool row, train a small proxy with a deterministic
:class:`~winnow.select.attribution.recipe.TrainRecipe`, and take the exact metagradient of the
target loss with respect to ``w`` (:func:`~winnow.select.attribution.metagrad.metagradients`:
reverse-mode through every optimizer step). Then a few steps of projected gradient descent on the
target loss: ``w <- clip(w - step_size * g / max|g|, 0, 1)`` (weights stay in the box [0, 1],
the loss is the weighted mean, so only relative weights matter). The score of a row is its final
weight (ties broken by the last metagradient); ``select(budget)`` keeps the highest.

Labelled vectors only (``(X, y)`` pools, e.g. ``winnow bench``'s noisy-label task); text pools and
the LM task are not supported yet.

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

import numpy as np
from pydantic import Field

from winnow.select.base import Selector, SelectorParams


class MetagradientDescent(Selector):
    """Projected metagradient descent on per-row data weights for the target loss.

    Args:
        n_steps: metagradient steps on the weights (each is one training run + one replay).
        step_size: the largest weight change per step (the metagradient is scaled by its max).
        hidden: proxy hidden width (0 = logistic regression; else one GELU layer, a smooth run).
        steps, lr, momentum, l2: the proxy's full-batch SGD recipe (mean CE + ``l2/2 ||theta||^2``).
            The defaults (plain SGD, small steps, early stop) keep the run smooth in the weights:
            with momentum 0.9 / large steps on standardised digits the metagradient is far noisier.
        checkpoints: the replay schedule (``"sqrt"``, ``"log"`` or an int).
    """

    name = "mgd"
    model_aware = True
    needs_target = True

    class Params(SelectorParams):
        n_steps: int = Field(3, ge=1)
        step_size: float = Field(0.5, gt=0, le=1)
        hidden: int = Field(0, ge=0)
        steps: int = Field(100, ge=1)
        lr: float = Field(0.05, gt=0)
        momentum: float = Field(0.0, ge=0, lt=1)
        l2: float = Field(1e-3, ge=0)
        checkpoints: str | int = "sqrt"

    def _recipe(self, d: int, k: int, mean: np.ndarray, std: np.ndarray):
        import torch

        from winnow.select.attribution.recipe import TrainRecipe

        hidden = self.hidden

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

        return TrainRecipe(
            model=make_model,
            optimizer="sgd",
            lr=self.lr,
            momentum=self.momentum,
            l2=self.l2,
            steps=self.steps,
            seed=self.seed,
        )

    def _score(self, pool, target):
        from winnow.select.attribution import ClassificationTask
        from winnow.select.attribution.metagrad import metagradients

        if pool.X is None or pool.y is None or target.X is None or target.y is None:
            raise ValueError(
                "mgd needs labelled vectors (x, label) for the pool and the target; "
                "text pools (the LM task) are not supported yet"
            )
        classes = np.unique(np.concatenate([pool.y, target.y]))
        yp, yt = np.searchsorted(classes, pool.y), np.searchsorted(classes, target.y)
        X = np.asarray(pool.X, np.float32)
        recipe = self._recipe(X.shape[1], len(classes), X.mean(0), X.std(0) + 1e-3)
        task = ClassificationTask()
        w = np.ones(len(X))
        self.history_ = []
        for _ in range(self.n_steps):
            g = metagradients(
                recipe,
                task,
                (X, yp),
                (np.asarray(target.X, np.float32), yt),
                weights=w,
                target_fn="mean_loss",
                checkpoints=self.checkpoints,
            )[:, 0]
            scale = float(np.abs(g).max()) or 1.0
            w = np.clip(w + self.step_size * g / scale, 0.0, 1.0)  # + g: g is d(-target loss)/dw
            self.history_.append(float(w.mean()))
        self.weights_, self.metagradient_ = w, g
        return w + 1e-6 * g / scale
