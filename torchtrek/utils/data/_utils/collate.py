"""torch.utils.data._utils.collate: how a list of samples becomes a batch.

default_collate stacks tensors (and NumPy arrays), turns Python floats / ints / bools into
float64 / int64 / bool tensors, keeps strings as lists, and recurses into mappings, named
tuples and sequences (a tuple of fields becomes a list of batched fields, as torch's)."""

from __future__ import annotations

import collections.abc
import re
from typing import Any, Sequence

import numpy as np

import torchtrek as tt

_np_str_obj = re.compile(r"[SaUO]")
_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def default_convert(data: Any) -> Any:
    """A sample with NumPy arrays turned into tensors (what batch_size=None loading applies)."""
    if isinstance(data, tt.Tensor):
        return data
    if isinstance(data, np.ndarray) and _np_str_obj.search(data.dtype.str) is None:
        return tt.as_tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return tt.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) \
            if not isinstance(data, dict) or type(data) is not dict else \
            {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])  # type: ignore[call-arg]
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as torch.utils.data.default_collate."""
    elem = batch[0]
    if isinstance(elem, tt.Tensor):
        return tt.stack(list(batch), 0)
    if isinstance(elem, np.ndarray) or (isinstance(elem, np.generic) and
                                        not isinstance(elem, (np.str_, np.bytes_))):
        if isinstance(elem, np.ndarray) and _np_str_obj.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        if isinstance(elem, np.ndarray):
            return default_collate([tt.as_tensor(b) for b in batch])
        return tt.as_tensor(np.array(batch))
    if isinstance(elem, bool):
        return tt.tensor(list(batch))
    if isinstance(elem, float):
        return tt.tensor(list(batch), dtype=tt.float64)
    if isinstance(elem, int):
        return tt.tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch  # as given: a list, or a tuple when it is a field of tuple samples
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if type(elem) is dict:
            return collated
        try:
            return type(elem)(collated)  # type: ignore[call-arg]
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        size = len(next(it))
        if not all(len(e) == size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        try:
            return type(elem)([default_collate(s) for s in transposed])  # type: ignore[call-arg]
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_ERR.format(type(elem)))
