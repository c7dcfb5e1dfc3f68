"""Linear solvers of winnow.select.attribution.hessian on indefinite systems, and influence defaults
on a non-convex (ReLU) model against retraining."""

import warnings

import numpy as np
import pytest
import torch

from winnow.select.attribution import AttributionError, ClassificationTask, attribute, lds, subset_masks
from winnow.select.attribution.hessian import IndefiniteSystemWarning, solve_cg, solve_minres


def _op(H):
    return lambda V: V @ H


def test_cg_minimal_indefinite_case_gives_the_solution_and_warns():
    H = torch.diag(torch.tensor([1.0, -0.5], dtype=torch.float64))
    b = torch.ones(2, 1, dtype=torch.float64)
    with pytest.warns(IndefiniteSystemWarning):
        x = solve_cg(_op(H), b, damping=0.1)
    torch.testing.assert_close(x[:, 0], torch.tensor([1 / 1.1, -2.5], dtype=torch.float64))
    with pytest.raises(AttributionError, match="negative curvature"):
        solve_cg(_op(H), b, damping=0.1, on_indefinite="raise")


@pytest.mark.parametrize("seed", range(25))
def test_cg_on_random_indefinite_systems_is_right_or_loud(seed):
    rng = np.random.default_rng(seed)
    P = int(rng.integers(2, 40))
    Q, _ = np.linalg.qr(rng.normal(size=(P, P)))
    ev = rng.uniform(-2, 2, P)
    ev[rng.integers(P)] = -abs(ev[0]) - 0.1  # at least one negative eigenvalue after damping
    damping = float(rng.uniform(0, 0.05))
    ev = np.where(np.abs(ev + damping) < 0.05, ev + 0.2, ev)  # keep it nonsingular
    H = torch.tensor(Q @ np.diag(ev) @ Q.T)
    B = torch.tensor(rng.normal(size=(P, 3)))
    true = torch.linalg.solve(H + damping * torch.eye(P, dtype=torch.float64), B)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        x = solve_cg(_op(H), B, damping, max_iter=200, tol=1e-10)
    err = float((x - true).norm() / true.norm())
    warned = any(issubclass(m.category, IndefiniteSystemWarning) for m in w)
    assert np.isfinite(x.numpy()).all()
    assert err < 1e-5 or warned, (err, warned)
    assert err < 1e-5  # and with the MINRES fallback the answer is right anyway


def test_minres_equals_cg_on_positive_definite_systems():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 30))
    H = torch.tensor(A @ A.T / 30)
    B = torch.tensor(rng.normal(size=(30, 4)))
    true = torch.linalg.solve(H + 0.1 * torch.eye(30, dtype=torch.float64), B)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no indefinite warning on a PD system
        torch.testing.assert_close(solve_cg(_op(H), B, 0.1, max_iter=300, tol=1e-12), true)
    torch.testing.assert_close(solve_minres(_op(H), B, 0.1, max_iter=300, tol=1e-12), true)


# --------------------------------------------------------------------------------------------- retraining


def _relu_mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 72), torch.nn.ReLU(), torch.nn.Linear(72, 10))  # P = 5,410


def _fit(X, y, seed=0, steps=150):
    m = _relu_mlp(seed)
    opt = torch.optim.Adam(m.parameters(), lr=0.02, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(X), y).backward()
        opt.step()
    return m


@pytest.fixture(scope="module")
def relu_setting():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    Xtr, ytr, Xte, yte = X[:300], y[:300], X[300:340], y[300:340]
    masks = subset_masks(300, 24, alpha=0.5, seed=0)
    gt = []
    for mask in masks:
        idx = torch.as_tensor(np.flatnonzero(mask))
        m = _fit(Xtr[idx], ytr[idx])
        with torch.no_grad():
            gt.append(-torch.nn.functional.cross_entropy(m(Xte), yte, reduction="none").numpy())
    return _fit(Xtr, ytr), (Xtr, ytr), (Xte, yte), masks, np.stack(gt)


