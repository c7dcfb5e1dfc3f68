"""language, url_filter, length (tokens), registry/YAML, and bad input through Pipeline.run."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow as pa
import pytest

from winnow.curate.filters.language import Language
from winnow.curate.filters.length import Length
from winnow.curate.filters.url import UrlFilter

ALL_FILTERS = [
    "language",
    "gopher_quality",
    "gopher_repetition",
    "c4",
    "fineweb_quality",
    "url_filter",
    "pii",
    "length",
]


# ---------------------------------------------------------------- language
@pytest.fixture(scope="module")
def multilingual():
    """Real translated text: Django's gettext catalogues (msgstr), 10 messages per document."""
    from winnow.core.datasets.sample import _django_i18n

    keep = {"de", "fr", "es", "it", "ru", "nl", "pl", "sv", "ja", "pt", "tr", "uk", "cs", "fi", "hu"}
    docs = [d for d in _django_i18n(per_locale=3, group=10) if d["lang_label"] in keep]
    if len(docs) < 30:
        pytest.fail("Django catalogues not found: Django is a pinned dependency of the sample corpus")
    return docs


@pytest.mark.parametrize("backend,floor", [("fasttext", 0.9), ("py3langid", 0.85)])
def test_language_accuracy_on_real_translations(multilingual, backend, floor):
    s = Language(backend=backend, languages=[])
    s.setup()
    t = s.annotate(pa.table({"text": [d["text"] for d in multilingual]}))
    pred = t.column("lang").to_pylist()
    acc = sum(p == d["lang_label"] for p, d in zip(pred, multilingual)) / len(multilingual)
    print(f"{backend}: accuracy {acc:.3f} on {len(multilingual)} documents")
    assert acc >= floor


def test_language_keep_set_and_threshold():
    import pydoc_data.topics as topics

    en = topics.topics["exceptions"]
    s = Language(languages=["en"], min_score=0.65)
    t, reasons = s.process(
        pa.table({"text": [en, "Das ist ein deutscher Satz über die Ausnahmebehandlung.", "", "  \n"]})
    )
    assert t.column("lang").to_pylist()[:2] == ["en", "de"]
    assert t.column("lang").to_pylist()[2:] == ["und", "und"]
    assert reasons.to_pylist() == [None, "language:languages", "language:languages", "language:languages"]
    assert t.column("lang_score")[0].as_py() > 0.65
    s2 = Language(languages=[], min_score=0.99999)
    assert s2.decide(t).to_pylist()[2] == "language:min_score"


def test_language_bad_backend_named():
    with pytest.raises(Exception, match="backend"):
        Language(backend="cld3")


# ---------------------------------------------------------------- url_filter
def test_url_filter_lists_from_files(tmp_path):
    (tmp_path / "domains.txt").write_text("# blocked\nexample.com\nWWW.Bad-Site.org\n\n")
    (tmp_path / "words.txt").write_text("casino\nporn\n")
    s = UrlFilter(
        blocked_domains_file=str(tmp_path / "domains.txt"),
        blocked_words_file=str(tmp_path / "words.txt"),
        blocked_subwords=["xxx"],
    )
    s.setup()
    urls = [
        "https://example.com/",
        "http://a.b.example.com/x",
        "https://notexample.com/",
        "bad-site.org/page",
        "https://ok.org/casino-royale",
        "https://ok.org/casinos",
        "https://ok.org/hotxxxvids",
        "https://ok.org/",
        None,
    ]
    t, reasons = s.process(pa.table({"url": urls, "text": ["t"] * len(urls)}))
    assert reasons.to_pylist() == [
        "url_filter:blocked_domain",
        "url_filter:blocked_domain",
        None,
        "url_filter:blocked_domain",
        "url_filter:blocked_word",
        None,
        "url_filter:blocked_subword",
        None,
        None,
    ]
    assert t.column("url_domain").to_pylist()[:4] == [
        "example.com",
        "a.b.example.com",
        "notexample.com",
        "bad-site.org",
    ]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        UrlFilter(blocked_domains_file=str(tmp_path / "missing.txt")).setup()


def test_url_filter_without_url_column_keeps():
    s = UrlFilter(blocked_domains=["example.com"])
    _, reasons = s.process(pa.table({"text": ["a", "b"]}))
    assert reasons.to_pylist() == [None, None]


