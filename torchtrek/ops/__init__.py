"""Front-end op families beyond the core (torchtrek/functional.py).

Each module defines `__all__` (exported as `tt.NAME`) and `METHODS` (names also bound as
Tensor methods, `x.NAME(...)`, calling the function with the tensor first). A name in
METHODS may map to another function through a dict entry: {"method_name": function}.
"""

from . import composite, indexing, linalg, math, misc, reductions, shape, sorting

FAMILIES = (math, reductions, shape, indexing, linalg, misc, sorting, composite)
