"""The native CPU backend (codegen/c): values and gradients of compiled functions on
backend="c" checked against torch (float32 and float64; softmax, cross_entropy, layer
norm, gelu, broadcasting chains, every reduction layout, NaN propagation), and the
generated source itself (kernels section, OpenMP, source comments, float32 math,
determinism, the size threshold, matmul left to NumPy, merge_dims)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.codegen.c import regions
from torchtrek.codegen.c.generator import CModule, generate, merge_dims
from torchtrek.runtime.native import CompileError

KERNELS = "/* ---- kernels.c ---- */"
DTYPES = [np.float32, np.float64]
VALUE_TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
GRAD_TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


@pytest.fixture(autouse=True)
def _default_threshold(monkeypatch):
    """Every test here runs with the shipped threshold unless it sets its own."""
    monkeypatch.delenv("TORCHTREK_C_MIN_NUMEL", raising=False)
    monkeypatch.delenv("TORCHTREK_BACKEND", raising=False)


# ------------------------------------------------------------------ helpers

def rand(shape, dtype, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def n_kernels(f, *args, backward=False):
    """How many C kernels the compiled function's (forward or backward) source defines."""
    src = f.source(*args, backward=backward)
    return len(re.findall(r"^void k\d+_\w*\(", src, flags=re.M))


def kernel_ops(f, *args):
    """The ops the C kernels compute (one per region, from the comment over each)."""
    src = f.source(*args)
    return re.findall(r"^/\* [a-z]+\d*\[[\d,]*\] = (\w+):", src, flags=re.M)


