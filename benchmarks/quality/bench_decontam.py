"""Decontamination: recall on planted HumanEval items, false positives on a clean real corpus, throughput.

    bash benchmarks/quality/setup.sh
    benchmarks/.venv-quality/bin/python benchmarks/quality/bench_decontam.py

Clean corpus: the benchmark corpus of bench_classifier (Python 3.11 docs reST sources, Debian
Policy + Developer's Reference, fortunes, Jargon File, site-packages METADATA/LICENSE/RECORD)
-- every document, both classes. Planted: each of the 164 HumanEval problems (prompt + canonical
solution) inserted into the middle of a random clean document, verbatim and under several light
edits. Throughput: docs/s and MB/s on one core for the whole corpus, winnow (vectorised numpy)
vs the classic pure-Python approach (regex words, tuple 13-grams, set lookup) as a reference point.
"""

from __future__ import annotations

import os
import re
import sys
import time

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "src"), HERE]

import corpus  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from winnow.curate.decontam.index import load_eval_set  # noqa: E402
from winnow.curate.decontam.step import Decontaminate  # noqa: E402


def reindent(t, rng):
    return re.sub(r"\n[ \t]+", "\n  ", t).replace("    ", "\t")


def upper(t, rng):
    return t.upper()


def punct(t, rng):
    return t.replace('"""', "'''").replace("(", " ( ").replace(",", " ,").replace(":", " :")


def replace_every(k):
    def f(t, rng):
        w = t.split(" ")
        for i in range(0, len(w), k):
            w[min(len(w) - 1, i + int(rng.integers(0, k)))] = "EDITED"
        return " ".join(w)

    f.__name__ = f"replace_1_in_{k}_words"
    return f


def first_half(t, rng):
    return t[: len(t) // 2]


EDITS = [reindent, upper, punct, replace_every(25), replace_every(10), first_half]

_SEP = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f\u00a0\u2000-\u206f]+")


def python_reference(docs, items, n=13):
    grams = set()
    for t in items:
        w = [x for x in _SEP.split(t.lower()) if x]
        grams.update(tuple(w[k : k + n]) for k in range(len(w) - n + 1))
    out = []
    for d in docs:
        w = [x for x in _SEP.split(d.lower()) if x]
        out.append(any(tuple(w[k : k + n]) in grams for k in range(len(w) - n + 1)))
    return np.array(out)


def main():
    rng = np.random.default_rng(0)
    he = load_eval_set("humaneval")
    clean = [t for _, t in corpus.positives() + corpus.negatives()]
    arr = pa.array(clean)
    step = Decontaminate(eval_sets=["humaneval"])
    t0 = time.perf_counter()
    step.setup()
    t_index = time.perf_counter() - t0
    step.annotate(pa.table({"text": arr.slice(0, 100)}))
    ts, cs = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        tab = step.annotate(pa.table({"text": arr}))
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    t, tw = min(cs), min(ts)
    fp = int(np.count_nonzero(tab.column("decontam_ngrams").to_numpy()))
    mb = arr.nbytes / 1e6
    c0 = time.process_time()
    ref_fp = int(python_reference(clean, he.texts).sum())
    t_ref = time.process_time() - c0
    print(
        f"clean corpus: {len(clean):,} docs, {mb:.1f} MB; index: {len(step.index.hashes):,} 13-grams of "
        f"{len(he)} HumanEval items built in {t_index:.2f} s"
    )
    print(f"false positives on the clean corpus: winnow {fp}, pure-Python reference {ref_fp}")
    print(
        f"throughput per CPU-second (1 thread): winnow {len(clean) / t:,.0f} docs/s = {mb / t:.1f} MB/s "
        f"(wall: {mb / tw:.1f} MB/s); pure-Python reference {len(clean) / t_ref:,.0f} docs/s = "
        f"{mb / t_ref:.1f} MB/s ({t_ref / t:.1f}x slower)"
    )
    print("\nplanted: every HumanEval item once per variant, in the middle of a random clean document")
    print(f"{'variant':<26}{'recall':>8}{'right item':>12}")
    for name, fn in [("verbatim", None)] + [(f.__name__, f) for f in EDITS]:
        docs = []
        for i, txt in enumerate(he.texts):
            host = clean[int(rng.integers(len(clean)))]
            body = txt if fn is None else fn(txt, rng)
            c = len(host) // 2
            docs.append(host[:c] + "\n" + body + "\n" + host[c:])
        tb = step.annotate(pa.table({"text": docs}))
        hit = tb.column("decontam_ngrams").to_numpy() > 0
        items = tb.column("decontam_items").to_pylist()
        right = np.array([f"humaneval/{he.ids[i]}" in (items[i] or []) for i in range(len(docs))])
        print(f"{name:<26}{hit.mean():>8.3f}{right.mean():>12.3f}")


if __name__ == "__main__":
    main()
