"""Source mixtures from small proxy runs (RegMix, Liu et al. 2024): sample mixtures, train the
fixed-compute proxy on each, regress eval loss on the weights, search the simplex, validate.

1. **Groups.** Pool documents are grouped by a column (``group_by``, default ``source``); the
   natural mixture is each group's share of the pool's tokens (BPE trained on the pool).
2. **Sample.** ``runs`` mixtures: the corners (one group only), the natural and the uniform
   mixture, the rest Dirichlet draws around the natural proportions
   (``alpha = c * natural`` with ``c`` drawn log-uniformly in [0.3, 30], as RegMix does).
3. **Train.** The proxy of ``winnow bench`` (``proxy: {preset, tokens}``; fixed compute) on each
   mixture: each batch draws its windows from the groups with the mixture's probabilities. One
   JSON file per finished run under ``OUTPUT/runs/`` (keyed by weights, seed, recipe and data
   fingerprint): a killed ``winnow mix`` skips them on restart. ``workers`` processes in parallel.
4. **Regress.** Per eval set, a quadratic ridge model (weights, their squares and products) and a
   gradient-boosted one (``HistGradientBoostingRegressor``); the one with the higher
   cross-validated (5-fold, out-of-fold) Spearman correlation is used; both are reported.
5. **Search.** 100,000 candidate mixtures (drawn like the proxy runs, plus perturbations of the
   three best measured runs), kept only within the limits and inside the sampled region (no
   extrapolation: a quadratic fitted on a few dozen runs has spurious minima in unsampled corners),
   scored by the predicted objective; the weights are the mean of the best 100 (RegMix's top-k
   average: robust to the regressor's noise). Limits: ``max_epochs`` (no
   group repeated more than this many times at the proxy's token count: ``w_g * tokens <=
   max_epochs * tokens_g``), ``max_weight`` / ``min_weight`` per group.
6. **Validate.** Train the proxy on the predicted, natural and uniform mixtures over ``seeds``;
   mean objective loss with 95% Student-t intervals and paired gains (``+`` = lower loss).

``mix.json`` (``"schema": "winnow.mix/1"``), read by ``winnow report`` and by the export step::

    {"schema": "winnow.mix/1",
     "group_by": "source",
     "weights": {group: w, ...},            # the chosen mixture (sums to 1): sampling weights by tokens
     "natural": {group: w}, "uniform": {group: w},
     "groups": {group: {"docs": int, "tokens": int, "max_weight": float}},
     "objective": {"evals": {eval: weight}}, "evals": [eval, ...],
     "proxy": {preset, layers, width, heads, context, batch, steps, tokens, lr, schedule, params},
     "regression": {"chosen": {eval: "quadratic" | "gbm"},
                    "cv_spearman": {eval: {"quadratic": rho, "gbm": rho}},
                    "objective_cv_spearman": rho, "n_runs": int},
     "predicted": {"objective": float, "evals": {eval: float}},
     "validation": {"seeds": [...], "mixtures": {"predicted" | "natural" | "uniform":
                        {"mean", "ci_low", "ci_high", "values": [...], "evals": {eval: mean}}},
                    "gains": {"vs_natural" | "vs_uniform": {"mean", "ci_low", "ci_high", "significant"}}},
     "runs": [{"weights": {group: w}, "seed": int, "losses": {eval: loss}, "kind": str}, ...],
     "seconds": float}

Losses are mean next-token cross-entropy (nats per token) on each eval set.

Example:
    >>> res = run_mix("examples/mix.yaml")      # doctest: +SKIP
    >>> res["weights"]                          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from typing import Callable

import numpy as np

from winnow.errors import WinnowError

SCHEMA = "winnow.mix/1"


class MixConfigError(WinnowError, ValueError):
    """A bad mix config; the message names the key."""


KEYS = {
    "pool",
    "group_by",
    "eval",
    "objective",
    "proxy",
    "runs",
    "seeds",
    "output",
    "limits",
    "workers",
    "vocab_size",
    "text_column",
    "seed",
    "search",
    "top_k",
    "max_docs",
}


def load_mix_config(config) -> dict:
    """Validate a mix config (YAML path or mapping) and fill defaults."""
    if isinstance(config, (str, os.PathLike)):
        import yaml

        with open(config, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    if not isinstance(config, dict):
        raise MixConfigError("mix config must be a mapping")
    bad = set(config) - KEYS
    if bad:
        raise MixConfigError(f"unknown key(s) {sorted(bad)}; valid: {sorted(KEYS)}")
    for k in ("pool", "eval"):
        if k not in config:
            raise MixConfigError(f"mix config needs {k}:")
    cfg = dict(config)
    ev = cfg["eval"]
    if isinstance(ev, (str, list)):
        ev = {"eval": ev}
    if not isinstance(ev, dict) or not ev:
        raise MixConfigError("eval must be {name: path, ...}")
    cfg["eval"] = {str(k): v for k, v in ev.items()}
    cfg["objective"] = parse_objective(cfg.get("objective"), list(cfg["eval"]))
    cfg.setdefault("group_by", "source")
    cfg.setdefault("runs", 48)
    cfg.setdefault("seeds", [0, 1, 2])
    cfg.setdefault("workers", 1)
    cfg.setdefault("vocab_size", 1024)
    cfg.setdefault("text_column", "text")
    cfg.setdefault("seed", 0)
    cfg.setdefault("search", 100_000)
    cfg.setdefault("top_k", 100)
    lim = cfg.get("limits") or {}
    if not isinstance(lim, dict) or set(lim) - {"max_epochs", "max_weight", "min_weight"}:
        raise MixConfigError("limits: {max_epochs: float, max_weight: {group: w}, min_weight: {group: w}}")
    cfg["limits"] = lim
    if not isinstance(cfg["runs"], int) or cfg["runs"] < 4:
        raise MixConfigError(f"runs must be an integer >= 4, got {cfg['runs']!r}")
    if not isinstance(cfg["seeds"], list) or not all(isinstance(s, int) for s in cfg["seeds"]):
        raise MixConfigError(f"seeds must be a list of integers (may be empty: no validation), got {cfg['seeds']!r}")
    from winnow.prove.bench.tasks import parse_proxies

    try:
        proxies = parse_proxies(cfg.get("proxy"))
    except ValueError as e:
        raise MixConfigError(f"proxy: {e}") from e
    if len(proxies) != 1:
        raise MixConfigError("proxy: give one recipe ({preset, tokens})")
    cfg["proxy"] = proxies[0]
    return cfg


def parse_objective(obj, evals: list[str]) -> dict[str, float]:
    """``name`` | ``{mean: [a, b]}`` | ``{weights: {a: w, b: w}}`` → ``{eval: weight}`` (sums to 1).

    >>> parse_objective({"mean": ["a", "b"]}, ["a", "b", "c"])
    {'a': 0.5, 'b': 0.5}
    """
    if obj is None:
        obj = evals[0]
    if isinstance(obj, str):
        w = {obj: 1.0}
    elif isinstance(obj, dict) and set(obj) == {"mean"}:
        w = {str(k): 1.0 for k in obj["mean"]}
    elif isinstance(obj, dict) and set(obj) == {"weights"}:
        w = {str(k): float(v) for k, v in obj["weights"].items()}
    else:
        raise MixConfigError(f"objective must be an eval name, {{mean: [...]}} or {{weights: {{...}}}}, got {obj!r}")
    bad = [k for k in w if k not in evals]
    if bad or not w:
        raise MixConfigError(f"objective names {bad or obj!r}, not eval sets {evals}")
    s = sum(w.values())
    if s <= 0:
        raise MixConfigError("objective weights must sum to > 0")
    return {k: v / s for k, v in w.items()}


# ---------------------------------------------------------------- data


class MixData:
    """Tokenised pool documents grouped by ``group_by``, and the eval sets."""

    def __init__(
        self,
        pool,
        evals: dict,
        group_by: str = "source",
        vocab_size: int = 1024,
        text_column: str = "text",
        max_docs: int | None = None,
        seed: int = 0,
    ):
        from winnow.prove.bench.tasks import read_documents
        from winnow.proxy.tokenize import get_tokenizer
        from winnow.select.io import read_table

        paths = [pool] if isinstance(pool, str) else list(pool)
        paths = [
            os.path.join(p, "data") if os.path.isdir(p) and os.path.exists(os.path.join(p, "manifest.json")) else p
            for p in paths
        ]
        t = read_table(paths if len(paths) > 1 else paths[0], text_column=text_column)
        if group_by not in t.column_names:
            raise MixConfigError(f"pool has no column {group_by!r} to group by; columns: {t.column_names}")
        texts = [x or "" for x in t.column("text").to_pylist()]
        groups = [str(g) for g in t.column(group_by).to_pylist()]
        keep = [i for i, x in enumerate(texts) if x.strip()]
        if max_docs is not None and len(keep) > max_docs:
            keep = sorted(np.random.default_rng(seed).choice(keep, max_docs, replace=False).tolist())
        texts, groups = [texts[i] for i in keep], [groups[i] for i in keep]
        self.group_names = sorted(set(groups))
        if len(self.group_names) < 2:
            raise MixConfigError(f"pool has {len(self.group_names)} group(s) in {group_by!r}; a mixture needs >= 2")
        self.tokenizer = get_tokenizer("bpe", texts, vocab_size=vocab_size)
        ids = self.tokenizer.encode(texts)
        g = np.asarray(groups)
        self.groups = {name: [ids[i] for i in np.flatnonzero(g == name)] for name in self.group_names}
        self.tokens = {k: int(sum(len(d) for d in v)) for k, v in self.groups.items()}
        self.docs = {k: len(v) for k, v in self.groups.items()}
        self.eval_ids = {
            k: self.tokenizer.encode(read_documents(v, text_column, f"eval {k!r}")[1]) for k, v in evals.items()
        }
        tot = sum(self.tokens.values())
        self.natural = np.asarray([self.tokens[k] / tot for k in self.group_names])
        h = hashlib.sha1()
        for k in self.group_names:
            h.update(k.encode())
            for d in self.groups[k]:
                h.update(np.asarray(d, np.int32).tobytes())
        for k in sorted(self.eval_ids):
            h.update(k.encode())
            for d in self.eval_ids[k]:
                h.update(np.asarray(d, np.int32).tobytes())
        self.fingerprint = h.hexdigest()[:16]


# ---------------------------------------------------------------- training (one process per worker)

_W: dict = {}


def _init_worker(groups, eval_ids, tokenizer):
    _W.update(groups=groups, eval_ids=eval_ids, tokenizer=tokenizer)


def _train_one(job: dict) -> dict:
    from winnow.proxy.lm import train_lm

    names = list(_W["groups"])
    mixture = [(_W["groups"][k], job["weights"][k]) for k in names]
    r = train_lm(
        None,
        None,
        tokenizer=_W["tokenizer"],
        preset=job["preset"],
        seed=job["seed"],
        mixture=mixture,
        eval_sets=_W["eval_ids"],
        **job["options"],
    )
    out = {**job, "losses": {k: float(v) for k, v in r.extra["eval_losses"].items()}, "seconds": round(r.seconds, 2)}
    tmp = job["path"] + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh)
    os.replace(tmp, job["path"])  # atomic: a killed run leaves no half-written result
    return out


def _run_jobs(jobs: list[dict], data: MixData, workers: int, progress=None) -> list[dict]:
    """Train every job whose result file is missing; return all results (in job order)."""
    done = {}
    todo = []
    for j in jobs:
        if os.path.exists(j["path"]):
            with open(j["path"]) as fh:
                done[j["path"]] = json.load(fh)
        else:
            todo.append(j)
    n_total = len(jobs)
    if progress is not None:
        progress(len(done), n_total)
    if todo:
        if workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(
                workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(data.groups, data.eval_ids, data.tokenizer),
            ) as ex:
                from winnow.core.spawn import main_not_reimported

                with main_not_reimported():  # workers start at the first submits
                    futs = [ex.submit(_train_one, j) for j in todo]
                for f in as_completed(futs):
                    r = f.result()
                    done[r["path"]] = r
                    if progress is not None:
                        progress(len(done), n_total)
        else:
            _init_worker(data.groups, data.eval_ids, data.tokenizer)
            for j in todo:
                r = _train_one(j)
                done[r["path"]] = r
                if progress is not None:
                    progress(len(done), n_total)
    return [done[j["path"]] for j in jobs]


def _job(weights: np.ndarray, names: list[str], seed: int, kind: str, proxy: dict, data: MixData, folder: str) -> dict:
    w = {k: round(float(x), 6) for k, x in zip(names, weights)}
    key = json.dumps([w, seed, proxy["preset"], proxy["options"], data.fingerprint], sort_keys=True)
    h = hashlib.sha1(key.encode()).hexdigest()[:16]
    return {
        "weights": w,
        "seed": seed,
        "kind": kind,
        "preset": proxy["preset"],
        "options": proxy["options"],
        "path": os.path.join(folder, f"{kind}-{h}.json"),
    }


# ---------------------------------------------------------------- sampling, regression, search


def sample_mixtures(natural: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``n`` mixtures: the corners, natural, uniform, then Dirichlet draws around ``natural``."""
    G = len(natural)
    W = [np.eye(G)[g] for g in range(G)] + [natural, np.full(G, 1 / G)]
    kinds = ["corner"] * G + ["natural", "uniform"]
    while len(W) < n:
        c = math.exp(rng.uniform(math.log(0.3), math.log(30)))
        W.append(rng.dirichlet(np.maximum(c * natural, 1e-3)))
        kinds.append("dirichlet")
    return np.asarray(W[: max(n, G + 2)]), kinds[: max(n, G + 2)]


