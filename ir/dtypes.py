"""Element types and PyTorch's type-promotion rules.

A DType is a small immutable record; the module-level instances (float32, int64, ...)
are the only ones that exist, so identity comparison is safe.
"""

from __future__ import annotations

from dataclasses import dataclass


# The package name reprs show: "torchtrek", or "torch" once install_as_torch() made
# `import torch` TorchTrek (a torch program then prints what torch prints).
_display = ["torchtrek"]


def display_prefix() -> str:
    return _display[0]


def set_display_prefix(prefix: str) -> None:
    _display[0] = prefix


@dataclass(frozen=True, slots=True, eq=False)
class DType:
    """One of the nine module-level dtypes below; each exists once, so identity is
    equality (hashing by identity keeps every cache keyed by dtype cheap), and copies or
    pickles come back as the same object."""

    name: str  # "float32"; also the NumPy dtype name and the IR spelling
    category: int  # 0 bool, 1 integer, 2 floating; promotion goes up the categories
    rank: int  # order inside a category for promotion (wider is higher)
    itemsize: int

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    @property
    def is_signed(self) -> bool:
        return self.name != "uint8" and self.name != "bool"

    def __repr__(self) -> str:
        return f"{_display[0]}.{self.name}"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        return (_by_name, (self.name,))

    def __copy__(self) -> "DType":
        return self

    def __deepcopy__(self, memo: dict) -> "DType":
        return self


def _by_name(name: str) -> DType:
    return next(d for d in ALL_DTYPES if d.name == name)


bool_ = DType("bool", 0, 0, 1)
uint8 = DType("uint8", 1, 0, 1)
int8 = DType("int8", 1, 1, 1)
int16 = DType("int16", 1, 2, 2)
int32 = DType("int32", 1, 3, 4)
int64 = DType("int64", 1, 4, 8)
float16 = DType("float16", 2, 0, 2)
float32 = DType("float32", 2, 1, 4)
float64 = DType("float64", 2, 2, 8)



class UnsupportedDType:
    """A torch dtype TorchTrek has no kernels for (bfloat16, complex): it exists, so programs
    that name it in a table (nanoGPT's {'bfloat16': torch.bfloat16, ...}) load, and any use
    raises NotImplementedError naming it."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        object.__setattr__(self, "label", label)

    def __repr__(self) -> str:
        return f"{_display[0]}.{self.label}"

    __str__ = __repr__

    def error(self) -> NotImplementedError:
        return NotImplementedError(
            f"torch.{self.label} is not supported by TorchTrek (its dtypes: "
            + ", ".join(d.name for d in ALL_DTYPES) + ")")

    def __getattr__(self, name: str) -> None:
        raise self.error()

    def __reduce__(self) -> tuple:
        return (UnsupportedDType, (self.label,))


bfloat16 = UnsupportedDType("bfloat16")
complex32 = UnsupportedDType("complex32")
complex64 = UnsupportedDType("complex64")
complex128 = UnsupportedDType("complex128")
UNSUPPORTED: tuple[UnsupportedDType, ...] = (bfloat16, complex32, complex64, complex128)

ALL_DTYPES: tuple[DType, ...] = (
    bool_, uint8, int8, int16, int32, int64, float16, float32, float64
)
BY_NAME: dict[str, DType] = {d.name: d for d in ALL_DTYPES}


def dtype_from_name(name: str) -> DType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise TypeError(f"unknown dtype {name!r}") from None


def promote_types(a: DType, b: DType) -> DType:
    """torch.promote_types for the dtypes we support."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == 1 and {a.name, b.name} == {"uint8", "int8"}:
        return int16  # neither holds the other's range
    return a if a.rank > b.rank else b


def combine_categories(higher: DType | None, lower: DType | None) -> DType | None:
    """c10's combine_categories: a lower-priority group only wins by category."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type_of(
    dimensioned: list[DType], zero_dim: list[DType], scalars: list[DType]
) -> DType:
    """torch.result_type over three priority groups: tensors with dims, 0-d tensors
    and Python scalars (whose dtype is already the default of their category)."""

    def fold(group: list[DType]) -> DType | None:
        out: DType | None = None
        for d in group:
            out = d if out is None else promote_types(out, d)
        return out

    result = combine_categories(
        fold(dimensioned), combine_categories(fold(zero_dim), fold(scalars))
    )
    assert result is not None, "result_type needs at least one operand"
    return result
