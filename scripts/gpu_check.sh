#!/usr/bin/env bash
# The GPU check, for a bare GPU machine with no network (see README, "GPU check"):
# builds pycuda from the prepared folder, installs TorchTrek beside it, runs tests/cuda/
# and the GPU benchmark. Logs go to $OUT (or ./gpu-check-out). Under 8 minutes.
#
#   scripts/prepare_gpu_dist.sh            # once, where there is network
#   scripts/gpu_check.sh [DIST_DIR]        # on the GPU machine, from the repo root
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$repo/.gpu-dist}" && pwd)
out=${OUT:-$repo/gpu-check-out}
site=/tmp/torchtrek-gpu-site
mkdir -p "$out" "$site"
py=python3
log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$out/summary.txt"; }

log "python: $($py --version 2>&1); nvcc: $(nvcc --version | tail -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/summary.txt"

log "installing pycuda's dependencies from $dist"
$py -m pip install -q --no-index --no-deps --target "$site" "$dist"/*.whl >"$out/pip.log" 2>&1 || log "pip deps failed (see pip.log)"

src=/tmp/pycuda-src
rm -rf "$src" && mkdir -p "$src"
prebuilt=$(ls "$dist"/pycuda-built-*.tar.gz 2>/dev/null | head -1)
if [ -n "$prebuilt" ]; then
  log "using prebuilt pycuda $prebuilt"
  tar xzf "$prebuilt" -C "$src"
else
  log "building pycuda from source (parallel build_ext)"
  tar xzf "$dist"/pycuda-*.tar.gz -C "$src" --strip-components=1
  ( cd "$src" && PYTHONPATH="$site" timeout 360 $py setup.py build_ext --inplace -j "$(nproc)" >"$out/pycuda_build.log" 2>&1 ) \
    && log "pycuda built" || { log "pycuda build FAILED"; tail -30 "$out/pycuda_build.log"; }
  # keep the build: put this file in the dist folder to skip the build next time
  ( cd "$src" && tar czf "$out/pycuda-built-$($py -c 'import sys;print("cp%d%d" % sys.version_info[:2])').tar.gz" pycuda ) 2>/dev/null
fi
export PYTHONPATH="$src:$site"
# pycuda's extension links libcurand.so.10: the toolkit's or the pip wheel's (nvidia-curand)
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $($py -c 'import nvidia.curand, os; print(os.path.join(list(nvidia.curand.__path__)[0], "lib"))' 2>/dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
if ! (cd /tmp && $py -c "import pycuda.driver as d; d.init(); print('pycuda', d.get_version(), 'devices', d.Device.count())") 2>&1 | tee -a "$out/summary.txt"; then
  if [ -n "$prebuilt" ]; then
    log "prebuilt pycuda does not load here: building from source"
    rm -rf "$src" && mkdir -p "$src"
    tar xzf "$dist"/pycuda-*.tar.gz -C "$src" --strip-components=1
    ( cd "$src" && PYTHONPATH="$site" timeout 360 $py setup.py build_ext --inplace -j "$(nproc)" >"$out/pycuda_build.log" 2>&1 ) \
      && log "pycuda built" || { log "pycuda build FAILED"; tail -30 "$out/pycuda_build.log"; }
  fi
fi

log "installing TorchTrek"
$py -m pip install -q --no-index --no-deps --no-build-isolation --target "$site/tt" "$repo" >"$out/tt_install.log" 2>&1 \
  || { log "TorchTrek install FAILED"; tail -20 "$out/tt_install.log"; }
export PYTHONPATH="$site/tt:$PYTHONPATH"
cd /tmp  # the repo root would shadow the installed package
$py -c "import torchtrek as tt; print('cuda available:', tt.cuda.is_available(), 'devices:', tt.cuda.device_count())" 2>&1 | tee -a "$out/summary.txt"

log "tests/cuda"
# parallel where pytest-xdist is installed (the nvcc compiles dominate), one test at most 150 s
par=$($py -c 'import xdist, pytest_timeout; print("-n 12 --timeout 150")' 2>/dev/null)
timeout ${TT_TEST_TIMEOUT:-240} $py -m pytest -p no:cacheprovider -q -rfE $par "$repo/tests/cuda" --tb=short 2>&1 \
  | tee "$out/tests_cuda.log" | grep -E "^(FAILED|ERROR)|passed|failed" | cut -c1-300 | tail -60
log "benchmark"
timeout ${TT_BENCH_TIMEOUT:-180} $py "$repo/benchmarks/gpu_bench.py" 2>&1 | tee "$out/bench.log"
log "done"
