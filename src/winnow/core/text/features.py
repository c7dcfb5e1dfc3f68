"""Hashed text features, each kept byte-compatible with what it is compared against:

* :class:`HashingFeaturizer` — fastText-style: byte-level whitespace tokens (+ word n-grams, optional
  byte n-grams inside tokens) hashed into ``2**n_bits`` buckets by :mod:`winnow.core.text.byte_tokens`;
  quality models save its settings and :data:`HASHING`.
* :func:`hashed_ngram_counts` — DSIR's: WordPunct tokens (nltk's regex, lower-cased) and 1..n-grams
  hashed per distinct string (``hash="sha256"`` equals the reference ``data-selection`` buckets).
* :func:`hashed_text_features` — scikit-learn's ``HashingVectorizer`` (its own word regex), L2-normed:
  the proxy text classifier and the dense embeddings of selection.

    >>> wordpunct("Don't stop!")
    ['don', "'", 't', 'stop', '!']
    >>> hashed_ngram_counts(["a b a"], n_buckets=64).sum()   # a, b, a, "a b", "b a"
    np.float64(5.0)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

# pyarrow and the byte tokenisers load on first use: the selection CLI imports this module

#: identifies the tokeniser + hash functions of winnow.core.text.byte_tokens (saved models carry it, so it
#: keeps that module's old name); a model scored with other hashes would silently give garbage, so
#: QualityModel.load() refuses a mismatch
HASHING = "winnow.core.ngrams/fmix64-w8-v1"
#: bytes of text tokenised at once (bounds memory and keeps arrays in cache)
CHUNK_BYTES = 2 << 20


@dataclass
class HashingFeaturizer:
    """fastText-style hashed features: lower-cased whitespace tokens, word n-grams up to
    ``word_ngrams`` and optionally byte n-grams inside tokens (``char_ngrams=(minn, maxn)``), hashed
    into ``2**n_bits`` buckets; a document's vector is its feature counts divided by
    ``sqrt(number of features)`` (``norm="sqrt"``) or by the number of features (``"mean"``).

    Example:
        >>> f = HashingFeaturizer(n_bits=10, word_ngrams=2)
        >>> X = f.transform(["a b a"])
        >>> X.shape, X.nnz      # 'a', 'b', 'a b', 'b a'
        ((1, 1024), 4)
    """

    n_bits: int = 20
    word_ngrams: int = 2
    char_ngrams: tuple[int, int] | None = None
    lowercase: bool = True
    norm: Literal["sqrt", "mean"] = "sqrt"

    def __post_init__(self):
        if not 8 <= int(self.n_bits) <= 28:
            raise ValueError(f"n_bits must be in [8, 28], got {self.n_bits}")
        if int(self.word_ngrams) < 1:
            raise ValueError(f"word_ngrams must be >= 1, got {self.word_ngrams}")
        if self.char_ngrams is not None:
            lo, hi = (int(v) for v in self.char_ngrams)
            if not 1 <= lo <= hi <= 12:
                raise ValueError(
                    f"char_ngrams must be (minn, maxn) with 1 <= minn <= maxn <= 12, got {self.char_ngrams}"
                )
            self.char_ngrams = (lo, hi)
        if self.norm not in ("sqrt", "mean"):
            raise ValueError(f"norm must be 'sqrt' or 'mean', got {self.norm!r}")

    @property
    def n_features(self) -> int:
        return 1 << int(self.n_bits)

    def parts(self, texts):
        """Yield ``(doc, feature)`` index arrays, one pair per feature family and chunk, then
        finally ``(None, n_features_per_doc)``. Scoring sums over parts without concatenating."""
        from winnow.core.text.byte_tokens import (
            char_ngram_hashes,
            iter_chunks,
            ngram_hashes,
            string_buffers,
            tokenize_buffer,
        )

        data, offsets = string_buffers(as_arrow(texts))
        n_docs = len(offsets) - 1
        shift = np.uint64(64 - int(self.n_bits))
        nfeat = np.zeros(n_docs, dtype=np.float64)
        for a, b in iter_chunks(offsets, CHUNK_BYTES):
            lo, hi = offsets[a], offsets[b]
            d, o = data[lo:hi], offsets[a : b + 1] - lo
            tok = tokenize_buffer(d, o, mode="whitespace", lowercase=self.lowercase)
            doc = tok.doc + a
            yield doc, (tok.hash >> shift).astype(np.intp)
            cnt = tok.counts.astype(np.float64)
            nfeat[a:b] += cnt
            for n in range(2, int(self.word_ngrams) + 1):
                i, h = ngram_hashes(tok, n)
                yield doc[i], (h >> shift).astype(np.intp)
                nfeat[a:b] += np.maximum(cnt - (n - 1), 0)
            if self.char_ngrams is not None:
                for n in range(self.char_ngrams[0], self.char_ngrams[1] + 1):
                    cd, ch = char_ngram_hashes(d, o, tok, n, lowercase=self.lowercase)
                    yield cd + a, (ch >> shift).astype(np.intp)
                    nfeat[a:b] += np.bincount(cd, minlength=b - a)
        yield None, nfeat

    def _scale(self, nfeat: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            scale = 1.0 / (np.sqrt(nfeat) if self.norm == "sqrt" else nfeat)
        scale[nfeat == 0] = 0.0
        return scale

    def pairs(self, texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(doc, feature, scale)``: one entry per feature occurrence, plus each document's
        normaliser (``1/sqrt(n)`` or ``1/n`` of its feature count; 0 for empty documents)."""
        docs, feats = [], []
        for d, f in self.parts(texts):
            if d is None:
                nfeat = f
            else:
                docs.append(d)
                feats.append(f)
        doc = np.concatenate(docs) if docs else np.zeros(0, np.intp)
        feat = np.concatenate(feats) if feats else np.zeros(0, np.intp)
        return doc, feat, self._scale(nfeat)

    def transform(self, texts):
        """A ``scipy.sparse.csr_matrix`` (documents × ``2**n_bits``)."""
        import scipy.sparse as sp

        doc, feat, scale = self.pairs(texts)
        n = len(scale)
        X = sp.csr_matrix((scale[doc], (doc, feat)), shape=(n, self.n_features), dtype=np.float64)
        X.sum_duplicates()
        return X

    def to_json(self) -> dict:
        d = asdict(self)
        d["char_ngrams"] = list(self.char_ngrams) if self.char_ngrams else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> "HashingFeaturizer":
        d = dict(d)
        if d.get("char_ngrams") is not None:
            d["char_ngrams"] = tuple(d["char_ngrams"])
        return cls(**d)


