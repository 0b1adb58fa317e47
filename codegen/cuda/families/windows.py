"""CUDA kernels for the sliding-window ops of ir/ops/nn.py (conv nets and pooling).

* `unfold2d` (im2col): a gather, one thread per window element; consecutive threads
  write consecutive elements.
* `fold2d` (col2im, unfold2d's adjoint): also a gather. One thread per input pixel sums
  the window taps that read that pixel, in the NumPy emitter's tap order: no atomics,
  and the same graph gives the same bits on every run.
* `conv2d`: an implicit GEMM per group. out[n, g*Og + m, p] = sum_k W[g*Og + m, k] *
  cols[k, (n, p)] with k running over (c, i, j) in Cg x kh x kw; the window matrix `cols`
  is never built: each tile of it is read straight from the input into shared memory.
  Few output channels per group (depthwise convolutions, say) would leave most of a tile
  idle, so those get a direct kernel: one thread per output element.

Padding is (top, bottom, left, right). Bounds checks are printed only for the sides
that are padded: an unpadded side cannot be overrun (the output size guarantees it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...cfamily.printer import C_TYPES
from ..generator import BLOCK, _acc_type, _coords, _idx_type, family_kernel

# the padding value of max pooling's windows ("lowest"), per dtype
_LOWEST = {
    "float32": "-INFINITY", "float64": "-INFINITY", "float16": "-INFINITY", "int64": "LLONG_MIN",
    "int32": "INT_MIN",
    "int16": "SHRT_MIN", "int8": "SCHAR_MIN", "uint8": "0", "bool": "false",
}  # fmt: skip


def _pad_value(mode: str, dtype: str) -> str:
    # the NumPy emitter's rule: "zeros", anything else is the dtype's lowest value
    if mode == "zeros":
        return "0"
    if dtype not in _LOWEST:
        raise NotImplementedError(f"op 'unfold2d': no lowest padding value for {dtype}")
    return _LOWEST[dtype]


def _term(var: str, k: int) -> str:
    """`var * k`, printed without the multiplication by 1."""
    return var if k == 1 else f"{var} * {k}"


def _affine(*parts: tuple[str, int], const: int = 0) -> str:
    """sum(var * k) + const, e.g. `oh * 2 + i - 1`."""
    text = ""
    for v, k in parts:
        if k:
            sign = " - " if k < 0 else " + "
            text = (text + sign if text else ("-" if k < 0 else "")) + _term(v, abs(k))
    text = text or "0"
    if const > 0:
        text += f" + {const}"
    elif const < 0:
        text += f" - {-const}"
    return text


def _inside(var: str, lo_pad: int, hi_pad: int, size: int) -> list[str]:
    """The checks that keep `var` inside [0, size): only sides with padding can leave it."""
    out = []
    if lo_pad:
        out.append(f"{var} >= 0")
    if hi_pad:
        out.append(f"{var} < {size}")
    return out


def _grid_loop(n: int, params: list[str], body: list[str], comment: list[str]) -> str:
    """A one-thread-per-element grid-stride kernel over `n` elements, index `i`."""
    idx = _idx_type(n)
    return (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL({', '.join(params)}) {{\n"
            + "".join(f"  // {c}\n" for c in comment)
            + f"  for ({idx} i = ({idx})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
            f"i += ({idx})blockDim.x * gridDim.x) {{\n"
            + "".join(f"    {ln}\n" for ln in body) + "  }\n}")


def _geometry(p: dict) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(stride, dilation, padding) of a window op's params."""
    return tuple(p["stride"]), tuple(p["dilation"]), tuple(p["padding"])


# ---------------------------------------------------------------- unfold2d


