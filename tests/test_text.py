"""winnow.core.text: one module for tokenising, n-gram hashing and hashed features (issue 21).

The moves and merges must not change a single hash: the digests below were computed with the
code as it was before the consolidation (commit ed692c8: winnow.core.ngrams, curate/dedup/_text.py,
curate/filters/_text.py, select/features.py, quality/model.py, prove/proxy/classify.py) on the same texts.
"""

import hashlib
import random

import numpy as np
import pyarrow as pa
import pytest

from winnow.core.text import byte_tokens as bt
from winnow.core.text import features as ft
from winnow.core.text import normalized_words as nw
from winnow.core.text import spacy_words as sw
from winnow.core.text.hashing import GOLDEN, NGRAM_STEP, splitmix64

BEFORE = {
    "bt.whitespace": "f2d044a2a7cab35a",
    "bt.ngram3.whitespace": "c224506dd139b082",
    "bt.words": "bd68cfeb7c685178",
    "bt.ngram3.words": "aa1c84d4277e1f76",
    "bt.char4": "4a5a1270f2f0c56f",
    "nw.shingle.word": "4b00fd7a220f8a8b",
    "nw.shingle.char": "1b1ca402981c6783",
    "minhash.sig": "2a54112c23400b0e",
    "minhash.bands": "ec6becda9400b38d",
    "nw.word_token_hashes": "e02317f858742e9b",
    "nw.word_tokens": "6558d60e97a856b6",
    "nw.hash_strings": "60274e100f8635cf",
    "nw.hash128": "929f80ac2fb05657",
    "nw.ngram_hashes": "4b00fd7a220f8a8b",
    "sw.words": "6c78d0dd5ade6010",
    "sw.ngram_keys": "57b26548baf39115",
    "ft.featurizer": "5fc30b40f01c4417",
    "ft.dsir.xxhash": "e2de8fbbd1176f1b",
    "ft.dsir.sha256": "5fba5034cbb9f75b",
    "ft.sklearn": "2e0179316a6bd60a",
    "splitmix": "a70b8e408a641956",
}


def _texts():
    rng = random.Random(7)
    vocab = [
        "the",
        "cat",
        "sat",
        "on",
        "mat",
        "Don't",
        "U.S.",
        "e.g.",
        "naïve",
        "café",
        "２３",
        "—",
        "“quotes”",
        "…",
        "x-ray",
        "https://example.org/a?b=1",
        "#",
        "...",
        "1,000",
        "ÉCOLE",
        "ß",
        "中文",
        "😀",
        "\t",
        "\n",
        "\n\n",
        "-",
        "•",
    ]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 80))) for _ in range(40)]
    return texts + [texts[3] * 3, texts[5] + " tail", "", "a b", None]


def _d(*xs):
    h = hashlib.sha256()
    for x in xs:
        h.update(np.ascontiguousarray(np.asarray(x)).tobytes())
    return h.hexdigest()[:16]


