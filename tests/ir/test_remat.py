"""Rematerialization: cheap residuals much bigger than their inputs are recomputed by the
backward graph instead of being saved by the forward one."""

import numpy as np
import torch

import torchtrek as tt
import torchtrek.nn.functional as TF
from torchtrek.ir.graph import Var
from torchtrek.ir.remat import rematerialize
from torchtrek.runtime.compiled import CompiledGraph


def _compiled(fn, *args):
    return CompiledGraph(tt.trace(fn, *args), [a.dtype.is_floating_point for a in args],
                         backend="numpy")


def test_cross_entropy_mask_is_recomputed_not_saved():
    z, y = tt.randn(64, 100), tt.randint(0, 100, (64,))
    cg = _compiled(lambda z, y: TF.cross_entropy(z, y), z, y)
    saved = [v for v in cg.forward_graph.outputs[cg.n_outputs:] if isinstance(v, Var)]
    assert not any(v.dtype.name == "bool" and v.shape == (64, 100) for v in saved), saved
    assert any(e.op == "eq" for e in cg.backward_graph.eqns)  # rebuilt from the targets


def test_expensive_or_same_size_residuals_stay_saved():
    x = tt.randn(64, 100)
    cg = _compiled(lambda x: (tt.exp(x) * x).sum(), x)
    saved = [v for v in cg.forward_graph.outputs[cg.n_outputs:] if isinstance(v, Var)]
    assert not any(e.op == "exp" for e in cg.backward_graph.eqns)
    assert saved  # exp(x) (or x) is saved, not recomputed


def test_rematerialized_gradients_match_torch():
    zn = np.random.default_rng(0).standard_normal((32, 50)).astype(np.float32)
    yn = np.random.default_rng(1).integers(0, 50, 32)
    yn[:3] = -100
    z = tt.tensor(zn, requires_grad=True)
    f = tt.compile(lambda z, y: TF.cross_entropy(z, y), backend="numpy")
    f(z, tt.tensor(yn)).backward()
    pz = torch.tensor(zn, requires_grad=True)
    torch.nn.functional.cross_entropy(pz, torch.tensor(yn)).backward()
    np.testing.assert_allclose(z.grad.numpy(), pz.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_rematerialize_keeps_residuals_when_nothing_is_cheaper():
    x = tt.randn(8, 8)
    g = tt.trace(lambda x: tt.exp(x).sum(), x)
    exp_out = next(e.outputs[0] for e in g.eqns if e.op == "exp")
    prologue, needed = rematerialize(g, [exp_out])
    assert prologue == [] and needed == [exp_out]
