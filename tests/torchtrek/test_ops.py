"""Op-by-op tests against PyTorch, in the spirit of tinygrad's helper_test_op.

Every case is one lambda taking the module first (`lambda m, x, y: m.tanh(x) * y`, or
method form `lambda m, x: x.sum(1)`). `check_op` runs it with torchtrek and with torch
on the same inputs and compares values, shapes, dtypes and gradients, eagerly and under
`tt.compile`. A subset is also checked with central finite differences in float64
through `tt.grad`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

SEED = 0
FLOATS = ("float32", "float64")
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


# ----------------------------------------------------------------- input specs


@dataclass(frozen=True)
class I:
    """One input: a shape (random values) or explicit values.

    dtype=None means "the float dtype the case is run with"; low/high bound the random
    values (floats: uniform; ints: integers in [low, high); bool: coin flips)."""

    spec: Any
    dtype: str | None = None
    low: float = -2.0
    high: float = 2.0


def P(*shape: int, dtype: str | None = None) -> I:
    """Random positive values (for log, sqrt, pow bases, divisors)."""
    return I(tuple(shape), dtype, 0.5, 2.0)


def V(values: Any, dtype: str | None = None) -> I:
    """Explicit values."""
    return I(np.asarray(values), dtype)


def make_inputs(specs: Sequence[Any], dtype: str | None, seed: int = SEED) -> list[Any]:
    """NumPy arrays (and passed-through Python scalars) for one case."""
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    for s in specs:
        if isinstance(s, (bool, int, float)):
            out.append(s)
            continue
        if isinstance(s, tuple):
            s = I(s)
        d = np.dtype(s.dtype or dtype or "float32")
        if isinstance(s.spec, np.ndarray):
            a = s.spec
        elif d.kind == "f":
            a = rng.uniform(s.low, s.high, size=s.spec)
        elif d.kind == "b":
            a = rng.random(size=s.spec) < 0.5
        else:
            a = rng.integers(int(s.low), int(s.high), size=s.spec)
        out.append(np.asarray(a).astype(d))  # 0-d draws come back as NumPy scalars
    return out


def to_lib(arrays: Sequence[Any], lib: Any, requires_grad: bool) -> list[Any]:
    """The arrays as `lib` tensors (float ones requiring grad when asked)."""
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            rg = requires_grad and a.dtype.kind == "f"
            out.append(lib.tensor(a.copy(), requires_grad=rg))
        else:
            out.append(a)
    return out


# ----------------------------------------------------------------- comparisons


def dtype_name(t: Any) -> str:
    return str(t.dtype).split(".")[-1]


def tolerance(name: str, rtol: float | None, atol: float | None) -> tuple[float, float]:
    r, a = TOL.get(name, (0.0, 0.0))
    return (r if rtol is None else rtol, a if atol is None else atol)


def assert_same(got: Any, want: Any, what: str, rtol: float | None = None,
                atol: float | None = None) -> None:
    """A torchtrek tensor equals a torch tensor: shape, dtype, values."""
    assert isinstance(got, tt.Tensor), f"{what}: expected a torchtrek Tensor, got {type(got)}"
    assert tuple(got.shape) == tuple(want.shape), (
        f"{what}: shape {tuple(got.shape)} != torch's {tuple(want.shape)}")
    assert dtype_name(got) == dtype_name(want), (
        f"{what}: dtype {dtype_name(got)} != torch's {dtype_name(want)}")
    g = np.asarray(got.detach().numpy())
    w = want.detach().numpy()
    if want.dtype.is_floating_point:
        r, a = tolerance(dtype_name(want), rtol, atol)
        np.testing.assert_allclose(g, w, rtol=r, atol=a, err_msg=what)
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


def assert_grads(tt_inputs: Sequence[Any], torch_inputs: Sequence[Any], what: str,
                 rtol: float | None, atol: float | None) -> None:
    for i, (a, b) in enumerate(zip(tt_inputs, torch_inputs)):
        if not isinstance(b, torch.Tensor) or not b.requires_grad:
            continue
        if b.grad is None:  # no path from this input to the output
            assert a.grad is None or not np.any(a.grad.numpy()), (
                f"{what}: input {i} got a nonzero gradient, torch's is None")
            continue
        assert a.grad is not None, f"{what}: input {i} got no gradient"
        assert_same(a.grad, b.grad, f"{what}: gradient of input {i}", rtol, atol)


def upstream(out: Any, seed: int = SEED + 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(rng.standard_normal(tuple(out.shape))).astype(dtype_name(out))


def check_op(tt_fn: Callable[..., Any], torch_fn: Callable[..., Any] | None,
             shapes_or_inputs: Sequence[Any], dtype: str | None = "float32", grad: bool = True,
             compiled: bool = True, rtol: float | None = None,
             atol: float | None = None) -> None:
    """Run `tt_fn(tt, *inputs)` and `torch_fn(torch, *inputs)` (torch_fn defaults to
    tt_fn) eagerly and compiled; compare forward results and gradients."""
    torch_fn = torch_fn or tt_fn
    arrays = make_inputs(shapes_or_inputs, dtype)

    # torch, the oracle
    th_in = to_lib(arrays, torch, grad)
    th_out = torch_fn(torch, *th_in)
    do_grad = grad and th_out.requires_grad
    up = upstream(th_out) if do_grad else None
    if do_grad:
        (th_out * torch.tensor(up)).sum().backward()

    # eager
    tt_in = to_lib(arrays, tt, grad)
    tt_out = tt_fn(tt, *tt_in)
    assert_same(tt_out, th_out, "eager forward", rtol, atol)
    assert tt_out.requires_grad == th_out.requires_grad, "eager: requires_grad differs"
    if do_grad:
        (tt_out * tt.tensor(up)).sum().backward()
        assert_grads(tt_in, th_in, "eager backward", rtol, atol)

    if not compiled:
        return

    # tt.compile: the same lambda traced, differentiated and emitted as NumPy
    def fn(*args: Any) -> Any:
        return tt_fn(tt, *args)

    cf = tt.compile(fn)
    c_in = to_lib(arrays, tt, grad)
    c_out = cf(*c_in)
    assert_same(c_out, th_out, "compiled forward", rtol, atol)
    assert c_out.requires_grad == th_out.requires_grad, "compiled: requires_grad differs"
    if do_grad:
        c_out.backward(tt.tensor(up))
        assert_grads(c_in, th_in, "compiled backward", rtol, atol)

    # the same with every size symbolic (guards where the op decides on a size; what
    # needs a size's value specializes): the NumPy backend prints the generic code
    df = tt.compile(fn, dynamic=True, backend="numpy")
    d_in = to_lib(arrays, tt, grad)
    d_out = df(*d_in)
    assert_same(d_out, th_out, "compiled forward, dynamic sizes", rtol, atol)
    if do_grad:
        d_out.backward(tt.tensor(up))
        assert_grads(d_in, th_in, "compiled backward, dynamic sizes", rtol, atol)


def central_differences(scalar: Callable[..., Any], arrays: list[Any], i: int,
                        h: float) -> np.ndarray:
    """d scalar / d arrays[i], element by element: (f(x + h) - f(x - h)) / 2h."""
    x = arrays[i]
    numeric = np.zeros_like(x)
    for j in range(x.size):
        vals = []
        for sign in (1, -1):
            xs = list(arrays)
            xs[i] = x.copy()
            xs[i].reshape(-1)[j] += sign * h
            with tt.no_grad():
                vals.append(scalar(*to_lib(xs, tt, False)).item())
        numeric.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * h)
    return numeric


def check_finite_differences(fn: Callable[..., Any], shapes_or_inputs: Sequence[Any],
                             h: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """tt.grad of `(fn(tt, *xs) * upstream).sum()` in float64 against central differences
    (f(x+h) - f(x-h)) / 2h and against torch's gradients."""
    arrays = make_inputs(shapes_or_inputs, "float64")
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            assert a.dtype == np.float64, "finite differences need float64 inputs"
    argnums = tuple(i for i, a in enumerate(arrays)
                    if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    assert argnums, "no float input to differentiate"
    out = fn(tt, *to_lib(arrays, tt, False))
    up = tt.tensor(upstream(out))

    def scalar(*args: Any) -> Any:
        return (fn(tt, *args) * up).sum()

    grads = tt.grad(scalar, argnums=argnums)(*to_lib(arrays, tt, False))
    assert len(grads) == len(argnums)

    th_in = to_lib(arrays, torch, True)
    (fn(torch, *th_in) * torch.tensor(upstream(out))).sum().backward()

    for g, i in zip(grads, argnums):
        x = arrays[i]
        assert tuple(g.shape) == x.shape and dtype_name(g) == "float64"
        numeric = central_differences(scalar, arrays, i, h)
        np.testing.assert_allclose(g.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"tt.grad vs finite differences, input {i}")
        want = th_in[i].grad
        np.testing.assert_allclose(g.numpy(), np.zeros_like(x) if want is None else want.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=f"tt.grad vs torch, input {i}")


# ----------------------------------------------------------------- the case table


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple = FLOATS  # (None,) when every input has a fixed dtype
    grad: bool = True
    fd: bool = False  # also run the float64 finite-difference check
    torch_fn: Callable[..., Any] | None = None
    rtol: float | None = None
    atol: float | None = None


CASES: list[Case] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


FIXED = (None,)
S = (3, 4)
ZEROS = [[-1.5, 0.0, 2.0, 0.0], [0.0, 3.0, -0.5, 1.0], [-2.0, 0.25, 0.0, -0.0]]

# --- elementwise binary
case("add", lambda m, x, y: m.add(x, y), S, S, fd=True)
case("add_method", lambda m, x, y: x.add(y), S, S)
case("add_operator", lambda m, x, y: x + y, S, S)
case("add_alpha", lambda m, x, y: m.add(x, y, alpha=2), S, S)
case("add_scalar", lambda m, x: x + 1.5, S)
case("radd_scalar", lambda m, x: 2 + x, S)
case("sub", lambda m, x, y: m.sub(x, y), S, S, fd=True)
case("sub_method", lambda m, x, y: x.sub(y), S, S)
case("sub_operator", lambda m, x, y: x - y, S, S)
case("rsub_scalar", lambda m, x: 3 - x, S)
case("mul", lambda m, x, y: m.mul(x, y), S, S, fd=True)
case("mul_method", lambda m, x, y: x.mul(y), S, S)
case("mul_operator", lambda m, x, y: x * y, S, S)
case("mul_self", lambda m, x: x * x, S, fd=True)
case("mul_scalar", lambda m, x: x * 3, S)
case("div", lambda m, x, y: m.div(x, y), S, P(*S), fd=True)
case("div_method", lambda m, x, y: x.div(y), S, P(*S))
case("div_operator", lambda m, x, y: x / y, S, P(*S))
case("div_scalar", lambda m, x: x / 4.0, S)
case("rdiv_scalar", lambda m, x: 2 / x, P(*S))
case("pow_tensor_scalar", lambda m, x: x ** 2, S, fd=True)
case("pow_tensor_scalar_cube", lambda m, x: x ** 3, S)
case("pow_tensor_scalar_half", lambda m, x: x ** 0.5, P(*S))
case("pow_tensor_scalar_neg", lambda m, x: x ** -1.5, P(*S), fd=True)
case("pow_fn", lambda m, x: m.pow(x, 2), S)
case("pow_method", lambda m, x: x.pow(3), S)
case("pow_scalar_tensor", lambda m, x: 2.0 ** x, S, fd=True)
case("pow_scalar_tensor_fn", lambda m, x: m.pow(2.5, x), S)
case("pow_zero_scalar_tensor", lambda m, x: 0.0 ** x, P(*S))
case("pow_tensor_tensor", lambda m, x, y: x ** y, P(*S), S, fd=True)
case("pow_tensor_tensor_fn", lambda m, x, y: m.pow(x, y), P(*S), S)
case("pow_tensor_tensor_broadcast", lambda m, x, y: x.pow(y), P(3, 1), (4,))
case("tanh_times", lambda m, x, y: m.tanh(x) * y, S, S, fd=True)
# edge values: exact zeros, an operand used twice, a constant result
NONNEG = [[0.0, 0.25, 1.0], [4.0, 0.0, 2.0]]
case("pow_tensor_scalar_zeros", lambda m, x: x ** 2, V(ZEROS))
case("pow_method_zeros", lambda m, x: x.pow(3), V(ZEROS))
case("pow_tensor_scalar_half_zeros", lambda m, x: x ** 0.5, V(NONNEG))
case("pow_tensor_scalar_zero_exponent", lambda m, x: x ** 0, S)
case("mul_scalar_zero", lambda m, x: x * 0, S)
case("div_scalar_zero", lambda m, x: x / 0.0, S)
case("sub_self", lambda m, x: x - x, S)
case("div_self", lambda m, x: x / x, P(*S))
case("add_self", lambda m, x: x + x, S)

# --- elementwise unary: function, method (and operator) forms
UNARY = {
    "neg": S, "exp": S, "log": P(*S), "sin": S, "cos": S, "tanh": S, "sigmoid": S,
    "relu": S, "sqrt": P(*S), "abs": S,
}
for _name, _shape in UNARY.items():
    case(_name, lambda m, x, _n=_name: getattr(m, _n)(x), _shape, fd=_name != "relu")
    case(f"{_name}_method", lambda m, x, _n=_name: getattr(x, _n)(), _shape)
case("neg_operator", lambda m, x: -x, S)
case("abs_operator", lambda m, x: abs(x), S)
case("sigmoid_extreme", lambda m, x: m.sigmoid(x),
     V([-100.0, -88.0, -50.0, -10.0, 0.0, 10.0, 50.0, 88.0, 100.0]))
case("sigmoid_extreme_method", lambda m, x: x.sigmoid(), V([[-100.0, 100.0], [-30.0, 30.0]]))
case("tanh_extreme", lambda m, x: m.tanh(x), V([-100.0, -20.0, 0.0, 20.0, 100.0]))
case("relu_zeros", lambda m, x: m.relu(x), V(ZEROS))
case("relu_zeros_method", lambda m, x: x.relu(), V(ZEROS))
case("abs_zeros", lambda m, x: m.abs(x), V(ZEROS))
case("abs_zeros_method", lambda m, x: x.abs(), V(ZEROS))
case("exp_log_chain", lambda m, x: m.log(m.exp(x) + 1.0), S, fd=True)
case("sin_cos_chain", lambda m, x, y: m.sin(x) * m.cos(y) + m.sqrt(m.abs(x) + 1), S, S,
     fd=True)

# --- reductions
R = (2, 3, 4)
for _name in ("sum", "mean"):
    case(f"{_name}_all", lambda m, x, _n=_name: getattr(m, _n)(x), R, fd=True)
    case(f"{_name}_all_method", lambda m, x, _n=_name: getattr(x, _n)(), R)
    case(f"{_name}_dim", lambda m, x, _n=_name: getattr(x, _n)(1), R, fd=True)
    case(f"{_name}_dim_fn", lambda m, x, _n=_name: getattr(m, _n)(x, 0), R)
    case(f"{_name}_dim_neg", lambda m, x, _n=_name: getattr(x, _n)(-1), R)
    case(f"{_name}_dim_tuple", lambda m, x, _n=_name: getattr(x, _n)((0, 2)), R)
    case(f"{_name}_dim_tuple_neg", lambda m, x, _n=_name: getattr(x, _n)(dim=(-1, -2)), R)
    case(f"{_name}_keepdim", lambda m, x, _n=_name: getattr(x, _n)(1, keepdim=True), R)
    case(f"{_name}_keepdim_false", lambda m, x, _n=_name: getattr(x, _n)(1, keepdim=False), R)
    case(f"{_name}_keepdim_tuple",
         lambda m, x, _n=_name: getattr(m, _n)(x, dim=(0, -1), keepdim=True), R, fd=True)
    case(f"{_name}_keepdim_all", lambda m, x, _n=_name: getattr(x, _n)((0, 1, 2), keepdim=True), R)
    case(f"{_name}_0d", lambda m, x, _n=_name: getattr(x, _n)(), ())
    case(f"{_name}_0d_dim", lambda m, x, _n=_name: getattr(x, _n)(0), ())
    case(f"{_name}_size1", lambda m, x, _n=_name: getattr(x, _n)(1), (3, 1, 2))
    case(f"{_name}_empty_all", lambda m, x, _n=_name: getattr(x, _n)(), (0, 3))
    case(f"{_name}_empty_dim0", lambda m, x, _n=_name: getattr(x, _n)(0), (0, 3))
    case(f"{_name}_empty_dim1", lambda m, x, _n=_name: getattr(x, _n)(1, keepdim=True), (0, 3))
case("sum_int64", lambda m, x: x.sum(1), I(S, "int64", -5, 5), dtypes=FIXED)
case("sum_int32", lambda m, x: x.sum(), I(S, "int32", -5, 5), dtypes=FIXED)
case("sum_bool", lambda m, x: x.sum(0), I(S, "bool"), dtypes=FIXED)
case("mean_of_square", lambda m, x: (x * x).mean(0), S)

# --- matmul
MATMUL = {
    "1d_1d": ((4,), (4,)),
    "2d_1d": ((3, 4), (4,)),
    "1d_2d": ((4,), (4, 5)),
    "2d_2d": ((3, 4), (4, 5)),
    "3d_3d": ((2, 3, 4), (2, 4, 5)),
    "3d_2d": ((2, 3, 4), (4, 5)),
    "2d_3d": ((3, 4), (2, 4, 5)),
    "4d_3d": ((2, 1, 3, 4), (5, 4, 2)),
    "3d_1d": ((2, 3, 4), (4,)),
    "1d_3d": ((4,), (2, 4, 5)),
    "size1": ((1, 4), (4, 1)),
}
for _name, (_a, _b) in MATMUL.items():
    case(f"matmul_{_name}", lambda m, x, y: m.matmul(x, y), _a, _b,
         fd=_name in ("1d_1d", "2d_1d", "2d_2d", "3d_2d", "4d_3d"))
case("matmul_method", lambda m, x, y: x.matmul(y), (3, 4), (4, 2))
case("matmul_operator", lambda m, x, y: x @ y, (2, 3, 4), (4, 2))
case("matmul_empty_rows", lambda m, x, y: x @ y, (0, 3), (3, 2))
case("matmul_empty_inner", lambda m, x, y: x @ y, (2, 0), (0, 3))
case("matmul_int64", lambda m, x, y: x @ y, I((2, 3), "int64", -3, 3), I((3, 2), "int64", -3, 3),
     dtypes=FIXED)
case("linear_layer", lambda m, x, w, b: m.tanh(x @ w.T + b), (5, 3), (4, 3), (4,), fd=True)

# --- shapes
X = (2, 3, 4)
case("reshape", lambda m, x: x.reshape(4, 6), X, fd=True)
case("reshape_tuple", lambda m, x: x.reshape((6, 4)), X)
case("reshape_infer", lambda m, x: x.reshape(2, -1), X)
case("reshape_infer_first", lambda m, x: x.reshape(-1, 3, 2), X)
case("reshape_flat", lambda m, x: x.reshape(-1), X)
case("reshape_fn", lambda m, x: m.reshape(x, (6, -1)), X)
case("reshape_same", lambda m, x: x.reshape(2, 3, 4), X)
case("reshape_0d_to_1", lambda m, x: x.reshape(1), ())
case("reshape_to_0d", lambda m, x: x.reshape(()), (1, 1))
case("reshape_empty", lambda m, x: x.reshape(-1, 3), (3, 0))
case("view", lambda m, x: x.view(3, 8), X)
case("view_infer", lambda m, x: x.view(-1, 4), X)
case("view_then_sum", lambda m, x: (x.view(6, 4) * 2).sum(0), X)
case("flatten", lambda m, x: x.flatten(), X)
case("flatten_start", lambda m, x: x.flatten(1), X)
case("flatten_start_end", lambda m, x: x.flatten(0, 1), X)
case("flatten_neg", lambda m, x: x.flatten(-2, -1), X)
case("flatten_same", lambda m, x: x.flatten(1, 1), X)
case("flatten_fn", lambda m, x: m.flatten(x, start_dim=1, end_dim=2), (2, 3, 2, 2))
case("flatten_0d", lambda m, x: x.flatten(), ())
case("unsqueeze", lambda m, x: x.unsqueeze(0), S)
case("unsqueeze_mid", lambda m, x: x.unsqueeze(1), S)
case("unsqueeze_neg1", lambda m, x: x.unsqueeze(-1), S)
case("unsqueeze_neg2", lambda m, x: x.unsqueeze(-2), S)
case("unsqueeze_fn", lambda m, x: m.unsqueeze(x, -3), S)
case("unsqueeze_0d", lambda m, x: x.unsqueeze(-1), ())
Q = (1, 3, 1, 2)
case("squeeze_all", lambda m, x: x.squeeze(), Q, fd=True)
case("squeeze_dim", lambda m, x: x.squeeze(0), Q)
case("squeeze_dim_neg", lambda m, x: x.squeeze(-2), Q)
case("squeeze_dim_not1", lambda m, x: x.squeeze(1), Q)
case("squeeze_dim_not1_chain", lambda m, x: x.squeeze(1) * 2, Q)
case("squeeze_dims_tuple", lambda m, x: x.squeeze((0, 2)), Q)
case("squeeze_fn", lambda m, x: m.squeeze(x, 2), Q)
case("squeeze_fn_all", lambda m, x: m.squeeze(x), Q)
case("squeeze_to_0d", lambda m, x: x.squeeze(), (1, 1))
case("squeeze_0d", lambda m, x: x.squeeze(), ())
case("squeeze_0d_dim", lambda m, x: x.squeeze(0), ())
case("permute", lambda m, x: x.permute(2, 0, 1), X, fd=True)
case("permute_tuple", lambda m, x: x.permute((1, 2, 0)), X)
case("permute_neg", lambda m, x: x.permute(-1, 0, -2), X)
case("permute_fn", lambda m, x: m.permute(x, (2, 1, 0)), X)
case("permute_identity", lambda m, x: x.permute(0, 1, 2), X)
case("transpose", lambda m, x: x.transpose(0, 1), X, fd=True)
case("transpose_neg", lambda m, x: x.transpose(-1, -3), X)
case("transpose_fn", lambda m, x: m.transpose(x, 0, 2), X)
case("transpose_same", lambda m, x: x.transpose(1, 1), X)
case("T_2d", lambda m, x: x.T, S)
case("t_method", lambda m, x: x.t(), S)
case("t_fn", lambda m, x: m.t(x), S)
case("T_then_matmul", lambda m, x, y: x.T @ y, (3, 4), (3, 2), fd=True)
case("transpose_reshape", lambda m, x: x.transpose(0, 2).reshape(4, 6), X)

# --- comparisons (bool results, no gradient)
CMP_A = [[1.0, 2.0, 3.0, -1.0], [4.0, 5.0, 6.0, 0.5], [0.0, -2.0, 7.0, 1.5]]
CMP_B = [[1.0, 0.0, 3.0, -1.5], [5.0, 5.0, 7.0, 0.5], [0.0, -3.0, 7.5, 1.0]]
CMP_OPS = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "eq": "==", "ne": "!="}
for _name, _op in CMP_OPS.items():
    _op_fn = eval(f"lambda x, y: x {_op} y")  # noqa: S307 (the literal operator)
    case(_name, lambda m, x, y, _n=_name: getattr(m, _n)(x, y), V(CMP_A), V(CMP_B))
    case(f"{_name}_method", lambda m, x, y, _n=_name: getattr(x, _n)(y), V(CMP_A), V(CMP_B))
    case(f"{_name}_operator", lambda m, x, y, _f=_op_fn: _f(x, y), V(CMP_A), V(CMP_B))
    case(f"{_name}_scalar", lambda m, x, _f=_op_fn: _f(x, 1.0), V(CMP_A))
    case(f"{_name}_broadcast", lambda m, x, y, _f=_op_fn: _f(x, y), V(CMP_A), V(CMP_B[1]))
    case(f"{_name}_int", lambda m, x, y, _f=_op_fn: _f(x, y), V(CMP_A, "int64"),
         V(CMP_B, "int32"), dtypes=FIXED)
