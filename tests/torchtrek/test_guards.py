"""Shape guards (ir/symint.py): every Python decision on a symbolic size is recorded as a
guard, an entry serves only calls where its guards hold, and automatic dynamic shapes
are the default. Results are checked against torch eager at every size."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as TF
from torchtrek.ir.parser import parse

BACKENDS = ["numpy", "c"]
rng = np.random.default_rng(7)


def _branchy(m, x):
    n = x.shape[0]
    if n % 3 == 0:
        return x.roll(1, 0) * (n // 2)
    if n in (4, 5):
        return x * 10 + n
    return x * 2 if n < 7 else x * 3 + min(n, 8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dynamic", [True, None])
def test_branches_on_sizes_match_torch_at_every_size(backend, dynamic):
    c = tt.compile(lambda x: _branchy(tt, x), dynamic=dynamic, backend=backend)
    for b in (6, 4, 9, 8, 2, 12, 5, 10, 6, 8):
        x = rng.standard_normal((b, 3)).astype(np.float32)
        np.testing.assert_allclose(c(tt.tensor(x)).numpy(), _branchy(torch, torch.tensor(x)).numpy(),
                                   rtol=1e-6, err_msg=f"size {b}")
    assert c.trace_count <= 8


def test_guards_print_and_parse_with_mod_and_floor():
    c = tt.compile(lambda x: _branchy(tt, x), dynamic=True, backend="numpy")
    for b in (6, 8, 11):
        c(tt.ones(b, 3))
    texts = [str(d.generic.compiled.forward_graph) for d in c._dynamic]
    assert any("guard Eq(Mod(s0, 3), 0)" in t and "floor(s0/2)" in t for t in texts), texts
    assert any("guard s0 >= 7" in t for t in texts), texts
    for t in texts:
        assert str(parse(t)) == t


def test_guards_are_generated_code():
    c = tt.compile(lambda x: x * 2 if x.shape[0] != 5 else x, dynamic=True, backend="numpy")
    c(tt.ones(3))
    (d,) = c._dynamic
    assert d.guards.check_source() == "def check(s0):\n    return ((s0 != 5))\n"


def test_default_is_automatic_dynamic_with_the_issue_repro():
    def f(x):
        if x.shape[0] == 5:
            return x * 100
        return x

    g = tt.compile(f, dynamic=True)
    assert g(tt.ones(5)).tolist() == [100.0] * 5
    h = tt.compile(f)
    assert [h(tt.ones(n))[0].item() for n in (3, 4, 5, 4, 5, 7)] == [1, 1, 100, 1, 100, 1]
    assert h.trace_count <= 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_ragged_last_batch_compiles_at_most_twice(backend):
    w = tt.tensor(rng.standard_normal((12, 4)).astype(np.float32) * 0.1, requires_grad=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    opt, topt = tt.optim.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)
    data = rng.standard_normal((100, 12)).astype(np.float32)
    labels = rng.integers(0, 4, 100)

    @tt.compile(backend=backend)
    def step(x, y):
        opt.zero_grad()
        loss = TF.cross_entropy(x @ w, y)
        loss.backward()
        opt.step()
        return loss

    for epoch in range(2):
        for i in range(0, 100, 32):  # batches of 32, 32, 32 and a last one of 4
            x, y = data[i:i + 32], labels[i:i + 32]
            loss = step(tt.tensor(x), tt.tensor(y))
            topt.zero_grad()
            tloss = torch.nn.functional.cross_entropy(torch.tensor(x) @ tw, torch.tensor(y))
            tloss.backward()
            topt.step()
            np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert step.trace_count <= 2


def _tiny_lm(lib, vocab=11, dim=8, block=64):
    """A one-layer causal attention language model, in `lib` (torch or torchtrek)."""

    class TinyLM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = lib.nn.Embedding(vocab, dim)
            self.pos = lib.nn.Embedding(block, dim)
            self.head = lib.nn.Linear(dim, vocab)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos(lib.arange(T))
            att = (x @ x.transpose(-2, -1)) * (1.0 / 8 ** 0.5)
            mask = lib.tril(lib.ones(T, T))
            att = att.masked_fill(mask == 0, float("-inf")).softmax(-1)
            return self.head(att @ x)

    return TinyLM()


@pytest.mark.parametrize("backend", BACKENDS)
def test_generation_loop_growing_t_compiles_at_most_twice(backend):
    ref = _tiny_lm(torch)
    model = _tiny_lm(tt)
    model.load_state_dict({k: tt.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    fwd = tt.compile(model, backend=backend)
    idx, tidx = tt.zeros(1, 1, dtype=tt.int64), torch.zeros(1, 1, dtype=torch.int64)
    with tt.no_grad(), torch.no_grad():
        for _ in range(63):  # T = 1, 2, ..., 63
            logits, tlogits = fwd(idx)[:, -1, :], ref(tidx)[:, -1, :]
            np.testing.assert_allclose(logits.numpy(), tlogits.numpy(), rtol=1e-4, atol=1e-5)
            nxt = tlogits.argmax(-1, keepdim=True)
            idx = tt.cat([idx, tt.tensor(nxt.numpy())], 1)
            tidx = torch.cat([tidx, nxt], 1)
    assert idx.shape[1] == 64
    compiled = getattr(fwd, "compiled", fwd)
    assert compiled.trace_count <= 2, compiled.trace_count


def test_exported_module_checks_its_guards(tmp_path):
    path = tt.export(lambda x: x * 100 if x.shape[0] == 5 else x * 2, tt.ones(3, 2),
                     out=tmp_path / "g", dynamic=True)
    spec = importlib.util.spec_from_file_location("guarded", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    np.testing.assert_array_equal(m.forward(np.ones((4, 2), np.float32)), np.full((4, 2), 2.0))
    with pytest.raises(ValueError, match=r"needs Ne\(s0, 5\), got s0=5"):
        m.forward(np.ones((5, 2), np.float32))


def test_cache_size_limit_warns_and_runs_eagerly():
    c = tt.compile(lambda x: x.sum() / len(x), dynamic=False, backend="numpy", cache_size_limit=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outs = [c(tt.ones(n)).item() for n in range(2, 9)]
    assert outs == [1.0] * 7  # correct past the limit: those calls ran eagerly
    assert c.trace_count == 3
    assert [w for w in caught if "cache_size_limit (3" in str(w.message)]


def test_symbolic_sizes_as_python_values():
    table = {4: 10.0}

    def f(x):
        n = x.shape[0]
        extra = sum(range(n))  # range() pins the size, with a guard
        return x * table.get(n, 1.0) + extra + (n in (4, 6)) + max(n, 5)

    c = tt.compile(f, dynamic=True, backend="numpy")
    for b in (4, 6, 4, 9):
        want = table.get(b, 1.0) + sum(range(b)) + (b in (4, 6)) + max(b, 5)
        assert c(tt.ones(b, 2))[0, 0].item() == want, b
