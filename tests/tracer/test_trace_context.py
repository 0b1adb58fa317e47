import os

import pytest

import torchtrek as tt
from torchtrek.tracer import TraceContext, current_trace, tracing, user_location


def test_user_location_points_at_the_caller():
    loc = user_location()
    assert loc.file == os.path.basename(__file__)
    assert loc.code == "loc = user_location()"


def test_traces_nest_and_restore():
    outer, inner = TraceContext("outer"), TraceContext("inner")
    with tracing(outer):
        with tracing(inner):
            assert current_trace() is inner
        assert current_trace() is outer
    assert current_trace() is None


def test_trace_error_names_file_line_and_suggests_where():
    @tt.compile
    def f(x):
        if x.sum() > 0:  # data-dependent: not traceable
            return x
        return -x

    with pytest.raises(tt.TraceError) as info:
        f(tt.ones(3))
    msg = str(info.value)
    assert os.path.basename(__file__) in msg
    assert "if x.sum() > 0:" in msg
    assert "tt.where" in msg


def test_values_from_an_outer_trace_are_captured_by_an_inner_one():
    # outer(x) = x * d/dy [x * y**2] at y = x = 2 x**3, so d/dx = 6 x**2 = 54 at 3;
    # the inner lambda closes over the outer trace's x, which it must capture.
    def outer(x):
        return x * tt.grad(lambda y: x * y**2)(x)

    assert tt.grad(outer)(tt.tensor(3.0)).item() == pytest.approx(54.0)
