"""Bundled proxy tasks for ``winnow attribute``: small, real, offline (scikit-learn's 8x8 digits).

Example:
    >>> from winnow.select.attribution.proxy_tasks import build_proxy
    >>> p = build_proxy("digits-lr", n_train=200, n_test=20, seed=0)
    >>> p.model, len(p.train_ids)
    (Linear(in_features=64, out_features=10, bias=True), 200)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from winnow.select.attribution.data import AttributionError

PROXIES = {
    "digits-lr": "logistic regression on scikit-learn digits (64 features, 10 classes)",
    "digits-mlp": "MLP 64-128-64-10 (ReLU) on scikit-learn digits",
}


@dataclass
class Proxy:
    name: str
    model: torch.nn.Module
    train: tuple[torch.Tensor, torch.Tensor]
    target: tuple[torch.Tensor, torch.Tensor]
    train_ids: list[str]
    target_ids: list[str]
    flipped: np.ndarray  # bool [n_train]: labels flipped on purpose
    checkpoints: list[dict]
    lr: float
    weight_decay: float


def make_model(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name == "digits-lr":
        return torch.nn.Linear(64, 10)
    if name == "digits-mlp":
        return torch.nn.Sequential(
            torch.nn.Linear(64, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 10),
        )
    raise AttributionError(f"proxy task must be one of {sorted(PROXIES)}, got {name!r}")


def train_sgd(
    model: torch.nn.Module,
    X,
    y,
    *,
    epochs: int = 30,
    lr: float = 0.1,
    weight_decay: float = 1e-3,
    momentum: float = 0.0,
    batch_size: int = 64,
    seed: int = 0,
    checkpoint_every: int = 0,
):
    """Mini-batch SGD on cross-entropy; returns the checkpoints taken every ``checkpoint_every`` epochs."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay, momentum=momentum)
    g = torch.Generator().manual_seed(seed)
    cks = []
    for ep in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for s in range(0, len(X), batch_size):
            b = perm[s : s + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(X[b]), y[b]).backward()
            opt.step()
        if checkpoint_every and (ep + 1) % checkpoint_every == 0:
            cks.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return cks


def build_proxy(name: str, n_train: int = 1000, n_test: int = 200, seed: int = 0, flip: float = 0.0) -> Proxy:
    """Split digits (seeded), optionally flip a fraction of train labels, train the proxy model."""
    from sklearn.datasets import load_digits

    if name not in PROXIES:
        raise AttributionError(f"proxy task must be one of {sorted(PROXIES)}, got {name!r}")
    X, y = load_digits(return_X_y=True)
    if n_train < 1 or n_test < 1 or n_train + n_test > len(X):
        raise AttributionError(f"n_train + n_test must be between 2 and {len(X)}, got {n_train} + {n_test}")
    if not 0 <= flip < 1:
        raise AttributionError(f"flip must be in [0, 1), got {flip}")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    tr, te = idx[:n_train], idx[n_train : n_train + n_test]
    Xt = torch.tensor(X / 16.0, dtype=torch.float32)
    yt = torch.tensor(y)
    ytr = yt[tr].clone()
    flipped = np.zeros(n_train, bool)
    if flip:
        f = rng.choice(n_train, size=int(round(flip * n_train)), replace=False)
        ytr[f] = (ytr[f] + torch.as_tensor(rng.integers(1, 10, len(f)))) % 10
        flipped[f] = True
    model = make_model(name, seed)
    lr, mom = (0.1, 0.0) if name == "digits-lr" else (0.05, 0.9)
    cks = train_sgd(model, Xt[tr], ytr, lr=lr, momentum=mom, seed=seed, checkpoint_every=6)
    return Proxy(
        name,
        model,
        (Xt[tr], ytr),
        (Xt[te], yt[te]),
        [f"digits-{i}" for i in tr],
        [f"digits-{i}" for i in te],
        flipped,
        cks,
        lr,
        1e-3,
    )
