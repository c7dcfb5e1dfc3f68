"""Filters benchmark: winnow vs datatrove — per-document decision agreement and docs/s on one core.

    bash benchmarks/filters/setup.sh                                   # venv + Debian sources
    /work/main/.venv/bin/python benchmarks/filters/corpus.py             # corpus.parquet, langid.parquet
    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/filters/bench.py [--limit N] [--reuse]

Runs datatrove (benchmarks/.venv-filters) in a subprocess pinned to one core, then winnow in this
process pinned to one core, on the same documents, and prints the agreement table and the speed
ratios (markdown, for benchmarks/RESULTS.md). ``--reuse`` reuses datatrove's last output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
WORK = os.path.join(BENCH, "_work", "filters")
OUT = os.path.join(BENCH, "out")

# datatrove reason → winnow reason (the same rule)
REASONS = {
    "gopher_short_doc": "gopher_quality:min_doc_words",
    "gopher_long_doc": "gopher_quality:max_doc_words",
    "gopher_below_avg_threshold": "gopher_quality:min_avg_word_length",
    "gopher_above_avg_threshold": "gopher_quality:max_avg_word_length",
    "gopher_too_many_hashes": "gopher_quality:max_symbol_word_ratio",
    "gopher_too_many_ellipsis": "gopher_quality:max_symbol_word_ratio",
    "gopher_too_many_bullets": "gopher_quality:max_bullet_lines_ratio",
    "gopher_too_many_end_ellipsis": "gopher_quality:max_ellipsis_lines_ratio",
    "gopher_below_alpha_threshold": "gopher_quality:min_alpha_words_ratio",
    "gopher_enough_stop_words": "gopher_quality:min_stop_words",
    "lorem_ipsum": "c4:lorem_ipsum",
    "curly_bracket": "c4:curly_bracket",
    "too_few_sentences": "c4:min_num_sentences",
    "line_punct_ratio": "fineweb_quality:line_punct_ratio",
    "short_line_ratio": "fineweb_quality:short_line_ratio",
    "char_dup_ratio": "fineweb_quality:char_dup_ratio",
    "list_ratio": "fineweb_quality:new_line_ratio",
    "empty": None,
}


def winnow_steps():
    from winnow.curate.filters.c4 import C4
    from winnow.curate.filters.fineweb import FinewebQuality
    from winnow.curate.filters.gopher import GopherQuality, GopherRepetition

    # parity: datatrove's strict comparisons (the paper's <=/>= differ only at exact equality; that
    # difference is excluded from the parity count and reported on its own row)
    return {
        "gopher_quality": GopherQuality(),
        "gopher_repetition": GopherRepetition(),
        "c4": C4(),
        "fineweb_quality": FinewebQuality(inclusive=False),
    }


def run_winnow(table: pa.Table, batch: int):
    from winnow.curate.filters.fineweb import FinewebQuality

    steps = winnow_steps()
    for s in steps.values():
        s.setup()
    steps["gopher_quality"].process(table.slice(0, 50))  # warm-up (regex compilation)
    res, timing = {}, {}
    for name, s in steps.items():
        t0 = time.process_time()
        reasons, texts = [], []
        for off in range(0, table.num_rows, batch):
            out, r = s.process(table.slice(off, batch))
            reasons.append(r)
            if name == "c4":
                texts.append(out.column("text"))
        timing[name] = time.process_time() - t0
        res[name] = pa.concat_arrays(reasons).to_pylist()
        if name == "c4":
            res["c4_text"] = pa.chunked_array(texts).to_pylist()
        print(f"winnow {name}: {table.num_rows / timing[name]:.1f} docs/s", file=sys.stderr, flush=True)
    # the paper's comparisons (winnow's default), reported separately
    paper = FinewebQuality()
    res["fineweb_quality_paper"] = pa.concat_arrays(
        [paper.process(table.slice(off, batch))[1] for off in range(0, table.num_rows, batch)]
    ).to_pylist()
    # chained: each step sees only the rows kept by the previous ones
    t0 = time.process_time()
    kept_ids = []
    for off in range(0, table.num_rows, batch):
        t = table.slice(off, batch)
        for s in steps.values():
            t, r = s.process(t)
            t = t.filter(pa.compute.is_null(r))
        kept_ids.append(t.column("id"))
    timing["chain"] = time.process_time() - t0
    kept = set(pa.chunked_array(kept_ids).to_pylist())
    res["chain"] = [i in kept for i in table.column("id").to_pylist()]
    print(f"winnow chain: {table.num_rows / timing['chain']:.1f} docs/s", file=sys.stderr)
    return res, timing


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--disagreements", type=int, default=0, help="print this many disagreeing ids per filter")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    corpus = os.path.join(WORK, "corpus.parquet")
    dt_out = os.path.join(OUT, "datatrove.parquet" if not a.limit else f"datatrove_{a.limit}.parquet")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if not (a.reuse and os.path.exists(dt_out)):
        cmd = [
            "taskset",
            "-c",
            "0",
            os.path.join(BENCH, ".venv-filters", "bin", "python"),
            os.path.join(HERE, "run_datatrove.py"),
            corpus,
            dt_out,
        ] + ([str(a.limit)] if a.limit else [])
        subprocess.run(cmd, check=True, env=env)
    os.sched_setaffinity(0, {0})
    table = pq.read_table(corpus)
    if a.limit:
        table = table.slice(0, a.limit)
    dt = pq.read_table(dt_out).to_pydict()
    dtt = json.load(open(dt_out + ".json"))["seconds"]
    res, wt = run_winnow(table, a.batch)
    n = table.num_rows
    srcs = table.column("source").to_pylist()
    print(f"\n{n} documents; one core each (taskset -c 0)\n")
    print(
        "| filter | agreement | both keep | both drop | only datatrove drops | only winnow drops | same reason (both drop) | datatrove docs/s | winnow docs/s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ["gopher_quality", "gopher_repetition", "c4", "fineweb_quality", "chain", "fineweb_quality_paper"]:
        if name == "chain":
            wk = np.array(res["chain"])
            dk = np.array(dt["chain_keep"])
            same = ""
        else:
            wr = res[name]
            dname = name.replace("_paper", "")
            wk = np.array([r is None for r in wr])
            dk = np.array(dt[f"{dname}_keep"])
            both = [(d, w) for d, w, x, y in zip(dt[f"{dname}_reason"], wr, dk, wk) if not x and not y]
            sr = sum(
                1
                for d, w in both
                if REASONS.get(d, "?") == w
                or (d or "").replace("_n_grams", "_gram").replace("duplicated_", "dup_") == (w or "").split(":")[-1]
                or d == (w or "").split(":")[-1]
                or (d == "empty" and (w or "").endswith("empty"))
            )
            same = f"{sr / max(len(both), 1):.1%}"
        agree = (wk == dk).mean()
        speed = (
            f"{n / dtt[name]:.1f} | {n / wt[name]:.1f} | {dtt[name] / wt[name]:.1f}x"
            if name in wt
            else "(not timed: same work as above) | | "
        )
        print(
            f"| {name} | {agree:.2%} | {(wk & dk).sum()} | {(~wk & ~dk).sum()} | {(wk & ~dk).sum()} | "
            f"{(~wk & dk).sum()} | {same} | {speed} |"
        )
        if a.disagreements and name != "chain":
            bad = np.flatnonzero(wk != dk)[: a.disagreements]
            for i in bad:
                print(f"   {dt['id'][i]} src={srcs[i]} datatrove={dt[f'{dname}_reason'][i]} winnow={res[name][i]}")
    # C4 rewrites text: compare the kept text where both keep
    both = [i for i in range(n) if res["c4"][i] is None and dt["c4_keep"][i]]
    same_text = sum(res["c4_text"][i] == dt["c4_text"][i] for i in both)
    print(f"\nc4 rewritten text identical on {same_text}/{len(both)} documents both keep")


if __name__ == "__main__":
    main()
