"""CUDA kernels for the scans: cumsum (with `reverse`) and cumprod along one dim.

A tensor scanned along `dim` is [outer, L, inner]: lines = outer * inner lines of L
elements, element j of line l at (l / inner) * L * inner + l % inner + j * inner.
Three shapes of kernel, picked by the sizes:

- one thread per line, when lines are many and inner > 1 (or short): consecutive
  threads take consecutive inner indices, so every step of the loop along the line is
  one coalesced load and store across the warp;
- one block per line (warp-shuffle scan of blockDim elements at a time, carried from
  chunk to chunk), when lines are contiguous (inner = 1) or few;
- few long lines (cumsum over a 1-D tensor of 1e6 elements): the line is cut into tiles
  of TILE elements, one block each: tile totals, a scan of the totals, then each tile
  scans itself starting from the total of the tiles before it (three kernels).

float32 accumulates in float (as torch does), float64 in double, integers in long long.
"""

from __future__ import annotations

from ...cfamily.printer import C_TYPES
from ..generator import BLOCK, Kernel, _Gen, family_kernel
from ..generator import _acc_type as float_acc_type  # (the generator's: float16 -> float)
from ....ir.graph import Eqn

TILE = 4096            # elements per block in the multi-block scan
MANY_LINES = 4096      # enough lines to fill the GPU with one thread each
FEW_BLOCKS = 2 * 132   # fewer lines than this leave an H100's SMs idle with a block each


def _acc_type(dtype_name: str) -> str:
    if dtype_name in ("float32", "float64", "float16"):
        return float_acc_type(dtype_name)  # (half values add up in float, as torch's do)
    return "long long"  # integer scans (the front end gives int64; int32 by dtype=)


def _prod(xs) -> int:
    n = 1
    for s in xs:
        n *= s
    return n


class _Scan:
    """Sizes and C snippets shared by the kernels of one scan equation."""

    def __init__(self, e: Eqn) -> None:
        (x,) = e.inputs
        out = e.outputs[0]
        shape = x.shape if x.ndim else (1,)
        self.dim = e.params["dim"] % len(shape)
        self.reverse = bool(e.params.get("reverse", False))
        self.L = shape[self.dim]
        self.inner = _prod(shape[self.dim + 1:])
        self.lines = _prod(shape[: self.dim]) * self.inner
        self.in_t = C_TYPES[x.dtype.name]
        self.out_t = C_TYPES[out.dtype.name]
        self.acc = _acc_type(out.dtype.name)
        self.is_sum = e.op == "cumsum"
        self.ident = f"({self.acc})0" if self.is_sum else f"({self.acc})1"
        self.opsym = "+" if self.is_sum else "*"
        self.what = (f"{e.op}{' (reverse)' if self.reverse else ''} along dim {self.dim} of "
                     f"{x.type}: {self.lines} line(s) of {self.L}")

    def op(self, a: str, b: str) -> str:
        return f"{a} {self.opsym} {b}"

    def line_base(self, line: str) -> str:
        """Offset of element 0 of line `line`."""
        L, inner = self.L, self.inner
        if inner == 1:
            return f"{line} * {L}LL"
        if self.lines == inner:  # dim is the first non-trivial one
            return line
        return f"({line} / {inner}) * {L * inner}LL + {line} % {inner}"

    def at(self, j: str) -> str:
        """Offset of element j (in scan order) from the line's base."""
        pos = f"({self.L - 1} - {j})" if self.reverse else j
        return pos if self.inner == 1 else f"{pos} * {self.inner}LL"


