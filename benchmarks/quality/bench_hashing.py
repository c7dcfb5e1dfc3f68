"""Token hashing: winnow's vectorised numpy hashing vs per-token Python (str.split + xxhash) and
Arrow split + dictionary encoding + xxhash of the distinct tokens.

    benchmarks/.venv-quality/bin/python benchmarks/quality/bench_hashing.py

Corpus: the classifier benchmark's documents (Python docs, Debian docs, fortunes, jargon,
site-packages metadata). Lowercased whitespace tokens, 64-bit hash each; CPU-seconds, 1 thread.
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "src"), HERE]

import corpus  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import xxhash  # noqa: E402

from winnow.core.text.byte_tokens import tokenize  # noqa: E402


def cpu(fn, reps=3):
    best = 1e9
    for _ in range(reps):
        c0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - c0)
    return best, out


def py_xxhash(texts):
    h = xxhash.xxh64_intdigest
    return np.fromiter((h(w.encode()) for t in texts for w in t.lower().split()), dtype=np.uint64)


def py_uni_bigram_features(texts, bits=20):
    """Per-document Python featuriser: lowercase split, xxh64 of every unigram and bigram."""
    h = xxhash.xxh64_intdigest
    shift = 64 - bits
    docs, feats = [], []
    for i, t in enumerate(texts):
        w = t.lower().split()
        f = [h(x.encode()) >> shift for x in w] + [h((a + " " + b).encode()) >> shift for a, b in zip(w, w[1:])]
        feats.extend(f)
        docs.extend([i] * len(f))
    return np.array(docs), np.array(feats)


def arrow_dict_xxhash(arr):
    toks = pc.list_flatten(pc.utf8_split_whitespace(pc.utf8_lower(arr)))
    enc = (
        pc.dictionary_encode(toks).combine_chunks() if isinstance(toks, pa.ChunkedArray) else pc.dictionary_encode(toks)
    )
    h = xxhash.xxh64_intdigest
    uh = np.fromiter((h(w.encode()) for w in enc.dictionary.to_pylist()), dtype=np.uint64)
    return uh[enc.indices.to_numpy()]


def main():
    texts = [t for _, t in corpus.positives() + corpus.negatives()]
    arr = pa.array(texts)
    mb = arr.nbytes / 1e6
    rows = []
    t, tok = cpu(lambda: tokenize(arr, mode="whitespace"))
    rows.append(("winnow numpy (ngrams.tokenize)", t, len(tok.hash)))
    t, h = cpu(lambda: py_xxhash(texts))
    rows.append(("Python str.split + xxh64 per token", t, len(h)))
    t, h = cpu(lambda: arrow_dict_xxhash(arr))
    rows.append(("Arrow split + dictionary + xxh64 uniques", t, len(h)))
    from winnow.curate.quality.model import HashingFeaturizer

    fz = HashingFeaturizer(n_bits=20, word_ngrams=2)
    t, p = cpu(lambda: fz.pairs(arr))
    rows.append(("winnow featuriser: uni+bigram feature ids", t, len(p[1])))
    t, p = cpu(lambda: py_uni_bigram_features(texts))
    rows.append(("Python featuriser: split + xxh64 uni+bigrams", t, len(p[1])))
    print(f"{len(texts):,} docs, {mb:.1f} MB")
    print(f"{'method':<46}{'CPU s':>8}{'MB/CPU-s':>10}{'hashes':>11}")
    for name, t, n in rows:
        print(f"{name:<46}{t:>8.3f}{mb / t:>10.1f}{n:>11,}")


if __name__ == "__main__":
    main()
