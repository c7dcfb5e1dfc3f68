"""Shared reduce-side machinery: a split-independent document order, vectorised union-find,
the partitioned reduce's shuffles, and writing per-task decisions.

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

from winnow.core.pipeline.reduce import scratch_dir  # noqa: F401 (used by the dedup steps)
from winnow.core.sorting import group_order


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


# ------------------------------------------------------------------ partitioned reduces
#
# A partitioned reduce addresses rows by their *gid* (task order, then row; known from the key
# files' metadata) and never sorts all ids in one place: every partition orders its own rows by
# ``(id, gid)``, which is the global node order restricted to them. Tasks hand data to the next
# phase through Parquet files under ``<decisions>/_scratch`` (written atomically, so a retried
# task rewrites the same files); the decisions of rows in clusters (size > 1) go to
# ``_scratch/clusters/p*.parquet`` as ``(gid, rep, dup, size)`` and :func:`write_sparse_decisions`
# turns them into one decisions file per task.


def key_counts(key_files: Sequence[str | None]) -> np.ndarray:
    """Rows per key file (0 for ``None``), from the Parquet footers."""
    out = np.zeros(len(key_files), np.int64)
    for t, f in enumerate(key_files):
        if f:
            out[t] = pq.ParquetFile(f).metadata.num_rows
    return out


def starts_of(counts: np.ndarray) -> np.ndarray:
    """First gid of each key file (plus the total at the end)."""
    s = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=s[1:])
    return s


def prefix_partition(h: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each 64-bit hash by its prefix: ``parts`` contiguous ranges of the top 24 bits.

    >>> prefix_partition(np.array([0, 2**63, 2**64 - 1], np.uint64), 4).tolist()
    [0, 2, 3]
    """
    top = (np.asarray(h, np.uint64) >> np.uint64(40)).astype(np.int64)
    return (top * parts) >> 24


def write_parquet_atomic(table: pa.Table, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, tmp, compression="none", use_dictionary=False)
    os.replace(tmp, path)


def shuffle_keys(
    key_files: Sequence[str | None],
    starts: np.ndarray,
    lo: int,
    hi: int,
    columns: list[str],
    part_fn,
    parts: int,
    out_dir: str,
    tag: str,
) -> int:
    """Split the key files ``lo..hi`` (one row group at a time) into partition files
    ``out_dir/p{q:04d}-{tag}.parquet``. ``part_fn(table with gid, parts) -> (table, partition
    per row)`` chooses what goes where. Returns the rows written."""
    buf: dict[int, list[pa.Table]] = {}
    n = 0
    for t in range(lo, hi):
        f = key_files[t]
        if not f or starts[t + 1] == starts[t]:
            continue
        pf = pq.ParquetFile(f)
        off = int(starts[t])
        for rg in range(pf.num_row_groups):
            tb = pf.read_row_group(rg, columns=columns, use_threads=False)
            tb = tb.append_column("gid", pa.array(np.arange(off, off + tb.num_rows, dtype=np.int64)))
            off += tb.num_rows
            tb, part = part_fn(tb, parts)
            for q, rows in group_slices(tb, part):
                buf.setdefault(q, []).append(rows)
            n += tb.num_rows
    for q, tabs in buf.items():
        write_parquet_atomic(pa.concat_tables(tabs).combine_chunks(), os.path.join(out_dir, f"p{q:04d}-{tag}.parquet"))
    return n


def write_by_part(tb: pa.Table, pattern: str) -> None:
    """Rows of ``tb`` to one file per value of its ``part`` column (``pattern.format(part)``)."""
    part = np.asarray(tb.column("part").to_numpy())
    for q, rows in group_slices(tb.drop_columns(["part"]), part):
        write_parquet_atomic(rows, pattern.format(q))


def group_slices(table: pa.Table, group: np.ndarray, *, grouped: bool = False):
    """``(group, rows)`` for every distinct value of ``group`` (one per row of ``table``), in
    increasing order, each group's rows in their order: one stable reordering copy of the
    table, slices of it after (``grouped``: the rows already come group by group, no copy)."""
    g = np.asarray(group)
    if not grouped:
        order = group_order(g)
        g = g[order]
        table = table.take(pa.array(order))
    table = table.combine_chunks()
    cuts = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True]) if len(g) else np.zeros(1, np.int64)
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        yield int(g[a]), table.slice(a, b - a)


def write_groups(path: str, table: pa.Table, group: np.ndarray, *, grouped: bool = False) -> None:
    """Rows of ``table`` to an Arrow IPC file with one record batch per value of ``group`` (so
    one group is read without the others), and ``path.json`` listing the group of each record
    batch; both written atomically. ``grouped``: the rows already come group by group (no
    reordering copy)."""
    import json

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    groups = []
    with pa.OSFile(tmp, "wb") as fh, pa.ipc.new_file(fh, table.schema) as w:
        for g, rows in group_slices(table, group, grouped=grouped):
            w.write_batch(rows.to_batches()[0])
            groups.append(g)
    os.replace(tmp, path)
    with open(tmp, "w") as fh:
        json.dump(groups, fh)
    os.replace(tmp, path + ".json")


