"""Compiled functions of torchtrek: tracing and its cache, gradients through compiled
code (checked against torch), captured tensors, tt.grad / tt.value_and_grad (nested,
vs torch.autograd.grad), IR/source inspection, trace errors and generated tracebacks."""

from __future__ import annotations

import linecache
import os
import re
import traceback

import numpy as np
import pytest
import torch

import torchtrek as tt

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _private_disk_cache(tmp_path, monkeypatch):
    """Keep any persistent cache of generated code private to each test."""
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(tmp_path / "tt-cache"))


def np_of(t):
    return t.detach().numpy()


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6):
    assert isinstance(ours, tt.Tensor), type(ours)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(np_of(ours), np_of(theirs), rtol=rtol, atol=atol)


def line_of(marker):
    """The line number in this file of the line containing `marker`."""
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "line_of(" not in line:
                return i
    raise AssertionError(marker)


# ------------------------------------------------------------------ basic compilation


def test_bare_decorator_computes_like_torch():
    def body(m, x, y):
        return (x * y + 1).exp().sum(1) / (y.T @ x).relu().mean()

    compiled = tt.compile(lambda x, y: body(tt, x, y))
    xd = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    yd = np.linspace(0.5, -0.5, 6, dtype=np.float32).reshape(2, 3)
    assert_close(compiled(tt.tensor(xd), tt.tensor(yd)),
                 body(torch, torch.tensor(xd), torch.tensor(yd)))


def test_decorator_with_options():
    @tt.compile(backend="numpy")
    def f(x):
        return x.tanh() * 2

    out = f(tt.tensor([0.5, -1.0]))
    assert_close(out, torch.tensor([0.5, -1.0]).tanh() * 2)
    assert f.trace_count == 1


def test_compiled_function_keeps_name_and_doc():
    @tt.compile
    def my_function(x):
        """Doubles."""
        return x * 2

    assert my_function.__name__ == "my_function"
    assert my_function.__doc__ == "Doubles."


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4])
def test_compiled_ranks_and_dtypes(rank):
    shape = (2, 3, 1, 2)[:rank]

    @tt.compile
    def f(x):
        return (x * 2 + 1).sum(), x.unsqueeze(0).flatten()

    for dt_tt, dt_torch in [(tt.float32, torch.float32), (tt.float64, torch.float64),
                            (tt.int64, torch.int64), (tt.int32, torch.int32)]:
        data = np.arange(int(np.prod(shape))).reshape(shape)
        ours = f(tt.tensor(data, dtype=dt_tt))
        theirs = ((torch.tensor(data, dtype=dt_torch) * 2 + 1).sum(),
                  torch.tensor(data, dtype=dt_torch).unsqueeze(0).flatten())
        assert_close(ours[0], theirs[0])
        assert_close(ours[1], theirs[1])


def test_returns_tuples_and_lists():
    @tt.compile
    def f(x):
        return x + 1, [x * 2, x.sum()]

    a, (b, c) = f(tt.tensor([1.0, 2.0]))
    out = f(tt.tensor([1.0, 2.0]))
    assert isinstance(out, tuple) and isinstance(out[1], list)
    assert a.tolist() == [2.0, 3.0] and b.tolist() == [2.0, 4.0] and c.item() == 3.0


def test_outputs_without_grad_inputs_do_not_require_grad():
    f = tt.compile(lambda x: x * 2)
    out = f(tt.tensor([1.0]))
    assert not out.requires_grad and out.grad_fn is None


# ------------------------------------------------------------------ trace cache


def test_trace_count_per_signature():
    @tt.compile
    def f(x, y):
        return x * y + 1

    a, b = tt.ones(2, 3), tt.ones(2, 3)
    assert f.trace_count == 0
    f(a, b)
    assert f.trace_count == 1
    f(a, b)
    f(tt.zeros(2, 3), tt.full((2, 3), 5.0))  # same signature, new values
    assert f.trace_count == 1
    f(tt.ones(3, 3), tt.ones(3, 3))  # new shape
    assert f.trace_count == 2
    f(tt.ones(3, 3, dtype=tt.float64), tt.ones(3, 3, dtype=tt.float64))  # new dtype
    assert f.trace_count == 3
    f(tt.ones(3, 3, requires_grad=True), tt.ones(3, 3))  # new requires_grad
    assert f.trace_count == 4
    f(tt.ones(2, 3), tt.ones(2, 3))  # back to the first signature: cached
    f(tt.ones(3, 3, dtype=tt.float64), tt.ones(3, 3, dtype=tt.float64))
    assert f.trace_count == 4


