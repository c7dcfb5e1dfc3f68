"""winnow.select.attribution: per-example gradients, projection, determinism, stored features, errors, LDS."""

import math

import numpy as np
import pytest
import torch

from winnow.select.attribution import (
    AttributionError,
    CausalLMTask,
    ClassificationTask,
    FeatureStore,
    RandomProjector,
    RegressionTask,
    attribute,
    fit_datamodels,
    lds,
    per_example_grads,
    self_influence,
    subset_masks,
)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    return X[:300], torch.tensor(y[:300]), X[300:340], torch.tensor(y[300:340])


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 10))


def _train(model, X, y, steps=60):
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model


def test_per_example_grads_equal_autograd(digits):
    X, y, _, _ = digits
    model = _mlp()
    task = ClassificationTask()
    for fn in ("loss", "output"):
        G = torch.cat(list(per_example_grads(model, task, (X[:12], y[:12]), fn=fn, batch_size=5)))
        for i in range(12):
            model.zero_grad()
            out = model(X[i : i + 1])
            getattr(task, fn)(out, y[i : i + 1]).sum().backward()
            ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
            torch.testing.assert_close(G[i], ref, rtol=1e-5, atol=1e-6)


def test_selected_params_only(digits):
    X, y, _, _ = digits
    model = _mlp()
    G = torch.cat(list(per_example_grads(model, ClassificationTask(), (X[:4], y[:4]), params=["2"])))
    assert G.shape == (4, 16 * 10 + 10)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X[:1]), y[:1]).backward()
    ref = torch.cat([model[2].weight.grad.reshape(-1), model[2].bias.grad])
    torch.testing.assert_close(G[0], ref, rtol=1e-5, atol=1e-6)


