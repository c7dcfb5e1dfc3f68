"""Untargeted and targeted strategies: random, top-k / threshold, DSIR, embedding similarity,
Moore–Lewis cross-entropy difference, and diversity (k-center / cluster-balanced).

Example:
    >>> from winnow.select import DSIR
    >>> pool = ["def f(x): return x", "the cat sat", "import os", "a dog ran"]
    >>> dsir = DSIR(n_buckets=1000, resample="topk")
    >>> _ = dsir.fit(pool, target=["import sys", "def g(y): return y"])
    >>> dsir.select(1).tolist()      # ids default to row numbers
    ['2']
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from winnow.core.text.features import hashed_ngram_counts, wordpunct
from winnow.errors import SelectorError
from winnow.select.base import Selector, SelectorParams
from winnow.select.features import dense_embed


def id_uniform(ids, seed: int) -> np.ndarray:
    """A uniform [0, 1) number per id from xxhash64(id, seed): independent of row order and sharding."""
    import xxhash

    h = np.fromiter(
        (xxhash.xxh64_intdigest(str(i).encode("utf-8"), seed) for i in ids), dtype=np.uint64, count=len(ids)
    )
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class Random(Selector):
    """Uniform random selection (seeded): the baseline every strategy is measured against.

    Each row's score is a hash of its id and the seed, so the same rows are chosen whatever the
    row order or the sharding (the ``select`` pipeline step gives the same rows as the library).
    """

    name = "random"

    def _score(self, pool, target):
        return id_uniform(pool.ids, self.seed)


class TopK(Selector):
    """Top-k (or threshold) on any numeric score column of the pool.

    Args:
        column: the score column (e.g. ``quality_score`` written by a quality step).
        descending: keep the highest values first (False: lowest first, e.g. perplexity).
        min, max: rows outside ``[min, max]`` are never selected (a threshold); with a budget of
            ``1.0`` this is a pure threshold filter.
    """

    name = "topk"

    class Params(SelectorParams):
        column: str
        descending: bool = True
        min: float | None = None
        max: float | None = None

    def _score(self, pool, target):
        if self.column not in pool.columns:
            raise SelectorError(f"topk: pool has no column {self.column!r}; columns: {sorted(pool.columns)}")
        v = np.asarray(pool.columns[self.column], dtype=np.float64)
        s = v.copy() if self.descending else -v
        bad = ~np.isfinite(v)
        if self.min is not None:
            bad |= v < self.min
        if self.max is not None:
            bad |= v > self.max
        s[bad] = -np.inf
        return s


class DSIR(Selector):
    """Data Selection with Importance Resampling (Xie et al. 2023) over hashed word n-grams.

    Fits bag-of-hashed-n-gram distributions on the pool ("raw") and the target; a row's score
    is its log importance weight ``Σ_buckets count · (log p_target − log p_raw)``. ``select``
    resamples without replacement by Gumbel top-k on those weights (``resample="gumbel"``, seeded)
    or takes the top-k (``resample="topk"``). Defaults follow the reference ``data-selection``
    package (2-grams, 10,000 buckets, WordPunct tokens, +1e-8 smoothing); ``hash="sha256"``
    reproduces its buckets exactly, ``xxhash`` is faster. Rows shorter than
    ``min_example_length`` tokens are never selected (the reference uses 100).
    """

    name = "dsir"
    needs_target = True

    class Params(SelectorParams):
        ngrams: int = Field(2, ge=1)
        n_buckets: int = Field(10000, ge=1)
        hash: Literal["xxhash", "sha256"] = "xxhash"
        min_example_length: int = Field(0, ge=0)
        resample: Literal["gumbel", "topk"] = "gumbel"

    def _score(self, pool, target):
        if pool.texts is None or target.texts is None:
            raise SelectorError("dsir needs text in both pool and target (column 'text')")
        Fp = hashed_ngram_counts(pool.texts, self.n_buckets, self.ngrams, self.hash)
        Ft = hashed_ngram_counts(target.texts, self.n_buckets, self.ngrams, self.hash)
        raw = np.asarray(Fp.sum(0)).ravel()
        tgt = np.asarray(Ft.sum(0)).ravel()
        raw, tgt = raw / max(raw.sum(), 1), tgt / max(tgt.sum(), 1)
        self.log_diff_ = np.log(tgt + 1e-8) - np.log(raw + 1e-8)
        w = Fp @ self.log_diff_
        length = (np.asarray(Fp.sum(1)).ravel() + self.ngrams * (self.ngrams - 1) / 2) // self.ngrams
        w = np.asarray(w, dtype=np.float64)
        w[length < self.min_example_length] = -np.inf
        return w

    def _order(self, budget):
        s = self.scores_.copy()
        if self.resample == "gumbel":
            s = s + np.random.default_rng(self.seed).gumbel(size=len(s))
        order = np.argsort(-s, kind="stable")
        return order[np.isfinite(s[order])]


class EmbeddingSimilarity(Selector):
    """Cosine similarity of each pool row to the target set.

    Embeddings: vectors as given (standardised), or hashed word n-gram TF features reduced by
    SVD for text (see :func:`~winnow.select.features.dense_embed`). ``agg="centroid"`` compares to
    the target mean; ``agg="knn"`` averages the ``k`` most similar target rows. With
    ``by_label=True`` (default when pool and target are both labelled) each row is compared to the
    target rows of its own label.
    """

    name = "similarity"
    needs_target = True

    class Params(SelectorParams):
        agg: Literal["centroid", "knn"] = "centroid"
        k: int = Field(10, ge=1)
        by_label: bool | None = None
        dim: int = Field(128, ge=1)

    def _score(self, pool, target):
        P, T = dense_embed(pool, target, self.dim, self.seed)
        if T is None:
            raise SelectorError("similarity: target has no data of the pool's kind (text or vectors)")
        P = P / (np.linalg.norm(P, axis=1, keepdims=True) + 1e-12)
        T = T / (np.linalg.norm(T, axis=1, keepdims=True) + 1e-12)
        by_label = self.by_label if self.by_label is not None else (pool.y is not None and target.y is not None)
        groups = [(np.ones(len(P), bool), np.ones(len(T), bool))]
        if by_label:
            if pool.y is None or target.y is None:
                raise SelectorError("similarity: by_label=True needs a 'label' column in pool and target")
            groups = [(pool.y == c, target.y == c) for c in np.unique(pool.y)]
        out = np.full(len(P), -np.inf)
        for pm, tm in groups:
            if not tm.any() or not pm.any():
                continue
            if self.agg == "centroid":
                c = T[tm].mean(0)
                out[pm] = P[pm] @ (c / (np.linalg.norm(c) + 1e-12))
            else:
                S = P[pm] @ T[tm].T
                k = min(self.k, S.shape[1])
                out[pm] = np.sort(S, axis=1)[:, -k:].mean(1)
        return out


def _word_ids(texts: list[str], vocab_bits: int = 16) -> list[np.ndarray]:
    import xxhash

    V = 1 << vocab_bits
    cache: dict[str, int] = {}
    out = []
    for t in texts:
        out.append(
            np.asarray(
                [
                    cache[w] if w in cache else cache.setdefault(w, xxhash.xxh64_intdigest(w.encode("utf-8")) % V)
                    for w in wordpunct(t)
                ],
                dtype=np.int64,
            )
        )
    return out


class CrossEntropyDifference(Selector):
    """Moore–Lewis selection: per-token ``log p_target(x) − log p_pool(x)`` under two proxy LMs.

    Both proxies are the Kneser–Ney bigram LM of :mod:`winnow.proxy` over hashed WordPunct tokens,
    one trained on the target set and one on the pool. Higher = more target-like.
    """

    name = "ce_diff"
    needs_target = True
    model_aware = True

    class Params(SelectorParams):
        vocab_bits: int = Field(16, ge=1, le=30)
        discount: float = Field(0.75, gt=0, le=1)

    def _score(self, pool, target):
        from winnow.proxy.ngram import NgramLM

        if pool.texts is None or target.texts is None:
            raise SelectorError("ce_diff needs text in both pool and target (column 'text')")
        V = (1 << self.vocab_bits) + 1
        P, T = _word_ids(pool.texts, self.vocab_bits), _word_ids(target.texts, self.vocab_bits)
        lm_t = NgramLM(V, self.discount, eos=V - 1).fit(T)
        lm_p = NgramLM(V, self.discount, eos=V - 1).fit(P)
        lt, n = lm_t.doc_log_probs(P)
        lp, _ = lm_p.doc_log_probs(P)
        return (lt - lp) / np.maximum(n, 1)


class Diversity(Selector):
    """Diversity-aware selection over embeddings.

    ``method="kcenter"``: greedy k-center (farthest-first traversal from a seeded random start);
    the selection order covers the pool as evenly as possible. ``method="cluster"``: k-means into
    ``n_clusters`` clusters, then round-robin across clusters (within a cluster: seeded random
    order, or the pool column ``score_column`` descending), so every cluster gets an equal share.
    """

    name = "diversity"

    class Params(SelectorParams):
        method: Literal["kcenter", "cluster"] = "kcenter"
        n_clusters: int = Field(20, ge=1)
        score_column: str | None = None
        dim: int = Field(64, ge=1)

    def _score(self, pool, target):
        E, _ = dense_embed(pool, None, self.dim, self.seed)
        n = len(E)
        rng = np.random.default_rng(self.seed)
        if self.method == "kcenter":
            order = np.empty(n, np.int64)
            sq = (E * E).sum(1)
            first = int(rng.integers(n))
            d = sq - 2 * E @ E[first] + sq[first]
            order[0] = first
            d[first] = -np.inf
            for i in range(1, n):
                j = int(np.argmax(d))
                order[i] = j
                d = np.minimum(d, sq - 2 * E @ E[j] + sq[j])
                d[j] = -np.inf
        else:
            from sklearn.cluster import KMeans

            k = min(self.n_clusters, n)
            lab = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit_predict(E)
            if self.score_column:
                if self.score_column not in pool.columns:
                    raise SelectorError(f"diversity: pool has no column {self.score_column!r}")
                key = -np.asarray(pool.columns[self.score_column], np.float64)
            else:
                key = rng.random(n)
            o = np.lexsort((key, lab))
            rank = np.empty(n, np.int64)
            starts = np.searchsorted(lab[o], np.arange(k))
            rank[o] = np.arange(n) - starts[lab[o]]
            order = np.lexsort((lab, rank))
        scores = np.empty(n)
        scores[order] = -np.arange(n, dtype=np.float64)
        return scores
