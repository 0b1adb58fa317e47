"""A graph made runnable: optimized, split into forward and backward, both generated
as NumPy source and loaded. Eager ops and compiled functions both run through this.

forward(*inputs) -> outputs + residuals;  backward(*residuals, *cts) -> grads.
With `persistent=True` the generated sources are read from / written to the disk cache
(runtime/disk_cache.py), skipping autodiff, sympy and codegen on a warm start.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Sequence

import numpy as np

from ..codegen.numpy.generator import generate, names_safe
from ..ir import passes
from ..ir.autodiff import Backward, build_backward
from ..ir.graph import Graph, Var
from ..ir.parser import parse
from ..ir.passes import dce, optimize
from ..ir.printer import pin_names
from ..ir.remat import rematerialize
from ..ir.symdims import free_sizes
from . import disk_cache, fpstate
from .loader import load_function


# With TORCHTREK_VERIFY set, every graph handed to a code generator is kept here, so the
# test suite can also compile all of them as CUDA (tests/conftest.py).
RECORDED: list[Graph] = []


def _phase(timings: Any, name: str) -> Any:
    return timings.phase(name) if timings is not None else nullcontext()


class CompiledGraph:
    def __init__(self, graph: Graph, wrt: Sequence[bool] = (), *, persistent: bool = False,
                 timings: Any = None, backend: str = "numpy") -> None:
        if backend not in ("numpy", "c", "cuda"):
            raise ValueError(f"unknown backend {backend!r} (expected 'numpy', 'c' or 'cuda')")
        self.backend = backend
        persistent = persistent and backend != "cuda"
        self._modules: dict[str, Any] = {}  # CUDA, C: "forward"/"backward" -> module
        self.wrt = tuple(wrt)
        self.n_outputs = len(graph.outputs)
        self.from_cache = False
        self._graph: Graph | None = None
        self._backward: Backward | None = None
        self._texts: dict[str, str] = {}
        key = None
        if persistent and disk_cache.enabled():
            from ..codegen.c.regions import min_numel

            from . import openblas

            # (the C backend's batched matmuls call NumPy's OpenBLAS where it has cblas
            # with 64-bit integers: code generated with it keys apart from code without)
            key = disk_cache.make_key(str(graph), repr(self.wrt), backend,
                                      str(min_numel()) if backend == "c" else "",
                                      repr(graph.meta.get("write_back", ())),
                                      openblas.identity() if backend == "c" else "")
            payload = disk_cache.load(key)
            if payload is not None and self._from_payload(payload):
                self.from_cache = True
        if not self.from_cache:
            self._generate(graph, timings)
            if key is not None:
                disk_cache.store(key, self._payload())
        with _phase(timings, "load"):
            self.forward_fn: Callable[..., tuple] = self._load("forward")
        self._backward_fn: Callable[..., tuple] | None = None

    def _codegen(self, graph: Graph, which: str) -> str:
        if self.backend == "cuda":
            from ..codegen.cuda.generator import generate as cuda_generate

            module = self._modules[which] = cuda_generate(graph)
            return module.text
        if self.backend == "c":
            from ..codegen.c.generator import generate as c_generate

            module = self._modules[which] = c_generate(graph)
            return module.text
        return generate(graph)

    def _load(self, which: str) -> Callable[..., tuple]:
        if self.backend == "cuda":
            from . import cuda

            m = self._modules[which]
            sig = tuple((k.name, len(k.args)) for k in m.kernels)
            return cuda.load(m.cuda_source, m.launcher_source, m.fn_name, sig)
        if self.backend == "c":
            from . import native

            m = self._modules[which]
            return native.load(m.py_source, m.c_source, m.fn_name,
                               [(k.name, k.n_args) for k in m.kernels], m.n_slots)
        if which == "forward":
            return load_function(self.forward_source, self._fwd_name)
        return load_function(self.backward_source, self._bwd_name)

    # ------------------------------------------------------------ generation
    def _generate(self, graph: Graph, timings: Any) -> None:
        with _phase(timings, "passes"):
            self._graph = optimize(graph)
        fwd = self._graph
        self.ct_outputs: list[int] = []
        self.wrt_indices: list[int] = []
        self.backward_source = ""
        self._bwd_name = ""
        if any(self.wrt):
            with _phase(timings, "autodiff"):
                bw = build_backward(self._graph, self.wrt)
            with _phase(timings, "passes"):
                bgraph = optimize(bw.graph)
            used = {a for e in bgraph.eqns for a in e.inputs if isinstance(a, Var)}
            used |= {a for a in bgraph.outputs if isinstance(a, Var)}
            residuals = [r for r in bw.residuals if r in used]
            # what is cheaper to recompute than to save moves into the backward graph
            prologue, residuals = rematerialize(self._graph, residuals,
                                                memory_bound=self.backend == "cuda")
            bgraph = Graph(bgraph.name, residuals + bgraph.inputs[len(bw.residuals):],
                           prologue + bgraph.eqns, bgraph.outputs, bgraph.meta)
            self._backward = Backward(bgraph, residuals, bw.ct_outputs, bw.wrt)
            fwd = dce(Graph(self._graph.name, self._graph.inputs, self._graph.eqns,
                            list(self._graph.outputs) + residuals, self._graph.meta))
            self.ct_outputs, self.wrt_indices = list(bw.ct_outputs), list(bw.wrt)
        self._forward_graph = fwd = passes.strip_detach(fwd)
        if self._backward is not None:
            self._backward.graph = passes.strip_detach(self._backward.graph)
        for g in (fwd,) + ((self._backward.graph,) if self._backward else ()):
            pin_names(g)  # the names a graph read back from the cache has
        if passes.DEBUG and not free_sizes(fwd):  # (CUDA never sees shape-generic graphs)
            RECORDED.extend((fwd,) + ((self._backward.graph,) if self._backward else ()))
            for g in (self._graph, fwd) + ((self._backward.graph,) if self._backward else ()):
                passes.verify(g)
                if str(parse(str(g))) != str(g):
                    raise passes.VerifyError(f"IR text does not round-trip:\n{g}")
        self._emit_sources(timings)

    def _emit_sources(self, timings: Any) -> None:
        self._size_args = self._sizes_for_backward()
        with _phase(timings, "codegen"):
            fwd = self._forward_graph
            self._fwd_name = names_safe(fwd.name)
            self.forward_source = self._codegen(fwd, "forward")
            self._bwd_name = ""
            self.backward_source = ""
            if self._backward is not None:
                self._bwd_name = names_safe(self._backward.graph.name)
                self.backward_source = self._codegen(self._backward.graph, "backward")

    def _sizes_for_backward(self) -> list[tuple[str, int, int]]:
        """Sizes the (shape-generic) backward graph cannot read from its own inputs, with
        where the forward inputs hold them: (name, input index, dimension)."""
        if self._backward is None:
            return []
        from ..ir.symdims import in_order, sources

        bgraph = self._backward.graph
        missing = free_sizes(bgraph) - set(sources(bgraph))
        if not missing:
            return []
        where = sources(self._forward_graph)
        return [(s.name, *where[s]) for s in in_order(missing)]

    def specialize(self, binding: dict[Any, int], backend: str) -> "CompiledGraph":
        """This graph, traced and differentiated with symbolic sizes, generated for one
        call's sizes on `backend` (C kernels print sizes as constants). Only code
        generation runs again: no trace, no autodiff, no passes."""
        from ..ir.autodiff import Backward
        from ..ir.symdims import substitute

        new = object.__new__(CompiledGraph)
        new.backend, new._modules, new.wrt, new.n_outputs = backend, {}, self.wrt, self.n_outputs
        new.from_cache, new._texts, new._backward_fn = False, {}, None
        new._graph = substitute(self.graph, binding)
        new._forward_graph = substitute(self.forward_graph, binding)
        bwd = self.backward_graph
        new._backward = (Backward(substitute(bwd, binding), [], self.ct_outputs, self.wrt_indices)
                         if bwd is not None else None)
        new.ct_outputs, new.wrt_indices = list(self.ct_outputs), list(self.wrt_indices)
        new._emit_sources(None)
        new.forward_fn = new._load("forward")
        return new

    def _payload(self) -> dict[str, Any]:
        return {
            "graph": str(self._graph), "forward_graph": str(self._forward_graph),
            "backward_graph": str(self._backward.graph) if self._backward else "",
            "forward_source": self.forward_source, "forward_name": self._fwd_name,
            "backward_source": self.backward_source, "backward_name": self._bwd_name,
            "ct_outputs": self.ct_outputs, "wrt_indices": self.wrt_indices,
            "n_outputs": self.n_outputs, "size_args": self._size_args,
            "modules": {k: m.to_dict() for k, m in self._modules.items()},
        }

    def _from_payload(self, p: dict[str, Any]) -> bool:
        try:
            if p["n_outputs"] != self.n_outputs:
                return False
            self.forward_source, self._fwd_name = p["forward_source"], p["forward_name"]
            self.backward_source, self._bwd_name = p["backward_source"], p["backward_name"]
            self.ct_outputs, self.wrt_indices = list(p["ct_outputs"]), list(p["wrt_indices"])
            self._size_args = [tuple(a) for a in p["size_args"]]
            self._texts = {k: p[k] for k in ("graph", "forward_graph", "backward_graph")}
            if self.backend == "c":
                from ..codegen.c.generator import CModule

                self._modules = {k: CModule.from_dict(d) for k, d in p["modules"].items()}
            return isinstance(self.forward_source, str) and bool(self._fwd_name)
        except (KeyError, TypeError):
            return False

    # ------------------------------------------------------------ graphs (lazy from cache)
    @property
    def graph(self) -> Graph:
        """The optimized forward graph (outputs only)."""
        if self._graph is None:
            self._graph = parse(self._texts["graph"])
        return self._graph

    @property
    def forward_graph(self) -> Graph:
        """The forward graph as generated: outputs, then the residuals backward reads."""
        if not hasattr(self, "_forward_graph"):
            self._forward_graph = parse(self._texts["forward_graph"])
        return self._forward_graph

    @property
    def has_backward(self) -> bool:
        return bool(self.backward_source)

    @property
    def backward_graph(self) -> Graph | None:
        if self._backward is not None:
            return self._backward.graph
        if self._texts.get("backward_graph"):
            return parse(self._texts["backward_graph"])
        return None

    # ------------------------------------------------------------ running
    def backward_fn(self) -> Callable[..., tuple]:
        if self._backward_fn is None:
            self._backward_fn = self._load("backward")
        return self._backward_fn

    def run(self, arrays: Sequence[Any]) -> tuple[list[Any], tuple]:
        n = self.n_outputs
        if self.backend == "cuda":
            res = self.forward_fn(*arrays)
            return list(res[:n]), res[n:]
        token = fpstate.quiet()
        try:
            res = self.forward_fn(*arrays)
        finally:
            fpstate.restore(token)
        residuals = res[n:]
        if self._size_args:  # the backward of a shape-generic graph is told this call's sizes
            residuals += ({name: arrays[i].shape[d] for name, i, d in self._size_args},)
        return [r if type(r) is np.ndarray else np.asarray(r) for r in res[:n]], residuals

    def run_backward(self, residuals: tuple, cts: Sequence[Any]) -> list[Any]:
        if self.backend == "cuda":
            return list(self.backward_fn()(*residuals, *cts))
        sizes = residuals[-1] if self._size_args else {}
        if sizes:
            residuals = residuals[:-1]
        token = fpstate.quiet()
        try:
            return [np.asarray(g) for g in self.backward_fn()(*residuals, *cts, **sizes)]
        finally:
            fpstate.restore(token)
