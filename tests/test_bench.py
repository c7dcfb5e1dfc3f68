"""Miniature versions of both bundled benchmark tasks, end to end (harness, outputs, CLI, reproducibility)."""

import csv
import json
import os

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from winnow.prove.bench import BenchConfigError, load_config, mean_ci, run_bench

NOISY = {
    "task": {
        "name": "noisy_labels",
        "dataset": "digits",
        "noise": 0.3,
        "pool_size": 300,
        "proxy_options": {"epochs": 30},
    },
    "strategies": [
        "random",
        {"el2n": {"n_models": 1}},
        {"forgetting": {"epochs": 15}},
        {"method": "prototype", "label": "proto-class", "params": {"use_labels": True}},
    ],
    "budgets": [0.25, 0.5],
    "seeds": [0, 1, 2],
}
LM = {
    "task": {"name": "lm", "per_source": 60, "target_fit": 30, "target_eval": 40, "vocab_size": 512, "proxy": "ngram"},
    "strategies": ["random", "dsir", "ce_diff"],
    "budgets": [0.25],
    "seeds": [0, 1, 2],
    "full_pool": False,
}


@pytest.fixture(scope="module")
def noisy_res(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_noisy")
    return run_bench(NOISY, output=str(out)), out


def test_noisy_labels_mini_removes_flipped_labels(noisy_res):
    res, out = noisy_res
    assert res["schema"] == "winnow.prove.bench/1" and res["task"]["metric"] == "accuracy"
    det = {d["strategy"]: d for d in res["detection"]}
    assert abs(det["random"]["auc_mean"] - 0.5) < 0.1
    for s in ("el2n", "forgetting", "proto-class"):
        assert det[s]["auc_mean"] >= 0.8, (s, det[s])
    summ = {(r["strategy"], r["budget"]): r for r in res["summary"]}
    for s in ("el2n", "forgetting"):
        r = summ[(s, 0.5)]
        assert r["flipped_selected"] < 0.1 < summ[("random", 0.5)]["flipped_selected"]
        assert r["gain"] > 0 and r["gain_ci_low"] > 0 and r["significant"]
    assert len(res["runs"]) == 4 * 2 * 3
    assert res["full_pool"] and len(res["full_pool"]["values"]) == 3


def test_outputs_json_csv_png(noisy_res):
    res, out = noisy_res
    for f in ("bench.json", "bench.csv", "bench.png"):
        assert os.path.getsize(out / f) > 100
    with open(out / "bench.json") as fh:
        j = json.load(fh)
    assert j["summary"] == json.loads(json.dumps(res["summary"]))
    with open(out / "bench.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(r["kind"] == "run" for r in rows) == len(res["runs"])
    assert sum(r["kind"] == "summary" for r in rows) == len(res["summary"])
    with open(out / "bench.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert all(r["fit_peak_mib"] >= 0 for r in res["runs"] + res["summary"])


def test_peak_rss_sees_an_allocation_inside_the_block():
    import numpy as np

    from winnow.core.memory import PeakRSS

    with PeakRSS() as mem:
        a = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        mem.sample()  # while it is alive (the 5 ms sampler may miss a short peak on a busy machine)
        del a
    assert 48 <= mem.mib < 1024


def test_same_config_and_seeds_give_the_same_table(noisy_res):
    res, _ = noisy_res
    again = run_bench(NOISY)
    assert [r["metric"] for r in again["runs"]] == [r["metric"] for r in res["runs"]]
    assert [(r["mean"], r["ci_low"], r["gain"]) for r in again["summary"]] == [
        (r["mean"], r["ci_low"], r["gain"]) for r in res["summary"]
    ]


def test_lm_mini_targeted_selection_beats_random():
    res = run_bench(LM)
    assert res["task"]["metric"] == "perplexity" and not res["task"]["higher_is_better"]
    summ = {r["strategy"]: r for r in res["summary"]}
    for s in ("dsir", "ce_diff"):
        assert summ[s]["mean"] < summ["random"]["mean"]
        assert summ[s]["gain"] > 0  # gain is oriented: lower perplexity = positive
        assert summ[s]["target_domain_selected"] > 2 * summ["random"]["target_domain_selected"]


def test_mean_ci_and_config_errors():
    m, sd, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and abs(hi - 2 - 4.302653 * 1 / np.sqrt(3)) < 1e-5 and abs((m - lo) - (hi - m)) < 1e-12
    cfg = load_config({"task": {"name": "noisy_labels"}, "strategies": ["el2n"]})
    assert [s["label"] for s in cfg["strategies"]] == ["random", "el2n"]  # random baseline added
    with pytest.raises(BenchConfigError, match="unknown config key"):
        load_config({"task": {"name": "lm"}, "budget": [0.1]})
    with pytest.raises(BenchConfigError, match=r"strategies\[1\].*unknown method"):
        load_config({"task": {"name": "lm"}, "strategies": ["random", "dsri"]})
    with pytest.raises(BenchConfigError, match="budgets"):
        load_config({"task": {"name": "lm"}, "budgets": [2.5]})
    with pytest.raises(ValueError, match="unknown option"):
        run_bench({"task": {"name": "noisy_labels", "nosie": 0.2}, "strategies": ["random"]})


def test_cli_bench_prints_table(tmp_path):
    from winnow.cli import app

    cfg = dict(
        NOISY, strategies=["random", {"forgetting": {"epochs": 10}}], budgets=[0.5], seeds=[0, 1, 2], full_pool=False
    )
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["bench", str(p), "-o", str(tmp_path / "out"), "-q"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "forgetting" in r.output and "beats random" in r.output and "detection AUC" in r.output
    assert (tmp_path / "out" / "bench.json").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {name: nope}\n")
    r = CliRunner().invoke(app, ["bench", str(bad)])
    assert r.exit_code == 2


def test_lm_task_pool_from_a_curated_run(sample_corpus, tmp_path):
    """curate → select → prove: the LM task's pool is the kept rows of a winnow run."""
    from winnow import Length, Pipeline
    from winnow.prove.bench.tasks import LMTask

    run = Pipeline([Length(min_words=20)]).run(f"{sample_corpus}/raw/part-*.jsonl.gz", str(tmp_path / "run"), workers=1)
    kept = run.kept(["id", "source"])
    kept_ids = set(kept.column("id").to_pylist())
    task = LMTask(
        sources=["python_docs", "package_readme"],
        target_source="python_docs",
        per_source=40,
        target_fit=5,
        target_eval=8,
        proxy="ngram",
        tokenizer="bytes",
        pool_run=run.path,
    )
    parents = {i.rsplit("#", 1)[0] for i in task.pool.ids}
    assert parents <= kept_ids  # every pool chunk comes from a kept document
    assert set(task.pool.columns["source"]) == {"python_docs", "package_readme"}
    ppl = task.evaluate(np.ones(len(task.pool), bool), seed=0)
    assert np.isfinite(ppl) and ppl > 1
    with pytest.raises(ValueError, match="no kept rows"):
        LMTask(sources=["python_docs", "nope"], target_source="python_docs", pool_run=run.path)
