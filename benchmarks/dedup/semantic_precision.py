"""Semantic dedup with the default hashed embedder: precision and recall of merged pairs against
exact word-set Jaccard, on two real corpora of files that ship with installed packages.

  corpus A (tuned on): licence and AUTHORS files of every *.dist-info in the venv
  corpus B (built after the default was fixed): Django's translation catalogues (.po) of four
      apps in every language — same msgids, different translations: graded real overlap — plus
      package READMEs (METADATA bodies) and Python's reference topics (pydoc_data)

A merged pair is "related" when its word-set Jaccard is >= 0.5; recall is over pairs with
Jaccard >= 0.8 / 0.9. Old = raw-count hashing at eps 0.05 (the previous default); new = the default.

    python benchmarks/dedup/semantic_precision.py
"""

from __future__ import annotations

import glob
import os
import re
import sys
import sysconfig

import numpy as np
import pyarrow as pa

from winnow.curate.dedup.semantic import DEFAULT_EPS, hashed_embeddings

SP = sysconfig.get_paths()["purelib"]


def corpus_a() -> list[str]:
    files = sorted(
        glob.glob(f"{SP}/*.dist-info/**/AUTHORS*", recursive=True)
        + glob.glob(f"{SP}/*.dist-info/**/LICEN[CS]E*", recursive=True)
    )
    texts = [open(f, errors="replace").read() for f in files if os.path.isfile(f)]
    return [t for t in texts if len(t.split()) > 20]


def corpus_b() -> list[str]:
    import pydoc_data.topics as topics

    texts = []
    for f in sorted(glob.glob(f"{SP}/*.dist-info/METADATA")):
        body = open(f, errors="replace").read().split("\n\n", 1)
        if len(body) == 2 and len(body[1].split()) > 20:
            texts.append(body[1])
    texts += [t for t in topics.topics.values() if len(t.split()) > 20]
    import django

    root = os.path.dirname(django.__file__)
    for app in ("conf", "contrib/admin", "contrib/auth", "contrib/sites"):
        for f in sorted(glob.glob(f"{root}/{app}/locale/*/LC_MESSAGES/django.po")):
            texts.append(open(f, errors="replace").read())
    return texts


def evaluate(texts: list[str], sublinear: bool, eps: float) -> dict:
    e = hashed_embeddings(pa.array(texts), sublinear=sublinear)
    iu = np.triu_indices(len(texts), 1)
    cos = (e @ e.T)[iu]
    words = [set(re.findall(r"\w+", t.lower())) for t in texts]
    jac = np.array([len(words[i] & words[j]) / max(len(words[i] | words[j]), 1) for i, j in zip(*iu)])
    m = cos >= 1 - eps
    return {
        "merged": int(m.sum()),
        "precision(J>=0.5)": round(float((jac[m] >= 0.5).mean()) if m.any() else 1.0, 4),
        "unrelated(J<0.3)": int((jac[m] < 0.3).sum()),
        "recall(J>=0.8)": round(float(m[jac >= 0.8].mean()), 4),
        "recall(J>=0.9)": round(float(m[jac >= 0.9].mean()), 4),
    }


if __name__ == "__main__":
    for name, texts in (("A: licences+AUTHORS", corpus_a()), ("B: READMEs+pydoc topics", corpus_b())):
        print(f"{name} ({len(texts)} docs)")
        print("  old (raw counts, eps 0.05):", evaluate(texts, False, 0.05))
        print(f"  new default (sublinear, eps {DEFAULT_EPS['hashed']}):", evaluate(texts, True, DEFAULT_EPS["hashed"]))
    sys.exit(0)