@family_kernel("unfold2d")
def unfold2d(gen, e) -> None:
    (x,) = e.inputs
    out = e.outputs[0]
    n, c, h, w = x.shape
    _, _, oh, ow, kh, kw = out.shape
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = _geometry(e.params)
    pad = _pad_value(e.params.get("pad", "zeros"), out.dtype.name)
    t = C_TYPES[out.dtype.name]
    # coordinates over (plane = n*C + c, oh, ow, i, j)
    body = _coords((n * c, oh, ow, kh, kw), "i", set(range(5)))
    body.append(f"const long long y = {_affine(('c1', sh), ('c3', dh), const=-pt)};")
    body.append(f"const long long x = {_affine(('c2', sw), ('c4', dw), const=-pl)};")
    load = f"in0[c0 * {h * w} + {_term('y', w)} + x]"
    checks = _inside("y", pt, pb, h) + _inside("x", pl, pr, w)
    if checks:
        body.append(f"out[i] = ({' && '.join(checks)}) ? {load} : ({t})({pad});")
    else:
        body.append(f"out[i] = {load};")
    rows, cols = _affine(("oh", sh), ("i", dh), const=-pt), _affine(("ow", sw), ("j", dw), const=-pl)
    comment = [f"windows[n, c, oh, ow, i, j] = x[n, c, {rows}, {cols}]"
               + (f", {pad} in the padding" if checks else "")]
    params = [f"const {t}* __restrict__ in0", f"{t}* __restrict__ out"]
    src = _grid_loop(out.type.numel, params, body, comment)
    gen.add(e, src, out.type.numel, gen.elementwise_grid(out.type.numel),
            [gen.names[x], gen.names[out]])


# ---------------------------------------------------------------- fold2d


@family_kernel("fold2d")
def fold2d(gen, e) -> None:
    (win,) = e.inputs
    out = e.outputs[0]
    n, c, h, w = out.shape
    _, _, oh, ow, kh, kw = win.shape
    (sh, sw), (dh, dw), (pt, _, pl, _) = _geometry(e.params)
    t = C_TYPES[out.dtype.name]
    # integers (and bools: a sum of bools is their `or`) add up exactly in 64 bits; the
    # final cast wraps like NumPy's narrow adds
    acc_t = _acc_type(out.dtype.name) if out.dtype.is_floating_point else "long long"

    def tap(axis: str, pos: str, k: str, s: int, d: int, lo: int, n_out: int) -> list[str]:
        """Lines finding the window `o{axis}` whose tap `k` reads input position `pos`
        (o*s - lo + k*d == pos), skipping the tap when there is none."""
        lines = [f"const long long t{axis} = {_affine((pos, 1), (k, -d), const=lo)};  // o{axis} * {s}"]
        cond = [f"t{axis} < 0"] + ([f"t{axis} % {s} != 0"] if s != 1 else [])
        lines.append(f"if ({' || '.join(cond)}) continue;")
        lines.append(f"const long long o{axis} = {f't{axis} / {s}' if s != 1 else f't{axis}'};")
        lines.append(f"if (o{axis} >= {n_out}) continue;")
        return lines

    body = _coords((n * c, h, w), "i", {0, 1, 2})
    body.append(f"const {t}* __restrict__ planes = in0 + c0 * {oh * ow * kh * kw}LL;")
    body.append(f"{acc_t} acc = 0;")
    body.append(f"for (int ki = 0; ki < {kh}; ++ki) {{")
    body += ["  " + ln for ln in tap("h", "c1", "ki", sh, dh, pt, oh)]
    body.append(f"  for (int kj = 0; kj < {kw}; ++kj) {{")
    body += ["    " + ln for ln in tap("w", "c2", "kj", sw, dw, pl, ow)]
    body.append(f"    acc += planes[((oh * {ow} + ow) * {kh} + ki) * {kw} + kj];")
    body += ["  }", "}", f"out[i] = ({t})acc;"]
    rows, cols = _affine(("oh", sh), ("i", dh), const=-pt), _affine(("ow", sw), ("j", dw), const=-pl)
    comment = ["x[n, c, y, x] = sum of windows[n, c, oh, ow, i, j] over the taps reading (y, x):",
               f"{rows} == y and {cols} == x. A gather: no atomics, and taps add in (i, j) order"]
    params = [f"const {t}* __restrict__ in0", f"{t}* __restrict__ out"]
    src = _grid_loop(out.type.numel, params, body, comment)
    gen.add(e, src, out.type.numel, gen.elementwise_grid(out.type.numel),
            [gen.names[win], gen.names[out]])


