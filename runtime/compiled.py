"""A graph made runnable: optimized, split into forward and backward, both generated
as NumPy source and loaded. Eager ops and compiled functions both run through this."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..codegen.numpy.generator import generate
from ..ir.autodiff import Backward, build_backward
from ..ir.graph import Graph, Var
from ..ir import passes
from ..ir.parser import parse
from ..ir.passes import dce, optimize
from .loader import load_function


class CompiledGraph:
    """forward(*inputs) -> outputs + residuals; backward(*residuals, *cts) -> grads."""

    def __init__(self, graph: Graph, wrt: Sequence[bool] = ()) -> None:
        self.graph = optimize(graph)
        self.wrt = tuple(wrt)
        self.n_outputs = len(self.graph.outputs)
        self.backward: Backward | None = None
        fwd = self.graph
        if any(wrt):
            bw = build_backward(self.graph, self.wrt)
            bgraph = optimize(bw.graph)
            used = {a for e in bgraph.eqns for a in e.inputs if isinstance(a, Var)}
            used |= {a for a in bgraph.outputs if isinstance(a, Var)}
            residuals = [r for r in bw.residuals if r in used]
            n_ct = len(bw.ct_outputs)
            bgraph = Graph(bgraph.name, residuals + bgraph.inputs[len(bw.residuals):],
                           bgraph.eqns, bgraph.outputs, bgraph.meta)
            bw = Backward(bgraph, residuals, bw.ct_outputs, bw.wrt)
            fwd = dce(Graph(self.graph.name, self.graph.inputs, self.graph.eqns,
                            list(self.graph.outputs) + residuals, self.graph.meta))
            assert len(bgraph.inputs) == len(residuals) + n_ct
            self.backward = bw
        self.forward_graph = fwd
        if passes.DEBUG:
            for g in (self.graph, fwd) + ((self.backward.graph,) if self.backward else ()):
                passes.verify(g)
                if str(parse(str(g))) != str(g):
                    raise passes.VerifyError(f"IR text does not round-trip:\n{g}")
        self.forward_source = generate(fwd)
        self.forward_fn: Callable[..., tuple] = load_function(self.forward_source, _fn(fwd))
        self._backward_fn: Callable[..., tuple] | None = None

    @property
    def backward_source(self) -> str:
        assert self.backward is not None
        return generate(self.backward.graph)

    def backward_fn(self) -> Callable[..., tuple]:
        if self._backward_fn is None:
            assert self.backward is not None
            g = self.backward.graph
            self._backward_fn = load_function(self.backward_source, _fn(g))
        return self._backward_fn

    def run(self, arrays: Sequence[np.ndarray]) -> tuple[list[np.ndarray], tuple]:
        with np.errstate(all="ignore"):
            res = self.forward_fn(*arrays)
        n = self.n_outputs
        return [np.asarray(r) for r in res[:n]], res[n:]

    def run_backward(self, residuals: tuple, cts: Sequence[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [np.asarray(g) for g in self.backward_fn()(*residuals, *cts)]


def _fn(graph: Graph) -> str:
    from ..codegen.numpy.generator import names_safe

    return names_safe(graph.name)
