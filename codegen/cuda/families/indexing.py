"""CUDA kernels of the indexing family: index, index_put, scatter, slice_scatter,
argselect, argmask and eye_mask (gather, scatter_add and embedding live in generator.py).

Every kernel is a grid-stride loop with one thread per element of the result (or of
the index, for the scatters), so consecutive threads touch consecutive elements.

Index values follow NumPy, the reference backend: a negative index counts from the end
of its dim, and an index out of range stops the program. NumPy raises IndexError; a
kernel cannot raise, so it prints the index and executes `__trap()` (the launch fails
with an error at the next synchronization and the CUDA context is lost, as with
torch's device-side asserts) rather than read or write outside the buffer.

Writes to the same element from several index entries:
  * index_put(accumulate=True): every value is added (atomics; floating-point sums
    may differ from run to run in the last bits, as on torch's CUDA path).
  * index_put(accumulate=False) and scatter: the *last* entry in C order wins, which is
    what NumPy's fancy assignment does (torch leaves the order undefined). When
    duplicates are possible and could write different values, each target element
    first records, with atomicMax in a scratch buffer, the largest entry aiming at
    it; then only that entry writes. Where duplicates cannot happen or would all write
    the same value (a scalar value, one index entry) the entries write directly.
"""

from __future__ import annotations

from typing import Sequence

from ....ir.graph import Atom, Eqn, Literal, Var
from ....ir.ops.indexing import index_shape
from ....ir.shapes import broadcast_shapes
from ..generator import (BLOCK, C_TYPES, _c_literal, _coords, _idx_type, broadcast_view,
                         contiguous_strides, family_kernel)


# ---------------------------------------------------------------- helpers


class _Operands:
    """The read-only parameters of one kernel: each distinct Var is one `inK`;
    literals are printed in place."""

    def __init__(self, gen) -> None:
        self.gen = gen
        self.vars: list[Var] = []

    def name(self, v: Var) -> str:
        for k, u in enumerate(self.vars):
            if u is v:
                return f"in{k}"
        self.vars.append(v)
        return f"in{len(self.vars) - 1}"

    def load(self, a: Atom, offset: str, compute: str) -> str:
        if isinstance(a, Literal):
            return _c_literal(a, compute)
        return f"{self.name(a)}[{offset}]"

    def params(self) -> list[str]:
        return [f"const {C_TYPES[v.dtype.name]}* __restrict__ in{k}" for k, v in enumerate(self.vars)]

    def args(self) -> list[str]:
        return [self.gen.names[v] for v in self.vars]


def _offset(terms: Sequence[tuple[str, int]]) -> str:
    """sum(coord * stride), leaving out zero strides."""
    parts = [c if s == 1 else f"({c})*{s}" if " " in c else f"{c}*{s}" for c, s in terms if s]
    return " + ".join(parts) or "0"


