"""Declared rules of map steps and self-registering steps (issue 21)."""

import ast
import importlib
import json
import os
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from winnow.core.pipeline.registry import (
    StepRegistrationError,
    get_step_class,
    register_step,
    registered_steps,
    unregister_step,
)
from winnow.core.pipeline.step import MapStep, Rule, Step

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _step_classes_in_source() -> dict[str, type]:
    """Every class in src/winnow with a ``name = "..."`` class attribute that is a Step subclass."""
    found = {}
    for root, _, files in os.walk(os.path.join(SRC, "winnow")):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(root, f)
            tree = ast.parse(open(path, encoding="utf-8").read())
            names = [
                c.name
                for c in tree.body
                if isinstance(c, ast.ClassDef)
                and any(
                    isinstance(a, ast.Assign)
                    and [getattr(t, "id", None) for t in a.targets] == ["name"]
                    and isinstance(a.value, ast.Constant)
                    and isinstance(a.value.value, str)
                    for a in c.body
                )
            ]
            if not names:
                continue
            mod = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".").removesuffix(".__init__")
            m = importlib.import_module(mod)
            for n in names:
                cls = getattr(m, n)
                if isinstance(cls, type) and issubclass(cls, Step):
                    found[cls.name] = cls
    return found


def test_every_builtin_step_is_registered():
    in_source = _step_classes_in_source()
    assert len(in_source) >= 14  # 8 filters, 3 dedup, decontaminate, quality_classifier, select
    reg = registered_steps()
    for name, cls in in_source.items():
        assert reg.get(name) is cls, f"{cls.__module__}:{cls.__qualname__} is not registered (@register_step)"
    builtin = {k: v for k, v in reg.items() if v.__module__.startswith("winnow.")}
    assert set(builtin) <= set(in_source) | {"keep_all_doc_example"}


def test_thresholds_and_stats_derive_from_rules():
    for name, cls in registered_steps().items():
        if not issubclass(cls, MapStep) or not cls.__module__.startswith("winnow.curate.filters"):
            continue
        s = cls()
        stats = s.stat_columns()
        assert len(stats) == len(set(stats)), name
        assert set(s.thresholds()) <= set(stats), name
        for r in s.get_rules():
            assert r.bound in ("min", "max", "flag") and hasattr(s, r.field), (name, r)
            if r.bound != "flag" and s.bound_value(r) is not None:
                lo, hi = s.thresholds()[r.stat]
                assert (lo if r.bound == "min" else hi) == s.bound_value(r), (name, r)


@pytest.mark.parametrize(
    "name,args,msg",
    [
        ("length", {"min_words": 10, "max_words": 5}, "min_words=10 is above max_words=5"),
        ("gopher_quality", {"min_avg_word_length": 12}, "min_avg_word_length=12.0 is above max_avg_word_length=10 "),
    ],
)
def test_inverted_bounds_refused_at_construction(name, args, msg):
    from winnow.core.pipeline.config import ConfigError, parse_config

    with pytest.raises(ValueError, match=msg):
        get_step_class(name)(**args)
    with pytest.raises(ConfigError, match=rf"steps\[0\]\.{name}: .*{msg}"):
        parse_config({"input": "x", "output": "y", "steps": [{name: args}]})
    get_step_class(name)(**{k: None for k in args})  # a disabled bound is never inverted


def test_default_decide_matches_hand_written_rules():
    # the generic loop against the rules written out: first rule that fires wins, nulls keep
    from winnow.curate.filters.length import Length

    s = Length(min_words=2, max_chars=10, max_lines=1)
    t = s.annotate(pa.table({"text": ["one", "two words", "a much longer text", "a\nb c", None, ""]}))
    n_words, n_chars, n_lines = (
        np.array(t.column(c).to_pylist(), dtype=float) for c in ("n_words", "n_chars", "n_lines")
    )
    want = []
    for w, c, ln in zip(n_words, n_chars, n_lines):
        want.append(
            "length:max_chars" if c > 10 else "length:min_words" if w < 2 else "length:max_lines" if ln > 1 else None
        )
    assert s.decide(t).to_pylist() == want
    assert s.thresholds() == {"n_chars": (None, 10), "n_words": (2, None), "n_lines": (None, 1)}


NEW_FILTER = '''
"""A whole new filter in one file: statistics, declared rules, registration."""
import pyarrow as pa
import pyarrow.compute as pc

from winnow import MapStep, Rule, register_step
from winnow.core.records import set_columns


@register_step
class DigitShare(MapStep):
    """Drop documents with too many digits or too few letters."""

    name = "digit_share_tmp"
    rules = (Rule("digit_frac", "max_digit_frac", "max"),
             Rule("n_letters", "min_letters", "min", reason="too_few_letters"))
    max_digit_frac: float | None = 0.3
    min_letters: int | None = 3

    def annotate(self, table):
        text = pc.fill_null(table.column("text"), "")
        n = pc.cast(pc.utf8_length(text), pa.float64())
        digits = pc.cast(pc.count_substring_regex(text, r"\\d"), pa.float64())
        frac = pc.if_else(pc.equal(n, 0), 0.0, pc.divide(digits, pc.max_element_wise(n, 1.0)))
        return set_columns(table, {"digit_frac": frac,
                                   "n_letters": pc.count_substring_regex(text, r"\\pL")})
'''


