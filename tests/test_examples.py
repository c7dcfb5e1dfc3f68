"""Every example YAML works from a clean clone (issue 22): the pipelines run on the sample corpus
(and on other data through --input / -o), the bench configs validate."""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from typer.testing import CliRunner

from winnow.cli import app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")))
PIPELINES = [p for p in EXAMPLES if "steps" in (yaml.safe_load(open(p)) or {})]
BENCHES = [p for p in EXAMPLES if "task" in (yaml.safe_load(open(p)) or {})]


def test_examples_are_pipelines_or_benches():
    assert PIPELINES and BENCHES and sorted(PIPELINES + BENCHES) == EXAMPLES


@pytest.mark.parametrize("path", PIPELINES, ids=os.path.basename)
def test_example_pipeline_runs_on_other_data_with_input_override(path, sample_corpus, tmp_path):
    cfg = yaml.safe_load(open(path))
    # the YAML names data the demo builds (data/sample/...), never a file that does not exist there
    paths = cfg["input"]["path"]
    for p in [paths] if isinstance(paths, str) else paths:
        assert p.startswith("data/sample/"), p
    out = str(tmp_path / "out")
    mine = [f"{sample_corpus}/raw/part-0000.jsonl.gz", f"{sample_corpus}/raw/messy.jsonl"]  # two of its files
    res = CliRunner().invoke(
        app, ["run", path, "--input", mine[0], "--input", mine[1], "-o", out, "-w", "1", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    from winnow.core.pipeline.manifest import load_manifest

    m = load_manifest(out)
    assert m["checks"]["ok"] and m["totals"]["rows_in"] > 0
    assert m["config"]["input"]["path"] == mine


@pytest.mark.parametrize("path", BENCHES, ids=os.path.basename)
def test_example_bench_config_validates(path):
    from winnow.prove.bench.harness import load_config

    cfg = load_config(path)
    assert cfg["strategies"] and cfg["budgets"] and cfg["seeds"]
