"""Train an MLP classifier on 2-D spirals with TorchTrek or PyTorch: the same model code.

    python examples/train_mlp.py --backend tt-eager     # torchtrek, op by op
    python examples/train_mlp.py --backend tt-compile   # torchtrek, tt.compile'd loss
    python examples/train_mlp.py --backend torch        # PyTorch itself

The model code below only ever names a module called `torch`: `import torchtrek as
torch` or `import torch`. The initial weights come from NumPy, so all three runs start
from the same point and end at the same accuracy.
"""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

import numpy as np

BACKENDS = ("tt-eager", "tt-compile", "torch")


def spirals(n_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The classic 2-D spiral classification set (CS231n)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def initial_weights(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    """torch's default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn by NumPy."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        out += [rng.uniform(-bound, bound, (fan_out, fan_in)), rng.uniform(-bound, bound, fan_out)]
    return out


def build_model(torch: Any, sizes: list[int]) -> Any:
    """Linear -> ReLU -> ... -> Linear, written against whichever `torch` is given."""
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train(backend: str, steps: int = 300, hidden: int = 32, lr: float = 0.01,
          dtype: str = "float32", seed: int = 0, verbose: bool = True) -> float:
    """Train full-batch with Adam; returns the final training accuracy."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    torch = importlib.import_module("torch" if backend == "torch" else "torchtrek")
    features, labels = spirals(seed=seed)
    sizes = [2, hidden, hidden, 3]
    float_type = getattr(torch, dtype)

    model = build_model(torch, sizes).to(float_type)
    with torch.no_grad():
        for p, w in zip(model.parameters(), initial_weights(sizes, seed)):
            p.copy_(torch.tensor(w, dtype=float_type))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.tensor(features, dtype=float_type), torch.tensor(labels)

    def loss_of(x: Any, y: Any) -> Any:
        return loss_fn(model(x), y)

    predict = model
    if backend == "tt-compile":
        # forward and backward traced once, then run as generated NumPy code; the
        # optimizer's in-place updates are seen by every later call (no retrace)
        loss_of, predict = torch.compile(loss_of), torch.compile(model)

    start = time.perf_counter()
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_of(x, y)
        loss.backward()
        optimizer.step()
        if verbose and (step + 1) % max(1, steps // 5) == 0:
            print(f"[{backend}] step {step + 1:4d}  loss {loss.item():.4f}")
    with torch.no_grad():
        accuracy = (predict(x).argmax(1) == y).float().mean().item()
    if verbose:
        print(f"[{backend}] final accuracy {accuracy:.2%} "
              f"({time.perf_counter() - start:.2f} s for {steps} steps)")
    return accuracy


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="tt-eager")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = parser.parse_args(argv)
    return train(args.backend, args.steps, args.hidden, args.lr, args.dtype)


if __name__ == "__main__":
    main()
