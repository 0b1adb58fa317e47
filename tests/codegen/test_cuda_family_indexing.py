"""CUDA kernels of the indexing family (codegen/cuda/families/indexing.py): index,
index_put, scatter, slice_scatter, argselect, argmask, eye_mask. No GPU needed: the
kernels are generated through the user surface (x[i], x[i] = v, index_put, scatter,
max(dim), trace, ...), forward and backward, compiled with nvcc, checked for what their
text must contain, and run on the CPU by the CUDA emulator (tests/cudaemu) against the
NumPy backend on the same graph."""

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import torchtrek as tt
import torchtrek.codegen.cuda.generator as G
from torchtrek.codegen.cuda.check import compile_all, nvcc_path

EMU_DIR = Path(__file__).resolve().parents[1] / "cudaemu"


def _emulator():
    if not (EMU_DIR / "emulator.py").exists():
        pytest.skip("tests/cudaemu/emulator.py is absent: kernel values not checked on the CPU")
    if str(EMU_DIR) not in sys.path:
        sys.path.insert(0, str(EMU_DIR))
    import emulator

    if not emulator.available():
        pytest.skip("the CUDA emulator needs g++ (not found on PATH)")
    return emulator


def cuda_of(fn, *args, backward=False):
    cg = tt.compile(fn)._entry_for(args, {}, backward).compiled
    return G.generate(cg.backward_graph if backward else cg.forward_graph)


def _rng(name):
    return np.random.default_rng(sum(map(ord, name)))


def F(*shape, dtype="float32", grad=True, rng=None):
    a = (rng or np.random.default_rng(0)).standard_normal(shape).astype(dtype)
    return tt.tensor(a, requires_grad=grad)


def I(values, dtype="int64"):
    return tt.tensor(np.array(values, dtype=dtype))


def setitem(x, index, value):
    """x[index] = value on a computed tensor, as a traced function writes it."""
    y = x * 2
    y[index] = value
    return y


