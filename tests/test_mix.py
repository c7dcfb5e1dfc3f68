"""`winnow mix`: a known-answer mixture, resume, parallel workers, limits, regression, config errors."""

import json
import os

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from winnow.prove.mix import MixConfigError, fit_regressions, load_mix_config, run_mix

TINY = {"preset": "cpu-tiny", "tokens": 4096, "d_model": 32, "ctx": 32, "batch": 8}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three real sources (Python docs, licences, stdlib code); eval = held-out stdlib code."""
    from winnow.prove.bench.tasks import _chunks, source_documents

    d = tmp_path_factory.mktemp("mix")
    rng = np.random.default_rng(0)
    rows, ev = [], []
    for src, name in [("pydoc", "docs"), ("license", "licence"), ("code", "code")]:
        ch = [c for _, t in source_documents(src) for c in _chunks(t, 500)]
        idx = rng.permutation(len(ch))
        rows += [{"id": f"{name}/{i}", "text": ch[i], "source": name} for i in idx[:50]]
        if name == "code":
            ev = [{"text": ch[i]} for i in idx[50:80]]
    (d / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ev))
    return d


def _cfg(d, **kw):
    return {
        "pool": str(d / "pool.jsonl"),
        "eval": {"code": str(d / "eval.jsonl")},
        "proxy": TINY,
        "runs": 8,
        "seeds": [],
        "vocab_size": 300,
        "search": 3000,
        "top_k": 10,
        **kw,
    }


def test_known_answer_eval_of_one_source_gets_the_largest_weight(data, tmp_path):
    res = run_mix(_cfg(data, runs=16), output=str(tmp_path / "out"))
    w = res["weights"]
    assert max(w, key=w.get) == "code", w
    assert abs(sum(w.values()) - 1) < 1e-9 and res["group_by"] == "source"
    assert res["regression"]["n_runs"] == 16 and set(res["regression"]["cv_spearman"]["code"]) == {"quadratic", "gbm"}
    # corners are sampled: the code-only run has the lowest measured code loss of the corners
    corners = [r for r in res["runs"] if r["kind"] == "corner"]
    assert min(corners, key=lambda r: r["losses"]["code"])["weights"]["code"] == 1.0
    on_disk = json.load(open(tmp_path / "out" / "mix.json"))
    assert on_disk["schema"] == "winnow.mix/1" and on_disk["weights"] == pytest.approx(w)
    assert os.path.getsize(tmp_path / "out" / "mix.png") > 1000


def test_resume_reuses_finished_runs_and_workers_agree(data, tmp_path):
    out = tmp_path / "out"
    first = run_mix(_cfg(data, runs=6, seeds=[0], workers=2), output=str(out))
    files = sorted(os.listdir(out / "runs"))
    assert len(files) == 6 + 3  # 6 sampled mixtures + predicted/natural/uniform x 1 seed
    victim = out / "runs" / files[0]
    os.remove(victim)  # as if killed before this run finished
    stamps = {f: os.path.getmtime(out / "runs" / f) for f in files[1:]}
    again = run_mix(_cfg(data, runs=6, seeds=[0], workers=1), output=str(out))
    assert victim.exists()
    assert all(os.path.getmtime(out / "runs" / f) == t for f, t in stamps.items())  # not retrained
    # the retrained run (one process) equals the one trained by a worker process
    assert [r["losses"] for r in again["runs"]] == [r["losses"] for r in first["runs"]]
    assert again["weights"] == first["weights"]
    v = again["validation"]
    assert set(v["mixtures"]) == {"predicted", "natural", "uniform"} and set(v["gains"]) == {"vs_natural", "vs_uniform"}


def test_limits_bound_the_weights(data, tmp_path):
    res = run_mix(_cfg(data, runs=6, limits={"max_weight": {"code": 0.3}}), output=str(tmp_path / "o"))
    assert res["weights"]["code"] <= 0.3 + 1e-9 and res["groups"]["code"]["max_weight"] == 0.3
    with pytest.raises(MixConfigError, match="no feasible mixture"):
        run_mix(_cfg(data, runs=6, limits={"max_epochs": 0.01}), output=str(tmp_path / "o2"))


def test_regression_recovers_a_known_quadratic():
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(4), size=40)
    y = 3 - W[:, 0] + 2 * (W[:, 1] - 0.3) ** 2 + 0.5 * W[:, 2] * W[:, 3]
    reg, models, (p, m) = fit_regressions(W, {"e": y}, {"e": 1.0})
    assert reg["chosen"]["e"] == "quadratic" and reg["cv_spearman"]["e"]["quadratic"] > 0.99
    assert reg["objective_cv_spearman"] == reg["cv_spearman"]["e"]["quadratic"]


def test_config_errors(data, tmp_path):
    with pytest.raises(MixConfigError, match="unknown key"):
        load_mix_config({**_cfg(data), "bogus": 1})
    with pytest.raises(MixConfigError, match="not eval sets"):
        load_mix_config({**_cfg(data), "objective": "german"})
    with pytest.raises(MixConfigError, match="needs pool"):
        load_mix_config({"eval": "x.jsonl"})
    cfgf = tmp_path / "m.yaml"
    cfgf.write_text(yaml.safe_dump({**_cfg(data), "group_by": "nope"}))
    from winnow.cli import app

    r = CliRunner().invoke(app, ["mix", str(cfgf), "-q"])
    assert r.exit_code == 2 and "no column 'nope'" in r.output


def test_cli_miniature(data, tmp_path):
    cfgf = tmp_path / "m.yaml"
    cfgf.write_text(yaml.safe_dump({**_cfg(data, runs=5, seeds=[0, 1]), "output": str(tmp_path / "cli")}))
    from winnow.cli import app

    r = CliRunner().invoke(app, ["mix", str(cfgf), "-q"])
    assert r.exit_code == 0, r.output
    assert "validation" in r.output and "chosen" in r.output
    res = json.load(open(tmp_path / "cli" / "mix.json"))
    assert len(res["validation"]["mixtures"]["natural"]["values"]) == 2
    from winnow.report import build_report

    html = open(build_report(str(tmp_path / "cli")), encoding="utf-8").read()
    assert 'id="mix"' in html and "Validation over 2 seeds" in html and "data:image/png;base64," in html
    for k, w in res["weights"].items():
        assert f"<b>{w:.3f}</b>" in html


def test_readme_mix_section_is_a_valid_config():
    import re

    text = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    sec = text.split("### Source mixtures: `winnow mix`", 1)[1].split("\n### ", 1)[0]
    cfg = load_mix_config(yaml.safe_load(re.search(r"```yaml\n(.*?)```", sec, re.S).group(1)))
    assert cfg["objective"] == {"python-docs": 1.0} and cfg["limits"] == {"max_epochs": 4}
    assert cfg["proxy"]["options"] == {"tokens": 1000000} and cfg["workers"] == 2
    cmds = [line.split(" #")[0].split() for line in re.search(r"```bash\n(.*?)```", sec, re.S).group(1).splitlines()]
    from winnow.cli import app

    for c in cmds:
        r = CliRunner().invoke(app, c[1:2] + ["--help"])
        assert r.exit_code == 0 and c[0] == "winnow"