def _block_scan_loop(s: _Scan, begin: str, end: str, load, store, indent: str = "  ") -> str:
    """Scan positions [begin, end) of a line, blockDim.x at a time: each chunk is a
    warp-shuffle scan, then a scan of the warp totals, then the carry of the chunks
    before it. `carry` (declared by the caller) holds the running total.
    load(p) / store(p, v) print the read / write of scan position p."""
    A, op = s.acc, s.op
    body = f"""for (long long p0 = {begin}; p0 < {end}; p0 += blockDim.x) {{
  const long long p = p0 + threadIdx.x;
  {A} v = p < {end} ? ({A}){load('p')} : {s.ident};
  // inclusive scan within the warp
  for (int d = 1; d < 32; d <<= 1) {{
    const {A} y = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v = {op('y', 'v')};
  }}
  if (lane == 31) warp_total[warp] = v;
  __syncthreads();
  if (warp == 0) {{  // scan of the warp totals
    {A} w = lane < nwarps ? warp_total[lane] : {s.ident};
    for (int d = 1; d < 32; d <<= 1) {{
      const {A} y = __shfl_up_sync(0xffffffffu, w, d);
      if (lane >= d) w = {op('y', 'w')};
    }}
    warp_total[lane] = w;
  }}
  __syncthreads();
  if (warp > 0) v = {op('warp_total[warp - 1]', 'v')};
  if (p < {end}) {store('p', op('carry', 'v'))};
  carry = {op('carry', 'warp_total[nwarps - 1]')};
  __syncthreads();  // warp_total is rewritten by the next chunk
}}"""
    return "\n".join(indent + ln for ln in body.splitlines())


_BLOCK_PROLOGUE = ("  __shared__ {A} warp_total[32];\n"
                   "  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, "
                   "nwarps = blockDim.x >> 5;\n")


