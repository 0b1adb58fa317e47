"""Native CPU backend: the fused regions of a graph as C kernels, the rest as NumPy.

The Python side is the NumPy backend's function (one statement per equation, source
comments, dels) in which each region is a call of a small wrapper; the wrapper hands
contiguous buffers to a C kernel through ctypes. Matmul stays on BLAS through NumPy.

Kernels are printed with static shapes: dims that are contiguous for every operand are
merged, the innermost loop is `omp simd` (float math through glibc's vector math
library where there is one), the outer loops are one `omp parallel for`. A reduction
keeps its accumulator in registers when it runs along the innermost dim and in a small
block of accumulators when it runs across it. float32 sums accumulate in double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import jinja2
import sympy

from ...ir.graph import Atom, Eqn, Graph, Literal, Var
from ...ir.printer import value_names
from ...ir.shapes import broadcast_shapes
from ..cfamily.printer import C_TYPES, PREAMBLE, print_c
from ..cuda.generator import broadcast_view, contiguous_strides
from ..numpy.generator import names_safe, render_function
from . import regions

VERSION = "0.1.0"
PARALLEL_MIN = 1 << 15  # elements below which a kernel runs on one thread
COL_BLOCK = 64  # accumulators per block when reducing across the innermost dim
REDUCE_INIT = {"sum": "0", "prod": "1", "amax": "-INFINITY", "amin": "INFINITY"}
# math functions glibc's libmvec has vector versions of (float and double)
VECTOR_MATH = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
               "asinh", "acosh", "atanh", "expm1", "log1p", "log2", "log10", "exp2", "erf",
               "erfc", "cbrt", "pow", "atan2", "hypot")  # fmt: skip
_TWO_ARG = ("pow", "atan2", "hypot")


@dataclass
class CKernel:
    name: str
    n_args: int


@dataclass
class CModule:
    """What the C backend generates for one graph: the Python function (calls the
    kernels through `_lib`) and the C translation unit that defines the kernels."""

    py_source: str
    c_source: str
    fn_name: str
    kernels: list[CKernel] = field(default_factory=list)
    n_slots: int = 0

    @property
    def text(self) -> str:
        """Both sources, as `.source()` shows them."""
        if not self.kernels:
            return self.py_source
        return self.py_source + "\n\n/* ---- kernels.c ---- */\n" + self.c_source

    def to_dict(self) -> dict:
        return {"py": self.py_source, "c": self.c_source, "fn": self.fn_name,
                "kernels": [[k.name, k.n_args] for k in self.kernels], "slots": self.n_slots}

    @classmethod
    def from_dict(cls, d: dict) -> "CModule":
        return cls(d["py"], d["c"], d["fn"], [CKernel(n, a) for n, a in d["kernels"]], d["slots"])


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def _literal(a: Literal) -> str:
    v = a.value
    if a.dtype.name == "bool":
        return "1" if v else "0"
    if a.dtype.name in regions.FLOATS:
        f = float(v)
        if math.isnan(f):
            return "NAN"
        if math.isinf(f):
            return "INFINITY" if f > 0 else "-INFINITY"
        return repr(f) + ("F" if a.dtype.name == "float32" else "")
    return f"{int(v)}LL"


def merge_dims(shape: Sequence[int], views: list[Sequence[int]], flags: Sequence[bool] | None = None,
               ) -> tuple[list[int], list[list[int]], list[bool]]:
    """Drop size-1 dims and merge neighbours that are contiguous for every operand (and
    of the same kind, reduced or kept): a [4096,1000] add of two dense arrays is one loop
    of 4096000. Returns the merged sizes, strides per operand and kinds."""
    flags = list(flags) if flags is not None else [False] * len(shape)
    sizes: list[int] = []
    strides: list[list[int]] = [[] for _ in views]
    kinds: list[bool] = []
    for k, n in enumerate(shape):
        if n == 1:
            continue
        if sizes and kinds[-1] == flags[k] and all(
                st[-1] == v[k] * n for st, v in zip(strides, views)):
            sizes[-1] *= n
            for st, v in zip(strides, views):
                st[-1] = v[k]
            continue
        sizes.append(n)
        kinds.append(flags[k])
        for st, v in zip(strides, views):
            st.append(v[k])
    return sizes, strides, kinds


def _decompose(sizes: list[int], var: str, prefix: str) -> list[str]:
    """C statements splitting flat index `var` into coordinates prefix0..prefixN."""
    if not sizes:
        return []
    if len(sizes) == 1:
        return [f"const long long {prefix}0 = {var};"]
    lines = [f"long long _r{prefix} = {var};"]
    for k in range(len(sizes) - 1, 0, -1):
        lines.append(f"const long long {prefix}{k} = _r{prefix} % {sizes[k]}; _r{prefix} /= {sizes[k]};")
    lines.append(f"const long long {prefix}0 = _r{prefix};")
    return lines


def _offset(coords: list[str], strides: Sequence[int]) -> str:
    terms = [c if s == 1 else f"{c}*{s}" for c, s in zip(coords, strides) if s]
    return " + ".join(terms) or "0"


class _KernelWriter:
    """Prints one kernel: loads through static strides, the expression, the loops."""

    def __init__(self, name: str, e: Eqn, iter_shape: tuple[int, ...]) -> None:
        self.name, self.e = name, e
        out = e.outputs[0]
        self.compute = out.dtype.name
        self.ctype = C_TYPES[self.compute]
        self.iter_shape = iter_shape
        self.params: list[Var] = []  # distinct Var operands, in order
        self.views: list[tuple[int, ...]] = []
        self.syms = [sympy.Symbol(f"x{i}", real=True) for i in range(len(e.inputs))]
        self.expr = e.params["expr"]
        for a in e.inputs:
            if isinstance(a, Var) and a not in self.params:
                self.params.append(a)
                self.views.append(broadcast_view(a.shape, iter_shape))

    def signature(self) -> str:
        ps = [f"const {C_TYPES[v.dtype.name]}* restrict in{j}" for j, v in enumerate(self.params)]
        ps.append(f"{self.ctype}* restrict out")
        return f"void {self.name}({', '.join(ps)})"

    def value(self, offsets: list[str]) -> str:
        """The expression with operand j read at offsets[j]."""
        names: dict[sympy.Symbol, str] = {}
        for s, a in zip(self.syms, self.e.inputs):
            if isinstance(a, Literal):
                names[s] = _literal(a)
            else:
                names[s] = f"in{self.params.index(a)}[{offsets[self.params.index(a)]}]"
        return print_c(self.expr, names, self.compute)

    def comment(self) -> str:
        where = f"  ({self.e.loc})" if self.e.loc else ""
        text = str(self.expr).replace("*/", "* /")
        if len(text) > 200:
            text = text[:197] + "..."
        return f"/* {self.e.outputs[0].type} = {self.e.op}: {text}{where} */"

    # ------------------------------------------------------------ pointwise
    def pointwise(self) -> str:
        n = math.prod(self.iter_shape)
        sizes, strides, _ = merge_dims(self.iter_shape, self.views + [contiguous_strides(self.iter_shape)])
        if not sizes:
            sizes, strides = [1], [[0] for _ in strides]
        *outer, inner = sizes
        par = f" if({n} >= {PARALLEL_MIN})"
        lines = [self.comment(), self.signature() + " {"]
        coords = [f"o{k}" for k in range(len(outer))]
        offs = [_offset(coords, st[:-1]) for st in strides]
        inner_offs = [o if st[-1] == 0 else (f"{o} + i" if st[-1] == 1 else f"{o} + i*{st[-1]}")
                      for o, st in zip(offs, strides)]
        inner_offs = [s.replace("0 + ", "") if s.startswith("0 + ") else s for s in inner_offs]
        body = f"out[{inner_offs[-1]}] = ({self.ctype})({self.value(inner_offs[:-1])});"
        if not outer:
            lines += [f"  #pragma omp parallel for simd schedule(static){par}",
                      f"  for (long long i = 0; i < {inner}; i++) {{", f"    {body}", "  }"]
        else:
            lines += [f"  #pragma omp parallel for schedule(static){par}",
                      f"  for (long long o = 0; o < {math.prod(outer)}; o++) {{"]
            lines += [f"    {ln}" for ln in _decompose(outer, "o", "o")]
            lines += ["    #pragma omp simd", f"    for (long long i = 0; i < {inner}; i++) {{",
                      f"      {body}", "    }", "  }"]
        return "\n".join(lines + ["}"])

    # ------------------------------------------------------------ reductions
    def reduction(self) -> str:
        op = self.e.op
        p = self.e.params
        nd = len(self.iter_shape)
        dims = {d % nd for d in p["dims"]} if nd else set()
        flags = [k in dims for k in range(nd)]
        kept_shape = [n for k, n in enumerate(self.iter_shape) if k not in dims]
        kst = contiguous_strides(kept_shape)
        it = iter(kst)
        out_view = [0 if k in dims else next(it) for k in range(nd)]
        sizes, strides, kinds = merge_dims(self.iter_shape, self.views + [out_view], flags)
        n = math.prod(self.iter_shape)
        acc_t = "double" if (op == "sum" and self.compute == "float32") else self.ctype
        lines = [self.comment(), self.signature() + " {"]
        if kinds and not kinds[-1]:
            lines += self._across(op, sizes, strides, kinds, acc_t, n)
        else:
            lines += self._along(op, sizes, strides, kinds, acc_t, n)
        return "\n".join(lines + ["}"])

    def _combine(self, op: str, acc: str, v: str) -> str:
        if op == "sum":
            return f"{acc} += {v};"
        if op == "prod":
            return f"{acc} *= {v};"
        f = {"amax": "tt_max", "amin": "tt_min"}[op] + ("f" if self.compute == "float32" else "")
        return f"{acc} = {f}({acc}, {v});"

    def _along(self, op: str, sizes, strides, kinds, acc_t, n) -> list[str]:
        """Reduced innermost dim: one accumulator per output, in a register."""
        kept = [s for s, k in zip(sizes, kinds) if not k]
        red = [s for s, k in zip(sizes, kinds) if k] or [1]
        kst = [[st for st, k in zip(sv, kinds) if not k] for sv in strides]
        rst = [[st for st, k in zip(sv, kinds) if k] or [0] for sv in strides]
        n_out = math.prod(kept)
        *router, rin = red
        kc = [f"o{k}" for k in range(len(kept))]
        rc = [f"r{k}" for k in range(len(router))]
        base = [" + ".join(t for t in (_offset(kc, ks), _offset(rc, rs[:-1])) if t != "0") or "0"
                for ks, rs in zip(kst, rst)]
        offs = [b if rs[-1] == 0 else (f"{b} + i" if rs[-1] == 1 else f"{b} + i*{rs[-1]}")
                for b, rs in zip(base, rst)]
        offs = [s[4:] if s.startswith("0 + ") else s for s in offs]
        v = self.value(offs[:-1])
        flt = self.compute in regions.FLOATS
        vector_minmax = op in ("amax", "amin") and flt
        fm = ("fmaxf" if op == "amax" else "fminf") if self.compute == "float32" else (
            "fmax" if op == "amax" else "fmin")
        clause = {"sum": "reduction(+:acc)", "prod": "reduction(*:acc)"}.get(
            op, f"reduction({'max' if op == 'amax' else 'min'}:acc) reduction(|:seen_nan)")
        step = (f"const {self.ctype} v = {v}; acc = {fm}(acc, v); seen_nan |= (v != v);"
                if vector_minmax else f"acc += {v};" if op == "sum" else f"acc *= {v};")
        final = "(seen_nan ? NAN : acc)" if vector_minmax else "acc"
        par = f" if({n} >= {PARALLEL_MIN})"
        out: list[str] = []
        one_output = n_out == 1
        if one_output:
            out += ["  {", "    const long long o = 0;"]
        else:
            out += [f"  #pragma omp parallel for schedule(static){par}",
                    f"  for (long long o = 0; o < {n_out}; o++) {{"]
        out += [f"    {ln}" for ln in _decompose(kept, "o", "o")]
        out.append(f"    {acc_t} acc = {REDUCE_INIT[op]}; int seen_nan = 0; (void)seen_nan;")
        if router:
            if one_output:
                out.append(f"    #pragma omp parallel for {clause}{par}")
            out.append(f"    for (long long r = 0; r < {math.prod(router)}; r++) {{")
            out += [f"      {ln}" for ln in _decompose(router, "r", "r")]
            out.append(f"      #pragma omp simd {clause}")
        else:
            out.append(f"    #pragma omp {'parallel for simd' if one_output else 'simd'} {clause}"
                       + (par if one_output else ""))
        out.append(f"    for (long long i = 0; i < {rin}; i++) {{ {step} }}")
        if router:
            out.append("    }")
        out.append(f"    out[o] = ({self.ctype}){final};")
        out.append("  }")
        return out

    def _across(self, op: str, sizes, strides, kinds, acc_t, n) -> list[str]:
        """Kept innermost dim: a block of accumulators, the inner loop over the block."""
        kept = [s for s, k in zip(sizes, kinds) if not k]
        red = [s for s, k in zip(sizes, kinds) if k]
        kst = [[st for st, k in zip(sv, kinds) if not k] for sv in strides]
        rst = [[st for st, k in zip(sv, kinds) if k] for sv in strides]
        *kouter, j_n = kept
        nblk = -(-j_n // COL_BLOCK)
        kc = [f"o{k}" for k in range(len(kouter))]
        rc = [f"r{k}" for k in range(len(red))]
        offs = []
        for ks, rs in zip(kst, rst):
            base = " + ".join(t for t in (_offset(kc, ks[:-1]), _offset(rc, rs)) if t != "0") or "0"
            j = "(j0 + j)" if ks[-1] == 1 else (f"(j0 + j)*{ks[-1]}" if ks[-1] else "")
            offs.append(" + ".join(t for t in (base if base != "0" else "", j) if t) or "0")
        v = self.value(offs[:-1])
        par = f" if({n} >= {PARALLEL_MIN})"
        out = [f"  #pragma omp parallel for schedule(static){par}",
               f"  for (long long ob = 0; ob < {math.prod(kouter) * nblk}; ob++) {{",
               f"    const long long o = ob / {nblk}, j0 = (ob % {nblk}) * {COL_BLOCK};",
               f"    const long long jn = {j_n} - j0 < {COL_BLOCK} ? {j_n} - j0 : {COL_BLOCK};"]
        out += [f"    {ln}" for ln in _decompose(kouter, "o", "o")]
        out.append(f"    {acc_t} acc[{COL_BLOCK}];")
        out.append(f"    for (long long j = 0; j < jn; j++) acc[j] = {REDUCE_INIT[op]};")
        out.append(f"    for (long long r = 0; r < {math.prod(red)}; r++) {{")
        out += [f"      {ln}" for ln in _decompose(red, "r", "r")]
        out.append("      #pragma omp simd")
        out.append(f"      for (long long j = 0; j < jn; j++) {{ {self._combine(op, 'acc[j]', v)} }}")
        out.append("    }")
        out.append(f"    for (long long j = 0; j < jn; j++) out[o*{j_n} + j0 + j] = ({self.ctype})acc[j];")
        out.append("  }")
        return out


def _wrapper(k: _KernelWriter, slot: int, loc: str) -> str:
    """The Python function that calls kernel `k`: contiguous operands, a pooled output."""
    out = k.e.outputs[0]
    args = [f"x{j}" for j in range(len(k.params))]
    lines = [f"def _{k.name}({', '.join(args)}):",
             f"    # {out.type} = {k.e.op} kernel{(' for ' + loc) if loc else ''}"]
    ptrs = []
    for j, v in enumerate(k.params):
        lines.append(f"    x{j} = np.ascontiguousarray(x{j}, dtype=np.{v.dtype.name})")
        ptrs.append(f"x{j}.ctypes.data")
    lines.append(f"    out = _out({slot}, {out.shape}, np.{out.dtype.name})")
    lines.append(f"    _lib.{k.name}({', '.join(ptrs + ['out.ctypes.data'])})")
    lines.append("    return out")
    return "\n".join(lines)


def generate(graph: Graph, fn_name: str | None = None, threshold: int | None = None) -> CModule:
    """The C backend's module for `graph`."""
    fused, pointwise, reductions = regions.plan(graph, threshold)
    kernels: list[_KernelWriter] = []
    calls: dict[int, str] = {}
    for e in fused.eqns:
        out = e.outputs[0]
        if out in pointwise or out in reductions:
            iter_shape = out.shape if out in pointwise else broadcast_shapes(
                *(a.shape for a in e.inputs))
            k = _KernelWriter(f"k{len(kernels)}_{names_safe(out.hint)}", e, tuple(iter_shape))
            try:
                k.source = k.pointwise() if out in pointwise else k.reduction()  # type: ignore[attr-defined]
            except (NotImplementedError, TypeError, ValueError):
                continue  # not printable as C: this equation stays NumPy
            if "Not supported in C" in k.source:  # type: ignore[attr-defined]
                continue
            calls[id(e)] = k.name
            kernels.append(k)
    if any(e.op in regions.REDUCE_OPS and "expr" in e.params and id(e) not in calls
           for e in fused.eqns):
        # a fused reduction that could not be printed: generate from the unfused graph
        fused, kernels, calls = graph, [], {}

    def emit(e: Eqn, args: list[str]) -> str | None:
        name = calls.get(id(e))
        if name is None:
            return None
        k = next(k for k in kernels if k.name == name)
        names = dict(zip(e.inputs, args))
        return f"_{name}({', '.join(names[v] for v in k.params)})"

    fn = fn_name or names_safe(graph.name)
    function = render_function(fused, fn, emit=emit)
    wrappers = [_wrapper(k, j, str(k.e.loc or "")) for j, k in enumerate(kernels)]
    py = _env().get_template("module.py.j2").render(
        version=VERSION, graph_name=graph.name, wrappers=wrappers, function=function,
        n_kernels=len(kernels))
    c = _env().get_template("kernels.c.j2").render(
        version=VERSION, graph_name=graph.name, kernels=[k.source for k in kernels],  # type: ignore[attr-defined]
        vector_math=VECTOR_MATH, two_arg=_TWO_ARG, preamble=PREAMBLE) if kernels else ""
    return CModule(py, c, fn, [CKernel(k.name, len(k.params) + 1) for k in kernels], len(kernels))


__all__ = ["CModule", "CKernel", "generate", "merge_dims"]
