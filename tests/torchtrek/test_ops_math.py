"""The math family (torchtrek/ops/math.py, activations.py) against PyTorch.

Registry style, as tests/torchtrek/test_ops.py: each case is a lambda taking the module
first (`lambda m, x: m.erf(x)`), run with torchtrek and torch on the same inputs, eagerly
and under `tt.compile`, comparing values, dtypes, shapes and gradients. Smooth ops also
get float64 finite differences through `tt.grad`, and second derivatives against
torch's double backward. Error cases compare exception type and message with torch.
The formulas' C printing (CUDA kernels) is built with the host C compiler and checked
against their NumPy printing.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")
ttmath = pytest.importorskip("torchtrek.ops.math")

FLOATS = ("float32", "float64")
FIXED = (None,)
F32_ONLY = ("float32",)  # for forms whose float64 run would add nothing
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}
INF, NAN = float("inf"), float("nan")

# ----------------------------------------------------------------- inputs


import test_ops as _h  # noqa: E402  (the shared op harness)

I, V, make_inputs, to_lib = _h.I, _h.V, _h.make_inputs, _h.to_lib


def R(low: float, high: float, *shape: int, dtype: str | None = None) -> I:
    return I(tuple(shape) or S, dtype, low, high)


def dtype_name(t: Any) -> str:
    return str(t.dtype).split(".")[-1]


def assert_same(got: Any, want: Any, what: str, rtol: float | None, atol: float | None) -> None:
    assert isinstance(got, tt.Tensor), f"{what}: got {type(got)}"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)}"
    assert dtype_name(got) == dtype_name(want), f"{what}: dtype {dtype_name(got)}"
    g, w = np.asarray(got.detach().numpy()), want.detach().numpy()
    if want.dtype.is_floating_point:
        r, a = TOL[dtype_name(want)]
        np.testing.assert_allclose(g, w, rtol=rtol or r, atol=atol or a, err_msg=what)
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


def assert_grads(ours: Sequence[Any], theirs: Sequence[Any], what: str, rtol, atol) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not isinstance(b, torch.Tensor) or not b.requires_grad:
            continue
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy()), f"{what}: input {i} grad"
            continue
        assert a.grad is not None, f"{what}: input {i} got no gradient"
        want = torch.zeros_like(b) if b.grad._is_zerotensor() else b.grad  # sgn's
        assert_same(a.grad, want, f"{what}: gradient of input {i}", rtol, atol)


def upstream(shape: Sequence[int], dtype: str, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(dtype)


def check_op(fn: Callable[..., Any], specs: Sequence[Any], dtype: str | None, grad: bool = True,
             torch_fn: Callable[..., Any] | None = None, rtol=None, atol=None) -> None:
    """fn(tt, ...) eagerly and compiled against (torch_fn or fn)(torch, ...)."""
    torch_fn = torch_fn or fn
    arrays = make_inputs(specs, dtype)
    th_in = to_lib(arrays, torch, grad)
    th_out = torch_fn(torch, *th_in)
    do_grad = grad and th_out.requires_grad
    up = upstream(th_out.shape, dtype_name(th_out)) if do_grad else None
    if do_grad:
        (th_out * torch.tensor(up)).sum().backward()

    compiled = tt.compile(lambda *xs: fn(tt, *xs))
    for mode, run in (("eager", lambda *xs: fn(tt, *xs)), ("compiled", compiled)):
        xs = to_lib(arrays, tt, grad)
        out = run(*xs)
        assert_same(out, th_out, f"{mode} forward", rtol, atol)
        assert out.requires_grad == th_out.requires_grad, f"{mode}: requires_grad differs"
        if do_grad:
            out.backward(tt.tensor(up))
            assert_grads(xs, th_in, f"{mode} backward", rtol, atol)


def check_finite_differences(fn: Callable[..., Any], specs: Sequence[Any], h: float = 1e-6,
                             rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """tt.grad in float64 against central differences and against torch."""
    arrays = make_inputs(specs, "float64")
    argnums = tuple(i for i, a in enumerate(arrays)
                    if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    out = fn(tt, *to_lib(arrays, tt, False))
    up = upstream(out.shape, "float64")

    def scalar(*args: Any) -> Any:
        return (fn(tt, *args) * tt.tensor(up)).sum()

    grads = tt.grad(scalar, argnums=argnums)(*to_lib(arrays, tt, False))
    th_in = to_lib(arrays, torch, True)
    (fn(torch, *th_in) * torch.tensor(up)).sum().backward()
    for g, i in zip(grads, argnums):
        numeric = _h.central_differences(scalar, arrays, i, h)
        np.testing.assert_allclose(g.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"tt.grad vs finite differences, input {i}")
        np.testing.assert_allclose(g.numpy(), th_in[i].grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"tt.grad vs torch, input {i}")


def nnf(m: Any) -> Any:
    """torch.nn.functional for torch, the math family's module for torchtrek."""
    return torch.nn.functional if m is torch else ttmath


# ----------------------------------------------------------------- the case table


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple = FLOATS
    grad: bool = True
    fd: bool = False
    torch_fn: Callable[..., Any] | None = None
    rtol: float | None = None
    atol: float | None = None


CASES: list[Case] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


S = (3, 4)
EXTREME = [-INF, -1e30, -100.0, -3.5, -2.5, -1.0, -0.5, -1e-30, -0.0, 0.0, 1e-30, 0.5, 1.0,
           2.5, 3.5, 100.0, 1e30, INF, NAN]
ZEROS = [[-1.5, 0.0, 2.0, 0.0], [0.0, 3.0, -0.5, 1.0], [-2.0, 0.25, 0.0, -0.0]]
INTS = I(S, "int64", -5, 6)

