"""Linear algebra against PyTorch: mm, bmm, mv, dot, vdot, outer/ger, inner, tensordot,
trace, addmm, addmv, baddbmm, addbmm and einsum.

Registry style (see test_ops.py, whose helpers this reuses): each case runs with
torchtrek and torch, eagerly and under tt.compile, comparing values, shapes, dtypes
and gradients; `fd=True` cases are also checked with float64 finite differences.
Error cases check torch's exception type and message against ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402  (the shared op harness)

Case, I, V = _h.Case, _h.I, _h.V
check_op, check_finite_differences = _h.check_op, _h.check_finite_differences
make_inputs, to_lib = _h.make_inputs, _h.to_lib

CASES: list[Any] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


FIXED = (None,)


def INT(*shape: int, dtype: str = "int64") -> Any:
    return I(tuple(shape), dtype, -3, 4)


# --- mm / bmm / mv / dot
case("mm", lambda m, a, b: m.mm(a, b), (3, 4), (4, 5), fd=True)
case("mm_method", lambda m, a, b: a.mm(b), (3, 4), (4, 2))
case("mm_size1", lambda m, a, b: m.mm(a, b), (1, 4), (4, 1))
case("mm_empty_rows", lambda m, a, b: m.mm(a, b), (0, 3), (3, 2))
case("mm_empty_inner", lambda m, a, b: m.mm(a, b), (2, 0), (0, 3))
case("mm_int64", lambda m, a, b: m.mm(a, b), INT(2, 3), INT(3, 2), dtypes=FIXED)
case("mm_int32", lambda m, a, b: a.mm(b), INT(2, 3, dtype="int32"), INT(3, 2, dtype="int32"),
     dtypes=FIXED)
case("bmm", lambda m, a, b: m.bmm(a, b), (2, 3, 4), (2, 4, 5), fd=True)
case("bmm_method", lambda m, a, b: a.bmm(b), (3, 2, 2), (3, 2, 1))
case("bmm_empty_batch", lambda m, a, b: m.bmm(a, b), (0, 3, 4), (0, 4, 5))
case("mv", lambda m, a, v: m.mv(a, v), (3, 4), (4,), fd=True)
case("mv_method", lambda m, a, v: a.mv(v), (2, 5), (5,))
case("mv_empty", lambda m, a, v: m.mv(a, v), (3, 0), (0,))
case("mv_int", lambda m, a, v: a.mv(v), INT(2, 3), INT(3), dtypes=FIXED)
case("dot", lambda m, a, b: m.dot(a, b), (5,), (5,), fd=True)
case("dot_method", lambda m, a, b: a.dot(b), (3,), (3,))
case("dot_self", lambda m, a: a.dot(a), (4,))
case("dot_empty", lambda m, a, b: m.dot(a, b), (0,), (0,))
case("dot_int32", lambda m, a, b: m.dot(a, b), INT(4, dtype="int32"), INT(4, dtype="int32"),
     dtypes=FIXED)
case("vdot", lambda m, a, b: m.vdot(a, b), (4,), (4,))

# --- outer / inner / tensordot / trace
case("outer", lambda m, a, b: m.outer(a, b), (3,), (4,), fd=True)
case("outer_method", lambda m, a, b: a.outer(b), (2,), (3,))
case("ger", lambda m, a, b: m.ger(a, b), (3,), (2,))
case("outer_promote", lambda m, a, b: m.outer(a, b), INT(3), I((2,), "float32"), dtypes=FIXED)
case("outer_bool", lambda m, a, b: m.outer(a, b), I((3,), "bool"), I((2,), "bool"),
     dtypes=FIXED)
case("outer_empty", lambda m, a, b: m.outer(a, b), (0,), (3,))
case("inner", lambda m, a, b: m.inner(a, b), (2, 3), (4, 3), fd=True)
case("inner_1d", lambda m, a, b: a.inner(b), (3,), (3,))
case("inner_3d", lambda m, a, b: m.inner(a, b), (2, 2, 3), (3,))
case("inner_0d", lambda m, a, b: m.inner(a, b), (), (2, 3))
case("tensordot_2", lambda m, a, b: m.tensordot(a, b), (2, 3, 4), (3, 4, 5), fd=True)
case("tensordot_1", lambda m, a, b: m.tensordot(a, b, 1), (2, 3), (3, 4))
case("tensordot_0", lambda m, a, b: m.tensordot(a, b, dims=0), (2, 3), (4,))
case("tensordot_lists", lambda m, a, b: m.tensordot(a, b, ([1, 0], [0, 2])), (3, 2, 4), (2, 5, 3),
     fd=True)
case("tensordot_nested_list", lambda m, a, b: m.tensordot(a, b, [[2], [-3]]), (2, 3, 4),
     (4, 2, 5))
case("tensordot_size1", lambda m, a, b: m.tensordot(a, b, 2), (2, 3, 4), (1, 4, 5))
case("tensordot_int64", lambda m, a, b: m.tensordot(a, b, 1), INT(2, 3), INT(3, 2), dtypes=FIXED)
case("trace", lambda m, x: x.trace(), (3, 3), fd=True)
case("trace_wide", lambda m, x: x.trace(), (2, 4))
case("trace_tall", lambda m, x: x.trace(), (4, 2))
case("trace_empty", lambda m, x: x.trace(), (0, 3))
case("trace_int", lambda m, x: x.trace(), INT(3, 3, dtype="int32"), dtypes=FIXED)
case("trace_inf", lambda m, x: x.trace(), V([[1.0, float("inf")], [float("-inf"), 2.0]]))

# --- add + product (beta, alpha)
case("addmm", lambda m, c, a, b: m.addmm(c, a, b), (2, 3), (2, 4), (4, 3), fd=True)
case("addmm_scaled", lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2.0), (2, 3), (2, 4),
     (4, 3), fd=True)
case("addmm_broadcast", lambda m, c, a, b: c.addmm(a, b, alpha=-1), (3,), (2, 4), (4, 3))
case("addmm_beta0_nan", lambda m, c, a, b: m.addmm(c, a, b, beta=0),
     V([[float("nan")] * 3] * 2), (2, 4), (4, 3))
case("addmm_int", lambda m, c, a, b: m.addmm(c, a, b, beta=2, alpha=3), INT(2, 3), INT(2, 4),
     INT(4, 3), dtypes=FIXED)
case("addmv", lambda m, c, a, v: m.addmv(c, a, v, beta=2.0), (3,), (3, 4), (4,), fd=True)
case("addmv_method", lambda m, c, a, v: c.addmv(a, v), (1,), (3, 4), (4,))
case("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b, alpha=0.5), (2, 3, 5), (2, 3, 4),
     (2, 4, 5), fd=True)
case("baddbmm_broadcast", lambda m, c, a, b: c.baddbmm(a, b), (5,), (2, 3, 4), (2, 4, 5))
case("addbmm", lambda m, c, a, b: m.addbmm(c, a, b, beta=-1.0), (3, 5), (2, 3, 4), (2, 4, 5),
     fd=True)

# --- einsum: matrix forms, implicit output, batch dims, diagonals, ellipsis
EIN = {
    "matmul": ("ij,jk->ik", (3, 4), (4, 5)),
    "matmul_implicit": ("ij,jk", (3, 4), (4, 2)),
    "bmm": ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    "attention": ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)),
    "attention_out": ("bhqk,bhkd->bqhd", (2, 2, 3, 5), (2, 2, 5, 4)),
    "dot": ("i,i->", (5,), (5,)),
    "dot_implicit": ("i,i", (5,), (5,)),
    "outer": ("i,j->ij", (3,), (4,)),
    "outer_implicit_order": ("j,i", (3,), (4,)),
    "mv": ("ij,j->i", (3, 4), (4,)),
    "elementwise": ("ij,ij->ij", (3, 4), (3, 4)),
    "row_dots": ("ij,ij->i", (3, 4), (3, 4)),
    "frobenius": ("ij,ij", (3, 4), (3, 4)),
    "transpose_product": ("ij,kj->ik", (3, 4), (2, 4)),
    "sum_unique_labels": ("ij,kl->ik", (3, 4), (2, 5)),
    "bilinear": ("bi,ij,bj->b", (4, 3), (3, 5), (4, 5)),
    "chain3": ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),
    "ellipsis_batch": ("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),
    "ellipsis_implicit": ("...ij,...jk", (2, 3, 4), (4, 2)),
    "ellipsis_middle": ("b...d,d->b...", (2, 3, 4, 5), (5,)),
    "broadcast_size1": ("ij,jk->ik", (2, 1), (3, 4)),
    "broadcast_size1_batch": ("bij,bjk->bik", (1, 2, 3), (4, 3, 2)),
    "upper_case": ("Ab,bA->A", (2, 3), (3, 2)),
    "scalar_operand": (",ij->ij", (), (2, 3)),
    "empty_inner": ("ij,jk->ik", (2, 0), (0, 3)),
    "empty_outer": ("ij,jk->ik", (0, 2), (2, 3)),
}
for _name, (_eq, *_shapes) in EIN.items():
    case(f"einsum_{_name}", lambda m, *xs, _eq=_eq: m.einsum(_eq, *xs), *_shapes,
         fd=_name in ("matmul", "attention", "bilinear", "ellipsis_batch", "broadcast_size1"))
EIN1 = {
    "transpose": ("ij->ji", (3, 4)),
    "implicit_transpose": ("ji", (3, 4)),
    "identity": ("ij", (3, 4)),
    "sum_all": ("ij->", (3, 4)),
    "sum_rows": ("ij->i", (3, 4)),
    "permute3": ("ijk->kij", (2, 3, 4)),
    "diagonal": ("ii->i", (3, 3)),
    "trace": ("ii", (3, 3)),
    "diagonal_batch": ("bii->bi", (2, 3, 3)),
    "diagonal_inner": ("iji->j", (3, 2, 3)),
    "diagonal_lead": ("iij->ji", (3, 3, 2)),
    "triple_diagonal": ("iii->i", (2, 2, 2)),
    "ellipsis_sum": ("i...->...", (2, 3, 4)),
    "ellipsis_dropped": ("i...->i", (2, 3, 4)),
    "ellipsis_only": ("...->...", (2, 3)),
    "ellipsis_output_empty": ("ij->...ij", (2, 3)),
    "spaces": (" i j -> j i ", (2, 3)),
    "scalar": ("->", ()),
    "empty_sum": ("ij->j", (0, 3)),
}
for _name, (_eq, _shape) in EIN1.items():
    case(f"einsum_{_name}", lambda m, x, _eq=_eq: m.einsum(_eq, x), _shape,
         fd=_name in ("diagonal", "trace", "diagonal_inner", "ellipsis_sum"))
case("einsum_list_operands", lambda m, a, b: m.einsum("ij,jk->ik", [a, b]), (3, 4), (4, 2))
case("einsum_same_operand", lambda m, a: m.einsum("ij,kj->ik", a, a), (3, 4), fd=True)
case("einsum_int32", lambda m, a, b: m.einsum("ij,jk->ik", a, b), INT(2, 3, dtype="int32"),
     INT(3, 4, dtype="int32"), dtypes=FIXED)
case("einsum_int64_sum", lambda m, a, b: m.einsum("ij,jk->k", a, b), INT(2, 3), INT(3, 4),
     dtypes=FIXED)
case("einsum_int64_diagonal", lambda m, a: m.einsum("ii->i", a), INT(3, 3), dtypes=FIXED)
case("einsum_inf_diagonal", lambda m, a: m.einsum("ii->i", a),
     V([[1.0, float("inf")], [float("-inf"), 2.0]]))

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})


@pytest.mark.parametrize("c, dtype", _h._params(CASES))
def test_op(c: Any, dtype: str | None) -> None:
    check_op(c.fn, c.torch_fn, c.inputs, dtype=dtype, grad=c.grad, rtol=c.rtol, atol=c.atol)


@pytest.mark.parametrize("c", _h._params([c for c in CASES if c.fd], only_float64=True))
def test_finite_differences(c: Any) -> None:
    check_finite_differences(c.fn, c.inputs)


def test_einsum_second_derivative() -> None:
    """Nested tt.grad through an einsum contraction and a diagonal matches torch."""
    rng = np.random.default_rng(4)
    x0, v = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 3))

    def fn(m: Any, x: Any) -> Any:
        return (m.einsum("bij,bkj->bik", x, x) ** 2).sum() + (m.einsum("bii->b", x) ** 3).sum()

    hvp = tt.grad(lambda x: (tt.grad(lambda y: fn(tt, y))(x) * tt.tensor(v)).sum())(tt.tensor(x0))
    xt = torch.tensor(x0, requires_grad=True)
    (g,) = torch.autograd.grad(fn(torch, xt), xt, create_graph=True)
    (want,) = torch.autograd.grad((g * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hvp.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_lowers_to_one_matmul() -> None:
    """A batched contraction is one matmul in the IR, with no broadcast multiply-sum."""
    a, b = tt.randn(2, 3, 4), tt.randn(2, 4, 5)
    text = tt.compile(lambda x, y: tt.einsum("bij,bjk->bik", x, y)).ir(a, b)
    assert text.count(" = matmul ") == 1 and " = broadcast_to " not in text
    assert " = sum" not in text
    text = tt.compile(lambda x, y: tt.einsum("bhqd,bhkd->bhqk", x, y)).ir(
        tt.randn(2, 2, 3, 4), tt.randn(2, 2, 5, 4))
    assert text.count(" = matmul ") == 1 and " = broadcast_to " not in text


def test_grad_fn_names() -> None:
    a = tt.randn(3, 3, requires_grad=True)
    v = tt.randn(3, requires_grad=True)
    b = a.reshape(1, 3, 3)
    names = {"MmBackward0": tt.mm(a, a), "BmmBackward0": tt.bmm(b, b),
             "MvBackward0": tt.mv(a, v), "DotBackward0": tt.dot(v, v),
             "TraceBackward0": a.trace(), "AddmmBackward0": tt.addmm(a, a, a)}
    for want, t in names.items():
        assert t.grad_fn.name() == want


NAMES = ["mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot", "addmm",
         "addmv", "baddbmm", "addbmm", "einsum"]


@pytest.mark.parametrize("name", NAMES + ["trace"])
def test_function_and_method_exist(name: str) -> None:
    if name != "trace":  # tt.trace is the tracer (tt.trace(fn, *args)); x.trace() is here
        assert callable(getattr(tt, name, None)), f"tt.{name} is missing"
    if hasattr(torch.Tensor, name):
        assert callable(getattr(tt.Tensor, name, None)), f"tt.Tensor.{name} is missing"


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCase:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    exc: type
    messages: tuple  # substrings torch's message and ours must both contain


def E(id: str, fn: Callable[..., Any], inputs: tuple, exc: type, *messages: str) -> ErrorCase:
    return ErrorCase(id, fn, inputs, exc, messages)


F64 = lambda *s: I(s, "float64")  # noqa: E731
ERRORS = [
    E("mm_mismatch", lambda m, a, b: m.mm(a, b), ((3, 4), (5, 6)), RuntimeError,
      "mat1 and mat2 shapes cannot be multiplied (3x4 and 5x6)"),
    E("mm_self_1d", lambda m, a, b: m.mm(a, b), ((3,), (3, 6)), RuntimeError,
      "self must be a matrix"),
    E("mm_mat2_1d", lambda m, a, b: a.mm(b), ((3, 3), (3,)), RuntimeError, "mat2 must be a matrix"),
    E("mm_dtype", lambda m, a, b: m.mm(a, b), ((3, 3), F64(3, 3)), RuntimeError,
      "expected m1 and m2 to have the same dtype, but got: float != double"),
    E("mm_bool", lambda m, a, b: m.mm(a, b), (I((2, 2), "bool"), I((2, 2), "bool")),
      NotImplementedError, "not implemented for 'Bool'"),
    E("bmm_batch1_2d", lambda m, a, b: m.bmm(a, b), ((3, 4), (2, 4, 5)), RuntimeError,
      "batch1 must be a 3D tensor"),
    E("bmm_batch2_2d", lambda m, a, b: m.bmm(a, b), ((2, 3, 4), (4, 5)), RuntimeError,
      "batch2 must be a 3D tensor"),
    E("bmm_batch_mismatch", lambda m, a, b: m.bmm(a, b), ((2, 3, 4), (3, 4, 5)), RuntimeError,
      "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [3, 4]."),
    E("bmm_inner_mismatch", lambda m, a, b: a.bmm(b), ((2, 3, 4), (2, 5, 5)), RuntimeError,
      "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 5]."),
    E("bmm_dtype", lambda m, a, b: m.bmm(a, b), ((2, 3, 4), F64(2, 4, 5)), RuntimeError,
      "expected scalar type Float but found Double"),
    E("mv_size", lambda m, a, v: m.mv(a, v), ((3, 4), (5,)), RuntimeError,
      "size mismatch, got input (3), mat (3x4), vec (5)"),
    E("mv_dims", lambda m, a, v: m.mv(a, v), ((3, 4), (4, 1)), RuntimeError,
      "vector + matrix @ vector expected, got 1, 2, 2"),
    E("mv_dtype", lambda m, a, v: m.mv(a, v), ((3, 4), F64(4)), RuntimeError,
      "addmv input tensors must have the same dtype, but got Double, Float, and Double"),
    E("dot_2d", lambda m, a, b: m.dot(a, b), ((3, 1), (3,)), RuntimeError,
      "1D tensors expected, but got 2D and 1D tensors"),
    E("dot_size", lambda m, a, b: a.dot(b), ((3,), (4,)), RuntimeError,
      "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of "
      "elements, but got 3 and 4 elements respectively"),
    E("dot_dtype", lambda m, a, b: m.dot(a, b), ((3,), F64(3)), RuntimeError,
      "dot : expected both vectors to have same dtype, but found Float and Double"),
    E("outer_self_2d", lambda m, a, b: m.outer(a, b), ((3, 1), (4,)), RuntimeError,
      "outer: Expected 1-D argument self, but got 2-D"),
    E("outer_vec2_2d", lambda m, a, b: m.ger(a, b), ((3,), (2, 3)), RuntimeError,
      "outer: Expected 1-D argument vec2, but got 2-D"),
    E("tensordot_mismatch", lambda m, a, b: m.tensordot(a, b, 2), ((2, 3, 4), (4, 5)),
      RuntimeError, "contracted dimensions need to match, but first has size 3 in dim -2 and "
      "second has size 4 in dim 0"),
    E("tensordot_lists_mismatch", lambda m, a, b: m.tensordot(a, b, ([1], [1])),
      ((2, 3, 4), (3, 4, 5)), RuntimeError, "first has size 3 in dim 1 and second has size 4"),
    E("tensordot_list_lengths", lambda m, a, b: m.tensordot(a, b, ([1, 2], [0])),
      ((2, 3, 4), (3, 4, 5)), RuntimeError, "both dimension lists should have same length"),
    E("tensordot_negative", lambda m, a, b: m.tensordot(a, b, -1), ((2, 3), (3, 4)),
      RuntimeError, "tensordot expects dims >= 0, but got dims=-1"),
    E("tensordot_int_pair", lambda m, a, b: m.tensordot(a, b, (1, 0)), ((2, 3), (3, 4)),
      TypeError, "must be tuple of ints, not int"),
    E("tensordot_dtype", lambda m, a, b: m.tensordot(a, b, 1), ((2, 3), F64(3, 4)),
      RuntimeError, "both inputs should have same dtype"),
    E("trace_1d", lambda m, x: x.trace(), ((3,),), RuntimeError,
      "trace: expected a matrix, but got tensor with dim 1"),
    E("trace_3d", lambda m, x: x.trace(), ((2, 2, 2),), RuntimeError,
      "trace: expected a matrix, but got tensor with dim 3"),
    E("addmm_expand", lambda m, c, a, b: m.addmm(c, a, b), ((2, 2), (2, 4), (4, 3)),
      RuntimeError, "The expanded size of the tensor (3) must match the existing size (2) at "
      "non-singleton dimension 1.  Target sizes: [2, 3].  Tensor sizes: [2, 2]"),
    E("addmm_dtype", lambda m, c, a, b: m.addmm(c, a, b), (F64(2, 3), (2, 4), (4, 3)),
      RuntimeError, "self and mat2 must have the same dtype, but got Double and Float"),
    E("einsum_size", lambda m, a, b: m.einsum("ij,jk->ik", a, b), ((2, 3), (4, 4)), RuntimeError,
      "einsum(): subscript j has size 4 for operand 1 which does not broadcast with previously "
      "seen size 3"),
    E("einsum_output_repeated", lambda m, a: m.einsum("ij->ii", a), ((2, 3),), RuntimeError,
      "einsum(): output subscript i appears more than once in the output"),
    E("einsum_output_unknown", lambda m, a: m.einsum("ij->k", a), ((2, 3),), RuntimeError,
      "einsum(): output subscript k does not appear in the equation for any input operand"),
    E("einsum_ndim", lambda m, a: m.einsum("ijk->ij", a), ((2, 3),), RuntimeError,
      "einsum(): the number of subscripts in the equation (3) does not match the number of "
      "dimensions (2) for operand 0 and no ellipsis was given"),
    E("einsum_ndim_ellipsis", lambda m, a: m.einsum("...ijk->ij", a), ((2, 3),), RuntimeError,
      "einsum(): the number of subscripts in the equation (3) is more than the number of "
      "dimensions (2) for operand 0"),
    E("einsum_fewer_operands", lambda m, a: m.einsum("ij,jk->ik", a), ((2, 3),), RuntimeError,
      "einsum(): fewer operands were provided than specified in the equation"),
    E("einsum_more_operands", lambda m, a, b: m.einsum("ij->ij", a, b), ((2, 3), (2, 3)),
      RuntimeError, "einsum(): more operands were provided than specified in the equation"),
    E("einsum_bad_subscript", lambda m, a: m.einsum("i1->i", a), ((2, 3),), RuntimeError,
      "einsum(): invalid subscript given at index 1 in the equation string, subscripts must be "
      "in [a-zA-Z]"),
    E("einsum_bad_output_subscript", lambda m, a: m.einsum("ij->ij->", a), ((2, 3),),
      RuntimeError, "invalid subscript given at index 6 in the equation string"),
    E("einsum_diagonal_sizes", lambda m, a: m.einsum("ii->i", a), ((2, 3),), RuntimeError,
      "einsum(): subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
    E("einsum_dtype", lambda m, a, b: m.einsum("ij,jk->ik", a, b), ((2, 3), F64(3, 4)),
      RuntimeError, "expected scalar type Float but found Double"),
    E("einsum_ellipsis_broadcast", lambda m, a, b: m.einsum("...,...->...", a, b),
      ((2, 3), (4,)), RuntimeError,
      "einsum(): dimension 0 covered by ellipsis in operand 1has size 4 which does not "
      "broadcast with previously seen ellipsis with size 3 for the respective dimension"),
    E("einsum_partial_ellipsis", lambda m, a: m.einsum("ij..->ij", a), ((2, 3),), RuntimeError,
      "einsum(): found '.' for operand 0 that is not part of any ellipsis"),
    E("einsum_two_ellipses", lambda m, a: m.einsum("i...j...->ij", a), ((2, 3),), RuntimeError,
      "einsum(): found '.' for operand 0 for which an ellipsis was already found"),
    E("einsum_two_output_ellipses", lambda m, a: m.einsum("ij...->...ij...", a), ((2, 3),),
      RuntimeError, "einsum(): found '.' for output but an ellipsis (...) was already found"),
    E("einsum_bool_contraction", lambda m, a, b: m.einsum("ij,jk->ik", a, b),
      (I((2, 3), "bool"), I((3, 4), "bool")), NotImplementedError,
      "\"bmm\" not implemented for 'Bool'"),
]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("e", [pytest.param(e, id=e.id) for e in ERRORS])
def test_error(e: ErrorCase, mode: str) -> None:
    _h.check_error(e, mode)