# name -> (fn, inputs(rng)); each runs forward, and backward where an input wants grad.
# (compiled y[index] = v needs a base that does not require grad: the tracer refuses
# the in-place write on a value derived from one)
CASES = {
    # index: x[i], tensors at adjacent / separated dims, broadcast, 2-d, 0-d, empty
    "getitem": (lambda x, i: x[i] * 2, lambda r: [F(4, 5, rng=r), I([0, 3, -1, 0])]),
    "getitem_adjacent": (lambda x, i, j: x[:, j, i],
                         lambda r: [F(4, 5, 6, rng=r), I([0, 2, -1]), I([[1], [3]])]),
    "getitem_separated": (lambda x, i, j: x[j, :, i],
                          lambda r: [F(4, 5, 6, rng=r), I([0, 2, -1]), I([[1], [3]])]),
    "getitem_slice_int32": (lambda x, j: x[1:3, j], lambda r: [F(4, 5, 6, rng=r), I([[1], [-3]], "int32")]),
    "getitem_2d_index": (lambda x, i: x[i], lambda r: [F(4, 3, rng=r), I([[0, 1], [3, 3], [-2, 0]])]),
    "getitem_f64": (lambda x, i: x[:, i], lambda r: [F(4, 3, dtype="float64", rng=r), I([2, 2, 0])]),
    "getitem_0d": (lambda x, t: x[:, t] * 2, lambda r: [F(3, 4, grad=False, rng=r), I(2)]),
    "getitem_empty": (lambda x, i: x[i], lambda r: [F(4, 3, rng=r), I(np.zeros(0, np.int64))]),
    "getitem_const_mask": (lambda x: x[tt.tensor([True, False, True])] * 2, lambda r: [F(3, 4, rng=r)]),
    "take": (lambda x, i: x.take(i), lambda r: [F(3, 4, rng=r), I([[0, 11], [-1, 5]])]),
    "index_select": (lambda x, i: x.index_select(1, i), lambda r: [F(3, 4, rng=r), I([3, 0, 3])]),
    # index_put: x[i] = v (last write wins), accumulate (atomics), index_add
    "setitem_dups": (setitem, lambda r: [F(5, 3, grad=False, rng=r), I([1, 3, 1, 4]), F(4, 3, rng=r)]),
    "setitem_scalar": (lambda x, i: setitem(x, i, 2.5), lambda r: [F(5, 3, grad=False, rng=r), I([1, 3, 1])]),
    "setitem_broadcast": (lambda x, i, v: setitem(x, (slice(None), i), v),
                          lambda r: [F(5, 4, grad=False, rng=r), I([2, 0, 2]), F(3, rng=r)]),
    "setitem_int_and_tensor": (lambda x, i, v: setitem(x, (1, i), v),
                               lambda r: [F(3, 5, grad=False, rng=r), I([0, -1, 0]), F(3, rng=r)]),
    "index_put": (lambda x, i, j, v: x.index_put((i, j), v),
                  lambda r: [F(3, 4, rng=r), I([0, 2, 0, 0]), I([1, 1, 1, 3]), F(4, rng=r)]),
    "index_put_accumulate": (lambda x, i, j, v: x.index_put((i, j), v, accumulate=True),
                             lambda r: [F(3, 4, rng=r), I([0, 2, 0, 0]), I([1, 1, 1, 3]), F(4, rng=r)]),
    "index_put_rows": (lambda x, i, v: x.index_put((i,), v),
                       lambda r: [F(3, 4, rng=r), I([0, 2, 0]), F(1, 4, rng=r)]),
    "index_put_0d_value": (lambda x, i, v: x.index_put((i,), v, accumulate=True),
                           lambda r: [F(3, 4, rng=r), I([[0, 2], [0, 0]]), F(rng=r)]),
    "index_put_empty": (lambda x, i, v: x.index_put((i,), v, accumulate=True),
                        lambda r: [F(0, 3, rng=r), I(np.zeros(0, np.int64)), F(0, 3, rng=r)]),
    "index_add": (lambda x, i, v: x.index_add(1, i, v), lambda r: [F(3, 4, rng=r), I([0, 2, 0]), F(3, 3, rng=r)]),
    # scatter (src tensor, value, smaller index, 0-d src); gather's backward is scatter_add
    "scatter": (lambda x, i, s: x.scatter(1, i, s),
                lambda r: [F(3, 5, rng=r), I([[0, 4, 0], [1, 1, 2]]), F(2, 3, rng=r)]),
    "scatter_value": (lambda x, i: x.scatter(0, i, 1.5), lambda r: [F(3, 5, rng=r), I([[0, 2, 0], [1, 1, 2]])]),
    "scatter_dim0_cut_src": (lambda x, i, s: x.scatter(0, i, s),
                             lambda r: [F(3, 5, rng=r), I([[0, 2, 0], [0, 1, -1]]), F(2, 4, rng=r)]),
    "scatter_1d": (lambda x, i, s: x.scatter(0, i, s), lambda r: [F(5, rng=r), I([3, 0, -2]), F(3, rng=r)]),
    # slice_scatter: x[a:b] = v, strided slices (their backward), diagonal's backward
    "setitem_slice": (lambda x, v: setitem(x, slice(1, 3), v), lambda r: [F(5, 4, grad=False, rng=r), F(2, 4, rng=r)]),
    "setitem_strided": (lambda x, v: setitem(x, (slice(None, None, 2), 1), v),
                        lambda r: [F(5, 4, grad=False, rng=r), F(3, rng=r)]),
    "strided_slice": (lambda x: x[::2, 1::3] * 3, lambda r: [F(5, 7, rng=r)]),
    "strided_slice_3d": (lambda x: x[1::2, :, ::3] * 3, lambda r: [F(4, 2, 7, rng=r)]),
    "empty_slice": (lambda x: x[2:2] * 3, lambda r: [F(4, 3, rng=r)]),
    "diagonal": (lambda x: x.diagonal() * 2, lambda r: [F(4, 3, rng=r)]),
    # argselect / argmask: max(dim) / min(dim) values and their backward
    "max_dim": (lambda x: x.max(1).values * 2, lambda r: [F(4, 6, rng=r)]),
    "min_dim_keepdim": (lambda x: x.min(0, keepdim=True)[0], lambda r: [F(4, 6, rng=r)]),
    "max_last_dim_3d": (lambda x: x.max(-1)[0], lambda r: [F(2, 3, 4, rng=r)]),
    "min_size1_dim": (lambda x: x.min(1)[0], lambda r: [F(3, 1, 2, rng=r)]),
    "max_0d": (lambda x: x.max(0)[0], lambda r: [F(rng=r)]),
    # eye_mask: trace, einsum diagonals, eye
    "trace": (lambda x: x.trace() * x, lambda r: [F(3, 4, rng=r)]),
    "einsum_diagonal": (lambda x: tt.einsum("ii->i", x), lambda r: [F(4, 4, rng=r)]),
    "eye": (lambda x: tt.eye(3, 4) * x, lambda r: [F(3, 4, rng=r)]),
}

INT_DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool"]


def T(values, dtype):
    return tt.tensor(np.asarray(values).astype(dtype))


