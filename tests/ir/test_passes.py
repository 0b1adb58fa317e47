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
