"""`torchtrek demo`: the whole pipeline on a small classifier, offline, in seconds.

1. the seed example, eager;  2. a classifier's forward and backward IR;
3. compiled training with a progress bar;  4. AOT export of the trained forward;
5. the export reloaded in a separate Python process with NumPy alone, same predictions;
6. the loss curve as loss.png.

The plot and the progress bar come from the `demo` extra (`pip install -e ".[demo]"`:
matplotlib, tqdm); without them the demo runs all the same and says what it skipped.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import torchtrek as tt
import torchtrek.nn.functional as F


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 72 - len(text)), flush=True)


def spirals(n_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The classic 2-D spiral classification set (CS231n), built in."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def _progress(total: int) -> "_Progress | _TqdmProgress":
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return _Progress(total)
    return _TqdmProgress(total)


class _TqdmProgress:
    """The training progress through tqdm (rate, ETA; notebooks too)."""

    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="step", file=sys.stdout, dynamic_ncols=True,
                        mininterval=0.2)
        self.done = 0

    def update(self, step: int, loss: float, acc: float) -> None:
        self.bar.update(step + 1 - self.done)
        self.done = step + 1
        self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.1%}", refresh=False)
        if self.done == self.bar.total:
            self.bar.close()
            rate = self.done / max(self.bar.format_dict["elapsed"], 1e-9)
            print(f"step {self.done}/{self.bar.total}  loss {loss:.4f}  acc {acc:6.1%}  "
                  f"{rate:6.0f} steps/s", flush=True)


class _Progress:
    """The fallback without tqdm: a bar redrawn in place on a terminal, a few lines otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.start, self.tty = total, time.perf_counter(), sys.stdout.isatty()

    def update(self, step: int, loss: float, acc: float) -> None:
        done = step + 1
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        bar = "#" * (24 * done // self.total)
        line = (f"[{bar:<24}] step {done:4d}/{self.total}  loss {loss:.4f}  "
                f"acc {acc:6.1%}  {rate:6.0f} steps/s")
        if self.tty:
            print("\r" + line, end="\n" if done == self.total else "", flush=True)
        elif done % (self.total // 8) == 0 or done == self.total:
            print(line, flush=True)


def run(out_dir: str = "torchtrek-demo-out", steps: int = 400) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    _heading("1. The seed example, eager (exactly as PyTorch prints it)")
    x = tt.tensor(2.0, requires_grad=True)
    y = x ** 2 + 3 * x + 5
    y.backward()
    print(">>> x = tt.tensor(2.0, requires_grad=True); y = x ** 2 + 3 * x + 5; y.backward()")
    print(">>> print(x.grad)")
    print(x.grad)
    print(tt.explain(_seed, tt.tensor(2.0)))

    _heading("2. An MLP classifier traced into IR (forward, then the derived backward)")
    features, labels = spirals()
    X, Y = tt.tensor(features), tt.tensor(labels)
    tt.manual_seed(0)
    hidden = 64
    w1 = (tt.randn(2, hidden) * math.sqrt(2 / 2)).requires_grad_()
    b1 = tt.zeros(hidden, requires_grad=True)
    w2 = (tt.randn(hidden, 3) * math.sqrt(1 / hidden)).requires_grad_()
    b2 = tt.zeros(3, requires_grad=True)
    params = [w1, b1, w2, b2]

    def logits(x):
        h = tt.relu(x @ w1 + b1)
        return h @ w2 + b2

    @tt.compile
    def loss_fn(x, y):
        return F.cross_entropy(logits(x), y)

    print(loss_fn.ir(X, Y))
    print(loss_fn.ir(X, Y, backward=True))

    _heading(f"3. Training it compiled: {steps} full-batch SGD steps on 300 spiral points")
    predict = tt.compile(lambda x: logits(x).argmax(1))
    losses = []
    bar = _progress(steps)
    for step in range(steps):
        loss = loss_fn(X, Y)
        for p in params:
            p.grad = None
        loss.backward()
        with tt.no_grad():
            for p in params:
                p.sub_(1.0 * p.grad)
        losses.append(loss.item())
        if step % 10 == 9 or step == steps - 1:
            acc = float((predict(X).numpy() == labels).mean())
            bar.update(step, losses[-1], acc)
    print(f"traced loss_fn {loss_fn.trace_count} time(s); every step ran generated code")

    _heading("4. Ahead-of-time export of the trained classifier's forward")
    export_dir = out / "spiral_classifier"

    def classify(x):
        return logits(x)

    module_path = tt.export(classify, X, out=export_dir)
    print(f"wrote {module_path} (+ manifest.json, params.npz)")
    print("\n".join(module_path.read_text().splitlines()[:14]) + "\n    ...")

    _heading("5. Reloading the export in a fresh Python process with NumPy alone")
    np.save(out / "inputs.npy", features)
    check = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import classify as m; "
        "assert 'torchtrek' not in sys.modules; "
        "print(' '.join(map(str, m.forward(np.load(sys.argv[2])).argmax(1))))"
    )
    res = subprocess.run([sys.executable, "-I", "-c", check, str(export_dir), str(out / "inputs.npy")],
                         capture_output=True, text=True, check=True)
    exported = np.array(res.stdout.split(), dtype=np.int64)
    ours = predict(X).numpy()
    same = bool((exported == ours).all())
    print(f"exported module's classes == compiled model's: {same} "
          f"(accuracy {float((exported == labels).mean()):.1%})")
    if not same:
        print("MISMATCH between exported and in-process predictions", file=sys.stderr)
        return 1

    _heading("6. Artifacts")
    (out / "losses.json").write_text(json.dumps(losses))
    artifacts = [module_path, export_dir / "manifest.json", export_dir / "params.npz",
                 out / "losses.json"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        ax.plot(np.arange(1, len(losses) + 1), losses, color="tab:blue", lw=1.5)
        ax.set_yscale("log")
        ax.set_xlabel("SGD step (compiled)")
        ax.set_ylabel("cross-entropy (log scale)")
        ax.set_title(f"TorchTrek demo: spiral classifier, final loss {losses[-1]:.3f}")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=100)  # 640 x 360 pixels
        plt.close(fig)
        artifacts.append(out / "loss.png")
    except ImportError:
        print('matplotlib is not installed: skipped loss.png (pip install -e ".[demo]")')
    for a in artifacts:
        print(f"  {a.resolve()}")
    print(f"\ndemo finished in {time.perf_counter() - t_start:.1f} s")
    return 0


def _seed(x):
    y = x ** 2 + 3 * x + 5
    return y
