import pytest

import torchtrek as tt
from torchtrek.ir import dtypes
from torchtrek.ir.builder import Builder
from torchtrek.ir.graph import Graph, Literal, TensorType, Var
from torchtrek.ir.passes import VerifyError, cse, dce, fold, fold_constants, optimize, verify

F32 = TensorType((3,), dtypes.float32)


def _graph(build):
    x = Var(F32, "x")
    b = Builder()
    outs = build(b, x)
    return Graph("g", [x], b.eqns, outs)


def test_dce_drops_unused_equations():
    g = _graph(lambda b, x: [b.emit("exp", [x]), b.emit("sin", [x])][:1])
    assert [e.op for e in dce(g).eqns] == ["exp"]


def test_cse_merges_identical_equations():
    def build(b, x):
        a1 = b.emit("exp", [x])
        a2 = b.emit("exp", [x])
        return [b.emit("add", [a1, a2])]

    g = dce(cse(_graph(build)))
    assert [e.op for e in g.eqns] == ["exp", "add"]
    assert g.eqns[1].inputs[0] is g.eqns[1].inputs[1]


def test_fold_removes_identities():
    g = _graph(lambda b, x: [b.emit("mul", [b.emit("add", [x, Literal(0.0, dtypes.float32)]),
                                            Literal(1.0, dtypes.float32)])])
    assert dce(fold(g)).eqns == []


def test_constant_folding_turns_literal_arithmetic_into_full():
    def build(b, x):
        two = b.emit("full", [], shape=(), value=2.0, dtype=dtypes.float32)
        four = b.emit("mul", [two, two])
        return [b.emit("mul", [x, four])]

    g = optimize(_graph(build))
    assert [e.op for e in g.eqns] == ["mul"]
    assert g.eqns[0].inputs[1] == Literal(4.0, dtypes.float32)


def test_verify_catches_use_before_definition_and_bad_types():
    x = Var(F32, "x")
    y = Var(F32, "y")
    b = Builder()
    out = b.emit("exp", [y])
    with pytest.raises(VerifyError, match="before it is defined"):
        verify(Graph("g", [x], b.eqns, [out]))
    b = Builder()
    b.emit("exp", [x])
    bad = b.eqns[0].__class__("exp", (x,), (Var(TensorType((4,), dtypes.float32)),))
    with pytest.raises(VerifyError, match="rule says"):
        verify(Graph("g", [x], [bad], []))


def test_every_traced_graph_verifies():
    g = tt.trace(lambda x, w: tt.relu(x @ w).mean(1), tt.ones(2, 3), tt.ones(3, 4))
    verify(g)


# ------------------------------------------------------------------ broadcast, then reduce
import numpy as np  # noqa: E402
import torch  # noqa: E402

from torchtrek.ir.passes import reduce_broadcasts  # noqa: E402


def _reductions_of_broadcasts(g) -> int:
    made = {o for e in g.eqns if e.op == "broadcast_to" for o in e.outputs}
    return sum(e.op in ("sum", "amax", "amin") and e.inputs[0] in made for e in g.eqns)


@pytest.mark.parametrize("name,f", [
    ("sum_batch", lambda m, x: x.expand(6, 4).sum(0)),
    ("sum_keepdim", lambda m, x: x.expand(6, 4).sum(0, keepdim=True)),
    ("sum_all", lambda m, x: x.expand(3, 6, 4).sum()),
    ("max_batch", lambda m, x: x.expand(6, 4).amax(0)),
    ("min_inner", lambda m, x: x.reshape(4, 1).expand(4, 5).amin(1)),
    ("sum_partial", lambda m, x: x.reshape(1, 4, 1).expand(3, 4, 2).sum(0)),
    ("mean", lambda m, x: x.expand(6, 4).mean(0)),
])
def test_reductions_of_broadcasts_read_the_value_once(name, f):
    x = np.linspace(-2, 3, 4).astype(np.float32)
    g = tt.trace(lambda t: f(tt, t), tt.tensor(x))  # (trace optimizes)
    assert _reductions_of_broadcasts(g) == 0
    got = tt.compile(lambda t: f(tt, t), backend="numpy")(tt.tensor(x))
    np.testing.assert_allclose(got.numpy(), f(torch, torch.tensor(x)).numpy(), rtol=1e-6)


def test_the_bias_gradient_under_a_mean_reads_no_batch_array():
    w = tt.randn(16, 8)
    b = tt.randn(8, requires_grad=True)
    c = tt.compile(lambda x: (x @ w + b).mean(), backend="numpy")
    x = tt.randn(64, 16)
    c(x).backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(8, 1 / 8), rtol=1e-6)
    assert "f32[64" not in c.ir(x, backward=True)


