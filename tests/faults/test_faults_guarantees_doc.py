"""The README "Guarantees" section names, for each promise, the test that keeps it: every
named test file and test function must exist."""

from __future__ import annotations

import ast
import os
import re

from _faults import ROOT


def _section() -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = text.index("### Guarantees")
    end = text.index("\n#", start + 5)
    return text[start:end]


def test_every_test_named_in_guarantees_exists():
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", _section())
    assert len(refs) >= 20
    for path, name in refs:
        full = os.path.join(ROOT, path)
        assert os.path.exists(full), path
        tree = ast.parse(open(full, encoding="utf-8").read())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in names, f"{path}::{name} named in README Guarantees does not exist"


def test_every_fault_test_file_is_named_in_guarantees():
    sec = _section()
    here = os.path.dirname(os.path.abspath(__file__))
    for f in sorted(os.listdir(here)):
        if f.startswith("test_faults_") and f not in ("test_faults_guarantees_doc.py", "test_faults_doctests.py"):
            assert f"tests/faults/{f}::" in sec, f"{f} keeps no promise in README Guarantees"
