"""The compiled Gopher repetition statistics against straightforward Python on real and adversarial text."""

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from winnow.core.text import spacy_words as T
from winnow.curate.filters.gopher import GopherRepetition


def _reference_ngrams(words: list[str], k: int) -> tuple[int, int]:
    """(chars of the most frequent k-gram x its count, chars of duplicated k-grams, greedy, no overlap)."""
    grams = [tuple(words[j : j + k]) for j in range(len(words) - k + 1)]
    if not grams:
        return 0, 0
    count, first = {}, {}
    for j, g in enumerate(grams):
        count[g] = count.get(g, 0) + 1
        first.setdefault(g, j)
    best = max(count.values())
    g = min((first[g], g) for g in count if count[g] == best)[1]
    top = (sum(len(w) for w in g) + k - 1) * best
    dup, i = 0, 0
    while i < len(grams):
        if first[grams[i]] < i:
            dup += sum(len(w) for w in grams[i])
            i += k
        else:
            i += 1
    return top, dup


def _reference_parts(parts: list[str]) -> tuple[int, int]:
    seen, n_rep, chars = set(), 0, 0
    for p in parts:
        if p in seen:
            n_rep += 1
            chars += len(p)
        seen.add(p)
    return n_rep, chars


def _texts() -> list[str]:
    from pydoc_data.topics import topics

    rng = random.Random(1)
    real = list(topics.values())[:120]
    vocab = ["the", "cat", "sat", "é", "中文", "🙂", "a-b", "don't", "...", "#"]
    adversarial = [
        "",
        " ",
        "\n\n\n",
        "word",
        "spam spam spam\nspam spam spam\nspam spam spam\neggs",
        "a b " * 30_000,  # one very long line of a repeated 2-gram
        "x" * 50_000,  # one very long word
        "Ünïcödé wörds, ÜNÏCÖDÉ wörds; ünïcödé wörds!\n\n" * 5,
        "\n".join(["same line"] * 40 + ["other line"] * 3),
    ]
    adversarial += [
        " ".join(rng.choice(vocab[: rng.randint(1, len(vocab))]) for _ in range(rng.randint(0, 300)))
        + rng.choice(["", "\n", "\n\n"])
        for _ in range(200)
    ]
    return real + adversarial


@pytest.fixture(scope="module")
def annotated():
    texts = _texts()
    return texts, GopherRepetition().annotate(pa.table({"text": texts}))


def test_ngram_statistics_match_reference(annotated):
    texts, t = annotated
    words = T.words(pa.array(texts)).to_pylist()
    for i, (text, w) in enumerate(zip(texts, words)):
        clen = len(text)
        for k in (2, 3, 4, 5, 6, 7, 8, 9, 10):
            top, dup = _reference_ngrams(w, k)
            if k <= 4:
                want = top / clen if clen else 0.0
                assert t.column(f"gopher_top_{k}_gram_frac")[i].as_py() == pytest.approx(want, abs=1e-12), (i, k)
            else:
                want = dup / clen if clen else 0.0
                assert t.column(f"gopher_dup_{k}_gram_frac")[i].as_py() == pytest.approx(want, abs=1e-12), (i, k)


def test_line_and_paragraph_statistics_match_reference(annotated):
    texts, t = annotated
    arr = pa.array(texts)
    for col, parts in (
        ("line", pc.split_pattern_regex(arr, r"\n+").to_pylist()),
        ("para", pc.split_pattern_regex(pc.utf8_trim_whitespace(arr), r"\n\n+").to_pylist()),
    ):
        for i, (text, ps) in enumerate(zip(texts, parts)):
            n_rep, chars = _reference_parts(ps)
            frac = n_rep / len(ps) if ps else 0.0
            assert t.column(f"gopher_dup_{col}_frac")[i].as_py() == pytest.approx(frac, abs=1e-12), (col, i)
            want = chars / len(text) if text else 0.0
            assert t.column(f"gopher_dup_{col}_char_frac")[i].as_py() == pytest.approx(want, abs=1e-12), (col, i)


def test_no_ngram_statistics_when_not_asked():
    s = GopherRepetition(top_n_grams={}, dup_n_grams={})
    t = s.annotate(pa.table({"text": ["a b a b a b"]}))
    assert not [c for c in t.column_names if "gram" in c]
    assert np.isfinite(t.column("gopher_dup_line_frac").to_numpy()).all()


def test_words_fast_path_matches_full_rules():
    """Chunks tokenised from their bytes give exactly what the full rules give on every chunk."""
    texts = _texts() + [
        "cannot Cannot CANNOT vs. vs Vs. e.g. U.S. a. ab. AB. aB. x,y word, word; word! word? word: 1990. 50% don't",
        "Mr. Smith met Dr. Who at 10. He said: no. It's 3.14, not 3. OK?! (yes) [no] end.\u2028next",
    ]
    _assert_words_equal_full_rules(texts)


def _assert_words_equal_full_rules(texts):
    ch, parents = T.whitespace_chunks(pa.array(texts))
    got = T.words_of_chunks(ch, parents, len(texts)).to_pylist()
    vals, chunk = T._chunk_tokens(ch)  # the full rules on every chunk
    assert (np.diff(chunk) >= 0).all()
    want = [[] for _ in texts]
    for v, d in zip(vals.to_pylist(), parents[chunk]):
        want[d].append(v)
    assert got == want


def test_words_of_repeated_hard_chunks_in_every_place():
    """The full rules run once per distinct hard chunk; every occurrence (first, last, in
    another document, next to simple chunks or to other hard ones) still gets its own tokens."""
    hard = [">>>", "don't", "a.m.", "(see", "x-ray", "e.g.", "--", "U.S.", "it's)", "...", ":-)", "50%"]
    rng = np.random.default_rng(5)
    texts = []
    for _ in range(40):
        k = int(rng.integers(0, 12))
        words = [hard[i] if rng.random() < 0.6 else f"w{i}" for i in rng.integers(0, len(hard), k)]
        texts.append(" ".join(words))
    texts += ["", ">>> >>> >>>", "don't don't", "plain words only"]
    _assert_words_equal_full_rules(texts)
