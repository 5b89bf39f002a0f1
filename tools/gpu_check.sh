#!/usr/bin/env bash
# The GPU checks, in one run on a machine with an NVIDIA GPU, nvcc, CuPy, pytest and a
# CUDA build of torch (python3 holds them): build the CUDA extension, run every test of
# the "cuda" device column (tests/device_columns.py) on the real GPU, then the GPU
# benchmark. Logs go to $OUT (default ./gpu-out). Each stage has its own time limit so
# one that hangs still leaves the others' logs.
#   bash tools/gpu_check.sh            # everything (about 6 minutes on an H200 machine)
#   TESTS=0 BENCH_LIMIT=300 bash tools/gpu_check.sh   # build and benchmark only
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
B=${BUILD_DIR:-/tmp/fo-gpu-build}
{ nvidia-smi -L; nvcc --version | tail -2; $PY -c "import cupy, numpy, torch; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"; } 2>&1 | tee "$OUT/env.log"

# 1. The build: both device modules (the emulator too, so the whole suite can run).
timeout 240 bash -c "cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSEDOPTIM_CUDA=ON \
  -DPython_EXECUTABLE=$(command -v $PY) -Dpybind11_DIR=$($PY -m pybind11 --cmakedir) >/dev/null \
  && cmake --build $B -j $(nproc)" > "$OUT/build.log" 2>&1
echo "build rc=$?"; tail -3 "$OUT/build.log"
cp "$B"/*.so python/fusedoptim/ || exit 1
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
$PY -c "import fusedoptim._cuda as c; print(c.device_info())" 2>&1 | tee -a "$OUT/env.log"

# 2. Every test of the "cuda" column (the build test is left out: stage 1 did it).
[ "${TESTS:-1}" = 0 ] || timeout 240 $PY -m pytest -q -p no:cacheprovider -k "cuda and not emulat and not extension_builds" tests \
  2>&1 | tee "$OUT/tests.log" | tail -25

# 3. The GPU benchmark (fusedoptim against torch's CUDA fused/foreach steps and the roofline).
timeout "${BENCH_LIMIT:-240}" $PY -m fusedoptim bench --device cuda --optimizers ${BENCH_OPTIMIZERS:-all} \
  --workloads ${BENCH_WORKLOADS:-resnet50} --dtypes float32,float64 --no-sweep --repeats 5 --out "$OUT/bench" --markdown "$OUT/gpu.md" \
  > "$OUT/bench.log" 2>&1
echo "bench rc=$?"; cat "$OUT/gpu.md" 2>/dev/null | head -80 || tail -20 "$OUT/bench.log"