case("gt_int_vs_float_scalar", lambda m, x: x > 0.5, V([0, 1, 2, -1], "int64"), dtypes=FIXED)
case("eq_bool", lambda m, x, y: x == y, I(S, "bool"), I(S, "bool"), dtypes=FIXED)
case("lt_scalar_left", lambda m, x: 0.5 < x, V(CMP_A))
case("eq_self", lambda m, x: x == x, V(CMP_A))
case("gt_self", lambda m, x: m.gt(x, x), V(CMP_A))
case("gt_empty", lambda m, x, y: x > y, (0, 3), (3,))
case("compare_then_mask", lambda m, x: x * (x > 0).to(x.dtype), S)

# --- where
case("where", lambda m, x, y: m.where(x > 0, x, y), S, S, fd=True)
case("where_bool_input", lambda m, c, x, y: m.where(c, x, y), I(S, "bool"), S, S)
case("where_broadcast", lambda m, c, x, y: m.where(c, x, y), I((3, 1), "bool"), (1, 4), S,
     fd=True)
case("where_scalar_other", lambda m, x: m.where(x > 0, x, 0.0), S)
case("where_scalar_self", lambda m, x: m.where(x > 0, 1.0, x), S)
case("where_same_input", lambda m, x: m.where(x > 0.5, x * 2, x), S)
case("where_0d_cond", lambda m, c, x, y: m.where(c, x, y), I((), "bool"), S, ())
case("where_promote", lambda m, x, y: m.where(x > 0, x, y), I(S, "float32"),
     I(S, "float64"), dtypes=FIXED)
