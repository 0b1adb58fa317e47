"""runtime/native.py and the C backend's runtime: the compiler probe, shared objects
built once per source and cached on disk, every generated kernel compiling, the output
buffer pool (reused only when nobody else holds a result), backend selection in
tt.compile (C by default, NumPy without a compiler) and the disk cache of C sources,
within a process and across processes."""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.codegen.c.generator import generate
from torchtrek.runtime import native

compiler_module = importlib.import_module("torchtrek.compiler")
KERNELS = "/* ---- kernels.c ---- */"
needs_cc = pytest.mark.skipif(not native.available(), reason="no working C compiler here")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A private cache (generated sources and shared objects) and default settings."""
    root = tmp_path / "tt-cache"
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(root))
    for var in ("TORCHTREK_CACHE", "TORCHTREK_BACKEND", "TORCHTREK_C_MIN_NUMEL"):
        monkeypatch.delenv(var, raising=False)
    return root


def rand(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def shared_objects(root):
    return sorted((root / "native").glob("*.so"))


def scaled_exp(x):
    return tt.exp(x) * 2


# ------------------------------------------------------------------ compiler probe

@needs_cc
def test_compiler_and_flags():
    cc = native.compiler()
    assert cc and os.path.isfile(cc) and os.access(cc, os.X_OK)
    fl = native.flags()
    assert fl is not None and {"-O3", "-fPIC", "-shared", "-std=c11"} <= set(fl)
    assert "-ffast-math" not in fl  # NaN tests (x != x) must keep working
    assert native.available() is True


# ------------------------------------------------------------------ build and its cache

def small_module():
    return generate(tt.trace(lambda x: F.softmax(tt.tanh(x) * 2, dim=1), tt.randn(8, 16)), threshold=0)


@needs_cc
def test_build_compiles_once_per_source(cache, monkeypatch):
    m = small_module()
    assert m.kernels
    path = native.build(m.c_source)
    assert path.is_file() and path.suffix == ".so" and path.parent == cache / "native"
    assert [p.name for p in (cache / "native").iterdir() if p.name.startswith(".tmp")] == []
    lib = ctypes.CDLL(str(path))
    for k in m.kernels:
        assert getattr(lib, k.name) is not None
    mtime = path.stat().st_mtime_ns

    def no_compiler(*args, **kwargs):
        raise AssertionError(f"the compiler ran again: {args}")

    with monkeypatch.context() as m2:
        m2.setattr(native.subprocess, "run", no_compiler)
        again = native.build(m.c_source)
    assert again == path and again.stat().st_mtime_ns == mtime

    other = native.build(m.c_source + "\n/* another translation unit */\n")
    assert other != path and other.is_file() and path.is_file()
    assert shared_objects(cache) == sorted([path, other])


@needs_cc
def test_build_reports_a_compiler_error_and_leaves_nothing(cache):
    with pytest.raises(native.CompileError, match="failed on generated code"):
        native.build("void broken(float* restrict out) { out[0] = ; }\n")
    leftovers = list((cache / "native").iterdir()) if (cache / "native").exists() else []
    assert leftovers == []


def _cross_entropy(x, t):
    return F.cross_entropy(x, t, ignore_index=-100)


GRAPHS = {
    "softmax": (lambda x: F.softmax(x, dim=1), [(64, 128)]),
    "log_softmax_dim0": (lambda x: F.log_softmax(x, dim=0), [(64, 128)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (128,), w, b), [(64, 128), (128,), (128,)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(64, 128)]),
    "chain": (lambda x, w, b: (x - x.mean(1, keepdim=True)) * w[None, :] + b, [(64, 128), (128,), (64, 1)]),
    "reductions": (lambda x: (x.sum(0) + x.amax(0) + x.amin(0) + tt.prod(x, 0)).sum() + x.exp().sum(1).sum(),
                   [(64, 128)]),
    "reductions_3d": (lambda x: (tt.amax(x, 1).sum() + tt.sum(x * x, (0, 2)).sum() + tt.amin(x, -1).sum()),
                      [(16, 32, 24)]),
    "where_clamp": (lambda x: tt.where(x > 0, tt.clamp(x, -0.5, 0.5), tt.exp(x)) * (x != x).to(x.dtype),
                    [(64, 128)]),
}


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(GRAPHS) + ["cross_entropy"])
def test_every_generated_kernel_compiles(name, dtype, cache):
    """Forward and backward graphs, every region a kernel (threshold 0), built and loaded."""
    if name == "cross_entropy":
        t = np.random.default_rng(1).integers(0, 128, 64)
        t[:3] = -100
        fn, args = _cross_entropy, [tt.tensor(rand((64, 128), dtype), requires_grad=True), tt.tensor(t)]
    else:
        fn, shapes = GRAPHS[name]
        args = [tt.tensor(rand(s, dtype, i), requires_grad=True) for i, s in enumerate(shapes)]
    compiled = tt.compile(fn, backend="c")._entry(args, {}).compiled
    assert compiled.backward_graph is not None
    n = 0
    for graph in (compiled.forward_graph, compiled.backward_graph):
        m = generate(graph, threshold=0)
        if not m.kernels:
            continue
        lib = ctypes.CDLL(str(native.build(m.c_source)))
        for k in m.kernels:
            assert getattr(lib, k.name) is not None
            n += 1
    assert n >= 1


# ------------------------------------------------------------------ the output pool

def test_output_pool_reuses_a_dropped_buffer():
    pool = native.OutputPool(2)
    b = pool(0, (4, 5), np.float32)
    assert b.shape == (4, 5) and b.dtype == np.float32 and b.flags.c_contiguous
    ident, address = id(b), b.ctypes.data
    del b
    again = pool(0, (4, 5), np.float32)
    assert id(again) == ident and again.ctypes.data == address
    other = pool(1, (3,), np.float64)  # slots are independent
    assert other.ctypes.data != address and other.dtype == np.float64


@pytest.mark.parametrize("hold", ["array", "view", "list"])
def test_output_pool_never_hands_out_a_held_buffer(hold):
    pool = native.OutputPool(1)
    b = pool(0, (6,), np.float64)
    b[:] = np.arange(6)
    held = {"array": lambda: b, "view": lambda: b[2:], "list": lambda: [b]}[hold]()
    address = b.ctypes.data
    del b
    fresh = pool(0, (6,), np.float64)
    assert fresh.ctypes.data != address
    fresh[:] = -1
    kept = held[0] if hold == "list" else held
    np.testing.assert_array_equal(kept, np.arange(6)[2:] if hold == "view" else np.arange(6))


def test_output_pool_alternates_two_buffers_for_a_kept_previous_result():
    pool = native.OutputPool(1)
    y = pool(0, (8,), np.float32)  # `y = f(x)` in a loop: y holds the last result
    first = y.ctypes.data
    y = pool(0, (8,), np.float32)  # the first is still held while this one is made
    second = y.ctypes.data
    assert second != first
    y = pool(0, (8,), np.float32)  # the first was dropped when y was rebound
    assert y.ctypes.data == first
    y = pool(0, (8,), np.float32)
    assert y.ctypes.data == second
    # all held: a third buffer, and none of the held ones changes
    a = pool(0, (8,), np.float32)
    a[:] = 1
    b = pool(0, (8,), np.float32)
    b[:] = 2
    c = pool(0, (8,), np.float32)
    c[:] = 3
    assert len({a.ctypes.data, b.ctypes.data, c.ctypes.data}) == 3
    assert a.tolist() == [1.0] * 8 and b.tolist() == [2.0] * 8


@needs_cc
def test_compiled_result_kept_by_the_caller_is_not_overwritten():
    f = tt.compile(scaled_exp, backend="c")
    x1, x2, x3 = (rand((64, 128), seed=s) for s in (1, 2, 3))
    assert KERNELS in f.source(tt.tensor(x1))
    r1 = f(tt.tensor(x1))
    r2 = f(tt.tensor(x2))
    expect = {s: (torch.exp(torch.tensor(x)) * 2).numpy() for s, x in ((1, x1), (2, x2), (3, x3))}
    np.testing.assert_allclose(r1.numpy(), expect[1], rtol=1e-6)
    np.testing.assert_allclose(r2.numpy(), expect[2], rtol=1e-6)
    assert r1.numpy().ctypes.data != r2.numpy().ctypes.data
    # once the caller drops the last result, its buffer is handed out again
    address = r2.numpy().ctypes.data
    del r2
    r3 = f(tt.tensor(x3))
    assert r3.numpy().ctypes.data == address
    np.testing.assert_allclose(r3.numpy(), expect[3], rtol=1e-6)
    np.testing.assert_allclose(r1.numpy(), expect[1], rtol=1e-6)


@needs_cc
@pytest.mark.parametrize("keep", ["numpy", "torch", "row", "view", "transpose", "detach"])
def test_compiled_result_kept_through_a_view_is_not_overwritten(keep):
    f = tt.compile(scaled_exp, backend="c")
    x1, x2 = rand((64, 128), seed=4), rand((64, 128), seed=5)
    r = f(tt.tensor(x1))
    kept = {"numpy": lambda: r.numpy(), "torch": lambda: torch.from_numpy(r.numpy()),
            "row": lambda: r[3], "view": lambda: r.view(-1), "transpose": lambda: r.t(),
            "detach": lambda: r.detach()}[keep]()
    before = np.array(kept.numpy() if hasattr(kept, "numpy") else kept)
    del r
    f(tt.tensor(x2))
    f(tt.tensor(x2))
    after = kept.numpy() if hasattr(kept, "numpy") else kept
    np.testing.assert_array_equal(after, before)


@needs_cc
def test_functions_sharing_generated_code_share_the_pool_safely():
    # two compiled functions of the same code load one namespace (and one pool)
    f1, f2 = tt.compile(scaled_exp, backend="c"), tt.compile(scaled_exp, backend="c")
    x1, x2 = rand((64, 128), seed=6), rand((64, 128), seed=7)
    r1 = f1(tt.tensor(x1))
    v1 = r1.numpy().copy()
    r2 = f2(tt.tensor(x2))
    np.testing.assert_array_equal(r1.numpy(), v1)
    np.testing.assert_allclose(r2.numpy(), np.exp(x2) * 2, rtol=1e-6)


@needs_cc
def test_pool_with_several_outputs_reductions_and_chained_calls():
    def stats(x):
        y = tt.tanh(x) * 3
        return y, y.sum(1), F.softmax(y, dim=1)

    f = tt.compile(stats, backend="c")
    x1, x2 = rand((64, 128), seed=8), rand((64, 128), seed=9)

    def expect(x):
        y = torch.tanh(torch.tensor(x)) * 3
        return [t.numpy() for t in (y, y.sum(1), TF.softmax(y, dim=1))]

    o1 = f(tt.tensor(x1))
    o2 = f(tt.tensor(x2))
    for outs, x in ((o1, x1), (o2, x2)):
        for ours, theirs in zip(outs, expect(x)):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-5)
    # a result fed back in while the caller still holds it
    g = tt.compile(scaled_exp, backend="c")
    x = tt.tensor(rand((64, 128), seed=10) * 0.1)
    r = g(g(x))
    r = g(r)
    ref = torch.tensor(x.numpy())
    for _ in range(3):
        ref = torch.exp(ref) * 2
    # exp of exp of exp: the vector expf's few-ulp error grows with each level (values
    # reach 1e15); aliasing would be off by far more
    np.testing.assert_allclose(r.numpy(), ref.numpy(), rtol=1e-4)


@needs_cc
def test_gradients_and_residuals_are_not_overwritten():
    f = tt.compile(lambda x, w: (tt.exp(x) * w).sum(), backend="c")
    x = tt.tensor(rand((64, 128), seed=11), requires_grad=True)
    w1, w2 = tt.tensor(rand((64, 128), seed=12)), tt.tensor(rand((64, 128), seed=13))
    e = np.exp(x.detach().numpy())
    f(x, w1).backward()
    g1 = x.grad
    x.grad = None
    f(x, w2).backward()
    np.testing.assert_allclose(g1.numpy(), e * w1.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), e * w2.numpy(), rtol=1e-5, atol=1e-6)
    # two forwards, then the backward of the first: its residuals are its own
    g = tt.compile(lambda x: tt.tanh(x * 2), backend="c")
    xa = tt.tensor(rand((64, 128), seed=14), requires_grad=True)
    xb = tt.tensor(rand((64, 128), seed=15), requires_grad=True)
    ya = g(xa)
    yb = g(xb)
    del yb
    ya.sum().backward()
    expect = 2 * (1 - np.tanh(2 * xa.detach().numpy()) ** 2)
    np.testing.assert_allclose(xa.grad.numpy(), expect, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ backend selection

@needs_cc
def test_default_and_torch_backend_names_pick_c():
    x = tt.randn(64, 128)
    for options in ({}, {"backend": None}, {"backend": "inductor"}, {"backend": "c"}):
        f = tt.compile(scaled_exp, **options)
        assert f.cpu_backend == "c", options
        assert KERNELS in f.source(x)
    np.testing.assert_allclose(f(x).numpy(), np.exp(x.numpy()) * 2, rtol=1e-6)


def test_numpy_backend_has_no_kernels_even_for_big_shapes():
    x = tt.randn(256, 256)
    f = tt.compile(lambda x: F.softmax(tt.tanh(x) * 2, dim=1), backend="numpy")
    assert f.cpu_backend == "numpy"
    src = f.source(x)
    assert KERNELS not in src and "_lib." not in src and "np.tanh" in src and "#pragma" not in src
    np.testing.assert_allclose(f(x).numpy(), TF.softmax(torch.tanh(torch.tensor(x.numpy())) * 2, dim=1).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_unknown_backend_is_rejected_when_compiling(monkeypatch):
    with pytest.raises(ValueError, match="bogus"):
        tt.compile(scaled_exp, backend="bogus")
    with pytest.raises(ValueError, match="bogus"):
        tt.compile(backend="bogus")(scaled_exp)  # decorator form
    monkeypatch.setenv("TORCHTREK_BACKEND", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        tt.compile(scaled_exp)


@needs_cc
def test_backend_from_the_environment(monkeypatch):
    x = tt.randn(64, 128)
    monkeypatch.setenv("TORCHTREK_BACKEND", "numpy")
    f = tt.compile(scaled_exp)
    assert f.cpu_backend == "numpy" and KERNELS not in f.source(x)
    g = tt.compile(scaled_exp, backend="c")  # an explicit choice wins
    assert g.cpu_backend == "c" and KERNELS in g.source(x)
    np.testing.assert_allclose(f(x).numpy(), g(x).numpy(), rtol=1e-6)


@pytest.fixture
def no_compiler(monkeypatch):
    """native reports no working compiler; the one-time warning can fire again."""
    monkeypatch.setattr(native, "available", lambda: False)
    monkeypatch.setattr(compiler_module, "_warned_no_cc", False)


def test_without_a_compiler_the_default_falls_back_to_numpy(no_compiler):
    with pytest.warns(RuntimeWarning, match="C compiler"):
        f = tt.compile(scaled_exp)
    assert f.cpu_backend == "numpy"
    x = tt.randn(64, 128)
    assert KERNELS not in f.source(x)
    np.testing.assert_allclose(f(x).numpy(), np.exp(x.numpy()) * 2, rtol=1e-6)
    with warnings.catch_warnings(record=True) as caught:  # only once per process
        warnings.simplefilter("always")
        g = tt.compile(scaled_exp, backend="inductor")
        h = tt.compile(scaled_exp, backend="numpy")
    assert g.cpu_backend == h.cpu_backend == "numpy"
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_without_a_compiler_an_explicit_c_backend_raises(no_compiler):
    with pytest.raises(RuntimeError, match="C compiler"):
        tt.compile(scaled_exp, backend="c")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the explicit NumPy backend does not warn
        assert tt.compile(scaled_exp, backend="numpy").cpu_backend == "numpy"


def test_no_compiler_warning_points_at_the_callers_line(no_compiler):
    with pytest.warns(RuntimeWarning, match="C compiler") as record:
        tt.compile(scaled_exp)
    assert Path(record[0].filename).name == Path(__file__).name


@pytest.fixture
def empty_path(monkeypatch, tmp_path):
    """No compiler on PATH and no $CC; the probe caches are cleared before and after."""
    caches = (native.compiler, native.flags, native._machine_id)
    native.flags()  # keep the real machine id cached while the compiler is gone
    native._machine_id()
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(compiler_module, "_warned_no_cc", False)
    native.compiler.cache_clear()
    native.flags.cache_clear()
    yield
    for c in caches:
        c.cache_clear()


def test_probe_finds_no_compiler_on_an_empty_path(empty_path):
    assert native.compiler() is None and native.flags() is None and native.available() is False
    with pytest.raises(native.CompileError, match="no working C compiler"):
        native.build("void nothing(void) {}\n")
    with pytest.raises(RuntimeError, match="C compiler"):
        tt.compile(scaled_exp, backend="c")
    with pytest.warns(RuntimeWarning, match="C compiler"):
        f = tt.compile(scaled_exp)
    x = tt.randn(64, 128)
    np.testing.assert_allclose(f(x).numpy(), np.exp(x.numpy()) * 2, rtol=1e-6)


# ------------------------------------------------------------------ disk cache

def ln_gelu(x, w, b):
    return F.gelu(F.layer_norm(x, (96,), w, b), approximate="tanh")  # disk-cache test


@needs_cc
def test_a_fresh_compiled_function_reads_the_c_sources_from_disk(cache):
    data = [rand((128, 96), seed=16), rand((96,), seed=17), rand((96,), seed=18)]

    def run(f):
        args = [tt.tensor(a, requires_grad=True) for a in data]
        entry = f._entry(args, {})
        out = f(*args)
        (out * out).sum().backward()
        return entry.compiled, out.detach(), [a.grad.numpy() for a in args], f.source(*args), \
            f.source(*args, backward=True)

    first, out1, grads1, fwd1, bwd1 = run(tt.compile(ln_gelu, backend="c"))
    assert not first.from_cache
    assert KERNELS in fwd1 and KERNELS in bwd1
    assert shared_objects(cache)  # built into this cache
    second, out2, grads2, fwd2, bwd2 = run(tt.compile(ln_gelu, backend="c"))
    assert second.from_cache
    assert (fwd2, bwd2) == (fwd1, bwd1)
    np.testing.assert_array_equal(out2.numpy(), out1.numpy())
    for g1, g2 in zip(grads1, grads2):
        np.testing.assert_array_equal(g2, g1)
    # against torch
    leaves = [torch.tensor(a, requires_grad=True) for a in data]
    ref = TF.gelu(TF.layer_norm(leaves[0], (96,), leaves[1], leaves[2]), approximate="tanh")
    (ref * ref).sum().backward()
    np.testing.assert_allclose(out2.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    for g, leaf in zip(grads2, leaves):
        np.testing.assert_allclose(g, leaf.grad.numpy(), rtol=1e-4, atol=1e-4)
    # the NumPy backend's entry for the same graph is another one
    third = tt.compile(ln_gelu, backend="numpy")._entry([tt.tensor(a, requires_grad=True) for a in data], {})
    assert not third.compiled.from_cache and KERNELS not in third.compiled.forward_source


@needs_cc
def test_the_kernel_threshold_is_part_of_the_cache_key(monkeypatch):
    x = tt.randn(16, 32)  # 512 elements: NumPy at the default threshold

    def small(x):
        return tt.tanh(x) * 2 + 1  # threshold-key test

    monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", "0")
    with_kernels = tt.compile(small, backend="c")._entry([x], {}).compiled
    assert not with_kernels.from_cache and KERNELS in with_kernels.forward_source
    monkeypatch.delenv("TORCHTREK_C_MIN_NUMEL")
    plain = tt.compile(small, backend="c")._entry([x], {}).compiled
    assert not plain.from_cache and KERNELS not in plain.forward_source
    assert tt.compile(small, backend="c")._entry([x], {}).compiled.from_cache


SCRIPT = textwrap.dedent("""\
    import json, subprocess, sys
    real_run = subprocess.run
    builds = []

    def counting_run(args, *a, **k):  # compiler runs that build a kernel library
        if any("/native/.tmp-" in str(s) for s in args):
            builds.append(args)
        return real_run(args, *a, **k)

    subprocess.run = counting_run
    import numpy as np
    import torchtrek as tt

    def step(x, w):
        h = tt.tanh(x @ w)
        return (h * h - h).sum(1)

    rng = np.random.default_rng(0)
    args = (tt.tensor(rng.standard_normal((64, 96)).astype(np.float32)),
            tt.tensor(rng.standard_normal((96, 128)).astype(np.float32) * 0.1, requires_grad=True))
    f = tt.compile(step, backend="c")
    cg = f._entry(args, {}).compiled
    out = f(*args)
    out.sum().backward()
    print(json.dumps({"from_cache": cg.from_cache, "builds": len(builds),
                      "source": f.source(*args), "value": out.detach().numpy().tolist(),
                      "grad": args[1].grad.numpy().tolist()}))
