#!/usr/bin/env bash
# Creates benchmarks/.venv-kronfluence with kronfluence (EK-FAC peer for bench_ekfac.py).
# torch==2.13.0 (CPU, the same build as the project venv) goes in first so kronfluence pulls no other torch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-kronfluence"
PY="${PY:-python3}"
test -x "$venv/bin/python" || "$PY" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0
"$venv/bin/pip" install -q --disable-pip-version-check numpy scipy scikit-learn pyarrow safetensors xxhash rich
"$venv/bin/pip" install -q --disable-pip-version-check kronfluence==1.0.1 "torch==2.13.0"
# winnow itself, from this checkout (no deps: they are all above or unused by the benchmark)
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here/../.."
"$venv/bin/python" -c "import torch, kronfluence; print('torch', torch.__version__, 'kronfluence ok')"
