"""winnow.curate.quality: hashing, the classifier on a real positive/negative split, persistence, the step,
the influence-distilled scorer and the CLI.

Real data only: positives = Python's own documentation (``pydoc_data.topics``), negatives = the
METADATA / LICENSE / RECORD files of the installed packages (README boilerplate, licence texts,
file hashes), both cut into chunks of 20-120 words.
"""

from __future__ import annotations

import doctest
import glob
import json
import os
import sysconfig

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winnow.core.text.byte_tokens import ngram_hashes, tokenize
from winnow.curate.quality.model import HashingFeaturizer, ModelFileError, QualityModel, roc_auc


def _chunks(text: str, lo: int = 20, hi: int = 120) -> list[str]:
    out, cur, n = [], [], 0
    for line in text.split("\n"):
        w = len(line.split())
        cur.append(line)
        n += w
        if n >= hi:
            out.append("\n".join(cur).strip())
            cur, n = [], 0
    if n >= lo:
        out.append("\n".join(cur).strip())
    return out


def _real_split():
    import pydoc_data.topics as topics

    pos = [c for k in sorted(topics.topics) for c in _chunks(topics.topics[k])]
    sp = sysconfig.get_paths()["purelib"]
    neg = []
    for f in sorted(glob.glob(os.path.join(sp, "*.dist-info", "*"))):
        b = os.path.basename(f)
        if os.path.isfile(f) and (b in ("METADATA", "RECORD") or b.startswith("LICENSE")):
            neg += _chunks(open(f, encoding="utf-8", errors="replace").read())
    rng = np.random.default_rng(0)
    pos = [pos[i] for i in rng.permutation(len(pos))][:600]
    neg = [neg[i] for i in rng.permutation(len(neg))][:600]
    return pos, neg


@pytest.fixture(scope="module")
def split():
    pos, neg = _real_split()
    assert len(pos) >= 300 and len(neg) >= 300, (len(pos), len(neg))
    k1, k0 = int(0.7 * len(pos)), int(0.7 * len(neg))
    return pos[:k1], neg[:k0], pos[k1:], neg[k0:]


@pytest.fixture(scope="module")
def model(split):
    ptr, ntr, _, _ = split
    return QualityModel.train_classifier(ptr, ntr, n_bits=18, seed=0)


# ------------------------------------------------------------------ hashing
def test_whitespace_tokens_match_python_split():
    import pydoc_data.topics as topics

    docs = [topics.topics[k] for k in sorted(topics.topics)[:40]] + ["", "   ", "x"]
    tok = tokenize(pa.array(docs), mode="whitespace")
    assert tok.counts.tolist() == [len(d.split()) for d in docs]
    # equal (lowercased) tokens get equal hashes and distinct tokens distinct hashes
    words = [w.lower() for d in docs for w in d.split()]
    by_word: dict[str, set] = {}
    for w, h in zip(words, tok.hash.tolist()):
        by_word.setdefault(w, set()).add(h)
    assert all(len(v) == 1 for v in by_word.values())
    assert len({next(iter(v)) for v in by_word.values()}) == len(by_word)
    # offsets point at the token text (ASCII docs: byte == char offsets)
    d0 = docs[0]
    assert [d0[s:e] for s, e in zip(tok.start[tok.doc == 0], tok.end[tok.doc == 0])] == d0.split()


def test_words_mode_normalises_punctuation_case_and_unicode_quotes():
    a = tokenize(pa.array(["Hello, “World”—it's  fine_ok\u00a0DONE"]), mode="words")
    b = tokenize(pa.array(["hello world it s fine_ok done"]), mode="words")
    assert a.hash.tolist() == b.hash.tolist()
    assert a.counts.tolist() == [6]


def test_ngrams_stay_inside_documents():
    docs = ["a b c d", "e f", "g", "", "h i j"]
    tok = tokenize(pa.array(docs), mode="whitespace")
    for n in (2, 3):
        idx, h = ngram_hashes(tok, n)
        assert len(idx) == sum(max(0, len(d.split()) - n + 1) for d in docs)
        assert (tok.doc[idx] == tok.doc[idx + n - 1]).all()
    # the same bigram in two documents hashes the same; a different one does not
    tok = tokenize(pa.array(["x y z", "q x y"]), mode="whitespace")
    idx, h = ngram_hashes(tok, 2)
    assert h[0] == h[3] and h[0] != h[1]


