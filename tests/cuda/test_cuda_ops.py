"""Every op on the GPU against the NumPy backend (and torch on CUDA where installed):
eager and compiled, forward and backward."""

import numpy as np
import pytest

import torchtrek as tt

from gpu_harness import TORCH_CUDA, run_on, torch

RNG = np.random.default_rng(0)

# (name, fn, input shapes, positive inputs?)
CASES = [
    ("add", lambda x, y: x + y, [(4, 5), (4, 5)], False),
    ("add_broadcast", lambda x, y: x + y, [(3, 1, 5), (4, 1)], False),
    ("sub_scalar", lambda x: 2.5 - x, [(7,)], False),
    ("mul", lambda x, y: x * y, [(33, 17), (17,)], False),
    ("div", lambda x, y: x / y, [(8, 8), (8, 8)], True),
    ("pow", lambda x: x ** 3, [(5, 6)], False),
    ("pow_tensor", lambda x, y: x ** y, [(4, 4), (4, 4)], True),
    ("exp_log", lambda x: tt_or(x).log(x.exp() + 1), [(64,)], False),
    ("tanh", lambda x: x.tanh(), [(300, 7)], False),
    ("sigmoid", lambda x: x.sigmoid(), [(1000,)], False),
    ("relu", lambda x: x.relu(), [(513,)], False),
    ("sqrt_abs", lambda x: x.abs().sqrt(), [(40,)], False),
    ("sin_cos", lambda x: x.sin() * x.cos(), [(9, 9)], False),
    ("sum_all", lambda x: x.sum(), [(1000, 37)], False),
    ("sum_dim", lambda x: x.sum(1), [(33, 65)], False),
    ("sum_dims_keep", lambda x: x.sum((0, 2), keepdim=True), [(4, 5, 6)], False),
    ("mean", lambda x: x.mean(0), [(128, 3)], False),
    ("amax", lambda x: x.amax(1), [(50, 70)], False),
    ("matmul_2d", lambda x, y: x @ y, [(130, 70), (70, 150)], False),
    ("matmul_batched", lambda x, y: x @ y, [(3, 20, 30), (30, 10)], False),
    ("matmul_vec", lambda x, y: x @ y, [(20, 30), (30,)], False),
    ("matmul_T", lambda x, y: x @ y.T, [(40, 30), (50, 30)], False),
    ("permute", lambda x: x.permute(2, 0, 1) * 1.0, [(3, 4, 5)], False),
    ("reshape_chain", lambda x: (x.reshape(6, 10) * 2).reshape(60).sum(), [(3, 20)], False),
    ("where", lambda x, y: tt_or(x).where(x > y, x, y), [(10, 10), (10, 10)], False),
    ("softmax_ce", lambda x: tt_or(x).nn.functional.log_softmax(x, 1).sum(), [(16, 10)], False),
    ("flip_roll_tri", lambda x: x.flip(0) * 2 + x.roll(1, 1) + x.tril() + x.triu(1), [(4, 5)], False),
    ("cat_slice", lambda x, y: tt_or(x).cat([x, y * 2], 1)[:, 1:5], [(3, 4), (3, 2)], False),
    ("pad", lambda x: tt_or(x).nn.functional.pad(x, (1, 2)) * 3, [(3, 4)], False),
    ("amin_prod", lambda x: x.amin(1) + x.prod(1), [(6, 5)], True),
    # 64x64 and 32x32 matmul tiles (small products take smaller tiles to fill the SMs)
    ("matmul_mid_tiles", lambda x, y: x @ y, [(1000, 20), (20, 1000)], False),
    ("matmul_small_tiles_batched_T", lambda x, y: x @ y.transpose(-1, -2), [(2, 33, 40), (2, 50, 40)], False),
    # elementwise ops folded into reductions, broadcasts read in place
    ("log_softmax_dim0", lambda x: tt_or(x).nn.functional.log_softmax(x, 0) * 2, [(37, 5)], False),
    ("masked_mean", lambda x, y: tt_or(x).where(x > 0, x * y, 0.0).mean((0, 2)), [(3, 4, 5), (4, 5)], False),
    ("sum_of_broadcast", lambda x: (x.exp() + 1).sum(0, keepdim=True).expand(6, 7) * x, [(6, 7)], False),
    ("argmax_of_chain", lambda x: (x * 2).argmax(1).float() + x.sum(1), [(9, 13)], False),
    ("pointwise_remat", lambda x: (x * 2 + 1).tanh() * x, [(1000,)], False),
    ("reduction_epilogues", lambda x, y: x.mean((0, 2)).sum() + (x.sum(2) * y).sum() + x.logsumexp(1).sum(),
     [(3, 4, 5), (3, 4)], False),
    ("column_reduction_epilogue", lambda x: x.mean(0) * 3, [(40, 1100)], False),
    ("scalar_ops", lambda x: (x * 2.5 - 1) / 3 + x ** 2, [(17,)], False),
    ("zero_d", lambda x, y: (x * y).exp(), [(), ()], False),
    ("empty", lambda x: (x * 2).sum(0), [(0, 3)], False),
]


