"""Partitioned reduces (issue 23): every global step's decisions are identical for 1, 2, 3, 4
and 8 partitions and any split of the rows into tasks, equal a brute-force single pass (exact
dedup; MinHash centre clustering visited in id order over the LSH buckets, with exact Jaccard,
and the default correlation clustering against a plain-Python search from those centres),
and a pipeline whose reduce runs on a process pool, or is interrupted and resumed, writes what
a one-process run writes; the manifest records the reduce's tasks."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow as pa
import pytest
from conftest import reduce_decisions, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winnow import Length, Pipeline
from winnow.core.executors.local import LocalExecutor
from winnow.core.pipeline.reduce import ReduceTask
from winnow.curate.dedup.exact import ExactDedup
from winnow.curate.dedup.minhash import MinhashDedup
from winnow.curate.dedup.semantic import SemanticDedup

PARTITIONS = [1, 2, 3, 4, 8]


def _corpus(seed: int = 0) -> pa.Table:
    """Many duplicates: exact copies, and chains of one-word edits (each link Jaccard ≈ 0.9, the
    ends of a chain far below 0.8, so centre clustering and connected components differ), plus
    unrelated documents; ids are shuffled against the chain order."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(3000)]
    texts = []
    for _ in range(30):
        words = [rng.choice(vocab) for _ in range(100)]
        for _ in range(6):
            texts.append(" ".join(words))
            words = list(words)
            words[rng.randrange(100)] = rng.choice(vocab)
        texts += [texts[-1]] * rng.randint(0, 2)  # exact copies
    texts += [" ".join(rng.choice(vocab) for _ in range(80)) for _ in range(40)]
    texts += ["", "short"]
    ids = [f"d{rng.randrange(10**9):09d}-{k}" for k in range(len(texts))]
    order = list(range(len(texts)))
    rng.shuffle(order)
    return pa.table({"id": [ids[k] for k in order], "text": [texts[k] for k in order]})


STEPS = {
    "exact": ExactDedup(),
    "minhash-centre": MinhashDedup(clustering="center"),
    "minhash-correlation": MinhashDedup(),
    # every group of more than one bucket pair keeps its centres (the all-pairs cap)
    "minhash-correlation-capped": MinhashDedup(refine_max_pairs=1),
    "minhash-components": MinhashDedup(clustering="components"),
    "minhash-unverified": MinhashDedup(verify=False),
    "minhash-small-batches": MinhashDedup(verify_block=200, max_bucket_rows=300),
    "semantic": SemanticDedup(n_clusters=4),
}


@pytest.fixture(scope="module")
def corpus() -> pa.Table:
    return _corpus()


@pytest.fixture(scope="module")
def single(corpus, tmp_path_factory) -> dict:
    """Decisions of one partition, all rows in one task (today's single reduce)."""
    tmp = tmp_path_factory.mktemp("single")
    return {name: reduce_decisions(s, [corpus], str(tmp / name), 1) for name, s in STEPS.items()}


def test_the_corpus_separates_centre_from_components(single):
    dups = {n: sum(r["reason"] is not None for r in d.values()) for n, d in single.items()}
    assert dups["exact"] >= 20 and dups["minhash-centre"] >= 100 and dups["semantic"] >= 100
    # chains: components drop more than centres (the chain's far ends are not near-duplicates)
    assert dups["minhash-components"] > dups["minhash-centre"]
    # over the all-pairs cap a group keeps its centres (two documents alone refine to the same)
    assert single["minhash-correlation-capped"] == single["minhash-centre"]
    # the default refines the centres: it joins chain links that match most of a cluster
    assert dups["minhash-components"] >= dups["minhash-correlation"] > dups["minhash-centre"]


@pytest.mark.parametrize("partitions", PARTITIONS)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False), k=st.integers(1, 5))
def test_decisions_identical_for_every_partition_count(corpus, single, tmp_path, partitions, rnd, k):
    perm = list(range(corpus.num_rows))
    rnd.shuffle(perm)
    cuts = sorted(rnd.randint(0, corpus.num_rows) for _ in range(k - 1))
    bounds = [0] + cuts + [corpus.num_rows]
    tables = [corpus.take(pa.array(perm[a:b], pa.int64())) if b > a else None for a, b in zip(bounds, bounds[1:])]
    for name, step in STEPS.items():
        got = reduce_decisions(step, tables, str(tmp_path / f"{name}-{rnd.random()}"), partitions)
        assert got == single[name], f"{name}: partitions={partitions} changes decisions"