def _dtype_cases(dt):
    r = _rng(dt)
    x = T(r.integers(0, 3, (4, 5)), dt)
    v = T(r.integers(100, 130, (5,)), dt)  # int8 sums of these wrap, as NumPy's do
    i, j = I([0, 2, 0, 0, -1]), I([1, 1, 1, 3, 4])
    cases = {
        "index": (lambda x, i: x[i], [x, i]),
        "index_put_accumulate": (lambda x, i, j, v: x.index_put((i, j), v, accumulate=True), [x, i, j, v]),
        "index_put": (lambda x, i, j, v: x.index_put((i, j), v), [x, i, j, v]),
        "scatter": (lambda x, i, s: x.scatter(1, i, s),
                    [x, I([[0, 4, 0], [1, 1, 2]]), T(r.integers(0, 9, (2, 3)), dt)]),
        "setitem_strided": (lambda x, v: setitem(x, (slice(1, 4, 2), slice(None, None, 2)), v),
                            [x, T([[1, 2, 3]], dt)]),
    }
    if dt != "bool":
        cases["max_dim"] = (lambda x: x.max(1).values, [x])
    return cases


def _modules():
    """CudaModules of every case, forward and backward, float and integer dtypes."""
    mods = []
    for name, (fn, make) in CASES.items():
        args = make(_rng(name))
        mods.append(cuda_of(fn, *args))
        if any(getattr(a, "requires_grad", False) for a in args):
            mods.append(cuda_of(fn, *args, backward=True))
    for dt in INT_DTYPES + ["float64"]:
        for fn, args in _dtype_cases(dt).values():
            mods.append(cuda_of(fn, *args))
    return mods


def _kernels(m, op):
    return [k.source for k in m.kernels if k.name.endswith("_" + op)]


# ---------------------------------------------------------------- nvcc


def test_every_indexing_kernel_compiles_with_nvcc():
    if nvcc_path() is None:
        pytest.skip("nvcc not found: the indexing kernels were not compile-checked")
    mods = _modules()
    ops = {k.name.split("_", 1)[1] for m in mods for k in m.kernels}
    assert {"index", "index_put", "scatter", "slice_scatter", "argselect", "argmask", "eye_mask"} <= ops
    errors = compile_all(mods)
    assert not errors, errors[0]


# ---------------------------------------------------------------- what the kernels say


def test_index_reads_through_wrapped_checked_indices():
    m = cuda_of(lambda x, i, j: x[:, j, i], F(4, 5, 6), I([0, 2, -1]), I([[1], [3]]))
    (src,) = _kernels(m, "index")
    assert "if (j0 < -5LL || j0 >= 5LL) {  // NumPy: IndexError" in src
    assert "__trap();" in src and "is out of bounds for dimension 1 with size 5" in src
    assert "if (j0 < 0) j0 += 5;" in src
    # the result is x[:, B]: j (2, 1) varies along its dim 1, i (3,) along its dim 2
    assert "(long long)(in1[c1])" in src and "(long long)(in2[c2])" in src
    assert "const long long pos = c0*30 + j0*6 + j1;" in src and "out[i] = in0[pos];" in src


def test_index_backward_accumulates_with_atomics_per_dtype():
    m = cuda_of(lambda x, i: x[i], F(4, 3), I([0, 0, 1]), backward=True)
    put = _kernels(m, "index_put")
    assert len(put) == 2 and "atomicAdd(&out[pos], " in put[1]
    m = cuda_of(lambda x, i, v: x.index_put((i,), v, accumulate=True), I([1, 2, 3]), I([0, 0]), I(5))
    assert "atomicAdd((unsigned long long*)&out[pos], (unsigned long long)(in1[0]));" in m.cuda_source
    m = cuda_of(lambda x, i, v: x.index_put((i,), v, accumulate=True), T([1, 2], "int8"), I([0, 0]), T(5, "int8"))
    assert "atomicCAS(w, assumed" in m.cuda_source  # no 8-bit atomicAdd


def test_assignment_with_duplicates_lets_the_last_entry_win():
    m = cuda_of(setitem, F(5, 3, grad=False), I([1, 3, 1]), F(3, 3, grad=False))
    put = _kernels(m, "index_put")
    assert len(put) == 3  # copy (and claims = -1), claim, write
    assert "claim[i] = -1;" in put[0]
    assert "atomicMax(&claim[pos], (int)i);" in put[1]
    assert "if (claim[pos] == i) out[pos] = in1[" in put[2]
    assert 'index_put_last = alloc((5, 3), "int32")' in m.launcher_source


