"""LDS benchmark: winnow.select.attribution vs dattri on the same models, subsets and targets, in one run.

Setting (dattri's MNIST benchmark, scaled to scikit-learn's 8x8 digits so it runs offline on 2 CPU
cores in minutes): logistic regression and a small MLP trained with mini-batch SGD; ground truth =
M models retrained on random 50% subsets; LDS = Spearman(sum of scores over the subset, actual
target output), averaged over targets. The target output is the test loss (as in dattri's
benchmark); every method here scores "positive = reduces the target's loss", so LDS is taken
against minus the loss. Also: mislabel detection (10% flipped labels, self-influence AUC).

Run: bash benchmarks/attribution/setup.sh && benchmarks/.venv-attribution/bin/python benchmarks/attribution/bench_lds.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

torch.set_num_threads(1)  # the machine is 2 shared cores; tiny ops run best on one


D_IN = 64  # input size of the models (set by --data)
N_OUT = 10  # classes (set by --data)


def load(n_train: int, n_test: int, seed: int = 0, data: str = "digits"):
    global D_IN, N_OUT
    N_OUT = 10
    if data == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        N_OUT = 2
    elif data == "wine":  # 178 wines, 13 features, 3 classes (issue 17's held-out third set)
        from sklearn.datasets import load_wine

        X, y = load_wine(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        N_OUT = 3
    elif data == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    elif data == "mnist_ascii":
        from mnist_ascii import load_mnist_ascii

        X, y = load_mnist_ascii()
    else:
        raise ValueError(f"--data must be digits, breast_cancer, wine or mnist_ascii, got {data!r}")
    idx = np.random.default_rng(seed).permutation(len(X))
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y)
    D_IN = X.shape[1]
    tr, te = idx[:n_train], idx[n_train : n_train + n_test]
    return (X[tr], y[tr]), (X[te], y[te])


def make_model(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "lr":
        return nn.Linear(D_IN, N_OUT)
    if kind == "mlp1":  # one hidden layer: the 9,610-parameter MLP of issue 17 on digits
        return nn.Sequential(nn.Linear(D_IN, 128), nn.ReLU(), nn.Linear(128, N_OUT))
    return nn.Sequential(nn.Linear(D_IN, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, N_OUT))


RECIPE = {"lr": dict(epochs=30, lr=0.1, wd=1e-3, momentum=0.0), "mlp": dict(epochs=30, lr=0.05, wd=1e-3, momentum=0.9)}
RECIPE["mlp1"] = RECIPE["mlp"]


def train_many(kind: str, X, y, subsets: list[np.ndarray], seeds: list[int], checkpoints: bool = False):
    """Train len(subsets) models at once (torch.func.vmap over stacked parameters), each on its own
    subset, exactly torch.optim.SGD's update (weight decay, momentum), mini-batches of 64 from a
    per-model seeded permutation. All subsets must have the same size."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    r = RECIPE[kind]
    base = [make_model(kind, s) for s in seeds]
    params, _ = stack_module_state(base)
    params = {k: v.detach().clone() for k, v in params.items()}
    mom = {k: torch.zeros_like(v) for k, v in params.items()}
    skel = make_model(kind, 0)
    idx = torch.as_tensor(np.stack(subsets))  # [M, k]
    M, k = idx.shape
    gens = [torch.Generator().manual_seed(s) for s in seeds]

    def loss(p, xb, yb):
        return F.cross_entropy(functional_call(skel, p, (xb,)), yb)

    vg = vmap(grad(loss))
    cks = []
    for ep in range(r["epochs"]):
        perm = torch.stack([torch.randperm(k, generator=g) for g in gens])  # [M, k]
        order = torch.gather(idx, 1, perm)
        for s in range(0, k, 64):
            b = order[:, s : s + 64]
            g = vg(params, X[b], y[b])
            for n in params:
                d = g[n] + r["wd"] * params[n]
                if r["momentum"]:
                    mom[n] = mom[n] * r["momentum"] + d if ep or s else d
                    d = mom[n]
                params[n] = params[n] - r["lr"] * d
        if checkpoints and (ep + 1) % 6 == 0:
            cks.append({n: v.clone() for n, v in params.items()})

    def unstack(pp, i):
        m = make_model(kind, 0)
        m.load_state_dict({n: v[i] for n, v in pp.items()})
        return m

    models = [unstack(params, i) for i in range(M)]
    if checkpoints:
        return models, [[{n: v[i] for n, v in c.items()} for c in cks] for i in range(M)]
    return models


