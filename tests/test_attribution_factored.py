"""Factored (LoGra) gradient features: exact identity with the dense Kronecker projection of the
explicitly formed per-example gradients, the attribute() API, and resumable stored shards."""

import numpy as np
import pytest
import torch

from winnow.select.attribution import (
    AttributionError,
    CausalLMTask,
    ClassificationTask,
    FeatureStore,
    attribute,
    per_example_grads,
)
from winnow.select.attribution.data import Data
from winnow.select.attribution.factored import FactoredFeaturizer
from winnow.select.attribution.grads import select_params


def _dense_reference(fz, model, task, X, y, fn):
    """Per-example gradients formed explicitly (torch.func), times P_out kron P_in, per weight."""
    G = torch.cat(list(per_example_grads(model, task, (X, y), fn=fn, batch_size=len(X))))
    gd = select_params(model).unflatten(G)
    blocks = []
    for w in fz.projector.mats:
        s = next(s for s in fz.sites if s.weight == w)
        gw = gd[w]
        if s.bias is not None:
            gw = torch.cat([gw, gd[s.bias][..., None]], -1)  # [W | b]: the bias is an input column of ones
        R = fz.projector.dense_matrix(s)
        blocks.append(gw.reshape(len(X), -1) @ R * (s.k_out * s.k_in) ** -0.5)
    return torch.cat(blocks, 1)


@pytest.mark.parametrize("fn", ["loss", "output"])
@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_factored_equals_kronecker_projection_of_explicit_grads_on_tiny_lm(fn, kind):
    from winnow.proxy.lm import TinyLM

    torch.manual_seed(0)
    model = TinyLM(40, d_model=16, n_layers=1, n_heads=2, ctx=10).double()
    X = torch.randint(0, 40, (6, 10))
    task = CausalLMTask()
    fz = FactoredFeaturizer(model, task, fn=fn, proj_dim=600, proj_kind=kind, seed=3, batch_size=4)
    F = torch.as_tensor(fz.matrix(Data((X, X), "train")))
    # every linear layer, the token embedding and the tied head (the same weight: one block); the
    # position table is indexed as a raw tensor, never called, so it is left out
    assert {s.kind for s in fz.sites} == {"linear", "embedding", "tied_head"}
    assert "pos" not in {s.name for s in fz.sites}
    assert F.dtype == torch.float64
    ref = _dense_reference(fz, model, task, X, X, fn)
    torch.testing.assert_close(F, ref, rtol=1e-10, atol=1e-12)


def test_factored_equals_kronecker_projection_on_mlp():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(7, 12), torch.nn.Tanh(), torch.nn.Linear(12, 4)).double()
    X, y = torch.randn(9, 7, dtype=torch.float64), torch.randint(0, 4, (9,))
    fz = FactoredFeaturizer(model, ClassificationTask(), proj_dim=50, batch_size=5)
    F = torch.as_tensor(fz.matrix(Data((X, y), "train")))
    torch.testing.assert_close(
        F, _dense_reference(fz, model, ClassificationTask(), X, y, "loss"), rtol=1e-10, atol=1e-12
    )


def test_factored_through_attribute_and_resumable_store(tmp_path):
    from sklearn.datasets import load_digits

    Xa, ya = load_digits(return_X_y=True)
    X, y = torch.tensor(Xa[:200] / 16.0, dtype=torch.float32), torch.tensor(ya[:200])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    task = ClassificationTask()
    a = attribute(model, task, (X, y), (X[:5], y[:5]), method="trak", projection="factored", proj_dim=256)
    b = attribute(model, task, (X, y), (X[:5], y[:5]), method="trak", projection="factored", proj_dim=256)
    assert a.scores.shape == (200, 5) and np.isfinite(a.scores).all()
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.options["projection"] == "factored"
    # self-scores dominate: a training point is its own most similar example under TRAK
    s = attribute(model, task, (X, y), (X[:20], y[:20]), method="trak", projection="factored", proj_dim=256)
    assert (s.scores.argmax(0) == np.arange(20)).mean() > 0.8
    with pytest.raises(AttributionError, match="projection"):
        attribute(model, task, (X, y), (X[:5], y[:5]), projection="kron")

    # resumable: an interrupted run leaves committed shards that the next run does not recompute
    data = Data((X, y), "train")
    full = FactoredFeaturizer(model, task, proj_dim=128, batch_size=32, shard_rows=64).matrix(data)
    store2 = FeatureStore(tmp_path)
    fz = FactoredFeaturizer(model, task, proj_dim=128, batch_size=32, store=store2, shard_rows=64)
    calls = []
    orig = fz.project_batch

    def flaky(xb, yb):
        calls.append(len(xb))
        if len(calls) == 5:  # dies in the third shard
            raise KeyboardInterrupt
        return orig(xb, yb)

    fz.project_batch = flaky
    with pytest.raises(KeyboardInterrupt):
        fz.matrix(data)
    fz2 = FactoredFeaturizer(model, task, proj_dim=128, batch_size=32, store=store2, shard_rows=64)
    done = []
    orig2 = fz2.project_batch
    fz2.project_batch = lambda xb, yb: (done.append(len(xb)), orig2(xb, yb))[1]
    got = fz2.matrix(data)
    assert sum(done) == 200 - 128  # shards 0 and 1 were kept
    np.testing.assert_allclose(np.asarray(got), full, rtol=1e-6, atol=1e-7)


def test_readme_factored_and_ekfac_snippet(tmp_path):
    from winnow.proxy.lm import TinyLM

    torch.manual_seed(0)
    lm = TinyLM(50, d_model=16, n_layers=1, n_heads=2, ctx=12)
    docs, target = torch.randint(0, 50, (20, 12)), torch.randint(0, 50, (3, 12))
    mlp = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    train = (torch.randn(30, 5), torch.randint(0, 3, (30,)))
    test = (train[0][:4], train[1][:4])
    # the README lines, verbatim apart from the store folder
    res = attribute(
        lm,
        CausalLMTask(),
        (docs, docs),
        (target, target),
        method="trak",
        projection="factored",
        proj_dim=2048,
        store=str(tmp_path / "features"),
    )
    assert res.scores.shape == (20, 3) and np.isfinite(res.scores).all()
    res = attribute(mlp, ClassificationTask(), train, test, method="influence", solver="ekfac")  # EK-FAC
    assert res.scores.shape == (30, 4) and np.isfinite(res.scores).all()