class GroupReaders:
    """Read one group from every :func:`write_groups` file of a folder (by name prefix): only
    that group's record batches are read; files stay open until the ``with`` block ends."""

    def __init__(self, folder: str):
        self.folder = folder
        self._index: dict[str, dict[int, list[tuple[str, int]]]] = {}
        self._open: dict[str, tuple] = {}

    def _groups(self, prefix: str) -> dict[int, list[tuple[str, int]]]:
        import glob
        import json

        if prefix not in self._index:
            idx: dict[int, list[tuple[str, int]]] = {}
            for side in sorted(glob.glob(os.path.join(self.folder, f"{prefix}*.arrow.json"))):
                with open(side) as fh:
                    for k, g in enumerate(json.load(fh)):
                        idx.setdefault(g, []).append((side[: -len(".json")], k))
            self._index[prefix] = idx
        return self._index[prefix]

    def read(self, prefix: str, group: int) -> pa.Table:
        """Rows of ``group`` in the files named ``prefix*.arrow`` (empty table if none)."""
        parts = []
        for path, k in self._groups(prefix).get(group, []):
            if path not in self._open:
                fh = pa.OSFile(path, "rb")
                self._open[path] = (fh, pa.ipc.open_file(fh))
            parts.append(self._open[path][1].get_batch(k))
        return pa.Table.from_batches(parts).combine_chunks() if parts else pa.table({})

    def __enter__(self) -> "GroupReaders":
        return self

    def __exit__(self, *exc) -> None:
        for fh, _ in self._open.values():
            fh.close()
        self._open.clear()


def read_partition(in_dir: str, q: int, columns: list[str] | None = None, prefix: str = "p") -> pa.Table | None:
    """Every file of partition ``q`` in ``in_dir`` (``{prefix}{q:04d}-*.parquet``), concatenated."""
    import glob

    files = sorted(glob.glob(os.path.join(in_dir, f"{prefix}{q:04d}-*.parquet")))
    tabs = [read_parquet(f, columns) for f in files]
    tabs = [t for t in tabs if t.num_rows]
    return pa.concat_tables(tabs).combine_chunks() if tabs else None


def write_clusters(path: str, gid: np.ndarray, ids: pa.Array, root: np.ndarray) -> int:
    """Cluster output of one partition: rows are ``gid`` (any order) with ``ids``; ``root[i]``
    is the position (in the same arrays) of row i's representative. Keeps rows of clusters with
    more than one member; returns the number of duplicates (rows that are not their own root)."""
    size = np.bincount(root, minlength=len(root))[root]
    keep = np.flatnonzero(size > 1)
    dup = root[keep] != keep
    rep = ids.take(pa.array(root[keep])) if len(keep) else pa.array([], pa.string())
    write_parquet_atomic(
        pa.table(
            {
                "gid": pa.array(np.asarray(gid, np.int64)[keep]),
                "rep": pc.cast(rep, pa.string()),
                "dup": pa.array(dup),
                "size": pa.array(size[keep].astype(np.int64)),
            }
        ),
        path,
    )
    return int(dup.sum())


def write_sparse_decisions(
    clusters_dir: str, starts: np.ndarray, lo: int, hi: int, out_dir: str, reason: str, cluster_column: str | None
) -> int:
    """Decisions of tasks ``lo..hi`` from every partition's cluster file (only their gids are
    read): ``reason`` and ``duplicate_of`` on duplicates, ``cluster_column`` (the representative's
    id) and ``cluster_size`` on every row (null and 1 outside clusters). Returns the files written."""
    import glob

    a, b = int(starts[lo]), int(starts[hi])
    parts = []
    for f in sorted(glob.glob(os.path.join(clusters_dir, "*.parquet"))):
        t = pq.read_table(f, filters=[("gid", ">=", a), ("gid", "<", b)], use_threads=False) if b > a else None
        if t is not None and t.num_rows:
            parts.append(t)
    if parts:
        cl = pa.concat_tables(parts).combine_chunks()
        o = np.argsort(np.asarray(cl.column("gid").to_numpy()), kind="stable")
        cl = cl.take(pa.array(o))
    else:
        cl = pa.table(
            {
                "gid": pa.array([], pa.int64()),
                "rep": pa.array([], pa.string()),
                "dup": pa.array([], pa.bool_()),
                "size": pa.array([], pa.int64()),
            }
        )
    gid = np.asarray(cl.column("gid").to_numpy())
    rep = pa.concat_arrays([cl.column("rep").combine_chunks(), pa.nulls(1, pa.string())])
    dup = np.asarray(cl.column("dup").to_numpy(zero_copy_only=False), bool)
    size = np.asarray(cl.column("size").to_numpy())
    none = len(gid)  # index of the null appended to rep
    os.makedirs(out_dir, exist_ok=True)
    for t in range(lo, hi):
        s, e = int(starts[t]), int(starts[t + 1])
        i0, i1 = np.searchsorted(gid, [s, e])
        pos = gid[i0:i1] - s
        rep_i = np.full(e - s, none, np.int64)
        rep_i[pos] = np.arange(i0, i1)
        dup_i = np.full(e - s, none, np.int64)
        dup_i[pos[dup[i0:i1]]] = np.arange(i0, i1)[dup[i0:i1]]
        is_dup = np.zeros(e - s, bool)
        is_dup[pos] = dup[i0:i1]
        cols = {
            "reason": pc.if_else(pa.array(is_dup), pa.scalar(reason, pa.string()), pa.scalar(None, pa.string())),
            "duplicate_of": rep.take(pa.array(dup_i)),
        }
        if cluster_column:
            sz = np.ones(e - s, np.int64)
            sz[pos] = size[i0:i1]
            cols[cluster_column] = rep.take(pa.array(rep_i))
            cols["cluster_size"] = pa.array(sz)
        tmp = os.path.join(out_dir, f".{t:05d}.parquet.tmp-{os.getpid()}")
        pq.write_table(pa.table(cols), tmp)
        os.replace(tmp, os.path.join(out_dir, f"{t:05d}.parquet"))
    return hi - lo
