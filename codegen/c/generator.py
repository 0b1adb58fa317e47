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
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import jinja2
import sympy

from ...ir.graph import Atom, Eqn, Graph, Literal, Var
from ...ir.opdef import REGISTRY
from ...ir.printer import value_names
from ...ir.shapes import broadcast_shapes
from ..cfamily.printer import C_TYPES, PREAMBLE, print_c
from ..cuda.generator import broadcast_view, contiguous_strides
from ..numpy.generator import names_safe, render_function
from . import regions
from .attention import AttentionKernel
from .bmm import BatchedMatmulKernel
from .cells import CellKernel
from .embedding import EmbeddingBackwardKernel
from .optim import AdamKernel

# units printed from a template, one equation each (the unit interface: e, name, params,
# outputs, source, args; fits(e) says which equations they take)
TEMPLATE_UNITS = (AttentionKernel, CellKernel, AdamKernel, EmbeddingBackwardKernel,
                  BatchedMatmulKernel)

VERSION = "0.1.0"
PARALLEL_MIN = 1 << 18  # elements below which a kernel runs on one thread (see runtime/native.py)
# row groups and reductions along the rows do more per element (a softmax's exp, a layer
# norm's statistics): with the matmuls on the same threads (runtime/blas_threads.py) they
# pay for a parallel region from here (a GPT step's softmax backward sums 0.65 -> 0.37 ms)
ROW_PARALLEL_MIN = 1 << 16
COL_BLOCK = 64  # accumulators per block when reducing across the innermost dim
REDUCE_INIT = {"sum": "0", "prod": "1", "amax": "-INFINITY", "amin": "INFINITY"}
# math functions glibc's libmvec has vector versions of (float and double)
VECTOR_MATH = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
               "asinh", "acosh", "atanh", "expm1", "log1p", "log2", "log10", "exp2", "erf",
               "erfc", "cbrt", "pow", "atan2", "hypot")  # fmt: skip
_TWO_ARG = ("pow", "atan2", "hypot")


_EXPF = re.compile(r"\bexpf\(")


_MAY_VIEW = ("movement", "cast", "select")  # op kinds whose NumPy result may view an operand


def _write_in_place(graph: Graph, eqns: list[Eqn], units: dict[int, Any]) -> None:
    """Units that may overwrite operands (`may_overwrite`: output k -> operand j, an
    optimizer's parameter and state) get `in_place` where the output is the value the call
    writes back into that operand's tensor (graph.meta["write_back"], from the trace's
    effects), and nothing reads the operand after the unit: the runtime then finds the
    new value already in the tensor's array (no copy, the tensor keeps its memory)."""
    pairs = {(graph.outputs[o], graph.inputs[i]) for o, i in graph.meta.get("write_back", ())
             if o < len(graph.outputs) and i < len(graph.inputs)}
    if not pairs:
        return
    # the last equation reading each candidate, or a value that may view it (NumPy's
    # reshapes, slices, transposes and same-dtype casts return views)
    candidates = {i for _, i in pairs}
    views: dict[Var, frozenset[Var]] = {}
    last: dict[Var, int] = {}
    for i, e in enumerate(eqns):
        seen = frozenset().union(*(views.get(a, {a} & candidates) for a in e.inputs
                                   if isinstance(a, Var)))
        for r in seen:
            last[r] = i
        op = REGISTRY.get(e.op)  # (None for the generator's own c_row_group)
        if seen and op is not None and op.kind in _MAY_VIEW:
            for o in e.outputs:
                views[o] = seen
    outputs = {a for a in graph.outputs if isinstance(a, Var)}
    for o in list(outputs):
        outputs |= views.get(o, frozenset())
    for i, e in enumerate(eqns):
        u = units.get(id(e))
        wanted = getattr(u, "may_overwrite", None)
        if not wanted:
            continue
        u.in_place = {k: j for k, j in wanted.items()  # type: ignore[union-attr]
                      if (e.outputs[k], v := e.inputs[j]) in pairs and v not in outputs
                      and last[v] == i and e.inputs.count(v) == 1}


