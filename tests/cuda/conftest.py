import os
import sys
from pathlib import Path

# CUDA simulator mode: TORCHTREK_CUDA_EMULATOR=1 puts the fake pycuda of
# tests/cudaemu/fake_pycuda (NumPy memory, kernels run by tests/cudaemu/emulator.py) first
# on sys.path before anything imports pycuda (TorchTrek imports it lazily, at the first
# tt.cuda call), so this suite runs without a GPU and catches host-side bugs.
EMULATED = os.environ.get("TORCHTREK_CUDA_EMULATOR", "") not in ("", "0")
if EMULATED:
    _loaded = sys.modules.get("pycuda")
    if _loaded is not None and not getattr(_loaded, "EMULATED", False):
        raise RuntimeError("TORCHTREK_CUDA_EMULATOR=1, but the real pycuda was imported already")
    _fake = str(Path(__file__).resolve().parents[1] / "cudaemu" / "fake_pycuda")
    if _fake not in sys.path:
        sys.path.insert(0, _fake)
    # child processes (tests that run a trapping kernel in one) simulate too
    _pp = os.environ.get("PYTHONPATH", "")
    if _fake not in _pp.split(os.pathsep):
        os.environ["PYTHONPATH"] = _fake + (os.pathsep + _pp if _pp else "")

import pytest

import torchtrek as tt


def pytest_report_header(config):
    if EMULATED:
        return "CUDA: simulated (TORCHTREK_CUDA_EMULATOR=1: tests/cudaemu/fake_pycuda, kernels on the CPU)"
    return None


def pytest_collection_modifyitems(config, items):
    if tt.cuda.is_available():
        return
    reason = ("TORCHTREK_CUDA_EMULATOR=1, but the CUDA emulator needs g++ (not found)" if EMULATED else
              "no CUDA GPU with pycuda here: run scripts/gpu_check.sh on a GPU machine, or set "
              "TORCHTREK_CUDA_EMULATOR=1 to simulate one")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "tests/cuda/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
