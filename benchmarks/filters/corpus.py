"""Assemble the filter benchmark corpus from offline sources (run after setup.sh).

Writes ``benchmarks/_work/filters/corpus.parquet`` (id, text, source) with real English text of
mixed quality, and ``langid.parquet`` (text, label) for the language-ID accuracy check.
Nothing here is committed; everything is rebuilt from Debian packages and installed wheels.

    /work/main/.venv/bin/python benchmarks/filters/corpus.py
"""

from __future__ import annotations

import glob
import gzip
import os
import random
import re
import sys

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(os.path.dirname(HERE), "_work", "filters")
X = os.path.join(WORK, "x")


def html_pages() -> list[tuple[str, str]]:
    from resiliparse.extract.html2text import extract_plain_text

    out = []
    for p in sorted(glob.glob(f"{X}/python3.11-doc/usr/share/doc/python3.11/html/**/*.html", recursive=True)):
        html = open(p, encoding="utf-8", errors="replace").read()
        # whole page with navigation boilerplate (web-like), and main content split into sections
        out.append(("pydoc-html", extract_plain_text(html, main_content=False)))
    return out


_UNDERLINE = re.compile(r"^([=\-~^\"'*+#])\1{3,}\s*$")


def rst_sections() -> list[tuple[str, str]]:
    out = []
    for p in sorted(glob.glob(f"{X}/python3.11-doc/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        lines = open(p, encoding="utf-8", errors="replace").read().split("\n")
        cur: list[str] = []
        for i, line in enumerate(lines):
            if _UNDERLINE.match(line) and i > 0 and lines[i - 1].strip() and cur:
                title = cur.pop()
                if "\n".join(cur).strip():
                    out.append(("pydoc-rst", "\n".join(cur).strip("\n")))
                cur = [title]
            cur.append(line)
        if "\n".join(cur).strip():
            out.append(("pydoc-rst", "\n".join(cur).strip("\n")))
    return out


def jargon() -> list[tuple[str, str]]:
    txt = gzip.open(f"{X}/jargon-text/usr/share/doc/jargon-text/jargon.txt.gz", "rt", errors="replace").read()
    paras = [p for p in re.split(r"\n\s*\n", txt) if p.strip()]
    rng = random.Random(0)
    out, i = [], 0
    while i < len(paras):
        k = rng.randint(1, 12)
        out.append(("jargon", "\n\n".join(paras[i : i + k])))
        i += k
    return out


def fortunes(pkg: str, lang: str | None = None) -> list[tuple[str, str]]:
    out = []
    for p in sorted(glob.glob(f"{X}/{pkg}/usr/share/games/fortunes/**/*", recursive=True)):
        if p.endswith((".dat", ".u8")) or os.path.isdir(p) or os.path.islink(p):
            continue
        raw = open(p, "rb").read().decode("utf-8", errors="replace")
        for rec in raw.split("\n%\n"):
            if rec.strip():
                out.append((lang or f"fortune:{os.path.basename(p)}", rec.strip("\n")))
    return out


def site_packages() -> list[tuple[str, str]]:
    import numpy

    sp = os.path.dirname(os.path.dirname(numpy.__file__))
    out = []
    for p in sorted(
        glob.glob(f"{sp}/*.dist-info/METADATA")
        + glob.glob(f"{sp}/*.dist-info/LICENSE*")
        + glob.glob(f"{sp}/*.dist-info/licenses/*")
    ):
        if os.path.isfile(p):
            out.append(("site-packages", open(p, encoding="utf-8", errors="replace").read()))
    return out


def handbook() -> list[tuple[str, str]]:
    """debian-handbook pages per folder language (noisy labels: some pages are untranslated)."""
    from resiliparse.extract.html2text import extract_plain_text

    out = []
    for d in sorted(glob.glob(f"{X}/debian-handbook/usr/share/doc/debian-handbook/html/*-*")):
        lang = os.path.basename(d).split("-")[0]
        for p in sorted(glob.glob(f"{d}/*.html"))[:40]:
            html = open(p, encoding="utf-8", errors="replace").read()
            out.append((lang, extract_plain_text(html, main_content=True)))
    return out


def main() -> None:
    docs = html_pages() + rst_sections() + jargon() + site_packages()
    fort = fortunes("fortunes") + fortunes("fortunes-min")
    random.Random(1).shuffle(fort)
    docs += fort[:2500]
    rng = random.Random(2)
    rng.shuffle(docs)
    ids = [f"d{i:06d}" for i in range(len(docs))]
    tbl = pa.table({"id": ids, "text": [t for _, t in docs], "source": [s for s, _ in docs]})
    pq.write_table(tbl, os.path.join(WORK, "corpus.parquet"))
    print(f"corpus: {tbl.num_rows} docs, {sum(len(t) for _, t in docs) / 1e6:.1f} M chars", file=sys.stderr)
    from collections import Counter

    print(Counter(s.split(":")[0] for s, _ in docs), file=sys.stderr)
    lid = []
    for pkg, lang in (
        ("fortunes-de", "de"),
        ("fortunes-es", "es"),
        ("fortunes-it", "it"),
        ("fortunes-ru", "ru"),
        ("fortunes-min", "en"),
    ):
        recs = fortunes(pkg, lang)
        random.Random(3).shuffle(recs)
        lid += [(lang, t, "fortunes") for lang, t in recs[:500]]
    lid += [(lang, t, "debian-handbook") for lang, t in handbook()]
    lt = pa.table({"label": [a for a, _, _ in lid], "text": [b for _, b, _ in lid], "set": [c for _, _, c in lid]})
    pq.write_table(lt, os.path.join(WORK, "langid.parquet"))
    print(f"langid: {lt.num_rows} docs", file=sys.stderr)


if __name__ == "__main__":
    main()
