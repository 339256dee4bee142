#!/usr/bin/env bash
# The GPU proof on the device machine (issue 17), from the source tree:
#   bash benchmarks/gpu_suite.sh            # on the device: wheels from .whl/, figures to $OUT
#   DEVICE=cpu bash benchmarks/gpu_suite.sh # the dry run here, tiny sizes
# The frameworks travel as pure-Python wheels in .whl/ (`make gpu-wheels`: snntorch,
# spikingjelly, norse, nir, nirtorch, loguru), installed with --no-deps beside the
# machine's own torch; carry .whl with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-build/gpu}"
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1
PY="${PY:-python3}"
args=(--out "$OUT")
[ -n "${DEVICE:-}" ] && args+=(--device "$DEVICE")
timeout 480 "$PY" benchmarks/gpu_suite.py "${args[@]}" 2>&1 | tee "$OUT/gpu_suite.log"
