"""torch.autograd.grad inside compiled functions, create_graph=True included (a WGAN-GP
gradient penalty in a compiled training step), against torch 2.13; eagerly create_graph
says where it works."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")


def _critic(m, state=None):
    d = m.nn.Sequential(m.nn.Linear(3, 8), m.nn.Tanh(), m.nn.Linear(8, 1))
    if state is not None:
        d.load_state_dict({k: m.tensor(v) for k, v in state.items()})
    return d


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_gradient_penalty_step_matches_torch(backend):
    torch.manual_seed(0)
    state = {k: v.detach().numpy() for k, v in _critic(torch).state_dict().items()}
    rng = np.random.RandomState(0)
    real, fake = rng.randn(6, 3).astype(np.float32), rng.randn(6, 3).astype(np.float32)
    alpha = rng.rand(6, 1).astype(np.float32)
    out = {}
    for m in (torch, tt):
        D = _critic(m, state)
        opt = m.optim.Adam(D.parameters(), lr=1e-2)

        def step(r, f, a):
            x = (a * r + (1 - a) * f).requires_grad_(True)
            g, = m.autograd.grad(D(x).sum(), x, create_graph=True)
            gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
            loss = D(f).mean() - D(r).mean() + 10 * gp
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss, gp

        if m is tt:
            step = tt.compile(step, backend=backend)
        args = [m.tensor(a) for a in (real, fake, alpha)]
        out[m.__name__] = [tuple(float(v.detach()) for v in step(*args)) for _ in range(4)]
    np.testing.assert_allclose(out["torchtrek"], out["torch"], rtol=1e-5)


def test_first_order_grad_inside_compile_is_detached_and_matches():
    def f(m, x, w):
        y = (x * w).tanh().sum()
        gx, gw = m.autograd.grad(y, (x, w))
        return gx * 2 + gw, gx.requires_grad

    x0, w0 = np.arange(3.0), np.array([0.5, -1.0, 2.0])
    want, want_rg = f(torch, torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True))
    cf = tt.compile(lambda x, w: f(tt, x, w))
    got, got_rg = cf(tt.tensor(x0, requires_grad=True), tt.tensor(w0, requires_grad=True))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    assert got_rg == want_rg is False


def test_allow_unused_and_errors_inside_compile():
    def f(x, y):
        g = tt.autograd.grad((x * 2).sum(), (x, y), allow_unused=True)
        return g[0], g[1] is None

    g0, unused = tt.compile(f)(tt.ones(2, requires_grad=True), tt.ones(2, requires_grad=True))
    assert g0.tolist() == [2.0, 2.0] and unused
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        tt.compile(lambda x, y: tt.autograd.grad((x * 2).sum(), (x, y)))(
            tt.ones(2, requires_grad=True), tt.ones(2, requires_grad=True))


def test_eager_create_graph_names_where_it_works():
    x = tt.ones(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="inside a compiled function it is"):
        tt.autograd.grad((x * x).sum(), x, create_graph=True)