def _with_exp_floor(text: str) -> str:
    """A kernel that calls tt_expf reads its floor (`tt_lo`, kernels.c.j2) on entry."""
    if "tt_expf(" not in text:
        return text
    at = text.index(") {\n", text.index("void KERNEL(")) + 4
    return text[:at] + "  const float tt_lo = tt_exp_floor;  /* tt_expf's floor */\n" + text[at:]


def _c_expr(expr: Any, names: dict, dtype: str) -> str:
    """print_c, with float exp through tt_expf (kernels.c.j2: libmvec's slow lanes)."""
    return _EXPF.sub("tt_expf(", print_c(expr, names, dtype))


@dataclass
class CKernel:
    name: str
    n_args: int


@dataclass
class CModule:
    """What the C backend generates for one graph: the Python function (calls the
    kernels through `_call`) and the C translation unit that defines the kernels."""

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


@lru_cache(maxsize=1024)
def _common_subexpressions(expr: sympy.Basic, ignore: Sequence[sympy.Symbol] = ()
                           ) -> tuple[list[tuple[sympy.Symbol, sympy.Basic]], sympy.Basic]:
    """Temporaries for what the expression computes more than once (sympy's cse); a
    derivative's 1/cosh(u)**2 next to tanh(u) becomes 1 - tanh(u)**2 first, so that one
    tanh serves both (the gelu-tanh backward)."""
    tanhs = {t.args[0] for t in expr.atoms(sympy.tanh)}
    for c in expr.atoms(sympy.cosh):
        if c.args[0] in tanhs:
            expr = expr.subs(c ** -2, 1 - sympy.tanh(c.args[0]) ** 2)
    names = (sympy.Symbol(f"cse_{k}", real=True) for k in range(10**6))
    temps, (reduced,) = sympy.cse(expr, symbols=names, ignore=tuple(ignore))
    return temps, reduced


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
        # distinct operands, each a value read as a shape (a broadcast or a size-1
        # reshape is its operand read in place), in order
        self.params: list[tuple[Var, tuple[int, ...]]] = []
        self.views: list[tuple[int, ...]] = []
        self.syms = [sympy.Symbol(f"x{i}", real=True) for i in range(len(e.inputs))]
        self.expr = e.params["expr"]
        self.shapes = e.params.get("shapes") or tuple(a.shape for a in e.inputs)
        self.iotas: dict[Var, int] = {}  # values made by iota -> the dim they count along
        self.keys: list[tuple[Var, tuple[int, ...]] | None] = []
        for a, shape in zip(e.inputs, self.shapes):
            key = (a, tuple(shape)) if isinstance(a, Var) else None
            self.keys.append(key)
            if key is not None and key not in self.params:
                self.params.append(key)
                self.views.append(broadcast_view(key[1], iter_shape))

    @property
    def args(self) -> list[Var]:
        return [v for v, _ in self.params]

    def signature(self) -> str:
        ps = [f"const {C_TYPES[v.dtype.name]}* restrict in{j}" for j, (v, _) in enumerate(self.params)]
        ps.append(f"{self.ctype}* restrict out")
        return f"void {self.name}({', '.join(ps)})"

    def value(self, loads: list[str], expr: sympy.Basic | None = None) -> tuple[str, str]:
        """The expression (or `expr`) with operand j read as loads[j]: (statements
        computing its common subexpressions once, the expression)."""
        names: dict[sympy.Symbol, str] = {}
        for s, a, key in zip(self.syms, self.e.inputs, self.keys):
            names[s] = _literal(a) if key is None else loads[self.params.index(key)]
        temps, expr = _common_subexpressions(self.expr if expr is None else expr, tuple(
            s for s, a in zip(self.syms, self.e.inputs) if a.dtype.name not in regions.FLOATS))
        stmts = []
        for sym, sub in temps:
            stmts.append(f"const {self.ctype} {sym.name} = {_c_expr(sub, names, self.compute)};")
            names[sym] = sym.name
        return " ".join(stmts), _c_expr(expr, names, self.compute)

    def loads(self, offsets: list[str], inner: list[int], pointers: list[str] | None = None,
              tag: str = "h") -> tuple[list[str], list[str]]:
        """Loads of the operands at `offsets`; the ones the inner loop does not move along
        (inner stride 0) are read once before it: (statements before the loop, loads)."""
        hoist, loads = [], []
        for j, ((v, _), off, st) in enumerate(zip(self.params, offsets, inner)):
            ptr = pointers[j] if pointers else f"in{j}"
            if st == 0:
                hoist.append(f"const {C_TYPES[v.dtype.name]} {tag}{j} = {ptr}[{off}];")
                loads.append(f"{tag}{j}")
            else:
                loads.append(f"{ptr}[{off}]")
        return hoist, loads

    def one_hot(self, inner: list[int]) -> tuple[sympy.Basic, int] | None:
        """A sum along the row of `where(index == iota, value, 0)` (a cross-entropy's pick
        of the target's logit) is the value at i = index: (value, the param holding the
        index), or None. `inner` are the params' strides along the row."""
        expr, row = self.expr, self.iter_shape[-1] if self.iter_shape else 0
        if self.e.op != "sum" or not isinstance(expr, sympy.Piecewise) or len(expr.args) != 2:
            return None
        (value, cond), (other, last) = expr.args
        if last != sympy.true or not isinstance(cond, sympy.Eq) or not other.is_Symbol:
            return None
        other_atom = self.e.inputs[self.syms.index(other)]
        if not isinstance(other_atom, Literal) or other_atom.value != 0:
            return None
        sides = [self.keys[self.syms.index(a)] if a in self.syms else None for a in cond.args]
        if None in sides:
            return None
        js = [self.params.index(k) for k in sides]
        for sel, it in (js, js[::-1]):
            v_it, shape_it = self.params[it]
            if (inner[sel] == 0 and inner[it] == 1 and self.params[sel][0].dtype.is_floating_point is False
                    and v_it in self.iotas and shape_it and shape_it[-1] == row
                    and self.iotas[v_it] % len(v_it.shape) == len(v_it.shape) - 1):
                return value, sel
        return None

    def comment(self) -> str:
        where = f"  ({self.e.loc})" if self.e.loc else ""
        text = str(self.expr)
        if len(text) > 200:
            text = text[:197] + "..."
        body = f"{self.e.outputs[0].type} = {self.e.op}: {text}{where}".replace("*/", "* /")
        return f"/* {body} */"

    # ------------------------------------------------------------ pointwise
    def pointwise(self) -> str:
        n = math.prod(self.iter_shape)
        sizes, strides, _ = merge_dims(self.iter_shape, self.views + [contiguous_strides(self.iter_shape)])
        if not sizes:
            sizes, strides = [1], [[0] for _ in strides]
        *outer, inner = sizes
        par = n >= PARALLEL_MIN  # (a parallel region, even an if(0) one, costs: decide here)
        lines = [self.comment(), self.signature() + " {"]
        coords = [f"o{k}" for k in range(len(outer))]
        inner_offs = [_offset(coords + ["i"], st) for st in strides]
        hoist, loads = self.loads(inner_offs[:-1], [st[-1] for st in strides[:-1]])
        pre, v = self.value(loads)
        body = (pre + " " if pre else "") + f"out[{inner_offs[-1]}] = ({self.ctype})({v});"
        if not outer:
            lines += [f"  {ln}" for ln in hoist]
            lines += ["  #pragma omp parallel for simd schedule(static)" if par else "  #pragma omp simd",
                      f"  for (long long i = 0; i < {inner}; i++) {{", f"    {body}", "  }"]
        else:
            lines += ["  #pragma omp parallel for schedule(static)"] if par else []
            lines += [f"  for (long long o = 0; o < {math.prod(outer)}; o++) {{"]
            lines += [f"    {ln}" for ln in _decompose(outer, "o", "o")]
            lines += [f"    {ln}" for ln in hoist]
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
        offs = [_offset(kc + rc + ["i"], ks + rs) for ks, rs in zip(kst, rst)]
        hoist, loads = self.loads(offs[:-1], [rs[-1] for rs in rst[:-1]])
        pre, v = self.value(loads)
        pre = pre + " " if pre else ""
        clause, step, final = _reduce_step(op, self.ctype, pre, v)
        par = n >= ROW_PARALLEL_MIN
        out: list[str] = []
        one_output = n_out == 1
        if one_output:
            out += ["  {", "    const long long o = 0;"]
        else:
            out += ["  #pragma omp parallel for schedule(static)"] if par else []
            out += [f"  for (long long o = 0; o < {n_out}; o++) {{"]
        out += [f"    {ln}" for ln in _decompose(kept, "o", "o")]
        out.append(f"    {acc_t} acc = {REDUCE_INIT[op]}; int seen_nan = 0; (void)seen_nan;")
        pick = self.one_hot([rs[-1] for rs in rst[:-1]]) if not router else None
        if pick is not None:
            value, sel = pick
            pre1, v1 = self.value(loads, value)
            out += [f"    {ln}" for ln in hoist]
            out += [f"    /* one element of the row is selected: read it, not the row */",
                    f"    if (h{sel} >= 0 && h{sel} < {rin}) {{ const long long i = h{sel}; "
                    f"{pre1 + ' ' if pre1 else ''}acc += {v1}; }}",
                    f"    out[o] = ({self.ctype}){final};", "  }"]
            return out
        if router:
            if one_output and par:
                out.append(f"    #pragma omp parallel for {clause}")
            out.append(f"    for (long long r = 0; r < {math.prod(router)}; r++) {{")
            out += [f"      {ln}" for ln in _decompose(router, "r", "r")]
            out += [f"      {ln}" for ln in hoist]
            out.append(f"      #pragma omp simd {clause}")
        else:
            out += [f"    {ln}" for ln in hoist]
            out.append(f"    #pragma omp {'parallel for simd' if one_output and par else 'simd'} {clause}")
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
        offs = [_offset(kc + rc + ["(j0 + j)"], ks[:-1] + rs + ks[-1:]) for ks, rs in zip(kst, rst)]
        hoist, loads = self.loads(offs[:-1], [ks[-1] for ks in kst[:-1]])
        pre, v = self.value(loads)
        pre = pre + " " if pre else ""
        out = ["  #pragma omp parallel for schedule(static)"] if n >= PARALLEL_MIN else []
        out += [f"  for (long long ob = 0; ob < {math.prod(kouter) * nblk}; ob++) {{",
               f"    const long long o = ob / {nblk}, j0 = (ob % {nblk}) * {COL_BLOCK};",
               f"    const long long jn = {j_n} - j0 < {COL_BLOCK} ? {j_n} - j0 : {COL_BLOCK};"]
        out += [f"    {ln}" for ln in _decompose(kouter, "o", "o")]
        out.append(f"    {acc_t} acc[{COL_BLOCK}];")
        out.append(f"    for (long long j = 0; j < jn; j++) acc[j] = {REDUCE_INIT[op]};")
        out.append(f"    for (long long r = 0; r < {math.prod(red)}; r++) {{")
        out += [f"      {ln}" for ln in _decompose(red, "r", "r")]
        out += [f"      {ln}" for ln in hoist]
        out.append("      #pragma omp simd")
        out.append(f"      for (long long j = 0; j < jn; j++) {{ {pre}{self._combine(op, 'acc[j]', v)} }}")
        out.append("    }")
        out.append(f"    for (long long j = 0; j < jn; j++) out[o*{j_n} + j0 + j] = ({self.ctype})acc[j];")
        out.append("  }")
        return out


