"""winnow.curate.quality vs the reference fastText on the same real positive/negative split.

    bash benchmarks/quality/setup.sh
    benchmarks/.venv-quality/bin/python benchmarks/quality/bench_classifier.py

Both models get the raw text (fastText: newlines -> spaces, as its input format requires, done
before timing; winnow lowercases ASCII inside its hashing); word bigrams; 2**20 hash buckets. winnow: hashed
unigram+bigram logistic regression (2**20 weights). fastText: train_supervised with
wordNgrams=2, bucket=2**20, at several embedding dims (parameters = (vocab + 2**20) * dim).
Throughput: single-thread scoring of the held-out texts replicated to >= 20k docs, as docs per
CPU-second of the process (= docs/s/core; robust on a shared machine) and docs per wall-second.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "src"), HERE]

import corpus  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from winnow.curate.quality.model import QualityModel, roc_auc  # noqa: E402


def best_of(fn, reps=3):
    """(best wall seconds, best CPU seconds of this process): the machine is shared, so CPU time
    is the robust per-core figure; both are reported."""
    ws, cs = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        ws.append(time.perf_counter() - w0)
        cs.append(time.process_time() - c0)
    return min(ws), min(cs)


def main():
    import fasttext

    tr_x, tr_y, te_x, te_y, info = corpus.load(seed=0)
    print(f"corpus: train {len(tr_x)}, test {len(te_x)}; {info}")
    pos = [t for t, y in zip(tr_x, tr_y) if y]
    neg = [t for t, y in zip(tr_x, tr_y) if not y]
    rep = max(1, -(-20000 // len(te_x)))
    pool = te_x * rep
    pool_arr = pa.array(pool)
    mb = pool_arr.nbytes / 1e6
    rows = []

    t0 = time.perf_counter()
    m = QualityModel.train_classifier(pos, neg, n_bits=20, word_ngrams=2, seed=0)
    t_train = time.perf_counter() - t0
    auc_w = roc_auc(m.score(te_x), te_y)
    m.score(pool_arr[:1000])
    wall, cpu = best_of(lambda: m.score(pool_arr))
    w_rate = len(pool) / cpu
    rows.append(("winnow hashed LR (2^20 weights)", 2**20, auc_w, t_train, w_rate, mb / cpu, len(pool) / wall))

    clean_te = [x.replace("\n", " ") for x in te_x]
    clean_pool = clean_te * rep
    with tempfile.TemporaryDirectory() as td:
        path = os.path.join(td, "train.txt")
        with open(path, "w") as fh:
            for x, y in zip(tr_x, tr_y):
                fh.write(("__label__hq " if y else "__label__lq ") + x.replace("\n", " ") + "\n")
        for dim in (1, 16, 100):
            t0 = time.perf_counter()
            ft = fasttext.train_supervised(
                path, wordNgrams=2, bucket=2**20, dim=dim, epoch=10, lr=0.5, thread=1, verbose=0, seed=0
            )
            t_train = time.perf_counter() - t0
            labels, probs = ft.predict(clean_te, k=2)
            s = np.array(
                [p[list(lab).index("__label__hq")] if "__label__hq" in lab else 0.0 for lab, p in zip(labels, probs)]
            )
            auc_f = roc_auc(s, te_y)
            nparams = (len(ft.words) + 2**20) * dim
            wall, cpu = best_of(lambda: ft.predict(clean_pool, k=1))
            rows.append((f"fastText dim={dim}", nparams, auc_f, t_train, len(pool) / cpu, mb / cpu, len(pool) / wall))
            teacher = s  # the last (dim=100) model's P(hq) on the test texts it never saw

    print(f"\nscoring pool: {len(pool):,} docs, {mb:.1f} MB, 1 thread")
    print(f"{'model':<34}{'params':>12}{'AUC':>8}{'train s':>9}{'docs/cpu-s':>12}{'MB/cpu-s':>10}{'docs/wall-s':>12}")
    for name, p, auc, tt, rate, mbs, wr in rows:
        print(f"{name:<34}{p:>12,}{auc:>8.4f}{tt:>9.2f}{rate:>12,.0f}{mbs:>10.1f}{wr:>12,.0f}")
    # influence-distilled scorer, in miniature: a teacher's per-example score (here fastText dim=100's
    # logit on texts it never saw) on half of the test texts, learnt by the fast model; evaluated
    # on the other half against the teacher (Spearman) and against the true labels (AUC).

    from winnow.curate.quality.train import _split, train_distilled

    logit = np.log(np.clip(teacher, 1e-6, 1 - 1e-6) / np.clip(1 - teacher, 1e-6, 1))
    ids = [f"t{i:06d}" for i in range(len(te_x))]  # sorted ids == row order
    md, rep = train_distilled(
        pa.table({"id": ids, "score": logit}), pa.table({"id": ids, "text": te_x}), test_frac=0.5, seed=0
    )
    _, ev = _split(len(te_x), 0.5, 0)  # train_distilled's held-out half
    d_s = md.score([te_x[i] for i in ev])
    print(
        f"\ninfluence-distilled (teacher = fastText dim=100 logit, {rep['n_train']} texts to learn from): "
        f"held-out Spearman vs teacher {rep['heldout_spearman']:.3f}; distilled AUC on true labels "
        f"{roc_auc(d_s, [te_y[i] for i in ev]):.4f} (teacher {roc_auc(teacher[ev], [te_y[i] for i in ev]):.4f})"
    )
    # AUC away from saturation: the same test set, models trained on small random subsets
    print("\nheld-out AUC with small training sets (same test set; mean over 3 subsets):")
    print(f"{'train docs':>10}{'winnow':>9}{'fastText dim=1':>16}{'fastText dim=16':>17}")
    rng = np.random.default_rng(1)
    for n in (50, 200, 800):
        aucs = {"w": [], 1: [], 16: []}
        for rep_i in range(3):
            sub = rng.choice(len(tr_x), size=n, replace=False)
            sx, sy = [tr_x[i] for i in sub], [tr_y[i] for i in sub]
            mw = QualityModel.train_classifier([x for x, y in zip(sx, sy) if y], [x for x, y in zip(sx, sy) if not y])
            aucs["w"].append(roc_auc(mw.score(te_x), te_y))
            with tempfile.TemporaryDirectory() as td:
                path = os.path.join(td, "train.txt")
                with open(path, "w") as fh:
                    for x, y in zip(sx, sy):
                        fh.write(("__label__hq " if y else "__label__lq ") + x.replace("\n", " ") + "\n")
                for dim in (1, 16):
                    ft = fasttext.train_supervised(
                        path, wordNgrams=2, bucket=2**20, dim=dim, epoch=10, lr=0.5, thread=1, verbose=0, seed=rep_i
                    )
                    labels, probs = ft.predict(clean_te, k=2)
                    sc = [
                        p[list(lab).index("__label__hq")] if "__label__hq" in lab else 0.0
                        for lab, p in zip(labels, probs)
                    ]
                    aucs[dim].append(roc_auc(sc, te_y))
        print(f"{n:>10}{np.mean(aucs['w']):>9.4f}{np.mean(aucs[1]):>16.4f}{np.mean(aucs[16]):>17.4f}")

    print("\nwinnow / fastText (docs per CPU-second, one thread each):")
    for name, p, auc, tt, rate, mbs, wr in rows[1:]:
        print(f"  vs {name:<18} speed {w_rate / rate:5.2f}x   AUC diff {auc_w - auc:+.4f}")


if __name__ == "__main__":
    main()
