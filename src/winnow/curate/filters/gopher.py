"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", Appendix A.1.1 and Table A1), vectorised over Arrow batches.

Example (YAML)::

    - gopher_quality: {min_doc_words: 50}
    - gopher_repetition: {dup_line_frac: 0.3}

    >>> import pyarrow as pa
    >>> step = GopherQuality()
    >>> t = step.annotate(pa.table({"text": ["# # # # # too many hashes # # # #"]}))
    >>> step.decide(t).to_pylist()
    ['gopher_quality:min_doc_words']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule, reasons_from_masks
from winnow.core.sorting import unique_sorted
from winnow.core.text import spacy_words as T
from winnow.core.text.repetition import first_occurrence_by_doc, ngram_repetition
from winnow.curate.filters._base import safe_div, set_columns

#: the eight stop words of Gopher App. A.1.1 ("the, be, to, of, and, that, have, with")
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

_WS = r"[\t\pZ]"


@register_step
class GopherQuality(MapStep):
    """Gopher quality rules (Rae et al. 2021, App. A.1.1). Defaults are the paper's thresholds:

    * ``min_doc_words=50`` / ``max_doc_words=100_000``: words (tokens with a non-punctuation character)
    * ``min_avg_word_length=3`` / ``max_avg_word_length=10``: mean word length in characters
    * ``max_symbol_word_ratio=0.1``: ``#`` per word and ellipses (``...``/``…``) per token
    * ``max_bullet_lines_ratio=0.9``: lines starting with a bullet (``•`` or ``-``)
    * ``max_ellipsis_lines_ratio=0.3``: lines ending with an ellipsis
    * ``min_alpha_words_ratio=0.8``: tokens containing at least one alphabetic character
    * ``min_stop_words=2``: distinct Gopher stop words present

    Words are spaCy-style English tokens (as in datatrove), computed vectorised by
    :func:`winnow.core.text.spacy_words.words`. Statistic columns: ``gopher_n_words``,
    ``gopher_mean_word_length``, ``gopher_hash_ratio``, ``gopher_ellipsis_ratio``,
    ``gopher_bullet_lines_ratio``, ``gopher_ellipsis_lines_ratio``, ``gopher_alpha_words_ratio``,
    ``gopher_stop_words``. Reasons: ``gopher_quality:<threshold name>`` (first rule in that order wins).

    >>> GopherQuality(max_symbol_word_ratio=0.2).thresholds()["gopher_hash_ratio"]
    (None, 0.2)
    """

    name = "gopher_quality"
    rules = (
        Rule("gopher_n_words", "min_doc_words", "min"),
        Rule("gopher_n_words", "max_doc_words", "max"),
        Rule("gopher_mean_word_length", "min_avg_word_length", "min"),
        Rule("gopher_mean_word_length", "max_avg_word_length", "max"),
        Rule("gopher_hash_ratio", "max_symbol_word_ratio", "max"),
        Rule("gopher_ellipsis_ratio", "max_symbol_word_ratio", "max"),
        Rule("gopher_bullet_lines_ratio", "max_bullet_lines_ratio", "max"),
        Rule("gopher_ellipsis_lines_ratio", "max_ellipsis_lines_ratio", "max"),
        Rule("gopher_alpha_words_ratio", "min_alpha_words_ratio", "min"),
        Rule("gopher_stop_words", "min_stop_words", "min"),
    )
    min_doc_words: int | None = Field(50, ge=0)
    max_doc_words: int | None = Field(100_000, ge=0)
    min_avg_word_length: float | None = Field(3, ge=0)
    max_avg_word_length: float | None = Field(10, ge=0)
    max_symbol_word_ratio: float | None = Field(0.1, ge=0)
    max_bullet_lines_ratio: float | None = Field(0.9, ge=0, le=1)
    max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0, le=1)
    min_alpha_words_ratio: float | None = Field(0.8, ge=0, le=1)
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: list[str] = Field(default=list(GOPHER_STOP_WORDS))

    def annotate(self, table: pa.Table) -> pa.Table:
        text = T.as_text(table)
        n = len(text)
        toks = T.table_words(table)
        tv, doc = T.flat(toks)
        n_tok = T.per_row(np.ones(len(tv)), doc, n, "count") if len(tv) else np.zeros(n, np.int64)
        if len(tv):
            # every per-token test runs once per distinct token (a word recurs ~20 times in a batch)
            enc = pc.dictionary_encode(tv)
            uniq, which = enc.dictionary, np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
            sym = pc.match_substring_regex(uniq, T.SYMBOL_TOKEN).to_numpy(zero_copy_only=False)[which]
            word = ~sym
            wlen = pc.utf8_length(uniq).to_numpy(zero_copy_only=False).astype(np.float64)[which]
            n_words = np.bincount(doc[word], minlength=n)
            len_words = np.bincount(doc[word], weights=wlen[word], minlength=n)
            alpha = pc.match_substring_regex(uniq, r"\pL").to_numpy(zero_copy_only=False)[which]
            n_alpha = np.bincount(doc[alpha], minlength=n)
            stop = pc.index_in(uniq, value_set=pa.array(self.stop_words, pa.string()))
            stop = np.asarray(pc.fill_null(stop, -1).to_numpy(zero_copy_only=False), np.int64)[which]
            hit = stop >= 0
            if hit.any():
                key = doc[hit] * (len(self.stop_words) + 1) + stop[hit]
                uk = unique_sorted(key)
                n_stop = np.bincount(uk // (len(self.stop_words) + 1), minlength=n)
            else:
                n_stop = np.zeros(n, np.int64)
        else:
            n_words = n_alpha = n_stop = np.zeros(n, np.int64)
            len_words = np.zeros(n)
        n_hash = pc.count_substring(text, "#").to_numpy(zero_copy_only=False)
        n_ell = pc.count_substring(text, "...").to_numpy(zero_copy_only=False) + pc.count_substring(text, "…").to_numpy(
            zero_copy_only=False
        )
        norm = T.normalize_newlines(text)
        nl = pc.count_substring(norm, "\n").to_numpy(zero_copy_only=False)
        clen = pc.utf8_length(norm).to_numpy(zero_copy_only=False)
        ends_nl = pc.ends_with(norm, "\n").to_numpy(zero_copy_only=False)
        n_lines = np.where(clen == 0, 0, nl + 1 - ends_nl)
        bullets = pc.count_substring_regex(norm, rf"(?m)^{_WS}*[•\-][^\n]*").to_numpy(zero_copy_only=False)
        ell_lines = pc.count_substring_regex(norm, rf"(?m)(?:\.\.\.|…){_WS}*$").to_numpy(zero_copy_only=False)
        return set_columns(
            table,
            {
                "gopher_n_words": n_words.astype(np.int64),
                "gopher_mean_word_length": safe_div(len_words, n_words),
                "gopher_hash_ratio": safe_div(n_hash, n_tok),
                "gopher_ellipsis_ratio": safe_div(n_ell, n_tok),
                "gopher_bullet_lines_ratio": safe_div(bullets, n_lines),
                "gopher_ellipsis_lines_ratio": safe_div(ell_lines, n_lines),
                "gopher_alpha_words_ratio": safe_div(n_alpha, n_tok),
                "gopher_stop_words": n_stop.astype(np.int64),
            },
        )


def _dup_stats(parts: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a list<string>: (#elements, #repeated elements, chars in repeated elements)."""
    vals, doc = T.flat(parts)
    n_el = np.bincount(doc, minlength=n)
    if len(vals) == 0:
        return n_el, np.zeros(n), np.zeros(n)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(n_el, out=starts[1:])
    rep, _ = first_occurrence_by_doc(T.token_ids(vals), starts)
    ln = pc.utf8_length(vals).to_numpy(zero_copy_only=False).astype(np.float64)
    return n_el, np.bincount(doc[rep], minlength=n), np.bincount(doc[rep], weights=ln[rep], minlength=n)


def _int_dict(v: dict) -> dict[int, float]:
    return {int(k): float(x) for k, x in v.items()}


@register_step
class GopherRepetition(MapStep):
    """Gopher repetition rules (Rae et al. 2021, Table A1). Defaults are the paper's thresholds:

    * ``dup_para_frac=0.30`` / ``dup_para_char_frac=0.20``: repeated paragraphs (split on ``\\n\\n+``)
    * ``dup_line_frac=0.30`` / ``dup_line_char_frac=0.20``: repeated lines (split on ``\\n+``)
    * ``top_n_grams={2: 0.20, 3: 0.18, 4: 0.16}``: characters in the most frequent word n-gram
    * ``dup_n_grams={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}``: characters in
      duplicated word n-grams

    Fractions of characters are over the document's characters. N-gram statistics are computed
    without per-word Python: words get integer ids (Arrow hash table), then one compiled pass per
    document (:func:`winnow.core.text.repetition.ngram_repetition`) hashes its k-grams to uint64 and
    finds repeats in a small hash table; repeated lines and paragraphs the same way.
    Statistic columns: ``gopher_dup_para_frac``, ``gopher_dup_para_char_frac``, ``gopher_dup_line_frac``,
    ``gopher_dup_line_char_frac``, ``gopher_top_{n}_gram_frac``, ``gopher_dup_{n}_gram_frac``.
    Reasons: ``gopher_repetition:<threshold name>``; empty text is dropped as ``gopher_repetition:empty``.

    >>> import pyarrow as pa
    >>> s = GopherRepetition()
    >>> t = s.annotate(pa.table({"text": ["spam spam spam\\nspam spam spam\\nspam spam spam\\neggs"]}))
    >>> s.decide(t).to_pylist()
    ['gopher_repetition:dup_line_frac']
    """

    name = "gopher_repetition"
    rules = (
        Rule("gopher_dup_para_frac", "dup_para_frac", "max"),
        Rule("gopher_dup_para_char_frac", "dup_para_char_frac", "max"),
        Rule("gopher_dup_line_frac", "dup_line_frac", "max"),
        Rule("gopher_dup_line_char_frac", "dup_line_char_frac", "max"),
    )
    dup_line_frac: float | None = Field(0.3, ge=0)
    dup_para_frac: float | None = Field(0.3, ge=0)
    dup_line_char_frac: float | None = Field(0.2, ge=0)
    dup_para_char_frac: float | None = Field(0.2, ge=0)
    top_n_grams: dict[int, float] = Field(default={2: 0.2, 3: 0.18, 4: 0.16})
    dup_n_grams: dict[int, float] = Field(default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})

    def get_rules(self) -> tuple[Rule, ...]:
        # one rule per configured n (the thresholds are dicts {n: fraction})
        return (
            self.rules
            + tuple(
                Rule(f"gopher_top_{k}_gram_frac", "top_n_grams", "max", f"top_{k}_gram", k)
                for k in sorted(self.top_n_grams)
            )
            + tuple(
                Rule(f"gopher_dup_{k}_gram_frac", "dup_n_grams", "max", f"dup_{k}_gram", k)
                for k in sorted(self.dup_n_grams)
            )
        )

    def annotate(self, table: pa.Table) -> pa.Table:
        text = T.as_text(table)
        n = len(text)
        clen = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
        cols: dict[str, np.ndarray] = {}
        paras = pc.split_pattern_regex(pc.utf8_trim_whitespace(text), r"\n\n+")
        ne, nd, cd = _dup_stats(paras, n)
        cols["gopher_dup_para_frac"] = safe_div(nd, ne)
        cols["gopher_dup_para_char_frac"] = safe_div(cd, clen)
        lines = pc.split_pattern_regex(text, r"\n+")
        ne, nd, cd = _dup_stats(lines, n)
        cols["gopher_dup_line_frac"] = safe_div(nd, ne)
        cols["gopher_dup_line_char_frac"] = safe_div(cd, clen)

        tv, doc = T.flat(T.table_words(table))
        ids = T.token_ids(tv)
        tlen = pc.utf8_length(tv).to_numpy(zero_copy_only=False).astype(np.int64) if len(tv) else np.zeros(0, np.int64)
        cs = np.zeros(len(tv) + 1, np.int64)
        np.cumsum(tlen, out=cs[1:])
        starts = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(doc, minlength=n), out=starts[1:])
        top_ks, dup_ks = sorted(self.top_n_grams), sorted(self.dup_n_grams)
        top, dup = ngram_repetition(ids, starts, cs, top_ks, dup_ks)
        for j, k in enumerate(top_ks):
            cols[f"gopher_top_{k}_gram_frac"] = safe_div(top[:, j], clen)
        for j, k in enumerate(dup_ks):
            cols[f"gopher_dup_{k}_gram_frac"] = safe_div(dup[:, j], clen)
        return set_columns(table, cols)

    def decide(self, table: pa.Table) -> pa.Array:
        empty = pc.equal(pc.utf8_length(T.as_text(table)), 0)
        return reasons_from_masks(table.num_rows, [(empty, "gopher_repetition:empty")] + self.rule_masks(table))
