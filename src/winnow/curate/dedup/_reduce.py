"""Shared reduce-side machinery: a split-independent document order, vectorised union-find,
and writing per-task decisions.

Documents are addressed by their *global index* ``gid`` (task order, then row) while reading
key files, but every decision is taken in *node* space: ``node = rank of (id, gid)``. So the
order used for "keep the first", for building LSH edges and for choosing representatives is
the order of ids, which does not depend on how the input was split into tasks or how many
workers ran.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def read_parquet(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read (some columns of) one Parquet file, single-threaded: far less transient memory
    than ``pq.read_table`` (dataset API, pre-buffering), which matters when the reduce reads
    many key files one after the other."""
    with pq.ParquetFile(path) as pf:
        return pf.read(columns=columns, use_threads=False)


class KeyIndex:
    """Row counts, ids and the id order of a global step's key files.

    Example:
        >>> idx = KeyIndex.from_tables([pa.table({"id": ["b", "a"]}), None, pa.table({"id": ["c"]})])
        >>> idx.node.tolist()     # rank of each global row in id order
        [1, 0, 2]
    """

    def __init__(self, key_files: Sequence[str | None], counts: np.ndarray, ids: pa.Array):
        self.key_files = list(key_files)
        self.counts = counts
        self.starts = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=self.starts[1:])
        self.n = int(self.starts[-1])
        # order of (id, gid): ties between equal ids are broken by global position
        if self.n:
            t = pa.table({"id": ids, "gid": pa.array(np.arange(self.n, dtype=np.int64))})
            order = np.asarray(
                pc.sort_indices(t, [("id", "ascending"), ("gid", "ascending")]).to_numpy(), dtype=np.int64
            )
        else:
            order = np.zeros(0, np.int64)
        #: gid of each node (node = position in id order)
        self.gid_of_node = order
        #: node of each gid
        self.node = np.empty(self.n, np.int64)
        self.node[order] = np.arange(self.n, dtype=np.int64)
        #: ids in node order
        self.ids_sorted = ids.take(pa.array(order)) if self.n else pa.array([], pa.string())
        #: task of each gid
        self.task_of_gid = np.repeat(np.arange(len(counts)), counts)

    @classmethod
    def from_files(cls, key_files: Sequence[str | None], id_column: str = "id") -> "KeyIndex":
        tables = [read_parquet(f, [id_column]) if f else None for f in key_files]
        return cls.from_tables(tables, key_files, id_column)

    @classmethod
    def from_tables(cls, tables, key_files=None, id_column: str = "id") -> "KeyIndex":
        counts = np.array([t.num_rows if t is not None else 0 for t in tables], np.int64)
        cols = [pc.cast(t.column(id_column), pa.string()) for t in tables if t is not None and t.num_rows]
        ids = pa.chunked_array(cols, pa.string()).combine_chunks() if cols else pa.array([], pa.string())
        return cls(key_files or [None] * len(tables), counts, ids)

    def read_column(self, column: str) -> np.ndarray | None:
        """One numeric column over all key files, in gid order (None if there are no rows)."""
        parts = [
            np.asarray(read_parquet(f, [column]).column(column).to_numpy())
            for f, c in zip(self.key_files, self.counts)
            if f and c
        ]
        return np.concatenate(parts) if parts else None


def find_roots(parent: np.ndarray) -> np.ndarray:
    """Full path compression: follow parents until every node points at its root (in place)."""
    while True:
        pp = parent[parent]
        if np.array_equal(pp, parent):
            return parent
        parent[:] = pp


def union(parent: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """Vectorised union-find: link the components of ``u[i]`` and ``v[i]``; the root of a
    component is always its smallest node (so the representative is deterministic)."""
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    while len(u):
        find_roots(parent)
        ru, rv = parent[u], parent[v]
        keep = ru != rv
        if not keep.any():
            return
        ru, rv, u, v = ru[keep], rv[keep], u[keep], v[keep]
        lo = np.minimum(ru, rv)
        hi = np.maximum(ru, rv)
        np.minimum.at(parent, hi, lo)


def components_from(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(root of each node, size of each node's component)."""
    root = find_roots(parent.copy())
    size = np.bincount(root, minlength=len(root))[root]
    return root, size


def write_decisions(
    out_dir: str, idx: KeyIndex, reason_of_gid: np.ndarray | None, columns: dict[str, pa.Array], reason: str
) -> None:
    """Write ``{task:05d}.parquet`` per task: ``reason`` (``reason`` where the mask is true,
    else null) plus the given columns (each aligned with gid order)."""
    os.makedirs(out_dir, exist_ok=True)
    for t in range(len(idx.counts)):
        a, b = int(idx.starts[t]), int(idx.starts[t + 1])
        n = b - a
        if reason_of_gid is not None and n:
            r = pc.if_else(pa.array(reason_of_gid[a:b]), pa.scalar(reason, pa.string()), pa.scalar(None, pa.string()))
        else:
            r = pa.nulls(n, pa.string())
        cols = {"reason": r}
        for k, col in columns.items():
            cols[k] = col.slice(a, n)
        tmp = os.path.join(out_dir, f".{t:05d}.parquet.tmp")
        pq.write_table(pa.table(cols), tmp)
        os.replace(tmp, os.path.join(out_dir, f"{t:05d}.parquet"))


def cluster_columns(
    idx: KeyIndex, root_node: np.ndarray, size_node: np.ndarray
) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array]:
    """From components in node space to gid-aligned decision columns.

    Returns (is_duplicate per gid, duplicate_of, cluster_id, cluster_size): the kept
    representative of a cluster is its smallest node (smallest id); ``cluster_id`` is the
    representative's id (null for singletons); ``duplicate_of`` is set on dropped rows only.
    """
    root_g = root_node[idx.node]
    size_g = size_node[idx.node]
    dup = root_g != idx.node
    rep_ids = idx.ids_sorted.take(pa.array(root_g))
    in_cluster = pa.array(size_g > 1)
    cluster_id = pc.if_else(in_cluster, rep_ids, pa.scalar(None, pa.string()))
    duplicate_of = pc.if_else(pa.array(dup), rep_ids, pa.scalar(None, pa.string()))
    return dup, duplicate_of, cluster_id, pa.array(size_g.astype(np.int64))


def write_cluster_decisions(
    out_dir: str, idx: KeyIndex, root_node: np.ndarray, size_node: np.ndarray, reason: str, cluster_column: str | None
) -> np.ndarray:
    """Write a dedup step's decisions from its components: ``duplicate_of`` (and, if
    ``cluster_column`` is set, that column plus ``cluster_size``); returns the duplicate mask (gid order)."""
    dup, dup_of, cid, csize = cluster_columns(idx, root_node, size_node)
    cols = {"duplicate_of": dup_of}
    if cluster_column:
        cols[cluster_column] = cid
        cols["cluster_size"] = csize
    write_decisions(out_dir, idx, dup, cols, reason)
    return dup
