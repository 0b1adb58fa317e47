"""CUDA backend: one `.cu` module per graph (jinja2 templates) plus a Python launcher.

Every equation becomes one kernel, after pointwise chains are fused into single
`pointwise` equations. Shapes are static, so index arithmetic is printed with constant
sizes and strides: broadcasting and permutes read operands through strides (no copies
of broadcast operands), reductions use warp shuffles and a block reduction, matmul is
a 128x128-tiled shared-memory kernel with 8x8 register tiles per thread, batched with
broadcast batch strides, and reads a transposed operand through strides when the
transpose has no other use. Reshape and detach are free (views of the same buffer).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import jinja2

from ...ir import symbolic
from ...ir.fusion import fuse_pointwise
from ...ir.graph import Atom, Eqn, Graph, Literal, TensorType, Var
from ...ir.opdef import get_op
from ...ir.passes import strip_detach
from ...ir.printer import _identifier, value_names
from ..cfamily.printer import C_TYPES, PREAMBLE, print_c

VERSION = "0.1.0"
BLOCK = 256
SM_COUNT = 132  # an H100's multiprocessors: what launch shapes are sized to fill
MAX_GRID = SM_COUNT * 32  # enough blocks to fill an H100; grid-stride loops cover the rest
ALIAS_OPS = {"reshape", "detach"}
REDUCE_OPS = ("sum", "amax", "argmax", "prod", "amin", "argmin", "all", "any")
COLUMN_MIN_OUTPUTS = 1024  # a reduction keeping this many inner outputs reads rows
FOLDABLE_OPS = ("pointwise", "cast", "where", "broadcast_to", "permute")  # into a reduction


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


@dataclass
class Kernel:
    name: str
    source: str
    comment: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int] = (BLOCK, 1, 1)
    args: list[str] = field(default_factory=list)  # buffer names: inputs, then the output


@dataclass
class CudaModule:
    cuda_source: str
    launcher_source: str
    fn_name: str
    kernels: list[Kernel]

    @property
    def text(self) -> str:
        """Both sources, as `.source()` shows them."""
        return self.cuda_source + "\n\n" + self.launcher_source


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def broadcast_view(in_shape: Sequence[int], out_shape: Sequence[int]) -> tuple[int, ...]:
    """Strides over the output's dims that read a broadcast operand in place."""
    st = contiguous_strides(in_shape)
    lead = len(out_shape) - len(in_shape)
    view = []
    for k, n in enumerate(out_shape):
        j = k - lead
        view.append(0 if j < 0 or (in_shape[j] == 1 and n != 1) else st[j])
    return tuple(view)


def _idx_type(n: int) -> str:
    return "int" if n < 2**31 - 1 else "long long"


def _c_literal(a: Literal, compute: str) -> str:
    v = a.value
    if isinstance(v, bool) or a.dtype.name == "bool":
        return "true" if v else "false"
    if isinstance(v, float) or compute in ("float32", "float64"):
        f = float(v)
        if math.isnan(f):
            return "NAN"
        if math.isinf(f):
            return "INFINITY" if f > 0 else "-INFINITY"
        text = repr(f)
        return text + ("F" if compute == "float32" else "")
    return f"{int(v)}LL"


def _compute_dtype(name: str) -> str:
    """The dtype arithmetic is printed in: float16 values load into float (as torch's
    kernels do; the module defines no __half operators, so every use converts)."""
    return "float32" if name == "float16" else name


def _value(load: str, dtype: str) -> str:
    """A load as a value in its compute type: a float16 element as float (so that a
    `cond ? x : 0` has one type)."""
    return f"(float)({load})" if dtype == "float16" else load


def _acc_type(name: str) -> str:
    """The C type a reduction or a product accumulates a `name` value in."""
    return "float" if name == "float16" else C_TYPES[name]


def _coords(shape: Sequence[int], var: str, needed: set[int], prefix: str = "c") -> list[str]:
    """Statements decomposing flat index `var` into the coordinates in `needed`."""
    if not needed:
        return []
    lines = [f"long long _r = {var};"]
    first = min(needed)
    for k in range(len(shape) - 1, first - 1, -1):
        if k in needed:  # dim 0 is what is left of the index: no modulo (only there)
            lines.append(f"const long long {prefix}{k} = _r % {shape[k]};" if k != 0
                         else f"const long long {prefix}{k} = _r;")
        if k > first:
            lines.append(f"_r /= {shape[k]};")
    return lines


def _offset(view: Sequence[int], prefix: str = "c") -> str:
    terms = [f"{prefix}{k}*{s}" if s != 1 else f"{prefix}{k}" for k, s in enumerate(view) if s]
    return " + ".join(terms) or "0"


class _Params:
    """A kernel's input pointers: one per distinct (value, view, space) it reads, in order
    (`space` tells apart views over different index spaces: a reduction's input and its
    result). `load` gives the expression that reads the value, made by `load_of(j, view)`
    (parameter in{j}) the first time."""

    def __init__(self, names: dict[Var, str]) -> None:
        self.names = names
        self.decls: list[str] = []
        self.args: list[str] = []
        self.seen: dict[tuple, str] = {}

    def load(self, a: Var, view: tuple[int, ...], load_of: Any, space: str = "") -> str:
        key = (space, id(a), view)
        if key not in self.seen:
            j = len(self.decls)
            self.decls.append(f"const {C_TYPES[a.dtype.name]}* __restrict__ in{j}")
            self.args.append(self.names[a])
            self.seen[key] = load_of(j, view)
        return self.seen[key]