def _digests():
    from winnow.curate.dedup.minhash import band_hashes, minhash_signatures, permutations

    texts = _texts()
    arr = pa.array(texts, pa.string())
    out = {}
    for mode in ("whitespace", "words"):
        t = bt.tokenize(arr, mode=mode)
        out[f"bt.{mode}"] = _d(t.doc, t.start, t.end, t.hash)
        out[f"bt.ngram3.{mode}"] = _d(*bt.ngram_hashes(t, 3))
    data, offs = bt.string_buffers(arr)
    out["bt.char4"] = _d(*bt.char_ngram_hashes(data, offs, bt.tokenize(arr), 4))
    for unit in ("word", "char"):
        out[f"nw.shingle.{unit}"] = _d(*nw.shingle_hashes(arr, ngram=5, unit=unit))
    sh, c = nw.shingle_hashes(arr, ngram=5)
    sig = minhash_signatures(sh, c, *permutations(112, 1))
    out["minhash.sig"] = _d(sig)
    out["minhash.bands"] = _d(band_hashes(sig, 14, 8))
    wh, wo = nw.word_token_hashes(arr)
    out["nw.word_token_hashes"] = _d(wh, wo)
    idx, vocab, o = nw.word_tokens(arr)
    out["nw.word_tokens"] = _d(idx, o, np.array(vocab.to_pylist(), dtype=object).astype(str))
    out["nw.hash_strings"] = _d(nw.hash_strings(arr))
    out["nw.hash128"] = _d(*nw.hash_strings_128(arr))
    out["nw.ngram_hashes"] = _d(*nw.ngram_hashes(wh, wo, 5))
    tv, doc = sw.flat(sw.words(sw.as_text(pa.table({"text": arr}))))
    out["sw.words"] = _d(np.array(tv.to_pylist(), dtype=str), doc)
    out["sw.ngram_keys"] = _d(*(h for h, _ in sw.iter_ngram_keys(sw.token_ids(tv), doc, 6)))
    X = ft.HashingFeaturizer(n_bits=16, word_ngrams=3, char_ngrams=(3, 5)).transform(texts[:-1])
    out["ft.featurizer"] = _d(X.indices, X.indptr, X.data)
    for kind in ("xxhash", "sha256"):
        F = ft.hashed_ngram_counts(texts[:-1], 1000, 3, kind)
        out[f"ft.dsir.{kind}"] = _d(F.indices, F.indptr, F.data)
    F = ft.hashed_text_features(texts[:-1], 1 << 12)
    out["ft.sklearn"] = _d(F.indices, F.indptr, F.data)
    out["splitmix"] = _d(splitmix64(np.arange(100, dtype=np.uint64)))
    return out


def test_hashes_and_tokens_unchanged_by_the_consolidation():
    assert _digests() == BEFORE


@pytest.mark.parametrize(
    "make",
    [
        lambda t: pa.array(t, pa.string()),
        lambda t: pa.array(t, pa.large_string()),
        lambda t: pa.array(t, pa.string()).slice(2, 5),
        lambda t: pa.chunked_array([t[:3], t[3:]]),
        lambda t: pa.array(t, pa.string()).dictionary_encode(),
    ],
)
def test_string_buffers_one_implementation_for_all_callers(make):
    # string_buffers replaced dedup's utf8_buffers/_string_slices: every row's bytes, nulls as ""
    texts = ["héllo", None, "", "wörld 中文", "x" * 100, "a\nb", None]
    arr = make(texts)
    data, offs = bt.string_buffers(arr)
    want = [v.as_py() or "" for v in (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr)]
    want = [w if isinstance(w, str) else "" for w in want]
    assert offs[0] == 0 and len(offs) == len(want) + 1
    assert [data[a:b].tobytes().decode() for a, b in zip(offs[:-1], offs[1:])] == want
    assert nw.hash_strings(arr).tolist() == nw.hash_strings(pa.array(want)).tolist()


def test_repetition_ngram_chain_is_the_former_inline_formula():
    # Gopher's candidate-shrinking loop and iter_ngram_keys now share ngram_key_seed/extend;
    # both were written out with the literal constants before
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, 300).astype(np.uint64)
    doc = np.repeat(np.arange(6), 50).astype(np.int64)
    h_old = splitmix64(doc.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    h_new = sw.ngram_key_seed(doc)
    assert GOLDEN == np.uint64(0x9E3779B97F4A7C15) and NGRAM_STEP == np.uint64(0x632BE59BD9B4E019)
    for h_it, k in sw.iter_ngram_keys(ids, doc, 4):
        m = len(ids) - k + 1
        with np.errstate(over="ignore"):
            h_old = splitmix64(h_old[:m] ^ (ids[k - 1 : k - 1 + m] + np.uint64(k) * np.uint64(0x632BE59BD9B4E019)))
        h_new = sw.ngram_key_extend(h_new[:m], ids[k - 1 : k - 1 + m], k)
        assert np.array_equal(h_old, h_new) and np.array_equal(h_it, h_new)
    # equal n-grams in one document share a key, across documents they do not
    k3 = sw.ngram_keys(np.array([1, 2, 3, 1, 2, 3, 1, 2, 3], np.uint64), np.array([0] * 6 + [1] * 3), 3)
    assert k3[0] == k3[3] and k3[0] != k3[6]
