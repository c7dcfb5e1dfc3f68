"""Sample corpora assembled offline from installed packages (no third-party text committed)."""
from __future__ import annotations

DATASETS = {"sample": "winnow.datasets.sample:build_sample"}


def build_dataset(name: str, out: str, **kwargs) -> dict:
    """Build a bundled dataset by name into ``out``; returns its manifest.

    Example:
        >>> build_dataset("sample", "data/sample")     # doctest: +SKIP
    """
    import importlib

    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    mod, fn = DATASETS[name].split(":")
    return getattr(importlib.import_module(mod), fn)(out, **kwargs)
