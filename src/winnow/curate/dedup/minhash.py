"""MinHash-LSH near-duplicate removal (the FineWeb recipe, vectorised and out of core).

Phases (a :class:`~winnow.core.pipeline.step.GlobalStep`):

* **map** (per batch, parallel over shards): normalise text, hash word (or character)
  n-gram shingles to 64 bits and compute ``bands × rows`` MinHash values per document
  (``min((a·x + b) mod 2⁶⁴)`` per permutation, 32 high bits kept) with compiled kernels
  (:mod:`winnow.core.text.kernels`), and hash each band to one 64-bit bucket key. Keys (id, one
  column per band, and — with ``verify`` — the top 32 bits of the document's shingle hashes)
  are written to Parquet.
* **reduce** (out of core): bucket keys are re-partitioned on disk (Parquet spill files of at
  most ``max_bucket_rows`` rows per band); each partition is sorted once to find buckets, its
  members are linked by union-find and its memberships written back to disk. The components of
  that (unverified) bucket graph are grouped into batches of bounded size and decided batch by
  batch (:meth:`MinhashDedup.batch_clusters`). With ``clustering="center"`` (default),
  documents that share a bucket are decided as if visited in id order (computed in vectorised
  rounds, see :func:`centre_rounds`): a document is a duplicate of the first earlier *kept*
  document sharing a bucket with it whose true Jaccard (``verify``) is ≥ ``threshold``,
  otherwise it is kept — so every dropped row is directly similar to its ``duplicate_of`` (no
  chains). With ``clustering="components"`` (FineWeb/datatrove), every bucket member is linked
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
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr, model_validator

from winnow.core.memory import release_memory
from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import REDUCE_STATS, GlobalStep
from winnow.core.text.hashing import GOLDEN, MASK64, splitmix64
from winnow.core.text.normalized_words import concat_ranges as _ranges
from winnow.core.text.normalized_words import shingle_hashes
from winnow.curate.dedup._reduce import KeyIndex, find_roots, read_parquet, union, write_cluster_decisions

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


def bucket_edges(h: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate edges of one band: every member of a bucket → the bucket's smallest node."""
    if len(h) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
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
    from winnow.core.text.kernels import jaccard_at_least

    K = np.asarray(K, np.int64)
    B = np.asarray(B, np.int64)
    found = np.full(m, -1, np.int64)
    status = np.zeros(m, np.int8)  # 0 undecided, 1 centre, 2 duplicate
    prev_lo = np.zeros(m, np.int64)
    lens = np.diff(offs) if vals is not None else None
    INF = m
    o = np.lexsort((K, B))
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
            pair = np.unique(pk * span + pcn)
            pk, pcn = pair // span, pair % span
            if vals is not None:
                la, lc = lens[pk], lens[pcn]
                ok = np.minimum(la, lc) >= threshold * np.maximum(la, lc)  # J ≤ min/max
                cand = np.flatnonzero(ok)
                tested += len(cand)
                ok[cand] = jaccard_at_least(vals, offs, pk[cand], pcn[cand], threshold)
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


def component_roots(
    K: np.ndarray, B: np.ndarray, m: int, vals: np.ndarray | None, offs: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, int, int]:
    """FineWeb/datatrove clustering of one batch: every member of a bucket is linked to the
    bucket's smallest node, a link is kept if (with sets given) its Jaccard is ≥ ``threshold``,
    and union-find gives components rooted at their smallest node.

    ``K[i]`` (node ``0..m-1``) is a member of bucket ``B[i]``. Returns (root of each node,
    links tested exactly, distinct links)."""
    from winnow.core.text.kernels import jaccard_at_least

    u, v = bucket_edges(np.asarray(B, np.int64), np.asarray(K, np.int64))
    span = np.int64(max(m, 1))
    e = np.unique(u * span + v)
    u, v = e // span, e % span
    tested = 0
    if vals is not None and len(u):
        lens = np.diff(offs)
        la, lb = lens[u], lens[v]
        ok = np.minimum(la, lb) >= threshold * np.maximum(la, lb)  # J ≤ min/max
        cand = np.flatnonzero(ok)
        tested = len(cand)
        ok[cand] = jaccard_at_least(vals, offs, u[cand], v[cand], threshold)
        u, v = u[ok], v[ok]
    parent = np.arange(m, dtype=np.int64)
    union(parent, u, v)
    return find_roots(parent), tested, len(e)


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


