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
from .tensor import Size, Tensor, dtype_of_array
from .ir.symdims import is_symbolic
from .ir.symint import unwrap

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
        s = unwrap(s)  # (a SymInt: user code's view of a traced size)
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
    if all(isinstance(v, (int, np.integer)) for v in (start, end, step)):
        n = max(0, -((start - end) // step))  # ceil in integers: a traced size stays symbolic
    else:
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
            device: Any = None, generator: Any = None) -> Tensor:
    from .tracer import current_trace

    d = dtype or F.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f'"check_uniform_bounds" not implemented for \'{d.name}\'')
    if current_trace() is not None:
        from .tracer import trace_error

        raise trace_error("random numbers inside a compiled function (not supported yet; pass them in as an argument)")
    shape = _size(size)
    rng = _gen(generator, "randn" if normal else "rand")
    arr = rng.standard_normal(shape) if normal else rng.random(shape)
    return _finish(arr.astype(d.name), requires_grad, device)


def rand(*size: Any, generator: Any = None, dtype: DType | None = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    _check_device(device)
    return _random(size, dtype, requires_grad, normal=False, device=device, generator=generator)


def randn(*size: Any, generator: Any = None, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    _check_device(device)
    return _random(size, dtype, requires_grad, normal=True, device=device, generator=generator)


def rand_like(x: Tensor, *, dtype: DType | None = None, device: Any = None) -> Tensor:
    return rand(tuple(x.shape), dtype=dtype or x.dtype, device=_like_device(x, device))


def randn_like(x: Tensor, *, dtype: DType | None = None, device: Any = None) -> Tensor:
    return randn(tuple(x.shape), dtype=dtype or x.dtype, device=_like_device(x, device))


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None,
            dtype: DType | None = None, device: Any = None, requires_grad: bool = False) -> Tensor:
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
    arr = _gen(generator, "randint").integers(low, high, size=_size(tuple(size)))
    return _finish(arr.astype(d.name), requires_grad, device)


def randint_like(x: Tensor, low: int = 0, high: Any = None, *, generator: Any = None,
                 dtype: DType | None = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
    """torch.randint_like(input, high) or (input, low, high): the dtype of `input` by default."""
    if high is None:
        low, high = 0, low
    _check_device(device)
    return randint(low, high, tuple(x.shape), generator=generator, dtype=dtype or x.dtype,
                   device=_like_device(x, device), requires_grad=requires_grad)


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


# ----------------------------------------------------------------- generators, more factories


class Generator:
    """torch.Generator's CPU surface: a PCG64 stream of its own, for the `generator=`
    argument of the random creation functions (torch's default seed, not torch's stream)."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _device.device(device)
        self.manual_seed(67280421310721)

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed & (2**64 - 1))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) % 2**63
        self.manual_seed(s)
        return s

    def __repr__(self) -> str:
        return f"<torchtrek.Generator device={self.device}>"


def _gen(generator: Any, fn: str) -> np.random.Generator:
    """The NumPy generator to draw from: the global one (tt.manual_seed), a tt.Generator's,
    or a NumPy Generator (what tt.manual_seed returns)."""
    if generator is None:
        return _rng
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{fn}(): argument 'generator' must be torch.Generator, not "
                    f"{type(generator).__name__}")


def _no_random_in_trace(*tensors: Any) -> None:
    if _tracing() or any(isinstance(t, Tensor) and t._var is not None for t in tensors):
        from .tracer import trace_error

        raise trace_error("random numbers inside a compiled function (not supported yet; pass them in as an argument)")


def _torch_name(d: DType) -> str:
    return F._torch_type_name(d)


def _check_grad_dtype(requires_grad: bool, d: DType) -> None:
    if requires_grad and not d.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")


def _int_arg(fn: str, name: str, pos: int, v: Any) -> int:
    """An int argument with torch's argument-parser TypeError (a 0-dim integer tensor
    counts as an int, as in torch)."""
    if isinstance(v, Tensor) and v.ndim == 0 and not v.dtype.is_floating_point \
            and v.dtype is not dtypes.bool_:
        return int(v.item())
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be int, not "
                        f"{type(v).__name__}")
    return int(v)


def _number(v: Any) -> Any:
    """A Python number from a number or a 0-dim tensor."""
    if isinstance(v, Tensor):
        return v.item()
    return v.item() if isinstance(v, np.generic) else v


_C_INT = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
          "int64": "int64_t"}


def randperm(n: int, *, generator: Any = None, dtype: DType | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64 by default)."""
    n = _int_arg("randperm", "n", 1, n)
    d = dtype or dtypes.int64
    _check_device(device)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if d is dtypes.bool_:
        raise NotImplementedError(f"\"randperm\" not implemented for '{_torch_name(d)}'")
    limits = {"float16": (2049, "2049", "Half"), "float32": (2**24 + 1, "2^24+1", "Float"),
              "float64": (2**53 + 1, "2^53+1", "Double")}
    if d.name in limits:
        most, text, tname = limits[d.name]
        if n > most:
            raise RuntimeError(f"n cannot be greater than {text} for {tname} type.")
    elif n > 0 and n - 1 > np.iinfo(d.name).max:
        raise RuntimeError(f"value cannot be converted to type {_C_INT[d.name]} without overflow")
    _check_grad_dtype(requires_grad, d)
    _no_random_in_trace()
    arr = _gen(generator, "randperm").permutation(n).astype(d.name)
    return _finish(arr, requires_grad, device)


def _pow(b: float, e: float) -> float:
    """C's pow (NumPy's vectorized power can differ from it in the last bit)."""
    try:
        return math.pow(b, e)
    except (ValueError, OverflowError):
        return float(np.power(np.float64(b), np.float64(e)))


def _check_int_scalar(v: Any, d: DType) -> None:
    """c10's Scalar -> integer conversion check (a float must lie in the type's range; a
    negative int may wrap into an unsigned type)."""
    info = np.iinfo(d.name)
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        ok = v <= info.max and (info.min < 0 and v >= info.min or info.min == 0 and -v <= info.max)
    else:
        ok = info.min <= float(v) <= info.max
    if not ok:
        raise RuntimeError(f"value cannot be converted to type {_C_INT[d.name]} without overflow")


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *,
             dtype: DType | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps), computed as torch's CPU kernel does (exponents
    in double from both ends, start and end first rounded to the dtype)."""
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, Tensor) and v.ndim != 0:
            raise RuntimeError(f"logspace only supports 0-dimensional start and end tensors, "
                               f"but got {name} with {v.ndim} dimension(s).")
    start, end = _number(start), _number(end)
    steps = _int_arg("logspace", "steps", 3, steps)
    if isinstance(base, Tensor) and base.ndim != 0 or isinstance(base, (str, bytes)):
        raise TypeError(f"logspace(): argument 'base' must be float, not {type(base).__name__}")
    base = float(_number(base))
    _check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = dtype or F.get_default_dtype()
    if d is dtypes.bool_:
        raise NotImplementedError(f"\"logspace_cpu\" not implemented for '{_torch_name(d)}'")
    _check_grad_dtype(requires_grad, d)
    with np.errstate(all="ignore"):
        if steps == 0:
            arr = np.zeros(0, dtype=np.float64)
        elif steps == 1:
            v = _pow(base, float(start))  # fill_(double): a checked conversion
            if d.is_floating_point:
                if d is dtypes.float32 and math.isfinite(v) and abs(v) > float(np.finfo(np.float32).max):
                    raise RuntimeError("value cannot be converted to type float without overflow")
            elif not (math.isfinite(v) and np.iinfo(d.name).min <= v <= np.iinfo(d.name).max):
                raise RuntimeError(
                    f"value cannot be converted to type {_C_INT[d.name]} without overflow")
            arr = np.array([v])
        else:
            t = np.dtype(d.name).type
            if not d.is_floating_point:
                _check_int_scalar(start, d)
                _check_int_scalar(end, d)
            if d.is_floating_point:
                s_, e_ = t(start), t(end)  # Scalar.to<scalar_t>()
            else:  # floats truncate, negative ints wrap into an unsigned type
                s_, e_ = (t(np.array(int(v), dtype=np.int64).astype(d.name)) for v in (start, end))
            if d.is_floating_point:
                b = base
                step = np.float64(t(e_ - s_)) / (steps - 1)
            else:
                b = np.float64(np.float32(base))  # torch uses a float base for integer results
                step = np.float64(int(e_) - int(s_)) / (steps - 1)
            i = np.arange(steps, dtype=np.float64)
            expo = np.where(np.arange(steps) < steps // 2, np.float64(s_) + step * i,
                            np.float64(e_) - step * (steps - 1 - i))
            arr = np.array([_pow(b, e) for e in expo.tolist()], dtype=np.float64)
        if not d.is_floating_point:
            arr = np.trunc(arr)
        arr = arr.astype(d.name)
    return _finish(arr, requires_grad, device)


_NORMAL_FORMS = (
    " * (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, float std, tuple of ints size, *, torch.Generator generator = None, "
    "Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device "
    "device = None, bool pin_memory = False, bool requires_grad = False)\n")


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
        for i in reversed(range(n)):
            if pa[i] != pb[i] and 1 not in (pa[i], pb[i]):
                raise RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) "
                    f"at non-singleton dimension {i}") from None
        raise


def _zero_grad_through(out: Tensor, *sources: Any) -> Tensor:
    """`out`, made to depend on the sources that require grad with a zero gradient (torch's
    derivative for normal/bernoulli w.r.t. their parameters), via where(False, src, out)."""
    from .autograd import is_grad_enabled

    live = [s for s in sources if isinstance(s, Tensor) and s.requires_grad]
    if not live or not is_grad_enabled():
        return out
    never = zeros(tuple(out.shape), dtype=dtypes.bool_, device=out.device)
    for s in live:
        src = s if s.dtype is out.dtype else F.cast(s, out.dtype)
        out = F.where(never, src, out)
    return out


def normal(mean: Any, std: Any = None, size: Any = None, *, generator: Any = None,
           dtype: DType | None = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """torch.normal in its four forms: (Tensor, Tensor), (Tensor, float=1), (float, Tensor),
    (float, float, size). Tensor forms broadcast mean and std and keep the dtype of the
    tensor mean (else of std); the result takes a zero gradient w.r.t. mean and std, as
    in torch."""
    def kind(v: Any) -> str:
        return "Tensor" if isinstance(v, Tensor) else type(v).__name__

    def bad() -> TypeError:
        got = [kind(mean)] + ([kind(std)] if std is not None else []) + (
            [type(size).__name__] if size is not None else [])
        return TypeError("normal() received an invalid combination of arguments - got "
                         f"({', '.join(got)}), but expected one of:\n" + _NORMAL_FORMS)

    def is_num(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    is_t = [isinstance(mean, Tensor), isinstance(std, Tensor)]
    if size is not None:
        # (float, float, size); 0-dim tensors count as numbers here, as in torch
        if (is_t[0] and mean.ndim) or (is_t[1] and std.ndim) or std is None:
            raise bad()
        if not isinstance(size, (tuple, list, Size)) or not (
                is_num(_number(mean)) and is_num(_number(std))):
            raise bad()
        m, s = float(_number(mean)), float(_number(std))
        d = dtype or F.get_default_dtype()
        _check_device(device)
        shape = _size(tuple(size))
        if not d.is_floating_point:
            raise NotImplementedError(
                f"\"normal_kernel_cpu\" not implemented for '{_torch_name(d)}'")
        if s < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {s:g}")
        _check_grad_dtype(requires_grad, d)
        _no_random_in_trace()
        eps = _gen(generator, "normal").standard_normal(shape)
        with np.errstate(all="ignore"):
            arr = (m + s * eps).astype(d.name)
        return _finish(arr, requires_grad, device)
    if dtype is not None or device is not None or requires_grad:
        raise bad()  # only the (float, float, size) form takes these
    if std is None:
        std = 1.0
        is_t[1] = False
    if not is_t[0] and not is_t[1]:
        raise bad()
    if (not is_t[0] and not is_num(mean)) or (not is_t[1] and not is_num(std)):
        raise bad()
    ref = mean if is_t[0] else std
    d = ref.dtype
    if not d.is_floating_point:
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{_torch_name(d)}'")
    shape = _broadcast_shape(tuple(mean.shape) if is_t[0] else (),
                             tuple(std.shape) if is_t[1] else ())
    _no_random_in_trace(mean, std)
    m = np.asarray(mean._concrete("torch.normal"), dtype=np.float64) if is_t[0] else float(mean)
    s = np.asarray(std._concrete("torch.normal"), dtype=np.float64) if is_t[1] else float(std)
    if is_t[1]:
        if np.any(s < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif s < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s:g}")
    eps = _gen(generator, "normal").standard_normal(shape)
    with np.errstate(all="ignore"):
        arr = (m + s * eps).astype(d.name)
    out = _finish(np.asarray(arr), False, ref.device)
    return _zero_grad_through(out, mean, std)


_P_IN = ("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
         "message be improved?  If so, please report an enhancement request to PyTorch.)")


def _bernoulli_values(x: Tensor, p: Any, generator: Any, fn: str) -> np.ndarray:
    """0/1 draws in x's dtype and shape: P(1) = x itself (p None), a float p, or a tensor p
    broadcast to x's shape."""
    shape = tuple(x.shape)
    if p is None or isinstance(p, Tensor):
        probs = x if p is None else p
        if not probs.dtype.is_floating_point:
            raise NotImplementedError(
                f"\"bernoulli_tensor_cpu_p_\" not implemented for '{_torch_name(probs.dtype)}'")
        _no_random_in_trace(x, probs)
        pa = np.asarray(probs._concrete(fn), dtype=np.float64)
        if p is not None and pa.shape != shape:
            if pa.ndim > len(shape):
                raise RuntimeError(
                    f"expand(torch.{_torch_name(probs.dtype)}Tensor{{{list(pa.shape)}}}, "
                    f"size={list(shape)}): the number of sizes provided ({len(shape)}) must be "
                    f"greater or equal to the number of dimensions in the tensor ({pa.ndim})")
            try:
                pa = np.broadcast_to(pa, shape)
            except ValueError:
                lead = (1,) * (len(shape) - pa.ndim) + pa.shape
                i = next(i for i in reversed(range(len(shape)))
                         if lead[i] != shape[i] and lead[i] != 1)
                raise RuntimeError(
                    f"The expanded size of the tensor ({shape[i]}) must match the existing size "
                    f"({lead[i]}) at non-singleton dimension {i}.  Target sizes: "
                    f"{list(shape)}.  Tensor sizes: {list(pa.shape)}") from None
        if not np.all((pa >= 0) & (pa <= 1)):
            raise RuntimeError(_P_IN)
    else:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"{fn}(): argument 'p' must be float, not {type(p).__name__}")
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={float(p):g}")
        _no_random_in_trace(x)
        pa = float(p)
    u = _gen(generator, fn).random(shape)
    return (u < pa).astype(x.dtype.name)