case("where_method", lambda m, x, y: x.where(x > 0, y), S, S)

# --- casts (gradients flow through float -> float casts)
case("to_float64", lambda m, x: x.to(m.float64), S)
case("to_float32", lambda m, x: x.to(m.float32), S)
case("to_dtype_kw", lambda m, x: x.to(dtype=m.float64) * 2, S)
case("double", lambda m, x, y: x.double() * y, S, I(S, "float64"))
case("float", lambda m, x, y: x.float() * y, S, I(S, "float32"))
case("double_float_roundtrip", lambda m, x: (m.exp(x.double()) * 2).float(), S)
case("long", lambda m, x: x.long(), S)
case("int", lambda m, x: x.int(), S)
case("to_int32", lambda m, x: x.to(m.int32), S)
case("to_bool", lambda m, x: x.to(m.bool), V(ZEROS))
case("long_float_no_grad", lambda m, x, y: x.long().float() * y, S, S)
case("int_to_float", lambda m, x: x.float(), I(S, "int64", -5, 5), dtypes=FIXED)
case("int_to_double", lambda m, x: x.double(), I(S, "int32", -5, 5), dtypes=FIXED)
case("bool_to_long", lambda m, x: x.long(), I(S, "bool"), dtypes=FIXED)
case("int_to_bool", lambda m, x: x.to(m.bool), I(S, "int64", -2, 2), dtypes=FIXED)
case("to_same_dtype", lambda m, x: x.to(x.dtype) * 2, S)

