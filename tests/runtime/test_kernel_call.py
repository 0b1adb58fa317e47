"""runtime/kernel_call.py: the trampoline that calls C kernels with arrays' data pointers
(and its ctypes fallback): values, views (the pointer is the view's first element), bad
arguments named, kernels past MAX_ARGS, and the generated wrappers using it."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import torchtrek as tt
from torchtrek.runtime import kernel_call, native

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler")

ADD = """
void add3(const float* restrict a, const float* restrict b, float* restrict out) {
  for (int i = 0; i < 3; i++) out[i] = a[i] + b[i];
}
"""


def _bound(source, name, n_args):
    """(`_call` for the kernel `name` of `source`, its address)."""
    lib = ctypes.CDLL(str(native.build(source)))
    at = kernel_call.addresses(lib, [name])
    return kernel_call.caller(lib, [(name, n_args)], at), at[name]


@pytest.fixture(params=["trampoline", "ctypes"])
def call_add(request, monkeypatch):
    if request.param == "ctypes":
        monkeypatch.setattr(kernel_call, "trampoline", lambda: None)
    elif kernel_call.trampoline() is None:
        pytest.skip("no Python.h: the trampoline is not built here")
    return _bound(ADD, "add3", 3)


def test_values_and_views(call_add):
    call, address = call_add
    a = np.arange(10, dtype=np.float32)
    b = np.full(3, 100, np.float32)
    out = np.zeros(5, np.float32)
    call(address, a[4:], b, out[1:])  # views: their first elements
    np.testing.assert_array_equal(out, [0, 104, 105, 106, 0])


def test_a_non_array_argument_is_named():
    if kernel_call.trampoline() is None:
        pytest.skip("no Python.h")
    call, address = _bound(ADD, "add3", 3)
    with pytest.raises(TypeError, match="kernel argument 1 is a list, not a numpy.ndarray"):
        call(address, np.zeros(3, np.float32), [1.0, 2.0, 3.0], np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="a kernel address and 1 to"):
        call(address)


def test_more_arguments_than_the_trampoline_takes():
    n = kernel_call.MAX_ARGS + 6
    params = ", ".join(f"const double* restrict a{i}" for i in range(n - 1))
    body = " + ".join(f"a{i}[0]" for i in range(n - 1))
    call, address = _bound(f"void many({params}, double* restrict out) {{ out[0] = {body}; }}",
                           "many", n)
    arrays = [np.array([float(i)]) for i in range(n - 1)]
    out = np.zeros(1)
    call(address, *arrays, out)
    assert out[0] == sum(range(n - 1))


def test_compiled_functions_call_kernels_through_it():
    f = tt.compile(lambda x: (x * 2 + 1).exp(), backend="c")
    x = tt.tensor(np.linspace(-1, 1, 8192, dtype=np.float32))
    src = f.source(x)
    assert "_call(_k.k0_" in src and ".ctypes.data" not in src
    np.testing.assert_allclose(f(x).numpy(), np.exp(x.numpy() * 2 + 1), rtol=1e-6)
