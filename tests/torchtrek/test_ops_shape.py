"""Shape-manipulation ops against PyTorch: cat/stack/split/chunk/unbind/narrow/select,
flip/roll/tril/triu/diagonal/diag, repeat/tile, movedim/unflatten/expand_as, ...

Registry style (see test_ops.py): every case is a lambda taking the module first; it
runs with torch and with torchtrek (eagerly and under tt.compile), comparing values,
shapes, dtypes and gradients. Ops returning several tensors are compared piece by
piece. This file also holds the helpers test_ops_indexing.py loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

FLOATS = ("float32", "float64")
FIXED = (None,)
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


# ----------------------------------------------------------------- inputs


import test_ops as _h  # noqa: E402  (the shared op harness)

I, V, make_inputs, to_lib = _h.I, _h.V, _h.make_inputs, _h.to_lib


# ----------------------------------------------------------------- comparisons


def dtype_name(t: Any) -> str:
    return str(t.dtype).split(".")[-1]


def pieces(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_same(got: Any, want: Any, what: str) -> None:
    assert isinstance(got, tt.Tensor), f"{what}: expected a torchtrek Tensor, got {type(got)}"
    assert tuple(got.shape) == tuple(want.shape), (
        f"{what}: shape {tuple(got.shape)} != torch's {tuple(want.shape)}")
    assert dtype_name(got) == dtype_name(want), (
        f"{what}: dtype {dtype_name(got)} != torch's {dtype_name(want)}")
    g, w = np.asarray(got.detach().numpy()), want.detach().numpy()
    if want.dtype.is_floating_point:
        r, a = TOL[dtype_name(want)]
        np.testing.assert_allclose(g, w, rtol=r, atol=a, err_msg=what)
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


def upstreams(outs: Sequence[Any], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)).astype(dtype_name(o)) for o in outs]


def _weighted(lib: Any, outs: Sequence[Any], ups: Sequence[np.ndarray]) -> Any:
    total = None
    for o, u in zip(outs, ups):
        if o.dtype.is_floating_point and o.requires_grad:
            term = (o * lib.tensor(u)).sum()
            total = term if total is None else total + term
    return total


def check_op(fn: Callable[..., Any], torch_fn: Callable[..., Any] | None, specs: Sequence[Any],
             dtype: str | None, grad: bool = True, compiled: bool = True) -> None:
    """fn(tt, *inputs) against torch_fn(torch, *inputs) (default: fn): forward values,
    shapes, dtypes and gradients, eagerly and compiled."""
    torch_fn = torch_fn or fn
    arrays = make_inputs(specs, dtype)
    th_in = to_lib(arrays, torch, grad)
    th_out = pieces(torch_fn(torch, *th_in))
    ups = upstreams(th_out)
    th_loss = _weighted(torch, th_out, ups)
    if th_loss is not None:
        th_loss.backward()

    def run(f: Callable[..., Any], mode: str) -> None:
        xs = to_lib(arrays, tt, grad)
        outs = pieces(f(*xs))
        assert len(outs) == len(th_out), f"{mode}: {len(outs)} outputs, torch has {len(th_out)}"
        for i, (o, w) in enumerate(zip(outs, th_out)):
            assert_same(o, w, f"{mode} output {i}")
            assert o.requires_grad == w.requires_grad, f"{mode} output {i}: requires_grad"
        loss = _weighted(tt, outs, ups)
        if loss is None:
            return
        loss.backward()
        for i, (a, b) in enumerate(zip(xs, th_in)):
            if not b.requires_grad:
                continue
            if b.grad is None:
                assert a.grad is None or not np.any(a.grad.numpy()), f"{mode}: grad {i}"
            else:
                assert a.grad is not None, f"{mode}: input {i} got no gradient"
                assert_same(a.grad, b.grad, f"{mode} gradient of input {i}")

    run(lambda *xs: fn(tt, *xs), "eager")
    if compiled:
        run(tt.compile(lambda *xs: fn(tt, *xs)), "compiled")


def check_second_order(fn: Callable[..., Any], specs: Sequence[Any]) -> None:
    """tt.grad(tt.grad(f)) against torch's double backward, in float64, where
    f(x) = sum(fn(x)**3 * w): the VJP rules must be differentiable themselves."""
    arrays = make_inputs(specs, "float64")
    out = pieces(fn(torch, *to_lib(arrays, torch, False)))[0]
    w = upstreams([out])[0]

    def f(lib: Any, *xs: Any) -> Any:
        return (pieces(fn(lib, *xs))[0] ** 3 * lib.tensor(w)).sum()

    th = to_lib(arrays, torch, True)
    (g,) = torch.autograd.grad(f(torch, *th), th[0], create_graph=True)
    (gg,) = torch.autograd.grad((g * g).sum(), th[0])
    g1 = tt.grad(lambda *xs: f(tt, *xs))
    tt_gg = tt.grad(lambda *xs: (g1(*xs) * g1(*xs)).sum())(*to_lib(arrays, tt, False))
    np.testing.assert_allclose(tt_gg.numpy(), gg.numpy(), rtol=1e-9, atol=1e-10)


def check_finite_differences(fn: Callable[..., Any], specs: Sequence[Any], h: float = 1e-6) -> None:
    """tt.grad in float64 against central differences of sum(fn(x) * w)."""
    arrays = make_inputs(specs, "float64")
    out = pieces(fn(tt, *to_lib(arrays, tt, False)))[0]
    w = tt.tensor(upstreams([out])[0])

    def scalar(*xs: Any) -> Any:
        return (pieces(fn(tt, *xs))[0] * w).sum()

    g = tt.grad(scalar)(*to_lib(arrays, tt, False))
    numeric = _h.central_differences(scalar, list(arrays), 0, h)
    np.testing.assert_allclose(g.numpy(), numeric, rtol=1e-5, atol=1e-6)


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple = FLOATS
    torch_fn: Callable[..., Any] | None = None
    grad: bool = True
    compiled: bool = True
    fd: bool = False  # finite differences and second order too


@dataclass(frozen=True)
class ErrorCase:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    exc: type
    messages: tuple  # substrings torch's message and ours both contain
    compiled: bool = True


def check_error(e: ErrorCase, mode: str) -> None:
    arrays = make_inputs(e.inputs, "float32")
    with pytest.raises(Exception) as th_err:
        e.fn(torch, *to_lib(arrays, torch, False))
    assert isinstance(th_err.value, e.exc), f"torch raised {type(th_err.value).__name__}"
    for msg in e.messages:
        assert msg in str(th_err.value), f"torch's message lacks {msg!r}: {th_err.value}"
    xs = to_lib(arrays, tt, False)
    call = (lambda: e.fn(tt, *xs)) if mode == "eager" else (
        lambda: tt.compile(lambda *a: e.fn(tt, *a))(*xs))
    with pytest.raises(e.exc) as tt_err:
        call()
    for msg in e.messages:
        assert msg in str(tt_err.value), f"message lacks {msg!r}: {tt_err.value}"


def params(cases: Sequence[Case]) -> list[Any]:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return [pytest.param(c, d, id=c.id if d is None else f"{c.id}-{d}")
            for c in cases for d in c.dtypes]


def error_params(errors: Sequence[ErrorCase]) -> list[Any]:
    return [pytest.param(e, m, id=f"{e.id}-{m}") for e in errors
            for m in (("eager", "compiled") if e.compiled else ("eager",))]


# ----------------------------------------------------------------- the case table

CASES: list[Case] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


S, X = (3, 4), (2, 3, 4)
INT = I(S, "int64", -5, 5)
BOOL = I(S, "bool")

# --- cat / stack and friends
case("cat", lambda m, x, y: m.cat([x, y]), S, (2, 4), fd=True)
case("cat_dim1", lambda m, x, y: m.cat((x, y), dim=1), S, (3, 2))
case("cat_neg_dim", lambda m, x, y, z: m.cat([x, y, z], -1), X, (2, 3, 1), (2, 3, 2), fd=True)
case("cat_single", lambda m, x: m.cat([x]), S)
case("cat_same_tensor", lambda m, x: m.cat([x, x * 2, x], 1), S)
case("concat_alias", lambda m, x, y: m.concat([x, y]), S, S)
case("concatenate_alias", lambda m, x, y: m.concatenate([x, y], 1), S, S)
case("cat_promote_int_float", lambda m, x, y: m.cat([x, y]), INT, I(S, "float32"), dtypes=FIXED)
case("cat_promote_f32_f64", lambda m, x, y: m.cat([x, y]), I(S, "float32"), I(S, "float64"),
     dtypes=FIXED)
case("cat_promote_bool_int", lambda m, x, y: m.cat([x, y]), BOOL, I(S, "int32", 0, 5),
     dtypes=FIXED)
case("cat_int", lambda m, x, y: m.cat([x, y], 1), INT, INT, dtypes=FIXED)
case("cat_skips_1d_empty", lambda m, x, y: m.cat([x, y, x]), S, (0,))
case("cat_skips_1d_empty_int", lambda m, x, y: m.cat([y, x]), INT, I((0,), "int64"),
     dtypes=FIXED)
case("cat_all_1d_empty", lambda m, x, y: m.cat([x, y]), (0,), (0,))
case("cat_empty_rows", lambda m, x, y: m.cat([x, y]), (0, 4), S)
case("cat_empty_cols", lambda m, x, y: m.cat([x, y], 1), (3, 0), S)
case("stack", lambda m, x, y: m.stack([x, y]), S, S, fd=True)
case("stack_dim1", lambda m, x, y: m.stack([x, y], 1), S, S)
case("stack_last", lambda m, x, y: m.stack([x, y], dim=-1), S, S)
case("stack_0d", lambda m, x, y: m.stack([x, y, x]), (), ())
case("stack_promote", lambda m, x, y: m.stack([x, y]), INT, I(S, "float64"), dtypes=FIXED)
case("stack_empty", lambda m, x, y: m.stack([x, y], 1), (0, 2), (0, 2))
case("hstack", lambda m, x, y: m.hstack([x, y]), (3,), (2,))
case("hstack_2d", lambda m, x, y: m.hstack([x, y]), S, (3, 2))
case("vstack", lambda m, x, y: m.vstack([x, y]), (4,), (4,))
case("vstack_2d", lambda m, x, y: m.vstack([x, y]), S, (1, 4))
case("dstack", lambda m, x, y: m.dstack([x, y]), S, S)
case("column_stack", lambda m, x, y: m.column_stack([x, y]), (3,), (3, 2))

# --- split / chunk / unbind / narrow / select
case("split_int", lambda m, x: x.split(2), (5, 3), fd=True)
case("split_int_dim", lambda m, x: m.split(x, 3, dim=1), (2, 7))
case("split_sizes", lambda m, x: x.split([1, 3], 1), S)
case("split_sizes_with_zero", lambda m, x: x.split([0, 3, 0], 0), S)
case("split_bigger_than_dim", lambda m, x: x.split(10), S)
case("split_neg_dim", lambda m, x: x.split(2, -1), X)
case("split_int_dtype", lambda m, x: x.split(2, 1), INT, dtypes=FIXED)
case("split_piece", lambda m, x: x.split(2)[1] * 3, (5, 3))
case("chunk", lambda m, x: x.chunk(2), (5, 3), fd=True)
case("chunk_dim", lambda m, x: m.chunk(x, 3, 1), (2, 7))
case("chunk_more_than_size", lambda m, x: x.chunk(4), (5,))
case("chunk_exact", lambda m, x: x.chunk(3, -1), (2, 6))
case("unbind", lambda m, x: x.unbind(), S, fd=True)
case("unbind_dim", lambda m, x: m.unbind(x, 1), S)
case("unbind_neg", lambda m, x: x.unbind(-1), X)
case("unbind_empty", lambda m, x: x.unbind(1), (0, 2))
case("narrow", lambda m, x: x.narrow(1, 1, 2), S, fd=True)
case("narrow_fn", lambda m, x: m.narrow(x, 0, 0, 1), S)
case("narrow_neg_start", lambda m, x: x.narrow(-1, -2, 2), X)
case("narrow_empty", lambda m, x: x.narrow(1, 4, 0), S)
case("narrow_tensor_start", lambda m, x: x.narrow(1, m.tensor(1), 2), S)
case("select", lambda m, x: x.select(1, 2), X)
case("select_neg", lambda m, x: m.select(x, -1, -1), X)

# --- flip / roll / tril / triu / diagonal / diag
case("flip", lambda m, x: m.flip(x, (0,)), S, fd=True)
case("flip_many", lambda m, x: x.flip(0, 2), X)
case("flip_tuple_neg", lambda m, x: x.flip((-1, 1)), X)
case("flip_int", lambda m, x: x.flip(1), INT, dtypes=FIXED)
case("flip_0d", lambda m, x: x.flip(0), ())
case("flip_empty", lambda m, x: x.flip(0), (0, 3))
case("fliplr", lambda m, x: x.fliplr(), S)
case("flipud", lambda m, x: m.flipud(x), S)
case("roll", lambda m, x: m.roll(x, 1, 0), S, fd=True)
case("roll_neg_shift", lambda m, x: x.roll(-5, 1), S)
case("roll_flat", lambda m, x: x.roll(3), S)
case("roll_tuple", lambda m, x: x.roll((1, -2), (0, -1)), X)
case("roll_same_dim_twice", lambda m, x: x.roll((1, 2), (1, 1)), X)
case("roll_0d", lambda m, x: x.roll(1), ())
case("roll_empty", lambda m, x: x.roll(1, 0), (0, 3))
case("roll_bool", lambda m, x: x.roll(1, 1), BOOL, dtypes=FIXED)
case("tril", lambda m, x: x.tril(), S, fd=True)
case("tril_diag", lambda m, x: m.tril(x, 1), S)
case("tril_neg_diag", lambda m, x: x.tril(diagonal=-1), X)
case("triu", lambda m, x: x.triu(), S, fd=True)
case("triu_diag", lambda m, x: m.triu(x, -2), (4, 3))
case("triu_int", lambda m, x: x.triu(1), INT, dtypes=FIXED)
case("triu_empty", lambda m, x: x.triu(), (0, 3))
case("diagonal", lambda m, x: x.diagonal(), S, fd=True)
case("diagonal_offset", lambda m, x: x.diagonal(1), S)
case("diagonal_neg_offset", lambda m, x: m.diagonal(x, -2), S)
case("diagonal_offset_past_end", lambda m, x: x.diagonal(5), S)
case("diagonal_dims", lambda m, x: x.diagonal(1, -1, 0), X, fd=True)
case("diagonal_dims_swapped", lambda m, x: x.diagonal(0, 2, 1), X)
case("diag_vector", lambda m, x: m.diag(x), (3,), fd=True)
case("diag_vector_offset", lambda m, x: x.diag(1), (3,))
case("diag_vector_neg_offset", lambda m, x: x.diag(-2), (2,))
case("diag_matrix", lambda m, x: m.diag(x, -1), S)
case("diag_int", lambda m, x: x.diag(), I((3,), "int64", -5, 5), dtypes=FIXED)

# --- repeat / tile / expand_as / broadcast_tensors
case("repeat", lambda m, x: x.repeat(2, 3), S, fd=True)
case("repeat_more_dims", lambda m, x: x.repeat(2, 1, 2), S)
case("repeat_tuple", lambda m, x: x.repeat((1, 2)), S)
case("repeat_zero", lambda m, x: x.repeat(0, 2), S)
case("repeat_0d", lambda m, x: x.repeat(3), ())
case("repeat_int", lambda m, x: x.repeat(2, 2), INT, dtypes=FIXED)
case("tile", lambda m, x: m.tile(x, (2,)), S)
case("tile_method_varargs", lambda m, x: x.tile(2, 1, 2), S)
case("tile_more", lambda m, x: x.tile((2, 1, 3)), S, fd=True)
case("expand_as", lambda m, x, y: x.expand_as(y), (3, 1), (2, 3, 4), fd=True)
case("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), (3, 1), (1, 4))
case("broadcast_tensors_0d", lambda m, x, y, z: m.broadcast_tensors(x, y, z), (), (2, 1), (3,))

# --- movedim / unflatten / mT / ravel / atleast_nd
case("movedim", lambda m, x: x.movedim(0, -1), X, fd=True)
case("movedim_tuple", lambda m, x: m.movedim(x, (0, 1), (2, 0)), X)
case("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), X)
case("movedim_0d", lambda m, x: x.movedim(0, 0), ())
case("unflatten", lambda m, x: x.unflatten(1, (2, 2)), S, fd=True)
case("unflatten_infer", lambda m, x: m.unflatten(x, -1, (2, -1)), X)
case("unflatten_empty", lambda m, x: x.unflatten(0, (0, 5)), (0, 2))
case("mT", lambda m, x: m.mT(x), X, torch_fn=lambda m, x: x.mT)
case("mH", lambda m, x: m.mH(x), S, torch_fn=lambda m, x: x.mH)
case("ravel", lambda m, x: x.ravel(), X)
case("atleast_1d", lambda m, x: m.atleast_1d(x), ())
case("atleast_2d", lambda m, x: m.atleast_2d(x), (3,))
case("atleast_3d", lambda m, x: m.atleast_3d(x), S)

# --- compositions
case("split_then_cat", lambda m, x: m.cat(x.split([1, 3], 1)[::-1], 1), S)
case("stack_of_unbind", lambda m, x: m.stack(x.unbind(1), 0) * 2, S, fd=True)
case("chunk_product", lambda m, x: x.chunk(2)[0] * x.chunk(2)[1], (4, 3), fd=True)
case("roll_flip_tril", lambda m, x: x.roll(1, 0).flip(1).tril() + x.triu(1), (4, 4), fd=True)


@pytest.mark.parametrize("c, dtype", params(CASES))
def test_op(c: Case, dtype: str | None) -> None:
    check_op(c.fn, c.torch_fn, c.inputs, dtype, grad=c.grad, compiled=c.compiled)


FD = [pytest.param(c, id=c.id) for c in CASES if c.fd]


@pytest.mark.parametrize("c", FD)
def test_finite_differences(c: Case) -> None:
    check_finite_differences(c.fn, c.inputs)


@pytest.mark.parametrize("c", FD)
def test_second_order(c: Case) -> None:
    check_second_order(c.fn, c.inputs)


# ----------------------------------------------------------------- function and method forms

BOTH = ["cat", "stack", "split", "chunk", "unbind", "narrow", "select", "flip", "fliplr",
        "flipud", "roll", "tril", "triu", "diagonal", "diag", "tile", "movedim", "moveaxis",
        "unflatten", "ravel", "hstack", "vstack", "dstack", "broadcast_tensors", "concat",
        "concatenate", "column_stack"]
METHODS = ["split", "chunk", "unbind", "narrow", "select", "flip", "fliplr", "flipud", "roll",
           "tril", "triu", "diagonal", "diag", "repeat", "tile", "expand_as", "movedim",
           "moveaxis", "unflatten", "ravel"]


@pytest.mark.parametrize("name", BOTH)
def test_function_exists(name: str) -> None:
    assert callable(getattr(torch, name))
    assert callable(getattr(tt, name, None)), f"tt.{name} is missing"


@pytest.mark.parametrize("name", METHODS)
def test_method_exists(name: str) -> None:
    assert callable(getattr(torch.Tensor, name))
    assert callable(getattr(tt.Tensor, name, None)), f"tt.Tensor.{name} is missing"


def test_split_returns_tuple() -> None:
    x = tt.arange(10.0)
    parts = x.split(4)
    assert isinstance(parts, tuple) and [tuple(p.shape) for p in parts] == [(4,), (4,), (2,)]
    assert isinstance(tt.unbind(x.reshape(2, 5)), tuple)


def test_cat_grad_of_skipped_empty() -> None:
    x = tt.ones(2, 3, requires_grad=True)
    e = tt.zeros(0, requires_grad=True)
    tt.cat([x, e]).sum().backward()
    assert tuple(e.grad.shape) == (0,) and np.all(x.grad.numpy() == 1)


def test_slice_vjp_code_is_readable() -> None:
    f = tt.compile(lambda x: (x[1:, :2] * x.flip(0)[1:, :2]).sum())
    src = f.source(tt.ones(3, 4, requires_grad=True), backward=True)
    # the slice's gradient written into zeros of the input's shape, the slice in view
    assert "_z.__setitem__(np.s_[1:3, 0:2], grad_slice" in src, src
    assert "np.zeros((3, 4), dtype=np.float32)" in src, src


# ----------------------------------------------------------------- errors

ERRORS = [
    ErrorCase("cat_ndim", lambda m, x, y: m.cat([x, y]), (S, (3,)), RuntimeError,
              ("Tensors must have same number of dimensions: got 2 and 1",)),
    ErrorCase("cat_sizes", lambda m, x, y: m.cat([x, y], 1), (S, (2, 4)), RuntimeError,
              ("Sizes of tensors must match except in dimension 1",
               "Expected size 3 but got size 2 for tensor number 1 in the list")),
    ErrorCase("cat_sizes_dim0", lambda m, x, y: m.cat([x, y]), (S, (3, 5)), RuntimeError,
              ("Sizes of tensors must match except in dimension 0",)),
    ErrorCase("cat_0d", lambda m, x, y: m.cat([x, y]), (S, ()), RuntimeError,
              ("zero-dimensional tensor (at position 1) cannot be concatenated",)),
    ErrorCase("cat_dim_range", lambda m, x: m.cat([x, x], 2), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("cat_empty_list", lambda m: m.cat([]), (), ValueError,
              ("expected a non-empty list of Tensors",)),
    ErrorCase("cat_tensor_arg", lambda m, x: m.cat(x), (S,), TypeError,
              ("must be tuple of Tensors, not Tensor",)),
    ErrorCase("stack_sizes", lambda m, x, y: m.stack([x, y]), (S, (3, 5)), RuntimeError,
              ("stack expects each tensor to be equal size, but got [3, 4] at entry 0 and "
               "[3, 5] at entry 1",)),
    ErrorCase("stack_empty", lambda m: m.stack([]), (), RuntimeError,
              ("stack expects a non-empty TensorList",)),
    ErrorCase("stack_dim", lambda m, x: m.stack([x, x], 3), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-3, 2], but got 3)",)),
    ErrorCase("split_zero", lambda m, x: x.split(0), (S,), RuntimeError,
              ("split_size can only be 0 if dimension size is 0",)),
    ErrorCase("split_sizes_sum", lambda m, x: x.split([1, 2], 1), (S,), RuntimeError,
              ("split_with_sizes expects split_sizes to sum exactly to 4",)),
    ErrorCase("split_0d", lambda m, x: x.split(1), ((),), RuntimeError,
              ("split expects at least a 1-dimensional tensor",)),
    ErrorCase("chunk_zero", lambda m, x: x.chunk(0), (S,), RuntimeError,
              ("chunk expects `chunks` to be greater than 0, got: 0",)),
    ErrorCase("chunk_0d", lambda m, x: x.chunk(2), ((),), RuntimeError,
              ("chunk expects at least a 1-dimensional tensor",)),
    ErrorCase("unbind_0d", lambda m, x: x.unbind(), ((),), IndexError,
              ("Dimension specified as 0 but tensor has no dimensions",)),
    ErrorCase("narrow_past_end", lambda m, x: x.narrow(1, 2, 3), (S,), RuntimeError,
              ("start (2) + length (3) exceeds dimension size (4).",)),
    ErrorCase("narrow_start", lambda m, x: x.narrow(1, 5, 0), (S,), IndexError,
              ("start out of range (expected to be in range of [-4, 4], but got 5)",)),
    ErrorCase("narrow_length", lambda m, x: x.narrow(1, 0, -1), (S,), RuntimeError,
              ("narrow(): length must be non-negative.",)),
    ErrorCase("select_range", lambda m, x: x.select(1, 4), (S,), IndexError,
              ("select(): index 4 out of range for tensor of size [3, 4] at dimension 1",)),
    ErrorCase("flip_repeated", lambda m, x: x.flip(0, 0), (S,), RuntimeError,
              ("dim 0 appears multiple times in the list of dims",)),
    ErrorCase("flip_dim", lambda m, x: x.flip(2), (S,), IndexError,
              ("Dimension out of range",)),
    ErrorCase("fliplr_1d", lambda m, x: x.fliplr(), ((3,),), RuntimeError,
              ("Input must be >= 2-d.",)),
    ErrorCase("roll_align", lambda m, x: x.roll((1, 2), (0,)), (S,), RuntimeError,
              ("shifts and dimensions must align. shifts: 2, dims:1",)),
    ErrorCase("roll_dim", lambda m, x: x.roll(1, 2), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("roll_no_shifts", lambda m, x: x.roll((), ()), (S,), RuntimeError,
              ("`shifts` required",)),
    ErrorCase("tril_1d", lambda m, x: x.tril(), ((3,),), RuntimeError,
              ("tril: input tensor must have at least 2 dimensions",)),
    ErrorCase("triu_0d", lambda m, x: x.triu(), ((),), RuntimeError,
              ("triu: input tensor must have at least 2 dimensions",)),
    ErrorCase("diagonal_same_dims", lambda m, x: x.diagonal(0, 1, 1), (S,), RuntimeError,
              ("diagonal dimensions cannot be identical 1, 1",)),
    ErrorCase("diag_3d", lambda m, x: x.diag(), (X,), RuntimeError,
              ("diag(): Supports 1D or 2D tensors. Got 3D",)),
    ErrorCase("repeat_too_few", lambda m, x: x.repeat(2), (S,), RuntimeError,
              ("Number of dimensions of repeat dims can not be smaller than number of "
               "dimensions of tensor",)),
    ErrorCase("repeat_negative", lambda m, x: x.repeat(-1, 1), (S,), RuntimeError,
              ("Trying to create tensor with negative dimension -3: [-3, 4]",)),
    ErrorCase("unflatten_sizes", lambda m, x: x.unflatten(1, (3, -1)), (S,), RuntimeError,
              ("unflatten: Provided sizes [3, -1] don't multiply up to the size of dim 1 (4) "
               "in the input tensor",)),
    ErrorCase("unflatten_empty_sizes", lambda m, x: x.unflatten(1, ()), (S,), RuntimeError,
              ("unflatten: sizes must be non-empty",)),
    ErrorCase("movedim_count", lambda m, x: x.movedim((0, 1), (1,)), (S,), RuntimeError,
              ("movedim: Invalid source or destination dims: source ([0, 1] dims) should contain "
               "the same number of dims as destination ([1] dims)",)),
    ErrorCase("movedim_repeated", lambda m, x: x.movedim((0, 0), (1, 0)), (S,), RuntimeError,
              ("movedim: repeated dim in `source` ([0, 0])",)),
    ErrorCase("expand_as_fewer", lambda m, x, y: x.expand_as(y), (S, (4,)), RuntimeError,
              ("the number of sizes provided (1) must be greater or equal to the number of "
               "dimensions in the tensor (2)",)),
    ErrorCase("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), (S, (2,)),
              RuntimeError, ("The size of tensor a (4) must match the size of tensor b (2) at "
                             "non-singleton dimension 1",)),
    ErrorCase("mT_1d", lambda m, x: m.mT(x) if m is tt else x.mT, ((3,),), RuntimeError,
              ("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",)),
]


@pytest.mark.parametrize("e, mode", error_params(ERRORS))
def test_error(e: ErrorCase, mode: str) -> None:
    check_error(e, mode)
