"""Python-first details (issue 22): budgets larger than the pool warn, readable model reprs,
`winnow steps` shows every argument in full."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from winnow.cli import app


def _pool(n: int) -> pa.Table:
    return pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"word{i} " * (i + 1) for i in range(n)]})


def test_budget_larger_than_pool_warns():
    from winnow.select import get_selector
    from winnow.select.base import BudgetWarning

    sel = get_selector("random", seed=0)
    sel.fit(_pool(7), None)
    with pytest.warns(BudgetWarning, match="exceeds the pool's 7 rows"):
        assert sel.select_mask(500).sum() == 7
    with pytest.warns(BudgetWarning, match="tokens"):
        assert sel.select_mask("1M tokens").sum() == 7
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sel.select_mask(3).sum() == 3 and sel.select_mask(0.5).sum() == 4


def test_quality_model_repr_is_one_short_line():
    from winnow.curate.quality.model import HashingFeaturizer, QualityModel

    m = QualityModel(
        HashingFeaturizer(n_bits=12),
        np.arange(4096, dtype=float),
        0.5,
        calibration={"probs": list(np.linspace(0, 1, 1001)), "quantiles": list(np.linspace(0, 1, 1001))},
    )
    r = repr(m)
    assert "\n" not in r and len(r) < 300 and "1001 quantiles" in r and "4095/4096" in r


def test_steps_lists_every_argument_in_full():
    from winnow.core.pipeline.registry import get_step_class, step_names

    res = CliRunner().invoke(app, ["steps"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    for n in step_names():
        assert n in res.output
        for k in get_step_class(n).model_fields:
            assert f"{k}=" in res.output or f"{k} (required)" in res.output, (n, k)
    one = CliRunner().invoke(app, ["steps", "c4"])
    assert one.exit_code == 0 and "filter_no_terminal_punct=True" in one.output
    bad = CliRunner().invoke(app, ["steps", "nope"])
    assert bad.exit_code == 2 and "unknown step 'nope'" in bad.output


SCRIPT = """
import pyarrow.compute as pc
from winnow import Pipeline, Length
from winnow.core.pipeline.step import MapStep, reasons_from_masks


class NoDigits(MapStep):          # a custom step defined in the script itself (module __main__)
    name = "no_digits"

    def annotate(self, t):
        return t.append_column("has_digit", pc.match_substring_regex(t["text"], r"[0-9]"))

    def decide(self, t):
        return reasons_from_masks(t.num_rows, [(t["has_digit"], "no_digits:has_digit")])


result = Pipeline([Length(min_words=2), NoDigits()]).run(INPUT, OUTPUT, workers=2)
t = result.manifest["totals"]
print("ROWS", t["rows_in"], t["rows_kept"], t["rows_rejected"])
"""


@pytest.mark.parametrize("how", ["file", "stdin", "dash-c"])
def test_script_without_main_guard_runs_with_two_workers(how, tmp_path):
    """Issue 22: the README snippet saved as a script broke the spawn pool (workers re-ran it), and
    from stdin it failed on '<stdin>'; a custom step defined in the script must reach the workers."""
    import json
    import os
    import subprocess
    import sys

    inp = tmp_path / "in"
    inp.mkdir()
    for k in range(3):  # three files: three tasks, so the pool really starts
        rows = [
            {"id": f"{k}-{i}", "text": f"doc {k} line {i}" if i % 3 else "no digits here at all"} for i in range(10)
        ]
        (inp / f"p{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = SCRIPT.replace("INPUT", repr(str(inp))).replace("OUTPUT", repr(str(tmp_path / "out")))
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if how == "file":
        (tmp_path / "s.py").write_text(code)
        cmd, stdin = [sys.executable, str(tmp_path / "s.py")], None
    elif how == "stdin":
        cmd, stdin = [sys.executable, "-"], code
    else:
        cmd, stdin = [sys.executable, "-c", code], None
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    # 30 rows; the 12 "no digits here at all" rows are kept, the 18 "doc k line i" rows have digits
    assert "ROWS 30 12 18" in p.stdout, p.stdout + p.stderr[-2000:]


def test_run_errors_speak_python_and_cli(tmp_path):
    import json

    from winnow import Length, Pipeline
    from winnow.errors import RunExistsError

    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "1", "text": "one two three"}) + "\n")
    Pipeline([Length(min_words=1)]).run(str(tmp_path / "a.jsonl"), str(tmp_path / "out"))
    with pytest.raises(RunExistsError, match=r"resume=True \(--resume\).*overwrite=True \(--overwrite\)"):
        Pipeline([Length(min_words=1)]).run(str(tmp_path / "a.jsonl"), str(tmp_path / "out"))


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_advances_within_files(workers, tmp_path, monkeypatch):
    """Issue 22: the bar moved only when a whole file finished. Now every batch reports the raw
    bytes read so far; the total still ends exactly at the input's size."""
    import json

    from winnow import Length, Pipeline
    from winnow.core.executors import base

    calls = []
    orig = base._Progress.advance

    def spy(self, amount, rows):
        calls.append((amount, rows))
        return orig(self, amount, rows)

    monkeypatch.setattr(base._Progress, "advance", spy)
    sizes = 0
    for k in range(2):
        rows = [{"id": f"{k}-{i}", "text": f"document {i} " + "word " * (i % 50)} for i in range(6000)]
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        (tmp_path / f"p{k}.jsonl").write_bytes(data)
        sizes += len(data)
    # in this process, 64 KB blocks make several reads per file (workers read 16 MB blocks)
    monkeypatch.setattr("winnow.core.io.readers.JSONL_BLOCK_BYTES", 64 << 10)
    spec = {"path": str(tmp_path / "p*.jsonl"), "batch_rows": 1000}
    res = Pipeline([Length(min_words=3)]).run(spec, str(tmp_path / "out"), workers=workers, progress=True)
    assert res.manifest["totals"]["rows_in"] == 12000
    assert len(calls) >= 12, calls  # one update per batch, not per file
    assert sum(a for a, _ in calls) == sizes and sum(r for _, r in calls) == 12000
    if workers == 1:
        assert sum(1 for a, _ in calls if a > 0) > 4, calls  # bytes advance within each file