def _loop(params: Sequence[str], n: int, body: Sequence[str]) -> str:
    """One thread per element i < n, grid-stride."""
    idx = _idx_type(n)
    lines = "".join(f"    {ln}\n" for ln in body)
    return (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL({', '.join(params)}) {{\n"
            f"  for ({idx} i = ({idx})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
            f"i += ({idx})blockDim.x * gridDim.x) {{\n{lines}  }}\n}}")


def _second_kernel(gen, e: Eqn, n: int, params: Sequence[str], body: Sequence[str],
                   args: Sequence[str]) -> None:
    """A kernel after the one that allocated e's output, writing into it."""
    gen._atomic_kernel(e, n, list(params), "\n".join(f"    {ln}" for ln in body), list(args))


def _wrapped(var: str, load: str, size: int, dim: int) -> list[str]:
    """`var` = the index value at `load`, negative counting from the end; out of range
    stops the kernel (NumPy raises IndexError there)."""
    return [
        f"long long {var} = (long long)({load});",
        f"if ({var} < -{size}LL || {var} >= {size}LL) {{  // NumPy: IndexError",
        f"  printf(\"index %lld is out of bounds for dimension {dim} with size {size}\\n\", {var});",
        "  __trap();",
        "}",
        f"if ({var} < 0) {var} += {size};",
    ]


def _scratch_name(gen, base: str) -> str:
    taken = set(gen.names.values())
    taken.update(ln.split(" = ", 1)[0] for ln in gen.body if " = alloc(" in ln)
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _copy_with_claims(gen, e: Eqn, x: Var, claim: str | None, claim_t: str) -> None:
    """out = copy of x (and, for last-write-wins, claim[...] = -1: no entry yet)."""
    out = e.outputs[0]
    ct = C_TYPES[out.dtype.name]
    n = x.type.numel
    params = [f"const {ct}* __restrict__ in0"]
    body = ["out[i] = in0[i];"]
    args = [gen.names[x]]
    if claim is not None:
        params.append(f"{claim_t}* __restrict__ claim")
        body.append("claim[i] = -1;  // no index entry aims here yet")
        args.append(claim)
        gen.body.append(f"{claim} = alloc({tuple(x.shape)}, \"{'int32' if claim_t == 'int' else 'int64'}\")")
    params.append(f"{ct}* __restrict__ out")
    gen.add(e, _loop(params, n, body), n, gen.elementwise_grid(n), args + [gen.names[out]])


def _atomic_add(ct: str, target: str, val: str) -> list[str]:
    """target += val atomically, for every C type a tensor can have."""
    if ct in ("float", "double", "int", "tt_half"):  # (tt_half: kernels.cu.j2's overload)
        return [f"atomicAdd(&{target}, {val});"]
    if ct == "long long":  # two's complement: the unsigned sum is the signed one
        return [f"atomicAdd((unsigned long long*)&{target}, (unsigned long long)({val}));"]
    # 8- and 16-bit types have no atomicAdd: compare-and-swap the aligned 32-bit word
    # holding the element (NumPy wraps integer sums; bool sums are logical or)
    width = "0xffffu" if ct == "short" else "0xffu"
    ut = "unsigned short" if ct == "short" else "unsigned char"
    cur = "(((assumed & mask) >> shift) != 0)" if ct == "bool" else f"({ct})({ut})((assumed & mask) >> shift)"
    new = f"({cur} || ({val}))" if ct == "bool" else f"({ct})({cur} + ({val}))"
    return [
        "{  // no 8/16-bit atomicAdd: compare-and-swap the 32-bit word holding the element",
        f"  {ct}* p = &{target};",
        "  unsigned int* w = (unsigned int*)((unsigned long long)p & ~3ULL);",
        "  const unsigned int shift = (unsigned int)((unsigned long long)p & 3ULL) * 8u;",
        f"  const unsigned int mask = {width} << shift;",
        "  unsigned int old = *w, assumed;",
        "  do {",
        "    assumed = old;",
        f"    const {ct} sum = {new};",
        f"    old = atomicCAS(w, assumed, (assumed & ~mask) | (((unsigned int)({ut})sum << shift) & mask));",
        "  } while (assumed != old);",
        "}",
    ]


def _write_entries(gen, e: Eqn, x: Var, n: int, ops: _Operands, body: list[str], value: str,
                   accumulate: bool, claims_needed: bool) -> None:
    """The kernels after the copy: `body` computes `pos` (the flat target in out) for
    entry i; each entry then writes (or adds) `value` there."""
    out = e.outputs[0]
    ct = C_TYPES[out.dtype.name]
    claim = claim_t = None
    if not accumulate and claims_needed and n > 1:
        claim = _scratch_name(gen, f"{gen.names[out]}_last")
        claim_t = "int" if n < 2**31 - 1 else "long long"
    _copy_with_claims(gen, e, x, claim, claim_t or "int")
    if n == 0:
        return
    out_p = f"{ct}* __restrict__ out"
    if accumulate:
        _second_kernel(gen, e, n, ops.params() + [out_p], body + _atomic_add(ct, "out[pos]", value),
                       ops.args() + [gen.names[out]])
        return
    if claim is None:
        _second_kernel(gen, e, n, ops.params() + [out_p], body + [f"out[pos] = {value};"],
                       ops.args() + [gen.names[out]])
        return
    claim_p = f"{claim_t}* __restrict__ claim"
    _second_kernel(gen, e, n, ops.params() + [claim_p],
                   body + [f"atomicMax(&claim[pos], ({claim_t})i);  // the last entry wins, as in NumPy"],
                   ops.args() + [claim])
    _second_kernel(gen, e, n, ops.params() + [f"const {claim_t}* __restrict__ claim", out_p],
                   body + [f"if (claim[pos] == i) out[pos] = {value};"],
                   ops.args() + [claim, gen.names[out]])


# ---------------------------------------------------------------- index / index_put


def _index_position(ops: _Operands, x: Var, dims: Sequence[int], idx: Sequence[Atom]
                    ) -> tuple[tuple[int, ...], list[str], set[int], tuple[int, int]]:
    """For x[..., i0, ..., i1, ...]: (the result's shape T, statements computing `pos`,
    x's flat offset, from T's coordinates c0.., the coordinates they use, and the range
    [b0, b0 + nb) of T's dims that the broadcast index shape occupies)."""
    dims = [d % x.ndim for d in dims]
    shapes = [tuple(a.shape) for a in idx]
    T = index_shape(tuple(x.shape), dims, shapes)
    B = broadcast_shapes(*shapes)
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    b0 = dims[0] if adjacent else 0
    st = contiguous_strides(x.shape)
    lines: list[str] = []
    needed: set[int] = set()
    terms: list[tuple[str, int]] = []
    later = 0  # non-indexed dims seen so far (they follow B when it goes first)
    for k in range(x.ndim):
        if k in dims:
            j = dims.index(k)
            a = idx[j]
            view = broadcast_view(a.shape, B)
            off = _offset([(f"c{b0 + q}", s) for q, s in enumerate(view)])
            needed.update(b0 + q for q, s in enumerate(view) if s)
            lines += _wrapped(f"j{j}", ops.load(a, off, "int64"), x.shape[k], k)
            terms.append((f"j{j}", st[k]))
            continue
        if not adjacent:
            t = len(B) + later
        else:
            t = k if k < dims[0] else k - len(dims) + len(B)
        later += 1
        if st[k]:
            needed.add(t)
        terms.append((f"c{t}", st[k]))
    lines.append(f"const long long pos = {_offset(terms)};")
    return T, lines, needed, (b0, len(B))


@family_kernel("index")
def print_index(gen, e: Eqn) -> None:
    """out = x[..., i0, ..., i1, ...]: each thread finds its element's source."""
    x, *idx = e.inputs
    out = e.outputs[0]
    ops = _Operands(gen)
    src = ops.name(x)
    T, lines, needed, _ = _index_position(ops, x, e.params["dims"], idx)
    n = out.type.numel
    body = _coords(T, "i", needed) + lines + [f"out[i] = {src}[pos];"]
    params = ops.params() + [f"{C_TYPES[out.dtype.name]}* __restrict__ out"]
    gen.add(e, _loop(params, n, body), n, gen.elementwise_grid(n), ops.args() + [gen.names[out]])


@family_kernel("index_put")
def print_index_put(gen, e: Eqn) -> None:
    """out = x with out[..., i0, ..., i1, ...] = v (+= v when accumulate): a copy, then
    one thread per entry of the index result (see the module docstring for duplicates)."""
    x, v, *idx = e.inputs
    out = e.outputs[0]
    ops = _Operands(gen)
    T, lines, needed, (b0, nb) = _index_position(ops, x, e.params["dims"], idx)
    compute = out.dtype.name
    if isinstance(v, Var):
        vview = broadcast_view(v.shape, T)
        needed.update(k for k, s in enumerate(vview) if s)
        value = ops.load(v, _offset([(f"c{k}", s) for k, s in enumerate(vview)]), compute)
        if v.dtype is not out.dtype:
            value = f"({C_TYPES[out.dtype.name]})({value})"
        # entries sharing a target differ only in their index coordinates: when v does
        # not vary along those, duplicates write the same value
        varies = any(vview[k] for k in range(b0, b0 + nb))
    else:
        value, varies = _c_literal(v, compute), False
    n = 1
    for s in T:
        n *= s
    body = _coords(T, "i", needed) + lines
    _write_entries(gen, e, x, n, ops, body, value, e.params["accumulate"], varies)


# ---------------------------------------------------------------- scatter / slice_scatter


@family_kernel("scatter")
def print_scatter(gen, e: Eqn) -> None:
    """out = x with out[..., idx[c], ...] = src[c] along `dim` (np.put_along_axis): a
    copy, then one thread per index entry; the last entry in C order wins."""
    x, idx, src = e.inputs
    out = e.outputs[0]
    dim = e.params["dim"] % x.ndim
    ops = _Operands(gen)
    lines = _wrapped("j", ops.load(idx, "i", "int64"), x.shape[dim], dim)
    st = contiguous_strides(x.shape)
    terms = [("j" if k == dim else f"c{k}", st[k]) for k in range(x.ndim)]
    needed = {k for k in range(x.ndim) if k != dim and st[k]}
    body = _coords(idx.shape, "i", needed) + lines + [f"const long long pos = {_offset(terms)};"]
    compute = out.dtype.name
    if isinstance(src, Var):
        value = ops.load(src, "0" if src.ndim == 0 else "i", compute)
        varies = src.ndim > 0 and idx.shape[dim] > 1  # entries sharing a target differ only along dim
    else:
        value, varies = _c_literal(src, compute), False
    _write_entries(gen, e, x, idx.type.numel, ops, body, value, False, varies)


@family_kernel("slice_scatter")
def print_slice_scatter(gen, e: Eqn) -> None:
    """out = x with out[a:b:k, ...] = src: one pass, each element from src inside the
    slice, from x outside."""
    x, src = e.inputs
    out = e.outputs[0]
    p = e.params
    ops = _Operands(gen)
    compute = out.dtype.name
    sst = contiguous_strides(src.shape)
    inside, terms, needed = [], [], set()
    for k, (s, stop, step) in enumerate(zip(p["starts"], p["stops"], p["steps"])):
        if src.shape[k] == 0:
            inside.append("false")
            continue
        rel = f"(c{k} - {s})" if s else f"c{k}"
        if not (s == 0 and stop == x.shape[k] and step == 1):
            needed.add(k)
            if s:
                inside.append(f"c{k} >= {s}")
            if stop != x.shape[k]:
                inside.append(f"c{k} < {stop}")
            if step != 1:
                inside.append(f"{rel} % {step} == 0")
        if sst[k] and src.shape[k] > 1:
            needed.add(k)
            terms.append((rel if step == 1 else f"{rel} / {step}", sst[k]))
    from_src = ops.load(src, _offset(terms), compute)
    from_x = ops.load(x, "i", compute)
    n = out.type.numel
    cond = " && ".join(inside)
    expr = from_src if not cond else f"({cond}) ? {from_src} : {from_x}"
    body = _coords(out.shape, "i", needed) + [f"out[i] = {expr};"]
    params = ops.params() + [f"{C_TYPES[out.dtype.name]}* __restrict__ out"]
    gen.add(e, _loop(params, n, body), n, gen.elementwise_grid(n), ops.args() + [gen.names[out]])


# ---------------------------------------------------------------- argselect / argmask / eye_mask


@family_kernel("argselect")
def print_argselect(gen, e: Eqn) -> None:
    """out = np.take_along_axis(x, idx, dim): x's entry at idx along `dim` (the values of
    max/min(x, dim)); idx has x's shape off `dim`, x may broadcast (size 1) there."""
    x, idx = e.inputs
    out = e.outputs[0]
    dim = e.params["dim"] % x.ndim
    for k, (a, b) in enumerate(zip(x.shape, idx.shape)):
        if k != dim and a not in (1, b):
            raise NotImplementedError(f"op 'argselect': x {list(x.shape)} does not broadcast to "
                                      f"the index's shape {list(idx.shape)} off dim {dim}")
    ops = _Operands(gen)
    src = ops.name(x)
    lines = _wrapped("j", ops.load(idx, "i", "int64"), x.shape[dim], dim)
    st = contiguous_strides(x.shape)
    terms = [("j" if k == dim else f"c{k}", 0 if x.shape[k] == 1 and k != dim else st[k])
             for k in range(x.ndim)]
    needed = {k for k, (c, s) in enumerate(terms) if s and k != dim}
    n = out.type.numel
    body = _coords(out.shape, "i", needed) + lines + [f"out[i] = {src}[{_offset(terms)}];"]
    params = ops.params() + [f"{C_TYPES[out.dtype.name]}* __restrict__ out"]
    gen.add(e, _loop(params, n, body), n, gen.elementwise_grid(n), ops.args() + [gen.names[out]])


@family_kernel("argmask")
def print_argmask(gen, e: Eqn) -> None:
    """out = (np.arange(size) == idx) along `dim`: the one-hot mask of max/min(x, dim)'s
    indices (a negative index matches nothing, as in NumPy)."""
    (idx,) = e.inputs
    out = e.outputs[0]
    dim = e.params["dim"] % out.ndim
    view = broadcast_view(idx.shape, out.shape)
    off = _offset([(f"c{k}", s) for k, s in enumerate(view)])
    gen.indexed(e, [idx], f"c{dim} == (long long)in0[{off}]")


@family_kernel("eye_mask")
def print_eye_mask(gen, e: Eqn) -> None:
    """out[r, c] = (r == c): the main diagonal of an (n, m) bool matrix."""
    gen.indexed(e, [], "c0 == c1")