def test_python_number_arguments_are_part_of_the_signature():
    @tt.compile
    def scale(x, n):
        return x * n

    x = tt.tensor([1.0, 2.0])
    assert scale(x, 2).tolist() == [2.0, 4.0]
    assert scale(x, 2).tolist() == [2.0, 4.0]
    assert scale.trace_count == 1
    assert scale(x, 3).tolist() == [3.0, 6.0]  # a different int: a new trace
    assert scale.trace_count == 2
    assert scale(x, 2).tolist() == [2.0, 4.0]
    assert scale.trace_count == 2


def test_shape_dependent_control_flow_works():
    @tt.compile
    def f(x):
        if x.shape[0] > 2:
            return x * 2
        return x - 1

    assert f(tt.ones(3)).tolist() == [2.0, 2.0, 2.0]
    assert f(tt.ones(2)).tolist() == [0.0, 0.0]
    assert f.trace_count == 2


def test_values_are_not_baked_into_the_trace():
    f = tt.compile(lambda x: (x * x).sum())
    assert f(tt.tensor([1.0, 2.0])).item() == 5.0
    assert f(tt.tensor([3.0, 4.0])).item() == 25.0
    assert f.trace_count == 1


# ------------------------------------------------------------------ gradients through compiled code


def _mlp(m, x, w1, b1, w2, b2):
    return m.relu(x @ w1 + b1) @ w2 + b2


MLP_DATA = {
    "x": np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4),
    "w1": (np.arange(24, dtype=np.float32).reshape(4, 6) % 7 - 3) / 5,
    "b1": np.linspace(-0.2, 0.3, 6, dtype=np.float32),
    "w2": (np.arange(12, dtype=np.float32).reshape(6, 2) % 5 - 2) / 4,
    "b2": np.array([0.1, -0.1], dtype=np.float32),
    "y": np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2),
}
PARAMS = ("w1", "b1", "w2", "b2")


def _torch_mlp_grads():
    p = {k: torch.tensor(MLP_DATA[k], requires_grad=k in PARAMS) for k in MLP_DATA}
    loss = ((_mlp(torch, p["x"], p["w1"], p["b1"], p["w2"], p["b2"]) - p["y"]) ** 2).mean()
    loss.backward()
    return loss.detach(), [p[k].grad for k in PARAMS]


def test_mlp_mse_gradients_match_torch():
    @tt.compile
    def loss_fn(x, w1, b1, w2, b2, y):
        return ((_mlp(tt, x, w1, b1, w2, b2) - y) ** 2).mean()

    p = {k: tt.tensor(MLP_DATA[k], requires_grad=k in PARAMS) for k in MLP_DATA}
    loss = loss_fn(p["x"], p["w1"], p["b1"], p["w2"], p["b2"], p["y"])
    assert loss.requires_grad and loss.grad_fn is not None
    loss.backward()
    t_loss, t_grads = _torch_mlp_grads()
    assert_close(loss, t_loss)
    for k, g in zip(PARAMS, t_grads):
        assert_close(p[k].grad, g)
    assert p["x"].grad is None and p["y"].grad is None


