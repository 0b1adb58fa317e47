"""CUDA kernels for the fused attention ops (ir/ops/attention.py), printed from
codegen/cuda/attention.cu.j2: `sdpa` as one kernel (out and the log-sum-exp), and
`sdpa_backward` as two, one thread per query row for dQ (it also writes rowsum(dO * O))
and then one per key row for dK and dV, so that no thread's sums race with another's.
They are straightforward (registers and global memory, no shared-memory tiles): checked
with nvcc and in the CPU emulator, not yet timed on a GPU."""

from __future__ import annotations

from ....ir.graph import Eqn, Var
from ....ir.symdims import is_symbolic
from ..generator import _Gen, _env, family_kernel
from ..generator import Kernel

THREADS = 128
MAX_WIDTH = 128  # per-thread accumulators live in registers / local memory


def _frame(e: Eqn) -> dict:
    q, k, v = e.inputs[:3]
    if not all(isinstance(a, Var) for a in e.inputs) or any(
            is_symbolic(n) for a in e.inputs for n in a.shape):
        raise NotImplementedError(f"op {e.op!r} with symbolic sizes in a CUDA kernel")
    if q.dtype.name not in ("float32", "float64"):
        raise NotImplementedError(f"op {e.op!r} on {q.dtype.name} (float32 and float64 only)")
    if q.shape[-1] > MAX_WIDTH or v.shape[-1] > MAX_WIDTH:
        raise NotImplementedError(f"op {e.op!r} with widths over {MAX_WIDTH} in CUDA")
    nbh = 1
    for n in q.shape[:-2]:
        nbh *= n
    f32 = q.dtype.name == "float32"
    scale = float(e.params["scale"])
    mask = len(e.inputs) == (4 if e.op == "sdpa" else 7)
    ms: tuple[int, ...] = ()
    if mask:  # the mask's strides as (B, H, L, S), 0 along its broadcast dims
        if q.ndim != 4:
            raise NotImplementedError(f"op {e.op!r} with a mask on {q.ndim}-d operands in CUDA")
        m = e.inputs[-1]
        shape = (1,) * (4 - m.ndim) + tuple(m.shape)
        strides, step = [0] * 4, 1
        for d in range(3, -1, -1):
            strides[d] = step if shape[d] != 1 else 0
            step *= shape[d]
        ms = tuple(strides)
    return dict(t="float" if f32 else "double", exp="expf" if f32 else "exp",
                log="logf" if f32 else "log", NBH=nbh, L=q.shape[-2], S=k.shape[-2],
                E=q.shape[-1], EV=v.shape[-1], causal=bool(e.params["causal"]), mask=mask, ms=ms,
                NH=q.shape[1] if q.ndim == 4 else 1,
                scale=repr(scale) + ("f" if f32 else ""), block=THREADS)


def _launch(gen: _Gen, e: Eqn, kind: str, frame: dict, rows: int, args: list[str]) -> None:
    name = f"{gen.kname(e)}_{kind}"
    where = f" ({e.loc})" if e.loc else ""
    comment = (f"{e.op} {kind}: {frame['NBH']} heads, {frame['L']} queries, {frame['S']} keys, "
               f"widths {frame['E']}/{frame['EV']}{', causal' if frame['causal'] else ''}{where}")
    src = _env().get_template("attention.cu.j2").render(kind=kind, comment=comment, **frame)
    grid = (max(1, -(-rows // THREADS)), 1, 1)
    gen.kernels.append(Kernel(name, src.replace("KERNEL", name), str(e.loc or e.op), grid,
                              (THREADS, 1, 1), args))
    ptrs = ", ".join(f"{a}.gpudata" for a in args)
    gen.body.append(f"K.{name}.prepared_call({grid}, ({THREADS}, 1, 1), {ptrs})")


def _alloc(gen: _Gen, v: Var) -> str:
    name = gen.names[v]
    gen.body.append(f"{name} = alloc({v.shape}, \"{v.dtype.name}\")")
    return name


@family_kernel("sdpa")
def print_sdpa(gen: _Gen, e: Eqn) -> None:
    frame = _frame(e)
    ins = [gen.names[a] for a in e.inputs]
    outs = [_alloc(gen, o) for o in e.outputs]
    if frame["NBH"] * frame["L"]:
        _launch(gen, e, "forward", frame, frame["NBH"] * frame["L"], ins + outs)


@family_kernel("sdpa_backward")
def print_sdpa_backward(gen: _Gen, e: Eqn) -> None:
    frame = _frame(e)
    q, k, v, o, lse, do, *mask = (gen.names[a] for a in e.inputs)
    dq, dk, dv = (_alloc(gen, x) for x in e.outputs)
    dsum = f"{dq}_rowsum"
    gen.body.append(f"{dsum} = alloc({tuple(e.inputs[4].shape)}, \"{e.inputs[0].dtype.name}\")")
    if frame["NBH"] * frame["L"]:
        _launch(gen, e, "grad_q", frame, frame["NBH"] * frame["L"],
                [q, k, v, o, lse, do, *mask, dq, dsum])
    if frame["NBH"] * frame["S"]:
        _launch(gen, e, "grad_kv", frame, frame["NBH"] * frame["S"],
                [q, k, v, lse, do, dsum, *mask, dk, dv])
