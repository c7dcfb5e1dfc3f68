"""A fourth real dedup corpus — software manuals — built after the partition bound was added.

Its sources were fixed before its first measurement, and no MinHash or clustering setting was
changed after it (issue 20: a quality bar needs a corpus the method was not tuned on). None of
corpora 1–3 use them (setup.sh unpacks them into ``benchmarks/_work/dedup/root4``):

* the Apache HTTP Server manual (apache2-doc) in its 10 languages, where untranslated pages are
  the English text with a translated frame;
* the PostgreSQL 15 manual (postgresql-doc-15), the SQLite documentation (sqlite3-doc) and the
  Git manual pages and guides (git-doc: each page as HTML and as AsciiDoc text);
* the Node.js API reference (nodejs-doc) and the Django manual (python-django-doc: release notes
  of every version, one page each);
* Perl's manual (perl-doc: ``.pod`` sources, one per ``perlXXX`` page, release notes included).

HTML goes through winnow's own ``html_to_text``; ``.txt`` and ``.pod`` files are read as they
are. The id is the path, so the corpus is the same on every machine with the same packages.

    PYTHONPATH=src python benchmarks/dedup/build_corpus4.py --out benchmarks/_work/dedup/corpus4
"""

from __future__ import annotations

import argparse
import glob
import json
import os

from build_corpus2 import collect_rows, write_shards  # same folder: the script's directory is on sys.path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "_work", "dedup", "root4")
SOURCES = [  # (glob under ROOT, source label)
    ("usr/share/doc/apache2-doc/manual/**/*.html", "apache"),
    ("usr/share/doc/postgresql-doc-15/**/*.html", "postgresql"),
    ("usr/share/doc/sqlite3/**/*.html", "sqlite"),
    ("usr/share/doc/git-doc/**/*.html", "git"),
    ("usr/share/doc/git-doc/**/*.txt", "git"),
    ("usr/share/doc/nodejs/**/*.html", "nodejs"),
    ("usr/share/doc/python-django-doc/**/*.html", "django"),
    ("usr/share/perl/**/*.pod", "perl"),
]


def files(max_bytes: int, root: str = ROOT, sources=SOURCES):
    """(id, text, source) of every file of ``sources`` under ``root`` (HTML as text)."""
    from winnow.core.io.readers import html_to_text

    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise SystemExit(f"{root} is missing: run benchmarks/dedup/setup.sh first")
    for pat, src in sources:
        for p in sorted(glob.glob(os.path.join(root, pat), recursive=True)):
            if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) > max_bytes:
                continue
            with open(p, "rb") as fh:
                raw = fh.read()
            text = html_to_text(raw) if p.endswith(".html") else raw.decode("utf-8", errors="replace")
            yield os.path.relpath(p, root), text, src


def main(doc: str = __doc__, root: str = ROOT, sources=SOURCES):
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--max-bytes", type=int, default=1_000_000)
    a = ap.parse_args()
    print(json.dumps(write_shards(collect_rows(files(a.max_bytes, root, sources)), a.out, a.shards)))


if __name__ == "__main__":
    main()