def test_regression_and_causal_lm_grads():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1)
    X, y = torch.randn(6, 3), torch.randn(6)
    G = torch.cat(list(per_example_grads(lin, RegressionTask(), (X, y))))
    resid = (lin(X)[:, 0] - y).detach()
    torch.testing.assert_close(G[:, :3], resid[:, None] * X, rtol=1e-5, atol=1e-6)  # d/dw 0.5 r^2 = r x
    lm = torch.nn.Sequential(torch.nn.Embedding(20, 8), torch.nn.Linear(8, 20))
    ids = torch.randint(0, 20, (4, 7))
    G = torch.cat(list(per_example_grads(lm, CausalLMTask(), (ids, ids))))
    lm.zero_grad()
    CausalLMTask().loss(lm(ids[2:3]), ids[2:3]).sum().backward()
    torch.testing.assert_close(G[2], torch.cat([p.grad.reshape(-1) for p in lm.parameters()]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_projection_preserves_inner_products_within_jl_bound(kind):
    n, P, k, delta = 40, 3000, 1024, 0.01
    A = torch.randn(n, P, generator=torch.Generator().manual_seed(1))
    proj = RandomProjector(P, k, seed=3, kind=kind, block_bytes=512 * k * 4)
    assert proj.n_blocks > 1  # really blockwise
    Z = proj.project(A)
    eps = math.sqrt(8 * math.log(n * n / delta) / k)  # JL: k >= 8 ln(n^2/delta) / eps^2
    norms = A.norm(dim=1)
    err = (Z @ Z.T - A @ A.T).abs() / (norms[:, None] * norms[None, :])
    assert float(err.max()) <= eps, (float(err.max()), eps)
    # blockwise == one dense matrix (the same R, whatever the block size)
    dense = RandomProjector(P, k, seed=3, kind=kind, block_bytes=1 << 30)
    torch.testing.assert_close(dense.project(A), Z, rtol=1e-4, atol=1e-3)
    # seeded: a different seed gives a different matrix
    assert not torch.allclose(RandomProjector(P, k, seed=4, kind=kind).project(A[:2]), Z[:2])


@pytest.mark.parametrize("method", ["trak", "influence", "tracin", "cosine"])
def test_scores_deterministic_for_a_seed(digits, method):
    X, y, Xt, yt = digits
    model = _train(_mlp(), X, y)
    opts = {"proj_dim": 128} if method != "influence" else {"damping": 0.01, "hessian": "gauss_newton"}
    a = attribute(model, ClassificationTask(), (X, y), (Xt, yt), method=method, seed=7, **opts)
    b = attribute(model, ClassificationTask(), (X, y), (Xt, yt), method=method, seed=7, batch_size=33, **opts)
    assert a.scores.shape == (300, 40)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6 * np.abs(a.scores).max())
    if method != "influence":
        c = attribute(model, ClassificationTask(), (X, y), (Xt, yt), method=method, seed=8, **opts)
        assert not np.allclose(a.scores, c.scores)


def test_scores_have_the_right_sign(digits):
    """A target that is itself in the train set is helped most by itself; same-class examples help."""
    X, y, _, _ = digits
    model = _train(_mlp(), X, y)
    for method in ("trak", "influence", "tracin", "cosine"):
        opts = {"influence": {"hessian": "gauss_newton", "damping": 0.01}, "trak": {"damping": 0.01}}
        res = attribute(model, ClassificationTask(), (X, y), (X[:10], y[:10]), method=method, **opts.get(method, {}))
        S = res.scores
        same = (y[:, None] == y[None, :10]).numpy()
        assert S[same].mean() > S[~same].mean(), method
        if method != "cosine":
            assert (S[np.arange(10), np.arange(10)] > np.median(S, axis=0)).all(), method


def test_feature_store_reuses_features(digits, tmp_path):
    X, y, Xt, yt = digits
    model = _train(_mlp(), X, y, steps=10)
    store = FeatureStore(tmp_path / "feats")
    a = attribute(model, ClassificationTask(), (X, y), (Xt, yt), method="trak", proj_dim=64, store=store)
    assert store.misses == 2 and store.hits == 0 and len(list((tmp_path / "feats").glob("*.npy"))) == 2
    b = attribute(model, ClassificationTask(), (X, y), (Xt, yt), method="trak", proj_dim=64, store=store)
    assert store.hits == 2
    np.testing.assert_array_equal(a.scores, b.scores)
    with torch.no_grad():  # a changed model must not reuse stale features
        model[0].bias.add_(1.0)
    attribute(model, ClassificationTask(), (X, y), (Xt, yt), method="trak", proj_dim=64, store=store)
    assert store.misses == 4


def test_ensembles_and_checkpoints(digits):
    X, y, Xt, yt = digits
    models = [_train(_mlp(s), X, y, steps=20) for s in range(2)]
    one = attribute(models[0], ClassificationTask(), (X, y), (Xt, yt), method="trak", proj_dim=64)
    ens = attribute(models, ClassificationTask(), (X, y), (Xt, yt), method="trak", proj_dim=64)
    assert ens.scores.shape == one.scores.shape and not np.allclose(ens.scores, one.scores)
    cks = [m.state_dict() for m in models]
    tr = attribute(_mlp(), ClassificationTask(), (X, y), (Xt, yt), method="tracin", checkpoints=cks, lrs=[0.1, 0.1])
    parts = [attribute(m, ClassificationTask(), (X, y), (Xt, yt), method="tracin").scores for m in models]
    np.testing.assert_allclose(tr.scores, 0.1 * (parts[0] + parts[1]), rtol=1e-5, atol=1e-8)


def test_aggregate_and_table(digits):
    X, y, Xt, yt = digits
    res = attribute(_mlp(), ClassificationTask(), (X[:20], y[:20]), (Xt[:3], yt[:3]), method="grad_dot")
    np.testing.assert_allclose(res.aggregate(), res.scores.mean(1))
    np.testing.assert_allclose(res.aggregate("sum"), res.scores.sum(1))
    assert list(res.top(3)) == list(np.argsort(-res.scores.mean(1))[:3])
    t = res.to_table(ids=[f"ex{i}" for i in range(20)], per_target=True)
    assert t.column_names == ["id", "score", "score_0", "score_1", "score_2"] and t.num_rows == 20
    with pytest.raises(AttributionError, match="how"):
        res.aggregate("bogus")


def test_bad_inputs_give_clear_errors(digits):
    X, y, Xt, yt = digits
    model, task = _mlp(), ClassificationTask()
    with pytest.raises(AttributionError, match="train: X has 300 examples but y has 299"):
        attribute(model, task, (X, y[:-1]), (Xt, yt))
    with pytest.raises(AttributionError, match="target is empty"):
        attribute(model, task, (X, y), (Xt[:0], yt[:0]))
    frozen = _mlp()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(AttributionError, match="requires_grad"):
        attribute(frozen, task, (X, y), (Xt, yt))
    with pytest.raises(AttributionError, match="method must be one of"):
        attribute(model, task, (X, y), (Xt, yt), method="magic")
    with pytest.raises(AttributionError, match="task must be"):
        attribute(model, "classification", (X, y), (Xt, yt))
    with pytest.raises(AttributionError, match="params: no parameter named"):
        attribute(model, task, (X, y), (Xt, yt), params=["nope"])
    with pytest.raises(AttributionError, match="train must be a tuple"):
        attribute(model, task, X, (Xt, yt))
    with pytest.raises(AttributionError, match="lrs has 3 entries"):
        attribute(model, task, (X, y), (Xt, yt), method="tracin", lrs=[1, 2, 3])
    with pytest.raises(AttributionError, match=r"unknown option\(s\) \['solver'\] for method 'trak'"):
        attribute(model, task, (X, y), (Xt, yt), method="trak", solver="cg")


def test_dataset_input_equals_tensors(digits):
    X, y, Xt, yt = digits
    model = _mlp()
    ds = torch.utils.data.TensorDataset(X[:50], y[:50])
    a = attribute(model, ClassificationTask(), ds, (Xt, yt), method="grad_dot")
    b = attribute(model, ClassificationTask(), (X[:50], y[:50]), (Xt, yt), method="grad_dot")
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_lds_and_datamodels_recover_a_linear_ground_truth():
    rng = np.random.default_rng(0)
    tau = rng.normal(size=(60, 5))
    masks = subset_masks(60, 400, alpha=0.5, seed=1)
    assert (masks.sum(1) == 30).all()
    outputs = masks @ tau + 0.1 * rng.normal(size=(400, 5))
    assert lds(tau, masks, outputs) > 0.95
    assert abs(lds(rng.normal(size=(60, 5)), masks, outputs)) < 0.3
    assert lds(-tau, masks, outputs) < -0.95
    est = fit_datamodels(masks, outputs, l2=1.0)
    assert np.corrcoef(est.ravel(), tau.ravel())[0, 1] > 0.95
    with pytest.raises(AttributionError, match="outputs must be"):
        lds(tau, masks, outputs[:, :3])


def test_self_influence_flags_flipped_labels(digits):
    X, y, _, _ = digits
    yf = y.clone()
    flip = torch.arange(0, 300, 10)
    yf[flip] = (yf[flip] + 3) % 10
    model = torch.nn.Linear(64, 10)
    _train(model, X, yf, steps=150)
    from sklearn.metrics import roc_auc_score

    is_flipped = np.zeros(300, bool)
    is_flipped[flip.numpy()] = True
    for method in ("influence", "trak", "tracin"):
        s = self_influence(model, ClassificationTask(), (X, yf), method=method, damping=0.01)
        assert roc_auc_score(is_flipped, s) > 0.9, method


def test_datamodels_method_agrees_with_influence_on_ridge_regression():
    """Ridge regression (closed-form fit) on the diabetes data: datamodel scores (from 400 retrained
    models) and exact influence functions rank the same train examples as helpful."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float64)
    y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float64)
    Xtr, ytr, Xte, yte = X[:60], y[:60], X[60:65], y[60:65]
    l2 = 0.5

    def fit(Xs, ys, seed):  # argmin 1/2 mean (w.x + b - y)^2 + l2/2 |w|^2 (bias unpenalised)
        A = torch.cat([Xs, torch.ones(len(Xs), 1, dtype=Xs.dtype)], 1)
        R = l2 * len(Xs) * torch.eye(A.shape[1], dtype=Xs.dtype)
        R[-1, -1] = 0
        w = torch.linalg.solve(A.T @ A + R, A.T @ ys)
        m = torch.nn.Linear(Xs.shape[1], 1).double()
        with torch.no_grad():
            m.weight.copy_(w[:-1][None])
            m.bias.copy_(w[-1:])
        return m

    task = RegressionTask()
    dm = attribute(None, task, (Xtr, ytr), (Xte, yte), method="datamodels", fit=fit, n_models=400, l2=1.0)
    full = fit(Xtr, ytr, 0)
    inf = attribute(
        full, task, (Xtr, ytr), (Xte, yte), method="influence", target_fn="output", damping=l2, solver="exact"
    )
    assert dm.scores.shape == inf.scores.shape == (60, 5)
    r = np.corrcoef(dm.scores.ravel(), inf.scores.ravel())[0, 1]
    assert r > 0.8, r
    with pytest.raises(AttributionError, match="needs fit="):
        attribute(None, task, (Xtr, ytr), (Xte, yte), method="datamodels")


def test_trak_ensemble_modes_follow_their_definitions(digits):
    """mean_q (paper, default) = mean of kernel scores x mean Q; mean = mean of per-model products.
    With Q from each single model: the per-model TRAK-1 scores are phi K^-1 phi * Q_m."""
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.grads import model_outputs

    X, y, Xt, yt = digits
    models = [_train(_mlp(s), X, y, steps=20) for s in range(2)]
    task = ClassificationTask()
    kw = dict(proj_dim=64, damping=1.0)
    singles = [attribute(m, task, (X, y), (Xt, yt), method="trak", seed=i, **kw).scores for i, m in enumerate(models)]
    Q = [
        model_outputs(m, task, Data((X, y), "train"), ("output_weight",), 256)["output_weight"].double().numpy()
        for m in models
    ]
    raw = [s / q[:, None] for s, q in zip(singles, Q)]
    ens_q = attribute(models, task, (X, y), (Xt, yt), method="trak", **kw).scores
    ens_m = attribute(models, task, (X, y), (Xt, yt), method="trak", ensemble="mean", **kw).scores
    np.testing.assert_allclose(ens_m, (singles[0] + singles[1]) / 2, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ens_q, (raw[0] + raw[1]) / 2 * ((Q[0] + Q[1]) / 2)[:, None], rtol=1e-6, atol=1e-9)
    assert not np.allclose(ens_q, ens_m)
    with pytest.raises(AttributionError, match="ensemble"):
        attribute(models, task, (X, y), (Xt, yt), method="trak", ensemble="median", **kw)


def test_closed_form_linear_softmax_hessian_equals_autodiff(digits):
    """The multinomial-logistic-regression fast path gives the same Hessian as P autodiff HVPs,
    for weight+bias, weight only, and a bias-free layer."""
    import winnow.select.attribution.hessian as hess
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.grads import GradFn
    from winnow.select.attribution.hessian import HVP, linear_softmax_hessian

    X, y, _, _ = digits
    for bias, params in ((True, None), (True, ["weight"]), (False, None)):
        torch.manual_seed(0)
        m = _train(torch.nn.Linear(64, 10, bias=bias), X, y, steps=30)
        gf = GradFn(m, ClassificationTask(), params, "loss")
        hvp = HVP(gf, Data((X, y), "train"), 128)
        H = linear_softmax_hessian(hvp)
        assert H is not None and H.shape == (gf.spec.dim, gf.spec.dim)
        orig = hess.linear_softmax_hessian
        try:
            hess.linear_softmax_hessian = lambda _h: None
            H_ad = hess.explicit_hessian(hvp)
        finally:
            hess.linear_softmax_hessian = orig
        np.testing.assert_allclose(H, H_ad, atol=2e-6 * np.abs(H_ad).max())
    # not a linear softmax model: no closed form
    gf = GradFn(_mlp(), ClassificationTask(), None, "loss")
    assert linear_softmax_hessian(HVP(gf, Data((X, y), "train"), 128)) is None
