"""No module imports a private name (leading underscore) from another winnow package.

A package is a folder of ``src/winnow``; modules of the same folder may share private helpers.
Checked: ``from winnow.x import _name``, ``from winnow.x._mod import name``, ``import winnow.x._mod``
(relative imports resolved) and ``mod._name`` where ``mod`` is a winnow module imported by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Violations owned by other open work, to be removed when it lands (issue 21: executor interface).
KNOWN: set[tuple[str, str]] = set()  # none left


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> tuple[str, str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _is_package(dotted: str) -> bool:
    return (SRC / Path(*dotted.split("."))).is_dir()


def _is_module(dotted: str) -> bool:
    p = SRC / Path(*dotted.split("."))
    return p.is_dir() or p.with_suffix(".py").is_file()


def _owner(dotted: str) -> str:
    """The package a dotted name lives in (itself for a package)."""
    return dotted if _is_package(dotted) else dotted.rpartition(".")[0]


def private_imports(path: Path) -> list[str]:
    """The private names ``path`` imports from other winnow packages, as dotted names."""
    _, pkg = _module_name(path)
    bad: list[str] = []
    modules: dict[str, str] = {}  # local name -> winnow module it is bound to
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("winnow"):
                continue
            for a in node.names:
                full = f"{target}.{a.name}"
                if _is_module(full):
                    modules[a.asname or a.name] = full
                if (
                    (_private(a.name) or any(_private(p) for p in target.split(".")))
                    and _owner(full) != pkg
                    and _owner(target) != pkg
                ):
                    bad.append(full)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if not a.name.startswith("winnow"):
                    continue
                if a.asname:
                    modules[a.asname] = a.name
                if (
                    any(_private(p) for p in a.name.split("."))
                    and _owner(a.name) != pkg
                    and a.name.rpartition(".")[0] != pkg
                ):
                    bad.append(a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _private(node.attr):
            mod = modules.get(node.value.id)
            if mod and _owner(mod) != pkg and mod.rpartition(".")[0] != pkg:
                bad.append(f"{mod}.{node.attr}")
    return sorted(set(bad))


def test_no_private_imports_across_packages():
    found = {
        (str(p.relative_to(SRC)), name) for p in sorted((SRC / "winnow").rglob("*.py")) for name in private_imports(p)
    }
    assert found == KNOWN, sorted(found ^ KNOWN)


def test_the_check_sees_each_form(tmp_path, monkeypatch):
    pkg = tmp_path / "winnow" / "a"
    (tmp_path / "winnow" / "b").mkdir(parents=True)
    pkg.mkdir()
    for f in (
        "winnow/__init__.py",
        "winnow/a/__init__.py",
        "winnow/b/__init__.py",
        "winnow/b/mod.py",
        "winnow/b/_priv.py",
        "winnow/a/_helpers.py",
    ):
        (tmp_path / f).write_text("")
    src = (
        "from winnow.b.mod import _hidden, public\n"
        "from winnow.b._priv import thing\n"
        "import winnow.b._priv as pv\n"
        "from winnow.b import mod\n"
        "mod._attr\n"
        "from winnow.a._helpers import fine\n"
        "from ._helpers import _also_fine\n"
    )
    (pkg / "user.py").write_text(src)
    monkeypatch.setitem(globals(), "SRC", tmp_path)
    assert private_imports(pkg / "user.py") == [
        "winnow.b._priv",
        "winnow.b._priv.thing",
        "winnow.b.mod._attr",
        "winnow.b.mod._hidden",
    ]
