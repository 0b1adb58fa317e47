"""The C backend's optimizer kernel (codegen/c/optim.c.j2: adam_step) against the op's NumPy
emitter (ir/ops/optim.py), bit for bit, for every variant (float32 / float64, lerp's two
forms, no / L2 / decoupled weight decay, sizes on one thread and on several); the updates
it writes in place (only what a training step writes back, read by nothing later); and
tt_expf's floor (codegen/c/kernels.c.j2)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import torchtrek as tt
from torchtrek._dispatch import bind_multi
from torchtrek.codegen.c import optim as c_optim

VARIANTS = [dict(small=s, decay=d, decoupled=c) for s in (True, False)
            for d, c in ((False, False), (True, False), (True, True))]
HYPER = (0.01, 0.8, 0.99, 1e-6, 0.1)  # lr, beta1, beta2, eps, weight_decay


def operands(dtype, n, step=3.0, seed=0):
    rng = np.random.default_rng(seed)
    p, g, m = (tt.tensor(rng.standard_normal(n).astype(dtype)) for _ in range(3))
    v = tt.tensor(np.abs(rng.standard_normal(n)).astype(dtype))
    hyper = [tt.tensor(np.array(h, np.float64)) for h in HYPER]
    return [p, g, m, v, tt.tensor(np.array(step, np.float32))] + hyper


def adam(attrs):
    return lambda *a: bind_multi("adam_step", list(a), attrs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("attrs", VARIANTS, ids=lambda a: "-".join(k for k, v in a.items() if v) or "plain")
@pytest.mark.parametrize("n", [1000, c_optim.PARALLEL_MIN + 3])
def test_kernel_is_the_numpy_emitter_bit_for_bit(dtype, attrs, n):
    ops = operands(dtype, n)
    want = [o.numpy() for o in tt.compile(adam(attrs), backend="numpy")(*ops)]
    f = tt.compile(adam(attrs), backend="c")
    got = [o.numpy() for o in f(*ops)]
    assert "void k0_adam_step(" in f.source(*ops)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(g, w)


def test_kernel_prints_torch_s_rounding_steps():
    """The float32 kernel rounds where torch's kernels do: the products of the fused
    multiply-adds in double, the rest in float; the rounded scalars are floats."""
    src = tt.compile(adam(VARIANTS[1]), backend="c").source(*operands(np.float32, 100))
    body = src[src.index("void k0_adam_step("):]
    assert "const float wd_t = (float)wd;" in body
    assert "const float weight = (float)(1 - beta1);" in body
    assert "(float)((double)grad[i] + (double)p[i] * (double)wd_t)" in body
    # the size is an argument (one kernel for every parameter); threads from PARALLEL_MIN
    assert f"if(n >= {c_optim.PARALLEL_MIN})" in body and "100" not in body


def test_a_plain_function_never_writes_over_its_inputs():
    ops = operands(np.float32, 5000)
    before = [o.numpy().copy() for o in ops]
    f = tt.compile(adam(VARIANTS[0]), backend="c")
    assert "# in place" not in f.source(*ops)
    want = [o.numpy() for o in tt.compile(adam(VARIANTS[0]), backend="numpy")(*ops)]
    for g, w in zip(f(*ops), want):
        np.testing.assert_array_equal(g.numpy(), w)
    for o, b in zip(ops, before):
        np.testing.assert_array_equal(o.numpy(), b)


def _linear_step(lib, backend=None, extra=None):
    rng = np.random.default_rng(0)
    lin = lib.nn.Linear(64, 96)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rng.standard_normal((96, 64)).astype(np.float32)))
        lin.bias.copy_(lib.tensor(rng.standard_normal(96).astype(np.float32)))
    opt = lib.optim.AdamW(lin.parameters(), lr=0.01)

    def step(x):
        opt.zero_grad()
        (lin(x) ** 2).mean().backward()
        seen = extra(lin) if extra else None
        opt.step()
        return lin.weight.sum() if seen is None else seen.sum()

    x = lib.tensor(rng.standard_normal((8, 64)).astype(np.float32))
    return (tt.compile(step, backend=backend) if backend else step), x, lin, opt


def test_an_optimizer_step_updates_parameters_and_state_in_place():
    """The compiled step's adam_step kernels write into the parameters and Adam's state
    (what the step writes back): no copies, the tensors keep their memory across steps
    (as torch's do), and the values are the NumPy backend's (up to the order of the
    gradients' sums)."""
    step, x, lin, opt = _linear_step(tt, "c")
    ref, rx, rlin, _ = _linear_step(tt, "numpy")
    step(x), ref(rx)
    arrays = [lin.weight._data, lin.bias._data] + [opt.state[p][k]._data for p in lin.parameters()
                                                   for k in ("exp_avg", "exp_avg_sq")]
    src = step.source(x)
    assert len(re.findall(r"out\d = x\d+  # in place", src)) == 6  # 2 parameters x 3
    for _ in range(3):
        np.testing.assert_allclose(step(x).numpy(), ref(rx).numpy(), rtol=1e-5)
    assert [lin.weight._data, lin.bias._data] + [
        opt.state[p][k]._data for p in lin.parameters() for k in ("exp_avg", "exp_avg_sq")] == arrays
    np.testing.assert_allclose(lin.weight.detach().numpy(), rlin.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alias", ["detached", "view"])
def test_not_in_place_when_the_old_value_is_read_after_the_update(alias):
    """A value that still reads the parameter from before the update keeps the weight's
    kernel out of place: a detached alias (captured on its own, sharing the weight's
    memory) or a view recorded in the graph, read after the step. Both backends then
    read the old value (torch's alias would see the new one: the traced graph is
    functional there, on every backend alike)."""
    def old(lin):
        return lin.weight.detach() if alias == "detached" else lin.weight.view(-1)

    step, x, lin, _ = _linear_step(tt, "c", extra=old)
    ref, rx, _, _ = _linear_step(tt, "numpy", extra=old)
    src = step.source(x)
    assert len(re.findall(r"out\d = x\d+  # in place", src)) == 5  # all but the weight
    for _ in range(3):
        np.testing.assert_allclose(step(x).numpy(), ref(rx).numpy(), rtol=1e-5)


def test_sharing_memory_finds_overlapping_arrays_only():
    from torchtrek.compiler import _sharing_memory

    a = np.zeros(100, np.float32)
    b = np.zeros((4, 5), np.float32)
    arrays = [a[:10], b, a[5:20], a[50:], b.T, np.zeros(3), np.zeros(0)]
    assert _sharing_memory(arrays) == {0, 1, 2, 4}


def test_exp_floor_keeps_values_zeros_and_nan():
    """tt_expf (libmvec's slow lanes avoided): exp of x >= -87.33 as expf, below it 0
    (-inf included), NaN stays NaN, overflow stays inf; in a vectorized softmax-sized loop."""
    x = np.full(4096, 0.5, np.float32)
    special = np.array([-np.inf, -1e4, -87.34, -87.0, -20.0, 0.0, 3.0, 88.0, 89.0, np.nan], np.float32)
    x[: len(special)] = special
    f = tt.compile(lambda t: tt.exp(t), backend="c")
    src = f.source(tt.tensor(x))
    assert "tt_expf(" in src and "const float tt_lo = tt_exp_floor;" in src
    got = f(tt.tensor(x)).numpy()
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    want[:3] = 0.0  # below the floor: 0, as flush-to-zero gives
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-7, atol=0)


def test_in_place_step_through_row_kernels():
    """A step whose forward reads the parameters in fused row kernels (layer norm,
    softmax: the generator's own row groups) before their in-place updates."""
    def build(backend):
        rng = np.random.default_rng(0)
        model = tt.nn.Sequential(tt.nn.Linear(64, 128), tt.nn.LayerNorm(128), tt.nn.Softmax(-1))
        with tt.no_grad():
            for p in model.parameters():
                p.copy_(tt.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        opt = tt.optim.AdamW(model.parameters(), lr=0.01)

        def step(x):
            opt.zero_grad()
            loss = (model(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        return tt.compile(step, backend=backend), model

    x = tt.tensor(np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32))
    (c, cm), (n, nm) = build("c"), build("numpy")
    assert "# in place" in c.source(x) and "_rows_" in c.source(x)
    for _ in range(3):
        np.testing.assert_allclose(c(x).numpy(), n(x).numpy(), rtol=1e-5)
    for p, q in zip(cm.parameters(), nm.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_one_kernel_serves_every_size():
    sizes = [(96, 64), (96,), (7, 3, 5)]

    def step(*ps):
        outs = []
        for p in ps:
            z = tt.zeros_like(p)
            outs += bind_multi("adam_step", [p, p * 0.5, z, z, tt.tensor(np.array(1.0, np.float32))]
                               + [tt.tensor(np.array(h)) for h in HYPER], VARIANTS[0])
        return outs

    ps = [tt.tensor(np.random.default_rng(0).standard_normal(s).astype(np.float32)) for s in sizes]
    f = tt.compile(step, backend="c")
    src = f.source(*ps)
    assert len(re.findall(r"^void k\d+_adam_step\(", src, flags=re.M)) == 1
    assert src.count("kernel k") >= 2  # the other two call it ("(kernel kN_adam_step, shared)")
    want = tt.compile(step, backend="numpy")(*ps)
    for g, w in zip(f(*ps), want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
