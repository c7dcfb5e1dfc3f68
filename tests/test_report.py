"""`winnow report`: the report of a real run (sample corpus + hostile documents) shows every
step with the manifest's exact counts, real and escaped examples, histograms with thresholds,
dedup clusters and token funnel; it opens in headless Chromium without console errors."""

from __future__ import annotations

import base64
import glob
import html as html_lib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _report_steps import ExactDupes, Gpt2Tokens
from conftest import write_jsonl

from winnow import Length, Pipeline
from winnow.core.io.writers import read_dataset_table
from winnow.report import ReportOptions, build_report, render_report
from winnow.report.sampling import Shards

HOSTILE = "<script>alert(1)</script>"
ARTIFACTS = os.environ.get(
    "WINNOW_TEST_ARTIFACTS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
)


def _dedup_step():
    """The project's exact dedup step once it is registered (issue 4), else the test's own."""
    from winnow.core.pipeline.registry import get_step_class, step_names

    return get_step_class("exact_dedup")() if "exact_dedup" in step_names() else ExactDupes()


DEDUP = _dedup_step().name


@pytest.fixture(scope="module")
def run_dir(sample_corpus, tmp_path_factory):
    """A real run: the sample corpus plus documents carrying markup that must never execute."""
    base = tmp_path_factory.mktemp("report")
    hostile = [
        # short: rejected by length:min_words, so it is an example of that rule
        {"id": "hostile-short", "text": f"{HOSTILE} <img src=x onerror=alert(2)> too short", "source": "hostile"},
        # long enough to be kept (and duplicated once, so it is in a dedup cluster)
        {
            "id": "hostile-kept",
            "text": f"Markup in a document: {HOSTILE} and <b>bold</b> " + "plain words " * 20,
            "source": "hostile",
        },
        {
            "id": "hostile-dup",
            "text": f"Markup in a document: {HOSTILE} and <b>bold</b> " + "plain words " * 20,
            "source": "hostile",
        },
    ]
    write_jsonl(str(base / "extra" / "hostile.jsonl"), hostile)
    out = str(base / "run")
    res = Pipeline([Length(min_words=20, max_chars=10000), Gpt2Tokens(), _dedup_step()]).run(
        [f"{sample_corpus}/raw/", str(base / "extra")], out, workers=1
    )
    assert res.manifest["checks"]["ok"]
    return out


@pytest.fixture(scope="module")
def report(run_dir):
    """Rendered with enough examples per rule that every hostile reject is shown."""
    path = build_report(run_dir, opts=ReportOptions(examples=250))
    with open(path, encoding="utf-8") as fh:
        return path, fh.read()


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside elements with data-* markers."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1


def parse(html: str) -> _Elements:
    p = _Elements()
    p.feed(html)
    return p


def _rejects(run_dir, cols):
    """All rejected rows (ground truth; reject files of different steps differ in columns)."""
    parts = []
    for f in sorted(glob.glob(os.path.join(run_dir, "rejects", "*.parquet"))):
        t = pq.read_table(f)
        parts.append(pa.table({c: t.column(c) if c in t.column_names else pa.nulls(t.num_rows) for c in cols}))
    return pa.concat_tables(parts, promote_options="permissive")


def test_every_step_with_manifest_counts(run_dir, report):
    m = json.load(open(os.path.join(run_dir, "manifest.json")))
    _, html = report
    tags = parse(html).tags
    steps = {a["data-step"]: a for t, a in tags if "data-step" in a}
    assert set(steps) == {str(s["index"]) for s in m["steps"]}
    for s in m["steps"]:
        assert steps[str(s["index"])]["data-step-name"] == s["name"]
        # the funnel row of the step carries the manifest's counts
        row = next(a for t, a in tags if a.get("data-stage") == f"{s['index']}. {s['name']}")
        assert (int(row["data-rows-in"]), int(row["data-rows-kept"]), int(row["data-rows-rejected"])) == (
            s["rows_in"],
            s["rows_kept"],
            s["rows_rejected"],
        )
        assert re.search(rf'data-step-rejected="{s["index"]}">{s["rows_rejected"]:,}<', html)
    rules = [(a["data-reason"], int(a["data-count"])) for t, a in tags if t == "tr" and "data-reason" in a]
    expected = [(r, c) for s in m["steps"] for r, c in s["reasons"].items()]
    assert rules == expected and len(rules) >= 3  # min_words, max_chars, duplicate
    read = next(a for t, a in tags if a.get("data-stage") == "read")
    assert int(read["data-rows-kept"]) == m["read"]["rows_read"]
    assert int(read["data-rows-rejected"]) == m["totals"]["rows_quarantined"] > 0
    for key in ("rows_in", "rows_kept", "rows_rejected", "rows_quarantined"):
        assert re.search(rf'data-total="{key}">{m["totals"][key]:,}<', html), key
    # and the accounting on disk agrees with the manifest the report shows
    assert _rejects(run_dir, ["id"]).num_rows == m["totals"]["rows_rejected"]


