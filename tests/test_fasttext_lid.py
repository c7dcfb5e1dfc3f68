"""winnow's compiled fastText inference against the fastText library (same model file)."""

import random

import numpy as np
import pyarrow as pa
import pytest

fasttext = pytest.importorskip("fasttext")

from winnow.core.text.fasttext_lid import FastTextModel  # noqa: E402
from winnow.curate.filters.language import Language, fasttext_lid176_path  # noqa: E402

_FOLD = str.maketrans({c: " " for c in "\n\r\x0b\x0c\x85\u2028\u2029"})


@pytest.fixture(scope="module")
def models():
    path = fasttext_lid176_path()
    return FastTextModel.load(path), fasttext.load_model(path).f


def _reference(ft, texts):
    out = [ft.predict(t.translate(_FOLD) + "\n", 1, 0.0, "replace") for t in texts]
    return [r[0][1][9:] for r in out], np.array([r[0][0] for r in out])


def _check(models, texts):
    ours, ft = models
    labels, probs = ours.predict(pa.array(texts, pa.string()))
    ref_labels, ref_probs = _reference(ft, texts)
    assert labels == ref_labels
    np.testing.assert_allclose(probs, ref_probs, rtol=0, atol=2e-6)


def test_real_text(models):
    from pydoc_data.topics import topics

    texts = list(topics.values())  # the Python reference manual, one document per topic
    _check(models, texts)
    # and as paragraphs (short documents, many languages' n-grams collide with English ones)
    paras = [p for t in texts for p in t.split("\n\n") if p.strip()][:3000]
    _check(models, paras)


def test_adversarial_text(models):
    rng = random.Random(0)
    alphabet = "aé ß\tЖж中文🙂\x00\u2028\x85__label__x\u00a0-.,'\""
    alphabet += "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(60))
    texts = [
        "x",
        "__label__en",
        "__label__en hello world",
        "the " * 20000,  # one very long line
        "a" * 100_000,  # one very long token
        "Привет, как дела? Это русский текст.",
        "これは日本語の文です。",
        "مرحبا بالعالم",
        "tab\tseparated\0nul\x0bvt\x0cff\rcr",
        "line\u2028separator\u2029para\x85nel",
        "🙂" * 50,
    ] + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400))) for _ in range(300)]
    _check(models, texts)


def test_language_step_blank_and_null_rows():
    s = Language(languages=["en"])
    en = "The cat sat on the mat and looked out of the window."
    t = s.annotate(pa.table({"text": ["", "  \n\t\u3000", None, en]}))
    assert t.column("lang").to_pylist()[:3] == ["und"] * 3
    assert t.column("lang_score").to_pylist()[:3] == [0.0] * 3
    assert t.column("lang").to_pylist()[3] == "en"


def test_language_step_needs_no_rewrite_of_line_breaks():
    """The step hands text with line breaks straight to the kernel: the same labels and exactly
    the same scores as on the text with every break replaced by a space (what datatrove feeds)."""
    rng = random.Random(1)
    words = ["the", "cat", "Haus", "und", "maison", "le", "中文", "🙂", "x"]
    texts = [
        "".join(
            rng.choice(words) + rng.choice([" ", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\n\n"])
            for _ in range(rng.randrange(1, 40))
        )
        for _ in range(300)
    ]
    s = Language(languages=["en"])
    got = s.annotate(pa.table({"text": texts}))
    want = s.annotate(pa.table({"text": [t.translate(_FOLD) for t in texts]}))
    assert got.column("lang").to_pylist() == want.column("lang").to_pylist()
    assert got.column("lang_score").to_pylist() == want.column("lang_score").to_pylist()
