"""Real proxy runs for winnow.predict.scaling (issue 10, quality bar 3): a character n-gram LM trained
on increasing amounts of real text, held-out loss measured, a law fitted on all but the largest
size and checked against the held-out largest run.

Model: byte-level 5-gram LM, interpolated absolute discounting (d = 0.75) down to a uniform
byte distribution, trained by counting (numpy, vectorised). Data (offline, real text):
``pydoc_data.topics`` (Python's documentation topics; 79 documents, 465k characters) and the
METADATA files of the installed Python packages. Target: held-out pydoc documents.

Recipes (for the proxy-transfer check): ``pydoc`` (in-domain), ``metadata`` (package READMEs,
out of domain) and ``mix`` (documents of both, interleaved). Sizes: 6k … 384k bytes (×2), 3 seeds
(different document orders).

    PYTHONPATH=src python benchmarks/scaling/real_ngram.py --out benchmarks/out/scaling
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from importlib import metadata

import numpy as np

ORDER = 5
DISCOUNT = 0.75


def _canon(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned() -> set[str]:
    """The frozen list of distributions the project's corpora draw on (adding a dependency
    must not change the METADATA corpus)."""
    from winnow.core.datasets import pinned_distributions

    return pinned_distributions()


def corpora(seed: int = 0):
    from pydoc_data.topics import topics

    docs = [topics[k] for k in sorted(topics)]
    rng = np.random.default_rng(seed)
    rng.shuffle(docs)
    test, train, n = [], [], 0
    for d in docs:  # ~60k bytes of whole documents held out as the target set
        if n < 60_000:
            test.append(d)
            n += len(d.encode())
        else:
            train.append(d)
    meta = []
    pinned = _pinned()
    for dist in sorted(metadata.distributions(), key=lambda d: (d.metadata.get("Name") or "").lower()):
        if pinned is not None and _canon(dist.metadata.get("Name") or "") not in pinned:
            continue  # only the pinned environment: the corpus must not change when a tool is pip-installed
        txt = dist.read_text("METADATA")
        if txt:
            meta.append(txt)
    return "\n".join(test), train, meta


def stream(docs: list[str], seed: int) -> bytes:
    order = np.random.default_rng(seed).permutation(len(docs))
    return "\n".join(docs[i] for i in order).encode()


def mix_stream(a: list[str], b: list[str], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    ia, ib = rng.permutation(len(a)), rng.permutation(len(b))
    out = []
    for k in range(max(len(a), len(b))):
        if k < len(ia):
            out.append(a[ia[k]])
        if k < len(ib):
            out.append(b[ib[k]])
    return "\n".join(out).encode()


def _keys(b: np.ndarray, m: int) -> np.ndarray:
    n = b.size - m + 1
    k = np.zeros(n, dtype=np.int64)
    for j in range(m):
        k = k * 256 + b[j : j + n].astype(np.int64)
    return k


class NGram:
    """Byte n-gram LM with interpolated absolute discounting; all counting is numpy."""

    def __init__(self, order: int = ORDER, d: float = DISCOUNT):
        self.order, self.d = order, d

    def fit(self, data: bytes) -> "NGram":
        b = np.frombuffer(data, dtype=np.uint8)
        self.tables = []
        for m in range(1, self.order + 1):
            keys, cnt = np.unique(_keys(b, m), return_counts=True)
            ctx = keys // 256
            cu, start, ntypes = np.unique(ctx, return_index=True, return_counts=True)
            ctot = np.add.reduceat(cnt, start)
            self.tables.append((keys, cnt, cu, ctot, ntypes))
        return self

    def loss(self, data: bytes) -> float:
        """Mean negative log-likelihood (nats per byte) of ``data`` (positions with full context)."""
        b = np.frombuffer(data, dtype=np.uint8)
        n = b.size - self.order + 1
        p = np.full(n, 1.0 / 256)
        for m in range(1, self.order + 1):
            keys, cnt, cu, ctot, ntypes = self.tables[m - 1]
            q = _keys(b, m)[self.order - m :][:n]
            ctx = q // 256
            i = np.clip(np.searchsorted(keys, q), 0, keys.size - 1)
            c_hw = np.where(keys[i] == q, cnt[i], 0)
            j = np.clip(np.searchsorted(cu, ctx), 0, cu.size - 1)
            seen = cu[j] == ctx
            c_h = np.where(seen, ctot[j], 1)
            n1 = np.where(seen, ntypes[j], 0)
            pm = (np.maximum(c_hw - self.d, 0.0) + self.d * n1 * p) / c_h
            p = np.where(seen, pm, p)
        return float(-np.mean(np.log(p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/out/scaling")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    test, pydoc, meta = corpora()
    sizes = [6_000 * 2**k for k in range(7)]  # 6k … 384k bytes
    rows = []
    t0 = time.time()
    for seed in range(a.seeds):
        streams = {"pydoc": stream(pydoc, seed), "metadata": stream(meta, seed), "mix": mix_stream(pydoc, meta, seed)}
        for recipe, s in streams.items():
            if len(s) < sizes[-1]:
                raise SystemExit(f"{recipe}: only {len(s)} bytes, need {sizes[-1]}")
            for D in sizes:
                loss = NGram().fit(s[:D]).loss(test.encode())
                rows.append({"recipe": recipe, "D": D, "seed": seed, "loss": round(loss, 6)})
    print(f"trained {len(rows)} n-gram LMs in {time.time() - t0:.1f} s; target = {len(test.encode()):,} bytes")
    path = os.path.join(a.out, "ngram_runs.csv")
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["recipe", "D", "seed", "loss"])
        w.writeheader()
        w.writerows(rows)

    from winnow.predict.scaling import fit_runs, load_runs, transfer_report
    from winnow.predict.scaling.plot import plot_fit, plot_transfer

    runs = load_runs(path)
    summary = {"runs_csv": path, "sizes": sizes, "seeds": a.seeds, "fits": {}}
    for recipe in runs.recipes():
        sub = runs.subset(runs.recipe == recipe)
        for law in ("power",):
            f = fit_runs(sub, law=law, exclude_largest=1, n_boot=a.n_boot, seed=0)
            obs = float(np.mean(f.extra["held_out"]["loss"]))
            pred, lo, hi = (float(x) for x in f.predict(D=float(sizes[-1]), interval=True))
            # what a naive "loss keeps falling at the last slope" extrapolation would say: a line in
            # log-log through the two largest fitted sizes
            m = [float(np.mean(sub.loss[sub.D == s])) for s in sizes[-3:-1]]
            naive = float(np.exp(np.log(m[1]) + (np.log(m[1]) - np.log(m[0]))))
            summary["fits"][recipe] = {
                "law": f.law.name,
                "params": f.params,
                "ci": f.ci,
                "observed_largest_mean": obs,
                "predicted": pred,
                "ci_low": lo,
                "ci_high": hi,
                "rel_error": (pred - obs) / obs,
                "inside_ci": lo <= obs <= hi,
                "naive_loglog_rel_error": (naive - obs) / obs,
                "seed_sd_largest": float(np.std(f.extra["held_out"]["loss"], ddof=1)),
            }
            print(
                f"{recipe:9s} {law}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in f.params.items())
                + f" | D={sizes[-1]:,}: observed {obs:.4f}, predicted {pred:.4f} [{lo:.4f}, {hi:.4f}], "
                f"error {(pred - obs) / obs:+.2%}, inside CI: {lo <= obs <= hi} "
                f"(naive log-log line: {(naive - obs) / obs:+.2%})"
            )
            plot_fit(
                f,
                sub,
                os.path.join(a.out, f"ngram_fit_{recipe}.png"),
                title=f"byte 5-gram LM, {recipe} → pydoc held-out: fit on ≤{sizes[-2]:,} B, held out {sizes[-1]:,} B",
            )
    rep = transfer_report(runs, scale="D", extrapolate_to=1e8)
    plot_transfer(rep, os.path.join(a.out, "ngram_transfer.png"))
    summary["transfer"] = {
        k: rep[k]
        for k in (
            "recipes",
            "scales",
            "mean",
            "best",
            "vs_largest",
            "crossings",
            "fitted_crossings",
            "min_spearman_vs_largest",
        )
    }
    print(
        "transfer: best per scale",
        rep["best"],
        "| min Spearman vs largest",
        round(rep["min_spearman_vs_largest"], 3),
        "| crossings",
        [(c["a"], c["b"], round(c["at"])) for c in rep["crossings"]],
        "| fitted crossings ≤1e8",
        [(c["a"], c["b"], f"{c['at']:.3g}") for c in rep["fitted_crossings"]],
    )
    with open(os.path.join(a.out, "ngram_summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
