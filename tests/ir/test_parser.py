import pytest

import torchtrek as tt
from torchtrek.ir import IRParseError, parse
from torchtrek.ir import passes


def test_suite_runs_with_verification_and_round_trip_on():
    # tests/conftest.py turns it on, so every CompiledGraph built by any test checks
    # verify(g) and parse(str(g)) == g for its forward and backward graphs
    assert passes.DEBUG


def mlp(x, w1, b1, w2):
    h = tt.relu(x @ w1 + b1)
    return ((h @ w2) ** 2).mean()


def test_round_trip_forward_and_backward():
    args = (tt.ones(4, 3), tt.ones(3, 5), tt.ones(5), tt.ones(5, 2))
    f = tt.compile(mlp)
    for text in (f.ir(*args), f.ir(*args, backward=True)):
        g = parse(text)
        assert str(g) == text
        passes.verify(g)


def test_parsed_graph_equals_original_and_runs():
    g = tt.trace(mlp, tt.ones(4, 3), tt.ones(3, 5), tt.ones(5), tt.ones(5, 2))
    assert parse(str(g)) == g


def test_hand_written_ir():
    g = parse("""
    graph f(%x: f32[3]) {
      %y: f32[3] = exp %x
      %z: f32[] = sum[dims=(0,), keepdim=False] %y
      return %z
    }""")
    assert [e.op for e in g.eqns] == ["exp", "sum"]
    passes.verify(g)


@pytest.mark.parametrize("text,msg", [
    ("", "empty"),
    ("grph f() {", "expected 'graph NAME"),
    ("graph f(%x: f32[3]) {\n  %y: f32[3] = exp %q\n  return %y\n}", "%q is used before"),
    ("graph f(%x: q32[3]) {\n}", "bad type"),
])
def test_parse_errors_say_what_is_wrong(text, msg):
    with pytest.raises(IRParseError, match=msg):
        parse(text)
