"""The window family on the GPU (conv2d, unfold2d, fold2d and the pooling built on them)
against the NumPy backend and torch on CUDA where installed: eager and compiled,
forward and backward, through the user surface (F.conv2d, nn.Conv2d, pooling)."""

import numpy as np
import pytest

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek._dispatch import bind

from gpu_harness import TORCH_CUDA, torch  # (TF32 off: full float32)


def _F(x):
    return F if isinstance(x, tt.Tensor) else torch.nn.functional


# (name, fn, input shapes); the first input is the image, all float32
CONV_CASES = [
    # few output channels per group: the direct kernel
    ("plain", lambda x, w: _F(x).conv2d(x, w), [(2, 3, 7, 6), (4, 3, 3, 3)]),
    ("bias_stride_pad", lambda x, w, b: _F(x).conv2d(x, w, b, stride=2, padding=1),
     [(2, 3, 9, 8), (5, 3, 3, 3), (5,)]),
    ("dilation_rect", lambda x, w: _F(x).conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=(2, 3)),
     [(1, 2, 10, 11), (3, 2, 3, 2)]),
    ("same_even_kernel", lambda x, w: _F(x).conv2d(x, w, padding="same"), [(2, 3, 6, 5), (4, 3, 4, 2)]),
    ("depthwise", lambda x, w: _F(x).conv2d(x, w, padding=1, groups=4), [(2, 4, 6, 6), (4, 1, 3, 3)]),
    ("groups_multiplier", lambda x, w: _F(x).conv2d(x, w, stride=2, groups=2), [(2, 4, 7, 7), (6, 2, 3, 3)]),
    # 16, 32, 64+ output channels per group: the tiled implicit GEMM, each tile shape
    ("tiled16_groups", lambda x, w: _F(x).conv2d(x, w, padding=1, groups=2), [(2, 4, 9, 7), (40, 2, 3, 3)]),
    ("tiled32_stride", lambda x, w, b: _F(x).conv2d(x, w, b, stride=2, padding=(0, 1)),
     [(3, 5, 11, 10), (33, 5, 3, 3), (33,)]),
    ("tiled64_deep", lambda x, w: _F(x).conv2d(x, w, padding=1), [(2, 21, 8, 8), (70, 21, 3, 3)]),
    ("tiled_1x1", lambda x, w: _F(x).conv2d(x, w), [(2, 24, 5, 5), (64, 24, 1, 1)]),
    ("tiled_same_dilated", lambda x, w: _F(x).conv2d(x, w, padding="same", dilation=2),
     [(1, 3, 12, 9), (16, 3, 3, 2)]),
    ("unbatched", lambda x, w: _F(x).conv2d(x, w, padding=1), [(3, 6, 5), (20, 3, 3, 3)]),
]

POOL_CASES = [
    ("max", lambda x: _F(x).max_pool2d(x, 2), [(2, 3, 8, 8)]),
    ("max_stride_pad", lambda x: _F(x).max_pool2d(x, 3, 2, 1), [(2, 3, 9, 7)]),
    ("max_ceil_dilation", lambda x: _F(x).max_pool2d(x, (2, 3), (2, 2), (1, 1), dilation=(1, 2),
                                                       ceil_mode=True), [(2, 2, 7, 9)]),
    ("avg", lambda x: _F(x).avg_pool2d(x, 2), [(2, 3, 8, 6)]),
    ("avg_pad_exclude", lambda x: _F(x).avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 7, 8)]),
    ("avg_ceil_divisor", lambda x: _F(x).avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=5),
     [(1, 2, 8, 8)]),
]


