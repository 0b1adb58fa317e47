"""Fake pycuda.gpuarray: GPUArray over the fake driver's memory, following pycuda
2026.1's gpuarray.py (constructor, set/get/copy through _memcpy_discontig, views,
indexing) and the checks of its elementwise kernels (contiguity, shapes, the dtype
registry: no float16). The elementwise arithmetic itself is NumPy on the device memory."""

from __future__ import annotations

import numbers
from functools import reduce
from typing import Any

import numpy as np

from . import driver as drv
from .tools import dtype_to_ctype

_HAS_DOUBLE = True  # compute capability 9.0


# ---------------------------------------------------------------------- helpers
def _c_contiguous_strides(itemsize: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if not shape:
        return ()
    strides = [itemsize]
    for s in shape[:0:-1]:
        strides.append(strides[-1] * max(1, s))
    return tuple(strides[::-1])


def _f_contiguous_strides(itemsize: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if not shape:
        return ()
    strides = [itemsize]
    for s in shape[:-1]:
        strides.append(strides[-1] * max(1, s))
    return tuple(strides)


def _equal_strides(s1: tuple, s2: tuple, shape: tuple) -> bool:
    if s1 == s2:
        return True
    if len(s1) != len(s2) or len(s2) != len(shape):
        return False
    return all(n == 1 or a == b for n, a, b in zip(shape, s1, s2))


def _product(shape: tuple) -> int:
    return reduce(lambda x, y: x * y, shape, 1)


class _ArrayFlags:
    def __init__(self, ary: Any) -> None:
        empty = _product(ary.shape) == 0
        self.f_contiguous = empty or _equal_strides(
            ary.strides, _f_contiguous_strides(ary.dtype.itemsize, ary.shape), ary.shape)
        self.c_contiguous = empty or _equal_strides(
            ary.strides, _c_contiguous_strides(ary.dtype.itemsize, ary.shape), ary.shape)
        self.forc = self.f_contiguous or self.c_contiguous


def _get_common_dtype(obj1: Any, obj2: Any) -> np.dtype:
    zero1 = np.zeros(1, dtype=obj1.dtype)
    try:
        zero2 = np.zeros(1, dtype=obj2.dtype)
    except AttributeError:
        zero2 = obj2
    result = (zero1 + zero2).dtype
    if not _HAS_DOUBLE:
        if result == np.float64:
            result = np.dtype(np.float32)
        elif result == np.complex128:
            result = np.dtype(np.complex64)
    return result


def _get_broadcasted_binary_op_result(obj1: Any, obj2: Any, dtype_getter: Any = _get_common_dtype) -> GPUArray:
    if obj1.shape == obj2.shape:
        return obj1._new_like_me(dtype_getter(obj1, obj2))
    elif obj1.shape == ():
        return obj2._new_like_me(dtype_getter(obj1, obj2))
    elif obj2.shape == ():
        return obj1._new_like_me(dtype_getter(obj1, obj2))
    raise NotImplementedError(f"Broadcasting binary operator with shapes: {obj1.shape}, {obj2.shape}.")


def splay(n: int, dev: Any = None) -> tuple[tuple[int, int], tuple[int, int, int]]:
    if dev is None:
        dev = drv.Context.get_device()  # no current context: LogicError, as pycuda
    min_threads, max_threads = 32, 128
    max_blocks = 4 * 32 * dev.get_attribute(drv.device_attribute.MULTIPROCESSOR_COUNT)
    if n < min_threads:
        return (1, 1), (min_threads, 1, 1)
    if n < max_blocks * min_threads:
        return ((n + min_threads - 1) // min_threads, 1), (min_threads, 1, 1)
    if n < max_blocks * max_threads:
        grp = (n + min_threads - 1) // min_threads
        return (max_blocks, 1), (((grp + max_blocks - 1) // max_blocks) * min_threads, 1, 1)
    return (max_blocks, 1), (max_threads, 1, 1)


def _contiguous_only(*arrays: Any) -> None:
    for a in arrays:
        if not a.flags.forc:
            raise RuntimeError("only contiguous arrays may be used as arguments to this operation")


def _kernel_types(*dtypes: Any) -> None:
    """pycuda generates its elementwise kernels' C text from the dtypes: an unregistered
    dtype (float16) fails there, before anything runs."""
    for d in dtypes:
        dtype_to_ctype(d)


def _host(a: GPUArray) -> np.ndarray:
    """The device memory of `a` as a NumPy view (read and written in place)."""
    if a.size == 0:
        return np.empty(a.shape, a.dtype)
    return drv.device_view(int(a.gpudata), a.shape, a.dtype, a.strides, fn="GPUArray kernel")


def _scalar_type(x: Any) -> np.dtype:
    return np.dtype(type(x)) if not isinstance(x, np.generic) else x.dtype


# ---------------------------------------------------------------------- GPUArray
class GPUArray:
    """pycuda's GPUArray over emulated device memory."""

    __array_priority__ = 100

    def __init__(self, shape: Any, dtype: Any, allocator: Any = None, base: Any = None,
                 gpudata: Any = None, strides: Any = None, order: str = "C") -> None:
        if allocator is None:
            allocator = drv.mem_alloc
        dtype = np.dtype(dtype)
        try:
            s = 1
            for dim in shape:
                s *= dim
        except TypeError:
            if isinstance(shape, np.ndarray):
                shape = shape.item()
            assert isinstance(shape, numbers.Integral)
            s = shape
            shape = (shape,)
        else:
            shape = tuple(shape)
        if isinstance(s, np.integer):
            s = s.item()
        shape = tuple(int(v) for v in shape)
        if strides is None:
            if order == "F":
                strides = _f_contiguous_strides(dtype.itemsize, shape)
            elif order == "C":
                strides = _c_contiguous_strides(dtype.itemsize, shape)
            else:
                raise ValueError("invalid order: %s" % order)
        strides = tuple(int(v) for v in strides)

        self.shape = shape
        self.dtype = dtype
        self.strides = strides
        self.mem_size = self.size = s
        self.nbytes = self.dtype.itemsize * self.size
        self.itemsize = self.dtype.itemsize
        self.allocator = allocator
        if gpudata is None:
            if self.size:
                self.gpudata = self.allocator(self.size * self.dtype.itemsize)
            else:
                self.gpudata = None
            assert base is None
        else:
            self.gpudata = gpudata
        self.base = base
        self._grid, self._block = splay(self.mem_size)

    @property
    def __cuda_array_interface__(self) -> dict:
        ptr = int(self.gpudata) if self.gpudata is not None else 0
        return {"shape": self.shape, "strides": self.strides, "data": (ptr, False),
                "typestr": self.dtype.str, "stream": None, "version": 3}

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def flags(self) -> _ArrayFlags:
        return _ArrayFlags(self)

    # ------------------------------------------------------------ transfers
    def set(self, ary: Any, async_: bool = False, stream: Any = None, **kwargs: Any) -> None:
        kwargs.pop("async", None)
        if kwargs:
            raise TypeError("extra keyword arguments specified: %s" % ", ".join(kwargs))
        if ary.size != self.size:
            raise ValueError("ary and self must be the same size")
        if ary.shape != self.shape:
            from warnings import warn

            warn("Setting array from one with different shape.", stacklevel=2)
            ary = ary.reshape(self.shape)
        if ary.dtype != self.dtype:
            raise ValueError("ary and self must have the same dtype")
        if self.size:
            _memcpy_discontig(self, ary)

    def set_async(self, ary: Any, stream: Any = None) -> None:
        return self.set(ary, async_=True, stream=stream)

    def get(self, ary: Any = None, pagelocked: bool = False, async_: bool = False, stream: Any = None,
            **kwargs: Any) -> np.ndarray:
        kwargs.pop("async", None)
        if kwargs:
            raise TypeError("extra keyword arguments specified: %s" % ", ".join(kwargs))
        if ary is None:
            ary = np.empty(self.shape, self.dtype)
            ary = np.lib.stride_tricks.as_strided(ary, strides=_compact_strides(self)) \
                if ary.strides != tuple(_compact_strides(self)) and ary.size else ary
        else:
            if self.size != ary.size:
                raise ValueError("self and ary must be the same size")
            if self.shape != ary.shape:
                ary = ary.reshape(self.shape)
            if self.dtype != ary.dtype:
                raise TypeError("self and ary must have the same dtype")
        if self.size:
            _memcpy_discontig(ary, self)
        return ary

    def get_async(self, stream: Any = None, ary: Any = None) -> np.ndarray:
        return self.get(ary=ary, async_=True, stream=stream)

    def copy(self) -> GPUArray:
        new = GPUArray(self.shape, self.dtype, self.allocator, strides=self.strides)
        _memcpy_discontig(new, self)  # empty: memcpy_dtod(None, None, 0) fails, as in pycuda
        return new

    def __str__(self) -> str:
        return str(self.get())

    def __repr__(self) -> str:
        return repr(self.get())

    def __hash__(self) -> int:
        raise TypeError("GPUArrays are not hashable.")

    def __bool__(self) -> bool:
        if self.size == 1:
            return bool(self.get())
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")

    @property
    def ptr(self) -> int:
        return self.gpudata.__int__()

    # ------------------------------------------------------------ kernels
    def _axpbyz(self, selffac: Any, other: GPUArray, otherfac: Any, out: GPUArray,
                add_timer: Any = None, stream: Any = None) -> GPUArray:
        _contiguous_only(self, other)
        assert ((self.shape == other.shape == out.shape)
                or ((self.shape == ()) and other.shape == out.shape)
                or ((other.shape == ()) and self.shape == out.shape))
        _kernel_types(self.dtype, other.dtype, out.dtype)
        x, y = _host(self), _host(other)
        with np.errstate(all="ignore"):
            val = np.asarray(selffac, self.dtype) * x + np.asarray(otherfac, other.dtype) * y
        _host(out)[...] = val
        return out

    def _axpbz(self, selffac: Any, other: Any, out: GPUArray, stream: Any = None) -> GPUArray:
        _contiguous_only(self)
        _kernel_types(self.dtype, out.dtype)
        x = _host(self)
        with np.errstate(all="ignore"):
            val = np.asarray(selffac, self.dtype) * x + np.asarray(other, out.dtype)
        _host(out)[...] = val
        return out

    def _elwise_multiply(self, other: GPUArray, out: GPUArray, stream: Any = None) -> GPUArray:
        _contiguous_only(self, other)
        _kernel_types(self.dtype, other.dtype, out.dtype)
        with np.errstate(all="ignore"):
            _host(out)[...] = _host(self) * _host(other)
        return out

    def _rdiv_scalar(self, other: Any, out: GPUArray, stream: Any = None) -> GPUArray:
        _contiguous_only(self)
        _kernel_types(self.dtype, out.dtype)
        with np.errstate(all="ignore"):
            _host(out)[...] = np.asarray(other, out.dtype) / _host(self)
        return out

    def _div(self, other: GPUArray, out: GPUArray, stream: Any = None) -> GPUArray:
        _contiguous_only(self, other)
        _kernel_types(self.dtype, other.dtype, out.dtype)
        with np.errstate(all="ignore"):
            _host(out)[...] = _host(self) / _host(other)
        return out

    def _new_like_me(self, dtype: Any = None, order: str = "C") -> GPUArray:
        strides = None
        if dtype is None:
            dtype = self.dtype
        if dtype == self.dtype:
            strides = self.strides
        return self.__class__(self.shape, dtype, allocator=self.allocator, strides=strides, order=order)

    # ------------------------------------------------------------ operators
    def mul_add(self, selffac: Any, other: GPUArray, otherfac: Any, add_timer: Any = None,
                stream: Any = None, out: Any = None) -> GPUArray:
        result = out if out is not None else self._new_like_me(_get_common_dtype(self, other))
        return self._axpbyz(selffac, other, otherfac, result, add_timer, stream=stream)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, GPUArray):
            result = _get_broadcasted_binary_op_result(self, other)
            return self._axpbyz(1, other, 1, result)
        elif np.isscalar(other):
            if other == 0:
                return self.copy()
            result = self._new_like_me(_get_common_dtype(self, other))
            return self._axpbz(1, other, result)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, GPUArray):
            result = _get_broadcasted_binary_op_result(self, other)
            return self._axpbyz(1, other, -1, result)
        elif np.isscalar(other):
            if other == 0:
                return self.copy()
            result = self._new_like_me(_get_common_dtype(self, other))
            return self._axpbz(1, -other, result)
        return NotImplemented

    def __rsub__(self, other: Any) -> GPUArray:
        result = self._new_like_me(_get_common_dtype(self, other))
        return self._axpbz(-1, other, result)

    def __iadd__(self, other: Any) -> GPUArray:
        if isinstance(other, GPUArray):
            return self._axpbyz(1, other, 1, self)
        return self._axpbz(1, other, self)

    def __isub__(self, other: Any) -> GPUArray:
        if isinstance(other, GPUArray):
            return self._axpbyz(1, other, -1, self)
        return self._axpbz(1, -other, self)

    def __pos__(self) -> GPUArray:
        return self

    def __neg__(self) -> GPUArray:
        result = self._new_like_me()
        return self._axpbz(-1, 0, result)

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, GPUArray):
            result = _get_broadcasted_binary_op_result(self, other)
            return self._elwise_multiply(other, result)
        elif np.isscalar(other):
            result = self._new_like_me(_get_common_dtype(self, other))
            return self._axpbz(other, 0, result)
        return NotImplemented

    def __rmul__(self, scalar: Any) -> GPUArray:
        result = self._new_like_me(_get_common_dtype(self, scalar))
        return self._axpbz(scalar, 0, result)

    def __imul__(self, other: Any) -> GPUArray:
        if isinstance(other, GPUArray):
            return self._elwise_multiply(other, self)
        return self._axpbz(other, 0, self)

    def __div__(self, other: Any) -> Any:
        if isinstance(other, GPUArray):
            result = _get_broadcasted_binary_op_result(self, other)
            return self._div(other, result)
        elif np.isscalar(other):
            if other == 1:
                return self.copy()
            result = self._new_like_me(_get_common_dtype(self, other))
            return self._axpbz(1 / other, 0, result)
        return NotImplemented

    __truediv__ = __div__

    def __rdiv__(self, other: Any) -> GPUArray:
        result = self._new_like_me(_get_common_dtype(self, other))
        return self._rdiv_scalar(other, result)

    __rtruediv__ = __rdiv__

    def __idiv__(self, other: Any) -> GPUArray:
        if isinstance(other, GPUArray):
            return self._div(other, self)
        if other == 1:
            return self
        return self._axpbz(1 / other, 0, self)

    __itruediv__ = __idiv__

    def __abs__(self) -> GPUArray:
        _contiguous_only(self)
        result = self._new_like_me(self.dtype if self.dtype.kind != "c" else np.dtype(self.dtype.char.lower()))
        _kernel_types(self.dtype, result.dtype)
        _host(result)[...] = np.abs(_host(self))
        return result

    def __pow__(self, other: Any) -> GPUArray:
        _contiguous_only(self)
        if isinstance(other, GPUArray):
            result = self._new_like_me(_get_common_dtype(self, other))
            _kernel_types(self.dtype, other.dtype, result.dtype)
            with np.errstate(all="ignore"):
                _host(result)[...] = _host(self) ** _host(other)
        else:
            result = self._new_like_me()
            _kernel_types(self.dtype, result.dtype)
            with np.errstate(all="ignore"):
                _host(result)[...] = _host(self) ** np.asarray(other, self.dtype)
        return result

    def fill(self, value: Any, stream: Any = None) -> GPUArray:
        _contiguous_only(self)
        _kernel_types(self.dtype)
        if self.size:
            _host(self)[...] = value
        return self

    def __len__(self) -> int:
        if len(self.shape):
            return self.shape[0]
        raise TypeError("len() of unsized object")

    def astype(self, dtype: Any, stream: Any = None) -> GPUArray:
        _contiguous_only(self)
        if dtype == self.dtype:
            return self.copy()
        result = self._new_like_me(dtype=dtype)
        _kernel_types(result.dtype, self.dtype)
        if self.size:
            with np.errstate(all="ignore"):
                _host(result)[...] = _host(self).astype(result.dtype)
        return result

    # ------------------------------------------------------------ views
    def reshape(self, *shape: Any, **kwargs: Any) -> GPUArray:
        order = kwargs.pop("order", "C")
        _contiguous_only(self)
        if isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        same_contiguity = ((order == "C" and self.flags.c_contiguous)
                           or (order == "F" and self.flags.f_contiguous))
        if shape == self.shape and same_contiguity:
            return self
        if -1 in shape:
            shape = list(shape)
            idx = shape.index(-1)
            size = -reduce(lambda x, y: x * y, shape, 1)
            shape[idx] = self.size // size
            if -1 in shape[idx:]:
                raise ValueError("can only specify one unknown dimension")
            shape = tuple(shape)
        size = reduce(lambda x, y: x * y, shape, 1)
        if size != self.size:
            raise ValueError("total size of new array must be unchanged")
        return GPUArray(shape=shape, dtype=self.dtype, allocator=self.allocator, base=self,
                        gpudata=int(self.gpudata), order=order)  # empty: int(None) fails, as in pycuda

    def ravel(self) -> GPUArray:
        return self.reshape(self.size)

    def view(self, dtype: Any = None) -> GPUArray:
        if dtype is None:
            dtype = self.dtype
        old_itemsize = self.dtype.itemsize
        itemsize = np.dtype(dtype).itemsize
        axis = min(range(len(self.strides)), key=lambda a: abs(self.strides[a])) if self.strides else 0
        if not self.shape:
            raise ValueError("new type not compatible with array")
        if self.shape[axis] * old_itemsize % itemsize != 0:
            raise ValueError("new type not compatible with array")
        new_shape = (*self.shape[:axis], self.shape[axis] * old_itemsize // itemsize, *self.shape[axis + 1:])
        new_strides = (*self.strides[:axis], self.strides[axis] * itemsize // old_itemsize,
                       *self.strides[axis + 1:])
        return GPUArray(shape=new_shape, dtype=dtype, allocator=self.allocator, strides=new_strides,
                        base=self, gpudata=int(self.gpudata))

    def squeeze(self) -> GPUArray:
        new_shape = tuple(dim for dim in self.shape if dim > 1)
        new_strides = tuple(self.strides[i] for i, dim in enumerate(self.shape) if dim > 1)
        return GPUArray(shape=new_shape, dtype=self.dtype, allocator=self.allocator,
                        strides=new_strides, base=self, gpudata=int(self.gpudata))

    def transpose(self, axes: Any = None) -> GPUArray:
        if axes is None:
            axes = range(self.ndim - 1, -1, -1)
        if len(axes) != len(self.shape):
            raise ValueError("axes don't match array")
        new_shape = [self.shape[axes[i]] for i in range(len(axes))]
        new_strides = [self.strides[axes[i]] for i in range(len(axes))]
        return GPUArray(shape=tuple(new_shape), dtype=self.dtype, allocator=self.allocator,
                        base=self if self.base is None else self.base, gpudata=self.gpudata,
                        strides=tuple(new_strides))

    @property
    def T(self) -> GPUArray:
        return self.transpose()

    @property
    def real(self) -> GPUArray:
        if self.dtype.kind == "c":
            raise NotImplementedError("complex GPUArrays are not emulated")
        return self

    def __getitem__(self, index: Any) -> GPUArray:
        if not isinstance(index, tuple):
            index = (index,)
        new_shape, new_strides, new_offset = [], [], 0
        seen_ellipsis = False
        index_axis = array_axis = 0
        while index_axis < len(index):
            entry = index[index_axis]
            if array_axis > len(self.shape):
                raise IndexError("too many axes in index")
            if isinstance(entry, slice):
                start, stop, idx_stride = entry.indices(self.shape[array_axis])
                array_stride = self.strides[array_axis]
                new_shape.append((abs(stop - start) - 1) // abs(idx_stride) + 1)
                new_strides.append(idx_stride * array_stride)
                new_offset += array_stride * start
                index_axis += 1
                array_axis += 1
            elif isinstance(entry, (int, np.integer)):
                array_shape = self.shape[array_axis]
                if entry < 0:
                    entry += array_shape
                if not (0 <= entry < array_shape):
                    raise IndexError("subindex in axis %d out of range" % index_axis)
                new_offset += self.strides[array_axis] * entry
                index_axis += 1
                array_axis += 1
            elif entry is Ellipsis:
                index_axis += 1
                remaining = len(index) - index_axis
                new_array_axis = len(self.shape) - remaining
                if new_array_axis < array_axis:
                    raise IndexError("invalid use of ellipsis in index")
                while array_axis < new_array_axis:
                    new_shape.append(self.shape[array_axis])
                    new_strides.append(self.strides[array_axis])
                    array_axis += 1
                if seen_ellipsis:
                    raise IndexError("more than one ellipsis not allowed in index")
                seen_ellipsis = True
            elif entry is np.newaxis:
                new_shape.append(1)
                new_strides.append(0)
                index_axis += 1
            else:
                raise IndexError("invalid subindex in axis %d" % index_axis)
        while array_axis < len(self.shape):
            new_shape.append(self.shape[array_axis])
            new_strides.append(self.strides[array_axis])
            array_axis += 1
        return GPUArray(shape=tuple(new_shape), dtype=self.dtype, allocator=self.allocator, base=self,
                        gpudata=int(self.gpudata) + new_offset, strides=tuple(new_strides))

    def __setitem__(self, index: Any, value: Any) -> None:
        if np.isscalar(value):
            self[index].fill(value)
        else:
            _memcpy_discontig(self[index], value)


# ---------------------------------------------------------------------- creation
def to_gpu(ary: Any, allocator: Any = None) -> GPUArray:
    result = GPUArray(ary.shape, ary.dtype, allocator, strides=_compact_strides(ary))
    result.set(ary)
    return result


def to_gpu_async(ary: Any, allocator: Any = None, stream: Any = None) -> GPUArray:
    return to_gpu(ary, allocator)


empty = GPUArray


def zeros(shape: Any, dtype: Any = np.float64, allocator: Any = None, order: str = "C") -> GPUArray:
    result = GPUArray(shape, dtype, allocator, order=order)
    result.fill(np.zeros((), dtype))
    return result


def ones(shape: Any, dtype: Any = np.float64, allocator: Any = None, order: str = "C") -> GPUArray:
    result = GPUArray(shape, dtype, allocator, order=order)
    result.fill(np.ones((), dtype))
    return result


def _array_like_helper(other_ary: Any, dtype: Any, order: str) -> tuple:
    strides = None
    if order == "A":
        order = "F" if other_ary.flags.f_contiguous else "C"
    elif order == "K":
        if other_ary.flags.c_contiguous or other_ary.flags.f_contiguous:
            order = "F" if other_ary.flags.f_contiguous and not other_ary.flags.c_contiguous else "C"
        else:
            order = "C"
            if dtype is None or np.dtype(dtype) == other_ary.dtype:
                strides = other_ary.strides
    elif order == "C":
        pass
    elif order == "F":
        pass
    else:
        raise ValueError("Unsupported order: %r" % order)
    if dtype is None:
        dtype = other_ary.dtype
    return dtype, order, strides


def empty_like(other_ary: Any, dtype: Any = None, order: str = "K") -> GPUArray:
    dtype, order, strides = _array_like_helper(other_ary, dtype, order)
    return GPUArray(other_ary.shape, dtype, other_ary.allocator, order=order, strides=strides)


def zeros_like(other_ary: Any, dtype: Any = None, order: str = "K") -> GPUArray:
    result = empty_like(other_ary, dtype, order)
    result.fill(np.zeros((), result.dtype))
    return result


def ones_like(other_ary: Any, dtype: Any = None, order: str = "K") -> GPUArray:
    result = empty_like(other_ary, dtype, order)
    result.fill(np.ones((), result.dtype))
    return result


def reshape(a: GPUArray, *shape: Any, **kwargs: Any) -> GPUArray:
    return a.reshape(*shape, **kwargs)


def transpose(a: GPUArray, axes: Any = None) -> GPUArray:
    return a.transpose(axes)


# ---------------------------------------------------------------------- copies
def _compact_strides(a: Any) -> list[int]:
    info = sorted((a.strides[axis], a.shape[axis], axis) for axis in range(len(a.shape)))
    strides = [None] * len(a.shape)
    stride = a.dtype.itemsize
    for _, dim, axis in info:
        strides[axis] = stride
        stride *= dim
    return strides


def _memcpy_discontig(dst: Any, src: Any, async_: bool = False, stream: Any = None) -> None:
    """pycuda's: contiguous copies through memcpy_{htod,dtoh,dtod} (with their argument
    checks: an empty GPUArray's gpudata is None), up to two discontiguous axes through a
    2D/3D copy (here NumPy on the device memory), more refused."""
    if not isinstance(src, (GPUArray, np.ndarray)):
        raise TypeError("src must be GPUArray or ndarray")
    if not isinstance(dst, (GPUArray, np.ndarray)):
        raise TypeError("dst must be GPUArray or ndarray")
    if src.shape != dst.shape:
        raise ValueError("src and dst must be same shape")
    if src.dtype != dst.dtype:
        raise TypeError("src and dst must have same dtype")
    if isinstance(src, np.ndarray) and isinstance(dst, np.ndarray):
        dst[...] = src
        return

    if src.flags.forc and dst.flags.forc:
        shape = [src.size]
    else:
        src_info = sorted((src.strides[axis], axis) for axis in range(len(src.shape)) if src.shape[axis] > 1)
        axes = [axis for _, axis in src_info]
        shape = [src.shape[axis] for axis in axes]
        src_strides = [src.strides[axis] for axis in axes]
        dst_strides = [dst.strides[axis] for axis in axes]
        if len(shape) == 0 or src_strides[0] != src.dtype.itemsize or dst_strides[0] != dst.dtype.itemsize:
            shape[0:0] = [1]
            src_strides[0:0] = [0]
            dst_strides[0:0] = [0]
            axes[0:0] = [np.newaxis]
        i = 1
        while i < len(shape):
            if dst_strides[i] < dst_strides[i - 1]:
                raise ValueError("src and dst must have same order")
            if (src_strides[i - 1] * shape[i - 1] == src_strides[i]
                    and dst_strides[i - 1] * shape[i - 1] == dst_strides[i]):
                shape[i - 1:i + 1] = [shape[i - 1] * shape[i]]
                del src_strides[i]
                del dst_strides[i]
                del axes[i]
            else:
                i += 1

    if len(shape) <= 1:
        if isinstance(src, GPUArray):
            if isinstance(dst, GPUArray):
                drv.memcpy_dtod(dst.gpudata, src.gpudata, src.nbytes)
            else:
                flat = np.lib.stride_tricks.as_strided(dst, shape=(dst.size,), strides=(dst.dtype.itemsize,))
                drv.memcpy_dtoh(flat, src.gpudata)
        else:
            flat = np.lib.stride_tricks.as_strided(src, shape=(src.size,), strides=(src.dtype.itemsize,))
            drv.memcpy_htod(dst.gpudata, np.ascontiguousarray(flat))
        return
    if len(shape) > 3:
        raise ValueError("more than 2 discontiguous axes not supported {}".format(tuple(sorted(
            a for a in axes if a is not np.newaxis))))
    if len(shape) == 3:
        if src_strides[2] % src_strides[1] != 0:
            raise RuntimeError("src's major stride must be a multiple of middle stride")
        if dst_strides[2] % dst_strides[1] != 0:
            raise RuntimeError("dst's major stride must be a multiple of middle stride")
    d = _host(dst) if isinstance(dst, GPUArray) else dst
    s = _host(src) if isinstance(src, GPUArray) else src
    d[...] = s


def __getattr__(name: str) -> Any:
    raise AttributeError(f"pycuda.gpuarray.{name} is not emulated (tests/cudaemu/fake_pycuda)")
