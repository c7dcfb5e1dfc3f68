#!/usr/bin/env bash
# Set up the export benchmark: a separate venv with the peer (datatrove's DocumentTokenizer and
# DocumentTokenizerMerger, on the same `tokenizers` version as winnow) and MosaicML `streaming`
# (to read winnow's MDS output back with the library). streaming pulls its own torch/numpy
# versions, which is why it lives here and not in the project venv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/benchmarks/.venv-export"
PY="${PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "datatrove==0.10.1" "tokenizers==0.23.3" "pyarrow==26.0.1" "psutil" "orjson"
"$VENV/bin/pip" install -q "mosaicml-streaming==0.13.0" "pillow" "catalogue" "torchvision"
"$VENV/bin/python" -c "import datatrove, streaming" && echo "venv: $VENV"
