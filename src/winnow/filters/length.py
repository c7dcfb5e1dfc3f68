"""Length bounds on characters, words and lines.

Example (YAML): ``- length: {min_words: 5, max_chars: 1000000}``

    >>> import pyarrow as pa
    >>> step = Length(min_words=3)
    >>> t = step.annotate(pa.table({"text": ["one two three", "too short", ""]}))
    >>> step.decide(t).to_pylist()
    [None, 'length:min_words', 'length:min_words']
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from winnow.pipeline.step import MapStep, reasons_from_masks


class Length(MapStep):
    """Drop documents outside character / word / line bounds (``None`` disables a bound).

    Statistic columns: ``n_chars`` (Unicode code points), ``n_words`` (whitespace-separated
    tokens), ``n_lines``. Reasons: ``length:min_chars``, ``length:max_chars``,
    ``length:min_words``, ``length:max_words``, ``length:min_lines``, ``length:max_lines``.
    """

    name = "length"
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=0)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=0)
    min_lines: int | None = Field(None, ge=0)
    max_lines: int | None = Field(None, ge=0)

    def stat_columns(self) -> list[str]:
        return ["n_chars", "n_words", "n_lines"]

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        return {"n_chars": (self.min_chars, self.max_chars), "n_words": (self.min_words, self.max_words),
                "n_lines": (self.min_lines, self.max_lines)}

    def annotate(self, table: pa.Table) -> pa.Table:
        text = table.column("text")
        n_chars = pc.utf8_length(text)
        trimmed = pc.utf8_trim_whitespace(text)
        # Arrow splits "" into [""]: empty (or whitespace-only) text has 0 words
        n_words = pc.if_else(pc.equal(pc.utf8_length(trimmed), 0), 0,
                             pc.list_value_length(pc.utf8_split_whitespace(trimmed)))
        n_lines = pc.add(pc.count_substring(text, "\n"), pc.if_else(pc.equal(n_chars, 0), 0, 1))
        for name, col in (("n_chars", n_chars), ("n_words", n_words), ("n_lines", n_lines)):
            col = pc.cast(col, pa.int64())
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, col)
            else:
                table = table.append_column(name, col)
        return table

    def decide(self, table: pa.Table) -> pa.Array:
        rules = []
        for stat, lo, hi in (("n_chars", self.min_chars, self.max_chars),
                             ("n_words", self.min_words, self.max_words),
                             ("n_lines", self.min_lines, self.max_lines)):
            col = table.column(stat)
            unit = stat[2:]
            if lo is not None:
                rules.append((pc.less(col, lo), f"length:min_{unit}"))
            if hi is not None:
                rules.append((pc.greater(col, hi), f"length:max_{unit}"))
        return reasons_from_masks(table.num_rows, rules)