def _shingle_set(packed: bytes) -> set:
    """A document's shingles from the map's ``sh`` column (top 32 bits, packed little-endian)."""
    return set(np.frombuffer(packed, "<u4").tolist())


def _jaccard_ok(a: set, b: set, thr: float) -> bool:
    inter = len(a & b)
    return inter >= thr * (len(a) + len(b) - inter)


def test_exact_and_centre_equal_a_sequential_pass_in_id_order(corpus, single):
    """Ground truth: exact dedup keeps the smallest id per normalised text; MinHash centre
    clustering visits documents in id order and drops one as a duplicate of the smallest
    earlier centre that shares an LSH bucket with it and has exact Jaccard ≥ threshold."""
    ex = ExactDedup().map(corpus)
    first: dict = {}
    for i, h in sorted(zip(corpus.column("id").to_pylist(), zip(ex["h1"].to_pylist(), ex["h2"].to_pylist()))):
        want = first.setdefault(h, i)
        assert single["exact"][i]["duplicate_of"] == (None if want == i else want)

    step = STEPS["minhash-centre"]
    keys = step.map(corpus)
    ids = keys.column("id").to_pylist()
    sets = [_shingle_set(s) for s in keys.column("sh").to_pylist()]
    buckets = [
        {(j, h) for j, c in enumerate(step.band_columns()) if (h := keys[c][r].as_py()) != 0} for r in range(len(ids))
    ]
    centres_in: dict = {}
    n_dup = 0
    for r in sorted(range(len(ids)), key=lambda r: ids[r]):
        cands = sorted({c for b in buckets[r] for c in centres_in.get(b, [])}, key=lambda c: ids[c])
        rep = next((c for c in cands if _jaccard_ok(sets[r], sets[c], step.threshold)), None)
        assert single["minhash-centre"][ids[r]]["duplicate_of"] == (None if rep is None else ids[rep])
        if rep is None:
            for b in buckets[r]:
                centres_in.setdefault(b, []).append(r)
        n_dup += rep is not None
    assert n_dup >= 100


def _ref_refine(adj: list, lab: list, w: float) -> list:
    """Plain-Python reference of the correlation local search (kernels.refine_clusters)."""

    def canon(lab):
        mn: dict = {}
        for x, c in enumerate(lab):
            mn[c] = min(mn.get(c, x), x)
        return [mn[c] for c in lab]

    lab = canon(lab)
    for _ in range(50):
        changed = False
        for x in range(len(lab)):
            size: dict = {}
            for c in lab:
                size[c] = size.get(c, 0) + 1
            cnt: dict = {}
            for y in sorted(adj[x]):
                cnt[lab[y]] = cnt.get(lab[y], 0) + 1  # dicts keep first-touch order
            cur, deg = lab[x], len(adj[x])
            best, best_cost = cur, w * (size[cur] - 1 - cnt.get(cur, 0)) + deg - cnt.get(cur, 0)
            for c, a in cnt.items():
                if c != cur and w * (size[c] - a) + deg - a < best_cost - 1e-9:
                    best, best_cost = c, w * (size[c] - a) + deg - a
            if size[cur] > 1 and deg < best_cost - 1e-9:
                best = ("alone", x)
            if best != cur:
                lab[x], changed = best, True
        lab = canon(lab)
        size = {}
        for c in lab:
            size[c] = size.get(c, 0) + 1
        cross: dict = {}
        for x in range(len(lab)):
            for y in adj[x]:
                if y > x and lab[x] != lab[y]:
                    k = (min(lab[x], lab[y]), max(lab[x], lab[y]))
                    cross[k] = cross.get(k, 0) + 1
        gains = sorted((-(e - w * (size[a] * size[b] - e)), a, b) for (a, b), e in cross.items())
        used, target = set(), {}
        for g, a, b in gains:
            if -g > 1e-9 and a not in used and b not in used:
                used |= {a, b}
                target[b] = a
                changed = True
        lab = canon([target.get(c, c) for c in lab])
        if not changed:
            break
    return lab


