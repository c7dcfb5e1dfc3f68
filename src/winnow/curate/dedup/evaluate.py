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
from numba import njit

from winnow.core.text.kernels import lower_bound  # (importing kernels sets numba's cache dir first)
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


@njit(cache=True, nogil=True)
def _claim(table, key):
    """Insert ``key`` into the open-addressing set ``table`` (-1 = empty); False if present."""
    mask = len(table) - 1
    h = (key * 0x9E3779B97F4A7C15) & mask
    while table[h] != -1:
        if table[h] == key:
            return False
        h = (h + 1) & mask
    table[h] = key
    return True


@njit(cache=True, nogil=True)
def _pack_bad_triangles(indptr, indices, order, n):
    """Greedy edge-disjoint bad triangles of a symmetric CSR graph, apexes taken in ``order``."""
    used = np.zeros(len(indices), np.bool_)  # true pairs already in a triangle, both rows
    size = 1
    while size < len(indices) + 2:  # at most one false pair per two true pairs (both rows)
        size <<= 1
    spent = np.full(size, -1, np.int64)  # false pairs already in a triangle
    count = 0
    for a in order:
        s, e = indptr[a], indptr[a + 1]
        for p in range(s, e):
            if used[p]:
                continue
            b = indices[p]
            for q in range(p + 1, e):
                if used[q]:
                    continue
                c = indices[q]
                k = lower_bound(indices, indptr[b], indptr[b + 1], c)
                if k < indptr[b + 1] and indices[k] == c:
                    continue  # b–c is a true pair too: not a bad triangle
                if not _claim(spent, b * n + c):
                    continue  # b–c already closes another triangle
                used[p] = True
                used[q] = True  # a–b and a–c, in both rows
                used[lower_bound(indices, indptr[b], indptr[b + 1], a)] = True
                used[lower_bound(indices, indptr[c], indptr[c + 1], a)] = True
                count += 1
                break
    return count


def partition_error_bound(i: np.ndarray, j: np.ndarray, n: int) -> int:
    """A lower bound on ``FN + FP`` for *any* clustering of ``n`` documents whose true duplicate
    pairs are ``(i, j)``: FN = true pairs split apart, FP = pairs put together that are not true.

    The bound counts edge-disjoint "bad triangles" — ``a–b`` and ``a–c`` true, ``b–c`` not —
    found greedily. Each one forces an error in every partition (all three together: ``b–c`` is
    a false pair; otherwise ``a–b`` or ``a–c`` is split), and disjoint triangles force distinct
    errors (each triangle's three pairs, the false one included, are used once). Similarity
    that is not transitive (a chain of near-copies) is what makes it large. The time grows with
    the sum of squared degrees of the true-pair graph (under 2 s on 128k pairs of 27k documents).

    >>> partition_error_bound(np.array([0, 1]), np.array([1, 2]), 3)  # path 0–1–2: one error
    1
    >>> partition_error_bound(np.array([0, 0, 1]), np.array([1, 2, 2]), 3)  # a triangle: none
    0
    """
    from scipy.sparse import csr_matrix

    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    i, j = i[i != j], j[i != j]  # a self pair closes no bad triangle, but would shift the degree order
    if len(i) == 0:
        return 0
    g = csr_matrix((np.ones(2 * len(i), np.int8), (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    g.sort_indices()  # (building the CSR merges repeated pairs)
    indptr, indices = g.indptr.astype(np.int64), g.indices.astype(np.int64)
    deg = np.diff(indptr)
    # every packing is a valid bound: keep the larger of two apex orders (low / high degree first)
    return int(max(_pack_bad_triangles(indptr, indices, np.argsort(o, kind="stable"), n) for o in (deg, -deg)))


def partition_ceiling(error_bound: int, true_pairs: int) -> float:
    """The highest ``p`` such that pair precision and recall could both be ≥ ``p`` for a
    clustering with ``FN + FP ≥ error_bound`` on ``true_pairs`` true pairs (see
    :func:`partition_error_bound`): no clustering method, however it finds its pairs, scores
    higher on both.

    >>> round(partition_ceiling(0, 100), 3), round(partition_ceiling(20, 100), 3)
    (1.0, 0.9)
    """
    if true_pairs == 0 or error_bound <= 0:
        return 1.0
    fn = np.arange(0, min(error_bound, true_pairs) + 1, dtype=np.float64)
    tp = true_pairs - fn
    fp = error_bound - fn
    recall = tp / true_pairs
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
    return float(np.minimum(recall, precision).max())
