"""The package tree shows the layers, and imports only point down (docs/ARCHITECTURE.md).

    core → curate → proxy → select → prove → predict → deliver → report → cli

A module may import its own layer and the layers below it. `winnow.errors` and `winnow.cli_common`
sit under everything; `winnow.cli` and the root package `winnow` (the public facade: lazy names,
short aliases; imported by everything for its version) on top.
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "winnow"
LAYERS = ["core", "curate", "proxy", "select", "prove", "predict", "deliver", "report"]
FOUNDATION = {"winnow.errors", "winnow.cli_common"}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if module in FOUNDATION or module == "winnow":
        return -1
    if len(parts) >= 2 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if module == "winnow.cli":
        return len(LAYERS)
    return None


def _imports(path: pathlib.Path) -> list[str]:
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = pkg.rsplit(".", node.level - 1)[0] if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            out.append(mod)
            # `from winnow import x` names a module when x is one
            if mod == "winnow":
                out += [
                    f"winnow.{a.name}" for a in node.names if (SRC / a.name).exists() or (SRC / f"{a.name}.py").exists()
                ]
    return [m for m in out if m == "winnow" or m.startswith("winnow.")]


def _modules():
    for f in sorted(SRC.rglob("*.py")):
        yield f, ".".join(f.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def test_every_module_is_in_a_layer():
    loose = [m for _, m in _modules() if _layer(m) is None]
    assert loose == [], f"modules outside the layers {LAYERS}: {loose}"
    folders = {p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders <= set(LAYERS) and {"core", "curate", "select", "prove", "predict", "report"} <= folders


def test_imports_point_down():
    up = []
    for f, mod in _modules():
        if mod in ("winnow", "winnow.cli"):
            continue  # the facade and the CLI may import any layer
        mine = _layer(mod)
        for target in _imports(f):
            theirs = _layer(target)
            if theirs is not None and theirs > mine:
                up.append(f"{mod} ({LAYERS[mine] if 0 <= mine < len(LAYERS) else mod}) imports {target}")
    assert up == [], "\n".join(up)


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "winnow" / "core"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from winnow.select.base import Selector\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path / "winnow")
    assert _imports(fake / "bad.py") == ["winnow.select.base"]
    assert _layer("winnow.select.base") > _layer("winnow.core.bad")