def test_mlp_with_captured_parameters_matches_torch():
    p = {k: tt.tensor(MLP_DATA[k], requires_grad=k in PARAMS) for k in MLP_DATA}
    w1, b1, w2, b2 = (p[k] for k in PARAMS)

    @tt.compile
    def loss_fn(x, y):
        return ((tt.relu(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()

    loss = loss_fn(p["x"], p["y"])
    loss.backward()
    t_loss, t_grads = _torch_mlp_grads()
    assert_close(loss, t_loss)
    for k, g in zip(PARAMS, t_grads):
        assert_close(p[k].grad, g)


GLOBAL_W = tt.tensor([1.0, -2.0, 0.5], requires_grad=True)


def test_captured_global_gets_gradient():
    @tt.compile
    def f(x):
        return (x * GLOBAL_W).exp().sum()

    GLOBAL_W.grad = None
    f(tt.tensor([0.1, 0.2, 0.3])).backward()
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    (torch.tensor([0.1, 0.2, 0.3]) * w).exp().sum().backward()
    assert_close(GLOBAL_W.grad, w.grad)
    GLOBAL_W.grad = None


def test_gradients_accumulate_across_compiled_calls():
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    f = tt.compile(lambda x, w: (x * w * w).sum())
    x = tt.tensor([3.0, 4.0])
    f(x, w).backward()
    f(x, w).backward()
    assert w.grad.tolist() == [12.0, 32.0]
    assert f.trace_count == 1


def test_compiled_output_mixed_with_eager_ops():
    def f(m, x, w):
        return (x @ w).tanh()

    cf = tt.compile(lambda x, w: f(tt, x, w))
    xd = np.array([[1.0, -1.0], [0.5, 2.0]], dtype=np.float32)
    wd = np.array([[0.3], [-0.7]], dtype=np.float32)
    x, w = tt.tensor(xd, requires_grad=True), tt.tensor(wd, requires_grad=True)
    tx, tw = torch.tensor(xd, requires_grad=True), torch.tensor(wd, requires_grad=True)
    (cf(x, w) * x).sum().backward()  # compiled output feeds an eager op
    (f(torch, tx, tw) * tx).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)


def test_compiled_multiple_outputs_backward():
    @tt.compile
    def f(x):
        return x.sin(), (x * x).sum()

    x = tt.tensor([0.5, 1.5], requires_grad=True)
    a, b = f(x)
    (a.sum() * 3 + b).backward()
    tx = torch.tensor([0.5, 1.5], requires_grad=True)
    (tx.sin().sum() * 3 + (tx * tx).sum()).backward()
    assert_close(x.grad, tx.grad)


def test_compiled_backward_with_gradient_argument():
    f = tt.compile(lambda x: x.exp() * x)
    x = tt.tensor([0.0, 1.0, -1.0], requires_grad=True)
    f(x).backward(tt.tensor([1.0, 2.0, 3.0]))
    tx = torch.tensor([0.0, 1.0, -1.0], requires_grad=True)
    (tx.exp() * tx).backward(torch.tensor([1.0, 2.0, 3.0]))
    assert_close(x.grad, tx.grad)


def test_compiled_under_no_grad_has_no_graph():
    f = tt.compile(lambda x: x * 2)
    x = tt.tensor([1.0], requires_grad=True)
    with tt.no_grad():
        out = f(x)
    assert not out.requires_grad and out.grad_fn is None


COMPILED_GRAD_CASES = {
    "identity": (lambda m, a: a, [[1.0, 2.0]]),
    "mean": (lambda m, a: a.mean(), [[1.0, 2.0, 4.0]]),
    "broadcast": (lambda m, a, b: (a * b + b).sum(), [[[1.0, 2.0]], [[1.0], [2.0], [3.0]]]),
    "where": (lambda m, a: m.where(a > 1, a * a, a).sum(), [[1.0, 2.0, 3.0]]),
    "div": (lambda m, a, b: (a / b).sum(), [[1.0, 2.0], [3.0, -4.0]]),
    "pow_tensor_exponent": (lambda m, a, b: (a ** b).sum(), [[1.0, 2.0], [3.0, 0.5]]),
    "rpow": (lambda m, a: (2 ** a).sum(), [[0.0, 1.5]]),
    "pow_at_zero": (lambda m, a: (a ** 2 + a ** 3).sum(), [[0.0, 2.0]]),
    "double": (lambda m, a: (a.double() * 2).sum(), [[1.0, 4.0]]),
    "4d": (lambda m, a: (a.reshape(1, 2, 1, 1).permute(3, 2, 1, 0) * 2).exp().sum(), [[1.0, 0.5]]),
    "transpose_mm": (lambda m, a, b: (a.T @ b).sum(), [[[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 2.0]]]),
    "batched_mm": (lambda m, a, b: (a @ b).sum(), [[[[1.0, 2.0], [3.0, 4.0]]], [[1.0, 0.0], [0.0, 2.0]]]),
    "matvec": (lambda m, a, b: (a @ b).sum(), [[[1.0, 2.0], [3.0, 4.0]], [1.0, -1.0]]),
    "dot": (lambda m, a, b: a @ b, [[1.0, 2.0], [1.0, 0.5]]),
    "sum_keepdim": (lambda m, a: (a / a.sum(0, keepdim=True)).pow(2).sum(), [[[1.0, 2.0], [3.0, 4.0]]]),
    "diamond": (lambda m, a: (lambda h: (h * h.sigmoid() + h.tanh() * h).sum())(a * 2 - 1),
                [[0.1, -0.4, 2.0]]),
}


@pytest.mark.parametrize("name", list(COMPILED_GRAD_CASES))
def test_compiled_gradients_match_torch(name):
    body, datas = COMPILED_GRAD_CASES[name]
    f = tt.compile(lambda *args: body(tt, *args))
    ours = [tt.tensor(d, requires_grad=True) for d in datas]
    theirs = [torch.tensor(d, requires_grad=True) for d in datas]
    out, t_out = f(*ours), body(torch, *theirs)
    assert_close(out, t_out)
    (out if out.numel() == 1 else out.sum()).backward()
    (t_out if t_out.numel() == 1 else t_out.sum()).backward()
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad)


def test_same_tensor_passed_twice_accumulates():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    tt.compile(lambda a, b: (a * b).sum())(x, x).backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_compiled_retain_graph_and_second_backward_match_torch():
    f = tt.compile(lambda x: (x * x).sum())
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = f(x)
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_compiled_function_calling_compiled_function():
    inner = tt.compile(lambda x: x.exp())
    outer = tt.compile(lambda x: inner(x).sum() * 2)
    x = tt.tensor([0.0, 1.0], requires_grad=True)
    outer(x).backward()
    tx = torch.tensor([0.0, 1.0], requires_grad=True)
    (tx.exp().sum() * 2).backward()
    assert_close(x.grad, tx.grad)
    assert outer.trace_count == 1


def test_int_tensor_argument_with_float_parameter():
    f = tt.compile(lambda x, i: (x * i).sum())
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    out = f(x, tt.tensor([3, 4]))
    assert out.dtype == tt.float32 and out.item() == 11.0
    out.backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_compiled_pow_at_zero_matches_torch():
    f = tt.compile(lambda x: (x ** 2 + x ** 3).sum())
    x = tt.tensor([0.0, 2.0], requires_grad=True)
    f(x).backward()
    tx = torch.tensor([0.0, 2.0], requires_grad=True)
    (tx ** 2 + tx ** 3).sum().backward()
    assert_close(x.grad, tx.grad)


# ------------------------------------------------------------------ captured tensors are not stale


def test_captured_tensor_updated_in_place_is_seen():
    w = tt.tensor([1.0, 2.0])

    @tt.compile
    def f(x):
        return x * w

    x = tt.tensor([1.0, 1.0])
    assert f(x).tolist() == [1.0, 2.0]
    w.numpy()[...] = [10.0, 20.0]  # .numpy() shares memory, as in torch
    assert f(x).tolist() == [10.0, 20.0]


def test_rebound_closure_tensor_is_seen():
    w = tt.tensor([1.0, 2.0])

    @tt.compile
    def f(x):
        return x * w

    x = tt.tensor([1.0, 1.0])
    assert f(x).tolist() == [1.0, 2.0]
    w = tt.tensor([10.0, 20.0])  # noqa: F841  (read by f through its closure)
    assert f(x).tolist() == [10.0, 20.0]


REBOUND_W = tt.tensor([1.0, 2.0])


def test_rebound_global_tensor_is_seen():
    global REBOUND_W

    @tt.compile
    def f(x):
        return x * REBOUND_W

    x = tt.tensor([1.0, 1.0])
    REBOUND_W = tt.tensor([1.0, 2.0])
    assert f(x).tolist() == [1.0, 2.0]
    REBOUND_W = tt.tensor([10.0, 20.0])
    assert f(x).tolist() == [10.0, 20.0]


def test_sgd_loop_on_captured_parameter_matches_torch():
    """Gradient steps that rebind a captured parameter: loss and grads follow torch's."""
    def run(m, compile_fn):
        w = m.tensor([0.5, -1.0], requires_grad=True)
        x = m.tensor([[1.0, 2.0], [3.0, -1.0]])
        y = m.tensor([1.0, 0.0])

        def loss_fn(x, y):
            return ((x @ w - y) ** 2).mean()

        step = compile_fn(loss_fn)
        losses = []
        for _ in range(3):
            loss = step(x, y)
            loss.backward()
            losses.append(loss.item())
            with m.no_grad():
                w = (w - 0.1 * w.grad).detach()
            w.requires_grad_()
        return losses, w.detach().numpy()

    ours = run(tt, tt.compile)
    theirs = run(torch, lambda f: f)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5)


