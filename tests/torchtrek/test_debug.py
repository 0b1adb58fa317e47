import inspect

import torchtrek as tt


def cancels(x):
    a = tt.exp(x)
    b = a - (a - 1.0)  # exact in float64, 0 in float32 once exp(x) > 2**24
    return (b * x).sum()


def test_compare_finds_the_first_diverging_node_with_its_source_line():
    report = tt.debug.compare(cancels, tt.tensor([20.0, 1.0, 2.0]))
    assert report.outputs_match  # compiled and eager agree: both are float32
    assert report.max_output_error > 1
    d = report.divergence
    assert d is not None and d.op == "sub"
    line = inspect.getsourcelines(cancels)[1] + 2
    assert d.where == f"test_debug.py:{line}: b = a - (a - 1.0)  # exact in float64, 0 in float32 once exp(x) > 2**24"
    assert "first divergence at %sub_1 = sub" in str(report)


def test_compare_reports_no_divergence_for_a_stable_function():
    report = tt.debug.compare(lambda x, w: tt.tanh(x @ w).sum(), tt.randn(4, 3), tt.randn(3, 2))
    assert report.divergence is None
    assert report.outputs_match
    assert report.max_output_error < 1e-5
    assert report.nodes_checked == 3


def test_compare_accepts_a_compiled_function():
    f = tt.compile(cancels)
    assert tt.debug.compare(f, tt.tensor([20.0])).divergence is not None
