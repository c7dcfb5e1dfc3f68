"""Interpolated Kneser–Ney bigram LM over token ids, fitted and evaluated with numpy only.

    P(b|a) = max(c(a,b) − D, 0) / c(a) + D · N1+(a•) / c(a) · P_cont(b)
    P_cont(b) = (N1+(•b) + 1) / (N1+(••) + V)        (add-one so every token has mass)

Example:
    >>> import numpy as np
    >>> lm = NgramLM(vocab_size=10).fit([np.array([1, 2, 3, 1, 2, 3])])
    >>> round(lm.perplexity([np.array([1, 2, 3])]), 2) < round(lm.perplexity([np.array([3, 2, 1])]), 2)
    True
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from winnow.proxy.result import ProxyResult


def _pairs(docs: Sequence[np.ndarray], eos: int) -> tuple[np.ndarray, np.ndarray]:
    """(prev, next) token pairs of every document, each preceded by ``eos`` as its start context."""
    if not docs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    seqs = [np.concatenate([[eos], np.asarray(d, np.int64)]) for d in docs]
    prev = np.concatenate([s[:-1] for s in seqs])
    nxt = np.concatenate([s[1:] for s in seqs])
    return prev, nxt


class NgramLM:
    """Bigram LM with interpolated Kneser–Ney smoothing (discount ``D``).

    ``eos`` is the context of each document's first token (default ``vocab_size - 1``; pass the
    tokenizer's end-of-document id).
    """

    def __init__(self, vocab_size: int, discount: float = 0.75, eos: int | None = None):
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.V = int(vocab_size)
        self.D = float(discount)
        self.eos = int(vocab_size - 1 if eos is None else eos)

    def fit(self, docs: Sequence[np.ndarray]) -> "NgramLM":
        prev, nxt = _pairs(docs, self.eos)
        V = self.V
        codes, counts = np.unique(prev * V + nxt, return_counts=True)
        self.codes_, self.pair_counts_ = codes, counts.astype(np.float64)
        a, b = codes // V, codes % V
        self.ctx_count_ = np.bincount(a, weights=self.pair_counts_, minlength=V)
        self.ctx_types_ = np.bincount(a, minlength=V).astype(np.float64)
        cont = np.bincount(b, minlength=V).astype(np.float64)
        self.p_cont_ = (cont + 1.0) / (cont.sum() + V)
        return self

    def log_prob(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Natural-log probability of each ``nxt`` token given ``prev`` (vectorised)."""
        V = self.V
        q = prev * V + nxt
        pos = np.searchsorted(self.codes_, q)
        pos = np.minimum(pos, len(self.codes_) - 1) if len(self.codes_) else pos
        c_ab = (
            np.where((len(self.codes_) > 0) & (self.codes_[pos] == q), self.pair_counts_[pos], 0.0)
            if len(self.codes_)
            else np.zeros(len(q))
        )
        c_a = self.ctx_count_[prev]
        pc = self.p_cont_[nxt]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(
                c_a > 0,
                (np.maximum(c_ab - self.D, 0) + self.D * self.ctx_types_[prev] * pc) / np.maximum(c_a, 1e-12),
                pc,
            )
        return np.log(p)

    def doc_log_probs(self, docs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-document (sum of log-probs, token count)."""
        prev, nxt = _pairs(docs, self.eos)
        lp = self.log_prob(prev, nxt)
        lens = np.array([len(d) for d in docs], dtype=np.int64)
        doc_idx = np.repeat(np.arange(len(docs)), lens)
        return np.bincount(doc_idx, weights=lp, minlength=len(docs)), lens

    def perplexity(self, docs: Sequence[np.ndarray]) -> float:
        prev, nxt = _pairs(docs, self.eos)
        if len(nxt) == 0:
            raise ValueError("perplexity needs at least one token")
        return float(np.exp(-self.log_prob(prev, nxt).mean()))


def train_ngram_lm(
    train_docs: Sequence[np.ndarray],
    target_docs: Sequence[np.ndarray],
    vocab_size: int,
    eos: int | None = None,
    discount: float = 0.75,
) -> ProxyResult:
    """Fit a KN bigram LM on token-id documents; metric = perplexity on ``target_docs``."""
    t0 = time.perf_counter()
    lm = NgramLM(vocab_size, discount=discount, eos=eos).fit(train_docs)
    ppl = lm.perplexity(target_docs)
    return ProxyResult(
        "perplexity",
        ppl,
        False,
        len(train_docs),
        int(sum(len(d) for d in train_docs)),
        time.perf_counter() - t0,
        lm,
        {"recipe": "ngram-kn2"},
    )
