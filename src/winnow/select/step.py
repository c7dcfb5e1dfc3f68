"""The ``select`` pipeline step: keep a budget of rows chosen by any selection strategy.

A :class:`~winnow.core.pipeline.step.GlobalStep`: ``map`` computes per-row scores where a strategy
is row-local (``random`` hashes the id with the seed; ``topk`` reads the score column) and
otherwise passes the columns the strategy needs (``id``, ``text``, ``label``, ``x``, token counts);
``reduce`` fits the strategy over all shards at once (with the ``target`` dataset, if any) and
picks the budget; ``apply`` keeps the chosen rows, adds a ``select_score`` column, and rejects
the others with reason ``select:<method>``.

The reduce stays one task (it does not partition): a budget is global — the kept rows are the
top of one ranking over every row — and most strategies fit on all rows at once (DSIR's
importance weights, a classifier, a gradient sketch), so partial reduces could not decide on
their own. Its input is only the key columns (ids, token counts, scores or the text a strategy
needs); the map that computes per-row scores is where the work is, and it runs in parallel.

Example (YAML):

    steps:
      - select: {method: dsir, budget: "25%", target: data/target/*.jsonl}
      - select: {method: topk, budget: 1000, params: {column: quality_score}}
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, field_validator

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import GlobalStep
from winnow.core.text.whitespace import count_words

_ROW_LOCAL = ("random", "topk", "threshold")


@register_step
class Select(GlobalStep):
    """Keep a budget of rows (fraction, row count or "N tokens") chosen by a selection strategy."""

    name = "select"
    method: str = "random"
    budget: float | int | str = 0.5
    target: str | None = None
    target_text_column: str = "text"
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0

    @field_validator("budget")
    @classmethod
    def _budget(cls, v):
        from winnow.select.base import parse_budget

        parse_budget(v)
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v):
        from winnow.select import SELECTORS

        if v not in SELECTORS:
            raise ValueError(f"unknown method {v!r}; valid: {sorted(SELECTORS)}")
        return v

    def model_post_init(self, __context) -> None:
        from winnow.select import get_selector

        get_selector(self.method, **self.params)  # validate params early (errors name them)

    @property
    def step_id(self) -> str:
        return f"select:{self.method}"

    def _selector(self):
        from winnow.select import get_selector

        return get_selector(self.method, **{**self.params, "seed": self.seed})

    def map(self, table: pa.Table) -> pa.Table:
        ids = table.column("id")
        cols: dict[str, Any] = {"id": ids}
        if "n_tokens" in table.column_names:
            cols["n_tokens"] = pc.cast(table.column("n_tokens"), pa.int64())
        elif "text" in table.column_names:
            cols["n_tokens"] = pa.array(count_words(table.column("text")))
        if self.method == "random":
            from winnow.select.strategies import id_uniform

            cols["_score"] = pa.array(id_uniform(ids.to_pylist(), self.seed))
        elif self.method in ("topk", "threshold"):
            sel = self._selector()
            from winnow.select.base import as_pool

            col = self.params.get("column")
            if col not in table.column_names:
                raise ValueError(f"select/topk: no column {col!r} in the data; columns: {table.column_names}")
            cols["_score"] = pa.array(sel._score(as_pool({"id": ids, col: table.column(col)}), None))
        else:
            for c in ("text", "label", "x", "source"):
                if c in table.column_names:
                    cols[c] = table.column(c)
            extra = self.params.get("score_column")
            if extra and extra in table.column_names:
                cols[extra] = table.column(extra)
        return pa.table(cols)

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1) -> None:
        from winnow.select.base import as_pool, order_to_mask

        tables = [pq.read_table(f) if f else None for f in key_files]
        lens = [0 if t is None else t.num_rows for t in tables]
        nonempty = [t for t in tables if t is not None and t.num_rows]
        if nonempty:
            allk = pa.concat_tables(nonempty, promote_options="permissive")
            sel = self._selector()
            if "_score" in allk.column_names:
                pool = as_pool(allk.drop_columns(["_score"]))
                sel.scores_ = allk.column("_score").to_numpy(zero_copy_only=False).astype(np.float64)
                sel.ids_, sel.n_tokens_ = pool.ids, pool.n_tokens
            else:
                sel.fit(allk, self._load_target())
            mask = order_to_mask(sel._order(self.budget), self.budget, sel.n_tokens_)
            scores = sel.scores_
        else:
            mask, scores = np.zeros(0, bool), np.zeros(0)
        reason = f"select:{self.method}"
        off = 0
        for task, n in enumerate(lens):
            m = mask[off : off + n]
            pq.write_table(
                pa.table(
                    {
                        "reason": pa.array(np.where(m, None, reason).tolist(), pa.string()),
                        "select_score": pa.array(scores[off : off + n], pa.float64()),
                    }
                ),
                os.path.join(out_dir, f"{task:05d}.parquet"),
            )
            off += n

    def _load_target(self):
        if self.target is None:
            return None
        from winnow.select.io import read_table

        return read_table(self.target, text_column=self.target_text_column)