# --- unary float functions: spec for random inputs, whether smooth (finite differences)
UNARY = {
    "floor": (S, False), "ceil": (S, False), "round": (S, False), "trunc": (S, False),
    "fix": (S, False), "frac": (S, False), "sign": (S, False), "sgn": (S, False),
    "reciprocal": (R(0.5, 2.0), True), "rsqrt": (R(0.5, 2.0), True), "square": (S, True),
    "log1p": (R(-0.5, 2.0), True), "expm1": (S, True), "log2": (R(0.5, 2.0), True),
    "log10": (R(0.5, 2.0), True), "exp2": (S, True), "erf": (S, True), "erfc": (S, True),
    "tan": (R(-1.2, 1.2), True), "asin": (R(-0.9, 0.9), True), "acos": (R(-0.9, 0.9), True),
    "atan": (S, True), "sinh": (S, True), "cosh": (S, True), "asinh": (S, True),
    "acosh": (R(1.1, 3.0), True), "atanh": (R(-0.9, 0.9), True),
    "arcsin": (R(-0.9, 0.9), False), "arccos": (R(-0.9, 0.9), False), "arctan": (S, False),
    "arcsinh": (S, False), "arccosh": (R(1.1, 3.0), False), "arctanh": (R(-0.9, 0.9), False),
    "nan_to_num": (S, False),
}
FLOAT_RESULT = {"reciprocal", "rsqrt", "log1p", "expm1", "log2", "log10", "exp2", "erf", "erfc",
                "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"}
for _n, (_spec, _smooth) in UNARY.items():
    case(_n, lambda m, x, _n=_n: getattr(m, _n)(x), _spec, fd=_smooth)
    case(f"{_n}_method", lambda m, x, _n=_n: getattr(x, _n)(), _spec, dtypes=F32_ONLY)
    case(f"{_n}_extreme", lambda m, x, _n=_n: getattr(m, _n)(x), V(EXTREME))
    case(f"{_n}_0d", lambda m, x, _n=_n: getattr(m, _n)(x),
         I((), None, _spec.low, _spec.high) if isinstance(_spec, I) else (), dtypes=F32_ONLY)
    case(f"{_n}_empty", lambda m, x, _n=_n: getattr(m, _n)(x), (0, 3), dtypes=F32_ONLY)
for _n in sorted(FLOAT_RESULT) + ["square", "sign", "sgn", "floor", "ceil", "round", "trunc",
                                  "nan_to_num"]:
    case(f"{_n}_int64", lambda m, x, _n=_n: getattr(m, _n)(x), INTS, dtypes=FIXED)
for _n in ("erf", "exp2", "square", "isnan", "isfinite", "sign", "nan_to_num"):
    case(f"{_n}_bool", lambda m, x, _n=_n: getattr(m, _n)(x), I(S, "bool"), dtypes=FIXED)
case("erf_int32", lambda m, x: m.erf(x), I(S, "int32", -3, 3), dtypes=FIXED)
case("round_half_even", lambda m, x: m.round(x), V([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]))
case("round_decimals", lambda m, x: m.round(x, decimals=2), R(-50.0, 50.0))
case("round_decimals_method", lambda m, x: x.round(decimals=1), V([0.25, 0.35, 1.15, -2.45]))
case("round_decimals_negative", lambda m, x: m.round(x, decimals=-1),
     V([15.0, 25.0, 35.0, -45.0, 1234.0]))
case("round_decimals_extreme", lambda m, x: m.round(x, decimals=3), V(EXTREME))
case("nan_to_num_values", lambda m, x: m.nan_to_num(x, nan=1.5, posinf=2.0, neginf=-3.0),
     V(EXTREME))
case("nan_to_num_method_kw", lambda m, x: x.nan_to_num(posinf=7.0), V(EXTREME))
case("sinh_cosh_large", lambda m, x: m.sinh(x) / m.cosh(x), V([-30.0, -1.0, 0.0, 2.0, 30.0]))
case("erf_erfc_tails", lambda m, x: m.erfc(x) + m.erf(x), R(-6.0, 6.0, 5, 7), fd=True)
case("erfc_tail_values", lambda m, x: m.erfc(x), V([3.0, 4.0, 4.5, 6.0, 9.0, 9.5, 12.0]),
     dtypes=("float32",), rtol=2e-5)
case("erfc_tail_values_f64", lambda m, x: m.erfc(x), V([3.0, 4.0, 6.0, 10.0, 20.0, 26.0]),
     dtypes=("float64",), rtol=1e-13)
case("log1p_tiny", lambda m, x: m.log1p(x), V([1e-10, -1e-10, 1e-20, 0.0, -0.9999]))
case("expm1_tiny", lambda m, x: m.expm1(x), V([1e-10, -1e-10, 1e-20, 0.0, -50.0, 50.0]))

# --- predicates (bool, no gradient)
for _n in ("isnan", "isinf", "isfinite"):
    case(_n, lambda m, x, _n=_n: getattr(m, _n)(x), V(EXTREME))
    case(f"{_n}_method", lambda m, x, _n=_n: getattr(x, _n)(), V(EXTREME))
    case(f"{_n}_int", lambda m, x, _n=_n: getattr(m, _n)(x), INTS, dtypes=FIXED)
    case(f"{_n}_empty", lambda m, x, _n=_n: getattr(m, _n)(x), (0, 2))

# --- clamp and friends: numbers, tensors, broadcasting, boundaries (gradient passes there)
KINKS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, INF, -INF, NAN]
case("clamp", lambda m, x: m.clamp(x, -0.5, 0.5), S)
case("clamp_boundaries", lambda m, x: m.clamp(x, -1.0, 1.0), V(KINKS))
case("clamp_int_bounds", lambda m, x: m.clamp(x, -1, 1), V(KINKS))
case("clamp_min_only", lambda m, x: m.clamp(x, min=-0.5), V(KINKS))
case("clamp_max_only", lambda m, x: m.clamp(x, max=0.5), V(KINKS))
case("clamp_method", lambda m, x: x.clamp(-1, 0.25), S)
case("clamp_method_kw", lambda m, x: x.clamp(max=0.0), S)
case("clip", lambda m, x: m.clip(x, -0.5, 0.5), S)
case("clip_method", lambda m, x: x.clip(min=0.0), S)
case("clamp_min_gt_max", lambda m, x: m.clamp(x, 1.0, -1.0), V(KINKS))
case("clamp_tensors", lambda m, x, lo, hi: m.clamp(x, lo, hi), S, R(-1.0, 0.0), R(0.0, 1.0),
     fd=True)
case("clamp_tensors_ties", lambda m, x, lo, hi: m.clamp(x, lo, hi),
     V([-2.0, -1.0, 0.0, 1.0, 2.0, 0.5]), V([-1.0] * 5 + [1.0]), V([1.0] * 5 + [0.0]))
case("clamp_tensor_broadcast", lambda m, x, lo, hi: m.clamp(x, lo, hi), S, R(-1.0, 0.0, 4),
     R(0.0, 1.0, 3, 1))
