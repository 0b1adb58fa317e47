"""Indexing against PyTorch: x[...] (ints, slices with steps, None, ..., negative
indices, integer and boolean tensors, lists, combinations), x[...] = v, index_select,
gather, scatter, scatter_add, index_add, index_put, masked_fill, masked_select, take,
take_along_dim, nonzero.

Same registry style and helpers as test_ops_shape.py (loaded from it). Cases whose
index is an input tensor also run compiled with a symbolic index; boolean masks are
data-dependent, so those run eagerly (a mask built from constants compiles).
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

_spec = importlib.util.spec_from_file_location(
    "_shape_helpers", pathlib.Path(__file__).with_name("test_ops_shape.py"))
H = sys.modules.setdefault("_shape_helpers", importlib.util.module_from_spec(_spec))
if not hasattr(H, "check_op"):
    _spec.loader.exec_module(H)  # type: ignore[union-attr]
Case, ErrorCase, I, V, FIXED = H.Case, H.ErrorCase, H.I, H.V, H.FIXED

CASES: list[Any] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


S, X = (3, 4), (3, 4, 5)
INT = I(S, "int64", -5, 5)


def L(values: Any) -> Any:
    """An int64 index tensor input (symbolic under tt.compile)."""
    return V(values, "int64")


def MASK(values: Any) -> Any:
    return V(values, "bool")


M34 = MASK([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

# --- basic: ints, slices, steps, None, ..., negatives
case("int", lambda m, x: x[1], X, fd=True)
case("int_neg", lambda m, x: x[-1], X)
case("int_int", lambda m, x: x[0, -2], X)
case("int_all", lambda m, x: x[2, 3, 4], X)
case("slice", lambda m, x: x[1:], X, fd=True)
case("slice_stop", lambda m, x: x[:, :2], X)
case("slice_neg", lambda m, x: x[-2:, :-1], X)
case("slice_step", lambda m, x: x[::2, 1::2], X, fd=True)
case("slice_step_big", lambda m, x: x[:, :, 1:5:3], X)
case("slice_out_of_range", lambda m, x: x[1:100, -100:2], X)
case("slice_empty", lambda m, x: x[2:1], X)
case("slice_full", lambda m, x: x[:], X)
case("none", lambda m, x: x[None], S)
case("none_middle", lambda m, x: x[:, None, 1], S)
case("none_many", lambda m, x: x[None, None, ..., None], S)
case("ellipsis", lambda m, x: x[..., 1], X, fd=True)
case("ellipsis_middle", lambda m, x: x[1, ..., 2:], X)
case("ellipsis_only", lambda m, x: x[...], S)
case("ellipsis_twice", lambda m, x: x[..., 0, ...], X)
case("empty_tuple", lambda m, x: x[()], S)
case("mixed_basic", lambda m, x: x[-1, None, 1:, ::2], X)
case("python_true", lambda m, x: x[True], S)
case("python_false", lambda m, x: x[False], S)
case("python_bool_after_int", lambda m, x: x[0, True], X)
case("tensor_0d_int", lambda m, x: x[m.tensor(1)], X)
case("tensor_0d_int_mixed", lambda m, x: x[m.tensor(1), :, [0, 2]], X)
case("tensor_0d_symbolic", lambda m, x, i: x[i, :, [0, 2]], X, L(1), fd=True)
case("tensor_0d_symbolic_then_list", lambda m, x, i, j: x[i, j], X, L(-1), L([0, 3]))
case("tensor_0d_bool", lambda m, x: x[m.tensor(True)], S)
case("index_0d_tensor_true", lambda m, x: x[True], ())
case("index_0d_ellipsis", lambda m, x: x[...], ())
case("index_0d_none", lambda m, x: x[None], ())
case("int_dtype", lambda m, x: x[1:, 0], INT, dtypes=FIXED)
case("bool_dtype", lambda m, x: x[::2], I(S, "bool"), dtypes=FIXED)
case("empty_tensor_slice", lambda m, x: x[:, 1], (0, 3))
case("basic_then_ops", lambda m, x: (x[0] * x[1]).sum() + x[:, 1:].sum(), X, fd=True)

# --- advanced: lists, integer tensors (symbolic under compile), broadcasting
case("list", lambda m, x: x[[0, 2]], X, fd=True)
case("list_repeated", lambda m, x: x[[1, 1, 0, 1]], S, fd=True)
case("list_neg", lambda m, x: x[[-1, 0]], S)
case("list_empty", lambda m, x: x[[]], S)
case("list_dim1", lambda m, x: x[:, [3, 0, 3]], S)
case("tensor_index", lambda m, x, i: x[i], X, L([2, 0, 2, -1]), fd=True)
case("tensor_index_2d", lambda m, x, i: x[i], S, L([[0, 1], [2, 2]]))
case("tensor_index_dim1", lambda m, x, i: x[:, i], X, L([[3, 0], [1, -4]]))
case("tensor_index_last", lambda m, x, i: x[..., i], X, L([4, 4, 0]))
case("tensor_index_int32", lambda m, x, i: x[i], S, V([2, 0], "int32"))
case("two_tensors", lambda m, x, i, j: x[i, j], X, L([0, 2, 2]), L([1, 3, 3]), fd=True)
case("two_tensors_broadcast", lambda m, x, i, j: x[i, j], X, L([[0], [2]]), L([1, 3, -1]))
case("two_tensors_adjacent_later", lambda m, x, i, j: x[:, i, j], X, L([0, 3]), L([1, 4]))
case("two_tensors_split", lambda m, x, i, j: x[i, :, j], X, L([0, 2]), L([1, 4]))
case("three_tensors", lambda m, x, i, j, k: x[i, j, k], X, L([0, 2]), L([1, 3]), L([4, 0]))
case("tensor_and_slice", lambda m, x, i: x[1:, i, ::2], X, L([0, 0, 3]))
case("tensor_and_int", lambda m, x, i: x[i, 2], X, L([1, 2]))
case("int_between_tensors", lambda m, x: x[[[0]], 1, [[0, 1]]], X)
case("tensor_and_none", lambda m, x, i: x[None, i, :, i], X, L([0, 1]))
case("list_of_lists_as_tuple", lambda m, x: x[[[0, 1], [1, 2]]], X)
case("tuple_of_lists", lambda m, x: x[[0, 1], [1, 2]], X)
case("advanced_int_dtype", lambda m, x, i: x[i], INT, L([2, 0]), dtypes=FIXED)
case("advanced_empty_index", lambda m, x, i: x[i], S, V(np.zeros((0, 2)), "int64"))
case("advanced_on_empty", lambda m, x, i: x[:, i], (0, 3), L([2, 0]))
case("advanced_then_ops", lambda m, x, i: (x[i] * x[i]).sum(0) + x[i, 1:].sum(), S,
     L([1, 1, 2]), fd=True)

# --- boolean masks (data-dependent: eager; constant masks compile)
case("mask", lambda m, x, k: x[k], S, M34, compiled=False)
case("mask_rows", lambda m, x, k: x[k], X, MASK([True, False, True]), compiled=False)
case("mask_dim1", lambda m, x, k: x[:, k], S, MASK([False, True, True, False]), compiled=False)
case("mask_and_int", lambda m, x, k: x[1, k], S, MASK([True, False, True, True]),
     compiled=False)
case("mask_with_list", lambda m, x: x[[0, 1], [True, False, True, False]], X)
case("mask_list", lambda m, x: x[[True, False, True]], X)
case("mask_from_compare", lambda m, x: x[x > 0], S, compiled=False)
case("mask_uint8_as_bool", lambda m, x, k: x[k.to(m.uint8)], S, M34, compiled=False)
case("mask_constant_compiles", lambda m, x: x[m.tensor([[True, False, True, False]] * 3)], S)
case("mask_all_false", lambda m, x, k: x[k], S, MASK(np.zeros(S, bool)), compiled=False)
case("mask_int_dtype", lambda m, x, k: x[k], INT, M34, dtypes=FIXED, compiled=False)

# --- index_select / take / gather / take_along_dim
case("index_select", lambda m, x, i: x.index_select(1, i), S, L([3, 0, 3]), fd=True)
case("index_select_fn", lambda m, x, i: m.index_select(x, -1, i), X, L([0, 4]))
case("index_select_0d_index", lambda m, x, i: x.index_select(0, i), S, L(2))
case("index_select_0d_input", lambda m, x, i: x.index_select(0, i), (), L([0]))
case("index_select_int32", lambda m, x, i: x.index_select(0, i), S, V([1, 0], "int32"))
case("index_select_empty", lambda m, x, i: x.index_select(0, i), S, V(np.zeros(0), "int64"))
case("take", lambda m, x, i: x.take(i), S, L([[0, 11], [-1, 5]]), fd=True)
case("take_fn", lambda m, x, i: m.take(x, i), X, L([3, 3, 59]))
case("gather", lambda m, x, i: x.gather(1, i), S, L([[0, 1], [3, 3], [2, 0]]), fd=True)
case("gather_dim0", lambda m, x, i: m.gather(x, 0, i), S, L([[2, 1, 0, 0]]))
case("gather_neg_dim", lambda m, x, i: x.gather(-1, i), X, L(np.zeros((2, 3, 7), int)))
case("gather_smaller_index", lambda m, x, i: x.gather(1, i), X, L([[[0, 3]], [[1, 1]]]))
case("gather_0d", lambda m, x, i: x.gather(0, i), (), L(0))
case("gather_0d_input_1d_index", lambda m, x, i: x.gather(0, i), (), L([0, 0]))
case("gather_int", lambda m, x, i: x.gather(1, i), INT, L([[0], [1], [3]]), dtypes=FIXED)
case("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, 1), S, L([[0], [3], [1]]))
case("take_along_dim_broadcast", lambda m, x, i: x.take_along_dim(i, 0), S, L([[2, 0, 1, 1]]))
case("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i), S, L([11, 0]))

# --- scatter / scatter_add / index_add / index_put (no duplicate targets for scatter)
IDX = L([[0, 2], [3, 1], [1, 0]])
case("scatter", lambda m, x, i, s: x.scatter(1, i, s), S, IDX, (3, 2), fd=True)
case("scatter_value", lambda m, x, i: x.scatter(1, i, 2.5), S, IDX)
case("scatter_value_kw", lambda m, x, i: m.scatter(x, 1, i, value=-1.0), S, IDX)
# torch's own backward rejects a src larger than the index (its gradient has the index's
# shape), so these compare forward values only
case("scatter_src_larger", lambda m, x, i, s: x.scatter(1, i, s), S, IDX, (4, 4), grad=False)
case("scatter_dim0", lambda m, x, i, s: x.scatter(0, i, s), S, L([[2, 0, 1, 0]]), (1, 4))
case("scatter_int", lambda m, x, i: x.scatter(1, i, 7), INT, IDX, dtypes=FIXED)
case("scatter_int_value_float", lambda m, x, i: x.scatter(1, i, 2.7), INT, IDX, dtypes=FIXED)
case("scatter_0d", lambda m, x, i: x.scatter(0, i, 5.0), (), L(0))
case("scatter_reduce_add", lambda m, x, i: x.scatter(1, i, 2.0, reduce="add"), S, IDX,
     grad=False)  # torch: "derivative for aten::scatter is not implemented" with reduce
case("scatter_add", lambda m, x, i, s: x.scatter_add(1, i, s), S, L([[0, 0], [3, 3], [1, 0]]),
     (3, 2), fd=True)
case("scatter_add_fn", lambda m, x, i, s: m.scatter_add(x, 0, i, s), S,
     L([[2, 2, 2, 0], [2, 0, 1, 0]]), (2, 4))
case("scatter_add_src_larger", lambda m, x, i, s: x.scatter_add(1, i, s), S, IDX, (3, 3),
     grad=False)
case("scatter_add_int", lambda m, x, i, s: x.scatter_add(1, i, s), INT, IDX, I((3, 2), "int64"),
     dtypes=FIXED)
case("index_add", lambda m, x, i, s: x.index_add(1, i, s), S, L([0, 0, 3]), (3, 3), fd=True)
case("index_add_alpha", lambda m, x, i, s: m.index_add(x, 0, i, s, alpha=2), S, L([2, 2]),
     (2, 4))
case("index_put", lambda m, x, i, v: x.index_put((i,), v), S, L([2, 0]), (2, 4), fd=True)
case("index_put_broadcast", lambda m, x, i, j, v: x.index_put((i, j), v), S, L([2, 0]),
     L([1, 3]), (1,))
case("index_put_accumulate", lambda m, x, i, v: m.index_put(x, (i,), v, accumulate=True), S,
     L([1, 1, 0]), (3, 4), fd=True)
case("index_put_0d_index", lambda m, x, i, v: x.index_put((i,), v), S, L(1), (4,))
case("index_put_0d_and_list", lambda m, x, i, j, v: x.index_put((i, j), v), S, L(2), L([0, 3]),
     (2,))
case("index_put_mask", lambda m, x, v: x.index_put((x > 0,), v), S, (), compiled=False)

# --- masked_fill / masked_select / where-style
case("masked_fill", lambda m, x, k: x.masked_fill(k, 0.5), S, M34, fd=True)
case("masked_fill_fn", lambda m, x, k: m.masked_fill(x, k, -1), S, M34)
case("masked_fill_tensor_value", lambda m, x, k, v: x.masked_fill(k, v), S, M34, (), fd=True)
case("masked_fill_broadcast_mask", lambda m, x, k: x.masked_fill(k, 2.0), S,
     MASK([True, False, False, True]))
case("masked_fill_mask_bigger", lambda m, x, k: x.masked_fill(k, 2.0), (4,), M34)
case("masked_fill_int", lambda m, x, k: x.masked_fill(k, 1.5), INT, M34, dtypes=FIXED)
case("masked_fill_value_other_dtype", lambda m, x, k, v: x.masked_fill(k, v), I(S, "float32"),
     M34, I((), "float64"), dtypes=FIXED)
case("masked_fill_huge", lambda m, x: x.masked_fill(x > 0, -1e30).exp(), S)
case("masked_select", lambda m, x, k: x.masked_select(k), S, M34, compiled=False)
case("masked_select_broadcast", lambda m, x, k: m.masked_select(x, k), S,
     MASK([True, False, True, True]), compiled=False)


@pytest.mark.parametrize("c, dtype", H.params(CASES))
def test_op(c: Any, dtype: str | None) -> None:
    H.check_op(c.fn, c.torch_fn, c.inputs, dtype, grad=c.grad, compiled=c.compiled)


FD = [pytest.param(c, id=c.id) for c in CASES if c.fd]


@pytest.mark.parametrize("c", FD)
def test_finite_differences(c: Any) -> None:
    H.check_finite_differences(c.fn, c.inputs)


@pytest.mark.parametrize("c", [p for p in FD if p.values[0].compiled])
def test_second_order(c: Any) -> None:
    H.check_second_order(c.fn, c.inputs)


# ----------------------------------------------------------------- x[...] = value


def _set(index: Any, value: Any, cast: bool) -> Callable[..., Any]:
    def fn(m: Any, x: Any) -> Any:
        y = x.detach().clone()
        idx = index(m) if callable(index) else index
        val = value(m) if callable(value) else value
        if cast and isinstance(val, m.Tensor):
            val = val.to(y.dtype)
        y[idx] = val
        return y
    return fn


# name -> (index, value); "keep_dtype" cases assign a tensor of another dtype as is
SETS = {
    "int": (1, 5.0),
    "int_neg": (-1, 2),
    "slice": ((slice(None), slice(1, 3)), 0.0),
    "slice_step": ((slice(None, None, 2),), -1.0),
    "ellipsis_none": ((Ellipsis, None, 1), 3.0),
    "row_tensor": (0, lambda m: m.tensor([1.0, 2.0, 3.0, 4.0])),
    "row_leading_ones": (0, lambda m: m.ones(1, 4)),
    "column_broadcast": ((slice(None), 1), lambda m: m.ones(1, 1, 3)),
    "list": ([0, 2], lambda m: m.tensor([[9], [8]])),
    "two_lists": (([0, 2], [1, 3]), 6),
    "two_lists_tensor": (([0, 2], [1, 3]), lambda m: m.tensor([5.0, 6.0])),
    "int_and_list": ((1, [0, 3]), 7.0),
    "list_and_slice": (([2, 0], slice(1, None, 2)), lambda m: m.tensor([[1.0, 2.0]])),
    "tensor_0d_int_list": ((lambda m: (m.tensor(1), [0, 2])), 1.0),
    "mask": (lambda m: m.tensor([[True, False] * 2] * 3), 0.0),
    "mask_rows": (lambda m: m.tensor([True, False, True]), lambda m: m.zeros(4)),
    "mask_and_list": ((lambda m: ([True, False, True], [1, 3])), -2),
    "keep_dtype_int_value": (0, lambda m: m.tensor(7)),
    "keep_dtype_double_value": (1, lambda m: m.tensor(2.5, dtype=m.float64)),
    "keep_dtype_mask_one_value": (lambda m: m.tensor([True, False, True]),
                                  lambda m: m.tensor([[2]])),
    "keep_dtype_mask_and_int": ((lambda m: (m.tensor([True, False, True]), 1)),
                                lambda m: m.tensor(3)),
}


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_setitem(name: str, dtype: str, mode: str) -> None:
    """Eagerly NumPy writes in place; compiled, x is rebound to slice_scatter/index_put."""
    index, value = SETS[name]
    fn = _set(index, value, cast=not name.startswith("keep_dtype"))
    x = np.arange(12).reshape(3, 4).astype(dtype)
    want = fn(torch, torch.tensor(x))
    f = (lambda a: fn(tt, a)) if mode == "eager" else tt.compile(lambda a: fn(tt, a))
    H.assert_same(f(tt.tensor(x)), want, name)


@pytest.mark.parametrize("index", [1, (slice(None), slice(1, None, 2)), (Ellipsis, None, 0),
                                   ([2, 0],), ([0, 2], [3, 1]), (slice(1, None), [0, 3])])
def test_setitem_compiled_gradients(index: Any) -> None:
    """In a traced function, y[index] = v on a computed y is differentiable (torch allows
    it on non-leaf tensors): gradients reach both y's inputs and v."""
    def fn(m: Any, x: Any, v: Any) -> Any:
        y = x * 2
        y[index] = v.sum(0) * 3 if m is torch else v.sum(0) * 3
        return (y * y).sum()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal((2,) + tuple(torch.zeros(3, 4)[index].shape))
    tx, tv = (torch.tensor(a, requires_grad=True) for a in (x, v))
    fn(torch, tx, tv).backward()
    gx, gv = tt.grad(lambda a, b: fn(tt, a, b), argnums=(0, 1))(tt.tensor(x), tt.tensor(v))
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gv.numpy(), tv.grad.numpy(), rtol=1e-12)