def test_correlation_equals_a_reference_search_from_the_centres(corpus, single):
    """The default clustering: start from the centre clusters (checked against a sequential
    pass above), build the graph of every pair sharing an LSH bucket with exact Jaccard ≥
    threshold, and run the local search — here in plain Python — on it. Every member of a
    cluster matches at least a third of the cluster's other members, and the objective
    (non-matching pairs together / 2 + matching pairs apart) is lower than the centres'."""
    step = STEPS["minhash-correlation"]
    keys = step.map(corpus)
    order = sorted(range(keys.num_rows), key=lambda r: keys.column("id")[r].as_py())
    ids = [keys.column("id")[r].as_py() for r in order]
    sets = [_shingle_set(keys.column("sh")[r].as_py()) for r in order]
    members: dict = {}
    for x, r in enumerate(order):
        for j, c in enumerate(step.band_columns()):
            if (h := keys[c][r].as_py()) != 0:
                members.setdefault((j, h), []).append(x)
    adj = [set() for _ in ids]
    for mem in members.values():
        for a in mem:
            for b in mem:
                if a < b and _jaccard_ok(sets[a], sets[b], step.threshold):
                    adj[a].add(b)
                    adj[b].add(a)
    pos = {i: x for x, i in enumerate(ids)}
    centre = [pos[single["minhash-centre"][i]["duplicate_of"] or i] for i in ids]
    lab = _ref_refine(adj, centre, 0.5)
    got = [single["minhash-correlation"][i]["duplicate_of"] for i in ids]
    assert got == [None if lab[x] == x else ids[lab[x]] for x in range(len(ids))]

    def objective(lab):
        together = sum(lab[a] == lab[b] for a in range(len(lab)) for b in range(a + 1, len(lab)))
        edges_in = sum(lab[a] == lab[b] for a in range(len(lab)) for b in adj[a] if b > a)
        edges = sum(len(s) for s in adj) // 2
        return 0.5 * (together - edges_in) + (edges - edges_in)

    assert objective(lab) < objective(centre)
    for x in range(len(ids)):
        others = [y for y in range(len(ids)) if lab[y] == lab[x] and y != x]
        assert len(adj[x] & set(others)) >= len(others) / 3


# ---------------------------------------------------------------- through the executors


class FlakyExact(ExactDedup):
    """Exact dedup whose reduce fails once after its partition phase (a marker file), as a
    killed run would: the run is interrupted with the reduce half done."""

    name = "flaky_exact"
    marker: str = ""

    def reduce_plan(self, key_files, out_dir, *, partitions=1, workers=1):
        plan = super().reduce_plan(key_files, out_dir, partitions=partitions, workers=workers)
        return plan[:2] + [[ReduceTask("fail", 0, _fail_once, (self.marker,))]] + plan[2:]


def _fail_once(marker: str) -> None:
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("interrupted on purpose")


def _raw(tmp_path, corpus, n_files=4) -> str:
    rows = corpus.to_pylist()
    for k in range(n_files):
        write_jsonl(str(tmp_path / "raw" / f"p{k}.jsonl"), rows[k::n_files])
    return str(tmp_path / "raw")


