"""CUDA code generation (no GPU needed): what the generated kernels look like."""

import torchtrek as tt
from torchtrek.codegen.cuda.generator import generate


def cuda_of(fn, *args, backward=False):
    cg = tt.compile(fn)._entry_for(args, {}, backward).compiled
    return generate(cg.backward_graph if backward else cg.forward_graph)


def test_pointwise_chain_fuses_into_one_kernel_with_float32_functions():
    m = cuda_of(lambda x: (x.exp() * 2 + 1).tanh() * 3, tt.ones(100))
    assert [k.name for k in m.kernels] == ["k0_pointwise"]
    assert "3*tanhf(2*expf(v0.x) + 1)" in m.cuda_source  # float4 lanes: x, y, z, w
    code = "\n".join(ln for ln in m.cuda_source.splitlines() if not ln.startswith("//"))
    assert "exp(" not in code.replace("expf(", "")  # no double-precision calls


def test_a_pointwise_chain_feeding_a_reduction_is_computed_inside_it():
    m = cuda_of(lambda x: (x.exp() * 2 + 1).tanh().sum(1), tt.ones(4, 100))
    assert [k.name for k in m.kernels] == ["k0_sum"]
    assert "TtSum<float>::op(acc, (float)(tanhf(2*expf(in0[base0 + off0]) + 1)))" in m.cuda_source


def test_softmax_statistics_read_their_producers_in_place():
    # log_softmax: max, then sum(exp(x - max)) in one kernel (exp never written out)
    m = cuda_of(lambda x: tt.nn.functional.log_softmax(x, 1), tt.ones(8, 100))
    assert [k.name for k in m.kernels] == ["k0_amax", "k1_sum", "k2_pointwise"]
    assert "expf(in0[base0 + off0] - in1[base1 + off1])" in m.cuda_source


def test_an_elementwise_consumer_of_a_reduction_is_computed_in_its_final_write():
    m = cuda_of(lambda x: x.mean(1), tt.ones(4, 50))
    assert [k.name for k in m.kernels] == ["k0_sum"]
    assert "out[o] = (float)((1.0F/50.0F)*((float)acc));" in m.cuda_source
    # an operand computed after the reduction cannot join it
    m = cuda_of(lambda x, y, w: (lambda a, b: a + b)(x.sum(1), y @ w),
                tt.ones(4, 5), tt.ones(4, 3), tt.ones(3))
    assert [k.name for k in m.kernels] == ["k0_sum", "k1_matmul", "k2_add"]


def test_a_broadcast_feeding_one_elementwise_op_is_not_materialized():
    x = tt.ones(6, 5, requires_grad=True)
    m = cuda_of(lambda x: x.sum(1, keepdim=True) * x, x, backward=True)
    assert not any("broadcast_to" in k.name for k in m.kernels)


def test_broadcast_operands_are_read_through_strides_not_copied():
    m = cuda_of(lambda x, b: x + b, tt.ones(4, 16), tt.ones(16))
    assert len(m.kernels) == 1
    assert "in1[c1]" in m.cuda_source and "in0[i]" in m.cuda_source  # not float4: b is read by index


def test_reductions_use_warp_shuffles():
    m = cuda_of(lambda x: x.sum(1), tt.ones(8, 300))
    assert "tt_block_reduce<float, TtSum<float> >" in m.cuda_source
    assert "__shfl_down_sync" in m.cuda_source


def test_transposed_matmul_operand_is_read_in_place():
    m = cuda_of(lambda x, w: x @ w.T, tt.ones(32, 16), tt.ones(8, 16))
    assert [k.name for k in m.kernels] == ["k0_matmul"]
    assert "B[(long long)r2 * 1 + (long long)c2 * 16]" in m.cuda_source


