"""CUDA kernels of the window family (conv2d, unfold2d, fold2d; pooling is built on them),
no GPU needed: what the kernels look like, that nvcc accepts them, and (with the CPU
emulator of tests/cudaemu and g++) that they compute what the NumPy backend does."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from torchtrek.codegen.cuda.check import compile_all, nvcc_path
from torchtrek.codegen.cuda.generator import generate

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek._dispatch import bind

RNG = np.random.default_rng(0)


def cuda_of(fn, *args, backward=False):
    cg = tt.compile(fn)._entry_for(args, {}, backward).compiled
    return generate(cg.backward_graph if backward else cg.forward_graph)


def _kernel(module, op):
    (k,) = [k for k in module.kernels if k.name.endswith("_" + op)]
    return k.source


def T(*shape, dtype=np.float32, grad=True):
    return tt.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=grad)


def I(*shape, dtype=np.int64, lo=-5, hi=6):
    return tt.tensor(RNG.integers(lo, hi, shape).astype(dtype))


GEO = {"kernel": (3, 2), "stride": (2, 1), "padding": (1, 2, 0, 1), "dilation": (1, 2)}  # asymmetric


def unfold(x, pad="zeros", geo=GEO):
    return bind("unfold2d", [x], {**geo, "pad": pad})


def fold(x, shape=(2, 3, 7, 8), geo=GEO):
    return bind("fold2d", [x], {**geo, "input_shape": shape})


# (name, fn, inputs, differentiate?): forward always, backward where marked
CASES = [
    ("conv_tiled16_groups", lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=2),
     [T(2, 4, 7, 6), T(32, 2, 3, 3)], True),
    ("conv_tiled64_dilated", lambda x, w: F.conv2d(x, w, padding=(1, 2), dilation=(2, 1)),
     [T(2, 3, 9, 8), T(70, 3, 3, 2)], True),
    ("conv_tiled32_1xk", lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2)),
     [T(3, 5, 6, 7), T(40, 5, 1, 3), T(40)], True),
    ("conv_tiled_1x1", lambda x, w: F.conv2d(x, w), [T(2, 8, 3, 3), T(16, 8, 1, 1)], True),
    ("conv_depthwise_same", lambda x, w: F.conv2d(x, w, groups=4, padding="same"),
     [T(2, 4, 5, 5), T(4, 1, 2, 2)], True),
    ("conv_direct_strided", lambda x, w: F.conv2d(x, w, stride=2, padding=2, dilation=2),
     [T(2, 3, 9, 9), T(5, 3, 3, 3)], True),
    ("conv_f64", lambda x, w: F.conv2d(x, w, padding=1),
     [T(2, 3, 5, 5, dtype=np.float64), T(16, 3, 3, 3, dtype=np.float64)], True),
    ("conv_i64_tiled", lambda x, w: F.conv2d(x, w, padding=1), [I(2, 3, 5, 5), I(20, 3, 3, 3)], False),
    ("conv_i32_direct", lambda x, w: F.conv2d(x, w, padding=1, groups=3),
     [I(2, 3, 5, 5, dtype=np.int32), I(6, 1, 3, 3, dtype=np.int32)], False),
    ("conv_empty_batch", lambda x, w: F.conv2d(x, w, padding=1), [T(0, 3, 5, 5), T(20, 3, 3, 3)], True),
    ("conv_no_channels", lambda x, w: F.conv2d(x, w, padding=1), [T(2, 0, 5, 5), T(20, 0, 3, 3)], True),
    ("max_pool", lambda x: F.max_pool2d(x, 3, 2, 1), [T(2, 3, 7, 8)], True),
    ("max_pool_ceil_dilated", lambda x: F.max_pool2d(x, (2, 3), (2, 2), (1, 1), ceil_mode=True,
                                                     dilation=(1, 2)), [T(2, 3, 7, 8)], True),
    ("max_pool_i32", lambda x: F.max_pool2d(x, 3, 2, 1), [I(2, 3, 7, 8, dtype=np.int32)], False),
    ("max_pool_u8", lambda x: F.max_pool2d(x, 3, 2, 1), [I(2, 3, 7, 8, dtype=np.uint8, lo=0, hi=255)],
     False),
    ("avg_pool", lambda x: F.avg_pool2d(x, 3, 2, 1), [T(2, 3, 7, 8)], True),
    ("unfold_lowest", lambda x: unfold(x, "lowest"), [T(2, 3, 7, 8)], True),
    ("unfold_i8_lowest", lambda x: unfold(x, "lowest"), [I(2, 3, 7, 8, dtype=np.int8)], False),
    ("fold", fold, [T(2, 3, 4, 7, 3, 2)], True),
    ("fold_i64", fold, [I(2, 3, 4, 7, 3, 2)], False),
    ("fold_i8_wraps", fold, [I(2, 3, 4, 7, 3, 2, dtype=np.int8, lo=-128, hi=128)], False),
]
IDS = [c[0] for c in CASES]


def _modules():
    out = []
    for _, fn, args, diff in CASES:
        out.append(cuda_of(fn, *args))
        if diff:
            out.append(cuda_of(fn, *args, backward=True))
    return out


def test_every_window_kernel_compiles_with_nvcc():
    if nvcc_path() is None:
        pytest.skip("nvcc not found (install the CUDA toolkit to compile the generated kernels)")
    modules = _modules()
    ops = {k.name.split("_", 1)[1] for m in modules for k in m.kernels}
    assert {"conv2d", "unfold2d", "fold2d"} <= ops
    assert compile_all(modules) == []


# ------------------------------------------------------------------ kernel text


def test_unfold_checks_only_the_padded_sides_and_pads_with_the_op_value():
    src = _kernel(cuda_of(lambda x: unfold(x), T(2, 3, 7, 8)), "unfold2d")
    # padding (top 1, bottom 2, left 0, right 1): no `x >= 0` test, left is unpadded
    assert "(y >= 0 && y < 7 && x < 8) ? in0[c0 * 56 + y * 8 + x] : (float)(0)" in src
    assert "const long long y = c1 * 2 + c3 - 1;" in src and "const long long x = c2 + c4 * 2;" in src
    plain = _kernel(cuda_of(lambda x: unfold(x, geo={**GEO, "padding": (0, 0, 0, 0)}), T(2, 3, 7, 8)),
                    "unfold2d")
    assert "out[i] = in0[c0 * 56 + y * 8 + x];" in plain  # no padding: no checks at all
    lowest = {np.float32: "(float)(-INFINITY)", np.float64: "(double)(-INFINITY)",
              np.int64: "(long long)(LLONG_MIN)", np.int32: "(int)(INT_MIN)",
              np.uint8: "(unsigned char)(0)"}
    for dtype, text in lowest.items():
        x = tt.tensor(np.zeros((1, 2, 5, 5), dtype))
        assert text in _kernel(cuda_of(lambda x: unfold(x, "lowest"), x), "unfold2d")


def test_fold_is_a_gather_without_atomics():
    m = cuda_of(fold, T(2, 3, 4, 7, 3, 2))
    src = _kernel(m, "fold2d")
    assert "atomicAdd" not in m.cuda_source and len(m.kernels) == 1
    assert "for (int ki = 0; ki < 3; ++ki) {" in src and "for (int kj = 0; kj < 2; ++kj) {" in src
    assert "if (th < 0 || th % 2 != 0) continue;" in src  # stride 2 rows: only every other tap
    assert "if (tw < 0) continue;" in src  # stride 1 columns: no modulo
    assert "acc += planes[((oh * 7 + ow) * 3 + ki) * 2 + kj];" in src
    # integers add in 64 bits, then wrap to the dtype as NumPy's adds do
    src = _kernel(cuda_of(fold, I(2, 3, 4, 7, 3, 2, dtype=np.int8)), "fold2d")
    assert "long long acc = 0;" in src and "out[i] = (signed char)acc;" in src


def test_conv_with_many_channels_per_group_is_a_tiled_implicit_gemm():
    m = cuda_of(lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=2), T(2, 4, 7, 6), T(128, 2, 3, 3))
    (k,) = [k for k in m.kernels if k.name.endswith("conv2d")]
    assert k.grid == (1, 1, 2) and k.block == (256, 1, 1)  # 64 x 64 tiles, one group per z
    src = k.source
    assert "__shared__ float Ws[16][64];" in src and "__shared__ float Xs[16][64];" in src
    assert src.count("__syncthreads();") == 2
    assert "const int ch = k / 9, i = k % 9 / 3, j = k % 3;" in src
    assert "out[(pn * 128 + g * 64 + m) * 12LL + pp] = (float)acc[a][b];" in src
    # fewer channels per group: taller pixel tiles
    k32 = _kernel(cuda_of(lambda x, w: F.conv2d(x, w), T(1, 3, 5, 5), T(40, 3, 3, 3)), "conv2d")
    assert "__shared__ float Xs[16][128];" in k32
    k16 = _kernel(cuda_of(lambda x, w: F.conv2d(x, w), T(1, 3, 5, 5), T(16, 3, 1, 1)), "conv2d")
    assert "__shared__ float Xs[16][256];" in k16 and "const int ch = k, i = 0, j = 0;" in k16


def test_depthwise_conv_is_direct_with_64_bit_integer_sums():
    src = _kernel(cuda_of(lambda x, w: F.conv2d(x, w, padding=1, groups=4), T(2, 4, 6, 6),
                          T(4, 1, 3, 3)), "conv2d")
    assert "__shared__" not in src
    assert "const float* __restrict__ xp = in0 + (c0 * 4 + c1) * 36LL;" in src
    assert "acc += (float)xp[y * 6 + x] * (float)wp[ki * 3 + kj];" in src
    src = _kernel(cuda_of(lambda x, w: F.conv2d(x, w, groups=2), I(2, 4, 6, 6, dtype=np.int32),
                          I(4, 2, 3, 3, dtype=np.int32)), "conv2d")
    assert "long long acc = 0;" in src and "out[i] = (int)acc;" in src
    assert "if (!(" not in src  # no padding: no bounds checks


def test_window_kernels_are_deterministic():
    def f(x, w):
        return F.max_pool2d(F.conv2d(x, w, padding=1), 2).sum()

    args = (T(2, 3, 8, 8), T(24, 3, 3, 3))
    assert cuda_of(f, *args).text == cuda_of(f, *args).text
    assert cuda_of(f, *args, backward=True).text == cuda_of(f, *args, backward=True).text


# ------------------------------------------------------------------ values (CPU emulator)

_EMU_PATH = Path(__file__).resolve().parents[1] / "cudaemu" / "emulator.py"


def _emulator():
    if not _EMU_PATH.exists():
        pytest.skip("tests/cudaemu/emulator.py not present")
    name = "torchtrek_tests_cudaemu_emulator"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _EMU_PATH)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    emu = sys.modules[name]
    if not emu.available():
        pytest.skip("no C++ compiler for the CUDA emulator")
    return emu


@pytest.mark.parametrize("name,fn,args,diff", CASES, ids=IDS)
def test_window_kernels_compute_what_numpy_does(name, fn, args, diff):
    emu = _emulator()
    tol = {"rtol": 1e-10, "atol": 1e-12} if args[0].dtype.name == "float64" else {}
    emu.check(fn, *args, **tol)
    if diff:
        emu.check(fn, *args, backward=True, **tol)
