"""The examples in the docstrings of the fault-handling modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "winnow.core.io.validate",
    "winnow.core.pipeline.fingerprint",
    "winnow.core.pipeline.runlock",
    "winnow.core.pipeline.runfolder",
    "winnow.core.pipeline.manifest",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
