"""Export benchmark: winnow export vs datatrove (DocumentTokenizer + DocumentTokenizerMerger),
GPT-2 BPE, end to end (Parquet in → shuffled, merged uint16 token file out), side by side.

    bash benchmarks/export/setup.sh                                     # benchmarks/.venv-export
    PYTHONPATH=src .venv/bin/python benchmarks/export/bench.py [--scale 1 10] [--corpus sample stdlib]

Corpora (built here from installed packages, nothing downloaded): ``sample`` = winnow's sample
corpus after a length filter (Django catalogues, stdlib code and HTML docs, READMEs, licences);
``stdlib`` = every ``.py`` file of the Python standard library + the ``pydoc`` topics. ``--scale k``
repeats a corpus k times under new ids (to see how time and memory grow).

Each tool runs in its own process pinned to one core (``taskset -c 0``), one worker; the figures
are the process's CPU time (user + sys, all threads) and peak RSS from ``wait4``, so other load on
the machine does not count. Parity: both outputs hold the same multiset of documents (token
sequences, compared by hash) and the same number of tokens.
"""

from __future__ import annotations

import argparse
import collections
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "benchmarks", "_work", "export")
PEER = os.path.join(ROOT, "benchmarks", ".venv-export", "bin", "python")

DATATROVE = r"""
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.tokens import DocumentTokenizer, DocumentTokenizerMerger
src, out, tok = sys.argv[1:4]
LocalPipelineExecutor(pipeline=[
    ParquetReader(src, text_key="text", id_key="id"),
    DocumentTokenizer(f"{out}/tok", tokenizer_name_or_path=tok, eos_token="<|endoftext|>", seed=0,
                      shuffle_documents=True),
], tasks=1, workers=1, logging_dir=f"{out}/logs1", skip_completed=False).run()
LocalPipelineExecutor(pipeline=[
    DocumentTokenizerMerger(f"{out}/tok", f"{out}/merged", save_filename="gpt2", seed=0, progress=False),
], tasks=1, workers=1, logging_dir=f"{out}/logs2", skip_completed=False).run()
"""

WINNOW = r"""
import sys
from winnow.deliver.export import export
export(sys.argv[1], sys.argv[2], tokenizer="gpt2", seq_len=2048, val_fraction=0.0, workers=1, overwrite=True)
"""


def build_corpus(name: str, scale: int) -> str:
    out = os.path.join(WORK, f"{name}_x{scale}")
    if os.path.exists(os.path.join(out, "_ok")):
        return out
    if name == "sample":
        from winnow import Length, Pipeline
        from winnow.core.datasets import build_dataset

        raw = os.path.join(WORK, "sample_raw")
        if not os.path.exists(os.path.join(raw, "manifest.json")):
            build_dataset("sample", raw, shards=4, seed=0)
        kept = os.path.join(WORK, "sample_kept")
        if not os.path.exists(os.path.join(kept, "manifest.json")):
            Pipeline([Length(min_words=5)]).run([os.path.join(raw, "raw"), os.path.join(raw, "html")], kept, workers=1)
        base = pq.read_table(
            sorted(glob.glob(os.path.join(kept, "data", "*.parquet"))), columns=["id", "text", "source"]
        )
    else:
        import pydoc_data.topics as topics
        import sysconfig

        lib = sysconfig.get_paths()["stdlib"]
        rows = []
        for p in sorted(glob.glob(os.path.join(lib, "**", "*.py"), recursive=True)):
            if "site-packages" in p or "test" in os.path.relpath(p, lib).split(os.sep)[0]:
                continue
            try:
                rows.append(
                    {"id": os.path.relpath(p, lib), "text": open(p, encoding="utf-8").read(), "source": "stdlib_code"}
                )
            except (UnicodeDecodeError, OSError):
                continue
        rows += [{"id": f"topic/{k}", "text": v, "source": "pydoc_topics"} for k, v in sorted(topics.topics.items())]
        base = pa.Table.from_pylist(rows)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "data"))
    for k in range(scale):
        t = base.set_column(0, "id", pa.array([f"{i}#{k}" for i in base.column("id").to_pylist()]))
        pq.write_table(t, os.path.join(out, "data", f"part-{k:04d}.parquet"), row_group_size=2000)
    open(os.path.join(out, "_ok"), "w").close()
    return out


