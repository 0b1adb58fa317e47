"""A whole training step under @tt.compile, against torch 2.13 and against eager tt.

The step `opt.zero_grad(); loss = ...; loss.backward(); opt.step(); return loss` is
traced into one generated function: backward() appends the backward graph, the
optimizer's in-place updates of parameters and state are written back at every call.
Both libraries start from torch's initial weights and train the same data for 20 steps;
the losses at every step and the final parameters must agree.

Trace count: exactly one. zero_grad(set_to_none=True) does not read `.grad` (a read of a
real tensor's `.grad` while tracing becomes a guard on whether it was None, which would
fail on the second call and retrace), the optimizer state created during the first trace
is made of real tensors captured by the compiled code, and Adam's step count is a tensor
read at every call, so nothing Python-level changes between calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")
torch.set_num_threads(1)

STEPS = 20
RTOL, ATOL = 1e-4, 1e-5


def mlp(lib: Any) -> Any:
    return lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(64, 32), lib.nn.ReLU(),
                             lib.nn.Linear(32, 3))


def cnn(lib: Any) -> Any:
    return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                             lib.nn.Flatten(), lib.nn.Linear(4 * 3 * 3, 3))


MODELS = {"mlp": mlp, "cnn": cnn}
OPTIMIZERS = [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01})]


def data(lib: Any) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return (lib.tensor(rng.standard_normal((16, 1, 8, 8)).astype(np.float32)),
            lib.tensor(rng.integers(0, 3, 16)))


def twins(build: Any) -> tuple[Any, Any]:
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(tt)
    ours.load_state_dict({k: tt.tensor(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


def params_np(model: Any) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def train_torch(model: Any, name: str, kw: dict[str, Any]) -> tuple[list[float], Any]:
    x, y = data(torch)
    opt = getattr(torch.optim, name)(model.parameters(), **kw)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, opt


def make_step(model: Any, opt: Any) -> Any:
    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = tt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def train_tt(model: Any, name: str, kw: dict[str, Any], compiled: bool,
             steps: int = STEPS) -> tuple[list[float], Any, Any]:
    x, y = data(tt)
    opt = getattr(tt.optim, name)(model.parameters(), **kw)
    step = make_step(model, opt)
    if compiled:
        step = tt.compile(step)
    losses = [step(x, y).item() for _ in range(steps)]
    return losses, opt, step


def assert_state_matches(opt: Any, opt_t: Any, model: Any, model_t: Any) -> None:
    for p, q in zip(model.parameters(), model_t.parameters()):
        s, t = opt.state.get(p, {}), opt_t.state.get(q, {})
        assert list(s) == list(t)
        for key in s:
            assert s[key]._data is not None, f"{key} is a traced value, not a real tensor"
            np.testing.assert_allclose(s[key].numpy(), t[key].numpy(), rtol=RTOL, atol=1e-7,
                                       err_msg=key)


@pytest.mark.parametrize("name, kw", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
@pytest.mark.parametrize("model_name", list(MODELS))
def test_compiled_step_matches_torch_and_eager(model_name: str, name: str,
                                               kw: dict[str, Any]) -> None:
    build = MODELS[model_name]
    ours, theirs = twins(build)
    initial = params_np(ours)
    objects = [id(p) for p in ours.parameters()]
    arrays = [p._data for p in ours.parameters()]

    losses_t, opt_t = train_torch(theirs, name, kw)
    losses, opt, step = train_tt(ours, name, kw, compiled=True)

    # one trace: nothing the step depends on changes between calls (see module docstring)
    assert step.trace_count == 1
    np.testing.assert_allclose(losses, losses_t, rtol=RTOL, atol=ATOL)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=n)
    # parameters were updated in place: the same objects and buffers, new values
    assert [id(p) for p in ours.parameters()] == objects
    assert all(p._data is a for p, a in zip(ours.parameters(), arrays))
    assert all(not np.array_equal(a, b) for a, b in zip(initial, params_np(ours)))
    # the last backward's gradients were written back as real tensors
    assert all(p.grad is not None and p.grad._data is not None for p in ours.parameters())
    assert_state_matches(opt, opt_t, ours, theirs)
    if name == "Adam":
        assert all(s["step"].item() == STEPS for s in opt.state.values())

    # eager tt from the same start: the same run
    eager, _ = twins(build)
    losses_e, _, _ = train_tt(eager, name, kw, compiled=False)
    np.testing.assert_allclose(losses, losses_e, rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


# every optimizer option, compiled, against torch (the MLP of test_optim's table)
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "maximize": True, "momentum": 0.5}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.005, "maximize": True, "weight_decay": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.85, 0.995)}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_every_optimizer_option_compiled(name: str, kw: dict[str, Any]) -> None:
    ours, theirs = twins(mlp)
    losses_t, opt_t = train_torch(theirs, name, kw)
    losses, opt, step = train_tt(ours, name, kw, compiled=True)
    assert step.trace_count == 1
    np.testing.assert_allclose(losses, losses_t, rtol=RTOL, atol=ATOL)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert_state_matches(opt, opt_t, ours, theirs)


@pytest.mark.parametrize("name, kw", [("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
                                      ("Adam", {"lr": 0.01, "amsgrad": True})], ids=["SGD", "Adam"])
def test_eager_then_compiled_continues(name: str, kw: dict[str, Any]) -> None:
    """Eager steps first, then compiled ones on the same optimizer: the compiled code reads
    the state (Adam's step count, SGD's buffer) as it is at each call."""
    ours, theirs = twins(cnn)
    losses_t, _ = train_torch(theirs, name, kw)
    x, y = data(tt)
    opt = getattr(tt.optim, name)(ours.parameters(), **kw)
    eager = make_step(ours, opt)
    compiled = tt.compile(make_step(ours, opt))
    losses = [eager(x, y).item() for _ in range(5)] + [compiled(x, y).item() for _ in range(10)]
    losses += [eager(x, y).item() for _ in range(5)]
    assert compiled.trace_count == 1
    np.testing.assert_allclose(losses, losses_t, rtol=RTOL, atol=ATOL)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_adam_step_is_not_a_python_value() -> None:
    """Adam's bias corrections read the step tensor: the traced graph has no `.item()`."""
    p = tt.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = tt.optim.Adam([p], lr=0.1)

    @tt.compile
    def step(x: Any) -> Any:
        opt.zero_grad()
        loss = (p * x).sum()
        loss.backward()
        opt.step()
        return loss

    x = tt.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    q = torch.ones(3, requires_grad=True)
    opt_t = torch.optim.Adam([q], lr=0.1)
    for _ in range(5):
        step(x)
        opt_t.zero_grad()
        (q * torch.tensor([1.0, -2.0, 3.0])).sum().backward()
        opt_t.step()
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)
    assert step.trace_count == 1
    assert opt.state[p]["step"].item() == 5.0


