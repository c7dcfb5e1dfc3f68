"""`winnow bench` / `winnow attribute` on a user's own files: the README section, run verbatim.

The three files are built here from text the project uses nowhere else (numpy docstrings for the
pool; scikit-learn's dataset descriptions, split by file, for the pool, the target and the eval set).
"""

import glob
import json
import os
import re
import shlex

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from winnow.cli import app

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def _readme_section():
    text = open(README, encoding="utf-8").read()
    sec = text.split("### Prove it on your data", 1)[1].split("\n### ", 1)[0]
    yaml_block = re.search(r"```yaml\n(.*?)```", sec, re.S).group(1)
    bash_block = re.search(r"```bash\n(.*?)```", sec, re.S).group(1)
    cmds = [line.split(" #")[0].strip() for line in bash_block.splitlines() if line.strip()]
    return yaml_block, cmds


def _paragraphs(text, size=600):
    out, cur = [], ""
    for p in re.split(r"\n\s*\n", text):
        cur += p + "\n\n"
        if len(cur) >= size:
            out.append(cur)
            cur = ""
    return out


def _user_files(root):
    import sklearn

    descr = sorted(glob.glob(os.path.join(os.path.dirname(sklearn.__file__), "datasets", "descr", "*.rst")))
    chunks = [[c for c in _paragraphs(open(f, encoding="utf-8").read())] for f in descr]
    target = [c for ch in chunks[:3] for c in ch]
    evals = [c for ch in chunks[3:6] for c in ch]
    pool_descr = [c for ch in chunks[6:] for c in ch]
    docs = [
        getattr(np, k).__doc__
        for k in sorted(dir(np))
        if callable(getattr(np, k, None)) and (getattr(np, k).__doc__ or "").strip()
    ]
    pool_np = [c for d in docs[:60] for c in _paragraphs(d)][:150]
    os.makedirs(os.path.join(root, "mydata"))

    def write(name, texts):
        with open(os.path.join(root, "mydata", name), "w") as fh:
            fh.writelines(json.dumps({"id": f"{name}/{i}", "text": t}) + "\n" for i, t in enumerate(texts))

    write("pool.jsonl", pool_np + pool_descr)
    write("target.jsonl", target)
    write("eval.jsonl", evals)
    return len(pool_np), len(pool_descr)


def test_readme_flow_on_my_own_files(tmp_path, monkeypatch):
    yaml_block, cmds = _readme_section()
    n_np, n_descr = _user_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.yaml").write_text(yaml_block)
    runner = CliRunner()
    outs = []
    for cmd in cmds:
        args = shlex.split(cmd)
        assert args[0] == "winnow"
        r = runner.invoke(app, args[1:])
        assert r.exit_code == 0, (cmd, r.output)
        outs.append(r.output)
    res = json.load(open("runs/mybench/bench.json"))
    assert res["evals"] == ["docs"] and res["primary_eval"] == "docs"
    info = res["task"]["info"]
    assert info["pool_docs"] == n_np + n_descr and info["eval"]["docs"]["docs"] > 5
    rec = res["proxies"][0]
    assert rec["tokens"] == 20480 and rec["layers"] == 2 and rec["params"] > 0
    for r in res["runs"]:
        assert r["metric"] == r["metrics"]["docs"] > 1 and r["train_tokens"] == rec["tokens"]
        assert r["epochs"] == pytest.approx(rec["tokens"] / r["n_tokens"], rel=1e-3)
    by = {(r["strategy"], r["budget"]): r for r in res["summary"]}
    assert by[("random", 0.25)]["n_selected"] == round(0.25 * info["pool_docs"])
    m = by[("dsir", 0.25)]["metrics"]["docs"]
    assert m["ci_low"] <= m["mean"] <= m["ci_high"] and m["gain_ci_low"] <= m["gain"] <= m["gain_ci_high"]
    # targeted selection takes the pool's dataset descriptions first, the target domain
    assert by[("dsir", 0.25)]["n_selected"] == by[("random", 0.25)]["n_selected"]
    html = open("runs/mybench/report.html", encoding="utf-8").read()
    assert "Proxy recipes" in html and "Leak check" in html and 'data-task="docs"' in html
    # one proxy: recipes = strategies, scale = budget (two recipes: too few for a rank correlation)
    assert all(x in outs[2] for x in ("random", "dsir", "0.25", "0.5", "(1)", "(2)"))
    scores = pq.read_table("runs/scores.parquet").to_pydict()
    pool_ids = [json.loads(x)["id"] for x in open("mydata/pool.jsonl")]
    assert scores["id"] == pool_ids and np.isfinite(scores["score"]).all()
    sel = json.load(open("runs/sel/selection.json"))
    assert sel["rows_selected"] == round(0.25 * len(pool_ids))
    kept = pq.read_table("runs/sel/data").column("id").to_pylist()
    top = np.argsort(-np.asarray(scores["score"]), kind="stable")[: len(kept)]
    assert sorted(kept) == sorted(pool_ids[i] for i in top)


