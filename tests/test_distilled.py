"""The influence-distilled selector (issue 17): attribute a sample -> distil -> score the pool,
as CLI commands and as one selector; the DCLM-style classifier; scoring cost in bench reports."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from winnow.cli import app
from winnow.select import get_selector

CODE = [
    "def add(a, b):\n    return a + b\n",
    "import os\nfor name in os.listdir('.'):\n    print(name)\n",
    "class Point:\n    def __init__(self, x):\n        self.x = x\n",
    "with open(path) as fh:\n    data = fh.read()\n",
    "if value is None:\n    raise ValueError('missing value')\n",
    "result = [x * 2 for x in range(10) if x % 2]\n",
]
PROSE = [
    "Whisk the eggs with sugar until pale, then fold in the flour gently.",
    "The train to the coast leaves at nine; bring a coat, it rains often.",
    "Our garden grows tomatoes, beans and a few stubborn sunflowers.",
    "She painted the fence blue and the neighbours came out to watch.",
    "Slice the onions thinly and fry them slowly in butter until golden.",
    "The museum opens late on Fridays and the entrance is free for students.",
]


def _docs(n: int, seed: int):
    """n documents, half code-like (the target domain), half prose; ids d000...; kind per id."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        code = i % 2 == 0
        base = CODE if code else PROSE
        text = " ".join(base[j] for j in rng.choice(len(base), 3, replace=False))
        rows.append({"id": f"d{i:03d}", "text": text, "code": code})
    return rows


def _write(path, rows):
    with open(path, "w") as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("distil")
    pool = _docs(120, 0)
    sample = [pool[i] for i in np.random.default_rng(1).choice(len(pool), 12, replace=False)]  # pool = 10x sample
    target = [r for r in _docs(8, 2) if r["code"]]
    _write(d / "pool.jsonl", pool)
    _write(d / "sample.jsonl", sample)
    _write(d / "target.jsonl", target)
    return d, {r["id"]: r["code"] for r in pool}


def test_cli_chain_attribute_distil_select(data):
    """winnow attribute (sample vs target) -> winnow quality train --scores -> winnow select over
    the 10x larger pool: the distilled scorer keeps target-like (code) documents."""
    d, is_code = data
    r = CliRunner()
    res = r.invoke(
        app,
        ["attribute", "--pool", str(d / "sample.jsonl"), "--target", str(d / "target.jsonl"), "--tokens", "8192"]
        + ["-o", str(d / "scores.parquet")],
    )
    assert res.exit_code == 0, res.output
    s = pq.read_table(d / "scores.parquet").to_pydict()
    assert len(s["id"]) == 12
    teacher = {i: v for i, v in zip(s["id"], s["score"])}
    # the teacher ranks the target-domain documents of the sample above the rest
    code_mean = np.mean([v for i, v in teacher.items() if is_code[i]])
    prose_mean = np.mean([v for i, v in teacher.items() if not is_code[i]])
    assert code_mean > prose_mean
    res = r.invoke(
        app,
        ["quality", "train", "--scores", str(d / "scores.parquet"), "--texts", str(d / "sample.jsonl")]
        + ["-o", str(d / "model"), "--test-frac", "0"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{") :])["n_joined"] == 12
    res = r.invoke(
        app,
        ["select", "--pool", str(d / "pool.jsonl"), "--method", "quality_classifier"]
        + ["--param", f"model={d / 'model'}", "--budget", "25%", "-o", str(d / "sel")],
    )
    assert res.exit_code == 0, res.output
    sel = pq.read_table(d / "sel" / "scores.parquet").to_pydict()
    kept = [i for i, k in zip(sel["id"], sel["selected"]) if k]
    assert len(sel["id"]) == 120 and len(kept) == 30
    assert np.mean([is_code[i] for i in kept]) >= 0.8  # random would keep ~50%


def test_distilled_selector_in_one_step(data):
    d, is_code = data
    pool = [json.loads(x) for x in open(d / "pool.jsonl")]
    target = [json.loads(x)["text"] for x in open(d / "target.jsonl")]
    sel = get_selector("distilled", sample=0.1, proxy_options={"tokens": 8192}, vocab_size=300, proj_dim=256)
    sel.fit({"id": [r["id"] for r in pool], "text": [r["text"] for r in pool]}, target)
    assert len(sel.sample_) == 12 and len(sel.teacher_) == 12  # only 10% of the pool was attributed
    assert sel.scores_.shape == (120,) and np.isfinite(sel.scores_).all()
    kept = sel.select(0.25)
    assert np.mean([is_code[i] for i in kept]) >= 0.8
    c = sel.cost_
    assert c["n_docs"] == 120 and c["fixed_cpu_s"] > 0 and c["per_doc_cpu_s"] >= 0


def test_quality_classifier_dclm_style_and_errors(data):
    d, is_code = data
    pool = [json.loads(x) for x in open(d / "pool.jsonl")]
    target = [json.loads(x)["text"] for x in open(d / "target.jsonl")]
    p = {"id": [r["id"] for r in pool], "text": [r["text"] for r in pool]}
    sel = get_selector("quality_classifier", n_negatives=60).fit(p, target)
    assert np.mean([is_code[i] for i in sel.select(0.25)]) >= 0.8
    from winnow.errors import SelectorError

    with pytest.raises(SelectorError, match="target"):
        get_selector("quality_classifier").fit(p)
    with pytest.raises(SelectorError, match="sample"):
        get_selector("distilled", sample=2).fit(p, target)


def test_bench_reports_scoring_cost_next_to_gain():
    from winnow.prove.bench.harness import format_cost_table, markdown_table, run_bench

    res = run_bench(
        {
            "task": {"name": "noisy_labels", "pool_size": 300},
            "strategies": ["random", "forgetting"],
            "budgets": [0.5],
            "seeds": [0, 1, 2],
        }
    )
    assert [c["strategy"] for c in res["costs"]] == ["random", "forgetting"]
    for c in res["costs"]:
        assert c["score_cpu_s_per_1k_docs"] >= 0 and c["fixed_cpu_seconds"] == 0  # no cost_: all is scoring
    assert all("score_cpu_s_per_1k_docs" in r for r in res["runs"])
    head, rows = format_cost_table(res)
    assert head[2] == "scoring CPU-s / 1k docs" and rows[0][3] == "—" and rows[1][3].startswith(("+", "-"))
    assert "scoring CPU-s / 1k docs" in markdown_table(res)


def test_bench_distilled_config_validates():
    from winnow.prove.bench.harness import load_config

    cfg = load_config("benchmarks/select/bench_distilled.yaml")
    labels = [s["label"] for s in cfg["strategies"]]
    assert labels == ["random", "attribution", "distilled", "dclm", "dsir"] and len(cfg["seeds"]) == 5


def test_distilled_and_quality_classifier_with_their_defaults(data):
    """What a user gets with no arguments: both selectors prefer the target domain (code)."""
    d, is_code = data
    pool = [json.loads(x) for x in open(d / "pool.jsonl")]
    target = [json.loads(x)["text"] for x in open(d / "target.jsonl")]
    p = {"id": [r["id"] for r in pool], "text": [r["text"] for r in pool]}
    for name in ("quality_classifier", "distilled"):
        sel = get_selector(name).fit(p, target)
        assert np.isfinite(sel.scores_).all(), name
        assert np.mean([is_code[i] for i in sel.select(0.25)]) >= 0.7, name  # random keeps ~50%