def gpt2_tokenizer_json() -> str:
    from winnow.curate.filters.length import gpt2_tokenizer

    path = os.path.join(WORK, "gpt2-tokenizer.json")
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        gpt2_tokenizer().save(path)
    return path


def run_pinned(cmd: list[str], env: dict) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(["taskset", "-c", "0", *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{err[-3000:]}")
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss_mb": ru.ru_maxrss / 1024}


def doc_hashes(tokens: np.ndarray, ends: np.ndarray) -> collections.Counter:
    starts = np.concatenate([[0], ends[:-1]])
    return collections.Counter(
        hashlib.blake2b(tokens[a:b].tobytes(), digest_size=8).digest() for a, b in zip(starts, ends)
    )


def datatrove_docs(out: str) -> tuple[int, collections.Counter]:
    files = sorted(glob.glob(os.path.join(out, "merged", "*.ds")))
    toks = np.concatenate([np.fromfile(f, np.uint16) for f in files])
    ends = np.concatenate([np.fromfile(f + ".index", np.uint64) for f in files]).astype(np.int64)
    return len(toks), doc_hashes(toks, ends)


def winnow_docs(out: str) -> tuple[int, collections.Counter]:
    man = json.load(open(os.path.join(out, "manifest.json")))
    toks = np.concatenate(
        [np.fromfile(os.path.join(out, s["file"]), np.uint16) for s in man["splits"]["train"]["shards"]]
    )
    ends = np.flatnonzero(toks == man["eos_id"]) + 1
    return len(toks), doc_hashes(toks, ends)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", nargs="+", default=["sample", "stdlib"])
    ap.add_argument("--scale", nargs="+", type=int, default=[1, 10])
    ap.add_argument("--no-peer", action="store_true", help="winnow only (memory growth runs)")
    ap.add_argument(
        "--peer-max-tokens",
        type=float,
        default=4e7,
        help="skip datatrove above this many tokens (its peak RSS is ~160 bytes per token)",
    )
    args = ap.parse_args()
    tok_json = gpt2_tokenizer_json()
    env_w = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    env_d = {**os.environ, "RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    rows = []
    for name in args.corpus:
        for scale in args.scale:
            src = build_corpus(name, scale)
            with tempfile.TemporaryDirectory(dir=WORK) as tmp:
                w = run_pinned([sys.executable, "-c", WINNOW, src, os.path.join(tmp, "w")], env_w)
                n_w, docs_w = winnow_docs(os.path.join(tmp, "w"))
                row = {
                    "corpus": name,
                    "scale": scale,
                    "docs": sum(docs_w.values()),
                    "tokens": n_w,
                    "winnow_cpu_s": round(w["cpu"], 2),
                    "winnow_rss_mb": round(w["rss_mb"]),
                    "winnow_tok_per_cpu_s": round(n_w / w["cpu"]),
                }
                if not args.no_peer and n_w <= args.peer_max_tokens:
                    d = run_pinned(
                        [PEER, "-c", DATATROVE, os.path.join(src, "data"), os.path.join(tmp, "d"), tok_json], env_d
                    )
                    n_d, docs_d = datatrove_docs(os.path.join(tmp, "d"))
                    row.update(
                        {
                            "datatrove_cpu_s": round(d["cpu"], 2),
                            "datatrove_rss_mb": round(d["rss_mb"]),
                            "datatrove_tok_per_cpu_s": round(n_d / d["cpu"]),
                            "speedup": round(d["cpu"] / w["cpu"], 2),
                            "same_documents": docs_d == docs_w and n_d == n_w,
                        }
                    )
                rows.append(row)
                print(json.dumps(row), flush=True)
    cols = list(rows[0])
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")


if __name__ == "__main__":
    main()
