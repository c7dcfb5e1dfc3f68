"""Features shared by the strategies: dense embeddings (tokens and hashed n-gram counts live in
:mod:`winnow.core.text.features`)."""

from __future__ import annotations

import numpy as np

from winnow.core.text.features import hashed_text_features


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
