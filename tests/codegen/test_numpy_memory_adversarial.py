"""Adversarial tests of the NumPy backend's memory plan (codegen/numpy/inplace.py,
memory.py, generator.py): big pointwise values (>= 64 KiB) are in-place ufunc chains into
scratch buffers that persist across calls. Nothing a caller keeps (results, views of them,
residuals saved for backward) may live in a scratch buffer, and the lowered chains must
compute the formulas torch computes.

All tensors have >= 16384 float32 elements so the plan engages; backend="numpy"."""

import random

import numpy as np
import pytest
import sympy
import torch

import torchtrek as tt
from torchtrek.codegen.numpy.printer import print_expr
from test_numpy_memory import run_in_threads, run_lowered  # (shared helpers)

N = 1 << 15  # 128 KiB of float32
R, C = 128, 256  # N as a matrix


def _np(fn):
    return tt.compile(fn, backend="numpy")


def _T(m, a):
    return m.tensor(a) if m is tt else torch.tensor(a)


def _h(m, x, y):
    """A chain with intermediates in scratch buffers."""
    return (x * 2).exp() - y


# ---------------------------------------------------------------- escaping values and views
TAILS = {
    "reshape": lambda m, x, y: _h(m, x, y).reshape(64, -1),
    "permute": lambda m, x, y: _h(m, x, y).reshape(64, 8, -1).permute(2, 0, 1),
    "slice": lambda m, x, y: _h(m, x, y)[5:-3],
    "step_slice": lambda m, x, y: _h(m, x, y)[::3],
    "expand": lambda m, x, y: _h(m, x, y).reshape(1, -1).expand(2, -1),
    "select": lambda m, x, y: _h(m, x, y).reshape(2, -1)[1],
    "index": lambda m, x, y: _h(m, x, y).reshape(4, -1)[_T(m, np.array([3, 1]))],
    "where": lambda m, x, y: m.where(x > 0, _h(m, x, y), y.tanh() + 1),
    "where_scalar": lambda m, x, y: m.where(x > 0, _h(m, x, y), 0.0),
    "cat": lambda m, x, y: m.cat([_h(m, x, y), (y + 1).tanh() * 3]),
    "stack": lambda m, x, y: m.stack([_h(m, x, y), (y + 1).tanh() * 3]),
    "two_outputs": lambda m, x, y: (_h(m, x, y), _h(m, x, y).tanh()),
    "value_and_views": lambda m, x, y: (lambda h: (h, h.reshape(2, -1), h[1:]))(_h(m, x, y) * 1.5),
    "returns_inputs": lambda m, x, y: (x, _h(m, x, y), y),
    "input_view": lambda m, x, y: (x.reshape(2, -1), _h(m, x, y)),
    "clamp": lambda m, x, y: _h(m, x, y).clamp(-1, 2),
    "flip": lambda m, x, y: _h(m, x, y).flip(0),
    "transpose": lambda m, x, y: _h(m, x, y).reshape(128, -1).t(),
    "transpose_slice_op": lambda m, x, y: _h(m, x, y).reshape(128, -1).t()[3:] * 2,
    "unsqueeze": lambda m, x, y: _h(m, x, y).unsqueeze(0),
    "squeeze": lambda m, x, y: _h(m, x, y).reshape(1, -1).squeeze(0),
    "sum_keepdim": lambda m, x, y: _h(m, x, y).reshape(128, -1).sum(1, keepdim=True),
    "sum_over_size_one": lambda m, x, y: _h(m, x, y).reshape(1, -1).sum(0),
    "amax_over_size_one": lambda m, x, y: _h(m, x, y).reshape(1, -1).amax(0),
    "mean_over_size_one": lambda m, x, y: _h(m, x, y).reshape(-1, 1).mean(1),
    "max_over_size_one": lambda m, x, y: _h(m, x, y).reshape(-1, 1).max(1).values,
    "matmul_1x1": lambda m, x, y: _h(m, x, y).reshape(-1, 1) @ _T(m, np.ones((1, 1), np.float32)),
    "to_float64": lambda m, x, y: _h(m, x, y).double(),
    "to_same_dtype": lambda m, x, y: _h(m, x, y).to(m.float32),
    "float_same": lambda m, x, y: _h(m, x, y).float(),
    "clone": lambda m, x, y: _h(m, x, y).clone(),
    "detach": lambda m, x, y: _h(m, x, y).detach(),
    "times_one": lambda m, x, y: _h(m, x, y) * 1,
    "plus_zero": lambda m, x, y: _h(m, x, y) + 0,
    "pow_one": lambda m, x, y: _h(m, x, y) ** 1,
    "positive": lambda m, x, y: +_h(m, x, y),
    "abs_abs": lambda m, x, y: _h(m, x, y).abs().abs(),
    "relu_relu": lambda m, x, y: _h(m, x, y).relu().relu(),
    "broadcast_add_zeros": lambda m, x, y: _h(m, x, y).reshape(1, -1) + m.zeros(2, 1),
    "expand_as": lambda m, x, y: _h(m, x, y).reshape(1, -1).expand_as(m.zeros(3, N)),
    "repeat": lambda m, x, y: _h(m, x, y).repeat(2),
    "roll": lambda m, x, y: _h(m, x, y).roll(3),
    "tril": lambda m, x, y: _h(m, x, y).reshape(128, -1).tril(),
    "masked_fill": lambda m, x, y: _h(m, x, y).masked_fill(x > 1, 0.0),
    "gather": lambda m, x, y: _h(m, x, y).reshape(128, -1).gather(1, _T(m, np.zeros((128, 1), np.int64))),
    "split": lambda m, x, y: _h(m, x, y).split(N // 2)[1],
    "chunks": lambda m, x, y: tuple(_h(m, x, y).chunk(2)),
    "unbind": lambda m, x, y: _h(m, x, y).reshape(2, -1).unbind(0)[0],
    "view_as": lambda m, x, y: _h(m, x, y).view_as(y),
    "nan_to_num": lambda m, x, y: _h(m, x, y).nan_to_num(),
    "where_of_value_and_input": lambda m, x, y: m.where(x > 100, y, _h(m, x, y)),
    "minimum": lambda m, x, y: m.minimum(_h(m, x, y), y),
    "maximum_self": lambda m, x, y: (lambda h: m.maximum(h, h))(_h(m, x, y)),
    "ellipsis_none": lambda m, x, y: _h(m, x, y)[None, ..., None],
    "same_value_twice": lambda m, x, y: (lambda h: (h, h))(_h(m, x, y)),
}


def _flat(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", sorted(TAILS))
def test_results_and_views_survive_later_calls(name):
    f = TAILS[name]
    c = _np(lambda x, y: f(tt, x, y))
    rng = np.random.default_rng(0)
    x1, y1, x2, y2 = (rng.standard_normal(N).astype(np.float32) for _ in range(4))
    outs = _flat(c(tt.tensor(x1), tt.tensor(y1)))
    keep = [o.numpy().copy() for o in outs]
    later = []
    for a, b in ((x2, y2), (y2, x2), (x1 * 0.5, y1)):
        later.extend(_flat(c(tt.tensor(a), tt.tensor(b))))
    assert "out=_b[" in c.source(tt.tensor(x1), tt.tensor(y1))  # the plan engaged
    refs = _flat(f(torch, torch.tensor(x1), torch.tensor(y1)))
    for o, k, r in zip(outs, keep, refs):
        np.testing.assert_allclose(k, r.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(o.numpy(), k)
        for o2 in later:
            assert not np.shares_memory(o.numpy(), o2.numpy())


def test_results_are_writable_and_writes_do_not_leak_into_the_next_call():
    c = _np(lambda x: ((x * 3).tanh() + x).exp() * 0.5)
    x = tt.randn(N)
    want = (np.exp(np.tanh(x.numpy() * 3) + x.numpy()) * 0.5)
    r1 = c(x)
    r1.add_(1000.0)  # an in-place op on the result the caller owns
    r1.numpy()[:10] = -1
    r2 = c(x)
    np.testing.assert_allclose(r2.numpy(), want, rtol=1e-5)
    r2.mul_(0)
    np.testing.assert_allclose(c(x).numpy(), want, rtol=1e-5)


# ---------------------------------------------------------------- residuals for backward
BACKWARD_CASES = {
    "sin_cos_exp": lambda m, x, w: ((x.sin() * x.cos()).exp() * w).sum(),
    "gelu_like": lambda m, x, w: (0.5 * x * (1 + (0.79788 * (x + 0.044715 * x ** 3)).tanh()) * w).sum(),
    "softplus_chain": lambda m, x, w: ((1 + (x * w).exp()).log() / (x * x + 1)).sum(),
    "neg_powers": lambda m, x, w: ((x.abs() + 0.5) ** -1.5 * w + (x * x + 1) ** -2).sum(),
    "max_min": lambda m, x, w: (m.maximum(x.tanh(), w * 0.5) - m.minimum(x.exp() * 0.1, w)).sum(),
    "abs_sign": lambda m, x, w: ((x * w).abs() * (x - 0.3).sign() + (x * 2).abs().sqrt()).sum(),
    "division": lambda m, x, w: ((x * 3 + 1) / (w * w + 0.5) - 2 / (x.abs() + 1)).sum(),
    "broadcast_rows": lambda m, x, w: ((x.reshape(R, C) * w.reshape(R, C)[:, :1]).sigmoid()
                                       * w.reshape(R, C)[:1]).sum(),
    "two_outputs": lambda m, x, w: (x.exp().tanh() * w).sum() + (x * w).sigmoid().mean(),
}


@pytest.mark.parametrize("name", sorted(BACKWARD_CASES))
def test_residuals_survive_other_forwards_before_backward(name):
    f = BACKWARD_CASES[name]
    c = _np(lambda x, w: f(tt, x, w))
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal(N).astype(np.float32), rng.standard_normal(N).astype(np.float32))
            for _ in range(3)]
    tens = [(tt.tensor(x, requires_grad=True), tt.tensor(w, requires_grad=True)) for x, w in data]
    losses = [c(x, w) for x, w in tens]  # three forwards, then the backwards in reverse
    for (tx, tw), loss, (x, w) in reversed(list(zip(tens, losses, data))):
        loss.backward()
        px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        ref = f(torch, px, pw)
        ref.backward()
        np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-4)
        np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(tw.grad.numpy(), pw.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_backward_twice_with_retain_graph_and_a_forward_between():
    c = _np(lambda x: ((x * 1.5).tanh() ** 2 * x).sum())
    x1 = tt.randn(N, requires_grad=True)
    l1 = c(x1)
    l1.backward(retain_graph=True)
    g1 = x1.grad.numpy().copy()
    c(tt.randn(N, requires_grad=True)).backward()
    l1.backward()
    np.testing.assert_allclose(x1.grad.numpy(), 2 * g1, rtol=1e-5, atol=1e-6)


def test_gradients_returned_by_the_backward_are_not_scratch():
    c = _np(lambda x: ((x * 2).exp() * (x + 1).tanh()).sum())
    grads = []
    for s in range(3):
        x = tt.tensor(np.random.default_rng(s).standard_normal(N).astype(np.float32), requires_grad=True)
        c(x).backward()
        grads.append((x, x.grad.numpy().copy()))
    for x, g in grads:
        np.testing.assert_array_equal(x.grad.numpy(), g)
        px = torch.tensor(x.detach().numpy(), requires_grad=True)
        ((px * 2).exp() * (px + 1).tanh()).sum().backward()
        np.testing.assert_allclose(g, px.grad.numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- formulas vs torch (random programs)
UNARY = [
    lambda m, x: -x, lambda m, x: x.clamp(-5, 5).exp(), lambda m, x: x.tanh(), lambda m, x: x.sigmoid(),
    lambda m, x: x.abs(), lambda m, x: x.sign() * x, lambda m, x: x.relu(), lambda m, x: x * x,
    lambda m, x: x ** 3, lambda m, x: x ** 2, lambda m, x: (x.abs() + 0.5) ** -1,
    lambda m, x: (x.abs() + 0.5) ** -2, lambda m, x: (x.abs() + 0.5) ** -0.5,
    lambda m, x: (x.abs() + 0.5) ** 0.5, lambda m, x: (x.abs() + 0.5) ** 1.5,
    lambda m, x: (x.abs() + 0.5) ** -1.5, lambda m, x: (x.abs() + 0.5) ** -3, lambda m, x: x ** 0 + x,
    lambda m, x: (x.abs() + 1).log(), lambda m, x: (x.abs() + 0.1).sqrt(), lambda m, x: (x.abs() + 0.5).rsqrt(),
    lambda m, x: (x.abs() + 0.5).reciprocal(), lambda m, x: x.clamp(min=-0.3), lambda m, x: x.clamp(max=0.4),
    lambda m, x: 2.0 / (x.abs() + 0.5), lambda m, x: 1.5 - x, lambda m, x: x * -2.5, lambda m, x: x + 0.75,
    lambda m, x: x / 3.0, lambda m, x: -1.0 / (x * x + 1), lambda m, x: x.sin(), lambda m, x: x.floor() + x,
    lambda m, x: m.nn.functional.leaky_relu(x, 0.1), lambda m, x: m.nn.functional.gelu(x),
    lambda m, x: m.nn.functional.silu(x), lambda m, x: m.nn.functional.softplus(x),
]
BINARY = [
    lambda m, x, y: x + y, lambda m, x, y: x - y, lambda m, x, y: x * y,
    lambda m, x, y: x / (y.abs() + 0.5), lambda m, x, y: (x.abs() + 0.5) / (y * y + 0.25),
    lambda m, x, y: m.maximum(x, y), lambda m, x, y: m.minimum(x, y),
    lambda m, x, y: m.where(x > y, x, y * 2), lambda m, x, y: (x.abs() + 0.5) ** y.clamp(-2, 2),
    lambda m, x, y: x * y - x / (1 + y * y), lambda m, x, y: x + 0.3 * (y - x),
    lambda m, x, y: (x * x + y * y + 0.01).sqrt(), lambda m, x, y: (x - y).abs(),
    lambda m, x, y: -x - y, lambda m, x, y: -(x * y),
]
# a, b: full-size operands; c, d: broadcast rows / columns; e: a 0-d tensor
SHAPES = {"a": (R, C), "b": (R, C), "c": (R, 1), "d": (1, C), "e": ()}


def _program(seed):
    rng = random.Random(seed)

    def gen(depth):
        if depth == 0 or rng.random() < 0.15:
            return ("var", rng.choice(sorted(SHAPES)))
        if rng.random() < 0.55:
            return ("un", rng.randrange(len(UNARY)), gen(depth - 1))
        return ("bin", rng.randrange(len(BINARY)), gen(depth - 1), gen(depth - 1))

    tree = ("bin", 0, gen(rng.randint(2, 5)), ("var", "a"))  # full size, always

    def ev(node, m, env):
        if node[0] == "var":
            return env[node[1]]
        if node[0] == "un":
            return UNARY[node[1]](m, ev(node[2], m, env))
        return BINARY[node[1]](m, ev(node[2], m, env), ev(node[3], m, env))

    return lambda m, env: ev(tree, m, env)


@pytest.mark.parametrize("block", range(6))
def test_random_pointwise_programs_match_torch(block):
    for seed in range(block * 12, block * 12 + 12):
        prog = _program(seed)
        rng = np.random.default_rng(seed)
        vals = {k: rng.standard_normal(s).astype(np.float32) for k, s in sorted(SHAPES.items())}
        weight = rng.standard_normal((R, C)).astype(np.float32)
        names = sorted(SHAPES)
        c = _np(lambda a, b, c, d, e: prog(tt, dict(a=a, b=b, c=c, d=d, e=e)))
        tx = {k: tt.tensor(v, requires_grad=True) for k, v in vals.items()}
        px = {k: torch.tensor(v, requires_grad=True) for k, v in vals.items()}
        out = c(*(tx[k] for k in names))
        # another forward (other values) before this one's backward
        c(*(tt.tensor(vals[k] * 0.5 + 0.1, requires_grad=True) for k in names))
        ref = prog(torch, px)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=2e-4, atol=2e-5,
                                   err_msg=f"seed {seed}")
        (out * tt.tensor(weight)).sum().backward()
        (ref * torch.tensor(weight)).sum().backward()
        for k in names:
            if px[k].grad is not None:
                np.testing.assert_allclose(tx[k].grad.numpy(), px[k].grad.numpy(), rtol=1e-3, atol=1e-3,
                                           err_msg=f"seed {seed} grad {k}")


# ---------------------------------------------------------------- the lowering itself
x0, x1, x2, x3 = sympy.symbols("x0 x1 x2 x3", real=True)
EXPRS = [
    -x0 - x1, -x0 ** 2 + x1 + 2, -(x0 * x1) - 3, 2 - x0 - x1, -x2 - x0, x2 - x0,
    x0 ** -3, x0 ** -1 * x1 ** -1, -1 / x0, -3 / x0, -x2 / x0, 1 / (x0 * x1), x0 / (2 * x2),
    x0 ** sympy.Rational(-3, 2) * x1, x0 ** sympy.Rational(1, 3), x2 ** 3 * x0, x0 ** 3,
    (x0 + x1) ** -2, sympy.sqrt(x0) ** -1 + x2, 2 ** x1, x2 ** x1, x0 ** x1, sympy.exp(x2) * sympy.exp(x0),
    sympy.Max(x2, x0), sympy.Min(x0 * 2, x2 + 1), sympy.Max(x0, 0) * x2 - sympy.Min(x1, 0),
    sympy.Abs(x2 - x0), sympy.sign(x0 - x2) * x1, sympy.floor(x0 * 3) / 3, sympy.ceiling(x0) - x2,
    x0 * sympy.Rational(1, 3) + x1 * 0.1, -2.5 * x0 * x2 * x3, x0 * x1 * x2 * x3 - x3,
    sympy.tanh(x0 + x2) * (1 - sympy.tanh(x0 + x2) ** 2), sympy.log(1 + sympy.exp(x0)) - x2 * x3,
    (x0 - x2) / (x1 - x3 + 10), 1 - (x0 - x2) ** 2, x3 - x0 ** 2,
]


@pytest.mark.parametrize("expr", EXPRS, ids=str)
def test_lowered_chain_computes_the_formula_with_broadcast_operands(expr):
    rng = np.random.default_rng(0)
    vals = {"a": rng.uniform(0.5, 2, (4, 5)).astype(np.float32),   # x0: full, positive
            "b": rng.uniform(-2, 2, (4, 5)).astype(np.float32),    # x1: full
            "c": rng.uniform(0.5, 2, (4, 1)).astype(np.float32),   # x2: broadcast column
            "d": rng.uniform(-2, 2, (1, 5)).astype(np.float32)}    # x3: broadcast row
    names = {x0: "a", x1: "b", x2: "c", x3: "d"}
    env = {"np": np, **vals}
    buf = run_lowered(expr, names, {x0, x1}, env, (4, 5))
    with np.errstate(all="ignore"):
        want = np.broadcast_to(eval(print_expr(expr, names), env), (4, 5))
    np.testing.assert_allclose(buf, want, rtol=1e-5, equal_nan=True)


def test_special_values_through_lowered_chains_match_torch():
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e30, 2.0, -2.0], np.float32)
    x = np.resize(specials, N)
    y = np.resize(specials[::-1], N)
    fns = [
        lambda m, x, y: x * 0 + y, lambda m, x, y: x ** -1 + y, lambda m, x, y: x ** -2 * y,
        lambda m, x, y: x.abs() ** -0.5 - y, lambda m, x, y: m.maximum(x * 2, y) + 1,
        lambda m, x, y: m.minimum(x, y * 3) - 1, lambda m, x, y: x.relu() * y, lambda m, x, y: x.sign() + y,
        lambda m, x, y: (x - y) / (x + y), lambda m, x, y: x.clamp(-1, 1) * 2 + y, lambda m, x, y: -x / y,
        lambda m, x, y: x ** 3 - y, lambda m, x, y: (x * y).exp() * 2, lambda m, x, y: x.abs().sqrt() * y,
    ]
    for f in fns:
        got = _np(lambda x, y: f(tt, x, y))(tt.tensor(x), tt.tensor(y)).numpy()
        want = f(torch, torch.tensor(x), torch.tensor(y)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_other_float_dtypes(dtype):
    f = lambda m, x, y: ((x * 0.5).tanh() * y + x ** 2) / (y * y + 1) - x.abs() ** -0.5  # noqa: E731
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(N) + 0.1).astype(dtype)
    y = rng.standard_normal(N).astype(dtype)
    c = _np(lambda a, b: f(tt, a, b))
    r1 = c(tt.tensor(x), tt.tensor(y))
    keep = r1.numpy().copy()
    c(tt.tensor(y), tt.tensor(x))
    assert r1.dtype.name == dtype
    np.testing.assert_array_equal(r1.numpy(), keep)
    want = f(torch, torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_allclose(keep, want, rtol=1e-2 if dtype == "float16" else 1e-10, atol=1e-2 if dtype == "float16" else 0)


# ---------------------------------------------------------------- multi-output, training, threads, export
def test_multi_output_training_step_values_and_params():
    w = tt.tensor(np.random.default_rng(5).standard_normal((R, C)).astype(np.float32) * 0.1, requires_grad=True)
    pw = torch.tensor(w.detach().numpy().copy(), requires_grad=True)
    opt, popt = tt.optim.SGD([w], lr=0.1), torch.optim.SGD([pw], lr=0.1)

    def step(m, o, w, x):
        o.zero_grad()
        h = (x * w).tanh() * 2 + w.exp() * 0.1
        loss = (h * h).mean()
        loss.backward()
        o.step()
        return loss, h.detach(), (h * 3).detach()

    c = _np(lambda x: step(tt, opt, w, x))
    kept = []
    for s in range(3):
        x = np.random.default_rng(s).standard_normal((R, C)).astype(np.float32)
        loss, h, h3 = c(tt.tensor(x))
        pl, ph, ph3 = step(torch, popt, pw, torch.tensor(x))
        np.testing.assert_allclose(loss.item(), pl.item(), rtol=1e-5)
        np.testing.assert_allclose(h.numpy(), ph.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h3.numpy(), ph3.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(w.detach().numpy(), pw.detach().numpy(), rtol=1e-5, atol=1e-6)
        kept.append((h, h.numpy().copy()))
    for h, k in kept:
        np.testing.assert_array_equal(h.numpy(), k)


def test_concurrent_forward_and_backward_calls():
    f = _np(lambda x: (((x * 3).tanh() + x).square() - 1).exp().mean())
    xs = [np.random.default_rng(i).standard_normal(N).astype(np.float32) * 0.3 for i in range(4)]
    want = []
    for x in xs:
        px = torch.tensor(x, requires_grad=True)
        loss = (((px * 3).tanh() + px).square() - 1).exp().mean()
        loss.backward()
        want.append((loss.item(), px.grad.numpy()))
    f(tt.tensor(xs[0], requires_grad=True)).backward()  # compile up front
    errors = []

    def worker(i):
        for _ in range(15):
            t = tt.tensor(xs[i], requires_grad=True)
            loss = f(t)
            loss.backward()
            if not (np.isclose(loss.item(), want[i][0], rtol=1e-5)
                    and np.allclose(t.grad.numpy(), want[i][1], rtol=1e-4, atol=1e-9)):
                errors.append(i)

    run_in_threads(worker, 4)
    assert not errors


def test_exported_module_results_survive_later_calls(tmp_path):
    def f(x, y):
        return (x * 2).exp() - y, ((x - y).abs() + 1).log().reshape(64, -1)

    x, y = tt.randn(N), tt.randn(N)
    path = tt.export(f, x, y, out=tmp_path / "mem_export")
    ns: dict = {}
    exec(path.read_text(), ns)
    assert "out=_b[" in path.read_text() or "_scratch" in path.read_text()
    r1 = ns["forward"](x.numpy(), y.numpy())
    keep = [r.copy() for r in r1]
    ns["forward"](y.numpy(), x.numpy())
    ns["forward"](x.numpy() * 2, y.numpy())
    for r, k in zip(r1, keep):
        np.testing.assert_array_equal(r, k)
    want = f(torch.tensor(x.numpy()), torch.tensor(y.numpy()))
    for k, w in zip(keep, want):
        np.testing.assert_allclose(k, w.numpy(), rtol=1e-5, atol=1e-6)


def test_shape_generic_code_with_big_sizes():
    c = tt.compile(lambda x: ((x * 2).tanh() * x + 1).exp().reshape(x.shape[0], -1) * 0.5,
                   dynamic=True, backend="numpy")
    results = []
    for b in (64, 96, 64, 128):
        x = np.random.default_rng(b).standard_normal((b, 512)).astype(np.float32)
        r = c(tt.tensor(x))
        results.append((r, r.numpy().copy(), x))
    for r, k, x in results:
        np.testing.assert_array_equal(r.numpy(), k)
        np.testing.assert_allclose(k, np.exp(np.tanh(x * 2) * x + 1) * 0.5, rtol=1e-5)
    assert c.trace_count == 1
