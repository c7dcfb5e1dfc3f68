"""MinHash-LSH near-duplicate removal (the FineWeb recipe, vectorised and out of core).

Phases (a :class:`~winnow.pipeline.step.GlobalStep`):

* **map** (per batch, parallel over shards): normalise text, hash word (or character)
  n-gram shingles to 64 bits, compute ``bands × rows`` MinHash values per document in numpy
  over the whole batch (``min((a·x + b) mod 2⁶⁴)`` per permutation, 32 high bits kept), and hash
  each band to one 64-bit bucket key. Keys (id, one column per band, and — with
  ``verify`` — the document's distinct shingle hashes) are written to Parquet.
* **reduce**: bucket keys are re-partitioned on disk (Parquet spill files of at most
  ``max_bucket_rows`` rows per band), each partition is sorted and every document of a bucket
  becomes a candidate edge to the bucket's first document (in id order). With ``verify``,
  candidate edges are checked with the true Jaccard similarity of the two shingle sets
  (loaded task by task, so memory is bounded by shard size) and only pairs at or above
  ``threshold`` are merged. Union-find gives connected components; the document with the
  smallest id represents its cluster, the others are rejected.
* **apply**: rows get ``duplicate_of`` (dropped rows), ``cluster_id`` (the representative's
  id, null for singletons) and ``cluster_size``.

Defaults follow FineWeb: word 5-grams, 14 bands × 8 rows (collision probability 0.5 at
Jaccard ≈ 0.72, 0.92 at 0.8), here with verification at 0.8 switched on.

Example:
    >>> from winnow import Pipeline
    >>> p = Pipeline([{"minhash_dedup": {"threshold": 0.8, "bands": 14, "rows": 8}}])
    >>> res = p.run("raw/*.jsonl.gz", "runs/minhash", workers=2)     # doctest: +SKIP

    >>> import pyarrow as pa
    >>> step = MinhashDedup(bands=4, rows=2)
    >>> keys = step.map(pa.table({"id": ["a", "b"], "text": ["one two three four five six"] * 2}))
    >>> keys.column("b00")[0].as_py() == keys.column("b00")[1].as_py()
    True
"""
from __future__ import annotations

import math
import os
import shutil
import time
from collections import OrderedDict
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr, model_validator

from winnow.dedup._reduce import KeyIndex, cluster_columns, components_from, union, write_decisions
from winnow.dedup._text import _P, fmix64, shingle_hashes
from winnow.pipeline.step import GlobalStep

