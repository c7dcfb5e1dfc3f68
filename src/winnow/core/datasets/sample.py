"""The bundled sample corpus: real text of mixed quality, assembled offline from installed packages.

Nothing here is written by the winnow project and no third-party text is committed: the
builder reads what ``pip`` installed into the environment and records each source's origin
and licence in the dataset's ``manifest.json``.

Sources (all from pip packages the Makefile installs):

=================  =====================================================  ==========================
name               what                                                   licence
=================  =====================================================  ==========================
python_docs        Python reference topics (``pydoc_data.topics``)        PSF-2.0
stdlib_html        HTML pages that ``pydoc`` renders for stdlib modules   PSF-2.0 (docstrings)
                   (navigation tables, boilerplate; text via resiliparse)
stdlib_code        Python standard-library source files (code)            PSF-2.0
package_readme     ``*.dist-info/METADATA`` descriptions (badges, md)     each package's own licence
licence_text       ``LICENSE``/``COPYING`` files of installed packages     each package's own licence
                   (many near-duplicates: MIT/BSD/Apache variants)
package_junk       ``RECORD``/``entry_points.txt``/``WHEEL`` files         each package's own licence
                   (short machine-generated junk)
django_i18n        Django's translation catalogues (``*.po`` msgstr),     BSD-3-Clause
                   grouped per locale: ~100 languages
=================  =====================================================  ==========================

Plus two realistic broken inputs so the demo shows quarantine: ``raw/messy.jsonl`` (a Latin-1
encoded record, a truncated JSON line, a record without ``text``) and
``raw/truncated.jsonl.gz`` (a gzip stream cut short, as after an interrupted download).

Example:
    >>> from winnow.core.datasets import build_dataset
    >>> info = build_dataset("sample", "data/sample")        # doctest: +SKIP
    >>> info["rows"] > 3000                                  # doctest: +SKIP
    True
"""

from __future__ import annotations

import email.parser
import glob
import gzip
import io
import json
import os
import random
import re
import sys
import sysconfig
import time

PSF = "PSF-2.0 (Python Software Foundation License)"

# stdlib modules rendered by pydoc as HTML pages (real docstrings, navigation boilerplate)
_HTML_MODULES = [
    "abc",
    "argparse",
    "array",
    "ast",
    "base64",
    "bisect",
    "bz2",
    "calendar",
    "cmd",
    "codecs",
    "collections",
    "colorsys",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "enum",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "imaplib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "math",
    "mimetypes",
    "netrc",
    "numbers",
    "operator",
    "optparse",
    "os",
    "pathlib",
    "pickle",
    "pkgutil",
    "platform",
    "plistlib",
    "pprint",
    "queue",
    "quopri",
    "random",
    "re",
    "reprlib",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "smtplib",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "symtable",
    "tabnanny",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "token",
    "tokenize",
    "trace",
    "traceback",
    "types",
    "typing",
    "unittest",
    "uuid",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "zipfile",
    "zipimport",
    "zlib",
]


def _site_packages() -> str:
    return sysconfig.get_paths()["purelib"]


def _stdlib() -> str:
    return sysconfig.get_paths()["stdlib"]


def _dist_infos() -> list[str]:
    return sorted(glob.glob(os.path.join(_site_packages(), "*.dist-info")))


def _package_licence(meta: email.message.Message) -> str:
    lic = meta.get("License-Expression") or ""
    if not lic:
        raw = (meta.get("License") or "").strip()
        if raw and len(raw) < 80 and "\n" not in raw:
            lic = raw
    if not lic:
        cls = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        lic = cls[0] if cls else "see package metadata"
    return lic


def _python_docs():
    import pydoc_data.topics as topics

    for name, text in sorted(topics.topics.items()):
        yield {"id": f"python_docs/{name}", "text": text, "origin": "pydoc_data.topics", "licence": PSF}


def _stdlib_code(limit: int, rng: random.Random):
    files = sorted(glob.glob(os.path.join(_stdlib(), "*.py")))
    rng.shuffle(files)
    n = 0
    for f in files:
        size = os.path.getsize(f)
        if size < 800 or size > 60_000:
            continue
        with open(f, encoding="utf-8", errors="strict") as fh:
            try:
                text = fh.read()
            except UnicodeDecodeError:
                continue
        yield {
            "id": f"stdlib_code/{os.path.basename(f)}",
            "text": text,
            "origin": f"Lib/{os.path.basename(f)}",
            "licence": PSF,
        }
        n += 1
        if n >= limit:
            break