def close(ours, theirs, tol):
    ours = ours.detach().numpy() if isinstance(ours, tt.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    # NaNs must sit where torch has them (assert_allclose compares NaN positions too)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, **tol)


def leaves(*arrays):
    """The same data as torchtrek and torch leaves that require grad."""
    ours = [tt.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def kernel_bodies(c_source):
    """The kernels' code: past the vector-math declarations, comments removed."""
    body = c_source.split("#endif", 1)[-1] if "#ifdef TT_VECTOR_MATH" in c_source else c_source
    return re.sub(r"/\*.*?\*/", "", body, flags=re.S)


# ------------------------------------------------------------------ softmax family

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_and_log_softmax_values_and_grads(dtype, dim):
    x = rand((64, 128), dtype, seed=1, scale=3.0)
    g = rand((64, 128), dtype, seed=2)

    def fn(x):
        return F.softmax(x, dim=dim), F.log_softmax(x, dim=dim)

    f = tt.compile(fn, backend="c")
    (xt,), (xr,) = leaves(x)
    sm, lsm = f(xt)
    sm_r, lsm_r = TF.softmax(xr, dim=dim), TF.log_softmax(xr, dim=dim)
    close(sm, sm_r, VALUE_TOL[dtype])
    close(lsm, lsm_r, VALUE_TOL[dtype])
    assert n_kernels(f, xt) >= 1
    ((sm * tt.tensor(g)).sum() + (lsm * tt.tensor(g)).sum()).backward()
    ((sm_r * torch.tensor(g)).sum() + (lsm_r * torch.tensor(g)).sum()).backward()
    close(xt.grad, xr.grad, GRAD_TOL[dtype])
    assert n_kernels(f, xt, backward=True) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_row_group_sums_the_exponentials_it_wrote(dtype):
    # in training a masked softmax's row group writes exp(x - max) (the backward's residual)
    # and then sums it: the sum reads the row back (one exp per element, not two); values
    # and gradients as torch's, a fully masked row NaN
    x = rand((8, 4, 64, 64), dtype, seed=3, scale=2.0)
    mask = np.tril(np.ones((64, 64), bool))
    mask[5] = False

    def fn(x, m):
        return F.softmax(x.masked_fill(m == 0, float("-inf")) * 0.5, dim=-1)

    f = tt.compile(fn, backend="c")
    (xt,), (xr,) = leaves(x)
    ours = f(xt, tt.tensor(mask))
    theirs = TF.softmax(xr.masked_fill(torch.tensor(mask) == 0, float("-inf")) * 0.5, dim=-1)
    close(ours, theirs, VALUE_TOL[dtype])
    g = rand(x.shape, dtype, seed=4)
    (ours * tt.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    close(xt.grad, xr.grad, GRAD_TOL[dtype])
    body = kernel_bodies(f.source(xt, tt.tensor(mask)))
    group = re.search(r"void k\d+_rows_amax\w*\(.*?\n}\n", body, flags=re.S).group(0)
    assert len(re.findall(r"\bexpf?\(|tt_expf\(", group)) == 1, group


@pytest.mark.parametrize("rows, parallel", [(1024, True), (256, False)])
def test_row_groups_run_rows_in_parallel_from_row_parallel_min(rows, parallel):
    # 1024 rows of 64: 65536 elements, a softmax's worth of exp per element pays for the
    # threads (generator.ROW_PARALLEL_MIN); 256 rows stay on one thread
    from torchtrek.codegen.c.generator import ROW_PARALLEL_MIN

    x = tt.tensor(rand((rows, 64), np.float32, seed=5), requires_grad=True)
    f = tt.compile(lambda x: F.softmax(x, dim=-1), backend="c")
    close(f(x), TF.softmax(torch.tensor(x.detach().numpy()), dim=-1), VALUE_TOL[np.float32])
    group = re.search(r"void k\d+_rows_\w*\(.*?\n}\n", kernel_bodies(f.source(x)), flags=re.S).group(0)
    assert ("omp parallel for" in group) == parallel == (rows * 64 >= ROW_PARALLEL_MIN)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("ignored", [False, True], ids=["all-targets", "ignore_index"])
def test_cross_entropy_values_and_grads(dtype, ignored):
    x = rand((64, 128), dtype, seed=3, scale=2.0)
    target = np.random.default_rng(4).integers(0, 128, 64)
    if ignored:
        target[[0, 5, 17, 63]] = -100

    f = tt.compile(lambda x, t: F.cross_entropy(x, t, ignore_index=-100), backend="c")
    (xt,), (xr,) = leaves(x)
    loss = f(xt, tt.tensor(target))
    loss_r = TF.cross_entropy(xr, torch.tensor(target), ignore_index=-100)
    close(loss, loss_r, VALUE_TOL[dtype])
    assert n_kernels(f, xt, tt.tensor(target)) >= 1
    loss.backward()
    loss_r.backward()
    close(xt.grad, xr.grad, GRAD_TOL[dtype])
    if ignored:  # the rows of ignored targets get no gradient at all
        assert not np.any(xt.grad.numpy()[[0, 5, 17, 63]])


# ------------------------------------------------------------------ layer norm, gelu, broadcasting

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_layer_norm_forward_and_backward_inside_compile(dtype):
    x, w, b = rand((64, 128), dtype, 5, 2.0), rand((128,), dtype, 6), rand((128,), dtype, 7)
    g = rand((64, 128), dtype, 8)

    def step(x, w, b, g):
        y = F.layer_norm(x, (128,), w, b, eps=1e-5)
        loss = (y * g).sum()
        loss.backward()
        return y

    (xt, wt, bt), (xr, wr, br) = leaves(x, w, b)
    f = tt.compile(step, backend="c")
    y = f(xt, wt, bt, tt.tensor(g))
    y_r = TF.layer_norm(xr, (128,), wr, br, eps=1e-5)
    (y_r * torch.tensor(g)).sum().backward()
    close(y, y_r, dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else VALUE_TOL[dtype])
    for ours, theirs in ((xt, xr), (wt, wr), (bt, br)):
        close(ours.grad, theirs.grad, GRAD_TOL[dtype])
    assert n_kernels(f, xt, wt, bt, tt.tensor(g)) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_layer_norm_backward_outside_compile(dtype):
    x, w, b = rand((128, 96), dtype, 9), rand((96,), dtype, 10), rand((96,), dtype, 11)
    f = tt.compile(lambda x, w, b: F.layer_norm(x, (96,), w, b), backend="c")
    (xt, wt, bt), (xr, wr, br) = leaves(x, w, b)
    y = f(xt, wt, bt)
    y_r = TF.layer_norm(xr, (96,), wr, br)
    close(y, y_r, dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else VALUE_TOL[dtype])
    (y * y).sum().backward()
    (y_r * y_r).sum().backward()
    for ours, theirs in ((xt, xr), (wt, wr), (bt, br)):
        close(ours.grad, theirs.grad, GRAD_TOL[dtype])
    assert n_kernels(f, xt, wt, bt, backward=True) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_gelu_tanh_forward_and_grad(dtype):
    x = rand((64, 128), dtype, 12, 3.0)
    f = tt.compile(lambda x: F.gelu(x, approximate="tanh"), backend="c")
    (xt,), (xr,) = leaves(x)
    close(f(xt), TF.gelu(xr, approximate="tanh"), VALUE_TOL[dtype])
    assert n_kernels(f, xt) >= 1

    grad = tt.grad(lambda x: F.gelu(x, approximate="tanh").sum())
    TF.gelu(xr, approximate="tanh").sum().backward()
    close(grad(tt.tensor(x)), xr.grad, GRAD_TOL[dtype])
    # and through the compiled function's own backward
    f(xt).sum().backward()
    close(xt.grad, xr.grad, GRAD_TOL[dtype])
    assert n_kernels(f, xt, backward=True) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_broadcasting_chain_values_and_grads(dtype):
    x, w, b = rand((64, 128), dtype, 13), rand((128,), dtype, 14), rand((64, 1), dtype, 15)

    def chain(x, w, b):
        return (x - x.mean(1, keepdim=True)) * w[None, :] + b

    f = tt.compile(chain, backend="c")
    (xt, wt, bt), (xr, wr, br) = leaves(x, w, b)
    y, y_r = f(xt, wt, bt), chain(xr, wr, br)
    close(y, y_r, VALUE_TOL[dtype])
    assert n_kernels(f, xt, wt, bt) >= 1
    g = rand((64, 128), dtype, 16)
    (y * tt.tensor(g)).sum().backward()
    (y_r * torch.tensor(g)).sum().backward()
    for ours, theirs in ((xt, xr), (wt, wr), (bt, br)):
        close(ours.grad, theirs.grad, GRAD_TOL[dtype])


# ------------------------------------------------------------------ reductions

REDUCTION_CASES = [(op, dim) for op in ("sum", "amax", "amin") for dim in (0, 1, (0, 1))]
REDUCTION_CASES += [("prod", 0), ("prod", 1)]


def reduce_with(lib, op, x, dim, keepdim):
    if op == "prod":
        return lib.prod(x, dim=dim, keepdim=keepdim)
    return getattr(lib, op)(x, dim=dim, keepdim=keepdim)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("op,dim", REDUCTION_CASES, ids=lambda v: str(v).replace(" ", ""))
def test_reductions_over_2d_values_and_grads(op, dim, dtype):
    x = rand((64, 128), dtype, 17)

    def fn(lib):
        def reduce2(x):
            y = 1 + 0.01 * x if op == "prod" else x * 1.5 + 0.25  # a fused producer tree
            return reduce_with(lib, op, y, dim, False), reduce_with(lib, op, y, dim, True)
        return reduce2

    f = tt.compile(fn(tt), backend="c")
    (xt,), (xr,) = leaves(x)
    outs, outs_r = f(xt), fn(torch)(xr)
    for ours, theirs in zip(outs, outs_r):
        close(ours, theirs, VALUE_TOL[dtype])
    assert op in kernel_ops(f, xt)
    ((outs[0] * 2).sum() + (outs[1] * 3).sum()).backward()
    ((outs_r[0] * 2).sum() + (outs_r[1] * 3).sum()).backward()
    close(xt.grad, xr.grad, GRAD_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("op", ["sum", "amax", "amin", "prod"])
def test_reductions_over_3d_middle_inner_and_outer_dims(op, dtype):
    x = rand((16, 32, 24), dtype, 18)
    dims = [1, -1, 0] if op == "prod" else [1, -1, (0, 2), (1, 2)]

    def fn(lib):
        def reduce3(x):
            y = lib.exp(0.1 * x)
            return tuple(reduce_with(lib, op, y, d, k) for d in dims for k in (False, True))
        return reduce3

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(x)), fn(torch)(torch.tensor(x))):
        close(ours, theirs, VALUE_TOL[dtype])
    assert op in kernel_ops(f, tt.tensor(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_reduction_of_a_size_one_dim(dtype):
    x = rand((64, 1, 128), dtype, 19)

    def fn(lib):
        return lambda x: (lib.sum(x * 2, dim=1), lib.amax(x - 1, dim=1, keepdim=True),
                          lib.amin(x + 1, dim=1), lib.prod(x * 3, dim=1, keepdim=True))

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(x)), fn(torch)(torch.tensor(x))):
        close(ours, theirs, VALUE_TOL[dtype])
    assert n_kernels(f, tt.tensor(x)) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_full_reductions_of_a_raw_input(dtype):
    x = rand((128, 96), dtype, 20)

    def fn(lib):
        return lambda x: (lib.sum(x), lib.amax(x), lib.amin(x), lib.prod(1 + 0.001 * x))

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(x)), fn(torch)(torch.tensor(x))):
        close(ours, theirs, dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else VALUE_TOL[dtype])
    assert n_kernels(f, tt.tensor(x)) >= 1