def _features(W: np.ndarray) -> np.ndarray:
    G = W.shape[1]
    iu = np.triu_indices(G)
    return np.hstack([W, (W[:, :, None] * W[:, None, :])[:, iu[0], iu[1]]])


def make_regressor(kind: str, seed: int = 0):
    """``quadratic`` (ridge on weights, squares and products) or ``gbm`` (HistGradientBoosting)."""
    if kind == "quadratic":
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        return make_pipeline(FunctionTransformer(_features), RidgeCV(alphas=np.logspace(-6, 2, 17)))
    if kind == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=3, random_state=seed
        )
    raise ValueError(f"unknown regressor {kind!r}: quadratic or gbm")


def cv_predictions(kind: str, W: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions (``folds``-fold, shuffled)."""
    from sklearn.model_selection import KFold

    out = np.empty(len(y))
    for tr, te in KFold(min(folds, len(y)), shuffle=True, random_state=seed).split(W):
        out[te] = make_regressor(kind, seed).fit(W[tr], y[tr]).predict(W[te])
    return out


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def fit_regressions(W: np.ndarray, losses: dict[str, np.ndarray], objective: dict[str, float], seed: int = 0):
    """Per eval set: both regressors' CV Spearman; the chosen (higher) one fitted on all runs."""
    chosen, cv, models, oof = {}, {}, {}, {}
    for e, y in losses.items():
        scores, preds = {}, {}
        for kind in ("quadratic", "gbm"):
            preds[kind] = cv_predictions(kind, W, y, seed=seed)
            scores[kind] = _spearman(preds[kind], y)
        best = max(scores, key=lambda k: -1 if math.isnan(scores[k]) else scores[k])
        chosen[e], cv[e], oof[e] = best, scores, preds[best]
        models[e] = make_regressor(best, seed).fit(W, y)
    y_obj = sum(w * losses[e] for e, w in objective.items())
    p_obj = sum(w * oof[e] for e, w in objective.items())
    return (
        {"chosen": chosen, "cv_spearman": cv, "objective_cv_spearman": _spearman(p_obj, y_obj), "n_runs": int(len(W))},
        models,
        (p_obj, y_obj),
    )


def limits_vector(names: list[str], limits: dict, data: MixData, train_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bound on each group's weight from ``max_epochs``, ``max_weight``, ``min_weight``."""
    lo = np.zeros(len(names))
    hi = np.ones(len(names))
    if limits.get("max_epochs") is not None:
        hi = np.minimum(hi, float(limits["max_epochs"]) * np.asarray([data.tokens[k] for k in names]) / train_tokens)
    for key, arr, fn in (("max_weight", hi, np.minimum), ("min_weight", lo, np.maximum)):
        for k, v in (limits.get(key) or {}).items():
            if k not in names:
                raise MixConfigError(f"limits.{key}: unknown group {k!r}; groups: {names}")
            arr[names.index(k)] = fn(arr[names.index(k)], float(v))
    if hi.sum() < 1 - 1e-9 or lo.sum() > 1 + 1e-9 or (lo > hi).any():
        raise MixConfigError(
            f"limits leave no feasible mixture (upper bounds {hi.round(3).tolist()} sum to "
            f"{hi.sum():.3f} < 1, or lower bounds exceed them): raise max_epochs or the tokens"
        )
    return lo, hi


def search(
    models: dict,
    objective: dict,
    natural: np.ndarray,
    sampled: np.ndarray,
    best: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    n: int,
    top_k: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """Mean of the ``top_k`` best predicted candidates (see the module docstring).

    Candidates come from the distribution the proxy runs were sampled from (Dirichlet around the
    natural mixture) and from small perturbations of the ``best`` measured runs; only those within
    the limits and inside the sampled region (L1 distance to the nearest sampled mixture at most the
    median nearest-neighbour distance among the sampled ones) are scored, so the regressor is never
    asked to extrapolate into corners it has not seen.
    """
    G = len(natural)
    c = np.exp(rng.uniform(np.log(0.3), np.log(30), size=n // 2))
    cands = [
        natural[None],
        np.full((1, G), 1 / G),
        sampled,
        np.vstack([rng.dirichlet(np.maximum(ci * natural, 1e-3)) for ci in c]),
    ]
    per = max(1, (n - n // 2) // max(len(best), 1))
    for b in best:
        k = np.exp(rng.uniform(np.log(20), np.log(200), size=per))
        cands.append(np.vstack([rng.dirichlet(np.maximum(ki * b, 1e-3)) for ki in k]))
    C = np.vstack(cands)
    d_s = np.abs(sampled[:, None, :] - sampled[None, :, :]).sum(-1)
    np.fill_diagonal(d_s, np.inf)
    radius = float(np.median(d_s.min(1)))
    near = np.empty(len(C))
    for i in range(0, len(C), 4096):
        near[i : i + 4096] = np.abs(C[i : i + 4096, None, :] - sampled[None]).sum(-1).min(1)
    ok = np.all((C >= lo - 1e-12) & (C <= hi + 1e-12), axis=1)
    feas = ok & (near <= radius)
    if not feas.any():
        feas = ok
    if not feas.any():
        C = np.clip(np.vstack([natural, np.full(G, 1 / G)]), lo, hi)
        C /= C.sum(1, keepdims=True)
        feas = np.ones(len(C), bool)
    C = C[feas]
    pred = sum(w * models[e].predict(C) for e, w in objective.items())
    top = np.argsort(pred, kind="stable")[:top_k]
    w = C[top].mean(0)
    w = np.clip(w / w.sum(), lo, hi)
    w = w / w.sum()
    return w, float(sum(wt * models[e].predict(w[None])[0] for e, wt in objective.items()))


# ---------------------------------------------------------------- the whole loop


def run_mix(
    config,
    output: str | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Sample → train → regress → search → validate; write ``mix.json`` and ``mix.png`` into the output
    folder (``output:``); finished proxy runs in ``OUTPUT/runs/`` are reused (resume)."""
    from winnow.prove.bench.harness import mean_ci
    from winnow.proxy.lm import describe_recipe

    t0 = time.perf_counter()
    cfg = load_mix_config(config)
    out = output or cfg.get("output") or "runs/mix"
    log = log or (lambda s: None)
    data = MixData(
        cfg["pool"],
        cfg["eval"],
        cfg["group_by"],
        cfg["vocab_size"],
        cfg["text_column"],
        cfg.get("max_docs"),
        cfg["seed"],
    )
    names = data.group_names
    proxy = cfg["proxy"]
    recipe = describe_recipe(proxy["preset"], vocab_size=data.tokenizer.vocab_size, **proxy["options"])
    log(
        f"{len(names)} groups by {cfg['group_by']}: "
        + ", ".join(f"{k} {data.docs[k]:,} docs / {data.tokens[k]:,} tokens" for k in names)
    )
    lo, hi = limits_vector(names, cfg["limits"], data, recipe["tokens"])
    rng = np.random.default_rng(cfg["seed"])
    W, kinds = sample_mixtures(data.natural, cfg["runs"], rng)
    folder = os.path.join(out, "runs")
    os.makedirs(folder, exist_ok=True)
    jobs = [_job(w, names, cfg["seed"], "sample", proxy, data, folder) for w in W]
    log(f"training {len(jobs)} proxies ({recipe['tokens']:,} tokens each, {cfg['workers']} worker(s))")
    res_runs = _run_jobs(
        jobs, data, int(cfg["workers"]), None if progress is None else (lambda d, n: progress("mixture runs", d, n))
    )
    evals = list(cfg["eval"])
    Wm = np.asarray([[r["weights"][k] for k in names] for r in res_runs])
    losses = {e: np.asarray([r["losses"][e] for r in res_runs]) for e in evals}
    reg, models, (p_obj, y_obj) = fit_regressions(Wm, losses, cfg["objective"], cfg["seed"])
    log(
        "regression (5-fold CV Spearman): "
        + "; ".join(
            f"{e}: quadratic {v['quadratic']:.3f}, gbm {v['gbm']:.3f} -> {reg['chosen'][e]}"
            for e, v in reg["cv_spearman"].items()
        )
        + f"; objective {reg['objective_cv_spearman']:.3f}"
    )
    obj = sum(w * losses[e] for e, w in cfg["objective"].items())
    best_runs = Wm[np.argsort(obj)[:3]]
    w_best, pred_obj = search(
        models, cfg["objective"], data.natural, Wm, best_runs, lo, hi, int(cfg["search"]), int(cfg["top_k"]), rng
    )
    pred_evals = {e: float(models[e].predict(w_best[None])[0]) for e in evals}
    log(
        "predicted mixture: "
        + ", ".join(f"{k} {w:.3f}" for k, w in zip(names, w_best))
        + f" (objective {pred_obj:.4f})"
    )
    uniform = np.full(len(names), 1 / len(names))
    validation = None
    if cfg["seeds"]:
        vjobs = {
            kind: [_job(w, names, s, f"valid-{kind}", proxy, data, folder) for s in cfg["seeds"]]
            for kind, w in (("predicted", w_best), ("natural", data.natural), ("uniform", uniform))
        }
        flat = [j for v in vjobs.values() for j in v]
        log(f"validating: {len(flat)} proxies (predicted, natural, uniform x {len(cfg['seeds'])} seeds)")
        vres = _run_jobs(
            flat,
            data,
            int(cfg["workers"]),
            None if progress is None else (lambda d, n: progress("validation runs", d, n)),
        )
        by = {j["path"]: r for j, r in zip(flat, vres)}
        objv = {
            kind: [sum(w * by[j["path"]]["losses"][e] for e, w in cfg["objective"].items()) for j in js]
            for kind, js in vjobs.items()
        }
        mixtures = {}
        for kind, vals in objv.items():
            m, sd, lo_, hi_ = mean_ci(vals)
            mixtures[kind] = {
                "mean": m,
                "std": sd,
                "ci_low": lo_,
                "ci_high": hi_,
                "values": vals,
                "evals": {e: float(np.mean([by[j["path"]]["losses"][e] for j in vjobs[kind]])) for e in evals},
            }
        gains = {}
        for base in ("natural", "uniform"):
            g = [b - p for p, b in zip(objv["predicted"], objv[base])]
            m, _, glo, ghi = mean_ci(g)
            gains[f"vs_{base}"] = {"mean": m, "ci_low": glo, "ci_high": ghi, "significant": bool(glo > 0 or ghi < 0)}
        validation = {"seeds": cfg["seeds"], "mixtures": mixtures, "gains": gains}
        log(
            "validation (objective loss, 95% CI): "
            + "; ".join(f"{k} {v['mean']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}]" for k, v in mixtures.items())
        )
    res = {
        "schema": SCHEMA,
        "group_by": cfg["group_by"],
        "weights": {k: float(w) for k, w in zip(names, w_best)},
        "natural": {k: float(w) for k, w in zip(names, data.natural)},
        "uniform": {k: float(w) for k, w in zip(names, uniform)},
        "groups": {
            k: {"docs": data.docs[k], "tokens": data.tokens[k], "max_weight": float(h), "min_weight": float(l)}
            for k, h, l in zip(names, hi, lo)
        },
        "objective": {"evals": cfg["objective"]},
        "evals": evals,
        "proxy": recipe,
        "regression": reg,
        "predicted": {"objective": pred_obj, "evals": pred_evals},
        "validation": validation,
        "cv": {"predicted": [float(x) for x in p_obj], "measured": [float(x) for x in y_obj]},
        "runs": [
            {"weights": r["weights"], "seed": r["seed"], "losses": r["losses"], "kind": k}
            for r, k in zip(res_runs, kinds)
        ],
        "config": {k: v for k, v in cfg.items() if k != "proxy"} | {"proxy": proxy},
        "data_fingerprint": data.fingerprint,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "mix.json"), "w") as fh:
        json.dump(res, fh, indent=2, default=str)
    plot_mix(res, os.path.join(out, "mix.png"))
    return res


def plot_mix(res: dict, path: str) -> None:
    """Left: out-of-fold predicted vs measured objective loss per sampled mixture. Right: weights
    (natural, uniform, chosen) per group, with the upper limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=110)
    p, m = np.asarray(res["cv"]["predicted"]), np.asarray(res["cv"]["measured"])
    a.scatter(m, p, s=18, alpha=0.7)
    lim = [min(m.min(), p.min()), max(m.max(), p.max())]
    a.plot(lim, lim, color="grey", ls=":")
    a.set_xlabel("measured objective loss (nats/token)")
    a.set_ylabel("predicted (5-fold, out of fold)")
    a.set_title(
        f"regression: Spearman {res['regression']['objective_cv_spearman']:.3f} "
        f"over {res['regression']['n_runs']} mixtures"
    )
    names = list(res["weights"])
    x = np.arange(len(names))
    for i, (lab, key) in enumerate((("natural", "natural"), ("uniform", "uniform"), ("chosen", "weights"))):
        b.bar(x + (i - 1) * 0.27, [res[key][k] for k in names], 0.27, label=lab)
    b.scatter(
        x,
        [min(res["groups"][k]["max_weight"], 1.0) for k in names],
        marker="_",
        s=300,
        color="black",
        label="upper limit",
    )
    b.set_xticks(x, names, rotation=20, ha="right")
    b.set_ylabel("weight (share of training tokens)")
    v = res.get("validation")
    if v:
        b.set_title("validation: " + ", ".join(f"{k} {d['mean']:.3f}" for k, d in v["mixtures"].items()))
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