def _block_threads(n: int) -> int:
    """A multiple of 32 (whole warps for the shuffles), at most BLOCK."""
    return max(32, min(BLOCK, -(-n // 32) * 32))


@family_kernel("cumsum", "cumprod")
def print_scan(gen: _Gen, e: Eqn) -> None:
    s = _Scan(e)
    n = e.outputs[0].type.numel
    if n == 0:
        gen.add(e, "", 0, (1, 1, 1), [])  # the (empty) output buffer only
        return
    if s.inner > 1 and (s.lines >= MANY_LINES or s.L <= 32):
        _thread_per_line(gen, e, s)
    elif s.lines >= FEW_BLOCKS or s.L <= 2 * TILE:
        _block_per_line(gen, e, s)
    else:
        _tiled(gen, e, s)


def _thread_per_line(gen: _Gen, e: Eqn, s: _Scan) -> None:
    A = s.acc
    src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
           f"const {s.in_t}* __restrict__ in0, {s.out_t}* __restrict__ out) {{\n"
           f"  // {s.what}; one thread per line, neighbouring threads on neighbouring\n"
           f"  // lines (coalesced)\n"
           f"  for (long long l = (long long)blockIdx.x * blockDim.x + threadIdx.x; l < {s.lines}; "
           f"l += (long long)blockDim.x * gridDim.x) {{\n"
           f"    const long long base = {s.line_base('l')};\n"
           f"    {A} acc = {s.ident};\n"
           f"    for (long long j = 0; j < {s.L}; ++j) {{\n"
           f"      const long long at = base + {s.at('j')};\n"
           f"      acc = {s.op('acc', f'({A})in0[at]')};\n"
           f"      out[at] = ({s.out_t})acc;\n"
           f"    }}\n  }}\n}}")
    gen.add(e, src, e.outputs[0].type.numel, gen.elementwise_grid(s.lines),
            [gen.names[e.inputs[0]], gen.names[e.outputs[0]]])


def _block_per_line(gen: _Gen, e: Eqn, s: _Scan) -> None:
    if s.lines > 2**31 - 1:
        raise NotImplementedError(f"op {e.op!r}: more than 2**31 - 1 lines of a scan")
    loop = _block_scan_loop(
        s, "0", str(s.L), lambda p: f"in0[base + {s.at(p)}]",
        lambda p, v: f"out[base + {s.at(p)}] = ({s.out_t})({v})")
    src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
           f"const {s.in_t}* __restrict__ in0, {s.out_t}* __restrict__ out) {{\n"
           f"  // {s.what}; one block per line\n"
           + _BLOCK_PROLOGUE.format(A=s.acc)
           + f"  const long long l = blockIdx.x;\n"
           f"  const long long base = {s.line_base('l')};\n"
           f"  {s.acc} carry = {s.ident};\n{loop}\n}}")
    gen.add(e, src, e.outputs[0].type.numel, (s.lines, 1, 1),
            [gen.names[e.inputs[0]], gen.names[e.outputs[0]]],
            block=(_block_threads(s.L), 1, 1))


def _tiled(gen: _Gen, e: Eqn, s: _Scan) -> None:
    """Few long lines: TILE elements per block (lines < FEW_BLOCKS < 65535 fit grid.y)."""
    tiles = -(-s.L // TILE)
    A = s.acc
    acc_dtype = {"float": "float32", "double": "float64"}.get(A, "int64")
    out_name = gen.names[e.outputs[0]]
    totals = f"_tiles_{out_name}"
    loop = _block_scan_loop(
        s, "p_begin", "p_end", lambda p: f"in0[base + {s.at(p)}]",
        lambda p, v: f"out[base + {s.at(p)}] = ({s.out_t})({v})")
    header = ("  const long long l = blockIdx.y, t = blockIdx.x;\n"
              f"  const long long base = {s.line_base('l')};\n"
              f"  const long long p_begin = t * {TILE}LL;\n"
              f"  const long long p_end = p_begin + {TILE}LL < {s.L}LL ? p_begin + {TILE}LL : {s.L}LL;\n")
    red = "TtSum" if s.is_sum else "TtProd"
    load_p = f"({A})in0[base + {s.at('p')}]"
    k_total = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
               f"const {s.in_t}* __restrict__ in0, {A}* __restrict__ totals) {{\n"
               f"  // {s.what}; pass 1 of 3: the total of each tile of {TILE}\n"
               + header
               + f"  {A} acc = {s.ident};\n"
               f"  for (long long p = p_begin + threadIdx.x; p < p_end; p += blockDim.x)\n"
               f"    acc = {s.op('acc', load_p)};\n"
               f"  acc = tt_block_reduce<{A}, {red}<{A}> >(acc);\n"
               f"  if (threadIdx.x == 0) totals[l * {tiles} + t] = acc;\n}}")
    tot_loop = _block_scan_loop(s, "0", str(tiles), lambda p: f"totals[l * {tiles} + {p}]",
                                lambda p, v: f"totals[l * {tiles} + {p}] = {v}")
    k_scan_totals = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
                     f"{A}* __restrict__ totals) {{\n"
                     f"  // {s.what}; pass 2 of 3: inclusive scan of the {tiles} tile totals\n"
                     + _BLOCK_PROLOGUE.format(A=A)
                     + "  const long long l = blockIdx.x;\n"
                     f"  {A} carry = {s.ident};\n{tot_loop}\n}}")
    k_tiles = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
               f"const {s.in_t}* __restrict__ in0, const {A}* __restrict__ totals, "
               f"{s.out_t}* __restrict__ out) {{\n"
               f"  // {s.what}; pass 3 of 3: each tile's scan, from the tiles before it\n"
               + _BLOCK_PROLOGUE.format(A=A) + header
               + f"  {A} carry = t > 0 ? totals[l * {tiles} + t - 1] : {s.ident};\n{loop}\n}}")
    gen.body.append(f"{totals} = alloc(({s.lines * tiles},), \"{acc_dtype}\")")
    _extra_kernel(gen, e, k_total, (tiles, s.lines, 1), [gen.names[e.inputs[0]], totals], "tile totals")
    _extra_kernel(gen, e, k_scan_totals, (s.lines, 1, 1), [totals], "scan of the tile totals")
    gen.add(e, k_tiles, e.outputs[0].type.numel, (tiles, s.lines, 1),
            [gen.names[e.inputs[0]], totals, out_name])


def _extra_kernel(gen: _Gen, e: Eqn, source: str, grid: tuple[int, int, int],
                  args: list[str], what: str) -> None:
    """A helper kernel of `e` that writes a temporary buffer (not e's output)."""
    name = gen.kname(e)
    gen.kernels.append(Kernel(name, source.replace("KERNEL", name), f"{e.loc or e.op} ({what})",
                              grid, (BLOCK, 1, 1), args))
    ptrs = ", ".join(f"{a}.gpudata" for a in args)
    gen.body.append(f"K.{name}.prepared_call({grid}, ({BLOCK}, 1, 1), {ptrs})")


__all__ = ["print_scan", "TILE"]
