"""The one entry point: ``attribute(model, task, train, target, method=...) -> AttributionResult``.

Score convention everywhere: ``scores[i, j] > 0`` means training on example i reduces target j's
loss / increases its output (TRAK's ``f``); the magnitude is in the method's own units.

Example:
    >>> import torch
    >>> from winnow.select.attribution import attribute, ClassificationTask
    >>> torch.manual_seed(0)
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Linear(4, 3)
    >>> X, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    >>> res = attribute(model, ClassificationTask(), (X, y), (X[:4], y[:4]), method="influence", damping=0.1)
    >>> res.scores.shape
    (30, 4)
    >>> top = res.aggregate("mean").argsort()[::-1][:5]   # the 5 most helpful training examples
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from winnow.select.attribution.data import AttributionError, Data
from winnow.select.attribution.features import Featurizer
from winnow.select.attribution.options import (
    ALIASES,
    METHODS,  # noqa: F401  (public here too)
    CosineOptions,
    InfluenceOptions,
    TracinOptions,
    TrakOptions,
    canonical_method,
    validate_options,
)
from winnow.select.attribution.store import FeatureStore
from winnow.select.attribution.task import Task


@dataclass
class AttributionResult:
    """Scores ``[n_train, n_target]`` plus how they were made.

    ``scores[i, j] > 0``: train example i reduces target j's loss / increases its output.
    """

    scores: np.ndarray
    method: str
    options: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_train(self) -> int:
        return int(self.scores.shape[0])

    @property
    def n_target(self) -> int:
        return int(self.scores.shape[1])

    def aggregate(self, how: str | Callable = "mean") -> np.ndarray:
        """One score per training example: ``mean`` (default), ``sum``, ``max``, ``min``, ``median``,
        ``abs_mean``, or a callable taking the matrix and returning ``[n_train]``."""
        S = np.asarray(self.scores)
        if callable(how):
            out = np.asarray(how(S))
        else:
            fns = {
                "mean": lambda a: a.mean(1),
                "sum": lambda a: a.sum(1),
                "max": lambda a: a.max(1),
                "min": lambda a: a.min(1),
                "median": lambda a: np.median(a, 1),
                "abs_mean": lambda a: np.abs(a).mean(1),
            }
            if how not in fns:
                raise AttributionError(f"how must be one of {sorted(fns)} or a callable, got {how!r}")
            out = fns[how](S)
        if out.shape != (self.n_train,):
            raise AttributionError(f"aggregate must return shape ({self.n_train},), got {out.shape}")
        return out

    def top(self, k: int, how: str | Callable = "mean") -> np.ndarray:
        """Indices of the k training examples with the highest aggregate score."""
        return np.argsort(-self.aggregate(how), kind="stable")[:k]

    def to_table(self, ids: Sequence[str] | None = None, how: str = "mean", per_target: bool = False):
        """A pyarrow Table with ``id``, ``score`` (the aggregate) and, if asked, ``score_<j>`` per target."""
        import pyarrow as pa

        ids = [str(i) for i in range(self.n_train)] if ids is None else [str(i) for i in ids]
        if len(ids) != self.n_train:
            raise AttributionError(f"ids has {len(ids)} entries but there are {self.n_train} train examples")
        cols = {"id": pa.array(ids, pa.string()), "score": pa.array(self.aggregate(how), pa.float64())}
        if per_target:
            for j in range(self.n_target):
                cols[f"score_{j}"] = pa.array(np.asarray(self.scores[:, j]), pa.float64())
        return pa.table(cols)


def _models(model, checkpoints) -> list[torch.nn.Module]:
    if isinstance(model, torch.nn.Module):
        models = [model]
    elif isinstance(model, (list, tuple)) and model and all(isinstance(m, torch.nn.Module) for m in model):
        models = list(model)
    else:
        raise AttributionError(
            f"model must be a torch.nn.Module or a non-empty list of them, got {type(model).__name__}"
        )
    if checkpoints is None:
        return models
    if len(models) != 1:
        raise AttributionError("pass either a list of models or one model with checkpoints=, not both")
    import copy

    out = []
    for ck in checkpoints:
        m = copy.deepcopy(models[0])
        if isinstance(ck, (str, bytes)) or hasattr(ck, "__fspath__"):
            from safetensors.torch import load_file

            ck = load_file(str(ck))
        if not isinstance(ck, dict):
            raise AttributionError(f"checkpoints must hold state dicts or safetensors paths, got {type(ck).__name__}")
        m.load_state_dict(ck)
        out.append(m)
    if not out:
        raise AttributionError("checkpoints is empty")
    return out


def attribute(
    model,
    task: Task,
    train,
    target,
    method: str = "trak",
    *,
    params=None,
    batch_size: int = 64,
    proj_dim: int | None | str = "auto",
    proj_kind: str = "rademacher",
    seed: int = 0,
    store: str | FeatureStore | None = None,
    checkpoints=None,
    projection: str = "dense",
    **options,
) -> AttributionResult:
    """Score every (train, target) pair.

    Args:
        model: a ``torch.nn.Module`` (trained), or a list of them (an ensemble of independently
            trained models for TRAK; the checkpoints of one run for TracIn).
        task: a :class:`~winnow.select.attribution.task.Task` (``ClassificationTask()``, ``CausalLMTask()``,
            ``RegressionTask()`` or your own).
        train, target: ``(X, y)`` tensors or map-style torch Datasets yielding ``(x, y)``.
        method: ``"trak"`` (default), ``"influence"`` (alias ``"if"``), ``"tracin"``, ``"cosine"``
            (LESS-style gradient cosine), ``"grad_dot"``, ``"datamodels"``.
        params: parameters to attribute over (None = all trainable; names/prefixes; or a predicate).
        batch_size: examples per per-example-gradient batch (bounds memory at ``batch_size * P``).
        proj_dim: random-projection dimension (``None`` = no projection; ``"auto"`` = 2048 for TRAK
            when the model has more parameters than that, none otherwise; for tracin/grad_dot/cosine
            2048 above 16,384 parameters, none below; influence projects only with ``projection="factored"``).
        proj_kind: ``"rademacher"`` or ``"gaussian"``; ``seed`` seeds it (scores are deterministic).
        store: a folder (or :class:`FeatureStore`) where gradient features are saved and reused.
        projection: ``"dense"`` (default: per-example gradients of all selected parameters times a
            seeded ``P x proj_dim`` matrix) or ``"factored"`` (LoGra: ``nn.Linear``/``nn.Embedding``
            layers and a tied LM head only, projected through two small matrices per layer without
            forming per-example gradients; see :mod:`winnow.select.attribution.factored`). Factored
            features are stored in resumable shards.
        checkpoints: state dicts (or safetensors paths) loaded into copies of ``model``; for
            ``method="metagradient"`` the replay schedule (``"sqrt"`` default, ``"log"``, an int).
        options: method-specific, validated by the method's model in
            :mod:`winnow.select.attribution.options` (unknown names are errors). influence:
            ``solver`` ("auto", "exact", "cg", "lissa", "ekfac":
            eigenvalue-corrected K-FAC over nn.Linear layers, the one used with projection="factored"),
            ``damping`` (default ``"auto"``: 1e-3 for a linear model; otherwise the smallest damping
            at which the scores are reproducible across two halves of the training data, see
            :func:`~winnow.select.attribution.hessian.auto_damping`; EK-FAC: 0.1 x the mean
            corrected eigenvalue per layer), ``auto_threshold`` (0.75), ``target_fn`` ("loss"
            default, or "output"), ``max_iter``, ``depth``,
            ``repeat``, ``hessian`` ("auto" default: the true Hessian for a linear model with the
            exact solver, Gauss-Newton otherwise; or "hessian", "gauss_newton"); ``solver="auto"``
            is exact up to ``max_exact_params`` parameters, CG above; trak: ``damping``
            (ridge on the kernel; default 0.1 *
            its mean diagonal: kernels from few
            examples are ill-conditioned), ``ensemble`` ("mean_q": the paper's average of kernel
            scores times the average Q, default; "mean": average of per-model scores); tracin:
            ``lrs`` (one learning rate per checkpoint), ``target_fn``; datamodels: ``fit``
            (callable ``(X, y, seed) -> model``), ``n_models``, ``alpha``, ``l2``; metagradient
            (``model`` = a :class:`~winnow.select.attribution.recipe.TrainRecipe`; exact
            ``d output_j / d w_i`` through training): ``weights``, ``target_fn``, ``target_chunk``,
            ``progress``, ``info`` (see :func:`~winnow.select.attribution.metagrad.metagradients`).

    Returns:
        :class:`AttributionResult` with ``scores [n_train, n_target]``.
    """
    t0 = time.perf_counter()
    if not isinstance(task, Task):
        raise AttributionError(
            f"task must be a winnow.select.attribution.Task (e.g. ClassificationTask()), got {type(task).__name__}"
        )
    m = canonical_method(method)
    opts = validate_options(m, options)
    tr, tg = Data(train, "train"), Data(target, "target")
    if batch_size < 1:
        raise AttributionError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(store, (str, bytes)) or hasattr(store, "__fspath__"):
        store = FeatureStore(store)
    if projection not in ("dense", "factored"):
        raise AttributionError(f"projection must be 'dense' or 'factored', got {projection!r}")
    common = dict(
        params=params,
        batch_size=batch_size,
        proj_kind=proj_kind,
        seed=seed,
        store=store,
        projection=projection,
        info={},
    )
    if m == "metagradient":  # model is a TrainRecipe; checkpoints is the replay schedule
        from winnow.select.attribution.metagrad import metagradients

        if tr.dataset is not None or tg.dataset is not None:
            raise AttributionError("method='metagradient' needs train and target as (X, y) tuples, not Datasets")
        # weights and info pass through as given (info is filled in place for the caller)
        scores = metagradients(
            model,
            task,
            (tr.X, tr.y),
            (tg.X, tg.y),
            checkpoints=checkpoints,
            **{**opts.model_dump(), "weights": options.get("weights"), "info": options.get("info")},
        )
    elif m == "datamodels":
        from winnow.select.attribution.datamodels import datamodel_scores

        scores = datamodel_scores(task, tr, tg, seed=seed, **opts.model_dump())
    else:
        models = _models(model, checkpoints)
        fn = {"influence": _influence, "trak": _trak, "tracin": _tracin, "cosine": _cosine, "grad_dot": _tracin}[m]
        scores = fn(models, task, tr, tg, proj_dim=proj_dim, common=common, o=opts)
    return AttributionResult(
        np.asarray(scores),
        m,
        {
            "proj_dim": proj_dim,
            "seed": seed,
            "projection": projection,
            **{k: v for k, v in options.items() if isinstance(v, (int, float, str, bool, type(None)))},
            **common["info"],
        },
        time.perf_counter() - t0,
    )


def _auto_proj(proj_dim, P: int, default: int | None) -> int | None:
    if proj_dim == "auto":
        return default if default is not None and P > default else None
    if proj_dim is not None and (not isinstance(proj_dim, int) or proj_dim < 1):
        raise AttributionError(f"proj_dim must be a positive int, None or 'auto', got {proj_dim!r}")
    return proj_dim


def _featurizer(model, task, fn, proj_dim, common, default_proj, seed_offset=0) -> Featurizer:
    from winnow.select.attribution.grads import select_params

    P = select_params(model, common["params"]).dim
    if common.get("projection") == "factored" and (proj_dim is not None or default_proj is not None):
        from winnow.select.attribution.factored import FactoredFeaturizer

        k = (default_proj or 2048) if proj_dim in ("auto", None) else _auto_proj(proj_dim, P, None)
        return FactoredFeaturizer(
            model,
            task,
            params=common["params"],
            fn=fn,
            proj_dim=k,
            proj_kind=common["proj_kind"],
            seed=common["seed"] + seed_offset,
            batch_size=common["batch_size"],
            store=common["store"],
        )
    return Featurizer(
        model,
        task,
        params=common["params"],
        fn=fn,
        proj_dim=_auto_proj(proj_dim, P, default_proj),
        proj_kind=common["proj_kind"],
        seed=common["seed"] + seed_offset,
        batch_size=common["batch_size"],
        store=common["store"],
    )


def _sign(target_fn: str) -> float:
    """+1 when attributing the target's loss, -1 for its output (so positive = helpful either way)."""
    return 1.0 if target_fn == "loss" else -1.0


