"""ModuleDict / ParameterList / ParameterDict, torch.nn.utils and torch.compile(model) against
torch 2.13: registration, state_dict keys, values, and gradients after clipping."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")


def _build(m):
    class Net(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = m.nn.ModuleDict({"enc": m.nn.Linear(3, 4), "dec": m.nn.Linear(4, 2)})
            self.blocks["act"] = m.nn.Tanh()
            self.scales = m.nn.ParameterList([m.nn.Parameter(m.ones(4)), m.zeros(2)])
            self.extra = m.nn.ParameterDict({"b": m.nn.Parameter(m.zeros(2))})
            self.extra["c"] = m.ones(1)
            self.register_buffer("count", m.zeros(()), persistent=False)

        def forward(self, x):
            h = self.blocks["act"](self.blocks["enc"](x)) * self.scales[0]
            return self.blocks["dec"](h) + self.scales[1] + self.extra["b"] + self.extra["c"]
    return Net()


def test_containers_register_as_torch():
    nets = {m.__name__: _build(m) for m in (torch, tt)}
    names = {k: [n for n, _ in v.named_parameters()] for k, v in nets.items()}
    assert names["torchtrek"] == names["torch"]
    assert list(nets["torchtrek"].state_dict()) == list(nets["torch"].state_dict())
    assert [n for n, _ in nets["torchtrek"].named_modules()] == \
        [n for n, _ in nets["torch"].named_modules()]
    d = nets["torchtrek"].blocks
    assert list(d.keys()) == ["enc", "dec", "act"] and "enc" in d and len(d) == 3
    assert isinstance(nets["torchtrek"].scales[1], tt.nn.Parameter)  # tensors are wrapped
    assert len(nets["torchtrek"].scales) == 2 and len(nets["torchtrek"].extra) == 2
    assert repr(nets["torchtrek"].scales) == repr(nets["torch"].scales).replace("torch.", "torchtrek.")
    popped = d.pop("act")
    assert isinstance(popped, tt.nn.Tanh) and "act" not in d


def test_load_state_dict_and_forward_match_torch():
    th, t = _build(torch), _build(tt)
    t.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in th.state_dict().items()})
    x = np.random.RandomState(0).randn(5, 3).astype(np.float32)
    want = th(torch.tensor(x))
    got = t(tt.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_returns_total_norm_and_scales(norm_type):
    rng = np.random.RandomState(1)
    arrays = [rng.randn(3, 4).astype(np.float32), rng.randn(4).astype(np.float32)]
    out = {}
    for m in (torch, tt):
        ps = [m.nn.Parameter(m.tensor(a)) for a in arrays]
        ((ps[0] ** 2).sum() * 3 + ps[1].sum()).backward()
        total = m.nn.utils.clip_grad_norm_(ps, max_norm=1.5, norm_type=norm_type)
        out[m.__name__] = (float(total), [p.grad.numpy().copy() for p in ps])
    assert out["torchtrek"][0] == pytest.approx(out["torch"][0], rel=1e-6)
    for g, w in zip(out["torchtrek"][1], out["torch"][1]):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_clip_grad_value_vectors_and_errors():
    for m in (torch, tt):
        p = m.nn.Parameter(m.tensor([1.0, -2.0, 3.0]))
        (p * m.tensor([5.0, -0.1, -9.0])).sum().backward()
        m.nn.utils.clip_grad_value_([p], 1.0)
        assert p.grad.tolist() == [1.0, -0.10000000149011612, -1.0]
        assert float(m.nn.utils.clip_grad_norm_([m.nn.Parameter(m.ones(2))], 1.0)) == 0.0
    ps = [tt.nn.Parameter(tt.ones(2, 2)), tt.nn.Parameter(tt.zeros(3))]
    v = tt.nn.utils.parameters_to_vector(ps)
    assert v.tolist() == [1, 1, 1, 1, 0, 0, 0]
    tt.nn.utils.vector_to_parameters(tt.arange(7.0), ps)
    assert ps[0].tolist() == [[0, 1], [2, 3]] and ps[1].tolist() == [4, 5, 6]
    p = tt.nn.Parameter(tt.ones(1))
    (p * float("inf")).sum().backward()
    with pytest.raises(RuntimeError, match="non-finite"):
        tt.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    seqs = [np.arange(n * 2, dtype=np.float32).reshape(n, 2) for n in (3, 1, 4)]
    want = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first,
                                           -1.0, side)
    got = tt.nn.utils.rnn.pad_sequence([tt.tensor(s) for s in seqs], batch_first, -1.0, side)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_clip_grad_norm_inside_a_compiled_step(backend):
    rng = np.random.RandomState(2)
    x, y, w = rng.randn(8, 3), rng.randn(8, 2), rng.randn(2, 3)
    res = {}
    for m in (torch, tt):
        lin = m.nn.Linear(3, 2, bias=False)
        with m.no_grad():
            lin.weight.copy_(m.tensor(w, dtype=m.float32))
        opt = m.optim.SGD(lin.parameters(), lr=0.1)

        def step(a, b):
            loss = ((lin(a) - b) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            norm = m.nn.utils.clip_grad_norm_(lin.parameters(), 0.5)
            opt.step()
            return loss, norm

        if m is tt:
            step = tt.compile(step, backend=backend)
        X, Y = m.tensor(x, dtype=m.float32), m.tensor(y, dtype=m.float32)
        res[m.__name__] = [tuple(float(v.detach()) for v in step(X, Y)) for _ in range(3)]
    np.testing.assert_allclose(res["torchtrek"], res["torch"], rtol=1e-5)


def test_torch_compile_of_a_module_is_an_optimized_module():
    net = _build(tt)
    cm = tt.compile(net)
    assert isinstance(cm, tt.nn.Module) and cm._orig_mod is net
    assert list(cm.state_dict()) == ["_orig_mod." + k for k in net.state_dict()]
    th = torch.compile(_build(torch))
    assert [k for k in cm.state_dict()] == [k for k in th.state_dict()]
    assert cm.blocks is net.blocks  # attributes read through
    x = tt.ones(2, 3)
    np.testing.assert_allclose(cm(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)
    cm(x).sum().backward()
    assert net.blocks["enc"].weight.grad is not None
    cm.eval()
    assert not net.training
    assert cm._compiled.trace_count >= 1
    assert tt.compile(net, disable=True) is net
    with pytest.raises(NotImplementedError, match="backend=<callable>"):
        tt.compile(net, backend=lambda gm, ex: gm)