def _reduce_step(op: str, ctype: str, pre: str, v: str) -> tuple[str, str, str]:
    """The OpenMP reduction clause, the loop body folding value `v` into `acc`, and the
    accumulator's final value. A compare-and-select vectorizes to maxps (fmaxf does not),
    so NaN is tracked apart, in `seen_nan`."""
    if op in ("amax", "amin"):
        cmp = ">" if op == "amax" else "<"
        return (f"reduction({'max' if op == 'amax' else 'min'}:acc) reduction(|:seen_nan)",
                pre + f"const {ctype} v = {v}; acc = acc {cmp} v ? acc : v; seen_nan |= (v != v);",
                "(seen_nan ? NAN : acc)")
    sign = "+" if op == "sum" else "*"
    return f"reduction({sign}:acc)", pre + f"acc {sign}= {v};", "acc"


class _RowGroup:
    """Kernels over the same rows, run one after another on each row while it is in
    cache: a softmax's max, sum of exponentials and output, or a layer norm's mean,
    variance and normalized output, in one pass over memory instead of three. Members
    are reductions along the last dim and pointwise regions of the full shape; a member
    reads earlier members' outputs (per-row statistics, or the row it wrote)."""

    def __init__(self, name: str, members: list[_KernelWriter]) -> None:
        self.name, self.members = name, members
        self.iter_shape = members[0].iter_shape
        self.outputs = [m.e.outputs[0] for m in members]
        self.params: list[tuple[Var, tuple[int, ...]]] = []
        for m in members:
            for key in m.params:
                if key[0] not in self.outputs and key not in self.params:
                    self.params.append(key)
        self.e = members[0].e

    @property
    def args(self) -> list[Var]:
        return [v for v, _ in self.params]

    def source(self) -> str:
        *rows_shape, row = self.iter_shape
        n_rows, n = math.prod(rows_shape), math.prod(self.iter_shape)
        ps = [f"const {C_TYPES[v.dtype.name]}* restrict in{j}" for j, (v, _) in enumerate(self.params)]
        ps += [f"{C_TYPES[o.dtype.name]}* restrict out{k}" for k, o in enumerate(self.outputs)]
        lines = ["/* one pass over the rows: */"] + [m.comment() for m in self.members]
        lines += [f"void {self.name}({', '.join(ps)}) {{",
                  *(["  #pragma omp parallel for schedule(static)"] if n >= ROW_PARALLEL_MIN else []),
                  f"  for (long long o = 0; o < {n_rows}; o++) {{"]
        lines += [f"    {ln}" for ln in _decompose(list(rows_shape), "o", "c")]
        coords = [f"c{k}" for k in range(len(rows_shape))]
        written: dict[Any, int] = {}  # a full-row member's expression -> its output's index
        for k, m in enumerate(self.members):
            same = (_operand_expression(m), m.compute)
            if m.e.op == "sum" and same in written:
                # the sum of a row an earlier member wrote (a softmax's exponentials): read
                # the row back from cache instead of computing every element again
                acc_t = "double" if (m.compute == "float32" and row > FLOAT_SUM_ROW) else m.ctype
                lines += ["    {", f"      {acc_t} acc = 0;", "      #pragma omp simd reduction(+:acc)",
                          f"      for (long long i = 0; i < {row}; i++) {{ acc += out{written[same]}[o*{row} + i]; }}",
                          f"      out{k}[o] = ({m.ctype})acc;", "    }"]
                continue
            if m.e.op not in regions.REDUCE_OPS:
                written.setdefault(same, k)
            pointers, offsets, inner_strides = [], [], []
            for key, view in zip(m.params, m.views):
                inner_strides.append(view[-1])
                if key[0] in self.outputs:
                    pointers.append(f"out{self.outputs.index(key[0])}")
                else:
                    pointers.append(f"in{self.params.index(key)}")
                offsets.append(_offset(coords + ["i"], view))
            hoist, loads = m.loads(offsets, inner_strides, pointers, tag=f"h{k}_")
            pre, v = m.value(loads)
            pre = pre + " " if pre else ""
            if m.e.op in regions.REDUCE_OPS:
                op = m.e.op
                # a row of <= 4096 floats sums in float: the vectorized loop keeps 16
                # partial sums (<= 256 terms each, as torch's), and runs twice as wide
                # as in double (a softmax's exp-sum: 15 % faster)
                acc_t = ("double" if (op == "sum" and m.compute == "float32" and row > FLOAT_SUM_ROW)
                         else m.ctype)
                clause, step, final = _reduce_step(op, m.ctype, pre, v)
                lines += ["    {", f"      {acc_t} acc = {REDUCE_INIT[op]}; int seen_nan = 0; (void)seen_nan;"]
                lines += [f"      {ln}" for ln in hoist]
                pick = m.one_hot(inner_strides)
                if pick is not None:
                    value, sel = pick
                    pre1, v1 = m.value(loads, value)
                    lines += ["      /* one element of the row is selected: read it, not the row */",
                              f"      if (h{k}_{sel} >= 0 && h{k}_{sel} < {row}) {{ const long long i = h{k}_{sel}; "
                              f"{pre1 + ' ' if pre1 else ''}acc += {v1}; }}",
                              f"      out{k}[o] = ({m.ctype}){final};", "    }"]
                    continue
                lines += [f"      #pragma omp simd {clause}",
                          f"      for (long long i = 0; i < {row}; i++) {{ {step} }}",
                          f"      out{k}[o] = ({m.ctype}){final};", "    }"]
            else:
                lines += ["    {"] + [f"      {ln}" for ln in hoist]
                lines += ["    #pragma omp simd", f"    for (long long i = 0; i < {row}; i++) {{",
                          f"      {pre}out{k}[o*{row} + i] = ({m.ctype})({v});", "    }", "    }"]
        lines += ["  }", "}"]
        return "\n".join(lines)


