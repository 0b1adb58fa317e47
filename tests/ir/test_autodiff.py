"""Backward graphs: sympy-derived pointwise derivatives, VJP rules, the shared driver."""

import numpy as np

import torchtrek as tt
from torchtrek.ir import symbolic


def test_pointwise_derivatives_come_from_sympy_and_reuse_the_result():
    # d/dx tanh(x) = 1 - tanh(x)**2, written with the op's own output
    assert str(symbolic.derivative("tanh", (), (None,), 0)) == "1 - out**2"
    assert str(symbolic.derivative("exp", (), (None,), 0)) == "out"
    assert str(symbolic.derivative("sin", (), (None,), 0)) == "cos(x0)"
    assert str(symbolic.derivative("pow", (), (None, 2), 0)) == "2*x0"
    # -a/b**2 written as -(a/b)/b: the quotient is reused
    assert str(symbolic.derivative("div", (), (None, None), 1)) == "-out/x1"


def test_sigmoid_gradient_is_finite_far_from_zero():
    x = tt.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], requires_grad=True)
    tt.sigmoid(x).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    g = tt.grad(lambda x: tt.sigmoid(x).sum())(tt.tensor([-1000.0, 1000.0]))
    assert np.all(np.isfinite(g.numpy()))


def test_backward_ir_sums_broadcast_gradients_back():
    # (squared: the cotangent of a plain sum is itself a broadcast, whose sum over the
    # batch the optimizer turns into a product, see test_passes)
    f = tt.compile(lambda x, b: ((x + b) ** 2).sum())
    text = f.ir(tt.ones(4, 3), tt.ones(3), backward=True)
    assert "sum[dims=(0,), keepdim=True]" in text
    assert "%grad_b: f32[3]" in text


def test_int_inputs_get_no_gradient_and_unused_inputs_get_zeros():
    def f(x, n, unused):
        return (x * n).sum()

    gx, gu = tt.grad(f, argnums=(0, 2))(tt.ones(3), tt.tensor([1, 2, 3]), tt.ones(2))
    assert gx.tolist() == [1.0, 2.0, 3.0]
    assert gu.tolist() == [0.0, 0.0]


def test_fan_out_gradients_are_added():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    f = tt.compile(lambda x: (x * x + x).sum())
    f(x).backward()
    assert x.grad.tolist() == [3.0, 5.0]


def test_backward_graph_names_gradients_after_inputs():
    f = tt.compile(lambda x, w1: (x @ w1).tanh().sum())
    text = f.ir(tt.ones(2, 3), tt.ones(3, 4), backward=True)
    assert "%grad_w1: f32[3,4]" in text and "%grad_x: f32[2,3]" in text
    assert 'expr="x0*(1 - x1**2)"' in text  # tanh' from sympy, reusing tanh's output
