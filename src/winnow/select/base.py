"""The selector interface, pools and budgets.

Every strategy is a :class:`Selector` and follows the scikit-learn contract: its parameters
are declared once, as a pydantic model (``Params``), and validated when it is built or changed
(``get_params()`` / ``set_params(**p)``); ``fit(pool, target=None)`` computes one score per pool
row (higher = keep first) into ``scores_`` and returns the selector; ``select(budget)`` returns
the ids of the chosen rows (``selected_`` holds the last selection's mask). A budget is a
fraction of rows (``0.25`` or ``"25%"``), a row count (``1000`` or ``"1000 rows"``) or a token
count (``"50k tokens"``; rows are taken in score order while the running token total stays
within the budget). Tokens are whitespace-separated words unless
the pool has an ``n_tokens`` column.

A pool (and a target) is a :class:`Pool`, or anything :func:`as_pool` accepts: an Arrow table
(``id``, ``text`` and/or a vector column ``x``, optional ``label``), a dict of columns, a list of
strings, or a tuple ``(X, y)`` of numpy arrays.

Example:
    >>> import numpy as np
    >>> from winnow.select import get_selector
    >>> s = get_selector("topk", column="quality")
    >>> s.fit({"id": ["a", "b", "c"], "text": ["x", "y", "z"], "quality": [0.2, 0.9, 0.5]}).scores_.tolist()
    [0.2, 0.9, 0.5]
    >>> s.select(2).tolist()
    ['b', 'c']
    >>> s.select("34%").tolist()
    ['b']
    >>> s.get_params()
    {'seed': 0, 'column': 'quality', 'descending': True, 'min': None, 'max': None}
    >>> s.set_params(descending=False)                     # validated; fit again to use it
    TopK(seed=0, column='quality', descending=False, min=None, max=None)

``fit`` used to return the scores. Code that still reads them from its return value
(``scores = sel.fit(...)``) keeps working wherever numpy converts it (``np.asarray(scores)``,
sklearn metrics), with a ``DeprecationWarning``; write ``sel.fit(...).scores_``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from winnow.errors import BudgetError, SelectorError, explain_validation  # defined there; importable here


class BudgetWarning(UserWarning):
    """A budget larger than the pool: everything is selected."""


@dataclass
class Pool:
    """Columns of a pool or target set, as numpy arrays / lists.

    Attributes:
        ids: row ids (strings).
        texts: the ``text`` column, or None for vector data.
        X: a 2-D float array of vectors (column ``x``), or None.
        y: integer labels (column ``label``), or None.
        columns: every other column (score columns for ``topk``), as numpy arrays.
        n_tokens: tokens per row (``n_tokens`` column, else whitespace words; 1 per row for vectors).
    """

    ids: np.ndarray
    texts: list[str] | None = None
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    n_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, idx) -> "Pool":
        idx = np.asarray(idx)
        return Pool(
            self.ids[idx],
            None if self.texts is None else [self.texts[i] for i in idx],
            None if self.X is None else self.X[idx],
            None if self.y is None else self.y[idx],
            {k: v[idx] for k, v in self.columns.items()},
            None if self.n_tokens is None else self.n_tokens[idx],
        )


def word_counts(texts: list[str]) -> np.ndarray:
    """Whitespace-separated words per text (the default token count of a pool).

    >>> word_counts(["a b c", "d  e", " f \\n"]).tolist()
    [3, 2, 1]
    """
    import pyarrow as pa

    from winnow.core.text.whitespace import count_words

    if not texts:
        return np.zeros(0, np.int64)
    return count_words(pa.array(texts, pa.string()))


def as_pool(data: Any, name: str = "pool") -> Pool:
    """Normalise ``data`` (Pool, Arrow table, pandas / polars DataFrame, HF ``Dataset``, dict of columns,
    list of str, ``(X, y)``) to a :class:`Pool`."""
    if data is None:
        raise ValueError(f"{name} is None")
    if isinstance(data, Pool):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        X, y = data
        X = np.asarray(X, dtype=np.float32)
        return Pool(
            np.array([str(i) for i in range(len(X))], dtype=object),
            X=X,
            y=None if y is None else np.asarray(y),
            n_tokens=np.ones(len(X), np.int64),
        )
    if isinstance(data, np.ndarray):
        return as_pool((data, None), name)
    if isinstance(data, list) and (not data or isinstance(data[0], str)):
        data = {"text": data}
    from winnow.core.io.memory import is_in_memory, to_arrow

    if not isinstance(data, dict) and is_in_memory(data):  # pandas / polars / HF Dataset / Arrow
        data = to_arrow(data)
    try:
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            data = {c: data.column(c) for c in data.column_names}
    except ImportError:  # pragma: no cover
        pass
    if not isinstance(data, dict):
        raise TypeError(
            f"{name}: expected a Pool, Arrow table, dict of columns, list of strings or (X, y); "
            f"got {type(data).__name__}"
        )
    cols = {}
    n = None
    for k, v in data.items():
        if hasattr(v, "to_numpy") and hasattr(v, "type"):  # Arrow
            v = v.to_pylist() if k in ("text", "x", "id") else v.to_numpy(zero_copy_only=False)
        cols[k] = v
        if n is None:
            n = len(v)
        elif len(v) != n:
            raise ValueError(f"{name}: column {k!r} has {len(v)} rows, expected {n}")
    n = n or 0
    ids = np.asarray([str(i) for i in cols.pop("id")] if "id" in cols else [str(i) for i in range(n)], dtype=object)
    texts = cols.pop("text", None)
    if texts is not None:
        texts = ["" if t is None else str(t) for t in texts]
    X = cols.pop("x", None)
    if X is not None:
        X = (
            np.asarray([np.asarray(r, np.float32) for r in X], dtype=np.float32)
            if len(X)
            else np.zeros((0, 0), np.float32)
        )
    y = cols.pop("label", None)
    y = None if y is None else np.asarray(y)
    if "n_tokens" in cols:
        ntok = np.asarray(cols["n_tokens"], dtype=np.int64)
    elif texts is not None:
        ntok = word_counts(texts)
    else:
        ntok = np.ones(n, np.int64)
    other = {k: np.asarray(v) for k, v in cols.items()}
    return Pool(ids, texts, X, y, other, ntok)


_NUM = r"(\d+(?:\.\d+)?)\s*([kKmMbB]?)"
_MULT = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}


def parse_budget(budget: Any) -> tuple[str, float]:
    """``("fraction", f)``, ``("rows", k)`` or ``("tokens", t)``.

    >>> parse_budget(0.1), parse_budget("25%"), parse_budget(500), parse_budget("2.5k tokens")
    (('fraction', 0.1), ('fraction', 0.25), ('rows', 500), ('tokens', 2500))
    """
    if isinstance(budget, bool) or budget is None:
        raise BudgetError(f"budget must be a fraction, a row count or a token count, got {budget!r}")
    if isinstance(budget, (int, np.integer)):
        if budget < 1:
            raise BudgetError(f"budget row count must be >= 1, got {budget}")
        return "rows", int(budget)
    if isinstance(budget, (float, np.floating)):
        if budget.is_integer() and budget > 1:
            return "rows", int(budget)
        if not 0 < budget <= 1:
            raise BudgetError(f"budget fraction must be in (0, 1], got {budget}")
        return "fraction", float(budget)
    s = str(budget).strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", s)
    if m:
        f = float(m.group(1)) / 100
        if not 0 < f <= 1:
            raise BudgetError(f"budget percentage must be in (0, 100], got {budget!r}")
        return "fraction", f
    m = re.fullmatch(_NUM + r"\s*(rows?|tokens?|tok)?", s)
    if not m:
        raise BudgetError(f"cannot parse budget {budget!r}: use 0.25, '25%', 1000, '1000 rows' or '50k tokens'")
    val = float(m.group(1)) * _MULT[m.group(2).lower()]
    unit = m.group(3) or ""
    if unit.startswith("tok"):
        return "tokens", int(val)
    if not unit and "." in m.group(1) and not m.group(2):
        return parse_budget(float(val))
    if val < 1:
        raise BudgetError(f"budget must be >= 1 row, got {budget!r}")
    return "rows", int(val)


def order_to_mask(order: np.ndarray, budget: Any, n_tokens: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows taken, in ``order``, until the budget is spent."""
    n = len(order)
    kind, val = parse_budget(budget)
    mask = np.zeros(len(n_tokens), bool)
    if kind == "fraction":
        k = int(round(val * len(n_tokens)))
    elif kind == "rows":
        k = int(val)
    else:
        cum = np.cumsum(n_tokens[order])
        k = int(np.searchsorted(cum, val, side="right"))
        if len(cum) and val > cum[-1]:
            warnings.warn(
                f"budget {budget!r} exceeds the pool's {int(cum[-1])} tokens: every row is selected",
                BudgetWarning,
                stacklevel=3,
            )
    if kind == "rows" and k > len(n_tokens):
        warnings.warn(
            f"budget {budget!r} exceeds the pool's {len(n_tokens)} rows: every row is selected",
            BudgetWarning,
            stacklevel=3,
        )
    mask[order[: min(max(k, 0), n)]] = True
    return mask


