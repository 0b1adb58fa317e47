"""Shape rules shared by many ops: broadcasting, dims, reshape. Errors match torch's."""

from __future__ import annotations

from typing import Sequence
from .symdims import is_symbolic


class ShapeError(RuntimeError):
    """A shape or dtype mismatch found while building the graph (a torch RuntimeError)."""


class DimIndexError(IndexError):
    """A dim argument out of range (torch raises IndexError)."""


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy/torch broadcasting; a mismatch names the sizes and the (output) dimension,
    checking from the last dimension as torch does."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for k in range(ndim - 1, -1, -1):
        size, first = 1, None
        for s in shapes:
            j = k - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if size == 1:
                size, first = d, d
            elif d != size:
                raise ShapeError(
                    f"The size of tensor a ({first}) must match the size of tensor b ({d}) "
                    f"at non-singleton dimension {k}"
                )
        out[k] = size if any(k - (ndim - len(s)) >= 0 for s in shapes) else 1
        if size == 1 and any(k - (ndim - len(s)) >= 0 and s[k - (ndim - len(s))] == 0 for s in shapes):
            out[k] = 0
    return tuple(out)


def normalize_dim(dim: int, ndim: int, *, extra: int = 0) -> int:
    """A possibly negative dim into [0, ndim + extra); torch's IndexError otherwise."""
    size = max(ndim + extra, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, not {type(dim).__name__}")
    if not -size <= dim < size:
        raise DimIndexError(
            f"Dimension out of range (expected to be in range of [{-size}, {size - 1}], "
            f"but got {dim})"
        )
    return dim % size


def normalize_dims(dims: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative dims; a 0-d tensor accepts dim 0 / -1 and has none to reduce."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    normalized = [normalize_dim(d, ndim) for d in dims]
    for i, d in enumerate(normalized):
        if d in normalized[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return () if ndim == 0 else tuple(sorted(normalized))


def infer_reshape(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    shape = tuple(s if is_symbolic(s) else int(s) for s in shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[: unknown[0]] + (numel // known,) + shape[unknown[0] + 1 :]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape
