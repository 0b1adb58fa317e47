"""The generated CUDA kernels, run on the CPU by the emulator (emulator.py), against the
NumPy backend on the same graph: forward and backward. No GPU needed; g++ is."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import emulator as E
from test_cuda_ops import CASES as GPU_CASES

import torchtrek as tt

pytestmark = pytest.mark.skipif(not E.available(), reason="the CUDA emulator needs g++ (not found on PATH)")

RNG = np.random.default_rng(0)


def r(*shape, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


# (name, fn, input shapes, positive inputs?): every case of the GPU tests, and more
CASES = GPU_CASES + [
    ("expand_3d", lambda x, y: (x * y).sum(1), [(2, 1, 7), (5, 1)], False),
    # reductions keeping the innermost dim with >= 1024 outputs: 32x8 blocks reading rows
    ("column_sum", lambda x: x.sum(0), [(300, 1100)], False),
    ("column_amax_mid_dim", lambda x: (x * 2).amax(1), [(7, 5, 300)], False),
    ("column_mean_two_dims", lambda x: x.exp().mean((0, 1)), [(4, 9, 1030)], False),
    # elementwise producers computed inside reductions; broadcasts read in place
    ("chain_into_sum", lambda x: (x.exp() * 2 + 1).tanh().sum(1), [(4, 100)], False),
    ("log_softmax_dim0", lambda x: tt.nn.functional.log_softmax(x, 0) * 2, [(37, 5)], False),
    ("masked_mean", lambda x, y: tt.where(x > 0, x * y, 0.0).mean((0, 2)), [(3, 4, 5), (4, 5)], False),
    ("sum_of_broadcast", lambda x: (x.exp() + 1).sum(0, keepdim=True).expand(6, 7) * x, [(6, 7)], False),
    ("argmax_of_chain", lambda x: (x * 2).argmax(1).float() + x.sum(1), [(9, 13)], False),
    ("pointwise_shared_producer", lambda x: (x * 2 + 1).tanh() * x + (x * 2 + 1).tanh().exp(), [(1000,)], False),
    # elementwise consumers of a reduction computed in its final write
    ("mean_dims", lambda x: x.mean((0, 2)), [(3, 4, 5)], False),
    ("sum_times_operand", lambda x, y: x.sum(1) * y + 1, [(6, 9), (6,)], False),
    ("keepdim_minus_broadcast", lambda x, z: x.amax(1, keepdim=True) - z, [(6, 9), (1, 1)], False),
    ("operand_defined_later", lambda x, y, w: (lambda a, b: a + b)(x.sum(1), y @ w), [(6, 9), (6, 3), (3,)],
     False),
    ("column_mean", lambda x: x.mean(0) * 3, [(40, 1100)], False),
    ("logsumexp", lambda x: x.logsumexp(1), [(5, 30)], False),
    # 64x64 and 32x32 matmul tiles (products too small to fill the SMs with 128x128)
    ("matmul_mid_tiles", lambda x, y: x @ y, [(1000, 20), (20, 1000)], False),
    ("matmul_small_tiles_batched_T", lambda x, y: x @ y.transpose(-1, -2), [(2, 33, 40), (2, 50, 40)], False),
]


def _arrays(shapes, positive):
    return [r(*s, positive=positive) for s in shapes]


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name,fn,shapes,positive", CASES, ids=[c[0] for c in CASES])
def test_emulated_cuda_matches_numpy_backend(name, fn, shapes, positive, backward):
    E.check(fn, *_arrays(shapes, positive), backward=backward, rtol=1e-4, atol=1e-4)


def test_broadcast_coordinates_regression():
    # generator._coords once printed `c1 = _r` instead of `_r % 17` here: nvcc was happy
    em = E.check(lambda x, y: x * y, r(33, 17), r(17))
    assert "% 17" in em.module.cuda_source or "in0[i]" in em.module.cuda_source


def test_matmul_kernel_runs_with_barriers():
    em = E.check(lambda x, y: x @ y, r(2, 9, 140), r(140, 3))
    assert "__syncthreads" in em.module.cuda_source
    lib = E.library(em.module.cuda_source)
    assert any(lib.fibers.values())


def test_argmax_argmin_and_integer_reductions():
    x = r(5, 6)
    x[2, 1] = x[2, 4] = 9.0  # a tie: the first index wins
    x[4, 3] = np.nan  # NaN wins
    for fn in (lambda x: x.argmax(1), lambda x: x.argmin(0), lambda x: x.argmax(-1),
               lambda x: (x > 0).all(1), lambda x: (x > 0).any(),
               lambda x: (x > 0).long().sum(0)):
        E.check(fn, x)


def test_argmax_long_rows():
    E.check(lambda x: x.argmax(1), r(3, 700))


def test_gather_and_embedding_backward():
    idx = np.array([[0, 5], [3, 3], [2, 0], [1, 1], [4, 2]])
    rows = np.array([1, 1, 3, 0])
    f = lambda x, i: x.gather(1, i) * 2
    E.check(f, r(5, 6), idx)
    E.check(f, r(5, 6), idx, backward=True)
    g = lambda w, i: tt.nn.functional.embedding(i, w) * 3
    E.check(g, r(5, 4), rows)
    E.check(g, r(5, 4), rows, backward=True)


def test_gather_negative_index():
    E.check(lambda x, i: x.gather(0, i), r(4, 3), np.array([[-1, 0, -4], [2, -2, 1]]))


def test_mlp_cross_entropy_forward_and_backward():
    x, w1, w2 = r(16, 12), r(12, 20) * 0.3, r(20, 4) * 0.3
    y = RNG.integers(0, 4, 16)

    def f(x, w1, w2, y):
        return tt.nn.functional.cross_entropy(tt.relu(x @ w1) @ w2, y)

    E.check(f, x, w1, w2, y)
    E.check(f, x, w1, w2, y, backward=True)


def test_unwritten_outputs_are_caught():
    a = E.alloc((3, 4), "float32")
    assert E.unwritten(a.get()).all()
    b = E.alloc((5,), "int64")
    assert E.unwritten(b.get()).all()
    assert not E.unwritten(np.zeros(4, np.float32)).any()


SYNC_SRC = r'''
extern "C" __global__ void __launch_bounds__(64) k_scan(const float* __restrict__ in0, float* __restrict__ out,
                                                     unsigned long long seed, float scale) {
  __shared__ float s[64];
  const int t = threadIdx.x;
  s[t] = in0[blockIdx.x * 64 + t];
  __syncthreads();
  // Hillis-Steele inclusive scan through shared memory
  for (int d = 1; d < 64; d <<= 1) {
    const float v = t >= d ? s[t - d] : 0.0f;
    __syncthreads();
    s[t] += v;
    __syncthreads();
  }
  float w = __shfl_xor_sync(0xffffffffu, s[t], 1);   // the neighbour's prefix
  float u = __shfl_up_sync(0xffffffffu, w, 2);
  out[blockIdx.x * 64 + t] = (s[t] + 0.0f * u) * scale + (float)(seed % 7) + 0.0f * w;
}
'''


def test_fibers_shared_memory_scan_shuffles_and_value_arguments():
    from torchtrek.codegen.cuda.generator import CudaModule

    launcher = ('def f(K, alloc, x):\n'
                '    out = alloc((3, 64), "float32")\n'
                '    K.k_scan.prepared_call((3, 1, 1), (64, 1, 1), x.gpudata, out.gpudata, 2**40 + 3, 0.5)\n'
                '    return (out,)\n')
    m = CudaModule("#include <cstdint>\n" + SYNC_SRC, launcher, "f", [])
    x = r(3, 64)
    (out,) = E.run_module(m, x)
    expect = np.cumsum(x.astype(np.float64), axis=1) * 0.5 + (2**40 + 3) % 7
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_divergent_barrier_is_reported():
    from torchtrek.codegen.cuda.generator import CudaModule

    src = ('extern "C" __global__ void k_bad(float* out) {\n'
           '  if (threadIdx.x < 16) __syncthreads(); else __syncwarp();\n  out[threadIdx.x] = 1;\n}\n')
    launcher = ('def f(K, alloc):\n    out = alloc((64,), "float32")\n'
                '    K.k_bad.prepared_call((1, 1, 1), (64, 1, 1), out.gpudata)\n    return (out,)\n')
    with pytest.raises(E.EmulationError, match="deadlock"):
        E.run_module(CudaModule(src, launcher, "f", []))


def test_out_of_range_index_traps():
    import torchtrek.codegen.cuda.generator as G

    em = E.check(lambda x, i: x[i] * 2, r(5, 3), np.array([4, -1, 0]))
    if "__trap" not in em.module.cuda_source:
        pytest.skip("the index kernel does not check its indices")
    with pytest.raises(E.EmulationError, match="__trap"):
        E.run_module(em.module, r(5, 3), np.array([4, 7, 0]))
    assert G  # (the module text above came from the generator)


def test_order_dependent_kernel_is_caught():
    from torchtrek.codegen.cuda.generator import CudaModule

    # each thread reads its left neighbour's output: right only if threads run in order
    src = ('extern "C" __global__ void k_race(const float* __restrict__ in0, float* __restrict__ out) {\n'
           '  const int i = blockIdx.x * blockDim.x + threadIdx.x;\n'
           '  if (i < 300) out[i] = in0[i] + (i ? out[i - 1] : 0.0f);\n}\n')
    launcher = ('def f(K, alloc, x):\n    out = alloc((300,), "float32")\n'
                '    K.k_race.prepared_call((2, 1, 1), (256, 1, 1), x.gpudata, out.gpudata)\n'
                '    return (out,)\n')
    m = CudaModule(src, launcher, "f", [])
    x = np.ones(300, np.float32)
    (fwd,) = E.run_module(m, x)
    np.testing.assert_array_equal(fwd, np.arange(1, 301))
    (rev,) = E.run_module(m, x, order="reverse")
    assert E.unwritten(rev).any() or not np.array_equal(rev, fwd)


def test_dropout_draws_the_philox_stream():
    from torchtrek.codegen.cuda.generator import generate

    try:
        from torchtrek.codegen.cuda.families.random import (
            next_philox,
            uniform_reference,
        )
    except ImportError:
        pytest.skip("no CUDA random kernels yet")
    x = tt.tensor(r(7, 9))
    cg = tt.compile(lambda x: tt.nn.functional.dropout(x, 0.25), backend="numpy")._entry_for(
        (x,), {}, False).compiled
    m = generate(cg.forward_graph)
    tt.manual_seed(11)
    (out,) = E.run_module(m, x.numpy())
    tt.manual_seed(11)
    seed, offset = next_philox(0)
    u = uniform_reference(seed, offset, 63).reshape(7, 9)
    expect = x.numpy() * ((u >= 0.25).astype(np.float32) * np.float32(1 / 0.75))
    np.testing.assert_allclose(out, expect, rtol=1e-6)
    assert 0.5 < (out != 0).mean() < 0.95


FAMILY_CASES = [
    ("index", lambda x, i: x[i] * 2, [(5, 3), np.array([4, -1, 0, 2])]),
    ("index_put_acc", lambda x, i, v: x.index_put((i,), v, accumulate=True),
     [(5, 3), np.array([1, 1, -1]), (3, 3)]),
    ("scatter", lambda x, i, s: x.scatter(1, i, s), [(3, 5), np.array([[0, 4], [1, 1], [2, 3]]), (3, 2)]),
    ("scatter_add", lambda x, i, s: x.scatter_add(0, i, s),
     [(3, 5), np.array([[0, 1, 2, 0, -1], [2, 2, 2, 1, 0]]), (2, 5)]),
    ("cumsum", lambda x: x.cumsum(-1), [(3, 300)]),
    ("var", lambda x: x.var(1), [(6, 50)]),
    ("norm", lambda x: x.norm(p=3, dim=1), [(5, 7)]),
    ("conv2d", lambda x, w: tt.nn.functional.conv2d(x, w, padding=1), [(2, 3, 7, 6), (4, 3, 3, 3)]),
    ("max_pool", lambda x: tt.nn.functional.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    ("max_dim", lambda x: x.max(1)[0] + x.max(1)[1], [(4, 9)]),
    ("layer_norm", lambda x: tt.nn.functional.layer_norm(x, (8,)), [(5, 8)]),
    ("captured_eye", lambda x: x * tt.eye(4), [(4, 4)]),
]


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name,fn,specs", FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_family_kernels_match_numpy_backend(name, fn, specs, backward):
    args = [r(*s) if isinstance(s, tuple) else s for s in specs]
    try:
        E.check(fn, *args, backward=backward, rtol=1e-4, atol=1e-4)
    except NotImplementedError as err:  # a family not written yet
        pytest.skip(str(err))


# float16 data: stored as half (tt_half), computed in float, accumulated in float
def _h(*shape):
    return RNG.standard_normal(shape).astype(np.float16)


HALF_CASES = [
    ("add_broadcast", lambda x, y: x + y, [(4, 5), (5,)]),
    ("chain", lambda x: (x * 2 + 1).tanh() * x, [(100,)]),
    ("row_and_column_sums", lambda x: x.sum(1).sum() + x.sum(0).sum(), [(30, 1100)]),
    ("argmax_amax", lambda x: x.argmax(1).half() + x.amax(1), [(4, 10)]),
    ("matmul", lambda x, y: x @ y, [(33, 20), (20, 17)]),
    ("softmax_where", lambda x: tt.where(x > 0, tt.nn.functional.softmax(x, 1), 0.0), [(6, 10)]),
    ("tri_pad_cat", lambda x: tt.cat([x.tril(), tt.nn.functional.pad(x, (1, 1))], 1), [(4, 4)]),
    ("cumsum_var_norm", lambda x: x.cumsum(1).sum(1) + x.var(1) + x.norm(3, 1), [(3, 7)]),
    ("index_put_scatter_add", lambda x, s: x.index_put((tt.tensor([0, 0]),), s[:, :3], accumulate=True)
     .scatter_add(1, tt.tensor([[0, 1], [1, 0]]), s[:2, :2]), [(2, 3), (2, 4)]),
    ("conv_pool", lambda x, w: tt.nn.functional.max_pool2d(tt.nn.functional.conv2d(x, w, padding=1), 2),
     [(1, 4, 6, 6), (16, 4, 3, 3)]),
    ("cross_entropy", lambda x: tt.nn.functional.cross_entropy(x, tt.tensor([0, 2, 1])), [(3, 4)]),
]


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name,fn,shapes", HALF_CASES, ids=[c[0] for c in HALF_CASES])
def test_float16_kernels_match_numpy_backend(name, fn, shapes, backward):
    # (the NumPy backend rounds to half after every op; the kernels only when storing)
    em = E.emulate(fn, *[_h(*s) for s in shapes], backward=backward)
    assert "tt_half" in em.module.cuda_source
    for out, ref in zip(em.outputs, em.reference):
        assert out.dtype == ref.dtype
        np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), rtol=3e-2, atol=3e-2)


def test_float16_dropout_draws_11_bit_uniforms():
    from torchtrek.codegen.cuda.families.random import next_philox, uniform_reference
    from torchtrek.codegen.cuda.generator import generate

    x = tt.tensor(_h(5, 9))
    cg = tt.compile(lambda x: tt.nn.functional.dropout(x, 0.25), backend="numpy")._entry_for(
        (x,), {}, False).compiled
    tt.manual_seed(3)
    (out,) = E.run_module(generate(cg.forward_graph), x.numpy())
    tt.manual_seed(3)
    u = uniform_reference(*next_philox(0), 45, "float16").reshape(5, 9)
    assert u.max() < 1 and u.dtype == np.float16
    np.testing.assert_array_equal(out != 0, (u >= 0.25) & (x.numpy() != 0))


@pytest.mark.parametrize("causal", [False, True])
def test_fused_attention_forward_and_backward(causal):
    # the sdpa kernels (codegen/cuda/attention.cu.j2): the forward, then dQ (with the
    # row sums dK/dV read) and dK/dV, against the NumPy backend's composition
    q, k, v = r(2, 3, 9, 8), r(2, 3, 9, 8), r(2, 3, 9, 8)

    def f(q, k, v):
        return tt.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal) * 1.5

    em = E.check(f, q, k, v, backward=True)
    assert "sdpa_backward" in em.module.cuda_source or "_grad_kv" in em.module.cuda_source
    if not causal:  # keys and queries of different counts
        E.check(lambda q, k, v: tt.nn.functional.scaled_dot_product_attention(q, k, v),
                r(1, 2, 5, 4), r(1, 2, 11, 4), r(1, 2, 11, 4), backward=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_cell_forward_and_backward(kind):
    # lstm_cell / gru_cell and their backwards (codegen/cuda/families/rnn.py) inside the
    # recurrence node (an LSTM with a projection), against the NumPy backend
    tt.manual_seed(0)
    layer = tt.nn.LSTM(6, 5, 1, proj_size=3) if kind == "LSTM" else tt.nn.GRU(6, 5, 1)
    em = E.check(lambda x: layer(x)[0] * 2.0, r(4, 2, 6), backward=True)
    assert f"{kind.lower()}_cell_backward" in em.module.cuda_source


@pytest.mark.parametrize("shape", [(9, 11), (2, 1, 9, 11)])
def test_fused_attention_with_a_mask(shape):
    # the mask read with broadcast strides; query 3 sees no key (zeros, finite gradients)
    mask = RNG.standard_normal(shape).astype(np.float32)
    mask[mask > 1.0] = -np.inf
    mask[..., 3, :] = -np.inf

    def f(q, k, v, m):
        return tt.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m) * 1.5

    em = E.check(f, r(2, 3, 9, 8), r(2, 3, 11, 8), r(2, 3, 11, 8), mask, backward=True)
    assert "const float* __restrict__ mask" in em.module.cuda_source