def test_default_influence_on_a_relu_mlp_tracks_retraining(relu_setting):
    model, tr, te, masks, gt = relu_setting
    task = ClassificationTask()
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndefiniteSystemWarning)  # the default is sound: no fallback needed
        res = attribute(model, task, tr, te, method="influence", max_iter=30)
    default = res.scores
    (lam,) = res.options["auto_damping"]  # damping="auto": chosen by split-half reproducibility
    assert 1e-4 < lam < 10
    assert np.isfinite(default).all() and np.abs(default).max() < 10
    gn = attribute(
        model, task, tr, te, method="influence", solver="cg", hessian="gauss_newton", damping=1e-2, max_iter=30
    ).scores
    v_def, v_gn = lds(default, masks, gt), lds(gn, masks, gt)
    assert v_def > 0.3, v_def
    assert v_def > v_gn - 0.1, (v_def, v_gn)
    # the true (indefinite) Hessian: CG meets negative curvature and says so
    with pytest.warns(IndefiniteSystemWarning):
        attribute(
            model,
            task,
            tr,
            (te[0][:4], te[1][:4]),
            method="influence",
            solver="cg",
            hessian="hessian",
            damping=1e-4,
            max_iter=30,
        )


def test_ekfac_rotation_is_exact_and_influence_tracks_retraining(relu_setting):
    from winnow import attribution
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.ekfac import EKFAC
    from winnow.select.attribution.grads import select_params

    model, tr, te, masks, gt = relu_setting
    task = ClassificationTask()
    ek = EKFAC(model.double(), task, batch_size=128).fit((tr[0].double(), tr[1]))
    # the factored rotation Q_S^T (sum_t g a^T) Q_A, rotated back, is the explicit per-example gradient
    X4, y4 = tr[0][:4].double(), tr[1][:4]
    R = ek._rotated_batch(X4, y4, "loss")
    G = torch.cat(list(attribution.per_example_grads(model, task, (X4, y4))))
    gd = select_params(model).unflatten(G)
    for s in ek.sites:
        dW = ek.QS[s.weight] @ R[s.weight] @ ek.QA[s.weight].T
        torch.testing.assert_close(dW, torch.cat([gd[s.weight], gd[s.bias][..., None]], -1))
    model.float()
    scores = attribute(model, task, tr, te, method="influence", solver="ekfac").scores
    assert np.isfinite(scores).all()
    assert lds(scores, masks, gt) > 0.3
    fact = attribute(
        model, task, tr, te, method="influence", solver="ekfac", projection="factored", proj_dim=512
    ).scores
    assert lds(fact, masks, gt) > 0.2
    assert Data(tr, "t").n == 300


def test_auto_damping_crosses_the_threshold_and_is_scale_free(relu_setting):
    """The split-half rule walks down the ladder while the two halves agree, stops at the first
    rung below the threshold and interpolates between the last two; scaling the loss by c scales
    the Hessian and the chosen damping by c (the ladder is relative to the top eigenvalue)."""
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.grads import GradFn
    from winnow.select.attribution.hessian import auto_damping

    model, tr, te, _, _ = relu_setting

    class Scaled(ClassificationTask):
        def loss(self, out, y):
            return 3.0 * super().loss(out, y)

    got = []
    for task in (ClassificationTask(), Scaled()):
        gf = GradFn(model, task)
        G = lambda X, y: torch.cat([gf(X[s : s + 64], y[s : s + 64]) for s in range(0, len(X), 64)]).double()  # noqa: E731
        lam, ladder = auto_damping(gf, Data(tr, "train"), G(*te)[:8], G(*tr)[:200], threshold=0.75, max_iter=40)
        cs = [c for _, c in ladder]
        assert all(c >= 0.75 for c in cs[:-1])
        if cs[-1] < 0.75 and len(cs) > 1:  # crossed: interpolated between the last two rungs
            assert ladder[-1][0] < lam < ladder[-2][0]
        assert cs[0] > cs[-1]  # more damping = more reproducible
        got.append(lam)
    np.testing.assert_allclose(got[1], 3.0 * got[0], rtol=0.02)