# --- broadcasting, 0-d tensors, size-1 dims, empty tensors
case("broadcast_col_row", lambda m, x, y: x + y, (3, 1), (1, 4), fd=True)
case("broadcast_trailing", lambda m, x, y: x * y, (2, 3, 4), (4,), fd=True)
case("broadcast_0d_2d", lambda m, x, y: x * y, (), S, fd=True)
case("broadcast_2d_0d", lambda m, x, y: x - y, S, ())
case("broadcast_both", lambda m, x, y: x / y, (2, 1, 4), P(3, 1))
case("broadcast_size1_lead", lambda m, x, y: x + y, (1, 1), S)
case("broadcast_1elem", lambda m, x, y: x * y, (1,), S)
case("broadcast_where_chain", lambda m, x, y: m.tanh(x) * y + x, (4,), (3, 1))
case("zero_d_binary", lambda m, x, y: x * y + x, (), ())
case("zero_d_unary", lambda m, x: m.exp(x), ())
case("zero_d_chain", lambda m, x: m.sigmoid(x * 2.0).sum(), ())
case("size1_dims_unary", lambda m, x: m.tanh(x), (1, 3, 1))
case("empty_unary", lambda m, x: m.exp(x), (0, 3))
case("empty_binary", lambda m, x, y: x * y, (0, 3), (3,))
case("empty_unsqueeze", lambda m, x: x.unsqueeze(1), (0, 3))
case("empty_transpose", lambda m, x: x.transpose(0, 1), (0, 3))