def test_float32_sum_accumulates_precisely():
    # 2**20 copies of 0.1f: a float32 running sum drifts by ~1e-4 relative, torch's and
    # the kernel's (double accumulator) stay at float32 rounding
    x = np.full((1024, 1024), 0.1, np.float32)
    f = tt.compile(lambda x: (x.sum(), x.sum(0), x.sum(1)), backend="c")
    total, cols, rows = f(tt.tensor(x))
    exact = float(np.float32(0.1)) * x.size
    assert abs(total.item() - exact) <= 1e-6 * exact
    close(cols, torch.tensor(x).sum(0), dict(rtol=1e-6, atol=0))
    close(rows, torch.tensor(x).sum(1), dict(rtol=1e-6, atol=0))
    assert n_kernels(f, tt.tensor(x)) >= 1


def test_broadcast_operands_reduced_to_one_value():
    # the reduced dims do not merge (a[:, None] + b[None, :] has no dense layout), the
    # result is one value; big enough for the parallel path
    a, b = rand((600,), np.float32, 21), rand((500,), np.float32, 22)
    a[7] = np.nan

    def fn(lib):
        return lambda a, b: (lib.amax(a[:, None] * b[None, :]), lib.amin(a[:, None] - b[None, :]),
                             lib.sum(lib.tanh(a[1:, None] + b[None, :])))

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(a), tt.tensor(b)), fn(torch)(torch.tensor(a), torch.tensor(b))):
        close(ours, theirs, dict(rtol=1e-5, atol=1e-4))
    assert n_kernels(f, tt.tensor(a), tt.tensor(b)) >= 1


