"""Tensor creation: tt.tensor, zeros, ones, full, arange, rand, randn, ... (torch's
argument conventions; random numbers come from a NumPy PCG64 generator that
tt.manual_seed seeds, so they are reproducible but not torch's stream)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import functional as F
from .ir import dtypes
from .ir.dtypes import DType
from . import devices as _device
from .tensor import Tensor, dtype_of_array
from .ir.symdims import is_symbolic

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> Any:
    """Seed TorchTrek's generators: creation functions use a PCG64 generator; generated
    code (dropout masks inside compiled functions) uses NumPy's global one."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    np.random.seed(int(seed) % 2**32)
    return _rng


def _finish(arr: np.ndarray, requires_grad: bool, device: Any = None) -> Tensor:
    if device is not None and _device.device(device).type == "cuda":
        from .runtime import cuda

        t = Tensor._wrap(cuda.to_device(np.require(arr, requirements="C")))
    else:
        t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _check_device(device: Any) -> None:
    if device is not None:
        _device.device(device)  # validates the spec


def _infer_dtype(data: Any) -> DType:
    """torch.tensor's dtype inference for (nested) Python data."""
    kinds: set[type] = set()

    def walk(d: Any) -> None:
        if isinstance(d, Tensor):
            kinds.add(float if d.dtype.is_floating_point else (bool if d.dtype is dtypes.bool_ else int))
        elif isinstance(d, (list, tuple)):
            for x in d:
                walk(x)
        elif isinstance(d, (bool, np.bool_)):
            kinds.add(bool)
        elif isinstance(d, (int, np.integer)):
            kinds.add(int)
        elif isinstance(d, (float, np.floating)):
            kinds.add(float)
        else:
            raise TypeError(f"Could not infer dtype of {type(d).__name__}")

    walk(data)
    if float in kinds:
        return F.get_default_dtype()
    if int in kinds:
        return dtypes.int64
    if bool in kinds:
        return dtypes.bool_
    return F.get_default_dtype()  # empty list