# ------------------------------------------------------------------ tt.grad / tt.value_and_grad


def test_grad_of_scalar_function_matches_torch():
    f = tt.grad(lambda x: (x.sin() * x ** 2).sum())
    xd = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    tx = torch.tensor(xd, requires_grad=True)
    (tx.sin() * tx ** 2).sum().backward()
    assert_close(f(tt.tensor(xd)), tx.grad)


def test_grad_argnums_int_and_tuple():
    def f(a, b):
        return (a * b.exp()).sum()

    a, b = tt.tensor([1.0, 2.0]), tt.tensor([0.5, -0.5])
    ta, tb = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([0.5, -0.5], requires_grad=True)
    f(ta, tb).backward()
    assert_close(tt.grad(f)(a, b), ta.grad)
    assert_close(tt.grad(f, argnums=0)(a, b), ta.grad)
    assert_close(tt.grad(f, argnums=1)(a, b), tb.grad)
    ga, gb = tt.grad(f, argnums=(0, 1))(a, b)
    assert_close(ga, ta.grad)
    assert_close(gb, tb.grad)
    (only,) = tt.grad(f, argnums=(1,))(a, b)
    assert_close(only, tb.grad)


def test_value_and_grad():
    def f(a, b):
        return (a * a * b).sum()

    a, b = tt.tensor([1.0, 2.0]), tt.tensor([3.0, 4.0])
    value, g = tt.value_and_grad(f)(a, b)
    assert value.item() == 19.0 and g.tolist() == [6.0, 16.0]
    value, (ga, gb) = tt.value_and_grad(f, argnums=(0, 1))(a, b)
    assert value.item() == 19.0 and ga.tolist() == [6.0, 16.0] and gb.tolist() == [1.0, 4.0]
    value, g = tt.value_and_grad(f, argnums=1)(a, b)
    assert value.item() == 19.0 and g.tolist() == [1.0, 4.0]


