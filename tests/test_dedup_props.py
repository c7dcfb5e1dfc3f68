"""Property tests for the dedup building blocks (hypothesis): vectorised kernels against
brute-force references, and reduce decisions independent of how rows are split into tasks."""

from __future__ import annotations

import os
import random

import numpy as np
import pyarrow as pa
import pytest
from conftest import reduce_decisions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winnow.core.text.normalized_words import ngram_hashes
from winnow.curate.dedup._reduce import components_from, union
from winnow.curate.dedup.exact import ExactDedup
from winnow.curate.dedup.minhash import (
    MinhashDedup,
    bucket_edges,
    centre_rounds,
    component_roots,
    intersect_sizes,
    unique_per_doc,
)
from winnow.curate.dedup.semantic import SemanticDedup

docs_strategy = st.lists(st.lists(st.integers(0, 6), max_size=12), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.integers(1, 5))
def test_ngram_hashes_match_bruteforce(docs, n):
    vals = np.array([v for d in docs for v in d], np.uint64)
    offsets = np.r_[0, np.cumsum([len(d) for d in docs])].astype(np.int64)
    sh, counts = ngram_hashes(vals, offsets, n)
    assert counts.tolist() == [max(len(d) - n + 1, 1) if d else 0 for d in docs]
    # equal windows ⇔ equal hashes (brute force over all shingles of the batch)
    windows = [
        tuple(d[i : i + n]) if len(d) >= n else tuple(d) for d in docs if d for i in range(max(len(d) - n + 1, 1))
    ]
    assert len(windows) == len(sh)
    for a in range(len(windows)):
        for b in range(len(windows)):
            assert (windows[a] == windows[b]) == (sh[a] == sh[b])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=60))
def test_union_find_matches_scipy_components(n, edges):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = [(a % n, b % n) for a, b in edges]
    parent = np.arange(n)
    u = np.array([a for a, _ in edges], np.int64)
    v = np.array([b for _, b in edges], np.int64)
    union(parent, u, v)
    root, size = components_from(parent)
    g = coo_matrix((np.ones(len(edges)), (u, v)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    for a in range(n):
        for b in range(n):
            assert (root[a] == root[b]) == (lab[a] == lab[b])
    # root = smallest member
    for a in range(n):
        assert root[a] == min(x for x in range(n) if lab[x] == lab[a])
    assert size.tolist() == [int((lab == lab[a]).sum()) for a in range(n)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 30)), max_size=40))
def test_bucket_edges_link_each_bucket_to_its_smallest_node(items):
    h = np.array([x for x, _ in items], np.uint64)
    node = np.arange(len(items), dtype=np.int64)[::-1].copy()
    u, v = bucket_edges(h, node)
    for hv in set(h.tolist()):
        members = sorted(node[h == hv].tolist())
        got = sorted(zip(u.tolist(), v.tolist()))
        assert [(a, b) for a, b in got if a in members] == [(members[0], m) for m in members[1:]]


def test_unique_per_doc():
    # values are 64-bit hashes; the result keeps their top 40 bits (low 24 cleared)
    x = [v << 24 for v in (5, 3, 5, 1, 1, 9)]
    sh = np.array(x, np.uint64) | np.uint64(0xABC)  # low bits are dropped
    vals, counts = unique_per_doc(sh, np.array([3, 0, 3]))
    assert vals.tolist() == [3 << 24, 5 << 24, 1 << 24, 9 << 24] and counts.tolist() == [2, 0, 2]
    # against a Python reference on random hashes and many documents
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30, 500)
    base = rng.integers(0, 2**63, 40, dtype=np.uint64) * np.uint64(2)
    sh = base[rng.integers(0, 40, int(counts.sum()))]
    vals, nc = unique_per_doc(sh, counts)
    offs = np.r_[0, np.cumsum(counts)]
    ref = [sorted({int(v) >> 24 << 24 for v in sh[a:b]}) for a, b in zip(offs[:-1], offs[1:])]
    assert nc.tolist() == [len(r) for r in ref]
    assert vals.tolist() == [v for r in ref for v in r]


# ------------------------------------------------------------- split independence of reduce
@pytest.fixture(scope="module")
def rows(real_docs):
    rng = random.Random(3)
    base = [d for d in real_docs if len(d["text"].split()) >= 20][:150]
    out = list(base)
    for k in range(60):
        d = rng.choice(base)
        words = d["text"].split(" ")
        text = d["text"] if k % 2 else " ".join(w for w in words if rng.random() > 0.05)
        out.append({"id": f"v{k:03d}", "text": text})
    rng.shuffle(out)
    return pa.table({"id": [r["id"] for r in out], "text": [r["text"] for r in out]})


