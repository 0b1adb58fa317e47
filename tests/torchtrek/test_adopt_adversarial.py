"""Adversarial tests of the compiled write-back "adopt" (torchtrek/compiler.py
_Entry._adopt / _apply_effects): after a compiled step a parameter, a buffer or a .grad
takes the step's new array instead of a copy when nothing else references its old array.
Whatever the user holds (.numpy(), detach(), views, optimizer state, state_dict tensors,
earlier results, saved residuals) must behave as in torch, and no two tensors may end up
sharing memory.

Tests marked xfail(strict=True) demonstrate bugs (see their reasons)."""

import itertools

import numpy as np
import pytest
import torch

import torchtrek as tt

BACKENDS = ["numpy", "c"]


def _nets():
    torch.manual_seed(0)
    pm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5))
    tm = tt.nn.Sequential(tt.nn.Linear(4, 5), tt.nn.Tanh(), tt.nn.Linear(5, 5))
    tm.load_state_dict({k: tt.tensor(v.detach().numpy().copy()) for k, v in pm.state_dict().items()})
    return pm, tm


def _opts(opt, pm, tm):
    if opt == "sgd":
        return (torch.optim.SGD(pm.parameters(), lr=0.05, momentum=0.9),
                tt.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9))
    return torch.optim.Adam(pm.parameters(), lr=0.01), tt.optim.Adam(tm.parameters(), lr=0.01)


def _x(i):
    return np.random.default_rng(i).standard_normal((3, 4)).astype(np.float32)


def _arrays_of(module, opt):
    out = []
    for p in module.parameters():
        out.append(("param", p._data))
        if p.grad is not None:
            out.append(("grad", p.grad._data))
    for st in opt.state.values():
        for k, v in st.items():
            if isinstance(v, tt.Tensor) and v._data is not None and v._data.ndim:
                out.append((k, v._data))
    return out


