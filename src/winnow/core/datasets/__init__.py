"""Sample corpora assembled offline from installed packages (no third-party text committed)."""
from __future__ import annotations

DATASETS = {"sample": "winnow.core.datasets.sample:build_sample"}


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


def pinned_distributions() -> set[str] | None:
    """Canonical names of the distributions pinned in the checkout's ``requirements.lock``.

    Corpora built from installed packages (READMEs, licences) use only these, so they do not
    change when someone pip-installs a tool into the environment. None outside a checkout.
    """
    import os

    lock = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "requirements.lock")
    if not os.path.exists(lock):
        return None
    with open(lock, encoding="utf-8") as fh:
        return {canonical_name(line.split("==")[0]) for line in fh if "==" in line}


def canonical_name(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()