case("clamp_tensor_min_only", lambda m, x, lo: m.clamp(x, min=lo), S, R(-1.0, 1.0, 4))
case("clamp_tensor_max_only", lambda m, x, hi: m.clamp(x, max=hi), S, R(-1.0, 1.0, 3, 1))
case("clamp_tensor_0d", lambda m, x, lo: m.clamp(x, lo), S, ())
case("clamp_tensor_0d_plain_and_number", lambda m, x: m.clamp(x, min=m.tensor(0.0), max=1.0), S)
case("clamp_min_fn", lambda m, x: m.clamp_min(x, 0.25), V(KINKS))
case("clamp_min_method", lambda m, x, lo: x.clamp_min(lo), S, R(-1.0, 1.0, 4))
case("clamp_max_fn", lambda m, x: m.clamp_max(x, 0.25), V(KINKS))
case("clamp_max_method", lambda m, x, hi: x.clamp_max(hi), S, R(-1.0, 1.0, 1, 4))
case("clamp_int", lambda m, x: m.clamp(x, -2, 3), INTS, dtypes=FIXED)
case("clamp_int_float_bound", lambda m, x: m.clamp(x, 0.5), INTS, dtypes=FIXED)
case("clamp_bool_int_bounds", lambda m, x: m.clamp(x, 0, 1), I(S, "bool"), dtypes=FIXED)
case("clamp_promote_tensor", lambda m, x, lo: m.clamp(x, lo), I(S, "float32"),
     I((4,), "float64"), dtypes=FIXED)
case("clamp_int_tensor_0d_float", lambda m, x, lo: m.clamp(x, lo), INTS, I((), "float32"),
     dtypes=FIXED)
case("clamp_empty", lambda m, x: m.clamp(x, 0, 1), (0, 4))
case("clamp_0d", lambda m, x: m.clamp(x, -0.1, 0.1), ())

# --- maximum / minimum: ties split the gradient, nan propagates
TIE_A = [1.0, 2.0, 3.0, NAN, 1.0, -INF, INF, 0.0]
TIE_B = [1.0, 3.0, 2.0, 1.0, NAN, -INF, 5.0, -0.0]
for _n in ("maximum", "minimum"):
    case(_n, lambda m, x, y, _n=_n: getattr(m, _n)(x, y), S, S, fd=True)
    case(f"{_n}_method", lambda m, x, y, _n=_n: getattr(x, _n)(y), S, S)
    case(f"{_n}_ties", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), V(TIE_A), V(TIE_B))
    case(f"{_n}_self", lambda m, x, _n=_n: getattr(m, _n)(x, x), S)
    case(f"{_n}_broadcast", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), (3, 1), (4,))
    case(f"{_n}_0d", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), S, ())
    case(f"{_n}_int", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), INTS, I(S, "int32", -5, 5),
         dtypes=FIXED)
    case(f"{_n}_int_float", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), INTS, I((4,), "float32"),
         dtypes=FIXED)
    case(f"{_n}_bool", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), I(S, "bool"), I(S, "bool"),
         dtypes=FIXED)
    case(f"{_n}_mixed_float", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), I(S, "float32"),
         I(S, "float64"), dtypes=FIXED)

# --- atan2 / hypot
case("atan2", lambda m, y, x: m.atan2(y, x), S, S, fd=True)
case("atan2_method", lambda m, y, x: y.atan2(x), S, S)
case("arctan2", lambda m, y, x: m.arctan2(y, x), S, (4,))
case("arctan2_method", lambda m, y, x: y.arctan2(x), S, S)
case("atan2_quadrants", lambda m, y, x: m.atan2(y, x),
     V([0.0, 1.0, -1.0, 1.0, -1.0, 0.0, -0.0, INF, 2.0]),
     V([0.0, 1.0, 1.0, -1.0, -1.0, -2.0, -2.0, 1.0, INF]))
case("atan2_int", lambda m, y, x: m.atan2(y, x), INTS, I(S, "int64", 1, 4), dtypes=FIXED)
case("hypot", lambda m, x, y: m.hypot(x, y), S, S, fd=True)
case("hypot_method", lambda m, x, y: x.hypot(y), S, (1, 4))
case("hypot_extreme", lambda m, x, y: m.hypot(x, y), V([0.0, 3.0, INF, 1e30, 1e-30, NAN]),
     V([0.0, 4.0, 1.0, 1e30, 1e-30, 1.0]))
case("hypot_promote", lambda m, x, y: m.hypot(x, y), I(S, "float32"), I(S, "float64"),
     dtypes=FIXED)

# --- fmod / remainder / floor_divide: signs, zeros, numbers, integers
NUM = [5.0, -5.0, 5.0, -5.0, 7.5, -7.5, 0.0, 1.0, INF, 3.0, NAN]
DEN = [3.0, 3.0, -3.0, -3.0, 2.0, 2.0, 3.0, 0.0, 2.0, INF, 1.0]
for _n in ("fmod", "remainder", "floor_divide"):
    _g = _n != "floor_divide"
    case(_n, lambda m, x, y, _n=_n: getattr(m, _n)(x, y), R(-5.0, 5.0), R(0.5, 2.0),
         fd=_n != "floor_divide", grad=_g)
    case(f"{_n}_method", lambda m, x, y, _n=_n: getattr(x, _n)(y), R(-5.0, 5.0), R(-2.0, -0.5),
         grad=_g)
    case(f"{_n}_signs", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), V(NUM), V(DEN), grad=_g)
    case(f"{_n}_scalar", lambda m, x, _n=_n: getattr(m, _n)(x, 1.5), R(-5.0, 5.0), grad=_g)
    case(f"{_n}_scalar_neg", lambda m, x, _n=_n: getattr(x, _n)(-2), R(-5.0, 5.0), grad=_g)
    case(f"{_n}_scalar_zero", lambda m, x, _n=_n: getattr(m, _n)(x, 0.0), V(NUM), grad=_g)
    case(f"{_n}_broadcast", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), R(-5.0, 5.0, 3, 1),
         R(0.5, 3.0, 4), grad=_g)
    case(f"{_n}_int", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), I(S, "int64", -9, 9),
         I(S, "int64", 1, 4), dtypes=FIXED)
    case(f"{_n}_int_neg_divisor", lambda m, x, _n=_n: getattr(m, _n)(x, -3), I(S, "int64", -9, 9),
         dtypes=FIXED)
    case(f"{_n}_int32", lambda m, x, y, _n=_n: getattr(m, _n)(x, y), I(S, "int32", -9, 9),
         V([-3, -2, 2, 3], "int32"), dtypes=FIXED)
    case(f"{_n}_int_float_scalar", lambda m, x, _n=_n: getattr(m, _n)(x, 2.5),
         I(S, "int64", -9, 9), dtypes=FIXED)
    case(f"{_n}_empty", lambda m, x, _n=_n: getattr(m, _n)(x, 2.0), (0, 3), grad=_g)
