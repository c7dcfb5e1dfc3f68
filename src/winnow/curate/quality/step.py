"""``quality_classifier`` pipeline step: annotate ``quality_score`` with a saved quality model.

Example (YAML)::

    steps:
      - quality_classifier: {model: models/dclm-mini, top_fraction: 0.1}

``threshold`` keeps rows with score >= threshold; ``top_fraction`` keeps rows scoring above the
``1 - top_fraction`` quantile of the model's calibration pool (for a DCLM-recipe model, the
random pool documents it was trained against), so the cut is the same on every shard.
With neither, the step only annotates.

    >>> import pyarrow as pa, tempfile
    >>> from winnow.curate.quality.model import QualityModel
    >>> d = tempfile.mkdtemp()
    >>> _ = QualityModel.train_classifier(["a clear well written sentence about lists"] * 5,
    ...                                   ["buy now $$$ click"] * 5, n_bits=12).save(d + "/m")
    >>> step = QualityClassifier(model=d + "/m", threshold=0.5)
    >>> t = step.annotate(pa.table({"text": ["a clear sentence", "click $$$"]}))
    >>> step.decide(t).to_pylist()
    [None, 'quality_classifier:below_threshold']
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
from pydantic import Field, PrivateAttr, model_validator

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule
from winnow.core.records import set_columns


@register_step
class QualityClassifier(MapStep):
    """Score documents with a saved quality model (``winnow quality train``) into ``quality_score``.

    Reasons: ``quality_classifier:below_threshold`` (with ``threshold`` or ``top_fraction``).
    """

    name = "quality_classifier"
    model: str = Field(..., description="folder written by QualityModel.save / winnow quality train")
    column: str = "quality_score"
    threshold: float | None = None
    top_fraction: float | None = Field(None, gt=0, le=1)
    text_column: str = "text"
    _model: object = PrivateAttr(default=None)
    _cut: float | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self):
        if self.threshold is not None and self.top_fraction is not None:
            raise ValueError("give threshold or top_fraction, not both")
        if not os.path.isdir(self.model):
            raise ValueError(f"model: {self.model!r} is not a model folder (train one with `winnow quality train`)")
        self.setup()  # fail fast on a corrupted model or a model without calibration for top_fraction
        return self

    def setup(self) -> None:
        from winnow.curate.quality.model import QualityModel

        if self._model is None:
            self._model = QualityModel.load(self.model)
            if self.top_fraction is not None:
                self._cut = self._model.threshold_for_top_fraction(self.top_fraction)
            else:
                self._cut = self.threshold

    def get_rules(self) -> tuple[Rule, ...]:
        # the cut is the threshold, or the calibrated quantile for top_fraction (set by setup())
        return (Rule(self.column, "_cut", "min", "below_threshold"),)

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        self.setup()
        return super().thresholds()

    def annotate(self, table: pa.Table) -> pa.Table:
        self.setup()
        if self.text_column not in table.column_names:
            raise KeyError(f"quality_classifier: text_column {self.text_column!r} not in {table.column_names}")
        s = self._model.score(table.column(self.text_column))
        col = pa.array(s.astype(np.float32), pa.float32())
        if self.column in table.column_names:
            return table.set_column(table.column_names.index(self.column), self.column, col)
        return set_columns(table, {self.column: col})

    def decide(self, table: pa.Table) -> pa.Array:
        self.setup()
        return super().decide(table)