def test_grad_of_non_scalar_function_raises():
    with pytest.raises(RuntimeError):
        tt.grad(lambda x: x * 2)(tt.tensor([1.0, 2.0]))


def test_grad_results_are_plain_tensors():
    g = tt.grad(lambda x: (x * x).sum())(tt.tensor([1.0, 2.0]))
    assert g.tolist() == [2.0, 4.0]
    assert g.dtype == tt.float32


def test_nested_grad_gives_higher_derivatives_of_cube():
    cube = lambda x: x ** 3  # noqa: E731
    x = tt.tensor(2.0)
    assert tt.grad(cube)(x).item() == pytest.approx(12.0)  # 3x^2
    assert tt.grad(tt.grad(cube))(x).item() == pytest.approx(12.0)  # 6x
    assert tt.grad(tt.grad(tt.grad(cube)))(x).item() == pytest.approx(6.0)
    x = tt.tensor(3.0)  # where 3x^2 and 6x differ
    assert tt.grad(cube)(x).item() == pytest.approx(27.0)
    assert tt.grad(tt.grad(cube))(x).item() == pytest.approx(18.0)


def _torch_derivatives(fn, x0, order):
    x = torch.tensor(x0, requires_grad=True)
    y, out = fn(x), []
    for _ in range(order):
        (y,) = torch.autograd.grad(y, x, create_graph=True)
        out.append(y.item())
    return out


