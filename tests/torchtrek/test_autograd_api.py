"""tt.autograd.grad, Tensor.register_hook, tt.autograd.gradcheck and version counters
(in-place changes to tensors saved for backward), checked against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchtrek as tt


def run_both(fn):
    """fn(m) with m = torch and m = tt; returns (torch result, tt result)."""
    return fn(torch), fn(tt)


def to_np(x):
    return None if x is None else np.asarray(x.detach().numpy())


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b, rtol, atol)
    elif isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tt.Tensor), ours
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(to_np(ours), to_np(theirs), rtol=rtol, atol=atol)
    else:
        assert ours == theirs


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what we compare
        return e
    return None


def same_error(f, exc=RuntimeError, replace=True, upto=None):
    """f(m) raises in both: the same type, and the same message (torch. -> torchtrek.),
    compared up to and including `upto` when given (torch's hints name torch's APIs)."""
    theirs, ours = error_of(lambda: f(torch)), error_of(lambda: f(tt))
    assert isinstance(theirs, exc), theirs
    assert isinstance(ours, exc), ours
    if replace:
        a, b = str(ours), str(theirs).replace("torch.", "torchtrek.")
        if upto is not None:
            a, b = a[: a.index(upto) + len(upto)], b[: b.index(upto) + len(upto)]
        assert a == b, (a, b)
    return theirs, ours


def same_version_error(f):
    return same_error(f, upto="instead.")


X = [1.0, -2.0, 3.0]
W = [0.5, 1.5, -1.0]


# ------------------------------------------------------------------ autograd.grad


def test_exposed():
    assert callable(tt.autograd.grad) and callable(tt.autograd.gradcheck)
    assert callable(tt.autograd.backward)
    assert issubclass(tt.autograd.GradcheckError, RuntimeError)


def test_grad_leaf_does_not_touch_dot_grad():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        w = m.tensor(W, requires_grad=True)
        y = (x * w).sin().sum()
        g = m.autograd.grad(y, [x, w])
        return g, x.grad, w.grad, type(g).__name__

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_single_tensor_input_and_explicit_grad_outputs():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        y = x * x
        return m.autograd.grad(y, x, grad_outputs=m.tensor([1.0, 2.0, 3.0]))

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_non_leaf_inputs():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        h = x.exp()
        k = h * 3
        y = (k * h).sum()
        return m.autograd.grad(y, [k, h, x]), x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_multiple_outputs_with_grad_outputs():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        w = m.tensor(W, requires_grad=True)
        a = x * w
        b = (x + w).tanh()
        return m.autograd.grad([a, b], [x, w],
                               grad_outputs=[m.tensor([1.0, 0.5, 2.0]), m.ones(3)])

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_output_is_input():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        h = x * 2
        return m.autograd.grad(h.sum(), [h]), m.autograd.grad(x, [x], m.ones(3))

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_retain_graph():
    def second_fails(m):
        x = m.tensor(X, requires_grad=True)
        y = (x * x).sum()
        m.autograd.grad(y, [x])
        m.autograd.grad(y, [x])

    same_error(second_fails)

    def retained(m):
        x = m.tensor(X, requires_grad=True)
        y = (x * x).sum()
        g1 = m.autograd.grad(y, [x], retain_graph=True)
        g2 = m.autograd.grad(y, [x])
        y.backward  # noqa: B018
        return g1, g2

    theirs, ours = run_both(retained)
    assert_close(ours, theirs)


def test_grad_allow_unused():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        u = m.tensor(W, requires_grad=True)
        y = (x * 2).sum()
        return m.autograd.grad(y, [x, u], allow_unused=True)

    theirs, ours = run_both(f)
    assert ours[1] is None and theirs[1] is None
    assert_close(ours[0], theirs[0])

    def materialized(m):
        x = m.tensor(X, requires_grad=True)
        u = m.tensor(W, requires_grad=True)
        return m.autograd.grad((x * 2).sum(), [x, u], materialize_grads=True)

    theirs, ours = run_both(materialized)
    assert_close(ours, theirs)

    def unused(m):
        x = m.tensor(X, requires_grad=True)
        u = m.tensor(W, requires_grad=True)
        m.autograd.grad((x * 2).sum(), [x, u])

    _, err = same_error(unused)
    assert "Set allow_unused=True if this is the desired behavior." in str(err)


def test_grad_errors():
    def no_req(m):
        x = m.tensor(X, requires_grad=True)
        m.autograd.grad((x * 2).sum(), [x, m.ones(3)])

    same_error(no_req)

    def out_no_req(m):
        x = m.tensor(X, requires_grad=True)
        m.autograd.grad(m.ones(3).sum(), [x])

    same_error(out_no_req)

    def not_scalar(m):
        x = m.tensor(X, requires_grad=True)
        m.autograd.grad(x * 2, [x])

    same_error(not_scalar)

    def bad_shape(m):
        x = m.tensor(X, requires_grad=True)
        m.autograd.grad(x * 2, [x], grad_outputs=m.ones(2))

    same_error(bad_shape)


def test_grad_create_graph_not_supported():
    x = tt.tensor(X, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"tt\.grad\(tt\.grad\(f\)\)"):
        tt.autograd.grad((x * x).sum(), [x], create_graph=True)


def test_grad_prunes_unrelated_branches():
    # torch runs only what the inputs need: a hook on an unrelated leaf does not fire
    def f(m):
        calls = []
        x = m.tensor(X, requires_grad=True)
        u = m.tensor(W, requires_grad=True)
        u.register_hook(lambda g: calls.append("u"))
        y = (x * 2).sum() + (u * u).sum()
        g = m.autograd.grad(y, [x])
        return g, calls, u.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_backward_with_inputs():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        w = m.tensor(W, requires_grad=True)
        m.autograd.backward((x * w).sum(), inputs=[x])
        return x.grad, w.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ hooks


def test_leaf_hook_modifies_grad_and_runs_once_on_the_sum():
    def f(m):
        seen = []
        x = m.tensor(X, requires_grad=True)

        def hook(g):
            seen.append(g.clone())
            return g * 10

        x.register_hook(hook)
        (x * x + x).sum().backward()  # x reaches the loss three times
        return x.grad, seen

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_leaf_hook_runs_before_accumulation_each_backward():
    def f(m):
        seen = []
        x = m.tensor(X, requires_grad=True)
        x.register_hook(lambda g: seen.append(g.clone()))
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        return x.grad, seen

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_non_leaf_hook_replaces_gradient_flowing_on():
    def f(m):
        seen = []
        x = m.tensor(X, requires_grad=True)
        h = x * 2
        h.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        y = (h * h).sum()
        y.backward()
        return x.grad, seen

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_hook_on_root_and_chained_hooks():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        y = (x * 3).sum()
        y.register_hook(lambda g: g * 2)
        y.register_hook(lambda g: g + 1)
        y.backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_hook_remove():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        handle = x.register_hook(lambda g: g * 100)
        (x * 2).sum().backward()
        first = x.grad.clone()
        handle.remove()
        handle.remove()  # twice is fine
        x.grad = None
        (x * 2).sum().backward()
        return first, x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_hooks_with_autograd_grad():
    # a leaf's hooks apply to what autograd.grad returns; a non-leaf input is captured
    # before its hooks run, but their change still flows to the tensors below it
    def f(m):
        x = m.tensor(X, requires_grad=True)
        x.register_hook(lambda g: g * 10)
        h = x * 2
        h.register_hook(lambda g: g * 3)
        y = (h * h).sum()
        return m.autograd.grad(y, [h, x]), x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_hook_on_tensor_without_grad():
    same_error(lambda m: m.ones(3).register_hook(lambda g: g))


# ------------------------------------------------------------------ gradcheck


def test_gradcheck_passes():
    def f(m):
        a = m.tensor(X, dtype=m.float64, requires_grad=True)
        b = m.tensor(W, dtype=m.float64, requires_grad=True)
        c = m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64, requires_grad=True)
        return (m.autograd.gradcheck(lambda p, q: (p * q).sin() + p.exp(), (a, b)),
                m.autograd.gradcheck(lambda p: (p * p, p.sum()), (a,)),
                m.autograd.gradcheck(lambda p: p @ p, (c,)),
                m.autograd.gradcheck(lambda p: p.tanh(), a))

    theirs, ours = run_both(f)
    assert ours == theirs == (True, True, True, True)


def test_gradcheck_fails_like_torch():
    def wrong(m):
        a = m.tensor(X, dtype=m.float64, requires_grad=True)
        # detach hides one factor from autograd: analytical a, numerical 2a
        m.autograd.gradcheck(lambda p: p.detach() * p, (a,))

    theirs, ours = same_error(wrong, replace=False)
    assert str(theirs).startswith("Jacobian mismatch for output 0 with respect to input 0,")
    assert str(ours).startswith("Jacobian mismatch for output 0 with respect to input 0,")
    assert "numerical:" in str(ours) and "analytical:" in str(ours)
    assert isinstance(ours, tt.autograd.GradcheckError)

    def quiet(m):
        a = m.tensor(X, dtype=m.float64, requires_grad=True)
        return m.autograd.gradcheck(lambda p: p.detach() * p, (a,), raise_exception=False)

    theirs, ours = run_both(quiet)
    assert ours is False and theirs is False


def test_gradcheck_needs_an_input_requiring_grad():
    same_error(lambda m: m.autograd.gradcheck(lambda p: p * 2, (m.ones(3, dtype=m.float64),)),
               exc=ValueError)


# ------------------------------------------------------------------ version counters


def test_version_counts_in_place_ops_and_views_share_it():
    def f(m):
        t = m.ones(3)
        v0 = t._version
        t.add_(1)
        t.mul_(2)
        view = t.reshape(3)
        view.sub_(1)
        return v0, t._version, view._version, t

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_modified_saved_input_is_an_error():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        w = m.tensor(W)
        y = (x * w).sum()  # saves w (for x's gradient)
        w.add_(1)
        y.backward()

    same_version_error(f)


def test_modified_leaf_under_no_grad_is_an_error():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        y = (x * x).sum()
        with m.no_grad():
            x.mul_(2)
        y.backward()

    same_version_error(f)


def test_modified_saved_output_and_non_leaf_are_errors():
    def out(m):
        x = m.tensor(X, requires_grad=True)
        y = x.exp()  # saves its output
        y.add_(1)
        y.sum().backward()

    _, err = same_version_error(out)
    assert "which is output 0 of Exp," in str(err)

    def nonleaf(m):
        x = m.tensor(X, requires_grad=True)
        h = x * 2
        y = h.sin()  # saves h
        h.add_(1)
        y.sum().backward()

    same_version_error(nonleaf)

    def shape_2d(m):
        x = m.ones(2, 3, requires_grad=True)
        w = m.ones(2, 3, dtype=m.float64)
        y = (x.double() * w).sum()
        w.zero_()
        y.backward()

    same_version_error(shape_2d)


def test_modification_of_unsaved_tensor_is_fine():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        w = m.tensor(W)
        y = (x + w).sum()  # add saves nothing
        w.add_(1)
        z = (x * 2).sum()  # multiplying by a number saves nothing either
        with m.no_grad():
            x.add_(1)
        y.backward()
        z.backward()
        return x.grad, w

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_in_place_on_non_leaf_records_the_op():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        z = m.tensor(W, requires_grad=True)
        h = x * 2
        h.mul_(z)  # saves h's old value for z's gradient
        h.add_(1)
        h.div_(m.tensor([2.0, 4.0, 8.0]))
        (h * h).sum().backward()
        return x.grad, z.grad, type(h.grad_fn).__name__, h._version, h.is_leaf

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_in_place_on_no_grad_tensor_with_grad_operand():
    def f(m):
        z = m.tensor(W, requires_grad=True)
        a = m.tensor(X)
        a.mul_(z)
        (a * 3).sum().backward()
        return z.grad, a.requires_grad, a.is_leaf

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_in_place_on_view_of_leaf_is_an_error():
    def f(m):
        x = m.tensor(X, requires_grad=True)
        x.reshape(3).add_(1)

    same_error(f)
