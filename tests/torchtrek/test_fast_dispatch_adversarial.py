"""Adversarial tests of the eager fast path (torchtrek/_dispatch.py fast_binary /
fast_unary): binary + - * / and one-tensor pointwise ops on CPU tensors that need no
gradient. Every case runs at least twice (the first call plans, later calls run the plan)
and is compared with torch: dtype, shape, values, aliasing, versions, autograd and errors.

Tests marked xfail(strict=True) demonstrate bugs (see their reasons)."""

import itertools

import numpy as np
import pytest
import torch

import torchtrek as tt
from torchtrek import _dispatch

FLOATS = ["float16", "float32", "float64"]
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "div": lambda a, b: a / b}


def _arr(dtype, shape, seed):
    r = np.random.default_rng(seed)
    if dtype == "bool":
        return r.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        return r.integers(1, 5, shape).astype(dtype)
    return (r.standard_normal(shape) * 3 + 0.5).astype(dtype)


def _mk(m, a):
    return m.tensor(a)


def _same(got, want, rtol=None):
    assert isinstance(got, tt.Tensor), type(got)
    assert got.dtype.name == str(want.dtype).split(".")[1], (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    assert got.numpy().dtype == np.dtype(got.dtype.name)  # the array agrees with the dtype
    if rtol is None:
        rtol = 1e-3 if got.dtype.name == "float16" else 1e-6
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64),
                               rtol=rtol, atol=0, equal_nan=True)


# ---------------------------------------------------------------- promotion vs torch
@pytest.mark.parametrize("op", sorted(OPS))
def test_tensor_tensor_promotion_with_zero_dim_operands(op):
    f = OPS[op]
    dtypes = FLOATS + ["int64", "int32", "uint8", "bool"]
    for d1, d2 in itertools.product(dtypes, dtypes):
        if op == "sub" and "bool" in (d1, d2):
            continue  # (see test_bool_subtraction_raises_like_torch)
        for s1, s2 in (((3,), (3,)), ((), (3,)), ((3,), ()), ((), ()), ((2, 1), (3,))):
            a, b = _arr(d1, s1, 1), _arr(d2, s2, 2)
            want = f(torch.tensor(a), torch.tensor(b))
            for _ in range(2):
                _same(f(tt.tensor(a), tt.tensor(b)), want)


SCALARS = [2, -3, 0, 2.5, 0.1, -0.0, 1e-3, 1e30, float("inf"), float("nan"), True, 2 ** 40]


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_python_scalars_on_either_side(op, dtype):
    f = OPS[op]
    for shape in ((5,), (), (2, 3)):
        a = _arr(dtype, shape, 3)
        for s in SCALARS:
            if op == "sub" and isinstance(s, bool):
                continue
            for left in (False, True):
                want = f(s, torch.tensor(a)) if left else f(torch.tensor(a), s)
                for _ in range(3):
                    got = f(s, tt.tensor(a)) if left else f(tt.tensor(a), s)
                    _same(got, want)


@pytest.mark.parametrize("op", sorted(OPS))
def test_float16_with_moderate_python_scalars(op):
    f = OPS[op]
    a = _arr("float16", (7,), 4)
    for s in (2, 3, 0.5, 2.5, -1.25, 100.0):
        for left in (False, True):
            want = f(s, torch.tensor(a)) if left else f(torch.tensor(a), s)
            for _ in range(2):
                _same(f(s, tt.tensor(a)) if left else f(tt.tensor(a), s), want, rtol=2e-3)


@pytest.mark.parametrize("case", ["div_big", "rdiv_big", "mul_tiny", "zero_dim_tensor"])
def test_float16_with_scalars_outside_float16_range(case):
    a = np.full(4, 1000.0, np.float16)
    f = {"div_big": lambda m, x: x / 70000.0, "rdiv_big": lambda m, x: 70000.0 / x,
         "mul_tiny": lambda m, x: x * 1e-7, "zero_dim_tensor": lambda m, x: x / m.tensor(70000.0)}[case]
    want = f(torch, torch.tensor(a))
    for _ in range(2):
        _same(f(tt, tt.tensor(a)), want, rtol=1e-3)