def test_setitem_on_a_captured_tensor_inside_compile() -> None:
    """A real tensor written inside a compiled function is written again at every call."""
    buf = tt.zeros(3)

    def f(v: Any) -> Any:
        buf[1:] = v.sum()
        return v * 2

    cf = tt.compile(f)
    cf(tt.ones(2))
    assert buf.tolist() == [0.0, 2.0, 2.0]
    cf(tt.ones(2) * 3)
    assert buf.tolist() == [0.0, 6.0, 6.0]


@pytest.mark.parametrize("index, value", [
    ([0, 2], lambda m: m.tensor([1, 2, 3, 4])), ([0, 2], lambda m: m.tensor(1)),
    ([True, False, True], lambda m: m.tensor([1, 2, 3, 4]))])
def test_setitem_index_put_dtype_error(index: Any, value: Any) -> None:
    for lib in (torch, tt):
        x = lib.zeros(3, 4)
        with pytest.raises(RuntimeError, match="Index put requires the source and destination "
                                               "dtypes match"):
            x[index] = value(lib)


def test_setitem_list_value_error() -> None:
    for lib in (torch, tt):
        with pytest.raises(TypeError, match="can't assign a list to a"):
            lib.zeros(3, 4)[0] = [1, 2, 3, 4]


def test_setitem_writes_through_views() -> None:
    x = tt.zeros(3, 4)
    row = x[1]
    row[2] = 5.0
    x[0, ::2] = 1.0
    want = torch.zeros(3, 4)
    want[1][2] = 5.0
    want[0, ::2] = 1.0
    H.assert_same(x, want, "views share storage")


