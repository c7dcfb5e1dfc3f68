"""Compiled repetition statistics of the Gopher rules (Rae et al. 2021, Table A1), one document at a time.

:func:`ngram_repetition` computes, per document, the characters in the most frequent word
k-gram (``top``) and in duplicated word k-grams counted greedily without overlap (``dup``), from
the integer ids of its words. Each k-gram has a 64-bit key grown from the (k-1)-gram's key
(:func:`winnow.core.text.spacy_words.ngram_key_extend`: the same keys, so the same statistics as
the numpy formulation it replaces); equal keys are found with a small open-addressing table per
document (it stays in cache) instead of a sort of the whole batch per k. Beyond the largest top-k,
only positions whose k-gram occurs twice can start a repeated (k+1)-gram, so the candidates shrink.

:func:`first_occurrence_by_doc` is the same table for any keys grouped by document (repeated
lines and paragraphs).

    >>> import numpy as np
    >>> ids = np.array([1, 2, 1, 2, 1, 2], np.uint64)          # "a b a b a b", words of 1 char
    >>> cs = np.arange(7, dtype=np.int64)
    >>> top, dup = ngram_repetition(ids, np.array([0, 6]), cs, [2], [2])
    >>> top.tolist(), dup.tolist()      # "a b" x 3 = 3 x 3 chars; repeats "a b" at 2 and 4: 4 chars
    ([[9.0]], [[4.0]])
"""

from __future__ import annotations

import numpy as np
from numba import njit

from winnow.core.text.hashing import GOLDEN, NGRAM_STEP, splitmix64_steps

_mix = njit(cache=True, nogil=True, inline="always")(splitmix64_steps)


@njit(cache=True, nogil=True, inline="always")
def _insert(key, c, cap, t_key, t_first, t_cnt):
    j = np.int64(key & np.uint64(cap - 1))
    while True:
        if t_first[j] < 0:
            t_key[j] = key
            t_first[j] = c
            t_cnt[j] = 1
            return j
        if t_key[j] == key:
            t_cnt[j] += 1
            return j
        j = (j + 1) & (cap - 1)


@njit(cache=True, nogil=True, inline="always")
def _cap(n):
    cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


@njit(cache=True, nogil=True)
def _ngram_rep(ids, starts, cs, want_top, want_dup, col_top, col_dup, kmax, max_top, top, dup):
    n_docs = len(starts) - 1
    big = 0
    for d in range(n_docs):
        big = max(big, starts[d + 1] - starts[d])
    cap_all = _cap(big)
    t_key = np.zeros(cap_all, np.uint64)
    t_first = np.full(cap_all, -1, np.int64)
    t_cnt = np.zeros(cap_all, np.int64)
    h = np.zeros(big, np.uint64)
    cand = np.zeros(big, np.int64)
    slot = np.zeros(big, np.int64)
    for d in range(n_docs):
        a = starts[d]
        m = starts[d + 1] - a
        seed = _mix(np.uint64(d) + GOLDEN)
        for c in range(m):
            h[c] = seed
            cand[c] = c
        nc = m
        for k in range(1, kmax + 1):
            while nc > 0 and cand[nc - 1] > m - k:  # candidates are sorted: the k-gram must fit
                nc -= 1
            if nc == 0:
                break
            step = np.uint64(k) * NGRAM_STEP
            for i in range(nc):
                c = cand[i]
                h[c] = _mix(h[c] ^ (ids[a + c + k - 1] + step))
            if not want_top[k] and not want_dup[k] and k < max_top:
                continue
            cap = _cap(nc)
            t_first[:cap] = -1
            for i in range(nc):
                slot[i] = _insert(h[cand[i]], cand[i], cap, t_key, t_first, t_cnt)
            if want_top[k]:
                best_cnt = 0
                best_first = 0
                for i in range(nc):
                    s = slot[i]
                    if t_first[s] == cand[i]:  # each key once, at its first occurrence (in order)
                        if t_cnt[s] > best_cnt:
                            best_cnt = t_cnt[s]
                            best_first = cand[i]
                p = a + best_first
                top[d, col_top[k]] = (cs[p + k] - cs[p] + (k - 1)) * best_cnt
            if want_dup[k]:
                last = -(1 << 62)
                tot = 0
                for i in range(nc):
                    c = cand[i]
                    if t_first[slot[i]] != c and c >= last + k:
                        tot += cs[a + c + k] - cs[a + c]
                        last = c
                dup[d, col_dup[k]] = tot
            if k >= max_top:
                w = 0
                for i in range(nc):
                    if t_cnt[slot[i]] >= 2:
                        cand[w] = cand[i]
                        w += 1
                nc = w