# ------------------------------------------------------------------ NaN semantics

def with_nans(shape, dtype, seed):
    x = rand(shape, dtype, seed)
    x[3, 5] = np.nan  # one NaN in a row and a column
    x[10, :] = np.nan  # a whole row
    x[:, 7] = np.nan  # a whole column
    return x


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape", [(64, 128), (512, 640)], ids=["serial", "parallel"])
def test_amax_amin_propagate_nan_like_torch(shape, dtype):
    x = with_nans(shape, dtype, 23)
    x[20, 30] = np.inf
    x[21, 31] = -np.inf

    def fn(lib):
        return lambda x: (lib.amax(x, dim=1), lib.amin(x, dim=1), lib.amax(x * 2, dim=0),
                          lib.amin(x * 2, dim=0), lib.amax(x - 1), lib.amin(x + 1))

    f = tt.compile(fn(tt), backend="c")
    outs, outs_r = f(tt.tensor(x)), fn(torch)(torch.tensor(x))
    for ours, theirs in zip(outs, outs_r):
        close(ours, theirs, VALUE_TOL[dtype])
    assert np.isnan(outs[0].numpy()).sum() == shape[0]  # every row has the NaN column
    assert np.isnan(outs[2].numpy()).sum() == shape[1]  # every column has the NaN row
    assert {"amax", "amin"} <= set(kernel_ops(f, tt.tensor(x)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_clamp_relu_maximum_with_nan_inputs(dtype):
    x = with_nans((64, 128), dtype, 24)

    def fn(lib):
        return lambda x: (lib.clamp(x * 2, -0.5, 0.5), lib.clamp(x + 1, min=0.0), lib.clamp(x - 1, max=0.0),
                          lib.relu(x * 3), lib.maximum(x * 2, x.flip(0)), lib.minimum(x + 0, x.flip(1)))

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(x)), fn(torch)(torch.tensor(x))):
        close(ours, theirs, VALUE_TOL[dtype])
    assert n_kernels(f, tt.tensor(x)) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_where_based_ops(dtype):
    x = with_nans((64, 128), dtype, 25)
    x[0, :4] = [np.inf, -np.inf, 0.0, -0.0]
    mask = np.random.default_rng(26).random((64, 128)) > 0.5

    def fn(lib):
        return lambda x, m: (
            lib.where(x > 0, x * 2, lib.exp(x)),
            lib.where(x != x, 0.0, x) * 2,  # NaN test through a comparison
            lib.where(m, x, -x) + 1,  # a bool input
            (x > 0.5).to(x.dtype) * x + 1,  # a bool-to-float cast
            lib.where(x < 0.3, 0.0, x).sum(1),  # a masked sum: where inlined into a reduction
            lib.where(x > 0.5, x, float("-inf")).amax(0),
            lib.where(x > 0, x, float("nan")) * 3,
        )

    f = tt.compile(fn(tt), backend="c")
    args = (tt.tensor(x), tt.tensor(mask))
    for ours, theirs in zip(f(*args), fn(torch)(torch.tensor(x), torch.tensor(mask))):
        close(ours, theirs, VALUE_TOL[dtype])
    assert n_kernels(f, *args) >= 1


