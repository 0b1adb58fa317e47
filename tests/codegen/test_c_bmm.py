"""codegen/c/bmm.py: a batched matmul of small matrices runs as one C kernel calling NumPy's
OpenBLAS cblas_?gemm per matrix, threads splitting the batch. The same numbers as np.matmul
bit for bit (the same gemm calls) for every operand layout the NumPy glue hands it
(transposed views, strided slices it must copy, flipped and broadcast batch dims), both
thread paths, gradients as torch's; and which matmuls it takes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import torchtrek as tt
from torchtrek.codegen.c import bmm
from torchtrek.ir import dtypes
from torchtrek.ir.graph import Eqn, TensorType, Var
from torchtrek.runtime import native, openblas

pytestmark = [
    pytest.mark.skipif(not native.available(), reason="no C compiler"),
    pytest.mark.skipif(openblas.gemm_table() is None,
                       reason="NumPy's BLAS is not an OpenBLAS with 64-bit-integer cblas"),
]


def _rand(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _kernels(f, *args, backward=False):
    return re.findall(r"^void (k\d+_matmul)\(", f.source(*args, backward=backward), flags=re.M)


LAYOUTS = {
    # name: (base shapes, how the function reads its operands from them)
    "contiguous": (((8, 4, 64, 32), (8, 4, 32, 64)), lambda a, b: (a, b)),
    "q_kT": (((8, 64, 384),), lambda x: (
        x[:, :, :128].reshape(8, 64, 4, 32).transpose(1, 2),
        x[:, :, 128:256].reshape(8, 64, 4, 32).transpose(1, 2).transpose(-2, -1))),
    "strided_copy": (((6, 40, 64), (6, 32, 24)), lambda a, b: (a[:, :, ::2], b)),
    "flipped_batch": (((5, 16, 8), (5, 8, 16)), lambda a, b: (a.flip(0), b)),
    "three_batch_dims": (((2, 3, 4, 9, 7), (2, 3, 4, 7, 5)), lambda a, b: (a, b)),
    "vector_rows": (((16, 1, 32), (16, 32, 1)), lambda a, b: (a, b)),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bit_for_bit_np_matmul_for_every_layout(layout, dtype):
    shapes, views = LAYOUTS[layout]
    bases = [_rand(s, dtype, seed=i) for i, s in enumerate(shapes)]

    def fn(*xs):
        a, b = views(*xs)
        return a @ b

    f = tt.compile(fn, backend="c")
    ours = f(*[tt.tensor(x) for x in bases]).numpy()
    a, b = views(*[torch.tensor(x) for x in bases])
    want = np.matmul(a.numpy(), b.numpy())
    assert _kernels(f, *[tt.tensor(x) for x in bases]), "the batched kernel did not run"
    if layout == "vector_rows":  # np.matmul takes its dot product path there, not gemm
        np.testing.assert_allclose(ours, want, rtol=1e-6 if dtype == np.float32 else 1e-14)
    else:
        np.testing.assert_array_equal(ours, want)


@pytest.mark.parametrize("batch", [(2,), (64, 8)], ids=["one-thread", "threads"])
def test_gradients_as_torch_on_both_thread_paths(batch):
    a, b = _rand(batch + (16, 24)), _rand(batch + (24, 20), seed=1)
    g = _rand(batch + (16, 20), seed=2)
    f = tt.compile(lambda x, y: x @ y, backend="c")
    (at, bt), (ar, br) = [tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=True)], [
        torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    (f(at, bt) * tt.tensor(g)).sum().backward()
    ((ar @ br) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(at.grad.numpy(), ar.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bt.grad.numpy(), br.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert len(_kernels(f, at, bt, backward=True)) == 2


def test_eager_batched_matmul_uses_it_and_gives_torch_numbers():
    q, k = _rand((8, 4, 64, 32)), _rand((8, 4, 64, 32), seed=1)
    ours = tt.tensor(q) @ tt.tensor(k).transpose(-2, -1)
    np.testing.assert_array_equal(ours.numpy(), np.matmul(q, np.swapaxes(k, -1, -2)))


def _eqn(a_shape, b_shape, dtype=dtypes.float32):
    a, b = Var(TensorType(a_shape, dtype)), Var(TensorType(b_shape, dtype))
    out = Var(TensorType(a_shape[:-1] + b_shape[-1:], dtype))
    return Eqn("matmul", (a, b), (out,), ())


def test_which_matmuls_it_takes():
    assert bmm.BatchedMatmulKernel.fits(_eqn((8, 4, 64, 32), (8, 4, 32, 64)))
    assert bmm.BatchedMatmulKernel.fits(_eqn((3, 5, 7), (3, 7, 2), dtypes.float64))
    assert not bmm.BatchedMatmulKernel.fits(_eqn((64, 32), (32, 64)))  # no batch: one gemm
    assert not bmm.BatchedMatmulKernel.fits(_eqn((1, 64, 32), (1, 32, 64)))  # one matrix
    assert not bmm.BatchedMatmulKernel.fits(_eqn((8, 64, 32), (32, 64)))  # a 2-D operand
    assert not bmm.BatchedMatmulKernel.fits(_eqn((8, 1, 64, 32), (8, 4, 32, 64)))  # broadcast
    assert not bmm.BatchedMatmulKernel.fits(_eqn((4, 128, 128), (4, 128, 128)))  # OpenBLAS threads it
    assert not bmm.BatchedMatmulKernel.fits(_eqn((4, 8, 8), (4, 8, 8), dtypes.int64))


def test_a_source_line_naming_blas_needs_no_openblas(monkeypatch):
    # generated code quotes the user's lines in comments: only a wrapper's statement calling
    # _gemm_strides asks for OpenBLAS's gemm, not a comment that happens to say `_blas`
    monkeypatch.setattr(openblas, "gemm_table", lambda: None)
    my_blas = tt.tensor(_rand((64, 1024)))

    def fn(x):
        return (x * 2 + 1).exp()  # scaled like my_blas

    f = tt.compile(fn, backend="c")
    np.testing.assert_allclose(f(my_blas).numpy(), np.exp(my_blas.numpy() * 2 + 1), rtol=1e-6)
    assert "_blas" in f.source(my_blas) and "_gemm_strides(" not in f.source(my_blas)