def as_arrow(texts):
    """Texts as an Arrow array (lists of str are converted)."""
    import pyarrow as pa

    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        return texts
    return pa.array(list(texts), pa.string())


#: the tokenizer of the reference DSIR implementation (nltk's WordPunctTokenizer)
WORDPUNCT = re.compile(r"\w+|[^\w\s]+")


def wordpunct(text: str) -> list[str]:
    return WORDPUNCT.findall(text.lower())


def _bucket_fn(kind: str, n_buckets: int):
    if kind == "sha256":  # byte-identical to data-selection's hash_buckets
        return lambda s: int(hashlib.sha256(s.encode("utf-8")).hexdigest(), 16) % n_buckets
    if kind == "xxhash":
        import xxhash

        return lambda s: xxhash.xxh64_intdigest(s.encode("utf-8")) % n_buckets
    raise ValueError(f"hash must be 'xxhash' or 'sha256', got {kind!r}")


def hashed_ngram_counts(texts: list[str], n_buckets: int = 10000, ngrams: int = 2, hash: str = "xxhash"):
    """Sparse CSR [docs, n_buckets] of hashed word 1..n-gram counts (WordPunct, lower-cased).

    Each distinct n-gram string is hashed once (a dict), so the cost is one regex pass plus
    one hash per vocabulary entry. With ``hash="sha256"`` the buckets equal those of the
    reference ``data-selection`` package.
    """
    import scipy.sparse as sp

    bucket = _bucket_fn(hash, n_buckets)
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        words = wordpunct(t)
        grams = list(words)
        for n in range(2, ngrams + 1):
            grams.extend(" ".join(words[j : j + n]) for j in range(len(words) - n + 1))
        ids = [vocab[g] if g in vocab else vocab.setdefault(g, bucket(g)) for g in grams]
        cols.append(np.asarray(ids, dtype=np.int64))
        rows.append(np.full(len(ids), i, dtype=np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    m = sp.csr_matrix((np.ones(len(r), np.float64), (r, c)), shape=(len(texts), n_buckets))
    m.sum_duplicates()
    return m


def hashed_text_features(texts: Sequence[str], n_features: int = 1 << 16, ngram_range=(1, 2)):
    """L2-normalised hashed word n-gram counts (scipy sparse CSR), stable across runs."""
    from sklearn.feature_extraction.text import HashingVectorizer

    hv = HashingVectorizer(
        n_features=n_features, ngram_range=ngram_range, alternate_sign=False, norm="l2", lowercase=True
    )
    return hv.transform(list(texts))