# ---------------------------------------------------------------- length tokens
def test_length_gpt2_tokens():
    s = Length(min_tokens=3, max_tokens=12)
    s.setup()
    texts = ["Hello world", "Hello world, this is GPT-2.", "word " * 20, ""]
    t, reasons = s.process(pa.table({"text": texts}))
    # reference GPT-2 ids: "Hello world" = [15496, 995]
    # "word " * 20 = "word" + 19 x " word" + a trailing " " token = 21
    assert t.column("n_tokens").to_pylist() == [2, 10, 21, 0]
    assert reasons.to_pylist() == ["length:min_tokens", None, "length:max_tokens", "length:min_tokens"]
    assert s.thresholds()["n_tokens"] == (3, 12)
    assert "n_tokens" not in Length(min_words=1).stat_columns()


# ---------------------------------------------------------------- registry / YAML
def test_length_token_counts_and_decisions_equal_full_hf_encoding(real_docs):
    """The tiktoken counter against HF ``tokenizers`` encoding every whole document: identical
    counts (so identical decisions) on real text plus whitespace / Unicode / special-token edge
    cases, with bounds around the middle of the count distribution."""
    import glob
    import sys

    from winnow.curate.filters.length import gpt2_tokenizer

    site = [p for p in sys.path if p.endswith("site-packages")][0]
    metadata = []
    for f in sorted(glob.glob(os.path.join(site, "*.dist-info", "METADATA")))[:150]:
        with open(f, encoding="utf-8", errors="replace") as fh:
            metadata.append(fh.read())
    edge = [
        "",
        " ",
        "a  b\n\n c\t\td",
        "I'll've they're 's 'S DON'T",
        "a<|endoftext|>b",
        "\u00a0nbsp\u2028ls\u2029ps\u3000ideo\x85nel\x0bvt\x1cfs",
        "naïve café — “quotes” 😀 中文 العربية ру́сский",
        "x" * 3000,
        " " * 50 + "end",
    ]
    texts = [d["text"] for d in real_docs] + metadata + edge
    hf = np.array([len(e.ids) for e in gpt2_tokenizer().encode_batch(texts)])
    lo, hi = (int(q) for q in np.quantile(hf, [0.4, 0.6]))
    assert lo < hi
    s = Length(min_tokens=lo, max_tokens=hi)
    t = s.annotate(pa.table({"text": texts}))
    assert t.column("n_tokens").to_pylist() == hf.tolist()
    expect = np.where(hf < lo, "length:min_tokens", np.where(hf > hi, "length:max_tokens", None)).tolist()
    got = s.decide(t).to_pylist()
    assert got == expect
    assert 0.2 < sum(g is None for g in got) / len(got) < 0.8  # thresholds in the middle: both sides decided


def test_registry_and_yaml_names():
    from winnow.core.pipeline.registry import get_step_class

    for name in ALL_FILTERS:
        cls = get_step_class(name)
        assert cls.name == name
    from winnow.core.pipeline.config import load_config

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _, steps = load_config(os.path.join(here, "examples", "curate.yaml"))
    assert [list(s)[0] if isinstance(s, dict) else s.name for s in steps][:3] == ["url_filter", "length", "language"]