def test_where_grads_with_masks():
    x = rand((64, 128), np.float64, 27)

    def fn(lib):
        return lambda x: lib.where(x > 0, lib.tanh(x), 0.1 * x).sum()

    (xt,), (xr,) = leaves(x)
    f = tt.compile(fn(tt), backend="c")
    f(xt).backward()
    fn(torch)(xr).backward()
    close(xt.grad, xr.grad, GRAD_TOL[np.float64])
    assert n_kernels(f, xt, backward=True) >= 1


@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 1, 0), (0, 2, 1)])
def test_permuted_and_broadcast_operands(perm):
    x = rand((24, 32, 40), np.float32, 28)
    b = rand(((24, 32, 40)[perm[-1]],), np.float32, 29)

    def fn(lib):
        return lambda x, b: (lib.tanh(x.permute(*perm)) * 2 + b,
                             lib.sum(lib.exp(x.permute(*perm) * 0.1) + b, dim=1),
                             lib.amax(lib.exp(x.permute(*perm) * 0.1) - b, dim=(0, 2)))

    f = tt.compile(fn(tt), backend="c")
    for ours, theirs in zip(f(tt.tensor(x), tt.tensor(b)), fn(torch)(torch.tensor(x), torch.tensor(b))):
        close(ours, theirs, VALUE_TOL[np.float32])
    assert n_kernels(f, tt.tensor(x), tt.tensor(b)) >= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_row_kernels_over_3d_rows_with_nan(dtype):
    # softmax / layer norm / row statistics over the last dim of a 3-D tensor (rows over
    # two dims), one row holding a NaN; called twice with different data
    x = rand((8, 16, 64), dtype, 33, 2.0)
    x[1, 2, 3] = np.nan

    def fn(lib, fn_):
        return lambda x: (fn_.softmax(x, dim=-1), fn_.layer_norm(x, (64,)),
                          (x - x.amax(-1, keepdim=True)) * x.amin(-1, keepdim=True)
                          + lib.prod(1 + 0.01 * x, -1, keepdim=True),
                          lib.logsumexp(x.transpose(0, 1), dim=-1))

    f = tt.compile(fn(tt, F), backend="c")
    for data in (x, x * 1.7 + 0.3):
        for ours, theirs in zip(f(tt.tensor(data)), fn(torch, TF)(torch.tensor(data))):
            close(ours, theirs, dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else VALUE_TOL[dtype])
    assert n_kernels(f, tt.tensor(x)) >= 1


