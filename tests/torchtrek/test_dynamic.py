"""Shape-generic compiled functions: tt.compile(dynamic=True) and automatic dynamic sizes.

The oracle is torch (values and gradients) at every size; a new batch size must not
trace the function again."""

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as TF
from torchtrek.ir.parser import parse

BACKENDS = ["numpy", "c"]

rng = np.random.default_rng(0)
W1 = (rng.standard_normal((12, 16)) * 0.3).astype(np.float32)
W2 = (rng.standard_normal((16, 4)) * 0.3).astype(np.float32)


def _batch(b):
    return rng.standard_normal((b, 12)).astype(np.float32), rng.integers(0, 4, b)


def _torch_step(x, y):
    w1 = torch.tensor(W1, requires_grad=True)
    w2 = torch.tensor(W2, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch.relu(torch.tensor(x) @ w1) @ w2, torch.tensor(y))
    loss.backward()
    return loss.item(), w1.grad.numpy(), w2.grad.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_step_is_traced_once_for_every_batch_size(backend):
    w1 = tt.tensor(W1, requires_grad=True)
    w2 = tt.tensor(W2, requires_grad=True)

    def step(x, y):
        w1.grad = None
        w2.grad = None
        loss = TF.cross_entropy(tt.relu(x @ w1) @ w2, y)
        loss.backward()
        return loss

    c = tt.compile(step, dynamic=True, backend=backend)
    counts = []
    for b in (8, 16, 5, 33, 8):
        x, y = _batch(b)
        loss = c(tt.tensor(x), tt.tensor(y))
        want, g1, g2 = _torch_step(x, y)
        np.testing.assert_allclose(loss.item(), want, rtol=1e-5)
        np.testing.assert_allclose(w1.grad.numpy(), g1, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(w2.grad.numpy(), g2, rtol=1e-4, atol=1e-6)
        counts.append(c.trace_count)
    # one failed attempt with every size symbolic (x @ w1 needs x's 12), one generic trace
    assert counts == [2] * 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_automatic_dynamic_after_a_size_changes_once(backend):
    c = tt.compile(lambda x: (x.tanh() * 2).sum(-1), backend=backend, dynamic="auto")
    for b in (3, 4, 7, 100):
        x = rng.standard_normal((b, 6)).astype(np.float32)
        np.testing.assert_allclose(c(tt.tensor(x)).numpy(), (np.tanh(x) * 2).sum(-1), rtol=1e-5)
    assert c.trace_count == 2  # the first size, then one trace for all others
    assert c._dynamic and "s0" in str(c._dynamic[0].generic.graph)


def test_generic_numpy_source_reads_sizes_from_its_inputs():
    c = tt.compile(lambda x, y: TF.cross_entropy(x, y), dynamic=True, backend="numpy")
    x, y = tt.randn(8, 5), tt.randint(0, 5, (8,))
    c(x, y)
    src = c.source(x, y)
    assert "s0 = x.shape[0]" in src
    # (the class count is a size too: the one-hot compare and the mean read it per call)
    assert "x: f32[s0,s1]" in src and "y: i64[s0]" in src
    ir = c.ir(x, y)
    assert "%x: f32[s0,s1]" in ir


def test_ir_text_with_symbolic_sizes_round_trips():
    c = tt.compile(lambda x: TF.layer_norm(x.reshape(x.shape[0], -1), (6,)).mean(),
                   dynamic=True, backend="numpy")
    x = tt.randn(4, 2, 3, requires_grad=True)
    c(x).backward()
    for g in (c._dynamic[0].generic.compiled.forward_graph, c._dynamic[0].generic.compiled.backward_graph):
        text = str(g)
        assert "s0" in text
        assert str(parse(text)) == text


# (m, F): the module and its functional namespace, torchtrek's or torch's
CASES = {
    "mean": lambda m, F, x: x.mean(),
    "mean_dim0": lambda m, F, x: x.mean(0),
    "var_dim0": lambda m, F, x: x.var(0),
    "softmax": lambda m, F, x: F.softmax(x, -1),
    "log_softmax_loss": lambda m, F, x: -F.log_softmax(x, 1)[:, 0].mean(),
    "layer_norm": lambda m, F, x: F.layer_norm(x, (5,)),
    "view_batch": lambda m, F, x: x.view(x.shape[0], -1) * 2,
    "flatten": lambda m, F, x: x.flatten().exp(),
    "cat": lambda m, F, x: m.cat([x, x * 2], 0),
    "select_row": lambda m, F, x: x[0] * 3,
    "gram": lambda m, F, x: x.t() @ x,
    "times_size": lambda m, F, x: x * x.shape[0],
    "zeros_of_shape": lambda m, F, x: x + m.zeros(x.shape),
    "expand": lambda m, F, x: x.unsqueeze(0).expand(3, -1, -1),
    "mse": lambda m, F, x: F.mse_loss(x, x * 2),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_on_symbolic_sizes_match_torch(name, backend):
    def f(x):
        return CASES[name](tt, TF, x)

    c = tt.compile(f, dynamic=True, backend=backend)
    for b in (8, 12, 3):
        x = rng.standard_normal((b, 5)).astype(np.float32)
        tx = tt.tensor(x, requires_grad=True)
        out = c(tx)
        (out.sum() if out.ndim else out).backward()
        px = torch.tensor(x, requires_grad=True)
        ref = CASES[name](torch, torch.nn.functional, px)
        (ref.sum() if ref.ndim else ref).backward()
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert c._dynamic, f"{name} was not compiled shape-generic"
    assert c.trace_count <= 2


def test_equal_sizes_share_a_symbol_and_are_guarded():
    c = tt.compile(lambda x, y: x + y, dynamic=True, backend="numpy")
    c(tt.ones(4, 3), tt.ones(4, 3))
    n = c.trace_count
    assert c(tt.ones(6, 2), tt.ones(6, 2)).shape == (6, 2)
    assert c.trace_count == n
    # sizes that were equal when traced must stay equal: this call specializes, and
    # broadcasting fails as it does in torch
    with pytest.raises(RuntimeError, match="must match"):
        c(tt.ones(6, 2), tt.ones(5, 2))


def test_sizes_zero_and_one_specialize():
    c = tt.compile(lambda x: x.sum(0), dynamic=True, backend="numpy")
    c(tt.ones(4, 3))
    n = c.trace_count
    assert c(tt.ones(1, 3)).tolist() == [1.0, 1.0, 1.0]  # size 1 broadcasts differently
    assert c.trace_count == n + 1
    assert c(tt.ones(9, 3)).tolist() == [9.0, 9.0, 9.0]
    assert c.trace_count == n + 1


def test_what_needs_a_concrete_size_specializes_with_correct_results():
    def f(x):
        return x.sum() / len(x)  # len() must be an int: it pins the size, with a guard

    c = tt.compile(f, dynamic=True, backend="numpy")
    for b in (4, 6, 4, 6):
        x = tt.randn(b, 2)
        np.testing.assert_allclose(c(x).item(), x.numpy().sum() / b, rtol=1e-5)
    # len() pins the size (a guard s0 == 4): traced again with it static, and later sizes
    # specialize (one trace each), as torch does for a size it had to specialize
    assert c.trace_count == 3 and (0, 0) in c._static_dims


def test_dynamic_false_always_specializes():
    c = tt.compile(lambda x: x * 2, dynamic=False, backend="numpy")
    for b in (2, 3, 4):
        c(tt.ones(b))
    assert c.trace_count == 3 and not c._dynamic


def test_c_backend_prints_kernels_per_size_without_a_new_trace():
    c = tt.compile(lambda x: TF.softmax(x * 2, -1), dynamic=True, backend="c")
    for b in (64, 128, 64):
        x = rng.standard_normal((b, 256)).astype(np.float32)
        want = torch.softmax(torch.tensor(x) * 2, -1).numpy()
        np.testing.assert_allclose(c(tt.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-7)
    assert c.trace_count == 1
    assert len(c._dynamic[0].sized) == 2



def test_slices_of_a_symbolic_size():
    c = tt.compile(lambda x: x[1:] * 2 + x[2:].sum() + x[:, 0].sum(), dynamic=True, backend="numpy")
    for b in (4, 9):
        x = rng.standard_normal((b, 3)).astype(np.float32)
        want = x[1:] * 2 + x[2:].sum() + x[:, 0].sum()
        np.testing.assert_allclose(c(tt.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)
    assert c._dynamic and c.trace_count == 1
    # a slice whose length needs the size specializes, with the right result
    d = tt.compile(lambda x: x[:3] * 2, dynamic=True, backend="numpy")
    for b in (4, 9):
        x = rng.standard_normal((b, 3)).astype(np.float32)
        np.testing.assert_allclose(d(tt.tensor(x)).numpy(), x[:3] * 2)
    assert not d._dynamic


def test_export_dynamic_writes_a_module_for_every_batch_size(tmp_path):
    import importlib.util

    w = tt.tensor(W1, requires_grad=True)

    def f(x, y):  # the backward of the view needs s0, which it cannot read: a keyword
        return TF.cross_entropy(tt.relu(x.view(x.shape[0], -1) @ w)[:, :4], y)

    path = tt.export(f, tt.randn(8, 3, 4), tt.randint(0, 4, (8,)), grad=True,
                     out=tmp_path / "dyn", dynamic=True)
    spec = importlib.util.spec_from_file_location("dyn_export", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    for b in (3, 20):
        x = rng.standard_normal((b, 3, 4)).astype(np.float32)
        y = rng.integers(0, 4, b)
        value, grads = m.value_and_grad(x, y)
        tw = torch.tensor(W1, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(
            torch.relu(torch.tensor(x).view(b, -1) @ tw)[:, :4], torch.tensor(y))
        ref.backward()
        np.testing.assert_allclose(value, ref.item(), rtol=1e-5)
        np.testing.assert_allclose(grads["w"], tw.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_export_dynamic_rolls_along_a_symbolic_size(tmp_path):
    import importlib.util

    path = tt.export(lambda x: x.roll(1, 0) * (x.shape[0] // 2) + x * (x.shape[0] % 3),
                     tt.randn(4, 2), out=tmp_path / "roll", dynamic=True)
    spec = importlib.util.spec_from_file_location("roll_export", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    for b in (3, 4, 7):
        x = rng.standard_normal((b, 2)).astype(np.float32)
        out = m.forward(x)
        np.testing.assert_allclose(out[0] if isinstance(out, tuple) else out,
                                   np.roll(x, 1, 0) * (b // 2) + x * (b % 3), rtol=1e-6)


def test_export_dynamic_says_when_sizes_must_be_concrete(tmp_path):
    with pytest.raises(ValueError, match="needs concrete sizes"):
        tt.export(lambda x: x * len(x), tt.randn(4), out=tmp_path / "n", dynamic=True)
    with pytest.raises(NotImplementedError, match="NumPy modules only"):
        tt.export(lambda x: x * 2, tt.randn(4), out=tmp_path / "c", target="cuda", dynamic=True)