def test_integer_tensors_with_python_scalars():
    for dtype in ("int64", "int32", "uint8"):
        a = _arr(dtype, (4,), 5)
        for op, f in OPS.items():
            for s in (2, 3, 2.5):
                for left in (False, True):
                    want = f(s, torch.tensor(a)) if left else f(torch.tensor(a), s)
                    for _ in range(2):
                        _same(f(s, tt.tensor(a)) if left else f(tt.tensor(a), s), want)


def test_narrow_int_tensors_with_out_of_range_python_ints_wrap_like_torch():
    for dtype, s in (("uint8", -1), ("uint8", 300), ("int8", 200), ("int16", -70000)):
        a = np.array([1, 2, 3], dtype)
        _same(tt.tensor(a) + s, torch.tensor(a) + s)
        _same(s * tt.tensor(a), s * torch.tensor(a))


def test_bool_subtraction_raises_like_torch():
    with pytest.raises(RuntimeError, match="Subtraction"):
        tt.tensor([1, 2]) - tt.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction"):
        tt.tensor([1.0, 2.0]) - True
    with pytest.raises(RuntimeError, match="with two bool tensors"):
        tt.tensor([True]) - tt.tensor([False])


def test_numpy_scalar_on_the_left():
    x = tt.ones(3, requires_grad=True)
    y = np.float64(2.5) * x
    assert isinstance(y, tt.Tensor) and y.dtype is tt.float32 and y.grad_fn is not None


@pytest.mark.parametrize("scalar", [np.float32(2.5), np.int64(3), np.bool_(True)], ids=str)
def test_numpy_scalars_on_the_right(scalar):
    _same(tt.ones(2) * scalar, torch.ones(2) * scalar)


def test_numpy_float64_scalar_on_the_right():
    for _ in range(2):
        _same(tt.ones(3) * np.float64(2.5), torch.ones(3) * np.float64(2.5))


# ---------------------------------------------------------------- big tensors (C kernels) and layouts
def test_big_tensors_with_scalars_and_non_contiguous_layouts():
    base = np.random.default_rng(6).standard_normal((600, 600)).astype(np.float32)
    layouts = {"contiguous": base, "transposed": base.T, "step": base[::2], "reversed": base[::-1],
               "column_slice": base[:, 1:301], "broadcast": np.broadcast_to(base[0], (600, 600)),
               "fortran": np.asfortranarray(base)}
    fns = [lambda x: x * 2, lambda x: x * 2.5, lambda x: 3 - x, lambda x: x / -4, lambda x: 1.5 + x,
           lambda x: x + x, lambda x: x.exp(), lambda x: x.tanh(), lambda x: -x, lambda x: x.relu()]
    for name, arr in layouts.items():
        t = tt.from_numpy(arr)
        ref = torch.tensor(np.array(arr))
        for f in fns:
            for _ in range(2):
                got = f(t)
                want = f(ref)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(t.numpy(), arr)  # the input is untouched


def test_big_results_are_never_reused_while_referenced():
    x = tt.randn(70000)
    want = x.numpy() * 2
    held = [x * 2 for _ in range(5)]  # each must be its own buffer
    arrays = [h.numpy() for h in held]
    for a, b in itertools.combinations(arrays, 2):
        assert not np.shares_memory(a, b)
    views = [(x * 2)[:10] for _ in range(3)]  # only a view of the result survives
    y = x * 3
    for h in held:
        np.testing.assert_array_equal(h.numpy(), want)
    for v in views:
        np.testing.assert_array_equal(v.numpy(), want[:10])
    np.testing.assert_allclose(y.numpy(), x.numpy() * 3)


# ---------------------------------------------------------------- one-tensor ops
UNARY = ["exp", "tanh", "sigmoid", "relu", "abs", "neg", "sqrt", "log", "sin", "cos", "floor", "ceil",
         "round", "trunc", "sign", "rsqrt", "reciprocal", "log1p", "expm1", "square", "frac", "exp2"]


@pytest.mark.parametrize("dtype", FLOATS + ["int64", "int32", "bool"])
def test_unary_ops_match_torch_including_special_values(dtype):
    if dtype in FLOATS:
        a = np.array([0.5, -1.5, 2.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-8, 88.0], dtype)
    else:
        a = _arr(dtype, (5,), 7)
    for name in UNARY:
        pf = getattr(torch.Tensor, name)
        tf = getattr(tt.Tensor, name, None)
        assert tf is not None, name
        try:
            want = pf(torch.tensor(a))
        except RuntimeError:
            continue  # torch has no such kernel for this dtype
        for _ in range(2):
            got = tf(tt.tensor(a))
            _same(got, want, rtol=1e-2 if dtype == "float16" else 1e-5)


