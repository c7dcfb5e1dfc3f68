#!/usr/bin/env bash
# Creates benchmarks/.venv-attribution with the peers (dattri, traker) for the LDS benchmark.
# torch==2.13.0 (CPU) goes in first so no peer pulls another torch build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-attribution"
PY="${PY:-python3}"
test -x "$venv/bin/python" || "$PY" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0
"$venv/bin/pip" install -q --disable-pip-version-check numpy scipy scikit-learn pyarrow safetensors
"$venv/bin/pip" install -q --disable-pip-version-check dattri==0.3.0 traker==0.3.2
# winnow itself, from this checkout (no deps: they are all above or unused by the benchmark)
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here/../.."
"$venv/bin/python" -c "import torch, dattri, trak; print('torch', torch.__version__, 'dattri ok, traker ok')"
