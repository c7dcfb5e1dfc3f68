"""Property tests for the dedup building blocks (hypothesis): vectorised kernels against
brute-force references, and reduce decisions independent of how rows are split into tasks."""
from __future__ import annotations

import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winnow.dedup._reduce import components_from, union
from winnow.dedup._text import ngram_hashes
from winnow.dedup.exact import ExactDedup
from winnow.dedup.minhash import MinhashDedup, bucket_edges, jaccard_pairs, unique_per_doc
from winnow.dedup.semantic import SemanticDedup

docs_strategy = st.lists(st.lists(st.integers(0, 6), max_size=12), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.integers(1, 5))
def test_ngram_hashes_match_bruteforce(docs, n):
    vals = np.array([v for d in docs for v in d], np.uint64)
    offsets = np.r_[0, np.cumsum([len(d) for d in docs])].astype(np.int64)
    sh, counts = ngram_hashes(vals, offsets, n)
    assert counts.tolist() == [max(len(d) - n + 1, 1) if d else 0 for d in docs]
    # equal windows ⇔ equal hashes (brute force over all shingles of the batch)
    windows = [tuple(d[i:i + n]) if len(d) >= n else tuple(d) for d in docs if d
               for i in range(max(len(d) - n + 1, 1))]
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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sets(st.integers(0, 30)), st.sets(st.integers(0, 30))), min_size=1, max_size=10))
def test_jaccard_pairs_exact(pairs):
    def flat(sets):
        vals = np.array([v for s in sets for v in sorted(s)], np.uint64)
        return vals, np.array([len(s) for s in sets], np.int64)

    av, ac = flat([a for a, _ in pairs])
    bv, bc = flat([b for _, b in pairs])
    got = jaccard_pairs(av, ac, bv, bc)
    for k, (a, b) in enumerate(pairs):
        expect = len(a & b) / len(a | b) if (a | b) else 1.0
        assert abs(got[k] - expect) < 1e-12


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
    sh = np.array([5, 3, 5, 1, 1, 9], np.uint64)
    vals, counts = unique_per_doc(sh, np.array([3, 0, 3]))
    assert vals.tolist() == [3, 5, 1, 9] and counts.tolist() == [2, 0, 2]


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


STEPS = [ExactDedup(), MinhashDedup(), MinhashDedup(clustering="components"), MinhashDedup(verify=False),
         SemanticDedup(n_clusters=3)]


def _decide(step, tables, tmp):
    os.makedirs(tmp, exist_ok=True)
    files = []
    for k, t in enumerate(tables):
        if t is None or t.num_rows == 0:
            files.append(None)
            continue
        f = os.path.join(tmp, f"keys{k}.parquet")
        # keys written batch by batch, as the runner does
        parts = [step.map(t.slice(s, 37)) for s in range(0, t.num_rows, 37)]
        pq.write_table(pa.concat_tables(parts), f)
        files.append(f)
    dec_dir = os.path.join(tmp, "dec")
    step.reduce(files, dec_dir)
    out = {}
    for k, t in enumerate(tables):
        if t is None or t.num_rows == 0:
            continue
        d = pq.read_table(os.path.join(dec_dir, f"{k:05d}.parquet"))
        assert d.num_rows == t.num_rows
        for i, r in zip(t.column("id").to_pylist(), d.to_pylist()):
            out[i] = tuple(sorted(r.items()))
    return out


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
