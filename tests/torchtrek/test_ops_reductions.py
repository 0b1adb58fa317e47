"""Reductions and scans against PyTorch: prod, amin, min, argmin, aminmax, var/std,
var_mean/std_mean, norm, logsumexp, cumsum, cumprod, all, any, count_nonzero.

Registry style (see test_ops.py, whose helpers this reuses): each case is a lambda
taking the module first, run with torchtrek and torch, eagerly and under tt.compile,
comparing values, shapes, dtypes and gradients; `fd=True` cases are also checked with
float64 finite differences, and a few with second derivatives (nested tt.grad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402  (the shared op harness)

Case, I, P, V = _h.Case, _h.I, _h.P, _h.V
check_op, check_finite_differences = _h.check_op, _h.check_finite_differences
make_inputs, to_lib, FLOATS = _h.make_inputs, _h.to_lib, _h.FLOATS

pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom:UserWarning")

CASES: list[Any] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


FIXED = (None,)
R = (2, 3, 4)
S = (3, 4)
EMPTY = (0, 3)
TIES = [[1.0, -2.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 4.0, 4.0, -1.0]]
ZEROS1 = [[1.5, 0.0, -2.0, 0.5], [0.75, -1.25, 2.0, 1.5], [0.0, 3.0, 0.5, -1.0]]
ZEROS2 = [[0.0, 1.5, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0], [1.0, 2.0, 0.0, 3.0]]
NAN = [[1.0, float("nan"), -1.0], [2.0, 0.5, 3.0]]
INT = I(S, "int64", -4, 5)

# --- prod
case("prod_all", lambda m, x: m.prod(x), R, fd=True)
case("prod_all_method", lambda m, x: x.prod(), R)
case("prod_dim", lambda m, x: x.prod(1), R, fd=True)
case("prod_dim_fn", lambda m, x: m.prod(x, 0), R)
case("prod_dim_neg_keepdim", lambda m, x: x.prod(-1, keepdim=True), R)
case("prod_size1", lambda m, x: x.prod(1), (3, 1, 2))
case("prod_0d", lambda m, x: x.prod(), ())
case("prod_0d_dim", lambda m, x: x.prod(0), ())
case("prod_empty_all", lambda m, x: x.prod(), EMPTY)
case("prod_empty_dim0", lambda m, x: x.prod(0), EMPTY)
case("prod_empty_dim1", lambda m, x: x.prod(1, keepdim=True), EMPTY)
case("prod_one_zero", lambda m, x: x.prod(1), V(ZEROS1), fd=True)
case("prod_two_zeros", lambda m, x: x.prod(1), V(ZEROS2), fd=True)
case("prod_all_one_zero", lambda m, x: x.prod(), V([[1.5, 0.0], [2.0, -0.5]]), fd=True)
case("prod_all_zeros", lambda m, x: m.prod(x), V(ZEROS2))
case("prod_dtype_kw", lambda m, x: x.prod(1, dtype=m.float64), I(S, "float32"), dtypes=FIXED)
case("prod_int64", lambda m, x: x.prod(1), INT, dtypes=FIXED)
case("prod_int32", lambda m, x: x.prod(), I(S, "int32", -3, 4), dtypes=FIXED)
case("prod_bool", lambda m, x: x.prod(0), I(S, "bool"), dtypes=FIXED)

# --- amin (ties share the gradient) and min
case("amin_all", lambda m, x: m.amin(x), R)
case("amin_dim", lambda m, x: x.amin(1), R, fd=True)
case("amin_dims_tuple", lambda m, x: x.amin((0, 2)), R)
case("amin_dims_neg_keepdim", lambda m, x: m.amin(x, (-1, -3), keepdim=True), R)
case("amin_ties", lambda m, x: x.amin(1), V(TIES))
case("amin_ties_all", lambda m, x: x.amin(), V(TIES))
case("amin_0d", lambda m, x: x.amin(), ())
case("amin_empty_other_dim", lambda m, x: x.amin(1), EMPTY)
case("amin_int", lambda m, x: x.amin(0), INT, dtypes=FIXED)
case("amin_bool", lambda m, x: x.amin(1), I(S, "bool"), dtypes=FIXED)
case("amin_nan", lambda m, x: x.amin(1), V(NAN))
case("min_all", lambda m, x: m.min(x), R)
case("min_all_ties", lambda m, x: x.min(), V(TIES))
case("min_dim_values", lambda m, x: m.min(x, 1).values, R, fd=True)
case("min_dim_indices", lambda m, x: m.min(x, 1).indices, R)
case("min_dim_tuple_index", lambda m, x: x.min(0)[0] * 2, R)
case("min_dim_neg_keepdim", lambda m, x: x.min(-1, keepdim=True).values, R)
case("min_dim_keepdim_positional", lambda m, x: m.min(x, 0, True)[1], R)
case("min_ties_to_index", lambda m, x: x.min(1).values, V(TIES))
case("min_ties_indices", lambda m, x: x.min(1).indices, V(TIES))
case("min_nan", lambda m, x: x.min(1).values, V(NAN))
case("min_nan_indices", lambda m, x: x.min(1).indices, V(NAN))
case("min_0d_dim", lambda m, x: x.min(0).values, ())
case("min_0d_dim_indices", lambda m, x: x.min(0).indices, ())
case("min_empty_other_dim", lambda m, x: x.min(1).values, EMPTY)
case("min_int_dim", lambda m, x: x.min(1).values, INT, dtypes=FIXED)
case("min_size1", lambda m, x: x.min(1).values, (3, 1, 2))
case("min_elementwise", lambda m, x, y: m.min(x, y), S, S)
case("argmin_all", lambda m, x: m.argmin(x), R)
case("argmin_dim", lambda m, x: x.argmin(1), R)
case("argmin_neg_keepdim", lambda m, x: x.argmin(-1, keepdim=True), R)
case("argmin_all_keepdim", lambda m, x: x.argmin(keepdim=True), R)
case("argmin_ties", lambda m, x: x.argmin(1), V(TIES))
case("argmin_0d", lambda m, x: x.argmin(), ())
case("argmin_0d_dim", lambda m, x: x.argmin(0), ())
case("argmin_int", lambda m, x: x.argmin(0), INT, dtypes=FIXED)
case("aminmax_min", lambda m, x: m.aminmax(x).min, R)
case("aminmax_max", lambda m, x: m.aminmax(x)[1], R)
case("aminmax_dim", lambda m, x: x.aminmax(dim=1).min + x.aminmax(dim=1).max, V(TIES))
case("aminmax_keepdim", lambda m, x: x.aminmax(dim=-1, keepdim=True).max, R)

# --- var / std (correction, unbiased, keepdim)
case("var_all", lambda m, x: m.var(x), R, fd=True)
case("var_dim", lambda m, x: x.var(1), R, fd=True)
case("var_dims_tuple_keepdim", lambda m, x: x.var((0, -1), keepdim=True), R)
case("var_unbiased_false", lambda m, x: x.var(1, unbiased=False), R)
case("var_positional", lambda m, x: x.var(1, False, True), R)
case("var_positional_unbiased", lambda m, x: m.var(x, False), R)
case("var_correction0", lambda m, x: x.var(dim=2, correction=0), R, fd=True)
case("var_correction2", lambda m, x: x.var(dim=0, correction=2), (4, 3))
case("var_correction_float", lambda m, x: x.var(correction=2.5), R)
case("var_dof0", lambda m, x: x.var(0, correction=2), (2, 3))
case("var_single", lambda m, x: x.var(1), (3, 1))
case("var_0d", lambda m, x: x.var(), ())
case("var_empty_dim", lambda m, x: x.var(0), EMPTY)
case("var_empty_other", lambda m, x: x.var(1), EMPTY)
case("var_large_offset", lambda m, x: (x + 1000.0).var(1), S, rtol=1e-3)
case("std_all", lambda m, x: m.std(x), R, fd=True)
case("std_dim", lambda m, x: x.std(1), R, fd=True)
case("std_unbiased_false_keepdim", lambda m, x: x.std(-1, unbiased=False, keepdim=True), R)
case("std_correction0", lambda m, x: m.std(x, (0, 1), correction=0), R)
case("std_constant_rows", lambda m, x: x.std(1), V([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]))
case("std_0d", lambda m, x: x.std(), ())
case("var_mean_var", lambda m, x: m.var_mean(x, 1)[0], R)
case("var_mean_mean", lambda m, x: m.var_mean(x, 1, keepdim=True)[1], R)
case("std_mean_std", lambda m, x: m.std_mean(x, correction=0)[0], R)
case("std_mean_mean", lambda m, x: m.std_mean(x, (0, 2))[1], R)

# --- norm (gradient 0 at a zero norm, like torch)
NORM_ROWS = [[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, -4.0, 1.0], [-1.0, 2.0, 0.5, 0.0]]
case("norm_default", lambda m, x: m.norm(x), R, fd=True)
case("norm_method", lambda m, x: x.norm(), R)
case("norm_fro", lambda m, x: x.norm("fro"), R)
case("norm_fro_dim", lambda m, x: x.norm("fro", dim=(0, 1)), R)
case("norm_fro_dim_int", lambda m, x: x.norm(p="fro", dim=1), R)
case("norm_2_dim", lambda m, x: x.norm(2, dim=1), R, fd=True)
case("norm_2_dim_keepdim", lambda m, x: m.norm(x, 2, -1, keepdim=True), R)
case("norm_1", lambda m, x: x.norm(1), R, fd=True)
case("norm_1_dim", lambda m, x: x.norm(p=1, dim=(0, 2)), R)
case("norm_inf", lambda m, x: x.norm(float("inf")), R)
case("norm_inf_dim", lambda m, x: x.norm(float("inf"), dim=1), R)
case("norm_inf_ties", lambda m, x: x.norm(float("inf"), dim=1), V(TIES))
case("norm_neg_inf_dim", lambda m, x: x.norm(float("-inf"), dim=1), R)
case("norm_3", lambda m, x: x.norm(3), R, fd=True)
case("norm_3_dim", lambda m, x: x.norm(3.0, dim=0), R)
case("norm_half", lambda m, x: x.norm(0.5, dim=1), P(*R), fd=True)
case("norm_1_5", lambda m, x: x.norm(1.5, dim=1), R, fd=True)
case("norm_0", lambda m, x: x.norm(0), V(NORM_ROWS))
case("norm_0_dim", lambda m, x: x.norm(0, dim=1), V(NORM_ROWS))
case("norm_neg1", lambda m, x: x.norm(-1, dim=1), R)
case("norm_0d", lambda m, x: x.norm(), ())
case("norm_empty_all", lambda m, x: x.norm(), EMPTY)
case("norm_empty_dim", lambda m, x: x.norm(dim=0), EMPTY)
case("norm_dtype_kw", lambda m, x: x.norm(dtype=m.float64), I(R, "float32"), dtypes=FIXED)
for _p in (2, 3, 1.5, 0.5, 1, float("inf"), -1):
    case(f"norm_zeros_p{_p}", lambda m, x, _p=_p: x.norm(_p, dim=1), V(NORM_ROWS))
case("norm_zero_vector", lambda m, x: x.norm(), V([0.0, 0.0, 0.0]))
case("norm_large", lambda m, x: x.norm(dim=1), V([[3e18, 4e18], [1e-20, 0.0]]))

# --- logsumexp (stable; gradient softmax)
BIG = [[1000.0, 1000.5, -1000.0], [-1e4, -1e4 - 2.0, 3.0], [88.0, 89.0, 90.0]]
INFS = [[float("-inf"), float("-inf"), float("-inf")], [float("inf"), 1.0, 2.0],
        [float("-inf"), 0.0, 1.0]]
case("logsumexp_dim", lambda m, x: m.logsumexp(x, 1), R, fd=True)
case("logsumexp_method", lambda m, x: x.logsumexp(-1), R)
case("logsumexp_dims_tuple", lambda m, x: x.logsumexp((0, 2)), R, fd=True)
case("logsumexp_keepdim", lambda m, x: x.logsumexp(0, keepdim=True), R)
# torch's gradient is exp(x - result) with the rounded result: off by ~1e-5 in float32
case("logsumexp_large", lambda m, x: x.logsumexp(1), V(BIG), rtol=1e-4)
case("logsumexp_large_dim0", lambda m, x: x.logsumexp(0), V(BIG))
case("logsumexp_infs", lambda m, x: x.logsumexp(1), V(INFS), grad=False)
case("logsumexp_neg_inf_grad", lambda m, x: x.logsumexp(1), V(INFS[2:]))
case("logsumexp_0d", lambda m, x: x.logsumexp(0), ())
case("logsumexp_empty", lambda m, x: x.logsumexp(0), EMPTY)
case("logsumexp_empty_other", lambda m, x: x.logsumexp(1), EMPTY)
case("logsumexp_int", lambda m, x: m.logsumexp(x, 1), INT, dtypes=FIXED)

# --- cumsum / cumprod
CP_ZEROS = [[2.0, 0.0, 3.0, -1.5, 0.5], [0.0, 1.5, 0.0, 2.0, -1.0],
            [1.0, -2.0, 0.5, 0.0, 0.0], [0.5, 1.5, -1.0, 2.0, 0.0]]
case("cumsum", lambda m, x: m.cumsum(x, 1), R, fd=True)
case("cumsum_method_neg", lambda m, x: x.cumsum(-1), R)
case("cumsum_dim0", lambda m, x: x.cumsum(dim=0), R)
case("cumsum_0d", lambda m, x: x.cumsum(0), ())
case("cumsum_empty", lambda m, x: x.cumsum(0), EMPTY)
case("cumsum_dtype_kw", lambda m, x: x.cumsum(1, dtype=m.float64), I(S, "float32"), dtypes=FIXED)
case("cumsum_int32", lambda m, x: x.cumsum(1), I(S, "int32", -5, 5), dtypes=FIXED)
case("cumsum_bool", lambda m, x: x.cumsum(0), I(S, "bool"), dtypes=FIXED)
case("cumprod", lambda m, x: m.cumprod(x, 1), R, fd=True)
case("cumprod_method_neg", lambda m, x: x.cumprod(-1), R)
case("cumprod_dim0", lambda m, x: x.cumprod(0), R, fd=True)
case("cumprod_zeros", lambda m, x: x.cumprod(1), V(CP_ZEROS), fd=True)
case("cumprod_zeros_dim0", lambda m, x: x.cumprod(0), V(CP_ZEROS), fd=True)
case("cumprod_0d", lambda m, x: x.cumprod(0), ())
case("cumprod_empty", lambda m, x: x.cumprod(1), EMPTY)
case("cumprod_int", lambda m, x: x.cumprod(1), INT, dtypes=FIXED)
case("cumprod_bool", lambda m, x: x.cumprod(1), I(S, "bool"), dtypes=FIXED)

# --- all / any / count_nonzero (no gradients)
LOGIC = [[1.0, 0.0, 2.0], [0.5, -1.0, 3.0]]
for _name in ("all", "any"):
    case(f"{_name}_float", lambda m, x, _n=_name: getattr(m, _n)(x), V(LOGIC))
    case(f"{_name}_dim", lambda m, x, _n=_name: getattr(x, _n)(1), V(LOGIC))
    case(f"{_name}_dim_neg_keepdim", lambda m, x, _n=_name: getattr(x, _n)(-2, keepdim=True),
         V(LOGIC))
    case(f"{_name}_dims_tuple", lambda m, x, _n=_name: getattr(x, _n)((0, 1)), V(LOGIC))
    case(f"{_name}_dims_empty", lambda m, x, _n=_name: getattr(x, _n)(()), V(LOGIC))
    case(f"{_name}_bool", lambda m, x, _n=_name: getattr(x, _n)(0), I(S, "bool"), dtypes=FIXED)
    case(f"{_name}_int", lambda m, x, _n=_name: getattr(x, _n)(1), I(S, "int64", 0, 2),
         dtypes=FIXED)
    case(f"{_name}_uint8", lambda m, x, _n=_name: getattr(x, _n)(1), I(S, "uint8", 0, 2),
         dtypes=FIXED)
    case(f"{_name}_empty", lambda m, x, _n=_name: getattr(x, _n)(), EMPTY)
    case(f"{_name}_empty_dim", lambda m, x, _n=_name: getattr(x, _n)(0), EMPTY)
    case(f"{_name}_0d", lambda m, x, _n=_name: getattr(x, _n)(), ())
case("count_nonzero", lambda m, x: m.count_nonzero(x), V(LOGIC))
case("count_nonzero_dim", lambda m, x: x.count_nonzero(1), V(LOGIC))
case("count_nonzero_dims", lambda m, x: x.count_nonzero((0, -1)), V(LOGIC))
case("count_nonzero_int", lambda m, x: x.count_nonzero(0), I(S, "int64", -1, 2), dtypes=FIXED)
case("count_nonzero_0d", lambda m, x: x.count_nonzero(), ())

# --- in combination
case("softmax_via_logsumexp", lambda m, x: m.exp(x - x.logsumexp(1, keepdim=True)), S, fd=True)
case("normalize_rows", lambda m, x: x / x.norm(dim=1, keepdim=True), S, fd=True)
case("standardize", lambda m, x: (x - x.mean(0)) / x.std(0), (5, 3), fd=True)

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})


@pytest.mark.parametrize("c, dtype", _h._params(CASES))
def test_op(c: Any, dtype: str | None) -> None:
    check_op(c.fn, c.torch_fn, c.inputs, dtype=dtype, grad=c.grad, rtol=c.rtol, atol=c.atol)


@pytest.mark.parametrize("c", _h._params([c for c in CASES if c.fd], only_float64=True))
def test_finite_differences(c: Any) -> None:
    check_finite_differences(c.fn, c.inputs)


# ----------------------------------------------------------------- second derivatives

SECOND = {
    "prod_zeros": (lambda m, x: x.prod(1), ZEROS2),
    "prod_all_two_zeros": (lambda m, x: x.prod(), [[1.5, 0.0], [0.0, -0.5]]),
    "cumprod_zeros": (lambda m, x: x.cumprod(1), CP_ZEROS),
    "cumprod_zeros_dim0": (lambda m, x: x.cumprod(0), CP_ZEROS),
    # (at a zero norm torch's second derivative is nan, ours 0: rows without one here)
    "norm_2": (lambda m, x: x.norm(dim=1), NORM_ROWS[1:]),
    "norm_3": (lambda m, x: x.norm(3, dim=1), NORM_ROWS),
    "logsumexp": (lambda m, x: x.logsumexp(1), ZEROS1),
    "std": (lambda m, x: x.std(1), ZEROS1),
    "var": (lambda m, x: x.var(0, correction=0), ZEROS1),
    "min_dim": (lambda m, x: x.min(1).values ** 2, TIES),
}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivative(name: str) -> None:
    """Hessian-vector products through nested tt.grad match torch's double backward."""
    fn, values = SECOND[name]
    x0 = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(3)
    w = rng.standard_normal(fn(torch, torch.tensor(x0)).shape)
    v = rng.standard_normal(x0.shape)

    def f(x: Any) -> Any:
        return (fn(tt, x) * tt.tensor(w)).sum()

    hvp = tt.grad(lambda x: (tt.grad(f)(x) * tt.tensor(v)).sum())(tt.tensor(x0))
    xt = torch.tensor(x0, requires_grad=True)
    (g,) = torch.autograd.grad((fn(torch, xt) * torch.tensor(w)).sum(), xt, create_graph=True)
    (want,) = torch.autograd.grad((g * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hvp.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- function and method forms

NAMES = ["prod", "amin", "min", "argmin", "aminmax", "var", "std", "norm", "logsumexp",
         "cumsum", "cumprod", "all", "any", "count_nonzero"]


@pytest.mark.parametrize("name", NAMES + ["var_mean", "std_mean"])
def test_function_and_method_exist(name: str) -> None:
    assert callable(getattr(tt, name, None)), f"tt.{name} is missing"
    if hasattr(torch.Tensor, name):
        assert callable(getattr(tt.Tensor, name, None)), f"tt.Tensor.{name} is missing"


def test_min_returns_named_tuple() -> None:
    x = tt.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    out = tt.min(x, 1)
    assert type(out).__name__ == "min" and out._fields == ("values", "indices")
    assert out.values.tolist() == [1.0, -1.0] and out.indices.tolist() == [1, 2]
    mm = tt.aminmax(x)
    assert mm._fields == ("min", "max") and (mm.min.item(), mm.max.item()) == (-1.0, 5.0)


def test_grad_fn_names() -> None:
    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    names = {
        "ProdBackward0": x.prod(), "ProdBackward1": x.prod(1), "MinBackward1": x.min(),
        "MinBackward0": x.min(1).values, "CumsumBackward0": x.cumsum(0),
        "CumprodBackward0": x.cumprod(1), "LogsumexpBackward0": x.logsumexp(1),
        "VarBackward0": x.var(), "StdBackward0": x.std(1),
        "LinalgVectorNormBackward0": x.norm(),
    }
    for want, t in names.items():
        assert t.grad_fn.name() == want


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCase:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    exc: type
    messages: tuple  # substrings torch's message and ours must both contain


ERRORS = [
    ErrorCase("prod_dim_tuple", lambda m, x: x.prod((0, 1)), (S,), TypeError,
              ("prod() received an invalid combination of arguments",)),
    ErrorCase("prod_dim_out_of_range", lambda m, x: x.prod(2), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("amin_empty_dim", lambda m, x: x.amin(-2), (EMPTY,), IndexError,
              ("amin(): Expected reduction dim -2 to have non-zero size.",)),
    ErrorCase("amin_empty_all", lambda m, x: x.amin(), (EMPTY,), RuntimeError,
              ("amin(): Expected reduction dim to be specified for input.numel() == 0.",)),
    ErrorCase("amin_dims_repeated", lambda m, x: x.amin((0, -2)), (S,), RuntimeError,
              ("appears multiple times in the list of dims",)),
    ErrorCase("min_empty_all", lambda m, x: x.min(), (EMPTY,), RuntimeError,
              ("min(): Expected reduction dim to be specified for input.numel() == 0.",)),
    ErrorCase("min_empty_dim", lambda m, x: x.min(-2), (EMPTY,), IndexError,
              ("min(): Expected reduction dim 0 to have non-zero size.",)),
    ErrorCase("min_dim_tuple", lambda m, x: m.min(x, (0, 1)), (S,), TypeError,
              ("min() received an invalid combination of arguments",)),
    ErrorCase("min_dim_out_of_range", lambda m, x: x.min(3), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 3)",)),
    ErrorCase("argmin_empty_all", lambda m, x: x.argmin(), (EMPTY,), IndexError,
              ("argmin(): Expected reduction dim to be specified for input.numel() == 0.",)),
    ErrorCase("argmin_empty_dim", lambda m, x: x.argmin(0), (EMPTY,), IndexError,
              ("argmin(): Expected reduction dim 0 to have non-zero size.",)),
    ErrorCase("aminmax_empty", lambda m, x: m.aminmax(x), (EMPTY,), RuntimeError,
              ("aminmax(): cannot compute aminmax over an empty dimension",)),
    ErrorCase("aminmax_empty_dim", lambda m, x: m.aminmax(x, dim=0), (EMPTY,), IndexError,
              ("aminmax: Expected reduction dim 0 to have non-zero size.",)),
    ErrorCase("var_int", lambda m, x: x.var(), (I(S, "int64"),), RuntimeError,
              ("std and var only support floating point and complex dtypes",)),
    ErrorCase("std_int", lambda m, x: m.std(x, 1), (I(S, "int32"),), RuntimeError,
              ("std and var only support floating point and complex dtypes",)),
    ErrorCase("var_unbiased_and_correction", lambda m, x: x.var(unbiased=False, correction=1),
              (S,), TypeError, ("var() received an invalid combination of arguments",)),
    ErrorCase("norm_int", lambda m, x: m.norm(x), (I(S, "int64"),), RuntimeError,
              ("linalg.vector_norm: Expected a floating point or complex tensor as input. "
               "Got Long",)),
    ErrorCase("norm_fro_3_dims", lambda m, x: x.norm("fro", dim=(0, 1, 2)), (R,), RuntimeError,
              ("linalg.matrix_norm: dim must be a 2-tuple. Got 0 1 2",)),
    ErrorCase("norm_bad_order", lambda m, x: x.norm("abc"), (S,), RuntimeError,
              ("linalg.matrix_norm: Order abc not supported.",)),
    ErrorCase("norm_inf_empty", lambda m, x: x.norm(float("inf")), (EMPTY,), RuntimeError,
              ("cannot compute the inf norm on an empty tensor",)),
    ErrorCase("norm_neg_empty_dim", lambda m, x: x.norm(-1, dim=0), (EMPTY,), RuntimeError,
              ("cannot compute the -1 norm on the dimension 0",)),
    ErrorCase("norm_dim_out_of_range", lambda m, x: x.norm(dim=1), ((3,),), IndexError,
              ("Dimension out of range (expected to be in range of [-1, 0], but got 1)",)),
    ErrorCase("logsumexp_dims_repeated", lambda m, x: x.logsumexp((0, 0)), (S,), RuntimeError,
              ("dim 0 appears multiple times in the list of dims",)),
    ErrorCase("cumsum_dim_out_of_range", lambda m, x: x.cumsum(2), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("cumprod_dim_out_of_range", lambda m, x: m.cumprod(x, -3), (S,), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got -3)",)),
    ErrorCase("count_nonzero_repeated", lambda m, x: x.count_nonzero((1, 1)), (S,),
              RuntimeError, ("dim 1 appears multiple times in the list of dims",)),
]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("e", [pytest.param(e, id=e.id) for e in ERRORS])
def test_error(e: ErrorCase, mode: str) -> None:
    _h.check_error(e, mode)
