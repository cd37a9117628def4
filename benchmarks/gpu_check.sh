#!/usr/bin/env bash
# The GPU check of the torch backend in one call (issue "The CUDA path, executed"), for a GPU machine
# with no network whose Python already has torch (CUDA), numba, numpy, scipy, pandas, pyarrow, xarray,
# matplotlib, typer, rich, pytest, pytest-timeout, hypothesis and scikit-learn. The paths this runs
# import nothing else (dask and zarr are imported by studies only).
#
#   benchmarks/gpu_check.sh                      # on the GPU machine: OUT=... (default results/gpu_check)
#   DEVICE=cpu SCALE=rehearsal benchmarks/gpu_check.sh   # the CPU rehearsal (make gpu-check-rehearsal)
#
# Steps: (1) install the project without dependencies (falls back to PYTHONPATH when pip cannot);
# (2) pytest -m gpu (the CUDA tests; skipped without CUDA); (3) benchmarks/gpu_check.py: float64 replay
# on the device against the CPU and Numba, then ResNet-20 on CIFAR-shaped generated data with sgd,
# ddp (gloo), passm, passm+ and hogwild. Everything lands in $OUT: pytest.xml, pytest.log,
# gpu_check.json, schedules/*.npz, gpu_check.log. Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-results/gpu_check}
DEVICE=${DEVICE:-cuda}
SCALE=${SCALE:-full}
mkdir -p "$OUT"
status=0
start=$(date +%s)

echo "== environment"
$PY - <<'PY' 2>&1 | tee "$OUT/env.txt"
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
if ! $PY -c "import asyncconv" 2>/dev/null; then
  $PY -m pip install --quiet --no-deps --no-build-isolation -e . >"$OUT/pip.log" 2>&1 \
    || { echo "pip install failed (see pip.log): using PYTHONPATH"; export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"; }
fi
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$OUT/numba-cache}

echo "== pytest -m gpu"
# -o addopts= drops --strict-config (the machine's pytest plugins may differ from ours)
$PY -m pytest -m gpu -q -o addopts= -p no:cacheprovider --junitxml="$OUT/pytest.xml" \
  tests/test_torch_train.py tests/test_torch_replay.py 2>&1 | tee "$OUT/pytest.log" | tail -5
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then status=1; fi  # 5: nothing selected (no GPU tests there)

echo "== replay and training ($DEVICE, $SCALE)"
$PY benchmarks/gpu_check.py --device "$DEVICE" --scale "$SCALE" --out "$OUT" 2>&1 | tee "$OUT/gpu_check.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "== done in $(( $(date +%s) - start )) s, status $status; results in $OUT"
exit $status
