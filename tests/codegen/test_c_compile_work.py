"""Compile time is linear in program size (codegen/c/regions.py, codegen/c/generator.py).

Work is counted, not timed: every Python function call made while a graph is traced and
its C module generated (sympy's included), through a profiler hook that aborts once the
count passes what a linear pass could need, so a regression fails fast instead of
hanging. Each case doubles the program and checks the work at most about doubles; the
shapes are the ones that were exponential before (a value read twice per step of a
chain, inlined into every reader and expanded as a tree).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import torchtrek as tt
from torchtrek.codegen.c import regions
from torchtrek.codegen.c.generator import generate


class TooMuchWork(BaseException):  # not caught by library code's `except Exception`
    pass


def calls(fn: Callable[[], Any], limit: int = 5_000_000) -> int:
    """Python function calls made by fn(); raises TooMuchWork past `limit`."""
    n = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal n
        if event == "call":
            n += 1
            if n > limit:
                raise TooMuchWork(f"more than {limit} calls")

    old = sys.getprofile()
    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(old)
    return n


def codegen_work(f: Callable[..., Any], *args: Any, limit: int = 5_000_000) -> int:
    """Calls made tracing `f` and generating its C module (kernels for every size)."""
    return calls(lambda: generate(tt.trace(f, *args), threshold=0), limit)


def assert_linear(work: Callable[[int], int], n: int) -> None:
    """work(2n) at most ~2x work(n): linear, with room for a constant part."""
    work(n // 2)  # warm the per-op caches (formulas, derivatives) both sizes share
    small, big = work(n), work(2 * n)
    assert big <= 2.3 * small, (n, small, big)


def small_stat_chain(k: int) -> Callable[[Any], Any]:
    """A per-row statistic pushed through k steps that each read it twice (small values
    are inlined into their readers whatever their use count)."""
    def f(x: Any) -> Any:
        s = x.sum(-1, keepdim=True)
        for _ in range(k):
            s = s * s * 0.5 + s * 0.5
        return x * s
    return f


def full_size_chain(k: int) -> Callable[[Any], Any]:
    """A full-size chain feeding a reduction, each step reading the last one twice."""
    def f(x: Any) -> Any:
        y = x
        for _ in range(k):
            y = y * y * 0.5 + 0.25
        return y.sum()
    return f


CHAINS = [small_stat_chain, full_size_chain]


@pytest.mark.parametrize("chain", CHAINS)
def test_region_building_is_linear_in_chain_length(chain: Callable[[int], Any]) -> None:
    x = tt.tensor(np.ones((64, 64), np.float32))
    assert_linear(lambda k: codegen_work(chain(k), x, limit=3_000_000), 32)


@pytest.mark.parametrize("chain", CHAINS)
def test_long_chains_split_into_bounded_regions_that_compute_the_same(
        chain: Callable[[int], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    x = tt.tensor(np.random.default_rng(0).uniform(0, 1 / 64, (64, 64)).astype(np.float32))
    graph, pointwise, reductions = regions.plan(tt.trace(chain(40), x), threshold=0)
    fused = [e for e in graph.eqns if "expr" in e.params]
    assert fused and all(len(e.inputs) <= 3 ** 4 for e in fused)
    monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", "0")
    ours = tt.compile(chain(40), backend="c")(x).numpy()
    eager = chain(40)(x).numpy()
    np.testing.assert_allclose(ours, eager, rtol=1e-5, atol=1e-7)


def _gpt() -> Any:
    """benchmarks/gpt.py: the model the compile-time benchmark times."""
    name = "torchtrek_bench_gpt"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpt.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up while it executes
        spec.loader.exec_module(mod)
    return sys.modules[name]


def gpt_step(n_layer: int) -> tuple[Callable[..., Any], Any, Any]:
    gpt = _gpt()
    cfg = gpt.Config(n_layer=n_layer, n_embd=16, n_head=2, block_size=8, vocab_size=11, batch=2)
    step, x, y, _ = gpt.make_step(tt, cfg)
    return step, x, y


def test_gpt_training_step_codegen_work_is_linear_in_depth() -> None:
    def work(n: int) -> int:
        step, x, y = gpt_step(n)
        return codegen_work(step, x, y)
    assert_linear(work, 4)


def test_repeated_layers_share_their_kernels() -> None:
    """The C file has each distinct kernel once: the same layer repeated adds calls, not
    kernels, so the C compiler's work does not grow with depth."""
    def kernels(n: int) -> tuple[int, int]:
        step, x, y = gpt_step(n)
        module = generate(tt.trace(step, x, y), threshold=0)
        defined = len(re.findall(r"^void k\d+_\w*\(", module.c_source, flags=re.M))
        return defined, len(module.kernels)

    two, four = kernels(2), kernels(4)
    assert two[0] == two[1] and four[0] == four[1]  # every kernel defined is bound
    assert four[0] <= two[0] + 2, (two, four)


def test_shared_kernels_compute_what_unshared_ones_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3-layer GPT step compiled on the C backend (kernels for every size, shared
    across layers) gives the NumPy backend's losses and weights over three steps."""
    monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", "0")
    losses, weights = {}, {}
    for backend in ("c", "numpy"):
        gpt = _gpt()
        cfg = gpt.Config(n_layer=3, n_embd=16, n_head=2, block_size=8, vocab_size=11, batch=2)
        step, x, y, model = gpt.make_step(tt, cfg)
        f = tt.compile(step, backend=backend)
        losses[backend] = [f(x, y).item() for _ in range(3)]
        weights[backend] = [p.detach().numpy().copy() for p in model.parameters()]
    np.testing.assert_allclose(losses["c"], losses["numpy"], rtol=1e-5)
    # AdamW divides by the gradient's running rms: where a gradient is float32 noise, the
    # two backends' summation orders move that weight differently, by a fraction of lr
    for a, b in zip(weights["c"], weights["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-4)
