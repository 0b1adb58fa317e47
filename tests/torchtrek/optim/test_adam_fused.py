"""Adam / AdamW's update as one `adam_step` op per parameter (torchtrek/optim/adam.py, ir/ops/
optim.py): bit for bit the update the separate tensor ops gave (float32), in eager mode and
compiled on both backends; float64 the same on every path; amsgrad keeps the ops; and a
compiled step holds one adam_step per parameter."""

from __future__ import annotations

import numpy as np
import pytest

import torchtrek as tt
from torchtrek.optim import adam

CONFIGS = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.005, "maximize": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "betas": (0.3, 0.995)}),  # lerp's other form
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]


def run(name, kw, dtype, backend=None, steps=6):
    """A (70, 30) parameter through `steps` updates with fixed gradients."""
    rng = np.random.default_rng(1)
    p = tt.tensor(rng.standard_normal((70, 30)).astype(dtype), requires_grad=True)
    grads = [tt.tensor(rng.standard_normal((70, 30)).astype(dtype)) for _ in range(steps)]
    opt = getattr(tt.optim, name)([p], **kw)

    def step(g):
        p.grad = g
        opt.step()

    f = tt.compile(step, backend=backend) if backend else step
    for g in grads:
        f(g)
    state = opt.state[p]
    return [p.detach().numpy().copy(), state["exp_avg"].numpy().copy(),
            state["exp_avg_sq"].numpy().copy()], f


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("backend", [None, "numpy", "c"])
def test_float32_fused_update_is_the_ops_update_bit_for_bit(name, kw, backend, monkeypatch):
    got, f = run(name, kw, np.float32, backend)
    monkeypatch.setattr(adam, "_fusable", lambda *a: False)
    want, _ = run(name, kw, np.float32)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_float64_same_on_every_path(name, kw):
    eager, _ = run(name, kw, np.float64)
    for backend in ("numpy", "c"):
        got, _ = run(name, kw, np.float64, backend)
        for g, w in zip(got, eager):
            np.testing.assert_array_equal(g, w)


def _step_ir(opt_class, **kw) -> str:
    """The IR of a compiled training step of a Linear(8, 4) with this optimizer."""
    lin = tt.nn.Linear(8, 4)
    opt = opt_class(lin.parameters(), lr=0.01, **kw)

    @tt.compile(backend="c")
    def step(x):
        opt.zero_grad()
        lin(x).pow(2).mean().backward()
        opt.step()

    x = tt.ones(3, 8)
    step(x)
    return step.ir(x)


def test_compiled_step_has_one_adam_step_per_parameter():
    assert _step_ir(tt.optim.AdamW).count("= adam_step[") == 2


def test_amsgrad_keeps_the_tensor_ops():
    assert "adam_step" not in _step_ir(tt.optim.Adam, amsgrad=True)


def test_eager_update_writes_the_parameter_and_state_in_place(monkeypatch):
    # the kernel computes over the tensors' own arrays: no copy_ afterwards, the arrays
    # stay, and each tensor's version bumps once per step (as torch's in-place update)
    rng = np.random.default_rng(2)
    p = tt.tensor(rng.standard_normal((64, 48)).astype(np.float32), requires_grad=True)
    opt = tt.optim.AdamW([p], lr=0.01)
    p.grad = tt.tensor(rng.standard_normal((64, 48)).astype(np.float32))
    opt.step()
    m, v = opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]
    arrays = [t._data for t in (p, m, v)]
    versions = [t._version for t in (p, m, v)]
    copies = []
    real_copy = tt.Tensor.copy_
    monkeypatch.setattr(tt.Tensor, "copy_", lambda self, *a, **k: copies.append(1) or real_copy(self, *a, **k))
    opt.step()
    assert copies == []
    assert all(t._data is a for t, a in zip((p, m, v), arrays))
    assert [t._version for t in (p, m, v)] == [n + 1 for n in versions]


def test_eager_update_with_a_gradient_aliasing_the_parameter(monkeypatch):
    # p.grad is a view of p's own memory: the kernel must not write p under its gradient's
    # feet, so that update goes through copies, and gives what the tensor ops give
    def run_alias():
        rng = np.random.default_rng(3)
        p = tt.tensor(rng.standard_normal((40, 20)).astype(np.float32), requires_grad=True)
        opt = tt.optim.Adam([p], lr=0.01)
        for _ in range(3):
            p.grad = p.detach()
            opt.step()
        return p.detach().numpy().copy()

    got = run_alias()
    monkeypatch.setattr(adam, "_fusable", lambda *a: False)
    np.testing.assert_array_equal(got, run_alias())