def test_backward_of_an_mlp_has_no_standalone_transposes():
    m = cuda_of(lambda x, w: tt.relu(x @ w).sum(), tt.ones(4, 3), tt.ones(3, 5, requires_grad=True),
                backward=True)
    assert not any(k.name.endswith("permute") for k in m.kernels)


def test_launcher_is_readable_and_deterministic():
    def f(x, w):
        return tt.relu(x @ w).mean()

    a = cuda_of(f, tt.ones(64, 32), tt.ones(32, 16))
    b = cuda_of(f, tt.ones(64, 32), tt.ones(32, 16))
    assert a.text == b.text
    lines = a.launcher_source.splitlines()
    assert lines[5] == "def f(K, alloc, x, w):"
    assert 'matmul = alloc((64, 16), "float32")' in a.launcher_source
    # a small product takes 32x32 tiles (more blocks for the multiprocessors): 1 x 2
    assert "K.k0_matmul.prepared_call((1, 2, 1), (256, 1, 1), x.gpudata, w.gpudata, matmul.gpudata)" \
        in a.launcher_source
    assert 'extern "C" __global__' in a.cuda_source


def _eval_coords(shape, needed, i):
    """Run the printed coordinate statements in Python (C's / and % agree for i >= 0)."""
    from torchtrek.codegen.cuda.generator import _coords

    env = {}
    for line in _coords(shape, "i", set(needed)):
        line = line.replace("long long ", "").replace("const ", "").rstrip(";").replace("/=", "//=")
        exec(line, {"i": i}, env)
    return {k: env[f"c{k}"] for k in needed}


def test_printed_coordinates_are_right_for_every_subset_of_dims():
    # A broadcast operand that skips dim 0 once read its row as the whole flat index
    # (x(33,17) * y(17,): c1 = i, not i % 17): nvcc took it, the GPU gave wrong values.
    import itertools

    import numpy as np

    shape = (3, 4, 5)
    for r in range(1, 4):
        for needed in itertools.combinations(range(3), r):
            for i in (0, 7, 23, 59):
                want = dict(zip(range(3), np.unravel_index(i, shape)))
                assert _eval_coords(shape, needed, i) == {k: want[k] for k in needed}, (needed, i)


def test_backward_of_a_pointwise_chain_is_one_kernel_reading_only_x_and_the_gradient():
    # on the GPU, tanh(2x+1) is recomputed in the backward (not saved), and recomputed
    # inside the one fused kernel rather than written out and read back
    from unittest import mock

    from torchtrek.runtime import cuda
    from torchtrek.runtime.compiled import CompiledGraph

    x = tt.randn(1024, requires_grad=True)
    g = tt.compile(lambda x: (x * 2 + 1).tanh() * x)._entry_for((x,), {}, False).compiled.graph
    with mock.patch.object(cuda, "load", lambda *a: None):
        cg = CompiledGraph(g, [True], backend="cuda")
    fwd, bwd = cg._modules["forward"], cg._modules["backward"]
    assert len(fwd.kernels) == 1 and len(bwd.kernels) == 1
    assert "def lambda_backward(K, alloc, x, grad_mul_1):" in bwd.launcher_source
    assert bwd.cuda_source.count("tanhf(2*v1.x + 1)") == 3  # nvcc folds the repeats


def test_generated_code_is_the_same_from_a_fresh_trace_and_from_the_disk_cache(tmp_path, monkeypatch):
    # fusion keeps a chain's last value; its name must not depend on whether the graph
    # was just traced (hint `add`) or read back from the cache's IR text (`add_1`)
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(tmp_path))
    x = tt.randn(4, requires_grad=True)

    def f(x):
        return (x.sum() + x + x.amax()).cumsum(0).sum() * 3

    for backward in (False, True):
        fresh, cached = cuda_of(f, x, backward=backward), cuda_of(f, x, backward=backward)
        assert fresh.text == cached.text
    fresh = tt.compile(f, backend="numpy").source(x)
    assert tt.compile(f, backend="numpy").source(x) == fresh
