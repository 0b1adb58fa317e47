"""tt.optim against torch.optim, step for step.

Each optimizer/option combination trains the same MLP (torch's initial weights copied
into ours) for 20 steps in both libraries; parameters must agree at rtol 1e-5. A second
table feeds both optimizers identical gradients, isolating the update arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")
torch.set_num_threads(1)  # tiny tensors: threads only add contention

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "maximize": True, "momentum": 0.5}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.005, "maximize": True, "weight_decay": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.85, 0.995)}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def mlp(lib: Any) -> Any:
    return lib.nn.Sequential(lib.nn.Linear(4, 16), lib.nn.Tanh(), lib.nn.Linear(16, 3))


def data(lib: Any) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return (lib.tensor(rng.standard_normal((32, 4)).astype(np.float32)),
            lib.tensor(rng.integers(0, 3, 32)))


def twin_models() -> tuple[Any, Any]:
    torch.manual_seed(0)
    theirs, ours = mlp(torch), mlp(tt)
    ours.load_state_dict({k: tt.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def train(lib: Any, model: Any, opt: Any, steps: int) -> None:
    x, y = data(lib)
    for _ in range(steps):
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def assert_params_close(ours: Any, theirs: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_torch_for_20_steps(name: str, kw: dict[str, Any]) -> None:
    ours, theirs = twin_models()
    opt_ours = getattr(tt.optim, name)(ours.parameters(), **kw)
    opt_theirs = getattr(torch.optim, name)(theirs.parameters(), **kw)
    train(tt, ours, opt_ours, 20)
    train(torch, theirs, opt_theirs, 20)
    assert_params_close(ours, theirs)
    # the state has torch's keys and values
    for p, q in zip(ours.parameters(), theirs.parameters()):
        s, t = opt_ours.state.get(p, {}), opt_theirs.state.get(q, {})
        assert list(s) == list(t)
        for key in s:
            np.testing.assert_allclose(s[key].numpy(), t[key].numpy(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_update_arithmetic_with_fixed_gradients(name: str, kw: dict[str, Any]) -> None:
    """The same gradients every step: only the update formulas differ, and they round like
    torch's kernels (torch's vectorized sqrt is not correctly rounded: 1-ulp slack)."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((40, 30)).astype(np.float32)
    grads = [rng.standard_normal((40, 30)).astype(np.float32) for _ in range(20)]
    out = []
    for lib in (torch, tt):
        p = lib.tensor(w0.copy(), requires_grad=True)
        opt = getattr(lib.optim, name)([p], **kw)
        for g in grads:
            p.grad = lib.tensor(g)
            opt.step()
        out.append(p.detach().numpy())
    if name == "SGD":
        np.testing.assert_array_equal(out[1], out[0])
    else:
        np.testing.assert_allclose(out[1], out[0], rtol=2e-6, atol=1e-7)


def test_param_groups_and_float64() -> None:
    ours, theirs = twin_models()
    ours.double(), theirs.double()
    groups = lambda m: [{"params": m[0].parameters(), "lr": 0.05}, {"params": m[2].parameters()}]  # noqa: E731
    opt_ours = tt.optim.Adam(groups(ours), lr=0.01, weight_decay=0.01)
    opt_theirs = torch.optim.Adam(groups(theirs), lr=0.01, weight_decay=0.01)
    assert [g["lr"] for g in opt_ours.param_groups] == [0.05, 0.01]
    x, y = data(tt)
    xt, yt = data(torch)
    for _ in range(10):
        for lib, model, opt, xx, yy in ((tt, ours, opt_ours, x, y), (torch, theirs, opt_theirs, xt, yt)):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(xx.double()), yy).backward()
            opt.step()
    assert_params_close(ours, theirs, rtol=1e-10, atol=1e-12)
    assert repr(opt_ours) == repr(opt_theirs)


def test_state_dict_resume_matches_uninterrupted() -> None:
    ours, theirs = twin_models()
    opt_ours = tt.optim.Adam(ours.parameters(), lr=0.01, amsgrad=True)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=0.01, amsgrad=True)
    train(tt, ours, opt_ours, 5)
    train(torch, theirs, opt_theirs, 5)
    sd, sd_t = opt_ours.state_dict(), opt_theirs.state_dict()
    assert sd["param_groups"] == sd_t["param_groups"]
    assert sd["state"].keys() == sd_t["state"].keys()
    assert [list(v) for v in sd["state"].values()] == [list(v) for v in sd_t["state"].values()]
    # a fresh optimizer resumed from the state dict continues exactly the same way
    resumed = tt.optim.Adam(ours.parameters(), lr=0.5)
    resumed.load_state_dict(sd)
    assert resumed.param_groups[0]["lr"] == 0.01
    assert resumed.state[next(ours.parameters())]["exp_avg"] is not sd["state"][0]["exp_avg"]
    train(tt, ours, resumed, 5)
    train(torch, theirs, opt_theirs, 5)
    assert_params_close(ours, theirs)


def test_sgd_state_dict_and_zero_grad() -> None:
    ours, theirs = twin_models()
    opt, opt_t = tt.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(
        theirs.parameters(), lr=0.1, momentum=0.9)
    train(tt, ours, opt, 2)
    train(torch, theirs, opt_t, 2)
    assert opt.state_dict()["param_groups"] == opt_t.state_dict()["param_groups"]
    assert list(opt.state_dict()["state"][0]) == ["momentum_buffer"]
    assert repr(opt) == repr(opt_t)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ours.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    plain = tt.optim.SGD(ours.parameters(), lr=0.1)
    train(tt, ours, plain, 1)
    assert plain.state == {}  # no momentum: no state, as in torch


def test_closure_and_missing_grads() -> None:
    p, q = tt.ones(3, requires_grad=True), tt.ones(2, requires_grad=True)
    opt = tt.optim.SGD([p, q], lr=0.5)

    def closure() -> Any:
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 3.0
    np.testing.assert_array_equal(p.detach().numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(q.detach().numpy(), [1.0, 1.0])  # no grad: untouched


ERRORS = [
    (lambda m, ps: m.optim.SGD(ps, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda m, ps: m.optim.SGD(ps, lr=0.1, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda m, ps: m.optim.SGD(ps, lr=0.1, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda m, ps: m.optim.SGD(ps, lr=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda m, ps: m.optim.Adam(ps, eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (lambda m, ps: m.optim.Adam(ps, betas=(1.0, 0.9)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (lambda m, ps: m.optim.AdamW(ps, betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
    (lambda m, ps: m.optim.Adam([]), ValueError, "optimizer got an empty parameter list"),
    (lambda m, ps: m.optim.Adam(ps[0]), TypeError, "should be an iterable of Tensors or dicts"),
    (lambda m, ps: m.optim.Adam([ps[0] * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda m, ps: m.optim.Adam([{"params": ps}, {"params": ps[:1]}]), ValueError,
     "some parameters appear in more than one parameter group"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS, ids=[e[2][:30] for e in ERRORS])
def test_errors_match_torch(make: Any, exc: type, message: str) -> None:
    for lib in (torch, tt):
        params = [lib.ones(2, requires_grad=True), lib.ones(3, requires_grad=True)]
        with pytest.raises(exc) as err:
            make(lib, params)
        assert message in str(err.value), f"{lib.__name__}: {err.value}"


def test_load_state_dict_errors() -> None:
    ours, _ = twin_models()
    opt = tt.optim.SGD(ours.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    bad = opt.state_dict()
    bad["param_groups"][0]["params"] = [0]
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(bad)