# ---------------------------------------------------------------------------------------------------
# influence functions


def _influence(models, task, tr: Data, tg: Data, *, proj_dim, common, o: InfluenceOptions) -> np.ndarray:
    """Koh & Liang: ``score_ij = +/- grad f_j^T (H + damping I)^{-1} grad L_i / n`` with H the Hessian
    of the mean training loss. With ``target_fn="loss"`` it predicts how much removing i would raise
    target j's loss (leave-one-out). ``hessian="auto"``: the true Hessian for the exact solver (its
    negative eigenvalues are clipped), the Gauss-Newton Hessian (positive semi-definite; equal to
    the Hessian for linear models) for the iterative solvers, where an indefinite H is unsound."""
    from winnow.select.attribution.hessian import HVP, explicit_hessian, solve_cg, solve_exact, solve_lissa

    solver, damping = o.solver, o.damping
    tfn, sign = o.target_fn, _sign(o.target_fn)
    if solver == "ekfac" or common.get("projection") == "factored":
        from winnow.select.attribution.ekfac import EKFAC

        if solver not in ("ekfac", "auto"):
            raise AttributionError(f"projection='factored' works with solver='ekfac', not {solver!r}")
        k = None if common.get("projection") != "factored" else (2048 if proj_dim in ("auto", None) else proj_dim)
        return sum(
            EKFAC(
                m,
                task,
                params=common["params"],
                proj_dim=k,
                proj_kind=common["proj_kind"],
                seed=common["seed"],
                batch_size=common["batch_size"],
                damping=None if damping == "auto" else damping,
            )
            .fit(tr)
            .scores(tr, tg, tfn)
            for m in models
        ) / len(models)
    auto = damping is None or damping == "auto"
    total = 0.0
    for mi, model in enumerate(models):
        f_tr = _featurizer(model, task, "loss", None, common, None)
        f_tg = _featurizer(model, task, tfn, None, common, None)
        P = f_tr.gf.spec.dim
        # a linear model (convex loss): the true Hessian (= Gauss-Newton there); otherwise Gauss-Newton
        linear = isinstance(model, torch.nn.Linear)
        slv = solver if solver != "auto" else ("exact" if P <= o.max_exact_params else "cg")
        kind = o.hessian if o.hessian != "auto" else ("hessian" if slv == "exact" and linear else "gauss_newton")
        hbs = o.hessian_batch_size or max(common["batch_size"], 256)
        hvp = HVP(f_tr.gf, tr, hbs, kind=kind)
        Gt = torch.as_tensor(np.asarray(f_tg.matrix(tg)), dtype=torch.float64)  # [m, P]
        if auto and linear:
            damping = 1e-3  # convex: matches exact leave-one-out
        elif auto:  # split-half reproducibility (benchmarks/attribution/bench_defaults.py)
            damping = _auto_damping(f_tr, tr, Gt, kind, hbs, o, common["seed"])
            common["info"].setdefault("auto_damping", []).append(damping)
        if slv == "exact":
            H = explicit_hessian(hvp)
            X = torch.as_tensor(solve_exact(H, Gt.T.numpy(), damping))  # [P, m]
        elif slv == "cg":
            X = solve_cg(hvp, Gt.T, damping, max_iter=o.max_iter, tol=o.tol).cpu()
        else:
            X = (
                solve_lissa(hvp, Gt.T, damping, depth=o.depth, repeat=o.repeat, scale=o.scale, seed=common["seed"])
                .double()
                .cpu()
            )
        S = np.empty((tr.n, tg.n), dtype=np.float64)
        if common["store"] is not None:
            G = f_tr.matrix(tr)
            for s in range(0, tr.n, 4096):
                S[s : s + 4096] = np.asarray(G[s : s + 4096], dtype=np.float64) @ X.numpy()
        else:
            for s, g in f_tr.iter(tr):
                S[s : s + g.shape[0]] = (g.double().cpu() @ X).numpy()
        total = total + S * (sign / tr.n)
    return total / len(models)