def _operand_expression(m: _KernelWriter) -> Any:
    """A member's expression over its operands themselves (each symbol replaced by a name for
    the value or literal it reads, and the view it reads it through): equal for two members
    that compute the same elements from the same inputs."""
    subs = {}
    for s, a, key in zip(m.syms, m.e.inputs, m.keys):
        if key is None:
            name = f"literal {a.dtype.name} {_literal(a)}"
        else:
            name = f"value {id(key[0])} {m.views[m.params.index(key)]}"
        subs[s] = sympy.Symbol(name, real=True)
    return m.expr.xreplace(subs)


def _row_reduction(k: _KernelWriter) -> bool:
    e = k.e
    nd = len(k.iter_shape)
    # a group runs its rows in parallel: it needs rows enough for every core
    return (e.op in regions.REDUCE_OPS and nd >= 2 and math.prod(k.iter_shape[:-1]) >= 64
            and {d % nd for d in e.params["dims"]} == {nd - 1} and k.iter_shape[-1] > 1)


def _same_row(v: Var, view: Sequence[int], shape: tuple[int, ...]) -> bool:
    """Does a member read another member's output `v` at the row it is working on (a
    per-row statistic, or the element of the row it wrote)? Only then may both run in
    one pass: a statistic read along the other dim belongs to rows not reached yet."""
    if v.type.numel == math.prod(shape):
        want = contiguous_strides(shape)
    else:
        want = contiguous_strides(shape[:-1]) + (0,)
    return all(a == b for a, b, n in zip(view, want, shape) if n != 1)


