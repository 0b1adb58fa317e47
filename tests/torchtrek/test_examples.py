"""examples/train_mlp.py trains the same MLP with tt eager, tt.compile and torch: from the
same NumPy initial weights, all three reach the same accuracy."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchtrek")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_mlp.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_mlp_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_backends_reach_the_same_accuracy() -> None:
    example = load_example()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        accuracies = {b: example.train(b, steps=150, verbose=False) for b in example.BACKENDS}
    finally:
        torch.set_num_threads(threads)
    assert len(set(accuracies.values())) == 1, accuracies
    assert accuracies["torch"] > 0.9  # it learned the spirals


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    accuracy = load_example().main(["--backend", "tt-compile", "--steps", "20", "--hidden", "8"])
    out = capsys.readouterr().out
    assert "[tt-compile] final accuracy" in out and 0 <= accuracy <= 1
