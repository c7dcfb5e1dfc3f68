"""The per-change figures of issue 20's third session, each against the code it replaced (kept
here as the baseline), on the same inputs, one process, best of 3 (CPU seconds):

* ``np.unique`` vs :func:`winnow.core.sorting.unique_sorted` (4M int64 keys, 1M repeated);
* ``np.unique(axis=0, return_index=True)`` vs one ``argsort`` of the first column (2M rows);
* stable int64 ``argsort`` vs :func:`~winnow.core.sorting.group_order` (4.6M group numbers < 60);
* ``np.argsort`` vs :func:`~winnow.core.text.kernels.argsort_u64` (4.6M band hashes, fourth session);
* the exact Jaccard test: the previous merge (early exit every 256 steps) vs
  :func:`~winnow.core.text.kernels.jaccard_at_least`, on pairs of corpus-1 documents and their
  near-copies (3 % of words dropped) plus unrelated pairs;
* word hashes: the ASCII-only compiled pass (every other word through Arrow) vs the pass with
  the :mod:`~winnow.core.text.word_chars` table, on corpus-1 text;
* the exact Jaccard test again: one blocked merge (third session) vs four merges side by side,
  on all those pairs and on the near-copy pairs alone;
* n-gram shingles: one window at a time vs :func:`~winnow.core.text.kernels.ngram_shingles`;
* MinHash: one shingle per pass over the 96 permutations vs four (fifth session);
* per-document sort of 32-bit sets: 11-bit radix passes vs ``sort_unique_u32``;
* stage data: write, then read + filter + write zstd, as uncompressed Parquet vs Arrow IPC.

    PYTHONPATH=src .venv/bin/python benchmarks/dedup/bench_kernels.py --corpus benchmarks/_work/dedup/corpus
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
from numba import njit

from winnow.core.sorting import group_order, unique_sorted
from winnow.core.text import kernels as K
from winnow.core.text import word_chars
from winnow.core.text.normalized_words import word_token_hashes
from winnow.curate.dedup.minhash import permutations


def best(f, reps=3):
    out = None
    t = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        out = f()
        t = min(t, time.process_time() - t0)
    return t, out


def row(name, t_old, t_new, same):
    print(f"{name:<44} {t_old:8.3f} {t_new:8.3f} {t_old / max(t_new, 1e-9):6.1f}x  same={same}")


# ------------------------------------------------------------------ baselines (the replaced code)
@njit(cache=False, nogil=True)
def _jaccard_ok_old(vals, offs, a, b, thr, out):
    for p in range(len(a)):
        i, ie = offs[a[p]], offs[a[p] + 1]
        j, je = offs[b[p]], offs[b[p] + 1]
        tot = (ie - i) + (je - j)
        c = 0
        ok = False
        step = 0
        while i < ie and j < je:
            x = vals[i]
            y = vals[j]
            if x == y:
                c += 1
                i += 1
                j += 1
                if c >= thr * (tot - c):
                    ok = True
                    break
            elif x < y:
                i += 1
            else:
                j += 1
            step += 1
            if step == 256:
                step = 0
                u = c + min(ie - i, je - j)
                if u < thr * (tot - u):
                    break
        out[p] = ok or c >= thr * (tot - c)


# the third session's single blocked merge (fourth session: four merges side by side)
@njit(cache=False, nogil=True)
def _jaccard_ok_blocked(vals, starts, ends, a, b, thr, out):
    for p in range(len(a)):
        i0, ie = starts[a[p]], ends[a[p]]
        j0, je = starts[b[p]], ends[b[p]]
        tot = (ie - i0) + (je - j0)
        # the smallest intersection c passing c ≥ thr·(tot − c), as the float test decides it
        need = max(np.int64(0), np.int64(thr * tot / (1.0 + thr)) - 1)
        while need <= tot and need < thr * (tot - need):
            need += 1
        slack = tot - 2 * need  # the symmetric difference |A Δ B| = tot − 2c may not exceed this
        i, j, c = i0, j0, 0
        ok = False
        while True:
            n = min(ie - i, je - j)  # n merge steps cannot run past either set
            if n <= 0:
                break
            if n > 16:
                n = 16
            for _ in range(n):  # branchless merge steps
                x = vals[i]
                y = vals[j]
                c += x == y
                i += x <= y
                j += y <= x
            if c >= need:  # enough already: more matches only help
                ok = True
                break
            # elements passed without a match, plus the surplus of the longer rest, never match
            if (i - i0) + (j - j0) - 2 * c + abs((ie - i) - (je - j)) > slack:
                break
        out[p] = ok or c >= need


@njit(cache=False, nogil=True)
def _ngrams_old(vals, offs, n, P, out):
    k = 0
    for d in range(len(offs) - 1):
        s, e = offs[d], offs[d + 1]
        if e - s < n:
            if e > s:
                out[k] = K._window(vals, s, e - s, n, P)
                k += 1
            continue
        for i in range(s, e - n + 1):
            out[k] = K._window(vals, i, n, n, P)
            k += 1


@njit(cache=False, nogil=True)
def _minhash_old(sh, counts, a, b, out):
    k = len(a)
    cur = np.empty(k, np.uint64)
    pos = 0
    for d in range(len(counts)):
        for j in range(k):
            cur[j] = K.MASK64
        for i in range(pos, pos + counts[d]):
            x = sh[i]
            for j in range(k):
                v = a[j] * x + b[j]
                if v < cur[j]:
                    cur[j] = v
        pos += counts[d]
        for j in range(k):
            out[d, j] = np.uint32(cur[j] >> np.uint64(32))


@njit(cache=False, nogil=True)
def _sort_unique_11bit(vals, offs, out, out_counts):
    a = np.empty(len(vals), np.uint32)
    b = np.empty(len(vals), np.uint32)
    hist = np.empty(2048, np.int64)
    w = 0
    for d in range(len(offs) - 1):
        s, n = offs[d], offs[d + 1] - offs[d]
        for i in range(n):
            a[i] = vals[s + i]
        src, dst = a, b
        if n > 32:
            for shift in (0, 11, 22):
                hist[:] = 0
                for i in range(n):
                    hist[(src[i] >> shift) & 2047] += 1
                tot = 0
                for q in range(2048):
                    c = hist[q]
                    hist[q] = tot
                    tot += c
                for i in range(n):
                    q = (src[i] >> shift) & 2047
                    dst[hist[q]] = src[i]
                    hist[q] += 1
                src, dst = dst, src
        else:
            src[:n] = np.sort(src[:n])
        c = 0
        for i in range(n):
            if i == 0 or src[i] != src[i - 1]:
                out[w] = src[i]
                w += 1
                c += 1
        out_counts[d] = c
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="benchmarks/_work/dedup/corpus")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'':<44} {'before':>8} {'after':>8}")

    x = rng.integers(0, 2**40, 3_000_000)
    x = np.concatenate([x, x[:1_000_000]])
    rng.shuffle(x)
    t0, r0 = best(lambda: np.unique(x))
    t1, r1 = best(lambda: unique_sorted(x))
    row("unique of 4M int64 keys", t0, t1, bool((r0 == r1).all()))

    n = 2_000_000
    m = np.stack([rng.integers(2, 10, n), rng.integers(0, 2**63, n), rng.integers(0, 2**63, n)], 1).astype(np.uint64)
    m[::3] = m[1::3][: len(m[::3])]

    def by_h1():
        o = np.argsort(m[:, 1])
        s = m[o]
        return np.sort(o[np.r_[True, (s[1:] != s[:-1]).any(1)]])

    t0, r0 = best(lambda: np.sort(np.unique(m, axis=0, return_index=True)[1]))
    t1, r1 = best(by_h1)
    row("identical rows of a 2M x 3 table", t0, t1, len(r0) == len(r1))

    g = rng.integers(0, 60, 4_600_000)
    t0, r0 = best(lambda: np.argsort(g, kind="stable"))
    t1, r1 = best(lambda: group_order(g))
    row("stable order of 4.6M group numbers", t0, t1, bool((r0 == r1).all()))

    h = rng.integers(0, 2**63, 4_600_000).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    h[:1_000_000] = h[1_000_000:2_000_000]  # bucket members share a band hash
    t0, r0 = best(lambda: np.argsort(h))
    t1, r1 = best(lambda: K.argsort_u64(h))
    row("argsort of 4.6M 64-bit band hashes", t0, t1, bool((h[r0] == h[r1]).all()))

    files = sorted(glob.glob(os.path.join(a.corpus, "*.jsonl")))
    opts = pj.ReadOptions(block_size=64 << 20)
    text = pa.concat_arrays([pj.read_json(f, read_options=opts).column("text").combine_chunks() for f in files])
    mb = pc.sum(pc.binary_length(text)).as_py() / 1e6

    # word hashes: the ASCII-only pass (the table that maps nothing) vs the character table
    table = word_chars.table()
    batches = [text.slice(i, 8192) for i in range(0, len(text), 8192)]
    word_chars._TABLE[:] = [K._NO_CHARS]
    t0, r0 = best(lambda: [word_token_hashes(b) for b in batches])
    word_chars._TABLE[:] = [table]
    t1, r1 = best(lambda: [word_token_hashes(b) for b in batches])
    same = all((p[0] == q[0]).all() for p, q in zip(r0, r1))
    row(f"word hashes of {mb:.0f} MB", t0, t1, same)

    # shingle sets of the corpus and of near-copies (3 % of words dropped): pairs to verify
    wh, wo = word_token_hashes(text)
    keep = rng.random(len(wh)) > 0.03
    kc = np.r_[0, np.cumsum(keep)]
    vals2, offs2 = np.concatenate([wh, wh[keep]]), np.r_[wo, kc[wo[1:]] + len(wh)]
    out_old = np.empty(int(offs2[-1]), np.uint64)
    _ngrams_old(vals2, offs2[:3].astype(np.int64), 5, K._GOLD, out_old)
    t0, _ = best(lambda: _ngrams_old(vals2, offs2.astype(np.int64), 5, K._GOLD, out_old))
    t1, (sh, counts) = best(lambda: K.ngram_shingles(vals2, offs2, 5))
    row(f"n-gram shingles ({len(sh) / 1e6:.1f}M)", t0, t1, bool((out_old[: len(sh)] == sh).all()))

    pa96, pb96 = permutations(96, 1)  # the default's 16 x 6 MinHash values per shingle
    sig_old = np.empty((len(counts), 96), np.uint32)
    _minhash_old(sh, counts[:2], pa96, pb96, sig_old[:2])  # compile
    t0, _ = best(lambda: _minhash_old(sh, counts, pa96, pb96, sig_old))
    t1, sig = best(lambda: K.minhash(sh, counts, pa96, pb96))
    row(f"MinHash, 96 values of {len(sh) / 1e6:.1f}M shingles", t0, t1, bool((sig_old == sig).all()))

    top = (sh >> np.uint64(32)).astype(np.uint32)
    so = np.r_[0, np.cumsum(counts)].astype(np.int64)
    out = np.empty(len(top), np.uint32)
    oc = np.empty(len(counts), np.int64)
    _sort_unique_11bit(top, so[:2], out, oc)  # compile
    t0, w0 = best(lambda: _sort_unique_11bit(top, so, out, oc))
    ref = out[:w0].copy()
    t1, (v, c) = best(lambda: K.sort_unique_u32(top, counts))
    row("per-document sort of 32-bit sets", t0, t1, bool((ref == v).all()))

    offs = np.r_[0, np.cumsum(c)].astype(np.int64)
    d = len(wo) - 1
    pa_ = np.r_[np.arange(d), np.arange(d)]
    pb_ = np.r_[np.arange(d) + d, rng.permutation(d) + d]  # near-copy, unrelated document
    v64 = v.astype(np.uint64)
    o0 = np.zeros(len(pa_), np.bool_)
    _jaccard_ok_old(v64, offs, pa_[:2], pb_[:2], 0.8, o0[:2])
    t0, _ = best(lambda: _jaccard_ok_old(v64, offs, pa_, pb_, 0.8, o0))
    t1, o1 = best(lambda: K.jaccard_at_least(v, offs, pa_, pb_, 0.8))
    row(f"Jaccard >= 0.8 of {len(pa_):,} pairs ({o1.mean():.0%} pass)", t0, t1, bool((o0 == o1).all()))
    st_, en_ = offs[:-1].copy(), offs[1:].copy()
    _jaccard_ok_blocked(v, st_, en_, pa_[:2], pb_[:2], 0.8, o0[:2])  # compile
    t0, _ = best(lambda: _jaccard_ok_blocked(v, st_, en_, pa_, pb_, 0.8, o0))
    row("  one blocked merge vs four side by side", t0, t1, bool((o0 == o1).all()))
    near_a, near_b = np.arange(d), np.arange(d) + d  # the document vs its near-copy only
    t0, _ = best(lambda: _jaccard_ok_blocked(v, st_, en_, near_a, near_b, 0.8, o0[:d]))
    t1, o1 = best(lambda: K.jaccard_at_least(v, offs, near_a, near_b, 0.8))
    row(f"  same, the {d:,} near-copy pairs only", t0, t1, bool((o0[:d] == o1).all()))

    # stage data: write, then read + filter + write zstd
    tab = pa.table({"id": pa.array([str(i) for i in range(len(text))]), "text": text})
    tmp = tempfile.mkdtemp()

    def stage(fmt):
        p = os.path.join(tmp, f"s.{fmt}")
        t0 = time.process_time()
        if fmt == "parquet":
            pq.write_table(tab, p, compression="none", use_dictionary=False)
            batches = (pa.Table.from_batches([b]) for b in pq.ParquetFile(p).iter_batches(8192, use_threads=False))
        else:
            with pa.OSFile(p, "wb") as f, pa.ipc.new_file(f, tab.schema) as w:
                w.write_table(tab, max_chunksize=8192)
            r = pa.ipc.open_file(pa.memory_map(p))
            batches = (pa.Table.from_batches([r.get_batch(i)]) for i in range(r.num_record_batches))
        with pq.ParquetWriter(os.path.join(tmp, "out.parquet"), tab.schema, compression="zstd") as ow:
            for b in batches:
                ow.write_table(b.filter(pc.greater(pc.binary_length(b.column("text")), 500)))
        return time.process_time() - t0

    t0 = min(stage("parquet") for _ in range(3))
    t1 = min(stage("arrow") for _ in range(3))
    row(f"stage data of {mb:.0f} MB: write, read, filter, zstd", t0, t1, True)


if __name__ == "__main__":
    main()
