#!/usr/bin/env bash
# Creates benchmarks/.venv-filters with datatrove (the peer) and assembles the benchmark corpus
# from offline sources (Debian packages via apt-get download). Nothing third-party is committed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BENCH="$(dirname "$HERE")"
VENV="$BENCH/.venv-filters"
WORK="$BENCH/_work/filters"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # datatrove 0.10.1 supports Python 3.11. Its English word tokenizer is spacy.blank("en") (rules only,
  # no model download), so spacy is needed; nltk is imported by some filters.
  "$VENV/bin/pip" install -q "datatrove==0.10.1" "nltk==3.10.4" "spacy==3.8.18" "pyarrow==26.0.1" "numpy==2.4.6"
fi
mkdir -p "$WORK/debs"
cd "$WORK/debs"
for p in python3.11-doc jargon-text fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-ru debian-handbook; do
  if ! ls ${p}_*.deb >/dev/null 2>&1; then
    apt-get download "$p" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get download "$p"; }
  fi
  [ -d "../x/$p" ] || { mkdir -p "../x/$p" && dpkg-deb -x ${p}_*.deb "../x/$p"; }
done
echo "setup done: $VENV, corpus sources in $WORK/x"