def test_pool_reduce_equals_one_process_and_manifest_records_tasks(tmp_path, corpus):
    raw = _raw(tmp_path, corpus)
    steps = [Length(min_words=2), MinhashDedup(), ExactDedup()]
    one = Pipeline(steps).run(raw, str(tmp_path / "one"), workers=1)
    ex = LocalExecutor(workers=2)
    ex.pool_min_rows = 0  # this small reduce on the pool too
    two = Pipeline(steps).run(raw, str(tmp_path / "two"), executor=ex)
    assert two.kept().equals(one.kept())
    assert (
        two.rejects()
        .sort_by([("step", "ascending"), ("id", "ascending")])
        .equals(one.rejects().sort_by([("step", "ascending"), ("id", "ascending")]))
    )
    mh = [s for s in two.manifest["steps"] if s["name"] == "minhash_dedup"][0]
    assert mh["rows_rejected"] >= 100
    # six phases: split, buckets, route and decide, write per partition (2), components once
    assert mh["reduce_tasks"] == 2 + 2 + 1 + (2 + 2) + 2 + 2
    assert [s.get("reduce_tasks") for s in one.manifest["steps"]] == [None, 7, 3]
    info = json.load(open(os.path.join(two.path, "_work", "stage-0", "reduce.json")))
    assert info["step"] == "minhash_dedup" and info["partitions"] == 2
    assert len(info["tasks"]) == mh["reduce_tasks"]
    assert {t["phase"] for t in info["tasks"]} == {"split", "buckets", "components", "route", "decide", "write"}
    assert all(t["seconds"] >= 0 and t["peak_rss_mb"] > 10 for t in info["tasks"])
    assert len({t["pid"] for t in info["tasks"]} - {os.getpid()}) >= 1  # pool processes
    decided = sum(t["result"]["candidate_docs"] for t in info["tasks"] if t["phase"] == "decide")
    assert decided >= 150


def test_interrupted_reduce_resumes_to_the_clean_result(tmp_path, corpus, monkeypatch):
    from winnow.core.executors.local import LocalExecutor

    monkeypatch.setattr(LocalExecutor, "pool_min_rows", 0)  # two partitions on the pool, small as it is
    raw = _raw(tmp_path, corpus)
    clean = Pipeline([FlakyExact(marker=str(tmp_path / "never")), Length(min_words=2)])
    open(tmp_path / "never", "w").close()
    want = clean.run(raw, str(tmp_path / "clean"), workers=2)
    steps = [FlakyExact(marker=str(tmp_path / "m")), Length(min_words=2)]
    with pytest.raises(RuntimeError, match="interrupted on purpose"):
        Pipeline(steps).run(raw, str(tmp_path / "out"), workers=2)
    assert not os.path.exists(tmp_path / "out" / "_work" / "stage-0" / "reduce.done.json")
    got = Pipeline(steps).run(raw, str(tmp_path / "out"), workers=2, resume=True)
    assert got.kept().equals(want.kept())
    assert got.manifest["totals"]["rows_rejected"] == want.manifest["totals"]["rows_rejected"] >= 20
    assert got.manifest["steps"][0]["reduce_tasks"] == want.manifest["steps"][0]["reduce_tasks"] == 7


@pytest.mark.parametrize("chunk_pairs", [1, 7, 10**6])
def test_bucket_pairs_are_every_pair_sharing_a_bucket_in_any_chunking(chunk_pairs):
    """All-pairs for the correlation refinement: buckets with equal member sets count once and
    pairs come in bounded chunks; the union is every pair of nodes that share a bucket, except in
    components with more bucket pairs than ``max_pairs`` (those nodes are flagged instead)."""
    import numpy as np

    from winnow.curate.dedup.minhash import bucket_pairs

    rng = np.random.default_rng(0)
    m = 70
    K, B = [], []
    for b in range(40):  # small components: bucket b draws from the 5 nodes of group b % 10
        members = (b % 10) * 5 + rng.choice(5, size=rng.integers(1, 6), replace=False)
        for rep in range(rng.integers(1, 4)):  # the same member set in several bands
            K += members.tolist()
            B += [b * 10 + rep] * len(members)
    for rep in range(3):  # one big bucket (nodes 50..69) in 3 bands: 3 × 190 bucket pairs
        K += list(range(50, 70))
        B += [1000 + rep] * 20
    want = {
        (min(a, b), max(a, b))
        for bk in set(B)
        for a, ka in zip(K, B)
        if ka == bk
        for b, kb in zip(K, B)
        if kb == bk and a != b
    }
    chunks, left = bucket_pairs(np.array(K), np.array(B), m, max_pairs=400, chunk_pairs=chunk_pairs)
    got = set()
    for u, v in chunks:
        assert (u < v).all() and len(set(zip(u.tolist(), v.tolist()))) == len(u)
        got |= set(zip(u.tolist(), v.tolist()))
    assert left.tolist() == [k >= 50 for k in range(m)]
    assert got == {p for p in want if p[0] < 50}
