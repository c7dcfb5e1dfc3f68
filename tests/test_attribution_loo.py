"""Ground truth: influence functions vs exact leave-one-out retraining on L2-regularised logistic
regression (scikit-learn's breast-cancer data, float64, LBFGS to tight convergence)."""

import numpy as np
import torch

from winnow.select.attribution import ClassificationTask, attribute


def _data():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:300], idx[300:400]
    t = lambda a, dt=torch.float64: torch.as_tensor(a, dtype=dt)  # noqa: E731
    return (t(X[tr]), t(y[tr], torch.long)), (t(X[te]), t(y[te], torch.long))


def _fit(X, y, weights, l2, init=None):
    """argmin (1/n) sum_j w_j CE_j + l2/2 ||theta||^2 (n = len(X); weight 0 = left out), by Newton's
    method in float64 (closed-form softmax gradient and Hessian) to a gradient norm < 1e-12 --
    tighter than LBFGS. theta = [W (2 x d) row-major, b (2)], the layout of torch.nn.Linear."""
    Xn, yn, w = X.numpy(), y.numpy(), weights.numpy()
    n, d = Xn.shape
    Xa = np.hstack([Xn, np.ones((n, 1))])  # [n, d+1]
    Y = np.eye(2)[yn]
    V = np.zeros((2, d + 1)) if init is None else init.copy()  # [class, d+1] (bias last)
    for _ in range(50):
        Z = Xa @ V.T
        Z -= Z.max(1, keepdims=True)
        Pr = np.exp(Z)
        Pr /= Pr.sum(1, keepdims=True)
        G = ((w[:, None] * (Pr - Y)).T @ Xa) / n + l2 * V  # [2, d+1]
        if np.linalg.norm(G) < 1e-12:
            break
        S = w[:, None, None] * (Pr[:, :, None] * np.eye(2)[None] - Pr[:, :, None] * Pr[:, None, :])  # [n,2,2]
        H = np.einsum("nab,ni,nj->aibj", S, Xa, Xa).reshape(2 * (d + 1), 2 * (d + 1)) / n
        H += l2 * np.eye(2 * (d + 1))
        V = V - np.linalg.solve(H, G.reshape(-1)).reshape(2, d + 1)
    model = torch.nn.Linear(d, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(V[:, :d]))
        model.bias.copy_(torch.as_tensor(V[:, d]))
    return model, V


def _test_loss(model, X, y):
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(X), y))


def test_influence_matches_leave_one_out():
    (Xtr, ytr), (Xte, yte) = _data()
    l2 = 1e-2
    n = len(Xtr)
    full, theta = _fit(Xtr, ytr, torch.ones(n, dtype=torch.float64), l2)
    base = _test_loss(full, Xte, yte)
    res = attribute(
        full,
        ClassificationTask(),
        (Xtr, ytr),
        (Xte, yte),
        method="influence",
        solver="exact",
        damping=l2,
        target_fn="loss",
    )
    predicted = res.aggregate("mean")  # predicted rise of the mean test loss when i is removed
    # 120 training points: the 60 most and 60 least influential by prediction would flatter the
    # fit; take a random 120 instead (plus no selection on the outcome).
    pts = np.random.default_rng(1).choice(n, size=120, replace=False)
    actual = []
    for i in pts:
        w = torch.ones(n, dtype=torch.float64)
        w[i] = 0.0
        actual.append(_test_loss(_fit(Xtr, ytr, w, l2, theta)[0], Xte, yte) - base)
    actual = np.array(actual)
    r = np.corrcoef(predicted[pts], actual)[0, 1]
    print(f"Pearson(IF, LOO) over {len(pts)} points = {r:.4f}")
    assert r >= 0.95, f"Pearson(IF, LOO) = {r:.4f}"
    # the scale is right too (first-order approximation): slope close to 1
    slope = np.polyfit(predicted[pts], actual, 1)[0]
    print(f"slope {slope:.3f}")
    assert 0.8 < slope < 1.25, slope
    # CG agrees with the exact solve
    cg = attribute(
        full,
        ClassificationTask(),
        (Xtr, ytr),
        (Xte[:8], yte[:8]),
        method="influence",
        solver="cg",
        damping=l2,
        tol=1e-10,
    )
    np.testing.assert_allclose(cg.scores, res.scores[:, :8], rtol=1e-5, atol=1e-9)