def test_unary_ops_follow_the_default_dtype():
    x = tt.tensor([1, 2, 3])
    try:
        for d, pd in ((tt.float64, torch.float64), (tt.float32, torch.float32), (tt.float64, torch.float64)):
            tt.set_default_dtype(d)
            torch.set_default_dtype(pd)
            px = torch.tensor([1, 2, 3])
            for f in (lambda t: t.exp(), lambda t: t.sigmoid(), lambda t: t / 2, lambda t: t * 2.5, lambda t: t.sqrt()):
                _same(f(x), f(px))
    finally:
        tt.set_default_dtype(tt.float32)
        torch.set_default_dtype(torch.float32)


# ---------------------------------------------------------------- aliasing, versions, autograd
@pytest.mark.parametrize("make", [
    lambda a: a * 1, lambda a: a + 0, lambda a: a - 0, lambda a: a / 1, lambda a: 0 + a, lambda a: 1 * a,
    lambda a: a.abs(), lambda a: a.relu(), lambda a: a.floor(), lambda a: a.trunc(),
], ids=["mul1", "add0", "sub0", "div1", "radd0", "rmul1", "abs", "relu", "floor", "trunc"])
def test_results_never_alias_their_inputs(make):
    for dtype in ("float32", "int64"):
        for _ in range(2):
            a = tt.ones(4, dtype=getattr(tt, dtype)) * 3
            v = a._version
            b = make(a)
            b.mul_(5)
            assert a.tolist() == [3] * 4
            assert not np.shares_memory(a.numpy(), b.numpy())
            assert a._version == v and b._version == 1
            assert b._base is None if hasattr(b, "_base") else True


def test_versions_and_in_place_ops_afterwards_match_torch():
    for m in (tt, torch):
        x = m.ones(3)
        y = x * 2
        y.add_(1)
        y.mul_(2)
        z = y / 2
        assert (x.tolist(), y.tolist(), z.tolist()) == ([1.0] * 3, [6.0] * 3, [3.0] * 3)
        assert (x._version, y._version, z._version) == (0, 2, 0)


def test_unary_plus_returns_the_tensor_itself_like_torch():
    for m in (tt, torch):
        a = m.ones(3) * 3
        b = +a
        b.mul_(5)
        assert a.tolist() == [15.0] * 3


def test_augmented_assignment_is_in_place_like_torch():
    x = tt.ones(3)
    alias, view = x, x[:2]
    x += 1
    assert x is alias and alias.tolist() == [2.0] * 3 and view.tolist() == [2.0] * 2
    assert x._version == 1
    w = tt.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    with tt.no_grad():
        for p in [w]:
            p -= 0.5 * p.grad
    assert w.tolist() == [0.0] * 3


def test_no_grad_and_requires_grad():
    for _ in range(2):
        x = tt.randn(4, requires_grad=True)
        with tt.no_grad():
            y = x * 2 + 1
            u = x.exp()
        assert not y.requires_grad and y.grad_fn is None and y.is_leaf
        assert not u.requires_grad and u.grad_fn is None
        z = x * 2  # grad enabled: the general path records a node
        w = x.tanh()
        assert z.requires_grad and z.grad_fn is not None and w.grad_fn is not None
        (z.sum() + w.sum() + y.sum()).backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 + 1 - np.tanh(x.detach().numpy()) ** 2, rtol=1e-6)
        d = x.detach() * 3  # a detached operand: the fast path, no grad
        assert not d.requires_grad
        y.requires_grad_()  # a leaf made by the fast path can become a leaf that requires grad
        (y * y).sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy(), rtol=1e-6)


def test_parameters_and_subclasses_take_the_general_path_correctly():
    p = tt.nn.Parameter(tt.ones(3))
    with tt.no_grad():
        q = p * 2
    assert type(q) is tt.Tensor and q.tolist() == [2.0] * 3 and not q.requires_grad
    r = p * 2
    assert r.requires_grad and r.grad_fn is not None


