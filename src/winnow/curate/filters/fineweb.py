"""FineWeb quality rules (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest
Text Data at Scale", §3.3 custom filters), vectorised over Arrow batches.

Example (YAML): ``- fineweb_quality: {char_dup_ratio: 0.1}``

    >>> import pyarrow as pa
    >>> s = FinewebQuality()
    >>> t = s.annotate(pa.table({"text": ["a\\nb\\nc\\nthis line is long enough to count as a line."]}))
    >>> s.decide(t).to_pylist()
    ['fineweb_quality:short_line_ratio']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule, reasons_from_masks
from winnow.core.text import spacy_words as T
from winnow.curate.filters._base import col_np, safe_div, set_columns
from winnow.curate.filters.gopher import _dup_stats

#: sentence-terminal characters (Unicode Sentence_Terminal, the common ones) a line may end with
TERMINAL_PUNCTUATION = ".!?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼。꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡"


@register_step
class FinewebQuality(MapStep):
    """FineWeb's three custom rules plus datatrove's list-ratio rule. Defaults are the paper's:

    * ``line_punct_thr=0.12``: drop if the fraction of (non-blank) lines ending in terminal
      punctuation is **≤ 0.12** (paper; datatrove drops only on ``<``)
    * ``short_line_thr=0.67`` with ``short_line_length=30``: drop if the fraction of lines of at most
      30 characters is **≥ 0.67** (paper; datatrove: ``>``)
    * ``char_dup_ratio=0.1``: drop if the fraction of characters in duplicated lines is **≥ 0.1**
      (paper; datatrove's default is 0.01 and ``>``)
    * ``new_line_ratio=0.3``: drop if newlines per word exceed 0.3 (datatrove; not in the paper)

    Statistic columns: ``fineweb_line_punct_ratio``, ``fineweb_short_line_ratio``,
    ``fineweb_char_dup_ratio``, ``fineweb_new_line_ratio``, ``fineweb_lines`` (non-blank lines).
    Reasons: ``fineweb_quality:<rule>``;
    text with no non-blank line is ``fineweb_quality:empty``.

    >>> FinewebQuality().thresholds()["fineweb_char_dup_ratio"]
    (None, 0.1)
    """

    name = "fineweb_quality"
    rules = (
        Rule("fineweb_line_punct_ratio", "line_punct_thr", "min", "line_punct_ratio"),
        Rule("fineweb_short_line_ratio", "short_line_thr", "max", "short_line_ratio"),
        Rule("fineweb_char_dup_ratio", "char_dup_ratio", "max"),
        Rule("fineweb_new_line_ratio", "new_line_ratio", "max"),
    )
    extra_stats = ("fineweb_lines",)
    line_punct_thr: float | None = Field(0.12, ge=0, le=1)
    line_punct_exclude_zero: bool = False
    stop_chars: str = TERMINAL_PUNCTUATION
    short_line_thr: float | None = Field(0.67, ge=0, le=1)
    short_line_length: int = Field(30, ge=0)
    char_dup_ratio: float | None = Field(0.1, ge=0)
    new_line_ratio: float | None = Field(0.3, ge=0)
    #: ``True`` (paper): drop at equality (≤ / ≥); ``False``: datatrove's strict comparisons
    inclusive: bool = True

    def get_rules(self) -> tuple[Rule, ...]:
        # the paper drops at equality (inclusive); datatrove compares strictly; new_line_ratio is always strict
        return tuple(r._replace(drop_equal=self.inclusive and r.field != "new_line_ratio") for r in self.rules)

    def annotate(self, table: pa.Table) -> pa.Table:
        text = T.as_text(table)
        n = len(text)
        lines = pc.split_pattern(text, "\n")
        lv, doc = T.flat(lines)
        nonblank = pc.not_equal(pc.utf8_trim_whitespace(lv), "")
        lv = lv.filter(nonblank)
        doc = doc[nonblank.to_numpy(zero_copy_only=False)]
        n_lines = np.bincount(doc, minlength=n)
        cls = "".join("\\" + c if c in r"\]^-[" else c for c in self.stop_chars)
        punct = pc.match_substring_regex(lv, f"[{cls}]$").to_numpy(zero_copy_only=False)
        short = pc.utf8_length(lv).to_numpy(zero_copy_only=False) <= self.short_line_length
        offs = np.zeros(n + 1, np.int32)
        np.cumsum(n_lines, out=offs[1:])
        _, _, dup_chars = _dup_stats(pa.ListArray.from_arrays(pa.array(offs), lv), n)
        chars_no_nl = pc.utf8_length(text).to_numpy(zero_copy_only=False) - pc.count_substring(text, "\n").to_numpy(
            zero_copy_only=False
        )
        n_words = np.diff(T.table_words(table).offsets.to_numpy())
        nl = pc.count_substring(text, "\n").to_numpy(zero_copy_only=False)
        return set_columns(
            table,
            {
                "fineweb_line_punct_ratio": safe_div(np.bincount(doc[punct], minlength=n), n_lines),
                "fineweb_short_line_ratio": safe_div(np.bincount(doc[short], minlength=n), n_lines),
                "fineweb_char_dup_ratio": safe_div(dup_chars, chars_no_nl),
                "fineweb_new_line_ratio": safe_div(nl, n_words),
                "fineweb_lines": n_lines.astype(np.int64),
            },
        )

    def rule_mask(self, rule: Rule, table: pa.Table) -> np.ndarray:
        m = super().rule_mask(rule, table)
        if rule.field == "line_punct_thr" and self.line_punct_exclude_zero:
            m &= col_np(table, rule.stat) != 0
        return m

    def decide(self, table: pa.Table) -> pa.Array:
        empty = col_np(table, "fineweb_lines") == 0
        return reasons_from_masks(table.num_rows, [(empty, "fineweb_quality:empty")] + self.rule_masks(table))
