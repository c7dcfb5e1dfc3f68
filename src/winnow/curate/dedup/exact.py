"""Exact deduplication: a 128-bit hash of normalised text; the first document by id is kept.

Example (YAML): ``- exact_dedup: {lowercase: true}``

    >>> from winnow import Pipeline
    >>> p = Pipeline([{"exact_dedup": {"lowercase": True}}])
    >>> res = p.run("raw/*.jsonl", "runs/exact")                       # doctest: +SKIP
    >>> res.rejects(["id", "duplicate_of"])                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from winnow.core.pipeline.reduce import ReduceTask, chunks, run_plan
from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import GlobalStep
from winnow.core.text.normalized_words import hash_strings_128, normalize
from winnow.curate.dedup._reduce import (
    key_counts,
    prefix_partition,
    read_partition,
    scratch_dir,
    shuffle_keys,
    starts_of,
    write_clusters,
    write_sparse_decisions,
)


@register_step
class ExactDedup(GlobalStep):
    """Drop documents whose normalised text is identical to an earlier one (by id order).

    Normalisation is configurable (all vectorised with Arrow compute): ``unicode_form``,
    ``lowercase``, ``punctuation`` (remove punctuation/symbols), ``digits`` (digit runs → 0),
    ``whitespace`` (collapse runs, strip ends). Within a group of identical texts the row with
    the smallest ``id`` is kept — an order that does not depend on shards or workers — and the
    others are rejected with reason ``exact_dedup:duplicate`` and ``duplicate_of`` = kept id.
    Kept rows of a group get ``cluster_id`` (the kept id) and ``cluster_size``.
    The reduce is partitioned by hash prefix: each of its tasks holds the ids and two 64-bit
    hashes of its share of the documents (no text).
    """

    name = "exact_dedup"
    lowercase: bool = False
    punctuation: bool = False
    digits: bool = False
    whitespace: bool = True
    unicode_form: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"
    #: name of the cluster column attached to rows (``None``: do not attach)
    cluster_column: str | None = "cluster_id"

    def map(self, table: pa.Table) -> pa.Table:
        norm = normalize(
            table.column("text"),
            lowercase=self.lowercase,
            punctuation=self.punctuation,
            digits=self.digits,
            whitespace=self.whitespace,
            unicode_form=self.unicode_form,
        )
        hi, lo = hash_strings_128(norm)
        return pa.table({"id": table.column("id"), "h1": pa.array(hi), "h2": pa.array(lo)})

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1, partitions: int = 1) -> None:
        """Decisions in this process (the plan of :meth:`reduce_plan`, one task after the other)."""
        run_plan(self.reduce_plan(key_files, out_dir, partitions=partitions))
        shutil.rmtree(scratch_dir(out_dir), ignore_errors=True)

    def reduce_plan(self, key_files: Sequence[str | None], out_dir: str, *, partitions: int = 1, workers: int = 1):
        """Partitioned by hash prefix: ``split`` (key files → hash-prefix partitions), ``group``
        (per partition: equal hashes, the smallest ``(id, gid)`` kept), ``write`` (per range of
        tasks). Identical hashes always share a partition, so there is nothing to merge."""
        key_files = list(key_files)
        P = max(1, int(partitions))
        starts = starts_of(key_counts(key_files))
        sc = scratch_dir(out_dir)
        split, clusters = os.path.join(sc, "split"), os.path.join(sc, "clusters")
        T = len(key_files)
        return [
            [
                ReduceTask(
                    "split",
                    c,
                    shuffle_keys,
                    (key_files, starts, lo, hi, ["id", "h1", "h2"], _by_h1, P, split, f"c{c:04d}"),
                )
                for c, (lo, hi) in enumerate(chunks(T, P))
            ],
            [ReduceTask("group", q, _group, (split, q, os.path.join(clusters, f"p{q:04d}.parquet"))) for q in range(P)],
            [
                ReduceTask(
                    "write",
                    c,
                    write_sparse_decisions,
                    (clusters, starts, lo, hi, out_dir, "exact_dedup:duplicate", self.cluster_column),
                )
                for c, (lo, hi) in enumerate(chunks(T, P))
            ],
        ]


def _by_h1(table: pa.Table, parts: int) -> tuple[pa.Table, np.ndarray]:
    return table, prefix_partition(np.asarray(table.column("h1").to_numpy(), np.uint64), parts)


def _group(split_dir: str, q: int, out: str) -> int:
    """One hash-prefix partition: rows with equal ``(h1, h2)`` form a cluster whose smallest
    ``(id, gid)`` is kept. Returns the duplicates found."""
    tb = read_partition(split_dir, q)
    if tb is None:
        return write_clusters(out, np.zeros(0, np.int64), pa.array([], pa.string()), np.zeros(0, np.int64))
    tb = tb.set_column(tb.schema.get_field_index("id"), "id", pc.cast(tb.column("id"), pa.string()))
    order = pc.sort_indices(tb, [("h1", "ascending"), ("h2", "ascending"), ("id", "ascending"), ("gid", "ascending")])
    tb = tb.take(order)
    h1 = np.asarray(tb.column("h1").to_numpy())
    h2 = np.asarray(tb.column("h2").to_numpy())
    n = len(h1)
    same = (h1[1:] == h1[:-1]) & (h2[1:] == h2[:-1])
    root = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(n), 0))
    return write_clusters(out, np.asarray(tb.column("gid").to_numpy()), tb.column("id").combine_chunks(), root)