def ngram_repetition(ids: np.ndarray, starts: np.ndarray, cs: np.ndarray, top_ks, dup_ks):
    """Per document (rows of ``starts``, token offsets), per k: characters in the most frequent k-gram
    (words' characters plus the k-1 joining spaces, times its count; ties: the first seen) and in
    duplicated k-grams (each a repeat of an earlier equal k-gram, taken greedily left to right
    without overlap, words' characters only). ``cs``: cumulative word lengths (``len = ntok + 1``).
    Returns two float arrays ``(n_docs, len(top_ks))`` and ``(n_docs, len(dup_ks))``."""
    top_ks, dup_ks = sorted(top_ks), sorted(dup_ks)
    kmax = max(top_ks + dup_ks, default=0)
    want_top = np.zeros(kmax + 2, np.bool_)
    want_dup = np.zeros(kmax + 2, np.bool_)
    col_top = np.zeros(kmax + 2, np.int64)
    col_dup = np.zeros(kmax + 2, np.int64)
    for j, k in enumerate(top_ks):
        want_top[k], col_top[k] = True, j
    for j, k in enumerate(dup_ks):
        want_dup[k], col_dup[k] = True, j
    n = len(starts) - 1
    top = np.zeros((n, len(top_ks)), np.int64)
    dup = np.zeros((n, len(dup_ks)), np.int64)
    if kmax and n:
        _ngram_rep(
            np.ascontiguousarray(ids, np.uint64),
            np.asarray(starts, np.int64),
            np.asarray(cs, np.int64),
            want_top,
            want_dup,
            col_top,
            col_dup,
            kmax,
            max(top_ks, default=0),
            top,
            dup,
        )
    return top.astype(np.float64), dup.astype(np.float64)


@njit(cache=True, nogil=True)
def _first_occ(keys, starts, repeat, cnt):
    big = 0
    for d in range(len(starts) - 1):
        big = max(big, starts[d + 1] - starts[d])
    cap_all = _cap(big)
    t_key = np.zeros(cap_all, np.uint64)
    t_first = np.full(cap_all, -1, np.int64)
    t_cnt = np.zeros(cap_all, np.int64)
    slot = np.zeros(big, np.int64)
    for d in range(len(starts) - 1):
        a, b = starts[d], starts[d + 1]
        cap = _cap(b - a)
        t_first[:cap] = -1
        for i in range(a, b):
            slot[i - a] = _insert(keys[i], i, cap, t_key, t_first, t_cnt)
        for i in range(a, b):
            repeat[i] = t_first[slot[i - a]] != i
            cnt[i] = t_cnt[slot[i - a]]


def first_occurrence_by_doc(keys: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For keys grouped by document (``starts``: offsets): (is a repeat of an earlier equal key of
    its document, how many times its key occurs in the document).

    >>> rep, cnt = first_occurrence_by_doc(np.array([5, 7, 5, 5], np.uint64), np.array([0, 3, 4]))
    >>> rep.tolist(), cnt.tolist()
    ([False, False, True, False], [2, 1, 2, 1])
    """
    repeat = np.zeros(len(keys), np.bool_)
    cnt = np.zeros(len(keys), np.int64)
    if len(keys):
        _first_occ(np.ascontiguousarray(keys, np.uint64), np.asarray(starts, np.int64), repeat, cnt)
    return repeat, cnt
