"""torchtrek.nn against torch.nn: functional ops, modules, initializers, compiled models.

Functional cases are registry-style lambdas `lambda m, F, *xs: ...` (m the library, F
its nn.functional), run with torchtrek and torch on the same inputs, eagerly and under
`tt.compile`, comparing values, shapes, dtypes and gradients. Modules are built in both
libraries, torch's weights copied into ours through load_state_dict, then compared the
same way (and their reprs character for character).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")
torch.set_num_threads(1)  # tiny tensors: threads only add contention
TF, F = torch.nn.functional, tt.nn.functional

FLOATS = ("float32", "float64")
FIXED = (None,)
TOL = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}
INF, NAN = float("inf"), float("nan")


# ----------------------------------------------------------------- inputs


@dataclass(frozen=True)
class I:
    """One input: a shape (random uniform in [low, high)) or explicit values. dtype None
    is the case's float dtype; grad=False keeps a float input out of differentiation."""

    spec: Any
    dtype: str | None = None
    low: float = -2.0
    high: float = 2.0
    grad: bool = True


def V(values: Any, dtype: str | None = None, grad: bool = True) -> I:
    return I(np.asarray(values), dtype, grad=grad)


def T(*shape: int, high: int = 4) -> I:
    """Class-index targets in [0, high)."""
    return I(tuple(shape), "int64", 0, high)


def U(*shape: int, grad: bool = True) -> I:
    """Values in (0, 1): probabilities."""
    return I(tuple(shape), None, 0.05, 0.95, grad)


def W(*shape: int) -> I:
    """Positive weights that take no gradient."""
    return I(tuple(shape), None, 0.5, 2.0, grad=False)


