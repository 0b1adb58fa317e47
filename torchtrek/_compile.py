"""`tt.compile` / `torch.compile`: a function gives a CompiledFunction; an nn.Module gives an
OptimizedModule, the wrapper torch returns (its forward compiled, its state_dict keys under
`_orig_mod.` as torch's, every other attribute read through to the original module)."""

from __future__ import annotations

from typing import Any, Callable

from .compiler import CompiledFunction
from .nn.modules.module import Module


class OptimizedModule(Module):
    """What `torch.compile(model)` returns: calls run the compiled forward of `_orig_mod`."""

    def __init__(self, mod: Module, options: dict[str, Any]) -> None:
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_compiled", CompiledFunction(mod, **options))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            pass
        try:
            return getattr(self._modules["_orig_mod"], name)
        except AttributeError:
            # the compiled function's own surface: .ir(), .trace_count, ...
            return getattr(object.__getattribute__(self, "_compiled"), name)

    def __repr__(self) -> str:
        return "OptimizedModule(\n  (_orig_mod): " + repr(self._orig_mod).replace("\n", "\n  ") + "\n)"


def compile(model: Callable[..., Any] | None = None, *, fullgraph: bool = False,
            dynamic: bool | None = None, backend: Any = None, mode: str | None = None,
            options: dict[str, Any] | None = None, disable: bool = False,
            **tt_options: Any) -> Any:
    """`@tt.compile`, `tt.compile(fn, backend="c" | "numpy", dynamic=...)`, or
    `torch.compile(model)`: torch's arguments are accepted (mode, fullgraph and options change
    nothing here; a torch backend name such as "inductor" means the default backend)."""
    opts = dict(tt_options)
    if dynamic is not None:
        opts["dynamic"] = dynamic
    if backend is not None:
        if callable(backend):
            raise NotImplementedError("torch.compile(backend=<callable>) is not supported by "
                                      "TorchTrek (pass 'c', 'numpy' or a torch backend name)")
        opts["backend"] = backend

    def wrap(fn: Callable[..., Any]) -> Any:
        if disable:
            return fn
        if isinstance(fn, Module):
            return OptimizedModule(fn, opts)
        return CompiledFunction(fn, **opts)

    return wrap if model is None else wrap(model)
