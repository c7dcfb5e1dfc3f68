"""Correctness of minhash_dedup against exact Jaccard on a real corpus, plus the S-curve.

Ground truth is independent of every hash function: documents are tokenised exactly as winnow
does (same normalisation), each distinct token gets an integer id, each distinct word 5-gram
an integer id (``np.unique`` over id windows: exact, no hashing), and the exact Jaccard of
*every* pair of documents that shares at least one shingle comes from a sparse product
``A·Aᵀ`` (all other pairs have Jaccard 0). Duplicate pairs predicted by a run are the pairs
of documents that end in the same cluster.

    PYTHONPATH=src python benchmarks/dedup/bench_quality.py --corpus benchmarks/_work/dedup/corpus \
        --out benchmarks/out/dedup

Prints a table (precision / recall at 0.7, 0.8, 0.9 with verification on — threshold = t, the
banding chosen for t unless ``--bands/--rows/--preset`` — for the default ``correlation`` and
the ``center`` clustering, and off, plus FineWeb's 14 × 8 verified at 0.8 for comparison, and each
clustering run on the exact graph itself: "oracle"), the LSH candidate pairs of each banding (distinct pairs sharing a bucket,
counted over every pair with J > 0) and writes ``scurve.png`` and ``quality.json`` in ``--out``.
It also prints, per threshold, the ceiling no clustering can pass: a lower bound on FN + FP for any
partition of the exact graph (:func:`winnow.curate.dedup.evaluate.partition_error_bound`) and the
highest ``p`` with P and R both ≥ ``p`` that the bound allows.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj


def load_corpus(path: str) -> pa.Table:
    tabs = [
        pj.read_json(f, read_options=pj.ReadOptions(block_size=64 << 20))
        for f in sorted(glob.glob(os.path.join(path, "*.jsonl")))
    ]
    t = pa.concat_tables([x.select(["id", "text"]) for x in tabs])
    t = t.set_column(0, "id", pc.cast(t.column("id"), pa.string()))
    return t.take(pc.sort_indices(t, [("id", "ascending")]))


def run_winnow(corpus: str, out: str, **kw) -> tuple[dict, pa.Table, float]:
    from winnow import Pipeline

    if os.path.exists(out):
        shutil.rmtree(out)
    step = Pipeline([{"minhash_dedup": kw}]).steps[0]
    t0 = time.perf_counter()
    res = Pipeline([step]).run(os.path.join(corpus, "*.jsonl"), out, workers=1)
    dt = time.perf_counter() - t0
    kept = res.kept(["id", "cluster_id"])
    rej = res.rejects(["id", "duplicate_of"])
    ids = pa.concat_arrays([kept.column("id").combine_chunks(), rej.column("id").combine_chunks()])
    rep = pa.concat_arrays(
        [
            pc.coalesce(kept.column("cluster_id"), kept.column("id")).combine_chunks(),
            rej.column("duplicate_of").combine_chunks(),
        ]
    )
    stats = dict(step.last_stats or res.manifest["steps"][0].get("reduce") or {})  # reduce may run in a worker
    return stats, pa.table({"id": ids, "rep": rep}), dt


def labels_for(ids_sorted: pa.Array, clusters: pa.Table) -> np.ndarray:
    c = clusters.take(pc.sort_indices(clusters, [("id", "ascending")]))
    assert c.column("id").equals(pa.chunked_array([ids_sorted])), "run lost or duplicated rows"
    return np.asarray(pc.dictionary_encode(c.column("rep").combine_chunks()).indices.to_numpy(), np.int64)


def oracle_labels(n, i, j, jac, t, mode):
    """Clusters computed from the exact ground truth itself (upper bounds for each clustering)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = jac >= t
    if mode == "correlation":  # the default's local search, from the centres, on the exact graph
        from scipy.sparse import csr_matrix

        from winnow.core.text.kernels import refine_clusters

        g = csr_matrix((np.ones(2 * m.sum(), np.int8), (np.r_[i[m], j[m]], np.r_[j[m], i[m]])), shape=(n, n))
        g.sort_indices()
        return refine_clusters(g.indptr, g.indices, oracle_labels(n, i, j, jac, t, "center"))[0]
    if mode == "components":
        return connected_components(coo_matrix((np.ones(m.sum()), (i[m], j[m])), shape=(n, n)), directed=False)[1]
    order = np.lexsort((i[m], j[m]))
    jj, ii = j[m][order], i[m][order]
    starts = np.searchsorted(jj, np.arange(n + 1))
    lab = np.arange(n)
    centre = np.ones(n, bool)
    for x in np.unique(jj).tolist():
        for a in ii[starts[x] : starts[x + 1]].tolist():
            if centre[a]:
                lab[x] = a
                centre[x] = False
                break
    return lab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus")
    ap.add_argument("--out", default="benchmarks/out/dedup")
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--bands", type=int, default=None, help="default: chosen for each threshold")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--preset", default=None)
    a = ap.parse_args()
    banding = {k: v for k, v in (("bands", a.bands), ("rows", a.rows), ("preset", a.preset)) if v is not None}
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    tab = load_corpus(a.corpus)
    ids = tab.column("id").combine_chunks()
    from winnow.curate.dedup.evaluate import exact_jaccard_pairs, pair_metrics

    gt = os.path.join(a.out, f"gt-{tab.num_rows}-{a.ngram}.npz")
    if os.path.exists(gt):  # cache of the exact ground truth (same corpus, same n-gram size)
        z = np.load(gt)
        i, j, jac = z["i"], z["j"], z["jac"]
    else:
        i, j, jac = exact_jaccard_pairs(tab.column("text"), a.ngram)
        np.savez(gt, i=i, j=j, jac=jac)
    print(f"{tab.num_rows:,} docs, {len(i):,} pairs with J>0 ({time.perf_counter() - t0:.0f} s ground truth)")
    from winnow.curate.dedup.evaluate import partition_ceiling, partition_error_bound

    ceilings = {}
    for t in (0.7, 0.8, 0.9):
        m = jac >= t
        bound = partition_error_bound(i[m], j[m], tab.num_rows)
        ceilings[t] = {"error_bound": bound, "ceiling": round(partition_ceiling(bound, int(m.sum())), 4)}
        print(
            f"  true duplicate pairs at J>={t}: {m.sum():,}; any clustering makes >= {bound:,} errors (FN + FP), "
            f"so P and R cannot both exceed {ceilings[t]['ceiling']:.4f}"
        )

    # --- S-curve: measured collision probability from winnow's own band keys
    from winnow.curate.dedup.minhash import MinhashDedup

    def collisions(step):
        """Whether each pair with J > 0 shares a bucket under ``step``'s banding."""
        b_, r_ = step.banding
        step = MinhashDedup(ngram=a.ngram, bands=b_, rows=r_, verify=False)  # band keys only
        bands = np.concatenate(
            [
                np.stack([np.asarray(c.to_numpy()) for c in step.map(tab.slice(s, 4096)).columns[1:]], 1)
                for s in range(0, tab.num_rows, 4096)
            ]
        )
        out = np.zeros(len(i), bool)
        for s in range(0, len(i), 2_000_000):
            bi, bj = bands[i[s : s + 2_000_000]], bands[j[s : s + 2_000_000]]
            out[s : s + 2_000_000] = ((bi == bj) & (bi != 0)).any(1)
        return out

    print("\nLSH candidate pairs (distinct pairs sharing a bucket; P(candidate) at t; candidates at J < t − 0.3):")
    cand_rows = []
    for t, kw in [(t, banding) for t in (0.7, 0.8, 0.9)] + [(0.8, {"preset": "fineweb"})]:
        st = MinhashDedup(ngram=a.ngram, threshold=t, **kw)
        c = collisions(st)
        b_, r_ = st.banding
        row = {
            "threshold": t,
            "banding": f"{b_}x{r_}" + (" (fineweb)" if kw.get("preset") else ""),
            "candidate_pairs": int(c.sum()),
            "candidate_recall_at_t": round(float(c[jac >= t].mean()), 4),
            "candidates_below_t-0.3": int((c & (jac < t - 0.3)).sum()),
        }
        cand_rows.append(row)
        print("  " + json.dumps(row))
    step = MinhashDedup(ngram=a.ngram, threshold=0.8, **banding)
    a.bands, a.rows = step.banding
    collide = collisions(step)
    edges = np.linspace(0, 1, 21)
    bins = np.clip(np.digitize(jac, edges) - 1, 0, 19)
    meas = np.array([collide[bins == b].mean() if (bins == b).any() else np.nan for b in range(20)])
    f_j = 1 - (1 - jac.astype(np.float64) ** a.rows) ** a.bands  # prediction for each pair's own J
    pred_bin = np.array([f_j[bins == b].mean() if (bins == b).any() else np.nan for b in range(20)])
    cnt = np.bincount(bins, minlength=20)
    mid = (edges[:-1] + edges[1:]) / 2
    s_grid = np.linspace(0, 1, 201)
    pred = 1 - (1 - s_grid**a.rows) ** a.bands
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(s_grid, pred, label=f"predicted 1-(1-s^{a.rows})^{a.bands}")
    ok = cnt >= 20
    ax.plot(mid[ok], pred_bin[ok], "x", color="C0", label="predicted, averaged over each bin's pairs")
    ax.plot(mid[ok], meas[ok], "o", color="C1", mfc="none", label="measured (pairs binned by exact Jaccard)")
    ax.set_xlabel("exact Jaccard of word 5-gram sets")
    ax.set_ylabel("P(candidate pair)")
    ax.set_title(f"MinHash LSH S-curve ({a.bands} x {a.rows}), {tab.num_rows:,} real docs")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "scurve.png"), dpi=80)
    scurve = [
        {
            "jaccard_bin": round(float(m), 3),
            "pairs": int(c),
            "measured": None if np.isnan(x) else round(float(x), 4),
            "predicted_mid": round(float(1 - (1 - m**a.rows) ** a.bands), 4),
            "predicted_pairs": None if np.isnan(pb) else round(float(pb), 4),
        }
        for m, c, x, pb in zip(mid, cnt, meas, pred_bin)
    ]
    print("\nS-curve (bin mid, pairs, measured, predicted at mid, predicted averaged over the bin's pairs):")
    for r in scurve:
        if r["pairs"]:
            print(
                f"  {r['jaccard_bin']:.3f} {r['pairs']:>10,} {r['measured']!s:>8} {r['predicted_mid']:.4f} "
                f"{r['predicted_pairs']:.4f}"
            )

    # --- precision / recall of duplicate pairs
    results = []
    runs = [(True, "correlation", t, banding) for t in (0.7, 0.8, 0.9)] + [
        (True, "center", t, banding) for t in (0.7, 0.8, 0.9)
    ]
    runs += [
        (True, "correlation", 0.8, {"preset": "fineweb"}),
        (True, "components", 0.8, banding),
        (False, "center", None, {"preset": "fineweb"}),
        (False, "components", None, {"preset": "fineweb"}),
    ]
    for verify, clustering, thr, bkw in runs:
        kw = dict(ngram=a.ngram, verify=verify, clustering=clustering, **bkw)
        if thr is not None:
            kw["threshold"] = thr
        stats, cl, dt = run_winnow(a.corpus, os.path.join(a.out, "run-q"), **kw)
        lab = labels_for(ids, cl)
        for t in (thr,) if thr is not None else (0.7, 0.8, 0.9):
            m = pair_metrics(lab, i, j, jac, t)
            m.update(
                method=f"winnow verify={'on' if verify else 'off'} {clustering} {stats['bands']}x{stats['rows']}",
                threshold=t,
                seconds=round(dt, 1),
                removed=int(stats.get("duplicates", 0)),
                verified_pairs=stats.get("verified_pairs"),
                bucket_pairs=stats.get("bucket_pairs"),
            )
            results.append(m)
    for mode in ("correlation", "center", "components"):
        for t in (0.7, 0.8, 0.9):
            m = pair_metrics(oracle_labels(tab.num_rows, i, j, jac, t, mode), i, j, jac, t)
            m.update(method=f"oracle (exact Jaccard) {mode}", threshold=t, seconds=None, removed=None)
            results.append(m)
    print(
        "\nmethod                                     t    precision  recall   pred_pairs  true_pairs  removed  "
        "verified  seconds"
    )
    for m in results:
        print(
            f"{m['method']:<42} {m['threshold']:.1f}  {m['precision']:.4f}     {m['recall']:.4f}   "
            f"{m['pred_pairs']:>10,}  {m['true_pairs']:>10,}  {m['removed']!s:>7}  {m.get('verified_pairs')!s:>8}  "
            f"{m['seconds']}"
        )
    with open(os.path.join(a.out, "quality.json"), "w") as fh:
        json.dump(
            {
                "docs": tab.num_rows,
                "pairs_with_overlap": int(len(i)),
                "banding": [a.bands, a.rows],
                "lsh_candidates": cand_rows,
                "scurve": scurve,
                "results": results,
                "partition_ceiling": {str(t): c for t, c in ceilings.items()},
            },
            fh,
            indent=1,
        )
    shutil.rmtree(os.path.join(a.out, "run-q"), ignore_errors=True)


if __name__ == "__main__":
    main()
