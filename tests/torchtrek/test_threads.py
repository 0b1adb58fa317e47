"""Threads: mode state is per thread (the trace stack, grad mode, inference mode, size
hints), compile caches build once under concurrency, and generated code keeps no scratch
that two calls at once could share. Results are checked against a single-threaded run."""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as TF


def run_threads(fns: list[Callable[[], Any]], timeout: float = 120) -> list[Any]:
    """Run each fn in its own thread, started together; re-raise the first exception."""
    results: list[Any] = [None] * len(fns)
    errors: list[BaseException] = []
    start = threading.Barrier(len(fns))

    def body(i: int) -> None:
        try:
            start.wait()
            results[i] = fns[i]()
        except BaseException as exc:  # noqa: BLE001 (reported below, with its traceback)
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_a_trace_in_one_thread_does_not_record_another_threads_ops():
    """The issue's repro: while A traces, B's eager ops (an optimizer-like p.add_) run
    eagerly in B; A's compiled function does not replay them."""
    p = tt.zeros(3)
    tracing, b_done = threading.Event(), threading.Event()

    @tt.compile
    def f(x):
        y = x * 2
        tracing.set()
        assert b_done.wait(10)  # B's ops run while this trace is open
        return y + 1

    def thread_a():
        return f(tt.ones(3)).numpy()

    def thread_b():
        assert tracing.wait(10)
        q = tt.ones(3) * 5
        got = q.numpy().copy()  # a real tensor: a TraceError if it had been traced
        p.add_(q)
        b_done.set()
        return got

    out_a, q = run_threads([thread_a, thread_b])
    np.testing.assert_array_equal(out_a, [3, 3, 3])
    np.testing.assert_array_equal(q, [5, 5, 5])
    np.testing.assert_array_equal(p.numpy(), [5, 5, 5])
    for _ in range(3):  # later calls leave p alone
        np.testing.assert_array_equal(f(tt.ones(3)).numpy(), [3, 3, 3])
    np.testing.assert_array_equal(p.numpy(), [5, 5, 5])
    assert f.trace_count == 1


def test_grad_mode_and_inference_mode_are_per_thread():
    inside, checked = threading.Event(), threading.Event()
    w = tt.ones(2, requires_grad=True)

    def in_no_grad():
        with tt.no_grad(), tt.inference_mode():
            inside.set()
            assert checked.wait(10)
            return tt.is_grad_enabled(), (w * 2).requires_grad, tt.is_inference_mode_enabled()

    def beside():
        assert inside.wait(10)
        try:  # torch: a new thread has grad mode on, whatever another thread set
            return tt.is_grad_enabled(), (w * 2).requires_grad, tt.is_inference_mode_enabled()
        finally:
            checked.set()

    assert run_threads([in_no_grad, beside]) == [(False, False, True), (True, True, False)]
    assert tt.is_grad_enabled() and not tt.is_inference_mode_enabled()


def test_a_new_thread_starts_with_grad_on_as_in_torch():
    def probe(lib):
        out = []
        t = threading.Thread(target=lambda: out.append(lib.is_grad_enabled()))
        with lib.no_grad():
            t.start()
            t.join()
        return out[0]

    assert probe(tt) is probe(torch) is True


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_first_calls_from_many_threads_at_once_trace_once(backend):
    entered = threading.Event()

    def body(x, w):
        entered.set()
        return tt.tanh(x @ w).sum(1) * 3

    f = tt.compile(body, backend=backend)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((64, 32)).astype(np.float32) for _ in range(8)]
    w = rng.standard_normal((32, 16)).astype(np.float32)
    outs = run_threads([lambda x=x: f(tt.tensor(x), tt.tensor(w)).numpy() for x in xs])
    assert f.trace_count == 1
    for x, out in zip(xs, outs):
        want = torch.tanh(torch.tensor(x) @ torch.tensor(w)).sum(1) * 3
        np.testing.assert_allclose(out, want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_concurrent_calls_of_one_compiled_function_keep_their_own_buffers(backend):
    """Many calls at once of one function (the C backend's pooled outputs, the NumPy
    backend's scratch sets): every result is its own inputs'."""
    f = tt.compile(lambda x: ((x * 2 + 1).exp() * x).sum(0) + x.mean(), backend=backend)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((200, 300)).astype(np.float32) for _ in range(8)]
    f(tt.tensor(xs[0]))  # compiled before the threads start: every thread runs it

    def worker(x):
        t = tt.tensor(x)
        return [f(t).numpy().copy() for _ in range(20)]

    outs = run_threads([lambda x=x: worker(x) for x in xs])
    for x, runs in zip(xs, outs):
        want = f(tt.tensor(x)).numpy()
        for got in runs:
            np.testing.assert_array_equal(got, want)