# --- type promotion (fixed dtypes; gradients only where an input is float)
case("promote_int64_mul_float", lambda m, x: x * 2.5, I(S, "int64", -5, 5), dtypes=FIXED)
case("promote_int32_add_int64", lambda m, x, y: x + y, I(S, "int32", -5, 5),
     I(S, "int64", -5, 5), dtypes=FIXED)
case("promote_int_div_int", lambda m, x, y: x / y, I(S, "int64", -5, 5), I(S, "int64", 1, 5),
     dtypes=FIXED)
case("promote_int_div_int_fn", lambda m, x, y: m.div(x, y), I(S, "int32", -5, 5),
     I(S, "int32", 1, 5), dtypes=FIXED)
case("promote_bool_add_int", lambda m, x, y: x + y, I(S, "bool"), I(S, "int64", -5, 5),
     dtypes=FIXED)
case("promote_bool_add_scalar", lambda m, x: x + 1, I(S, "bool"), dtypes=FIXED)
case("promote_bool_add_bool", lambda m, x, y: x + y, I(S, "bool"), I(S, "bool"), dtypes=FIXED)
case("promote_bool_mul_float", lambda m, x: x * 1.5, I(S, "bool"), dtypes=FIXED)
# y's gradient is a float32 sum widened to float64: float32 accuracy (torch sums in
# float32 its own way, the C backend in double)
case("promote_f32_add_0d_f64", lambda m, x, y: x + y, I(S, "float32"), I((), "float64"),
     dtypes=FIXED, rtol=1e-6, atol=1e-7)