class SelectorParams(BaseModel):
    """The parameters every selector has (a subclass's ``Params`` adds its own fields)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_default=True)
    seed: int = 0


class Selector:
    """Base class: a subclass declares ``name``, its ``Params`` (a :class:`SelectorParams`
    subclass) and implements :meth:`_score` (it may override :meth:`_order`).

    Parameters are attributes (``sel.seed``), validated by ``Params`` in ``__init__`` and
    :meth:`set_params`; errors are :class:`~winnow.errors.SelectorError` naming the parameter.
    After ``fit``: ``scores_`` (float per pool row; higher = keep first; ``-inf`` = never keep),
    ``ids_`` and ``n_tokens_``; after ``select``: ``selected_`` (boolean mask over the pool rows).
    """

    #: registry name (used in reasons ``select:<name>``, CLI ``--method`` and bench configs)
    name: str = ""
    #: True if the strategy trains a model on the data (for reports)
    model_aware: bool = False
    #: needs a target set
    needs_target: bool = False
    #: the declared, validated parameters
    Params: ClassVar[type[SelectorParams]] = SelectorParams

    def __init__(self, *args, **params):
        names = [k for k in self.Params.model_fields if k != "seed"] + ["seed"]
        if len(args) > len(names):
            raise SelectorError(f"{self._label()}: takes at most {len(names)} positional parameters ({names})")
        for k, v in zip(names, args):
            if k in params:
                raise SelectorError(f"{self._label()}: parameter {k!r} given twice")
            params[k] = v
        self._set(self._validate(params), params)

    @classmethod
    def _label(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def _validate(cls, params: dict) -> SelectorParams:
        try:
            return cls.Params(**params)
        except ValidationError as e:
            bad = [err["loc"][0] for err in e.errors() if err["type"] == "extra_forbidden"]
            if bad:
                raise SelectorError(
                    f"method {cls._label()!r} got unknown parameter(s) {bad}; valid: {list(cls.Params.model_fields)}"
                ) from None
            raise SelectorError(f"method {cls._label()!r}: {explain_validation(e)}") from None

    def _set(self, p: SelectorParams, given: dict) -> None:
        for k in type(p).model_fields:
            v = getattr(p, k)
            if k in given and type(given[k]) is type(v) and given[k] == v:
                v = given[k]  # the caller's object, not pydantic's copy (sklearn.base.clone checks identity)
            setattr(self, k, v)

    def get_params(self, deep: bool = True) -> dict:
        """The parameters, as ``__init__`` takes them (scikit-learn's ``get_params``)."""
        return {k: getattr(self, k) for k in self.Params.model_fields}

    def set_params(self, **params) -> "Selector":
        """Change parameters (validated together with the others); returns ``self``. Fit again to use them."""
        merged = {**self.get_params(), **params}
        self._set(self._validate(merged), merged)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def fit(self, pool, target=None) -> "Selector":
        """Score every pool row (higher = keep first) into ``scores_``; returns ``self``."""
        p = as_pool(pool, "pool")
        t = None if target is None else as_pool(target, "target")
        if self.needs_target and t is None:
            raise SelectorError(f"selector {self.name!r} needs a target set: fit(pool, target=...)")
        if len(p) == 0:
            raise SelectorError("pool is empty")
        scores = np.asarray(self._score(p, t), dtype=np.float64)
        if scores.shape != (len(p),):
            raise RuntimeError(f"{type(self).__name__} returned {scores.shape} scores for {len(p)} rows")
        self.scores_ = scores
        self.ids_ = p.ids
        self.n_tokens_ = p.n_tokens if p.n_tokens is not None else np.ones(len(p), np.int64)
        self._pool = p
        return self

    def __array__(self, dtype=None, copy=None):
        """Deprecated: the scores, for code written when ``fit`` returned them (use ``scores_``)."""
        warnings.warn(
            f"{type(self).__name__}.fit() returns the selector now (scikit-learn style); read the scores from .scores_",
            DeprecationWarning,
            stacklevel=2,
        )
        if not hasattr(self, "scores_"):
            raise RuntimeError(f"{type(self).__name__}: call fit(pool, target) first")
        return np.asarray(self.scores_, dtype=dtype)

    def _score(self, pool: Pool, target: Pool | None) -> np.ndarray:
        raise NotImplementedError

    def _order(self, budget) -> np.ndarray:
        """Row indices in selection order (default: descending score, ties by position; -inf excluded)."""
        s = self.scores_
        order = np.argsort(-s, kind="stable")
        return order[np.isfinite(s[order])]

    def select_mask(self, budget) -> np.ndarray:
        """Boolean mask over the pool rows of ``fit`` (also kept as ``selected_``)."""
        if not hasattr(self, "scores_"):
            raise RuntimeError(f"{type(self).__name__}: call fit(pool, target) before select(budget)")
        self.selected_ = order_to_mask(self._order(budget), budget, self.n_tokens_)
        return self.selected_

    def select(self, budget) -> np.ndarray:
        """Ids of the selected rows (in pool order)."""
        mask = self.select_mask(budget)
        return self.ids_[mask]

    def fit_select(self, pool, budget, target=None) -> np.ndarray:
        """``fit`` then ``select``: the ids kept."""
        self.fit(pool, target)
        return self.select(budget)
