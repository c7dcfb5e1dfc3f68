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


def pinned_distributions() -> set[str]:
    """Canonical names of the distributions the corpora built from installed packages (READMEs,
    licences: the sample corpus, the bench LM pool) may draw on.

    A frozen list (``corpus_distributions.txt``, the project's pins when it was made), so the
    corpora change neither when someone pip-installs a tool nor when the project adds a dependency.

    >>> "numpy" in pinned_distributions() and "polars" not in pinned_distributions()
    True
    """
    from importlib.resources import files

    text = files("winnow.core.datasets").joinpath("corpus_distributions.txt").read_text(encoding="utf-8")
    return {canonical_name(line.strip()) for line in text.splitlines() if line.strip() and not line.startswith("#")}


def canonical_name(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()