def tt_or(x):
    return tt if isinstance(x, tt.Tensor) else torch


def _inputs(shapes, positive):
    arrs = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    return [np.abs(a) + 0.5 if positive else a for a in arrs]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,shapes,positive", CASES, ids=[c[0] for c in CASES])
def test_op_on_gpu_matches_numpy_backend(name, fn, shapes, positive, compiled):
    arrays = _inputs(shapes, positive)
    out_cpu, grads_cpu = run_on(fn, arrays, "cpu", compiled)
    out_gpu, grads_gpu = run_on(fn, arrays, "cuda", compiled)
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-4, atol=1e-4)
    for g, c in zip(grads_gpu, grads_cpu):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-4)
    if TORCH_CUDA:
        ts = [torch.tensor(a, device="cuda", requires_grad=True) for a in arrays]
        out = fn(*ts)
        out.backward(torch.ones_like(out))
        np.testing.assert_allclose(out_gpu, out.detach().cpu().numpy(), rtol=1e-4, atol=1e-4)
        for g, t in zip(grads_gpu, ts):
            np.testing.assert_allclose(g, t.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)


def test_devices_and_errors():
    x = tt.ones(3, device="cuda")
    assert x.is_cuda and str(x.device) == "cuda:0"
    assert repr(x) == "tensor([1., 1., 1.], device='cuda:0')"
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        x.numpy()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + tt.ones(3)
    assert (x + tt.tensor(2.0)).cpu().tolist() == [3.0, 3.0, 3.0]  # 0-d CPU tensors may join
    y = tt.tensor([1.0, 2.0], requires_grad=True)
    (y.cuda() * 3).sum().backward()  # gradients flow back across the move
    assert y.grad.tolist() == [3.0, 3.0]
    assert tt.cuda.device_count() >= 1
    tt.cuda.synchronize()


def test_compiled_source_is_cuda_for_cuda_inputs():
    f = tt.compile(lambda x: (x * 2).sum())
    src = f.source(tt.ones(4, device="cuda"))
    assert '__global__' in src and "prepared_call" in src


def test_mlp_training_step_on_gpu_matches_cpu():
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((20, 32)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((32, 4)).astype(np.float32) * 0.3
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 4, 64)

    def train(device):
        p1 = tt.tensor(w1, device=device, requires_grad=True)
        p2 = tt.tensor(w2, device=device, requires_grad=True)
        xs, ys = tt.tensor(x, device=device), tt.tensor(y, device=device)

        @tt.compile
        def step(xb, yb):
            p1.grad = None
            p2.grad = None
            loss = tt.nn.functional.cross_entropy(tt.relu(xb @ p1) @ p2, yb)
            loss.backward()
            with tt.no_grad():
                p1.sub_(0.5 * p1.grad)
                p2.sub_(0.5 * p2.grad)
            return loss

        losses = [step(xs, ys).item() for _ in range(20)]
        return losses, p1.cpu().detach().numpy(), step.trace_count

    l_cpu, p_cpu, _ = train("cpu")
    l_gpu, p_gpu, traces = train("cuda")
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-4, atol=1e-5)
    assert traces == 1


def test_index_ops_and_integer_reductions_on_gpu():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 6)).astype(np.float32)
    idx = np.array([[0, 5], [3, 3], [2, 0], [1, 1], [4, 2]])
    rows = np.array([1, 1, 3, 0])
    results = {}
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, device=device, requires_grad=True)
        i = tt.tensor(idx, device=device)
        r = tt.tensor(rows, device=device)
        for compiled in (False, True):
            def f(x, i, r):
                g = x.gather(1, i).sum() + tt.nn.functional.embedding(r, x).sum()
                return g, x.argmin(1), x.argmax(0), (x > 0).all(1), (x > 0).any()
            fn = tt.compile(f) if compiled else f
            x.grad = None
            outs = fn(x, i, r)
            outs[0].backward()
            results[(device, compiled)] = [o.cpu().detach().numpy() for o in outs] + [x.grad.cpu().numpy()]
    for key, vals in results.items():
        for v, ref in zip(vals, results[("cpu", False)]):
            np.testing.assert_allclose(v, ref, rtol=1e-5, atol=1e-5, err_msg=str(key))


