"""Tensor: a NumPy array (eager) or an IR value (while tracing), with torch's API."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from . import autograd
from . import functional as F
from ._tensor_str import format_tensor
from .ir import dtypes
from .ir.dtypes import DType
from ._state import thread as _thread
from .ir.graph import TensorType, Var
from .ir.symint import wrap_size
from . import devices as _device
from . import tracer as _tracer
from .runtime import arrays as _arrays
from .tracer import trace_error

_NP_TO_DTYPE: dict[np.dtype, DType] = {np.dtype(d.name): d for d in dtypes.ALL_DTYPES}


def dtype_of_array(a: np.ndarray) -> DType:
    try:
        return _NP_TO_DTYPE[a.dtype]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{a.dtype}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        ) from None


class Size(tuple):
    """torch.Size: a tuple of ints that prints as torchtrek.Size([2, 3])."""

    def __repr__(self) -> str:
        return f"{dtypes.display_prefix()}.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, i: Any) -> Any:
        out = tuple.__getitem__(self, i)
        return Size(out) if isinstance(i, slice) else out

    def __add__(self, other: Any) -> "Size":
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> "Size":
        return Size(tuple(other) + tuple(self))

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def _legacy_array(args: tuple, dtype: str) -> np.ndarray:
    """The array a legacy constructor (torch.Tensor(...), torch.LongTensor(...)) makes."""
    if not args:
        return np.zeros((0,), dtype)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        if any(a < 0 for a in args):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(args)}: "
                               f"{list(args)}")
        return np.zeros(tuple(int(a) for a in args), dtype)
    if len(args) == 1 and isinstance(args[0], Size):
        return np.zeros(tuple(args[0]), dtype)
    if len(args) != 1:
        raise TypeError(f"new(): invalid data type '{type(args[0]).__name__}'")
    data = args[0]
    if isinstance(data, Tensor):
        data = data._concrete("Tensor(tensor)")
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    return np.array(data, dtype=dtype)


class Tensor:
    __slots__ = ("_data", "_dtype", "_var", "_trace", "requires_grad", "_grad", "grad_fn",
                 "_out_index", "_hint", "_vc", "_hooks", "_base", "__weakref__")

    def __init__(self, *args: Any, requires_grad: bool = False, device: Any = None) -> None:
        # torch.Tensor(data) makes a tensor of the default dtype; the legacy forms too:
        # Tensor(2, 3) / Tensor(torch.Size) uninitialized of that size (zeros here),
        # Tensor() empty, Tensor(tensor) the same data
        arr = _legacy_array(args, F.get_default_dtype().name)
        self._init(arr, dtype_of_array(arr))
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data: np.ndarray | None, dtype: DType) -> None:
        self._data = data
        self._dtype = dtype
        self._var: Var | None = None
        self._trace = None
        self.requires_grad = False
        self._grad: Tensor | None = None
        self.grad_fn: Any = None
        self._out_index = 0
        self._hint = "c"
        self._vc = [0]  # version counter, shared with views (bumped by in-place writes)
        self._hooks: Any = None  # a leaf's gradient hooks (register_hook)
        self._base: Tensor | None = None  # the tensor this one is a view of

    @classmethod
    def _wrap(cls, data: Any) -> "Tensor":
        """A tensor over `data`: a NumPy array (cpu) or a device array (cuda)."""
        t = object.__new__(cls)
        if not _arrays.on_device(data):
            data = np.asarray(data)
        t._init(data, dtype_of_array(data))
        return t

    @classmethod
    def _symbolic(cls, var: Var, trace: Any, requires_grad: bool) -> "Tensor":
        t = object.__new__(cls)
        t._init(None, var.dtype)
        t._var = var
        t._trace = trace
        t.requires_grad = requires_grad
        t._hint = var.hint
        return t

    def _type(self) -> TensorType:
        if self._var is not None:
            return self._var.type
        return TensorType(self._data.shape, self._dtype)

    # ------------------------------------------------------------- metadata
    @property
    def shape(self) -> Size:
        if self._var is None:
            return Size(self._data.shape)
        if _thread.size_hints:  # a shape-generic trace: sizes that record guards
            return Size(wrap_size(d) for d in self._var.shape)
        return Size(self._var.shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        from .ir.shapes import normalize_dim

        return self.shape[normalize_dim(dim, self.ndim)]

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return self.ndim

    ndimension = dim

    def numel(self) -> int:
        return self.shape.numel()

    nelement = numel

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def device(self) -> _device.device:
        if self._var is not None:
            return getattr(self._trace, "device", None) or _device.CPU
        return _CUDA0 if _arrays.on_device(self._data) else _device.CPU

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    # ------------------------------------------------------------- autograd
    @property
    def grad(self) -> "Tensor | None":
        if self._var is None and _tracer.current_trace() is not None:
            _tracer.current_trace().note_grad_read(self)
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if self._var is None and _tracer.current_trace() is not None:
            # a side effect on a real tensor while tracing: the compiled code replays it
            _tracer.current_trace().note_grad_write(self, value)
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        if self._var is not None:
            from .compiler import trace_backward

            return trace_backward(self, gradient)
        if create_graph:
            raise NotImplementedError(
                "create_graph=True is not supported yet; use tt.grad(tt.grad(f)) for higher "
                "derivatives"
            )
        autograd.backward(self, gradient, retain_graph)

    def register_hook(self, hook: Any) -> Any:
        """Run `hook(grad)` when this tensor's gradient is computed; it may return a
        replacement. Returns a handle whose .remove() unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._var is not None:
            raise RuntimeError("register_hook inside a compiled function is not supported; "
                               "register it on the tensors outside")
        return autograd.register_tensor_hook(self, hook)

    @property
    def _version(self) -> int:
        return self._vc[0]

    def detach(self) -> "Tensor":
        return F.detach(self)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    # ------------------------------------------------------------- conversion
    def _values_or_none(self) -> np.ndarray | None:
        """Host values for eager value checks (a copy on the GPU); None while traced."""
        if self._data is None:
            return None
        return self._concrete("values") if _arrays.on_device(self._data) else self._data

    def _concrete_check(self, what: str) -> None:
        """Raise the trace error for `what` when this tensor has no values (traced)."""
        if self._data is None:
            raise trace_error(what)

    def _concrete(self, what: str) -> np.ndarray:
        """The values on the host (a copy for a device tensor)."""
        self._concrete_check(what)
        if _arrays.on_device(self._data):
            from .runtime import cuda

            return cuda.to_host(self._data)
        return self._data

    def numpy(self) -> np.ndarray:
        if self.is_cuda:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._concrete("tensor.numpy()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy() if self.is_cuda else self._concrete("np.asarray(tensor)")
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        a = self._concrete("tensor.item()")
        if a.size != 1:
            raise RuntimeError(f"a Tensor with {a.size} elements cannot be converted to Scalar")
        return a.reshape(()).item()

    def tolist(self) -> Any:
        return self._concrete("tensor.tolist()").tolist()

    def __bool__(self) -> bool:
        a = self._concrete("bool(tensor) (an `if`, `while`, `and`/`or` on a tensor)")
        if a.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(a.reshape(()))

    def __float__(self) -> float:
        return float(self._scalar("float(tensor)"))

    def __int__(self) -> int:
        return int(self._scalar("int(tensor)"))

    def __index__(self) -> int:
        if self._dtype.is_floating_point or self.ndim:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._scalar("an index from a tensor"))

    def _scalar(self, what: str) -> Any:
        a = self._concrete(what)
        if a.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return a.reshape(()).item()

    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        dtype = kwargs.get("dtype")
        target = kwargs.get("device")
        if isinstance(dtype, dtypes.UnsupportedDType):
            raise dtype.error()
        for a in args:
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, dtypes.UnsupportedDType):
                raise a.error()
            elif isinstance(a, Tensor):
                dtype, target = a.dtype, a.device
            elif isinstance(a, (str, _device.device)):
                target = a
        out = self
        if target is not None and _device.device(target) != self.device:
            out = _move(out, _device.device(target))
        if dtype is not None and dtype is not out._dtype:
            out = F.cast(out, dtype)
        return out

    def type(self, dtype: DType | None = None) -> Any:
        if dtype is None:
            return dtypes.display_prefix() + "." + {"float16": "HalfTensor", "int16": "ShortTensor",
                                                    "int8": "CharTensor", "uint8": "ByteTensor",
                                                    "float32": "FloatTensor", "float64": "DoubleTensor",
                                   "int64": "LongTensor", "int32": "IntTensor",
                                   "bool": "BoolTensor"}.get(self._dtype.name, "Tensor")
        if not isinstance(dtype, DType):
            from ._legacy import legacy_dtype

            named = legacy_dtype(dtype)
            if named is None:
                raise ValueError(f"invalid type: {dtype!r}")
            dtype = named
        return self.to(dtype)

    def float(self) -> "Tensor":
        return self.to(dtypes.float32)

    def double(self) -> "Tensor":
        return self.to(dtypes.float64)

    def half(self) -> "Tensor":
        return self.to(dtypes.float16)

    def long(self) -> "Tensor":
        return self.to(dtypes.int64)

    def int(self) -> "Tensor":
        return self.to(dtypes.int32)

    def bool(self) -> "Tensor":
        return self.to(dtypes.bool_)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device: Any = None) -> "Tensor":
        return self.to("cuda" if device is None else _device.device(
            device if isinstance(device, (str, _device.device)) else f"cuda:{device}"))

    def clone(self) -> "Tensor":
        return F.mul(self, 1) if self._dtype is not dtypes.bool_ else F.logical_and(self, True)

    # ------------------------------------------------------------- in place
    def _inplace(self, compute: Any) -> "Tensor":
        """Apply `compute()` (the new value) in place. Eagerly the array is overwritten and
        the version counter bumped; with grad on, the op is recorded and `self` takes its
        grad_fn (as torch's in-place ops on non-leaf tensors). While tracing, a traced
        value is rebound and a real tensor's write is recorded for the compiled code to
        replay at every call."""
        grad_on = autograd.is_grad_enabled()
        if self.requires_grad and self.is_leaf and grad_on:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        ctx = _tracer.current_trace()
        if ctx is not None or self._var is not None:
            if self.grad_fn is not None and grad_on:
                raise RuntimeError(
                    "in-place ops on tensors that have a grad_fn are not supported yet")
            with autograd.no_grad():
                result = self._inplace_value(compute)
            if result._var is None and ctx is not None:  # b.copy_(a), a real: its value at call time
                result = Tensor._symbolic(ctx.capture(result, result._type(), result._hint), ctx, False)
            if self._var is not None:
                self._var = result._var
                if ctx is not None and self._trace is ctx:  # (an argument's stand-in: its version bumps)
                    ctx.mutation_counts[id(self)] = ctx.mutation_counts.get(id(self), 0) + 1
            else:
                ctx.note_mutation(self, result._var)
            return self
        with autograd.set_grad_enabled(grad_on):
            result = self._inplace_value(compute)
        node = result.grad_fn if grad_on and result.requires_grad else None
        if grad_on and (node is not None or self.grad_fn is not None) and self._base is not None:
            base = self._base
            if base.requires_grad and base.is_leaf:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
            raise RuntimeError(
                "in-place ops on views of tensors that are part of an autograd graph are not "
                "supported yet; compute out of place (or clone() the view first)")
        if node is not None and node.saved:
            # arrays of `self` the op saved must keep their old values: copy them
            residuals = list(node.residuals)
            keep = []
            for s in node.saved:
                if s.vc is self._vc and not s.output:
                    residuals[s.index] = _arrays.copy(residuals[s.index])
                else:
                    keep.append(s)
            node.residuals = tuple(residuals)
            node.saved = keep or None
        _arrays.copy_into(self._data, result._data)  # (either device)
        autograd.bump_version(self)
        if node is not None:
            for s in node.saved or ():
                if s.output and s.vc is result._vc:  # the saved output now lives in self
                    s.vc, s.version = self._vc, self._vc[0]
            self.requires_grad = True
            self.grad_fn, self._out_index = node, result._out_index
        elif grad_on and self.grad_fn is not None:
            # the new value does not depend on the old graph (fill_, copy_ of a constant)
            self.grad_fn, self.requires_grad = None, False
        return self

    def _inplace_value(self, compute: Any) -> "Tensor":
        result = compute()
        if tuple(result.shape) != tuple(self.shape):
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(result.shape)}"
            )
        if result._dtype is not self._dtype:
            result = F.cast(result, self._dtype)
        return result

    def add_(self, other: Any, *, alpha: Any = None) -> "Tensor":
        return self._inplace(lambda: F.add(self, other, alpha=alpha))

    def sub_(self, other: Any, *, alpha: Any = None) -> "Tensor":
        return self._inplace(lambda: F.sub(self, other, alpha=alpha))

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace(lambda: F.mul(self, other))

    def div_(self, other: Any) -> "Tensor":
        return self._inplace(lambda: F.div(self, other))

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def fill_(self, value: Any) -> "Tensor":
        from ._dispatch import bind

        return self._inplace(lambda: bind(
            "full", [], {"shape": tuple(self.shape), "value": value, "dtype": self._dtype}))

    def copy_(self, src: "Tensor") -> "Tensor":
        def compute() -> "Tensor":
            v = F.cast(src, self._dtype)
            return F.broadcast_to(v, tuple(self.shape)) if tuple(v.shape) != tuple(self.shape) else v

        return self._inplace(compute)

    def bernoulli(self, p: Any = None, *, generator: Any = None) -> "Tensor":
        from .creation import bernoulli

        return bernoulli(self, p, generator=generator)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> "Tensor":
        from .creation import _bernoulli_fill

        values = _bernoulli_fill(self, p, generator)
        return self._inplace(lambda: values)

    # ------------------------------------------------------------- repr
    def __repr__(self) -> str:
        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        if self._data is None:
            return (f"Tensor(symbolic {self._var.type}"
                    + "".join(", " + s for s in suffixes) + ")")
        return format_tensor(self._concrete("repr"), self._dtype.name, suffixes,
                             F.get_default_dtype().name,
                             device=str(self.device) if self.is_cuda else None,
                             package=dtypes.display_prefix())

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self.ndim == 0 and self._data is not None:
            return self.item().__format__(spec)
        return repr(self)

    def __iter__(self) -> Iterator[Any]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    @property
    def data(self) -> "Tensor":
        """The values without autograd history (shares memory), as torch's .data."""
        return F.detach(self)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data, self._dtype = value._data, value._dtype

    @property
    def mT(self) -> "Tensor":
        from .ops.shape import mT

        return mT(self)

    @property
    def mH(self) -> "Tensor":
        from .ops.shape import mH

        return mH(self)

    __hash__ = object.__hash__

    # ------------------------------------------------------------- shapes
    def reshape(self, *shape: Any) -> "Tensor":
        return F.reshape(self, *shape)

    view = reshape

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """Row-major storage (a traced value always is: the generated code decides layout)."""
        if self._var is not None or _arrays.on_device(self._data):
            return True
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None) -> Any:
        """Strides in elements, as torch's (a traced value's are row-major: the generated
        code decides layout)."""
        if self._var is not None:
            st, acc = [], 1
            for n in reversed(tuple(self.shape)):
                st.append(acc)
                acc *= max(int(n), 1)
            strides = tuple(reversed(st))
        else:
            strides = tuple(int(b) // self._data.dtype.itemsize for b in self._data.strides)
        if dim is None:
            return strides
        if self.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        from .ir.shapes import normalize_dim

        return strides[normalize_dim(dim, self.ndim)]

    def storage_offset(self) -> int:
        """Elements from the start of the memory this tensor views to its first element."""
        if self._var is not None or _arrays.on_device(self._data):
            return 0
        a = root = self._data
        while isinstance(root.base, np.ndarray):
            root = root.base
        start = root.__array_interface__["data"][0]
        return (a.__array_interface__["data"][0] - start) // a.dtype.itemsize

    def element_size(self) -> int:
        """Bytes per element."""
        return self._dtype.itemsize

    def data_ptr(self) -> int:
        """The address of the first element (0 for a traced value, which has none yet)."""
        if self._var is not None:
            return 0
        if _arrays.on_device(self._data):
            return int(self._data.gpudata)
        return int(self._data.__array_interface__["data"][0])

    def contiguous(self, memory_format: Any = None) -> "Tensor":
        """`self` when row-major already, else a row-major copy (torch's rule: a copy only
        when the layout needs one, so in-place writes to it reach `self` only then)."""
        if self.is_contiguous():
            return self
        out = self.clone()
        if not out.is_contiguous():  # NumPy keeps a transposed operand's order
            out._data = np.ascontiguousarray(out._data)
        return out

    def view_as(self, other: "Tensor") -> "Tensor":
        return F.reshape(self, tuple(other.shape))

    reshape_as = view_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return F.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim: int) -> "Tensor":
        return F.unsqueeze(self, dim)

    def squeeze(self, dim: Any = None) -> "Tensor":
        return F.squeeze(self, dim)

    def permute(self, *dims: Any) -> "Tensor":
        return F.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        return F.transpose(self, dim0, dim1)

    def t(self) -> "Tensor":
        return F.t(self)

    @property
    def T(self) -> "Tensor":
        if self.ndim < 2:
            return self
        return F.permute(self, tuple(reversed(range(self.ndim))))

    def where(self, condition: "Tensor", other: Any) -> "Tensor":
        return F.where(condition, self, other)

    def expand(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return F.broadcast_to(self, shape)

    # ------------------------------------------------------------- math
    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: DType | None = None) -> "Tensor":
        return F.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: DType | None = None) -> "Tensor":
        return F.mean(self, dim, keepdim, dtype=dtype)

    def amax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return F.amax(self, dim, keepdim)

    def argmax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return F.argmax(self, dim, keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        return F.max(self, dim, keepdim)

    # NumPy defers to these (np.float64(2.5) * x is x.__rmul__), as it does for torch's
    __array_priority__ = 1000

    def __add__(self, o: Any) -> "Tensor":
        return F.add(self, o)

    def __radd__(self, o: Any) -> "Tensor":
        return F.add(o, self)

    def __sub__(self, o: Any) -> "Tensor":
        return F.sub(self, o)

    def __rsub__(self, o: Any) -> "Tensor":
        return F.sub(o, self)

    def __mul__(self, o: Any) -> "Tensor":
        return F.mul(self, o)

    # x += y is in place, as in torch (aliases and views see it; autograd checks apply)
    def __iadd__(self, o: Any) -> "Tensor":
        return self.add_(o)

    def __isub__(self, o: Any) -> "Tensor":
        return self.sub_(o)

    def __imul__(self, o: Any) -> "Tensor":
        return self.mul_(o)

    def __itruediv__(self, o: Any) -> "Tensor":
        return self.div_(o)

    def __rmul__(self, o: Any) -> "Tensor":
        return F.mul(o, self)

    def __truediv__(self, o: Any) -> "Tensor":
        return F.div(self, o)

    def __rtruediv__(self, o: Any) -> "Tensor":
        return F.div(o, self)

    def __pow__(self, o: Any) -> "Tensor":
        return F.pow(self, o)

    def __rpow__(self, o: Any) -> "Tensor":
        return F.pow(o, self)

    def __matmul__(self, o: Any) -> "Tensor":
        return F.matmul(self, o)

    def __rmatmul__(self, o: Any) -> "Tensor":
        return F.matmul(o, self)

    def __neg__(self) -> "Tensor":
        return F.neg(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return F.abs(self)

    def __invert__(self) -> "Tensor":
        if self._dtype is not dtypes.bool_:
            raise TypeError("~ is only supported on bool tensors in TorchTrek so far")
        return F.logical_not(self)

    def __and__(self, o: Any) -> "Tensor":
        return F.logical_and(self, o)

    def __or__(self, o: Any) -> "Tensor":
        return F.logical_or(self, o)

    def __gt__(self, o: Any) -> "Tensor":
        return F.gt(self, o)

    def __lt__(self, o: Any) -> "Tensor":
        return F.lt(self, o)

    def __ge__(self, o: Any) -> "Tensor":
        return F.ge(self, o)

    def __le__(self, o: Any) -> "Tensor":
        return F.le(self, o)

    def __eq__(self, o: Any) -> "Tensor":  # type: ignore[override]
        return F.eq(self, o)

    def __ne__(self, o: Any) -> "Tensor":  # type: ignore[override]
        return F.ne(self, o)


def _move(t: Tensor, target: _device.device) -> Tensor:
    """Copy to another device; gradients flow back across the move, as torch's do."""
    from .runtime import cuda

    if t._var is not None:
        raise trace_error("moving a tensor between devices inside a compiled function")
    data = cuda.to_device(t._data) if target.type == "cuda" else cuda.to_host(t._data)
    out = Tensor._wrap(data)
    if t.requires_grad and autograd.is_grad_enabled():
        from ._dispatch import edge_of

        node = autograd.MoveNode(target.type != "cuda", [edge_of(t)], [(data.shape, data.dtype)])
        out.requires_grad, out.grad_fn, out._out_index = True, node, 0
    return out


_CUDA0 = _device.device("cuda:0")


def _method(fn: Any) -> Any:
    def m(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    m.__name__ = fn.__name__
    m.__doc__ = fn.__doc__
    return m


for _name in ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs", "neg",
              "matmul", "add", "sub", "mul", "div", "pow", "gt", "lt", "ge", "le", "eq", "ne",
              "logical_and", "logical_or", "logical_not"):
    setattr(Tensor, _name, _method(getattr(F, _name)))
Tensor.negative = Tensor.neg  # type: ignore[attr-defined]
Tensor.absolute = Tensor.abs  # type: ignore[attr-defined]
Tensor.multiply = Tensor.mul  # type: ignore[attr-defined]
Tensor.divide = Tensor.true_divide = Tensor.div  # type: ignore[attr-defined]
Tensor.subtract = Tensor.sub  # type: ignore[attr-defined]