def _arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _run(fn, arrays, device, compiled, dtype=np.float32):
    xs = [tt.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
    f = tt.compile(fn) if compiled else fn
    out = f(*xs)
    ct = np.random.default_rng(7).standard_normal(out.shape).astype(dtype)
    out.backward(tt.tensor(ct, device=device))
    return out.cpu().detach().numpy(), [x.grad.cpu().numpy() for x in xs], ct


def _check(fn, arrays, compiled, dtype=np.float32, tol=1e-4):
    out_cpu, grads_cpu, _ = _run(fn, arrays, "cpu", compiled, dtype)
    out_gpu, grads_gpu, ct = _run(fn, arrays, "cuda", compiled, dtype)
    assert out_gpu.dtype == out_cpu.dtype and out_gpu.shape == out_cpu.shape
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=tol, atol=tol)
    for g, c in zip(grads_gpu, grads_cpu):
        np.testing.assert_allclose(g, c, rtol=tol, atol=tol)
    if TORCH_CUDA:
        tdt = torch.float64 if dtype == np.float64 else torch.float32
        ts = [torch.tensor(a, device="cuda", dtype=tdt, requires_grad=True) for a in arrays]
        out = fn(*ts)
        out.backward(torch.tensor(ct, device="cuda"))
        np.testing.assert_allclose(out_gpu, out.detach().cpu().numpy(), rtol=tol, atol=tol)
        for g, t in zip(grads_gpu, ts):
            np.testing.assert_allclose(g, t.grad.cpu().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,shapes", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_on_gpu(name, fn, shapes, compiled):
    _check(fn, _arrays(shapes), compiled)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,shapes", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pooling_on_gpu(name, fn, shapes, compiled):
    _check(fn, _arrays(shapes), compiled)


def test_conv2d_float64_on_gpu():
    _check(lambda x, w: _F(x).conv2d(x, w, stride=2, padding=1), _arrays([(2, 3, 9, 9), (20, 3, 3, 3)]),
           compiled=True, dtype=np.float64, tol=1e-10)
    _check(lambda x, w: _F(x).conv2d(x, w, padding=1, groups=3), _arrays([(2, 3, 6, 6), (3, 1, 3, 3)]),
           compiled=False, dtype=np.float64, tol=1e-10)


def test_integer_conv_and_pooling_on_gpu():
    rng = np.random.default_rng(3)
    x = rng.integers(-9, 10, (2, 4, 7, 6))
    w_tiled, w_direct = rng.integers(-3, 4, (32, 4, 3, 3)), rng.integers(-3, 4, (4, 1, 3, 3))
    fns = [lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, stride=2, groups=4)]
    for dtype in (np.int64, np.int32):
        for fn, w in zip(fns, (w_tiled, w_direct)):
            got = fn(tt.tensor(x.astype(dtype), device="cuda"), tt.tensor(w.astype(dtype), device="cuda"))
            want = fn(tt.tensor(x.astype(dtype)), tt.tensor(w.astype(dtype)))
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    for dtype in (np.int64, np.int32, np.uint8):
        xi = rng.integers(0 if dtype == np.uint8 else -100, 100, (2, 3, 7, 8)).astype(dtype)
        for pool in (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: F.avg_pool2d(t, 2)):
            got = tt.compile(pool)(tt.tensor(xi, device="cuda")).cpu().numpy()
            np.testing.assert_array_equal(got, pool(tt.tensor(xi)).numpy())


# unfold2d / fold2d themselves (no F.unfold / F.fold in torchtrek: the ops directly)
GEOMETRIES = [
    {"kernel": (2, 2), "stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1)},
    {"kernel": (3, 2), "stride": (2, 1), "padding": (1, 1, 2, 2), "dilation": (1, 2)},
    {"kernel": (3, 3), "stride": (2, 3), "padding": (1, 2, 0, 1), "dilation": (2, 1)},  # asymmetric
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("geo", GEOMETRIES, ids=["plain", "strided_dilated", "asymmetric"])
def test_unfold2d_fold2d_on_gpu(geo, compiled):
    shape = (2, 3, 8, 7)
    x = _arrays([shape])[0]
    unfold = lambda t: bind("unfold2d", [t], {**geo, "pad": "zeros"})
    maxpad = lambda t: bind("unfold2d", [t], {**geo, "pad": "lowest"})
    fold = lambda t: bind("fold2d", [t], {**geo, "input_shape": shape})
    for fn in (unfold, maxpad):
        out_cpu, g_cpu, _ = _run(fn, [x], "cpu", compiled)
        out_gpu, g_gpu, _ = _run(fn, [x], "cuda", compiled)
        np.testing.assert_array_equal(out_gpu, out_cpu)  # a gather: exact
        np.testing.assert_allclose(g_gpu[0], g_cpu[0], rtol=1e-6, atol=1e-6)  # its VJP is fold2d
    windows = np.asarray(unfold(tt.tensor(x)).numpy())
    out_cpu, g_cpu, _ = _run(fold, [windows], "cpu", compiled)
    out_gpu, g_gpu, _ = _run(fold, [windows], "cuda", compiled)
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(g_gpu[0], g_cpu[0])
    for dtype in (np.int64, np.int8):  # exact integer folds (int8 wraps like NumPy)
        wi = np.random.default_rng(1).integers(-100, 100, windows.shape).astype(dtype)
        got = fold(tt.tensor(wi, device="cuda")).cpu().numpy()
        np.testing.assert_array_equal(got, fold(tt.tensor(wi)).numpy())
    (pt, pb, pl, pr) = geo["padding"]
    if TORCH_CUDA and pt == pb and pl == pr:  # torch pads symmetrically only
        tf = torch.nn.functional
        kw = {"kernel_size": geo["kernel"], "dilation": geo["dilation"], "padding": (pt, pl), "stride": geo["stride"]}
        n, c, oh, ow, kh, kw_ = windows.shape
        cols = tf.unfold(torch.tensor(x, device="cuda"), **kw)  # (N, C*kh*kw, L)
        ours = unfold(tt.tensor(x, device="cuda")).cpu().numpy()
        np.testing.assert_array_equal(ours.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw_, oh * ow),
                                      cols.cpu().numpy())
        back = tf.fold(cols, output_size=shape[2:], **kw)
        np.testing.assert_allclose(fold(tt.tensor(windows, device="cuda")).cpu().numpy(),
                                   back.cpu().numpy(), rtol=1e-5, atol=1e-5)


def test_fold2d_is_deterministic_on_gpu():
    geo = {"kernel": (3, 3), "stride": (1, 1), "padding": (1, 1, 1, 1), "dilation": (1, 1)}
    wins = _arrays([(2, 4, 9, 9, 3, 3)])[0]
    f = tt.compile(lambda t: bind("fold2d", [t], {**geo, "input_shape": (2, 4, 9, 9)}))
    a = f(tt.tensor(wins, device="cuda")).cpu().numpy()
    b = f(tt.tensor(wins, device="cuda")).cpu().numpy()
    assert a.tobytes() == b.tobytes()


def test_empty_conv_on_gpu():
    x = tt.zeros(0, 3, 5, 5, device="cuda")
    w = tt.ones(16, 3, 3, 3, device="cuda")
    assert tuple(F.conv2d(x, w, padding=1).shape) == (0, 16, 5, 5)
    x = tt.zeros(2, 0, 5, 5, device="cuda")
    out = tt.compile(lambda x, w: F.conv2d(x, w))(x, tt.ones(20, 0, 3, 3, device="cuda"))
    np.testing.assert_array_equal(out.cpu().numpy(), np.zeros((2, 20, 3, 3), np.float32))


def test_max_pool_indices_on_gpu():
    x = _arrays([(2, 3, 9, 7)])[0]
    f = lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True)
    for g in (f, tt.compile(f)):
        (out, idx), (out_c, idx_c) = g(tt.tensor(x, device="cuda")), g(tt.tensor(x))
        np.testing.assert_array_equal(out.cpu().numpy(), out_c.numpy())
        np.testing.assert_array_equal(idx.cpu().numpy(), idx_c.numpy())