""")


@needs_cc
def test_a_second_process_reuses_sources_and_shared_objects(tmp_path, cache):
    script = tmp_path / "compile_c.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items()
           if k not in ("TORCHTREK_CACHE", "TORCHTREK_BACKEND", "TORCHTREK_C_MIN_NUMEL")}
    env["TORCHTREK_CACHE_DIR"] = str(cache)

    def run():
        res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    first = run()
    libs = {p: p.stat().st_mtime_ns for p in shared_objects(cache)}
    second = run()
    assert first["from_cache"] is False and first["builds"] >= 1 and len(libs) == first["builds"]
    assert second["from_cache"] is True and second["builds"] == 0
    assert {p: p.stat().st_mtime_ns for p in shared_objects(cache)} == libs
    assert second["source"] == first["source"] and KERNELS in first["source"]
    assert second["value"] == first["value"] and second["grad"] == first["grad"]
    # and the numbers are torch's
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 96)).astype(np.float32))
    w = torch.tensor(rng.standard_normal((96, 128)).astype(np.float32) * 0.1, requires_grad=True)
    h = torch.tanh(x @ w)
    ref = (h * h - h).sum(1)
    ref.sum().backward()
    np.testing.assert_allclose(np.array(second["value"], np.float32), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(second["grad"], np.float32), w.grad.numpy(), rtol=1e-4, atol=1e-4)
