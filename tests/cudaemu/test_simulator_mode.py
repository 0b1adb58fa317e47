"""The GPU tests that exercise host-side glue (devices, in-place writes, modules moved to
the GPU, float16 gradients, index assignment, the CUDA export) in CUDA simulator mode:
TorchTrek against a fake pycuda (fake_pycuda/) whose kernels run in the emulator. Each
bug the three GPU runs of 2026-11-26 found on the host side fails here. The whole of
tests/cuda runs the same way with TORCHTREK_CUDA_EMULATOR=1 (about 1 min warm, 4 cold)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import emulator as E

pytestmark = pytest.mark.skipif(not E.available(), reason="the CUDA emulator needs g++ (not found on PATH)")

ROOT = Path(__file__).resolve().parents[2]
GLUE_TESTS = [
    "tests/cuda/test_cuda_ops.py::test_devices_and_errors",
    "tests/cuda/test_cuda_ops.py::test_eager_in_place_ops_and_assignment_on_gpu",
    "tests/cuda/test_cuda_ops.py::test_device_arrays_of_every_shape_and_dtype_round_trip",
    "tests/cuda/test_cuda_ops.py::test_eager_fast_path_on_gpu_tensors",
    "tests/cuda/test_cuda_ops.py::test_mlp_training_step_on_gpu_matches_cpu",
    "tests/cuda/test_cuda_ops.py::test_index_ops_and_integer_reductions_on_gpu",
    "tests/cuda/test_cuda_ops.py::test_compiled_source_is_cuda_for_cuda_inputs",
    "tests/cuda/test_cuda_ops.py::test_float16_on_gpu_matches_torch_and_numpy_backend[log_softmax-eager]",
    "tests/cuda/test_cuda_windows.py::test_nn_module_moves_to_the_gpu_and_back",
    "tests/cuda/test_cuda_windows.py::test_nn_conv2d_module_on_gpu",
    "tests/cuda/test_cuda_export_run.py",
    "tests/cuda/test_cuda_threads.py",
]


def test_gpu_glue_tests_pass_in_simulator_mode():
    env = dict(os.environ, TORCHTREK_CUDA_EMULATOR="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *GLUE_TESTS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{len(GLUE_TESTS)} passed" in proc.stdout, proc.stdout[-2000:]
