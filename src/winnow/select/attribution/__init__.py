"""Data attribution: which training examples make a model do what it does on a target set.

One entry point, :func:`attribute`, turns (model, task, train, target) into a score matrix
``[n_train, n_target]`` (positive = the train example reduces that target's loss / increases its
output). Methods: influence functions (exact, CG, LiSSA), TRAK, TracIn, gradient cosine
similarity (LESS-style), datamodels and exact metagradients through a
:class:`TrainRecipe` run; :func:`lds` measures any of them against retrained models.

Example:
    >>> import torch
    >>> from winnow.select.attribution import attribute, ClassificationTask
    >>> model = torch.nn.Linear(4, 3)
    >>> X, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    >>> res = attribute(model, ClassificationTask(), (X, y), (X[:5], y[:5]), method="trak")
    >>> res.scores.shape, res.aggregate().shape
    ((20, 5), (20,))

Heavy modules (torch) load lazily, so ``import winnow.select.attribution`` stays cheap.
"""

from __future__ import annotations

_LAZY = {
    "attribute": "winnow.select.attribution.api:attribute",
    "self_influence": "winnow.select.attribution.api:self_influence",
    "AttributionResult": "winnow.select.attribution.api:AttributionResult",
    "AttributionError": "winnow.select.attribution.data:AttributionError",
    "Task": "winnow.select.attribution.task:Task",
    "ClassificationTask": "winnow.select.attribution.task:ClassificationTask",
    "CausalLMTask": "winnow.select.attribution.task:CausalLMTask",
    "RegressionTask": "winnow.select.attribution.task:RegressionTask",
    "per_example_grads": "winnow.select.attribution.grads:per_example_grads",
    "RandomProjector": "winnow.select.attribution.projection:RandomProjector",
    "FeatureStore": "winnow.select.attribution.store:FeatureStore",
    "lds": "winnow.select.attribution.datamodels:lds",
    "subset_masks": "winnow.select.attribution.datamodels:subset_masks",
    "fit_datamodels": "winnow.select.attribution.datamodels:fit_datamodels",
    "retrain_outputs": "winnow.select.attribution.datamodels:retrain_outputs",
    "TrainRecipe": "winnow.select.attribution.recipe:TrainRecipe",
    "metagradients": "winnow.select.attribution.metagrad:metagradients",
    "unrolled_metagradients": "winnow.select.attribution.metagrad:unrolled_metagradients",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'winnow.select.attribution' has no attribute {name!r}")
