"""Selection strategies behind one sklearn-like interface.

``fit(pool, target=None)`` → the fitted selector, with one score per pool row in ``scores_``
(higher = keep first); ``select(budget)`` → the ids kept. Parameters are declared once per
strategy (a pydantic ``Params`` model) and follow scikit-learn (``get_params`` / ``set_params``).
Budgets: a fraction (``0.1``, ``"10%"``), a row count (``500``) or a token count
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
distilled      attribute a sample, distil into a hashed n-gram model, score all  text, target
quality_       a saved quality model (``model=``) or the DCLM-style classifier   text
classifier     (target vs pool)
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

from winnow.errors import SelectorError
from winnow.select.base import BudgetError, Pool, Selector, SelectorParams, as_pool, parse_budget
from winnow.select.distilled import Distilled, QualityClassifier
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
    "distilled": Distilled,
    "quality_classifier": QualityClassifier,
    "mgd": MetagradientDescent,
    "diversity": Diversity,
    "el2n": EL2N,
    "forgetting": Forgetting,
    "prototype": PrototypeDistance,
}


def get_selector(name: str, **params) -> Selector:
    """Build a strategy by registry name; its ``Params`` model validates the parameters
    (a :class:`~winnow.errors.SelectorError` names the bad one)."""
    if name not in SELECTORS:
        import difflib

        close = difflib.get_close_matches(name, list(SELECTORS), n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise SelectorError(f"unknown selection method {name!r}.{hint} Valid: {', '.join(sorted(SELECTORS))}")
    if name == "trak":
        params.setdefault("method", "trak")
    return SELECTORS[name](**params)


__all__ = [
    "BudgetError",
    "SelectorError",
    "Pool",
    "Selector",
    "SelectorParams",
    "as_pool",
    "parse_budget",
    "SELECTORS",
    "get_selector",
    "Random",
    "TopK",
    "DSIR",
    "EmbeddingSimilarity",
    "CrossEntropyDifference",
    "Influence",
    "Distilled",
    "QualityClassifier",
    "Diversity",
    "EL2N",
    "Forgetting",
    "PrototypeDistance",
]