class _Gen:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.names = value_names(graph)
        self.kernels: list[Kernel] = []
        self.body: list[str] = []
        self.uses: dict[Var, int] = {}
        for e in graph.eqns:
            for a in e.inputs:
                if isinstance(a, Var):
                    self.uses[a] = self.uses.get(a, 0) + 1
        for a in graph.outputs:
            if isinstance(a, Var):
                self.uses[a] = self.uses.get(a, 0) + 1
        self.producer = {o: e for e in graph.eqns for o in e.outputs}
        self.skipped: set[Var] = set()  # permutes read by a matmul, values folded into a reduction
        self.folded: dict[Eqn, Eqn] = {}  # reduction -> the elementwise op computed inside it
        self.broadcast_src: dict[Var, Var] = {}  # a broadcast read in place -> its source
        self.epilogue: dict[Eqn, Eqn] = {}  # reduction -> the elementwise op of its result
        self.in_epilogue: set[Eqn] = set()

    # ------------------------------------------------------------ helpers
    def kname(self, e: Eqn) -> str:
        return f"k{len(self.kernels)}_{_identifier(e.op)}"

    def add(self, e: Eqn, source: str, n_out: int, grid: tuple[int, int, int],
            args: list[str], block: tuple[int, int, int] = (BLOCK, 1, 1)) -> None:
        out = self.names[e.outputs[0]]
        t = e.outputs[0].type
        self.body.append(f"{out} = alloc({t.shape}, \"{t.dtype.name}\")")
        if n_out > 0:  # an empty result needs its buffer but no kernel
            name = self.kname(e)
            source = source.replace("KERNEL", name)
            self.kernels.append(Kernel(name, source, str(e.loc or e.op), grid, block, args))
            grid_s = f"({grid[0]}, {grid[1]}, {grid[2]})"
            ptrs = ", ".join(f"{a}.gpudata" for a in args)
            self.body.append(f"K.{name}.prepared_call({grid_s}, {block}, {ptrs})")

    def elementwise_grid(self, n: int) -> tuple[int, int, int]:
        return (max(1, min(MAX_GRID, -(-n // BLOCK))), 1, 1)

    # ------------------------------------------------------------ elementwise
    def elementwise(self, e: Eqn, operands: list[tuple[Atom, tuple[int, ...]]], expr_of,
                    ) -> None:
        """out[i] = expr(loads), each Var operand read through its view strides."""
        out = e.outputs[0]
        shape, n = out.shape, out.type.numel
        idx = _idx_type(n)
        contiguous = contiguous_strides(shape)
        needed: set[int] = set()
        ps = _Params(self.names)  # the same value read the same way is one parameter

        def load_of(p: int, view: tuple[int, ...], numel: int) -> str:
            if all(s == 0 for s in view):
                return f"in{p}[0]"
            if view == contiguous and numel == n:
                return f"in{p}[i]"
            needed.update(k for k, s in enumerate(view) if s)
            return f"in{p}[{_offset(view)}]"

        loads = ["" if isinstance(a, Literal) else
                 ps.load(a, view, lambda p, v, numel=a.type.numel: load_of(p, v, numel))
                 for a, view in operands]
        params = ps.decls + [f"{C_TYPES[out.dtype.name]}* __restrict__ out"]
        args = ps.args + [self.names[out]]
        if self._vectorizable(out, operands, loads, n):
            self._vector_kernel(e, operands, loads, expr_of, params, args, n)
            return
        body = "\n    ".join(_coords(shape, "i", needed))
        expr = expr_of(loads)
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL({', '.join(params)}) {{\n"
               f"  for ({idx} i = ({idx})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
               f"i += ({idx})blockDim.x * gridDim.x) {{\n"
               + (f"    {body}\n" if body else "")
               + f"    out[i] = ({C_TYPES[out.dtype.name]})({expr});\n  }}\n}}")
        self.add(e, src, n, self.elementwise_grid(n), args)

    @staticmethod
    def _vectorizable(out: Var, operands: list, loads: list[str], n: int) -> bool:
        """float32 in and out, every operand either the whole contiguous array or one
        value, and a multiple of 4 elements: then each thread moves float4s (128-bit
        loads and stores are what it takes to approach copy bandwidth)."""
        if out.dtype.name != "float32" or n % 4 or n < 4:
            return False
        for (a, _), ld in zip(operands, loads):
            if isinstance(a, Literal):
                continue
            if a.dtype.name != "float32" or not (ld.endswith("[i]") or ld.endswith("[0]")):
                return False
        return True

    def _vector_kernel(self, e: Eqn, operands: list, loads: list[str], expr_of,
                       params: list[str], args: list[str], n: int) -> None:
        lanes = "xyzw"
        pre = []
        for ld in dict.fromkeys(loads):
            if ld.endswith("[i]"):
                p = ld[2:-3]  # "in3[i]" -> "3"
                pre.append(f"const float4 v{p} = reinterpret_cast<const float4*>(in{p})[v];")
        body = []
        for lane in lanes:
            lane_loads = [f"v{ld[2:-3]}.{lane}" if ld.endswith("[i]") else ld for ld in loads]
            body.append(f"r.{lane} = (float)({expr_of(lane_loads)});")
        n4 = n // 4
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL({', '.join(params)}) {{\n"
               f"  // four elements per thread and iteration: 128-bit loads and stores\n"
               f"  for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < {n4}; v += blockDim.x * gridDim.x) {{\n"
               + "".join(f"    {ln}\n" for ln in pre)
               + "    float4 r;\n" + "".join(f"    {ln}\n" for ln in body)
               + "    reinterpret_cast<float4*>(out)[v] = r;\n  }\n}")
        grid = (max(1, min(65535, -(-n4 // BLOCK))), 1, 1)
        self.add(e, src, n, grid, args)

    # Each elementwise op is (its operands with their views of the output, a function
    # printing its value from their loads): a kernel of its own, or computed inside the
    # reduction that reads it or that it reads (self.folded, self.epilogue).
    def _parts(self, e: Eqn) -> tuple[list[tuple[Atom, tuple[int, ...]]], Any]:
        out = e.outputs[0]
        # an operand that is a broadcast_to used only here is read from its source: a
        # broadcast of a broadcast is one broadcast
        srcs = [self.broadcast_src.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        views = [(a, broadcast_view(a.shape, out.shape) if isinstance(a, Var) else ())
                 for a in srcs]
        if e.op == "permute":
            st = contiguous_strides(e.inputs[0].shape)
            return [(e.inputs[0], tuple(st[p] for p in e.params["perm"]))], lambda l: l[0]
        if e.op == "broadcast_to":
            return views, lambda l: l[0]
        if e.op == "cast":
            out_t = C_TYPES[out.dtype.name]
            if out.dtype.name == "bool":
                return views, lambda l: f"({l[0]} != 0)"
            return views, lambda l: f"({out_t})({l[0]})"
        if e.op == "where":
            compute_w = _compute_dtype(out.dtype.name)

            def where_of(loads: list[str]) -> str:
                vals = [_c_literal(a, compute_w) if isinstance(a, Literal) else ld
                        for a, ld in zip(e.inputs, loads)]
                vals[1:] = [_value(v, out.dtype.name) for v in vals[1:]]  # (one type for ?:)
                return f"({vals[0]} ? {vals[1]} : {vals[2]})"
            return views, where_of
        # a pointwise op or a fused chain: printed from its sympy formula
        expr = symbolic.formula(e.op, e.attrs, symbolic.literal_key(e))
        syms = symbolic.arg_symbols(len(e.inputs))
        compute = _compute_dtype(out.dtype.name if out.dtype.is_floating_point else next(
            (a.dtype.name for a in e.inputs if a.dtype.is_floating_point), "int64"))

        def expr_of(loads: list[str]) -> str:
            names = {}
            for s, a, ld in zip(syms, e.inputs, loads):
                names[s] = _c_literal(a, compute) if isinstance(a, Literal) else ld
            return print_c(expr, names, compute)
        return views, expr_of

    def pointwise(self, e: Eqn) -> None:
        self.elementwise(e, *self._parts(e))

    cast = where = broadcast_to = permute = pointwise

    def full(self, e: Eqn) -> None:
        out = e.outputs[0]
        lit = _c_literal(Literal(e.params["value"], out.dtype), out.dtype.name)
        self.elementwise(e, [], lambda l: lit)

    def iota(self, e: Eqn) -> None:
        out, dim = e.outputs[0], e.params["dim"]
        self.indexed(e, [], f"c{dim}" if out.ndim > 1 else "i", need_coords=out.ndim > 1)

    # ------------------------------------------------------------ indexed (gather-like)
    def indexed(self, e: Eqn, inputs: list[Var], expr: str, out: Var | None = None,
                need_coords: bool = True) -> None:
        """out[i] = expr, where expr reads in0.. (the Var inputs, in order) and the output
        coordinates c0..c{n-1}: flips, rolls, triangles, concatenation, gathers."""
        out = out or e.outputs[0]
        shape, n = out.shape, out.type.numel
        idx = _idx_type(n)
        params = [f"const {C_TYPES[a.dtype.name]}* __restrict__ in{j}" for j, a in enumerate(inputs)]
        params.append(f"{C_TYPES[out.dtype.name]}* __restrict__ out")
        coords = "\n    ".join(_coords(shape, "i", set(range(len(shape))))) if need_coords and shape else ""
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL({', '.join(params)}) {{\n"
               f"  for ({idx} i = ({idx})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
               f"i += ({idx})blockDim.x * gridDim.x) {{\n"
               + (f"    {coords}\n" if coords else "")
               + f"    out[i] = ({C_TYPES[out.dtype.name]})({expr});\n  }}\n}}")
        self.add(e, src, n, self.elementwise_grid(n), [self.names[a] for a in inputs] + [self.names[out]])

    def flip(self, e: Eqn) -> None:
        (x,) = e.inputs
        st = contiguous_strides(x.shape)
        dims = {d % max(x.ndim, 1) for d in e.params["dims"]}
        terms = [f"({x.shape[k] - 1} - c{k})*{st[k]}" if k in dims else f"c{k}*{st[k]}"
                 for k in range(x.ndim)]
        self.indexed(e, [x], f"in0[{' + '.join(terms) or '0'}]")

    def roll(self, e: Eqn) -> None:
        (x,) = e.inputs
        st = contiguous_strides(x.shape)
        shifts = dict(zip((d % max(x.ndim, 1) for d in e.params["dims"]), e.params["shifts"]))
        terms = []
        for k in range(x.ndim):
            if k in shifts and x.shape[k]:
                n = x.shape[k]
                terms.append(f"(((c{k} - {shifts[k] % n}) % {n} + {n}) % {n})*{st[k]}")
            else:
                terms.append(f"c{k}*{st[k]}")
        self.indexed(e, [x], f"in0[{' + '.join(terms) or '0'}]")

    def tri(self, e: Eqn) -> None:
        (x,) = e.inputs
        r, c, k = f"c{x.ndim - 2}", f"c{x.ndim - 1}", e.params["k"]
        keep = f"({c} - {r} >= {k})" if e.params["upper"] else f"({c} - {r} <= {k})"
        self.indexed(e, [x], f"{keep} ? {_value('in0[i]', x.dtype.name)} : 0")

    def concat(self, e: Eqn) -> None:
        from ...ir.ops.shape import is_skipped_in_cat

        out = e.outputs[0]
        dim = e.params["dim"] % max(out.ndim, 1)
        kept = [a for a in e.inputs if not is_skipped_in_cat(a.type)]
        expr, start = "0", 0
        pieces = []
        for j, a in enumerate(kept):
            st = contiguous_strides(a.shape)
            off = " + ".join(f"(c{k} - {start})*{st[k]}" if k == dim else f"c{k}*{st[k]}"
                             for k in range(a.ndim)) or "0"
            pieces.append((start + a.shape[dim], _value(f"in{j}[{off}]", a.dtype.name)))
            start += a.shape[dim]
        for end, load in reversed(pieces):
            expr = f"(c{dim} < {end} ? {load} : {expr})"
        self.indexed(e, kept, expr)

    def slice(self, e: Eqn) -> None:
        (x,) = e.inputs
        st = contiguous_strides(x.shape)
        p = e.params
        terms = [f"({s} + c{k}*{k_})*{st[k]}" for k, (s, k_) in enumerate(zip(p["starts"], p["steps"]))]
        self.indexed(e, [x], f"in0[{' + '.join(terms) or '0'}]")

    def pad(self, e: Eqn) -> None:
        (x,) = e.inputs
        st = contiguous_strides(x.shape)
        widths = e.params["widths"]
        inside = " && ".join(f"c{k} >= {lo} && c{k} < {lo + n}"
                             for k, ((lo, _), n) in enumerate(zip(widths, x.shape))) or "true"
        off = " + ".join(f"(c{k} - {lo})*{st[k]}" for k, (lo, _) in enumerate(widths)) or "0"
        value = e.params.get("value", 0)
        fill = _c_literal(Literal(value, x.dtype), x.dtype.name)
        self.indexed(e, [x], f"({inside}) ? {_value(f'in0[{off}]', x.dtype.name)} : {fill}")

    def gather(self, e: Eqn) -> None:
        x, idx = e.inputs
        dim = e.params["dim"] % max(x.ndim, 1)
        st = contiguous_strides(x.shape)
        terms = [(f"(in1[i] < 0 ? in1[i] + {x.shape[k]} : in1[i])*{st[k]}" if k == dim
                  else f"c{k}*{st[k]}") for k in range(x.ndim)]
        self.indexed(e, [x, idx], f"in0[{' + '.join(terms) or '0'}]")

    def embedding(self, e: Eqn) -> None:
        w, idx = e.inputs
        d = w.shape[1]
        self.indexed(e, [w, idx], f"in0[in1[i / {d}] * {d} + i % {d}]", need_coords=False)

    def _atomic_kernel(self, e: Eqn, n: int, params: list[str], body: str, args: list[str]) -> None:
        """A second kernel writing into an already allocated output (scatter-adds)."""
        if n == 0:
            return
        name = self.kname(e)
        idx = _idx_type(n)
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) {name}({', '.join(params)}) {{\n"
               f"  for ({idx} i = ({idx})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
               f"i += ({idx})blockDim.x * gridDim.x) {{\n{body}\n  }}\n}}")
        grid = self.elementwise_grid(n)
        self.kernels.append(Kernel(name, src, str(e.loc or e.op) + " (scatter)", grid, (BLOCK, 1, 1), args))
        ptrs = ", ".join(f"{a}.gpudata" for a in args)
        self.body.append(f"K.{name}.prepared_call(({grid[0]}, 1, 1), ({BLOCK}, 1, 1), {ptrs})")

    def scatter_add(self, e: Eqn) -> None:
        x, idx, src = e.inputs
        out = e.outputs[0]
        self.indexed(e, [x], "in0[i]", need_coords=False)  # out = copy of x
        dim = e.params["dim"] % max(x.ndim, 1)
        st = contiguous_strides(x.shape)
        coords = "\n    ".join(_coords(idx.shape, "i", set(range(idx.ndim)))) if idx.ndim else ""
        terms = [(f"(in0[i] < 0 ? in0[i] + {x.shape[k]} : in0[i])*{st[k]}" if k == dim
                  else f"c{k}*{st[k]}") for k in range(x.ndim)]
        ct = C_TYPES[out.dtype.name]
        load = "in1[0]" if src.ndim == 0 else "in1[i]"
        target = f"out[{' + '.join(terms) or '0'}]"
        add = (f"atomicAdd((unsigned long long*)&{target}, (unsigned long long){load})"
               if ct == "long long" else f"atomicAdd(&{target}, {load})")
        self._atomic_kernel(e, idx.type.numel, [
            f"const {C_TYPES[idx.dtype.name]}* __restrict__ in0",
            f"const {ct}* __restrict__ in1", f"{ct}* __restrict__ out"],
            (f"    {coords}\n" if coords else "") + f"    {add};",
            [self.names[idx], self.names[src], self.names[out]])

    def embedding_backward(self, e: Eqn) -> None:
        ct, idx = e.inputs
        out = e.outputs[0]
        lit = _c_literal(Literal(0, out.dtype), out.dtype.name)
        self.indexed(e, [], lit, need_coords=False)  # zeros
        d = out.shape[1] if out.ndim > 1 else 1
        pad = e.params.get("padding_idx")
        skip = f"if (row == {pad}) continue;\n    " if pad is not None else ""
        c = C_TYPES[out.dtype.name]
        self._atomic_kernel(e, ct.type.numel, [
            f"const {c}* __restrict__ in0", f"const {C_TYPES[idx.dtype.name]}* __restrict__ in1",
            f"{c}* __restrict__ out"],
            f"    const long long row = in1[i / {d}];\n    {skip}atomicAdd(&out[row * {d} + i % {d}], in0[i]);",
            [self.names[ct], self.names[idx], self.names[out]])

    # ------------------------------------------------------------ reductions
    def reduce(self, e: Eqn) -> None:
        (x,) = e.inputs
        out = e.outputs[0]
        if e.op in ("argmax", "argmin"):
            dims = (e.params["dim"],)
        else:
            dims = e.params["dims"]
        kept = [k for k in range(x.ndim) if k not in dims]
        st = contiguous_strides(x.shape)
        n_out = out.type.numel
        m = 1
        for d in dims:
            m *= x.shape[d]
        kept_shape = [x.shape[k] for k in kept]
        red_shape = [x.shape[d] for d in dims]
        base_coords = _coords(kept_shape, "o", set(range(len(kept))), "k")
        red_coords = _coords(red_shape, "r", set(range(len(dims))), "d")
        # the value reduced: x itself, or the elementwise op folded into this reduction
        # (softmax's exp(x - max), a masked sum) read from its operands through their views
        producer = self.folded.get(e)
        operands, expr_of = self._parts(producer) if producer else ([(x, st)], lambda l: l[0])
        ps = _Params(self.names)
        bases, offs = [], []

        def load_of(j: int, view: tuple[int, ...]) -> str:
            # the operand's offset splits into the kept dims' part and the reduced dims'
            bases.append(f"base{j} = " + (" + ".join(
                f"k{q}*{view[kd]}" for q, kd in enumerate(kept) if view[kd]) or "0") + ";")
            offs.append(f"off{j} = " + (" + ".join(
                f"d{q}*{view[dd]}" for q, dd in enumerate(dims) if view[dd]) or "0") + ";")
            return f"in{j}[base{j} + off{j}]"

        value = expr_of(["" if isinstance(a, Literal) else ps.load(a, view, load_of)
                         for a, view in operands])
        n_in = len(ps.decls)
        base_decl = "long long " + ", ".join(f"base{j}" for j in range(n_in)) + ";"
        off_decl = "long long " + ", ".join(f"off{j}" for j in range(n_in)) + ";"
        out_t = C_TYPES[out.dtype.name]
        if e.op in ("argmax", "argmin"):
            step = "tt_argmax_step" if e.op == "argmax" else "tt_argmin_step"
            acc_t = "double" if x.dtype.name == "float64" else ("float" if x.dtype.is_floating_point else "long long")
            loop = (f"    {acc_t} v = ({acc_t})({value});\n"
                    f"    {step}(best, bidx, v, (long long)r);")
            worst = ("-INFINITY" if e.op == "argmax" else "INFINITY") if x.dtype.is_floating_point \
                else ("LLONG_MIN" if e.op == "argmax" else "LLONG_MAX")
            init = f"  {acc_t} best = {worst}; long long bidx = LLONG_MAX;"
            finish = ("  // argmax across the block: lane values then warp leaders via shared memory\n"
                      "  __shared__ " + acc_t + " sv[32]; __shared__ long long si[32];\n"
                      "  for (int s = 16; s > 0; s >>= 1) {\n"
                      f"    {acc_t} v2 = __shfl_down_sync(0xffffffffu, best, s);\n"
                      "    long long i2 = __shfl_down_sync(0xffffffffu, bidx, s);\n"
                      f"    {step}(best, bidx, v2, i2);\n  }}\n"
                      "  if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = best; si[threadIdx.x >> 5] = bidx; }\n"
                      "  __syncthreads();\n"
                      "  if (threadIdx.x == 0) {\n"
                      f"    for (int w = 1; w < (blockDim.x + 31) / 32; ++w) {step}(best, bidx, sv[w], si[w]);\n"
                      "    out[o] = bidx;\n  }")
        elif e.op in ("all", "any"):
            op = "TtAll" if e.op == "all" else "TtAny"
            init = f"  int acc = {op}::id();"
            loop = f"    acc = {op}::op(acc, ({value}) != 0);"
            finish = (f"  acc = tt_block_reduce<int, {op}>(acc);\n"
                      f"  if (threadIdx.x == 0) out[o] = ({out_t})acc;")
        else:
            acc_t = _acc_type(out.dtype.name) if out.dtype.is_floating_point else "long long"
            op = {"sum": "TtSum", "amax": "TtMax", "amin": "TtMin", "prod": "TtProd"}[e.op]
            init = f"  {acc_t} acc = {op}<{acc_t}>::id();"
            loop = f"    acc = {op}<{acc_t}>::op(acc, ({acc_t})({value}));"
            write, out_t = self._final_write(e, ps)
            finish = (f"  acc = tt_block_reduce<{acc_t}, {op}<{acc_t}> >(acc);\n"
                      f"  if (threadIdx.x == 0) {write}")
        if (e.op in ("sum", "amax", "amin", "prod") and kept and kept[-1] == x.ndim - 1
                and n_out >= COLUMN_MIN_OUTPUTS):
            self._column_reduce(e, ps, base_coords, bases, red_coords, offs,
                                base_decl, off_decl, op, acc_t, out_t, m, n_out, loop, write)
            return
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
               f"{', '.join(ps.decls)}, {out_t}* __restrict__ out) {{\n"
               f"  const long long o = blockIdx.x;\n"
               f"  {base_decl}\n  {{\n    " + "\n    ".join(base_coords or ["(void)0;"]) +
               "\n    " + " ".join(bases) + "\n  }\n"
               f"{init}\n"
               f"  for (long long r = threadIdx.x; r < {m}; r += blockDim.x) {{\n"
               f"    {off_decl}\n    {{\n      " + "\n      ".join(red_coords or ["(void)0;"]) +
               "\n      " + " ".join(offs) + "\n    }\n"
               f"{loop}\n  }}\n{finish}\n}}")
        if n_out > 2**31 - 1:
            raise NotImplementedError("reductions with more than 2**31 outputs")
        final = self._result_eqn(e)
        self.add(final, src, n_out, (max(1, n_out), 1, 1), ps.args + [self.names[final.outputs[0]]])

    def _result_eqn(self, e: Eqn) -> Eqn:
        """The reduction as the equation whose output its kernel writes (its epilogue's)."""
        epi = self.epilogue.get(e)
        return e if epi is None else dataclasses.replace(e, outputs=epi.outputs)

    def _final_write(self, e: Eqn, ps: _Params) -> tuple[str, str]:
        """(the statement writing output o from `acc`, the output's C type); with an
        epilogue, its operands join the kernel's parameters, read at o's coordinates."""
        r = e.outputs[0]
        epi = self.epilogue.get(e)
        if epi is None:
            out_t = C_TYPES[r.dtype.name]
            return f"out[o] = ({out_t})acc;", out_t
        final = epi.outputs[0]
        out_t = C_TYPES[final.dtype.name]
        operands, expr_of = self._parts(epi)
        needed: set[int] = set()

        def load_of(j: int, view: tuple[int, ...]) -> str:
            needed.update(k for k, st in enumerate(view) if st)
            return f"in{j}[{_offset(view, 'q')}]"

        loads = ["" if isinstance(a, Literal) else f"(({C_TYPES[r.dtype.name]})acc)" if a is r
                 else ps.load(a, view, load_of, space="result") for a, view in operands]
        coords = " ".join(_coords(final.shape, "o", needed, "q"))
        value = expr_of(loads)
        return f"{{ {coords}{' ' if coords else ''}out[o] = ({out_t})({value}); }}", out_t

    def _column_reduce(self, e: Eqn, ps: _Params, base_coords: list[str],
                       bases: list[str], red_coords: list[str], offs: list[str], base_decl: str,
                       off_decl: str, op: str, acc_t: str, out_t: str, m: int, n_out: int,
                       loop: str, write: str) -> None:
        """A reduction that keeps the innermost dim (a bias gradient: sum over the batch):
        one block per 32 outputs, so a warp reads 32 neighbouring elements of a row (one
        block per output would read a column, one element per 32-byte sector), 8 rows at a
        time, then the 8 partial results combine in shared memory."""
        src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
               f"{', '.join(ps.decls)}, {out_t}* __restrict__ out) {{\n"
               f"  const long long o = (long long)blockIdx.x * 32 + threadIdx.x;\n"
               f"  {acc_t} acc = {op}<{acc_t}>::id();\n"
               f"  if (o < {n_out}) {{\n"
               f"    {base_decl}\n    {{\n      " + "\n      ".join(base_coords) +
               "\n      " + " ".join(bases) + "\n    }\n"
               f"    for (long long r = threadIdx.y; r < {m}; r += 8) {{\n"
               f"      {off_decl}\n      {{\n        " + "\n        ".join(red_coords or ["(void)0;"]) +
               "\n        " + " ".join(offs) + "\n      }\n"
               f"  {loop}\n    }}\n  }}\n"
               f"  __shared__ {acc_t} part[8][33];\n"
               "  part[threadIdx.y][threadIdx.x] = acc;\n"
               "  __syncthreads();\n"
               f"  if (threadIdx.y == 0 && o < {n_out}) {{\n"
               f"    for (int y = 1; y < 8; ++y) acc = {op}<{acc_t}>::op(acc, part[y][threadIdx.x]);\n"
               f"    {write}\n  }}\n}}")
        final = self._result_eqn(e)
        self.add(final, src, n_out, (-(-n_out // 32), 1, 1), ps.args + [self.names[final.outputs[0]]],
                 (32, 8, 1))

    # ------------------------------------------------------------ matmul
    def matmul(self, e: Eqn) -> None:
        a, b = e.inputs
        out = e.outputs[0]
        a_shape = a.shape if a.ndim >= 2 else (1,) + a.shape
        b_shape = b.shape if b.ndim >= 2 else b.shape + (1,)
        m, k = a_shape[-2], a_shape[-1]
        n = b_shape[-1]
        batch = tuple(out.shape[: max(0, out.ndim - (2 if a.ndim >= 2 and b.ndim >= 2 else 1))])
        if a.ndim < 2 or b.ndim < 2:
            batch = tuple(out.shape[: len(out.shape) - (a.ndim >= 2) - (b.ndim >= 2)])
        nb = 1
        for s in batch:
            nb *= s
        # operand strides: (row, col) and per batch dim; a transposed operand is read in place
        src_a, (sam, sak), a_bst = self._matrix_view(a, a_shape, batch)
        src_b, (sbk, sbn), b_bst = self._matrix_view(b, b_shape, batch)
        ct = C_TYPES[out.dtype.name]
        at = _acc_type(out.dtype.name)  # float16 products accumulate in float
        cv = f"({at})" if at != ct else ""
        bcoords = _coords(batch, "bz", set(range(len(batch))), "z")
        a_off = " + ".join(f"z{j}*{s}" for j, s in enumerate(a_bst) if s) or "0"
        b_off = " + ".join(f"z{j}*{s}" for j, s in enumerate(b_bst) if s) or "0"
        zero = "0"
        # The block tile shrinks until the blocks fill the GPU's multiprocessors (a
        # 256x784 @ 784x256 layer has only 4 tiles of 128x128, leaving 128 SMs idle):
        # T x T outputs per block of 16x16 threads, R x R per thread, L loads per thread
        # and operand per step of 8 along k.
        t = 128
        while t > 32 and -(-m // t) * -(-n // t) * nb < SM_COUNT:
            t //= 2
        r, ld = t // 16, t // 32
        src = f"""extern "C" __global__ void __launch_bounds__(256) KERNEL(const {ct}* __restrict__ A, const {ct}* __restrict__ B, {ct}* __restrict__ C) {{
  // C[{m}x{n}] = A[{m}x{k}] @ B[{k}x{n}] per batch; {t}x{t} block tile, {r}x{r} per thread
  const long long bz = blockIdx.z;
  long long a_off, b_off;
  {{
    {" ".join(bcoords) if bcoords else "(void)bz;"}
    a_off = {a_off};
    b_off = {b_off};
  }}
  A += a_off; B += b_off; C += bz * {m * n}LL;
  __shared__ {at} As[8][{t}];
  __shared__ {at} Bs[8][{t}];
  {at} acc[{r}][{r}];
  for (int i = 0; i < {r}; ++i) for (int j = 0; j < {r}; ++j) acc[i][j] = {zero};
  const int tid = threadIdx.x;
  const int row0 = blockIdx.y * {t}, col0 = blockIdx.x * {t};
  const int trow = (tid / 16) * {r}, tcol = (tid % 16) * {r};
  for (int k0 = 0; k0 < {k}; k0 += 8) {{
    for (int l = 0; l < {ld}; ++l) {{
      const int idx = tid + l * 256;
      const int am = idx / 8, ak = idx % 8;
      const int r = row0 + am, c = k0 + ak;
      As[ak][am] = (r < {m} && c < {k}) ? {cv}A[(long long)r * {sam} + (long long)c * {sak}] : {zero};
      const int bk = idx / {t}, bn = idx % {t};
      const int r2 = k0 + bk, c2 = col0 + bn;
      Bs[bk][bn] = (r2 < {k} && c2 < {n}) ? {cv}B[(long long)r2 * {sbk} + (long long)c2 * {sbn}] : {zero};
    }}
    __syncthreads();
    #pragma unroll
    for (int kk = 0; kk < 8; ++kk) {{
      {at} ra[{r}], rb[{r}];
      #pragma unroll
      for (int i = 0; i < {r}; ++i) ra[i] = As[kk][trow + i];
      #pragma unroll
      for (int j = 0; j < {r}; ++j) rb[j] = Bs[kk][tcol + j];
      #pragma unroll
      for (int i = 0; i < {r}; ++i)
        #pragma unroll
        for (int j = 0; j < {r}; ++j) acc[i][j] += ra[i] * rb[j];
    }}
    __syncthreads();
  }}
  for (int i = 0; i < {r}; ++i) {{
    const int r = row0 + trow + i;
    if (r >= {m}) break;
    for (int j = 0; j < {r}; ++j) {{
      const int c = col0 + tcol + j;
      if (c < {n}) C[(long long)r * {n} + c] = acc[i][j];
    }}
  }}
}}"""
        if nb > 65535:
            raise NotImplementedError("matmul with more than 65535 batches")
        grid = (max(1, -(-n // t)), max(1, -(-m // t)), max(1, nb))
        self.add(e, src, m * n * nb, grid, [src_a, src_b, self.names[out]])

    def _transpose_read_in_place(self, v: Any) -> bool:
        """A last-two-dims transpose whose only user is a matmul: no kernel of its own."""
        p = self.producer.get(v)
        return (p is not None and p.op == "permute" and self.uses.get(v, 0) == 1 and v.ndim >= 2
                and p.params["perm"] == tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2))

    def _matrix_view(self, v: Var, mshape: tuple[int, ...], batch: tuple[int, ...]
                     ) -> tuple[str, tuple[int, int], tuple[int, ...]]:
        """(buffer name, (row stride, col stride), batch strides over `batch`)."""
        src, shape, strides = v, mshape, contiguous_strides(mshape)
        if self._transpose_read_in_place(v):
            # read the transpose's input with swapped strides
            x = self.producer[v].inputs[0]
            xs = contiguous_strides(x.shape)
            strides = xs[:-2] + (xs[-1], xs[-2])
            src = x
        lead = len(batch) - (len(shape) - 2)
        bst = []
        for j, n in enumerate(batch):
            i = j - lead
            bst.append(0 if i < 0 or shape[i] == 1 and n != 1 else strides[i])
        return self.names[src], (strides[-2], strides[-1]), tuple(bst)

    # ------------------------------------------------------------ driver
    def run(self) -> None:
        # transposes read in place by a matmul need no kernel of their own
        self.skipped = {a for e in self.graph.eqns if e.op == "matmul" for a in e.inputs
                        if self._transpose_read_in_place(a)}
        # a broadcast_to whose only user is elementwise needs no buffer: that user reads
        # the source through broadcast strides
        users = {a: e for e in self.graph.eqns for a in e.inputs if isinstance(a, Var)}
        for e in self.graph.eqns:
            x = e.outputs[0]
            user = users.get(x)
            if (e.op == "broadcast_to" and self.uses.get(x) == 1 and user is not None
                    and user.op != "permute" and (user.op in FOLDABLE_OPS or get_op(user.op).is_pointwise)
                    and isinstance(e.inputs[0], Var)):
                self.broadcast_src[x] = self.broadcast_src.get(e.inputs[0], e.inputs[0])
                self.skipped.add(x)
        # an elementwise op whose only user is a reduction is computed inside it
        for e in self.graph.eqns:
            x = e.inputs[0] if e.op in REDUCE_OPS else None
            p = self.producer.get(x) if isinstance(x, Var) else None
            if (p is not None and self.uses.get(x) == 1 and x not in self.skipped
                    and (p.op in FOLDABLE_OPS or get_op(p.op).is_pointwise)):
                self.folded[e] = p
                self.skipped.add(x)
        # a reduction's only user, elementwise over the reduction's result, is computed in
        # the reduction's final write (a mean's division, the log of a softmax's sum)
        position = {v: j for j, e in enumerate(self.graph.eqns) for v in e.outputs}
        for j, e in enumerate(self.graph.eqns):
            r = e.outputs[0]
            c = users.get(r) if e.op in ("sum", "amax", "amin", "prod") else None
            if (c is None or self.uses.get(r) != 1 or c.outputs[0] in self.skipped
                    or c.outputs[0].shape != r.shape or c.op in ("permute", "broadcast_to")
                    or not (c.op in FOLDABLE_OPS or get_op(c.op).is_pointwise)):
                continue
            # its other operands must exist when the reduction runs
            if all(isinstance(a, Literal) or a is r or position.get(a, -1) < j
                   for a, _ in self._parts(c)[0]):
                self.epilogue[e] = c
                self.in_epilogue.add(c)
        loc = None
        for e in self.graph.eqns:
            if e.loc is not None and e.loc != loc:
                self.body.append(f"# {e.loc}")
            loc = e.loc
            out = e.outputs[0]
            if out in self.skipped or e in self.in_epilogue:
                continue
            op = get_op(e.op)
            if e.op in ALIAS_OPS:
                src = e.inputs[0]
                if isinstance(src, Literal):
                    raise NotImplementedError("reshape of a literal")
                self.body.append(f"{self.names[out]} = {self.names[src]}.reshape({out.shape})")
            elif op.is_pointwise:
                self.pointwise(e)
            elif e.op in REDUCE_OPS:
                self.reduce(e)
            elif hasattr(self, e.op):
                getattr(self, e.op)(e)
            elif e.op in FAMILY_KERNELS:
                FAMILY_KERNELS[e.op](self, e)
            else:
                raise NotImplementedError(
                    f"op {e.op!r} has no CUDA kernel yet (at {e.loc or 'graph ' + self.graph.name})")


# float16 storage, defined in modules that hold float16 data. Values convert to float for
# every operation (torch's kernels compute half values in float too); with one conversion
# each way, mixed expressions are unambiguous (__half itself converts to every built-in type).
HALF_PREAMBLE = """\
#include <cuda_fp16.h>
struct tt_half {
  __half h;
  tt_half() = default;
  __device__ tt_half(float f) : h(__float2half(f)) {}
  __device__ operator float() const { return __half2float(h); }
};
__device__ __forceinline__ float atomicAdd(tt_half* p, float v) {
  return __half2float(atomicAdd(&p->h, __float2half(v)));
}
"""


# Kernel printers kept in their own modules by family (indexing, windows, scans and
# statistics, random numbers): op name -> printer(gen, eqn), filled by @family_kernel.
FAMILY_KERNELS: dict[str, Any] = {}


def family_kernel(*ops: str):
    """Register a printer `fn(gen: _Gen, e: Eqn) -> None` for `ops`."""
    def deco(fn):
        for op in ops:
            FAMILY_KERNELS[op] = fn
        return fn
    return deco


def generate(graph: Graph, fn_name: str | None = None) -> CudaModule:
    """CUDA source and host launcher for `graph` (after autodiff: detach is dropped and
    pointwise chains fused here)."""
    graph = fuse_pointwise(strip_detach(graph), duplicate=True)  # memory-bound: recompute
    # literal outputs need a buffer: materialize them with `full`
    outs = []
    eqns = list(graph.eqns)
    for a in graph.outputs:
        if isinstance(a, Literal):
            v = Var(TensorType((), a.dtype), "const")
            eqns.append(Eqn("full", (), (v,), (("dtype", a.dtype), ("shape", ()), ("value", a.value))))
            outs.append(v)
        else:
            outs.append(a)
    graph = Graph(graph.name, graph.inputs, eqns, outs, graph.meta)
    g = _Gen(graph)
    g.run()
    fn = fn_name or _identifier(graph.name)
    names = g.names
    half = any(v.dtype.name == "float16" for v in graph.vars_defined())
    cuda = _env().get_template("kernels.cu.j2").render(
        version=VERSION, graph_name=graph.name, preamble=PREAMBLE, kernels=g.kernels,
        half_preamble=HALF_PREAMBLE if half else "")
    sig = ", ".join(f"{names[v]}: {v.type}" for v in graph.inputs)
    launcher = _env().get_template("launcher.py.j2").render(
        version=VERSION, graph_name=graph.name, fn_name=fn,
        params=[names[v] for v in graph.inputs], body=g.body,
        signature=f"{graph.name}({sig}) -> ({', '.join(str(a.type) for a in outs)})",
        returns=[names[a] for a in outs])
    return CudaModule(cuda, launcher, fn, g.kernels)


# the family modules register themselves on import (they use the helpers above)
from . import families  # noqa: E402,F401

__all__ = ["generate", "CudaModule", "Kernel", "family_kernel"]
