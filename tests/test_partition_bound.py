"""The partition bound of winnow.curate.dedup.evaluate against every partition of small graphs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from winnow.curate.dedup.evaluate import pair_metrics, partition_ceiling, partition_error_bound


def partitions(n):
    """Every set partition of ``range(n)`` as a label array (restricted growth strings)."""

    def grow(prefix, top):
        if len(prefix) == n:
            yield np.array(prefix)
            return
        for x in range(top + 2):
            yield from grow(prefix + [x], max(top, x))

    yield from grow([0], 0)


def brute_force(n, edges):
    """(fewest FN + FP over all partitions, highest min(P, R) over all partitions)."""
    i = np.array([a for a, _ in edges], np.int64)
    j = np.array([b for _, b in edges], np.int64)
    jac = np.ones(len(edges), np.float32)
    best_err, best_pr = None, 0.0
    for lab in partitions(n):
        m = pair_metrics(lab, i, j, jac, 0.5)
        err = (m["true_pairs"] - m["tp"]) + (m["pred_pairs"] - m["tp"])
        best_err = err if best_err is None else min(best_err, err)
        best_pr = max(best_pr, min(m["precision"], m["recall"]))
    return best_err, best_pr


@pytest.mark.parametrize("seed", range(40))
def test_bound_never_exceeds_the_best_partition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 8))
    density = rng.uniform(0.3, 0.8)
    edges = [(a, b) for a, b in itertools.combinations(range(n), 2) if rng.random() < density]
    if not edges:
        edges = [(0, 1)]
    bound = partition_error_bound(np.array([a for a, _ in edges]), np.array([b for _, b in edges]), n)
    best_err, best_pr = brute_force(n, edges)
    assert 0 <= bound <= best_err
    assert best_pr <= partition_ceiling(bound, len(edges)) + 1e-12


def test_star_needs_errors_and_cliques_none():
    # a star 0–{1,2,3,4}: two disjoint bad triangles (0,1,2) and (0,3,4); the best partition makes 3 errors
    i, j = np.zeros(4, np.int64), np.arange(1, 5)
    assert partition_error_bound(i, j, 5) == 2
    assert brute_force(5, list(zip(i.tolist(), j.tolist())))[0] == 3
    # two disjoint cliques: a partition makes no error, and the bound says so
    edges = [(a, b) for c in ((0, 1, 2), (3, 4, 5, 6)) for a, b in itertools.combinations(c, 2)]
    i, j = np.array(edges).T
    assert partition_error_bound(i, j, 7) == 0
    assert partition_ceiling(0, len(edges)) == 1.0


def test_ceiling_is_the_best_split_of_the_errors():
    # 20 unavoidable errors on 100 true pairs: 10 missed and 10 false gives P = 90/100, R = 0.9;
    # any other split lowers one of the two
    assert partition_ceiling(20, 100) == pytest.approx(
        max(min((100 - x) / 100, (100 - x) / (120 - 2 * x)) for x in range(21))
    )
    assert partition_ceiling(20, 100) < 0.91


def test_bound_ignores_order_repeats_and_self_pairs():
    rng = np.random.default_rng(7)
    edges = np.array([(a, b) for a, b in itertools.combinations(range(30), 2) if rng.random() < 0.3])
    i, j = edges.T
    base = partition_error_bound(i, j, 30)
    assert base > 0
    # the same graph with pairs reversed, listed twice, shuffled, plus self pairs
    k = rng.permutation(2 * len(i) + 5)
    ii = np.r_[j, i, np.arange(5)][k]
    jj = np.r_[i, j, np.arange(5)][k]
    assert partition_error_bound(ii, jj, 30) == base