case("promote_int32_add_0d_f64", lambda m, x, y: x + y, I(S, "int32", -5, 5), I((), "float64"),
     dtypes=FIXED)
case("promote_f32_add_f64", lambda m, x, y: x + y, I(S, "float32"), I(S, "float64"),
     dtypes=FIXED)
case("promote_f64_mul_0d_f32", lambda m, x, y: x * y, I(S, "float64"), I((), "float32"),
     dtypes=FIXED)
case("promote_int32_mul_0d_int64", lambda m, x, y: x * y, I(S, "int32", -5, 5),
     I((), "int64", -5, 5), dtypes=FIXED)
case("promote_int32_add_scalar", lambda m, x: x + 3, I(S, "int32", -5, 5), dtypes=FIXED)
case("promote_int64_add_0d_f32", lambda m, x, y: x + y, I(S, "int64", -5, 5), I((), "float32"),
     dtypes=FIXED)
case("promote_uint8_add_int8", lambda m, x, y: x + y, I(S, "uint8", 0, 9), I(S, "int8", -5, 5),
     dtypes=FIXED)
case("promote_0d_f64_add_0d_f32", lambda m, x, y: x + y, I((), "float64"), I((), "float32"),
     dtypes=FIXED)
case("promote_int_pow_scalar", lambda m, x: x ** 2, I(S, "int64", -5, 5), dtypes=FIXED)
case("promote_int32_pow_scalar", lambda m, x: x ** 2, I(S, "int32", -5, 5), dtypes=FIXED)
case("promote_int_pow_float", lambda m, x: x ** 0.5, I(S, "int64", 0, 9), dtypes=FIXED)
case("promote_int_exp", lambda m, x: m.exp(x), I(S, "int64", -3, 3), dtypes=FIXED)
case("promote_int_sqrt_method", lambda m, x: x.sqrt(), I(S, "int32", 0, 9), dtypes=FIXED)
case("promote_int_neg", lambda m, x: -x, I(S, "int32", -5, 5), dtypes=FIXED)
case("promote_int_abs", lambda m, x: m.abs(x), I(S, "int64", -5, 5), dtypes=FIXED)
case("promote_int_relu", lambda m, x: m.relu(x), I(S, "int64", -5, 5), dtypes=FIXED)
case("promote_int_sub_float_tensor", lambda m, x, y: x - y, I(S, "int64", -5, 5),
     I(S, "float64"), dtypes=FIXED)
