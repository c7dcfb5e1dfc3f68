"""MinHash-LSH near-duplicate removal (the FineWeb recipe, vectorised and out of core).

Phases (a :class:`~winnow.core.pipeline.step.GlobalStep`):

* **map** (per batch, parallel over shards): normalise text, hash word (or character)
  n-gram shingles to 64 bits and compute ``bands × rows`` MinHash values per document
  (``min((a·x + b) mod 2⁶⁴)`` per permutation, 32 high bits kept) with compiled kernels
  (:mod:`winnow.core.text.kernels`), and hash each band to one 64-bit bucket key. Keys (id, one
  column per band, and — with ``verify`` — the top 32 bits of the document's shingle hashes)
  are written to Parquet.
* **reduce** (out of core, partitioned: :meth:`MinhashDedup.reduce_plan`): bucket keys are
  shuffled to bucket partitions by hash prefix, each partition sorted once to find buckets and
  link their members; one global pass (union-find over the candidates only) gives the connected
  components of that (unverified) bucket graph, grouped into batches of bounded size; candidates'
  shingles and memberships are routed to their batch and each batch is decided on its own
  (:meth:`MinhashDedup._decide`), in parallel over partitions. Centre clustering first:
  documents that share a bucket are decided as if visited in id order (computed in vectorised
  rounds, see :func:`centre_rounds`): a document is a duplicate of the first earlier *kept*
  document sharing a bucket with it whose true Jaccard (``verify``) is ≥ ``threshold``,
  otherwise it is kept. With ``clustering="center"`` that is the result — every dropped row is
  directly similar to its ``duplicate_of`` (no chains), but a document similar to two centres
  sits with one of them only, and the pairs a chain links are split. With
  ``clustering="correlation"`` (default) the centres are refined (:func:`correlation_clusters`):
  every pair sharing a bucket is verified, and a local search on that similarity graph lowers
  ``FP/2 + FN`` (pairs put together that do not match / matching pairs kept apart) by moving
  single documents and merging clusters, so a document ends in a cluster of which it matches at
  least a third (``join_fraction``); the cluster's smallest id is kept. Pair precision / recall
  at J ≥ 0.8 against exact Jaccard: 0.983 / 0.987 and 0.978 / 0.972 on two real corpora
  (centres alone: 0.983 / 0.978 and 0.975 / 0.952; ``benchmarks/RESULTS.md``). With
  ``clustering="components"`` (FineWeb/datatrove), every bucket member is linked
  to the bucket's first document, links are optionally verified and union-find gives connected
  components whose smallest id is kept (:func:`component_roots`).
* **apply**: rows get ``duplicate_of`` (dropped rows), ``cluster_id`` (the representative's
  id, null for singletons) and ``cluster_size``.

Banding (the S-curve). A pair of Jaccard similarity ``J`` agrees on one MinHash value with
probability ``J``, on a whole band of ``r`` rows with ``J^r``, and becomes a candidate (shares at
least one of ``b`` bands) with probability

    P(J) = 1 − (1 − J^r)^b                      (:func:`collision_probability`)

— an S-shaped curve in ``J``. With ``verify`` on (default), exact Jaccard decides every candidate,
so false candidates cost only verification time while a missed candidate is lost recall: the
default banding is therefore chosen *for the threshold* (:func:`choose_bands_rows`): the fewest
permutations ``b·r`` with ``P(threshold) ≥ lsh_recall`` (0.99) whose false-candidate rate at
``J = threshold − 0.3`` stays ≤ 0.25:

    threshold   bands × rows   P at t−0.3 / t−0.2 / t−0.1 / t
    0.7         26 × 5 (130)   0.235 / 0.562 / 0.878 / 0.992
    0.8         16 × 6  (96)   0.223 / 0.534 / 0.865 / 0.992
    0.9          8 × 7  (56)   0.203 / 0.497 / 0.848 / 0.995
    fineweb     14 × 8 (112)   at 0.8: 0.053 / 0.211 / 0.565 / 0.924  (P = 0.5 at J ≈ 0.68)

``preset: fineweb`` is FineWeb's 14 bands × 8 rows, also the default with ``verify: false``
(no exact check behind it, so false candidates are false duplicates); explicit ``bands`` /
``rows`` are used as given. At the same map cost (the MinHash kernel is linear in ``b·r``:
96 vs 112 permutations), 16 × 6 admits 10 % more candidate pairs than 14 × 8 on the dedup
benchmark corpus and 4× more on a second corpus rich in boilerplate, all removed by
verification (``benchmarks/RESULTS.md``).

Example:
    >>> from winnow import Pipeline
    >>> p = Pipeline([{"minhash_dedup": {"threshold": 0.8}}])
    >>> res = p.run("raw/*.jsonl.gz", "runs/minhash", workers=2)     # doctest: +SKIP

    >>> import pyarrow as pa
    >>> step = MinhashDedup(bands=4, rows=2)
    >>> keys = step.map(pa.table({"id": ["a", "b"], "text": ["one two three four five six"] * 2}))
    >>> keys.column("b00")[0].as_py() == keys.column("b00")[1].as_py()
    True
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import time
from typing import Iterator, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr, model_validator

from winnow.core.memory import release_memory
from winnow.core.pipeline.reduce import ReduceTask, chunks, run_plan
from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import GlobalStep
from winnow.core.sorting import group_order, lookup, pair_order, unique_inverse, unique_sorted
from winnow.core.text.hashing import GOLDEN, MASK64, splitmix64
from winnow.core.text.normalized_words import concat_ranges as _ranges
from winnow.core.text.normalized_words import shingle_hashes
from winnow.curate.dedup._reduce import (
    GroupReaders,
    find_roots,
    key_counts,
    prefix_partition,
    read_parquet,
    read_partition,
    scratch_dir,
    shuffle_keys,
    starts_of,
    union,
    write_clusters,
    write_groups,
    write_parquet_atomic,
    write_sparse_decisions,
)

#: named bandings: ``preset: fineweb`` = FineWeb's (and datatrove's) 14 bands × 8 rows
PRESETS: dict[str, tuple[int, int]] = {"fineweb": (14, 8)}
#: the false-candidate bound of :func:`choose_bands_rows`: at ``J = threshold − FALSE_GAP`` a
#: pair may become a candidate with probability at most ``FALSE_RATE``
FALSE_GAP, FALSE_RATE = 0.3, 0.25


def collision_probability(j, bands: int, rows: int):
    """Probability that a pair of Jaccard similarity ``j`` shares at least one LSH bucket:
    ``1 − (1 − j^rows)^bands`` (one band agrees with probability ``j^rows``).

    >>> round(float(collision_probability(0.8, 14, 8)), 3)    # FineWeb's banding at J = 0.8
    0.924
    """
    return 1.0 - (1.0 - np.asarray(j, np.float64) ** rows) ** bands


@functools.lru_cache(maxsize=256)
def choose_bands_rows(
    threshold: float,
    recall: float = 0.99,
    *,
    bands: int | None = None,
    rows: int | None = None,
    max_perm: int = 4096,
) -> tuple[int, int]:
    """The cheapest banding for ``threshold``: fewest permutations ``bands × rows`` (the map's
    cost per shingle) such that a pair at exactly ``threshold`` becomes a candidate with
    probability ≥ ``recall`` and a pair at ``threshold − FALSE_GAP`` with probability
    ≤ ``FALSE_RATE`` (ties: fewer bands). With ``bands`` or ``rows`` given, only the other is
    chosen (then just the recall bound applies). For every ``r`` the smallest ``b`` reaching
    ``recall`` is ``⌈log(1 − recall) / log(1 − threshold^r)⌉``.

    >>> choose_bands_rows(0.8)
    (16, 6)
    >>> round(float(collision_probability(0.8, *choose_bands_rows(0.8))), 3)
    0.992
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not 0.0 < recall < 1.0:
        raise ValueError(f"lsh_recall must be in (0, 1), got {recall}")

    def need_bands(r: int) -> int:
        p_band = threshold**r
        return max(1, math.ceil(math.log1p(-recall) / math.log1p(-p_band))) if p_band < 1 else 1

    if bands is not None and rows is not None:
        return bands, rows
    if rows is not None:
        return need_bands(rows), rows
    if bands is not None:
        for r in range(min(64, max_perm // bands), 0, -1):  # most rows (fewest false candidates) reaching recall
            if collision_probability(threshold, bands, r) >= recall:
                return bands, r
        raise ValueError(f"{bands} bands cannot reach P = {recall} at J = {threshold}; use more bands")
    best = None
    low = max(threshold - FALSE_GAP, 0.0)
    for r in range(1, 65):
        b = need_bands(r)
        if b * r > max_perm:
            break
        if collision_probability(low, b, r) > FALSE_RATE:
            continue
        if best is None or (b * r, b) < (best[0] * best[1], best[0]):
            best = (b, r)
    if best is None:
        raise ValueError(f"no banding of at most {max_perm} permutations reaches P = {recall} at J = {threshold}")
    return best


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` parameters of ``num_perm`` permutations ``x → (a·x + b) mod 2⁶⁴`` (a odd)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(sh: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signatures (uint32, shape ``(docs, len(a))``) from flat 64-bit shingle hashes.

    Each shingle hash ``x`` goes through ``len(a)`` random permutations ``(a·x + b) mod 2⁶⁴``;
    a document's signature is the high 32 bits of the minimum per permutation. (A 32-bit
    affine family is 2× faster but measurably biased: mean signature agreement 0.009 below the
    true Jaccard on this repo's benchmark pairs; the 64-bit one is within noise.) Computed by a
    compiled kernel (:func:`winnow.core.text.kernels.minhash`) in one pass over the shingles with
    the running minima in registers. Documents without shingles get all-ones signatures.
    """
    from winnow.core.text.kernels import minhash

    return minhash(sh, counts, a, b)


def band_hashes(sig: np.ndarray, bands: int, rows: int, counts: np.ndarray | None = None) -> np.ndarray:
    """One 64-bit bucket key per band, shape ``(docs, bands)``; 0 marks "no bucket" (empty docs)."""
    n = sig.shape[0]
    if sig.shape[1] < bands * rows:
        raise ValueError(f"signature has {sig.shape[1]} values, bands × rows needs {bands * rows}")
    out = np.empty((n, bands), np.uint64)
    s = sig.astype(np.uint64)
    for j in range(bands):
        h = np.full(n, ((j + 1) * int(GOLDEN)) & int(MASK64), np.uint64)
        for r in range(rows):
            h ^= s[:, j * rows + r]
            h *= GOLDEN
            h ^= h >> np.uint64(29)
        h = splitmix64(h)
        h[h == 0] = 1
        out[:, j] = h
    if counts is not None:
        out[np.asarray(counts) == 0] = 0
    return out


def unique_per_doc(sh: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shingle hashes of each document: (flat values, new counts).

    One ``np.sort`` of a single uint64 key ``doc << 40 | hash >> 24`` instead of a two-key
    lexsort: the values returned are the hashes with their low 24 bits cleared, i.e. 40-bit
    shingle hashes (the same truncation in every call, so results of different calls compare;
    a collision between two distinct shingles of a pair has probability ~ (shingles)² / 2⁴¹).
    (A compiled per-document sort was tried: 3× slower than this one global sort.)
    """
    n = len(counts)
    if len(sh) == 0:
        return np.asarray(sh, np.uint64), np.zeros(n, np.int64)
    b = 24
    if n > (1 << b):  # too many documents for one key: split
        h = n // 2
        cut = int(np.sum(counts[:h]))
        v1, c1 = unique_per_doc(sh[:cut], counts[:h])
        v2, c2 = unique_per_doc(sh[cut:], counts[h:])
        return np.concatenate([v1, v2]), np.concatenate([c1, c2])
    doc = np.repeat(np.arange(n, dtype=np.uint64), counts)
    key = np.asarray(sh, np.uint64) >> np.uint64(b)
    key |= doc << np.uint64(64 - b)
    key.sort()
    keep = np.empty(len(key), bool)
    keep[0] = True
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    key = key[keep]
    d = (key >> np.uint64(64 - b)).astype(np.int64)
    vals = key << np.uint64(b)
    return vals, np.bincount(d, minlength=n).astype(np.int64)


def bucket_edges(h: np.ndarray, node: np.ndarray, *, is_sorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Candidate edges of one band: every member of a bucket → the bucket's smallest node
    (``is_sorted``: the rows are already in ``(h, node)`` order)."""
    if len(h) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if is_sorted:
        hs, ns = h, node
    else:
        order = np.lexsort((node, h))
        hs, ns = h[order], node[order]
    same = hs[1:] == hs[:-1]
    if not same.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.arange(len(hs))
    run_start = np.maximum.accumulate(np.where(np.r_[True, ~same], idx, 0))
    member = np.r_[False, same]
    return ns[run_start[member]].astype(np.int64), ns[member].astype(np.int64)


def intersect_sizes(vals: np.ndarray, offs: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|S_a ∩ S_b| for pairs of sets stored as sorted distinct values — ``vals[offs[i]:offs[i+1]]``
    is set ``i`` (:func:`unique_per_doc` output) — by one linear merge per pair in a compiled
    kernel (:func:`winnow.core.text.kernels.intersect_sorted`)."""
    from winnow.core.text.kernels import intersect_sorted

    return intersect_sorted(vals, offs, a, b)


def verify_pairs(vals: np.ndarray, offs: np.ndarray, u: np.ndarray, v: np.ndarray, threshold: float):
    """Which pairs ``(u[i], v[i])`` of sets (layout of :func:`unique_per_doc`, or ``offs`` a pair
    ``(starts, ends)``: set ``i`` is ``vals[starts[i]:ends[i]]``) have Jaccard ≥ ``threshold``:
    the size bound ``J ≤ min/max`` rules out pairs for free, the rest go through
    :func:`winnow.core.text.kernels.jaccard_at_least`. Returns (mask, pairs tested exactly)."""
    from winnow.core.text.kernels import jaccard_at_least

    lens = offs[1] - offs[0] if isinstance(offs, tuple) else np.diff(offs)
    la, lb = lens[u], lens[v]
    ok = np.minimum(la, lb) >= threshold * np.maximum(la, lb)
    cand = np.flatnonzero(ok)
    ok[cand] = jaccard_at_least(vals, offs, u[cand], v[cand], threshold)
    return ok, len(cand)


def centre_rounds(
    K: np.ndarray, B: np.ndarray, m: int, vals: np.ndarray | None, offs: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, int, int]:
    """Greedy centre clustering in node order, computed in vectorised rounds.

    ``K[i]`` (a node in ``0..m-1``, smaller = earlier) is a member of bucket ``B[i]``. The
    result equals the sequential rule "visit nodes in order; a node is a duplicate of the
    smallest earlier *centre* that shares a bucket with it and (with sets given) has
    Jaccard ≥ ``threshold``; otherwise it becomes a centre". Each round decides, for every
    undecided node ``k``, against the centres below ``lo[k]`` = its smallest undecided earlier
    bucket-mate (those centres are final, and each pair is tested once): a verified centre
    makes ``k`` a duplicate; none and ``lo[k] = ∞`` makes it a centre. Buckets with no
    undecided member are dropped between rounds.

    Returns (centre of each node, -1 for centres; rounds; pairs tested exactly).
    """

    K = np.asarray(K, np.int64)
    B = np.asarray(B, np.int64)
    found = np.full(m, -1, np.int64)
    status = np.zeros(m, np.int8)  # 0 undecided, 1 centre, 2 duplicate
    prev_lo = np.zeros(m, np.int64)
    INF = m
    o = pair_order(B, K)  # memberships are distinct (bucket, node) pairs
    K, B = K[o], B[o]
    rounds = tested = 0
    on_no_bucket = np.ones(m, bool)
    on_no_bucket[K] = False
    status[on_no_bucket] = 1
    while len(K):
        rounds += 1
        new_b = np.r_[True, B[1:] != B[:-1]]
        seg = np.cumsum(new_b) - 1
        seg_start = np.flatnonzero(new_b)
        und = status[K] == 0
        pos = np.where(und, np.arange(len(K)), len(K))
        fpos = np.minimum.reduceat(pos, seg_start)
        fu = np.where(fpos < len(K), K[np.minimum(fpos, len(K) - 1)], INF)
        fb = fu[seg]
        up = np.flatnonzero(und)
        uk = K[up]
        lo = np.full(m, INF, np.int64)
        np.minimum.at(lo, uk, np.where(fb[up] < uk, fb[up], INF))
        # centres of the bucket with node in [prev_lo[k], lo[k]) for every undecided membership
        cpos = np.flatnonzero(status[K] == 1)
        span = np.int64(m + 1)
        ckey = seg[cpos] * span + K[cpos]
        us = seg[up] * span
        a = np.searchsorted(ckey, us + prev_lo[uk])
        b = np.searchsorted(ckey, us + lo[uk])
        cnt = b - a
        pk = np.repeat(uk, cnt)
        pcn = K[cpos[_ranges(a, cnt)]]
        if len(pk):
            pair = unique_sorted(pk * span + pcn)
            pk, pcn = pair // span, pair % span
            if vals is not None:
                ok, t = verify_pairs(vals, offs, pk, pcn, threshold)
                tested += t
                pk, pcn = pk[ok], pcn[ok]
            kk, first = np.unique(pk, return_index=True)  # pairs sorted by (k, c): first = smallest c
            found[kk] = pcn[first]
            status[kk] = 2
        undecided = np.flatnonzero(status == 0)
        newc = undecided[lo[undecided] == INF]
        status[newc] = 1
        prev_lo[undecided] = lo[undecided]
        # keep only buckets that still have an undecided member
        und = status[K] == 0
        live_seg = np.zeros(len(seg_start), bool)
        live_seg[seg[und]] = True
        keep = live_seg[seg]
        K, B = K[keep], B[keep]
    return found, rounds, tested


#: statistics of the correlation refinement (summed over batches): documents moved, clusters merged,
#: verified similar pairs, documents left with their centres (a group over ``refine_max_pairs``)
REFINE_STATS = ("moves", "merges", "similar_pairs", "unrefined_docs")


def bucket_pairs(
    K: np.ndarray, B: np.ndarray, m: int, max_pairs: int, chunk_pairs: int = 2_000_000
) -> tuple[Iterator[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The pairs of nodes that share a bucket, within the connected components of the bucket
    graph that have at most ``max_pairs`` such (bucket, pair) memberships.

    ``K[i]`` (node ``0..m-1``) is a member of bucket ``B[i]``. Buckets with the same members
    (near-copies collide in most bands) count once. Returns an iterator over chunks of about
    ``chunk_pairs`` pairs ``(u, v)`` with ``u < v`` (distinct within a chunk; a pair may recur
    in another chunk), so memory stays bounded however large the buckets, and a mask of the
    nodes whose component was left out (all-pairs would grow quadratically in a huge bucket)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    K = np.asarray(K, np.int64)
    B = np.asarray(B, np.int64)
    if len(K) < 2:
        return iter(()), np.zeros(m, bool)
    o = pair_order(B, K)  # memberships are distinct (bucket, node) pairs
    K, B = K[o], B[o]
    new_b = np.r_[True, B[1:] != B[:-1]]
    start = np.flatnonzero(new_b)
    size = np.diff(np.r_[start, len(K)])
    u, v = bucket_edges(B, K, is_sorted=True)
    _, comp = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(m, m)), directed=False)
    pairs_of_comp = np.bincount(comp[K[start]], weights=size * (size - 1) / 2, minlength=int(comp.max()) + 1)
    big = pairs_of_comp > max_pairs
    keep_b = (size > 1) & ~big[comp[K[start]]]
    start, size = start[keep_b], size[keep_b]
    if len(start):  # one bucket per member set: (size, two independent 64-bit sums over the members)
        kk = K.astype(np.uint64)
        h1 = np.add.reduceat(splitmix64(kk), start)
        h2 = np.add.reduceat(splitmix64(kk ^ np.uint64(GOLDEN)), start)
        # sorted by h1: equal member sets are adjacent (unless an h1 collision interleaves them:
        # then a set stays twice, which costs pairs verified twice, never a pair lost)
        o = np.argsort(h1)
        h1, h2, sz = h1[o], h2[o], size[o].astype(np.uint64)
        new = np.r_[True, (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1]) | (sz[1:] != sz[:-1])]
        first = np.sort(o[new])
        start, size = start[first], size[first]
    npairs = size * (size - 1) // 2
    ends = np.searchsorted(np.cumsum(npairs), np.arange(1, int(npairs.sum()) // chunk_pairs + 1) * chunk_pairs)
    bounds = np.unique(np.r_[0, np.minimum(ends + 1, len(start)), len(start)])

    def pair_chunks():
        span = np.int64(max(m, 1))
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            st, sz = start[lo:hi], size[lo:hi]
            pos = _ranges(st, sz)  # member r of a bucket pairs with the members after it
            after = np.repeat(st + sz, sz) - pos - 1
            a = np.repeat(pos, after)
            b = _ranges(pos + 1, after)
            e = unique_sorted(K[a] * span + K[b])
            yield e // span, e % span

    return pair_chunks(), big[comp]


def correlation_clusters(
    K: np.ndarray,
    B: np.ndarray,
    m: int,
    vals: np.ndarray | None,
    offs: np.ndarray | None,
    threshold: float,
    join_fraction: float,
    max_pairs: int,
) -> tuple[np.ndarray, dict]:
    """Correlation clustering of one batch: verify every bucket-sharing pair (Jaccard ≥
    ``threshold``, with sets given), take the greedy centres of that graph in node order (what
    :func:`centre_rounds` computes, each pair verified once) and refine them by the local search
    of :func:`winnow.core.text.kernels.refine_clusters`. Components of the bucket graph with more
    than ``max_pairs`` bucket pairs get :func:`centre_rounds`' centres only. Returns (root of each
    node = smallest member of its cluster, statistics)."""
    from scipy.sparse import csr_matrix

    from winnow.core.text.kernels import graph_centres, refine_clusters

    K = np.asarray(K, np.int64)
    B = np.asarray(B, np.int64)
    pair_chunks, left = bucket_pairs(K, B, m, max_pairs)
    tested = 0
    us, vs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for u, v in pair_chunks:
        if vals is not None and len(u):
            ok, t = verify_pairs(vals, offs, u, v, threshold)
            tested += t
            u, v = u[ok], v[ok]
        us.append(u)
        vs.append(v)
    span = np.int64(max(m, 1))
    e = unique_sorted(np.concatenate(us) * span + np.concatenate(vs))
    u, v = e // span, e % span
    g = csr_matrix((np.ones(2 * len(u), np.int8), (np.r_[u, v], np.r_[v, u])), shape=(m, m))
    g.sort_indices()
    lab = graph_centres(g.indptr, g.indices)
    rounds = 0
    if left.any():  # the groups too large for all pairs: centres from the bucket rounds
        mine = left[K]
        found, rounds, t = centre_rounds(K[mine], B[mine], m, vals, offs, threshold)
        tested += t
        d = left & (found >= 0)
        lab[d] = found[d]
    sub = np.flatnonzero(~left)  # refine the components whose pairs were all verified
    gs = g[sub][:, sub]
    gs.sort_indices()
    new, st = refine_clusters(gs.indptr, gs.indices, np.searchsorted(sub, lab[sub]), join_fraction)
    lab[sub] = sub[new]
    st.update(tested=tested, similar_pairs=int(len(u)), unrefined_docs=int(left.sum()), centre_rounds=rounds)
    return lab, st


def component_roots(
    K: np.ndarray, B: np.ndarray, m: int, vals: np.ndarray | None, offs: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, int, int]:
    """FineWeb/datatrove clustering of one batch: every member of a bucket is linked to the
    bucket's smallest node, a link is kept if (with sets given) its Jaccard is ≥ ``threshold``,
    and union-find gives components rooted at their smallest node.

    ``K[i]`` (node ``0..m-1``) is a member of bucket ``B[i]``. Returns (root of each node,
    links tested exactly, distinct links)."""

    u, v = bucket_edges(np.asarray(B, np.int64), np.asarray(K, np.int64))
    span = np.int64(max(m, 1))
    e = unique_sorted(u * span + v)
    u, v = e // span, e % span
    tested = 0
    if vals is not None and len(u):
        ok, tested = verify_pairs(vals, offs, u, v, threshold)
        u, v = u[ok], v[ok]
    parent = np.arange(m, dtype=np.int64)
    union(parent, u, v)
    return find_roots(parent), tested, len(e)


def _packed_u32(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, count per row) of a binary column whose values are packed little-endian
    uint32 arrays (the map's ``sh`` column), without copying."""
    from winnow.core.text.byte_tokens import string_buffers

    data, offs = string_buffers(col)
    return data.view("<u4"), np.diff(offs) // 4


def _take_lists(col: pa.ListArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of some rows of a key file's ``sh`` column, as 64-bit values (the
    stored top 32 bits put back in place) plus counts."""
    t = col.take(pa.array(rows))
    counts = np.asarray(pc.list_value_length(t).to_numpy(zero_copy_only=False), np.int64)
    flat = np.asarray(pc.list_flatten(t).to_numpy(zero_copy_only=False))
    if flat.dtype == np.uint32:
        return flat.astype(np.uint64) << np.uint64(32), counts
    return flat.astype(np.uint64, copy=False), counts


def _batches_by_totals(size: np.ndarray, memb: np.ndarray, max_size: int, max_memb: int) -> np.ndarray:
    """Consecutive batch number of each item (in order), cutting where the running totals of
    ``size`` or ``memb`` pass a multiple of their limit: the items of a batch start within one
    limit of each other, so a batch holds at most one limit plus its last item."""
    if len(size) == 0:
        return np.zeros(0, np.int64)
    cs = np.cumsum(size) - size  # totals before each item
    cm = np.cumsum(memb) - memb
    ks, km = cs // max(1, max_size), cm // max(1, max_memb)
    return np.cumsum(np.r_[False, (ks[1:] != ks[:-1]) | (km[1:] != km[:-1])]).astype(np.int64)


@register_step
class MinhashDedup(GlobalStep):
    """Fuzzy deduplication with MinHash-LSH (+ optional exact-Jaccard verification).

    Documents whose shingle sets collide in at least one of ``bands`` LSH bands (of ``rows``
    MinHash values each) are candidates; with ``verify=True`` a candidate pair counts only if
    its true Jaccard similarity is ≥ ``threshold``. With ``clustering="correlation"`` (default)
    clusters are the centre clusters (below) refined so that a document belongs where it matches at
    least ``join_fraction`` of the members, and the smallest id of each is kept; with ``"center"``
    a document is dropped as a duplicate of the first earlier kept document it matches (in id
    order); with ``"components"`` connected components are clusters and the smallest id is
    kept. Reason: ``minhash_dedup:near_duplicate``.

    The banding: ``bands`` × ``rows`` as given, else ``preset`` (``fineweb`` = 14 × 8), else with
    ``verify`` the cheapest banding that makes a pair at ``threshold`` a candidate with
    probability ≥ ``lsh_recall`` (:func:`choose_bands_rows`; the S-curve is in the module
    docstring), else (``verify: false``) FineWeb's 14 × 8. The reduce's statistics (banding,
    candidate documents, bucket pairs, pairs verified) are in the manifest's ``reduce`` entry.

    Example (YAML): ``- minhash_dedup: {threshold: 0.8}`` (banding chosen, verified) or
    ``- minhash_dedup: {preset: fineweb, verify: false}`` (FineWeb/datatrove)

    >>> MinhashDedup(threshold=0.8).banding, MinhashDedup(preset="fineweb").banding
    ((16, 6), (14, 8))
    """

    name = "minhash_dedup"
    ngram: int = Field(5, ge=1, description="shingle size (words or characters)")
    unit: Literal["word", "char"] = "word"
    #: LSH bands and rows per band; left unset they are chosen for ``threshold`` (with ``verify``,
    #: :func:`choose_bands_rows`) or come from ``preset`` (default without ``verify``: fineweb)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    #: a named banding instead (``fineweb`` = 14 × 8)
    preset: Literal["fineweb"] | None = None
    #: probability that a pair at exactly ``threshold`` becomes a candidate (automatic banding)
    lsh_recall: float = Field(0.99, gt=0.0, lt=1.0)
    seed: int = 1
    verify: bool = True
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    #: ``correlation`` (default): the ``center`` clusters refined by a local search on the graph of
    #: matching pairs that puts together what is similar and keeps apart what is not (a document
    #: joins a cluster when it matches at least ``join_fraction`` of its members); ``center``: a
    #: document is dropped only as a duplicate of a kept document it matches directly (greedy, in
    #: id order); ``components``: union-find connected components of all matching pairs
    #: (FineWeb/datatrove; transitive chains can merge dissimilar documents)
    clustering: Literal["correlation", "center", "components"] = "correlation"
    #: ``correlation``: the share of a cluster's other members a document must match to belong
    join_fraction: float = Field(1 / 3, gt=0.0, lt=1.0)
    #: ``correlation``: a connected candidate group with more bucket pairs than this (one huge
    #: bucket of boilerplate) keeps its ``center`` clusters instead of an all-pairs search
    refine_max_pairs: int = Field(2_000_000, gt=0)
    #: bucket keys (document × band) per bucket partition of the reduce: more partitions if needed
    #: (a partition's sort holds ~150 bytes per key: 1M keys keep it near the other phases' peak)
    max_bucket_rows: int = Field(1_000_000, gt=0)
    #: max shingles held in memory per verification batch (bounds reduce memory)
    verify_block: int = Field(2_000_000, gt=0)
    cluster_column: str | None = "cluster_id"

    _perm: tuple | None = PrivateAttr(None)
    _stats: dict = PrivateAttr(default_factory=dict)

    @property
    def last_stats(self) -> dict:
        """Statistics of the last reduce in this process (candidate/verified pairs, seconds)."""
        return self._stats

    @model_validator(mode="after")
    def _check(self):
        if self.preset is not None and (self.bands is not None or self.rows is not None):
            raise ValueError(f"give either preset: {self.preset} or bands/rows, not both")
        if self.num_perm > 4096:
            raise ValueError(f"bands × rows = {self.num_perm} permutations is too many (max 4096)")
        return self

    @property
    def banding(self) -> tuple[int, int]:
        """The ``(bands, rows)`` in use: as given, from ``preset``, or chosen for ``threshold``
        (derived from the fields each time, so a copied or unpickled step agrees)."""
        if self.preset is not None:
            return PRESETS[self.preset]
        if self.verify or self.bands is not None or self.rows is not None:
            return choose_bands_rows(self.threshold, self.lsh_recall, bands=self.bands, rows=self.rows)
        return PRESETS["fineweb"]

    @property
    def num_perm(self) -> int:
        b, r = self.banding
        return b * r

    def band_columns(self) -> list[str]:
        return [f"b{j:02d}" for j in range(self.banding[0])]

    def setup(self) -> None:
        self._perm = permutations(self.num_perm, self.seed)

    def shingles(self, text) -> tuple[np.ndarray, np.ndarray]:
        """(flat 64-bit shingle hashes, count per document) for a text column."""
        return shingle_hashes(text, ngram=self.ngram, unit=self.unit)

    def signatures(self, text) -> np.ndarray:
        """MinHash signatures ``(docs, bands × rows)`` of a text column (uint32)."""
        if self._perm is None:
            self.setup()
        sh, counts = self.shingles(text)
        return minhash_signatures(sh, counts, *self._perm)

    def map(self, table: pa.Table) -> pa.Table:
        if self._perm is None:
            self.setup()
        sh, counts = self.shingles(table.column("text"))
        sig = minhash_signatures(sh, counts, *self._perm)
        bh = band_hashes(sig, *self.banding, counts)
        cols = {"id": table.column("id")}
        for j, name in enumerate(self.band_columns()):
            cols[name] = pa.array(bh[:, j])
        if self.verify:  # shingles as computed (deduplicated in reduce, for candidates only)
            # top 32 bits of each shingle hash: half the bytes to write and read back; two
            # distinct shingles of a pair of 10k-shingle documents collide with probability
            # 10⁸ / 2³² ≈ 0.02 (a Jaccard error below 10⁻⁵). One binary value per document (its
            # values as little-endian uint32): Parquet then writes one length per document, where
            # a list column costs repetition and definition levels per value (2.5× the write)
            top = (sh >> np.uint64(32)).astype("<u4")
            large = 4 * len(top) >= 2**31
            boffs = np.zeros(len(counts) + 1, np.int64 if large else np.int32)
            np.cumsum(counts * 4, out=boffs[1:])
            typ = pa.large_binary() if large else pa.binary()
            cols["sh"] = pa.Array.from_buffers(typ, len(counts), [None, pa.py_buffer(boffs), pa.py_buffer(top)])
            cols["nsh"] = pa.array(counts.astype(np.int64))
        return pa.table(cols)

    # ------------------------------------------------------------------ reduce
    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1, partitions: int = 1) -> None:
        """Decisions in this process (the plan of :meth:`reduce_plan`, one task after the other)."""
        t0 = time.perf_counter()
        recs = run_plan(self.reduce_plan(key_files, out_dir, partitions=partitions))
        shutil.rmtree(scratch_dir(out_dir), ignore_errors=True)
        self._stats = {"docs": int(key_counts(list(key_files)).sum()), **self.plan_stats(recs)}
        self._stats["seconds"] = time.perf_counter() - t0

    def plan_stats(self, records: list[dict]) -> dict:
        """Statistics of a finished plan from its tasks' records (candidates, verified pairs, ...)."""
        dec = [r["result"] for r in records if r["phase"] == "decide"]
        b, r_ = self.banding
        out = {
            "clustering": self.clustering,
            "bands": b,
            "rows": r_,
            "p_candidate_at_threshold": round(float(collision_probability(self.threshold, b, r_)), 4),
        }
        bk = [r["result"] for r in records if r["phase"] == "buckets" and isinstance(r.get("result"), dict)]
        if bk and "bucket_pairs" in bk[0]:
            # Σ over buckets of C(size, 2): a pair sharing k bands counts k times
            out["bucket_pairs"] = int(sum(d["bucket_pairs"] for d in bk))
        for k in ("candidate_docs", "verified_pairs", "batches", "duplicates", "candidate_pairs", *REFINE_STATS):
            if dec and k in dec[0]:
                out[k] = int(sum(d[k] for d in dec))
        if dec and "rounds" in dec[0]:
            out["rounds"] = int(max(d["rounds"] for d in dec))
        return out

    def reduce_plan(self, key_files: Sequence[str | None], out_dir: str, *, partitions: int = 1, workers: int = 1):
        """The reduce in six phases; all but ``components`` run one task per partition.

        1. ``split`` (per range of key files): every band's bucket key → a bucket partition by
           hash prefix (at least ``partitions``, more if a partition would pass
           ``max_bucket_rows`` rows);
        2. ``buckets`` (per bucket partition): sort, find buckets with ≥ 2 documents, write their
           memberships and link their members (local union-find; one row per candidate);
        3. ``components`` (one task, the global pass): union-find over those rows (candidates
           only) gives the connected components of the bucket graph; components are grouped
           into batches of at most ``verify_block`` shingles, batches into ``partitions`` groups;
        4. ``route`` (per range of key files, and per bucket partition): each candidate's id and distinct
           shingles, and each membership, → its batch (one record batch per batch in an Arrow IPC
           file, so a batch is read without the rest);
        5. ``decide`` (per group of batches): per batch, order its documents by ``(id, gid)`` —
           the global id order restricted to them — and cluster (centre or components, verified);
        6. ``write`` (per range of tasks): decisions per task.

        A document only meets documents of its own component, so step 5 decides exactly what
        one global pass would, whatever the number of partitions; centre clustering's
        sequential rule (visit in id order) runs per batch of whole components.
        """
        key_files = list(key_files)
        P = max(1, int(partitions))
        starts = starts_of(key_counts(key_files))
        T, n = len(key_files), int(starts[-1])
        Pb = max(P, math.ceil(n * self.banding[0] / self.max_bucket_rows))
        sc = scratch_dir(out_dir)
        split, memb, local, route, clusters = (
            os.path.join(sc, d) for d in ("split", "memb", "local", "route", "clusters")
        )
        comp = (os.path.join(sc, "components.parquet"), os.path.join(sc, "batches.json"))
        ranges = list(enumerate(chunks(T, P)))
        reason = "minhash_dedup:near_duplicate"
        cols = self.band_columns() + (["nsh"] if self.verify else [])
        cc = self.cluster_column
        return [
            [
                ReduceTask(
                    "split", c, shuffle_keys, (key_files, starts, lo, hi, cols, _explode_bands, Pb, split, f"c{c:04d}")
                )
                for c, (lo, hi) in ranges
            ],
            [ReduceTask("buckets", q, _buckets, (split, q, Pb, memb, local)) for q in range(Pb)],
            [ReduceTask("components", 0, _components, (local, *comp, P, self.verify_block))],
            [
                ReduceTask("route", c, self._route_keys, (key_files, starts, lo, hi, comp[0], route))
                for c, (lo, hi) in ranges
            ]
            + [ReduceTask("route", q, _route_memberships, (memb, q, comp[0], route)) for q in range(Pb)],
            [
                ReduceTask("decide", r, self._decide, (route, comp[1], r, os.path.join(clusters, f"p{r:04d}.parquet")))
                for r in range(P)
            ],
            [
                ReduceTask("write", c, write_sparse_decisions, (clusters, starts, lo, hi, out_dir, reason, cc))
                for c, (lo, hi) in ranges
            ],
        ]

    def _route_keys(self, key_files: list, starts: np.ndarray, lo: int, hi: int, comp_file: str, route_dir: str) -> int:
        """Ids and distinct shingles of the candidates of key files ``lo..hi`` → their batch
        (one IPC file per key file, one record batch per batch)."""
        from winnow.core.text.kernels import sort_unique_u32

        a, b = int(starts[lo]), int(starts[hi])
        if b == a:
            return 0
        comp = pq.read_table(comp_file, filters=[("gid", ">=", a), ("gid", "<", b)], use_threads=False)
        gid = np.asarray(comp.column("gid").to_numpy())
        batch = np.asarray(comp.column("batch").to_numpy())
        n = 0
        for t in range(lo, hi):
            i0, i1 = np.searchsorted(gid, [starts[t], starts[t + 1]])
            if i1 == i0:
                continue
            by_batch = group_order(batch[i0:i1])  # rows taken batch by batch: written without reordering
            rows = gid[i0:i1][by_batch] - starts[t]
            kt = read_parquet(key_files[t], ["id", "sh"] if self.verify else ["id"])
            out = {
                "gid": pa.array(gid[i0:i1][by_batch]),
                "id": pc.cast(kt.column("id"), pa.string()).take(pa.array(rows)),
            }
            if self.verify:
                col = kt.column("sh").combine_chunks()
                if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):  # top 32 bits, packed
                    vals, counts = sort_unique_u32(*_packed_u32(col.take(pa.array(rows))))
                elif col.type.value_type == pa.uint32():  # a list column of the top 32 bits
                    taken = col.take(pa.array(rows))
                    vals, counts = sort_unique_u32(
                        np.asarray(pc.list_flatten(taken).to_numpy(zero_copy_only=False)),
                        pc.list_value_length(taken).to_numpy(zero_copy_only=False),
                    )
                    del taken
                else:
                    vals, counts = unique_per_doc(*_take_lists(col, rows))
                del col
                offs = np.zeros(len(counts) + 1, np.int64)
                np.cumsum(counts, out=offs[1:])
                out["sh"] = pa.LargeListArray.from_arrays(pa.array(offs), pa.array(vals))
                del vals
            del kt
            write_groups(
                os.path.join(route_dir, f"sets-t{t:05d}.arrow"), pa.table(out), batch[i0:i1][by_batch], grouped=True
            )
            n += i1 - i0
        return int(n)

    def _decide(self, route_dir: str, batches_file: str, r: int, out: str) -> dict:
        """Cluster the batches of group ``r``, each in id order (see :meth:`reduce_plan`)."""
        with open(batches_file) as fh:
            part_of_batch = np.asarray(json.load(fh)["part"], np.int64)
        mine = np.flatnonzero(part_of_batch == r)
        stats = {"candidate_docs": 0, "verified_pairs": 0, "batches": int(len(mine)), "duplicates": 0}
        stats.update({"candidate_pairs": 0} if self.clustering == "components" else {"rounds": 0})
        if self.clustering == "correlation":
            stats.update(dict.fromkeys(REFINE_STATS, 0))
        gids, ids, roots = [], [], []
        base = 0
        with GroupReaders(route_dir) as groups:
            for bi in mine.tolist():
                tb = groups.read("sets-", bi)
                m = tb.num_rows
                # node order = (id, gid) order; the sets stay in row order, addressed per node
                order = pc.sort_indices(tb.select(["id", "gid"]), [("id", "ascending"), ("gid", "ascending")])
                order = np.asarray(order.to_numpy(), np.int64)
                gid_rows = np.asarray(tb.column("gid").to_numpy())
                node_of_row = np.empty(m, np.int64)
                node_of_row[order] = np.arange(m, dtype=np.int64)
                mb = groups.read("memb-", bi)
                by_gid = np.argsort(gid_rows)
                K = lookup(gid_rows[by_gid], node_of_row[by_gid], np.asarray(mb.column("gid").to_numpy()))
                B = np.asarray(mb.column("bucket").to_numpy(), np.int64)
                del mb, by_gid, node_of_row
                gid = gid_rows[order]
                vals = offs = None
                if self.verify:
                    col = tb.column("sh").combine_chunks()
                    vals = np.asarray(pc.list_flatten(col).to_numpy())  # uint32 (top bits) or uint64
                    row_offs = np.zeros(m + 1, np.int64)
                    np.cumsum(pc.list_value_length(col).to_numpy(zero_copy_only=False), out=row_offs[1:])
                    offs = (row_offs[:-1][order], row_offs[1:][order])  # set of node k: vals[offs[0][k]:offs[1][k]]
                    del col, row_offs
                if self.clustering == "center":
                    found, rounds, tested = centre_rounds(K, B, m, vals, offs, self.threshold)
                    stats["rounds"] = max(stats["rounds"], rounds)
                    root = np.arange(m, dtype=np.int64)
                    d = found >= 0
                    root[d] = found[d]
                elif self.clustering == "correlation":
                    root, st = correlation_clusters(
                        K, B, m, vals, offs, self.threshold, self.join_fraction, self.refine_max_pairs
                    )
                    tested = st["tested"]
                    stats["rounds"] = max(stats["rounds"], st["centre_rounds"])
                    for k in REFINE_STATS:
                        stats[k] += st[k]
                else:
                    root, tested, e = component_roots(K, B, m, vals, offs, self.threshold)
                    stats["candidate_pairs"] += e
                stats["verified_pairs"] += tested
                stats["candidate_docs"] += m
                gids.append(gid)
                ids.append(tb.column("id").combine_chunks().take(pa.array(order)))
                roots.append(root + base)
                base += m
                del tb, vals, offs, K, B
                release_memory()
        cat = np.concatenate
        stats["duplicates"] = write_clusters(
            out,
            cat(gids) if gids else np.zeros(0, np.int64),
            pa.concat_arrays(ids) if ids else pa.array([], pa.string()),
            cat(roots) if roots else np.zeros(0, np.int64),
        )
        return stats


def _explode_bands(table: pa.Table, parts: int) -> tuple[pa.Table, np.ndarray]:
    """``(gid, band, h, nsh)`` per document and band with a bucket (h ≠ 0), partitioned by hash prefix."""
    gid = np.asarray(table.column("gid").to_numpy())
    nsh = (
        np.asarray(table.column("nsh").to_numpy(), np.int64)
        if "nsh" in table.column_names
        else np.ones(len(gid), np.int64)
    )
    gs, bs, hs, ns = [], [], [], []
    for j, name in enumerate(c for c in table.column_names if c not in ("gid", "nsh")):
        h = np.asarray(table.column(name).to_numpy(), np.uint64)
        ok = h != 0
        gs.append(gid[ok])
        bs.append(np.full(int(ok.sum()), j, np.int16))
        hs.append(h[ok])
        ns.append(nsh[ok])
    h = np.concatenate(hs)
    tb = pa.table({"gid": np.concatenate(gs), "band": np.concatenate(bs), "h": h, "nsh": np.concatenate(ns)})
    return tb, prefix_partition(h, parts)


def _buckets(split_dir: str, q: int, parts: int, memb_dir: str, local_dir: str) -> dict:
    """One bucket partition: the buckets with ≥ 2 documents; writes their memberships
    ``(gid, bucket)`` (bucket numbers unique over partitions) and, per candidate, the smallest
    gid it is linked to here, its shingle count and its memberships here (``local``: the input
    of the global union-find)."""
    from winnow.core.text.kernels import argsort_u64

    tb = read_partition(split_dir, q)
    empty = np.zeros(0, np.int64)
    gid = h = band = nsh = empty
    if tb is not None:
        gid = np.asarray(tb.column("gid").to_numpy(), np.int64)
        band = np.asarray(tb.column("band").to_numpy())
        h = np.asarray(tb.column("h").to_numpy())
        nsh = np.asarray(tb.column("nsh").to_numpy(), np.int64)
    del tb
    # one 64-bit key, radix-sorted (stable); equal hashes of different bands (2⁻⁶⁴) are split below
    order = argsort_u64(h)
    if len(h) > 1:
        hs, bs = h[order], band[order]
        if ((hs[1:] == hs[:-1]) & (bs[1:] != bs[:-1])).any():
            order = np.lexsort((band, h))
    gid, h, band, nsh = gid[order], h[order], band[order], nsh[order]
    del order
    new = np.r_[True, (h[1:] != h[:-1]) | (band[1:] != band[:-1])] if len(h) else np.zeros(0, bool)
    bid = np.cumsum(new) - 1
    size = np.bincount(bid) if len(bid) else np.zeros(0, np.int64)
    bucket_pairs = int((size * (size - 1) // 2).sum())
    multi = size[bid] > 1 if len(bid) else np.zeros(0, bool)
    del size
    ns, bid, nsh = gid[multi], bid[multi], nsh[multi]
    first = np.r_[True, bid[1:] != bid[:-1]] if len(bid) else np.zeros(0, bool)
    bucket = (np.cumsum(first) - 1) * parts + q
    write_parquet_atomic(
        pa.table({"gid": ns, "bucket": bucket.astype(np.int64)}), os.path.join(memb_dir, f"p{q:04d}-b.parquet")
    )
    cand, loc, at = unique_inverse(ns)
    cnt = np.bincount(loc, minlength=len(cand))
    parent = np.arange(len(cand), dtype=np.int64)
    head = loc[np.maximum.accumulate(np.where(first, np.arange(len(bid)), 0))] if len(bid) else empty
    union(parent, head, loc)
    root = find_roots(parent)
    write_parquet_atomic(
        pa.table({"gid": cand, "root": cand[root], "nsh": nsh[at], "nmemb": cnt.astype(np.int64)}),
        os.path.join(local_dir, f"p{q:04d}-l.parquet"),
    )
    return {
        "rows": int(len(gid)),
        "buckets": int(first.sum()),
        "memberships": int(len(ns)),
        "bucket_pairs": bucket_pairs,
    }


def _components(local_dir: str, comp_file: str, batches_file: str, parts: int, verify_block: int) -> dict:
    """The global pass: connected components of the bucket graph over the candidates (union-find
    of the partitions' links); whole components are grouped into batches of at most
    ``verify_block`` shingles (and ``verify_block / 8`` memberships) and at most 1/``parts`` of
    all, batches into ``parts`` groups of about equal shingles. Writes ``(gid, batch)`` per
    candidate and the group of each batch."""
    import glob

    tabs = [read_parquet(f) for f in sorted(glob.glob(os.path.join(local_dir, "*.parquet")))]
    cols = {k: [np.asarray(t.column(k).to_numpy(), np.int64) for t in tabs] for k in ("gid", "root", "nsh", "nmemb")}
    g, rt, nsh, nmemb = (np.concatenate(v) if v else np.zeros(0, np.int64) for v in cols.values())
    del tabs
    cand, gi, _ = unique_inverse(g)
    nsh_c = np.zeros(len(cand), np.int64)
    nsh_c[gi] = nsh
    memb_c = np.bincount(gi, weights=nmemb, minlength=len(cand)).astype(np.int64)
    parent = np.arange(len(cand), dtype=np.int64)
    union(parent, gi, np.searchsorted(cand, rt))
    del g, rt, nsh, nmemb, gi, cols
    root = find_roots(parent)  # smallest candidate of each component
    corder = np.argsort(root, kind="stable")
    cs = root[corder]
    cstart = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]]) if len(cs) else np.zeros(0, np.int64)
    csize = np.add.reduceat(nsh_c[corder], cstart) if len(cs) else np.zeros(0, np.int64)
    cmemb = np.add.reduceat(memb_c[corder], cstart) if len(cs) else np.zeros(0, np.int64)
    # at most verify_block shingles per batch, and at least `parts` batches to share out
    size_cap = min(verify_block, -(-int(csize.sum()) // parts)) if len(cs) else verify_block
    memb_cap = min(max(1, verify_block // 8), -(-int(cmemb.sum()) // parts)) if len(cs) else 1
    boc = _batches_by_totals(csize, cmemb, max(1, size_cap), max(1, memb_cap))
    batch = np.empty(len(cand), np.int64)
    batch[corder] = np.repeat(boc, np.diff(np.r_[cstart, len(cand)]))
    nb = int(boc[-1]) + 1 if len(boc) else 0
    bsize = np.bincount(boc, weights=csize, minlength=nb)
    before = np.cumsum(bsize) - bsize
    part = ((before * parts) // max(1.0, float(bsize.sum()))).astype(np.int64)
    write_parquet_atomic(pa.table({"gid": cand, "batch": batch}), comp_file)
    tmp = f"{batches_file}.tmp-{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump({"part": part.tolist()}, fh)
    os.replace(tmp, batches_file)
    return {"candidates": int(len(cand)), "components": int(len(cstart)), "batches": nb}


def _route_memberships(memb_dir: str, q: int, comp_file: str, route_dir: str) -> int:
    """Memberships of bucket partition ``q`` → the batch of their document."""
    mb = read_partition(memb_dir, q)
    if mb is None:
        return 0
    comp = read_parquet(comp_file, ["gid", "batch"])
    cg = np.asarray(comp.column("gid").to_numpy())
    batch = lookup(cg, np.asarray(comp.column("batch").to_numpy()), np.asarray(mb.column("gid").to_numpy()))
    write_groups(os.path.join(route_dir, f"memb-q{q:04d}.arrow"), mb, batch)
    return mb.num_rows
