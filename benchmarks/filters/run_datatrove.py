"""Run datatrove's filters on the benchmark corpus (executed inside benchmarks/.venv-filters).

Writes per-document keep/reason for each filter alone and for the four chained, plus timings
(one process pinned to one core; CPU time of the process, so that load from other users of the machine does not count).
    benchmarks/.venv-filters/bin/python benchmarks/filters/run_datatrove.py CORPUS OUT [LIMIT]
"""

import json
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)


def make():
    return {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(char_duplicates_ratio=0.1),  # the paper's threshold
    }


def run_one(f, docs):
    keep, reason = [], []
    t0 = time.process_time()
    for d in docs:
        r = f.filter(d)
        if isinstance(r, tuple):
            keep.append(bool(r[0]))
            reason.append(r[1])
        else:
            keep.append(bool(r))
            reason.append(None)
    dt = time.process_time() - t0
    return keep, reason, dt


def main():
    corpus, out = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    t = pq.read_table(corpus)
    if limit:
        t = t.slice(0, limit)
    ids, texts = t.column("id").to_pylist(), t.column("text").to_pylist()
    # warm up the tokenizer (spaCy model construction) outside the timings
    make()["gopher_quality"].filter(Document(text="warm up text " * 20, id="w"))
    cols = {"id": ids}
    timing = {}
    for name, f in make().items():
        docs = [Document(text=x, id=i) for i, x in zip(ids, texts)]
        keep, reason, dt = run_one(f, docs)
        cols[f"{name}_keep"] = keep
        cols[f"{name}_reason"] = reason
        if name == "c4":
            cols["c4_text"] = [d.text if k else None for d, k in zip(docs, keep)]
        timing[name] = dt
        print(f"datatrove {name}: {len(docs) / dt:.1f} docs/s", file=sys.stderr, flush=True)
    # chained: each document goes through the four filters in order until one drops it
    fs = list(make().values())
    docs = [Document(text=x, id=i) for i, x in zip(ids, texts)]
    t0 = time.process_time()
    chain = []
    for d in docs:
        ok = True
        for f in fs:
            r = f.filter(d)
            if (r[0] if isinstance(r, tuple) else r) is False:
                ok = False
                break
        chain.append(ok)
    timing["chain"] = time.process_time() - t0
    print(f"datatrove chain: {len(docs) / timing['chain']:.1f} docs/s", file=sys.stderr)
    cols["chain_keep"] = chain
    pq.write_table(pa.table(cols), out)
    json.dump({"n_docs": len(ids), "seconds": timing}, open(out + ".json", "w"), indent=1)


if __name__ == "__main__":
    main()