# ---------------------------------------------------------------- conv2d

# (channels, pixels) block tiles of the implicit GEMM, 256 threads with 4 x 4 outputs each;
# fewer channels per group take the taller-in-pixels tiles
_TILES = ((64, 64), (32, 128), (16, 256))
_BK = 16  # reduction slice held in shared memory
_MIN_TILED_CHANNELS = 16  # below: the direct kernel


@family_kernel("conv2d")
def conv2d(gen, e) -> None:
    cv = _Conv.of(e)
    if max(cv.c * cv.h * cv.w, cv.o * cv.cg * cv.kh * cv.kw) >= 2**31:
        raise NotImplementedError("op 'conv2d': an image or weight of 2**31 elements or more")
    if cv.og >= _MIN_TILED_CHANNELS and cv.groups <= 65535:  # grid z: one group each
        _conv_tiled(gen, e, cv)
    else:
        _conv_direct(gen, e, cv)


@dataclass
class _Conv:
    """conv2d's sizes: x (n, c, h, w), weight (o, cg, kh, kw) in `groups` groups of og
    output channels, out (n, o, oh, ow); stride, dilation, padding (top, bottom, left,
    right); t the C type and acc_t the accumulator's."""
    n: int; c: int; h: int; w: int; o: int; cg: int; kh: int; kw: int; oh: int; ow: int
    groups: int; og: int; sh: int; sw: int; dh: int; dw: int; pt: int; pb: int; pl: int; pr: int
    t: str; acc_t: str

    @staticmethod
    def of(e) -> _Conv:
        x, wt = e.inputs
        out = e.outputs[0]
        (sh, sw), (dh, dw), (pt, pb, pl, pr) = _geometry(e.params)
        t = C_TYPES[out.dtype.name]
        groups = e.params["groups"]
        # integer convolutions add exactly in 64 bits (bools: a sum of products is their
        # `or`); the final cast wraps like NumPy's narrow arithmetic
        return _Conv(*x.shape, *wt.shape, *out.shape[2:], groups, wt.shape[0] // groups,
                     sh, sw, dh, dw, pt, pb, pl, pr, t,
                     _acc_type(out.dtype.name) if out.dtype.is_floating_point else "long long")