def _fake_bench(proxies=("cpu-tiny", "cpu-tiny-x4"), seeds=(0, 1, 2)):
    """A bench.json-shaped result with known numbers: strategy s at budget b has perplexity
    base[s] - 10 * b (+ a seed wobble); the larger proxy is 5 lower everywhere (same ranking)."""
    base = {"random": 100.0, "dsir": 90.0, "ce_diff": 80.0}
    runs = []
    for s, v in base.items():
        for b in (0.1, 0.25):
            for seed in seeds:
                for k, p in enumerate(proxies):
                    m = v - 10 * b - 5 * k + 0.1 * seed
                    runs.append(
                        {
                            "strategy": s,
                            "budget": b,
                            "seed": seed,
                            "metric": m,
                            "metrics": {"e": m},
                            "proxy": p,
                            "params": 1000 * 4**k,
                            "n_tokens": 123 + seed,
                        }
                    )
    return {"schema": "winnow.prove.bench/1", "task": {"metric": "perplexity"}, "runs": runs}


def test_scaling_transfer_reads_bench_json_without_flags(tmp_path):
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(_fake_bench()))
    r = CliRunner().invoke(app, ["scaling", "transfer", str(p), "-o", str(tmp_path / "t.json")])
    assert r.exit_code == 0, r.output
    rep = json.load(open(tmp_path / "t.json"))
    assert len(rep["recipes"]) == 6 and len(rep["scales"]) == 2  # strategy@budget cells x 2 proxy sizes
    assert rep["vs_largest"][0]["spearman"] == pytest.approx(1.0)
    # one proxy: recipes are strategies and the budget is the scale (not the selected tokens)
    p1 = tmp_path / "one.json"
    p1.write_text(json.dumps(_fake_bench(proxies=("cpu-tiny",))))
    r = CliRunner().invoke(app, ["scaling", "transfer", str(p1), "-o", str(tmp_path / "t1.json")])
    assert r.exit_code == 0, r.output
    rep = json.load(open(tmp_path / "t1.json"))
    assert sorted(rep["recipes"]) == ["ce_diff", "dsir", "random"] and rep["scales"] == [0.1, 0.25]
    assert rep["vs_largest"][0]["spearman"] == pytest.approx(1.0)


def test_rank_transfer_and_warnings():
    from winnow.prove.bench.harness import bench_warnings, rank_transfer

    fake = _fake_bench()
    cfg = {
        "strategies": [{"label": s} for s in ("random", "dsir", "ce_diff")],
        "budgets": [0.1, 0.25],
        "seeds": [0, 1, 2],
        "baseline": "random",
    }
    t = rank_transfer(fake["runs"], cfg, ["cpu-tiny", "cpu-tiny-x4"], ["e"])
    assert t[0]["spearman"] == pytest.approx(1.0) and t[0]["cells"] == 6 and t[0]["ci_low"] == pytest.approx(1.0)
    res = {
        "seeds": [0, 1],
        "config": {"baseline": "random"},
        "evals": ["a", "b"],
        "eval_summary": [
            {"eval": "a", "strategy": "dsir", "significant": True},
            {"eval": "b", "strategy": "dsir", "significant": False},
        ],
        "task": {
            "info": {
                "leaks": {
                    "n": 13,
                    "pairs": [
                        {"a": "pool", "b": "target", "exact": 0, "ngram": 4, "of": 10},
                        {"a": "pool", "b": "eval:a", "exact": 1, "ngram": 2, "of": 10},
                    ],
                }
            }
        },
    }
    w = bench_warnings(res)
    assert any("only 2 seed" in x for x in w)
    assert any("on eval 'b'" in x for x in w) and not any("on eval 'a'" in x for x in w)
    assert any("2 of 10 pool documents share a 13-gram with eval:a (1 exact" in x for x in w)
    assert not any("with target" in x for x in w)  # pool ~ target overlap is the point of targeting


def test_leak_check_counts_exact_and_ngram_overlap():
    from winnow.prove.bench.tasks import leak_check

    words = " ".join(f"w{i}" for i in range(30))
    pool = [words, "Completely different text " * 5, words[:60] + " tail"]
    r = leak_check(pool, ["unrelated target words"] * 2, {"ev": [words.upper()]}, n=5)
    pe = next(p for p in r["pairs"] if p["a"] == "pool" and p["b"] == "eval:ev")
    assert (pe["exact"], pe["ngram"], pe["of"]) == (1, 2, 3)  # case-insensitive exact copy + a shared 5-gram
    assert r["pool_overlap"].tolist() == [True, False, True]
