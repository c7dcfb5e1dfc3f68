"""Step registry: YAML name → ``module:Class``, imported lazily.

Add a step by adding one line here; the class name must be the CamelCase form of the
YAML name (``gopher_quality`` → ``GopherQuality``), which is what the Python API exports.
"""
from __future__ import annotations

import difflib
import importlib

from winnow.errors import UnknownStepError

STEPS: dict[str, str] = {
    "length": "winnow.curate.filters.length:Length",
    "language": "winnow.curate.filters.language:Language",
    "gopher_quality": "winnow.curate.filters.gopher:GopherQuality",
    "gopher_repetition": "winnow.curate.filters.gopher:GopherRepetition",
    "c4": "winnow.curate.filters.c4:C4",
    "fineweb_quality": "winnow.curate.filters.fineweb:FinewebQuality",
    "url_filter": "winnow.curate.filters.url:UrlFilter",
    "pii": "winnow.curate.filters.pii:Pii",
    "exact_dedup": "winnow.curate.dedup.exact:ExactDedup",
    "minhash_dedup": "winnow.curate.dedup.minhash:MinhashDedup",
    "semantic_dedup": "winnow.curate.dedup.semantic:SemanticDedup",
    "select": "winnow.select.step:Select",
    "quality_classifier": "winnow.curate.quality.step:QualityClassifier",
    "decontaminate": "winnow.curate.decontam.step:Decontaminate",
}


def camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def get_step_class(name: str):
    """Return the step class registered under ``name`` (YAML name or CamelCase name)."""
    key = name
    if key not in STEPS:
        by_camel = {camel(k): k for k in STEPS}
        key = by_camel.get(name, name)
    if key not in STEPS:
        close = difflib.get_close_matches(name, list(STEPS), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownStepError(
            f"unknown step {name!r}.{hint} Valid steps: {', '.join(sorted(STEPS))}"
        )
    module, cls = STEPS[key].split(":")
    return getattr(importlib.import_module(module), cls)


def step_names() -> list[str]:
    return sorted(STEPS)
