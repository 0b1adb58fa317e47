"""The IR: a linear SSA graph of typed values.

Vars are compared by identity (each is one SSA value); everything else is a small
immutable record. Names are only hints: the printer assigns the final, unique names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Union

from .dtypes import DType

_SHORT = {
    "bool": "bool", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
    "int64": "i64", "float16": "f16", "float32": "f32", "float64": "f64",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: DType

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __str__(self) -> str:
        return f"{_SHORT[self.dtype.name]}[{','.join(map(str, self.shape))}]"


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where the user wrote the op: file (base name), line number, the line's text."""

    file: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}" if self.code else f"{self.file}:{self.line}"


class Var:
    """One SSA value. Identity is the value; `hint` suggests a printed name."""

    __slots__ = ("type", "hint")

    def __init__(self, type: TensorType, hint: str = "t") -> None:
        self.type = type
        self.hint = hint

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    def __repr__(self) -> str:
        return f"Var({self.hint}: {self.type})"


@dataclass(frozen=True, slots=True)
class Literal:
    """A Python scalar baked into the graph, typed as a 0-d tensor of `dtype`."""

    value: bool | int | float
    dtype: DType

    def __post_init__(self) -> None:
        if type(self.value).__name__ == "SymInt":  # a traced size (ir/symint.py): its expression
            object.__setattr__(self, "value", self.value.node)

    @property
    def type(self) -> TensorType:
        return TensorType((), self.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    ndim = 0

    def __str__(self) -> str:
        return f"{self.value!r}:{_SHORT[self.dtype.name]}"


Atom = Union[Var, Literal]


@dataclass(frozen=True, slots=True)
class Eqn:
    """outputs = op[attrs](inputs); attrs is a sorted tuple of (name, value) pairs."""

    op: str
    inputs: tuple[Atom, ...]
    outputs: tuple[Var, ...]
    attrs: tuple[tuple[str, Any], ...] = ()
    loc: SourceLoc | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.attrs)


def freeze_attrs(attrs: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(attrs.items()))


@dataclass(slots=True)
class Graph:
    name: str
    inputs: list[Var]
    eqns: list[Eqn]
    outputs: list[Atom]
    # Printed names given by the user (argument names); the printer prefers them.
    meta: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)

    def __eq__(self, other: object) -> bool:
        # Structural equality: same text form means same graph (names are canonical).
        return isinstance(other, Graph) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def vars_defined(self) -> Iterable[Var]:
        yield from self.inputs
        for e in self.eqns:
            yield from e.outputs