def test_zero_grad_keeping_tensors_traces_twice() -> None:
    """zero_grad(set_to_none=False) reads `.grad`: on the first call there is none (the
    step skips it), from the second on it exists and is zeroed in place, a different
    program; the compiled step guards on `.grad` being None and traces exactly twice.
    The `.grad` tensors stay the same objects, as in torch."""
    ours, theirs = twins(cnn)
    x, y = data(tt)
    xt, yt = data(torch)
    opt = tt.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)

    @tt.compile
    def step(x: Any, y: Any) -> Any:
        opt.zero_grad(set_to_none=False)
        loss = tt.nn.functional.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        return loss

    losses, losses_t, grads = [], [], None
    for i in range(STEPS):
        losses.append(step(x, y).item())
        opt_t.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(theirs(xt), yt)
        loss.backward()
        opt_t.step()
        losses_t.append(loss.item())
        if i == 1:
            grads = [p.grad for p in ours.parameters()]
    assert step.trace_count == 2
    assert all(p.grad is g for p, g in zip(ours.parameters(), grads))
    np.testing.assert_allclose(losses, losses_t, rtol=RTOL, atol=ATOL)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ write-back of effects
# A compiled step hands a parameter (or .grad) its new array instead of copying into the
# old one when nobody else can see the old one; these check that whoever can, does.


def _sgd_step(p: Any) -> Any:
    @tt.compile
    def step(x: Any) -> Any:
        p.grad = None
        loss = (x @ p).square().sum()
        loss.backward()
        with tt.no_grad():
            p.sub_(0.01 * p.grad)
        return loss

    return step


def _expected(p0: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    w = torch.tensor(p0, requires_grad=True)
    for _ in range(steps):
        w.grad = None
        (torch.tensor(x) @ w).square().sum().backward()
        with torch.no_grad():
            w -= 0.01 * w.grad
    return w.detach().numpy()


def test_views_and_numpy_aliases_of_a_parameter_see_each_update() -> None:
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal((96, 80)).astype(np.float32)
    x = rng.standard_normal((16, 96)).astype(np.float32)
    p = tt.tensor(p0.copy(), requires_grad=True)
    alias = p.detach().numpy()  # shares p's memory, as in torch
    row = p.detach()[0]
    step = _sgd_step(p)
    for k in range(1, 4):
        step(tt.tensor(x))
        want = _expected(p0, x, k)
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(alias, p.detach().numpy())
        np.testing.assert_array_equal(row.numpy(), p.detach().numpy()[0])


def test_parameter_and_grad_objects_keep_their_identity() -> None:
    """A step that zeroes .grad in place (zero_grad(set_to_none=False)) keeps one .grad
    object, as torch does; one that sets it to None gets a new one per step, as torch's."""
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal((64, 48)).astype(np.float32)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    p = tt.tensor(p0.copy(), requires_grad=True)

    @tt.compile
    def zeroing_step(x: Any) -> Any:
        if p.grad is not None:
            p.grad.zero_()
        loss = (x @ p).square().sum()
        loss.backward()
        with tt.no_grad():
            p.sub_(0.01 * p.grad)
        return loss

    zeroing_step(tt.tensor(x))
    grad_obj = p.grad
    for k in range(2, 5):
        zeroing_step(tt.tensor(x))
        assert p.grad is grad_obj
        np.testing.assert_allclose(p.detach().numpy(), _expected(p0, x, k), rtol=1e-4, atol=1e-5)
    # a held .grad array (say, logged) keeps receiving the new gradients in place
    held = p.grad.numpy()
    zeroing_step(tt.tensor(x))
    np.testing.assert_array_equal(held, p.grad.numpy())

    step = _sgd_step(p)  # p.grad = None first: a new .grad object each step
    step(tt.tensor(x))
    first = p.grad
    step(tt.tensor(x))
    assert p.grad is not first
    w = torch.tensor(p0, requires_grad=True)
    (torch.tensor(x) @ w).sum().backward()
    torch_first = w.grad
    w.grad = None
    (torch.tensor(x) @ w).sum().backward()
    assert w.grad is not torch_first


def test_copy_between_parameters_does_not_share_memory() -> None:
    a = tt.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    b = tt.zeros(3, 4)

    @tt.compile
    def sync(scale: Any) -> Any:
        b.copy_(a)
        a.mul_(scale)
        return scale

    sync(tt.tensor(2.0))
    a.add_(1.0)
    np.testing.assert_array_equal(b.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))
    assert not np.shares_memory(a.numpy(), b.numpy())
