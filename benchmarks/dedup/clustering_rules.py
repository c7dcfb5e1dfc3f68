"""Clustering rules compared on the *exact* similarity graph of a corpus (how the default
``correlation`` clustering was chosen, issue 20). Reads the ground-truth cache bench_quality.py
writes (``gt-<docs>-5.npz`` in its ``--out``), so run that first:

    PYTHONPATH=src python benchmarks/dedup/clustering_rules.py benchmarks/out/dedup2/gt-69752-5.npz

Prints pair precision / recall at ``--threshold`` of: greedy centres in id order, connected
components, greedy pivots by degree, centres + merging clusters whose cross pairs are ≥ 50 %
matches, node moves only (weight 1 and 0.5 on false pairs), and moves + merges
(:func:`winnow.core.text.kernels.refine_clusters`; weight 0.5 = ``join_fraction`` 1/3).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from winnow.core.text.kernels import refine_clusters
from winnow.curate.dedup.evaluate import pair_metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gt", help="gt-*.npz from bench_quality.py")
    ap.add_argument("--threshold", type=float, default=0.8)
    a = ap.parse_args()
    z = np.load(a.gt)
    i, j, jac, t = z["i"], z["j"], z["jac"], a.threshold
    n = int(max(i.max(), j.max()) + 1)
    m = jac >= t
    ei, ej = i[m], j[m]
    g = csr_matrix((np.ones(2 * len(ei), np.int8), (np.r_[ei, ej], np.r_[ej, ei])), shape=(n, n))
    g.sort_indices()
    deg = np.diff(g.indptr)

    def nb(x):
        return g.indices[g.indptr[x] : g.indptr[x + 1]]

    def show(name, lab):
        r = pair_metrics(lab, i, j, jac, t)
        print(f"{name:<48} P={r['precision']:.4f} R={r['recall']:.4f}")

    centre = np.arange(n)
    is_c = np.ones(n, bool)
    for x in np.unique(ej).tolist():
        for y in nb(x)[nb(x) < x].tolist():
            if is_c[y]:
                centre[x], is_c[x] = y, False
                break
    show("centres (id order)", centre)
    show("connected components", connected_components(g)[1])
    piv = np.full(n, -1)
    for x in np.argsort(-deg, kind="stable").tolist():
        if piv[x] < 0:
            piv[x] = x
            y = nb(x)
            piv[y[piv[y] < 0]] = x
    show("pivots by degree", piv)
    lab = centre.copy()
    for _ in range(10):  # merge clusters whose cross pairs are >= 50 % matches
        _, L = np.unique(lab, return_inverse=True)
        sz = np.bincount(L)
        a_, b_ = L[ei], L[ej]
        x = a_ != b_
        key = np.minimum(a_[x], b_[x]).astype(np.int64) * n + np.maximum(a_[x], b_[x])
        uk, cnt = np.unique(key, return_counts=True)
        lo, hi = uk // n, uk % n
        ok = cnt / (sz[lo] * sz[hi]) >= 0.5
        if not ok.any():
            break
        parent = np.arange(len(sz))
        used = np.zeros(len(sz), bool)
        for p, q in zip(lo[ok].tolist(), hi[ok].tolist()):
            if not used[p] and not used[q]:
                used[p] = used[q] = True
                parent[q] = p
        lab = parent[L]
    show("centres + average-linkage merges (>= 50 %)", lab)
    for w in (1.0, 0.5):  # node moves only: the kernel with merges disabled is not exposed; do it here
        lab = centre.copy()
        changed = True
        while changed:
            changed = False
            for x in np.flatnonzero(deg).tolist():
                sizes = np.bincount(lab, minlength=n)
                cl, cnt = np.unique(lab[nb(x)], return_counts=True)
                cur = lab[x]
                a_cur = cnt[cl == cur].sum()
                best, best_cost = cur, w * (sizes[cur] - 1 - a_cur) + deg[x] - a_cur
                for c, k in zip(cl.tolist(), cnt.tolist()):
                    if c != cur and w * (sizes[c] - k) + deg[x] - k < best_cost - 1e-9:
                        best, best_cost = c, w * (sizes[c] - k) + deg[x] - k
                if sizes[cur] > 1 and deg[x] < best_cost - 1e-9:
                    best = np.flatnonzero(sizes == 0)[0]
                if best != cur:
                    lab[x], changed = best, True
        show(f"centres + node moves, weight {w:g}", lab)
    for f in (0.5, 1 / 3):
        show(f"centres + moves + merges, join_fraction {f:.2f}", refine_clusters(g.indptr, g.indices, centre, f)[0])


if __name__ == "__main__":
    main()
