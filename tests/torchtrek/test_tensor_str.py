"""torchtrek._tensor_str.format_tensor must reproduce repr(torch.Tensor) exactly."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# Load by file path: the torchtrek package may not be importable (yet).
_PATH = Path(__file__).resolve().parents[2] / "torchtrek" / "_tensor_str.py"
_spec = importlib.util.spec_from_file_location("_torchtrek_tensor_str", _PATH)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
format_tensor = _mod.format_tensor


def _dtype_name(t: "torch.Tensor") -> str:
    return str(t.dtype).split(".")[-1]


def _check(t: "torch.Tensor", suffixes: list[str] = (), default: str = "float32") -> None:
    expected = repr(t).replace("torch.", "torchtrek.")
    got = format_tensor(t.detach().numpy(), _dtype_name(t), list(suffixes), default)
    assert got == expected, f"\n--- got ---\n{got}\n--- expected ---\n{expected}"


T = torch.tensor
nan, inf = math.nan, math.inf

# (id, tensor builder)
CASES: list[tuple[str, Callable[[], "torch.Tensor"]]] = [
    # 0-d
    ("0d_float_int", lambda: T(7.0)),
    ("0d_float", lambda: T(3.14159)),
    ("0d_float_neg", lambda: T(-2.5)),
    ("0d_float_tiny", lambda: T(1e-5)),
    ("0d_float_huge", lambda: T(1e9)),
    ("0d_float_zero", lambda: T(0.0)),
    ("0d_float_negzero", lambda: T(-0.0)),
    ("0d_nan", lambda: T(nan)),
    ("0d_inf", lambda: T(-inf)),
    ("0d_int", lambda: T(7)),
    ("0d_int32", lambda: T(-7, dtype=torch.int32)),
    ("0d_bool", lambda: T(True)),
    ("0d_float64", lambda: T(1.5, dtype=torch.float64)),
    ("0d_float16", lambda: T(0.1, dtype=torch.float16)),
    # 1-D
    ("1d_float", lambda: T([1.5, 2.25, -3.125])),
    ("1d_intvalued", lambda: T([1.0, 2.0, 3.0])),
    ("1d_intvalued_neg", lambda: T([-1.0, 20.0, 300.0])),
    ("1d_int", lambda: T([1, -22, 333])),
    ("1d_bool", lambda: T([True, False, True])),
    ("1d_sci_ratio", lambda: T([1.0, 12345.678])),
    ("1d_sci_intvalued", lambda: T([1.0, 1e9])),
    ("1d_sci_big", lambda: T([1.5e8, 2.5e8])),
    ("1d_tiny", lambda: T([1e-5, 2e-5])),
    ("1d_tiny_mixed", lambda: T([0.5, 3e-6, -0.25])),
    ("1d_nan_inf", lambda: T([nan, inf, -inf, 1.5])),
    ("1d_nan_inf_int", lambda: T([nan, inf, -inf, 2.0])),
    ("1d_only_nonfinite", lambda: T([nan, inf, 0.0])),
    ("1d_zeros", lambda: T([0.0, 0.0])),
    ("1d_nan_sci", lambda: T([nan, 1e-7, 1.0])),
    ("1d_negzero", lambda: T([-0.0, 1.5])),
    ("1d_long_wrap", lambda: torch.linspace(-3, 3, 40)),
    ("1d_long_int_wrap", lambda: torch.arange(100) * 12345),
    ("1d_long_sci_wrap", lambda: torch.logspace(-6, 6, 30)),
    ("1d_summarize", lambda: torch.arange(5000, dtype=torch.float32) / 7),
    ("1d_summarize_int", lambda: torch.arange(2000)),
    ("1d_float64", lambda: T([1.0, 2.5], dtype=torch.float64)),
    ("1d_float16", lambda: T([0.1, 1000.0, -2.0], dtype=torch.float16)),
    ("1d_float16_int", lambda: T([1, 2, 3], dtype=torch.float16)),
    ("1d_int32", lambda: T([1, 2], dtype=torch.int32)),
    ("1d_int16", lambda: T([-300, 2], dtype=torch.int16)),
    ("1d_int8", lambda: T([-128, 127], dtype=torch.int8)),
    ("1d_uint8", lambda: T([0, 255, 7], dtype=torch.uint8)),
    # N-D
    ("2d_float", lambda: T([[1.5, -2.0], [3.25, 4.0]])),
    ("2d_int", lambda: T([[1, 2, 3], [40, 50, 60]])),
    ("2d_bool", lambda: T([[True, False], [False, True]])),
    ("2d_wide", lambda: torch.arange(60, dtype=torch.float32).reshape(3, 20) / 3),
    ("2d_summarize", lambda: torch.arange(40000, dtype=torch.float32).reshape(200, 200)),
    ("2d_summarize_rows", lambda: torch.arange(2000).reshape(1000, 2)),
    ("2d_summarize_cols", lambda: torch.arange(2000).reshape(2, 1000) - 1000),
    ("3d_float", lambda: torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) * 0.37),
    ("3d_summarize", lambda: torch.arange(8000, dtype=torch.float64).reshape(20, 20, 20)),
    ("4d_int", lambda: torch.arange(48, dtype=torch.int32).reshape(2, 2, 3, 4)),
    ("4d_float_sci", lambda: torch.logspace(-8, 8, 16).reshape(2, 2, 2, 2)),
    ("4d_summarize", lambda: torch.arange(4096, dtype=torch.float32).reshape(8, 8, 8, 8)),
    ("2d_uint8", lambda: T([[1, 2], [3, 255]], dtype=torch.uint8)),
    ("2d_float16", lambda: T([[1.5, 2.0], [0.001, 4.0]], dtype=torch.float16)),
    # empty
    ("empty_0", lambda: torch.empty(0)),
    ("empty_0_3", lambda: torch.empty(0, 3)),
    ("empty_2_0_4", lambda: torch.empty(2, 0, 4)),
    ("empty_int64", lambda: torch.empty(0, dtype=torch.int64)),
    ("empty_int32_2d", lambda: torch.empty(3, 0, dtype=torch.int32)),
    ("empty_bool", lambda: torch.empty(0, dtype=torch.bool)),
    ("empty_float64", lambda: torch.empty(0, 3, dtype=torch.float64)),
]


@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_torch(build: Callable[[], "torch.Tensor"]) -> None:
    _check(build())


SUFFIX_CASES: list[tuple[str, Callable[[], "torch.Tensor"]]] = [
    ("0d", lambda: T(2.0)),
    ("1d", lambda: T([1.5, 2.5])),
    ("1d_float64", lambda: T([1.5, 2.5], dtype=torch.float64)),
    ("1d_long_line", lambda: torch.linspace(0, 1, 11)),
    ("1d_suffix_wraps", lambda: torch.linspace(0, 1, 8)),
    ("1d_float64_wraps", lambda: torch.linspace(0, 1, 7, dtype=torch.float64)),
    ("1d_just_fits", lambda: torch.linspace(0, 1, 9)),
    ("2d_multiline", lambda: torch.arange(12, dtype=torch.float32).reshape(3, 4) / 3),
    ("2d_wide", lambda: torch.arange(60, dtype=torch.float32).reshape(3, 20) / 3),
    ("empty", lambda: torch.empty(0, 3)),
    ("empty_float64", lambda: torch.empty(0, dtype=torch.float64)),
]


@pytest.mark.parametrize("build", [c[1] for c in SUFFIX_CASES], ids=[c[0] for c in SUFFIX_CASES])
def test_requires_grad_suffix(build: Callable[[], "torch.Tensor"]) -> None:
    _check(build().requires_grad_(), ["requires_grad=True"])


@pytest.mark.parametrize("build", [c[1] for c in SUFFIX_CASES], ids=[c[0] for c in SUFFIX_CASES])
def test_grad_fn_suffix(build: Callable[[], "torch.Tensor"]) -> None:
    _check(build().requires_grad_() * 1, ["grad_fn=<MulBackward0>"])


def test_long_grad_fn_suffix_wraps() -> None:
    out = torch.linspace(0, 1, 8).requires_grad_() * 1
    _check(out, ["grad_fn=<MulBackward0>"])
    got = format_tensor(out.detach().numpy(), "float32", ["grad_fn=<MulBackward0>"])
    assert "],\n       grad_fn=<MulBackward0>)" in got


def test_dtype_suffix_wraps_at_torch_width() -> None:
    # torch measures "dtype=torch.float64"; the longer torchtrek name must not
    # change where the line breaks.
    for n in range(1, 30):
        _check(torch.linspace(-1, 1, n, dtype=torch.float64))
        _check(torch.linspace(-1, 1, n, dtype=torch.float64).requires_grad_() * 1,
               ["grad_fn=<MulBackward0>"])


def test_default_dtype_float64() -> None:
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for t in (T([1.5, 2.0]), T([1.5], dtype=torch.float32), torch.empty(0), T(3.0)):
            _check(t, default="float64")
    finally:
        torch.set_default_dtype(old)


_RANDOM_DTYPES = [
    torch.float32, torch.float64, torch.float16,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool,
]


def _random_tensor(rng: np.random.Generator) -> "torch.Tensor":
    ndim = int(rng.integers(0, 5))
    # occasionally make one dim long enough to trigger summarization
    shape = [int(rng.integers(0 if rng.random() < 0.05 else 1, 6)) for _ in range(ndim)]
    if ndim and rng.random() < 0.2:
        shape[int(rng.integers(0, ndim))] = int(rng.integers(100, 1500))
    dtype = _RANDOM_DTYPES[int(rng.integers(0, len(_RANDOM_DTYPES)))]
    n = int(np.prod(shape)) if shape else 1
    if dtype == torch.bool:
        data = rng.random(n) < 0.5
    elif dtype.is_floating_point:
        scale = 10.0 ** rng.uniform(-9, 9 if dtype != torch.float16 else 4)
        kind = rng.integers(0, 4)
        data = rng.standard_normal(n) * scale
        if kind == 1:  # integer-valued floats
            data = np.round(data)
        elif kind == 2:  # sprinkle zeros / non-finite values
            special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf])
            mask = rng.random(n) < 0.2
            data[mask] = rng.choice(special, int(mask.sum()))
        elif kind == 3:  # narrow range, no sci mode
            data = rng.uniform(-100, 100, n)
    else:
        info = np.iinfo(str(dtype).split(".")[-1])
        hi = min(info.max, 10 ** int(rng.integers(1, 12)))
        lo = max(info.min, -hi)
        data = rng.integers(lo, hi, n, endpoint=True)
    return torch.tensor(np.asarray(data).reshape(shape)).to(dtype)


@pytest.mark.parametrize("seed", range(200))
def test_random(seed: int) -> None:
    rng = np.random.default_rng(1234 + seed)
    t = _random_tensor(rng)
    if t.dtype.is_floating_point and rng.random() < 0.3:
        _check(t.requires_grad_() * 1, ["grad_fn=<MulBackward0>"])
    else:
        _check(t)
