"""Selectors follow the scikit-learn contract; parameters and attribution options are declared pydantic models."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from winnow.errors import AttributionError, SelectorError
from winnow.select import DSIR, SELECTORS, TopK, get_selector

POOL = {
    "id": [f"r{i}" for i in range(8)],
    "text": [
        "def f(x): return x",
        "the cat sat on the mat",
        "import os, sys",
        "a dog ran far away",
        "class A: pass",
        "rain fell all day",
        "for i in range(3): print(i)",
        "birds sing at dawn",
    ],
    "q": [0.1, 0.9, 0.4, 0.3, 0.8, 0.2, 0.7, 0.6],
}
TARGET = ["import json", "def g(y): return y + 1", "while True: break"]


def _build(name: str):
    return get_selector(name, column="q") if name in ("topk", "threshold") else get_selector(name)


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_params_are_declared_and_round_trip(name):
    s = _build(name)
    p = s.get_params()
    assert list(p) == list(type(s).Params.model_fields)
    assert all(getattr(s, k) is v for k, v in p.items())
    c = clone(s)  # sklearn rebuilds it from get_params() and checks nothing was changed
    assert type(c) is type(s) and c.get_params() == p
    assert s.set_params(seed=7) is s and s.seed == 7
    with pytest.raises(SelectorError, match=r"unknown .*\['no_such_param'\]"):  # influence: unknown option
        s.set_params(no_such_param=1)
    assert s.seed == 7  # a failed set_params changes nothing


@pytest.mark.parametrize(
    "name,params",
    [("random", {}), ("topk", {"column": "q"}), ("dsir", {"resample": "topk"}), ("similarity", {}), ("ce_diff", {})],
)
def test_fit_returns_self_with_scores_and_selected(name, params):
    s = get_selector(name, **params)
    target = TARGET if s.needs_target else None
    assert s.fit(POOL, target) is s
    assert s.scores_.shape == (8,) and s.scores_.dtype == np.float64
    ids = s.select(3)
    assert s.selected_.dtype == bool and s.selected_.sum() == 3
    assert ids.tolist() == s.ids_[s.selected_].tolist()
    if name == "topk":
        assert ids.tolist() == ["r1", "r4", "r6"]


def test_old_fit_return_value_still_converts_with_a_deprecation_warning():
    s = get_selector("topk", column="q")
    with pytest.warns(DeprecationWarning, match="scores_"):
        old = np.asarray(s.fit(POOL))  # what `scores = sel.fit(...)` callers did next
    assert np.array_equal(old, s.scores_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.fit(POOL).scores_  # the new way warns nothing


def test_validation_happens_once_in_params_and_names_the_parameter():
    assert TopK("q").get_params() == TopK(column="q").get_params()  # positional order = the old signatures
    cases = [
        (dict(name="dsir", resample="often"), r"'dsir': resample: Input should be 'gumbel' or 'topk'"),
        (dict(name="dsir", n_buckets=0), r"n_buckets: Input should be greater than or equal to 1"),
        (dict(name="el2n", keep="medium"), r"keep: Input should be 'easy' or 'hard'"),
        (dict(name="diversity", method="grid"), r"method: Input should be 'kcenter' or 'cluster'"),
        (dict(name="topk"), r"column: Field required"),
        (dict(name="influence", method="influence", solvr="cg"), r"unknown option\(s\) \['solvr'\]"),
        (dict(name="influence", method="trak", ensemble="median"), r"ensemble: Input should be"),
    ]
    for kw, pattern in cases:
        name = kw.pop("name")
        with pytest.raises(SelectorError, match=pattern):
            get_selector(name, **kw)
    with pytest.raises(SelectorError, match="at most"):
        DSIR(2, 100, "xxhash", 0, "topk", 0, "extra")
    # options of attribute() that are not method options pass through
    assert get_selector("influence", proj_dim=64, batch_size=32).options == {"proj_dim": 64, "batch_size": 32}


def test_readme_selection_snippet_runs():
    """The README's selection snippet, as written (it builds its own noisy labels)."""
    block = next(
        b
        for b in re.findall(r"```python\n(.*?)```", Path(__file__).parents[1].joinpath("README.md").read_text(), re.S)
        if 'get_selector("el2n"' in b
    )
    ns: dict = {}
    exec(block, ns)
    n = len(ns["y"])
    assert ns["scores"].shape == (n,) and len(ns["kept_ids"]) == round(0.25 * n)
    flipped = ns["y_noisy"] != ns["y"]
    kept = np.isin(np.arange(n).astype(str), ns["kept_ids"])
    assert flipped[kept].mean() < 0.1 < flipped.mean()  # "easy" keeps few of the flipped rows


def test_attribution_options_models_match_the_backends():
    """Passing every declared default explicitly gives the same scores as passing nothing."""
    import torch

    from winnow.select.attribution import ClassificationTask, attribute
    from winnow.select.attribution.options import METHODS, OPTIONS, validate_options

    assert set(OPTIONS) == set(METHODS)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    X, y = torch.randn(24, 4), torch.randint(0, 3, (24,))
    for m in ("influence", "trak", "tracin", "cosine", "grad_dot"):
        a = attribute(model, ClassificationTask(), (X, y), (X[:5], y[:5]), method=m).scores
        b = attribute(model, ClassificationTask(), (X, y), (X[:5], y[:5]), method=m, **OPTIONS[m]().model_dump()).scores
        assert np.allclose(a, b), m
    with pytest.raises(AttributionError, match=r"method 'influence': damping: damping must be >= 0 \(or 'auto'\)"):
        validate_options("if", {"damping": -1})
    with pytest.raises(AttributionError, match=r"unknown option\(s\) \['lr'\] for method 'tracin'"):
        attribute(model, ClassificationTask(), (X, y), (X[:5], y[:5]), method="tracin", lr=[0.1])


def test_adding_a_selector_is_one_class_and_one_registry_line(monkeypatch):
    """The recipe of docs/ARCHITECTURE.md ("how to add a selector")."""
    from pydantic import Field

    from winnow.select import Selector, SelectorParams

    class Shortest(Selector):
        """Keep the shortest texts first."""

        name = "shortest"

        class Params(SelectorParams):
            max_words: int = Field(100, ge=1)

        def _score(self, pool, target):
            n = pool.n_tokens.astype(float)
            return np.where(n <= self.max_words, -n, -np.inf)

    monkeypatch.setitem(SELECTORS, "shortest", Shortest)
    s = get_selector("shortest", max_words=5)
    assert s.fit(POOL).select(2).tolist() == ["r2", "r4"]  # the two 3-word texts
    assert not s.fit(POOL).select(1.0).tolist().count("r1")  # 6 words: never kept
    with pytest.raises(SelectorError, match="max_words"):
        get_selector("shortest", max_words=0)
