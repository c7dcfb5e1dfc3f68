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
    docs = [getattr(np, k).__doc__ for k in sorted(dir(np)) if callable(getattr(np, k, None))
            and (getattr(np, k).__doc__ or "").strip()]
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
    assert "Spearman" in outs[2] and "nan" not in outs[2].lower()
    scores = pq.read_table("runs/scores.parquet").to_pydict()
    pool_ids = [json.loads(x)["id"] for x in open("mydata/pool.jsonl")]
    assert scores["id"] == pool_ids and np.isfinite(scores["score"]).all()
    sel = json.load(open("runs/sel/selection.json"))
    assert sel["rows_selected"] == round(0.25 * len(pool_ids))
    kept = pq.read_table("runs/sel/data").column("id").to_pylist()
    top = np.argsort(-np.asarray(scores["score"]), kind="stable")[:len(kept)]
    assert sorted(kept) == sorted(pool_ids[i] for i in top)
