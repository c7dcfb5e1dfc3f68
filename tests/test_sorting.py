"""winnow.core.sorting: the sort-based replacements equal the numpy calls they replace."""

import numpy as np
import pytest

from winnow.core.sorting import group_order, lookup, pair_order, unique_inverse, unique_sorted


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("hi", [1, 7, 5000, 2**40, 2**62])
def test_unique_helpers_equal_numpy(seed, hi):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, hi, int(rng.integers(0, 3000)))
    assert unique_sorted(x).tolist() == np.unique(x).tolist()
    u, inv, first = unique_inverse(x)
    assert u.tolist() == np.unique(x).tolist()
    assert (u[inv] == x).all() and (x[first] == u).all()


@pytest.mark.parametrize("dense", [True, False])
def test_lookup_equals_searchsorted(dense):
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(0, 3000 if dense else 10**12, 2000))
    values = rng.integers(0, 50, len(keys))
    q = keys[rng.integers(0, len(keys), 5000)]
    assert lookup(keys, values, q).tolist() == values[np.searchsorted(keys, q)].tolist()


@pytest.mark.parametrize("hi", [1, 5, 3000, 2**16, 2**40])
def test_group_order_is_the_stable_argsort(hi):
    g = np.random.default_rng(hi).integers(0, hi, 5000)
    assert group_order(g).tolist() == np.argsort(g, kind="stable").tolist()


@pytest.mark.parametrize("big", [False, True])
def test_pair_order_is_the_lexsort(big):
    rng = np.random.default_rng(1)
    # big: major · span passes 63 bits and the lexsort runs; pairs are distinct either way
    major = rng.integers(0, 2**45 if big else 60, 4000)
    minor = rng.permutation(2**20)[:4000]
    assert pair_order(major, minor).tolist() == np.lexsort((minor, major)).tolist()
