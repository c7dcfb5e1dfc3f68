"""Features shared by the strategies: WordPunct tokens, hashed n-gram counts, dense embeddings."""
from __future__ import annotations

import hashlib
import re

import numpy as np

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
            grams.extend(" ".join(words[j:j + n]) for j in range(len(words) - n + 1))
        ids = [vocab[g] if g in vocab else vocab.setdefault(g, bucket(g)) for g in grams]
        cols.append(np.asarray(ids, dtype=np.int64))
        rows.append(np.full(len(ids), i, dtype=np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    m = sp.csr_matrix((np.ones(len(r), np.float64), (r, c)), shape=(len(texts), n_buckets))
    m.sum_duplicates()
    return m


def dense_embed(pool, target=None, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Dense, comparable embeddings for pool and target rows.

    Vectors (``X``) are standardised with the pool's mean/std. Texts get hashed word uni+bigram
    TF features reduced by a seeded TruncatedSVD (fitted on pool + target) and L2-normalised.
    """
    if pool.X is not None:
        mu, sd = pool.X.mean(0), pool.X.std(0) + 1e-3
        P = (pool.X - mu) / sd
        T = None if target is None or target.X is None else (target.X - mu) / sd
        return P.astype(np.float32), None if T is None else T.astype(np.float32)
    if pool.texts is None:
        raise ValueError("pool has neither text nor vectors (column 'text' or 'x')")
    from winnow.prove.proxy.classify import hashed_text_features

    texts = pool.texts + ([] if target is None or target.texts is None else target.texts)
    F = hashed_text_features(texts, 1 << 18)
    n_all = F.shape[0]
    k = max(2, min(dim, n_all - 1))
    if n_all <= 6000:
        # exact SVD through the n×n Gram matrix: F Fᵀ = U Λ Uᵀ, embedding = U √Λ (fast for n ≪ features)
        G = (F @ F.T).toarray().astype(np.float64)
        lam, U = np.linalg.eigh(G)
        top = np.argsort(-lam, kind="stable")[:k]
        U = U[:, top]
        U *= np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(k)])  # deterministic signs
        Z = U * np.sqrt(np.maximum(lam[top], 0))
    else:
        from sklearn.decomposition import TruncatedSVD

        Z = TruncatedSVD(n_components=k, random_state=seed).fit_transform(F)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True) + 1e-12
    Z = Z.astype(np.float32)
    n = len(pool)
    return Z[:n], (Z[n:] if n_all > n else None)