def train(kind: str, X, y, seed: int, checkpoints: bool = False):
    out = train_many(kind, X, y, [np.arange(len(X))], [seed], checkpoints)
    return (out[0][0], out[1][0]) if checkpoints else out[0]


def ground_truth(kind, train_data, test_data, masks):
    Xtr, ytr = train_data
    Xte, yte = test_data
    # common random numbers: the same init and shuffling seed for every subset model
    models = train_many(kind, Xtr, ytr, [np.flatnonzero(m) for m in masks], [0] * len(masks))
    with torch.no_grad():
        return np.stack([F.cross_entropy(m(Xte), yte, reduction="none").numpy() for m in models])


# ----------------------------------------------------------------------------------------------- dattri


def dattri_run(method, kind, models, cks, train_data, test_data, damping, proj_dim, seed=0):
    """``damping`` is in winnow's units; dattri's TRAK divides gradients by sqrt(P), so its kernel
    ridge is damping / P for the identical problem."""
    from dattri.algorithm.influence_function import IFAttributorCG, IFAttributorExplicit
    from dattri.algorithm.tracin import TracInAttributor
    from dattri.algorithm.trak import TRAKAttributor
    from dattri.task import AttributionTask

    base = make_model(kind, 0)
    base.eval()

    def loss_func(params, data):
        x, y = data
        yhat = torch.func.functional_call(base, params, x.unsqueeze(0) if x.dim() == 1 else x)
        return F.cross_entropy(yhat, y.view(-1))

    def margin_func(params, data):
        x, y = data
        yhat = torch.func.functional_call(base, params, x.unsqueeze(0))
        logp = -F.cross_entropy(yhat, y.view(-1))
        return logp - torch.log(1 - torch.exp(logp))

    def prob_func(params, data):
        x, y = data
        yhat = torch.func.functional_call(base, params, x.unsqueeze(0))
        return torch.exp(-F.cross_entropy(yhat, y.view(-1)))

    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train_data), batch_size=len(train_data[0]))
    tl64 = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train_data), batch_size=64)
    te = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*test_data), batch_size=64)
    if method == "if_cg":
        task = AttributionTask(loss_func=loss_func, model=base, checkpoints=models[0].state_dict())
        att = IFAttributorCG(task=task, max_iter=20, regularization=damping)
        att.cache(tl)
        return att.attribute(tl64, te).detach().numpy()
    if method == "if_explicit":
        task = AttributionTask(loss_func=loss_func, model=base, checkpoints=models[0].state_dict())
        att = IFAttributorExplicit(task=task, regularization=damping)
        att.cache(tl)
        return att.attribute(tl64, te).detach().numpy()
    if method.startswith("trak"):
        task = AttributionTask(loss_func=margin_func, model=base, checkpoints=[m.state_dict() for m in models])
        att = TRAKAttributor(
            task=task,
            correct_probability_func=prob_func,
            projector_kwargs={"proj_dim": proj_dim, "proj_seed": seed, "device": "cpu"},
            regularization=damping / sum(p.numel() for p in base.parameters()),
        )
        att.cache(tl64)
        return att.attribute(te).numpy() if _trak_takes_one() else att.attribute(tl64, te).detach().numpy()
    if method == "tracin":
        task = AttributionTask(loss_func=loss_func, model=base, checkpoints=cks)
        att = TracInAttributor(
            task=task,
            weight_list=torch.full((len(cks),), RECIPE[kind]["lr"]),
            normalized_grad=False,
            projector_kwargs={"proj_dim": proj_dim, "proj_seed": seed, "device": "cpu"},
        )
        return att.attribute(tl64, te).detach().numpy()
    raise ValueError(method)


