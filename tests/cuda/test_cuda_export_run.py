"""The CUDA export runs with pycuda and numpy and matches the NumPy export."""

import importlib.util

import numpy as np

import torchtrek as tt


def test_cuda_export_matches_numpy_export(tmp_path):
    rng = np.random.default_rng(0)
    x, w1 = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal((4, 16)).astype(np.float32)

    def f(x, w1):
        return tt.tanh(x @ w1).sum()

    args = (tt.tensor(x), tt.tensor(w1))
    mods = {}
    for target in ("numpy", "cuda"):
        path = tt.export(f, *args, target=target, grad=True, out=tmp_path / target, wrt=["x", "w1"])
        spec = importlib.util.spec_from_file_location(f"exp_{target}", path)
        mods[target] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mods[target])
    np.testing.assert_allclose(mods["cuda"].forward(x, w1), mods["numpy"].forward(x, w1), rtol=1e-5)
    g_cuda, g_np = mods["cuda"].backward(x, w1), mods["numpy"].backward(x, w1)
    for k in g_np:
        np.testing.assert_allclose(g_cuda[k], g_np[k], rtol=1e-4, atol=1e-5)
