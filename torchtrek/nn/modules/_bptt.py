"""One recurrent layer (one direction) over a whole sequence as a single autograd node, the way
torch's CPU RNN kernels are one node: the forward runs the time loop and keeps each step's
gate activations; the backward runs backpropagation through time and returns the gradient of
the whole input projection as one (T, B, G) tensor and W_hh's gradient as one matmul over all
steps. (Differentiating step by step instead gives every step's slice of the projection a
full-size zero-padded gradient, summed T times: quadratic in T.)

Written as a torch.autograd.Function, so the same code is the eager tape node and, traced,
the compiled backward (see torchtrek/_function_traced.py)."""

from __future__ import annotations

from typing import Any

import torchtrek as tt

from ..._dispatch import bind_multi
from .. import functional as F


def forward_step(mode: str, xw: Any, h: Any, c: Any, w_hh: Any, b_hh: Any,
                  w_hr: Any, fused: bool = False) -> tuple[Any, Any, tuple]:
    """One step given the input projection xw: (h, c, what the backward needs), with
    ATen's CPU arithmetic (rnn._cell_step is this step without the saved values). `fused`:
    an LSTM's or a GRU's gates as one lstm_cell / gru_cell op (no gradient of its own: the
    recurrence node's)."""
    hw = F.linear(h, w_hh, b_hh)
    if mode == "LSTM" and fused:
        hp, c_new, act = bind_multi("lstm_cell", [hw, xw, c])
        h_new = tt.matmul(hp, w_hr.t()) if w_hr is not None else hp
        return h_new, c_new, (h, c, act, hp)
    if mode == "LSTM":
        i, f, g, o = (hw + xw).chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c_new = f * c + i * g
        tc = c_new.tanh()
        hp = o * tc
        h_new = tt.matmul(hp, w_hr.t()) if w_hr is not None else hp
        return h_new, c_new, ()  # (differentiated op by op: nothing to save)
    if mode == "GRU" and fused:
        h_new, act = bind_multi("gru_cell", [hw, xw, h])
        return h_new, None, (h, act)
    if mode == "GRU":
        ir, iz, in_ = xw.chunk(3, 1)
        hr, hz, hn = hw.chunk(3, 1)
        r = (hr + ir).sigmoid()
        z = (hz + iz).sigmoid()
        n = (in_ + hn * r).tanh()
        return (h - n) * z + n, None, ()
    pre = hw + xw
    h_new = pre.tanh() if mode == "RNN_TANH" else pre.relu()
    return h_new, None, (h, h_new)


def _backward_step(mode: str, saved: tuple, dh: Any, dc: Any, w_hh: Any,
                   w_hr: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(d input projection, d hidden projection, dh_prev, dc_prev, d w_hr part) of one step,
    from what forward_step(..., fused=True) saved."""
    if mode == "LSTM":
        h, c, act, hp = saved
        dhr = None
        if w_hr is not None:
            dhr = tt.matmul(dh.t(), hp)  # (P, H)
            dh = tt.matmul(dh, w_hr)
        dgates, dc_prev = bind_multi("lstm_cell_backward", [act, c, dh, dc])
        return dgates, dgates, tt.matmul(dgates, w_hh), dc_prev, dhr
    if mode == "GRU":
        h, act = saved
        dx, dhw, dhz = bind_multi("gru_cell_backward", [act, h, dh])
        return dx, dhw, dhz + tt.matmul(dhw, w_hh), None, None
    h, h_new = saved
    dpre = dh * (1 - h_new * h_new) if mode == "RNN_TANH" else dh * (h_new > 0).to(dh.dtype)
    return dpre, dpre, tt.matmul(dpre, w_hh), None, None


class Recurrence(tt.autograd.Function):
    """apply(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse) -> (out (T, B, H), h_n, c_n)."""

    @staticmethod
    def forward(ctx: Any, xw: Any, h0: Any, c0: Any, w_hh: Any, b_hh: Any, w_hr: Any,
                mode: str, reverse: bool) -> tuple[Any, Any, Any]:
        T = xw.shape[0]
        h, c = h0, c0
        outs: list[Any] = [None] * T
        saved: list[Any] = [None] * T
        order = range(T - 1, -1, -1) if reverse else range(T)
        for t in order:
            h, c, saved[t] = forward_step(mode, xw[t], h, c, w_hh, b_hh, w_hr, fused=True)
            outs[t] = h
        ctx.mode, ctx.reverse, ctx.steps = mode, reverse, saved
        ctx.save_for_backward(w_hh, w_hr)
        ctx.has_bias = b_hh is not None
        out = tt.stack(outs, 0)
        if c is None:  # (RNN, GRU: no cell state; a placeholder output without a gradient)
            c = h.new_zeros(0)
            ctx.mark_non_differentiable(c)
        return out, h, c

    @staticmethod
    def backward(ctx: Any, d_out: Any, d_hn: Any, d_cn: Any) -> tuple:
        w_hh, w_hr = ctx.saved_tensors
        mode, steps = ctx.mode, ctx.steps
        T = len(steps)
        dh, dc = d_hn, (d_cn if mode == "LSTM" else None)
        dxs: list[Any] = [None] * T
        dhws: list[Any] = [None] * T
        dw_hr = None
        order = range(T) if ctx.reverse else range(T - 1, -1, -1)
        for t in order:
            dx, dhw, dh, dc, dhr = _backward_step(mode, steps[t], dh + d_out[t], dc, w_hh, w_hr)
            dxs[t], dhws[t] = dx, dhw
            if dhr is not None:
                dw_hr = dhr if dw_hr is None else dw_hr + dhr
        d_xw = tt.stack(dxs, 0)
        d_hw = tt.stack(dhws, 0).reshape(T * dhws[0].shape[0], -1)
        h_prev = tt.stack([s[0] for s in steps], 0).reshape(T * dhws[0].shape[0], -1)
        dw_hh = tt.matmul(d_hw.t(), h_prev)
        db_hh = d_hw.sum(0) if ctx.has_bias else None
        return d_xw, dh, dc, dw_hh, db_hh, dw_hr, None, None
