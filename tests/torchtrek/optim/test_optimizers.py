"""RMSprop, Adagrad, Adadelta and LBFGS against torch 2.13 from the same weights: eagerly and
(the first three) inside a compiled training step, several steps, every option family."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

OPTS = {
    "RMSprop": dict(lr=0.01),
    "RMSprop-centered-momentum-wd": dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1),
    "RMSprop-maximize": dict(lr=0.01, maximize=True, alpha=0.3),
    "Adagrad": dict(lr=0.1),
    "Adagrad-decay-wd-init": dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                  initial_accumulator_value=0.2),
    "Adadelta": dict(),
    "Adadelta-wd-maximize": dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True),
}


def _data():
    rng = np.random.RandomState(0)
    return (rng.randn(6, 4).astype(np.float32), rng.randn(6, 3).astype(np.float32),
            rng.randn(3, 4).astype(np.float32), rng.randn(3).astype(np.float32))


def _run(m, name, kw, compiled, backend="numpy", steps=5):
    x, y, w0, b0 = _data()
    lin = m.nn.Linear(4, 3)
    with m.no_grad():
        lin.weight.copy_(m.tensor(w0))
        lin.bias.copy_(m.tensor(b0))
    opt = getattr(m.optim, name.split("-")[0])(lin.parameters(), **kw)

    def step(a, b):
        loss = ((lin(a) - b) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = tt.compile(step, backend=backend)
    losses = [float(step(m.tensor(x), m.tensor(y)).detach()) for _ in range(steps)]
    return losses, lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()


@pytest.mark.parametrize("name", list(OPTS))
@pytest.mark.parametrize("mode", ["eager", "numpy", "c"])
def test_matches_torch(name, mode):
    want = _run(torch, name, OPTS[name], False)
    got = _run(tt, name, OPTS[name], mode != "eager", mode)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-7)


def test_state_dict_keys_are_torch_s():
    for name in ("RMSprop-centered-momentum-wd", "Adagrad", "Adadelta"):
        keys = []
        for m in (torch, tt):
            lin = m.nn.Linear(2, 1)
            opt = getattr(m.optim, name.split("-")[0])(lin.parameters(), **OPTS[name])
            lin(m.ones(1, 2)).sum().backward()
            opt.step()
            sd = opt.state_dict()
            keys.append((sorted(sd["state"][0]), sorted(sd["param_groups"][0])))
        assert keys[0] == keys[1], name


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_fit_matches_torch(line_search):
    rng = np.random.RandomState(1)
    x = rng.randn(20, 3)
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.01 * rng.randn(20)
    out = {}
    for m in (torch, tt):
        w = m.zeros(3, dtype=m.float64, requires_grad=True)
        b = m.zeros(1, dtype=m.float64, requires_grad=True)
        opt = m.optim.LBFGS([w, b], lr=1, max_iter=8, history_size=5, line_search_fn=line_search)
        X, Y = m.tensor(x), m.tensor(y)

        def closure():
            opt.zero_grad()
            loss = ((X @ w + b - Y) ** 2).mean() + 0.1 * (w ** 4).sum()
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        out[m.__name__] = (losses, w.detach().numpy().copy(), opt.state[w]["func_evals"]
                           if m is tt else opt.state[opt._params[0]]["func_evals"])
    np.testing.assert_allclose(out["torchtrek"][0], out["torch"][0], rtol=1e-9)
    np.testing.assert_allclose(out["torchtrek"][1], out["torch"][1], rtol=1e-8)
    assert out["torchtrek"][2] == out["torch"][2]


def test_lbfgs_with_a_compiled_closure():
    rng = np.random.RandomState(2)
    x = rng.randn(16, 2).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:]).astype(np.float32)
    res = {}
    for m in (torch, tt):
        lin = m.nn.Linear(2, 1)
        with m.no_grad():
            lin.weight.fill_(0.1)
            lin.bias.fill_(0.0)
        opt = m.optim.LBFGS(lin.parameters(), lr=0.5, max_iter=5)
        X, Y = m.tensor(x), m.tensor(y)

        def closure():
            opt.zero_grad()
            loss = m.nn.functional.mse_loss(lin(X), Y)
            loss.backward()
            return loss

        if m is tt:
            closure = tt.compile(closure)
        res[m.__name__] = [float(opt.step(closure)) for _ in range(3)]
    np.testing.assert_allclose(res["torchtrek"], res["torch"], rtol=1e-4, atol=1e-8)


def test_lbfgs_refuses_groups():
    a, b = tt.zeros(1, requires_grad=True), tt.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="per-parameter options"):
        tt.optim.LBFGS([{"params": [a]}, {"params": [b]}])
