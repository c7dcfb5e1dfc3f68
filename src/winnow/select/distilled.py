"""Fast text scorers as selectors: the influence-distilled scorer and the DCLM-style classifier.

* ``distilled`` — the influence-distilled selector in one step: train the proxy on the pool
  (as ``influence`` does), attribute only a random ``sample`` of the pool against the target
  (TRAK by default), train the hashed n-gram model of :mod:`winnow.curate.quality` to predict
  those scores, then score every pool document with it. Attribution costs a backward pass per
  document; the distilled model costs a hash and a sparse dot product, so the pool can be many
  times the attributed sample. The same chain as CLI commands::

      winnow attribute --pool sample.jsonl --target target.jsonl -o scores.parquet
      winnow quality train --scores scores.parquet --texts sample.jsonl -o models/distilled
      winnow select --pool pool.jsonl --method quality_classifier --param model=models/distilled --budget 10%

* ``quality_classifier`` — a saved quality model (``model=FOLDER`` from ``winnow quality
  train``) scores the pool; without ``model``, the DCLM recipe in miniature: a classifier of
  target documents (positives) against pool documents (negatives).

Both record ``cost_`` (CPU seconds: ``fixed_cpu_s`` for proxies and training,
``per_doc_cpu_s`` for scoring the ``n_docs`` pool documents), which ``winnow bench`` reports as
CPU-seconds per 1k documents.

Example:
    >>> from winnow.select import get_selector
    >>> pool = [f"cats purr softly {i}" for i in range(20)] + [f"stock prices fell {i}" for i in range(20)]
    >>> sel = get_selector("quality_classifier").fit(pool, target=["the cats purr", "cats purr all day"])
    >>> sorted(int(i) for i in sel.select(5))  # the cat documents come first
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

from winnow.errors import SelectorError
from winnow.select.base import Selector, SelectorParams
from winnow.select.influence import Influence


class QualityClassifier(Selector):
    """Score pool texts with a fast hashed n-gram model (:class:`~winnow.curate.quality.model.QualityModel`).

    Args:
        model: a model folder written by ``winnow quality train`` (DCLM or distilled); without
            it, train the DCLM-style classifier here: target texts = positives, pool texts
            (at most ``n_negatives``, seeded sample) = negatives.
        n_bits, word_ngrams, C: the classifier's features and inverse L2 strength.
    """

    name = "quality_classifier"
    needs_target = False

    class Params(SelectorParams):
        model: str | None = None
        n_negatives: int | None = Field(None, ge=1)
        n_bits: int = Field(20, ge=8, le=28)
        word_ngrams: int = Field(2, ge=1)
        C: float = Field(10.0, gt=0)

    def _score(self, pool, target):
        from winnow.curate.quality.model import QualityModel

        if pool.texts is None:
            raise SelectorError("quality_classifier needs text in the pool (column 'text')")
        c0 = time.process_time()
        if self.model is not None:
            m = QualityModel.load(self.model)
        else:
            if target is None or target.texts is None:
                raise SelectorError("quality_classifier without model= trains on a text target: give target=")
            neg = pool.texts
            if self.n_negatives is not None and self.n_negatives < len(neg):
                pick = np.random.default_rng(self.seed).choice(len(neg), self.n_negatives, replace=False)
                neg = [neg[i] for i in np.sort(pick)]
            m = QualityModel.train_classifier(
                target.texts,
                neg,
                n_bits=self.n_bits,
                word_ngrams=self.word_ngrams,
                C=self.C,
                seed=self.seed,
                calibrate_on_negatives=False,
            )
        c1 = time.process_time()
        s = np.asarray(m.decision(pool.texts), dtype=np.float64)
        self.model_ = m
        self.cost_ = {"fixed_cpu_s": c1 - c0, "per_doc_cpu_s": time.process_time() - c1, "n_docs": len(pool)}
        return s


class Distilled(Selector):
    """Influence-distilled selection: attribute a ``sample`` of the pool, distil, score the pool.

    Args:
        sample: pool documents to attribute: a fraction (``0.1``) or a count (``500``).
        method, n_models, preset, proxy_options, vocab_size, how, options: as for the
            ``influence`` selector (the proxy trains on the whole pool; only the sample is attributed).
        binarize: train a classifier on the top fraction of the attributed scores instead of
            regressing them (``None``: ridge regression on the standardised scores).
        alpha: ridge strength; n_bits, word_ngrams: the hashed n-gram features.

    After ``fit``: ``sample_`` (the attributed rows), ``teacher_`` (their attribution scores),
    ``model_`` (the distilled :class:`~winnow.curate.quality.model.QualityModel`) and ``cost_``.
    """

    name = "distilled"
    model_aware = True
    needs_target = True

    class Params(Influence.Params):  # + the influence selector's proxy and attribution options
        sample: float = Field(0.1, gt=0)
        binarize: float | None = Field(None, gt=0, lt=1)
        alpha: float = Field(1.0, gt=0)
        n_bits: int = Field(20, ge=8, le=28)
        word_ngrams: int = Field(2, ge=1)

    def _score(self, pool, target):
        from winnow.curate.quality.model import QualityModel

        if pool.texts is None or target is None or target.texts is None:
            raise SelectorError("distilled needs text in both pool and target (column 'text')")
        n = len(pool)
        k = int(round(self.sample * n)) if self.sample < 1 else int(self.sample)
        if not 4 <= k <= n:
            raise SelectorError(f"distilled: sample={self.sample} gives {k} of {n} documents; need 4..{n}")
        rows = np.sort(np.random.default_rng(self.seed).choice(n, k, replace=False))
        inf = Influence(
            method=self.method,
            n_models=self.n_models,
            preset=self.preset,
            how=self.how,
            vocab_size=self.vocab_size,
            proxy_options=self.proxy_options,
            options=self.options,
            seed=self.seed,
        )
        c0 = time.process_time()
        models, task, train, tgt = inf._proxies(pool, target)
        ct = time.process_time()
        teacher = inf._attribute(models, task, train, tgt, rows=rows)
        teacher_s = time.process_time() - ct
        texts = [pool.texts[i] for i in rows]
        m = QualityModel.train_regressor(
            texts,
            teacher,
            binarize=self.binarize,
            alpha=self.alpha,
            n_bits=self.n_bits,
            word_ngrams=self.word_ngrams,
            seed=self.seed,
        )
        c1 = time.process_time()
        s = np.asarray(m.decision(pool.texts), dtype=np.float64)
        self.sample_, self.teacher_, self.model_ = rows, teacher, m
        self.cost_ = {
            "fixed_cpu_s": c1 - c0,
            "per_doc_cpu_s": time.process_time() - c1,
            "n_docs": n,
            "teacher_cpu_s": teacher_s,  # attributing the sample: the per-document cost of direct attribution
            "n_teacher": k,
        }
        return s