def _write_ipc_groups(path: str, columns: dict, cuts: np.ndarray, group_of_row: np.ndarray) -> list[int]:
    """Write ``columns`` (rows already ordered by group) to an Arrow IPC file, one record batch
    per run ``cuts[i]:cuts[i+1]``; returns the group of each record batch."""
    arrays = {k: (v if isinstance(v, pa.Array) else pa.array(v)) for k, v in columns.items()}
    schema = pa.schema([(k, a.type) for k, a in arrays.items()])
    groups = []
    with pa.OSFile(path, "wb") as fh, pa.ipc.new_file(fh, schema) as w:
        for c0, c1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            w.write_batch(pa.record_batch([a.slice(c0, c1 - c0) for a in arrays.values()], schema=schema))
            groups.append(int(group_of_row[c0]))
    return groups


class _SpillReaders(dict):
    """Open IPC spill files (path → reader), so each footer is read once; a context manager."""

    def group(self, path: str, group: int | None) -> pa.Table:
        """Record batch ``group`` of an IPC spill file (only its bytes are read), or a whole Parquet file."""
        if group is None:
            return read_parquet(path)
        if path not in self:
            fh = pa.OSFile(path, "rb")
            self[path] = (fh, pa.ipc.open_file(fh))
        return pa.Table.from_batches([self[path][1].get_batch(group)])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fh, _ in self.values():
            fh.close()
        self.clear()


