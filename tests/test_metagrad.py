"""Metagradients (issue 18): TrainRecipe determinism, replay == unrolled autograd == finite differences, LDS, mgd."""

import numpy as np
import pytest
import torch
from winnow.attribution import ClassificationTask, TrainRecipe, attribute

from winnow.select.attribution import AttributionError, lds, subset_masks
from winnow.select.attribution.metagrad import metagradients, unrolled_metagradients


def _gelu(d_in=5, h=8, k=3):
    def make(seed):
        return torch.nn.Sequential(torch.nn.Linear(d_in, h), torch.nn.GELU(), torch.nn.Linear(h, k))

    return make


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 5, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return X, y


def test_train_is_deterministic_and_accepts_numpy(toy):
    X, y = toy
    r = TrainRecipe(model=_gelu(), optimizer="sgd", lr=0.1, momentum=0.9, l2=1e-4, steps=15, batch_size=8, seed=3)
    a, b, c = r.train((X, y)), r.train((X.numpy(), y.numpy())), TrainRecipe(**{**r.__dict__, "seed": 4}).train((X, y))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_mask_weights_equal_subset_training(toy):
    """Weighted-mean loss: full-batch training with 0/1 weights == training on the subset."""
    X, y = toy
    r = TrainRecipe(model=_gelu(), lr=0.1, momentum=0.9, l2=1e-3, steps=20, dtype=torch.float64)
    mask = np.arange(40) % 3 != 0
    a = r.train((X, y), weights=mask.astype(float))
    b = r.train((X[torch.as_tensor(mask)], y[torch.as_tensor(mask)]))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(optimizer="sgd", momentum=0.9),
        dict(optimizer="sgd", momentum=0.9, nesterov=True, schedule="cosine", warmup=3),
        dict(optimizer="adam", lr=0.02),
        dict(optimizer="adamw", lr=0.02, weight_decay=0.01, schedule="linear"),
        dict(optimizer="sgd", momentum=0.5, batch_size=16),
    ],
)
def test_replay_equals_unrolled_autograd(toy, kw):
    X, y = toy
    r = TrainRecipe(model=_gelu(), **{"lr": 0.1, "l2": 1e-3, "steps": 10, "dtype": torch.float64, **kw})
    task, tgt = ClassificationTask(), (X[:4], y[:4])
    U = unrolled_metagradients(r, task, (X, y), tgt)
    assert np.abs(U).max() > 1e-4
    for ck in ("sqrt", "log", 4, 1) if kw == dict(optimizer="sgd", momentum=0.9) else ("sqrt",):
        S = metagradients(r, task, (X, y), tgt, checkpoints=ck)
        np.testing.assert_allclose(S, U, rtol=1e-9, atol=1e-12)
    S = metagradients(r, task, (X, y), tgt, target_chunk=3)
    assert min(np.corrcoef(U[:, j], S[:, j])[0, 1] for j in range(4)) >= 0.999


def test_finite_differences_agree_float64(toy):
    X, y = toy
    r = TrainRecipe(model=_gelu(), lr=0.1, momentum=0.9, l2=1e-4, steps=25, dtype=torch.float64)
    tgt = (X[:3], y[:3])
    S = attribute(r, ClassificationTask(), (X, y), tgt, method="metagradient").scores
    task = ClassificationTask()

    def out(w):
        m = r.train((X, y), weights=w)
        with torch.no_grad():
            return task.output(m(tgt[0].double()), tgt[1]).numpy()

    eps = 1e-5
    for i in (0, 7, 21):
        e = np.zeros(40)
        e[i] = eps
        fd = (out(1 + e) - out(1 - e)) / (2 * eps)
        np.testing.assert_allclose(S[i], fd, rtol=1e-5, atol=1e-8)


def test_score_sign_helps(toy):
    """A target that is also a training row: upweighting it raises its own margin (+ = helps)."""
    X, y = toy
    r = TrainRecipe(model=_gelu(), lr=0.1, momentum=0.9, steps=20)
    S = attribute(r, ClassificationTask(), (X, y), (X[:5], y[:5]), method="metagradient", checkpoints="log").scores
    assert (np.diag(S[:5]) > 0).all()
    assert (np.diag(S[:5]) >= np.quantile(S[:, :5], 0.9, axis=0)).all()


def test_errors(toy):
    X, y = toy
    with pytest.raises(AttributionError, match="optimizer"):
        TrainRecipe(model=_gelu(), optimizer="rmsprop")
    with pytest.raises(AttributionError, match="weight_decay"):
        TrainRecipe(model=_gelu(), weight_decay=0.1)
    r = TrainRecipe(model=_gelu(), steps=3)
    with pytest.raises(AttributionError, match="checkpoints"):
        attribute(r, ClassificationTask(), (X, y), (X[:2], y[:2]), method="metagradient", checkpoints="cubic")
    with pytest.raises(AttributionError, match="weights"):
        r.train((X, y), weights=np.ones(3))
    with pytest.raises(AttributionError, match="TrainRecipe"):
        attribute(torch.nn.Linear(5, 3), ClassificationTask(), (X, y), (X[:2], y[:2]), method="metagradient")
    with pytest.raises(AttributionError, match="unknown option"):
        attribute(r, ClassificationTask(), (X, y), (X[:2], y[:2]), method="metagradient", damping=0.1)