def make_arrays(specs: Sequence[Any], dtype: str | None, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    for s in specs:
        s = I(s) if isinstance(s, tuple) else s
        d = np.dtype(s.dtype or dtype or "float32")
        if isinstance(s.spec, np.ndarray):
            a = s.spec
        elif d.kind == "f":
            a = rng.uniform(s.low, s.high, size=s.spec)
        else:
            a = rng.integers(int(s.low), int(s.high), size=s.spec)
        out.append(np.asarray(a).astype(d))
    return out


def to_lib(arrays: Sequence[Any], specs: Sequence[Any], lib: Any) -> list[Any]:
    out = []
    for a, s in zip(arrays, specs):
        s = I(s) if isinstance(s, tuple) else s
        out.append(lib.tensor(a.copy(), requires_grad=s.grad and a.dtype.kind == "f"))
    return out


def name_of(t: Any) -> str:
    return str(t.dtype).split(".")[-1]


def assert_same(got: Any, want: Any, what: str, rtol: float | None = None,
                atol: float | None = None) -> None:
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    assert name_of(got) == name_of(want), f"{what}: dtype {name_of(got)} != {name_of(want)}"
    g, w = np.asarray(got.detach().numpy()), want.detach().numpy()
    r, a = TOL.get(name_of(want), (0, 0))
    np.testing.assert_allclose(g, w, rtol=rtol or r, atol=atol or a, err_msg=what)


def assert_grads(ours: Sequence[Any], theirs: Sequence[Any], what: str, **tol: Any) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:
                assert a.grad is None or not np.any(a.grad.numpy()), f"{what}: input {i}"
                continue
            assert a.grad is not None, f"{what}: input {i} got no gradient"
            assert_same(a.grad, b.grad, f"{what}: gradient of input {i}", **tol)


def upstream(shape: Sequence[int], dtype: str) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(tuple(shape)).astype(dtype)


def check(fn: Callable[..., Any], specs: Sequence[Any], dtype: str | None = "float32",
          rtol: float | None = None, atol: float | None = None, compiled: bool = True) -> None:
    """fn(m, F, *inputs) with torch and torchtrek: eager and compiled, values and grads."""
    arrays = make_arrays(specs, dtype)
    th_in = to_lib(arrays, specs, torch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fn(torch, TF, *th_in)
    grad = want.requires_grad
    up = upstream(want.shape, name_of(want)) if grad else None
    if grad:
        (want * torch.tensor(up)).sum().backward()
    runs = [("eager", lambda *xs: fn(tt, F, *xs))]
    if compiled:
        runs.append(("compiled", tt.compile(lambda *xs: fn(tt, F, *xs))))
    for mode, run in runs:
        ins = to_lib(arrays, specs, tt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = run(*ins)
        assert_same(got, want, f"{mode} forward", rtol, atol)
        assert got.requires_grad == grad, f"{mode}: requires_grad differs"
        if grad:
            got.backward(tt.tensor(up))
            assert_grads(ins, th_in, f"{mode} backward", rtol=rtol, atol=atol)


# ----------------------------------------------------------------- functional cases


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple = FLOATS
    rtol: float | None = None
    atol: float | None = None
    compiled: bool = True


CASES: list[Case] = []


def case(id: str, fn: Callable[..., Any], *inputs: Any, **kw: Any) -> None:
    CASES.append(Case(id, fn, tuple(inputs), **kw))


S = (3, 5)
EXTREME = V([[-100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0]])
# activations
case("relu", lambda m, F, x: F.relu(x), S)
case("sigmoid", lambda m, F, x: F.sigmoid(x), EXTREME)
case("tanh", lambda m, F, x: F.tanh(x), EXTREME)
case("leaky_relu", lambda m, F, x: F.leaky_relu(x, 0.2), S)
case("elu", lambda m, F, x: F.elu(x, alpha=0.5), S)
case("gelu", lambda m, F, x: F.gelu(x), S)
case("gelu_tanh", lambda m, F, x: F.gelu(x, approximate="tanh"), S)
case("silu", lambda m, F, x: F.silu(x), EXTREME)
case("softplus", lambda m, F, x: F.softplus(x, beta=2.0, threshold=5.0), S)
case("logsigmoid", lambda m, F, x: F.logsigmoid(x), EXTREME)
case("hardtanh", lambda m, F, x: F.hardtanh(x, -0.5, 0.5), S)
# softmax family
for _f in ("softmax", "log_softmax"):
    case(_f, lambda m, F, x, _f=_f: getattr(F, _f)(x, dim=1), S)
    case(f"{_f}_dim0", lambda m, F, x, _f=_f: getattr(F, _f)(x, 0), S)
    case(f"{_f}_neg_dim_3d", lambda m, F, x, _f=_f: getattr(F, _f)(x, -2), (2, 3, 4))
    case(f"{_f}_extreme", lambda m, F, x, _f=_f: getattr(F, _f)(x * 100, -1), EXTREME)
    case(f"{_f}_neg_inf", lambda m, F, x, _f=_f: getattr(F, _f)(x, -1),
         V([[-INF, 0.0, 1.0], [2.0, -INF, -INF]], grad=False))
    case(f"{_f}_0d", lambda m, F, x, _f=_f: getattr(F, _f)(x, 0), ())
    case(f"{_f}_empty", lambda m, F, x, _f=_f: getattr(F, _f)(x, 1), (0, 3))
    case(f"{_f}_size1", lambda m, F, x, _f=_f: getattr(F, _f)(x, 1), (4, 1))
    case(f"{_f}_dtype", lambda m, F, x, _f=_f: getattr(F, _f)(x, 1, dtype=m.float64), S,
         dtypes=("float32",))
    case(f"{_f}_implicit_dim", lambda m, F, x, _f=_f: getattr(F, _f)(x), S)
# linear
case("linear", lambda m, F, x, w, b: F.linear(x, w, b), (4, 3), (5, 3), (5,))
case("linear_nobias", lambda m, F, x, w: F.linear(x, w), (2, 4, 3), (5, 3))
case("linear_1d", lambda m, F, x, w, b: F.linear(x, w, b), (3,), (5, 3), (5,))
case("linear_empty", lambda m, F, x, w, b: F.linear(x, w, b), (0, 3), (5, 3), (5,))
# layer norm
case("layer_norm", lambda m, F, x, w, b: F.layer_norm(x, (5,), w, b), S, (5,), (5,))
case("layer_norm_plain", lambda m, F, x: F.layer_norm(x, [5]), S)
case("layer_norm_2d", lambda m, F, x, w: F.layer_norm(x, (3, 4), w, eps=1e-3), (2, 3, 4), (3, 4))
case("layer_norm_bias_only", lambda m, F, x, b: F.layer_norm(x, [4], bias=b), (2, 4), (4,))
# embedding and one_hot
EMB_IDX = V([[0, 2, 2], [4, 1, 0]], "int64")
case("embedding", lambda m, F, i, w: F.embedding(i, w), EMB_IDX, (5, 3))
case("embedding_padding", lambda m, F, i, w: F.embedding(i, w, padding_idx=2), EMB_IDX, (5, 3))
case("embedding_neg_padding", lambda m, F, i, w: F.embedding(i, w, padding_idx=-1), EMB_IDX, (5, 3))
case("embedding_int32", lambda m, F, i, w: F.embedding(i, w), V([3, 3, 3, 0], "int32"), (5, 2))
case("embedding_0d", lambda m, F, i, w: F.embedding(i, w), V(1, "int64"), (5, 2))
case("one_hot", lambda m, F, t: F.one_hot(t, 5), EMB_IDX, dtypes=FIXED)
case("one_hot_inferred", lambda m, F, t: F.one_hot(t), EMB_IDX, dtypes=FIXED,
     compiled=False)  # the class count depends on the values: eager only
# losses with class-index targets
for _red in ("mean", "sum", "none"):
    case(f"cross_entropy_{_red}", lambda m, F, x, t, _r=_red: F.cross_entropy(x, t, reduction=_r),
         (6, 4), T(6))
    case(f"cross_entropy_weight_{_red}",
         lambda m, F, x, t, w, _r=_red: F.cross_entropy(x, t, w, reduction=_r), (6, 4), T(6), W(4))
    case(f"cross_entropy_smooth_{_red}", lambda m, F, x, t, w, _r=_red: F.cross_entropy(
        x, t, w, ignore_index=1, reduction=_r, label_smoothing=0.3), (6, 4), T(6), W(4))
    case(f"cross_entropy_nd_{_red}", lambda m, F, x, t, _r=_red: F.cross_entropy(
        x, t, ignore_index=0, reduction=_r, label_smoothing=0.1), (2, 4, 3, 2), T(2, 3, 2))
    case(f"cross_entropy_probs_{_red}", lambda m, F, x, p, w, _r=_red: F.cross_entropy(
        x, p, w, reduction=_r, label_smoothing=0.2), (5, 4), U(5, 4), W(4))
    case(f"nll_loss_{_red}", lambda m, F, x, t, _r=_red: F.nll_loss(x, t, reduction=_r),
         (6, 4), T(6))
    case(f"nll_loss_weight_ignore_{_red}", lambda m, F, x, t, w, _r=_red: F.nll_loss(
        x, t, w, ignore_index=3, reduction=_r), (2, 4, 5), T(2, 5), W(4))
case("cross_entropy_unbatched", lambda m, F, x, t: F.cross_entropy(x, t), (4,), V(2, "int64"))
case("cross_entropy_probs_unbatched", lambda m, F, x, p: F.cross_entropy(x, p), (4,), U(4))
case("cross_entropy_all_ignored", lambda m, F, x, t: F.cross_entropy(x, t),
     (3, 4), V([-100, -100, -100], "int64"))
case("cross_entropy_extreme", lambda m, F, x, t: F.cross_entropy(x * 100, t), EXTREME,
     V([3], "int64"))
case("cross_entropy_empty", lambda m, F, x, t: F.cross_entropy(x, t, reduction="sum"),
     (0, 4), I((0,), "int64"))
case("nll_loss_uint8_target", lambda m, F, x, t: F.nll_loss(x, t), (3, 4), V([0, 3, 1], "uint8"))
# regression and binary losses
for _red in ("mean", "sum", "none"):
    case(f"mse_loss_{_red}", lambda m, F, x, y, _r=_red: F.mse_loss(x, y, reduction=_r), S, S)
    case(f"l1_loss_{_red}", lambda m, F, x, y, _r=_red: F.l1_loss(x, y, reduction=_r), S, S)
    case(f"bce_{_red}", lambda m, F, x, y, w, _r=_red: F.binary_cross_entropy(
        x, y, w, reduction=_r), U(*S), U(*S, grad=False), W(*S))
    case(f"bce_logits_{_red}", lambda m, F, x, y, p, _r=_red: F.binary_cross_entropy_with_logits(
        x, y, reduction=_r, pos_weight=p), S, U(*S, grad=False), W(5))
case("mse_loss_broadcast", lambda m, F, x, y: F.mse_loss(x, y), (3, 1), (3,))
case("mse_loss_promote", lambda m, F, x, y: F.mse_loss(x, y), (3,), I((3,), "float64"),
     dtypes=("float32",))
case("l1_loss_zero_diff", lambda m, F, x, y: F.l1_loss(x, y), V([1.0, 2.0]), V([1.0, 0.0]))
case("bce_edges", lambda m, F, x, y: F.binary_cross_entropy(x, y, reduction="none"),
     V([0.0, 1.0, 0.5, 0.0, 1.0]), V([1.0, 0.0, 0.3, 0.0, 1.0]))
case("bce_logits_extreme", lambda m, F, x, y, w: F.binary_cross_entropy_with_logits(x, y, w),
     EXTREME, U(1, 7, grad=False), W(1, 7))
# convolution
case("conv2d", lambda m, F, x, w, b: F.conv2d(x, w, b), (2, 3, 7, 6), (4, 3, 3, 3), (4,))
case("conv2d_stride_pad", lambda m, F, x, w: F.conv2d(x, w, stride=2, padding=1), (2, 3, 8, 7),
     (4, 3, 3, 3))
case("conv2d_dilation", lambda m, F, x, w: F.conv2d(x, w, stride=(1, 2), padding=(2, 1),
                                                    dilation=(2, 1)), (1, 2, 9, 8), (3, 2, 3, 2))
case("conv2d_groups", lambda m, F, x, w, b: F.conv2d(x, w, b, groups=2), (2, 4, 6, 6),
     (6, 2, 3, 3), (6,))
case("conv2d_depthwise", lambda m, F, x, w: F.conv2d(x, w, groups=3, padding=1), (1, 3, 5, 5),
     (3, 1, 3, 3))
case("conv2d_same", lambda m, F, x, w: F.conv2d(x, w, padding="same", dilation=2), (1, 2, 6, 5),
     (3, 2, 4, 3))
case("conv2d_valid", lambda m, F, x, w: F.conv2d(x, w, padding="valid"), (1, 2, 5, 5), (3, 2, 2, 2))
case("conv2d_1x1", lambda m, F, x, w: F.conv2d(x, w), (2, 3, 4, 4), (5, 3, 1, 1))
case("conv2d_unbatched", lambda m, F, x, w, b: F.conv2d(x, w, b, stride=2), (3, 7, 7),
     (2, 3, 3, 3), (2,))
case("conv2d_empty_batch", lambda m, F, x, w: F.conv2d(x, w), (0, 3, 5, 5), (2, 3, 3, 3))
case("conv2d_whole_image", lambda m, F, x, w: F.conv2d(x, w), (2, 3, 3, 3), (2, 3, 3, 3))
# pooling
POOL = (2, 3, 7, 6)
RELU_ZEROS = V(np.maximum(np.random.default_rng(3).standard_normal((1, 2, 6, 6)), 0))
case("max_pool2d", lambda m, F, x: F.max_pool2d(x, 2), POOL)
case("max_pool2d_stride_pad", lambda m, F, x: F.max_pool2d(x, 3, stride=2, padding=1), POOL)
case("max_pool2d_dilation", lambda m, F, x: F.max_pool2d(x, (2, 3), (1, 2), 1, dilation=2), POOL)
case("max_pool2d_ceil", lambda m, F, x: F.max_pool2d(x, 2, ceil_mode=True), POOL)
case("max_pool2d_ceil_pad", lambda m, F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 1, 6, 6))
case("max_pool2d_ties", lambda m, F, x: F.max_pool2d(x, 3, 1), RELU_ZEROS)  # gradient: first max
case("max_pool2d_unbatched", lambda m, F, x: F.max_pool2d(x, 2), (3, 4, 4))
case("max_pool2d_inf", lambda m, F, x: F.max_pool2d(x, 2),
     V([[[[-INF, -INF], [-INF, 1.0]]]], grad=False))
case("max_pool2d_indices", lambda m, F, x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[1],
     POOL)
case("max_pool2d_indices_values", lambda m, F, x: F.max_pool2d(x, 2, return_indices=True)[0], POOL)
case("max_pool2d_int", lambda m, F, x: F.max_pool2d(x, 2, padding=1), I(POOL, "int64", -9, 9),
     dtypes=FIXED)
case("avg_pool2d", lambda m, F, x: F.avg_pool2d(x, 2), POOL)
case("avg_pool2d_stride_pad", lambda m, F, x: F.avg_pool2d(x, 3, 2, 1), POOL)
case("avg_pool2d_exclude_pad", lambda m, F, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
     POOL)
case("avg_pool2d_ceil", lambda m, F, x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True), POOL)
case("avg_pool2d_ceil_exclude", lambda m, F, x: F.avg_pool2d(
    x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 6))
case("avg_pool2d_divisor", lambda m, F, x: F.avg_pool2d(x, 2, divisor_override=3), POOL)
case("avg_pool2d_unbatched", lambda m, F, x: F.avg_pool2d(x, (2, 3), (1, 2)), (3, 5, 5))
case("avg_pool2d_int", lambda m, F, x: F.avg_pool2d(x, 2), I(POOL, "int64", -9, 9), dtypes=FIXED)
# a small network end to end
case("cnn", lambda m, F, x, w1, w2, t: F.cross_entropy(F.linear(F.relu(F.max_pool2d(F.conv2d(
    x, w1, padding=1), 2)).flatten(1), w2), t), (4, 2, 6, 6), (3, 2, 3, 3), (5, 27), T(4, high=5))

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), "duplicate case ids"