def _auto_damping(f_tr, tr: Data, Gt: torch.Tensor, kind: str, hbs: int, o: InfluenceOptions, seed: int) -> float:
    """``damping="auto"`` for the iterative solvers: :func:`~winnow.select.attribution.hessian.auto_damping`
    on up to 16 target gradients and 512 training gradients (seeded samples)."""
    from winnow.select.attribution.hessian import auto_damping, subset

    rng = np.random.default_rng(seed + 17)
    probe = Gt[np.sort(rng.choice(Gt.shape[0], min(16, Gt.shape[0]), replace=False))]
    rows = np.sort(rng.choice(tr.n, min(512, tr.n), replace=False))
    G = torch.cat([g.double().cpu() for _, g in f_tr.iter(subset(tr, rows))])
    lam, ladder = auto_damping(
        f_tr.gf,
        tr,
        probe,
        G,
        kind=kind,
        batch_size=hbs,
        threshold=o.auto_threshold,
        max_iter=o.max_iter,
        tol=o.tol,
        seed=seed,
    )
    return lam


# ---------------------------------------------------------------------------------------------------
# TRAK


def _trak(models, task, tr: Data, tg: Data, *, proj_dim, common, o: TrakOptions) -> np.ndarray:
    """TRAK (Park et al. 2023): ``phi_j^T (Phi^T Phi + damping I)^{-1} phi_i * Q_i`` with phi the
    projected gradients of the model output f, Q_i = output_weight (1 - p_i). Over an ensemble,
    ``ensemble="mean_q"`` (the paper's Algorithm 1, default) averages the kernel scores and Q
    separately and multiplies the averages; ``"mean"`` averages the per-model products."""
    from winnow.select.attribution.grads import model_outputs

    damping, ensemble = o.damping, o.ensemble
    total, q_total = 0.0, 0.0
    for mi, model in enumerate(models):
        fz = _featurizer(model, task, "output", proj_dim, common, o.default_proj_dim, seed_offset=mi)
        Phi = torch.as_tensor(np.asarray(fz.matrix(tr)), dtype=torch.float64)
        Pt = torch.as_tensor(np.asarray(fz.matrix(tg)), dtype=torch.float64)
        K = Phi.T @ Phi
        lam = (0.1 * float(K.diagonal().mean())) if damping is None else float(damping)
        K.diagonal().add_(lam)
        L = torch.linalg.cholesky(K)
        X = torch.cholesky_solve(Pt.T.contiguous(), L)  # [k, m]
        Q = model_outputs(model, task, tr, ("output_weight",), common["batch_size"] * 4)["output_weight"].double()
        if ensemble == "mean":
            total = total + (Phi @ X) * Q[:, None]
        else:
            total, q_total = total + Phi @ X, q_total + Q
    if ensemble == "mean":
        return (total / len(models)).numpy()
    return ((total / len(models)) * (q_total / len(models))[:, None]).numpy()


