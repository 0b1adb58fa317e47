#!/usr/bin/env bash
# Download, on a machine with network, what scripts/gpu_check.sh installs on a GPU machine
# that has none: pycuda's source distribution and the pure-Python/binary wheels it needs
# that the GPU image lacks. The folder travels with the repo checkout (it is git-ignored).
#
#   scripts/prepare_gpu_dist.sh [DIR] [PYTHON_VERSION]     # defaults: .gpu-dist 3.12
set -euo pipefail
dir=${1:-.gpu-dist}
py=${2:-3.12}
mkdir -p "$dir"
python3 -m pip download --no-deps --no-binary :all: --no-build-isolation -d "$dir" pycuda==2026.1
for pkg in pytools platformdirs mako; do
  python3 -m pip download --no-deps --only-binary=:all: --python-version "$py" -d "$dir" "$pkg"
done
# pytools needs siphash24 (compiled): the manylinux wheel for the GPU machine's Python
python3 -m pip download --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  -d "$dir" siphash24
ls -l "$dir"