def test_row_statistic_broadcast_with_keepdim_on_a_square_matrix():
    x1, x2 = rand((64, 64), np.float32, 34), rand((64, 64), np.float32, 35)

    def fn(lib):
        return lambda x: (x - x.amax(1, keepdim=True), lib.exp(x) / lib.exp(x).sum(1, keepdim=True))

    f = tt.compile(fn(tt), backend="c")
    for x in (x1, x2):
        for ours, theirs in zip(f(tt.tensor(x)), fn(torch)(torch.tensor(x))):
            close(ours, theirs, VALUE_TOL[np.float32])


# ------------------------------------------------------------------ regressions (bugs found and fixed)

@pytest.mark.parametrize("op", ["amax", "sum"])
def test_row_statistic_broadcast_along_the_other_dim(op):
    x1, x2 = rand((64, 64), np.float32, 36), rand((64, 64), np.float32, 37) * 2 + 1

    def fn(lib):
        return lambda x: x - getattr(lib, op)(x * 2, dim=1)  # [64, 64] - [64]: rows of columns

    f = tt.compile(fn(tt), backend="c")
    for x in (x1, x2):
        close(f(tt.tensor(x)), fn(torch)(torch.tensor(x)), dict(rtol=1e-5, atol=1e-4))


def test_comparison_of_a_float16_tensor_inside_a_float32_region():
    h = rand((64, 128), np.float16, 30)
    x = rand((64, 128), np.float32, 31)

    def fn(lib):
        return lambda h, x: lib.where(h > 0, x * 2, lib.exp(x))

    f = tt.compile(fn(tt), backend="c")
    close(f(tt.tensor(h), tt.tensor(x)), fn(torch)(torch.tensor(h), torch.tensor(x)),
          VALUE_TOL[np.float32])


def _comment_with_c_terminator(x):
    return tt.exp(x) * 2  # ratio: x */ 2, not x / 2


def test_source_line_with_comment_terminator_compiles():
    x = rand((64, 128), np.float32, 32)
    f = tt.compile(_comment_with_c_terminator, backend="c")
    close(f(tt.tensor(x)), torch.exp(torch.tensor(x)) * 2, VALUE_TOL[np.float32])


# ------------------------------------------------------------------ the generated source

def marked(x):
    y = tt.tanh(x) * 3.0 + tt.exp(x)  # MARK-SOURCE-LINE
    return y, F.softmax(y, dim=1)


def marked_torch(x):
    y = torch.tanh(x) * 3.0 + torch.exp(x)
    return y, TF.softmax(y, dim=1)


MARK_LINE = inspect.getsourcelines(marked)[1] + 1