def bernoulli(input: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """0/1 draws in input's dtype: P(1) = input (a float tensor), or the float p."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if isinstance(p, Tensor):
        raise TypeError(
            "bernoulli() received an invalid combination of arguments - got (Tensor, Tensor), "
            "but expected one of:\n * (Tensor input, *, torch.Generator generator = None, "
            "Tensor out = None)\n * (Tensor input, float p, *, torch.Generator generator = None)\n")
    arr = _bernoulli_values(input, p, generator, "bernoulli")
    out = _finish(arr, False, input.device)
    return _zero_grad_through(out, input) if input.dtype.is_floating_point else out


def _bernoulli_fill(x: Tensor, p: Any, generator: Any) -> Tensor:
    """The values Tensor.bernoulli_(p) writes into x."""
    return _finish(_bernoulli_values(x, p, generator, "bernoulli_"), False, x.device)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Indices drawn from the rows of `input` (unnormalized probabilities), int64; without
    replacement by the exponential race (top-k of p / Exp(1)), as torch does."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    n_sample = _int_arg("multinomial", "num_samples", 2, num_samples)
    if not isinstance(replacement, (bool, np.bool_)):
        raise TypeError(f"multinomial(): argument 'replacement' (position 3) must be bool, not "
                        f"{type(replacement).__name__}")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_torch_name(input.dtype)}")
    if n_sample <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n_cat = input.shape[-1]
    if not replacement and n_sample > n_cat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n_cat > 2**24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    _no_random_in_trace(input)
    p = np.asarray(input._concrete("torch.multinomial"), dtype=np.float64)
    rows = p.reshape(-1, n_cat)
    out_shape = (n_sample,) if input.ndim == 1 else (input.shape[0], n_sample)
    if p.size == 0:
        return _finish(np.zeros(out_shape, dtype=np.int64), False, input.device)
    rng = _gen(generator, "multinomial")
    if not replacement or n_sample == 1:
        if not (np.all(rows < np.inf) and np.all(rows >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(rows.sum(axis=1) == 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        keys = rows / rng.standard_exponential(rows.shape)
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :n_sample]
    else:
        if np.any(np.isnan(rows)) or np.any(rows < 0):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if np.any(np.isinf(rows)):
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry = infinity or NaN)")
        total = rows.sum(axis=1)
        if np.any(total <= 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cdf = np.cumsum(rows, axis=1)
        u = rng.random((rows.shape[0], n_sample)) * total[:, None]
        last = n_cat - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)  # the last positive entry
        idx = np.stack([np.searchsorted(cdf[r], u[r], side="right") for r in range(rows.shape[0])])
        idx = np.minimum(idx, last[:, None])
    return _finish(idx.reshape(out_shape).astype(np.int64), False, input.device)


def scalar_tensor(s: Any, *, dtype: DType | None = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-dim tensor of the default dtype (not the number's) holding `s`."""
    if isinstance(s, Tensor):
        if s.ndim != 0 or s.requires_grad:
            raise TypeError("scalar_tensor(): argument 's' (position 1) must be Number, not Tensor")
        s = s.item()
    if isinstance(s, np.generic):
        s = s.item()
    if not isinstance(s, (bool, int, float, complex)):
        raise TypeError(f"scalar_tensor(): argument 's' (position 1) must be Number, not "
                        f"{type(s).__name__}")
    if isinstance(s, int) and not isinstance(s, bool) and not -2**63 <= s < 2**63:
        raise OverflowError("int too big to convert")
    d = dtype or F.get_default_dtype()
    if isinstance(s, complex):
        ctype = {"float16": "c10::Half", "float32": "float", "float64": "double",
                 "bool": "bool"}.get(d.name, _C_INT.get(d.name, d.name))
        raise RuntimeError(f"value cannot be converted to type {ctype} without overflow")
    _check_grad_dtype(requires_grad, d)
    if d is dtypes.bool_:
        value: Any = bool(s)
    elif d.is_floating_point:
        value = float(s)
        if d is dtypes.float32 and math.isfinite(value) and abs(value) > float(np.finfo(np.float32).max):
            raise RuntimeError("value cannot be converted to type float without overflow")
    else:
        if isinstance(s, float) and not math.isfinite(s):
            raise RuntimeError(f"value cannot be converted to type {_C_INT[d.name]} without overflow")
        _check_int_scalar(s, d)
        value = int(np.array(int(s), dtype=np.int64).astype(d.name))  # truncate, then wrap
    with np.errstate(over="ignore"):  # a float16 overflows to inf, as in torch
        return _filled((), value, d, requires_grad, device)


def _tri_indices(fn: str, row: Any, col: Any, offset: Any, dtype: DType | None, device: Any,
                 requires_grad: bool) -> Tensor:
    row = _int_arg(fn, "row", 1, row)
    col = _int_arg(fn, "col", 2, col)
    offset = _int_arg(fn, "offset", 3, offset)
    _check_device(device)
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    d = dtype or dtypes.int64
    if d not in (dtypes.int64, dtypes.int32):
        raise NotImplementedError(f"\"{fn}\" not implemented for '{_torch_name(d)}'")
    _check_grad_dtype(requires_grad, d)
    make = np.tril_indices if fn == "tril_indices" else np.triu_indices
    r, c = make(row, offset, col)
    return _finish(np.stack([r, c]).astype(d.name).reshape(2, -1), False, device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: DType | None = None,
                 device: Any = None, requires_grad: bool = False) -> Tensor:
    """The (2, N) row/column indices of the lower triangle of a row x col matrix."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, requires_grad)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: DType | None = None,
                 device: Any = None, requires_grad: bool = False) -> Tensor:
    """The (2, N) row/column indices of the upper triangle of a row x col matrix."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, requires_grad)
