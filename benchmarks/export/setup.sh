#!/usr/bin/env bash
# Set up the export benchmark: a separate venv with the peer (datatrove's DocumentTokenizer and
# DocumentTokenizerMerger, with the same `tokenizers` version as winnow) and MosaicML `streaming`
# (to read winnow's MDS output back with the library; installed without its cloud/CUDA extras,
# which would replace the project's pinned torch).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/benchmarks/.venv-export"
PY="${PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "datatrove==0.10.1" "tokenizers==0.23.3" "pyarrow==26.0.1" "numpy==2.4.6" "psutil" "orjson"
# streaming reads local MDS folders with these; torch (CPU, the project's pin) for its Dataset classes
"$VENV/bin/pip" install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
  || "$VENV/bin/pip" install -q "torch==2.13.0"
"$VENV/bin/pip" install -q --no-deps "mosaicml-streaming==0.13.0"
"$VENV/bin/pip" install -q "zstd" "xxhash" "filelock" "tqdm" "python-snappy" "brotli" "pydantic" "azure-identity" 2>/dev/null || true
echo "venv: $VENV"