def test_featurizer_matches_sparse_matrix_scoring(model, split):
    _, _, pte, nte = split
    texts = pte[:50] + nte[:50]
    X = model.featurizer.transform(texts)
    direct = X @ model.weights.astype(np.float64) + model.bias
    assert np.allclose(direct, model.decision(texts), atol=1e-6)


# --------------------------------------------------------------- classifier
def test_classifier_heldout_auc_on_real_split(model, split):
    _, _, pte, nte = split
    s = model.score(pte + nte)
    auc = roc_auc(s, [1] * len(pte) + [0] * len(nte))
    assert auc > 0.97, auc
    # a unigram-only model is a different model, but also good on this split
    ptr, ntr, _, _ = split
    m1 = QualityModel.train_classifier(ptr[:150], ntr[:150], n_bits=16, word_ngrams=1, char_ngrams=(3, 4))
    assert roc_auc(m1.score(pte + nte), [1] * len(pte) + [0] * len(nte)) > 0.95


def test_roc_auc_against_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y + np.round(rng.normal(size=500))  # ties included
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_top_fraction_calibration(model, split):
    _, ntr, _, _ = split
    cut = model.threshold_for_top_fraction(0.1)
    frac = float((model.score(ntr) >= cut).mean())
    assert 0.07 <= frac <= 0.13, frac
    with pytest.raises(ValueError, match="top_fraction"):
        model.threshold_for_top_fraction(0)


# -------------------------------------------------------------- persistence
def test_save_load_roundtrip(model, split, tmp_path):
    _, _, pte, nte = split
    p = model.save(str(tmp_path / "m"))
    assert sorted(os.listdir(p)) == ["model.json", "weights.npy"]
    head = json.load(open(os.path.join(p, "model.json")))
    assert head["format_version"] == 1 and len(head["weights"]["sha256"]) == 64
    m2 = QualityModel.load(p)
    assert np.array_equal(m2.score(pte + nte), model.score(pte + nte))
    with pytest.raises(FileExistsError):
        model.save(p)


