"""Python-first details (issue 22): budgets larger than the pool warn, readable model reprs,
`winnow steps` shows every argument in full."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from winnow.cli import app


def _pool(n: int) -> pa.Table:
    return pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"word{i} " * (i + 1) for i in range(n)]})


def test_budget_larger_than_pool_warns():
    from winnow.select import get_selector
    from winnow.select.base import BudgetWarning

    sel = get_selector("random", seed=0)
    sel.fit(_pool(7), None)
    with pytest.warns(BudgetWarning, match="exceeds the pool's 7 rows"):
        assert sel.select_mask(500).sum() == 7
    with pytest.warns(BudgetWarning, match="tokens"):
        assert sel.select_mask("1M tokens").sum() == 7
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sel.select_mask(3).sum() == 3 and sel.select_mask(0.5).sum() == 4


def test_quality_model_repr_is_one_short_line():
    from winnow.curate.quality.model import HashingFeaturizer, QualityModel

    m = QualityModel(HashingFeaturizer(n_bits=12), np.arange(4096, dtype=float), 0.5,
                     calibration={"probs": list(np.linspace(0, 1, 1001)), "quantiles": list(np.linspace(0, 1, 1001))})
    r = repr(m)
    assert "\n" not in r and len(r) < 300 and "1001 quantiles" in r and "4095/4096" in r


def test_steps_lists_every_argument_in_full():
    from winnow.core.pipeline.registry import get_step_class, step_names

    res = CliRunner().invoke(app, ["steps"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    for n in step_names():
        assert n in res.output
        for k in get_step_class(n).model_fields:
            assert f"{k}=" in res.output or f"{k} (required)" in res.output, (n, k)
    one = CliRunner().invoke(app, ["steps", "c4"])
    assert one.exit_code == 0 and "filter_no_terminal_punct=True" in one.output
    bad = CliRunner().invoke(app, ["steps", "nope"])
    assert bad.exit_code == 2 and "unknown step 'nope'" in bad.output