# ---------------------------------------------------------------------------------------------------
# TracIn and gradient similarity


def _tracin(models, task, tr: Data, tg: Data, *, proj_dim, common, o: TracinOptions) -> np.ndarray:
    """TracIn-CP (Pruthi et al. 2020): ``sum_c lr_c * grad L_j(theta_c) . grad L_i(theta_c)``."""
    tfn, sign, lrs, normalize = o.target_fn, _sign(o.target_fn), o.lrs, o.normalize
    if lrs is None:
        lrs = [1.0] * len(models)
    if len(lrs) != len(models):
        raise AttributionError(f"lrs has {len(lrs)} entries but there are {len(models)} checkpoints")
    total = 0.0
    for mi, (model, lr) in enumerate(zip(models, lrs)):
        dp = _grad_proj_default(model, common)
        f_tr = _featurizer(model, task, "loss", proj_dim, common, dp, seed_offset=mi)
        f_tg = _featurizer(model, task, tfn, proj_dim, common, dp, seed_offset=mi)
        A = torch.as_tensor(np.asarray(f_tr.matrix(tr)), dtype=torch.float64)
        B = torch.as_tensor(np.asarray(f_tg.matrix(tg)), dtype=torch.float64)
        if normalize:
            A = A / A.norm(dim=1, keepdim=True).clamp(min=1e-30)
            B = B / B.norm(dim=1, keepdim=True).clamp(min=1e-30)
        total = total + float(lr) * (A @ B.T)
    return (sign * total / (len(models) if normalize else 1)).numpy()