@pytest.mark.parametrize("c, dtype", [pytest.param(c, d, id=f"{c.id}-{d}" if d else c.id)
                                      for c in CASES for d in c.dtypes])
def test_functional(c: Case, dtype: str | None) -> None:
    check(c.fn, c.inputs, dtype, c.rtol, c.atol, c.compiled)


def test_conv2d_second_order_against_finite_differences() -> None:
    """conv2d's VJP is made of differentiable ops: tt.grad nests through it."""
    rng = np.random.default_rng(0)
    x = tt.tensor(rng.standard_normal((1, 2, 5, 5)))
    w = tt.tensor(rng.standard_normal((2, 2, 3, 3)))

    def energy(w: Any) -> Any:  # a scalar whose gradient depends on w non-linearly
        g = tt.grad(lambda w: (F.conv2d(x, w, stride=2, padding=1) ** 2).sum())(w)
        return (g * g).sum()

    grad = tt.grad(energy)(w).numpy()
    h, numeric = 1e-6, np.zeros(w.shape)
    for i in range(w.numel()):
        e = np.zeros(w.numel())
        e[i] = h
        plus = energy(w + tt.tensor(e.reshape(w.shape))).item()
        minus = energy(w - tt.tensor(e.reshape(w.shape))).item()
        numeric.reshape(-1)[i] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_max_pool2d_second_order() -> None:
    x = tt.tensor(np.random.default_rng(0).standard_normal((1, 1, 4, 4)))
    g2 = tt.grad(lambda x: (tt.grad(lambda x: (F.max_pool2d(x, 2) ** 3).sum())(x)).sum())(x)
    xt = torch.tensor(x.numpy(), requires_grad=True)
    (g,) = torch.autograd.grad((TF.max_pool2d(xt, 2) ** 3).sum(), xt, create_graph=True)
    np.testing.assert_allclose(g2.numpy(), torch.autograd.grad(g.sum(), xt)[0].numpy(), rtol=1e-10)