def _form_groups(graph_inputs: list[Var], eqns: list[Eqn], writers: dict[int, _KernelWriter],
                 ) -> list[list[int]]:
    """Indices of equations that run as one row group (two members or more)."""
    groups: list[list[int]] = []
    current: list[int] = []
    shape: tuple[int, ...] = ()
    available: set[Var] = set()  # defined before the group's first member
    members_out: set[Var] = set()
    defined: set[Var] = set(graph_inputs)
    for i, e in enumerate(eqns):
        k = writers.get(id(e))
        if current and k is not None and k.iter_shape == shape and (
                _row_reduction(k) or e.outputs[0].shape == shape) and all(
                v in available or (v in members_out and _same_row(v, view, shape))
                for (v, _), view in zip(k.params, k.views)):
            current.append(i)
            members_out.add(e.outputs[0])
            continue
        if k is not None and _row_reduction(k):
            if len(current) > 1:
                groups.append(current)
            current, shape = [i], k.iter_shape
            available = set(defined)
            members_out = {e.outputs[0]}
        defined.update(e.outputs)
    if len(current) > 1:
        groups.append(current)
    return groups


FLOAT_SUM_ROW = 4096  # longest row a row group sums in float32


def _wrapper(name: str, params: list[tuple[Var, tuple[int, ...]]], outputs: list[Var],
             slot: int, comment: str, c_name: str | None = None,
             in_place: dict[int, int] | None = None, extra: Sequence[str] = ()) -> str:
    """The Python function `_name` that calls the kernel `c_name` (default: `name`):
    contiguous operands, then the `extra` arrays (Python expressions), pooled outputs;
    output k written over operand in_place[k]."""
    lines = [f"def _{name}({', '.join(f'x{j}' for j in range(len(params)))}):", f"    # {comment}"]
    ptrs = []
    for j, (v, _) in enumerate(params):
        # (a 0-d array is contiguous, and ascontiguousarray would make it a new 1-d one)
        conv = "asarray" if v.ndim == 0 else "ascontiguousarray"
        lines.append(f"    x{j} = np.{conv}(x{j}, dtype=np.{v.dtype.name})")
        ptrs.append(f"x{j}")
    outs = [f"out{k}" for k in range(len(outputs))]
    for k, o in enumerate(outputs):
        if in_place and k in in_place:
            lines.append(f"    out{k} = x{in_place[k]}  # in place: nothing reads the old value after")
            continue
        lines.append(f"    out{k} = _out({slot + k}, {o.shape}, np.{o.dtype.name})")
    lines.append(f"    _call(_k.{c_name or name}, {', '.join(ptrs + list(extra) + outs)})")
    lines.append(f"    return {', '.join(outs)}")
    return "\n".join(lines)