def _grad_proj_default(model, common) -> int | None:
    """proj_dim="auto" for gradient dot products: exact (no projection) up to 16,384 parameters,
    where it is both exact and fastest; 2,048 dims above (benchmarks/attribution/bench_user_defaults.py)."""
    from winnow.select.attribution.grads import select_params

    return None if select_params(model, common["params"]).dim <= 16384 else 2048


def _cosine(models, task, tr, tg, *, proj_dim, common, o: CosineOptions) -> np.ndarray:
    """LESS-style (Xia et al. 2024): cosine similarity of (projected) loss gradients, mean over checkpoints."""
    return _tracin(
        models, task, tr, tg, proj_dim=proj_dim, common=common, o=TracinOptions(target_fn=o.target_fn, normalize=True)
    )


# ---------------------------------------------------------------------------------------------------


def self_influence(
    model,
    task: Task,
    train,
    method: str = "influence",
    *,
    params=None,
    batch_size: int = 64,
    proj_dim="auto",
    seed: int = 0,
    checkpoints=None,
    damping: float | None = None,
    lrs: Sequence[float] | None = None,
    solver: str = "auto",
) -> np.ndarray:
    """Each training example's score on itself (``[n_train]``): high = the example is hard to fit
    from the rest (memorised, atypical, often mislabelled). ``method``: influence, trak, tracin.

    Example:
        >>> import torch
        >>> from winnow.select.attribution import self_influence, ClassificationTask
        >>> X, y = torch.randn(40, 4), torch.randint(0, 2, (40,))
        >>> self_influence(torch.nn.Linear(4, 2), ClassificationTask(), (X, y), damping=0.1).shape
        (40,)
    """
    from winnow.select.attribution.hessian import HVP, explicit_hessian, solve_cg, solve_exact

    m = ALIASES.get(method, method)
    tr = Data(train, "train")
    models = _models(model, checkpoints)
    common = dict(params=params, batch_size=batch_size, proj_kind="rademacher", seed=seed, store=None)
    out = np.zeros(tr.n)
    for mi, mdl in enumerate(models):
        if m == "influence":
            fz = _featurizer(mdl, task, "loss", None, common, None)
            G = torch.as_tensor(np.asarray(fz.matrix(tr)), dtype=torch.float64)
            d = 1e-3 if damping is None else damping
            if solver == "cg" or (solver == "auto" and fz.gf.spec.dim > 4096):  # CG needs a PSD curvature
                X = solve_cg(HVP(fz.gf, tr, max(batch_size, 256), kind="gauss_newton"), G.T, d).cpu().T
            else:
                X = torch.as_tensor(
                    solve_exact(explicit_hessian(HVP(fz.gf, tr, max(batch_size, 256))), G.T.numpy(), d)
                ).T
            out += ((G * X).sum(1) / tr.n).numpy()
        elif m == "trak":
            from winnow.select.attribution.grads import model_outputs

            fz = _featurizer(mdl, task, "output", proj_dim, common, 2048, seed_offset=mi)
            Phi = torch.as_tensor(np.asarray(fz.matrix(tr)), dtype=torch.float64)
            K = Phi.T @ Phi
            K.diagonal().add_(0.1 * float(K.diagonal().mean()) if damping is None else damping)
            X = torch.cholesky_solve(Phi.T.contiguous(), torch.linalg.cholesky(K)).T
            Q = model_outputs(mdl, task, tr, ("output_weight",))["output_weight"].double()
            out += ((Phi * X).sum(1) * Q).numpy()
        elif m in ("tracin", "grad_dot"):
            fz = _featurizer(mdl, task, "loss", proj_dim, common, _grad_proj_default(mdl, common), seed_offset=mi)
            G = torch.as_tensor(np.asarray(fz.matrix(tr)), dtype=torch.float64)
            out += (lrs[mi] if lrs else 1.0) * (G * G).sum(1).numpy()
        else:
            raise AttributionError(f"self_influence method must be influence, trak or tracin, got {method!r}")
    return out / len(models)
