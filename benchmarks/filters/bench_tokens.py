"""Token counting for ``length: {max_tokens: ...}``: the HF ``tokenizers`` path (every document
fully encoded by ``ByteLevelBPETokenizer.encode_batch``, the previous implementation) against
winnow's counter (tiktoken's Rust BPE on the same GPT-2 files), on real JSONL shards. CPU
seconds (all threads) of counting alone and of the whole ``Length`` step's annotate + decide;
checks that every count is identical.

    PYTHONPATH=src .venv/bin/python benchmarks/filters/bench_tokens.py benchmarks/_work/dedup/corpus/part-00[0-3].jsonl
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pyarrow as pa


def main():
    files = sys.argv[1:]
    texts = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    from winnow.core.text.gpt2 import count_tokens, gpt2_encoding
    from winnow.curate.filters.length import Length, gpt2_tokenizer

    hf = gpt2_tokenizer()
    gpt2_encoding()
    count_tokens(["warm up"])
    hf.encode_batch(["warm up"])
    c0 = time.process_time()
    ref = np.array([len(e.ids) for e in hf.encode_batch(texts)])
    t_hf = time.process_time() - c0
    c0 = time.process_time()
    got = count_tokens(texts)
    t_new = time.process_time() - c0
    assert (got == ref).all(), "counts differ"
    M = int(np.median(ref))
    table = pa.table({"text": texts})
    step = Length(max_tokens=M)
    c0 = time.process_time()
    reasons = step.decide(step.annotate(table))
    t_step = time.process_time() - c0
    expect = np.where(ref > M, "length:max_tokens", None).tolist()
    assert reasons.to_pylist() == expect
    print(
        json.dumps(
            {
                "files": len(files),
                "docs": len(texts),
                "text_MB": round(mb, 1),
                "tokens": int(ref.sum()),
                "hf_encode_cpu_s": round(t_hf, 2),
                "winnow_count_cpu_s": round(t_new, 2),
                "speedup": round(t_hf / t_new, 1),
                "length_step_cpu_s(max_tokens=median)": round(t_step, 2),
                "counts_identical": True,
                "decisions_identical": True,
            }
        )
    )


if __name__ == "__main__":
    main()