def test_lds_small_digits_beats_influence():
    """CI-sized LDS on same-seed retraining (GELU MLP, full-batch SGD + momentum, margin output)."""
    from sklearn.datasets import load_digits

    Xa, ya = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(Xa))
    X, y = torch.tensor(Xa[idx[:200]] / 16, dtype=torch.float32), torch.tensor(ya[idx[:200]])
    Xt, yt = torch.tensor(Xa[idx[200:210]] / 16, dtype=torch.float32), torch.tensor(ya[idx[200:210]])
    r = TrainRecipe(model=_gelu(64, 16, 10), lr=0.1, momentum=0.9, l2=1e-4, steps=60)
    task = ClassificationTask()
    masks = subset_masks(200, 20, 0.5, seed=1)
    outs = np.stack(
        [task.output(r.train((X[torch.as_tensor(m)], y[torch.as_tensor(m)]))(Xt), yt).detach().numpy() for m in masks]
    )
    mg = lds(attribute(r, task, (X, y), (Xt, yt), method="metagradient").scores, masks, outs)
    model = r.train((X, y))
    trak = lds(attribute(model, task, (X, y), (Xt, yt), method="trak", proj_dim=None).scores, masks, outs)
    infl = lds(
        attribute(
            model, task, (X, y), (Xt, yt), method="influence", target_fn="output", hessian="gauss_newton", damping=1e-2
        ).scores,
        masks,
        outs,
    )
    assert mg >= 0.8, mg
    assert mg > max(trak, infl) + 0.1, (mg, trak, infl)


def test_mgd_selector_drops_flipped_labels():
    from sklearn.datasets import load_digits
    from sklearn.metrics import roc_auc_score

    from winnow.select import get_selector

    X, y = load_digits(return_X_y=True)
    yn = y[:300].copy()
    yn[:60] = (yn[:60] + 1) % 10
    sel = get_selector("mgd", n_steps=2, steps=40, seed=0)
    scores = sel.fit((X[:300], yn), target=(X[300:400], y[300:400])).scores_
    assert roc_auc_score(np.arange(300) < 60, -scores) > 0.85
    assert sel.weights_.min() >= 0 and sel.weights_.max() <= 1 and len(sel.history_) == 2
    kept = sel.select_mask(0.5)
    assert (np.flatnonzero(kept) < 60).mean() < 0.1
    with pytest.raises(ValueError, match="text pool needs a text target"):
        get_selector("mgd").fit(["a b", "c d"], target=(X[:2], y[:2]))


def test_mgd_defaults_on_a_small_pool():
    """get_selector("mgd") as shipped (3 metagradient steps, 100-step proxy runs), not shortened."""
    from sklearn.datasets import load_digits
    from sklearn.metrics import roc_auc_score

    from winnow.select import get_selector

    X, y = load_digits(return_X_y=True)
    yn = y[:200].copy()
    yn[:40] = (yn[:40] + 3) % 10
    sel = get_selector("mgd")
    assert (sel.n_steps, sel.steps, sel.optimizer) == (3, None, None)
    scores = sel.fit((X[:200], yn), target=(X[1000:1100], y[1000:1100])).scores_
    assert roc_auc_score(np.arange(200) < 40, -scores) > 0.85
    assert len(sel.history_) == 3 and sel.history_[-1] < sel.history_[0] < 1


def test_metagradients_through_the_tiny_lm_equal_unrolled():
    """The recipe takes the LM task: replay through the tiny LM proxy (Adam) == unrolled autograd."""
    from winnow.proxy.lm import TinyLM
    from winnow.select.attribution import CausalLMTask

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 20, (12, 6), generator=g)
    y = ids.clone()
    y[:3, 4:] = -100  # padded tails are ignored
    r = TrainRecipe(model=lambda s: TinyLM(20, 8, 1, 2, 6), optimizer="adam", lr=0.01, steps=6, dtype=torch.float64)
    task = CausalLMTask()
    A = metagradients(r, task, (ids, y), (ids[:4], ids[:4]), target_fn="loss", checkpoints="log")
    B = unrolled_metagradients(r, task, (ids, y), (ids[:4], ids[:4]), target_fn="loss")
    assert A.shape == (12, 4) and np.abs(A).max() > 0
    np.testing.assert_allclose(A, B, rtol=1e-8, atol=1e-12)


def test_mgd_on_text_prefers_the_target_domain():
    from sklearn.metrics import roc_auc_score

    from winnow.select import get_selector

    rng = np.random.default_rng(0)
    code = ["def f(x):", "return x + 1", "for i in range(n):", "if x is None:", "import os", "self.x = x"]
    prose = ["the cat sat on the mat", "a quiet morning in the town", "she walked to the market", "rain fell"]
    pool = [" ".join(rng.choice(code if i % 2 else prose, 4)) for i in range(60)]
    target = [" ".join(rng.choice(code, 4)) for _ in range(10)]
    sel = get_selector("mgd", n_steps=1, steps=20, ctx=12, d_model=8, vocab_size=300, seed=0)
    scores = sel.fit(pool, target=target).scores_
    assert roc_auc_score(np.arange(60) % 2 == 1, scores) > 0.8
    assert sel.lr_ < 0.1  # the default 0.1 overshoots after the warm start on this toy: halved until it descends


def test_readme_snippet_runs():
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    sec = text.split("### Metagradients", 1)[1]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README-metagradients", "exec"), ns)
    assert ns["res"].scores.shape == (200, 5)
    assert np.isfinite(ns["res"].scores).all() and np.abs(ns["res"].scores).max() > 0
