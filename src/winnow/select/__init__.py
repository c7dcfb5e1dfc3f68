"""Selection strategies behind one sklearn-like interface.

``fit(pool, target=None)`` → one score per pool row (higher = keep first); ``select(budget)`` →
the ids kept. Budgets: a fraction (``0.1``, ``"10%"``), a row count (``500``) or a token count
(``"50k tokens"``). Strategies (registry names for the CLI, the ``select`` pipeline step and
``winnow bench``):

=============  ===========================================================  ============
name           what                                                         needs
=============  ===========================================================  ============
random         seeded uniform baseline                                      —
topk           top-k / threshold on a score column (``column=...``)         a column
dsir           DSIR importance resampling, hashed n-grams (Xie et al. 2023)  text, target
similarity     embedding cosine similarity to the target                    target
ce_diff        Moore–Lewis cross-entropy difference of two n-gram LMs        text, target
influence      TRAK / influence / TracIn via ``winnow.select.attribution``          target
mgd            metagradient descent on data weights (exact metagradients)   labels, target
diversity      k-center greedy or cluster-balanced (k-means)                —
el2n           EL2N early-training error norm (Paul et al. 2021)            labels
forgetting     forgetting events (Toneva et al. 2019)                       labels
prototype      distance to k-means / class prototype (Sorscher et al. 2022) —
=============  ===========================================================  ============

Example:
    >>> from winnow.select import get_selector
    >>> sel = get_selector("random", seed=0)
    >>> _ = sel.fit(["a b", "c d e", "f"])
    >>> len(sel.select(2)), len(sel.select("3 tokens")) >= 1
    (2, True)
"""
from __future__ import annotations

import inspect

from winnow.select.base import BudgetError, Pool, Selector, as_pool, parse_budget
from winnow.select.influence import Influence
from winnow.select.mgd import MetagradientDescent
from winnow.select.pruning import EL2N, Forgetting, PrototypeDistance
from winnow.select.strategies import (
    DSIR,
    CrossEntropyDifference,
    Diversity,
    EmbeddingSimilarity,
    Random,
    TopK,
)

SELECTORS: dict[str, type[Selector]] = {
    "random": Random,
    "topk": TopK,
    "threshold": TopK,
    "dsir": DSIR,
    "similarity": EmbeddingSimilarity,
    "ce_diff": CrossEntropyDifference,
    "influence": Influence,
    "trak": Influence,
    "mgd": MetagradientDescent,
    "diversity": Diversity,
    "el2n": EL2N,
    "forgetting": Forgetting,
    "prototype": PrototypeDistance,
}


def get_selector(name: str, **params) -> Selector:
    """Build a strategy by registry name, validating its parameters (errors name the bad one)."""
    if name not in SELECTORS:
        import difflib

        close = difflib.get_close_matches(name, list(SELECTORS), n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown selection method {name!r}.{hint} Valid: {', '.join(sorted(SELECTORS))}")
    cls = SELECTORS[name]
    sig = inspect.signature(cls.__init__)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    valid = [p for p in sig.parameters if p not in ("self", "options")]
    bad = [k for k in params if k not in valid]
    if bad and not takes_kwargs:
        raise ValueError(f"method {name!r} got unknown parameter(s) {bad}; valid: {valid}")
    if name == "trak":
        params.setdefault("method", "trak")
    try:
        return cls(**params)
    except TypeError as e:
        raise ValueError(f"method {name!r}: {e}") from e


__all__ = ["BudgetError", "Pool", "Selector", "as_pool", "parse_budget", "SELECTORS", "get_selector", "Random",
           "TopK", "DSIR", "EmbeddingSimilarity", "CrossEntropyDifference", "Influence", "Diversity", "EL2N",
           "Forgetting", "PrototypeDistance"]