def test_nn_conv2d_module_on_gpu():
    gpu = tt.nn.Conv2d(4, 24, 3, stride=2, padding=1, groups=2, device="cuda")
    assert gpu.weight.is_cuda and gpu.bias.is_cuda
    cpu = tt.nn.Conv2d(4, 24, 3, stride=2, padding=1, groups=2)
    with tt.no_grad():  # the CPU twin takes the GPU module's initial parameters
        cpu.weight.copy_(tt.tensor(gpu.weight.detach().cpu().numpy()))
        cpu.bias.copy_(tt.tensor(gpu.bias.detach().cpu().numpy()))
    x = _arrays([(2, 4, 9, 8)])[0]
    outs = []
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        xt = tt.tensor(x, device=dev, requires_grad=True)
        out = m(xt)
        (out * out).sum().backward()
        outs.append([out.detach().cpu().numpy(), xt.grad.cpu().numpy(), m.weight.grad.cpu().numpy(),
                     m.bias.grad.cpu().numpy()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_small_convnet_training_step_on_gpu_matches_cpu():
    """conv (bias) -> relu -> max pool -> strided conv -> relu -> avg pool -> linear,
    cross-entropy, SGD: one compiled step, three times, on each device."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    y = rng.integers(0, 5, 4)
    init = [rng.standard_normal(s).astype(np.float32) * 0.2
            for s in [(16, 3, 3, 3), (16,), (32, 16, 3, 3), (5, 32), (5,)]]

    def train(device):
        w1, b1, w2, wl, bl = ps = [tt.tensor(a, device=device, requires_grad=True) for a in init]
        opt = tt.optim.SGD(ps, lr=0.02)

        @tt.compile
        def step(xb, yb):
            h = F.max_pool2d(F.relu(F.conv2d(xb, w1, b1, padding=1)), 2)
            h = F.avg_pool2d(F.relu(F.conv2d(h, w2, stride=2)), 2)
            loss = F.cross_entropy(h.reshape(4, 32) @ wl.T + bl, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        xs, ys = tt.tensor(x, device=device), tt.tensor(y, device=device)
        losses = [float(step(xs, ys).cpu()) for _ in range(3)]
        return losses, [p.detach().cpu().numpy() for p in ps]

    l_cpu, p_cpu = train("cpu")
    l_gpu, p_gpu = train("cuda")
    assert l_cpu[2] < l_cpu[0]
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-4, atol=1e-5)
    for a, b in zip(p_gpu, p_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_nn_module_moves_to_the_gpu_and_back():
    m = tt.nn.Sequential(tt.nn.Conv2d(3, 8, 3, padding=1), tt.nn.ReLU(), tt.nn.Flatten(),
                         tt.nn.Linear(8 * 5 * 5, 4))
    x = _arrays([(2, 3, 5, 5)])[0]
    ref = m(tt.tensor(x)).detach().numpy()
    w = m[0].weight
    assert m.cuda() is m and w.is_cuda and m[0].weight is w  # the same Parameter objects
    out = m(tt.tensor(x, device="cuda"))
    out.sum().backward()
    assert m[3].weight.grad.is_cuda
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref, rtol=1e-4, atol=1e-5)
    opt = tt.optim.SGD(m.parameters(), lr=0.1)
    opt.step()  # eager in-place updates on device memory
    m.to("cpu")
    assert not w.is_cuda and not m[3].weight.grad.is_cuda
