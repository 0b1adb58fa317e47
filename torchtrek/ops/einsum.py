"""torch.einsum, lowered to core ops (exported through torchtrek/ops/linalg.py).

The equation is parsed as torch parses it (same checks and messages): letters are
labels, `...` stands for broadcast dims, a missing `->` means the implicit output (the
ellipsis dims, then the labels used once, in alphabetical order, upper case first).
Then, per operand: repeated labels select their diagonal (an eye mask and a sum), and
labels used nowhere else are summed out. Operands are contracted left to right: the
shared labels still needed later become batch dims, the others are summed by one
matmul over operands permuted and reshaped to (*batch, M, K) @ (*batch, K, N); with
nothing to sum, a broadcast multiply. Gradients come from those ops' own rules.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

from .. import functional as F
from .._dispatch import bind, on_device_of as _on_device_of
from ..ir import dtypes

Label = Union[str, int]  # a letter, or the index of an ellipsis dim (aligned right)
_ELL = "..."

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double",
               "float16": "Half"}


def _err(msg: str) -> RuntimeError:
    return RuntimeError("einsum(): " + msg)


def _parse_inputs(lhs: str, n_ops: int) -> list[list[str]]:
    terms: list[list[str]] = [[]]
    found_ell = False
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == " ":
            pass
        elif c == ".":
            op = len(terms) - 1
            if found_ell:
                raise _err(f"found '.' for operand {op} for which an ellipsis was already found")
            if not (i + 2 < len(lhs) and lhs[i + 1] == "." and lhs[i + 2] == "."):
                raise _err(f"found '.' for operand {op} that is not part of any ellipsis")
            terms[-1].append(_ELL)
            found_ell = True
            i += 2
        elif c == ",":
            if len(terms) >= n_ops:
                raise _err("fewer operands were provided than specified in the equation")
            terms.append([])
            found_ell = False
        elif c.isascii() and c.isalpha():
            terms[-1].append(c)
        else:
            raise _err(f"invalid subscript given at index {i} in the equation string, "
                       "subscripts must be in [a-zA-Z]")
        i += 1
    if len(terms) != n_ops:
        raise _err("more operands were provided than specified in the equation")
    return terms


def _parse_output(rhs: str, offset: int, counts: dict[str, int], n_ell: int) -> list[Label]:
    out: list[Label] = []
    found_ell = False
    i = 0
    while i < len(rhs):
        c = rhs[i]
        if c == " ":
            pass
        elif c == ".":
            if found_ell:
                raise _err("found '.' for output but an ellipsis (...) was already found")
            if not (i + 2 < len(rhs) and rhs[i + 1] == "." and rhs[i + 2] == "."):
                raise _err("found '.' for output that is not part of any ellipsis (...)")
            out.extend(range(n_ell))
            found_ell = True
            i += 2
        elif c.isascii() and c.isalpha():
            if c in out:
                raise _err(f"output subscript {c} appears more than once in the output")
            if c not in counts:
                raise _err(f"output subscript {c} does not appear in the equation for any "
                           "input operand")
            out.append(c)
        else:
            raise _err(f"invalid subscript given at index {offset + i} in the equation string, "
                       "subscripts must be in [a-zA-Z]")
        i += 1
    return out


def _expand(terms: list[list[str]], operands: Sequence[Any]) -> tuple[list[list[Label]], int]:
    """Each operand's labels, one per dim, ellipsis dims as right-aligned indices."""
    n_ell = 0
    for k, (term, x) in enumerate(zip(terms, operands)):
        n = len([t for t in term if t != _ELL])
        has_ell = _ELL in term
        if (has_ell and n > x.ndim) or (not has_ell and n != x.ndim):
            verb = "is more than" if has_ell else "does not match"
            tail = "" if has_ell else " and no ellipsis was given"
            raise _err(f"the number of subscripts in the equation ({n}) {verb} the number of "
                       f"dimensions ({x.ndim}) for operand {k}{tail}")
        if has_ell:
            n_ell = max(n_ell, x.ndim - n)
    labels: list[list[Label]] = []
    for term, x in zip(terms, operands):
        covered = x.ndim - len([t for t in term if t != _ELL])
        row: list[Label] = []
        for t in term:
            row.extend(range(n_ell - covered, n_ell) if t == _ELL else [t])
        labels.append(row)
    return labels, n_ell


def _sizes(labels: list[list[Label]], operands: Sequence[Any]) -> dict[Label, int]:
    """The broadcast size of every label; torch's errors for sizes that do not fit."""
    sizes: dict[Label, int] = {}
    for k, (row, x) in enumerate(zip(labels, operands)):
        own: dict[Label, int] = {}
        ell_pos = 0
        for label, s in zip(row, x.shape):
            if label in own and own[label] != s:
                raise _err(f"subscript {label} is repeated for operand {k} but the sizes don't "
                           f"match, {s} != {own[label]}")
            own[label] = s
            prev = sizes.get(label)
            if prev is not None and s != prev and 1 not in (s, prev):
                if isinstance(label, int):
                    raise _err(f"dimension {ell_pos} covered by ellipsis in operand {k}has size "
                               f"{s} which does not broadcast with previously seen ellipsis "
                               f"with size {prev} for the respective dimension")
                raise _err(f"subscript {label} has size {s} for operand {k} which does not "
                           f"broadcast with previously seen size {prev}")
            if isinstance(label, int):
                ell_pos += 1
            sizes[label] = s if prev is None or prev == 1 else prev
    return sizes


