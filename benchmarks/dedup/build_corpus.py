"""Assemble the near-duplicate-rich dedup benchmark corpus offline (run setup.sh first).

Sources (all real text, nothing committed): Debian's python3.11-doc HTML pages and reST
sources, debian-handbook in 26 languages (many "translations" are still English: natural
near duplicates), debian-policy / developers-reference HTML, the Jargon File entries,
fortunes (fortunes-min repeats part of fortunes), and METADATA / LICENSE files of every package
installed in the shared venv and the benchmark venv (the same package at different versions,
and hundreds of near-identical licence texts).

    PYTHONPATH=src python benchmarks/dedup/build_corpus.py --out benchmarks/_work/dedup/corpus [--copies 10]

``--copies K`` writes the corpus K times; copies 2..K have 3 % of words dropped at random
(seeded), so the 10× corpus is larger *and* denser in near duplicates.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import random
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "_work", "dedup", "root")


def docs():
    from winnow.core.io.readers import html_to_text

    r = os.path.abspath(ROOT)
    for pat, src in [
        ("usr/share/doc/python3.11/html/**/*.html", "python-html"),
        ("usr/share/doc/debian-handbook/html/**/*.html", "debian-handbook"),
        ("usr/share/doc/debian-policy/**/*.html", "debian-policy"),
        ("usr/share/doc/developers-reference/**/*.html", "developers-reference"),
    ]:
        for f in sorted(glob.glob(os.path.join(r, pat), recursive=True)):
            if not os.path.isfile(f):
                continue
            with open(f, "rb") as fh:
                yield os.path.relpath(f, r), html_to_text(fh.read()), src
    for f in sorted(glob.glob(os.path.join(r, "usr/share/doc/python3.11/html/_sources/**/*.txt"), recursive=True)):
        with open(f, encoding="utf-8", errors="replace") as fh:
            yield os.path.relpath(f, r), fh.read(), "python-rst"
    with gzip.open(os.path.join(r, "usr/share/doc/jargon-text/jargon.txt.gz"), "rt", encoding="latin-1") as fh:
        jar = fh.read()
    for k, e in enumerate(re.split(r"\n(?=:[^:\n]+:)", jar)):
        if e.strip():
            yield f"jargon:{k}", e, "jargon"
    for f in sorted(glob.glob(os.path.join(r, "usr/share/games/fortunes/*"))):
        if f.endswith((".dat", ".u8")) or os.path.isdir(f):
            continue
        with open(f, encoding="latin-1") as fh:
            for k, rec in enumerate(fh.read().split("\n%\n")):
                if rec.strip():
                    yield f"{os.path.relpath(f, r)}:{k}", rec, "fortunes"
    here = os.path.dirname(os.path.abspath(__file__))
    venvs = [os.path.join(sys.prefix, "lib"), os.path.join(here, "..", ".venv-dedup", "lib")]
    for v in venvs:
        for f in sorted(glob.glob(os.path.join(v, "python3*/site-packages/*.dist-info/*"))):
            base = os.path.basename(f)
            if base == "METADATA" or base.startswith(("LICENSE", "LICENCE", "COPYING")):
                with open(f, encoding="utf-8", errors="replace") as fh:
                    yield (
                        f"{os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(f))))}:{os.path.relpath(f, v)}",
                        fh.read(),
                        "site-packages",
                    )
        for f in sorted(glob.glob(os.path.join(v, "python3*/site-packages/*.dist-info/licenses/**/*"), recursive=True)):
            if os.path.isfile(f):
                with open(f, encoding="utf-8", errors="replace") as fh:
                    yield f"{os.path.relpath(f, v)}@{os.path.basename(os.path.dirname(v))}", fh.read(), "site-packages"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--drop", type=float, default=0.03)
    a = ap.parse_args()
    base = [{"id": i, "text": t, "source": s} for i, t, s in docs() if t and t.strip()]
    seen = set()
    rows = []
    for d in base:  # ids must be unique
        if d["id"] in seen:
            continue
        seen.add(d["id"])
        rows.append(d)
    rng = random.Random(0)
    os.makedirs(a.out, exist_ok=True)
    for f in glob.glob(os.path.join(a.out, "*.jsonl")):
        os.remove(f)
    outs = [open(os.path.join(a.out, f"part-{k:03d}.jsonl"), "w", encoding="utf-8") for k in range(a.shards)]
    n = 0
    nbytes = 0
    for c in range(a.copies):
        for d in rows:
            if c:
                w = d["text"].split(" ")
                d = {
                    "id": f"{d['id']}#copy{c}",
                    "text": " ".join(x for x in w if rng.random() >= a.drop),
                    "source": d["source"],
                }
            line = json.dumps(d, ensure_ascii=False)
            outs[n % a.shards].write(line + "\n")
            n += 1
            nbytes += len(d["text"].encode())
    for o in outs:
        o.close()
    print(
        json.dumps(
            {
                "docs": n,
                "text_MB": round(nbytes / 1e6, 1),
                "base_docs": len(rows),
                "by_source": {s: sum(1 for d in rows if d["source"] == s) for s in sorted({d["source"] for d in rows})},
            }
        )
    )


if __name__ == "__main__":
    main()
