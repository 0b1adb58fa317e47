"""The indexing family on the GPU (codegen/cuda/families/indexing.py: index, index_put,
scatter, slice_scatter, argselect, argmask, eye_mask) against the NumPy backend, and
torch on CUDA where installed: eager and compiled, forward and backward."""

import os
import subprocess
import sys

import numpy as np
import pytest

import torchtrek as tt

from gpu_harness import TORCH_CUDA, run_on, torch


def lib(x):
    return tt if isinstance(x, tt.Tensor) else torch


def f32(*shape):
    return ("f", shape)


def idx(values, dtype="int64"):
    return ("i", np.array(values, dtype=dtype))


# (name, fn, inputs, torch_comparable): float inputs get gradients; where the same
# element is assigned twice torch leaves the winner undefined (NumPy's is the last)
CASES = [
    ("getitem", lambda x, i: x[i] * 2, [f32(4, 5), idx([0, 3, -1, 0])], True),
    ("getitem_adjacent", lambda x, i, j: x[:, j, i], [f32(4, 5, 6), idx([0, 2, -1]), idx([[1], [3]])], True),
    ("getitem_separated", lambda x, i, j: x[j, :, i], [f32(4, 5, 6), idx([0, 2, -1]), idx([[1], [3]])], True),
    ("getitem_slice_and_tensor", lambda x, j: x[1:3, j], [f32(4, 5, 6), idx([[1], [-3]])], True),
    ("getitem_2d_index", lambda x, i: x[i], [f32(4, 3), idx([[0, 1], [3, 3], [-2, 0]])], True),
    ("getitem_empty_index", lambda x, i: x[i], [f32(4, 3), idx(np.zeros(0))], True),
    ("take", lambda x, i: x.take(i), [f32(3, 4), idx([[0, 11], [-1, 5]])], True),
    ("index_select", lambda x, i: x.index_select(1, i), [f32(3, 4), idx([3, 0, 3])], True),
    ("index_put_accumulate", lambda x, i, j, v: x.index_put((i, j), v, accumulate=True),
     [f32(3, 4), idx([0, 2, 0, 0]), idx([1, 1, 1, 3]), f32(4)], True),
    ("index_put_unique", lambda x, i, j, v: x.index_put((i, j), v),
     [f32(3, 4), idx([0, 2, 1]), idx([1, 1, 3]), f32(3)], True),
    ("index_put_duplicates", lambda x, i, j, v: x.index_put((i, j), v),
     [f32(3, 4), idx([0, 2, 0, 0]), idx([1, 1, 1, 3]), f32(4)], False),
    ("index_put_rows", lambda x, i, v: x.index_put((i,), v), [f32(3, 4), idx([0, 2]), f32(1, 4)], True),
    ("index_add", lambda x, i, v: x.index_add(1, i, v), [f32(3, 4), idx([0, 2, 0]), f32(3, 3)], True),
    ("scatter_unique", lambda x, i, s: x.scatter(1, i, s), [f32(3, 5), idx([[0, 4, 1], [1, 3, 2]]), f32(2, 3)],
     True),
    ("scatter_duplicates", lambda x, i, s: x.scatter(1, i, s),
     [f32(3, 5), idx([[0, 4, 0], [1, 1, 2]]), f32(2, 3)], False),
    ("scatter_value", lambda x, i: x.scatter(0, i, 1.5), [f32(3, 5), idx([[0, 2, 0], [1, 1, 2]])], True),
    ("scatter_add_reduce", lambda x, i, s: x.scatter(1, i, s, reduce="add"),
     [f32(3, 5), idx([[0, 4, 0], [1, 1, 2]]), f32(2, 3)], False),  # torch: no backward for reduce=
    ("gather", lambda x, i: x.gather(1, i), [f32(3, 5), idx([[0, 4, 0], [1, 1, 2]])], True),
    ("strided_slice", lambda x: x[::2, 1::3] * 3, [f32(5, 7)], True),
    ("strided_slice_3d", lambda x: x[1::2, :, ::3] * 3, [f32(4, 2, 7)], True),
    ("diagonal", lambda x: x.diagonal() * 2, [f32(4, 3)], True),
    ("max_dim", lambda x: x.max(1).values * 2, [f32(4, 6)], True),
    ("min_dim_keepdim", lambda x: x.min(0, keepdim=True)[0], [f32(4, 6)], True),
    ("max_last_dim_3d", lambda x: x.max(-1)[0], [f32(2, 3, 4)], True),
    ("trace", lambda x: x.trace() * x, [f32(3, 4)], True),
    ("einsum_diagonal", lambda x: lib(x).einsum("ii->i", x), [f32(4, 4)], True),
]


def _inputs(name, specs):
    rng = np.random.default_rng(sum(map(ord, name)))
    return [rng.standard_normal(s[1]).astype(np.float32) if s[0] == "f" else s[1] for s in specs]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,specs,torch_ok", CASES, ids=[c[0] for c in CASES])
