"""winnow.predict.scaling: published laws, optimiser, recovery, bootstrap coverage, IO, transfer."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from winnow.predict.scaling import (
    compute_optimal,
    fit_law,
    get_law,
    lbfgs_batched,
    load_fit,
    load_runs,
    runs_from_rows,
    transfer_report,
)
from winnow.predict.scaling.fit import _prepare, _Problem
from winnow.predict.scaling.simulate import coverage_study

CHIN = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)


# ---- quality bar 2: published laws ---------------------------------------------------------
def test_chinchilla_approach3_allocation_at_gopher_compute():
    r = compute_optimal(CHIN, 5.76e23)
    assert r["N"] == pytest.approx(3.2e10, rel=0.02)
    assert r["D"] == pytest.approx(3.0e12, rel=0.02)
    assert 6 * r["N"] * r["D"] == pytest.approx(5.76e23, rel=1e-9)


def test_besiroglu_refit_allocation_at_gopher_compute():
    r = compute_optimal("besiroglu", 5.76e23)
    assert r["N"] == pytest.approx(7.2e10, rel=0.02)
    assert r["tokens_per_param"] == pytest.approx(18, abs=0.6)


def test_closed_form_is_the_constrained_minimum():
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(0)
    law = get_law("chinchilla")
    for _ in range(5):
        p = dict(
            E=rng.uniform(1, 2),
            A=rng.uniform(50, 2000),
            alpha=rng.uniform(0.2, 0.6),
            B=rng.uniform(50, 2000),
            beta=rng.uniform(0.2, 0.6),
        )
        C = 10 ** rng.uniform(19, 25)
        r = compute_optimal(p, C)
        obj = lambda lnN: float(law.predict(p, N=np.exp(lnN), D=C / 6 / np.exp(lnN)))  # noqa: E731
        res = minimize_scalar(
            obj, bounds=(np.log(1e3), np.log(C / 6 / 1e3)), method="bounded", options={"xatol": 1e-10}
        )
        assert np.exp(res.x) == pytest.approx(r["N"], rel=1e-3)
        assert r["loss"] == pytest.approx(res.fun, rel=1e-9)


def test_allocation_vectorised_over_draws_and_bad_input():
    draws = np.array([[1.69, 406.4, 0.34, 410.7, 0.28], [1.8172, 482.01, 0.3478, 2085.43, 0.3658]])
    r = compute_optimal(draws, 5.76e23)
    assert r["N"][0] == pytest.approx(compute_optimal("chinchilla", 5.76e23)["N"])
    assert r["N"][1] == pytest.approx(compute_optimal("besiroglu", 5.76e23)["N"])
    with pytest.raises(ValueError, match="compute"):
        compute_optimal(CHIN, -1)
    with pytest.raises(ValueError, match="preset"):
        compute_optimal("gopher", 1e20)


# ---- optimiser and objective ---------------------------------------------------------------
def _noisy_chinchilla(seed=0, sigma=0.01):
    Ns = np.geomspace(7e7, 1.6e10, 6)
    ratio = np.geomspace(2, 200, 7)
    N = np.repeat(Ns, 7)
    D = N * np.tile(ratio, 6)
    L = get_law("chinchilla").predict(CHIN, N=N, D=D)
    return N, D, L * np.exp(np.random.default_rng(seed).normal(0, sigma, L.size))


@pytest.mark.parametrize("law", ["power", "chinchilla", "data-constrained"])
def test_analytic_gradient_matches_finite_differences(law):
    lw = get_law(law)
    rng = np.random.default_rng(1)
    n = 30
    X = {"N": np.geomspace(0.1, 10, n), "D": np.geomspace(0.2, 20, n)[rng.permutation(n)]}
    X["U"] = X["D"] / rng.choice([1.0, 3.0, 12.0], n)
    X = {c: X[c] for c in lw.inputs}
    th = rng.normal(0, 0.5, (4, lw.k)) + np.array([0.5] + [0.3] * (lw.k - 1))
    y = rng.normal(1.0, 0.3, n)
    w = rng.integers(0, 3, (4, n)).astype(float)
    prob = _Problem(lw, X, y, w, 0.05)  # a wide delta exercises both Huber branches
    f, g = prob.fg(th, np.arange(4))
    eps = 1e-6
    for k in range(lw.k):
        e = np.zeros(lw.k)
        e[k] = eps
        fp, _ = prob.fg(th + e, np.arange(4))
        fm, _ = prob.fg(th - e, np.arange(4))
        np.testing.assert_allclose(g[:, k], (fp - fm) / (2 * eps), rtol=1e-4, atol=1e-9)


def test_batched_lbfgs_matches_scipy_per_problem():
    from scipy.optimize import minimize

    lw = get_law("chinchilla")
    N, D, L = _noisy_chinchilla(3)
    X, scales, logy = _prepare(lw, {"N": N, "D": D}, L)
    rng = np.random.default_rng(2)
    w = rng.multinomial(L.size, np.full(L.size, 1 / L.size), size=3).astype(float)
    prob = _Problem(lw, X, logy, w, 1e-3)
    x0 = lw.from_natural(CHIN, scales)[None].repeat(3, 0) + rng.normal(0, 0.3, (3, lw.k))
    res = lbfgs_batched(prob.fg, x0, gtol=1e-10, ftol=1e-14, maxiter=2000)
    for p in range(3):
        one = lambda t: tuple(a[0] for a in prob.fg(t[None], np.array([p])))  # noqa: E731
        ref = minimize(one, x0[p], jac=True, method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000})
        assert res.fun[p] <= ref.fun * (1 + 1e-6) + 1e-12


@pytest.mark.parametrize(
    "law,true,design",
    [
        ("power", dict(E=2.0, B=300.0, beta=0.3), dict(D=np.geomspace(1e6, 1e9, 9))),
        ("chinchilla", CHIN, None),
        ("data-constrained", dict(CHIN, R_D_star=15.4), "dc"),
    ],
)
def test_noiseless_recovery(law, true, design):
    if design is None:
        N, D, _ = _noisy_chinchilla()
        design = dict(N=N, D=D)
    elif design == "dc":
        N = np.repeat(np.geomspace(1e8, 3e9, 4), 12)
        U = np.tile(np.repeat(np.geomspace(2e9, 2e10, 3), 4), 4)
        design = dict(N=N, U=U, D=U * np.tile([1.0, 4, 16, 40], 12))
    L = get_law(law).predict(true, **design)
    f = fit_law(law, loss=L, n_boot=0, **design)
    for k, v in true.items():
        assert f.params[k] == pytest.approx(v, rel=2e-3), k


def test_hoffmann_grid_and_auto_grid_agree():
    N, D, L = _noisy_chinchilla(5)
    a = fit_law("chinchilla", N=N, D=D, loss=L, n_boot=0, grid="auto")
    h = fit_law("chinchilla", N=N, D=D, loss=L, n_boot=0, grid="hoffmann")
    assert h.objective == pytest.approx(a.objective, rel=1e-4)
    assert h.params["alpha"] == pytest.approx(a.params["alpha"], rel=1e-3)


def test_prediction_interval_widens_with_extrapolation_and_roundtrips(tmp_path):
    N, D, L = _noisy_chinchilla(7)
    f = fit_law("chinchilla", N=N, D=D, loss=L, n_boot=200, seed=1)
    Ns = np.array([1e9, 1e11, 1e12])
    pred, lo, hi = f.predict(N=Ns, D=20 * Ns, interval=True)
    assert np.all((lo <= pred) & (pred <= hi))
    assert (hi - lo)[2] > (hi - lo)[0]  # extrapolating further is less certain
    for k, (a, b) in f.ci.items():
        assert a <= f.params[k] <= b
    path = str(tmp_path / "fit.json")
    f.save(path)
    g = load_fit(path)
    assert g.params == f.params and g.ci == f.ci
    np.testing.assert_allclose(g.predict(N=Ns, D=20 * Ns), f.predict(N=Ns, D=20 * Ns))
    # allocation intervals from the bootstrap draws
    r = compute_optimal(f.boot, 1e22)
    assert r["N"].shape == (200,) and np.all(np.isfinite(r["N"]))


def test_fit_errors_name_the_bad_argument():
    with pytest.raises(ValueError, match="loss"):
        fit_law("power", D=[1, 2, 3, 4, 5], loss=[1, 2, -1, 3, 4], n_boot=0)
    with pytest.raises(ValueError, match="missing \\['N'\\]"):
        fit_law("chinchilla", D=[1, 2, 3, 4, 5, 6], loss=[1, 2, 1, 3, 4, 5], n_boot=0)
    with pytest.raises(ValueError, match="law must be"):
        get_law("kaplan")
    with pytest.raises(ValueError, match="only 3 points"):
        fit_law("power", D=[1, 2, 3], loss=[3, 2, 1], n_boot=0)


# ---- quality bar 1: bootstrap coverage of the true parameters -------------------------------
# Fast versions (all trials and all bootstrap refits run as one batched L-BFGS). The percentile
# interval needs enough draws to place its 2.5 % / 97.5 % quantiles: 200 draws put 5 draws in each
# tail (the power law test); the Chinchilla test uses 100 draws (2.5 per tail, interpolated),
# whose Monte-Carlo error in the endpoints lowers coverage by about a point at most (Hall 1986:
# coverage error of order 1/B), well inside the margin between the measured 96-100 % (B = 200,
# benchmarks/RESULTS.md) and the 90 % bar.
def test_coverage_power_law_fast():
    r = coverage_study(
        "power",
        dict(E=2.0, B=300.0, beta=0.3),
        D=np.repeat(np.geomspace(1e6, 1e9, 8), 2),
        trials=50,
        n_boot=200,
        sigma=0.01,
        seed=11,
    )
    assert min(r["coverage"].values()) >= 0.90, r["coverage"]


def test_coverage_chinchilla_fast():
    N, D, _ = _noisy_chinchilla()
    Ns = np.array([1e9, 1e11])  # inside the design, and 6x beyond its largest model
    r = coverage_study(
        "chinchilla", CHIN, N=N, D=D, trials=50, n_boot=100, sigma=0.01, seed=12, predict_at=dict(N=Ns, D=20 * Ns)
    )
    assert min(r["coverage"].values()) >= 0.90, r["coverage"]
    assert min(r["prediction_coverage"]) >= 0.90, r["prediction_coverage"]
    # the intervals are informative, not just wide: alpha and beta pinned to +-0.1
    assert r["median_width"]["alpha"] < 0.2 and r["median_width"]["beta"] < 0.1


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("WINNOW_SLOW"), reason="slow: set WINNOW_SLOW=1")
def test_coverage_chinchilla_full():
    N, D, _ = _noisy_chinchilla()
    r = coverage_study("chinchilla", CHIN, N=N, D=D, trials=200, n_boot=200, sigma=0.01, seed=13)
    assert min(r["coverage"].values()) >= 0.90, r["coverage"]


# ---- IO ------------------------------------------------------------------------------------
def test_reads_bench_json_and_aliases(tmp_path):
    bench = {
        "rows": [
            {"strategy": s, "budget": b, "seed": k, "metric": m}
            for s, b, k, m in [
                ("random", "10%", 0, 3.1),
                ("dsir", "10%", 0, 2.9),
                ("random", "50%", 1, 2.7),
                ("dsir", "50%", 1, 2.6),
            ]
        ]
    }
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(bench))
    r = load_runs(str(p))
    assert r.recipes() == ["random", "dsir"]
    np.testing.assert_allclose(r.D, [0.1, 0.1, 0.5, 0.5])
    np.testing.assert_allclose(r.loss, [3.1, 2.9, 2.7, 2.6])
    q = tmp_path / "runs.csv"
    q.write_text("Recipe,params,tokens,val_loss,seed\nx,1e8,2e9,3.0,0\nx,1e8,25k,3.5,1\n")
    r = load_runs(str(q))
    np.testing.assert_allclose(r.N, [1e8, 1e8])
    np.testing.assert_allclose(r.D, [2e9, 25e3])
    long = [
        {"method": "a", "rows": 100, "metric": "accuracy", "value": 0.8},
        {"method": "a", "rows": 100, "metric": "loss", "value": 0.5},
    ]
    with pytest.raises(ValueError, match="several metrics"):
        runs_from_rows(long)
    r = runs_from_rows(long, metric="accuracy")
    assert r.loss.tolist() == [0.8] and r.higher_is_better
    r = runs_from_rows([{"D": 10, "ppl": np.e**2}])
    assert r.loss[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no loss/metric column"):
        runs_from_rows([{"D": 10, "foo": 1}])
    with pytest.raises(ValueError, match="column 'nope'"):
        runs_from_rows([{"D": 10, "loss": 1}], columns={"D": "nope"})


# ---- proxy transfer ------------------------------------------------------------------------
def test_transfer_ranks_and_crossings_against_ground_truth():
    # a = 2 + 1/x^0.5 and b = 1.8 + 3/x^0.5 cross at x = 100 exactly; c is always worst
    xs = np.array([4.0, 9, 16, 36, 64, 400, 1600])
    rows = []
    for seed, eps in enumerate((-0.001, 0.001)):
        for x in xs:
            rows += [
                {"recipe": "a", "D": x, "seed": seed, "loss": 2 + 1 / x**0.5 + eps},
                {"recipe": "b", "D": x, "seed": seed, "loss": 1.8 + 3 / x**0.5 + eps},
                {"recipe": "c", "D": x, "seed": seed, "loss": 2.5 + 3 / x**0.5 + eps},
            ]
    rep = transfer_report(runs_from_rows(rows))
    assert rep["best"] == ["a"] * 5 + ["b"] * 2
    (c,) = rep["crossings"]
    assert (c["a"], c["b"], c["better_before"], c["better_after"]) == ("a", "b", "a", "b")
    assert c["between"] == [64.0, 400.0] and 64 < c["at"] < 400 and c["significant"]
    assert rep["vs_largest"][-1]["spearman"] == pytest.approx(1.0)  # 400 vs 1600
    assert rep["vs_largest"][0]["spearman"] == pytest.approx(0.5)  # 4 vs 1600: a, b swap
    # fitted power laws on the scales below the crossing predict it
    small = runs_from_rows([r for r in rows if r["D"] <= 64])
    rep2 = transfer_report(small, extrapolate_to=1e4)
    assert rep2["crossings"] == []
    hits = [c for c in rep2["fitted_crossings"] if {c["a"], c["b"]} == {"a", "b"}]
    assert len(hits) == 1 and hits[0]["at"] == pytest.approx(100, rel=0.05)


def test_transfer_needs_two_recipes():
    with pytest.raises(ValueError, match="2 recipes"):
        transfer_report(runs_from_rows([{"D": 1, "loss": 1.0}, {"D": 2, "loss": 0.9}]))


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in (
        "winnow.predict.scaling",
        "winnow.predict.scaling.fit",
        "winnow.predict.scaling.laws",
        "winnow.predict.scaling.optim",
        "winnow.predict.scaling.allocation",
        "winnow.predict.scaling.io",
        "winnow.predict.scaling.transfer",
        "winnow.predict.scaling.simulate",
    ):
        res = doctest.testmod(importlib.import_module(name))
        assert res.failed == 0 and res.attempted > 0, name


def test_fit_runs_picks_the_law_from_the_columns():
    from winnow.predict.scaling import fit_runs

    law = get_law("data-constrained")
    true = dict(CHIN, R_D_star=15.4)
    N = np.repeat(np.geomspace(1e8, 3e9, 4), 12)
    U = np.tile(np.repeat(np.geomspace(2e9, 2e10, 3), 4), 4)
    ep = np.tile([1.0, 4, 16, 40], 12)
    L = law.predict(true, N=N, D=U * ep, U=U)
    rows = [{"params": n, "tokens": u * e, "epochs": e, "loss": l} for n, u, e, l in zip(N, U, ep, L)]
    f = fit_runs(runs_from_rows(rows), n_boot=0)
    assert f.law.name == "data-constrained"
    assert f.params["R_D_star"] == pytest.approx(15.4, rel=5e-3)
    one_epoch = [r for r in rows if r["epochs"] == 1]
    assert fit_runs(runs_from_rows(one_epoch), n_boot=0).law.name == "chinchilla"
    single_n = [r for r in rows if r["params"] == N[0]]  # one model size, 1-40 epochs
    assert fit_runs(runs_from_rows(single_n), n_boot=0).law.name == "data-constrained-1d"
    with pytest.raises(ValueError, match="only 3 points"):
        fit_runs(runs_from_rows([r for r in single_n if r["epochs"] == 1]), n_boot=0)


def test_transfer_seed_bootstrap_separates_clear_from_noisy_rankings():
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(4):
        for x in (10.0, 100.0, 1000.0):
            # clear: gaps of 0.5 with seed noise 0.01; noisy: gaps of 0.01 with noise 0.05
            for k, r in enumerate("abc"):
                rows.append({"recipe": "clear-" + r, "D": x, "seed": seed, "loss": 3 + 0.5 * k + rng.normal(0, 0.01)})
                rows.append({"recipe": "noisy-" + r, "D": x, "seed": seed, "loss": 3 + 0.01 * k + rng.normal(0, 0.05)})
    runs = runs_from_rows(rows)
    clear = transfer_report(runs.subset(np.char.startswith(runs.recipe.astype(str), "clear")), n_boot=500)
    noisy = transfer_report(runs.subset(np.char.startswith(runs.recipe.astype(str), "noisy")), n_boot=500)
    for p in clear["vs_largest"]:
        assert p["spearman_ci"] == [1.0, 1.0] and p["p_same_winner"] == 1.0
    for p in noisy["vs_largest"]:
        assert p["spearman_ci"][0] < 0 < p["spearman_ci"][1] and p["p_same_winner"] < 0.95, p
