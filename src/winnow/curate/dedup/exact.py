"""Exact deduplication: a 128-bit hash of normalised text; the first document by id is kept.

Example (YAML): ``- exact_dedup: {lowercase: true}``

    >>> from winnow import Pipeline
    >>> p = Pipeline([{"exact_dedup": {"lowercase": True}}])
    >>> res = p.run("raw/*.jsonl", "runs/exact")                       # doctest: +SKIP
    >>> res.rejects(["id", "duplicate_of"])                             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pyarrow as pa

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import GlobalStep
from winnow.core.text.normalized_words import hash_strings_128, normalize
from winnow.curate.dedup._reduce import KeyIndex, components_from, union, write_cluster_decisions


@register_step
class ExactDedup(GlobalStep):
    """Drop documents whose normalised text is identical to an earlier one (by id order).

    Normalisation is configurable (all vectorised with Arrow compute): ``unicode_form``,
    ``lowercase``, ``punctuation`` (remove punctuation/symbols), ``digits`` (digit runs → 0),
    ``whitespace`` (collapse runs, strip ends). Within a group of identical texts the row with
    the smallest ``id`` is kept — an order that does not depend on shards or workers — and the
    others are rejected with reason ``exact_dedup:duplicate`` and ``duplicate_of`` = kept id.
    Kept rows of a group get ``cluster_id`` (the kept id) and ``cluster_size``.
    The reduce holds ids and two 64-bit hashes per document in memory (no text).
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

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1) -> None:
        idx = KeyIndex.from_files(key_files)
        parent = np.arange(idx.n, dtype=np.int64)
        if idx.n:
            h1 = idx.read_column("h1")[idx.gid_of_node]
            h2 = idx.read_column("h2")[idx.gid_of_node]
            order = np.lexsort((np.arange(idx.n), h2, h1))  # by hash, then node
            same = (h1[order][1:] == h1[order][:-1]) & (h2[order][1:] == h2[order][:-1])
            # start of each run of equal hashes → link every member to the run's first node
            run_start = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(idx.n), 0))
            first = order[run_start]
            union(parent, first, order)
        root, size = components_from(parent)
        write_cluster_decisions(out_dir, idx, root, size, "exact_dedup:duplicate", self.cluster_column)