_MAX64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` parameters of ``num_perm`` hash functions ``(a·x + b) mod 2⁶⁴`` (a odd)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(sh: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray,
                       chunk: int = 8192) -> np.ndarray:
    """MinHash signatures (uint32, shape ``(docs, len(a))``) from flat shingle hashes.

    Works over the whole batch in blocks of ``chunk`` shingles (a block may span documents
    and a document may span blocks), laid out ``(permutation, shingle)`` so that the per-
    document minimum is a contiguous ``minimum.reduceat``; memory is ``chunk × num_perm × 8``
    bytes whatever the document lengths. Documents without shingles get all-ones signatures.
    """
    n, k = len(counts), len(a)
    sig = np.full((k, n), _MAX64, np.uint64)
    total = len(sh)
    if total:
        doc_of = np.repeat(np.arange(n, dtype=np.int64), counts)
        buf = np.empty((k, min(chunk, total)), np.uint64)
        a_col, b_col = a[:, None], b[:, None]
        for s0 in range(0, total, chunk):
            x = sh[s0:s0 + chunk]
            d = doc_of[s0:s0 + chunk]
            v = buf[:, :len(x)]
            np.multiply(a_col, x[None, :], out=v)
            v += b_col
            starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
            m = np.minimum.reduceat(v, starts, axis=1)
            ds = d[starts]
            np.minimum(sig[:, ds], m, out=m)
            sig[:, ds] = m
    return np.ascontiguousarray((sig >> np.uint64(32)).astype(np.uint32).T)


def band_hashes(sig: np.ndarray, bands: int, rows: int, counts: np.ndarray | None = None) -> np.ndarray:
    """One 64-bit bucket key per band, shape ``(docs, bands)``; 0 marks "no bucket" (empty docs)."""
    n = sig.shape[0]
    if sig.shape[1] < bands * rows:
        raise ValueError(f"signature has {sig.shape[1]} values, bands × rows needs {bands * rows}")
    out = np.empty((n, bands), np.uint64)
    s = sig.astype(np.uint64)
    for j in range(bands):
        h = np.full(n, ((j + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF, np.uint64)
        for r in range(rows):
            h ^= s[:, j * rows + r]
            h *= _P
            h ^= h >> np.uint64(29)
        h = fmix64(h)
        h[h == 0] = 1
        out[:, j] = h
    if counts is not None:
        out[np.asarray(counts) == 0] = 0
    return out


def unique_per_doc(sh: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shingle hashes of each document: (flat values, new counts)."""
    n = len(counts)
    if len(sh) == 0:
        return sh, np.zeros(n, np.int64)
    doc = np.repeat(np.arange(n, dtype=np.int64), counts)
    order = np.lexsort((sh, doc))
    s, d = sh[order], doc[order]
    keep = np.r_[True, (s[1:] != s[:-1]) | (d[1:] != d[:-1])]
    return s[keep], np.bincount(d[keep], minlength=n).astype(np.int64)


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


def jaccard_pairs(a_vals: np.ndarray, a_counts: np.ndarray, b_vals: np.ndarray, b_counts: np.ndarray) -> np.ndarray:
    """Exact Jaccard of pairs of sets given as flat distinct values + counts (pair i = A_i vs B_i)."""
    m = len(a_counts)
    if m == 0:
        return np.zeros(0)
    pid = np.concatenate([np.repeat(np.arange(m), a_counts), np.repeat(np.arange(m), b_counts)])
    vals = np.concatenate([a_vals, b_vals])
    order = np.lexsort((vals, pid))
    v, p = vals[order], pid[order]
    dup = (v[1:] == v[:-1]) & (p[1:] == p[:-1])
    inter = np.bincount(p[1:][dup], minlength=m).astype(np.float64)
    union_ = a_counts + b_counts - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union_ > 0, inter / np.maximum(union_, 1), 1.0)


class _ShingleCache:
    """Distinct-shingle lists of a few tasks' key files (LRU), so verification memory is
    bounded by shard size, not corpus size."""

    def __init__(self, key_files: Sequence[str | None], capacity: int = 2):
        self.key_files = key_files
        self.capacity = capacity
        self._c: OrderedDict[int, pa.ListArray] = OrderedDict()
        self.loads = 0

    def get(self, task: int) -> pa.ListArray:
        if task in self._c:
            self._c.move_to_end(task)
            return self._c[task]
        col = pq.read_table(self.key_files[task], columns=["sh"]).column("sh").combine_chunks()
        self.loads += 1
        self._c[task] = col
        while len(self._c) > self.capacity:
            self._c.popitem(last=False)
        return col


def _take_lists(col: pa.ListArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = col.take(pa.array(rows))
    counts = np.asarray(pc.list_value_length(t).to_numpy(zero_copy_only=False), np.int64)
    return np.asarray(pc.list_flatten(t).to_numpy(zero_copy_only=False), np.uint64), counts


class MinhashDedup(GlobalStep):
    """Fuzzy deduplication with MinHash-LSH (+ optional exact-Jaccard verification).

    Documents whose shingle sets collide in at least one of ``bands`` LSH bands (of ``rows``
    MinHash values each) are candidates; with ``verify=True`` a candidate pair is merged only
    if its true Jaccard similarity is ≥ ``threshold``. Connected components are clusters; the
    row with the smallest id is kept. Reason: ``minhash_dedup:near_duplicate``.
    """

    name = "minhash_dedup"
    ngram: int = Field(5, ge=1, description="shingle size (words or characters)")
    unit: Literal["word", "char"] = "word"
    bands: int = Field(14, ge=1)
    rows: int = Field(8, ge=1)
    seed: int = 1
    verify: bool = True
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    #: ``center``: a document is dropped only as a duplicate of a kept document it matches
    #: directly (greedy, in id order); ``components``: union-find connected components of all
    #: matching pairs (FineWeb/datatrove; transitive chains can merge dissimilar documents)
    clustering: Literal["center", "components"] = "center"
    #: rows per bucket spill partition (bounds reduce memory per band)
    max_bucket_rows: int = Field(4_000_000, gt=0)
    #: max shingles held per verification block
    verify_block: int = Field(4_000_000, gt=0)
    cluster_column: str | None = "cluster_id"

    _perm: tuple | None = PrivateAttr(None)
    _stats: dict = PrivateAttr(default_factory=dict)

    @property
    def last_stats(self) -> dict:
        """Statistics of the last reduce in this process (candidate/verified pairs, seconds)."""
        return self._stats

    @model_validator(mode="after")
    def _check(self):
        if self.bands * self.rows > 4096:
            raise ValueError(f"bands × rows = {self.bands * self.rows} permutations is too many (max 4096)")
        return self

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def band_columns(self) -> list[str]:
        return [f"b{j:02d}" for j in range(self.bands)]

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
        bh = band_hashes(sig, self.bands, self.rows, counts)
        cols = {"id": table.column("id")}
        for j, name in enumerate(self.band_columns()):
            cols[name] = pa.array(bh[:, j])
        if self.verify:
            u, uc = unique_per_doc(sh, counts)
            offs = np.zeros(len(uc) + 1, np.int32 if len(u) < 2**31 else np.int64)
            np.cumsum(uc, out=offs[1:])
            cls = pa.ListArray if offs.dtype == np.int32 else pa.LargeListArray
            cols["sh"] = cls.from_arrays(pa.array(offs), pa.array(u, pa.uint64()))
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
            nodes = idx.node[idx.starts[t]:idx.starts[t + 1]]
            pf = pq.ParquetFile(f)
            off = 0
            for rg in range(pf.num_row_groups):
                tb = pf.read_row_group(rg, columns=self.band_columns())
                nd = nodes[off:off + tb.num_rows]
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
                            writers[key] = pq.ParquetWriter(os.path.join(spill_dir, f"b{j:02d}-p{int(p):04d}.parquet"),
                                                            schema, compression="zstd")
                        writers[key].write_table(pa.table({"h": h[sel], "node": n_[sel]}, schema=schema))
        for w in writers.values():
            w.close()
        return [os.path.join(spill_dir, f"b{j:02d}-p{p:04d}.parquet") for j, p in sorted(writers)]

    @staticmethod
    def _read_spill(path: str) -> tuple[np.ndarray, np.ndarray]:
        tb = pq.read_table(path)
        return np.asarray(tb.column("h").to_numpy(), np.uint64), np.asarray(tb.column("node").to_numpy(), np.int64)

    def candidate_edges(self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str
                        ) -> tuple[np.ndarray, np.ndarray]:
        """All distinct candidate edges ``(u, v)`` in node space (u < v): every member of an LSH
        bucket linked to the bucket's smallest node (via on-disk bucket partitions)."""
        us = []
        for path in self.spill_buckets(key_files, idx, spill_dir):
            u, v = bucket_edges(*self._read_spill(path))
            if len(u):
                us.append(np.unique(u * np.int64(idx.n) + v))
            if len(us) > 8:  # keep the edge list small: dedupe as we go
                us = [np.unique(np.concatenate(us))]
        shutil.rmtree(spill_dir, ignore_errors=True)
        if not us:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        e = np.unique(np.concatenate(us))
        return e // idx.n, e % idx.n

    def bucket_memberships(self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str
                           ) -> tuple[np.ndarray, np.ndarray]:
        """``(node, bucket)`` for every document of every LSH bucket with ≥ 2 members (buckets
        numbered consecutively over all bands), from the on-disk bucket partitions."""
        nodes, buckets = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        next_id = 0
        for path in self.spill_buckets(key_files, idx, spill_dir):
            h, node = self._read_spill(path)
            if len(h) < 2:
                continue
            order = np.lexsort((node, h))
            hs, ns = h[order], node[order]
            new = np.r_[True, hs[1:] != hs[:-1]]
            bid = np.cumsum(new) - 1
            size = np.bincount(bid)
            multi = size[bid] > 1
            nodes.append(ns[multi])
            buckets.append(bid[multi] + next_id)
            next_id += len(size)
        shutil.rmtree(spill_dir, ignore_errors=True)
        return np.concatenate(nodes), np.concatenate(buckets)

    def center_clusters(self, key_files: Sequence[str | None], idx: KeyIndex, spill_dir: str) -> np.ndarray:
        """Greedy centre clustering over LSH candidates, in id order: a document joins the
        first earlier *centre* that shares a bucket with it (and, with ``verify``, has true
        Jaccard ≥ ``threshold``); otherwise it becomes a centre. Returns the centre of each node.

        Every dropped document is directly similar to the one it is a duplicate of (no
        chaining through intermediate documents). Only documents in a shared bucket are
        visited (one pass, in order); their distinct shingles are loaded task by task.
        """
        mn, mb = self.bucket_memberships(key_files, idx, spill_dir)
        rep = np.arange(idx.n, dtype=np.int64)
        if len(mn) == 0:
            return rep
        order = np.lexsort((mb, mn))
        mn, mb = mn[order], mb[order]
        cand, starts = np.unique(mn, return_index=True)
        bounds = np.r_[starts, len(mn)].tolist()
        sets: list[np.ndarray] = [None] * len(cand)  # type: ignore[list-item]
        if self.verify:
            g = idx.gid_of_node[cand]
            task = idx.task_of_gid[g]
            for t in np.unique(task):
                sel = np.flatnonzero(task == t)
                col = pq.read_table(key_files[t], columns=["sh"]).column("sh").combine_chunks()
                vals, counts = _take_lists(col, g[sel] - idx.starts[t])
                offs = np.r_[0, np.cumsum(counts)]
                for k, a, b in zip(sel.tolist(), offs[:-1].tolist(), offs[1:].tolist()):
                    sets[k] = vals[a:b]
                del col
        thr = self.threshold
        centres: dict[int, list[int]] = {}
        mb_l = mb.tolist()
        cand_l = cand.tolist()
        n_checked = 0
        for k in range(len(cand_l)):
            bs = mb_l[bounds[k]:bounds[k + 1]]
            found = -1
            cs = set()
            for b in bs:
                c = centres.get(b)
                if c:
                    cs.update(c)
            if cs:
                if not self.verify:
                    found = min(cs)
                else:
                    a = sets[k]
                    for c in sorted(cs):
                        o = sets[c]
                        la, lo = len(a), len(o)
                        if min(la, lo) < thr * max(la, lo):  # Jaccard ≤ min/max
                            continue
                        n_checked += 1
                        inter = np.intersect1d(a, o, assume_unique=True).size
                        if inter >= thr * (la + lo - inter):
                            found = c
                            break
            if found < 0:
                for b in bs:
                    centres.setdefault(b, []).append(k)
            else:
                rep[cand_l[k]] = cand_l[found]
        self._stats["candidate_docs"] = len(cand_l)
        self._stats["verified_pairs"] = n_checked
        return rep

    def verify_edges(self, key_files: Sequence[str | None], idx: KeyIndex, u: np.ndarray, v: np.ndarray
                     ) -> np.ndarray:
        """True Jaccard of each candidate edge (node space), computed task pair by task pair."""
        gu, gv = idx.gid_of_node[u], idx.gid_of_node[v]
        tu, tv = idx.task_of_gid[gu], idx.task_of_gid[gv]
        swap = tu > tv
        gu, gv = np.where(swap, gv, gu), np.where(swap, gu, gv)
        tu, tv = np.where(swap, tv, tu), np.where(swap, tu, tv)
        order = np.lexsort((tv, tu))
        jac = np.zeros(len(u))
        cache = _ShingleCache(key_files)
        grp = np.flatnonzero(np.r_[True, (tu[order][1:] != tu[order][:-1]) | (tv[order][1:] != tv[order][:-1])])
        bounds = np.r_[grp, len(order)]
        for g in range(len(grp)):
            sel = order[bounds[g]:bounds[g + 1]]
            ta, tb = int(tu[sel[0]]), int(tv[sel[0]])
            ca = cache.get(ta)
            cb = cache.get(tb) if tb != ta else ca
            ra = gu[sel] - idx.starts[ta]
            rb = gv[sel] - idx.starts[tb]
            # blocks bounded by shingle count
            la = np.asarray(pc.list_value_length(ca.take(pa.array(ra))).to_numpy(zero_copy_only=False), np.int64)
            lb = np.asarray(pc.list_value_length(cb.take(pa.array(rb))).to_numpy(zero_copy_only=False), np.int64)
            cum = np.cumsum(la + lb)
            start = 0
            while start < len(sel):
                end = int(np.searchsorted(cum, (cum[start - 1] if start else 0) + self.verify_block, "right"))
                end = max(end, start + 1)
                av, ac = _take_lists(ca, ra[start:end])
                bv, bc = _take_lists(cb, rb[start:end])
                jac[sel[start:end]] = jaccard_pairs(av, ac, bv, bc)
                start = end
        return jac

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1) -> None:
        t0 = time.perf_counter()
        idx = KeyIndex.from_files(key_files)
        self._stats = {"docs": idx.n, "clustering": self.clustering}
        spill = os.path.join(out_dir, "_buckets")
        if self.clustering == "center":
            root = self.center_clusters(key_files, idx, spill)
            size = np.bincount(root, minlength=idx.n)[root]
        else:
            u, v = self.candidate_edges(key_files, idx, spill)
            self._stats["candidate_pairs"] = int(len(u))
            if self.verify and len(u):
                jac = self.verify_edges(key_files, idx, u, v)
                ok = jac >= self.threshold
                self._stats["verified_pairs"] = int(ok.sum())
                u, v = u[ok], v[ok]
            parent = np.arange(idx.n, dtype=np.int64)
            union(parent, u, v)
            root, size = components_from(parent)
        dup, dup_of, cid, csize = cluster_columns(idx, root, size)
        self._stats.update(duplicates=int(dup.sum()), seconds=time.perf_counter() - t0)
        cols = {"duplicate_of": dup_of}
        if self.cluster_column:
            cols[self.cluster_column] = cid
            cols["cluster_size"] = csize
        write_decisions(out_dir, idx, dup, cols, "minhash_dedup:near_duplicate")