def test_hostile_documents_are_escaped(report):
    _, html = report
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html
    p = parse(html)
    assert p.scripts == 1  # only the page's own script
    # the page's script is the only one the Content-Security-Policy allows
    csp = next(a["content"] for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1]
    # nothing loaded from the network: no tag fetches a URL (document text may mention .js URLs)
    assert not [
        (t, a) for t, a in p.tags for k in ("src", "href", "data") if re.match(r"\s*(https?:)?//", a.get(k) or "")
    ]


def test_examples_are_real_rejects_of_their_rule(run_dir, report):
    _, html = report
    rej = _rejects(run_dir, ["id", "reason"])
    truth = dict(zip(rej.column("id").to_pylist(), rej.column("reason").to_pylist()))
    # split the page at each rule row; ids shown in its example block must carry that rule
    blocks = re.split(r'<tr class="rule" data-reason="', html)[1:]
    shown = 0
    for b in blocks:
        reason = b.split('"', 1)[0]
        examples = b.split('<tr class="rule-examples">', 1)[1].split("</details>", 1)[0]
        ids = [html_lib.unescape(i) for i in re.findall(r'<div class="meta"><code>([^<]*)</code>', examples)]
        assert ids, reason
        n = dict(Counter(truth.values()))[reason]
        assert len(ids) == min(n, 250)  # ReportOptions(examples=250)
        for i in ids:
            assert truth[i] == reason
        shown += len(ids)
    assert "hostile-short" in html and shown >= 3


def test_kept_documents_nearest_the_threshold(run_dir, report):
    _, html = report
    kept = read_dataset_table(os.path.join(run_dir, "data"), ["n_words"]).column("n_words").to_numpy()
    block = html.split("documents nearest the threshold <code>n_words</code> ≥ 20", 1)[1].split("</details>", 1)[0]
    just_kept = block.split("just rejected", 1)[0]
    vals = [int(v.replace(",", "")) for v in re.findall(r"n_words=<b>([\d,]+)</b>", just_kept)]
    assert len(vals) == 3 and all(v >= 20 for v in vals)
    assert vals == list(np.sort(kept)[: len(vals)])  # the smallest kept values: nearest the bound
    just_rej = block.split("just rejected", 1)[1]
    rvals = [int(v.replace(",", "")) for v in re.findall(r"n_words=<b>([\d,]+)</b>", just_rej)]
    assert len(rvals) == 3 and all(v < 20 for v in rvals)
    r = _rejects(run_dir, ["n_words", "step"])
    step0 = np.array(
        [
            w
            for w, s in zip(r.column("n_words").to_pylist(), r.column("step").to_pylist())
            if s == "length" and w is not None
        ]
    )
    assert rvals == sorted(step0[step0 < 20], reverse=True)[: len(rvals)]


def test_histograms_for_every_statistic_with_thresholds(report):
    _, html = report
    tags = parse(html).tags
    figs = {a["data-column"] for t, a in tags if t == "figure" and "data-column" in a}
    assert figs - {"cluster_size"} == {"n_chars", "n_words", "n_lines", "n_tokens"}
    assert "thresholds 20 … +∞" in html and "thresholds −∞ … 10000" in html
    imgs = [a["src"] for t, a in tags if t == "img"]
    assert len(imgs) >= 7 and all(s.startswith("data:image/svg+xml;base64,") for s in imgs)
    svg = base64.b64decode(imgs[0].split(",", 1)[1])
    assert ET.fromstring(svg).tag.endswith("svg")
    n_words_svg = next(
        base64.b64decode(a["src"].split(",", 1)[1]).decode()
        for t, a in tags
        if t == "img" and a.get("alt") == "histogram of n_words"
    )
    assert "min 20" in n_words_svg  # the threshold is drawn and labelled