def test_eager_fast_path_on_gpu_tensors():
    # ops on GPU tensors that need no gradient take the planned fast path
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, y = tt.tensor(a, device="cuda"), tt.tensor(a + 1, device="cuda")
    for _ in range(3):  # the first call plans, the next ones run the plan
        z = x * y + x
        w = z.exp().neg()
        s = x + 2.0  # a Python scalar: the general path with a cached device scalar
    assert z.is_cuda and w.is_cuda and s.is_cuda
    np.testing.assert_allclose(z.cpu().numpy(), a * (a + 1) + a)
    np.testing.assert_allclose(w.cpu().numpy(), -np.exp(a * (a + 1) + a), rtol=1e-5)
    np.testing.assert_allclose(s.cpu().numpy(), a + 2)
    np.testing.assert_allclose((x + 3.0).cpu().numpy(), a + 3)  # another scalar value
    with pytest.raises(RuntimeError, match="same device"):
        x + tt.ones(3, 4)


def test_device_arrays_of_every_shape_and_dtype_round_trip():
    for shape in [(), (0,), (3, 0), (5,), (2, 3, 4)]:
        for dt in ("float32", "float64", "int64", "bool"):
            a = (np.random.default_rng(0).standard_normal(shape) > 0).astype(dt)
            t = tt.tensor(a, device="cuda")
            assert t.shape == a.shape and str(t.dtype) == f"torchtrek.{dt}"
            np.testing.assert_array_equal(t.cpu().numpy(), a)


def test_eager_in_place_ops_and_assignment_on_gpu():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, device=device)
        v = x.view(12)  # a view sees the in-place writes
        x.add_(1.0)
        x.mul_(tt.tensor(a, device=device))
        x[1] = 7.0
        x[:, 0] = tt.tensor([1.0, 2.0, 3.0], device=device)
        x[tt.tensor([0, 2], device=device), 1] = -1.0
        x.copy_(x * 2)
        y = tt.ones(4, dtype=tt.int64, device=device)
        y += 2
        got = (x.cpu().numpy(), v.cpu().numpy(), y.cpu().numpy(), x._version)
        if device == "cpu":
            want = got
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert tt.tensor(2.0, device="cuda").shape == ()


HALF_CASES = [
    ("chain", lambda x, y: ((x * 2 + 1).tanh() * y).sum(1), [(8, 300), (300,)]),
    ("matmul_relu", lambda x, y: (x @ y).relu(), [(40, 30), (30, 20)]),
    ("log_softmax", lambda x, y: tt_or(x).nn.functional.log_softmax(x * y, 1), [(16, 10), (16, 10)]),
    ("conv_pool", lambda x, w: tt_or(x).nn.functional.max_pool2d(
        tt_or(x).nn.functional.conv2d(x, w, padding=1), 2), [(2, 4, 8, 8), (16, 4, 3, 3)]),
    ("cumsum_norm", lambda x, y: x.cumsum(1) * y.norm(dim=1, keepdim=True), [(4, 9), (4, 9)]),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,shapes", HALF_CASES, ids=[c[0] for c in HALF_CASES])
def test_float16_on_gpu_matches_torch_and_numpy_backend(name, fn, shapes, compiled):
    # half storage, float arithmetic (as torch's CUDA kernels); the NumPy backend rounds
    # after every op, so it is the looser reference
    arrays = [a.astype(np.float16) for a in _inputs(shapes, False)]
    out_gpu, grads_gpu = run_on(fn, arrays, "cuda", compiled)
    out_cpu, grads_cpu = run_on(fn, arrays, "cpu", compiled)
    assert out_gpu.dtype == np.float16 and all(g.dtype == np.float16 for g in grads_gpu)
    np.testing.assert_allclose(out_gpu.astype(np.float32), out_cpu.astype(np.float32), rtol=3e-2, atol=3e-2)
    for g, c in zip(grads_gpu, grads_cpu):
        np.testing.assert_allclose(g.astype(np.float32), c.astype(np.float32), rtol=3e-2, atol=3e-2)
    if TORCH_CUDA:
        ts = [torch.tensor(a, device="cuda", requires_grad=True) for a in arrays]
        out = fn(*ts)
        out.backward(torch.ones_like(out))
        np.testing.assert_allclose(out_gpu.astype(np.float32), out.detach().float().cpu().numpy(),
                                   rtol=1e-2, atol=1e-2)
        for g, t in zip(grads_gpu, ts):
            np.testing.assert_allclose(g.astype(np.float32), t.grad.float().cpu().numpy(), rtol=1e-2, atol=1e-2)
