#!/usr/bin/env bash
# Set up the whole-pipeline benchmark: datatrove's venv (benchmarks/.venv-filters, from
# benchmarks/filters/setup.sh) plus what its language filter, JSONL writer and dedup need, and the
# Debian documentation packages the corpus is built from (downloaded and unpacked, not installed).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
bash "$ROOT/benchmarks/filters/setup.sh"
VENV="$ROOT/benchmarks/.venv-filters"
# fasttext (the distribution datatrove checks for), orjson (JsonlWriter), tokenizers (datatrove.pipeline.dedup
# imports it), xxhash<4 (datatrove 0.10.1 breaks on xxhash 4), fasteners (its asset cache lock)
"$VENV/bin/pip" install -q "fasttext-numpy2-wheel==0.9.2" "orjson==3.11.4" "tokenizers==0.23.3" "xxhash<4" "fasteners==0.20"
WORK="$ROOT/benchmarks/_work/dedup"
mkdir -p "$WORK/debs" "$WORK/root"
cd "$WORK/debs"
for pkg in python3.11-doc debian-handbook fortunes fortunes-min jargon-text debian-policy developers-reference; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
done
for deb in *.deb; do
  dpkg-deb -x "$deb" "$WORK/root"
done
echo "venv: $VENV; corpus sources: $WORK/root"