case("remainder_scalar_first", lambda m, y: m.remainder(-7, y), V([2, 3, -2, -3], "int64"),
     dtypes=FIXED)
case("floordiv_operator", lambda m, x, y: x // y, R(-5.0, 5.0), R(0.5, 2.0), grad=False)
case("floordiv_operator_int", lambda m, x: x // 2, I(S, "int64", -9, 9), dtypes=FIXED)
case("rfloordiv_operator", lambda m, x: 7.5 // x, R(0.5, 2.0), grad=False)
case("mod_operator", lambda m, x, y: x % y, R(-5.0, 5.0), R(0.5, 2.0))
case("mod_operator_int", lambda m, x: x % 4, I(S, "int64", -9, 9), dtypes=FIXED)
case("rmod_operator", lambda m, x: 7 % x, V([2, -3, 4, 5], "int64"), dtypes=FIXED)

# --- lerp
case("lerp_scalar", lambda m, s, e: m.lerp(s, e, 0.3), S, S, fd=True)
case("lerp_scalar_high", lambda m, s, e: m.lerp(s, e, 0.8), S, S)
case("lerp_scalar_int_weight", lambda m, s, e: m.lerp(s, e, 1), S, S)
case("lerp_tensor", lambda m, s, e, w: m.lerp(s, e, w), S, S, R(-0.5, 1.5), fd=True)
case("lerp_tensor_broadcast", lambda m, s, e, w: m.lerp(s, e, w), (3, 1), (4,), R(0.0, 1.0, 1, 4))
case("lerp_method", lambda m, s, e: s.lerp(e, 0.5), S, S)
case("lerp_endpoints", lambda m, s, e, w: m.lerp(s, e, w), V([1.0, 2.0, -3.0, 1e30]),
     V([3.0, 5.0, 4.0, -1e30]), V([0.0, 1.0, 0.5, 1.0]))

# --- logical and bitwise
BOOL_A, BOOL_B = I(S, "bool"), I(S, "bool")
case("logical_xor", lambda m, a, b: m.logical_xor(a, b), BOOL_A, BOOL_B, dtypes=FIXED)
case("logical_xor_method", lambda m, a, b: a.logical_xor(b), V(ZEROS), V(ZEROS[::-1]))
case("logical_xor_mixed", lambda m, a, b: m.logical_xor(a, b), INTS, I(S, "float32"),
     dtypes=FIXED)
case("xor_operator_bool", lambda m, a, b: a ^ b, BOOL_A, I((4,), "bool"), dtypes=FIXED)
case("xor_operator_int", lambda m, a, b: a ^ b, INTS, I(S, "int64", 0, 9), dtypes=FIXED)
case("xor_operator_scalar", lambda m, a: a ^ 5, INTS, dtypes=FIXED)
case("bitwise_xor", lambda m, a, b: m.bitwise_xor(a, b), INTS, I(S, "int32", 0, 9), dtypes=FIXED)
case("bitwise_not_bool", lambda m, a: m.bitwise_not(a), BOOL_A, dtypes=FIXED)
case("bitwise_not_int", lambda m, a: a.bitwise_not(), INTS, dtypes=FIXED)
case("bitwise_not_uint8", lambda m, a: m.bitwise_not(a), I(S, "uint8", 0, 255), dtypes=FIXED)
case("invert_operator_bool", lambda m, a: ~a, BOOL_A, dtypes=FIXED)
case("invert_operator_int", lambda m, a: ~a, INTS, dtypes=FIXED)
case("invert_of_compare", lambda m, x: ~(x > 0), S)

# --- activations (torch.nn.functional names and signatures)
ACT_EXTREME = [-1000.0, -100.0, -20.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 1.0, 20.0, 100.0,
               1000.0, INF, -INF, NAN]
# torch's vectorized float32 gelu gives nan at +inf (float64: inf); ours gives inf
case("act_gelu_inf", lambda m, x: nnf(m).gelu(x), V([INF, -INF, NAN]), dtypes=("float64",))
ACTS = {
    "gelu": lambda m, x: nnf(m).gelu(x),
    "gelu_tanh": lambda m, x: nnf(m).gelu(x, approximate="tanh"),
    "silu": lambda m, x: nnf(m).silu(x),
    "softplus": lambda m, x: nnf(m).softplus(x),
    "softplus_beta": lambda m, x: nnf(m).softplus(x, beta=2, threshold=3.0),
    "softplus_small_threshold": lambda m, x: nnf(m).softplus(x, 0.5, 0.25),
    "elu": lambda m, x: nnf(m).elu(x),
    "elu_alpha": lambda m, x: nnf(m).elu(x, alpha=0.5),
    "selu": lambda m, x: nnf(m).selu(x),
    "selu_top": lambda m, x: m.selu(x),
    "celu": lambda m, x: nnf(m).celu(x, alpha=2.0),
    "celu_top": lambda m, x: m.celu(x),
    "leaky_relu": lambda m, x: nnf(m).leaky_relu(x),
    "leaky_relu_slope": lambda m, x: nnf(m).leaky_relu(x, negative_slope=0.2),
    "hardtanh": lambda m, x: nnf(m).hardtanh(x),
    "hardtanh_range": lambda m, x: nnf(m).hardtanh(x, min_val=-0.5, max_val=2.0),
    "relu6": lambda m, x: nnf(m).relu6(x * 4),
    "logsigmoid": lambda m, x: nnf(m).logsigmoid(x),
    "mish": lambda m, x: nnf(m).mish(x),
}
SMOOTH_ACTS = {"gelu", "gelu_tanh", "silu", "softplus", "selu_top", "logsigmoid", "mish"}
for _n, _f in ACTS.items():
    case(f"act_{_n}", _f, S, fd=_n in SMOOTH_ACTS)
    case(f"act_{_n}_extreme", _f, V(ACT_EXTREME if "gelu" not in _n else ACT_EXTREME[:-3]))
    case(f"act_{_n}_kinks", _f, V([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 6.0]))
    case(f"act_{_n}_0d", _f, (), dtypes=F32_ONLY)
    case(f"act_{_n}_empty", _f, (2, 0), dtypes=F32_ONLY)
case("act_hardtanh_int", lambda m, x: nnf(m).hardtanh(x), INTS, dtypes=FIXED)
case("act_relu6_int", lambda m, x: nnf(m).relu6(x), INTS, dtypes=FIXED)
case("act_softplus_threshold_edge", lambda m, x: nnf(m).softplus(x, beta=2.0, threshold=5.0),
     V([2.4, 2.5, 2.6, 3.0]))
case("act_chain", lambda m, x, w: nnf(m).gelu(x @ w) * nnf(m).silu(x @ w), (3, 4), (4, 5),
     fd=True)

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})


def _params(cases: Sequence[Case]) -> list[Any]:
    return [pytest.param(c, d, id=c.id if d is None else f"{c.id}-{d}")
            for c in cases for d in c.dtypes]


@pytest.mark.parametrize("c, dtype", _params(CASES))
def test_op(c: Case, dtype: str | None) -> None:
    check_op(c.fn, c.inputs, dtype, grad=c.grad, torch_fn=c.torch_fn, rtol=c.rtol, atol=c.atol)


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in CASES if c.fd])
def test_finite_differences(c: Case) -> None:
    check_finite_differences(c.fn, c.inputs)


