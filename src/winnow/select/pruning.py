"""Classic data-pruning scores for classifiers (Paul et al. 2021; Toneva et al. 2019; Sorscher et al. 2022).

All three need labels (column ``label``); text rows are embedded with hashed n-grams + SVD.
``keep="easy"`` (default) keeps the easiest examples first — the right choice for small
budgets and for noisy labels, where the "hardest" examples are mostly mislabelled;
``keep="hard"`` keeps the hardest first (Sorscher et al.: best when data is plentiful and clean).

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> y_noisy = y.copy(); y_noisy[:100] = (y[:100] + 1) % 10          # flip 100 labels
    >>> s = EL2N(seed=0).fit((X, y_noisy)).scores_
    >>> from sklearn.metrics import roc_auc_score
    >>> roc_auc_score(np.arange(len(y)) < 100, -s) > 0.9                # flipped rows score low
    True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from winnow.errors import SelectorError
from winnow.select.base import Selector, SelectorParams
from winnow.select.features import dense_embed

Keep = Literal["easy", "hard"]


def _labelled(pool, name: str):
    if pool.y is None:
        raise SelectorError(f"{name} needs labels: a 'label' column (or (X, y))")
    if pool.X is not None:
        return pool.X, pool.y
    X, _ = dense_embed(pool, None, 128, 0)
    return X, pool.y


def _dynamics(X, y, preset: str, epochs: int, seed: int):
    from winnow.proxy.classify import VectorClassifier

    _, yi = np.unique(y, return_inverse=True)
    clf = VectorClassifier(preset, seed=seed, epochs=epochs).fit(X, yi, record_dynamics=True)
    return clf.dynamics


class EL2N(Selector):
    """EL2N: ``‖softmax(f(x)) − onehot(y)‖₂`` early in training, averaged over ``n_models`` seeds.

    Args:
        epoch: the epoch (1-based) at which the norm is read (Paul et al. use an early epoch).
        n_models: independently seeded proxies to average.
        preset: :data:`winnow.proxy.VECTOR_PRESETS` name.
    """

    name = "el2n"
    model_aware = True

    class Params(SelectorParams):
        epoch: int = Field(10, ge=1)
        n_models: int = Field(3, ge=1)
        preset: str = "mlp"
        keep: Keep = "easy"

    def _score(self, pool, target):
        X, y = _labelled(pool, "el2n")
        norms = [
            _dynamics(X, y, self.preset, self.epoch, self.seed * 1000 + m)["el2n"][-1] for m in range(self.n_models)
        ]
        el2n = np.mean(norms, axis=0).astype(np.float64)
        self.el2n_ = el2n
        return -el2n if self.keep == "easy" else el2n


class Forgetting(Selector):
    """Forgetting events (Toneva et al. 2019): how often a row flips from learned to forgotten.

    Rows never learned count as ``epochs`` events (the maximum). Ties are broken by the mean
    probability of the given label over training (higher = easier).
    """

    name = "forgetting"
    model_aware = True

    class Params(SelectorParams):
        epochs: int = Field(30, ge=1)
        preset: str = "mlp"
        keep: Keep = "easy"

    def _score(self, pool, target):
        X, y = _labelled(pool, "forgetting")
        d = _dynamics(X, y, self.preset, self.epochs, self.seed)
        c = d["correct"]
        events = (c[:-1] & ~c[1:]).sum(0).astype(np.float64)
        events[~c.any(0)] = self.epochs
        self.events_ = events
        hardness = events + (1.0 - d["p_label"].mean(0)) * 0.5
        return -hardness if self.keep == "easy" else hardness


class PrototypeDistance(Selector):
    """Distance to a prototype (Sorscher et al. 2022): k-means centroids of the embeddings
    (self-supervised, the paper's metric) or, with ``use_labels=True``, the centroid of the row's
    own class. Close to the prototype = easy.
    """

    name = "prototype"

    class Params(SelectorParams):
        n_clusters: int | None = Field(None, ge=1)
        use_labels: bool = False
        keep: Keep = "easy"

    def _score(self, pool, target):
        if self.use_labels:
            X, y = _labelled(pool, "prototype(use_labels=True)")
            X = (X - X.mean(0)) / (X.std(0) + 1e-3) if pool.X is not None else X
            dist = np.empty(len(X))
            for c in np.unique(y):
                m = y == c
                dist[m] = np.linalg.norm(X[m] - X[m].mean(0), axis=1)
        else:
            from sklearn.cluster import KMeans

            X, _ = dense_embed(pool, None, 128, self.seed)
            k = self.n_clusters or (len(np.unique(pool.y)) if pool.y is not None else 10)
            km = KMeans(n_clusters=min(k, len(X)), n_init=3, random_state=self.seed).fit(X)
            dist = np.linalg.norm(X - km.cluster_centers_[km.labels_], axis=1)
        self.distance_ = dist
        return -dist if self.keep == "easy" else dist