def test_indexing_on_gpu_matches_numpy_backend(name, fn, specs, torch_ok, compiled):
    arrays = _inputs(name, specs)
    out_cpu, grads_cpu = run_on(fn, arrays, "cpu", compiled)
    out_gpu, grads_gpu = run_on(fn, arrays, "cuda", compiled)
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-5, atol=1e-6)
    for g, c in zip(grads_gpu, grads_cpu):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
    if TORCH_CUDA and torch_ok:
        ts = [torch.tensor(a, device="cuda", requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*ts)
        out.backward(torch.ones_like(out))
        np.testing.assert_allclose(out_gpu, out.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
        for g, t in zip(grads_gpu, [t for t in ts if t.requires_grad]):
            np.testing.assert_allclose(g, t.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


def _setitem(index):
    def fn(x, v):
        y = x * 2
        y[index] = v
        return y
    return fn


@pytest.mark.parametrize("index,vshape", [
    (([1, 3, 1],), (3, 4)),                      # duplicates: the last row wins
    ((slice(None), [2, 0, 2]), (3,)),            # broadcast value, duplicate columns
    ((1, [0, -1, 0]), (3,)),                     # an int, then a tensor
    ((slice(1, 3),), (2, 4)),                    # slice_scatter
    ((slice(None, None, 2), 1), (3,)),           # strided slice_scatter
])
def test_compiled_assignment_on_gpu_matches_numpy_backend(index, vshape):
    """y[index] = v inside tt.compile: index_put / slice_scatter, forward."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    v = rng.standard_normal(vshape).astype(np.float32)
    key = tuple(tt.tensor(np.array(k)) if isinstance(k, list) else k for k in index)
    outs = []
    for device in ("cpu", "cuda"):
        k = tuple(t.to(device) if isinstance(t, tt.Tensor) else t for t in key)
        f = tt.compile(_setitem(k if len(k) > 1 else k[0]))
        outs.append(f(tt.tensor(x, device=device), tt.tensor(v, device=device)).cpu().numpy())
    np.testing.assert_array_equal(outs[1], outs[0])


def test_last_write_wins_under_heavy_duplication():
    """Thousands of writes to 37 targets: the last entry in C order wins, as in NumPy."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal(100).astype(np.float32)
    i = rng.integers(-37, 37, 5000)
    v = rng.standard_normal(5000).astype(np.float32)
    want = x.copy()
    want[i] = v
    f = tt.compile(lambda x, i, v: x.index_put((i,), v))
    got = f(*(tt.tensor(a, device="cuda") for a in (x, i, v))).cpu().numpy()
    np.testing.assert_array_equal(got, want)
    # scatter along dim 1 of a (4, 50) tensor
    x2 = rng.standard_normal((4, 50)).astype(np.float32)
    i2 = rng.integers(0, 7, (4, 300))
    s2 = rng.standard_normal((4, 300)).astype(np.float32)
    want2 = x2.copy()
    np.put_along_axis(want2, i2, s2, axis=1)
    g = tt.compile(lambda x, i, s: x.scatter(1, i, s))
    got2 = g(*(tt.tensor(a, device="cuda") for a in (x2, i2, s2))).cpu().numpy()
    np.testing.assert_array_equal(got2, want2)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool", "float64"])
def test_accumulate_and_assign_per_dtype(dtype):
    """Atomic sums of every dtype (8/16-bit ones by compare-and-swap; int8 wraps and bool
    sums are a logical or, as in NumPy), assignment with duplicates, scatter, max."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (6, 7)).astype(dtype)
    v = rng.integers(100, 130, 2000).astype(dtype)
    i, j = rng.integers(-6, 6, 2000), rng.integers(0, 7, 2000)
    add, put = x.copy(), x.copy()
    np.add.at(add, (i, j), v)
    put[i, j] = v
    fa = tt.compile(lambda x, i, j, v: x.index_put((i, j), v, accumulate=True))
    fp = tt.compile(lambda x, i, j, v: x.index_put((i, j), v))
    args = [tt.tensor(a, device="cuda") for a in (x, i, j, v)]
    np.testing.assert_array_equal(fa(*args).cpu().numpy(), add)
    np.testing.assert_array_equal(fp(*args).cpu().numpy(), put)
    xi = tt.tensor(x, device="cuda")
    got = xi.scatter(1, tt.tensor(np.array([[0, 6, 0]]), device="cuda"),
                     tt.tensor(np.array([[1, 2, 3]]).astype(dtype), device="cuda")).cpu().numpy()
    want = x.copy()
    want[0, [0, 6, 0]] = np.array([1, 2, 3]).astype(dtype)
    np.testing.assert_array_equal(got, want)
    if dtype != "bool":
        np.testing.assert_array_equal(xi.max(1).values.cpu().numpy(), x.max(1))


def test_eye_and_argmask_on_gpu():
    x = np.random.default_rng(6).standard_normal((3, 5)).astype(np.float32)
    for device in ("cuda",):
        xt = tt.tensor(x, device=device, requires_grad=True)
        f = tt.compile(lambda x: x.trace() + x.max(0).values.sum())
        out = f(xt)
        out.backward()
        g = np.eye(3, 5, dtype=np.float32)
        g[x.argmax(0), np.arange(5)] += 1
        np.testing.assert_allclose(out.cpu().item(), np.trace(x) + x.max(0).sum(), rtol=1e-5)
        np.testing.assert_array_equal(xt.grad.cpu().numpy(), g)


def test_out_of_range_index_stops_the_kernel():
    """NumPy raises IndexError; a compiled kernel prints the index and traps (the CUDA
    context is lost, so this runs in a child process)."""
    code = ("import torchtrek as tt\n"
            "f = tt.compile(lambda x, i: x[i])\n"
            "x = tt.ones(4, 3, device='cuda')\n"
            "print(f(x, tt.tensor([1, 7], device='cuda')).cpu())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy(), cwd=os.getcwd())
    assert proc.returncode != 0, proc.stdout
    assert "index 7 is out of bounds for dimension 0 with size 4" in proc.stdout + proc.stderr or \
        "launch failed" in proc.stderr.lower() or "illegal" in proc.stderr.lower(), proc.stderr[-2000:]
