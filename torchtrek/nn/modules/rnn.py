"""torch.nn's recurrent layers: RNN, LSTM, GRU and their cells, with torch's parameter names,
shapes, initialization and arithmetic (ATen's CPU order: the input projection of the whole
sequence is one matmul, then per step `h @ W_hh^T + b_hh` plus that projection; GRU's update is
`(h - n) * z + n`), so values and gradients match torch's.

Written with the public tensor API: eagerly each step runs op by op; under `tt.compile` the
time loop is traced (unrolled for the traced length), the gates of a step are pointwise ops the
backend fuses, and the backward is derived from the trace. Packed sequences (see
nn.utils.rnn) run each step on the rows still active, as torch does."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torchtrek as tt

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from ._bptt import Recurrence, forward_step
from .module import Module

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _cell_step(mode: str, xw: Any, h: Any, c: Any, w_hh: Any, b_hh: Any, w_hr: Any) -> tuple:
    """One step given the input's projection xw = x @ W_ih^T + b_ih: the new (h, c), by the
    same arithmetic as the sequence node (_bptt.forward_step), for cells and packed input."""
    h, c, _ = forward_step(mode, xw, h, c, w_hh, b_hh, w_hr)
    return h, c


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be greater than 0" if isinstance(hidden_size, int)
                             else f"hidden_size should be of type int, got: "
                                  f"{type(hidden_size).__name__}")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than 0")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        gate = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        real_hidden = proj_size or hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for d in range(dirs):
                layer_in = input_size if layer == 0 else real_hidden * dirs
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih" + sfx, (gate, layer_in)),
                          ("weight_hh" + sfx, (gate, real_hidden))]
                if bias:
                    shapes += [("bias_ih" + sfx, (gate,)), ("bias_hh" + sfx, (gate,))]
                if proj_size:
                    shapes.append(("weight_hr" + sfx, (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name, Parameter(tt.empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def flatten_parameters(self) -> None:
        """cuDNN's weight packing: nothing to do here."""

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return (get("weight_ih"), get("weight_hh"), get("bias_ih") if self.bias else None,
                get("bias_hh") if self.bias else None,
                get("weight_hr") if self.proj_size else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s

    # ------------------------------------------------------------- forward

    def forward(self, input: Any, hx: Any = None) -> Any:
        packed = isinstance(input, PackedSequence)
        if packed:
            x, batch_sizes = input.data, input.batch_sizes.tolist()
            batch = batch_sizes[0]
            unbatched = False
        else:
            x = input
            if x.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{x.dim()}D tensor instead")
            unbatched = x.dim() == 2
            if unbatched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
            batch, batch_sizes = x.shape[1], None
            if x.shape[-1] != self.input_size:
                raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                                   f"{self.input_size}, got {x.shape[-1]}")
        dirs = 2 if self.bidirectional else 1
        real_hidden = self.proj_size or self.hidden_size
        h0, c0 = self._initial_state(hx, x, batch, dirs, real_hidden, unbatched, packed, input)
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
                run = self._run_packed if packed else self._run
                out, h, c = run(layer_in, h0[k], None if c0 is None else c0[k], w_ih, w_hh,
                                b_ih, b_hh, w_hr, bool(d), batch_sizes)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            layer_in = outs[0] if dirs == 1 else tt.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = tt.stack(hs, 0)
        c_n = tt.stack(cs, 0) if self.mode == "LSTM" else None
        if packed:
            if input.unsorted_indices is not None:
                h_n = h_n.index_select(1, input.unsorted_indices)
                c_n = None if c_n is None else c_n.index_select(1, input.unsorted_indices)
            output: Any = PackedSequence(layer_in, input.batch_sizes, input.sorted_indices,
                                         input.unsorted_indices)
        else:
            output = layer_in
            if unbatched:
                output, h_n = output.squeeze(1), h_n.squeeze(1)
                c_n = None if c_n is None else c_n.squeeze(1)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)

    def _initial_state(self, hx: Any, x: Any, batch: int, dirs: int, real_hidden: int,
                       unbatched: bool, packed: bool, input: Any) -> tuple[Any, Any]:
        n = self.num_layers * dirs
        if hx is None:
            h0 = tt.zeros(n, batch, real_hidden, dtype=x.dtype, device=x.device)
            c0 = tt.zeros(n, batch, self.hidden_size, dtype=x.dtype, device=x.device) \
                if self.mode == "LSTM" else None
            return h0, c0
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects (h_0, c_0) as its initial state")
            h0, c0 = hx
        else:
            h0, c0 = hx, None
        if unbatched:
            if h0.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                   f"{h0.dim()}-D tensor")
            h0 = h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        if packed and input.sorted_indices is not None:
            h0 = h0.index_select(1, input.sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, input.sorted_indices)
        want = (n, batch, real_hidden)
        if tuple(h0.shape) != want:
            raise RuntimeError(f"Expected hidden size {want}, got {list(h0.shape)}"
                               if self.mode != "LSTM" else
                               f"Expected hidden[0] size {want}, got {list(h0.shape)}")
        if c0 is not None and tuple(c0.shape) != (n, batch, self.hidden_size):
            raise RuntimeError(f"Expected hidden[1] size {(n, batch, self.hidden_size)}, got "
                               f"{list(c0.shape)}")
        return h0, c0

    def _run(self, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
             w_hr: Any, reverse: bool, _batch_sizes: Any) -> tuple[Any, Any, Any]:
        xw = F.linear(x, w_ih, b_ih)  # the whole sequence's input projection, one matmul
        # the time loop as one autograd node (backpropagation through time in _bptt.py)
        out, h, c = Recurrence.apply(xw, h, c, w_hh, b_hh, w_hr, self.mode, reverse)
        return out, h, (c if self.mode == "LSTM" else None)

    def _run_packed(self, data: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any,
                    b_hh: Any, w_hr: Any, reverse: bool, batch_sizes: list[int]) -> tuple:
        xw = F.linear(data, w_ih, b_ih)
        starts = [0]
        for bs in batch_sizes:
            starts.append(starts[-1] + bs)
        outs: list[Any] = [None] * len(batch_sizes)
        h, c = h0, c0
        finals_h: list[Any] = []
        finals_c: list[Any] = []
        steps = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
        for t in steps:
            bs = batch_sizes[t]
            if not reverse and bs < h.shape[0]:  # rows that ended: their state is final
                finals_h.insert(0, h[bs:])
                finals_c.insert(0, None if c is None else c[bs:])
                h = h[:bs]
                c = None if c is None else c[:bs]
            # backwards, every row starts from h0 and joins when its last element comes
            hr = h[:bs] if reverse else h
            cr = (None if c is None else c[:bs]) if reverse else c
            nh, nc = _cell_step(self.mode, xw[starts[t]:starts[t + 1]], hr, cr, w_hh, b_hh, w_hr)
            if reverse and bs < h.shape[0]:
                h = tt.cat([nh, h[bs:]], 0)
                c = None if c is None else tt.cat([nc, c[bs:]], 0)
            else:
                h, c = nh, nc
            outs[t] = nh
        if not reverse:
            h = tt.cat([h, *finals_h], 0) if finals_h else h
            if c is not None and finals_c:
                c = tt.cat([c, *finals_c], 0)
        return tt.cat(outs, 0), h, c


