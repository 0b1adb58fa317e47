"""Adversarial tests of shape-generic compiled functions (tt.compile(dynamic=True) and
automatic dynamic sizes). torch is the oracle for values and gradients at every size;
what needs a concrete size must specialize with correct results, and a new size must not
trace again where one generic trace serves.

Tests marked xfail(strict=True) demonstrate bugs (see their reasons)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torchtrek as tt
import torchtrek.nn.functional as TF
from torchtrek.ir.parser import parse

BACKENDS = ["numpy", "c"]
rng = np.random.default_rng(1234)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def _load_from_torch(tmod, ttmod):
    ttmod.load_state_dict({k: tt.tensor(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()})


def _close(a, b, rtol=1e-4, atol=1e-5, msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=msg)


# ---------------------------------------------------------------- nn.Module forward
MODULES = {
    "linear": (lambda m: m.nn.Linear(6, 3), [(4, 6), (7, 6), (2, 6), (4, 6)]),
    "sequential": (lambda m: m.nn.Sequential(m.nn.Linear(6, 8), m.nn.ReLU(), m.nn.Linear(8, 2)),
                   [(4, 6), (9, 6), (3, 6)]),
    "conv2d": (lambda m: m.nn.Conv2d(3, 4, 3, padding=1), [(2, 3, 5, 5), (4, 3, 5, 5), (5, 3, 5, 5)]),
    "conv2d_stride": (lambda m: m.nn.Conv2d(3, 4, 3, stride=2), [(2, 3, 7, 7), (6, 3, 7, 7)]),
    "layer_norm": (lambda m: m.nn.LayerNorm(5), [(4, 5), (6, 5), (3, 5)]),
    "dropout_eval": (lambda m: m.nn.Sequential(m.nn.Linear(5, 4), m.nn.Dropout(0.5)), [(4, 5), (8, 5)]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_forward_and_gradients_across_batch_sizes(name, backend):
    make, shapes = MODULES[name]
    torch.manual_seed(0)
    pm, tm = make(torch), make(tt)
    _load_from_torch(pm, tm)
    pm.eval()
    tm.eval()
    c = tt.compile(tm, dynamic=True, backend=backend)
    counts = []
    for shape in shapes:
        x = _f32(*shape)
        tx, px = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        for p in list(tm.parameters()) + list(pm.parameters()):
            p.grad = None
        out, ref = c(tx), pm(px)
        _close(out.detach().numpy(), ref.detach().numpy(), msg=str(shape))
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        _close(tx.grad.numpy(), px.grad.numpy(), msg=f"input grad {shape}")
        for (n, a), (_, b) in zip(tm.named_parameters(), pm.named_parameters()):
            _close(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4, msg=f"{n} {shape}")
        counts.append(c.trace_count)
    assert c._dynamic
    assert counts[-1] == counts[0], counts  # same rank and feature sizes: no new trace


def test_embedding_and_cross_entropy_with_ignore_index():
    torch.manual_seed(0)
    pe, te = torch.nn.Embedding(10, 4), tt.nn.Embedding(10, 4)
    _load_from_torch(pe, te)

    def f(m, Fn, idx, y):
        return Fn.cross_entropy(m(idx).sum(1), y, ignore_index=1)

    for backend in BACKENDS:
        c = tt.compile(lambda idx, y: f(te, TF, idx, y), dynamic=True, backend=backend)
        for b, length in ((4, 3), (6, 3), (5, 7), (2, 2), (6, 3)):
            idx = rng.integers(0, 10, (b, length))
            y = rng.integers(0, 4, b)
            y[0] = 1
            te.weight.grad = None
            pe.weight.grad = None
            lt, lp = c(tt.tensor(idx), tt.tensor(y)), f(pe, F, torch.tensor(idx), torch.tensor(y))
            _close(lt.item(), lp.item(), rtol=1e-5)
            lt.backward()
            lp.backward()
            _close(te.weight.grad.numpy(), pe.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
        assert c._dynamic and c.trace_count <= 3


def test_dropout_mode_switch_retraces_and_train_mode_is_random():
    m = tt.nn.Dropout(0.5)
    c = tt.compile(lambda x: m(x), dynamic=True, backend="numpy")
    m.eval()
    assert c(tt.ones(4, 3)).tolist() == [[1.0] * 3] * 4
    assert c(tt.ones(6, 3)).tolist() == [[1.0] * 3] * 6
    m.train()
    o1, o2 = c(tt.ones(300, 3)).numpy(), c(tt.ones(300, 3)).numpy()
    assert set(np.unique(o1)) == {0.0, 2.0}
    assert not np.array_equal(o1, o2)


# ---------------------------------------------------------------- training steps
@pytest.mark.parametrize("dynamic", [True, "auto"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_training_step_with_optimizer_across_batch_sizes(backend, opt, dynamic):
    torch.manual_seed(0)
    pm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    tm = tt.nn.Sequential(tt.nn.Linear(5, 7), tt.nn.Tanh(), tt.nn.Linear(7, 3))
    _load_from_torch(pm, tm)
    if opt == "sgd":
        po = torch.optim.SGD(pm.parameters(), lr=0.1, momentum=0.9)
        to = tt.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    else:
        po = torch.optim.Adam(pm.parameters(), lr=0.01)
        to = tt.optim.Adam(tm.parameters(), lr=0.01)

    def step(x, y):
        to.zero_grad()
        loss = TF.cross_entropy(tm(x), y, ignore_index=-100)
        loss.backward()
        to.step()
        return loss

    c = tt.compile(step, dynamic=dynamic, backend=backend)
    for b in (8, 8, 5, 12, 3, 8, 2):
        x = _f32(b, 5)
        y = rng.integers(0, 3, b)
        y[0] = -100
        loss = c(tt.tensor(x), tt.tensor(y))
        po.zero_grad()
        pl = F.cross_entropy(pm(torch.tensor(x)), torch.tensor(y), ignore_index=-100)
        pl.backward()
        po.step()
        _close(loss.item(), pl.item(), rtol=1e-5, msg=f"b={b}")
        for (n, a), (_, p) in zip(tm.named_parameters(), pm.named_parameters()):
            _close(a.detach().numpy(), p.detach().numpy(), rtol=1e-4, atol=1e-5, msg=f"{n} b={b}")
            _close(a.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5, msg=f"grad {n} b={b}")
    assert c._dynamic and c.trace_count <= 2


# ---------------------------------------------------------------- ops on a symbolic batch
CASES = {
    "mean_keep": lambda m, Fn, x: x.mean(1, keepdim=True) * x,
    "var0": lambda m, Fn, x: x.var(0, unbiased=False),
    "std0": lambda m, Fn, x: x.std(0),
    "std_all": lambda m, Fn, x: x.std(),
    "logsumexp0": lambda m, Fn, x: m.logsumexp(x, 0),
    "softmax0": lambda m, Fn, x: Fn.softmax(x, 0),
    "log_softmax0": lambda m, Fn, x: Fn.log_softmax(x, 0),
    "max0": lambda m, Fn, x: x.max(0)[0],
    "max0_indices": lambda m, Fn, x: x.max(0)[1].to(x.dtype) + x.sum(0),
    "argmax0": lambda m, Fn, x: x.argmax(0).to(x.dtype) * x[0],
    "argmax_all": lambda m, Fn, x: x.argmax().to(x.dtype) + x.sum(),
    "amin0": lambda m, Fn, x: x.amin(0),
    "cat_static_dim": lambda m, Fn, x: m.cat([x, x * 2], 1),
    "cat_dynamic_dim": lambda m, Fn, x: m.cat([x, m.zeros(2, 6)], 0).cumsum(0),
    "stack0": lambda m, Fn, x: m.stack([x, x.exp()], 0),
    "stack_last": lambda m, Fn, x: m.stack([x, x], 2).reshape(x.shape[0], -1),
    "split_static": lambda m, Fn, x: x.split(2, 1)[1] * 3,
    "reshape_m1": lambda m, Fn, x: x.reshape(-1, 2, 3).sum(1),
    "view_flat": lambda m, Fn, x: x.view(-1) * 2,
    "flatten": lambda m, Fn, x: x.unsqueeze(1).flatten(0, 1).tanh(),
    "permute": lambda m, Fn, x: x.unsqueeze(2).permute(2, 1, 0) * 2,
    "transpose_matmul": lambda m, Fn, x: x.transpose(0, 1).exp() @ x,
    "outer": lambda m, Fn, x: x.unsqueeze(-1) * x.unsqueeze(1),
    "where": lambda m, Fn, x: m.where(x > 0, x, x * 0.1),
    "masked_fill": lambda m, Fn, x: x.masked_fill(x < 0, 0.0) * 2,
    "index_tensor": lambda m, Fn, x: x[m.tensor([0, 1, 0])] * 2,
    "index_last": lambda m, Fn, x: x[-1] * 2,
    "flip": lambda m, Fn, x: x.flip(0) * 2,
    "cumsum0": lambda m, Fn, x: x.cumsum(0),
    "bmm": lambda m, Fn, x: m.bmm(x.reshape(-1, 2, 3), x.reshape(-1, 3, 2)),
    "batched_matmul": lambda m, Fn, x: x.reshape(-1, 2, 3) @ x.reshape(-1, 3, 2).exp(),
    "gram": lambda m, Fn, x: x @ x.t(),
    "sum_keep_div": lambda m, Fn, x: x / x.sum(0, keepdim=True),
    "pairwise_dist": lambda m, Fn, x: ((x.unsqueeze(0) - x.unsqueeze(1)) ** 2).sum(-1).add(1e-3).sqrt(),
    "norm0": lambda m, Fn, x: x.norm(dim=0),
    "pad": lambda m, Fn, x: Fn.pad(x, (1, 1, 2, 0)),
    "prod0": lambda m, Fn, x: x.prod(0),
    "gather": lambda m, Fn, x: x.gather(1, (x.abs() * 10).long() % 6),
    "clamp": lambda m, Fn, x: x.clamp(-0.5, 0.5),
    "ones_of_shape": lambda m, Fn, x: x + m.zeros_like(x) + m.ones(x.shape[0], 1),
    "size_arith": lambda m, Fn, x: x * (x.shape[0] * 0.5) + x / x.size(0) - x * (x.shape[0] - 1),
    "numel": lambda m, Fn, x: x.sum() / x.numel(),
    "einsum": lambda m, Fn, x: m.einsum("ij,kj->ik", x, x),
    "gelu": lambda m, Fn, x: Fn.gelu(x),
    "layer_norm_over_batch": lambda m, Fn, x: Fn.layer_norm(x.t(), (x.shape[0],)),
    "softmax_over_batch": lambda m, Fn, x: Fn.softmax(x.t(), -1),
    "unbind": lambda m, Fn, x: x.unbind(1)[2] * 2,
    "masked_mean": lambda m, Fn, x: (x * (x > 0)).sum(0) / (x > 0).sum(0).clamp(min=1),
    "bool_int_sums": lambda m, Fn, x: (x > 0).long().sum(0) * 2 - 1,
    "mse_sum": lambda m, Fn, x: Fn.mse_loss(x, x.flip(0), reduction="sum"),
}
# (x[tensor] checks its index bounds against the size: it specializes, correctly)
GENERIC = set(CASES) - {"index_tensor"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_values_and_gradients_match_torch_at_every_size(name):
    f = CASES[name]
    for backend in BACKENDS:
        c = tt.compile(lambda x: f(tt, TF, x), dynamic=True, backend=backend)
        for b in (4, 8, 5, 2, 4):
            x = _f32(b, 6)
            tx, px = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out, ref = c(tx), f(torch, F, px)
            assert tuple(out.shape) == tuple(ref.shape)
            assert out.dtype.name == str(ref.dtype).split(".")[1]
            _close(out.detach().numpy(), ref.detach().numpy(), msg=f"{backend} b={b}")
            if ref.dtype.is_floating_point:
                out.sum().backward()
                ref.sum().backward()
                _close(tx.grad.numpy(), px.grad.numpy(), msg=f"{backend} grad b={b}")
        if name in GENERIC:
            assert c._dynamic, f"{name} was not compiled shape-generic"
            assert c.trace_count <= 2, c.trace_count


def test_sizes_one_and_zero_after_a_generic_trace():
    def f(m, x):
        return x.exp().sum(0), x.mean(0), x * 2, m.cat([x, x], 0).sum(0)

    for backend in BACKENDS:
        c = tt.compile(lambda x: f(tt, x), dynamic=True, backend=backend)
        for b in (4, 0, 1, 5, 0, 1, 2, 7):
            x = _f32(b, 3)
            for o, r in zip(c(tt.tensor(x)), f(torch, torch.tensor(x))):
                assert tuple(o.shape) == tuple(r.shape)
                _close(o.numpy(), r.numpy(), msg=f"b={b}")
        assert c.trace_count <= 4  # generic, then 0 and 1 specialized once each


def test_first_call_with_size_one_then_larger():
    c = tt.compile(lambda x: x - x.mean(0), dynamic=True, backend="numpy")
    for b in (1, 3, 1, 6):
        x = _f32(b, 2)
        _close(c(tt.tensor(x)).numpy(), x - x.mean(0))


# ---------------------------------------------------------------- specialization when a size is needed
SPECIALIZING = {
    "len": lambda m, x: x.sum() / len(x),
    "slice_head": lambda m, x: x[:3] * 2,
    "branch_gt": lambda m, x: x * 2 if x.shape[0] > 4 else x * 3,
    "branch_ge": lambda m, x: x * 2 if x.shape[0] >= 5 else x * 3,
    "python_min": lambda m, x: x[: min(x.shape[0], 3)] * 2,
    "range_loop": lambda m, x: sum(x[i] for i in range(x.shape[0])),
    "float_size": lambda m, x: x * float(x.shape[0]),
    "int_size": lambda m, x: x * int(x.shape[0]),
    "chunk_batch": lambda m, x: x.chunk(2, 0)[0] * 2,
    "arange_batch": lambda m, x: x * m.arange(x.shape[0]).unsqueeze(1),
    "floordiv_reshape": lambda m, x: x.reshape(x.shape[0] // 2, -1) * 2,
    "negative_slice": lambda m, x: x[-2:] * 2 + x[:-1].sum(),
}


@pytest.mark.parametrize("name", sorted(SPECIALIZING))
def test_what_needs_a_concrete_size_specializes_correctly(name):
    f = SPECIALIZING[name]
    for dynamic in (True, None):
        c = tt.compile(lambda x: f(tt, x), dynamic=dynamic, backend="numpy")
        for b in (4, 6, 8, 10, 4):
            x = _f32(b, 3)
            _close(c(tt.tensor(x)).numpy(), f(torch, torch.tensor(x)).numpy(), rtol=1e-5, msg=f"b={b}")


# ---------------------------------------------------------------- several arguments, kwargs
def test_two_arguments_equal_then_different_sizes():
    for backend in BACKENDS:
        for dynamic in (True, None):
            c = tt.compile(lambda x, y: x.sum(0) + y.sum(0) * 2, dynamic=dynamic, backend=backend)
            for bx, by in ((4, 4), (5, 5), (5, 7), (3, 2), (6, 6), (2, 9)):
                x, y = _f32(bx, 3), _f32(by, 3)
                _close(c(tt.tensor(x), tt.tensor(y)).numpy(), x.sum(0) + y.sum(0) * 2, rtol=1e-5)


def test_equal_sizes_traced_together_still_broadcast_error_like_torch():
    c = tt.compile(lambda x, y: x * y, dynamic=True, backend="numpy")
    c(tt.ones(4, 3), tt.ones(4, 3))
    with pytest.raises(RuntimeError):
        c(tt.ones(5, 3), tt.ones(6, 3))
    assert c(tt.ones(7, 3), tt.ones(7, 3)).shape == (7, 3)


def test_keyword_tensor_arguments_values_at_new_sizes():
    c = tt.compile(lambda x, *, w: (x * w).sum(1), dynamic=True, backend="numpy")
    for b in (4, 6, 3):  # (each size is new: traced afresh)
        x, w = _f32(b, 3), _f32(b, 3)
        _close(c(tt.tensor(x), w=tt.tensor(w)).numpy(), (x * w).sum(1), rtol=1e-5)


@pytest.mark.parametrize("dynamic", [True, None, False])
def test_keyword_tensor_argument_values_are_read_per_call(dynamic):
    c = tt.compile(lambda x, *, w: x * w, dynamic=dynamic, backend="numpy")
    assert c(tt.ones(3), w=tt.full((3,), 2.0)).tolist() == [2.0] * 3
    assert c(tt.ones(3), w=tt.full((3,), 5.0)).tolist() == [5.0] * 3


def test_keyword_tensor_arguments_do_not_retrace_per_size():
    c = tt.compile(lambda x, *, w: (x * w).sum(1), dynamic=True, backend="numpy")
    for b in (4, 6, 3, 9):
        c(tt.tensor(_f32(b, 3)), w=tt.tensor(_f32(b, 3)))
    assert c.trace_count <= 2, c.trace_count


# ---------------------------------------------------------------- autograd around compiled generic code
@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_and_value_and_grad_of_a_compiled_function(backend):
    c = tt.compile(lambda x: (x.tanh() * x.shape[0]).sum(), dynamic=True, backend=backend)
    g, vg = tt.grad(c), tt.value_and_grad(c)
    gc = tt.compile(tt.grad(lambda x: (x.tanh() * x.shape[0]).sum()), dynamic=True, backend=backend)
    for b in (4, 6, 3):
        x = _f32(b, 3)
        px = torch.tensor(x, requires_grad=True)
        (px.tanh() * b).sum().backward()
        _close(g(tt.tensor(x)).numpy(), px.grad.numpy(), rtol=1e-4)
        v, gg = vg(tt.tensor(x))
        _close(gg.numpy(), px.grad.numpy(), rtol=1e-4)
        _close(v.item(), (np.tanh(x) * b).sum(), rtol=1e-5)
        _close(gc(tt.tensor(x)).numpy(), px.grad.numpy(), rtol=1e-4)
    assert gc._dynamic and gc.trace_count <= 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_with_gradient_and_reshape_needs_sizes(backend):
    c = tt.compile(lambda x: x.reshape(-1, 6).exp() * 2, dynamic=True, backend=backend)
    for b in (4, 6, 3):
        x, go = _f32(b, 2, 3), _f32(b, 6)
        tx = tt.tensor(x, requires_grad=True)
        c(tx).backward(tt.tensor(go))
        px = torch.tensor(x, requires_grad=True)
        (px.reshape(-1, 6).exp() * 2).backward(torch.tensor(go))
        _close(tx.grad.numpy(), px.grad.numpy(), rtol=1e-5)
    assert c._dynamic and c.trace_count <= 2  # (all sizes symbolic fails: -1 needs 2*3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forwards_at_several_sizes_then_backwards(backend):
    def f(m, x):
        return x.reshape(x.shape[0], -1).tanh().sum(), x.mean()

    c = tt.compile(lambda x: f(tt, x), dynamic=True, backend=backend)
    xs = [_f32(b, 2, 3) for b in (4, 6, 3, 6)]
    txs = [tt.tensor(x, requires_grad=True) for x in xs]
    outs = [c(t) for t in txs]
    for tx, x, (a, m) in zip(reversed(txs), reversed(xs), reversed(outs)):
        (a + m * 3).backward()
        px = torch.tensor(x, requires_grad=True)
        a2, m2 = f(torch, px)
        (a2 + m2 * 3).backward()
        _close(tx.grad.numpy(), px.grad.numpy(), rtol=1e-5)
    assert c.trace_count == 1


def test_generic_ir_text_round_trips_for_reductions_and_views():
    c = tt.compile(lambda x: (TF.softmax(x.reshape(x.shape[0], -1), -1) * x.flatten(1)).var(0).sum(),
                   dynamic=True, backend="numpy")
    x = tt.randn(5, 2, 3, requires_grad=True)
    c(x).backward()
    for g in (c._dynamic[0].generic.compiled.forward_graph, c._dynamic[0].generic.compiled.backward_graph):
        assert str(parse(str(g))) == str(g)


# ---------------------------------------------------------------- bugs: Python decisions on symbolic sizes
# A symbolic size is a raw sympy Symbol: `==`, `!=`, hash() and isinstance() answer
# structurally (s0 == 5 is False) instead of raising, so a Python branch on a size is
# taken once, at trace time, with a wrong answer, and no guard records it.
def test_branch_on_size_equality_with_dynamic_true():
    def f(x):
        if x.shape[0] == 5:
            return x * 100
        return x * 2

    c = tt.compile(f, dynamic=True, backend="numpy")
    for b in (5, 3, 5):
        assert c(tt.ones(b, 2))[0, 0].item() == (100 if b == 5 else 2), b


def test_branch_on_size_equality_with_automatic_dynamic():
    def f(x):
        if x.shape[0] == 5:
            return x * 100
        return x * 2

    c = tt.compile(f, backend="numpy")
    for b in (3, 4, 5):
        assert c(tt.ones(b, 2))[0, 0].item() == (100 if b == 5 else 2), b


def test_distinct_symbols_that_become_equal():
    def f(x, y):
        if x.shape == y.shape:
            return x + y
        return x - y.sum()

    c = tt.compile(f, dynamic=True, backend="numpy")
    assert c(tt.ones(3, 2), tt.ones(4, 2))[0, 0].item() == -7.0
    assert c(tt.ones(4, 2), tt.ones(4, 2))[0, 0].item() == 2.0


def test_symbolic_size_as_python_value():
    table = {4: 10.0}

    def f(x):
        return x * table.get(x.shape[0], 1.0) * (1.0 if isinstance(x.shape[0], int) else 0.5)

    c = tt.compile(f, dynamic=True, backend="numpy")
    assert c(tt.ones(4, 2))[0, 0].item() == 10.0


def test_size_comparisons_sympy_cannot_decide_specialize_correctly():
    # (these raise inside sympy and specialize: the right results)
    def f(x):
        return x * (2 if x.shape[0] > 4 else 3) * (5 if x.shape[0] < 6 else 7)

    c = tt.compile(f, dynamic=True, backend="numpy")
    for b in (4, 5, 6, 9):
        assert c(tt.ones(b, 1))[0, 0].item() == (2 if b > 4 else 3) * (5 if b < 6 else 7)


# ---------------------------------------------------------------- bugs: sizes printed as sympy functions
def test_roll_along_the_dynamic_dimension_numpy(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(tmp_path))
    c = tt.compile(lambda x: x.roll(1, 0), dynamic=True, backend="numpy")
    for b in (4, 6):
        x = _f32(b, 3)
        _close(c(tt.tensor(x)).numpy(), np.roll(x, 1, 0))


def test_floor_division_and_modulo_of_a_size_numpy(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(tmp_path))
    c = tt.compile(lambda x: x * (x.shape[0] // 2) + x * (x.shape[0] % 3), dynamic=True, backend="numpy")
    for b in (4, 5):
        x = _f32(b, 3)
        _close(c(tt.tensor(x)).numpy(), x * (b // 2) + x * (b % 3))


def test_roll_and_modulo_on_the_c_backend():
    for f, want in ((lambda x: x.roll(1, 0), lambda x, b: np.roll(x, 1, 0)),
                    (lambda x: x * (x.shape[0] % 3), lambda x, b: x * (b % 3))):
        c = tt.compile(f, dynamic=True, backend="c")
        for b in (4, 5):
            x = _f32(b, 3)
            _close(c(tt.tensor(x)).numpy(), want(x, b))


def test_ir_text_with_a_size_modulo_round_trips(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(tmp_path))
    c = tt.compile(lambda x: x.roll(1, 0) * 2, dynamic=True, backend="c")
    c(tt.randn(4, 3))
    g = c._dynamic[0].generic.compiled.forward_graph
    assert str(parse(str(g))) == str(g)


# ---------------------------------------------------------------- perf: generic traces that are possible
def test_expand_to_a_symbolic_shape_is_generic():
    c = tt.compile(lambda x: x.sum(1, keepdim=True).expand(x.shape) * x, backend="numpy", dynamic="auto")
    for b in (4, 6, 8, 10):
        x = _f32(b, 3)
        _close(c(tt.tensor(x)).numpy(), x.sum(1, keepdims=True) * x, rtol=1e-5)
    assert c.trace_count <= 2, c.trace_count


# ---------------------------------------------------------------- bugs: tensors inside container arguments
@pytest.mark.parametrize("container", ["list", "dict"])
def test_tensors_inside_a_container_argument_are_read_per_call(container):
    c = tt.compile(lambda xs: xs[0] * 2, backend="numpy")
    xs = [tt.ones(3)] if container == "list" else {0: tt.ones(3)}
    assert c(xs).tolist() == [2.0] * 3
    xs[0] = tt.full((3,), 5.0)
    assert c(xs).tolist() == [10.0] * 3


def test_tuple_of_tensors_argument_called_twice():
    c = tt.compile(lambda xs: xs[0] * 2, backend="numpy")
    assert c((tt.full((3,), 1.0),)).tolist() == [2.0] * 3
    assert c((tt.full((3,), 5.0),)).tolist() == [10.0] * 3


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_container_arguments_against_torch(backend):
    """Tensors inside nested lists/tuples/dicts/named tuples are inputs (new values, no
    retrace), gradients reach them, in-place updates to them are written back, and the
    non-tensor parts (a list of ints) are part of the signature."""
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")

    def f(lib, batch, scales):
        x = batch["x"][0] * batch["x"][1].a + batch["x"][1].b
        with lib.no_grad():
            batch["buf"].add_(1)
        return (x * scales[0] + scales[1]).sum(), batch["buf"]

    c = tt.compile(lambda batch, scales: f(tt, batch, scales), backend=backend)
    rng = np.random.default_rng(3)
    for call in range(3):
        a, b, d = (rng.standard_normal(4).astype(np.float32) for _ in range(3))
        scales = [2, 3] if call < 2 else [5, 1]  # new contents: a new signature
        tt_in = {"x": [tt.tensor(a, requires_grad=True), Pair(tt.tensor(b), tt.tensor(d))],
                 "buf": tt.zeros(2)}
        th_in = {"x": [torch.tensor(a, requires_grad=True), Pair(torch.tensor(b), torch.tensor(d))],
                 "buf": torch.zeros(2)}
        out, buf = c(tt_in, scales)
        want, wbuf = f(torch, th_in, scales)
        out.backward()
        want.backward()
        np.testing.assert_allclose(out.item(), want.item(), rtol=1e-6)
        np.testing.assert_allclose(tt_in["x"][0].grad.numpy(), th_in["x"][0].grad.numpy())
        assert buf is tt_in["buf"] and buf.tolist() == wbuf.tolist() == [1.0, 1.0]
    assert c.trace_count == 2