@pytest.mark.parametrize(
    "name,fn",
    [
        ("sin_x2", lambda x: x.sin() * x ** 2),
        ("tanh", lambda x: x.tanh()),
        ("exp_x", lambda x: (x * 0.5).exp() * x),
        ("sigmoid", lambda x: x.sigmoid()),
    ],
)
def test_nested_grad_matches_torch_create_graph(name, fn):
    x0 = 0.7
    expected = _torch_derivatives(fn, x0, 3)
    g = fn
    for order in range(3):
        g = tt.grad(g)
        assert g(tt.tensor(x0)).item() == pytest.approx(expected[order], rel=1e-4), order + 1


def test_grad_of_compiled_function_and_compile_of_grad():
    inner = tt.compile(lambda x: (x.exp() * x).sum())
    x = tt.tensor([0.0, 1.0])
    tx = torch.tensor([0.0, 1.0], requires_grad=True)
    (tx.exp() * tx).sum().backward()
    assert_close(tt.grad(inner)(x), tx.grad)
    assert_close(tt.compile(tt.grad(lambda x: (x.exp() * x).sum()))(x), tx.grad)


# ------------------------------------------------------------------ tt.trace / ir / source


def test_trace_graph_text_has_ops_and_types():
    graph = tt.trace(lambda x, w: (x @ w).relu().sum(), tt.ones(3, 4), tt.ones(4, 2))
    text = str(graph)
    for op in ("matmul", "relu", "sum"):
        assert op in text
    for ty in ("f32[3,4]", "f32[4,2]", "f32[3,2]", "f32[]"):
        assert ty in text


def test_trace_shows_other_dtypes():
    text = str(tt.trace(lambda x: (x * 2).double().exp(), tt.ones(2, 5)))
    assert "f32[2,5]" in text and "f64[2,5]" in text and "exp" in text


def test_ir_forward_and_backward():
    f = tt.compile(lambda x, w: (x @ w).tanh().sum())
    x, w = tt.ones(3, 4), tt.ones(4, 2, requires_grad=True)
    fwd = f.ir(x, w)
    assert "matmul" in fwd and "tanh" in fwd and "f32[3,4]" in fwd and "f32[3,2]" in fwd
    bwd = f.ir(x, w, backward=True)
    assert "grad" in bwd
    assert "f32[4,2]" in bwd  # the gradient of w
    assert bwd != fwd


def test_ir_backward_without_requires_grad_inputs():
    f = tt.compile(lambda x: (x * x).sum())
    assert "grad" in f.ir(tt.ones(3), backward=True)


def _make_compiled():
    @tt.compile
    def model(x, w):
        return (x @ w).relu().sum(0) * 2.0

    return model


def test_source_imports_only_numpy_and_is_deterministic():
    x, w = tt.ones(3, 4), tt.ones(4, 2)
    f1, f2 = _make_compiled(), _make_compiled()
    src = f1.source(x, w)
    imports = [ln.strip() for ln in src.splitlines()
               if re.match(r"\s*(import|from)\s", ln)]
    assert imports == ["import numpy as np"]
    assert src == f1.source(x, w)
    assert src == f2.source(x, w)
    compile(src, "<check>", "exec")  # valid Python
    wg = tt.ones(4, 2, requires_grad=True)
    bsrc = f1.source(x, wg, backward=True)
    assert [ln.strip() for ln in bsrc.splitlines()
            if re.match(r"\s*(import|from)\s", ln)] == ["import numpy as np"]
    assert bsrc == f2.source(x, wg, backward=True)