def test_assignment_of_one_value_needs_no_claims():
    for fn, args in [(lambda x, i: setitem(x, i, 2.5), (F(5, 3, grad=False), I([1, 3, 1]))),
                     (lambda x, i, v: x.index_put((i,), v), (F(5, 3), I([1, 1]), F(3))),
                     (lambda x, i: x.scatter(1, i, 0.5), (F(3, 4), I([[0, 0], [1, 1]])))]:
        m = cuda_of(fn, *args)
        assert "claim" not in m.cuda_source and "atomic" not in m.cuda_source
        assert len(m.kernels) - sum(k.name.endswith("_mul") for k in m.kernels) == 2


def test_scatter_and_slice_scatter_kernels():
    m = cuda_of(lambda x, i, s: x.scatter(1, i, s), F(3, 5), I([[0, 4, 0], [1, 1, 2]]), F(2, 3))
    src = "\n".join(_kernels(m, "scatter"))
    assert "const long long pos = c0*5 + j;" in src and "atomicMax(&claim[pos]" in src
    m = cuda_of(lambda x: x[::2, 1::3] * 3, F(5, 7), backward=True)
    (src,) = _kernels(m, "slice_scatter")
    assert "out[i] = (c0 % 2 == 0 && c1 >= 1 && (c1 - 1) % 3 == 0) ? in0[(c0 / 2)*2 + (c1 - 1) / 3] : in1[i];" \
        in src


def test_argselect_argmask_and_eye_mask_kernels():
    m = cuda_of(lambda x: x.max(1)[0], F(4, 6))
    (src,) = _kernels(m, "argselect")
    assert "out[i] = in0[c0*6 + j];" in src
    m = cuda_of(lambda x: x.max(1)[0], F(4, 6), backward=True)
    (src,) = _kernels(m, "argmask")
    assert "c1 == (long long)in0[c0]" in src
    m = cuda_of(lambda x: x.trace(), F(3, 4))
    (src,) = _kernels(m, "eye_mask")
    assert "out[i] = (bool)(c0 == c1);" in src


def test_generation_is_deterministic():
    def f(x, i, v):
        return setitem(x, i, v)

    args = (F(5, 3, grad=False), I([1, 3, 1]), F(3, 3, grad=False))
    assert cuda_of(f, *args).text == cuda_of(f, *args).text


# ---------------------------------------------------------------- values (CPU emulator)


def _with_trap(gen):
    """The emulator's shim may lack __trap(): abort there (only an out-of-range index,
    which no case here has, reaches it)."""
    def generate(graph, *a, **k):
        m = gen(graph, *a, **k)
        return dataclasses.replace(m, cuda_source="#ifndef __trap\n#define __trap() abort()\n#endif\n"
                                   + m.cuda_source)
    return generate


@pytest.fixture
def emu(monkeypatch):
    emulator = _emulator()
    if "__trap" not in (EMU_DIR / "cuda_shim.h").read_text():
        monkeypatch.setattr(G, "generate", _with_trap(G.generate))
    return emulator


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy_backend(emu, name):
    fn, make = CASES[name]
    args = make(_rng(name))
    emu.check(fn, *args)
    if any(getattr(a, "requires_grad", False) for a in args):
        emu.check(fn, *args, backward=True)


@pytest.mark.parametrize("dtype", INT_DTYPES + ["float64"])
def test_values_per_dtype_match_numpy_backend(emu, dtype):
    for name, (fn, args) in _dtype_cases(dtype).items():
        em = emu.emulate(fn, *args)
        try:
            em.assert_close()
        except AssertionError as err:
            raise AssertionError(f"{dtype} {name}: {err}") from None


def _reversed_loops(gen):
    """Threads visit elements from the last to the first: the emulator runs them in
    order, which would hide a last-write-wins that depends on the order."""
    loop = re.compile(r"for \((int|long long) i = \(\1\)blockIdx\.x \* blockDim\.x \+ threadIdx\.x; "
                      r"i < (\d+); i \+= \(\1\)blockDim\.x \* gridDim\.x\) \{")

    def generate(graph, *a, **k):
        m = gen(graph, *a, **k)
        src, n = loop.subn(lambda mo: f"for ({mo[1]} i_ = ({mo[1]})blockIdx.x * blockDim.x + threadIdx.x; "
                           f"i_ < {mo[2]}; i_ += ({mo[1]})blockDim.x * gridDim.x) {{ "
                           f"const {mo[1]} i = {mo[2]} - 1 - i_;", m.cuda_source)
        assert n
        return dataclasses.replace(m, cuda_source=src)
    return generate


@pytest.mark.parametrize("name", ["index_put", "setitem_dups", "scatter", "scatter_dim0_cut_src"])
def test_last_write_wins_whatever_the_thread_order(emu, monkeypatch, name):
    monkeypatch.setattr(G, "generate", _reversed_loops(G.generate))
    fn, make = CASES[name]
    emu.check(fn, *make(_rng(name)))
