"""Language-ID accuracy of winnow's `language` step on real multilingual text (run after corpus.py).

    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/filters/langid.py

Sets: fortunes-de/-es/-it/-ru (+ fortunes-min for English), 500 records each; debian-handbook HTML
pages (40 per language folder, main content extracted). Handbook folder labels are noisy: pages that
were never translated are still English, so its accuracy is a lower bound.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict

import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src"))
from winnow.curate.filters.language import Language  # noqa: E402

WORK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_work", "filters")


def main() -> None:
    t = pq.read_table(os.path.join(WORK, "langid.parquet"))
    labels, texts, sets = (t.column(c).to_pylist() for c in ("label", "text", "set"))
    labels = [{"nb": "no"}.get(x, x) for x in labels]  # lid.176 labels Norwegian Bokmål "no"
    print("| backend | set | docs | accuracy | accuracy, docs predicted English excluded (handbook) | docs/s |")
    print("|---|---|---|---|---|---|")
    for backend in ("fasttext", "py3langid"):
        s = Language(backend=backend, languages=[])
        s.setup()
        t0 = time.process_time()
        pred, _ = s.predict([x.replace("\n", " ") for x in texts])
        dt = time.process_time() - t0
        for name in ("fortunes", "debian-handbook"):
            idx = [i for i, x in enumerate(sets) if x == name]
            ok = sum(pred[i] == labels[i] for i in idx)
            nonen = [i for i in idx if pred[i] != "en" or labels[i] == "en"]
            ok2 = sum(pred[i] == labels[i] for i in nonen)
            print(
                f"| {backend} | {name} | {len(idx)} | {ok / len(idx):.3f} | "
                f"{ok2 / max(len(nonen), 1):.3f} ({len(nonen)} docs) | {len(texts) / dt:.0f} |"
            )
        per = defaultdict(Counter)
        for i, x in enumerate(sets):
            if x == "fortunes":
                per[labels[i]][pred[i] == labels[i]] += 1
        print(
            "|  | fortunes per language | | "
            + ", ".join(f"{k}: {v[True] / sum(v.values()):.3f}" for k, v in sorted(per.items()))
            + " | | |"
        )


if __name__ == "__main__":
    main()