def test_generated_source_computes_the_function():
    x = tt.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    w = tt.tensor(np.linspace(1, -1, 8, dtype=np.float32).reshape(4, 2))
    f = _make_compiled()
    ns = {}
    exec(f.source(x, w), ns)
    funcs = [v for k, v in ns.items() if callable(v) and not k.startswith("__") and k != "np"]
    assert len(funcs) == 1
    out = funcs[0](x.numpy(), w.numpy())
    out = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(out, f(x, w).numpy(), rtol=1e-6)


# ------------------------------------------------------------------ data-dependent control flow


def _check_trace_error(err, marker):
    assert isinstance(err, RuntimeError)
    msg = str(err)
    assert f"{THIS_FILE}:{line_of(marker)}" in msg, msg
    assert "tt.where" in msg


def test_if_on_tensor_raises_trace_error():
    @tt.compile
    def f(x):
        if x.sum() > 0:  # MARK-if
            return x
        return -x

    with pytest.raises(tt.TraceError) as info:
        f(tt.tensor([1.0, 2.0]))
    _check_trace_error(info.value, "# MARK-if")


def test_float_of_tensor_raises_trace_error():
    @tt.compile
    def f(x):
        return x * float(x.sum())  # MARK-float

    with pytest.raises(tt.TraceError) as info:
        f(tt.tensor([1.0, 2.0]))
    _check_trace_error(info.value, "# MARK-float")


def test_item_raises_trace_error():
    @tt.compile
    def f(x):
        s = x.item()  # MARK-item
        return x * s

    with pytest.raises(tt.TraceError) as info:
        f(tt.tensor(3.0))
    _check_trace_error(info.value, "# MARK-item")


def test_bool_raises_trace_error():
    @tt.compile
    def f(x):
        return x if bool(x) else -x  # MARK-bool

    with pytest.raises(tt.TraceError) as info:
        f(tt.tensor(3.0))
    _check_trace_error(info.value, "# MARK-bool")


def test_trace_error_inside_grad():
    def f(x):
        if x > 0:  # MARK-grad-if
            return x * x
        return x

    with pytest.raises(tt.TraceError) as info:
        tt.grad(f)(tt.tensor(1.0))
    _check_trace_error(info.value, "# MARK-grad-if")


def test_trace_error_is_runtime_error_subclass():
    assert issubclass(tt.TraceError, RuntimeError)


def test_where_is_the_fix():
    @tt.compile
    def f(x):
        return tt.where(x.sum() > 0, x, -x)

    assert f(tt.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert f(tt.tensor([-1.0, -2.0])).tolist() == [1.0, 2.0]
    assert f.trace_count == 1


# ------------------------------------------------------------------ tracebacks through generated code


def test_traceback_shows_generated_lines(monkeypatch):
    f = tt.compile(lambda x, w: (x @ w).sum())
    x, w = tt.ones(2, 3), tt.ones(3, 2)
    assert f(x, w).item() == 12.0

    def boom(*args, **kwargs):
        raise ValueError("boom from numpy")

    monkeypatch.setattr(np, "matmul", boom)
    with pytest.raises(ValueError, match="boom") as info:
        f(x, w)
    frames = [fr for fr in traceback.extract_tb(info.value.__traceback__)
              if fr.filename.startswith("<torchtrek-generated")]
    assert frames, "no generated frame in the traceback"
    frame = frames[-1]
    assert frame.filename in linecache.cache
    assert "matmul" in linecache.getline(frame.filename, frame.lineno)
    assert "matmul" in (frame.line or "")
    assert "np.matmul" in "".join(traceback.format_exception(info.value))


def test_generated_sources_are_registered_in_linecache():
    f = tt.compile(lambda x: x.exp() + 1)
    f(tt.ones(2))
    src = f.source(tt.ones(2))
    names = [k for k in linecache.cache if isinstance(k, str) and k.startswith("<torchtrek-generated")]
    assert names
    assert any("".join(linecache.cache[n][2]) == src for n in names)