def _conv_direct(gen, e, cv: _Conv) -> None:
    """One thread per output element; the threads of a warp share their output channel,
    so each weight load is one broadcast (and stays in cache across the warp's pixels)."""
    x, wt = e.inputs
    out = e.outputs[0]
    t, acc_t, hw, kprod = cv.t, cv.acc_t, cv.h * cv.w, cv.kh * cv.kw
    body = _coords((cv.n, cv.o, cv.oh, cv.ow), "i", {0, 1, 2, 3})
    group = "c1" if cv.og == 1 else f"(c1 / {cv.og})"
    body.append(f"const {t}* __restrict__ xp = in0 + ({_affine(('c0', cv.c), (group, cv.cg))}) * {hw}LL;"
                "  // channel 0 of the output's group")
    body.append(f"const {t}* __restrict__ wp = in1 + c1 * {cv.cg * kprod}LL;")
    body.append(f"{acc_t} acc = 0;")
    body.append(f"for (int ch = 0; ch < {cv.cg}; ++ch, xp += {hw}, wp += {kprod}) {{")
    body.append(f"  for (int ki = 0; ki < {cv.kh}; ++ki) {{")
    body.append(f"    const long long y = {_affine(('c2', cv.sh), ('ki', cv.dh), const=-cv.pt)};")
    ych = _inside("y", cv.pt, cv.pb, cv.h)
    if ych:
        body.append(f"    if (!({' && '.join(ych)})) continue;")
    body.append(f"    for (int kj = 0; kj < {cv.kw}; ++kj) {{")
    body.append(f"      const long long x = {_affine(('c3', cv.sw), ('kj', cv.dw), const=-cv.pl)};")
    xch = _inside("x", cv.pl, cv.pr, cv.w)
    if xch:
        body.append(f"      if (!({' && '.join(xch)})) continue;")
    body.append(f"      acc += ({acc_t})xp[{_term('y', cv.w)} + x] * ({acc_t})wp[{_affine(('ki', cv.kw), ('kj', 1))}];")
    body += ["    }", "  }", "}", f"out[i] = ({t})acc;"]
    n_out = out.type.numel
    rows = _affine(("oh", cv.sh), ("i", cv.dh), const=-cv.pt)
    cols = _affine(("ow", cv.sw), ("j", cv.dw), const=-cv.pl)
    comment = [f"out[n, o, oh, ow] = sum over ch < {cv.cg}, i < {cv.kh}, j < {cv.kw} of w[o, ch, i, j] *",
               f"  x[n, g*{cv.cg} + ch, {rows}, {cols}], g = o / {cv.og}; padding reads as 0"]
    params = [f"const {t}* __restrict__ in0", f"const {t}* __restrict__ in1", f"{t}* __restrict__ out"]
    src = _grid_loop(n_out, params, body, comment)
    gen.add(e, src, n_out, gen.elementwise_grid(n_out), [gen.names[x], gen.names[wt], gen.names[out]])


def _window_index(cv: _Conv) -> str:
    """C declarations of (ch, i, j), the window element of reduction index k."""
    kprod = cv.kh * cv.kw
    ch = "0" if cv.cg == 1 else ("k" if kprod == 1 else f"k / {kprod}")
    tap = "k" if cv.cg == 1 else f"k % {kprod}"  # i * kw + j
    i = "0" if cv.kh == 1 else (tap if cv.kw == 1 else f"{tap} / {cv.kw}")
    j = "0" if cv.kw == 1 else f"k % {cv.kw}"
    return f"const int ch = {ch}, i = {i}, j = {j};"