# ----------------------------------------------------------------- lowering helpers


def _permute(x: Any, labels: list[Label], order: list[Label]) -> Any:
    perm = tuple(labels.index(label) for label in order)
    return x if perm == tuple(range(len(perm))) else bind("permute", [x], {"perm": perm})


def _reshape(x: Any, shape: Sequence[int]) -> Any:
    shape = tuple(shape)
    return x if shape == tuple(x.shape) else bind("reshape", [x], {"shape": shape})


def _sum(x: Any, dims: tuple[int, ...]) -> Any:
    out = bind("sum", [x], {"dims": dims, "keepdim": False})
    return out if out.dtype is x.dtype else F.cast(out, x.dtype)  # ints sum to int64


def _sum_out(x: Any, labels: list[Label], keep: set[Label]) -> tuple[Any, list[Label]]:
    dims = tuple(i for i, label in enumerate(labels) if label not in keep)
    if not dims:
        return x, labels
    return _sum(x, dims), [label for label in labels if label in keep]


def _diagonal(x: Any, labels: list[Label]) -> tuple[Any, list[Label]]:
    """Take the diagonal of every repeated label (where(eye, x, 0) summed over one)."""
    while len(set(labels)) != len(labels):
        p = next(i for i, label in enumerate(labels) if labels.index(label) != i)
        first = labels.index(labels[p])
        n = x.shape[p]
        mask = _on_device_of(bind("eye_mask", [], {"n": n, "m": n}), x)
        shape = [1] * x.ndim
        shape[first] = shape[p] = n
        x = F.where(_reshape(mask, shape), x, 0)
        x = _sum(x, (p,))
        labels = labels[:p] + labels[p + 1:]
    return x, labels


def _contract(a: Any, la: list[Label], b: Any, lb: list[Label], later: set[Label],
              sizes: dict[Label, int]) -> tuple[Any, list[Label]]:
    batch = [label for label in la if label in lb and label in later]
    summed = [label for label in la if label in lb and label not in later]
    a_only = [label for label in la if label not in lb]
    b_only = [label for label in lb if label not in la]
    size = lambda ls: [sizes[label] for label in ls]  # noqa: E731
    if not summed:  # an outer / elementwise product
        a2 = _reshape(_permute(a, la, batch + a_only), size(batch + a_only) + [1] * len(b_only))
        b2 = _reshape(_permute(b, lb, batch + b_only),
                      size(batch) + [1] * len(a_only) + size(b_only))
        return F.mul(a2, b2), batch + a_only + b_only
    if a.dtype is dtypes.bool_:
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    m, k, n = (_prod(size(ls)) for ls in (a_only, summed, b_only))
    lead = size(batch)  # matmul's own batch dims
    a2 = _reshape(_permute(a, la, batch + a_only + summed), lead + [m, k])
    b2 = _reshape(_permute(b, lb, batch + summed + b_only), lead + [k, n])
    out = bind("matmul", [a2, b2])
    return _reshape(out, size(batch + a_only + b_only)), batch + a_only + b_only


def _prod(sizes: Sequence[int]) -> int:
    n = 1
    for s in sizes:
        n *= s
    return n


# ----------------------------------------------------------------- einsum


def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation, as torch.einsum(equation, *operands) (or a list of them)."""
    from ..tensor import Tensor

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum(): the sublist form is not supported; pass an equation string")
    for x in operands:
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, not {type(x).__name__}")
    if not operands:
        raise _err("must provide at least one operand")
    lhs, arrow, rhs = equation.partition("->")
    terms = _parse_inputs(lhs, len(operands))
    labels, n_ell = _expand(terms, operands)
    counts: dict[str, int] = {}
    for row in labels:
        for label in row:
            if isinstance(label, str):
                counts[label] = counts.get(label, 0) + 1
    if arrow:
        out = _parse_output(rhs, len(lhs) + 2, counts, n_ell)
    else:
        out = list(range(n_ell)) + sorted(c for c, n in counts.items() if n == 1)
    dtype = operands[0].dtype
    for x in operands[1:]:
        if x.dtype is not dtype:
            raise RuntimeError(f"expected scalar type {_TYPE_NAMES[dtype.name]} but found "
                               f"{_TYPE_NAMES[x.dtype.name]}")
    sizes = _sizes(labels, operands)

    # per operand: diagonals, labels used nowhere else summed, size-1 dims broadcast
    prepared = []
    for k, (x, row) in enumerate(zip(operands, labels)):
        x, row = _diagonal(x, row)
        elsewhere = set(out)
        for j, other in enumerate(labels):
            if j != k:
                elsewhere.update(other)
        x, row = _sum_out(x, row, elsewhere)
        want = tuple(sizes[label] for label in row)
        if want != tuple(x.shape):
            x = F.broadcast_to(x, want)
        prepared.append((x, row))

    acc, la = prepared[0]
    for k in range(1, len(prepared)):
        later = set(out)
        for _, row in prepared[k + 1:]:
            later.update(row)
        b, lb = prepared[k]
        acc, la = _sum_out(acc, la, later | set(lb))
        acc, la = _contract(acc, la, b, lb, later, sizes)
    acc, la = _sum_out(acc, la, set(out))
    acc = _permute(acc, la, out)
    if acc.dtype is not dtype:  # integer sums come back as int64
        acc = F.cast(acc, dtype)
    if any(acc is x for x in operands):
        acc = bind("reshape", [acc], {"shape": tuple(acc.shape)})
    return acc
