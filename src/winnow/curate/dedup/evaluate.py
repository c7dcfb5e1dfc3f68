"""Ground truth for fuzzy dedup: exact Jaccard of every overlapping pair, and pair metrics.

No hash function is involved: tokens get integer ids (exact string identity), each distinct
word n-gram gets an integer id (``np.unique`` over id windows), and all pairwise
intersections come from a sparse product ``A·Aᵀ`` computed in row blocks. Pairs that share
no shingle have Jaccard 0 and are not listed.

Example:
    >>> import pyarrow as pa
    >>> i, j, jac = exact_jaccard_pairs(pa.array(["a b c d e f", "a b c d e g", "x y"]), ngram=5)
    >>> [(int(a), int(b), round(float(v), 3)) for a, b, v in zip(i, j, jac)]
    [(0, 1, 0.333)]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from winnow.core.text.normalized_words import word_tokens


def shingle_matrix(text, ngram: int = 5):
    """Binary CSR matrix ``docs × distinct shingles`` of word n-grams (same normalisation and
    short-document rule as :mod:`winnow.curate.dedup.minhash`)."""
    import scipy.sparse as sp

    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    idx, vocab, offsets = word_tokens(text)
    lens = np.diff(offsets)
    ndoc = len(lens)
    if len(idx) == 0:
        return sp.csr_matrix((ndoc, 0), dtype=np.float32)
    # distinct raw tokens can normalise to the same word: ids by normalised string identity
    vid = np.asarray(pc.dictionary_encode(vocab).indices.to_numpy(zero_copy_only=False), np.int64)
    tok = vid[idx]
    counts = np.where(lens >= ngram, lens - ngram + 1, np.where(lens > 0, 1, 0))
    doc = np.repeat(np.arange(ndoc), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    pos = offsets[:-1][doc] + (np.arange(counts.sum()) - first[doc])
    end = offsets[1:][doc]
    win = np.empty((len(pos), ngram), np.int64)
    for k in range(ngram):
        win[:, k] = np.where(pos + k < end, tok[np.minimum(pos + k, len(tok) - 1)], -1)
    _, sid = np.unique(win, axis=0, return_inverse=True)
    sid = sid.reshape(-1).astype(np.int64)
    ns = int(sid.max()) + 1
    key = np.unique(doc.astype(np.int64) * ns + sid)
    return sp.csr_matrix((np.ones(len(key), np.float32), (key // ns, key % ns)), shape=(ndoc, ns))


def exact_jaccard_pairs(text, ngram: int = 5, block: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, J)`` for every pair ``i < j`` of documents sharing at least one shingle."""
    A = shingle_matrix(text, ngram)
    size = np.asarray(A.sum(axis=1)).ravel()
    At = A.T.tocsr()
    I, Jx, V = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for s in range(0, A.shape[0], block):
        C = (A[s : s + block] @ At).tocoo()
        i = C.row.astype(np.int64) + s
        keep = C.col > i
        i, j, inter = i[keep], C.col[keep].astype(np.int64), C.data[keep]
        I.append(i)
        Jx.append(j)
        V.append((inter / (size[i] + size[j] - inter)).astype(np.float32))
    return np.concatenate(I), np.concatenate(Jx), np.concatenate(V)


def pair_metrics(labels: np.ndarray, i: np.ndarray, j: np.ndarray, jac: np.ndarray, threshold: float) -> dict:
    """Precision and recall of duplicate *pairs*: predicted = same cluster label, true = exact
    Jaccard ≥ ``threshold`` (pairs absent from ``(i, j)`` have Jaccard 0)."""
    labels = np.asarray(labels)
    _, lab = np.unique(labels, return_inverse=True)
    sizes = np.bincount(lab)
    pred = int((sizes * (sizes - 1) // 2).sum())
    true = jac >= threshold
    tp = int((true & (lab[i] == lab[j])).sum())
    nt = int(true.sum())
    return {
        "precision": tp / pred if pred else 1.0,
        "recall": tp / nt if nt else 1.0,
        "pred_pairs": pred,
        "true_pairs": nt,
        "tp": tp,
    }