def test_setitem_int_truncates() -> None:
    x = tt.zeros(3, dtype=tt.int64)
    x[0] = 2.7
    assert x.tolist() == [2, 0, 0]


def test_setitem_leaf_requires_grad() -> None:
    for lib in (torch, tt):
        w = lib.zeros(3, 4, requires_grad=True)
        for index in (0, (slice(None), [1]), w.detach() > 0):
            with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being "
                                                   "used in an in-place operation"):
                w[index] = 1.0
        with lib.no_grad():
            w[0] = 1.0
        assert float(w.sum()) == 4.0


def test_setitem_non_leaf_eager_is_unsupported() -> None:
    w = tt.ones(3, requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match="not supported eagerly yet"):
        y[0] = 1.0


def test_setitem_shape_mismatch() -> None:
    for lib in (torch, tt):
        with pytest.raises(RuntimeError):
            x = lib.zeros(3, 4)
            x[:, 1] = lib.ones(3, 1)


def test_setitem_traced_symbolic_mask_raises() -> None:
    def f(x: Any) -> Any:
        x[x > 0] = 1.0
        return x

    with pytest.raises(tt.TraceError, match="tt.where"):
        tt.compile(f)(tt.zeros(3))


def test_in_place_methods() -> None:
    for lib in (torch, tt):
        x = lib.arange(12.0).reshape(3, 4)
        x.masked_fill_(x > 8, 0.0)
        x.scatter_(1, lib.tensor([[0], [1], [2]]), -1.0)
        x.index_add_(0, lib.tensor([0, 0]), lib.ones(2, 4))
        x.scatter_add_(0, lib.tensor([[2, 2, 2, 2]]), lib.ones(1, 4))
        x.index_put_((lib.tensor([1]), lib.tensor([3])), lib.tensor(9.0))
        if lib is torch:
            want = x
    H.assert_same(x, want, "in-place indexing methods")