def test_source_shows_python_glue_and_c_kernels():
    x = tt.randn(64, 128)
    src = tt.compile(marked, backend="c").source(x)
    assert src.count(KERNELS) == 1
    py, c = src.split(KERNELS)
    assert "import numpy as np" in py and "_call(_k.k0_" in py
    assert re.search(r"_out\(0, \(\d+, \d+\), np\.float32\)", py)  # a pooled output buffer
    assert "np.exp" not in py and "np.tanh" not in py  # all in the kernels
    assert "#pragma omp" in c and "#include <math.h>" in c
    assert re.search(r"^void k\d+_\w+\(const float\* restrict in0", c, flags=re.M)
    # the user's line, with file and line number, on both sides
    where = f"test_c_codegen.py:{MARK_LINE}"
    assert f"# {where}: y = tt.tanh(x) * 3.0 + tt.exp(x)  # MARK-SOURCE-LINE" in py
    assert re.search(r"/\*.*" + re.escape(where) + r".*MARK-SOURCE-LINE.*\*/", c)


def test_float32_kernels_use_float32_math_and_float64_kernels_double():
    fn = lambda x: (F.gelu(x, approximate="tanh"), F.softmax(x * 0.1, dim=1))  # noqa: E731
    src32 = tt.compile(fn, backend="c").source(tt.randn(64, 128))
    src64 = tt.compile(fn, backend="c").source(tt.randn(64, 128, dtype=tt.float64))
    body32 = kernel_bodies(src32.split(KERNELS)[1])
    body64 = kernel_bodies(src64.split(KERNELS)[1])
    assert "expf(" in body32 and "tanhf(" in body32
    # no double function and no double literal: float32 data is computed in float32
    assert not re.search(r"\b(exp|tanh|log|sqrt|erf|pow)\(", body32)
    assert not re.search(r"(?<![\w.])\d+\.\d*(e[-+]?\d+)?(?![\w.])", body32)
    assert re.search(r"\bexp\(", body64) and re.search(r"\btanh\(", body64)
    assert not re.search(r"\b(expf|tanhf)\(", body64)
    assert "const double* restrict in0" in body64 and "float" not in body64


def test_generation_is_deterministic(monkeypatch):
    monkeypatch.setenv("TORCHTREK_CACHE", "0")  # generate every time, no disk cache
    x = tt.randn(64, 128)
    a = generate(tt.trace(marked, x))
    b = generate(tt.trace(marked, tt.randn(64, 128)))
    assert a.kernels and (a.py_source, a.c_source, a.text) == (b.py_source, b.c_source, b.text)
    assert a.text == a.py_source + "\n\n" + KERNELS + "\n" + a.c_source
    assert [(k.name, k.n_args) for k in a.kernels] == [(k.name, k.n_args) for k in b.kernels]
    # every kernel output has a pool slot of its own
    slots = sorted(int(n) for n in re.findall(r"_out\((\d+), ", a.py_source))
    assert slots == list(range(a.n_slots)) and a.n_slots >= len(a.kernels)
    again = CModule.from_dict(a.to_dict())
    assert (again.text, again.fn_name, again.kernels, again.n_slots) == \
        (a.text, a.fn_name, a.kernels, a.n_slots)
    # and through tt.compile, forward and backward
    x.requires_grad_(True)
    c1, c2 = (tt.compile(marked, backend="c")._entry([x], {}).compiled for _ in range(2))
    assert not c1.from_cache and not c2.from_cache
    assert (c1.forward_source, c1.backward_source) == (c2.forward_source, c2.backward_source)
    assert KERNELS in c1.forward_source and KERNELS in c1.backward_source


def test_each_kernel_parameter_is_one_distinct_operand():
    m = generate(tt.trace(lambda x, y: x * x + y / y, tt.randn(64, 128), tt.randn(64, 128)))
    assert len(m.kernels) == 1 and m.kernels[0].n_args == 3  # x, y, out
    assert "in2" not in m.c_source