case("promote_int32_mul_f32_tensor", lambda m, x, y: x * y, I(S, "int32", -5, 5),
     I((4,), "float32"), dtypes=FIXED)

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})


def _params(cases: Sequence[Case], only_float64: bool = False) -> list[Any]:
    out = []
    for c in cases:
        if only_float64:
            out.append(pytest.param(c, id=c.id))
            continue
        for d in c.dtypes:
            out.append(pytest.param(c, d, id=c.id if d is None else f"{c.id}-{d}"))
    return out


@pytest.mark.parametrize("c, dtype", _params(CASES))
def test_op(c: Case, dtype: str | None) -> None:
    check_op(c.fn, c.torch_fn, c.inputs, dtype=dtype, grad=c.grad, rtol=c.rtol, atol=c.atol)


@pytest.mark.parametrize("c", _params([c for c in CASES if c.fd], only_float64=True))
def test_finite_differences(c: Case) -> None:
    check_finite_differences(c.fn, c.inputs)


# ----------------------------------------------------------------- function and method forms

METHOD_AND_FUNCTION = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sin", "cos", "tanh", "sigmoid",
    "relu", "sqrt", "abs", "sum", "mean", "matmul", "reshape", "flatten", "unsqueeze",
    "squeeze", "permute", "transpose", "t", "gt", "lt", "ge", "le", "eq", "ne", "where",
]


