"""CUDA kernels for an LSTM's and a GRU's fused cell gates (ir/ops/rnn.py): one thread per
(row, unit), the gates' columns read side by side, the formulas and their order as the C
backend's (codegen/c/rnn.c.j2) and ATen's."""

from __future__ import annotations

from ....ir.graph import Eqn, Var
from ....ir.symdims import is_symbolic
from ...cfamily.printer import C_TYPES
from ..generator import BLOCK, Kernel, _Gen, family_kernel


def _frame(e: Eqn, c: Var) -> tuple[str, int, int, str, str]:
    """(C type, B, H, the float math suffix, the literal 1) for state operand `c`."""
    if any(is_symbolic(n) for a in e.inputs for n in a.shape):
        raise NotImplementedError(f"op {e.op!r} with symbolic sizes in a CUDA kernel")
    if c.dtype.name not in ("float32", "float64"):
        raise NotImplementedError(f"op {e.op!r} on {c.dtype.name} (float32 and float64 only)")
    B, H = c.shape
    f32 = c.dtype.name == "float32"
    return C_TYPES[c.dtype.name], B, H, "f" if f32 else "", "1.0f" if f32 else "1.0"


def _launch(gen: _Gen, e: Eqn, t: str, body: str, names: tuple[str, ...]) -> None:
    """One thread per (row, unit); `names`: the kernel's names for the inputs, then the
    outputs, in the equation's order."""
    n_in = len(e.inputs)
    params = ", ".join([f"const {t}* __restrict__ {x}" for x in names[:n_in]]
                       + [f"{t}* __restrict__ {x}" for x in names[n_in:]])
    args = [gen.names[a] for a in e.inputs + e.outputs]
    n = e.inputs[-1].type.numel  # (every cell op's last input is a (B, H) state or gradient)
    for o in e.outputs:
        gen.body.append(f"{gen.names[o]} = alloc({o.shape}, \"{o.dtype.name}\")")
    if n == 0:
        return
    name = gen.kname(e)
    where = f" ({e.loc})" if e.loc else ""
    src = (f"// {e.op}{where}\n"
           f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) {name}({params}) {{\n"
           f"  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < {n}LL;\n"
           f"       t += (long long)blockDim.x * gridDim.x) {{\n{body}  }}\n}}")
    grid = gen.elementwise_grid(n)
    gen.kernels.append(Kernel(name, src, str(e.loc or e.op), grid, (BLOCK, 1, 1), args))
    ptrs = ", ".join(f"{a}.gpudata" for a in args)
    gen.body.append(f"K.{name}.prepared_call({grid}, ({BLOCK}, 1, 1), {ptrs})")


@family_kernel("lstm_cell")
def print_lstm_cell(gen: _Gen, e: Eqn) -> None:
    t, _, H, f, one = _frame(e, e.inputs[2])
    sig = lambda k: f"{one} / ({one} + exp{f}(-(zh[{k * H}] + zx[{k * H}])))"  # noqa: E731
    body = (f"    const long long b = t / {H}, j = t % {H};\n"
            f"    const {t}* zh = hw + b * {4 * H}LL + j; const {t}* zx = xw + b * {4 * H}LL + j;\n"
            f"    {t}* a = act + b * {5 * H}LL + j;\n"
            f"    const {t} i = {sig(0)}, fg = {sig(1)};\n"
            f"    const {t} g = tanh{f}(zh[{2 * H}] + zx[{2 * H}]), o = {sig(3)};\n"
            f"    const {t} cn = fg * c[t] + i * g, th = tanh{f}(cn);\n"
            f"    a[0] = i; a[{H}] = fg; a[{2 * H}] = g; a[{3 * H}] = o; a[{4 * H}] = th;\n"
            f"    c_new[t] = cn; hp[t] = o * th;\n")
    _launch(gen, e, t, body, ('hw', 'xw', 'c', 'hp', 'c_new', 'act'))


@family_kernel("lstm_cell_backward")
def print_lstm_cell_backward(gen: _Gen, e: Eqn) -> None:
    t, _, H, _, one = _frame(e, e.inputs[1])
    body = (f"    const long long b = t / {H}, j = t % {H};\n"
            f"    const {t}* a = act + b * {5 * H}LL + j; {t}* dz = dgates + b * {4 * H}LL + j;\n"
            f"    const {t} i = a[0], fg = a[{H}], g = a[{2 * H}], o = a[{3 * H}], th = a[{4 * H}];\n"
            f"    const {t} gh = dh[t], d = dc[t] + gh * o * ({one} - th * th);\n"
            f"    dz[0] = d * g * i * ({one} - i); dz[{H}] = d * c[t] * fg * ({one} - fg);\n"
            f"    dz[{2 * H}] = d * i * ({one} - g * g); dz[{3 * H}] = gh * th * o * ({one} - o);\n"
            f"    dc_prev[t] = d * fg;\n")
    _launch(gen, e, t, body, ('act', 'c', 'dh', 'dc', 'dgates', 'dc_prev'))


@family_kernel("gru_cell")
def print_gru_cell(gen: _Gen, e: Eqn) -> None:
    t, _, H, f, one = _frame(e, e.inputs[2])
    sig = lambda k: f"{one} / ({one} + exp{f}(-(zh[{k * H}] + zx[{k * H}])))"  # noqa: E731
    body = (f"    const long long b = t / {H}, j = t % {H};\n"
            f"    const {t}* zh = hw + b * {3 * H}LL + j; const {t}* zx = xw + b * {3 * H}LL + j;\n"
            f"    {t}* a = act + b * {4 * H}LL + j;\n"
            f"    const {t} r = {sig(0)}, z = {sig(1)}, hn = zh[{2 * H}];\n"
            f"    const {t} n = tanh{f}(zx[{2 * H}] + hn * r);\n"
            f"    a[0] = r; a[{H}] = z; a[{2 * H}] = n; a[{3 * H}] = hn;\n"
            f"    h_new[t] = (h[t] - n) * z + n;\n")
    _launch(gen, e, t, body, ('hw', 'xw', 'h', 'h_new', 'act'))


@family_kernel("gru_cell_backward")
def print_gru_cell_backward(gen: _Gen, e: Eqn) -> None:
    t, _, H, _, one = _frame(e, e.inputs[1])
    body = (f"    const long long b = t / {H}, j = t % {H};\n"
            f"    const {t}* a = act + b * {4 * H}LL + j;\n"
            f"    {t}* gx = dx + b * {3 * H}LL + j; {t}* gw = dhw + b * {3 * H}LL + j;\n"
            f"    const {t} r = a[0], z = a[{H}], n = a[{2 * H}], hn = a[{3 * H}], g = dh[t];\n"
            f"    const {t} dn = g * ({one} - z) * ({one} - n * n);\n"
            f"    const {t} dr = dn * hn * r * ({one} - r), dz = g * (h[t] - n) * z * ({one} - z);\n"
            f"    gx[0] = dr; gx[{H}] = dz; gx[{2 * H}] = dn;\n"
            f"    gw[0] = dr; gw[{H}] = dz; gw[{2 * H}] = dn * r;\n"
            f"    dhz[t] = g * z;\n")
    _launch(gen, e, t, body, ('act', 'h', 'dh', 'dx', 'dhw', 'dhz'))