@pytest.fixture
def new_filter_pkg(tmp_path):
    pkg = tmp_path / "myfilters_tmp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "digits.py").write_text(textwrap.dedent(NEW_FILTER))
    sys.path.insert(0, str(tmp_path))
    try:
        yield "myfilters_tmp.digits"
    finally:
        sys.path.remove(str(tmp_path))
        unregister_step("digit_share_tmp")
        for m in [m for m in sys.modules if m.startswith("myfilters_tmp")]:
            del sys.modules[m]


DOCS = [
    {"id": "a", "text": "plain words here"},
    {"id": "b", "text": "1234567 ab"},
    {"id": "c", "text": "no"},
    {"id": "d", "text": "call 555 now ok"},
]
WANT = {"a": None, "b": "digit_share_tmp:max_digit_frac", "c": "digit_share_tmp:too_few_letters", "d": None}


def _run_and_reasons(res) -> dict:
    kept = res.kept(["id"]).column("id").to_pylist()
    rej = {r["id"]: r["reason"] for r in res.rejects(["id", "reason"]).to_pylist()}
    assert res.manifest["checks"]["balanced"]
    return {**{k: None for k in kept}, **rej}


def test_new_filter_is_one_file(tmp_path, new_filter_pkg):
    from winnow import Pipeline
    from winnow.core.pipeline.config import load_config

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    mod = importlib.import_module(new_filter_pkg)
    step = mod.DigitShare()
    assert step.stat_columns() == ["digit_frac", "n_letters"]
    assert step.thresholds() == {"digit_frac": (None, 0.3), "n_letters": (3, None)}
    assert mod.DigitShare(min_letters=None).thresholds() == {"digit_frac": (None, 0.3)}
    # Python API, no registry involved
    assert _run_and_reasons(Pipeline([step]).run(str(src), str(tmp_path / "py"), workers=1)) == WANT
    # YAML by its registered name (the module was imported: a plugin), and by dotted path
    for i, (extra, spec) in enumerate(
        [
            ("", "digit_share_tmp"),
            ("", f"{new_filter_pkg}:DigitShare"),
            (f"plugins: [{new_filter_pkg}]\n", "digit_share_tmp"),
        ]
    ):
        yml = tmp_path / f"p{i}.yaml"
        yml.write_text(
            f"input: {src}\noutput: {tmp_path / f'y{i}'}\n{extra}steps:\n  - {spec}: {{max_digit_frac: 0.3}}\n"
        )
        cfg, steps = load_config(str(yml))
        assert type(steps[0]) is mod.DigitShare
        res = Pipeline(steps).run(str(src), str(tmp_path / f"y{i}"), workers=1)
        assert _run_and_reasons(res) == WANT
        assert res.manifest["steps"][0]["reasons"] == {
            "digit_share_tmp:max_digit_frac": 1,
            "digit_share_tmp:too_few_letters": 1,
        }
    # re-thresholding the annotated columns is calling decide again
    t = step.annotate(pa.table({"text": [d["text"] for d in DOCS]}))
    assert mod.DigitShare(max_digit_frac=0.9, min_letters=None).decide(t).to_pylist() == [None] * 4


def test_registration_errors():
    class Nameless(MapStep):
        pass

    with pytest.raises(StepRegistrationError, match="snake_case class attribute `name`"):
        register_step(Nameless)

    class Other(MapStep):
        name = "length"

    with pytest.raises(StepRegistrationError, match="already registered by winnow.curate.filters.length:Length"):
        register_step(Other)
    with pytest.raises(KeyError, match="Did you mean 'length'"):
        get_step_class("lenght")
    with pytest.raises(KeyError, match="cannot import"):
        get_step_class("no_such_pkg_tmp.mod:Step")
    with pytest.raises(KeyError, match="not a step class"):
        get_step_class("json:dumps")
    assert Rule("s", "f", "max").reason is None

    class Typo(MapStep):
        name = "typo_tmp"
        rules = (Rule("x", "max_y", "max"),)
        max_x: int = 1

    with pytest.raises(ValueError, match="field=.max_y."):
        Typo()


def test_installed_package_registers_by_entry_point(tmp_path, new_filter_pkg, monkeypatch):
    # an installed distribution declaring [winnow.steps] is imported on the first lookup
    from winnow.core.pipeline import registry

    dist = tmp_path / "myfilters_tmp-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myfilters-tmp\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[winnow.steps]\ndigits = {new_filter_pkg}\n")
    assert new_filter_pkg not in sys.modules
    monkeypatch.setattr(registry, "_loaded", False)
    cls = get_step_class("digit_share_tmp")
    assert cls.__module__ == new_filter_pkg and "digit_share_tmp" in registry.step_names()
    assert cls().decide(cls().annotate(pa.table({"text": ["1234567 ab"]}))).to_pylist() == [
        "digit_share_tmp:max_digit_frac"
    ]