def _conv_tiled(gen, e, cv: _Conv) -> None:
    x, wt = e.inputs
    out = e.outputs[0]
    t, acc_t = cv.t, cv.acc_t
    og, kk, hw, L = cv.og, cv.cg * cv.kh * cv.kw, cv.h * cv.w, cv.oh * cv.ow
    npix = cv.n * L
    bm, bn = next((bm, bn) for bm, bn in _TILES if og >= bm or bm == _TILES[-1][0])
    bk = _BK
    nty, ntx = bm // 4, bn // 4  # threads along channels, along pixels
    checks = _inside("y", cv.pt, cv.pb, cv.h) + _inside("x", cv.pl, cv.pr, cv.w)
    load = f"xb[(long long)ch * {hw} + {_term('y', cv.w)} + x]"
    zero = f"({t})0"
    fetch = (f"if ({' && '.join(checks)}) v = {load};" if checks else f"v = {load};")
    y0 = _affine((f"(int)(qp / {cv.ow})", cv.sh), const=-cv.pt)
    x0 = _affine((f"(int)(qp % {cv.ow})", cv.sw), const=-cv.pl)
    src = f"""extern "C" __global__ void __launch_bounds__(256) KERNEL(const {t}* __restrict__ X, const {t}* __restrict__ Wt, {t}* __restrict__ out) {{
  // Implicit GEMM, group g = blockIdx.z: out[n, g*{og} + m, oh, ow] = sum over k < {kk} of
  //   w[g*{og} + m, k] * x[n, g*{cv.cg} + ch, {_affine(('oh', cv.sh), ('i', cv.dh), const=-cv.pt)}, {_affine(('ow', cv.sw), ('j', cv.dw), const=-cv.pl)}],
  //   k = (ch, i, j) over {cv.cg} x {cv.kh} x {cv.kw}; padding reads as 0.
  // A block computes {bm} channels x {bn} pixels p = (n, oh, ow), bringing {bk}-deep slices of
  // the weights and of the windows through shared memory; each thread keeps 4 x 4 sums, at
  // channels ty + {nty}*a and pixels tx + {ntx}*b (conflict-free shared reads, coalesced stores).
  __shared__ {t} Ws[{bk}][{bm}];
  __shared__ {t} Xs[{bk}][{bn}];
  {acc_t} acc[4][4];
  #pragma unroll
  for (int a = 0; a < 4; ++a)
    #pragma unroll
    for (int b = 0; b < 4; ++b) acc[a][b] = 0;
  const int tid = threadIdx.x, tx = tid % {ntx}, ty = tid / {ntx};
  const int g = blockIdx.z, m0 = blockIdx.y * {bm};
  const long long p0 = (long long)blockIdx.x * {bn};
  // the pixel whose windows this thread loads: column tid % {bn} of every slice
  const long long q = p0 + tid % {bn};
  const bool q_ok = q < {npix};
  const long long qn = q / {L}, qp = q % {L};
  const int y0 = {y0}, x0 = {x0};
  const {t}* __restrict__ xb = X + (qn * {cv.c} + g * {cv.cg}) * {hw}LL;
  const {t}* __restrict__ wb = Wt + (long long)g * {og * kk};
  for (int k0 = 0; k0 < {kk}; k0 += {bk}) {{
    // weights: {bm} x {bk}, consecutive threads read consecutive k
    #pragma unroll
    for (int r = 0; r < {bm * bk // 256}; ++r) {{
      const int mm = tid / {bk} + r * {256 // bk}, kq = tid % {bk};
      const int m = m0 + mm, k = k0 + kq;
      Ws[kq][mm] = (m < {og} && k < {kk}) ? wb[(long long)m * {kk} + k] : {zero};
    }}
    // windows: {bk} x {bn}, consecutive threads read consecutive pixels
    #pragma unroll
    for (int r = 0; r < {bk * bn // 256}; ++r) {{
      const int kq = tid / {bn} + r * {256 // bn}, k = k0 + kq;
      {t} v = {zero};
      if (q_ok && k < {kk}) {{
        {_window_index(cv)}
        const int y = {_affine(('y0', 1), ('i', cv.dh))}, x = {_affine(('x0', 1), ('j', cv.dw))};
        {fetch}
      }}
      Xs[kq][tid % {bn}] = v;
    }}
    __syncthreads();
    #pragma unroll
    for (int kq = 0; kq < {bk}; ++kq) {{
      {t} wa[4], xv[4];
      #pragma unroll
      for (int a = 0; a < 4; ++a) wa[a] = Ws[kq][ty + {nty} * a];
      #pragma unroll
      for (int b = 0; b < 4; ++b) xv[b] = Xs[kq][tx + {ntx} * b];
      #pragma unroll
      for (int a = 0; a < 4; ++a)
        #pragma unroll
        for (int b = 0; b < 4; ++b) acc[a][b] += ({acc_t})wa[a] * ({acc_t})xv[b];
    }}
    __syncthreads();
  }}
  for (int b = 0; b < 4; ++b) {{
    const long long p = p0 + tx + {ntx} * b;
    if (p >= {npix}) break;
    const long long pn = p / {L}, pp = p % {L};
    for (int a = 0; a < 4; ++a) {{
      const int m = m0 + ty + {nty} * a;
      if (m < {og}) out[(pn * {cv.o} + g * {og} + m) * {L}LL + pp] = ({t})acc[a][b];
    }}
  }}
}}"""
    grid = (-(-npix // bn), -(-og // bm), cv.groups)
    if grid[0] >= 2**31:
        raise NotImplementedError("op 'conv2d': more than 2**31 pixel tiles")
    gen.add(e, src, out.type.numel, grid, [gen.names[x], gen.names[wt], gen.names[out]])
