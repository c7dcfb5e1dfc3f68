"""The two shapes of step: map steps and global steps.

**Map step** = ``annotate(table) -> table`` (statistics as columns, vectorised over an Arrow
batch, or a rewrite such as PII redaction) then ``decide(table) -> reasons`` (a string array:
null keeps the row, a string names the rule that dropped it, e.g. ``"length:min_words"``).
``annotate_only=True`` skips ``decide``; re-thresholding a finished run is calling ``decide``
again on the stored columns.

A map step declares each plain threshold once, as a :class:`Rule` (statistic column, threshold
field, bound kind ``min``/``max``/``flag``, reason) in its ``rules``; ``stat_columns()``,
``thresholds()`` and the default ``decide()`` derive from that list, and inverted bounds
(``min_x > max_x`` on one statistic) are refused at construction. A step whose decision is not a
plain bound overrides ``decide`` and combines :meth:`MapStep.rule_masks` with its own masks.

**Global step** = ``map(table) -> keys`` per batch, ``reduce(keys per task) -> decisions per
task`` across the whole dataset, then ``apply(table, decisions) -> (table, reasons)`` per batch.
Decisions for a task are aligned row-for-row with that task's rows, so ``apply`` needs no join.

Steps are pydantic models: their fields are their YAML arguments, validated, and an unknown
argument is an error that names the valid ones.

Example (a custom map step; ``@register_step`` would also make it a YAML name):
    >>> import pyarrow as pa, pyarrow.compute as pc
    >>> class Digits(MapStep):
    ...     name = "digits"
    ...     rules = (Rule("n_digits", "max_digits", "max"),)
    ...     max_digits: int | None = 0
    ...     def annotate(self, t):
    ...         return t.append_column("n_digits", pc.count_substring_regex(t["text"], r"\\d"))
    >>> s = Digits()
    >>> t = s.annotate(pa.table({"text": ["a1", "b"]}))
    >>> s.decide(t).to_pylist(), s.stat_columns(), s.thresholds()
    (['digits:max_digits', None], ['n_digits'], {'n_digits': (None, 0)})
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


class Rule(NamedTuple):
    """One declared threshold of a map step.

    * ``stat``: the statistic column the rule reads;
    * ``field``: the step field holding the bound (``None`` or ``False`` disables the rule); with
      ``key``, the bound is ``getattr(step, field)[key]`` (a dict field such as ``{2: 0.2}``);
    * ``bound``: ``"min"`` drops rows with ``stat < bound``, ``"max"`` rows with ``stat > bound``
      (``drop_equal=True``: ``<=`` / ``>=``), ``"flag"`` rows whose boolean ``stat`` is true when the
      field is true;
    * ``reason``: the reason suffix, ``"<step name>:<reason>"`` (default: ``field``).

    Rules fire in declaration order; the first one that fires names the row's reason.

    >>> Rule("n_words", "min_words", "min")
    Rule(stat='n_words', field='min_words', bound='min', reason=None, key=None, drop_equal=False)
    """

    stat: str
    field: str
    bound: Literal["min", "max", "flag"]
    reason: str | None = None
    key: Any = None
    drop_equal: bool = False


class MapStep(Step):
    """A per-batch step: annotate then decide (the default ``decide`` applies the declared rules)."""

    #: the step's threshold rules, declared once (see :class:`Rule`); ``get_rules`` may make them
    #: depend on the configuration
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: statistic columns the step adds that no rule reads (``stat_columns`` lists them after the ruled ones)
    extra_stats: ClassVar[tuple[str, ...]] = ()
    #: drop the statistic columns this step added from kept rows before writing
    drop_stats: bool = False

    @model_validator(mode="after")
    def _check_bounds(self):
        for r in self.get_rules():
            if r.bound not in ("min", "max", "flag") or not hasattr(self, r.field):
                raise ValueError(
                    f"{self.name}: rule {r} needs bound 'min', 'max' or 'flag' and a field "
                    f"of the step, got bound={r.bound!r}, field={r.field!r}"
                )
        lows: dict[str, tuple[str, Any]] = {}
        for r in self.get_rules():
            if r.bound == "min" and not r.field.startswith("_"):
                v = self.bound_value(r)
                if v is not None:
                    lows[r.stat] = (r.field, v)
        for r in self.get_rules():
            if r.bound == "max" and r.stat in lows and not r.field.startswith("_"):
                hi = self.bound_value(r)
                lo_field, lo = lows[r.stat]
                if hi is not None and lo > hi:
                    raise ValueError(
                        f"{self.name}: {lo_field}={lo} is above {r.field}={hi} "
                        f"(both bound {r.stat}; nothing could pass)"
                    )
        return self

    def get_rules(self) -> tuple[Rule, ...]:
        """The rules in force for this configuration (default: the class's ``rules``)."""
        return self.rules

    def bound_value(self, rule: Rule) -> Any:
        """The configured bound of ``rule`` (``None`` when the rule is off)."""
        v = getattr(self, rule.field)
        if rule.key is not None:
            v = None if v is None else v.get(rule.key)
        return v

    def rule_reason(self, rule: Rule) -> str:
        """``"<step name>:<rule reason>"``."""
        return f"{self.name}:{rule.reason or rule.field}"

    def annotate(self, table: pa.Table) -> pa.Table:
        """Return the table with statistic columns added (or text rewritten)."""
        return table

    def rule_mask(self, rule: Rule, table: pa.Table) -> np.ndarray:
        """Boolean "drop" mask of one rule (nulls never drop)."""
        col = table.column(rule.stat)
        v = self.bound_value(rule)
        if rule.bound == "flag":
            m = col
        elif rule.bound == "min":
            m = (pc.less_equal if rule.drop_equal else pc.less)(col, v)
        else:
            m = (pc.greater_equal if rule.drop_equal else pc.greater)(col, v)
        return _as_bool(m, table.num_rows)

    def rule_masks(self, table: pa.Table) -> list[tuple[np.ndarray, str]]:
        """``(mask, reason)`` of every rule in force, in order (for :func:`reasons_from_masks`)."""
        out = []
        for r in self.get_rules():
            v = self.bound_value(r)
            if v is None or v is False:
                continue
            out.append((self.rule_mask(r, table), self.rule_reason(r)))
        return out

    def decide(self, table: pa.Table) -> pa.Array:
        """Return a string array: null keeps the row; otherwise the rule that fired."""
        return reasons_from_masks(table.num_rows, self.rule_masks(table))

    def stat_columns(self) -> list[str]:
        """Names of the statistic columns this step adds (dropped if ``drop_stats``)."""
        return list(dict.fromkeys([r.stat for r in self.get_rules()] + list(self.extra_stats)))

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        """``{stat_column: (low, high)}`` of the bounds in force (for reports and re-thresholding)."""
        out: dict[str, list] = {}
        for r in self.get_rules():
            v = self.bound_value(r)
            if r.bound == "flag" or v is None:
                continue
            out.setdefault(r.stat, [None, None])[0 if r.bound == "min" else 1] = v
        return {k: (lo, hi) for k, (lo, hi) in out.items()}

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
    slice of decisions. Executors call :meth:`reduce_plan`, which a step whose keys partition
    overrides to run its reduce as parallel tasks (one per partition) plus a small merge.
    """

    def map(self, table: pa.Table) -> pa.Table:
        raise NotImplementedError

    def reduce(self, key_files: Sequence[str], out_dir: str, *, workers: int = 1) -> None:
        raise NotImplementedError

    def reduce_plan(self, key_files: Sequence[str | None], out_dir: str, *, partitions: int = 1, workers: int = 1):
        """The reduce as phases of independent tasks (:mod:`winnow.core.pipeline.reduce`).

        Default: one phase of one task calling :meth:`reduce` (``workers`` wide). A step whose
        keys partition returns several phases of ``partitions`` tasks each; its decisions must
        not depend on ``partitions``."""
        from winnow.core.pipeline.reduce import ReduceTask, whole_reduce

        return [[ReduceTask("reduce", 0, whole_reduce, (self, list(key_files), out_dir, workers), cpus=workers)]]

    def plan_stats(self, records: list[dict]) -> dict:
        """Statistics of a finished reduce from its tasks' records (``{phase, part, result, ...}``),
        shown as the step's ``reduce`` entry in the manifest (counts only, no timings).
        Default: none."""
        return {}

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
        mask = pc.fill_null(mask, False)
        return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    arr = np.asarray(mask, dtype=bool)
    if arr.shape != (n,):
        raise ValueError(f"mask has shape {arr.shape}, expected ({n},)")
    return arr