class RNN(RNNBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:  # (input_size, hidden_size, num_layers, nonlinearity, ...)
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ----------------------------------------------------------------- cells


class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(tt.empty(num_chunks * hidden_size, input_size, dtype=dtype,
                                            device=device))
        self.weight_hh = Parameter(tt.empty(num_chunks * hidden_size, hidden_size, dtype=dtype,
                                            device=device))
        if bias:
            self.bias_ih = Parameter(tt.empty(num_chunks * hidden_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(tt.empty(num_chunks * hidden_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s

    def _batch(self, input: Any, what: str) -> tuple[Any, bool]:
        if input.dim() not in (1, 2):
            raise ValueError(f"{what}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        return (input.unsqueeze(0), True) if input.dim() == 1 else (input, False)

    def _step(self, mode: str, input: Any, h: Any, c: Any) -> tuple:
        xw = F.linear(input, self.weight_ih, self.bias_ih)
        return _cell_step(mode, xw, h, c, self.weight_hh, self.bias_hh, None)


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, unbatched = self._batch(input, "RNNCell")
        h = tt.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device) if hx is None \
            else (hx.unsqueeze(0) if unbatched else hx)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        h, _ = self._step(mode, x, h, None)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        x, unbatched = self._batch(input, "LSTMCell")
        if hx is None:
            z = tt.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hx = (z, z)
        h, c = hx
        if unbatched:
            h, c = h.unsqueeze(0), c.unsqueeze(0)
        h, c = self._step("LSTM", x, h, c)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, unbatched = self._batch(input, "GRUCell")
        h = tt.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device) if hx is None \
            else (hx.unsqueeze(0) if unbatched else hx)
        h, _ = self._step("GRU", x, h, None)
        return h.squeeze(0) if unbatched else h


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
