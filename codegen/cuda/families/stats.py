"""CUDA kernels for the statistics reductions: var, std (with `correction`, as the
front end's `dof`) and the p-norm (finite p; p = 1 and +-inf are sum/amax/amin of |x|
from the front end).

One block per output element, as the generator's `reduce`: each thread folds a strided
share of the reduced elements, then the block combines them with tt_block_reduce (warp
shuffles). The block is as small as the reduction allows (whole warps, at most BLOCK),
so many short reductions (a variance over the last dim of [4096, 64]) do not leave
most threads idle. var and std take two passes over the elements, the mean first, then
the squared deviations from it: as NumPy computes it, and stable where a one-pass
sum of squares cancels catastrophically (large mean, small spread).
"""

from __future__ import annotations

from ...cfamily.printer import C_TYPES
from ..generator import (BLOCK, _acc_type, _c_literal, _compute_dtype, _coords, _Gen,
                         contiguous_strides, family_kernel)
from ....ir.graph import Eqn, Literal
from ....ir.symdims import is_symbolic


def _block_threads(m: int) -> int:
    return max(32, min(BLOCK, -(-m // 32) * 32))


def _frame(e: Eqn) -> tuple[str, str, int]:
    """(statements setting `base` for output o, statements setting `off` for reduced
    index r, number of reduced elements m)."""
    (x,) = e.inputs
    dims = tuple(sorted(d % max(x.ndim, 1) for d in e.params["dims"])) if x.ndim else ()
    kept = [k for k in range(x.ndim) if k not in dims]
    st = contiguous_strides(x.shape)
    m = 1
    for d in dims:
        m *= x.shape[d]
    base_coords = _coords([x.shape[k] for k in kept], "o", set(range(len(kept))), "k")
    base = " + ".join(f"k{j}*{st[k]}LL" for j, k in enumerate(kept)) or "0"
    red_coords = _coords([x.shape[d] for d in dims], "r", set(range(len(dims))), "d")
    off = " + ".join(f"d{j}*{st[d]}LL" for j, d in enumerate(dims)) or "0"
    base_s = ("  long long base;\n  {\n    " + "\n    ".join(base_coords or ["(void)0;"])
              + f"\n    base = {base};\n  }}\n")
    off_s = ("    long long off;\n    {\n      " + "\n      ".join(red_coords or ["(void)0;"])
             + f"\n      off = {off};\n    }}\n")
    return base_s, off_s, m


def _math(ct: str, fn: str) -> str:
    return fn + "f" if ct == "float" else fn


def _static(e: Eqn, name: str) -> float:
    v = e.params[name]
    if is_symbolic(v):
        raise NotImplementedError(f"op {e.op!r}: a symbolic size ({name} = {v}) in a CUDA kernel")
    return float(v)


@family_kernel("var", "std")
def print_var(gen: _Gen, e: Eqn) -> None:
    (x,) = e.inputs
    out = e.outputs[0]
    if not out.dtype.is_floating_point:
        raise NotImplementedError(f"op {e.op!r} on {out.dtype.name} (floating point only)")
    base_s, off_s, m = _frame(e)
    ct, it, ot = _acc_type(out.dtype.name), C_TYPES[x.dtype.name], C_TYPES[out.dtype.name]
    count = _c_literal(Literal(_static(e, "count"), out.dtype), _compute_dtype(out.dtype.name))
    dof = _c_literal(Literal(_static(e, "dof"), out.dtype), _compute_dtype(out.dtype.name))
    result = f"{_math(ct, 'sqrt')}(acc / {dof})" if e.op == "std" else f"acc / {dof}"
    red = f"tt_block_reduce<{ct}, TtSum<{ct}> >(acc)"
    src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
           f"const {it}* __restrict__ in0, {ot}* __restrict__ out) {{\n"
           f"  // {e.op} of {m} element(s) per output, dof = {e.params['dof']!r}: the mean, then\n"
           f"  // the squared deviations from it (two passes, as NumPy: no cancellation)\n"
           f"  const long long o = blockIdx.x;\n"
           + base_s
           + f"  __shared__ {ct} mean_s;\n"
           f"  {ct} acc = 0;\n"
           f"  for (long long r = threadIdx.x; r < {m}; r += blockDim.x) {{\n"
           + off_s
           + f"    acc += ({ct})in0[base + off];\n  }}\n"
           f"  acc = {red};\n"
           f"  if (threadIdx.x == 0) mean_s = acc / {count};  // 0 / 0 = NaN for no elements, as NumPy\n"
           f"  __syncthreads();  // (also keeps tt_block_reduce's shared memory apart)\n"
           f"  const {ct} mean = mean_s;\n"
           f"  acc = 0;\n"
           f"  for (long long r = threadIdx.x; r < {m}; r += blockDim.x) {{\n"
           + off_s
           + f"    const {ct} dev = ({ct})in0[base + off] - mean;\n"
           f"    acc += dev * dev;\n  }}\n"
           f"  acc = {red};\n"
           f"  if (threadIdx.x == 0) out[o] = {result};\n}}")
    _launch(gen, e, src, m)


@family_kernel("pnorm")
def print_pnorm(gen: _Gen, e: Eqn) -> None:
    (x,) = e.inputs
    out = e.outputs[0]
    if not out.dtype.is_floating_point:
        raise NotImplementedError(f"op 'pnorm' on {out.dtype.name} (floating point only)")
    base_s, off_s, m = _frame(e)
    ct, it, ot = _acc_type(out.dtype.name), C_TYPES[x.dtype.name], C_TYPES[out.dtype.name]
    p = float(e.params["p"])
    v = f"({ct})in0[base + off]"
    if p == 0:  # the number of nonzero elements
        step, result, what = f"acc += ({v} != 0);", "acc", "count of nonzeros"
    elif p == 1:
        step, result, what = f"acc += {_math(ct, 'fabs')}({v});", "acc", "sum of |x|"
    elif p == 2:
        step = f"{{ const {ct} v = {v}; acc += v * v; }}"
        result, what = f"{_math(ct, 'sqrt')}(acc)", "sqrt of the sum of squares"
    else:  # exponents rounded to the dtype, as NumPy rounds a Python float exponent
        lit_p = _c_literal(Literal(p, out.dtype), _compute_dtype(out.dtype.name))
        lit_q = _c_literal(Literal(1 / p, out.dtype), _compute_dtype(out.dtype.name))
        step = f"acc += {_math(ct, 'pow')}({_math(ct, 'fabs')}({v}), {lit_p});"
        result, what = f"{_math(ct, 'pow')}(acc, {lit_q})", f"(sum |x|^p)^(1/p), p = {p!r}"
    src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
           f"const {it}* __restrict__ in0, {ot}* __restrict__ out) {{\n"
           f"  // {p!r}-norm of {m} element(s) per output: {what}\n"
           f"  const long long o = blockIdx.x;\n"
           + base_s
           + f"  {ct} acc = 0;\n"
           f"  for (long long r = threadIdx.x; r < {m}; r += blockDim.x) {{\n"
           + off_s
           + f"    {step}\n  }}\n"
           f"  acc = tt_block_reduce<{ct}, TtSum<{ct}> >(acc);\n"
           f"  if (threadIdx.x == 0) out[o] = {result};\n}}")
    _launch(gen, e, src, m)


def _launch(gen: _Gen, e: Eqn, src: str, m: int) -> None:
    n_out = e.outputs[0].type.numel
    if n_out > 2**31 - 1:
        raise NotImplementedError(f"op {e.op!r}: more than 2**31 - 1 outputs of a reduction")
    gen.add(e, src, n_out, (max(1, n_out), 1, 1), [gen.names[e.inputs[0]], gen.names[e.outputs[0]]],
            block=(_block_threads(m), 1, 1))


__all__ = ["print_var", "print_pnorm"]
