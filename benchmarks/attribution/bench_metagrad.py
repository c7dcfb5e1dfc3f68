"""Metagradient LDS benchmark: exact metagradients vs influence functions and TRAK on same-seed retraining.

Protocol (issue 18): a TrainRecipe (model factory + seed, full-batch SGD with momentum, mean CE + L2,
fixed steps) trained on the full train set; ground truth = the same recipe (same seed) retrained on
50 random half-subsets and on 50 subsets that drop 1% of the data; output = TRAK's margin of each
test example (ClassificationTask.output); LDS = mean over targets of Spearman(sum of scores over
the subset, actual output). Methods scored on the model trained on all the data: metagradient
(winnow replay), influence functions (exact, full Hessian and Gauss-Newton, several dampings;
last-layer), TRAK.

Run:
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_metagrad.py --data digits
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_metagrad.py --data breast_cancer
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_metagrad.py --data text_sources
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_metagrad.py --data digits --act relu --opt adam
    PYTHONPATH=src .venv/bin/python benchmarks/attribution/bench_metagrad.py --exactness   # vs unrolled autograd, peak RSS
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def text_sources(n_dims: int = 32, per_source: int = 400, seed: int = 0):
    """Which source a 1,000-character chunk comes from (pydoc, metadata, license, code: the LM bench's
    real documents), as TF-IDF of hashed word 1-2-grams reduced to ``n_dims`` by SVD, standardised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer

    from winnow.core.text.features import hashed_ngram_counts
    from winnow.prove.bench.tasks import _chunks, source_documents

    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for k, src in enumerate(("pydoc", "metadata", "license", "code")):
        ch = sorted({c for _, t in source_documents(src) for c in _chunks(t, 1000)})
        pick = rng.choice(len(ch), min(per_source, len(ch)), replace=False)
        texts += [ch[i] for i in pick]
        labels += [k] * len(pick)
    F = TfidfTransformer(sublinear_tf=True).fit_transform(hashed_ngram_counts(texts, 4096, 2))
    X = TruncatedSVD(n_dims, random_state=seed).fit_transform(F)
    return (X - X.mean(0)) / X.std(0), np.asarray(labels)