def test_dedup_clusters_match_the_rejects(run_dir, report):
    _, html = report
    rej = _rejects(run_dir, ["duplicate_of", "step"])
    dups = [d for d, s in zip(rej.column("duplicate_of").to_pylist(), rej.column("step").to_pylist()) if s == DEDUP]
    sizes = Counter(c + 1 for c in Counter(dups).values())
    sec = html.split('id="dedup"', 1)[1]
    table = sec.split("<h3>Example clusters</h3>", 1)[0]
    got = {
        int(a): int(b.replace(",", ""))
        for a, b in re.findall(r'<tr><td class="n">(\d+)</td><td class="n">([\d,]+)</td></tr>', table)
    }
    assert got == dict(sorted(sizes.items())[:12])
    assert f'<div class="v">{len(Counter(dups)):,}</div><div class="l">clusters' in sec
    # every duplicate shown in a cluster names the cluster's kept representative
    for rep, body in re.findall(r"kept <code>([^<]*)</code></summary>(.*?)</details>", sec, flags=re.S):
        members = re.findall(r"duplicate of <code>([^<]*)</code>", body)
        assert members and set(members) == {rep}


def test_token_funnel_is_exact(run_dir, report):
    _, html = report
    kept = int(read_dataset_table(os.path.join(run_dir, "data"), ["n_tokens"]).column("n_tokens").to_numpy().sum())
    r = _rejects(run_dir, ["n_tokens", "step"])
    dedup = sum(t for t, s in zip(r.column("n_tokens").to_pylist(), r.column("step").to_pylist()) if s == DEDUP)
    tags = parse(html).tags
    tokens = {a["data-stage"]: a["data-tokens"] for t, a in tags if "data-stage" in a}
    assert tokens[f"2. {DEDUP}"] == str(kept)
    assert tokens["1. gpt2_tokens"] == str(kept + dedup)
    assert tokens["0. length"] == tokens["1. gpt2_tokens"]  # the token counter drops nothing
    assert tokens["read"] == ""  # rows dropped by length never had their tokens counted
    assert f'<td class="n">{kept:,}</td>' in html
    assert "tokens left</th>" in html  # exact, not estimated


def test_bounded_budgets_still_render(run_dir, tmp_path):
    opts = ReportOptions(hist_rows=50, scan_rows=64, examples=1, seed=3)
    html = render_report(run_dir, opts)
    assert "tokens left (est.)" in html  # token sums extrapolated beyond the scan budget, and said so
    caps = re.findall(r"· ([\d,]+) sampled values", html)
    assert caps and all(int(c.replace(",", "")) <= 50 * 3 for c in caps)  # ≤ 50 per population
    m = json.load(open(os.path.join(run_dir, "manifest.json")))
    for s in m["steps"]:
        for r, c in s["reasons"].items():
            assert f'data-reason="{r}" data-count="{c}"' in html  # counts stay exact


def test_report_of_a_jsonl_output_run(real_docs, tmp_path):
    write_jsonl(str(tmp_path / "raw" / "a.jsonl"), real_docs[:400])
    res = Pipeline([Length(min_words=8)]).run(
        str(tmp_path / "raw"), str(tmp_path / "run"), workers=1, output_format="jsonl"
    )
    html = render_report(str(tmp_path / "run"))
    assert {a["data-column"] for t, a in parse(html).tags if "data-column" in a} == {"n_chars", "n_words", "n_lines"}
    kept = sorted(len(d["text"].split()) for d in real_docs[:400] if len(d["text"].split()) >= 8)
    block = html.split("<code>n_words</code> ≥ 8", 1)[1].split("just rejected", 1)[0]
    vals = [int(v) for v in re.findall(r"n_words=<b>(\d+)</b>", block)]
    assert vals == kept[:3]
    assert f'data-rows-kept="{res.manifest["totals"]["rows_kept"]}"' in html


