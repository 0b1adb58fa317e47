"""CUDA kernels for cumsum/cumprod, var/std/pnorm and uniform (codegen/cuda/families:
scans.py, stats.py, random.py), without a GPU: what the kernels look like, that nvcc
compiles them, and their values through the CPU emulator (tests/cudaemu) against the
NumPy backend. The GPU runs are tests/cuda/test_cuda_scans_stats.py."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.codegen.cuda.check import compile_all, nvcc_path
from torchtrek.codegen.cuda.families import random as cuda_random
from torchtrek.codegen.cuda.generator import generate

RNG = np.random.default_rng(0)


def cuda_of(fn, *args, backward=False):
    cg = tt.compile(fn)._entry_for(args, {}, backward).compiled
    return generate(cg.backward_graph if backward else cg.forward_graph)


def T(*shape, dtype="float32", grad=False):
    return tt.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=grad)


def with_zeros(*shape):
    a = RNG.standard_normal(shape).astype(np.float32)
    a[np.abs(a) < 0.5] = 0
    return tt.tensor(a, requires_grad=True)


def _emulator():
    path = Path(__file__).parents[1] / "cudaemu" / "emulator.py"
    if not path.exists():
        pytest.skip("no CUDA emulator (tests/cudaemu/emulator.py)")
    spec = importlib.util.spec_from_file_location("_cudaemu_scans", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    if not mod.available():
        pytest.skip("the CUDA emulator needs g++")
    return mod


# (name, fn, args, backward): every kernel shape and parameter the printers distinguish
SCANS = [
    ("cumsum_last_block_per_line", lambda x: x.cumsum(-1), lambda: (T(3, 1000),), False),
    ("cumsum_small", lambda x: x.cumsum(1), lambda: (T(4, 5),), False),
    ("cumsum_dim0_thread_per_line", lambda x: x.cumsum(0), lambda: (T(3, 300),), False),
    ("cumsum_dim0_strided_blocks", lambda x: x.cumsum(0), lambda: (T(100, 7),), False),
    ("cumsum_tiled_1d", lambda x: x.cumsum(0), lambda: (T(20000),), False),
    ("cumsum_tiled_strided", lambda x: x.cumsum(1), lambda: (T(2, 9000, 3),), False),
    ("cumsum_tiled_backward", lambda x: (x.cumsum(0) * x).sum(), lambda: (T(20000, grad=True),), True),
    ("cumsum_int64", lambda x: x.cumsum(0), lambda: (tt.tensor(RNG.integers(-5, 5, (20000,))),), False),
    ("cumsum_bool", lambda x: (x > 0).cumsum(1), lambda: (T(3, 40),), False),
    ("cumsum_int32_dtype", lambda x: x.cumsum(0, dtype=tt.int32),
     lambda: (tt.tensor(RNG.integers(-5, 5, (7, 3))),), False),
    ("cumsum_0d", lambda x: x.cumsum(0), lambda: (T(),), False),
    ("cumsum_empty", lambda x: x.cumsum(1) + 1, lambda: (T(3, 0),), False),
    ("cumprod_f64", lambda x: x.cumprod(1), lambda: (T(3, 5, dtype="float64"),), False),
    ("cumprod_neg_dim", lambda x: x.cumprod(-2), lambda: (T(2, 6, 3),), False),
    ("cumsum_backward", lambda x: (x.cumsum(1) * x).sum(), lambda: (T(3, 6, grad=True),), True),
    ("cumprod_backward_zeros", lambda x: x.cumprod(1), lambda: (with_zeros(3, 8),), True),
    ("cumprod_backward_dim0", lambda x: x.cumprod(0).sum(), lambda: (with_zeros(6, 4),), True),
]

STATS = [
    ("var_dim", lambda x: tt.var(x, 1), lambda: (T(4, 5),), False),
    ("var_large_mean", lambda x: tt.var(x + 1000, 1), lambda: (T(4, 500),), False),
    ("var_all", lambda x: tt.var(x), lambda: (T(4, 5),), False),
    ("var_correction_5", lambda x: tt.var(x, 1, correction=5), lambda: (T(4, 5),), False),
    ("var_dof_zero", lambda x: tt.var(x, 0), lambda: (T(1, 5),), False),
    ("var_empty", lambda x: tt.var(x, 1), lambda: (T(3, 0),), False),
    ("std_dims_keep_f64", lambda x: tt.std(x, (0, 2), correction=0, keepdim=True),
     lambda: (T(4, 5, 6, dtype="float64"),), False),
    ("std_neg_dim", lambda x: x.std(-1, keepdim=True), lambda: (T(3, 4, 33),), False),
    ("std_backward", lambda x: tt.std(x, 1).sum(), lambda: (T(3, 7, grad=True),), True),
    ("var_backward", lambda x: (tt.var(x, 0, keepdim=True) * x).sum(), lambda: (T(5, 3, grad=True),), True),
] + [
    (f"pnorm_p{p:g}", (lambda p: lambda x: x.norm(p, 1))(p), lambda: (T(4, 50),), False)
    for p in (0, 1, 2, 3, 0.5, -1.5, float("inf"), -float("inf"))
] + [
    ("pnorm_fro_all", lambda x: x.norm(), lambda: (T(3, 4),), False),
    ("pnorm_empty", lambda x: x.norm(dim=1), lambda: (T(3, 0),), False),
    ("pnorm_f64_keep", lambda x: x.norm(2.5, (0, 2), keepdim=True), lambda: (T(3, 4, 5, dtype="float64"),), False),
    ("pnorm_backward", lambda x: x.norm(2.5, (0, 1)).sum(), lambda: (T(4, 5, grad=True),), True),
    ("pnorm_backward_p2", lambda x: x.norm(dim=1).sum(), lambda: (T(4, 5, grad=True),), True),
]

CASES = SCANS + STATS


def _module(case):
    _, fn, args, backward = case
    return cuda_of(fn, *args(), backward=backward)


def test_every_case_generates_and_nvcc_compiles():
    modules = [_module(c) for c in CASES]
    modules += [cuda_of(lambda x: F.dropout(x, 0.3), T(*s, dtype=d))
                for s, d in [((4, 5), "float32"), ((3, 7), "float32"), ((5,), "float64"), ((6,), "float64")]]
    modules.append(cuda_of(lambda x: (F.dropout(x, 0.5) ** 2).sum(), T(8, 3, grad=True), backward=True))
    if nvcc_path() is None:
        pytest.skip("nvcc not found: generated, not compiled")
    assert compile_all(modules) == []


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_emulated_values_match_numpy_backend(case):
    em = _emulator()
    name, fn, args, backward = case
    tol = dict(rtol=1e-4, atol=1e-3) if "tiled" in name else dict(rtol=2e-4, atol=1e-5)
    em.check(fn, *args(), backward=backward, **tol)


# ------------------------------------------------------------------ kernel shapes
def _kernels(m):
    return [k.name for k in m.kernels]


def test_scan_kernel_shapes_follow_the_sizes():
    # many lines with inner > 1: one thread per line, neighbouring threads on neighbouring lines
    m = cuda_of(lambda x: x.cumsum(0), tt.ones(8, 100000))
    assert _kernels(m) == ["k0_cumsum"] and "one thread per line" in m.cuda_source
    assert "const long long at = base + j * 100000LL;" in m.cuda_source
    # a contiguous line: one block, warp shuffles with a carry
    m = cuda_of(lambda x: x.cumsum(1), tt.ones(64, 500))
    assert "one block per line" in m.cuda_source and "__shfl_up_sync" in m.cuda_source
    assert m.kernels[0].grid == (64, 1, 1)
    # a short line gets a small block (whole warps)
    m = cuda_of(lambda x: x.cumsum(1), tt.ones(1000, 5))
    assert m.kernels[0].block == (32, 1, 1)
    # a 1-D scan of 1e6 elements: three passes over tiles, many blocks
    m = cuda_of(lambda x: x.cumsum(0), tt.ones(10**6))
    assert _kernels(m) == ["k0_cumsum", "k1_cumsum", "k2_cumsum"]
    assert m.kernels[0].grid == (245, 1, 1) and m.kernels[2].grid == (245, 1, 1)
    assert '_tiles_cumsum = alloc((245,), "float32")' in m.launcher_source


def test_scan_accumulates_float32_in_float_and_integers_in_long_long():
    src = cuda_of(lambda x: x.cumsum(1), tt.ones(3, 40)).cuda_source
    assert "float carry = (float)0;" in src and "double" not in src.split("tt_argmax_step")[-1]
    src = cuda_of(lambda x: x.cumsum(0, dtype=tt.int32), tt.ones(5, 3000, dtype=tt.int64)).cuda_source
    assert "long long acc = (long long)0;" in src and "out[at] = (int)acc;" in src


def test_reverse_cumsum_reads_the_line_backwards():
    m = cuda_of(lambda x: x.cumsum(1).sum(), tt.ones(3, 40, requires_grad=True), backward=True)
    assert "cumsum (reverse) along dim 1" in m.cuda_source
    assert "in0[base + (39 - p)]" in m.cuda_source


def test_var_is_two_pass_with_the_declared_dof():
    src = cuda_of(lambda x: tt.var(x, 1, correction=2), tt.ones(4, 10)).cuda_source
    assert "mean_s = acc / 10.0F" in src and "out[o] = acc / 8.0F;" in src
    assert src.count("tt_block_reduce<float, TtSum<float> >") == 2
    src = cuda_of(lambda x: tt.std(x, 1, unbiased=False), tt.ones(4, 10, dtype=tt.float64)).cuda_source
    assert "out[o] = sqrt(acc / 10.0);" in src
    m = cuda_of(lambda x: tt.var(x, 1), tt.ones(4096, 64))
    assert m.kernels[0].block == (64, 1, 1) and m.kernels[0].grid == (4096, 1, 1)


def test_pnorm_variants():
    src = cuda_of(lambda x: x.norm(0.5, 1), tt.ones(4, 10)).cuda_source
    assert "powf(fabsf((float)in0[base + off]), 0.5F)" in src and "powf(acc, 2.0F)" in src
    src = cuda_of(lambda x: x.norm(dim=1), tt.ones(4, 10)).cuda_source
    assert "sqrtf(acc)" in src and "powf" not in src
    src = cuda_of(lambda x: x.norm(0, 1), tt.ones(4, 10)).cuda_source
    assert "acc += ((float)in0[base + off] != 0);" in src


def test_generation_is_deterministic():
    def f(x):
        return x.cumsum(0) + tt.var(x) + x.norm(3) + F.dropout(x, 0.2)

    g = tt.compile(f)._entry_for((tt.ones(20000),), {}, False).compiled.forward_graph
    assert generate(g).text == generate(g).text


# ------------------------------------------------------------------ uniform (Philox)
def test_philox_reference_matches_the_random123_known_answers():
    ph = cuda_random.philox_reference
    assert ph(0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    assert ph(2**64 - 1, 2**128 - 1) == (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)
    assert ph(0x299F31D0A4093822, 0x0370734413198A2E85A308D3243F6A88) == (
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)


def test_uniform_kernel_and_launcher():
    m = cuda_of(lambda x: F.dropout(x, 0.3), tt.ones(4, 5))
    assert _kernels(m)[0] == "k0_uniform"
    assert "0xD2511F53u" in m.cuda_source and "0xCD9E8D57u" in m.cuda_source
    assert "unsigned long long seed, unsigned long long offset" in m.cuda_source
    assert "reinterpret_cast<float4*>(out)[g]" in m.cuda_source  # 20 values: whole groups
    assert "K.k0_uniform.prepared_call((1, 1, 1), (256, 1, 1), uniform.gpudata, *K.philox(5))" \
        in m.launcher_source
    assert len(m.kernels[0].args) == 3  # prepared as three 64-bit ("P") arguments
    m = cuda_of(lambda x: F.dropout(x, 0.3), tt.ones(3, 7, dtype=tt.float64))
    assert "*K.philox(11)" in m.launcher_source and "if (g * 2 + j < 21LL)" in m.cuda_source


def test_next_philox_follows_manual_seed_and_advances():
    tt.manual_seed(123)
    a = [cuda_random.next_philox(5) for _ in range(3)]
    assert a == [(123, 0), (123, 5), (123, 10)]
    tt.manual_seed(123)
    assert cuda_random.next_philox(1) == (123, 0)  # a reseed restarts the stream
    tt.manual_seed(7)
    assert cuda_random.next_philox(1) == (7, 0)
    tt.manual_seed(0)


@pytest.mark.parametrize("shape,dtype", [((4, 5), "float32"), ((3, 7), "float32"),
                                         ((5,), "float64"), ((2, 2), "float64")])
def test_emulated_uniform_matches_the_python_philox(shape, dtype):
    em = _emulator()
    from torchtrek.runtime.loader import load_function

    seed, offset = 0x1234567890ABCDEF, 77
    m = cuda_of(lambda x: F.dropout(x, 0.3), tt.ones(*shape, dtype=getattr(tt, dtype)))
    K = em._EmuKernels(em.library(m.cuda_source))
    K.philox = lambda groups: (seed, offset)
    run = load_function(m.launcher_source, m.fn_name)
    out = run(K, em.alloc, em.EmuArray.from_numpy(np.ones(shape, dtype)))[0].get()
    u = cuda_random.uniform_reference(seed, offset, int(np.prod(shape)), dtype).reshape(shape)
    assert ((u >= 0) & (u < 1)).all()
    np.testing.assert_allclose(out, (u >= 0.3) * np.asarray(1 / 0.7, dtype), rtol=1e-6)


def test_uniform_reference_statistics():
    u = cuda_random.uniform_reference(5, 0, 20000)
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert not np.array_equal(u[:8], cuda_random.uniform_reference(6, 0, 8))
    np.testing.assert_array_equal(u[8:16], cuda_random.uniform_reference(5, 2, 8))  # offset = groups


def test_cuda_export_of_dropout_has_its_own_stream(tmp_path):
    path = tt.export(lambda x: F.dropout(x, 0.5), tt.ones(4, 4), target="cuda", out=tmp_path / "cu")
    text = path.read_text()
    assert "def manual_seed(seed):" in text and "def philox(groups):" in text
    assert "*K.philox(4)" in text