def test_small_graphs_stay_numpy():
    assert regions.min_numel() == 4096
    x = tt.randn(32, 64)  # 2048 elements
    m = generate(tt.trace(marked, x))
    assert m.kernels == [] and m.c_source == "" and m.text == m.py_source
    f = tt.compile(marked, backend="c")
    src = f.source(x)
    assert KERNELS not in src and "_lib." not in src and "np.exp" in src and "np.tanh" in src
    for ours, theirs in zip(f(x), marked_torch(torch.tensor(x.numpy()))):
        close(ours, theirs, VALUE_TOL[np.float32])
    # a threshold of 0 gives the same graph kernels, from the argument or the environment
    assert generate(tt.trace(marked, x), threshold=0).kernels


def test_threshold_follows_the_environment(monkeypatch):
    x = tt.randn(8, 8)
    monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", "0")
    assert regions.min_numel() == 0
    f = tt.compile(lambda x: tt.tanh(x) * 2 + x.sum(1, keepdim=True), backend="c")
    assert n_kernels(f, x) >= 1
    xr = torch.tensor(x.numpy())
    close(f(x), torch.tanh(xr) * 2 + xr.sum(1, keepdim=True), VALUE_TOL[np.float32])
    monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", str(10**9))
    assert generate(tt.trace(marked, tt.randn(64, 128))).kernels == []


def test_matmul_stays_numpy():
    def mlp(x, w, b):
        return tt.tanh(x @ w + b)

    args = (tt.randn(64, 96), tt.randn(96, 128), tt.randn(128))
    m = generate(tt.trace(mlp, *args))
    assert "np.matmul(x, w)" in m.py_source
    assert len(m.kernels) == 1 and "matmul" not in kernel_bodies(m.c_source)
    f = tt.compile(mlp, backend="c")
    assert "np.matmul" in f.source(*args) and KERNELS in f.source(*args)
    xr, wr, br = (torch.tensor(a.numpy()) for a in args)
    close(f(*args), torch.tanh(xr @ wr + br), dict(rtol=1e-5, atol=1e-5))


# ------------------------------------------------------------------ merge_dims

def test_merge_dims_merges_dense_neighbours():
    sizes, strides, kinds = merge_dims([4096, 1000], [[1000, 1], [1000, 1]])
    assert (sizes, strides, kinds) == ([4096000], [[1], [1]], [False])


def test_merge_dims_drops_size_one_dims():
    assert merge_dims([64, 1, 128], [[128, 128, 1]]) == ([8192], [[1]], [False])
    assert merge_dims([1, 1], [[1, 1]]) == ([], [[]], [])


def test_merge_dims_keeps_broadcast_and_transposed_dims_apart():
    # a row vector broadcast down the rows: its stride-0 dim cannot merge with the next
    assert merge_dims([64, 128], [[128, 1], [0, 1]]) == ([64, 128], [[128, 1], [0, 1]], [False, False])
    # a column broadcast along the rows
    assert merge_dims([64, 128], [[128, 1], [1, 0]]) == ([64, 128], [[128, 1], [1, 0]], [False, False])
    # a transposed operand
    assert merge_dims([64, 128], [[1, 64], [128, 1]])[0] == [64, 128]
    # two stride-0 dims of one operand merge with each other
    assert merge_dims([4, 5, 6], [[0, 0, 1], [30, 6, 1]]) == ([20, 6], [[0, 1], [6, 1]], [False, False])


def test_merge_dims_keeps_reduced_and_kept_dims_apart():
    assert merge_dims([8, 16], [[16, 1]], [False, True]) == ([8, 16], [[16, 1]], [False, True])
    assert merge_dims([8, 16, 4], [[64, 4, 1]], [False, True, True]) == ([8, 64], [[64, 1]], [False, True])
    assert merge_dims([8, 1, 16], [[16, 16, 1]], [True, False, True]) == ([128], [[1]], [True])