def test_shape_generic_traces_in_two_threads_keep_their_size_hints():
    from torchtrek.ir import symdims

    s0 = symdims.size_symbol(0)
    seen: dict[str, int] = {}
    ready = threading.Barrier(2)

    def hinted(name, value):
        with symdims.hints({s0: value}):
            ready.wait(10)
            seen[name] = symdims.size_hint(s0 * 2)
            ready.wait(10)

    run_threads([lambda: hinted("a", 3), lambda: hinted("b", 100)])
    assert seen == {"a": 6, "b": 200}
    assert symdims.size_hint(s0) == 64  # (the default when no hint is set)


# ------------------------------------------------------------------ the stress test
_SHARED: dict[str, Any] = {}


def _shared(backend: str) -> Any:
    """A compiled function every thread calls (cached after its first call)."""
    if backend not in _SHARED:
        _SHARED[backend] = tt.compile(lambda x, w: TF.gelu(x @ w).sum(1), backend=backend)
    return _SHARED[backend]


def _workload(i: int, backend: str) -> dict[str, np.ndarray]:
    """One thread's work: eager ops, a shared cached compiled function, a function
    compiled fresh, backward, optimizer steps, a compiled training step, no_grad."""
    rng = np.random.default_rng(100 + i)
    x = tt.tensor(rng.standard_normal((16, 24)).astype(np.float32))
    w = tt.tensor(rng.standard_normal((24, 8)).astype(np.float32), requires_grad=True)
    out: dict[str, np.ndarray] = {}
    out["eager"] = ((x * 2 + 1).tanh().sum(1) - x.mean()).numpy()
    shared = _shared(backend)
    out["shared"] = shared(x, w).detach().numpy()
    fresh = tt.compile(lambda a, b: (a * b).exp().mean(0), backend=backend)
    out["fresh"] = fresh(x, tt.tensor(float(i) / 10)).numpy()
    loss = shared(x, w).pow(2).mean()
    loss.backward()
    out["grad"] = w.grad.numpy().copy()
    opt = tt.optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        (x @ w).relu().sum().backward()
        opt.step()
    out["sgd"] = w.detach().numpy().copy()
    with tt.no_grad():
        z = w * 3
        assert not z.requires_grad and not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    model = tt.nn.Linear(24, 4)
    with tt.no_grad():
        model.weight.copy_(tt.tensor(rng.standard_normal((4, 24)).astype(np.float32) * 0.1))
        model.bias.zero_()
    adam = tt.optim.Adam(model.parameters(), lr=0.01)
    target = tt.tensor(rng.integers(0, 4, 16))

    @tt.compile
    def train_step(inp, y):
        adam.zero_grad()
        step_loss = TF.cross_entropy(model(inp), y)
        step_loss.backward()
        adam.step()
        return step_loss

    out["losses"] = np.array([float(train_step(x, target)) for _ in range(4)])
    out["model"] = model.weight.detach().numpy().copy()
    return out


@pytest.fixture(scope="module")
def single_threaded() -> dict[str, list[dict[str, np.ndarray]]]:
    return {be: [_workload(i, be) for i in range(8)] for be in ("c", "numpy")}


@pytest.mark.parametrize("run", range(3))
@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_stress_eight_threads_match_a_single_thread(backend, run, single_threaded):
    _SHARED.pop(backend, None)  # the shared function's first call races too
    outs = run_threads([lambda i=i: _workload(i, backend) for i in range(8)])
    for i, (got, want) in enumerate(zip(outs, single_threaded[backend])):
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6,
                                       err_msg=f"thread {i}: {k}")
