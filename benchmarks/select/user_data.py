"""Build a "user" pool / target / eval sets from real text installed with the project, as JSONL files.

Pool = chunks of ~1,000 characters from six real sources (Python reference docs from
``pydoc_data``, package READMEs and licences from ``*.dist-info``, standard-library code, Django's
German and French translation catalogues). The target domain (``--target``: ``python_docs`` or
``stdlib_code``) is split by parent document: some parents give the target sample, others the
held-out eval set, the rest go to the pool. Eval sets: the target domain, plus German (Django
``de`` messages held out of the pool) where targeted selection should *not* help, plus the other
of docs/code.

    python benchmarks/select/user_data.py runs/userdata            # then: winnow bench benchmarks/select/bench_user_lm.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

from winnow.core.datasets.sample import _django_i18n
from winnow.prove.bench.tasks import _chunks, source_documents


def _parents(source: str) -> list[list[str]]:
    if source.startswith("django_"):
        loc = source.split("_", 1)[1]
        return [[r["text"]] for r in _django_i18n(400, 5) if r["lang_label"] == loc]
    name = {"python_docs": "pydoc", "package_readme": "metadata", "licence": "license", "stdlib_code": "code"}[source]
    return [_chunks(t, 1000) for _, t in source_documents(name)]


def build(
    out: str, target: str = "python_docs", per_source: int = 200, n_target: int = 40, n_eval: int = 60, seed: int = 0
) -> dict:
    rng = np.random.default_rng(seed)
    sources = ["python_docs", "package_readme", "licence", "stdlib_code", "django_de", "django_fr"]
    held = {target: "target", "django_de": "german", "python_docs" if target != "python_docs" else "stdlib_code": None}
    seen: set[bytes] = set()
    pool, tgt, evals = [], [], {}
    for src in sources:
        parents = _parents(src)
        order = rng.permutation(len(parents))
        chunks_of = []
        for k in order:
            ch = []
            for c in parents[k]:
                h = hashlib.sha1(" ".join(c.split()).encode()).digest()
                if c.strip() and h not in seen:  # exact duplicates (licences!) count once
                    seen.add(h)
                    ch.append(c)
            if ch:
                chunks_of.append((k, ch))
        rest = chunks_of
        if src in held:
            ev, ft = [], []
            i = 0
            n_ev = n_eval if src != "django_de" else 40
            while i < len(chunks_of) and len(ev) < n_ev:  # whole parents: no shared document
                ev += chunks_of[i][1]
                i += 1
            if src == target:
                while i < len(chunks_of) and len(ft) < n_target:
                    ft += chunks_of[i][1]
                    i += 1
                tgt = ft[:n_target]
            rest = chunks_of[i:]
            name = {"python_docs": "python-docs", "stdlib_code": "code", "django_de": "german"}[src]
            evals[name] = ev[:n_ev]
        flat = [c for _, ch in rest for c in ch]
        take = rng.permutation(len(flat))[:per_source]
        pool += [{"id": f"{src}/{i}", "text": flat[i], "source": src} for i in sorted(take)]
    os.makedirs(out, exist_ok=True)

    def write(name, rows):
        with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)

    write("pool.jsonl", pool)
    write("target.jsonl", [{"id": f"target/{i}", "text": t} for i, t in enumerate(tgt)])
    for k, v in evals.items():
        write(f"eval_{k}.jsonl", [{"id": f"{k}/{i}", "text": t} for i, t in enumerate(v)])
    info = {
        "pool": {s: sum(r["source"] == s for r in pool) for s in sources},
        "target": len(tgt),
        "evals": {k: len(v) for k, v in evals.items()},
        "target_source": target,
    }
    with open(os.path.join(out, "info.json"), "w") as fh:
        json.dump(info, fh, indent=2)
    return info


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--target", default="python_docs", choices=["python_docs", "stdlib_code"])
    ap.add_argument("--per-source", type=int, default=200)
    a = ap.parse_args()
    print(json.dumps(build(a.out, a.target, a.per_source), indent=1))
    sys.exit(0)
