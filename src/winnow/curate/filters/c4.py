"""C4 line and page rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", §2.2; plus the TFDS ``c4_utils`` / datatrove / FineWeb variants:
citation removal, policy lines, over-long words), vectorised over Arrow batches.

Example (YAML): ``- c4: {min_num_sentences: 5}``

    >>> import pyarrow as pa
    >>> s = C4()
    >>> t = s.annotate(pa.table({"text": ["Lorem ipsum dolor sit amet."]}))
    >>> s.decide(t).to_pylist()
    ['c4:lorem_ipsum']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule
from winnow.core.text import spacy_words as T
from winnow.curate.filters._base import set_columns

#: lines mentioning these are dropped (TFDS c4_utils ``_POLICY_SUBSTRINGS`` variant used by datatrove)
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
_TERMINAL = r"[.?!\"']$"


def _re_escape(s: str) -> str:
    return "".join("\\" + c if not c.isalnum() and c != " " else c for c in s)


#: spaCy sentencizer's sentence-final tokens (the common ones)
SENT_END_TOKENS = (".", "!", "?", "։", "؟", "۔", "।", "॥", "።", "。", "！", "？", "｡", "‼", "‽", "⁇", "⁈", "⁉")


def count_sentences(lines: pa.Array) -> np.ndarray:
    """Sentences per line, as spaCy's sentencizer counts them on (spaCy-like) English tokens.

    A new sentence starts at a word token that follows a sentence-final token (``.``, ``!``, ``?`` as
    tokens of their own), with only punctuation in between. A non-empty line has at least one.
    """
    n = len(lines)
    toks = T.words(lines)
    tv, line = T.flat(toks)
    if len(tv) == 0:
        return np.zeros(n, np.int64)
    term = pc.is_in(tv, value_set=pa.array(SENT_END_TOKENS)).to_numpy(zero_copy_only=False)
    punct = pc.match_substring_regex(tv, r"^\pP+$").to_numpy(zero_copy_only=False)
    word = np.flatnonzero(~punct & ~term)
    cterm = np.concatenate([[0], np.cumsum(term)])
    has_tok = np.bincount(line, minlength=n) > 0
    if len(word) == 0:
        return has_tok.astype(np.int64)
    # previous word token in the same line (or the line start)
    wl = line[word]
    starts = np.searchsorted(line, np.arange(n))
    prev = np.empty(len(word), np.int64)
    prev[1:] = word[:-1] + 1
    prev[0] = starts[wl[0]]
    new_line = np.ones(len(word), bool)
    new_line[1:] = wl[1:] != wl[:-1]
    prev[new_line] = starts[wl[new_line]]
    boundary = (cterm[word] - cterm[prev]) > 0
    # a boundary at the very first token of a line does not add a sentence
    boundary &= word != starts[wl]
    return has_tok.astype(np.int64) + np.bincount(wl[boundary], minlength=n)


@register_step
class C4(MapStep):
    """C4 quality rules. Line rules drop lines (the text is rewritten to the kept lines, as in C4);
    page rules drop the document. Defaults follow the C4 paper and its reference code:

    * ``max_word_length=1000``: drop lines with a longer word (TFDS ``c4_utils``)
    * ``remove_citations=True``: strip ``[1]``, ``[edit]``, ``[citation needed]`` (TFDS)
    * ``filter_no_terminal_punct=True``: keep only lines ending in ``. ! ? "`` or ``'``, not ``...``
    * ``min_words_per_line=3``: keep only lines with at least 3 words
    * ``filter_lorem_ipsum=True``: drop pages containing "lorem ipsum"
    * ``filter_javascript=True``: drop lines containing "javascript"
    * ``filter_curly_bracket=True``: drop pages containing ``{``
    * ``filter_policy=True``: drop lines with terms-of-use / privacy / cookie phrases
    * ``min_num_sentences=5``: drop pages with fewer sentences in their kept lines

    As in C4 (and datatrove), a page rule only looks at lines that survived the earlier line rules.
    Statistic columns: ``c4_lines``, ``c4_kept_lines``, ``c4_sentences``, ``c4_lorem_ipsum``,
    ``c4_curly_bracket``. Reasons: ``c4:lorem_ipsum``, ``c4:curly_bracket``, ``c4:min_num_sentences``.
    ``rewrite=False`` keeps the original text (annotate/decide only).

    >>> C4().thresholds()["c4_sentences"]
    (5, None)
    """

    name = "c4"
    rules = (
        Rule("c4_lorem_ipsum", "filter_lorem_ipsum", "flag", "lorem_ipsum"),
        Rule("c4_curly_bracket", "filter_curly_bracket", "flag", "curly_bracket"),
        Rule("c4_sentences", "min_num_sentences", "min"),
    )
    extra_stats = ("c4_lines", "c4_kept_lines")
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int | None = Field(5, ge=0)
    min_words_per_line: int | None = Field(3, ge=0)
    max_word_length: int | None = Field(1000, ge=1)
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    policy_substrings: list[str] = Field(default=list(POLICY_SUBSTRINGS))
    rewrite: bool = True

    def annotate(self, table: pa.Table) -> pa.Table:
        text = T.normalize_newlines(T.as_text(table))
        n = len(text)
        lines = pc.split_pattern(text, "\n")
        # str.splitlines(): no trailing empty line after a final newline, no line at all for ""
        lv, doc = T.flat(lines)
        lv = pc.utf8_trim_whitespace(lv)
        m = len(lv)
        drop = np.zeros(m, bool)
        if self.max_word_length is not None and m:
            ll = pc.utf8_length(lv).to_numpy(zero_copy_only=False)
            long_idx = np.flatnonzero(ll > self.max_word_length)
            if len(long_idx):
                sub = lv.take(pa.array(long_idx))
                k = self.max_word_length
                pat = r"\S{%d}" % 1000 * (k // 1000) + (r"\S{%d}" % (k % 1000) if k % 1000 else "") + r"\S"
                drop[long_idx] = pc.match_substring_regex(sub, pat).to_numpy(zero_copy_only=False)
        nwords = pc.count_substring_regex(lv, r"\S+").to_numpy(zero_copy_only=False)
        if self.remove_citations:
            has = pc.match_substring(lv, "[")
            lv = pc.if_else(has, pc.replace_substring_regex(lv, _CITATION, ""), lv)
        if self.filter_no_terminal_punct:
            term = pc.match_substring_regex(lv, _TERMINAL).to_numpy(zero_copy_only=False)
            ell = pc.ends_with(lv, "...").to_numpy(zero_copy_only=False)
            drop |= ~term | ell
        if self.min_words_per_line is not None:
            drop |= nwords < self.min_words_per_line
        low = pc.utf8_lower(lv)
        cand = ~drop
        lorem = (
            pc.match_substring(low, "lorem ipsum").to_numpy(zero_copy_only=False) & cand
            if self.filter_lorem_ipsum
            else np.zeros(m, bool)
        )
        js = (
            pc.match_substring(low, "javascript").to_numpy(zero_copy_only=False)
            if self.filter_javascript
            else np.zeros(m, bool)
        )
        curly = (
            pc.match_substring(lv, "{").to_numpy(zero_copy_only=False) & cand & ~lorem & ~js
            if self.filter_curly_bracket
            else np.zeros(m, bool)
        )
        if self.filter_policy and self.policy_substrings:
            pol = pc.match_substring_regex(low, "|".join(_re_escape(p) for p in self.policy_substrings))
            pol = pol.to_numpy(zero_copy_only=False)
        else:
            pol = np.zeros(m, bool)
        kept = cand & ~lorem & ~js & ~curly & ~pol
        # a page rule fires at the first line (in order) that trips it
        page_hit = lorem | curly
        first_line = np.full(n, m, np.int64)
        hit_idx = np.flatnonzero(page_hit)
        np.minimum.at(first_line, doc[hit_idx], hit_idx)
        has_hit = first_line < m
        lorem_doc = np.zeros(n, bool)
        curly_doc = np.zeros(n, bool)
        lorem_doc[has_hit] = lorem[first_line[has_hit]]
        curly_doc[has_hit] = curly[first_line[has_hit]]
        # lines after the first page hit are never looked at (the page is dropped anyway)
        kidx = np.flatnonzero(kept)
        if len(kidx):
            sents = np.zeros(m, np.int64)
            sents[kidx] = count_sentences(lv.take(pa.array(kidx)))
            n_sent = np.bincount(doc, weights=sents, minlength=n).astype(np.int64)
        else:
            n_sent = np.zeros(n, np.int64)
        cols = {
            "c4_lines": np.bincount(doc, minlength=n).astype(np.int64),
            "c4_kept_lines": np.bincount(doc[kept], minlength=n).astype(np.int64),
            "c4_sentences": n_sent,
            "c4_lorem_ipsum": lorem_doc,
            "c4_curly_bracket": curly_doc,
        }
        table = set_columns(table, cols)
        if self.rewrite and not self.annotate_only:
            kv = lv.filter(pa.array(kept))
            counts = np.bincount(doc[kept], minlength=n)
            offs = np.zeros(n + 1, np.int32 if len(kv) < 2**31 else np.int64)
            np.cumsum(counts, out=offs[1:])
            new = pc.utf8_trim_whitespace(pc.binary_join(pa.ListArray.from_arrays(pa.array(offs), kv), "\n"))
            table = set_columns(table, {"text": pc.cast(new, table.schema.field("text").type)})
        return table
