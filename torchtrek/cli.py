"""The `torchtrek` command. `torchtrek demo` walks through the whole pipeline."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


def demo() -> int:
    import numpy as np

    import torchtrek as tt

    _heading("1. The seed example, eager (as in PyTorch)")
    print(">>> x = tt.tensor(2.0, requires_grad=True); y = x ** 2 + 3 * x + 5; y.backward()")
    x = tt.tensor(2.0, requires_grad=True)
    y = x**2 + 3 * x + 5
    y.backward()
    print(f">>> print(y, x.grad)\n{y} {x.grad}")

    _heading("2. A two-layer MLP traced into IR")
    tt.manual_seed(0)
    w1 = (tt.randn(4, 8) * 0.5).requires_grad_()
    b1 = tt.zeros(8, requires_grad=True)
    w2 = (tt.randn(8, 3) * 0.5).requires_grad_()
    b2 = tt.zeros(3, requires_grad=True)
    data = tt.randn(16, 4)
    target = tt.randn(16, 3)

    @tt.compile
    def loss_fn(x, target, w1, b1, w2, b2):
        h = tt.relu(x @ w1 + b1)
        out = h @ w2 + b2
        return ((out - target) ** 2).mean()

    args = (data, target, w1, b1, w2, b2)
    print(loss_fn.ir(*args))
    _heading("3. Its backward graph (derived by sympy + VJP rules)")
    print(loss_fn.ir(*args, backward=True))
    _heading("4. The generated NumPy source of the backward")
    print(loss_fn.source(*args, backward=True))

    _heading("5. Training it compiled: forward and backward are generated code")
    start = time.perf_counter()
    for step in range(51):
        loss = loss_fn(*args)
        for p in (w1, b1, w2, b2):
            p.grad = None
        loss.backward()
        with tt.no_grad():
            for p in (w1, b1, w2, b2):
                p._data -= 0.1 * p.grad._data  # plain SGD (tt.optim arrives with the surface issue)
        if step % 10 == 0:
            print(f"step {step:3d}  loss {loss.item():.5f}")
    print(f"{51 / (time.perf_counter() - start):.0f} steps/s, traced {loss_fn.trace_count} time(s)")

    _heading("6. A compiled gradient, and a second derivative by nesting")
    dydx = tt.grad(lambda x: x**2 + 3 * x + 5)
    d2 = tt.grad(tt.grad(lambda x: x**3))
    print(f"d/dx (x**2 + 3x + 5) at 2 = {dydx(tt.tensor(2.0))}")
    print(f"d2/dx2 x**3 at 2 = {d2(tt.tensor(2.0))}   (6x)")
    print(dydx.source(tt.tensor(2.0)))
    assert np.isclose(dydx(tt.tensor(2.0)).item(), 7.0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="torchtrek", description="TorchTrek tensor compiler")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="walk through the pipeline: eager, IR, backward, codegen, training")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