# ----------------------------------------------------------------- second derivatives
# nested tt.grad against torch's double backward (create_graph=True), in float64

SECOND = {
    "erf": lambda m, x: m.erf(x), "erfc": lambda m, x: m.erfc(x), "tan": lambda m, x: m.tan(x),
    "atan": lambda m, x: m.atan(x), "asinh": lambda m, x: m.asinh(x),
    "log1p": lambda m, x: m.log1p(x * x), "expm1": lambda m, x: m.expm1(x),
    "exp2": lambda m, x: m.exp2(x), "log2": lambda m, x: m.log2(x * x + 0.5),
    "reciprocal": lambda m, x: m.reciprocal(x * x + 0.5),
    "rsqrt": lambda m, x: m.rsqrt(x * x + 0.5), "square": lambda m, x: m.square(x),
    "sinh_cosh": lambda m, x: m.sinh(x) * m.cosh(x),
    "atan2": lambda m, x: m.atan2(x, x * x + 1.0), "hypot": lambda m, x: m.hypot(x, x + 2.0),
    "clamp": lambda m, x: m.clamp(x * x, -0.5, 0.5) * x,
    "maximum": lambda m, x: m.maximum(x * x, x) * x,
    "fmod": lambda m, x: m.fmod(x * x, 0.75) * x,
    "remainder": lambda m, x: m.remainder(x * x, 0.75) * x,
    "lerp": lambda m, x: m.lerp(x, x * x, x),
    "frac": lambda m, x: m.frac(x * 3.0) * x,
    "gelu": lambda m, x: nnf(m).gelu(x),
    "gelu_tanh": lambda m, x: nnf(m).gelu(x, approximate="tanh"),
    "silu": lambda m, x: nnf(m).silu(x), "softplus": lambda m, x: nnf(m).softplus(x, 2.0),
    "elu": lambda m, x: nnf(m).elu(x, 0.7), "selu": lambda m, x: m.selu(x),
    "leaky_relu": lambda m, x: nnf(m).leaky_relu(x) * x,
    "hardtanh": lambda m, x: nnf(m).hardtanh(x * 2.0) * x,
    "logsigmoid": lambda m, x: nnf(m).logsigmoid(x), "mish": lambda m, x: nnf(m).mish(x),
}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivative(name: str) -> None:
    fn = SECOND[name]
    x0 = np.array([-1.7, -0.6, -0.1, 0.3, 0.9, 1.6])
    up = np.random.default_rng(3).standard_normal(x0.shape)
    x = torch.tensor(x0, requires_grad=True)
    (g,) = torch.autograd.grad((fn(torch, x) * torch.tensor(up)).sum(), x, create_graph=True)
    want = torch.autograd.grad(g.sum(), x)[0] if g.requires_grad else torch.zeros_like(x)

    first = tt.grad(lambda v: (fn(tt, v) * tt.tensor(up)).sum())
    np.testing.assert_allclose(first(tt.tensor(x0)).numpy(), g.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    second = tt.grad(lambda v: first(v).sum())(tt.tensor(x0))
    np.testing.assert_allclose(second.numpy(), want.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- integer division by zero


@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
@pytest.mark.parametrize("divisor", ["tensor", "tensor_0d", "number"])
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_integer_division_by_zero_raises(op: str, divisor: str, mode: str) -> None:
    """torch raises RuntimeError('ZeroDivisionError'); so do eager kernels and compiled
    code (the check is in the generated kernel), and a nonzero divisor still works."""
    x = np.array([[7, -7, 3], [0, 5, -2]])
    zero = {"tensor": np.array([1, 0, 2]), "tensor_0d": np.array(0), "number": 0}[divisor]
    ok = {"tensor": np.array([1, -3, 2]), "tensor_0d": np.array(-3), "number": -3}[divisor]

    def call(m, a, b):
        return getattr(m, op)(a, b)

    def lib(m, v):
        return m.tensor(v) if isinstance(v, np.ndarray) else v

    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call(torch, torch.tensor(x), lib(torch, zero))
    run = lambda a, b: call(tt, a, b)  # noqa: E731
    if mode == "compiled":
        run = tt.compile(run)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run(tt.tensor(x), lib(tt, zero))
    got = run(tt.tensor(x), lib(tt, ok))
    want = call(torch, torch.tensor(x), lib(torch, ok))
    assert got.dtype == tt.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_integer_floordiv_operator_by_zero_raises() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tt.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        7 % tt.tensor([1, 0])


# ----------------------------------------------------------------- generated code


MINE = ["clamp", "clamp_min", "clamp_max", "maximum", "minimum", "floor", "ceil", "trunc",
        "round", "frac", "sign", "reciprocal", "rsqrt", "log1p", "expm1", "log2", "log10",
        "exp2", "erf", "erfc", "hypot", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
        "acosh", "atanh", "atan2", "fmod", "remainder", "floor_divide", "lerp", "nan_to_num",
        "gelu", "silu", "softplus", "elu", "leaky_relu", "hardtanh", "logsigmoid", "mish"]
ARITY = {"clamp": 3, "clamp_min": 2, "clamp_max": 2, "maximum": 2, "minimum": 2, "hypot": 2,
         "atan2": 2, "fmod": 2, "remainder": 2, "floor_divide": 2, "lerp": 3}
ATTRS = {"nan_to_num": {"nan": 0.0, "posinf": 1e30, "neginf": -1e30}}


@pytest.mark.parametrize("op", MINE)
@pytest.mark.parametrize("dtype", FLOATS)
def test_forward_kernel_keeps_dtype_natively(op: str, dtype: str) -> None:
    """Each formula prints to NumPy that computes in the input dtype by itself (the
    generator's np.asarray(..., dtype=) fallback is not needed)."""
    from torchtrek.codegen.numpy.generator import emit_eqn
    from torchtrek.ir.builder import Builder
    from torchtrek.ir.graph import TensorType, Var

    d = getattr(tt, dtype)
    ins = [Var(TensorType((3,), d), f"x{i}") for i in range(ARITY.get(op, 1))]
    b = Builder()
    b.emit(op, ins, **ATTRS.get(op, {}))
    code = emit_eqn(b.eqns[0], [v.hint for v in ins])
    assert not code.startswith("np.asarray("), code
    env = {"np": np, **{v.hint: np.linspace(-0.9, 0.9, 3).astype(dtype) + 0.05 * i
                        for i, v in enumerate(ins)}}
    with np.errstate(all="ignore"):
        assert np.asarray(eval(code, env)).dtype == np.dtype(dtype)  # noqa: S307


def test_generated_source_is_readable_numpy() -> None:
    f = tt.compile(lambda x, y: tt.fmod(x, y) + tt.clamp(x, 0, 1) + tt.log1p(x * x),
                   backend="numpy")
    x, y = tt.ones(3, requires_grad=True), tt.full((3,), 2.0)
    src = f.source(x, y) + f.source(x, y, backward=True)
    for name in ("np.fmod(", "np.minimum(", "np.maximum(", "np.log1p(", "(x >= 0)"):
        assert name in src, src


def test_erf_is_accurate_in_float64() -> None:
    x = np.concatenate([np.linspace(-8, 8, 4001), [1e-300, -1e-12, 26.0, 27.5]])
    got_erf = tt.erf(tt.tensor(x)).numpy()
    got_erfc = tt.erfc(tt.tensor(x)).numpy()
    np.testing.assert_allclose(got_erf, torch.erf(torch.tensor(x)).numpy(), rtol=2e-15, atol=0)
    np.testing.assert_allclose(got_erfc, torch.erfc(torch.tensor(x)).numpy(), rtol=2e-14,
                               atol=1e-300)


def test_grad_fn_names_match_torch() -> None:
    x = np.array([-1.5, 0.25, 2.0])
    forms = {
        "clamp_numbers": lambda m, v: m.clamp(v, -1, 1),
        "clamp_tensors": lambda m, v: m.clamp(v, v * 0 - 1, v * 0 + 1),
        "clamp_min": lambda m, v: m.clamp_min(v, 0.0),
        "round_decimals": lambda m, v: m.round(v, decimals=1),
        "sgn": lambda m, v: m.sgn(v), "square": lambda m, v: m.square(v),
        "lerp_number": lambda m, v: m.lerp(v, v * 2, 0.5),
        "lerp_tensor": lambda m, v: m.lerp(v, v * 2, v),
        "fmod_number": lambda m, v: m.fmod(v, 2.0), "fmod_tensor": lambda m, v: m.fmod(v, v + 3),
        "remainder_tensor": lambda m, v: m.remainder(v, v + 3), "log1p": lambda m, v: m.log1p(v),
        "gelu": lambda m, v: nnf(m).gelu(v), "relu6": lambda m, v: nnf(m).relu6(v),
        "hardtanh": lambda m, v: nnf(m).hardtanh(v),
        "logsigmoid": lambda m, v: nnf(m).logsigmoid(v),
        "maximum": lambda m, v: m.maximum(v, v * 0), "nan_to_num": lambda m, v: m.nan_to_num(v),
        "clamp_min_kw": lambda m, v: m.clamp(v, min=0.5),
        "clamp_max_tensor": lambda m, v: m.clamp(v, max=v),
        "clamp_max_fn": lambda m, v: m.clamp_max(v, v), "celu": lambda m, v: m.celu(v),
        "selu": lambda m, v: m.selu(v), "fix": lambda m, v: m.fix(v),
        "arcsin": lambda m, v: m.arcsin(v), "softplus": lambda m, v: nnf(m).softplus(v),
        "remainder_number": lambda m, v: m.remainder(v, 2),
    }
    for name, f in forms.items():
        want = type(f(torch, torch.tensor(x, requires_grad=True)).grad_fn).__name__
        got = f(tt, tt.tensor(x, requires_grad=True)).grad_fn.name()
        assert got == want, name


@pytest.mark.parametrize("name", sorted(set(ttmath.__all__)))
def test_function_and_method_exist_as_in_torch(name: str) -> None:
    assert callable(getattr(tt, name, None)), f"tt.{name} is missing"
    if hasattr(torch.Tensor, name):
        assert callable(getattr(tt.Tensor, name, None)), f"tt.Tensor.{name} is missing"


def test_activations_are_not_top_level_where_torch_has_none() -> None:
    for name in ttmath.ACTIVATIONS:
        assert callable(getattr(ttmath, name))
        assert hasattr(tt, name) == hasattr(torch, name), name


def test_inplace_activation_writes_into_its_input() -> None:
    x = tt.tensor([-1.0, 0.5, 8.0])
    y = ttmath.relu6(x, inplace=True)
    tx = torch.tensor([-1.0, 0.5, 8.0])
    ty = torch.nn.functional.relu6(tx, inplace=True)
    assert y is x
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


# ----------------------------------------------------------------- errors


ErrorCase = _h.ErrorCase

F32, I64, B = I((2, 3)), I((2, 3), "int64", -3, 3), I((2, 3), "bool")
ERRORS = [
    ErrorCase("clamp_no_bounds", lambda m, x: m.clamp(x), (F32,), RuntimeError,
              ("At least one of 'min' or 'max' must not be None",)),
    ErrorCase("clamp_method_no_bounds", lambda m, x: x.clamp(min=None), (F32,), RuntimeError,
              ("At least one of 'min' or 'max' must not be None",)),
    ErrorCase("clamp_tensor_and_number", lambda m, x, lo: m.clamp(x, lo, 1.0), (F32, F32),
              TypeError, ("clamp() received an invalid combination of arguments",)),
    ErrorCase("clamp_broadcast", lambda m, x, lo: m.clamp(x, lo), (F32, I((4,))), RuntimeError,
              ("must match the size of tensor",)),
    ErrorCase("maximum_number", lambda m, x: m.maximum(x, 2), (F32,), TypeError,
              ("maximum(): argument 'other' (position 2) must be Tensor, not int",)),
    ErrorCase("minimum_shapes", lambda m, x, y: m.minimum(x, y), (F32, I((4, 3))), RuntimeError,
              ("The size of tensor a (2) must match the size of tensor b (4)",)),
    ErrorCase("atan2_number", lambda m, x: m.atan2(x, 2.0), (F32,), TypeError,
              ("atan2(): argument 'other' (position 2) must be Tensor, not float",)),
    ErrorCase("hypot_int", lambda m, x: m.hypot(x, x), (I64,), NotImplementedError,
              ('"hypot_cpu" not implemented for \'Long\'',)),
    ErrorCase("floor_number", lambda m: m.floor(2.5), (), TypeError,
              ("argument 'input' (position 1) must be Tensor, not float",)),
    ErrorCase("erf_list", lambda m: m.erf([1.0]), (), TypeError,
              ("argument 'input' (position 1) must be Tensor, not list",)),
    ErrorCase("floor_bool", lambda m, x: m.floor(x), (B,), NotImplementedError,
              ('"floor_vml_cpu" not implemented for \'Bool\'',)),
    ErrorCase("frac_int", lambda m, x: m.frac(x), (I64,), NotImplementedError,
              ('"frac_cpu" not implemented for \'Long\'',)),
    ErrorCase("round_decimals_int", lambda m, x: m.round(x, decimals=1), (I64,),
              NotImplementedError, ('"round_cpu" not implemented for \'Long\'',)),
    ErrorCase("fmod_bool", lambda m, x: m.fmod(x, x), (B,), NotImplementedError,
              ('"fmod_cpu" not implemented for \'Bool\'',)),
    ErrorCase("remainder_bool", lambda m, x: m.remainder(x, x), (B,), NotImplementedError,
              ('"remainder_cpu" not implemented for \'Bool\'',)),
    ErrorCase("floor_divide_bool", lambda m, x: m.floor_divide(x, x), (B,), NotImplementedError,
              ('"div_floor_cpu" not implemented for \'Bool\'',)),
    ErrorCase("fmod_number_first", lambda m, x: m.fmod(5, x), (I64,), TypeError, ("fmod()",)),
    ErrorCase("int_floor_divide_zero", lambda m, x: m.floor_divide(x, 0), (I64,), RuntimeError,
              ("ZeroDivisionError",)),
    ErrorCase("int_remainder_zero_tensor", lambda m, x: x % (x * 0), (I64,), RuntimeError,
              ("ZeroDivisionError",)),
    ErrorCase("lerp_dtypes", lambda m, s, e: m.lerp(s, e, 0.5), (F32, I((2, 3), "float64")),
              RuntimeError, ("expected dtype float for `end` but got dtype double",)),
    ErrorCase("lerp_int", lambda m, s: m.lerp(s, s, 0.5), (I64,), NotImplementedError,
              ('"lerp_kernel_scalar" not implemented for \'Long\'',)),
    ErrorCase("lerp_shapes", lambda m, s, e: m.lerp(s, e, 0.5), (F32, I((3, 3))), RuntimeError,
              ("must match the size of tensor",)),
    ErrorCase("logical_xor_number", lambda m, x: m.logical_xor(x, 1), (F32,), TypeError,
              ("logical_xor(): argument 'other' (position 2) must be Tensor, not int",)),
    ErrorCase("bitwise_not_float", lambda m, x: m.bitwise_not(x), (F32,), NotImplementedError,
              ('"bitwise_not_cpu" not implemented for \'Float\'',)),
    ErrorCase("invert_float", lambda m, x: ~x, (F32,), TypeError,
              ("~ (operator.invert) is only implemented on integer and Boolean-type tensors",)),
    ErrorCase("xor_float", lambda m, x: x ^ x, (F32,), NotImplementedError,
              ('"bitwise_xor_cpu" not implemented for \'Float\'',)),
    ErrorCase("gelu_approximate", lambda m, x: nnf(m).gelu(x, approximate="fast"), (F32,),
              RuntimeError, ("approximate argument must be either none or tanh.",)),
    ErrorCase("gelu_int", lambda m, x: nnf(m).gelu(x), (I64,), NotImplementedError,
              ('"GeluKernelImpl" not implemented for \'Long\'',)),
    ErrorCase("silu_int", lambda m, x: nnf(m).silu(x), (I64,), NotImplementedError,
              ('"silu_cpu" not implemented for \'Long\'',)),
    ErrorCase("softplus_int", lambda m, x: nnf(m).softplus(x), (I64,), NotImplementedError,
              ('"softplus_cpu" not implemented for \'Long\'',)),
    ErrorCase("elu_int", lambda m, x: nnf(m).elu(x), (I64,), NotImplementedError,
              ('"elu_cpu" not implemented for \'Long\'',)),
    ErrorCase("leaky_relu_int", lambda m, x: nnf(m).leaky_relu(x), (I64,), NotImplementedError,
              ('"leaky_relu_cpu" not implemented for \'Long\'',)),
    ErrorCase("logsigmoid_int", lambda m, x: nnf(m).logsigmoid(x), (I64,), NotImplementedError,
              ('"log_sigmoid_cpu" not implemented for \'Long\'',)),
    ErrorCase("mish_int", lambda m, x: nnf(m).mish(x), (I64,), NotImplementedError,
              ('"mish_cpu" not implemented for \'Long\'',)),
    ErrorCase("hardtanh_min_gt_max", lambda m, x: nnf(m).hardtanh(x, 2.0, 1.0), (F32,),
              ValueError, ("min_val cannot be greater than max_val",)),
]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("e", [pytest.param(e, id=e.id) for e in ERRORS])
def test_error(e: ErrorCase, mode: str) -> None:
    _h.check_error(e, mode)


# ----------------------------------------------------------------- C printing (CUDA kernels)

C_CHECKS = [  # (op, attrs, input dtypes), each formula and derivative printed as C
    ("clamp", {}, "fff"), ("clamp_min", {}, "ff"), ("maximum", {}, "ff"), ("minimum", {}, "ff"),
    ("floor", {}, "f"), ("trunc", {}, "f"), ("round", {}, "f"), ("round", {"decimals": 2}, "f"),
    ("frac", {}, "f"), ("sign", {}, "f"), ("sign", {}, "i"), ("rsqrt", {}, "f"),
    ("log1p", {}, "f"), ("expm1", {}, "f"), ("log2", {}, "f"), ("exp2", {}, "f"),
    ("erf", {}, "f"), ("erfc", {}, "f"), ("hypot", {}, "ff"), ("atan2", {}, "ff"),
    ("acosh", {}, "f"), ("fmod", {}, "ff"), ("remainder", {}, "ff"), ("floor_divide", {}, "ff"),
    ("fmod", {"checked": True}, "ii"), ("remainder", {"checked": True}, "ii"),
    ("floor_divide", {"checked": True}, "ii"), ("lerp", {}, "fff"), ("isnan", {}, "f"),
    ("isinf", {}, "i"), ("isfinite", {}, "f"), ("bitwise_not", {}, "i"),
    ("bitwise_xor", {}, "ii"), ("nan_to_num", {"nan": 1.5, "posinf": 2.0, "neginf": -3.0}, "f"),
    ("gelu", {}, "f"), ("gelu", {"approximate": "tanh"}, "f"), ("silu", {}, "f"),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, "f"), ("elu", {"alpha": 0.5}, "f"),
    ("leaky_relu", {"negative_slope": 0.2}, "f"), ("hardtanh", {}, "f"),
    ("logsigmoid", {}, "f"), ("mish", {}, "f"),
]


def _c_values(kind: str, k: int, dtype: str) -> list[np.ndarray]:
    if kind == "i":
        base = np.array([-7, -5, -3, -1, 0, 1, 2, 3, 5, 7, 9, -9, 4, -4, 6, -6])
        divisor = np.where(base == 0, -8, base)  # integer division by 0 raises
        return [np.roll(divisor, 3 * j) if j else base for j in range(k)]
    base = np.array([-INF, -30.0, -7.5, -3.0, -2.5, -1.0, -0.7, -0.5, -1e-3, -0.0, 0.0, 1e-3, 0.3,
                     0.5, 1.0, 1.5, 2.5, 3.0, 5.0, 7.5, 30.0, INF, NAN, 4.0])
    return [(np.roll(base, 5 * j) if j else base).astype(dtype) for j in range(k)]


def _numpy_eval(expr: Any, xs: Sequence[np.ndarray], out: np.ndarray | None = None) -> Any:
    from torchtrek.codegen.numpy.printer import print_expr
    from torchtrek.ir import symbolic

    names = {s: f"a{i}" for i, s in enumerate(symbolic.arg_symbols(len(xs)))}
    names[symbolic.OUT] = "o"
    env = {"np": np, "o": out, **{f"a{i}": x for i, x in enumerate(xs)}}
    with np.errstate(all="ignore"):
        value = eval(print_expr(expr, names), env)  # noqa: S307
    return np.broadcast_to(np.asarray(value), xs[0].shape)


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
@pytest.mark.parametrize("dtype", FLOATS)
def test_c_printing_agrees_with_numpy(dtype: str, tmp_path: Any) -> None:
    """The `_ccode` of the math functions (what CUDA kernels run) computes what their
    NumPy printing computes: every formula and first derivative, built with the host C
    compiler and run on the same inputs."""
    from torchtrek.codegen.cfamily.printer import PREAMBLE, print_c
    from torchtrek.ir import symbolic

    ctype = {"float32": "float", "float64": "double"}[dtype]
    funcs, cases = [], []
    for n, (op, attrs, kinds) in enumerate(C_CHECKS):
        k, frozen = len(kinds), tuple(sorted(attrs.items()))
        syms = symbolic.arg_symbols(k)
        fwd = symbolic.formula(op, frozen, (None,) * k)
        exprs = [fwd]
        if tt.ir.opdef.get_op(op).differentiable and "i" not in kinds:
            exprs += [symbolic.derivative(op, frozen, (None,) * k, i) for i in range(k)]
        in_t = ["long long" if c == "i" else ctype for c in kinds]
        compute = "float64" if "i" in kinds else dtype
        names = {s: f"a{i}[j]" for i, s in enumerate(syms)}
        names[symbolic.OUT] = "o[j]"
        params = ", ".join(f"const {t}* a{i}" for i, t in enumerate(in_t))
        for m, expr in enumerate(exprs):
            funcs.append(f"void f{n}_{m}(long n, {params}, const {ctype}* o, double* out) {{\n"
                         f"  for (long j = 0; j < n; j++)\n"
                         f"    out[j] = (double)({print_c(expr, names, compute)});\n}}")
            cases.append((f"f{n}_{m}", kinds, fwd, expr))
    src = tmp_path / "math_ops.c"
    src.write_text("#include <math.h>\n#define __TT_INLINE__ static inline\n" + PREAMBLE
                   + "\n".join(funcs) + "\n")
    lib = tmp_path / "math_ops.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"],
                   check=True, capture_output=True)
    so = ctypes.CDLL(str(lib))
    for fname, kinds, fwd, expr in cases:
        ints = "i" in kinds
        xs = _c_values("i" if ints else "f", len(kinds), dtype)
        o = np.ascontiguousarray(_numpy_eval(fwd, xs).astype(dtype))
        want = _numpy_eval(expr, xs, o).astype("float64")
        got = np.zeros(xs[0].shape)
        ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in (*xs, o, got)]
        getattr(so, fname)(ctypes.c_long(got.size), *ptrs)
        r, a = (0.0, 0.0) if ints else TOL[dtype]
        np.testing.assert_allclose(got, want, rtol=4 * r, atol=4 * a, err_msg=f"{fname}: {expr}")
