"""A third real dedup corpus — source code — built after the ``correlation`` clustering was fixed.

Corpora 1 (build_corpus.py: Debian and Python documentation, fortunes) and 2 (build_corpus2.py:
copyright files, changelogs, man pages, the Bible, fortunes in four languages) are prose. This
one is code, from sources neither uses:

* every C header under ``/usr/include`` (glibc, Linux UAPI, X11, GL...: per-architecture copies
  and versioned variants are natural near duplicates);
* the Python standard library (``/usr/lib/python3.11``, tests included);
* ``--max-py`` Python files drawn (seeded) from the project venv's ``site-packages`` (vendored
  copies, generated modules and versioned APIs are near duplicates there).

Files over ``--max-bytes`` are skipped. The id is the path, so the corpus is the same on every
machine with the same packages installed.

    PYTHONPATH=src python benchmarks/dedup/build_corpus3.py --out benchmarks/_work/dedup/corpus3
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random

from build_corpus2 import collect_rows, write_shards  # same folder: the script's directory is on sys.path

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "..", "..", ".venv")


def _files(max_py: int, max_bytes: int):
    headers = sorted(glob.glob("/usr/include/**/*.h", recursive=True))
    stdlib = sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True))
    site = sorted(glob.glob(os.path.join(VENV, "lib/python3*/site-packages/**/*.py"), recursive=True))
    random.Random(0).shuffle(site)
    for src, paths in (("c-header", headers), ("py-stdlib", stdlib), ("py-site", site[:max_py])):
        for p in paths:
            if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) > max_bytes:
                continue
            with open(p, encoding="utf-8", errors="replace") as fh:
                yield os.path.relpath(os.path.realpath(p), "/"), fh.read(), src


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--max-py", type=int, default=20000)
    ap.add_argument("--max-bytes", type=int, default=200_000)
    a = ap.parse_args()
    print(json.dumps(write_shards(collect_rows(_files(a.max_py, a.max_bytes)), a.out, a.shards)))


if __name__ == "__main__":
    main()
