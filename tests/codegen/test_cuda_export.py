"""tt.export(target="cuda"): .cu kernels that nvcc compiles and a launcher that needs
only pycuda and numpy (running it needs a GPU: tests/cuda/test_cuda_export_run.py)."""

import ast
import subprocess

import pytest

import torchtrek as tt
from torchtrek.codegen.cuda.check import nvcc_path


def mlp_loss(x, w1, w2):
    h = tt.relu(x @ w1)
    return ((h @ w2) ** 2).mean()


def export(tmp_path):
    args = (tt.randn(8, 4), tt.randn(4, 16), tt.randn(16, 3))
    return tt.export(mlp_loss, *args, target="cuda", grad=True, out=tmp_path / "cu")


def test_cuda_export_writes_kernels_and_a_pycuda_launcher(tmp_path):
    path = export(tmp_path)
    folder = path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "mlp_loss.py", "mlp_loss_backward.cu", "mlp_loss_forward.cu"]
    tree = ast.parse(path.read_text())
    roots = {(n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
             for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names}
    assert roots == {"numpy", "pycuda"}
    text = path.read_text()
    assert "def forward(x, w1, w2):" in text and "def backward(x, w1, w2, grad_div=None):" in text


def test_exported_kernels_compile_with_nvcc(tmp_path):
    if nvcc_path() is None:
        pytest.skip("nvcc not found")
    folder = export(tmp_path).parent
    for cu in ("mlp_loss_forward.cu", "mlp_loss_backward.cu"):
        proc = subprocess.run([nvcc_path(), "-cubin", "-arch=sm_90", "-std=c++17", "-o",
                               str(tmp_path / "k.cubin"), str(folder / cu)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_cuda_export_is_deterministic(tmp_path):
    tt.manual_seed(0)
    a = export(tmp_path / "a").read_text()
    tt.manual_seed(0)
    b = export(tmp_path / "b").read_text()
    assert a == b