def _trak_takes_one() -> bool:
    import inspect

    from dattri.algorithm.trak import TRAKAttributor

    ps = [p for p in inspect.signature(TRAKAttributor.attribute).parameters if p != "self"]
    return ps[0] == "test_dataloader"


# ----------------------------------------------------------------------------------------------- winnow


def winnow_run(method, kind, models, cks, train_data, test_data, damping, proj_dim, seed=0):
    from winnow.select.attribution import ClassificationTask, attribute

    task = ClassificationTask()
    if method in ("if_cg", "if_explicit"):
        solver = "cg" if method == "if_cg" else "exact"
        return attribute(
            models[0],
            task,
            train_data,
            test_data,
            method="influence",
            solver=solver,
            damping=damping,
            batch_size=256,
            max_iter=20,
        ).scores
    if method.startswith("trak"):
        return attribute(
            models,
            task,
            train_data,
            test_data,
            method="trak",
            proj_dim=proj_dim,
            damping=damping,
            batch_size=256,
            seed=seed,
        ).scores
    if method == "tracin":
        return attribute(
            models[0],
            task,
            train_data,
            test_data,
            method="tracin",
            checkpoints=cks,
            lrs=[RECIPE[kind]["lr"]] * len(cks),
            proj_dim=proj_dim,
            batch_size=256,
            seed=seed,
        ).scores
    if method == "cosine":
        return attribute(
            models[0], task, train_data, test_data, method="cosine", checkpoints=cks, proj_dim=proj_dim, batch_size=256
        ).scores
    raise ValueError(method)