STEPS = [
    ExactDedup(),
    MinhashDedup(),
    MinhashDedup(clustering="components"),
    MinhashDedup(verify=False),
    SemanticDedup(n_clusters=3),
]


def _decide(step, tables, tmp):
    return reduce_decisions(step, tables, tmp, batch_rows=37)


@pytest.fixture(scope="module")
def baselines(rows, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("base")
    return [_decide(s, [rows], str(tmp / str(k))) for k, s in enumerate(STEPS)]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_reduce_independent_of_shard_split(rows, baselines, tmp_path, rnd, k):
    perm = list(range(rows.num_rows))
    rnd.shuffle(perm)
    cuts = sorted(rnd.randint(0, rows.num_rows) for _ in range(k - 1))
    bounds = [0] + cuts + [rows.num_rows]
    tables = [rows.take(pa.array(perm[a:b], pa.int64())) if b > a else None for a, b in zip(bounds[:-1], bounds[1:])]
    for s, (step, base) in enumerate(zip(STEPS, baselines)):
        got = _decide(step, tables, str(tmp_path / f"s{s}-{rnd.random()}"))
        assert got == base, f"{step.name} ({step}) depends on the shard split"
    n_dup = sum(1 for r in baselines[1].values() if dict(r)["reason"])
    assert n_dup >= 30


@pytest.mark.parametrize("max_bucket_rows", [4_000_000, 50])
def test_centre_batches_do_not_change_decisions(rows, baselines, tmp_path, max_bucket_rows):
    """Small verification batches and many bucket partitions (bounded memory) give exactly
    the one-batch, one-partition decisions."""
    step = MinhashDedup(verify_block=300, max_bucket_rows=max_bucket_rows)
    got = _decide(step, [rows.slice(0, 100), rows.slice(100)], str(tmp_path / "b"))
    assert step.last_stats["batches"] > 3
    assert got == baselines[1]


def _sequential_centres(K, B, m, sets, thr):
    """The reference rule, one node at a time (sets: list of Python sets or None)."""
    buckets_of = [set() for _ in range(m)]
    for k, b in zip(K.tolist(), B.tolist()):
        buckets_of[k].add(b)
    centres_in: dict = {}
    found = [-1] * m
    for k in range(m):
        cs = sorted({c for b in buckets_of[k] for c in centres_in.get(b, [])})
        for c in cs:
            if sets is None:
                found[k] = c
                break
            a, o = sets[k], sets[c]
            if min(len(a), len(o)) < thr * max(len(a), len(o)):
                continue
            inter = len(a & o)
            if inter >= thr * (len(a) + len(o) - inter):
                found[k] = c
                break
        if found[k] < 0:
            for b in buckets_of[k]:
                centres_in.setdefault(b, []).append(k)
    return found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_centre_rounds_equals_sequential_rule(seed):
    K, B, m, sets, vals, offs = _template_case(seed)
    for thr in (0.5, 0.8):
        found, rounds, _ = centre_rounds(K, B, m, vals, offs, thr)
        assert found.tolist() == _sequential_centres(K, B, m, sets, thr)
        assert (found >= 0).sum() > 50  # the case is not trivial
    found, _, _ = centre_rounds(K, B, m, None, None, 0.8)
    assert found.tolist() == _sequential_centres(K, B, m, None, 0.8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_component_roots_equal_scipy_components_of_verified_links(seed):
    """FineWeb-style clustering of a batch: links member → smallest node of each bucket, kept
    when the exact Python-set Jaccard is ≥ t; roots = smallest node of each scipy component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    K, B, m, sets, vals, offs = _template_case(seed)
    for thr in (0.5, 0.8, None):
        links = set()
        for b in set(B.tolist()):
            members = sorted(set(K[B == b].tolist()))
            links |= {(members[0], x) for x in members[1:]}
        if thr is not None:
            links = {(a, c) for a, c in links if len(sets[a] & sets[c]) >= thr * len(sets[a] | sets[c])}
        u = np.array([a for a, _ in links], np.int64)
        v = np.array([c for _, c in links], np.int64)
        _, lab = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(m, m)), directed=False)
        want = [min(x for x in range(m) if lab[x] == lab[k]) for k in range(m)]
        root, tested, n_links = component_roots(
            K, B, m, None if thr is None else vals, None if thr is None else offs, thr or 0.0
        )
        assert root.tolist() == want
        assert (root != np.arange(m)).sum() > 50  # not trivial


def _template_case(seed):
    rng = np.random.default_rng(seed)
    m = 400
    # documents = noisy copies of a few templates; buckets = random groups biased to templates
    templates = [rng.choice(10_000, 60, replace=False) for _ in range(12)]
    tmpl = rng.integers(0, 12, m)
    sets = []
    for t in tmpl.tolist():
        keep = templates[t][rng.random(60) > rng.uniform(0, 0.4)]
        sets.append(set((keep.astype(np.uint64) << np.uint64(24)).tolist()) | {int(rng.integers(1, 2**30)) << 24})
    K, B = [], []
    for k in range(m):
        for j in range(4):
            b = int(tmpl[k]) * 10 + int(rng.integers(0, 3)) if rng.random() < 0.8 else 1000 + int(rng.integers(0, 50))
            K.append(k)
            B.append(b * 4 + j)
    K, B = np.array(K), np.array(B)
    vals, counts = unique_per_doc(
        np.array([v for s_ in sets for v in s_], np.uint64), np.array([len(s_) for s_ in sets])
    )
    offs = np.r_[0, np.cumsum(counts)]
    return K, B, m, sets, vals, offs


def test_intersect_sizes_matches_sets():
    rng = np.random.default_rng(5)
    sets = [
        set((rng.choice(300, rng.integers(0, 80), replace=False).astype(np.uint64) << np.uint64(24)).tolist())
        for _ in range(60)
    ]
    vals, counts = unique_per_doc(
        np.array([v for s_ in sets for v in s_], np.uint64), np.array([len(s_) for s_ in sets])
    )
    offs = np.r_[0, np.cumsum(counts)]
    a, b = rng.integers(0, 60, 500), rng.integers(0, 60, 500)
    got = intersect_sizes(vals, offs, a, b)
    assert got.tolist() == [len(sets[i] & sets[j]) for i, j in zip(a.tolist(), b.tolist())]


# ------------------------------------------------ compiled kernels against their references
_ALPHABET = st.sampled_from(
    list("abcXYZ019 \t\n.,;-_'\"()/$+~")
    + ["é", "ß", "ﬁ", "Ａ", "١", "\u00a0", "\u2003", "—", "’", "«", "\x00", "\x1f", "\x7f", "中", "😀"]
    # characters NFKC joins with a neighbour or maps to digits / several letters, case oddities
    + ["\u0301", "\u0653", "ا", "Σ", "ς", "²", "１", "ᄀ", "ᅡ", "가", "\u3099", "ｶ", "ﾞ", "İ", "\u00ad", "Ω", "ǅ"]
    + ["㎏", "①"]
)
_PLANE = st.characters(min_codepoint=0x80, max_codepoint=0xFFFF, exclude_categories=["Cs"])
# realistic words: long ASCII runs (the word pass hashes them in a tight loop of their own) that
# end at a separator, at the end of the text or at a non-ASCII letter inside the same word
_WORDS = st.lists(
    st.one_of(
        st.text("abcdefghijklmnopqrstuvwxyzQWXZ", min_size=1, max_size=30),
        st.sampled_from(
            ["internationalization", "straße", "Café", "naïveté", "Ｌｏｎｇword", "x😀y", "ab1234cd", "12ab34", "v1x2"]
        ),
    ),
    max_size=12,
).flatmap(lambda ws: st.sampled_from([" ", "\n", ", ", "—", "-"]).map(lambda sep: sep.join(ws)))
texts_strategy = st.lists(
    st.one_of(st.none(), st.text(_ALPHABET, max_size=40), st.text(st.one_of(_ALPHABET, _PLANE), max_size=40), _WORDS),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(texts_strategy)
def test_word_token_hashes_equal_the_arrow_reference(texts):
    """The compiled byte-level tokenizer gives exactly the words of the all-Arrow reference
    (punctuation/symbol split, Unicode whitespace, NFKC, lower-case, digit runs → 0) with the
    same hashes, whether a word is ASCII (compiled path) or not (Arrow path)."""
    from winnow.core.text.normalized_words import hash_words, word_token_hashes, word_tokens

    arr = pa.array(texts, pa.string())
    h, off = word_token_hashes(arr, seed=3)
    idx, vocab, ref_off = word_tokens(arr)
    ref = hash_words(vocab, seed=3)[idx] if len(idx) else np.zeros(0, np.uint64)
    assert off.tolist() == ref_off.tolist()
    assert h.tolist() == ref.tolist()


@pytest.mark.parametrize(
    "texts",
    [
        ["a\u0301b c d\u0301", "x", "y\u0653z"],  # every placeholder one word: written in place
        ["ab😀cd e", "😀", "f\u0301 g", "", "h"],  # two words, none, one: the expanded copy
        ["😀 😀", "q", "😀"],  # placeholders that vanish at the ends of documents
        ["a 😀 b", "c\u0301d 😀", "😀", "e f", "😀 g\u0301 😀 h"],  # none and one word only: closed up in place
        ["😀"],  # nothing left at all
    ],
)
def test_placeholder_words_in_place_and_expanded(texts):
    from winnow.core.text.normalized_words import hash_words, word_token_hashes, word_tokens

    arr = pa.array(texts, pa.string())
    h, off = word_token_hashes(arr, seed=1)
    idx, vocab, ref_off = word_tokens(arr)
    ref = hash_words(vocab, seed=1)[idx] if len(idx) else np.zeros(0, np.uint64)
    assert off.tolist() == ref_off.tolist() and h.tolist() == ref.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0, 1, 2047, 2048, 2**33 + 5, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1), max_size=300)
)
def test_argsort_u64_is_numpys_stable_argsort(keys):
    from winnow.core.text.kernels import argsort_u64

    x = np.array(keys, np.uint64)
    assert argsort_u64(x).tolist() == np.argsort(x, kind="stable").tolist()


def test_word_chars_table_is_the_reference_and_the_cache_is_fresh():
    """The cached character table equals one built now from the reference (a stale or damaged
    cache would change words), and it classes the characters the pass relies on."""
    from winnow.core.text import word_chars

    built = word_chars.build()
    for got, want in zip(word_chars.table(), built):
        assert got.tolist() == want.tolist()
    kind, lens, pool = built
    assert kind[ord("’")] == kind[ord("\u00a0")] == word_chars.SEPARATOR
    assert kind[ord("\u0301")] == kind[ord("ᅡ")] == kind[ord("²")] == word_chars.OTHER  # mark, jamo, digit
    k = int(kind[ord("Ж")])
    assert bytes(pool[k : k + int(lens[ord("Ж")])]).decode() == "ж"
    assert (kind >= 0).sum() > 40_000  # most of the plane takes the compiled path


def test_word_chars_cache_is_built_saved_and_a_damaged_file_rebuilt(tmp_path, monkeypatch):
    """First use builds the table and saves it; the next process loads it; a damaged file is
    rebuilt, not trusted."""
    from winnow.core.text import word_chars

    path = str(tmp_path / "word_chars.npz")
    monkeypatch.setattr(word_chars, "_cache_path", lambda: path)
    monkeypatch.setattr(word_chars, "_TABLE", [])
    built = word_chars.table()
    assert os.path.exists(path)
    assert all((x == y).all() for x, y in zip(word_chars._load(path), built))
    np.savez(path, kind=built[0][:10], lens=built[1], pool=built[2])  # wrong shape
    assert word_chars._load(path) is None
    monkeypatch.setattr(word_chars, "_TABLE", [])
    assert all((x == y).all() for x, y in zip(word_chars.table(), built))
    assert word_chars._load(path) is not None  # rewritten


def test_word_hash_is_the_same_on_both_paths_and_normalises():
    from winnow.core.text.normalized_words import word_token_hashes

    h, off = word_token_hashes(pa.array(["Hello WORLD 1234 x", "hello world 7 x é", "HELLO… world 0 X"]))
    d = [h[off[i] : off[i + 1]].tolist() for i in range(3)]
    assert d[0] == d[1][:4] == d[2]  # case, digit runs, Unicode punctuation (… is \p{P})
    assert len(set(d[0])) == 4


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.integers(1, 5))
def test_ngram_kernel_equals_numpy_reference(docs, n):
    from winnow.core.text.kernels import ngram_shingles

    vals = np.array([v * 0x9E3779B97F4A7C15 % 2**64 for d in docs for v in d], np.uint64)
    offsets = np.r_[0, np.cumsum([len(d) for d in docs])].astype(np.int64)
    a, ca = ngram_hashes(vals, offsets, n)
    b, cb = ngram_shingles(vals, offsets, n)
    assert ca.tolist() == cb.tolist() and a.tolist() == b.tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=20), min_size=1, max_size=6), st.integers(1, 9))
def test_minhash_kernel_equals_bruteforce(docs, k):
    from winnow.curate.dedup.minhash import minhash_signatures, permutations

    a, b = permutations(k, 7)
    sh = np.array([x for d in docs for x in d], np.uint64)
    counts = np.array([len(d) for d in docs], np.int64)
    sig = minhash_signatures(sh, counts, a, b)
    M = 2**64
    for i, d in enumerate(docs):
        for j in range(k):
            want = min(((int(a[j]) * x + int(b[j])) % M for x in d), default=M - 1) >> 32
            assert int(sig[i, j]) == want


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sets(st.integers(0, 400), max_size=300), st.sets(st.integers(0, 400), max_size=300)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.9, 1.0]),
)
def test_jaccard_at_least_equals_exact_test(pairs, thr):
    """The early-exit merge gives exactly ``inter ≥ thr·(|A|+|B|−inter)`` on the full intersection."""
    from winnow.core.text.kernels import intersect_sorted, jaccard_at_least

    sets = [s_ for p in pairs for s_ in p]
    vals = np.array([v for s_ in sets for v in sorted(s_)], np.uint64)
    offs = np.r_[0, np.cumsum([len(s_) for s_ in sets])].astype(np.int64)
    a = np.arange(0, len(sets), 2)
    b = a + 1
    inter = intersect_sorted(vals, offs, a, b)
    assert inter.tolist() == [len(x & y) for x, y in pairs]
    la, lb = np.diff(offs)[a], np.diff(offs)[b]
    want = (inter >= thr * (la + lb - inter)).tolist()
    assert jaccard_at_least(vals, offs, a, b, thr).tolist() == want
    assert jaccard_at_least(vals.astype(np.uint32), offs, a, b, thr).tolist() == want  # the reduce's 32-bit sets


@pytest.mark.parametrize("thr", [0.5, 0.7, 0.8, 0.9])
def test_jaccard_at_least_at_the_boundary(thr):
    """Pairs whose intersection is the smallest passing count, or one less, for set sizes
    around the kernel's 16-step blocks and its four quarters (4 × 16), with the shared and
    private elements interleaved, leading or trailing (where the early exits decide): the
    answer equals the exact test."""
    from winnow.core.text.kernels import jaccard_at_least

    rng = np.random.default_rng(int(thr * 10))
    sets, want = [], []
    for la in (1, 2, 3, 4, 5, 15, 16, 17, 33, 63, 64, 65, 100, 257):
        for lb in (la, la + 1, int(la / thr)):
            for dc in (0, -1):
                c = next((c for c in range(min(la, lb) + 1) if c >= thr * (la + lb - c)), min(la, lb)) + dc
                if c < 0:
                    continue
                for layout in ("random", "shared_first", "shared_last"):
                    pool = rng.choice(10_000, la + lb - c, replace=False)
                    if layout != "random":
                        pool = np.sort(pool)
                        if layout == "shared_last":
                            pool = pool[::-1]
                    shared, ra, rb = pool[:c], pool[c:la], pool[la:]
                    sets += [np.sort(np.r_[shared, ra]), np.sort(np.r_[shared, rb])]
                    want.append(c >= thr * (la + lb - c))
    vals = np.concatenate(sets).astype(np.uint32)
    offs = np.r_[0, np.cumsum([len(x) for x in sets])]
    a = np.arange(0, len(sets), 2)
    assert jaccard_at_least(vals, offs, a, a + 1, thr).tolist() == want
    assert any(want) and not all(want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sort_unique_u32_equals_numpy_per_document(seed):
    """The route phase's per-document radix sort: sorted distinct values of each document,
    equal to ``np.unique`` per slice, for empty, short (insertion sort) and long documents."""
    from winnow.core.text.kernels import sort_unique_u32

    rng = np.random.default_rng(seed)
    counts = rng.choice([0, 1, 5, 31, 32, 33, 500, 1024, 1025, 3000], size=60)
    vals = rng.integers(0, 2**32, int(counts.sum()), dtype=np.uint64).astype(np.uint32)
    vals[1::3] = vals[: len(vals[1::3])] if rng.random() < 0.5 else vals[1::3] >> np.uint32(20)  # repeats
    got, got_counts = sort_unique_u32(vals, counts)
    offs = np.r_[0, np.cumsum(counts)]
    want = [np.unique(vals[a:b]) for a, b in zip(offs[:-1], offs[1:])]
    assert got_counts.tolist() == [len(w) for w in want]
    assert got.tolist() == np.concatenate(want).tolist()
