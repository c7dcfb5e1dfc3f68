"""Bounded reads of a run's Parquet shards, row group by row group.

A report must open runs of any size, so nothing here reads a whole dataset: every function
takes a row budget, visits row groups in a seeded random order (so samples are spread over
all shards, not just the first file) and reads only the columns it needs.

Example:
    >>> shards = Shards.from_dir("runs/demo/data")                       # doctest: +SKIP
    >>> sample = shards.sample(["n_words"], max_rows=100_000, seed=0)    # doctest: +SKIP
    >>> sample.table.num_rows, shards.num_rows                           # doctest: +SKIP
    (100000, 2500000)
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: files whose footers define a shard set's columns
SCHEMA_FILES = 32
#: Parquet files kept open per shard set while sampling
OPEN_FILES = 32
#: rows per batch when fetching a few rows (with their text) out of a row group
TAKE_BATCH = 4096
#: rows per sampling group of a JSONL.gz output shard (JSONL has no row groups)
JSONL_GROUP = 10_000
#: rejects shards are named st{stage}-s{step index}-t{task}-{k}.parquet by the runner
_REJECT_NAME = re.compile(r"^st\d+-s(\d+)-t\d+-\d+\.parquet$")


@dataclass
class Group:
    """One row group of one Parquet file (or lines ``(-rg-1)*JSONL_GROUP ...`` of a JSONL.gz shard)."""

    path: str
    rg: int
    num_rows: int


@dataclass
class Sample:
    """Rows read from a shard set: the table, how many rows it was drawn from, and whether
    it holds all of them."""

    table: pa.Table
    population: int

    @property
    def complete(self) -> bool:
        return self.table.num_rows >= self.population

    @property
    def weight(self) -> float:
        """How many rows of the population each sampled row stands for."""
        return self.population / self.table.num_rows if self.table.num_rows else 0.0


class Shards:
    """A set of Parquet (or JSONL.gz) shards read by row group, never all at once."""

    def __init__(self, files: list[str], num_rows: int | None = None):
        """``num_rows``: the total when known (e.g. from the manifest), so that sampling never
        has to open every file's footer; otherwise it is counted from the footers."""
        self.files = sorted(f for f in files if ".tmp-" not in os.path.basename(f))
        self._num_rows = num_rows
        self._groups: list[Group] | None = None
        self._file_groups: dict[str, list[Group]] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._open: OrderedDict[str, pq.ParquetFile] = OrderedDict()  # a few open files (LRU)

    @classmethod
    def from_dir(cls, directory: str) -> "Shards":
        return cls(glob.glob(os.path.join(directory, "*.parquet")) + glob.glob(os.path.join(directory, "*.jsonl.gz")))

    def __len__(self) -> int:
        return len(self.files)

    # -- metadata (footers only) -------------------------------------------------------
    def _pf(self, path: str) -> pq.ParquetFile:
        pf = self._open.pop(path, None)
        if pf is None:
            pf = pq.ParquetFile(path)
            while len(self._open) >= OPEN_FILES:
                _, old = self._open.popitem(last=False)
                old.close()
        self._open[path] = pf
        return pf

    def _meta(self, path: str) -> pa.Schema:
        if path not in self._schemas:
            if path.endswith(".parquet"):
                self._schemas[path] = self._pf(path).schema_arrow
            else:
                t = _read_jsonl(path, 50)
                self._schemas[path] = t.schema
        return self._schemas[path]

    def groups_of(self, f: str) -> list[Group]:
        """The row groups of one file (its footer only)."""
        if f not in self._file_groups:
            if f.endswith(".parquet"):
                md = self._pf(f).metadata
                out = [Group(f, i, md.row_group(i).num_rows) for i in range(md.num_row_groups)]
            else:  # JSONL output: groups of JSONL_GROUP lines (rg = -1, -2, ...)
                with gzip.open(f, "rb") as fh:
                    n = sum(1 for _ in fh)
                out = [
                    Group(f, -(k + 1), min(JSONL_GROUP, n - k * JSONL_GROUP))
                    for k in range((n + JSONL_GROUP - 1) // JSONL_GROUP)
                ]
            self._file_groups[f] = out
        return self._file_groups[f]

    @property
    def groups(self) -> list[Group]:
        """All row groups (opens every footer: sampling uses :meth:`order` instead)."""
        if self._groups is None:
            self._groups = [g for f in self.files for g in self.groups_of(f)]
        return self._groups

    @property
    def num_rows(self) -> int:
        if self._num_rows is None:
            self._num_rows = sum(g.num_rows for g in self.groups)
        return self._num_rows

    def schema(self) -> pa.Schema:
        """Union of the shards' schemas (first type wins), from at most SCHEMA_FILES files
        (the first ones and a seeded random set), so a run of any number of files is cheap."""
        files = self.files
        if len(files) > SCHEMA_FILES:
            rng = np.random.default_rng(0)
            half = SCHEMA_FILES // 2
            files = files[:half] + [
                files[i] for i in sorted(rng.choice(np.arange(half, len(files)), half, replace=False))
            ]
        fields: dict[str, pa.Field] = {}
        for f in files:
            for fld in self._meta(f):
                fields.setdefault(fld.name, fld)
        return pa.schema(list(fields.values()))

    def populated_schema(self) -> pa.Schema:
        """:meth:`schema` without the columns that are null in every row (by the Parquet footers'
        null counts): a folder unified to one schema carries every step's columns, but a step's
        rejects only fill its own."""
        full = self.schema()
        filled: set[str] = set()
        for f in self.files:
            if not f.endswith(".parquet"):
                return full
            md = self._pf(f).metadata
            for g in range(md.num_row_groups):
                rg = md.row_group(g)
                for c in range(rg.num_columns):
                    col = rg.column(c)
                    st = col.statistics
                    if st is None or not st.has_null_count or st.null_count < rg.num_rows:
                        filled.add(col.path_in_schema.split(".")[0])
        return pa.schema([f for f in full if f.name in filled])

    def has(self, column: str) -> bool:
        return column in self.schema().names

    # -- reading --------------------------------------------------------------------
    def read(self, g: Group, columns: list[str] | None) -> pa.Table:
        """Read one row group, only ``columns`` (those missing from this file are skipped)."""
        names = self._meta(g.path).names
        cols = None if columns is None else [c for c in columns if c in names]
        if g.rg < 0:
            t = _read_jsonl(g.path, JSONL_GROUP, skip=(-g.rg - 1) * JSONL_GROUP)
            return t if cols is None else t.select([c for c in cols if c in t.column_names])
        return self._pf(g.path).read_row_group(g.rg, columns=cols)

    def take(self, g: Group, idx, columns: list[str]) -> pa.Table:
        """Rows ``idx`` (in that order) of one row group, reading it in batches of
        ``TAKE_BATCH`` rows so a huge row group of long texts is never held whole."""
        idx = np.asarray(idx, dtype=np.int64)
        if g.rg < 0:
            return self.read(g, columns).take(pa.array(idx))
        pf = self._pf(g.path)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        if idx.size == 0:
            return pf.schema_arrow.empty_table().select(cols)
        order = np.argsort(idx, kind="stable")
        sidx = idx[order]
        parts, start = [], 0
        for b in pf.iter_batches(batch_size=TAKE_BATCH, row_groups=[g.rg], columns=cols):
            end = start + b.num_rows
            lo, hi = np.searchsorted(sidx, [start, end])
            if hi > lo:
                parts.append(pa.Table.from_batches([b]).take(pa.array(sidx[lo:hi] - start)))
            start = end
            if start > sidx[-1]:
                break
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        return pa.concat_tables(parts).take(pa.array(inv))

    def order(self, seed: int) -> Iterator[Group]:
        """Row groups in a seeded random order (deterministic for a seed): files shuffled, and
        the row groups of each file shuffled, file after file. Lazy: a file's footer is read
        only when the walk reaches it, so a small budget touches few files."""
        rng = np.random.default_rng(seed)
        for i in rng.permutation(len(self.files)):
            gs = self.groups_of(self.files[i])
            for j in rng.permutation(len(gs)):
                yield gs[j]

    def iter_groups(self, columns: list[str], *, max_rows: int, seed: int = 0) -> Iterator[tuple[Group, pa.Table]]:
        """Yield ``(group, table)`` in seeded order until ``max_rows`` rows were read."""
        seen = 0
        for g in self.order(seed):
            if seen >= max_rows:
                return
            t = self.read(g, columns)
            seen += t.num_rows
            yield g, t

    def sample(
        self, columns: list[str], *, max_rows: int, seed: int = 0, where: Callable[[pa.Table], pa.Array] | None = None
    ) -> Sample:
        """Up to ``max_rows`` rows of ``columns`` drawn from random row groups.

        ``where`` filters each row group first (e.g. ``step == "length"``); the population is
        then estimated from the filtered fraction of the groups read.
        """
        parts, read_rows, kept_rows = [], 0, 0
        rng = np.random.default_rng(seed + 1)
        for g, t in self.iter_groups(columns, max_rows=max_rows, seed=seed):
            read_rows += t.num_rows
            if where is not None:
                t = t.filter(where(t))
            kept_rows += t.num_rows
            room = max_rows - sum(p.num_rows for p in parts)
            if t.num_rows > room:
                t = t.take(pa.array(np.sort(rng.choice(t.num_rows, room, replace=False))))
            if t.num_rows:
                parts.append(t)
        total = self.num_rows
        if where is None:
            population = total
        elif read_rows >= total:
            population = kept_rows
        else:
            population = int(round(kept_rows / max(read_rows, 1) * total))
        table = _concat(parts, columns)
        return Sample(table, population)


def _concat(parts: list[pa.Table], columns: list[str]) -> pa.Table:
    if not parts:
        return pa.table({c: pa.array([], pa.null()) for c in columns})
    names: list[str] = []
    for p in parts:
        names.extend(n for n in p.column_names if n not in names)
    filled = []
    for p in parts:
        for n in names:
            if n not in p.column_names:
                p = p.append_column(n, pa.nulls(p.num_rows))
        filled.append(p.select(names))
    return pa.concat_tables(filled, promote_options="permissive")


def _read_jsonl(path: str, limit: int | None, skip: int = 0) -> pa.Table:
    """Lines ``skip .. skip+limit`` of a JSONL.gz shard (streamed: memory bounded by ``limit``)."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if limit is not None and i >= skip + limit:
                break
            rows.append(json.loads(line))
    return pa.Table.from_pylist(rows)


def reject_shards_by_step(rejects_dir: str) -> tuple[dict[int, Shards], Shards]:
    """Group ``rejects/`` shards by the step index in their file names.

    Returns ``({step_index: Shards}, unnamed)`` where ``unnamed`` holds files whose name does
    not follow the runner's pattern (their rows are told apart by the ``step`` column).
    """
    by: dict[int, list[str]] = {}
    other: list[str] = []
    for f in glob.glob(os.path.join(rejects_dir, "*.parquet")):
        if ".tmp-" in f:
            continue
        m = _REJECT_NAME.match(os.path.basename(f))
        if m:
            by.setdefault(int(m.group(1)), []).append(f)
        else:
            other.append(f)
    return {k: Shards(v) for k, v in sorted(by.items())}, Shards(other)


def excerpt(col: pa.Array | pa.ChunkedArray, n: int) -> list:
    """First ``n`` characters of each string (sliced in Arrow, so long documents are not
    copied into Python)."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return pc.utf8_slice_codeunits(col, 0, n).to_pylist()
    return [None if v is None else str(v)[:n] for v in col.to_pylist()]
