"""`winnow report BENCH_DIR`: metric-vs-budget plot and the table with 95% confidence intervals,
from a real (small) selection experiment on scikit-learn's digits with 30% flipped labels."""

from __future__ import annotations

import base64
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats

from winnow.report import build_report, render_report

ARTIFACTS = os.environ.get(
    "WINNOW_TEST_ARTIFACTS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
)
BUDGETS = [0.1, 0.25, 0.5]
SEEDS = [0, 1, 2]


def _t_ci(v):
    v = np.asarray(v, float)
    h = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(v.mean() - h), float(v.mean() + h)


@pytest.fixture(scope="module")
def bench_runs():
    """random vs kNN-label-agreement selection, logistic regression, test accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import NearestNeighbors

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xp, Xt, yp, yt = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    rng = np.random.default_rng(0)
    flip = rng.random(len(yp)) < 0.3
    yn = yp.copy()
    yn[flip] = (yp[flip] + rng.integers(1, 10, flip.sum())) % 10
    _, nn = NearestNeighbors(n_neighbors=11).fit(Xp).kneighbors(Xp)
    agree = (yn[nn[:, 1:]] == yn[:, None]).mean(1)  # share of neighbours with the same (noisy) label
    runs = []
    for seed in SEEDS:
        r = np.random.default_rng(seed)
        scores = {"random": r.random(len(yp)), "knn-agree": agree + 1e-6 * r.random(len(yp))}
        for name, s in scores.items():
            for b in BUDGETS:
                k = int(round(b * len(yp)))
                idx = np.argsort(-s)[:k]
                clf = LogisticRegression(max_iter=100, tol=1e-3).fit(Xp[idx], yn[idx])
                runs.append(
                    {
                        "strategy": name,
                        "method": name,
                        "budget": b,
                        "seed": seed,
                        "metric": float(clf.score(Xt, yt)),
                        "n_selected": k,
                    }
                )
    return runs


def _bench_json(runs):
    """The ``winnow.prove.bench/1`` layout written by ``winnow bench``."""
    summary = []
    for name in ("random", "knn-agree"):
        for b in BUDGETS:
            v = [r["metric"] for r in runs if r["strategy"] == name and r["budget"] == b]
            base = [r["metric"] for r in runs if r["strategy"] == "random" and r["budget"] == b]
            m, lo, hi = _t_ci(v)
            g = [a - c for a, c in zip(v, base)]
            gm = float(np.mean(g))
            glo, ghi = _t_ci(g)[1:] if name != "random" else (0.0, 0.0)
            summary.append(
                {
                    "strategy": name,
                    "budget": b,
                    "n": len(v),
                    "mean": m,
                    "std": float(np.std(v, ddof=1)),
                    "ci_low": lo,
                    "ci_high": hi,
                    "gain": gm,
                    "gain_ci_low": glo,
                    "gain_ci_high": ghi,
                    "significant": bool(name != "random" and (glo > 0 or ghi < 0)),
                }
            )
    return {
        "schema": "winnow.prove.bench/1",
        "config": {"budgets": BUDGETS, "seeds": SEEDS, "baseline": "random"},
        "task": {
            "name": "noisy_labels",
            "metric": "accuracy",
            "higher_is_better": True,
            "info": {"dataset": "digits", "noise": 0.3},
        },
        "strategies": [
            {"label": "random", "method": "random", "params": {}, "model_aware": False},
            {"label": "knn-agree", "method": "knn-agree", "params": {}, "model_aware": False},
        ],
        "budgets": BUDGETS,
        "seeds": SEEDS,
        "full_pool": None,
        "runs": runs,
        "summary": summary,
        "detection": [],
        "seconds": 1.0,
    }


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-strategy" in a:
            self.rows.append(a)


def _table(html):
    p = _Rows()
    p.feed(html)
    return {(r["data-strategy"], float(r["data-budget"])): r for r in p.rows}


def test_bench_report_table_and_plot(bench_runs, tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    data = _bench_json(bench_runs)
    (d / "bench.json").write_text(json.dumps(data))
    path = build_report(str(d))
    assert path == str(d / "report.html")
    html = open(path, encoding="utf-8").read()
    assert 'id="bench"' in html and 'id="funnel"' not in html
    table = _table(html)
    assert len(table) == len(data["summary"]) == 6
    for s in data["summary"]:
        row = table[(s["strategy"], s["budget"])]
        assert float(row["data-mean"]) == pytest.approx(s["mean"])
        assert (float(row["data-lo"]), float(row["data-hi"])) == pytest.approx((s["ci_low"], s["ci_high"]))
        assert float(row["data-lo"]) <= float(row["data-mean"]) <= float(row["data-hi"])
    gains = re.findall(r'<td class="n">([+-][0-9.e-]+) \[', html)
    assert len(gains) == 6  # gain and its CI come from the bench
    # the plot: an SVG whose legend names both strategies, with the metric on the y axis
    img = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="accuracy vs budget', html)
    svg = base64.b64decode(img.group(1)).decode()
    assert "knn-agree" in svg and "random" in svg and "accuracy (higher is better)" in svg
    # the experiment itself: cleaning by label agreement beats random at 50% (ground truth)
    ka = [r["metric"] for r in bench_runs if r["strategy"] == "knn-agree" and r["budget"] == 0.5]
    rd = [r["metric"] for r in bench_runs if r["strategy"] == "random" and r["budget"] == 0.5]
    assert np.mean(ka) > np.mean(rd)


def test_bench_rows_only_gets_t_intervals(bench_runs, tmp_path):
    # a minimal file: a list of per-seed rows with other field names; the report computes the CI
    rows = [
        {"method": r["strategy"], "budget": f"{int(r['budget'] * 100)}%", "seed": r["seed"], "value": r["metric"]}
        for r in bench_runs
    ]
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(rows))
    html = render_report(str(tmp_path))
    table = {(k[0], k[1]): v for k, v in ((key, row) for key, row in _rows_by_text_budget(html).items())}
    assert len(table) == 6
    for name in ("random", "knn-agree"):
        for b in BUDGETS:
            v = [r["metric"] for r in bench_runs if r["strategy"] == name and r["budget"] == b]
            m, lo, hi = _t_ci(v)
            row = table[(name, f"{int(b * 100)}%")]
            assert float(row["data-mean"]) == pytest.approx(m)
            assert (float(row["data-lo"]), float(row["data-hi"])) == pytest.approx((lo, hi))
    assert "computed by the report" in html
    assert html.count("Δmean") == 3  # gain vs random computed for knn-agree at each budget


def _rows_by_text_budget(html):
    p = _Rows()
    p.feed(html)
    return {(r["data-strategy"], r["data-budget"]): r for r in p.rows}


def test_bench_report_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a winnow run folder"):
        render_report(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render_report(str(tmp_path / "missing"))


def test_real_bench_harness_output_if_available(tmp_path):
    bench = pytest.importorskip(
        "winnow.prove.bench", reason="winnow.prove.bench (issue 7) is not merged in this branch"
    )
    res = bench.run_bench(
        {
            "task": {"name": "noisy_labels", "pool_size": 300},
            "strategies": ["random", "forgetting"],
            "budgets": [0.5],
            "seeds": [0, 1, 2],
        },
        output=str(tmp_path / "b"),
    )
    html = render_report(str(tmp_path / "b"))
    table = _table(html)
    for s in res["summary"]:
        row = table[(s["strategy"], float(s["budget"]))]
        assert float(row["data-mean"]) == pytest.approx(s["mean"])


def _chromium():
    from _cdp import find_chromium

    return find_chromium()


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_bench_report_opens_in_headless_chromium(bench_runs, tmp_path):
    from _cdp import Browser

    (tmp_path / "bench.json").write_text(json.dumps(_bench_json(bench_runs)))
    path = build_report(str(tmp_path))
    with Browser() as b:
        page = b.open("file://" + path)
        assert page.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
        assert page.eval("Array.from(document.images).filter(i => i.naturalWidth === 0).length") == 0
        assert page.eval("document.querySelectorAll('#bench-table tr[data-strategy]').length") == 6
        problems = page.problems()
        page.screenshot(os.path.join(ARTIFACTS, "report_bench.png"))
    assert problems == [], problems
