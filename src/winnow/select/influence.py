"""Model-aware selection from data attribution (TRAK, influence functions, TracIn, ...).

A proxy is trained on the whole pool with a fixed recipe (:mod:`winnow.proxy`), then
:func:`winnow.select.attribution.attribute` scores every (pool row, target row) pair; a row's score is
the mean over the target set (positive = training on it lowers the target loss). Labelled
vectors use :class:`~winnow.proxy.VectorClassifier` + ``ClassificationTask``; text uses the tiny
LM (BPE trained on the pool) + ``CausalLMTask`` over each document's first ``ctx`` tokens.

Example:
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> s = Influence(method="trak", n_models=2, seed=0)                   # doctest: +SKIP
    >>> scores = s.fit((X[:500], y[:500]), target=(X[500:600], y[500:600])).scores_  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from winnow.errors import SelectorError
from winnow.select.base import Selector, SelectorParams


def _windows(docs, ctx: int, eos: int):
    """First ``ctx`` tokens of each document as [n, ctx] ids, with -100 labels on padding."""
    import torch

    X = np.full((len(docs), ctx), eos, np.int64)
    Y = np.full((len(docs), ctx), -100, np.int64)
    for i, d in enumerate(docs):
        d = np.concatenate([[eos], np.asarray(d, np.int64)])[:ctx]
        X[i, : len(d)] = d
        Y[i, : len(d)] = d
    return torch.from_numpy(X), torch.from_numpy(Y)


class Influence(Selector):
    """Score pool rows by their attributed effect on the target loss (``winnow.select.attribution``).

    Args:
        method: ``trak`` (default), ``influence``, ``tracin``, ``cosine``, ... (see ``attribute``).
        n_models: independently seeded proxies (TRAK ensembles them; others use the first).
        preset: proxy preset — a :data:`~winnow.proxy.VECTOR_PRESETS` name for labelled vectors
            (default ``logistic``) or an :data:`~winnow.proxy.LM_PRESETS` name for text (``cpu-tiny``).
        proxy_options: overrides of the proxy preset (e.g. ``{"epochs": 10}`` or ``{"steps": 200}``).
        how: how to aggregate over target rows (``mean``, ``sum``, ...; see ``AttributionResult.aggregate``).
        options: passed to ``attribute`` (``proj_dim``, ``damping``, ``batch_size``, ...); unknown
            keyword arguments are collected here and validated against the method's options model
            (:mod:`winnow.select.attribution.options`).
    """

    name = "influence"
    model_aware = True
    needs_target = True

    class Params(SelectorParams):
        method: str = "trak"
        n_models: int = Field(1, ge=1)
        preset: str | None = None
        how: str = "mean"
        vocab_size: int = Field(1024, ge=2)
        proxy_options: dict[str, Any] = Field(default_factory=dict)
        options: dict[str, Any] = Field(default_factory=dict)

        @model_validator(mode="before")
        @classmethod
        def _collect_options(cls, data):
            """Keyword arguments that are not parameters are options of ``attribute``."""
            if isinstance(data, dict):
                extra = {k: v for k, v in data.items() if k not in cls.model_fields}
                if extra:
                    data = {k: v for k, v in data.items() if k in cls.model_fields}
                    data["options"] = {**(data.get("options") or {}), **extra}
                if data.get("proxy_options") is None:
                    data.pop("proxy_options", None)
            return data

        @model_validator(mode="after")
        def _check_options(self):
            from winnow.select.attribution.options import COMMON, validate_options

            validate_options(self.method, {k: v for k, v in self.options.items() if k not in COMMON})
            return self

    def _score(self, pool, target):
        import time

        c0 = time.process_time()
        models, task, train, tgt = self._proxies(pool, target)
        c1 = time.process_time()
        scores = self._attribute(models, task, train, tgt)
        # per-document work = gradients + scores of every pool row; the proxy is a fixed cost
        self.cost_ = {"fixed_cpu_s": c1 - c0, "per_doc_cpu_s": time.process_time() - c1, "n_docs": len(pool)}
        return scores

    def _attribute(self, models, task, train, tgt, rows=None) -> np.ndarray:
        """Scores of the training rows ``rows`` (default all) against the target."""
        from winnow.select.attribution import attribute

        if rows is not None:
            train = (train[0][rows], train[1][rows])
        model = models if (self.method == "trak" and len(models) > 1) else models[0]
        res = attribute(model, task, train, tgt, method=self.method, seed=self.seed, **self.options)
        self.result_ = res
        return np.asarray(res.aggregate(how=self.how), dtype=np.float64)

    def _proxies(self, pool, target):
        """``(models, task, train, target)``: the proxies trained on the whole pool, the attribution
        task and the pool / target as tensors."""
        import torch

        if pool.X is not None and pool.y is not None:
            from winnow.proxy.classify import VectorClassifier
            from winnow.select.attribution import ClassificationTask

            if target.X is None or target.y is None:
                raise SelectorError("influence: a labelled vector pool needs a labelled vector target (x, label)")
            classes = np.unique(np.concatenate([pool.y, target.y]))
            yp, yt = np.searchsorted(classes, pool.y), np.searchsorted(classes, target.y)
            models = [
                VectorClassifier(
                    self.preset or "logistic", seed=self.seed * 1000 + m, n_classes=len(classes), **self.proxy_options
                )
                .fit(pool.X, yp)
                .module
                for m in range(self.n_models)
            ]
            train = (torch.from_numpy(pool.X), torch.from_numpy(yp))
            tgt = (torch.from_numpy(target.X), torch.from_numpy(yt))
            task = ClassificationTask()
        elif pool.texts is not None:
            from winnow.proxy.lm import LM_PRESETS, train_lm
            from winnow.proxy.tokenize import BPETokenizer
            from winnow.select.attribution import CausalLMTask

            if target.texts is None:
                raise SelectorError("influence: a text pool needs a text target")
            preset = self.preset or "cpu-tiny"
            tok = BPETokenizer.train(pool.texts, vocab_size=self.vocab_size)
            P, T = tok.encode(pool.texts), tok.encode(target.texts)
            models = [
                train_lm(
                    None,
                    None,
                    tokenizer=tok,
                    preset=preset,
                    seed=self.seed * 1000 + m,
                    train_ids=P,
                    target_ids=T,
                    **self.proxy_options,
                ).model.cpu()
                for m in range(self.n_models)
            ]
            ctx = LM_PRESETS[preset]["ctx"]
            train, tgt = _windows(P, ctx, tok.eos_id), _windows(T, ctx, tok.eos_id)
            task = CausalLMTask()
        else:
            raise SelectorError("influence needs labelled vectors (x, label) or text")
        return models, task, train, tgt
