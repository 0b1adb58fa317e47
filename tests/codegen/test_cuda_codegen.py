"""CUDA code generation (no GPU needed): what the generated kernels look like."""

import torchtrek as tt
from torchtrek.codegen.cuda.generator import generate


def cuda_of(fn, *args, backward=False):
    cg = tt.compile(fn)._entry_for(args, {}, backward).compiled
    return generate(cg.backward_graph if backward else cg.forward_graph)


def test_pointwise_chain_fuses_into_one_kernel_with_float32_functions():
    m = cuda_of(lambda x: (x.exp() * 2 + 1).tanh().sum(), tt.ones(100))
    assert [k.name for k in m.kernels] == ["k0_pointwise", "k1_sum"]
    assert "tanhf(2*expf(v0.x) + 1)" in m.cuda_source  # float4 lanes: x, y, z, w
    code = "\n".join(ln for ln in m.cuda_source.splitlines() if not ln.startswith("//"))
    assert "exp(" not in code.replace("expf(", "")  # no double-precision calls


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
    assert "K.k0_matmul.prepared_call((1, 1, 1), (256, 1, 1), x.gpudata, w.gpudata, matmul.gpudata)" \
        in a.launcher_source
    assert 'extern "C" __global__' in a.cuda_source