def test_builtin_step_index_matches_the_full_scan():
    """Every built-in step (found by importing every step module) is in ``BUILTIN_STEPS`` with
    the module that defines it, so a lookup by name imports that module only, and in a fresh
    process it imports no other step module."""
    import subprocess
    import sys

    from winnow.core.pipeline.registry import BUILTIN_STEPS, builtin_modules, registered_steps

    builtin = {k: c.__module__ for k, c in registered_steps().items() if c.__module__ in builtin_modules()}
    assert builtin == BUILTIN_STEPS
    code = (
        "import sys; from winnow.core.pipeline.registry import get_step_class, builtin_modules;"
        "c = get_step_class('MinhashDedup'); assert c.name == 'minhash_dedup', c;"
        "print(sorted(m for m in builtin_modules() if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['winnow.curate.dedup.minhash']"


def test_unknown_argument_is_named():
    from winnow.core.pipeline.registry import get_step_class

    with pytest.raises(Exception, match="min_doc_word"):
        get_step_class("gopher_quality")(min_doc_word=3)


# ---------------------------------------------------------------- bad input through Pipeline.run
def _bad_docs(huge_bytes: int = 1_000_000):
    import pydoc_data.topics as topics

    rng = random.Random(0)
    junk = bytes(rng.randrange(256) for _ in range(4000)).decode("latin-1")
    good = [topics.topics[k] for k in ("exceptions", "assert", "if", "while", "for")]
    docs = [
        ("empty", ""),
        ("spaces", "   \n\t \n  "),
        ("junk", junk),
        ("nul", "\x00\x01\x02 text \x00" * 50),
        ("huge", ("All work and no play makes Jack a dull boy. " * (huge_bytes // 44 + 1))[:huge_bytes]),
        ("mixed", "English text 中文文本 العربية русский текст 😀🚀 " * 40 + "Email me at a@example.com."),
        ("surrogate-ish", "caf\u00e9 na\u00efve \u200b\u200d zero-width \ufeff BOM \u2028 line sep " * 30),
    ] + [(f"good{i}", g) for i, g in enumerate(good)]
    return [{"id": i, "text": t, "source": "test", "url": "https://example.org/" + i} for i, t in docs]


@pytest.mark.parametrize("name", ALL_FILTERS)
def test_bad_input_each_filter_defined_decision(name):
    from winnow.core.pipeline.registry import get_step_class

    docs = _bad_docs()
    s = get_step_class(name)()
    s.setup()
    t, reasons = s.process(
        pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs], "url": [d["url"] for d in docs]})
    )
    assert t.num_rows == len(docs) and len(reasons) == len(docs)
    r = dict(zip([d["id"] for d in docs], reasons.to_pylist()))
    if name in ("gopher_quality", "gopher_repetition", "c4", "fineweb_quality"):
        assert r["empty"] is not None, name
        if name != "gopher_repetition":  # datatrove's rules keep whitespace-only text too
            assert r["spaces"] is not None, name
        assert r["huge"] is not None  # one sentence repeated: repetitive, and no line structure
    for c in s.stat_columns():
        assert t.column(c).null_count == 0, (name, c)


@pytest.mark.parametrize(
    "huge_bytes",
    [
        1_000_000,
        pytest.param(
            10_000_000,
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(
                    not os.environ.get("WINNOW_SLOW"),
                    reason="the 10 MB version runs with WINNOW_SLOW=1 (pyproject markers)",
                ),
            ],
        ),
    ],
)
def test_bad_input_pipeline_counts_add_up(tmp_path, huge_bytes):
    from winnow import Pipeline

    docs = _bad_docs(huge_bytes)
    assert len(docs[4]["text"]) == huge_bytes and "\n" not in docs[4]["text"]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    steps = [
        {"url_filter": {"blocked_words": ["casino"]}},
        {"length": {"max_tokens": 3_000_000}},
        {"language": {}},
        {"gopher_repetition": {}},
        {"gopher_quality": {}},
        {"c4": {}},
        {"fineweb_quality": {}},
        {"pii": {}},
    ]
    res = Pipeline(steps).run(str(path), str(tmp_path / "run"), workers=1)
    tot = res.manifest["totals"]
    assert tot["rows_in"] == len(docs)
    assert tot["rows_in"] == tot["rows_kept"] + tot["rows_rejected"] + tot["rows_quarantined"]
    assert res.manifest["checks"]["balanced"]
    rej = res.rejects(["id", "step", "reason"]).to_pylist()
    assert all(r["reason"] and ":" in r["reason"] for r in rej)
    by_id = {r["id"]: r["reason"] for r in rej}
    assert by_id["empty"].startswith(("length:", "language:"))
    assert by_id["huge"] is not None
    kept = res.kept(["id"]).column("id").to_pylist()
    assert set(kept) | set(by_id) == {d["id"] for d in docs} and not set(kept) & set(by_id)


@pytest.mark.parametrize("name", ["gopher_quality", "gopher_repetition", "c4", "fineweb_quality", "pii"])
def test_large_string_and_chunked_text_same_decisions(name):
    import pydoc_data.topics as topics

    from winnow.core.pipeline.registry import get_step_class

    texts = [topics.topics[k] for k in ("exceptions", "assert", "if", "while")]
    s = get_step_class(name)()
    want = s.process(pa.table({"text": pa.array(texts)}))
    for col in (pa.array(texts, pa.large_string()), pa.chunked_array([texts[:1], texts[1:]])):
        got = s.process(pa.table({"text": col}))
        assert got[1].to_pylist() == want[1].to_pylist()
        for c in s.stat_columns():
            assert got[0].column(c).to_pylist() == want[0].column(c).to_pylist()
