#!/usr/bin/env bash
# Creates benchmarks/.venv-select with the reference DSIR implementation (data-selection 1.0.3,
# Xie et al. 2023) for benchmarks/select/dsir_reference.py. Registries only; no model downloads.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/.venv-select"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "data-selection==1.0.3" numpy
"$venv/bin/python" -c "import data_selection, sys; print('data-selection ok', sys.version.split()[0])"
