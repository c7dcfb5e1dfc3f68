#!/usr/bin/env bash
# Set up the dedup benchmark: a separate venv with the peers (datasketch, datatrove), numba for
# winnow's kernels, and the raw Debian documentation packages the corpus is built from
# (downloaded, unpacked, not installed).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/benchmarks/.venv-dedup"
WORK="$ROOT/benchmarks/_work/dedup"
PY="${PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "datasketch==2.0.0" "datatrove==0.10.1" "xxhash<4" "orjson" "numpy" "pyarrow" "scipy" "numba==0.68.1" \
  "pydantic" "pyyaml" "regex" "zstandard" "fsspec" "typer" "rich" "matplotlib" "resiliparse" "psutil" "tokenizers" "nltk"
mkdir -p "$WORK/debs" "$WORK/root"
cd "$WORK/debs"
for pkg in python3.11-doc debian-handbook fortunes fortunes-min jargon-text debian-policy developers-reference; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
done
for deb in python3.11-doc_*.deb debian-handbook_*.deb fortunes_*.deb fortunes-min_*.deb jargon-text_*.deb \
  debian-policy_*.deb developers-reference_*.deb; do
  dpkg-deb -x "$deb" "$WORK/root"
done
# the second corpus (build_corpus2.py) reads other sources, unpacked apart (fortunes-it would
# otherwise land among the English fortunes the first corpus reads)
mkdir -p "$WORK/root2"
for pkg in bible-kjv bible-kjv-text fortunes-de fortunes-es fortunes-it fortunes-ru debian-faq maint-guide; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
  dpkg-deb -x "$pkg"_*.deb "$WORK/root2"
done
# the fourth corpus (build_corpus4.py): software manuals no other corpus reads
mkdir -p "$WORK/root4"
for pkg in apache2-doc postgresql-doc-15 sqlite3-doc git-doc perl-doc nodejs-doc python-django-doc; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
  dpkg-deb -x "$pkg"_*.deb "$WORK/root4"
done
# the fifth (build_corpus5.py): more manuals
mkdir -p "$WORK/root5"
for pkg in erlang-doc gnucash-docs; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
  dpkg-deb -x "$pkg"_*.deb "$WORK/root5"
done
echo "venv: $VENV"
echo "unpacked docs: $WORK/root (corpus 1), $WORK/root2 (corpus 2), $WORK/root4 and root5 (corpora 4, 5)"