def _to_nested(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._concrete("tt.tensor(tensor)")
    if isinstance(data, (list, tuple)):
        return [_to_nested(d) for d in data]
    return data


def tensor(data: Any, dtype: DType | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    _check_device(device)
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, np.bool_ | np.number) or (
            isinstance(data, np.generic) and dtype is None and isinstance(data, (np.floating, np.integer))):
        # NumPy arrays and NumPy scalars keep their own dtype, as in torch
        arr = np.array(data, dtype=dtype.name if dtype else None, copy=True)
        dtype_of_array(arr)
    else:
        d = dtype or _infer_dtype(data)
        nested = _to_nested(data)
        try:
            arr = np.array(nested, dtype=d.name)
        except ValueError as err:
            raise ValueError(f"expected a rectangular (non-ragged) sequence: {err}") from None
    return _finish(arr, requires_grad, device)


def as_tensor(data: Any, dtype: DType | None = None, device: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or data.dtype is dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype.name)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with `a`, as in torch."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    dtype_of_array(a)
    return Tensor._wrap(a)


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        if is_symbolic(s) and s.is_integer:  # a size of a shape-generic trace
            out.append(s)
            continue
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a sequence of ints, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _tracing() -> bool:
    from .tracer import current_trace

    return current_trace() is not None


def _filled(size: Sequence[Any], value: Any, dtype: DType | None, requires_grad: bool,
            device: Any) -> Tensor:
    _check_device(device)
    d = dtype or F.get_default_dtype()
    if _tracing():  # inside a compiled function: a graph constant, not a captured array
        from ._dispatch import bind

        out = bind("full", [], {"shape": _size(size), "value": value, "dtype": d})
        return out.requires_grad_(True) if requires_grad else out
    return _finish(np.full(_size(size), value, dtype=d.name), requires_grad, device)


def zeros(*size: Any, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, requires_grad, device)


def ones(*size: Any, dtype: DType | None = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, requires_grad, device)


def empty(*size: Any, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    # Zero-filled: uninitialized memory would make results irreproducible.
    return _filled(size, 0, dtype, requires_grad, device)


def full(size: Sequence[int], fill_value: Any, *, dtype: DType | None = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = F.scalar_dtype(fill_value)
    return _filled((size,) if isinstance(size, int) else tuple(size), fill_value, dtype,
                   requires_grad, device)


def _like(x: Tensor, dtype: DType | None) -> tuple[tuple[int, ...], DType]:
    return tuple(x.shape), dtype or x.dtype


def _like_device(x: Tensor, device: Any) -> Any:
    return device if device is not None else (x.device if x._var is None else None)


def zeros_like(x: Tensor, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return zeros(shape, dtype=d, requires_grad=requires_grad, device=_like_device(x, device))


def ones_like(x: Tensor, *, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return ones(shape, dtype=d, requires_grad=requires_grad, device=_like_device(x, device))


def empty_like(x: Tensor, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return zeros_like(x, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, *, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return full(shape, fill_value, dtype=d, requires_grad=requires_grad,
                device=_like_device(x, device))


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: DType | None = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    _check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else F.get_default_dtype()
    n = max(0, math.ceil((end - start) / step))
    if _tracing():
        from ._dispatch import bind

        ramp = bind("iota", [], {"shape": (n,), "dim": 0, "dtype": dtype})
        out = ramp if (start, step) == (0, 1) else ramp * step + start
        return F.cast(out, dtype) if out.dtype is not dtype else out
    # torch computes start + i*step in double, then casts
    arr = (start + np.arange(n, dtype=np.float64) * step) if dtype.is_floating_point else (
        start + np.arange(n, dtype=np.int64) * step)
    return _finish(arr.astype(dtype.name), requires_grad, device)


def _random(size: Sequence[Any], dtype: DType | None, requires_grad: bool, normal: bool,
            device: Any = None) -> Tensor:
    from .tracer import current_trace

    d = dtype or F.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f'"check_uniform_bounds" not implemented for \'{d.name}\'')
    if current_trace() is not None:
        from .tracer import trace_error

        raise trace_error("random numbers inside a compiled function (not supported yet; pass them in as an argument)")
    shape = _size(size)
    arr = _rng.standard_normal(shape) if normal else _rng.random(shape)
    return _finish(arr.astype(d.name), requires_grad, device)


def rand(*size: Any, dtype: DType | None = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    _check_device(device)
    return _random(size, dtype, requires_grad, normal=False, device=device)


def randn(*size: Any, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    _check_device(device)
    return _random(size, dtype, requires_grad, normal=True, device=device)


def rand_like(x: Tensor, *, dtype: DType | None = None, device: Any = None) -> Tensor:
    return rand(tuple(x.shape), dtype=dtype or x.dtype, device=_like_device(x, device))


def randn_like(x: Tensor, *, dtype: DType | None = None, device: Any = None) -> Tensor:
    return randn(tuple(x.shape), dtype=dtype or x.dtype, device=_like_device(x, device))


def randint(low: int, high: Any = None, size: Any = None, *, dtype: DType | None = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """torch.randint(high, size) or torch.randint(low, high, size): int64 by default."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if _tracing():
        from .tracer import trace_error

        raise trace_error("random numbers inside a compiled function (not supported yet; pass them in as an argument)")
    d = dtype or dtypes.int64
    arr = _rng.integers(low, high, size=_size(tuple(size)))
    return _finish(arr.astype(d.name), requires_grad, device)


def randint_like(x: Tensor, low: int, high: Any = None, *, dtype: DType | None = None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(x.shape), dtype=dtype or x.dtype, device=_like_device(x, None))


def linspace(start: float, end: float, steps: int, *, dtype: DType | None = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = dtype or F.get_default_dtype()
    # torch fills from both ends for accuracy: start + i*step for the first half,
    # end - (steps-1-i)*step for the second
    t = np.dtype(d.name) if d.is_floating_point else np.dtype(np.float32)
    start_, end_ = t.type(start), t.type(end)
    step = (end_ - start_) / t.type(steps - 1) if steps > 1 else t.type(0)
    i = np.arange(steps).astype(t)
    half = steps // 2
    arr = np.where(np.arange(steps) < max(half, 1), start_ + step * i,
                   end_ - step * (t.type(steps - 1) - i))
    return _finish(arr.astype(d.name), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: DType | None = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    d = dtype or F.get_default_dtype()
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    return _finish(np.eye(n, m, dtype=d.name), requires_grad, device)
