"""The quality benchmark's real positive/negative corpus (built from files setup.sh unpacked).

positives ("reference quality"): prose of the Python 3.11 documentation (reST sources of the
  tutorial, library reference, HOWTOs, FAQ...) and the Debian Policy Manual + Developer's
  Reference (HTML -> text);
negatives ("random web-ish junk"): fortunes (records split on %), Jargon File entries, and the
  METADATA / LICENSE / RECORD files of the packages installed in the benchmark venv.

Every source is cut into chunks of 30-300 words (consecutive paragraphs / records packed
together) so that document length says little about the label.
"""

from __future__ import annotations

import glob
import gzip
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEB = os.path.join(HERE, "..", "_work", "deb", "x")


def _pack(pieces, lo=30, hi=300):
    out, cur, n = [], [], 0
    for p in pieces:
        w = len(p.split())
        if w == 0:
            continue
        if n + w > hi and n >= lo:
            out.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += w
        if n >= hi:
            out.append("\n\n".join(cur))
            cur, n = [], 0
    if n >= lo:
        out.append("\n\n".join(cur))
    return out


def _paras(text):
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _html_text(path):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))
    from winnow.core.io.readers import html_to_text

    with open(path, "rb") as fh:
        return html_to_text(fh.read())


def positives():
    docs = []
    for f in sorted(glob.glob(f"{DEB}/python3.11-doc/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        if "/whatsnew/" in f or "/c-api/" in f:
            continue
        docs += [("pydocs", c) for c in _pack(_paras(open(f, encoding="utf-8", errors="replace").read()))]
    for pkg in ("debian-policy", "developers-reference"):
        for f in sorted(glob.glob(f"{DEB}/{pkg}/usr/share/doc/{pkg}/**/*.html", recursive=True)):
            if not os.path.isfile(f):
                continue
            docs += [(pkg, c) for c in _pack(_paras(_html_text(f)))]
    return docs


def negatives():
    docs = []
    for f in sorted(glob.glob(f"{DEB}/fortunes*/usr/share/games/fortunes/*")):
        if f.endswith(".dat") or os.path.islink(f) or os.path.isdir(f):
            continue
        recs = [r.strip() for r in open(f, encoding="utf-8", errors="replace").read().split("\n%\n")]
        docs += [("fortunes", c) for c in _pack(recs)]
    jf = glob.glob(f"{DEB}/jargon-text/usr/share/doc/jargon-text/jargon.txt.gz")
    if jf:
        txt = gzip.open(jf[0], "rt", encoding="latin-1").read()
        docs += [("jargon", c) for c in _pack(_paras(txt))]
    sp = glob.glob(os.path.join(HERE, "..", ".venv-quality", "lib", "python3*", "site-packages"))[0]
    for f in sorted(glob.glob(f"{sp}/*.dist-info/*")):
        base = os.path.basename(f)
        if base in ("METADATA", "RECORD") or base.startswith("LICENSE") or base.startswith("COPYING"):
            try:
                txt = open(f, encoding="utf-8", errors="replace").read()
            except (IsADirectoryError, OSError):
                continue
            chunks = _pack(txt.split("\n"), lo=30, hi=300) if base == "RECORD" else _pack(_paras(txt))
            docs += [("site-packages", c) for c in chunks]
    return docs


def load(seed=0, max_per_class=6000, test_frac=0.25):
    """(train_texts, train_labels, test_texts, test_labels, sources) with a fixed random split."""
    rng = random.Random(seed)
    pos, neg = positives(), negatives()
    rng.shuffle(pos)
    rng.shuffle(neg)
    pos, neg = pos[:max_per_class], neg[:max_per_class]
    rows = [(t, 1, s) for s, t in pos] + [(t, 0, s) for s, t in neg]
    rng.shuffle(rows)
    k = int(len(rows) * (1 - test_frac))
    tr, te = rows[:k], rows[k:]
    return (
        [r[0] for r in tr],
        [r[1] for r in tr],
        [r[0] for r in te],
        [r[1] for r in te],
        {"positives": _count(pos), "negatives": _count(neg)},
    )


def _count(docs):
    c = {}
    for s, _ in docs:
        c[s] = c.get(s, 0) + 1
    return c


if __name__ == "__main__":
    a, b, c, d, info = load()
    print(len(a), len(c), info)