def test_integer_and_empty_reductions_are_left_alone():
    i = tt.trace(lambda t: t.expand(5, 3).sum(0), tt.tensor([1, 2, 3]))
    assert _reductions_of_broadcasts(i) == 1  # int sums become int64: not rewritten
    e = tt.trace(lambda t: t.expand(0, 3).sum(0), tt.ones(3))
    assert reduce_broadcasts(e).eqns  # a sum over nothing stays (0, not 0 * inf)
    assert _reductions_of_broadcasts(e) == 1


from torchtrek.ir.passes import pads_to_concat  # noqa: E402


def _pad_graph(widths_list, n=12):
    b = Builder()
    xs = [Var(TensorType((2, w), dtypes.float32), f"x{i}") for i, (w, _) in enumerate(widths_list)]
    acc = None
    for x, (w, lo) in zip(xs, widths_list):
        p = b.emit("pad", [x], widths=((0, 0), (lo, n - lo - w)))
        acc = p if acc is None else b.emit("add", [acc, p])
    return Graph("g", xs, b.eqns, [acc])


def test_split_gradients_become_one_concatenation():
    # the pads of a split's three gradients, summed in any order, are one concat
    for order in ([(4, 8), (4, 4), (4, 0)], [(4, 0), (4, 4), (4, 8)], [(4, 4), (4, 0), (4, 8)]):
        g = pads_to_concat(_pad_graph(order))
        verify(g)
        assert [e.op for e in g.eqns] == ["concat"], (order, [e.op for e in g.eqns])
        assert len(g.eqns[0].inputs) == 3


def test_partial_tiling_keeps_one_pad_and_gaps_are_left_alone():
    g = pads_to_concat(_pad_graph([(3, 2), (4, 5)]))  # columns 2..8 of 12
    assert [e.op for e in g.eqns] == ["concat", "pad"]
    assert g.eqns[1].params["widths"] == ((0, 0), (2, 3))
    g = pads_to_concat(_pad_graph([(3, 0), (4, 5)]))  # a gap at 3..4: nothing to join
    assert [e.op for e in g.eqns].count("pad") == 2


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_split_backward_values_match_torch(backend):
    x = np.random.default_rng(0).standard_normal((2, 3, 12)).astype(np.float32)

    def f(m, t):
        q, k, v = t.split(4, 2)
        return (q.exp() * 2 + k * v).sum()

    tx = torch.tensor(x, requires_grad=True)
    f(torch, tx).backward()

    def step(t):
        f(tt, t).backward()
        return t.grad

    got = tt.compile(step, backend=backend)(tt.tensor(x, requires_grad=True))
    np.testing.assert_allclose(got.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


from torchtrek.ir.passes import transpose_matmuls  # noqa: E402


def test_a_transposed_product_is_the_product_of_transposes():
    b = Builder()
    x, w = Var(TensorType((5, 3), dtypes.float32), "x"), Var(TensorType((5, 4), dtypes.float32), "w")
    xt = b.emit("permute", [x], perm=(1, 0))
    m = b.emit("matmul", [xt, w])  # (3, 4)
    out = b.emit("permute", [m], perm=(1, 0))  # (4, 3)
    g = transpose_matmuls(Graph("g", [x, w], b.eqns, [out]))
    verify(g)
    assert g.eqns[-1].op == "matmul" and g.outputs[0].shape == (4, 3)
    # permute(permute(x)) is x itself after fold; here: matmul(w^T, x)
    ops = [e.op for e in optimize(g).eqns]
    assert ops.count("matmul") == 1 and ops[-1] == "matmul"
    # a product read elsewhere too is left as it is
    b2 = Builder()
    w2 = Var(TensorType((4, 3), dtypes.float32), "w2")
    m2 = b2.emit("matmul", [x, b2.emit("permute", [w2], perm=(1, 0))])
    t2 = b2.emit("permute", [m2], perm=(1, 0))
    g2 = transpose_matmuls(Graph("g2", [x, w2], b2.eqns, [t2, m2]))
    assert [e.op for e in g2.eqns][-1] == "permute"


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_linear_weight_gradient_comes_out_contiguous_and_right(backend):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.linear(torch.tensor(x), tw).pow(2).sum().backward()

    def step(a, ww):
        tt.nn.functional.linear(a, ww).pow(2).sum().backward()
        return ww.grad

    f = tt.compile(step, backend=backend)
    ww = tt.tensor(w, requires_grad=True)
    got = f(tt.tensor(x), ww)
    np.testing.assert_allclose(got.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)
    src = f.source(tt.tensor(x), tt.tensor(w, requires_grad=True))
    grad_line = [ln for ln in src.splitlines() if ln.strip().startswith("grad_ww =")]
    assert grad_line and "np.matmul(" in grad_line[0], grad_line
