"""Speed and memory of MinHash-LSH dedup: winnow vs datasketch vs datatrove, same corpus, one run.

Every measurement runs in its own child process; the parent takes the child's wall time and
peak RSS (``ru_maxrss`` from ``os.wait4``). Word 5-grams, one process, each tool at its
recommended settings for Jaccard threshold 0.8: winnow's defaults (banding chosen for the
threshold, 16 bands × 6 rows, exact verification); datasketch's ``MinHashLSH(threshold=0.8,
num_perm=128)`` (its own banding optimiser) with its recommended estimate check (a candidate
counts if the MinHash estimate of its Jaccard is ≥ 0.8); datatrove's 14 buckets × 8 hashes
(FineWeb). datatrove gets a plain whitespace word tokenizer (its English default needs spaCy;
whitespace is also what winnow uses) — faster for it, not slower.

* ``sig``: signatures/s — shingling + MinHash of in-memory texts (no I/O; winnow's compiled
  kernels are loaded by a warm-up call on 10 texts first — ~0.4 s once per process, which the
  end-to-end figures include).
* ``e2e``: end to end — read the JSONL shards, dedup, write the kept documents.

    benchmarks/.venv-dedup/bin/python benchmarks/dedup/bench_speed.py \
        --corpus benchmarks/_work/dedup/corpus [--corpus10 benchmarks/_work/dedup/corpus10 [--peers10 datasketch-e2e]]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BANDS, ROWS, NGRAM = 14, 8, 5  # datatrove (FineWeb)
THRESHOLD, DS_PERM = 0.8, 128  # datasketch: MinHashLSH(threshold, num_perm) picks its own banding


def read_texts(corpus):
    texts = []
    for f in sorted(glob.glob(os.path.join(corpus, "*.jsonl"))):
        with open(f, encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    return texts


_PUNCT = re.compile(r"[^\w\s]+")


def py_shingles(text):
    words = _PUNCT.sub(" ", text.lower()).split()
    if len(words) < NGRAM:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + NGRAM]).encode() for i in range(len(words) - NGRAM + 1)}


# ---------------------------------------------------------------- contenders (child side)
def winnow_sig(corpus):
    import pyarrow as pa

    from winnow.curate.dedup.minhash import MinhashDedup

    texts = read_texts(corpus)
    step = MinhashDedup(threshold=THRESHOLD, ngram=NGRAM)
    step.signatures(pa.array(texts[:10]))  # load the compiled kernels (once per process; in e2e it is timed)
    t0 = time.perf_counter()
    for s in range(0, len(texts), 8192):
        step.signatures(pa.array(texts[s : s + 8192]))
    return {"docs": len(texts), "seconds": time.perf_counter() - t0}


def winnow_e2e(corpus, work, verify=True, **kw):
    from winnow import Pipeline

    t0 = time.perf_counter()
    res = Pipeline([{"minhash_dedup": {"threshold": THRESHOLD, "ngram": NGRAM, "verify": verify, **kw}}]).run(
        os.path.join(corpus, "*.jsonl"), os.path.join(work, "out"), workers=1
    )
    t = res.manifest["totals"]
    red = res.manifest["steps"][0].get("reduce", {})
    return {
        "docs": t["rows_in"],
        "removed": t["rows_rejected"],
        "seconds": time.perf_counter() - t0,
        "banding": f"{red.get('bands')}x{red.get('rows')}",
        "verified_pairs": red.get("verified_pairs"),
        "bucket_pairs": red.get("bucket_pairs"),
    }


def datasketch_sig(corpus):
    from datasketch import MinHash

    texts = read_texts(corpus)
    t0 = time.perf_counter()
    for tx in texts:
        m = MinHash(num_perm=DS_PERM, seed=1)
        m.update_batch(list(py_shingles(tx)))
    return {"docs": len(texts), "seconds": time.perf_counter() - t0}


def datasketch_e2e(corpus, work):
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    docs = []
    for f in sorted(glob.glob(os.path.join(corpus, "*.jsonl"))):
        with open(f, encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=DS_PERM)
    mhs = []
    for k, d in enumerate(docs):
        m = MinHash(num_perm=DS_PERM, seed=1)
        m.update_batch(list(py_shingles(d["text"])))
        mhs.append(m)
        lsh.insert(k, m)
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    candidates = 0
    for k, m in enumerate(mhs):
        for c in lsh.query(m):
            if c <= k:
                continue
            candidates += 1
            if m.jaccard(mhs[c]) < THRESHOLD:  # the estimate check
                continue
            a, b = find(k), find(c)
            if a != b:
                parent[max(a, b)] = min(a, b)
    os.makedirs(os.path.join(work, "out"), exist_ok=True)
    removed = 0
    with open(os.path.join(work, "out", "kept.jsonl"), "w", encoding="utf-8") as fh:
        for k, d in enumerate(docs):
            if find(k) == k:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            else:
                removed += 1
    return {
        "docs": len(docs),
        "removed": removed,
        "seconds": time.perf_counter() - t0,
        "banding": f"{lsh.b}x{lsh.r}",
        "candidate_pairs": candidates,
    }


def _dt_config():
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig

    return MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=BANDS, hashes_per_bucket=ROWS, n_grams=NGRAM)


def _ws_tokenizer():
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Whitespace(WordTokenizer):
        def word_tokenize(self, text, strip_whitespace=True, lower=False):
            return text.split()

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            raise NotImplementedError

    return Whitespace()


def datatrove_sig(corpus):
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    texts = read_texts(corpus)
    st = MinhashDedupSignature(output_folder="/tmp/_unused_dt_sigs", config=_dt_config(), language=_ws_tokenizer())
    t0 = time.perf_counter()
    for tx in texts:
        sh = st.get_shingles(tx)
        if len(sh):
            st.get_signature(sh)
    return {"docs": len(texts), "seconds": time.perf_counter() - t0}


def datatrove_e2e(corpus, work):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = _dt_config()
    nfiles = len(glob.glob(os.path.join(corpus, "*.jsonl")))
    w = lambda p: os.path.join(work, p)  # noqa: E731
    t0 = time.perf_counter()
    s1 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(corpus, glob_pattern="*.jsonl"),
            MinhashDedupSignature(output_folder=w("sigs"), config=cfg, language=_ws_tokenizer()),
        ],
        tasks=nfiles,
        workers=1,
        logging_dir=w("logs1"),
    )
    s2 = LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=w("sigs"), output_folder=w("buckets"), config=cfg)],
        tasks=BANDS,
        workers=1,
        logging_dir=w("logs2"),
        depends=s1,
    )
    s3 = LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(input_folder=w("buckets"), output_folder=w("remove_ids"), config=cfg)],
        tasks=1,
        workers=1,
        logging_dir=w("logs3"),
        depends=s2,
    )
    s4 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(corpus, glob_pattern="*.jsonl"),
            MinhashDedupFilter(input_folder=w("remove_ids"), exclusion_writer=JsonlWriter(w("removed"))),
            JsonlWriter(w("out")),
        ],
        tasks=nfiles,
        workers=1,
        logging_dir=w("logs4"),
        depends=s3,
    )
    s4.run()
    removed = 0
    import gzip

    for f in glob.glob(w("removed/*")):
        with gzip.open(f, "rt") if f.endswith(".gz") else open(f) as fh:
            removed += sum(1 for _ in fh)
    return {"docs": None, "removed": removed, "seconds": time.perf_counter() - t0}


CHILD = {
    "winnow-sig": lambda c, w: winnow_sig(c),
    "winnow-e2e": lambda c, w: winnow_e2e(c, w, verify=True),
    "winnow-e2e-noverify": lambda c, w: winnow_e2e(c, w, verify=False),
    "winnow-e2e-center": lambda c, w: winnow_e2e(c, w, verify=True, clustering="center"),
    "datasketch-sig": lambda c, w: datasketch_sig(c),
    "datasketch-e2e": datasketch_e2e,
    "datatrove-sig": lambda c, w: datatrove_sig(c),
    "datatrove-e2e": datatrove_e2e,
}


# ---------------------------------------------------------------- parent
def measure(name, corpus, work):
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    env = dict(
        os.environ,
        PYTHONPATH=os.path.join(ROOT, "src"),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        DATATROVE_COLORIZE_LOGS="0",
        TQDM_DISABLE="1",
    )
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, __file__, "--child", name, "--corpus", corpus, "--work", work],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{name} failed (status {status})")
    res = json.loads(out.decode().strip().splitlines()[-1])
    res.update(name=name, wall=wall, cpu=ru.ru_utime + ru.ru_stime, peak_rss_mb=ru.ru_maxrss / 1024)
    shutil.rmtree(work, ignore_errors=True)
    return res


def report(rows):
    """Table + ratios. CPU seconds (user + sys of the child) are the robust figure on a shared
    machine; wall seconds are printed too."""
    by = {(r["name"], r["corpus"]): r for r in rows}
    print("\ncontender                corpus   docs/s (sig)   wall s    CPU s   peak RSS MB")
    for r in rows:
        if r["name"].endswith("-sig"):
            print(f"{r['name']:<24} {r['corpus']:<6} {r['docs'] / r['seconds']:>12,.0f}")
        else:
            print(
                f"{r['name']:<24} {r['corpus']:<6} {'':>12}   {r['wall']:>7.1f}  {r['cpu']:>7.1f}   {r['peak_rss_mb']:>10.0f}"
            )
    for peer in ("datasketch", "datatrove"):
        p = by.get((f"{peer}-e2e", "1x"))
        for w in ("winnow-e2e", "winnow-e2e-noverify"):
            r = by.get((w, "1x"))
            if p and r:
                print(
                    f"end to end {w} vs {peer}: {p['cpu'] / r['cpu']:.1f}x less CPU, {p['wall'] / r['wall']:.1f}x less wall"
                )
        ws, ps = by.get(("winnow-sig", "1x")), by.get((f"{peer}-sig", "1x"))
        if ws and ps:
            print(
                f"signatures/s: winnow {ws['docs'] / ws['seconds']:,.0f} vs {peer} {ps['docs'] / ps['seconds']:,.0f} "
                f"({ps['seconds'] / ws['seconds']:.1f}x)"
            )
    p10 = by.get(("datasketch-e2e", "10x"))
    for w in ("winnow-e2e", "winnow-e2e-noverify"):
        r = by.get((w, "10x"))
        if p10 and r:
            print(
                f"10x corpus, {w} vs datasketch: {p10['cpu'] / r['cpu']:.1f}x less CPU, "
                f"peak RSS {r['peak_rss_mb']:.0f} vs {p10['peak_rss_mb']:.0f} MB"
            )
    for w in ("winnow-e2e", "winnow-e2e-noverify"):
        a_, b_ = by.get((w, "1x")), by.get((w, "10x"))
        if a_ and b_:
            print(
                f"{w}: 10x corpus → peak RSS {a_['peak_rss_mb']:.0f} → {b_['peak_rss_mb']:.0f} MB "
                f"({b_['peak_rss_mb'] / a_['peak_rss_mb']:.2f}x), CPU {a_['cpu']:.0f} → {b_['cpu']:.0f} s"
            )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "benchmarks/_work/dedup/corpus"))
    ap.add_argument("--corpus10", default=None, help="the 10x corpus (winnow only: memory must stay flat)")
    ap.add_argument("--work", default=os.path.join(ROOT, "benchmarks/_work/dedup/speed"))
    ap.add_argument("--child", default=None)
    ap.add_argument("--only", default=None, help="comma-separated subset of contenders")
    ap.add_argument(
        "--peers10", default="", help="comma-separated peers also run on the 10x corpus (e.g. datasketch-e2e)"
    )
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks/out/dedup/speed.json"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(CHILD[a.child](a.corpus, a.work)))
        return
    names = a.only.split(",") if a.only else list(CHILD)
    rows = []
    for n in names:
        r = measure(n, a.corpus, os.path.join(a.work, n))
        r["corpus"] = "1x"
        rows.append(r)
        print(json.dumps(r), flush=True)
    if a.corpus10:
        for n in ["winnow-e2e", "winnow-e2e-noverify"] + [p for p in a.peers10.split(",") if p]:
            r = measure(n, a.corpus10, os.path.join(a.work, n))
            r["corpus"] = "10x"
            rows.append(r)
            print(json.dumps(r), flush=True)
    report(rows)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
