"""Classifier recipes: logistic regression / MLP on vectors (torch), and a hashed n-gram text classifier.

Example:
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = VectorClassifier("mlp", seed=0).fit(X[:1200], y[:1200], record_dynamics=True)
    >>> clf.dynamics["correct"].shape        # epochs × training rows
    (60, 1200)
    >>> clf.score(X[1200:], y[1200:]) > 0.9
    True
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from winnow.core.text.features import hashed_text_features
from winnow.proxy.result import ProxyResult, torch_threads

VECTOR_PRESETS: dict[str, dict] = {
    "logistic": dict(hidden=0, epochs=60, lr=0.05, weight_decay=1e-3, batch=128),
    "mlp": dict(hidden=128, epochs=60, lr=0.01, weight_decay=1e-4, batch=128),
    "mlp-large": dict(hidden=512, epochs=100, lr=0.005, weight_decay=1e-4, batch=256),
}


class VectorClassifier:
    """A seeded torch classifier for dense vectors: ``logistic`` (linear) or ``mlp`` (one hidden layer).

    Inputs are standardised with the training mean/std, stored inside ``module`` as buffers, so
    ``module(raw_X)`` returns logits (what attribution methods need). With
    ``record_dynamics=True``, ``dynamics`` holds per-epoch training-set probabilities of the given
    label (``p_label``), correctness (``correct``) and EL2N norms (``el2n``), epochs × rows.
    """

    def __init__(self, preset: str = "logistic", seed: int = 0, n_classes: int | None = None, **overrides):
        if preset not in VECTOR_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(VECTOR_PRESETS)}")
        unknown = set(overrides) - set(VECTOR_PRESETS[preset])
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; valid: {sorted(VECTOR_PRESETS[preset])}")
        self.preset = preset
        self.cfg = {**VECTOR_PRESETS[preset], **overrides}
        self.seed = seed
        self.n_classes = n_classes
        self.module = None
        self.dynamics: dict[str, np.ndarray] = {}

    def _build(self, d: int, k: int, mean: np.ndarray, std: np.ndarray):
        import torch

        nn = torch.nn
        h = self.cfg["hidden"]

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
                self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
                self.net = nn.Linear(d, k) if h == 0 else nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k))

            def forward(self, x):
                return self.net((x - self.mean) / self.std)

        return Net()

    def fit(self, X, y, record_dynamics: bool = False) -> "VectorClassifier":
        with torch_threads(1):
            return self._fit(X, y, record_dynamics)

    def _fit(self, X, y, record_dynamics: bool) -> "VectorClassifier":
        import torch

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be 2-D with one row per label; got X {X.shape}, y {y.shape}")
        if len(X) == 0:
            raise ValueError("cannot fit on 0 rows")
        k = int(self.n_classes or (y.max() + 1))
        self.n_classes = k
        mean, std = X.mean(0), X.std(0) + 1e-3
        torch.manual_seed(self.seed)
        self.module = self._build(X.shape[1], k, mean, std)
        opt = torch.optim.Adam(self.module.parameters(), lr=self.cfg["lr"], weight_decay=self.cfg["weight_decay"])
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(self.seed)
        E, B = self.cfg["epochs"], self.cfg["batch"]
        if record_dynamics:
            p_label = np.zeros((E, len(X)), np.float32)
            el2n = np.zeros((E, len(X)), np.float32)
            correct = np.zeros((E, len(X)), bool)
        onehot = torch.nn.functional.one_hot(yt, k).float()
        for e in range(E):
            self.module.train()
            perm = torch.randperm(len(X), generator=gen)
            for i in range(0, len(X), B):
                b = perm[i : i + B]
                loss = torch.nn.functional.cross_entropy(self.module(Xt[b]), yt[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if record_dynamics:
                with torch.no_grad():
                    self.module.eval()
                    p = torch.softmax(self.module(Xt), 1)
                    p_label[e] = p[torch.arange(len(X)), yt].numpy()
                    el2n[e] = torch.linalg.vector_norm(p - onehot, dim=1).numpy()
                    correct[e] = (p.argmax(1) == yt).numpy()
        if record_dynamics:
            self.dynamics = {"p_label": p_label, "el2n": el2n, "correct": correct}
        self.module.eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        import torch

        if self.module is None:
            raise RuntimeError("call fit() first")
        with torch.no_grad():
            return torch.softmax(self.module(torch.as_tensor(np.asarray(X, np.float32))), 1).numpy()

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1)

    def score(self, X, y) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


def train_vector_classifier(
    X,
    y,
    X_test,
    y_test,
    *,
    preset: str = "logistic",
    seed: int = 0,
    n_classes: int | None = None,
    record_dynamics: bool = False,
    **overrides,
) -> ProxyResult:
    """Train :class:`VectorClassifier` on ``(X, y)``; metric = accuracy on ``(X_test, y_test)``."""
    t0 = time.perf_counter()
    if n_classes is None:
        n_classes = int(max(np.max(y), np.max(y_test)) + 1)
    clf = VectorClassifier(preset, seed, n_classes=n_classes, **overrides).fit(X, y, record_dynamics)
    acc = clf.score(X_test, y_test)
    return ProxyResult(
        "accuracy",
        acc,
        True,
        len(X),
        0,
        time.perf_counter() - t0,
        clf,
        {"recipe": f"vector/{preset}", "config": clf.cfg},
    )


def train_text_classifier(
    texts: Sequence[str],
    y,
    test_texts: Sequence[str],
    test_y,
    *,
    seed: int = 0,
    n_features: int = 1 << 16,
    C: float = 10.0,
) -> ProxyResult:
    """Hashed word uni+bigram features + logistic regression; metric = accuracy on the test texts.

    Example:
        >>> r = train_text_classifier(["good movie", "bad movie"] * 10, [1, 0] * 10, ["good"], [1])
        >>> r.value
        1.0
    """
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ValueError("train_text_classifier needs at least two classes in y")
    clf = LogisticRegression(C=C, max_iter=1000, random_state=seed)
    clf.fit(hashed_text_features(texts, n_features), y)
    acc = float((clf.predict(hashed_text_features(test_texts, n_features)) == np.asarray(test_y)).mean())
    return ProxyResult(
        "accuracy",
        acc,
        True,
        len(texts),
        0,
        time.perf_counter() - t0,
        clf,
        {"recipe": "text/hashed-logistic", "n_features": n_features},
    )