# ----------------------------------------------------------------- data-dependent shapes


def test_mask_index_under_compile_raises() -> None:
    f = tt.compile(lambda x: x[x > 0].sum())
    with pytest.raises(tt.TraceError, match=r"boolean-mask indexing.*tt\.where"):
        f(tt.ones(3))


@pytest.mark.parametrize("fn", [lambda x: x.masked_select(x > 0), lambda x: x.nonzero(),
                                lambda x: tt.nonzero(x, as_tuple=True)])
def test_data_dependent_ops_raise_under_compile(fn: Callable[..., Any]) -> None:
    with pytest.raises(tt.TraceError, match="tt.where"):
        tt.compile(fn)(tt.ones(3))


@pytest.mark.parametrize("values", [[[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]], [0.0, 0.0], 1.5, 0.0,
                                    np.zeros((0, 2)).tolist()])
def test_nonzero(values: Any) -> None:
    for as_tuple in (False, True):
        want = torch.nonzero(torch.tensor(values), as_tuple=as_tuple)
        got = tt.nonzero(tt.tensor(values), as_tuple=as_tuple)
        for g, w in zip(H.pieces(got), H.pieces(want)):
            H.assert_same(g, w, f"nonzero as_tuple={as_tuple}")
    H.assert_same(tt.tensor(values).argwhere(), torch.tensor(values).argwhere(), "argwhere")


