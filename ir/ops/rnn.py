"""An LSTM's and a GRU's cell gates as one kernel each way: `lstm_cell`, `lstm_cell_backward`,
`gru_cell`, `gru_cell_backward`.

    lstm_cell(hw (B, 4H), xw (B, 4H), c (B, H)) -> hp (B, H), c_new (B, H), act (B, 5H)
        gates = hw + xw, split i | f | g | o; i, f, o = sigmoid, g = tanh;
        c_new = f * c + i * g; hp = o * tanh(c_new); act = [i, f, g, o, tanh(c_new)]
    lstm_cell_backward(act, c, dhp (B, H), dc (B, H)) -> d_gates (B, 4H), dc_prev (B, H)

    gru_cell(hw (B, 3H), xw (B, 3H), h (B, H)) -> h_new (B, H), act (B, 4H)
        r = sigmoid(hw_r + xw_r), z = sigmoid(hw_z + xw_z), n = tanh(xw_n + hw_n * r);
        h_new = (h - n) * z + n; act = [r, z, n, hw_n]
    gru_cell_backward(act, h, dh (B, H)) -> d_xw (B, 3H), d_hw (B, 3H), dh * z (B, H)

ATen's CPU arithmetic, in its order (torchtrek/nn/modules/_bptt.py is the caller: the
recurrence node's forward and backward, which is the gradient; these ops have none of
their own). The C backend prints both from codegen/c/rnn.c.j2, the CUDA backend from
codegen/cuda/families/rnn.py; the NumPy emitters below are the reference.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..builder import Builder
from ..graph import Atom, Eqn, TensorType
from ..opdef import OpDef, register
from ..shapes import ShapeError


def _infer_cell(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    hw, xw, c = types
    if hw.ndim != 2 or hw.shape != xw.shape or c.shape != (hw.shape[0], hw.shape[1] // 4) \
            or hw.shape[1] % 4 or not (hw.dtype is xw.dtype is c.dtype):
        raise ShapeError(f"lstm_cell: expected gates (B, 4H) twice and a cell state (B, H) of "
                         f"one dtype, got {list(hw.shape)}, {list(xw.shape)} and {list(c.shape)}")
    B, H = c.shape
    return (c, c, TensorType((B, 5 * H), c.dtype))


def _cols(x: str, k: int, H: int) -> str:
    return f"{x}[:, {k * H}:{(k + 1) * H}]"


def _emit_cell(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    hw, xw, c = args
    H = ins[2].shape[1]
    sig = "1 / (1 + np.exp(-{}))"
    # _z: the gate pre-activations; _a: i, f, g, o; _c: the new cell state; _t: its tanh
    acts = (f"np.concatenate(({sig.format(_cols('_z', 0, 2 * H))}, "
            f"np.tanh({_cols('_z', 2, H)}), {sig.format(_cols('_z', 3, H))}), 1)")
    return (f"(lambda _z: (lambda _a: (lambda _c: (lambda _t: "
            f"({_cols('_a', 3, H)} * _t, _c, np.concatenate((_a, _t), 1)))(np.tanh(_c)))"
            f"({_cols('_a', 1, H)} * {c} + {_cols('_a', 0, H)} * {_cols('_a', 2, H)}))({acts}))"
            f"({hw} + {xw})")


def _no_vjp(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    raise NotImplementedError(f"op {eqn.op!r} has no derivative of its own: it is the inside of "
                              f"the recurrence node, whose backward is its gradient")


register(OpDef("lstm_cell", "rnn", _infer_cell, vjp=_no_vjp, torch_name="LstmCell",
               emit={"numpy": _emit_cell}))


def _infer_cell_bwd(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    act, c, dh, dc = types
    B, H = c.shape if c.ndim == 2 else (0, 0)
    if c.ndim != 2 or act.shape != (B, 5 * H) or dh.shape != c.shape or dc.shape != c.shape:
        raise ShapeError(f"lstm_cell_backward: expected activations (B, 5H) and (B, H) for the "
                         f"cell state and both gradients, got {list(act.shape)}, "
                         f"{list(c.shape)}, {list(dh.shape)} and {list(dc.shape)}")
    return (TensorType((B, 4 * H), c.dtype), c)


def _emit_cell_bwd(args: list[str], a: dict[str, Any], ins: Sequence[TensorType],
                   out: TensorType) -> str:
    act, c, dh, dc = args
    H = ins[1].shape[1]
    i, f, g, o, t = (_cols(act, k, H) for k in range(5))
    # _d: the cell state's whole gradient, dc + dh * o * (1 - tanh(c_new)^2)
    return (f"(lambda _d: (np.concatenate((_d * {g} * {i} * (1 - {i}), _d * {c} * {f} * (1 - {f}), "
            f"_d * {i} * (1 - {g} * {g}), {dh} * {t} * {o} * (1 - {o})), 1), _d * {f}))"
            f"({dc} + {dh} * {o} * (1 - {t} * {t}))")


register(OpDef("lstm_cell_backward", "rnn", _infer_cell_bwd, vjp=_no_vjp,
               torch_name="LstmCellBackward", emit={"numpy": _emit_cell_bwd}))


def _infer_gru(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    hw, xw, h = types
    if hw.ndim != 2 or hw.shape != xw.shape or h.shape != (hw.shape[0], hw.shape[1] // 3) \
            or hw.shape[1] % 3 or not (hw.dtype is xw.dtype is h.dtype):
        raise ShapeError(f"gru_cell: expected gates (B, 3H) twice and a hidden state (B, H) of "
                         f"one dtype, got {list(hw.shape)}, {list(xw.shape)} and {list(h.shape)}")
    B, H = h.shape
    return (h, TensorType((B, 4 * H), h.dtype))


def _emit_gru(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    hw, xw, h = args
    H = ins[2].shape[1]
    sig = "1 / (1 + np.exp(-({} + {})))"
    r = sig.format(_cols(hw, 0, H), _cols(xw, 0, H))
    z = sig.format(_cols(hw, 1, H), _cols(xw, 1, H))
    hn = _cols(hw, 2, H)
    return (f"(lambda _r, _z: (lambda _n: (({h} - _n) * _z + _n, np.concatenate((_r, _z, _n, {hn}), 1)))"
            f"(np.tanh({_cols(xw, 2, H)} + {hn} * _r)))({r}, {z})")


register(OpDef("gru_cell", "rnn", _infer_gru, vjp=_no_vjp, torch_name="GruCell",
               emit={"numpy": _emit_gru}))


def _infer_gru_bwd(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    act, h, dh = types
    B, H = h.shape if h.ndim == 2 else (0, 0)
    if h.ndim != 2 or act.shape != (B, 4 * H) or dh.shape != h.shape:
        raise ShapeError(f"gru_cell_backward: expected activations (B, 4H) and (B, H) for the "
                         f"hidden state and its gradient, got {list(act.shape)}, {list(h.shape)} "
                         f"and {list(dh.shape)}")
    g = TensorType((B, 3 * H), h.dtype)
    return (g, g, h)


def _emit_gru_bwd(args: list[str], a: dict[str, Any], ins: Sequence[TensorType],
                  out: TensorType) -> str:
    act, h, dh = args
    H = ins[1].shape[1]
    r, z, n, hn = (_cols(act, k, H) for k in range(4))
    # _dn: the gradient at n's pre-activation; _dr, _dz: at r's and z's
    return (f"(lambda _dn: (lambda _dr, _dz: (np.concatenate((_dr, _dz, _dn), 1), "
            f"np.concatenate((_dr, _dz, _dn * {r}), 1), {dh} * {z}))"
            f"(_dn * {hn} * {r} * (1 - {r}), {dh} * ({h} - {n}) * {z} * (1 - {z})))"
            f"({dh} * (1 - {z}) * (1 - {n} * {n}))")


register(OpDef("gru_cell_backward", "rnn", _infer_gru_bwd, vjp=_no_vjp,
               torch_name="GruCellBackward", emit={"numpy": _emit_gru_bwd}))
