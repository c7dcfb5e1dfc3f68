"""The two shapes of step: map steps and global steps.

**Map step** = ``annotate(table) -> table`` (statistics as columns, vectorised over an Arrow
batch, or a rewrite such as PII redaction) then ``decide(table) -> reasons`` (a string array:
null keeps the row, a string names the rule that dropped it, e.g. ``"length:min_words"``).
``annotate_only=True`` skips ``decide``; re-thresholding a finished run is calling ``decide``
again on the stored columns.

**Global step** = ``map(table) -> keys`` per batch, ``reduce(keys per task) -> decisions per
task`` across the whole dataset, then ``apply(table, decisions) -> (table, reasons)`` per batch.
Decisions for a task are aligned row-for-row with that task's rows, so ``apply`` needs no join.

Steps are pydantic models: their fields are their YAML arguments, validated, and an unknown
argument is an error that names the valid ones.

Example (a custom map step):
    >>> import pyarrow as pa, pyarrow.compute as pc
    >>> class NoDigits(MapStep):
    ...     name = "no_digits"
    ...     def annotate(self, t):
    ...         return t.append_column("has_digit", pc.match_substring_regex(t["text"], r"\\d"))
    ...     def decide(self, t):
    ...         return reasons_from_masks(t.num_rows, [(t["has_digit"], "no_digits:has_digit")])
    >>> s = NoDigits()
    >>> t = s.annotate(pa.table({"text": ["a1", "b"]}))
    >>> s.decide(t).to_pylist()
    ['no_digits:has_digit', None]
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, model_validator


class Step(BaseModel):
    """Base of all steps. Subclasses set ``name`` (the YAML name) and declare fields."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=False)

    #: YAML name of the step (snake_case); the class name is its CamelCase form
    name: ClassVar[str] = ""
    #: write the statistic columns, drop nothing
    annotate_only: bool = False

    @property
    def step_id(self) -> str:
        return self.name

    @model_validator(mode="after")
    def _check_bounds(self):
        # every `min_X` / `max_X` pair (min_words/max_words, min_avg_word_length/...) must not be inverted
        for f in type(self).model_fields:
            if f.startswith("min_") and f"max_{f[4:]}" in type(self).model_fields:
                lo, hi = getattr(self, f), getattr(self, f"max_{f[4:]}")
                if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
                    raise ValueError(f"{f}={lo} is greater than max_{f[4:]}={hi}: no row could pass")
        return self

    def setup(self) -> None:
        """Load models/resources once per worker process (called before the first batch)."""

    def __getstate__(self):
        # Private attributes hold what setup() loads (models, tokenizers, indexes): they may not
        # pickle (fastText, torch modules) and each worker process rebuilds them, so steps travel
        # to workers (process pool, Ray) with their private state reset to its defaults.
        state = super().__getstate__()
        state["__pydantic_private__"] = {k: v.get_default() for k, v in self.__private_attributes__.items()}
        return state


class MapStep(Step):
    """A per-batch step: annotate then decide."""

    #: drop the statistic columns this step added from kept rows before writing
    drop_stats: bool = False

    def annotate(self, table: pa.Table) -> pa.Table:
        """Return the table with statistic columns added (or text rewritten)."""
        return table

    def decide(self, table: pa.Table) -> pa.Array:
        """Return a string array: null keeps the row; otherwise the rule that fired."""
        return pa.nulls(table.num_rows, pa.string())

    def stat_columns(self) -> list[str]:
        """Names of the statistic columns this step adds (dropped if ``drop_stats``)."""
        return []

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        """``{stat_column: (low, high)}`` bounds this step applies (for reports and re-thresholding)."""
        return {}

    def process(self, table: pa.Table) -> tuple[pa.Table, pa.Array]:
        table = self.annotate(table)
        if self.annotate_only:
            reasons = pa.nulls(table.num_rows, pa.string())
        else:
            reasons = self.decide(table)
        return table, reasons


class GlobalStep(Step):
    """A cross-shard step run in phases: map → reduce → apply.

    The executor calls ``map`` on every batch of every task and stores the key tables per
    task; ``reduce`` receives the list of per-task key-file paths (in task order) and must
    write one decisions Parquet file per task into ``out_dir`` (``{task:05d}.parquet``),
    aligned row-for-row with that task's keys; ``apply`` receives a batch and the matching
    slice of decisions.
    """

    def map(self, table: pa.Table) -> pa.Table:
        raise NotImplementedError

    def reduce(self, key_files: Sequence[str], out_dir: str, *, workers: int = 1) -> None:
        raise NotImplementedError

    def apply(self, table: pa.Table, decisions: pa.Table) -> tuple[pa.Table, pa.Array]:
        """Default: decisions has a ``reason`` column (null keeps) plus columns to attach."""
        from winnow.core.records import set_columns

        reasons = decisions.column("reason")
        table = set_columns(table, [(n, decisions.column(n)) for n in decisions.column_names if n != "reason"])
        if self.annotate_only:
            reasons = pa.nulls(table.num_rows, pa.string())
        return table, reasons


def reasons_from_masks(n: int, rules: Sequence[tuple[Any, str]]) -> pa.Array:
    """Combine boolean "drop" masks into a reason array; the first rule that fires wins.

    ``rules`` is a list of ``(mask, reason)`` with masks as numpy/Arrow booleans (nulls = False).
    """
    out = np.full(n, None, dtype=object)
    free = np.ones(n, dtype=bool)
    for mask, reason in rules:
        m = _as_bool(mask, n)
        hit = m & free
        if hit.any():
            out[hit] = reason
            free &= ~hit
    return pa.array(out, pa.string())


def _as_bool(mask: Any, n: int) -> np.ndarray:
    if isinstance(mask, (pa.Array, pa.ChunkedArray)):
        import pyarrow.compute as pc

        mask = pc.fill_null(mask, False)
        return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    arr = np.asarray(mask, dtype=bool)
    if arr.shape != (n,):
        raise ValueError(f"mask has shape {arr.shape}, expected ({n},)")
    return arr