def generate(graph: Graph, fn_name: str | None = None, threshold: int | None = None) -> CModule:
    """The C backend's module for `graph`."""
    fused, pointwise, reductions = regions.plan(graph, threshold)
    writers: dict[int, _KernelWriter] = {}
    iotas = {e.outputs[0]: e.params["dim"] for e in fused.eqns if e.op == "iota"}
    for e in fused.eqns:
        out = e.outputs[0]
        if out in pointwise or out in reductions:
            iter_shape = out.shape if out in pointwise else e.params["in_shape"]
            k = _KernelWriter("KERNEL", e, tuple(iter_shape))
            k.iotas = iotas
            try:
                k.source = k.pointwise() if out in pointwise else k.reduction()  # type: ignore[attr-defined]
            except (NotImplementedError, TypeError, ValueError):
                continue  # not printable as C: this equation stays NumPy
            if "Not supported in C" in k.source:  # type: ignore[attr-defined]
                continue
            writers[id(e)] = k
    if any(e.op in regions.REDUCE_OPS and "expr" in e.params and id(e) not in writers
           for e in fused.eqns):
        # a fused reduction that could not be printed: generate from the unfused graph
        fused, writers = graph, {}

    # row groups replace their members with one equation at the first member's place;
    # equations that read no value (iota, full) go first, so that they never split a group
    eqns = ([e for e in fused.eqns if not any(isinstance(a, Var) for a in e.inputs)]
            + [e for e in fused.eqns if any(isinstance(a, Var) for a in e.inputs)])
    units: dict[int, object] = {}  # id(eqn) -> _KernelWriter | _RowGroup
    grouped: set[int] = set()
    for idx in _form_groups(fused.inputs, eqns, writers):
        members = [eqns[i] for i in idx]
        outs = tuple(m.outputs[0] for m in members)
        ins = tuple(dict.fromkeys(v for m in members for v, _ in writers[id(m)].params
                                  if v not in outs))
        ge = Eqn("c_row_group", ins, outs, (), members[0].loc)
        units[id(ge)] = _RowGroup("", [writers[id(m)] for m in members])
        eqns[idx[0]] = ge
        grouped.update(id(m) for m in members)
    eqns = [e for e in eqns if id(e) not in grouped]
    for e in eqns:
        if id(e) in writers:
            units[id(e)] = writers[id(e)]
        else:
            unit = next((u for u in TEMPLATE_UNITS if u.fits(e)), None)
            if unit is not None:
                units[id(e)] = unit(e, _env())
    fused = Graph(fused.name, fused.inputs, eqns, fused.outputs, fused.meta)

    # names and sources in program order; a kernel whose text is the same as an earlier
    # one's (the same layer repeated: same shapes, same formulas, same source line) is
    # that kernel, called again: the C file has each distinct kernel once, so the C
    # compiler's work grows with the distinct kernels, not with a model's depth
    ordered = [units[id(e)] for e in eqns if id(e) in units]
    _write_in_place(graph, eqns, units)
    sources, wrappers, kernels, slot = [], [], [], 0
    first: dict[str, str] = {}  # kernel text (named KERNEL) -> the C name it was given
    for j, u in enumerate(ordered):
        out0 = u.e.outputs[0]
        where = f" for {u.e.loc}" if u.e.loc else ""
        if isinstance(u, _RowGroup):
            u.name = "KERNEL"
            text = u.source()
            name = f"k{j}_rows_{names_safe(out0.hint)}"
            outputs, what = u.outputs, f"{len(u.members)} kernels in one pass over the rows{where}"
        elif isinstance(u, TEMPLATE_UNITS):
            text = u.source
            name = f"k{j}_{u.e.op}"
            outputs, what = u.outputs, f"fused {u.e.op} kernel{where}"
        else:
            text = u.source  # type: ignore[attr-defined]
            name = f"k{j}_{names_safe(out0.hint)}"
            outputs, what = [out0], f"{out0.type} = {u.e.op} kernel{where}"
        text = _with_exp_floor(text)
        c_name = first.get(text)
        if c_name is None:
            c_name = first[text] = name
            sources.append(text.replace("void KERNEL(", f"void {name}(", 1))
            # (a unit with a wrapper of its own passes n_extra arrays of its own, as the
            # attention kernels' strides; the others their extra_args)
            extra = getattr(u, "n_extra", len(getattr(u, "extra_args", ())))
            kernels.append(CKernel(name, len(u.params) + len(outputs) + extra))
        else:
            what += f" (kernel {c_name}, shared)"
        u.name = name
        if hasattr(u, "wrapper"):
            wrappers.append(u.wrapper(name, slot, what, c_name))
        else:
            wrappers.append(_wrapper(name, u.params, outputs, slot, what, c_name,
                                     getattr(u, "in_place", None), getattr(u, "extra_args", ())))
        slot += len(outputs)

    def emit(e: Eqn, args: list[str]) -> str | None:
        u = units.get(id(e))
        if u is None:
            return None
        names = dict(zip(e.inputs, args))
        return f"_{u.name}({', '.join(names[v] for v in u.args)})"  # type: ignore[attr-defined]

    fn = fn_name or names_safe(graph.name)
    function = render_function(fused, fn, emit=emit)
    py = _env().get_template("module.py.j2").render(
        version=VERSION, graph_name=graph.name, wrappers=wrappers, function=function,
        n_kernels=len(kernels))
    c = _env().get_template("kernels.c.j2").render(
        version=VERSION, graph_name=graph.name, kernels=sources,
        vector_math=VECTOR_MATH, two_arg=_TWO_ARG, preamble=PREAMBLE) if kernels else ""
    return CModule(py, c, fn, kernels, slot)


__all__ = ["CModule", "CKernel", "generate", "merge_dims"]