def _package_files():
    from winnow.core.datasets import canonical_name, pinned_distributions

    parser = email.parser.Parser()
    pinned = pinned_distributions()
    for d in _dist_infos():
        meta_p = os.path.join(d, "METADATA")
        if not os.path.exists(meta_p):
            continue
        with open(meta_p, encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
        meta = parser.parsestr(raw)
        pkg = meta.get("Name") or os.path.basename(d)
        if pinned is not None and canonical_name(pkg) not in pinned:
            continue  # only the pinned environment: the sample must not change when a tool is installed
        yield d, pkg, meta, raw


def _package_texts():
    readmes, licences, junk = [], [], []
    for d, pkg, meta, raw in _package_files():
        lic = _package_licence(meta)
        body = meta.get_payload()
        if isinstance(body, str) and body.strip():
            readmes.append({"id": f"package_readme/{pkg}", "text": body, "origin": f"{pkg} METADATA", "licence": lic})
        for lf in sorted(
            glob.glob(os.path.join(d, "licenses", "**", "*"), recursive=True)
            + glob.glob(os.path.join(d, "LICEN[CS]E*"))
            + glob.glob(os.path.join(d, "COPYING*"))
        ):
            if not os.path.isfile(lf):
                continue
            with open(lf, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            rel = os.path.relpath(lf, d)
            licences.append({"id": f"licence_text/{pkg}/{rel}", "text": text, "origin": f"{pkg} {rel}", "licence": lic})
        for jf in ("RECORD", "entry_points.txt", "WHEEL", "top_level.txt"):
            p = os.path.join(d, jf)
            if os.path.exists(p):
                with open(p, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                if jf == "RECORD":
                    text = "\n".join(text.splitlines()[:40])
                junk.append({"id": f"package_junk/{pkg}/{jf}", "text": text, "origin": f"{pkg} {jf}", "licence": lic})
    return readmes, licences, junk


_PO_MSGSTR = re.compile(r'^msgstr(?:\[\d+\])? "(.*)"$')


def _po_messages(path: str) -> list[str]:
    """Translated strings (msgstr, continuation lines joined) of a gettext catalogue."""
    out: list[str] = []
    cur: str | None = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            m = _PO_MSGSTR.match(line)
            if m:
                if cur is not None:
                    out.append(cur)
                cur = m.group(1)
            elif cur is not None and line.startswith('"') and line.endswith('"'):
                cur += line[1:-1]
            elif cur is not None:
                out.append(cur)
                cur = None
    if cur is not None:
        out.append(cur)
    msgs = []
    for s in out:
        s = s.replace("\\n", "\n").replace('\\"', '"').strip()
        if len(s) >= 12:
            msgs.append(s)
    return msgs


def _django_i18n(per_locale: int, group: int):
    try:
        import django
    except ImportError:
        return
    root = os.path.dirname(django.__file__)
    locales: dict[str, list[str]] = {}
    for po in sorted(glob.glob(os.path.join(root, "**", "locale", "*", "LC_MESSAGES", "django.po"), recursive=True)):
        loc = po.split(os.sep)[-3]
        locales.setdefault(loc, []).extend(_po_messages(po))
    for loc, msgs in sorted(locales.items()):
        # de-duplicate messages, keep order
        seen, uniq = set(), []
        for m in msgs:
            if m not in seen:
                seen.add(m)
                uniq.append(m)
        for k in range(min(per_locale, len(uniq) // group)):
            chunk = uniq[k * group : (k + 1) * group]
            yield {
                "id": f"django_i18n/{loc}/{k}",
                "text": "\n".join(chunk),
                "origin": f"django/conf/locale/{loc}",
                "licence": "BSD-3-Clause (Django)",
                "lang_label": loc,
            }


def _pydoc_html(out_dir: str, limit: int) -> tuple[int, int]:
    import importlib
    import pydoc
    import warnings

    os.makedirs(out_dir, exist_ok=True)
    n = b = 0
    for name in _HTML_MODULES[:limit]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = importlib.import_module(name)
                page = pydoc.html.page(pydoc.describe(mod), pydoc.html.document(mod, name))
        except Exception:
            continue
        data = page.encode("utf-8")
        if len(data) > 400_000:
            continue
        with open(os.path.join(out_dir, f"{name}.html"), "wb") as fh:
            fh.write(data)
        n += 1
        b += len(data)
    return n, b


def build_sample(out: str, *, shards: int = 8, seed: int = 0) -> dict:
    """Assemble the sample corpus into ``out/raw/*.jsonl.gz`` + ``out/html/*.html`` + manifest."""
    rng = random.Random(seed)
    raw_dir = os.path.join(out, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    for f in glob.glob(os.path.join(raw_dir, "*")):
        os.remove(f)
    readmes, licences, junk = _package_texts()
    sources = {
        "python_docs": (list(_python_docs()), "pydoc_data.topics (CPython standard library)", PSF),
        "stdlib_code": (list(_stdlib_code(150, rng)), f"CPython {sys.version.split()[0]} Lib/*.py", PSF),
        "package_readme": (
            readmes,
            "site-packages/*.dist-info/METADATA of the pinned environment",
            "each package's own licence (per-record `licence` column)",
        ),
        "licence_text": (
            licences,
            "site-packages/*.dist-info/licenses, LICENSE*, COPYING*",
            "each package's own licence (per-record `licence` column)",
        ),
        "package_junk": (
            junk,
            "site-packages/*.dist-info RECORD, entry_points.txt, WHEEL, top_level.txt",
            "each package's own licence (per-record `licence` column)",
        ),
        "django_i18n": (
            list(_django_i18n(per_locale=6, group=25)),
            "Django translation catalogues (*.po)",
            "BSD-3-Clause (Django)",
        ),
    }
    records = []
    for name, (recs, _, _) in sources.items():
        for r in recs:
            r["source"] = name
            records.append(r)
    rng.shuffle(records)
    total_bytes = 0
    for k in range(shards):
        part = records[k::shards]
        with gzip.open(os.path.join(raw_dir, f"part-{k:04d}.jsonl.gz"), "wt", encoding="utf-8") as fh:
            for r in part:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        total_bytes += sum(len(r["text"].encode()) for r in part)
    # realistic broken inputs
    extra = [r for r in records if r["source"] == "python_docs"][:6]
    with open(os.path.join(raw_dir, "messy.jsonl"), "wb") as fh:
        for i, r in enumerate(extra[:3]):
            fh.write(json.dumps({**r, "id": r["id"] + "#messy"}, ensure_ascii=False).encode() + b"\n")
        latin = {**extra[3], "id": extra[3]["id"] + "#latin1", "text": extra[3]["text"][:300] + " caf\u00e9 na\u00efve"}
        fh.write(json.dumps(latin, ensure_ascii=False).encode("latin-1", "replace") + b"\n")
        line = json.dumps({**extra[4], "id": extra[4]["id"] + "#truncated"}).encode()
        fh.write(line[: len(line) // 2] + b"\n")
        fh.write(
            json.dumps({"id": "python_docs/no-text", "source": "python_docs", "body": extra[5]["text"][:200]}).encode()
            + b"\n"
        )
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        for r in extra:
            gz.write((json.dumps({**r, "id": r["id"] + "#gz"}) + "\n").encode())
    data = buf.getvalue()
    with open(os.path.join(raw_dir, "truncated.jsonl.gz"), "wb") as fh:
        fh.write(data[: int(len(data) * 0.6)])
    n_html, b_html = _pydoc_html(os.path.join(out, "html"), limit=len(_HTML_MODULES))
    src_info = [
        {
            "name": n,
            "rows": len(v[0]),
            "bytes": sum(len(r["text"].encode()) for r in v[0]),
            "origin": v[1],
            "licence": v[2],
        }
        for n, v in sources.items()
    ]
    src_info.append(
        {
            "name": "stdlib_html",
            "rows": n_html,
            "bytes": b_html,
            "origin": "pydoc.html.page() of CPython stdlib modules (html/*.html)",
            "licence": PSF,
        }
    )
    src_info.append(
        {
            "name": "broken_inputs",
            "rows": 12,
            "bytes": 0,
            "origin": "raw/messy.jsonl and raw/truncated.jsonl.gz: copies of python_docs records with "
            "realistic damage (Latin-1 bytes, truncated line, missing text, cut gzip)",
            "licence": PSF,
        }
    )
    manifest = {
        "name": "sample",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "seed": seed,
        "rows": len(records) + n_html,
        "bytes": total_bytes + b_html,
        "layout": {
            "raw/part-*.jsonl.gz": "JSONL records: id, text, source, origin, licence[, lang_label]",
            "raw/messy.jsonl, raw/truncated.jsonl.gz": "broken inputs (quarantine demo)",
            "html/*.html": "HTML pages (text extracted by the html reader)",
        },
        "sources": src_info,
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    return manifest
