#!/usr/bin/env bash
# Issue 19's device check on one H200: 200 compiled training steps of MDLM-S and Co-LADD-S on LM1B-like
# local data, then the GPU text benchmark; prints tokens/s, MFU and peak memory and writes
# $OUT/device_check.json (bench/device_check.py says what is measured). How to run it with the device
# tool: bench/README.md. DEVICE=cpu runs the smoke mode (toy sizes, no compile) on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-device_check_out}
DEVICE=${DEVICE:-cuda}
if [ -d .whl ]; then  # wheels carried to a machine that lacks packages (bench/README.md)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
if ! "$PY" -c "import fastcore, datasets, tokenizers" 2>/dev/null; then
    echo "device_check: this Python lacks fastcore, datasets or tokenizers; carry them as wheels (bench/README.md)" >&2
    exit 2
fi
SMOKE=()
if [ "$DEVICE" = cpu ]; then SMOKE=(--smoke --steps 4 --peak-tflops 1); fi  # MFU of a toy: a check only
exec "$PY" bench/device_check.py --device "$DEVICE" --out "$OUT" "${SMOKE[@]}"
