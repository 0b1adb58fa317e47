"""Render a tensor's repr exactly like PyTorch's ``repr(torch.Tensor)`` (CPU, strided).

This is a NumPy port of the default-options path of ``torch/_tensor_str.py``
(precision 4, threshold 1000, edgeitems 3, linewidth 80, automatic sci mode).
It deliberately reproduces torch's quirks (e.g. the off-by-two line length in
``_add_suffixes``) so that output matches character for character.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

__all__ = ["format_tensor"]


def _is_floating(values: numpy.ndarray, dtype_name: str) -> bool:
    # Decide from the torch dtype name so that e.g. bfloat16 data carried in a
    # float32 array is still formatted as floating point.
    return dtype_name.startswith(("float", "bfloat", "half", "double")) or (
        values.dtype.kind == "f"
    )


class _Formatter:
    """Picks one element width / notation for the whole tensor (torch._tensor_str._Formatter)."""

    def __init__(self, values: numpy.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1

        flat = values.reshape(-1)
        if not floating:
            # ints and bools: width of the longest str(), e.g. "False" pads "True".
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return

        # Widths only consider nonzero finite values; torch does the maths in double.
        vals = flat.astype(numpy.float64)
        vals = vals[numpy.isfinite(vals) & (vals != 0)]
        if vals.size == 0:
            return
        abs_vals = numpy.abs(vals)
        lo, hi = float(abs_vals.min()), float(abs_vals.max())
        self.int_mode = bool(numpy.all(vals == numpy.ceil(vals)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4

        if self.sci_mode:
            spec, extra = f".{PRECISION}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # +1 for the trailing "." marking a float
        else:
            spec, extra = f".{PRECISION}f", 0
        for value in vals.tolist():
            self.max_width = max(self.max_width, len(format(value, spec)) + extra)

    def width(self) -> int:
        return self.max_width

    def format(self, value: float | int | bool) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRECISION}f}"
        else:
            ret = f"{value}"
        # nan/inf may be wider than max_width; torch then simply doesn't pad.
        return (self.max_width - len(ret)) * " " + ret


def _summarized_data(values: numpy.ndarray) -> numpy.ndarray:
    """Keep only the edge items of every long dimension (what torch's formatter sees)."""
    for axis, size in enumerate(values.shape):
        if size > 2 * EDGEITEMS:
            keep = list(range(EDGEITEMS)) + list(range(size - EDGEITEMS, size))
            values = numpy.take(values, keep, axis=axis)
    return values


def _vector_str(
    values: numpy.ndarray, indent: int, summarize: bool, formatter: _Formatter
) -> str:
    # element length includes the ", " separator
    element_length = formatter.width() + 2
    per_line = max(1, math.floor((LINEWIDTH - indent) / element_length))

    if summarize and values.shape[0] > 2 * EDGEITEMS:
        data = (
            [formatter.format(v) for v in values[:EDGEITEMS].tolist()]
            + [" ..."]
            + [formatter.format(v) for v in values[-EDGEITEMS:].tolist()]
        )
    else:
        data = [formatter.format(v) for v in values.tolist()]

    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(
    values: numpy.ndarray, indent: int, summarize: bool, formatter: _Formatter
) -> str:
    dim = values.ndim
    if dim == 0:
        return formatter.format(values.item())
    if dim == 1:
        return _vector_str(values, indent, summarize, formatter)

    size = values.shape[0]
    if summarize and size > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + [None] + list(range(size - EDGEITEMS, size))
    else:
        rows = list(range(size))
    slices = [
        "..."
        if i is None
        else _tensor_str_with_formatter(values[i], indent + 1, summarize, formatter)
        for i in rows
    ]
    # sub-tensors of a dim-d tensor are separated by (dim - 1) newlines
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(values: numpy.ndarray, floating: bool, indent: int) -> str:
    if values.size == 0:
        return "[]"
    summarize = values.size > THRESHOLD
    formatter = _Formatter(_summarized_data(values) if summarize else values, floating)
    return _tensor_str_with_formatter(values, indent, summarize, formatter)


def _add_suffixes(tensor_str: str, suffixes: Sequence[str], indent: int) -> str:
    parts = [tensor_str]
    # Torch's quirk: with no newline rfind() is -1, so this over-counts by 2.
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        # Wrap exactly where torch would: it measures "dtype=torch.X", which is
        # shorter than our "dtype=torchtrek.X".
        suffix_len = len(suffix.replace("dtype=torchtrek.", "dtype=torch."))
        if last_line_len + suffix_len + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
        else:
            parts.append(", " + suffix)
            last_line_len += suffix_len + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(
    values: numpy.ndarray,
    dtype_name: str,
    suffixes: list[str] = (),  # type: ignore[assignment]  # any sequence works
    default_dtype_name: str = "float32",
    device: str | None = None,
    package: str = "torchtrek",
) -> str:
    """repr of a tensor: 'tensor(...)' with torch's number formatting, nesting, line wrapping
    (linewidth 80), summarization (threshold 1000, edgeitems 3), precision 4, sci mode rules,
    int_mode for integer-valued floats ('7.'), nan/inf, empty tensors ('tensor([])',
    'tensor([], size=(0, 3))'), 0-d tensors ('tensor(7.)'), bool tensors, and suffixes."""
    values = numpy.asarray(values)
    prefix = "tensor("
    indent = len(prefix)
    own: list[str] = [f"device='{device}'"] if device else []  # torch names it first
    dtype_suffix = f"dtype={package}.{dtype_name}"

    if values.size == 0:
        # Like NumPy, the shape is shown unless it is (0,); an empty tensor gives
        # no hint of its dtype, so anything but the default dtype is spelled out.
        if values.ndim != 1:
            own.append(f"size={tuple(int(s) for s in values.shape)}")
        if dtype_name != default_dtype_name:
            own.append(dtype_suffix)
        body = "[]"
    else:
        # int64 and bool are inferable from the printed values, so they're hidden.
        if dtype_name not in (default_dtype_name, "int64", "bool"):
            own.append(dtype_suffix)
        body = _tensor_str(values, _is_floating(values, dtype_name), indent)

    return _add_suffixes(prefix + body, own + list(suffixes), indent)
