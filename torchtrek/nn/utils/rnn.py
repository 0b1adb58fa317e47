"""torch.nn.utils.rnn: pad_sequence (packed sequences live with the RNN modules)."""

from __future__ import annotations

from typing import Any, Sequence

import torchtrek as tt


def pad_sequence(sequences: Sequence[Any], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Any:
    """Stack variable-length tensors (L_i, *) into (B, L_max, *) or (L_max, B, *), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, tt.Tensor):
        sequences = sequences.unbind(0)
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        widths = [0, 0] * (s.ndim - 1) + ([extra, 0] if padding_side == "left" else [0, extra])
        padded.append(tt.nn.functional.pad(s, widths, value=padding_value) if extra else s)
    out = tt.stack(padded, 0)
    return out if batch_first else out.transpose(0, 1)
