"""Pre-torch-2 code that torch 2.13 still runs (typed constructors, Variable, .data) and
torch.autograd.Function, eagerly and inside compiled functions, against torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")


@pytest.mark.parametrize("make", [
    lambda m: m.LongTensor([1, 2, 3]), lambda m: m.FloatTensor([[1, 2]]), lambda m: m.Tensor(2, 3),
    lambda m: m.Tensor([1, 2]), lambda m: m.Tensor(), lambda m: m.DoubleTensor(2),
    lambda m: m.ByteTensor(3).zero_(), lambda m: m.IntTensor([7]), lambda m: m.BoolTensor([1, 0]),
    lambda m: m.Tensor(m.Size([2, 2])), lambda m: m.HalfTensor([0.5]),
])
def test_legacy_constructors(make):
    want, got = make(torch), make(tt)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert tuple(got.shape) == tuple(want.shape)
    # (uninitialized float storage is compared only where torch's came out zeroed: the same
    # tensor's sum, not a second one's, which may hold other leftovers)
    if want.numel() and want.dtype not in (torch.float32, torch.float64) or want.sum() == 0:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.type().split(".")[-1] == want.type().split(".")[-1]


def test_legacy_types_and_variable():
    x = tt.LongTensor([1])
    assert isinstance(x, tt.LongTensor) and not isinstance(x, tt.FloatTensor)
    assert x.type(tt.FloatTensor).dtype is tt.float32
    assert x.type("torch.DoubleTensor").dtype is tt.float64
    from torchtrek.autograd import Variable

    v = Variable(tt.ones(2, 2), requires_grad=True)
    assert type(v) is tt.Tensor and v.requires_grad and v.is_leaf
    (v * 3).sum().backward()
    v.data.add_(-0.5 * v.grad.data)  # SGD by hand through .data, as old tutorials do
    assert v.tolist() == [[-0.5, -0.5], [-0.5, -0.5]] and v.requires_grad
    with pytest.raises(RuntimeError, match="negative dimension"):
        tt.Tensor(2, -1)


def test_softmax_without_dim_warns_as_torch():
    for m in (torch, tt):
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            out = m.nn.functional.softmax(m.ones(2, 3))
        assert tuple(out.shape) == (2, 3)


def _functions(m):
    class Exp(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            y = x.exp() * k
            ctx.save_for_backward(y)
            ctx.k = k
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False)
            return g * y, None

    class RoundSTE(m.autograd.Function):  # the straight-through estimator: not round's grad
        @staticmethod
        def forward(x):
            return x.round()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g * 0.5

    class TwoOut(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            idx = (a > b).long()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(a, b)
            return a * b, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            a, b = ctx.saved_tensors
            return g * b, g * a
    return Exp, RoundSTE, TwoOut


def _program(m, fns, a, b):
    Exp, RoundSTE, TwoOut = fns
    y = Exp.apply(a, 2.0)
    p, idx = TwoOut.apply(y, b)
    return (p.sum() + RoundSTE.apply(a * 3).sum()) * (1 + idx.sum()), idx


@pytest.mark.parametrize("mode", ["eager", "numpy", "c"])
def test_autograd_function_matches_torch(mode):
    rng = np.random.RandomState(0)
    a0, b0 = rng.randn(3, 2).astype(np.float32), rng.randn(3, 2).astype(np.float32)
    res = {}
    for m in (torch, tt):
        fns = _functions(m)
        a = m.tensor(a0, requires_grad=True)
        b = m.tensor(b0, requires_grad=True)
        fn = (lambda a, b: _program(m, fns, a, b))
        if m is tt and mode != "eager":
            fn = tt.compile(fn, backend=mode)
        loss, idx = fn(a, b)
        loss.backward()
        res[m.__name__] = (float(loss), a.grad.numpy().copy(), b.grad.numpy().copy(),
                           idx.requires_grad)
    for g, w in zip(res["torchtrek"], res["torch"]):
        np.testing.assert_allclose(g, w, rtol=1e-5)


def test_autograd_function_in_a_compiled_training_step():
    rng = np.random.RandomState(1)
    x0, w0 = rng.randn(4, 3).astype(np.float32), rng.randn(3, 2).astype(np.float32)
    res = {}
    for m in (torch, tt):
        Exp, RoundSTE, _ = _functions(m)
        w = m.nn.Parameter(m.tensor(w0))
        opt = m.optim.SGD([w], lr=0.01)

        def step(x):
            loss = Exp.apply(x @ w, 0.5).mean() + RoundSTE.apply(w).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        if m is tt:
            step = tt.compile(step)
        res[m.__name__] = ([float(step(m.tensor(x0)).detach()) for _ in range(3)],
                           w.detach().numpy().copy())
    np.testing.assert_allclose(res["torchtrek"][0], res["torch"][0], rtol=1e-5)
    np.testing.assert_allclose(res["torchtrek"][1], res["torch"][1], rtol=1e-5)


def test_function_node_and_errors():
    Exp, _, _ = _functions(tt)
    y = Exp.apply(tt.ones(2, requires_grad=True), 1.0)
    assert type(y.grad_fn).__name__ == "ExpBackward"
    y.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()

    class Bad(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return ()

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(tt.ones(1, requires_grad=True)).sum().backward()
    with pytest.raises(RuntimeError, match="non-static forward"):
        Bad()