def main():
    from winnow.select.attribution import lds, subset_masks

    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--n-models", type=int, default=50)
    ap.add_argument("--models", default="lr,mlp")
    ap.add_argument("--peer", default="dattri", help="dattri or none")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-mislabel", dest="mislabel", action="store_false")
    ap.add_argument("--data", default="digits", help="digits (sklearn 8x8) or mnist_ascii (BIG-bench 28x28 binary)")
    ap.add_argument("--methods", default="if,trak_1,trak_10,tracin,cosine")
    args = ap.parse_args()
    train_data, test_data = load(args.n_train, args.n_test, data=args.data)
    masks = subset_masks(args.n_train, args.n_models, alpha=0.5, seed=0)
    val_masks = subset_masks(args.n_train, 20, alpha=0.5, seed=99)  # for choosing damping only
    rows = []
    for kind in args.models.split(","):
        t0 = time.perf_counter()
        gt = -ground_truth(kind, train_data, test_data, masks)  # minus loss: higher = better for the target
        gt_val = -ground_truth(kind, train_data, test_data, val_masks)
        t_gt = time.perf_counter() - t0
        ens = train_many(kind, *train_data, [np.arange(args.n_train)] * 10, list(range(10)))
        _, cks = train(kind, *train_data, seed=0, checkpoints=True)
        P = sum(p.numel() for p in ens[0].parameters())
        print(
            f"\n== {kind}: P={P}, train={args.n_train}, test={args.n_test}, {args.n_models} subset models "
            f"(+20 validation subsets; {t_gt:.1f}s to retrain all)",
            flush=True,
        )
        methods = [
            ("if_explicit" if kind == "lr" and P <= 4096 else "if_cg", ens[:1], None),
            ("trak_1", ens[:1], 512),
            ("trak_10", ens, 512),
            ("tracin", ens[:1], 512),
            ("cosine", ens[:1], 512),
        ]
        keep = set(args.methods.split(","))
        for name, models, pd in methods:
            if name.split("_")[0] not in keep and name not in keep:
                continue
            damping = None
            if name.startswith(("if", "trak")):
                # one damping for both libraries (same units), chosen on the 20 validation subsets
                grid = [1e-3, 1e-2, 1e-1, 1.0] if name.startswith("if") else [P * g for g in (1e-3, 1e-2, 1e-1, 1.0)]
                nv = min(40, args.n_test)  # validation on the first 40 targets keeps the search cheap
                val_test = (test_data[0][:nv], test_data[1][:nv])
                val = {
                    d: lds(winnow_run(name, kind, models, cks, train_data, val_test, d, pd), val_masks, gt_val[:, :nv])
                    for d in grid
                }
                damping = max(val, key=val.get)
            rec = {"model": kind, "method": name, "damping": damping}
            for lib, fn in (("winnow", winnow_run), ("dattri", dattri_run)):
                if lib == "dattri" and (args.peer == "none" or name == "cosine"):
                    continue
                t = time.perf_counter()
                try:
                    S = fn(name, kind, models, cks, train_data, test_data, damping, pd)
                    rec[f"{lib}_s"] = time.perf_counter() - t
                    rec[f"{lib}_lds"] = lds(S, masks, gt)
                except Exception as e:  # report, don't hide
                    rec[f"{lib}_error"] = f"{type(e).__name__}: {e}"[:200]
            rows.append(rec)
            w, d = rec.get("winnow_lds"), rec.get("dattri_lds")
            ws, ds = rec.get("winnow_s"), rec.get("dattri_s")
            print(
                f"{kind:4s} {name:12s} damping {'-' if damping is None else f'{damping:.3g}':>7}  "
                f"winnow LDS {'-' if w is None else f'{w:.4f}':>7} ({ws or 0:6.2f}s)   "
                f"dattri LDS {'-' if d is None else f'{d:.4f}':>7} ({ds or 0:6.2f}s)   "
                f"time ratio {ws / ds if ws and ds else float('nan'):.2f}  {rec.get('dattri_error', '')}",
                flush=True,
            )
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
    if args.mislabel:
        rows += mislabel(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def mislabel(args):
    """10% flipped labels; rank train examples by self-influence; AUC of finding the flipped ones."""
    from sklearn.metrics import roc_auc_score

    from winnow.select.attribution import ClassificationTask, self_influence

    (X, y), _ = load(args.n_train, args.n_test, data=args.data)
    rng = np.random.default_rng(1)
    flip = rng.choice(len(y), size=len(y) // 10, replace=False)
    yf = y.clone()
    yf[flip] = (yf[flip] + torch.as_tensor(rng.integers(1, 10, len(flip)))) % 10
    is_flip = np.zeros(len(y), bool)
    is_flip[flip] = True
    model = train("lr", X, yf, seed=0)
    out = []
    t = time.perf_counter()
    s = self_influence(
        model, ClassificationTask(), (X, yf), method="influence", damping=RECIPE["lr"]["wd"], batch_size=256
    )
    rec = {
        "model": "lr",
        "method": "mislabel_auc_if",
        "winnow_s": time.perf_counter() - t,
        "winnow_auc": roc_auc_score(is_flip, s),
    }
    if args.peer != "none":
        from dattri.algorithm.influence_function import IFAttributorExplicit
        from dattri.task import AttributionTask

        base = make_model("lr", 0)

        def loss_func(params, data):
            xx, yy = data
            xx = xx.unsqueeze(0) if xx.dim() == 1 else xx
            return F.cross_entropy(torch.func.functional_call(base, params, xx), yy.view(-1))

        t = time.perf_counter()
        task = AttributionTask(loss_func=loss_func, model=base, checkpoints=model.state_dict())
        att = IFAttributorExplicit(task=task, regularization=RECIPE["lr"]["wd"])
        tl = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(X, yf), batch_size=len(X)
        )  # dattri 0.3.0 self_attribute needs one batch
        att.cache(tl)
        sd = att.self_attribute(tl).detach().numpy()
        rec.update(dattri_s=time.perf_counter() - t, dattri_auc=roc_auc_score(is_flip, sd))
    print(
        f"\nmislabel detection (LR, 10% flipped, self-influence): winnow AUC {rec['winnow_auc']:.4f} "
        f"({rec['winnow_s']:.2f}s)"
        + (f"   dattri AUC {rec['dattri_auc']:.4f} ({rec['dattri_s']:.2f}s)" if "dattri_auc" in rec else "")
    )
    out.append(rec)
    return out


if __name__ == "__main__":
    main()
