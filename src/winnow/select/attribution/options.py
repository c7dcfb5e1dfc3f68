"""The method-specific options of :func:`~winnow.select.attribution.attribute`, one pydantic model per method.

``attribute(..., method="influence", damping=0.1)`` validates ``damping=0.1`` with
:class:`InfluenceOptions`; a wrong name or value is an :class:`~winnow.errors.AttributionError`
that names it. Adding an option = adding a field here. No torch import (the ``influence``
selector validates its options at construction time through this module).

Example:
    >>> validate_options("influence", {"damping": 0.1}).solver
    'auto'
    >>> validate_options("trak", {"dampin": 0.1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    winnow.errors.AttributionError: unknown option(s) ['dampin'] for method 'trak'; allowed: ['damping', ...]
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from winnow.errors import AttributionError, explain_validation

TargetFn = Literal["loss", "output"]


class MethodOptions(BaseModel):
    """Base of the per-method option models (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class InfluenceOptions(MethodOptions):
    """Influence functions (Koh & Liang): the inverse-Hessian solver and its settings.

    ``target_fn="output"`` attributes the target's output instead of its loss. ``hessian="auto"``:
    the true Hessian for a linear model with the exact solver, Gauss-Newton (PSD) otherwise.
    ``solver="auto"``: exact up to ``max_exact_params`` parameters, CG above. ``damping="auto"``
    (or None): 1e-3 for a linear model (convex: exact leave-one-out); otherwise the split-half rule
    of :func:`~winnow.select.attribution.hessian.auto_damping` (the smallest damping whose scores
    correlate >= ``auto_threshold`` between Hessians of two halves of the training data);
    0.1 x the mean corrected eigenvalue per layer for ``solver="ekfac"``.
    """

    solver: Literal["auto", "exact", "cg", "lissa", "ekfac"] = "auto"
    damping: float | Literal["auto"] | None = "auto"
    auto_threshold: float = Field(0.75, gt=0, lt=1)
    target_fn: TargetFn = "loss"
    max_iter: int = Field(100, ge=1)
    tol: float = Field(1e-7, gt=0)
    depth: int = Field(200, ge=1)
    repeat: int = Field(1, ge=1)
    scale: float | None = None
    hessian_batch_size: int | None = Field(None, ge=1)
    max_exact_params: int = Field(4096, ge=1)
    hessian: Literal["auto", "hessian", "gauss_newton"] = "auto"

    @field_validator("damping")
    @classmethod
    def _damping_ge_0(cls, v):
        if isinstance(v, float) and v < 0:
            raise ValueError("damping must be >= 0 (or 'auto')")
        return v


class TrakOptions(MethodOptions):
    """TRAK: kernel ridge ``damping`` (None: 0.1 x the kernel's mean diagonal) and the ensemble rule."""

    damping: float | None = None
    default_proj_dim: int = Field(2048, ge=1)
    ensemble: Literal["mean_q", "mean"] = "mean_q"


class TracinOptions(MethodOptions):
    """TracIn-CP (and ``grad_dot``): one learning rate per checkpoint (default 1.0 each)."""

    lrs: list[float] | None = None
    target_fn: TargetFn = "loss"
    normalize: bool = False

    @field_validator("lrs", mode="before")
    @classmethod
    def _seq(cls, v):
        return None if v is None else [float(x) for x in v]


class CosineOptions(MethodOptions):
    """Gradient cosine similarity (LESS-style)."""

    target_fn: TargetFn = "loss"


class DatamodelsOptions(MethodOptions):
    """Datamodels: ``fit(X, y, seed) -> trained model`` is retrained on ``n_models`` random subsets."""

    fit: Callable[..., Any] | None = None
    n_models: int = Field(100, ge=1)
    alpha: float = Field(0.5, gt=0, le=1)
    l2: float = Field(1.0, ge=0)


class MetagradientOptions(MethodOptions):
    """Metagradients through a :class:`~winnow.select.attribution.recipe.TrainRecipe` run
    (``model`` is the recipe; ``checkpoints`` the replay schedule)."""

    weights: Any = None
    target_fn: Literal["output", "loss", "mean_output", "mean_loss"] = "output"
    target_chunk: int | None = Field(None, ge=1)
    progress: bool = False
    info: dict | None = None


#: method name -> its options model (aliases resolve first: ``if`` -> ``influence``, ...)
OPTIONS: dict[str, type[MethodOptions]] = {
    "influence": InfluenceOptions,
    "trak": TrakOptions,
    "tracin": TracinOptions,
    "grad_dot": TracinOptions,
    "cosine": CosineOptions,
    "datamodels": DatamodelsOptions,
    "metagradient": MetagradientOptions,
}
METHODS = ("influence", "trak", "tracin", "cosine", "grad_dot", "datamodels", "metagradient")
ALIASES = {
    "if": "influence",
    "influence_function": "influence",
    "less": "cosine",
    "grad_cos": "cosine",
    "datamodel": "datamodels",
    "metagradients": "metagradient",
}
#: keyword arguments of ``attribute`` shared by every method (not method options)
COMMON = ("params", "batch_size", "proj_dim", "proj_kind", "projection", "seed", "store", "checkpoints")


def canonical_method(method: str) -> str:
    """``method`` with aliases resolved; an :class:`AttributionError` for an unknown one."""
    m = ALIASES.get(str(method).lower(), str(method).lower())
    if m not in METHODS:
        raise AttributionError(f"method must be one of {list(METHODS)} (or aliases {sorted(ALIASES)}), got {method!r}")
    return m


def validate_options(method: str, options: dict) -> MethodOptions:
    """The options model of ``method`` built from ``options``; errors name the bad option."""
    m = canonical_method(method)
    model = OPTIONS[m]
    bad = sorted(set(options) - set(model.model_fields))
    if bad:
        raise AttributionError(f"unknown option(s) {bad} for method {m!r}; allowed: {sorted(model.model_fields)}")
    try:
        return model(**options)
    except ValidationError as e:
        raise AttributionError(f"method {m!r}: {explain_validation(e)}") from None


__all__ = [
    "MethodOptions",
    "InfluenceOptions",
    "TrakOptions",
    "TracinOptions",
    "CosineOptions",
    "DatamodelsOptions",
    "MetagradientOptions",
    "OPTIONS",
    "METHODS",
    "ALIASES",
    "COMMON",
    "canonical_method",
    "validate_options",
]
