"""torch.return_types: the named tuples ops such as max(dim), sort and topk return."""

from __future__ import annotations

from collections import namedtuple
from typing import Any


def structseq(name: str, fields: list[str]) -> type:
    """A named tuple printed as torch prints it: torch.return_types.NAME(\\nvalues=...)."""
    base = namedtuple(name, fields)  # type: ignore[misc]

    def __repr__(self: Any) -> str:
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"torch.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__repr__": __repr__, "__slots__": ()})
    cls.__module__ = "torch.return_types"
    return cls


max = structseq("max", ["values", "indices"])
min = structseq("min", ["values", "indices"])
aminmax = structseq("aminmax", ["min", "max"])
sort = structseq("sort", ["values", "indices"])
topk = structseq("topk", ["values", "indices"])
kthvalue = structseq("kthvalue", ["values", "indices"])
