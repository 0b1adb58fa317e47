"""Front-end functions of the linalg family, lowered to registry ops through `bind`.

mm, bmm, mv, dot, outer/ger, inner, tensordot, trace, addmm, addmv, baddbmm, addbmm
and einsum. Every contraction lowers to the core permute / reshape / matmul (or a
broadcast mul when nothing is summed), so gradients come from those ops' rules and
stay fast. Argument checks and their messages follow torch 2.13. `matmul` itself is in
torchtrek/functional.py.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import functional as F
from .._dispatch import bind, on_device_of as _on_device_of
from ..ir import dtypes
from ..ir.graph import Literal
from ..ir.shapes import normalize_dim
from .einsum import einsum

# `trace` is a Tensor method only: tt.trace is the tracer (tt.trace(fn, *args)).
__all__: list[str] = [
    "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot", "addmm", "addmv",
    "baddbmm", "addbmm", "einsum",
]
METHODS: list[Any] = [
    "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "trace", "addmm", "addmv",
    "baddbmm", "addbmm",
]

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double",
               "float16": "Half"}
_C_TYPES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool", "float32": "float",
            "float64": "double", "float16": "c10::Half"}


def _check_tensors(fn: str, *xs: Any) -> None:
    from ..tensor import Tensor

    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fn}(): argument {i + 1} must be Tensor, not {type(x).__name__}")


def _no_bool(kernel: str, *xs: Any) -> None:
    if any(x.dtype is dtypes.bool_ for x in xs):
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _prod(sizes: Sequence[int]) -> int:
    n = 1
    for s in sizes:
        n *= s
    return n


# ----------------------------------------------------------------- products


def mm(a: Any, b: Any) -> Any:
    """Matrix product of two 2-D tensors (no broadcasting; see matmul for that)."""
    _check_tensors("mm", a, b)
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.dtype is not b.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_C_TYPES[a.dtype.name]} != {_C_TYPES[b.dtype.name]}")
    _no_bool("addmm_impl_cpu_", a)
    return bind("matmul", [a, b], grad_name="MmBackward0")


def bmm(a: Any, b: Any) -> Any:
    """Batched matrix product: (B, n, m) @ (B, m, p) -> (B, n, p), no broadcasting."""
    _check_tensors("bmm", a, b)
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected scalar type {_TYPE_NAMES[a.dtype.name]} but found "
                           f"{_TYPE_NAMES[b.dtype.name]}")
    _no_bool("bmm", a)
    if (b.shape[0], b.shape[1]) != (a.shape[0], a.shape[2]):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return bind("matmul", [a, b], grad_name="BmmBackward0")


def mv(mat: Any, vec: Any) -> Any:
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    _check_tensors("mv", mat, vec)
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {mat.ndim}, {vec.ndim}")
    if mat.dtype is not vec.dtype:
        v, m = _TYPE_NAMES[vec.dtype.name], _TYPE_NAMES[mat.dtype.name]
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {v}, {m}, "
                           f"and {v}")
    _no_bool("addmv_impl_cpu", mat)
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.shape[0]}), mat "
                           f"({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})")
    return bind("matmul", [mat, vec], grad_name="MvBackward0")


def dot(a: Any, b: Any) -> Any:
    """Inner product of two 1-D tensors of the same size and dtype."""
    _check_tensors("dot", a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype is not b.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{_TYPE_NAMES[a.dtype.name]} and {_TYPE_NAMES[b.dtype.name]}")
    _no_bool("dot", a)
    return bind("matmul", [a, b], grad_name="DotBackward0")


vdot = dot  # the same for real tensors (complex ones are not supported)


def outer(a: Any, b: Any) -> Any:
    """Outer product of two 1-D tensors (with type promotion)."""
    _check_tensors("outer", a, b)
    for x, name in ((a, "self"), (b, "vec2")):
        if x.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {x.ndim}-D")
    return F.mul(F.reshape(a, (a.shape[0], 1)), b)


ger = outer


def inner(a: Any, b: Any) -> Any:
    """Sum-product over the last dims of a and b (a product with a 0-d operand)."""
    _check_tensors("inner", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return F.mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError("inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(a.shape)} and {list(b.shape)}")
    return tensordot(a, b, ([-1], [-1]))


def tensordot(a: Any, b: Any, dims: Any = 2) -> Any:
    """Contract dims `dims[0]` of a with `dims[1]` of b (an int n: the last n of a with
    the first n of b); the free dims of a, then of b, remain."""
    _check_tensors("tensordot", a, b)
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        shown_a, shown_b = list(range(-dims, 0)), list(range(dims))
    else:
        if len(dims) != 2 or isinstance(dims[0], int):
            raise TypeError("tensordot(): argument 'dims_self' (position 3) must be tuple of "
                            "ints, not int (dims is an int or a pair of dim lists)")
        shown_a, shown_b = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(shown_a) != len(shown_b):
            raise RuntimeError("both dimension lists should have same length")
    da = [normalize_dim(d, a.ndim) for d in shown_a]
    db = [normalize_dim(d, b.ndim) for d in shown_b]
    sizes = []
    for i, j, si, sj in zip(da, db, shown_a, shown_b):
        sa, sb = a.shape[i], b.shape[j]
        if sa != sb and 1 not in (sa, sb):
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} "
                               f"in dim {si} and second has size {sb} in dim {sj}")
        sizes.append(sa if sb == 1 else sb)
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    a = _broadcast_dims(a, dict(zip(da, sizes)))
    b = _broadcast_dims(b, dict(zip(db, sizes)))
    k = _prod(sizes)
    a2 = F.reshape(_permute(a, free_a + da), (_prod(a.shape[i] for i in free_a), k))
    b2 = F.reshape(_permute(b, db + free_b), (k, _prod(b.shape[j] for j in free_b)))
    out = bind("matmul", [a2, b2])
    return F.reshape(out, tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def _broadcast_dims(x: Any, sizes: dict[int, int]) -> Any:
    shape = tuple(sizes.get(i, s) for i, s in enumerate(x.shape))
    return x if shape == tuple(x.shape) else F.broadcast_to(x, shape)


def _permute(x: Any, perm: Sequence[int]) -> Any:
    perm = tuple(perm)
    return x if perm == tuple(range(x.ndim)) else bind("permute", [x], {"perm": perm})


def trace(x: Any) -> Any:
    """Sum of the main diagonal of a 2-D tensor; integer inputs give int64."""
    _check_tensors("trace", x)
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    _no_bool("trace", x)
    mask = _on_device_of(bind("eye_mask", [], {"n": x.shape[0], "m": x.shape[1]}), x)
    diag = F.where(mask, x, 0)
    return bind("sum", [diag], {"dims": (0, 1), "keepdim": False}, grad_name="TraceBackward0")


# ----------------------------------------------------------------- add + product


def _add_scaled(fn: str, inp: Any, prod: Any, beta: Any, alpha: Any, grad_name: str) -> Any:
    """beta * inp + alpha * prod, inp broadcast to prod's shape (beta = 0 ignores inp,
    nan or not, as torch does)."""
    _check_tensors(fn, inp)
    target, shape = tuple(prod.shape), tuple(inp.shape)
    lead = len(target) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(target)}) must be "
                           f"greater or equal to the number of dimensions in the tensor "
                           f"({len(shape)})")
    for i, s in enumerate(shape):
        t = target[lead + i]
        if s != 1 and s != t:
            raise RuntimeError(
                f"The expanded size of the tensor ({t}) must match the existing size ({s}) at "
                f"non-singleton dimension {lead + i}.  Target sizes: {list(target)}.  Tensor "
                f"sizes: {list(shape)}")
    out = prod if alpha == 1 else F.mul(prod, alpha)
    if beta == 0:  # inp's values are ignored (nan too), its gradient is 0
        zero = Literal(0.0 if inp.dtype.is_floating_point else 0, inp.dtype)
        scaled = bind("where", [Literal(False, dtypes.bool_), inp, zero])
    else:
        scaled = inp if beta == 1 else F.mul(inp, beta)
    return bind("add", [out, scaled], grad_name=grad_name) if scaled.dtype is out.dtype \
        else F.add(out, scaled)


def _same_dtype(fn: str, inp: Any, mat2: Any) -> None:
    if inp.dtype is not mat2.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_TYPE_NAMES[inp.dtype.name]} and {_TYPE_NAMES[mat2.dtype.name]}")


def addmm(inp: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * inp + alpha * (mat1 @ mat2), inp broadcast to the product's shape."""
    _check_tensors("addmm", inp, mat1, mat2)
    _same_dtype("addmm", inp, mat2)
    return _add_scaled("addmm", inp, mm(mat1, mat2), beta, alpha, "AddmmBackward0")


def addmv(inp: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * inp + alpha * (mat @ vec)."""
    _check_tensors("addmv", inp, mat, vec)
    _same_dtype("addmv", inp, vec)
    return _add_scaled("addmv", inp, mv(mat, vec), beta, alpha, "AddmvBackward0")


def baddbmm(inp: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * inp + alpha * bmm(batch1, batch2)."""
    _check_tensors("baddbmm", inp, batch1, batch2)
    _same_dtype("baddbmm", inp, batch2)
    return _add_scaled("baddbmm", inp, bmm(batch1, batch2), beta, alpha, "BaddbmmBackward0")


def addbmm(inp: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * inp + alpha * sum over the batch of bmm(batch1, batch2)."""
    _check_tensors("addbmm", inp, batch1, batch2)
    _same_dtype("addbmm", inp, batch2)
    total = F.sum(bmm(batch1, batch2), 0)
    return _add_scaled("addbmm", inp, total, beta, alpha, "AddbmmBackward0")