# ---------------------------------------------------------------- training: values, holders, sharing
@pytest.mark.parametrize("zero", [True, False], ids=["zero_grad", "accumulate"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_training_steps_match_torch_and_holders_see_updates(backend, opt, zero):
    pm, tm = _nets()
    po, to = _opts(opt, pm, tm)

    def step(m, o, net, x):
        if zero:
            o.zero_grad(set_to_none=False)
        loss = (net(x) ** 2).mean()
        loss.backward()
        o.step()
        return loss

    c = tt.compile(lambda x: step(tt, to, tm, x), backend=backend)
    w, pw = tm[0].weight, pm[0].weight
    held = {  # what a user may keep across steps
        "numpy": (w.detach().numpy(), lambda: pw.detach().numpy()),
        "detach": (w.detach(), lambda: pw.detach()),
        "view": (w.view(-1), lambda: pw.detach().view(-1)),
        "data": (w.data, lambda: pw.data),
        "state_dict": (tm.state_dict()["0.weight"], lambda: pm.state_dict()["0.weight"]),
        "bias_slice": (tm[2].bias[1:3], lambda: pm[2].bias.detach()[1:3]),
    }
    for i in range(4):
        x = _x(i)
        loss = c(tt.tensor(x))
        ploss = step(torch, po, pm, torch.tensor(x))
        np.testing.assert_allclose(loss.item(), ploss.item(), rtol=1e-4)
        for (n, a), (_, b) in zip(tm.named_parameters(), pm.named_parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=n)
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=n)
        for name, (mine, theirs) in held.items():
            got = mine if isinstance(mine, np.ndarray) else mine.detach().numpy()
            np.testing.assert_allclose(got, np.asarray(theirs()), rtol=1e-4, atol=1e-6, err_msg=name)
        if i == 1:  # optimizer state held from now on
            key = "exp_avg" if opt == "adam" else "momentum_buffer"
            st, pst = to.state[w][key], po.state[pw][key]
            st_np, st_sd = st.numpy(), to.state_dict()["state"][0][key]
        if i >= 1:
            for got in (st.numpy(), st_np, st_sd.numpy()):
                np.testing.assert_allclose(got, pst.numpy(), rtol=1e-4, atol=1e-6)
    arrays = _arrays_of(tm, to)
    for (na, a), (nb, b) in itertools.combinations(arrays, 2):
        assert not np.shares_memory(a, b), (na, nb)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_memory_shared_after_many_steps_and_eager_ops_between(backend):
    pm, tm = _nets()
    to = tt.optim.Adam(tm.parameters(), lr=0.01)

    def step(x):
        to.zero_grad()
        loss = (tm(x) ** 2).mean()
        loss.backward()
        to.step()
        return loss

    c = tt.compile(step, backend=backend)
    snapshots = []
    for i in range(8):
        c(tt.tensor(_x(i)))
        with tt.no_grad():  # eager results in between
            junk = [p * 2 for p in tm.parameters()] + [p.grad + 1 for p in tm.parameters()]
        snapshots.append([p.detach().numpy().copy() for p in tm.parameters()])
        for (na, a), (nb, b) in itertools.combinations(_arrays_of(tm, to), 2):
            assert not np.shares_memory(a, b), (i, na, nb)
        for j, p in zip(junk, tm.parameters()):
            assert not np.shares_memory(j.numpy(), p._data)
    for p in tm.parameters():
        p.data.add_(0)  # still writable
    assert all(not np.array_equal(a[0], b[0]) for a, b in zip(snapshots, snapshots[1:]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_assigned_grad_is_accumulated_in_place_like_torch(backend):
    for m in (tt, torch):
        w = m.ones(3, requires_grad=True)
        g = m.full((3,), 10.0)
        w.grad = g

        def step(x):
            (w * x).sum().backward()

        s = tt.compile(step, backend=backend) if m is tt else step
        s(m.full((3,), 2.0))
        s(m.full((3,), 3.0))
        assert w.grad is g and g.tolist() == [15.0] * 3, m.__name__


@pytest.mark.parametrize("backend", BACKENDS)
def test_buffer_copied_from_an_input_does_not_alias_it(backend):
    buf = tt.zeros(6)
    other = tt.zeros(6)

    def f(x):
        buf.copy_(x)
        other.copy_(x.reshape(2, 3).t().reshape(-1))
        return x * 2

    c = tt.compile(f, backend=backend)
    x = tt.arange(6).float()
    out = c(x)
    x.add_(100)  # the caller writes to its argument afterwards
    assert buf.tolist() == [0, 1, 2, 3, 4, 5]
    assert other.tolist() == [0, 3, 1, 4, 2, 5]
    assert out.tolist() == [0, 2, 4, 6, 8, 10]
    for a, b in itertools.combinations([buf._data, other._data, x._data, out._data], 2):
        assert not np.shares_memory(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_buffers_given_the_same_value_stay_apart(backend):
    a, b = tt.zeros(4), tt.zeros(4)
    g = tt.zeros(4, requires_grad=True)

    def f(x):
        v = x * 3
        a.copy_(v)
        b.copy_(v)
        (g * v).sum().backward()  # g.grad is the same value as well

    c = tt.compile(f, backend=backend)
    for i in range(3):
        c(tt.full((4,), float(i + 1)))
    assert a.tolist() == b.tolist() == [9.0] * 4
    assert g.grad.tolist() == [3.0 + 6.0 + 9.0] * 4
    for p, q in itertools.combinations([a._data, b._data, g.grad._data], 2):
        assert not np.shares_memory(p, q)
    a.add_(1)
    assert b.tolist() == [9.0] * 4 and g.grad.tolist() == [18.0] * 4


def _sgd_step(p, lr, backend="numpy", result=lambda loss, p: None):
    """tt.compile of one SGD step on (p * x).sum(), returning result(loss, p)."""
    opt = tt.optim.SGD([p], lr=lr)

    def step(x):
        opt.zero_grad()
        loss = (p * x).sum()
        loss.backward()
        opt.step()
        return result(loss, p)

    return tt.compile(step, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_kept_from_earlier_steps_are_not_overwritten(backend):
    w = tt.ones(4, requires_grad=True)
    c = _sgd_step(w, 0.5, backend, lambda loss, w: (loss, w * 1, w.grad * 1))
    kept = [c(tt.ones(4)) for _ in range(3)]
    assert [k[1].tolist()[0] for k in kept] == [0.5, 0.0, -0.5]
    assert [k[2].tolist()[0] for k in kept] == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- bugs
@pytest.mark.parametrize("kind", ["detach_of_slice", "parameter_of_slice", "parameter_of_view", "from_numpy_slice"])
def test_parameter_that_views_another_tensor_updates_it(kind):
    if kind == "from_numpy_slice":
        base = np.zeros(8, np.float32)
        p = tt.from_numpy(base[2:6]).requires_grad_()
    else:
        base = tt.zeros(8)
        p = {"detach_of_slice": lambda: base[2:6].detach().requires_grad_(),
             "parameter_of_slice": lambda: tt.nn.Parameter(base[2:6]),
             "parameter_of_view": lambda: tt.nn.Parameter(base.view(2, 4))}[kind]()
    c = _sgd_step(p, 1.0)
    for _ in range(2):
        c(tt.ones(tuple(p.shape)))
    assert p.detach().reshape(-1).tolist() == [-2.0] * p.numel()
    got = base.tolist() if isinstance(base, np.ndarray) else base.tolist()
    want = [-2.0] * 8 if kind == "parameter_of_view" else [0, 0, -2, -2, -2, -2, 0, 0]
    assert got == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_buffer_value_saved_for_backward_survives_the_next_call(backend):
    buf = tt.zeros(5)
    w = tt.ones(5, requires_grad=True)

    def f(x):
        buf.copy_(x * 2)
        return (buf * w).sum()

    c = tt.compile(f, backend=backend)
    l1 = c(tt.arange(5).float())
    c(tt.full((5,), 100.0))
    try:
        l1.backward()
    except RuntimeError:
        return  # refusing, as torch does, is right too
    assert w.grad.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_result_viewing_a_written_back_value_does_not_alias_the_buffer(backend):
    buf = tt.zeros(6)

    def f(x):
        h = x * 2
        buf.copy_(h)
        return h.reshape(2, 3)

    c = tt.compile(f, backend=backend)
    out = c(tt.ones(6))
    buf.add_(100)
    c(tt.full((6,), 3.0))
    assert out.reshape(-1).tolist() == [2.0] * 6
    assert not np.shares_memory(out.numpy(), buf.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_update_of_a_value_saved_for_backward(backend):
    w = tt.full((3,), 2.0)

    def f(x):
        y = (x * w).sum()
        w.mul_(0.5)
        return y

    c = tt.compile(f, backend=backend)
    x = tt.ones(3, requires_grad=True)
    y = c(x)
    # torch: "... modified by an inplace operation: ... is at version 1; expected version 0"
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; expected version 0"):
        y.backward()


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_in_place_updates_bump_the_version(backend):
    # one version per in-place op, as eagerly (torch: 2 after two w.add_(x), 6 after two
    # calls that each make two more)
    w = tt.zeros(4, requires_grad=True)

    def f(x):
        with tt.no_grad():
            w.add_(x)

    c = tt.compile(f, backend=backend)
    c(tt.ones(4))
    c(tt.ones(4))
    assert w.tolist() == [2.0] * 4
    assert w._version == 2

    def g(x):
        with tt.no_grad():
            w.mul_(2)
            w.sub_(x)

    c2 = tt.compile(g, backend=backend)
    c2(tt.ones(4))
    c2(tt.ones(4))
    assert w.tolist() == [5.0] * 4
    assert w._version == 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_grads_kept_from_earlier_steps_with_set_to_none(backend):
    w = tt.ones(3, requires_grad=True)
    c = _sgd_step(w, 0.1, backend)
    kept = []
    for i in range(3):
        c(tt.full((3,), float(i + 1)))
        kept.append(w.grad)
    assert [g.tolist()[0] for g in kept] == [1.0, 2.0, 3.0]


def test_parameter_returned_from_the_step_is_the_parameter():
    w = tt.ones(3, requires_grad=True)
    c = _sgd_step(w, 0.5, result=lambda loss, w: (loss, w))
    _, out = c(tt.ones(3))
    c(tt.ones(3))
    assert out.requires_grad and out.tolist() == w.tolist() == [0.0] * 3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("set_to_none", [True, False])
def test_grad_objects_across_steps_follow_torch(backend, set_to_none):
    """Which .grad object each step leaves, against torch eager: set_to_none makes a new
    one per step (kept ones keep their values); zeroing keeps one object, written into."""
    def run(lib, compiled):
        w = lib.ones(3, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad(set_to_none=set_to_none)
            (w * x).sum().backward()
            opt.step()
            return {"w": w, "grad": w.grad}

        f = tt.compile(step, backend=backend) if compiled else step
        kept, outs = [], []
        for i in range(3):
            outs.append(f(lib.full((3,), float(i + 1))))
            kept.append(w.grad)
        same = [k is kept[-1] for k in kept]
        return ([k.tolist() for k in kept], same, [o["w"] is w for o in outs],
                [o["grad"] is kept[i] for i, o in enumerate(outs)], w.tolist())

    assert run(tt, True) == run(torch, False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_arguments_updated_in_place_are_written_back_like_torch(backend):
    """An argument the function updates in place (x.add_, a buffer in a list) holds the
    new value after the call, its version bumps once per in-place op, and a returned
    argument is the argument itself: as torch eager (and torch.compile) do."""
    def f(lib, x, bufs):
        with lib.no_grad():
            x.mul_(2)
            x.add_(1)
            bufs[0].sub_(x)
        return x, (x * 3).sum()

    c = tt.compile(lambda x, bufs: f(tt, x, bufs), backend=backend)
    a = np.arange(4, dtype=np.float32)
    for _ in range(2):
        tx, tb = tt.tensor(a), [tt.ones(4)]
        px, pb = torch.tensor(a), [torch.ones(4)]
        r, s = c(tx, tb)
        pr, ps = f(torch, px, pb)
        assert r is tx and pr is px
        assert tx.tolist() == px.tolist() and tb[0].tolist() == pb[0].tolist()
        assert s.item() == ps.item()
        assert tx._version == px._version == 2 and tb[0]._version == pb[0]._version == 1
    assert c.trace_count == 1