@pytest.mark.parametrize("name", METHOD_AND_FUNCTION)
def test_function_and_method_exist(name: str) -> None:
    """Where torch has both torch.fn and Tensor.fn, torchtrek has both too."""
    assert callable(getattr(torch, name)) and callable(getattr(torch.Tensor, name))
    assert callable(getattr(tt, name, None)), f"tt.{name} is missing"
    assert callable(getattr(tt.Tensor, name, None)), f"tt.Tensor.{name} is missing"


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCase:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    exc: type
    messages: tuple  # substrings torch's message and ours must both contain


ERRORS = [
    ErrorCase("matmul_mismatch", lambda m, x, y: x @ y, ((3, 4), (5, 6)), RuntimeError,
              ("mat1 and mat2 shapes cannot be multiplied (3x4 and 5x6)",)),
    ErrorCase("matmul_fn_mismatch", lambda m, x, y: m.matmul(x, y), ((3, 4), (5, 6)),
              RuntimeError, ("mat1 and mat2 shapes cannot be multiplied (3x4 and 5x6)",)),
    ErrorCase("matmul_1d_mismatch", lambda m, x, y: x @ y, ((3,), (4,)), RuntimeError,
              ("inconsistent tensor size", "[3]", "[4]")),
    ErrorCase("broadcast_mismatch", lambda m, x, y: x + y, ((2, 3), (2, 4)), RuntimeError,
              ("(3)", "(4)")),
    ErrorCase("broadcast_mismatch_mul", lambda m, x, y: x * y, ((2, 3), (4,)), RuntimeError,
              ("(3)", "(4)")),
    ErrorCase("broadcast_mismatch_message", lambda m, x, y: x + y, ((2, 3), (4,)), RuntimeError,
              ("The size of tensor a (3) must match the size of tensor b (4) at "
               "non-singleton dimension 1",)),
    ErrorCase("reshape_invalid", lambda m, x: x.reshape(2, 5), ((2, 3),), RuntimeError,
              ("shape '[2, 5]' is invalid for input of size 6",)),
    ErrorCase("view_invalid", lambda m, x: x.view(4, -1), ((6,),), RuntimeError,
              ("shape '[4, -1]' is invalid for input of size 6",)),
    ErrorCase("sum_dim_out_of_range", lambda m, x: x.sum(2), ((2, 3),), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("mean_dim_out_of_range", lambda m, x: m.mean(x, -3), ((2, 3),), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got -3)",)),
    ErrorCase("unsqueeze_dim_out_of_range", lambda m, x: x.unsqueeze(3), ((2, 3),), IndexError,
              ("Dimension out of range (expected to be in range of [-3, 2], but got 3)",)),
    ErrorCase("transpose_dim_out_of_range", lambda m, x: x.transpose(0, 2), ((2, 3),),
              IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    ErrorCase("squeeze_dim_out_of_range", lambda m, x: x.squeeze(5), ((2, 3),), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got 5)",)),
    ErrorCase("flatten_dim_out_of_range", lambda m, x: x.flatten(0, 3), ((2, 3),), IndexError,
              ("Dimension out of range",)),
    ErrorCase("permute_dim_out_of_range", lambda m, x: x.permute(0, -3), ((2, 3),), IndexError,
              ("Dimension out of range (expected to be in range of [-2, 1], but got -3)",)),
    ErrorCase("mean_int", lambda m, x: x.mean(), (I((2, 3), "int64"),), RuntimeError,
              ("mean(): could not infer output dtype",)),
]


def check_error(e: ErrorCase, mode: str) -> None:
    """torch raises e.exc with e.messages; TorchTrek raises the same, eager or compiled."""
    arrays = make_inputs(e.inputs, "float32")
    with pytest.raises(Exception) as th_err:
        e.fn(torch, *to_lib(arrays, torch, False))
    assert isinstance(th_err.value, e.exc), f"torch raised {type(th_err.value).__name__}"
    for msg in e.messages:
        assert msg in str(th_err.value), f"torch's message lacks {msg!r}: {th_err.value}"

    xs = to_lib(arrays, tt, False)
    if mode == "eager":
        call = lambda: e.fn(tt, *xs)  # noqa: E731
    else:
        call = lambda: tt.compile(lambda *a: e.fn(tt, *a))(*xs)  # noqa: E731
    with pytest.raises(e.exc) as tt_err:
        call()
    for msg in e.messages:
        assert msg in str(tt_err.value), f"message lacks {msg!r}: {tt_err.value}"


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("e", [pytest.param(e, id=e.id) for e in ERRORS])
def test_error(e: ErrorCase, mode: str) -> None:
    check_error(e, mode)
