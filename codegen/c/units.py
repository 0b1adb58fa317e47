"""What the C backend's template kernels share: one equation printed from a template, with
the unit interface generator.generate uses (e, name, params, outputs, args; each subclass
adds `source` and a `fits(e)` saying which equations it takes)."""

from __future__ import annotations

from ...ir.graph import Eqn, Var


class TemplateUnit:
    def __init__(self, e: Eqn) -> None:
        self.e = e
        self.name = "KERNEL"  # (the generator renames it)
        self.params = [(a, tuple(a.shape)) for a in e.inputs]
        self.outputs = list(e.outputs)

    @property
    def args(self) -> list[Var]:
        return [v for v, _ in self.params]
