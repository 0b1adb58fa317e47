"""torch.nn.utils.rnn: PackedSequence, pack_padded_sequence / pad_packed_sequence,
pack_sequence / unpack_sequence, pad_sequence / unpad_sequence."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

import torchtrek as tt


class PackedSequence(NamedTuple):
    """Variable-length sequences, time-major and packed: `data` holds step 0 of every
    sequence, then step 1 of those still running, ...; batch_sizes[t] rows at step t."""

    data: Any
    batch_sizes: Any = None
    sorted_indices: Any = None
    unsorted_indices: Any = None

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _lengths(lengths: Any) -> np.ndarray:
    if isinstance(lengths, tt.Tensor):
        return np.asarray(lengths.tolist(), dtype=np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64)


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch (B, T, * with batch_first) of sequences of `lengths`."""
    n = _lengths(lengths)
    if enforce_sorted:
        if np.any(n[:-1] < n[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_idx = unsorted_idx = None
        order = np.arange(len(n))
    else:
        order = np.argsort(-n, kind="stable")
        sorted_idx = tt.tensor(order, dtype=tt.int64)
        unsorted_idx = tt.tensor(np.argsort(order), dtype=tt.int64)
        input = input.index_select(0 if batch_first else 1, sorted_idx)
        n = n[order]
    if len(n) and n.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T = int(n.max()) if len(n) else 0
    if T > input.shape[0]:
        raise RuntimeError(f"Expected a sequence of length at most {input.shape[0]}, but got "
                           f"length {T}")
    batch_sizes = [int((n > t).sum()) for t in range(T)]
    data = tt.cat([input[t, :bs] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(data, tt.tensor(batch_sizes, dtype=tt.int64), sorted_idx, unsorted_idx)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Any, Any]:
    """The padded batch of a PackedSequence and each sequence's length (int64)."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.tolist()
    T = len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
    B = batch_sizes[0] if T else 0
    rows = []
    start = 0
    for bs in batch_sizes:
        step = data[start:start + bs]
        if bs < B:
            fill = tt.full((B - bs, *data.shape[1:]), padding_value, dtype=data.dtype,
                           device=data.device)
            step = tt.cat([step, fill], 0)
        rows.append(step)
        start += bs
    for _ in range(T, total_length or T):
        rows.append(tt.full((B, *data.shape[1:]), padding_value, dtype=data.dtype,
                            device=data.device))
    padded = tt.stack(rows, 0)
    lengths = np.array([sum(1 for bs in batch_sizes if bs > b) for b in range(B)], np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist())]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tt.tensor(lengths, dtype=tt.int64)


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Any]:
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :int(n)] for i, n in enumerate(lengths.tolist())]


def unpad_sequence(padded_sequences: Any, lengths: Any, batch_first: bool = False) -> list[Any]:
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_lengths(lengths))]


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