def test_softmax_implicit_dim_warns() -> None:
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(tt.ones(2, 3))


def test_mse_loss_broadcast_warns() -> None:
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(tt.ones(3, 1), tt.ones(3))


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorCase:
    id: str
    fn: Callable[..., Any]
    inputs: tuple
    exc: type
    messages: tuple


ERRORS = [
    ErrorCase("conv2d_2d_input", lambda m, F, x, w: F.conv2d(x, w), ((2, 3), (4, 3, 3, 3)),
              RuntimeError, ("Expected 3D (unbatched) or 4D (batched) input to conv2d",)),
    ErrorCase("conv2d_channels", lambda m, F, x, w: F.conv2d(x, w), ((2, 5, 8, 8), (4, 3, 3, 3)),
              RuntimeError, ("expected input[2, 5, 8, 8] to have 3 channels, but got 5 channels",)),
    ErrorCase("conv2d_kernel_too_big", lambda m, F, x, w: F.conv2d(x, w),
              ((2, 3, 2, 2), (4, 3, 3, 3)), RuntimeError, ("Kernel size can't be greater",)),
    ErrorCase("conv2d_groups", lambda m, F, x, w: F.conv2d(x, w, groups=2),
              ((2, 4, 8, 8), (3, 2, 3, 3)), RuntimeError,
              ("expected weight to be divisible by 2 at dimension 0",)),
    ErrorCase("conv2d_dtype", lambda m, F, x, w: F.conv2d(x.double(), w),
              ((2, 3, 8, 8), (4, 3, 3, 3)), RuntimeError, ("expected scalar type Double but found Float",)),
    ErrorCase("conv2d_bias_shape", lambda m, F, x, w, b: F.conv2d(x, w, b),
              ((2, 3, 8, 8), (4, 3, 3, 3), (5,)), RuntimeError, ("expected bias to be 1-dimensional with 4 elements",)),
    ErrorCase("conv2d_same_strided", lambda m, F, x, w: F.conv2d(x, w, stride=2, padding="same"),
              ((1, 3, 8, 8), (4, 3, 3, 3)), RuntimeError, ("padding='same' is not supported for strided",)),
    ErrorCase("conv2d_bad_padding", lambda m, F, x, w: F.conv2d(x, w, padding="foo"),
              ((1, 3, 8, 8), (4, 3, 3, 3)), RuntimeError, ("Invalid padding string: 'foo'",)),
    ErrorCase("conv2d_negative_padding", lambda m, F, x, w: F.conv2d(x, w, padding=-1),
              ((1, 3, 8, 8), (4, 3, 3, 3)), RuntimeError, ("negative padding is not supported",)),
    ErrorCase("conv2d_zero_stride", lambda m, F, x, w: F.conv2d(x, w, stride=0),
              ((1, 3, 8, 8), (4, 3, 3, 3)), RuntimeError, ("non-positive stride is not supported",)),
    ErrorCase("max_pool2d_big_pad", lambda m, F, x: F.max_pool2d(x, 3, padding=2), ((1, 3, 8, 8),),
              RuntimeError, ("pad should be at most half of effective kernel size",)),
    ErrorCase("max_pool2d_too_small", lambda m, F, x: F.max_pool2d(x, 2), ((1, 3, 1, 1),),
              RuntimeError, ("Output size is too small",)),
    ErrorCase("max_pool2d_2d", lambda m, F, x: F.max_pool2d(x, 2), ((3, 8),),
              RuntimeError, ("non-empty 3D or 4D (batch mode) tensor expected for input",)),
    ErrorCase("max_pool2d_zero_stride", lambda m, F, x: F.max_pool2d(x, 2, 0), ((1, 3, 4, 4),),
              RuntimeError, ("stride should not be zero",)),
    ErrorCase("avg_pool2d_big_pad", lambda m, F, x: F.avg_pool2d(x, 3, padding=2), ((1, 3, 8, 8),),
              RuntimeError, ("pad should be at most half",)),
    ErrorCase("nll_batch", lambda m, F, x, t: F.nll_loss(x, t), ((3, 4), T(2)), ValueError,
              ("Expected input batch_size (3) to match target batch_size (2).",)),
    ErrorCase("nll_target_out_of_bounds", lambda m, F, x: F.nll_loss(x, m.tensor([0, 1, 4])),
              ((3, 4),), IndexError, ("Target 4 is out of bounds.",)),
    ErrorCase("nll_target_negative", lambda m, F, x: F.nll_loss(x, m.tensor([0, -1, 2])),
              ((3, 4),), IndexError, ("Target -1 is out of bounds.",)),
    ErrorCase("nll_target_int32", lambda m, F, x, t: F.nll_loss(x, t.int()), ((3, 4), T(3)),
              RuntimeError, ("expected target dtype to be Long or Byte, but got Int",)),
    ErrorCase("nll_0d", lambda m, F, x, t: F.nll_loss(x, t), ((), V(1, "int64")), ValueError,
              ("Expected 1 or more dimensions (got 0)",)),
    ErrorCase("nll_nd_target_shape", lambda m, F, x, t: F.nll_loss(x, t), ((3, 4, 5), T(3, 6)),
              RuntimeError, ("Expected target size [3, 5], got [3, 6]",)),
    ErrorCase("nll_weight_size", lambda m, F, x, t, w: F.nll_loss(x, t, w), ((3, 4), T(3), (3,)),
              RuntimeError, ("weight tensor should be defined either for all 4 classes",)),
    ErrorCase("cross_entropy_reduction", lambda m, F, x, t: F.cross_entropy(x, t, reduction="foo"),
              ((3, 4), T(3)), ValueError, ("foo is not a valid value for reduction",)),
    ErrorCase("cross_entropy_smoothing", lambda m, F, x, t: F.cross_entropy(x, t, label_smoothing=1.5),
              ((3, 4), T(3)), RuntimeError, ("label_smoothing must be between 0.0 and 1.0. Got: 1.5",)),
    ErrorCase("cross_entropy_multi_target", lambda m, F, x, y: F.cross_entropy(x, y),
              ((3, 4), (3, 5)), RuntimeError, ("0D or 1D target tensor expected, multi-target not supported",)),
    ErrorCase("cross_entropy_int_probs", lambda m, F, x, y: F.cross_entropy(x, y.long()),
              ((3, 4), (3, 4)), RuntimeError, ("Expected floating point type for target with class probabilities, got Long",)),
    ErrorCase("mse_loss_mismatch", lambda m, F, x, y: F.mse_loss(x, y), ((3, 2), (3,)), RuntimeError,
              ("The size of tensor a (2) must match the size of tensor b (3)",)),
    ErrorCase("bce_shape", lambda m, F, x, y: F.binary_cross_entropy(x, y), (U(3, 1), U(3)),
              ValueError, ("that is different to the input size", "Please ensure they have the same size.")),
    ErrorCase("bce_range", lambda m, F, x, y: F.binary_cross_entropy(x * 3, y), (U(3), U(3)),
              RuntimeError, ("all elements of input should be between 0 and 1",)),
    ErrorCase("bce_logits_shape", lambda m, F, x, y: F.binary_cross_entropy_with_logits(x, y),
              ((3, 1), (3,)), ValueError, ("must be the same as input size",)),
    ErrorCase("dropout_p", lambda m, F, x: F.dropout(x, 1.5), ((3,),), ValueError,
              ("dropout probability has to be between 0 and 1, but got 1.5",)),
    ErrorCase("layer_norm_shape", lambda m, F, x: F.layer_norm(x, (4,)), ((2, 3),), RuntimeError,
              ("Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]",)),
    ErrorCase("layer_norm_int_shape", lambda m, F, x: F.layer_norm(x, 3), ((2, 3),), TypeError,
              ("must be tuple of ints, not int",)),
    ErrorCase("layer_norm_weight", lambda m, F, x, w: F.layer_norm(x, (3,), w), ((2, 3), (4,)),
              RuntimeError, ("Expected weight to be of same shape as normalized_shape",)),
    ErrorCase("embedding_out_of_range", lambda m, F, w: F.embedding(m.tensor([5]), w), ((3, 2),),
              IndexError, ("index out of range in self",)),
    ErrorCase("embedding_float_indices", lambda m, F, w: F.embedding(m.tensor([1.0]), w), ((3, 2),),
              RuntimeError, ("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int",)),
    ErrorCase("embedding_1d_weight", lambda m, F, w: F.embedding(m.tensor([1]), w), ((3,),),
              RuntimeError, ("'weight' must be 2-D",)),
    ErrorCase("one_hot_negative", lambda m, F: F.one_hot(m.tensor([-1]), 3), (), RuntimeError,
              ("Class values must be non-negative.",)),
    ErrorCase("one_hot_too_big", lambda m, F: F.one_hot(m.tensor([3]), 3), (), RuntimeError,
              ("Class values must be smaller than num_classes.",)),
    ErrorCase("linear_mismatch", lambda m, F, x, w: F.linear(x, w), ((2, 3), (5, 4)), RuntimeError,
              ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",)),
    ErrorCase("softmax_int", lambda m, F: F.softmax(m.tensor([1, 2]), 0), (), NotImplementedError,
              ("not implemented for 'Long'",)),
]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("e", [pytest.param(e, id=e.id) for e in ERRORS])
def test_error(e: ErrorCase, mode: str) -> None:
    arrays = make_arrays(e.inputs, "float32")
    grads_off = [I(s.spec if isinstance(s, I) else s, s.dtype if isinstance(s, I) else None,
                   grad=False) for s in e.inputs]
    with pytest.raises(Exception) as th_err:
        e.fn(torch, TF, *to_lib(arrays, grads_off, torch))
    assert isinstance(th_err.value, e.exc), f"torch raised {type(th_err.value).__name__}: {th_err.value}"
    for msg in e.messages:
        assert msg in str(th_err.value), f"torch's message lacks {msg!r}: {th_err.value}"
    xs = to_lib(arrays, grads_off, tt)
    data_dependent = e.id in ("nll_target_out_of_bounds", "nll_target_negative", "bce_range",
                              "embedding_out_of_range", "one_hot_negative", "one_hot_too_big")
    if mode == "compiled" and data_dependent:
        pytest.skip("value checks run eagerly only (traced values are symbolic)")
    call = (lambda: e.fn(tt, F, *xs)) if mode == "eager" else (
        lambda: tt.compile(lambda *a: e.fn(tt, F, *a))(*xs))
    with pytest.raises(e.exc) as tt_err:
        call()
    for msg in e.messages:
        assert msg in str(tt_err.value), f"message lacks {msg!r}: {tt_err.value}"


# ----------------------------------------------------------------- modules against torch.nn


def copy_weights(ours: Any, theirs: Any) -> None:
    """torch's parameters and buffers into ours, through load_state_dict."""
    state = {k: tt.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert repr(result) == "<All keys matched successfully>"


@dataclass(frozen=True)
class ModuleCase:
    id: str
    make: Callable[[Any], Any]  # lib -> module
    inputs: tuple
    compiled: bool = True


MODULES = [
    ModuleCase("Linear", lambda m: m.nn.Linear(4, 3), ((5, 4),)),
    ModuleCase("Linear_nobias_3d", lambda m: m.nn.Linear(4, 3, bias=False), ((2, 5, 4),)),
    ModuleCase("Conv2d", lambda m: m.nn.Conv2d(3, 4, 3, stride=2, padding=1), ((2, 3, 8, 8),)),
    ModuleCase("Conv2d_groups", lambda m: m.nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2,
                                                      bias=False), ((2, 4, 9, 9),)),
    ModuleCase("Conv2d_same", lambda m: m.nn.Conv2d(3, 2, 4, padding="same"), ((1, 3, 5, 5),)),
    ModuleCase("Embedding", lambda m: m.nn.Embedding(10, 4, padding_idx=0),
               (I((3, 5), "int64", 0, 10),)),
    ModuleCase("LayerNorm", lambda m: m.nn.LayerNorm(4), ((3, 4),)),
    ModuleCase("LayerNorm_2d_nobias", lambda m: m.nn.LayerNorm((3, 4), bias=False), ((2, 3, 4),)),
    ModuleCase("LayerNorm_no_affine", lambda m: m.nn.LayerNorm([4], eps=1e-3,
                                                               elementwise_affine=False), ((3, 4),)),
    ModuleCase("Dropout_eval", lambda m: m.nn.Dropout(0.3).eval(), ((3, 4),)),
    ModuleCase("Sequential", lambda m: m.nn.Sequential(m.nn.Linear(4, 8), m.nn.ReLU(),
                                                       m.nn.Linear(8, 2), m.nn.Softmax(dim=1)),
               ((5, 4),)),
    ModuleCase("ReLU", lambda m: m.nn.ReLU(), ((3, 4),)),
    ModuleCase("GELU", lambda m: m.nn.GELU(), ((3, 4),)),
    ModuleCase("GELU_tanh", lambda m: m.nn.GELU(approximate="tanh"), ((3, 4),)),
    ModuleCase("Tanh", lambda m: m.nn.Tanh(), ((3, 4),)),
    ModuleCase("Sigmoid", lambda m: m.nn.Sigmoid(), ((3, 4),)),
    ModuleCase("Softmax", lambda m: m.nn.Softmax(dim=-1), ((3, 4),)),
    ModuleCase("LogSoftmax", lambda m: m.nn.LogSoftmax(dim=0), ((3, 4),)),
    ModuleCase("Flatten", lambda m: m.nn.Flatten(), ((2, 3, 4),)),
    ModuleCase("Flatten_range", lambda m: m.nn.Flatten(0, 1), ((2, 3, 4),)),
    ModuleCase("Identity", lambda m: m.nn.Identity(), ((3, 4),)),
    ModuleCase("LeakyReLU", lambda m: m.nn.LeakyReLU(0.2), ((3, 4),)),
    ModuleCase("SiLU", lambda m: m.nn.SiLU(), ((3, 4),)),
    ModuleCase("ELU", lambda m: m.nn.ELU(alpha=0.5), ((3, 4),)),
    ModuleCase("Softplus", lambda m: m.nn.Softplus(beta=2.0), ((3, 4),)),
    ModuleCase("MaxPool2d", lambda m: m.nn.MaxPool2d(2), ((2, 3, 6, 6),)),
    ModuleCase("MaxPool2d_pad", lambda m: m.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
               ((2, 3, 6, 6),)),
    ModuleCase("AvgPool2d", lambda m: m.nn.AvgPool2d(2), ((2, 3, 6, 6),)),
    ModuleCase("AvgPool2d_pad", lambda m: m.nn.AvgPool2d(3, 1, 1, count_include_pad=False),
               ((2, 3, 5, 5),)),
    ModuleCase("CrossEntropyLoss", lambda m: m.nn.CrossEntropyLoss(), ((6, 4), T(6))),
    ModuleCase("CrossEntropyLoss_options", lambda m: m.nn.CrossEntropyLoss(
        weight=m.tensor([1.0, 2.0, 0.5, 1.0]), ignore_index=2, label_smoothing=0.1,
        reduction="sum"), ((6, 4), T(6))),
    ModuleCase("NLLLoss", lambda m: m.nn.NLLLoss(reduction="none"), ((6, 4), T(6))),
    ModuleCase("MSELoss", lambda m: m.nn.MSELoss(), ((3, 4), (3, 4))),
    ModuleCase("L1Loss", lambda m: m.nn.L1Loss(reduction="sum"), ((3, 4), (3, 4))),
    ModuleCase("BCELoss", lambda m: m.nn.BCELoss(), (U(3, 4), U(3, 4, grad=False))),
    ModuleCase("BCEWithLogitsLoss", lambda m: m.nn.BCEWithLogitsLoss(
        pos_weight=m.tensor([1.0, 2.0, 0.5, 3.0])), ((3, 4), U(3, 4, grad=False))),
]


def _params(mod: Any) -> list[tuple[str, tuple[int, ...], str]]:
    return [(n, tuple(p.shape), name_of(p)) for n, p in mod.named_parameters()]


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in MODULES])
def test_module(c: ModuleCase) -> None:
    torch.manual_seed(0)
    theirs, ours = c.make(torch), c.make(tt)
    assert repr(ours) == repr(theirs)
    assert _params(ours) == _params(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights(ours, theirs)
    arrays = make_arrays(c.inputs, "float32")
    th_in = to_lib(arrays, c.inputs, torch)
    want = theirs(*th_in)
    up = upstream(want.shape, name_of(want))
    if want.requires_grad:
        (want * torch.tensor(up)).sum().backward()
    runs = [("eager", ours)] + ([("compiled", tt.compile(lambda *xs: ours(*xs)))] if c.compiled else [])
    for mode, run in runs:
        ours.zero_grad()
        ins = to_lib(arrays, c.inputs, tt)
        got = run(*ins)
        assert_same(got, want, f"{mode} forward")
        if want.requires_grad:
            got.backward(tt.tensor(up))
            assert_grads(ins, th_in, f"{mode} input gradients")
            for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
                assert_same(p.grad, q.grad, f"{mode} gradient of {name}")


# ----------------------------------------------------------------- Module API


class Net(tt.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = tt.nn.Linear(3, 4)
        self.blocks = tt.nn.ModuleList([tt.nn.Linear(4, 4) for _ in range(2)])
        self.head = tt.nn.Sequential(tt.nn.ReLU(), tt.nn.Linear(4, 2))
        self.register_buffer("scale", tt.ones(2))
        self.register_buffer("cache", tt.zeros(1), persistent=False)

    def forward(self, x: Any) -> Any:
        x = self.fc1(x)
        for block in self.blocks:
            x = tt.tanh(block(x))
        return self.head(x) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(2)])
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2))
        self.register_buffer("scale", torch.ones(2))
        self.register_buffer("cache", torch.zeros(1), persistent=False)

    def forward(self, x: Any) -> Any:
        x = self.fc1(x)
        for block in self.blocks:
            x = torch.tanh(block(x))
        return self.head(x) * self.scale