def load(data: str, n_train: int, n_test: int, seed: int = 0, dtype=torch.float32):
    from sklearn import datasets as skd

    if data == "text_sources":
        X, y = text_sources()
    elif data == "digits":
        X, y = skd.load_digits(return_X_y=True)
        X = X / 16.0
    elif data == "breast_cancer":
        X, y = skd.load_breast_cancer(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
    elif data == "wine":
        X, y = skd.load_wine(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
    elif data == "mnist_ascii":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from mnist_ascii import load_mnist_ascii

        X, y = load_mnist_ascii()
    else:
        raise SystemExit(f"--data must be digits, breast_cancer, wine, text_sources or mnist_ascii, got {data!r}")
    idx = np.random.default_rng(seed).permutation(len(X))
    tr, te = idx[:n_train], idx[n_train : n_train + n_test]
    X = torch.tensor(X, dtype=dtype)
    y = torch.tensor(y)
    return (X[tr], y[tr]), (X[te], y[te])


def recipe_for(d_in: int, n_classes: int, args):
    from winnow.attribution import TrainRecipe

    act = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[args.act]

    def make_model(seed):
        return torch.nn.Sequential(torch.nn.Linear(d_in, args.hidden), act(), torch.nn.Linear(args.hidden, n_classes))

    kw = dict(momentum=args.momentum) if args.opt == "sgd" else {}
    return TrainRecipe(
        model=make_model,
        optimizer=args.opt,
        lr=args.lr,
        l2=args.l2,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=0,
        dtype=DTYPES[args.dtype],
        **kw,
    )


def _mask_name(frac: float) -> str:
    return {0.5: "half", 0.99: "drop1%"}.get(frac, f"keep{frac:g}")


def truth(recipe, task, train, target, masks):
    from winnow.select.attribution.data import Data
    from winnow.select.attribution.grads import model_outputs

    X, y = train
    tg = Data(target, "target")
    out = np.empty((len(masks), tg.n))
    for m, mask in enumerate(masks):
        idx = torch.as_tensor(np.flatnonzero(mask))
        model = recipe.train((X[idx], y[idx]))
        out[m] = model_outputs(model, task, tg, ("output",), 4096)["output"].double().numpy()
    return out


def lds_run(args):
    from winnow.attribution import ClassificationTask, attribute, lds, subset_masks

    train, target = load(args.data, args.n_train, args.n_test, dtype=DTYPES[args.dtype])
    n_classes = int(max(train[1].max(), target[1].max())) + 1
    recipe = recipe_for(train[0].shape[1], n_classes, args)
    task = ClassificationTask()
    t0 = time.perf_counter()
    model = recipe.train(train)
    t_train = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(target[0]).argmax(1) == target[1]).float().mean())
        out_tr = model(train[0])
        train_acc = float((out_tr.argmax(1) == train[1]).float().mean())
        train_loss = float(task.loss(out_tr, train[1]).mean())
        margins = task.output(model(target[0]), target[1]).double().numpy()
    n = len(train[0])
    masks = {_mask_name(f): subset_masks(n, args.subsets, f, seed=1 + k) for k, f in enumerate(args.fractions)}
    t0 = time.perf_counter()
    outs = {k: truth(recipe, task, train, target, m) for k, m in masks.items()}
    t_truth = time.perf_counter() - t0
    scores, secs = {}, {}
    info = {}
    t0 = time.perf_counter()
    scores["metagradient"] = attribute(recipe, task, train, target, method="metagradient", info=info).scores
    secs["metagradient"] = time.perf_counter() - t0
    if args.compare_float64 and recipe.dtype != torch.float64:
        import dataclasses

        r64 = dataclasses.replace(recipe, dtype=torch.float64)
        tr64 = (train[0].double(), train[1])
        tg64 = (target[0].double(), target[1])
        t0 = time.perf_counter()
        scores["metagradient[float64]"] = attribute(r64, task, tr64, tg64, method="metagradient").scores
        secs["metagradient[float64]"] = time.perf_counter() - t0
        a, b = scores["metagradient"], scores["metagradient[float64]"]
        pear = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(a.shape[1])]
        info["float32_vs_float64_pearson"] = {"min": float(np.min(pear)), "median": float(np.median(pear))}
    last = [k for k, _ in model.named_parameters()][-2].rsplit(".", 1)[0]
    # last layer: exact (Gauss-Newton and Hessian, 4 dampings); whole model: Gauss-Newton with CG
    configs = [([last], "last-layer", h, d) for h in ("hessian", "gauss_newton") for d in (1e-4, 1e-3, 1e-2, 1e-1)]
    configs += [(None, "full", "gauss_newton", d) for d in (1e-3, 1e-2)]
    if args.no_baselines:
        configs = []
    for params, tag, hess, damp in configs:
        name = f"influence[{tag},{hess},damping={damp:g}]"
        t0 = time.perf_counter()
        try:
            scores[name] = attribute(
                model,
                task,
                train,
                target,
                method="influence",
                params=params,
                target_fn="output",
                hessian=hess,
                damping=damp,
                batch_size=256,
                max_iter=50,
            ).scores
        except Exception as e:  # a singular Hessian at tiny damping: report, go on
            print(f"{name}: {e}", file=sys.stderr)
            continue
        secs[name] = time.perf_counter() - t0
    if not args.no_baselines:
        t0 = time.perf_counter()
        scores["trak"] = attribute(model, task, train, target, method="trak", proj_dim=None, batch_size=256).scores
        secs["trak"] = time.perf_counter() - t0
    res = {k: {m: lds(s, masks[m], outs[m]) for m in masks} for k, s in scores.items()}
    infl = {k: v for k, v in res.items() if k.startswith("influence")}
    best = {m: max(infl, key=lambda k: infl[k][m]) for m in masks} if infl else {m: "metagradient" for m in masks}
    first, last = next(iter(masks)), list(masks)[-1]
    out = {
        "data": args.data,
        "recipe": {k: str(v) for k, v in vars(recipe).items() if k != "model"},
        "act": args.act,
        "opt": args.opt,
        "n_train": n,
        "n_test": len(target[0]),
        "test_accuracy": acc,
        "train_accuracy": train_acc,
        "train_loss": train_loss,
        "target_margin_quantiles": np.quantile(margins, [0.0, 0.25, 0.5, 0.75, 1.0]).tolist(),
        "subsets": args.subsets,
        "fractions": args.fractions,
        "dtype": args.dtype,
        "train_seconds": t_train,
        "truth_seconds": t_truth,
        "lds": res,
        "seconds": secs,
        "best_influence": {m: [best[m], infl[best[m]][m]] for m in masks} if infl else None,
        "metagradient_info": info,
    }
    print(
        f"{args.data} {args.act}+{args.opt}: test acc {acc:.3f}, train acc {train_acc:.3f}, train loss "
        f"{train_loss:.4f}; train {t_train:.1f}s, truth {t_truth:.0f}s"
    )
    for k in dict.fromkeys(
        [
            "metagradient",
            *[k for k in scores if k.endswith("[float64]")],
            *[k for k in ["trak"] if k in scores],
            best[first],
            best[last],
        ]
    ):
        print(f"  {k:<48} LDS " + "  ".join(f"{m} {res[k][m]:.3f}" for m in masks) + f"  ({secs[k]:.1f}s)")
    return out


_CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {bench!r})
from bench_metagrad import DTYPES, load, recipe_for
from winnow.attribution import ClassificationTask
from winnow.select.attribution.metagrad import metagradients, unrolled_metagradients
import argparse, numpy as np
args = argparse.Namespace(**{args!r})
train, target = load(args.data, args.n_train, args.n_test, dtype=DTYPES[args.dtype])
recipe = recipe_for(train[0].shape[1], int(max(train[1].max(), target[1].max())) + 1, args)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if {mode!r} == "unrolled":
    S = unrolled_metagradients(recipe, ClassificationTask(), train, target)
else:
    S = metagradients(recipe, ClassificationTask(), train, target, checkpoints={mode!r})
sec = time.perf_counter() - t
np.save({path!r}, S)
print(json.dumps({{"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_rss_mib": base / 1024, "seconds": sec}}))
"""


def exactness(args):
    """Replay vs naive unrolled autograd: per-target Pearson, max error, peak RSS (fresh process each)."""
    import tempfile

    bench = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp()
    out = {}
    for mode in ("unrolled", "sqrt", "log"):
        path = os.path.join(tmp, f"{mode}.npy")
        code = _CHILD.format(bench=bench, args=vars(args), mode=mode, path=path)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
        if r.returncode:
            raise SystemExit(r.stderr)
        out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        out[mode]["scores"] = np.load(path)
    U = out["unrolled"]["scores"]
    for mode in ("sqrt", "log"):
        S = out[mode]["scores"]
        pear = [np.corrcoef(U[:, j], S[:, j])[0, 1] for j in range(U.shape[1])]
        out[mode]["min_pearson"] = float(np.min(pear))
        out[mode]["max_abs_err"] = float(np.abs(U - S).max())
    for mode in out:
        out[mode].pop("scores")
        out[mode]["extra_rss_mib"] = out[mode]["peak_rss_mib"] - out[mode]["base_rss_mib"]
    print(json.dumps(out, indent=1))
    return {"exactness": out, "setting": {k: v for k, v in vars(args).items() if k != "out"}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="digits")
    ap.add_argument("--act", default="gelu", choices=["gelu", "relu", "tanh"])
    ap.add_argument("--opt", default="sgd", choices=["sgd", "adam", "adamw"])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=None, help="default 0.05 (sgd) / 0.005 (adam)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument(
        "--n-train", type=int, default=None, help="default 1200 (digits) / 400 (breast_cancer) / 118 (wine)"
    )
    ap.add_argument("--n-test", type=int, default=60)
    ap.add_argument("--subsets", type=int, default=50, help="retrained subsets per fraction")
    ap.add_argument(
        "--fractions",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.5, 0.99],
        help="kept fraction of each subset family (default 0.5,0.99: half-subsets and 1%% drops)",
    )
    ap.add_argument("--dtype", default="float32", choices=list(DTYPES), help="recipe dtype (float64: no float drift)")
    ap.add_argument(
        "--compare-float64", action="store_true", help="also replay in float64: float drift of the float32 scores"
    )
    ap.add_argument("--no-baselines", action="store_true", help="metagradient only (no influence / TRAK)")
    ap.add_argument("--exactness", action="store_true", help="replay vs unrolled autograd (small run)")
    ap.add_argument("--out", default=None, help="write the JSON here")
    args = ap.parse_args()
    if args.lr is None:
        args.lr = 0.05 if args.opt == "sgd" else 0.005
    if args.n_train is None:
        args.n_train = {"breast_cancer": 400, "wine": 118}.get(args.data, 1200)
    res = exactness(args) if args.exactness else lds_run(args)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
