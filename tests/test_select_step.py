"""The `select` pipeline step and the `winnow select` CLI on real text (Python docs + stdlib code)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from winnow.core.io.writers import read_dataset_table
from winnow.core.pipeline.pipeline import Pipeline
from winnow.prove.bench.tasks import LMTask
from winnow.select import get_selector


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    t = LMTask(per_source=40, target_fit=20, target_eval=10, vocab_size=300, proxy="ngram", seed=1)
    d = tmp_path_factory.mktemp("corpus")
    for k, sl in enumerate((slice(0, None, 2), slice(1, None, 2))):  # two shards
        with open(d / f"pool-{k}.jsonl", "w") as fh:
            for i, txt, src in zip(t.pool.ids[sl], t.pool.texts[sl], t.pool.columns["source"][sl]):
                fh.write(json.dumps({"id": str(i), "text": txt, "source": str(src)}) + "\n")
    with open(d / "target.jsonl", "w") as fh:
        for i, txt in zip(t.target.ids, t.target.texts):
            fh.write(json.dumps({"id": str(i), "text": txt}) + "\n")
    return t, d


def test_select_step_random_matches_library_and_accounts(corpus, tmp_path):
    t, d = corpus
    res = Pipeline([{"select": {"method": "random", "budget": 0.3, "seed": 5}}]).run(
        str(d / "pool-*.jsonl"), str(tmp_path / "run"), workers=1
    )
    m = res.manifest
    assert m["checks"]["ok"]
    kept = read_dataset_table(str(tmp_path / "run" / "data"), columns=["id", "select_score"])
    lib = get_selector("random", seed=5).fit_select(t.pool, 0.3)
    assert sorted(kept.column("id").to_pylist()) == sorted(lib.tolist())
    rej = read_dataset_table(str(tmp_path / "run" / "rejects"), columns=["id", "reason"])
    assert set(rej.column("reason").to_pylist()) == {"select:random"}
    assert kept.num_rows + rej.num_rows == len(t.pool)


def test_select_step_dsir_with_target(corpus, tmp_path):
    t, d = corpus
    res = Pipeline(
        [
            {
                "select": {
                    "method": "dsir",
                    "budget": "20%",
                    "target": str(d / "target.jsonl"),
                    "params": {"resample": "topk"},
                }
            }
        ]
    ).run(str(d / "pool-*.jsonl"), str(tmp_path / "run"), workers=1)
    assert res.manifest["checks"]["ok"]
    kept = read_dataset_table(str(tmp_path / "run" / "data"), columns=["id", "source"])
    assert kept.num_rows == round(0.2 * len(t.pool))
    frac = np.mean(np.asarray(kept.column("source").to_pylist()) == "pydoc")
    assert frac > 0.6 and frac > 2 * t.is_target_domain.mean()
    lib = get_selector("dsir", resample="topk").fit_select(t.pool, "20%", target=t.target)
    assert sorted(kept.column("id").to_pylist()) == sorted(lib.tolist())


def test_select_step_validates():
    from winnow.core.pipeline.config import ConfigError

    with pytest.raises(ConfigError, match=r"steps\[0\]\.select\.method.*unknown method 'nope'"):
        Pipeline([{"select": {"method": "nope"}}])
    with pytest.raises(ConfigError, match="cannot parse budget"):
        Pipeline([{"select": {"method": "random", "budget": "lots"}}])
    with pytest.raises(ConfigError, match="bukets"):
        Pipeline([{"select": {"method": "dsir", "params": {"bukets": 3}}}])


def test_cli_select(corpus, tmp_path):
    from winnow.cli import app

    t, d = corpus
    out = tmp_path / "sel"
    r = CliRunner().invoke(
        app,
        [
            "select",
            "--pool",
            str(d / "pool-*.jsonl"),
            "--target",
            str(d / "target.jsonl"),
            "--method",
            "ce_diff",
            "--budget",
            "5k tokens",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    info = json.loads((out / "selection.json").read_text())
    assert 0 < info["tokens_selected"] <= 5000 and info["rows_in"] == len(t.pool)
    sel = pq.read_table(out / "data" / "selected-0000.parquet")
    assert sel.num_rows == info["rows_selected"]
    scores = pq.read_table(out / "scores.parquet")
    assert scores.num_rows == len(t.pool) and sum(scores.column("selected").to_pylist()) == sel.num_rows
    r = CliRunner().invoke(
        app,
        ["select", "--pool", str(d / "pool-*.jsonl"), "--method", "dsir", "--budget", "10%", "-o", str(tmp_path / "x")],
    )
    assert r.exit_code == 2 and "needs a target" in r.output
    r = CliRunner().invoke(
        app,
        [
            "select",
            "--pool",
            str(d / "pool-*.jsonl"),
            "--method",
            "random",
            "--budget",
            "lots",
            "-o",
            str(tmp_path / "y"),
        ],
    )
    assert r.exit_code == 2 and "cannot parse budget" in r.output