def test_module_tree_matches_torch() -> None:
    ours, theirs = Net(), TorchNet()
    assert repr(ours).replace("Net", "TorchNet", 1) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.modules()][1:] == [type(m).__name__ for m in theirs.modules()][1:]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # no "cache": not persistent
    assert len(list(ours.parameters())) == 8 and len(list(ours.children())) == 3
    copy_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    assert_same(ours(tt.tensor(x)), theirs(torch.tensor(x)), "forward")


def test_shared_module_counted_once() -> None:
    for lib in (tt, torch):
        shared = lib.nn.Linear(2, 2)
        seq = lib.nn.Sequential(shared, shared)
        assert len(list(seq.parameters())) == 2
        assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
        assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_parameter() -> None:
    p = tt.nn.Parameter(tt.ones(2))
    assert isinstance(p, tt.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2)))
    assert not tt.nn.Parameter(tt.ones(2), requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        tt.nn.Parameter(tt.ones(2, dtype=tt.int64))
    t = tt.zeros(3)
    q = tt.nn.Parameter(t)
    with tt.no_grad():
        q.add_(1)
    assert t.tolist() == [1.0, 1.0, 1.0]  # shares memory, as torch's does


def test_state_dict_round_trip_and_errors() -> None:
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = tt.randn(4, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert all(not t.requires_grad for t in sd.values())
    # state_dict tensors share memory with the parameters, as in torch
    with tt.no_grad():
        a.fc1.bias.add_(1)
    np.testing.assert_array_equal(sd["fc1.bias"].numpy(), a.fc1.bias.detach().numpy())

    ours, theirs = Net(), TorchNet()
    bad_ours = dict(ours.state_dict())
    bad_theirs = dict(theirs.state_dict())
    for d, lib in ((bad_ours, tt), (bad_theirs, torch)):
        del d["fc1.weight"], d["head.1.bias"]
        d["extra"] = lib.zeros(1)
        d["blocks.0.bias"] = lib.zeros(5)
    with pytest.raises(RuntimeError) as want:
        theirs.load_state_dict(bad_theirs)
    with pytest.raises(RuntimeError) as got:
        ours.load_state_dict(bad_ours)
    assert str(got.value).replace("torchtrek.Size", "torch.Size").replace("Net", "TorchNet", 1) == str(want.value)
    del bad_ours["blocks.0.bias"], bad_theirs["blocks.0.bias"]
    result, expected = ours.load_state_dict(bad_ours, strict=False), theirs.load_state_dict(bad_theirs, strict=False)
    assert result.missing_keys == expected.missing_keys
    assert result.unexpected_keys == expected.unexpected_keys


def test_train_eval_zero_grad_and_to() -> None:
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(tt.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    weight = net.fc1.weight
    assert net.to(tt.float64) is net and net.fc1.weight is weight
    assert {p.dtype for p in net.parameters()} == {tt.float64} and net.scale.dtype is tt.float64
    assert net(tt.randn(2, 3, dtype=tt.float64)).dtype is tt.float64
    net.float()
    assert {p.dtype for p in net.parameters()} == {tt.float32}


def test_attribute_rules() -> None:
    net = Net()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    with pytest.raises(TypeError, match="cannot assign 'torchtrek.FloatTensor' as parameter 'fc1'|child module"):
        net.fc1 = tt.ones(2)
    with pytest.raises(TypeError, match="as parameter 'weight'"):
        net.fc1.weight = tt.ones(2)
    with pytest.raises(KeyError, match="attribute 'fc1' already exists"):
        net.register_buffer("fc1", tt.ones(1))
    net.fc1.bias = None  # allowed, as in torch
    assert "fc1.bias" not in net.state_dict()
    del net.head
    assert "head.1.weight" not in net.state_dict()
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        tt.nn.Module()(1)


def test_containers() -> None:
    seq = tt.nn.Sequential(tt.nn.Linear(2, 3), tt.nn.ReLU(), tt.nn.Linear(3, 1))
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], tt.nn.Linear)
    assert repr(seq[1:]) == repr(tseq[1:])
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    seq.append(tt.nn.Tanh())
    assert repr(seq) == repr(tseq.append(torch.nn.Tanh()))
    from collections import OrderedDict

    named = tt.nn.Sequential(OrderedDict([("inp", tt.nn.Linear(2, 2)), ("act", tt.nn.GELU())]))
    assert [n for n, _ in named.named_children()] == ["inp", "act"]
    ours = tt.nn.ModuleList([tt.nn.Linear(2, 2) for _ in range(3)] + [tt.nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)  # "(0-2): 3 x Linear(...)"
    ours.insert(1, tt.nn.Tanh())
    theirs.insert(1, torch.nn.Tanh())
    assert repr(ours) == repr(theirs) and len(ours) == 5
    assert repr(tt.nn.ModuleList()) == repr(torch.nn.ModuleList())
    for make in (lambda m: m.nn.ReLU(inplace=True), lambda m: m.nn.LeakyReLU(0.1, inplace=True),
                 lambda m: m.nn.Conv2d(2, 4, (1, 3), bias=False, padding=(0, 1), dilation=2,
                                       groups=2), lambda m: m.nn.Embedding(5, 2, padding_idx=-1)):
        assert repr(make(tt)) == repr(make(torch))


def test_deepcopy() -> None:
    net = Net()
    twin = copy.deepcopy(net)
    with tt.no_grad():
        twin.fc1.weight.add_(1)
    assert not np.array_equal(twin.fc1.weight.detach().numpy(), net.fc1.weight.detach().numpy())
    assert isinstance(twin.fc1.weight, tt.nn.Parameter)


# ----------------------------------------------------------------- compiled models


class MLP(tt.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = tt.nn.Linear(3, 8)
        self.drop = tt.nn.Dropout(0.0)
        self.fc2 = tt.nn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        return self.fc2(F.relu(self.drop(self.fc1(x))))


def test_compiled_ir_names_parameters_by_path() -> None:
    model = MLP()
    x = tt.randn(4, 3)
    ir = tt.compile(lambda x: model(x)).ir(x)
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert f"%{name}:" in ir
    # a module called as the outermost one names parameters relative to itself
    other = MLP()
    assert "%weight:" in tt.compile(lambda x: other.fc1(x)).ir(x)
    # compiling the module itself: the input is named after forward's parameter
    assert "%x: f32[4,3]" in tt.compile(model).ir(x)


def test_compiled_model_sees_optimizer_updates_without_retrace() -> None:
    model = MLP()
    opt = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tt.randn(16, 3), tt.randint(0, 2, (16,)) if hasattr(tt, "randint") else tt.tensor(
        np.random.default_rng(0).integers(0, 2, 16))
    step = tt.compile(lambda x, y: F.cross_entropy(model(x), y))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = step(x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        eager = F.cross_entropy(model(x), y).item()
    assert step.trace_count == 1
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(step(x, y).item(), eager, rtol=1e-6)
    # load_state_dict copies in place: the compiled function sees the new values too
    fresh = MLP()
    model.load_state_dict(fresh.state_dict())
    np.testing.assert_allclose(step(x, y).item(), F.cross_entropy(fresh(x), y).item(), rtol=1e-6)
    assert step.trace_count == 1


# ----------------------------------------------------------------- dropout


def test_dropout_statistics_and_scale() -> None:
    tt.manual_seed(0)
    x = tt.ones(200_000)
    y = F.dropout(x, 0.3).numpy()
    kept = y[y != 0]
    assert abs(1 - kept.size / y.size - 0.3) < 0.005
    want_scale = TF.dropout(torch.ones(1000), 0.3)
    assert set(kept.tolist()) == {want_scale[want_scale != 0][0].item()}  # 1/(1-p) in float32
    assert abs(y.mean() - 1) < 0.01


def test_dropout_reproducible_and_fresh() -> None:
    x = tt.ones(1000)
    tt.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    tt.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(a, b)
    two = tt.compile(lambda x: (F.dropout(x, 0.5), F.dropout(x, 0.5)))
    tt.manual_seed(7)
    c1, c2 = (t.numpy() for t in two(x))
    assert not np.array_equal(c1, c2)  # two draws in one graph stay distinct
    d1, _ = (t.numpy() for t in two(x))
    assert not np.array_equal(c1, d1)  # fresh on every call of the compiled function
    tt.manual_seed(7)
    np.testing.assert_array_equal(two(x)[0].numpy(), c1)
    assert two.trace_count == 1


def test_dropout_gradient_and_modes() -> None:
    x = tt.randn(50, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    mask = (y.detach().numpy() != 0)
    np.testing.assert_array_equal(x.grad.numpy(), np.where(mask, np.float32(1 / 0.6), 0))
    assert F.dropout(x, 0.4, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).detach().numpy().any()
    drop = tt.nn.Dropout(0.5)
    z = tt.ones(100)
    assert (drop(z).numpy() == 0).any()
    drop.eval()
    np.testing.assert_array_equal(drop(z).numpy(), z.numpy())
    assert repr(drop) == repr(torch.nn.Dropout(0.5))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        tt.nn.Dropout(-0.1)


# ----------------------------------------------------------------- init


def test_calculate_gain_matches_torch() -> None:
    for args in [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("selu",)]:
        assert tt.nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)
    for args, exc in [(("foo",), ValueError), (("leaky_relu", "x"), ValueError)]:
        with pytest.raises(exc) as want:
            torch.nn.init.calculate_gain(*args)
        with pytest.raises(exc, match=str(want.value)):
            tt.nn.init.calculate_gain(*args)


INITS = [
    ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("uniform_", {"a": -0.5, "b": 2.0}), ("normal_", {"mean": 1.0, "std": 0.5}),
    ("trunc_normal_", {"std": 2.0}),
]


@pytest.mark.parametrize("name, kw", INITS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(INITS)])
def test_init_distribution(name: str, kw: dict[str, Any]) -> None:
    ours, theirs = tt.empty(256, 64, 3), torch.empty(256, 64, 3)
    tt.manual_seed(0)
    torch.manual_seed(0)
    assert getattr(tt.nn.init, name)(ours, **kw) is ours
    getattr(torch.nn.init, name)(theirs, **kw)
    a, b = ours.numpy(), theirs.numpy()
    assert a.dtype == b.dtype
    bounded = "uniform" in name or "trunc" in name
    for stat in (np.mean, np.std) + ((np.min, np.max) if bounded else ()):
        assert abs(stat(a) - stat(b)) < 0.03 * max(1.0, abs(stat(b))), stat.__name__


def test_init_small_cases() -> None:
    t = tt.empty(2, 3)
    np.testing.assert_array_equal(tt.nn.init.constant_(t, 0.5).numpy(), np.full((2, 3), 0.5, np.float32))
    assert not tt.nn.init.zeros_(t).numpy().any() and tt.nn.init.ones_(t).numpy().all()
    np.testing.assert_array_equal(tt.nn.init.eye_(t).numpy(), np.eye(2, 3))
    tt.manual_seed(3)
    a = tt.nn.init.normal_(tt.empty(5)).numpy()
    tt.manual_seed(3)
    np.testing.assert_array_equal(tt.nn.init.normal_(tt.empty(5)).numpy(), a)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        tt.nn.init.xavier_uniform_(tt.empty(3))
    with pytest.raises(ValueError, match="Mode fan_up not supported"):
        tt.nn.init.kaiming_uniform_(tt.empty(3, 3), mode="fan_up")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        tt.nn.init.kaiming_uniform_(tt.empty(0, 3))
    p = tt.nn.Parameter(tt.empty(3, 3))
    tt.nn.init.uniform_(p)  # in place on a leaf that requires grad, as under no_grad
    assert p.requires_grad and p.grad_fn is None


def test_default_initializations() -> None:
    tt.manual_seed(0)
    lin = tt.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    conv = tt.nn.Conv2d(8, 16, 3, groups=2)
    assert tuple(conv.weight.shape) == (16, 4, 3, 3)
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / math.sqrt(36)
    emb = tt.nn.Embedding(1000, 50, padding_idx=3).weight.detach().numpy()
    assert not emb[3].any() and abs(emb.std() - 1) < 0.02
    norm = tt.nn.LayerNorm(5)
    assert norm.weight.detach().numpy().tolist() == [1.0] * 5 and not norm.bias.detach().numpy().any()
    assert tt.nn.Linear(2, 2, dtype=tt.float64).weight.dtype is tt.float64


def test_parameter_prints_like_torch() -> None:
    import torch

    p, q = tt.nn.Parameter(tt.ones(2)), torch.nn.Parameter(torch.ones(2))
    for show in (str, repr, "{}".format):
        assert show(p) == show(q)