def test_shards_read_only_the_budget(tmp_path):
    path = str(tmp_path / "x.parquet")
    w = pq.ParquetWriter(path, pa.schema([("v", pa.int64()), ("text", pa.string())]))
    for g in range(10):
        w.write_table(pa.table({"v": np.arange(g * 100, g * 100 + 100), "text": ["x"] * 100}))
    w.close()
    sh = Shards([path])
    assert sh.num_rows == 1000 and len(sh.groups) == 10
    read = []
    orig = sh.read
    sh.read = lambda g, cols: read.append(g.rg) or orig(g, cols)
    smp = sh.sample(["v"], max_rows=150, seed=0)
    assert smp.table.num_rows == 150 and smp.table.column_names == ["v"]
    assert len(read) == 2  # two row groups of 100 rows cover the budget
    assert smp.population == 1000 and smp.weight == pytest.approx(1000 / 150)
    assert sh.sample(["v"], max_rows=150, seed=0).table.equals(smp.table)  # deterministic
    assert sorted(sh.order(1), key=lambda g: g.rg) == sh.groups
    # a few rows of a row group, in the order asked, read in small batches
    import winnow.report.sampling as sampling

    old, sampling.TAKE_BATCH = sampling.TAKE_BATCH, 7
    try:
        got = sh.take(sh.groups[3], [99, 0, 50, 8], ["v", "text", "missing"])
    finally:
        sampling.TAKE_BATCH = old
    assert got.column_names == ["v", "text"] and got.column("v").to_pylist() == [399, 300, 350, 308]


def test_cli_writes_report_and_names_bad_paths(run_dir, tmp_path):
    from typer.testing import CliRunner

    from winnow.cli import app

    out = str(tmp_path / "r.html")
    r = CliRunner().invoke(app, ["report", run_dir, "-o", out, "--examples", "1", "--sample-rows", "1000"])
    assert r.exit_code == 0, r.output
    assert os.path.getsize(out) > 10_000 and "file://" in r.output
    r = subprocess.run([sys.executable, "-m", "winnow.cli", "report", str(tmp_path)], capture_output=True, text=True)
    assert (
        r.returncode == 2
        and "neither a winnow run folder" in r.stderr
        and "bench.json" in r.stderr
        and "mix.json" in r.stderr
    )
    r = CliRunner().invoke(app, ["report", run_dir, "--examples", "0"])
    assert r.exit_code == 2 and "--examples must be ≥ 1" in r.output


# ----------------------------------------------------------------------------------- browser
def _chromium():
    from _cdp import find_chromium

    return find_chromium()


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_opens_in_headless_chromium(report):
    from _cdp import Browser

    path, _ = report
    with Browser() as b:
        page = b.open("file://" + os.path.abspath(path))
        assert page.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
        assert page.eval("document.images.length") >= 7
        assert page.eval("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length") == 0
        shot = os.path.join(ARTIFACTS, "report_run.png")
        w, h = page.screenshot(shot)  # as a person first sees it: sections, charts, rules collapsed
        page.eval("document.getElementById('expand-all').click()")
        assert page.eval("document.querySelectorAll('details:not([open])').length") == 0
        # the hostile documents are on the page as text, and nothing of theirs ran
        assert page.eval(f"document.body.innerText.includes({json.dumps(HOSTILE)})")
        assert page.eval("document.querySelectorAll('img[src=\"x\"], pre b, pre img, pre script').length") == 0
        assert page.eval("typeof window.alert === 'function'")
        assert page.eval("document.scripts.length") == 1
        # the rule filter (page script) works
        page.eval(
            "var f=document.getElementById('reason-filter'); f.value='max_chars';f.dispatchEvent(new Event('input'))"
        )
        visible = page.eval(
            "Array.from(document.querySelectorAll('tr.rule')).filter(t => t.style.display !== 'none')"
            ".map(t => t.getAttribute('data-reason'))"
        )
        assert visible == ["length:max_chars"]
        page.eval("var f=document.getElementById('reason-filter'); f.value=''; f.dispatchEvent(new Event('input'))")
        problems = page.problems()
    assert problems == [], problems
    assert os.path.getsize(shot) > 50_000 and h > 2000


def test_report_of_a_score_file(tmp_path):
    """Issue 14: `winnow report scores.parquet` (what `winnow attribute -o` writes) is a page."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from winnow.cli import app

    rng = np.random.default_rng(0)
    ids = [f"doc<{i}>" for i in range(200)]  # ids are escaped
    score = rng.normal(size=200)
    score[7] = np.nan
    p = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"id": ids, "score": score}), p)
    r = CliRunner().invoke(app, ["report", str(p), "-o", str(tmp_path / "s.html")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "s.html").read_text()
    best, worst = int(np.nanargmax(score)), int(np.nanargmin(score))
    assert f"doc&lt;{best}&gt;" in html and f"doc&lt;{worst}&gt;" in html and "doc<" not in html
    assert "199 with a finite score" in html and 'id="scores"' in html and "data:image/svg+xml" in html