@register_step
class MinhashDedup(GlobalStep):
    """Fuzzy deduplication with MinHash-LSH (+ optional exact-Jaccard verification).

    Documents whose shingle sets collide in at least one of ``bands`` LSH bands (of ``rows``
    MinHash values each) are candidates; with ``verify=True`` a candidate pair counts only if
    its true Jaccard similarity is ≥ ``threshold``. With ``clustering="center"`` (default) a
    document is dropped as a duplicate of the first earlier kept document it matches (in id
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
    #: ``center``: a document is dropped only as a duplicate of a kept document it matches
    #: directly (greedy, in id order); ``components``: union-find connected components of all
    #: matching pairs (FineWeb/datatrove; transitive chains can merge dissimilar documents)
    clustering: Literal["center", "components"] = "center"
    #: rows per bucket spill partition (bounds reduce memory per band)
    max_bucket_rows: int = Field(4_000_000, gt=0)
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
            offs = np.zeros(len(counts) + 1, np.int32 if len(sh) < 2**31 else np.int64)
            np.cumsum(counts, out=offs[1:])
            cls = pa.ListArray if offs.dtype == np.int32 else pa.LargeListArray
            # top 32 bits of each shingle hash: half the bytes to write and read back; two
            # distinct shingles of a pair of 10k-shingle documents collide with probability
            # 10⁸ / 2³² ≈ 0.02 (a Jaccard error below 10⁻⁵)
            cols["sh"] = cls.from_arrays(pa.array(offs), pa.array((sh >> np.uint64(32)).astype(np.uint32)))
            cols["nsh"] = pa.array(counts.astype(np.int64))
        return pa.table(cols)

    # ------------------------------------------------------------------ reduce
    def spill_buckets(self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str) -> list[str]:
        """Re-partition every band's bucket keys ``(h, node)`` into Parquet files of at most
        about ``max_bucket_rows`` rows (hash partitioning), reading key files row group by row group."""
        nparts = max(1, math.ceil(idx.n / self.max_bucket_rows))
        os.makedirs(spill_dir, exist_ok=True)
        schema = pa.schema([("h", pa.uint64()), ("node", pa.int64())])
        writers: dict[tuple[int, int], pq.ParquetWriter] = {}
        for t, f in enumerate(key_files):
            if not f or not idx.counts[t]:
                continue
            nodes = idx.node[idx.starts[t] : idx.starts[t + 1]]
            pf = pq.ParquetFile(f)
            off = 0
            for rg in range(pf.num_row_groups):
                tb = pf.read_row_group(rg, columns=self.band_columns())
                nd = nodes[off : off + tb.num_rows]
                off += tb.num_rows
                for j, name in enumerate(self.band_columns()):
                    h = np.asarray(tb.column(name).to_numpy(), np.uint64)
                    ok = h != 0
                    h, n_ = h[ok], nd[ok]
                    part = (h % np.uint64(nparts)).astype(np.int64) if nparts > 1 else np.zeros(len(h), np.int64)
                    for p in np.unique(part):
                        sel = part == p
                        key = (j, int(p))
                        if key not in writers:
                            writers[key] = pq.ParquetWriter(
                                os.path.join(spill_dir, f"b{j:02d}-p{int(p):04d}.parquet"),
                                schema,
                                compression="none",
                                use_dictionary=False,
                            )
                        writers[key].write_table(pa.table({"h": h[sel], "node": n_[sel]}, schema=schema))
        for w in writers.values():
            w.close()
        return [os.path.join(spill_dir, f"b{j:02d}-p{p:04d}.parquet") for j, p in sorted(writers)]

    @staticmethod
    def _read_spill(path: str) -> tuple[np.ndarray, np.ndarray]:
        tb = read_parquet(path)
        return np.asarray(tb.column("h").to_numpy(), np.uint64), np.asarray(tb.column("node").to_numpy(), np.int64)

    def bucket_pass(
        self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Stream the on-disk bucket partitions once: link the members of every LSH bucket
        with ≥ 2 documents (union-find over nodes, the only corpus-sized structure) and write
        their ``(node, bucket)`` memberships (buckets numbered over all bands) to Parquet.

        Returns (component root of every node, memberships per node, membership files)."""
        parent = np.arange(idx.n, dtype=np.int64)
        n_memb = np.zeros(idx.n, np.int64)
        files: list[str] = []
        next_id = n_pairs = 0
        schema = pa.schema([("node", pa.int64()), ("bucket", pa.int64())])
        for k, path in enumerate(self.spill_buckets(key_files, idx, os.path.join(spill_dir, "bands"))):
            h, node = self._read_spill(path)
            os.remove(path)
            if len(h) < 2:
                continue
            order = np.lexsort((node, h))
            hs, ns = h[order], node[order]
            del h, node, order
            new = np.r_[True, hs[1:] != hs[:-1]]
            bid = np.cumsum(new) - 1
            del hs, new
            size = np.bincount(bid)
            n_pairs += int((size * (size - 1) // 2).sum())
            multi = size[bid] > 1
            del size
            ns, bid = ns[multi], bid[multi]
            if not len(ns):
                continue
            first = np.r_[True, bid[1:] != bid[:-1]]
            head = ns[np.maximum.accumulate(np.where(first, np.arange(len(bid)), 0))]
            union(parent, head, ns)
            n_memb += np.bincount(ns, minlength=idx.n)
            out = os.path.join(spill_dir, f"memb-{k:05d}.parquet")
            pq.write_table(
                pa.table({"node": ns, "bucket": bid + next_id}, schema=schema),
                out,
                compression="none",
                use_dictionary=False,
            )
            files.append(out)
            next_id += int(bid[-1]) + 1
        self._stats["bucket_pairs"] = n_pairs  # Σ over buckets of C(size, 2): pairs sharing k bands count k times
        return find_roots(parent), n_memb, files

    def batch_clusters(self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str) -> np.ndarray:
        """The representative of every node (itself if kept), decided batch by batch.

        With ``clustering="center"``: greedy centre clustering over LSH candidates, in id order —
        a document joins the first earlier *centre* that shares a bucket with it (and, with
        ``verify``, has true Jaccard ≥ ``threshold``); otherwise it becomes a centre. Every
        dropped document is directly similar to the one it is a duplicate of (no chaining).
        With ``"components"``: every bucket member is linked to the bucket's smallest node, links
        are kept if verified, and each connected component keeps its smallest node.

        Either way a document only ever meets documents of its own connected component of the
        (unverified) bucket graph, so components are grouped into batches of at most
        ``verify_block`` shingles (and ``verify_block / 8`` bucket memberships); memberships
        and shingles are routed to per-batch files on disk and each batch is decided on its own.
        Memory holds a few arrays of one integer per document, one bucket partition or one
        task's shingles, and one batch — never all the memberships or shingles of the corpus.
        """
        os.makedirs(spill_dir, exist_ok=True)
        comp_of, n_memb, memb_files = self.bucket_pass(key_files, idx, spill_dir)
        rep = np.arange(idx.n, dtype=np.int64)
        cand = np.flatnonzero(n_memb)  # nodes in some shared bucket, in node order
        if len(cand) == 0:
            shutil.rmtree(spill_dir, ignore_errors=True)
            return rep
        comp = comp_of[cand]
        del comp_of
        if self.verify:
            g_all = idx.gid_of_node[cand]
            nsh = np.zeros(len(cand), np.int64)
            task_all = idx.task_of_gid[g_all]
            for t in np.unique(task_all):
                sel = np.flatnonzero(task_all == t)
                col = read_parquet(key_files[t], ["nsh"]).column("nsh")
                nsh[sel] = np.asarray(col.to_numpy(), np.int64)[g_all[sel] - idx.starts[t]]
        else:
            nsh = np.ones(len(cand), np.int64)
        # batches of whole components, in component order
        corder = np.lexsort((cand, comp))
        comp_sorted = comp[corder]
        cstart = np.flatnonzero(np.r_[True, comp_sorted[1:] != comp_sorted[:-1]])
        del comp, comp_sorted
        csize = np.add.reduceat(nsh[corder], cstart)
        cmemb = np.add.reduceat(n_memb[cand][corder], cstart)
        batch_of_comp = _batches_by_totals(csize, cmemb, self.verify_block, max(1, self.verify_block // 8))
        nb = int(batch_of_comp[-1]) + 1
        batch = np.empty(len(cand), np.int64)
        batch[corder] = np.repeat(batch_of_comp, np.diff(np.r_[cstart, len(corder)]))
        del corder, cstart, csize, cmemb, batch_of_comp
        batch_of_node = np.full(idx.n, -1, np.int64)
        batch_of_node[cand] = batch
        # memberships → one record batch per verification batch in an Arrow IPC file per
        # membership file (scratch data: IPC needs no decoding and reads only the batch asked
        # for); a single batch reads the files as they are
        memb_groups: list[list[tuple[str, int | None]]] = [[] for _ in range(nb)]
        if nb == 1:
            memb_groups[0] = [(f, None) for f in memb_files]
            memb_files = []
        for path in memb_files:
            tb = read_parquet(path)
            node = np.asarray(tb.column("node").to_numpy(), np.int64)
            bk = np.asarray(tb.column("bucket").to_numpy(), np.int64)
            del tb
            bt = batch_of_node[node]
            o = np.argsort(bt, kind="stable")
            node, bk, bt = node[o], bk[o], bt[o]
            cuts = np.flatnonzero(np.r_[True, bt[1:] != bt[:-1], True])
            routed = path + ".arrow"
            for g, b in enumerate(_write_ipc_groups(routed, {"node": node, "bucket": bk}, cuts, bt)):
                memb_groups[b].append((routed, g))
            os.remove(path)
            del node, bk, bt, o
        batch_parts: list[list] = [[] for _ in range(nb)]  # (IPC path, record batch) or in memory (k, vals, offs)
        if self.verify:
            # one pass over the key files: each task's candidates, ordered by batch, go to one
            # IPC file with a record batch per verification batch (memory: one task + one batch)
            for t in np.unique(task_all):
                sel = np.flatnonzero(task_all == t)
                sel = sel[np.argsort(batch[sel], kind="stable")]
                col = read_parquet(key_files[t], ["sh"]).column("sh").combine_chunks()
                narrow = col.type.value_type == pa.uint32()  # hashes stored as their top 32 bits
                vals, counts = unique_per_doc(*_take_lists(col, g_all[sel] - idx.starts[t]))
                del col
                offs = np.zeros(len(counts) + 1, np.int64)
                np.cumsum(counts, out=offs[1:])
                bsel = batch[sel]
                cuts = np.flatnonzero(np.r_[True, bsel[1:] != bsel[:-1], True])
                if nb == 1:  # one batch: it is held in memory anyway
                    batch_parts[0].append((sel, vals, offs))
                    continue
                lists = pa.LargeListArray.from_arrays(
                    pa.array(offs), pa.array((vals >> np.uint64(32)).astype(np.uint32) if narrow else vals)
                )
                del vals
                path = os.path.join(spill_dir, f"verify-{t:05d}.arrow")
                for g, b in enumerate(_write_ipc_groups(path, {"k": sel, "sh": lists}, cuts, bsel)):
                    batch_parts[b].append((path, g))
                del lists
            del g_all, task_all
        thr = self.threshold
        n_checked = n_rounds = n_edges = 0
        with _SpillReaders() as readers:
            for bi in range(nb):
                ks = np.flatnonzero(batch == bi)  # candidate positions, in node order
                parts = [readers.group(f, g) for f, g in memb_groups[bi]]
                mnode = np.concatenate([np.asarray(p.column(0).to_numpy(), np.int64) for p in parts])
                K = np.searchsorted(cand[ks], mnode)  # node → local index in the batch
                B = np.concatenate([np.asarray(p.column(1).to_numpy(), np.int64) for p in parts])
                del parts, mnode
                vals = offs = None
                if self.verify:
                    # the batch's sets, in the order of ks (node order)
                    keys_, lens_, starts_, flats = [], [], [], []
                    base = 0
                    for part in batch_parts[bi]:
                        if isinstance(part[0], str):
                            tb = readers.group(*part)
                            col = tb.column("sh").chunk(0)
                            k_ = np.asarray(tb.column("k").to_numpy(), np.int64)
                            lo_ = np.asarray(col.offsets.to_numpy(), np.int64)
                            fl = np.asarray(col.values.to_numpy())[lo_[0] : lo_[-1]]
                            if fl.dtype == np.uint32:
                                fl = fl.astype(np.uint64) << np.uint64(32)
                        else:
                            k_, fl, lo_ = part
                            fl = fl[lo_[0] : lo_[-1]]
                        keys_.append(k_)
                        lens_.append(np.diff(lo_))
                        starts_.append(lo_[:-1] - lo_[0] + base)
                        flats.append(fl)
                        base += int(lo_[-1] - lo_[0])
                    loc = np.searchsorted(ks, np.concatenate(keys_))
                    n_of = np.zeros(len(ks), np.int64)
                    n_of[loc] = np.concatenate(lens_)
                    st_of = np.zeros(len(ks), np.int64)
                    st_of[loc] = np.concatenate(starts_)
                    vals = np.concatenate(flats)[_ranges(st_of, n_of)]
                    offs = np.zeros(len(ks) + 1, np.int64)
                    np.cumsum(n_of, out=offs[1:])
                    del keys_, lens_, starts_, flats
                    batch_parts[bi] = []
                if self.clustering == "center":
                    found, r, t = centre_rounds(K, B, len(ks), vals, offs, thr)
                    n_rounds = max(n_rounds, r)
                    d = found >= 0
                    rep[cand[ks[d]]] = cand[ks[found[d]]]
                else:
                    root, t, e = component_roots(K, B, len(ks), vals, offs, thr)
                    n_edges += e
                    rep[cand[ks]] = cand[ks[root]]
                n_checked += t
                del K, B, vals, offs
                release_memory()
        shutil.rmtree(spill_dir, ignore_errors=True)
        self._stats.update(candidate_docs=int(len(cand)), verified_pairs=n_checked, batches=nb)
        if self.clustering == "center":
            self._stats["rounds"] = n_rounds
        else:
            self._stats["candidate_pairs"] = n_edges
        return rep

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1) -> None:
        t0 = time.perf_counter()
        idx = KeyIndex.from_files(key_files)
        b, r = self.banding
        self._stats = {
            "docs": idx.n,
            "clustering": self.clustering,
            "bands": b,
            "rows": r,
            "p_candidate_at_threshold": round(float(collision_probability(self.threshold, b, r)), 4),
        }
        spill = os.path.join(out_dir, "_buckets")
        root = self.batch_clusters(key_files, idx, spill)
        size = np.bincount(root, minlength=idx.n)[root]
        dup = write_cluster_decisions(out_dir, idx, root, size, "minhash_dedup:near_duplicate", self.cluster_column)
        self._stats.update(duplicates=int(dup.sum()), seconds=round(time.perf_counter() - t0, 3))
        with open(os.path.join(out_dir, REDUCE_STATS), "w") as fh:  # the manifest: counts only, no timings
            json.dump({k: v for k, v in self._stats.items() if k != "seconds"}, fh)