def test_getitem_method_exists_and_iterates_by_unbind() -> None:
    x = tt.arange(6).reshape(2, 3)
    assert [r.tolist() for r in x.unbind()] == [[0, 1, 2], [3, 4, 5]]
    assert x[1, 2].item() == 5


# ----------------------------------------------------------------- errors

ERRORS = [
    ErrorCase("index_out_of_bounds", lambda m, x: x[5], (S,), IndexError,
              ("index 5 is out of bounds for dimension 0 with size 3",)),
    ErrorCase("index_neg_out_of_bounds", lambda m, x: x[-4], (S,), IndexError,
              ("index -4 is out of bounds for dimension 0 with size 3",)),
    ErrorCase("index_second_dim", lambda m, x: x[0, 5], (X,), IndexError,
              ("index 5 is out of bounds for dimension 1 with size 4",)),
    ErrorCase("index_after_none", lambda m, x: x[None, 0, 5], (X,), IndexError,
              ("index 5 is out of bounds for dimension 2 with size 4",)),
    ErrorCase("too_many", lambda m, x: x[0, 0, 0], (S,), IndexError,
              ("too many indices for tensor of dimension 2",)),
    ErrorCase("too_many_slices", lambda m, x: x[:, :, :], (S,), IndexError,
              ("too many indices for tensor of dimension 2",)),
    ErrorCase("index_0d", lambda m, x: x[0], ((),), IndexError,
              ("invalid index of a 0-dim tensor",)),
    ErrorCase("negative_step", lambda m, x: x[::-1], (S,), ValueError,
              ("step must be greater than zero",)),
    ErrorCase("zero_step", lambda m, x: x[::0], (S,), ValueError,
              ("slice step cannot be zero",)),
    ErrorCase("float_index", lambda m, x: x[1.5], (S,), IndexError,
              ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
               "are valid indices (got float)",)),
    ErrorCase("float_tensor_index", lambda m, x: x[m.tensor([0.0])], (S,), IndexError,
              ("tensors used as indices must be long, int, byte or bool tensors",)),
    ErrorCase("list_out_of_bounds", lambda m, x: x[[0, 5]], (S,), IndexError,
              ("index 5 is out of bounds for dimension 0 with size 3",)),
    ErrorCase("list_second_out_of_bounds", lambda m, x: x[[0], [9]], (S,), IndexError,
              ("index 9 is out of bounds for dimension 1 with size 4",)),
    ErrorCase("list_on_empty", lambda m, x: x[[0]], ((0, 3),), IndexError,
              ("index is out of bounds for dimension with size 0",)),
    ErrorCase("broadcast_mismatch", lambda m, x: x[[0, 1], [0, 1, 2]], (S,), IndexError,
              ("shape mismatch: indexing tensors could not be broadcast together with shapes "
               "[2], [3]",)),
    ErrorCase("mask_shape", lambda m, x: x[m.ones(2, dtype=m.bool)], (X,), IndexError,
              ("The shape of the mask [2] at index 0 does not match the shape of the indexed "
               "tensor [3, 4, 5] at index 0",)),
    ErrorCase("mask_shape_after_int", lambda m, x: x[0, m.ones(3, dtype=m.bool)], (X,),
              IndexError, ("The shape of the mask [3] at index 0 does not match the shape of "
                           "the indexed tensor [4, 5] at index 0",)),
    ErrorCase("index_select_2d", lambda m, x: x.index_select(1, m.tensor([[0]])), (S,),
              IndexError, ("index_select(): Index is supposed to be a vector",)),
    ErrorCase("index_select_float", lambda m, x: x.index_select(1, m.tensor([0.0])), (S,),
              RuntimeError, ("index_select(): Expected dtype int32 or int64 for index",)),
    ErrorCase("index_select_bounds", lambda m, x: x.index_select(1, m.tensor([4])), (S,),
              RuntimeError, ("INDICES element is out of DATA bounds, id=4 axis_dim=4",)),
    ErrorCase("gather_bounds", lambda m, x: x.gather(1, m.tensor([[5]])), (S,), RuntimeError,
              ("index 5 is out of bounds for dimension 1 with size 4",)),
    ErrorCase("gather_negative", lambda m, x: x.gather(1, m.tensor([[-1]])), (S,), RuntimeError,
              ("index -1 is out of bounds for dimension 1 with size 4",)),
    ErrorCase("gather_ndim", lambda m, x: x.gather(1, m.tensor([0])), (S,), RuntimeError,
              ("Index tensor must have the same number of dimensions as input tensor",)),
    ErrorCase("gather_size", lambda m, x: x.gather(1, m.zeros(4, 1, dtype=m.long)), (S,),
              RuntimeError, ("Size does not match at dimension 0 expected index [4, 1] to be no "
                             "larger than self [3, 4] apart from dimension 1",)),
    ErrorCase("gather_dtype", lambda m, x: x.gather(1, m.tensor([[0]], dtype=m.int16)), (S,),
              RuntimeError, ("gather(): Expected dtype int32/int64 for index",)),
    ErrorCase("scatter_dtype", lambda m, x: x.scatter(1, m.tensor([[0]]),
                                                      m.ones(1, 1, dtype=m.float64)), (S,),
              RuntimeError, ("scatter(): Expected self.dtype to be equal to src.dtype",)),
    ErrorCase("scatter_src_small", lambda m, x: x.scatter(1, m.tensor([[0, 1], [1, 2]]),
                                                          m.ones(1, 2)), (S,),
              RuntimeError, ("Expected index [2, 2] to be no larger than self [3, 4] apart from "
                             "dimension 1 and to be no larger size than src [1, 2]",)),
    ErrorCase("scatter_bounds", lambda m, x: x.scatter(1, m.tensor([[4]]), 1.0), (S,),
              RuntimeError, ("index 4 is out of bounds for dimension 1 with size 4",)),
    ErrorCase("scatter_add_dtype", lambda m, x: x.scatter_add(1, m.tensor([[0]]),
                                                              m.ones(1, 1, dtype=m.float64)),
              (S,), RuntimeError, ("scatter(): Expected self.dtype to be equal to src.dtype",)),
    ErrorCase("index_add_count", lambda m, x: x.index_add(1, m.tensor([0, 0]), m.ones(3, 3)),
              (S,), RuntimeError, ("index_add_(): Number of indices (2) should be equal to "
                                   "source.size(dim): (3), for dim: 1",)),
    ErrorCase("index_add_dtype", lambda m, x: x.index_add(1, m.tensor([0]),
                                                          m.ones(3, 1, dtype=m.float64)),
              (S,), RuntimeError, ("index_add_(): self (Float) and source (Double) must have "
                                   "the same scalar type",)),
    ErrorCase("index_put_bounds", lambda m, x: x.index_put((m.tensor([3]),), m.tensor(1.0)),
              (S,), IndexError, ("index 3 is out of bounds for dimension 0 with size 3",)),
    ErrorCase("index_put_dtype", lambda m, x: x.index_put((m.tensor([0]),),
                                                          m.tensor([1.0], dtype=m.float64)),
              (S,), RuntimeError, ("Index put requires the source and destination dtypes match",)),
    ErrorCase("take_bounds", lambda m, x: x.take(m.tensor([12])), (S,), IndexError,
              ("out of range: tried to access index 12 on a tensor of 12 elements.",)),
    ErrorCase("masked_fill_float_mask", lambda m, x: x.masked_fill(x, 1.0), (S,), RuntimeError,
              ("masked_fill_ only supports boolean masks, but got mask with dtype float",)),
    ErrorCase("masked_fill_value_dims", lambda m, x: x.masked_fill(x > 0, m.tensor([2.0])),
              (S,), RuntimeError, ("masked_fill_ only supports a 0-dimensional value tensor",)),
    ErrorCase("masked_select_float_mask", lambda m, x: x.masked_select(x), (S,), RuntimeError,
              ("masked_select: expected BoolTensor for mask",)),
]


@pytest.mark.parametrize("e, mode", H.error_params(ERRORS))
def test_error(e: Any, mode: str) -> None:
    H.check_error(e, mode)
