"""Every CLI verb turns bad input into one line ``error: ...`` and exit code 2, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from winnow.cli import PLUGINS, app
from winnow.errors import (
    AttributionError,
    BenchConfigError,
    BudgetError,
    ConfigError,
    IncompleteRunError,
    InputError,
    ModelFileError,
    RunExistsError,
    SelectorError,
    StrictInputError,
    UnknownStepError,
    WinnowError,
)

# verb (and sub-verb) -> arguments that are wrong in a way a user could make
BAD = {
    "run": ["nope.yaml"],
    "run-strict": ["run", "p.yaml", "--strict", "--workers", "1", "--no-progress"],
    "run-config": ["run", "bad.yaml"],
    "stats": ["stats", "not_a_run"],
    "datasets build": ["datasets", "build", "nope", "--out", "ds"],
    "dedup": ["dedup", "missing/*.jsonl", "out", "--method", "exact"],
    "decontam": ["decontam", "raw/", "-o", "out", "-e", "missing.jsonl"],
    "quality train": ["quality", "train", "-o", "m", "--positives", "missing/", "--negatives", "missing/"],
    "quality score": ["quality", "score", "raw/", "--model", "no_model", "-o", "out"],
    "select": ["select", "--pool", "raw/", "--method", "random", "--budget", "lots", "-o", "sel"],
    "select-param": [
        "select",
        "--pool",
        "raw/",
        "--method",
        "dsir",
        "--budget",
        "1",
        "-o",
        "sel",
        "--param",
        "resample=often",
    ],
    "attribute": ["attribute", "no-such-proxy"],
    "export": ["export", "not_a_run", "tokens_out"],
    "mix": ["mix", "missing.yaml"],
    "bench": ["bench", "missing.yaml"],
    "report": ["report", "not_a_run"],
    "scaling fit": ["scaling", "fit", "missing.csv"],
    "scaling allocate": ["scaling", "allocate", "1e20", "--params", "1,2"],
    "scaling transfer": ["scaling", "transfer", "missing.csv"],
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text('{"id": "1", "text": "one two three four five"}\n{not json\n')
    (tmp_path / "p.yaml").write_text("input: {path: raw/}\noutput: out_strict\nsteps:\n  - length: {min_words: 1}\n")
    (tmp_path / "bad.yaml").write_text("input: {path: raw/}\noutput: out_bad\nsteps:\n  - lenght: {}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("verb", sorted(BAD))
def test_bad_input_is_one_line_exit_2(workdir, verb):
    args = BAD[verb] if verb != "run" else ["run", *BAD[verb]]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, (verb, r.exit_code, r.output, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception  # handled, not an escaped exception
    err = r.stderr.strip()
    assert "Traceback" not in r.output + r.stderr
    assert err.startswith("error: ") and "\n" not in err, err


def test_every_plugin_verb_is_exercised():
    verbs = {k.split()[0].split("-")[0] for k in BAD}
    assert set(PLUGINS) | {"run", "stats", "datasets"} <= verbs


def test_errors_share_one_base_and_keep_their_builtin_bases():
    expect = {
        ConfigError: ValueError,
        UnknownStepError: KeyError,
        InputError: ValueError,
        StrictInputError: RuntimeError,
        RunExistsError: FileExistsError,
        IncompleteRunError: RuntimeError,
        ModelFileError: ValueError,
        BudgetError: ValueError,
        SelectorError: ValueError,
        AttributionError: ValueError,
        BenchConfigError: ValueError,
    }
    for cls, base in expect.items():
        assert issubclass(cls, WinnowError) and issubclass(cls, base), cls
    assert str(UnknownStepError("unknown step 'x'")) == "unknown step 'x'"  # not KeyError's quoted repr


def test_old_import_locations_are_the_same_classes():
    from winnow.core.io.readers import InputError as a
    from winnow.core.pipeline.config import ConfigError as b
    from winnow.core.pipeline.pipeline import IncompleteRunError as c
    from winnow.core.pipeline.pipeline import RunExistsError as d
    from winnow.core.pipeline.registry import UnknownStepError as e
    from winnow.core.pipeline.runner import StrictInputError as f
    from winnow.curate.quality.model import ModelFileError as g
    from winnow.prove.bench.harness import BenchConfigError as h
    from winnow.select.attribution import AttributionError as i
    from winnow.select.base import BudgetError as j

    assert (a, b, c, d, e, f, g, h, i, j) == (
        InputError,
        ConfigError,
        IncompleteRunError,
        RunExistsError,
        UnknownStepError,
        StrictInputError,
        ModelFileError,
        BenchConfigError,
        AttributionError,
        BudgetError,
    )


def test_input_settings_are_one_pydantic_model():
    from pydantic import ValidationError

    from winnow.core.io.readers import InputSpec
    from winnow.core.pipeline.config import InputConfig, parse_config

    assert InputConfig is InputSpec
    with pytest.raises(ValidationError, match="batch_rows"):
        InputSpec(path="raw/", batch_rows=0)
    with pytest.raises(ConfigError, match="input.fromat: unknown key.*did you mean 'format'"):
        parse_config({"input": {"path": "raw/", "fromat": "jsonl"}, "output": "out", "steps": []})