def test_corrupted_model_files_give_clear_errors(model, tmp_path):
    p = model.save(str(tmp_path / "m"))
    w = os.path.join(p, "weights.npy")
    raw = bytearray(open(w, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(w, "wb").write(raw)
    with pytest.raises(ModelFileError, match="weights.npy is corrupted"):
        QualityModel.load(p)
    # truncated JSON header
    p2 = model.save(str(tmp_path / "m2"))
    j = os.path.join(p2, "model.json")
    open(j, "w").write(open(j).read()[:100])
    with pytest.raises(ModelFileError, match="model.json is corrupted"):
        QualityModel.load(p2)
    # unknown version; missing weights
    p3 = model.save(str(tmp_path / "m3"))
    head = json.load(open(os.path.join(p3, "model.json")))
    head["format_version"] = 99
    json.dump(head, open(os.path.join(p3, "model.json"), "w"))
    with pytest.raises(ModelFileError, match="format_version 99"):
        QualityModel.load(p3)
    head["format_version"] = 1
    head["hashing"] = "something-else"
    json.dump(head, open(os.path.join(p3, "model.json"), "w"))
    with pytest.raises(ModelFileError, match="retrain"):
        QualityModel.load(p3)
    os.remove(os.path.join(model.save(str(tmp_path / "m4")), "weights.npy"))
    with pytest.raises(ModelFileError, match="missing"):
        QualityModel.load(str(tmp_path / "m4"))


def test_pickled_weights_are_refused_even_with_matching_checksum(model, tmp_path):
    import hashlib

    p = model.save(str(tmp_path / "m"))
    w = os.path.join(p, "weights.npy")
    np.save(w, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    head = json.load(open(os.path.join(p, "model.json")))
    head["weights"]["sha256"] = hashlib.sha256(open(w, "rb").read()).hexdigest()
    json.dump(head, open(os.path.join(p, "model.json"), "w"))
    with pytest.raises(ModelFileError, match="cannot read weights.npy"):
        QualityModel.load(p)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="n_bits"):
        HashingFeaturizer(n_bits=40)
    with pytest.raises(ValueError, match="char_ngrams"):
        HashingFeaturizer(char_ngrams=(5, 3))
    with pytest.raises(ValueError, match="positives"):
        QualityModel.train_classifier([], ["x"])


# ------------------------------------------------------------- pipeline step
def _write_jsonl(path, texts, prefix):
    with open(path, "w") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": f"{prefix}{i}", "text": t, "source": prefix}) + "\n")


def test_step_in_pipeline(model, split, tmp_path):
    from winnow.core.io.writers import read_dataset_table
    from winnow.core.pipeline.pipeline import Pipeline

    _, _, pte, nte = split
    _write_jsonl(tmp_path / "pos.jsonl", pte, "p")
    _write_jsonl(tmp_path / "neg.jsonl", nte, "n")
    mp = model.save(str(tmp_path / "m"))
    res = Pipeline([{"quality_classifier": {"model": mp, "threshold": 0.5}}]).run(
        str(tmp_path / "*.jsonl"), str(tmp_path / "run"), workers=1
    )
    kept = read_dataset_table(str(tmp_path / "run" / "data"), columns=["id", "quality_score"])
    rej = read_dataset_table(str(tmp_path / "run" / "rejects"), columns=["id", "reason", "quality_score"])
    assert kept.num_rows + rej.num_rows == len(pte) + len(nte)
    assert min(kept.column("quality_score").to_pylist()) >= 0.5
    assert set(rej.column("reason").to_pylist()) == {"quality_classifier:below_threshold"}
    kept_pos = sum(i.startswith("p") for i in kept.column("id").to_pylist())
    kept_neg = kept.num_rows - kept_pos
    assert kept_pos >= 0.9 * len(pte) and kept_neg <= 0.1 * len(nte)
    assert res.manifest["checks"]["ok"]
    # YAML-style config errors name the bad argument
    from winnow.core.pipeline.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="top_fraction|threshold"):
        Pipeline([{"quality_classifier": {"model": mp, "threshold": 0.5, "top_fraction": 0.1}}])


# ------------------------------------------------------- influence-distilled
def _alpha_frac(texts):
    """A real per-document score: fraction of whitespace tokens that are purely alphabetic."""
    return np.array([np.mean([w.isalpha() for w in t.split()]) if t.split() else 0.0 for t in texts])


def test_distilled_scorer_learns_a_score_column(split, tmp_path):
    from scipy.stats import spearmanr

    from winnow.curate.quality.train import train_distilled

    ptr, ntr, pte, nte = split
    texts = ptr + ntr + pte + nte
    ids = [f"d{i}" for i in range(len(texts))]
    pq.write_table(pa.table({"id": ids, "score": _alpha_frac(texts)}), tmp_path / "scores.parquet")
    tt = pa.table({"id": ids, "text": texts})
    m, rep = train_distilled(str(tmp_path / "scores.parquet"), tt, n_bits=18, test_frac=0.3, seed=0)
    assert m.kind == "regressor" and rep["n_joined"] == len(texts)
    assert rep["heldout_spearman"] > 0.6, rep
    # a score column on fresh texts, not seen in any form during training
    fresh = [t.upper() for t in pte[:100]]
    rho = spearmanr(m.score(fresh), _alpha_frac(fresh)).statistic
    assert rho > 0.5, rho
    # binarised (DCLM-style top fraction as positives)
    mb, repb = train_distilled(str(tmp_path / "scores.parquet"), tt, binarize=0.3, n_bits=18, test_frac=0.3)
    assert mb.kind == "classifier" and repb["heldout_spearman"] > 0.5, repb
    with pytest.raises(ValueError, match="column 'utility'"):
        train_distilled(str(tmp_path / "scores.parquet"), tt, score_column="utility")


# ---------------------------------------------------------------------- CLI
def test_cli_train_and_score(split, tmp_path):
    from typer.testing import CliRunner

    from winnow.cli import app
    from winnow.core.io.writers import read_dataset_table

    ptr, ntr, pte, nte = split
    _write_jsonl(tmp_path / "ref.jsonl", ptr, "r")
    _write_jsonl(tmp_path / "pool.jsonl", ntr + ptr[:20], "x")
    r = CliRunner().invoke(
        app,
        [
            "quality",
            "train",
            "--positives",
            str(tmp_path / "ref.jsonl"),
            "--negatives",
            str(tmp_path / "pool.jsonl"),
            "--out",
            str(tmp_path / "m"),
            "--n-bits",
            "16",
        ],
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)  # progress lines go to stderr
    assert rep["heldout_auc"] > 0.9
    os.makedirs(tmp_path / "in")
    _write_jsonl(tmp_path / "in" / "a.jsonl", pte + nte, "t")
    r = CliRunner().invoke(
        app,
        [
            "quality",
            "score",
            str(tmp_path / "in"),
            "--model",
            str(tmp_path / "m"),
            "--output",
            str(tmp_path / "run"),
            "--top-fraction",
            "0.5",
            "-w",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    kept = read_dataset_table(str(tmp_path / "run" / "data"), columns=["quality_score"])
    assert 0 < kept.num_rows < len(pte) + len(nte)
    # a corrupted model is a clean CLI error, not a traceback
    open(tmp_path / "m" / "model.json", "w").write("{")
    r = CliRunner().invoke(
        app,
        ["quality", "score", str(tmp_path / "in"), "--model", str(tmp_path / "m"), "--output", str(tmp_path / "run2")],
    )
    assert r.exit_code == 2 and "corrupted" in r.output


def test_doctests():
    import winnow.core.text.byte_tokens
    import winnow.curate.quality.model
    import winnow.curate.quality.step

    for mod in (winnow.core.text.byte_tokens, winnow.curate.quality.model, winnow.curate.quality.step):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


def test_scores_do_not_depend_on_batching_or_arrow_layout(model, split):
    _, _, pte, nte = split
    texts = pte[:40] + [None, "", "   \n"] + nte[:40]
    whole = model.score(pa.array(texts))
    sliced = model.score(pa.array(["x"] * 7 + texts).slice(7))
    chunked = model.score(pa.chunked_array([pa.array(texts[:10]), pa.array(texts[10:])]))
    large = model.score(pa.array(texts, pa.large_string()))
    one_by_one = np.array([model.score(pa.array([t]))[0] for t in texts])
    for other in (sliced, chunked, large, one_by_one):
        assert np.allclose(whole, other, atol=1e-9)
    assert whole[40] == whole[41] == whole[42]  # null, empty and whitespace-only: no features


def test_cli_train_distilled_from_scores_parquet(split, tmp_path):
    from typer.testing import CliRunner

    from winnow.cli import app

    ptr, ntr, _, _ = split
    texts = ptr[:200] + ntr[:200]
    _write_jsonl(tmp_path / "pool.jsonl", texts, "d")
    ids = [f"d{i}" for i in range(len(texts))]
    # scores for a subset of the pool only, plus ids that match nothing
    pq.write_table(
        pa.table({"doc_id": ids[::2] + ["nope1", "nope2"], "utility": list(_alpha_frac(texts[::2])) + [0.0, 1.0]}),
        tmp_path / "s.parquet",
    )
    r = CliRunner().invoke(
        app,
        [
            "quality",
            "train",
            "--scores",
            str(tmp_path / "s.parquet"),
            "--texts",
            str(tmp_path / "pool.jsonl"),
            "--id-column",
            "doc_id",
            "--score-column",
            "utility",
            "--out",
            str(tmp_path / "m"),
            "--n-bits",
            "16",
        ],
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["kind"] == "regressor" and rep["n_joined"] == 200 and rep["n_scores"] == 202
    assert rep["heldout_spearman"] > 0.4
    m = QualityModel.load(str(tmp_path / "m"))
    assert m.meta["distilled"] is True
    r = CliRunner().invoke(
        app, ["quality", "train", "--scores", str(tmp_path / "s.parquet"), "--out", str(tmp_path / "m2")]
    )
    assert r.exit_code == 2 and "--texts" in r.output