def test_inside_compiled_functions_ops_are_traced_not_baked():
    for backend in ("numpy", "c"):
        y = tt.ones(5)
        y * 2  # plan this signature eagerly first
        y.exp()
        f = tt.compile(lambda x: (x * 2 + 1).exp() / 3 - x.tanh(), backend=backend)
        for _ in range(3):
            x = tt.randn(5)
            np.testing.assert_allclose(f(x).numpy(), np.exp(x.numpy() * 2 + 1) / 3 - np.tanh(x.numpy()),
                                       rtol=1e-5, atol=1e-6)
        assert f.trace_count == 1
        g = tt.grad(lambda x: (x * 3 - 1).exp().sum())
        x = tt.randn(4)
        np.testing.assert_allclose(g(x).numpy(), 3 * np.exp(x.numpy() * 3 - 1), rtol=1e-5)


def test_nan_and_inf_propagation():
    a = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0], np.float32)
    b = np.array([1.0, np.inf, np.inf, 0.0, 0.0, -0.0], np.float32)
    for f in list(OPS.values()) + [lambda x, y: x * 0, lambda x, y: 0 / x, lambda x, y: x - x,
                                   lambda x, y: x / y * 0 + 1]:
        want = f(torch.tensor(a), torch.tensor(b))
        for _ in range(2):
            got = f(tt.tensor(a), tt.tensor(b))
            np.testing.assert_array_equal(got.numpy(), want.numpy())
            assert np.array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("case", ["add", "sub", "mul", "div", "float16", "mixed_dtypes", "2d", "big",
                                  "in_place", "zero_dim_first"])
def test_shape_errors_name_the_users_line(case):
    a, b = tt.ones(3), tt.ones(4)
    f = {
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b,
        "float16": lambda: tt.ones(3, dtype=tt.float16) * tt.ones(4, dtype=tt.float16),
        "mixed_dtypes": lambda: a * tt.ones(4, dtype=tt.float64),
        "2d": lambda: tt.ones(2, 3) + tt.ones(3, 2),
        "big": lambda: tt.ones(70000) + tt.ones(70001),
        "in_place": lambda: a.add_(b),
        "zero_dim_first": lambda: (tt.tensor(1.0) * a) + b,
    }[case]
    for _ in range(3):
        with pytest.raises(RuntimeError, match="test_fast_dispatch_adversarial.py") as info:
            f()
        assert "must match" in str(info.value)
    assert a.tolist() == [1.0] * 3


def test_plans_do_not_confuse_signatures():
    # same op and shapes, different dtypes / scalar kinds / default dtype / sides
    x32, x64 = tt.ones(3), tt.ones(3, dtype=tt.float64)
    for _ in range(2):
        assert (x32 * 2).dtype is tt.float32 and (x64 * 2).dtype is tt.float64
        assert (x32 * 2.5).tolist() == [2.5] * 3 and (x32 * 2).tolist() == [2.0] * 3
        assert (2 - x32).tolist() == [1.0] * 3 and (x32 - 2).tolist() == [-1.0] * 3
        assert (3 / (x32 * 2)).tolist() == [1.5] * 3 and ((x32 * 2) / 4).tolist() == [0.5] * 3
        assert (tt.tensor([1, 2]) / 2).dtype is tt.float32
    assert any(k[0] == "mul" for k in _dispatch._FAST)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_float16_with_scalars_compiled_and_differentiated_like_torch(backend):
    """The same opmath rule inside compiled functions, and gradients through it (torch's
    backward rounds a scalar to half, so the gradient case keeps scalars in range)."""
    a = np.array([1000.0, 3.0, -0.5, 60000.0], np.float16)

    def f(m, x):
        return x / 70000.0 + 70000.0 / (x + 2000.0) + x * 1e-7

    def g(m, x):
        return (x * 0.001 + 3.0 * x.square() / 7.0).sum()

    c, cg = tt.compile(lambda x: f(tt, x), backend=backend), tt.compile(lambda x: g(tt, x), backend=backend)
    _same(c(tt.tensor(a)), f(torch, torch.tensor(a)), rtol=1e-3)
    x, px = tt.tensor(a[:3], requires_grad=True), torch.tensor(a[:3], requires_grad=True)
    cg(x).backward()  # (no overflow in between: fused code keeps float between ops, as inductor's)
    g(torch, px).backward()
    assert x.grad.dtype is tt.float16
    _same(x.grad, px.grad, rtol=1e-3)
