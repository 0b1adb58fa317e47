"""`torchtrek run SCRIPT.py` and install_as_torch(): a PyTorch script runs with `import torch`
resolving to TorchTrek, as `python SCRIPT.py` runs it (argv, __main__, exit status,
tracebacks at the user's lines), printing what torch prints; missing torch APIs are named."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = '''
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.optim.lr_scheduler import StepLR
import torchtrek
assert torch is torchtrek and nn is torchtrek.nn and F is torchtrek.nn.functional
assert torch.nn.Module is torchtrek.nn.Module and __name__ == "__main__"
print("argv", sys.argv[1:])
x = torch.ones(2, dtype=torch.float64)
print(x, x.dtype, x.shape, torch.LongTensor([1, 2]).type())
print(hasattr(torch, "definitely_not_an_api"), hasattr(F, "scaled_dot_product_attention"))
try:
    torch.definitely_not_an_api
except NotImplementedError as e:
    print("named:", "torch.definitely_not_an_api" in str(e))
try:
    import torch.onnx_like_missing_module
except ImportError as e:
    print("import:", "torch.onnx_like_missing_module" in str(e))
if len(sys.argv) > 1 and sys.argv[1] == "fail":
    raise ValueError("boom")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
'''


def _run(tmp_path, *args):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(SCRIPT))
    return subprocess.run([sys.executable, "-m", "torchtrek.cli", "run", str(script), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_script_runs_as_python_would(tmp_path):
    r = _run(tmp_path, "3", "--flag")
    assert r.returncode == 3, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "argv ['3', '--flag']"
    assert lines[1] == ("tensor([1., 1.], dtype=torch.float64) torch.float64 torch.Size([2]) "
                        "torch.LongTensor")
    assert lines[2:] == ["False True", "named: True", "import: True"]


def test_traceback_starts_at_the_user_line(tmp_path):
    r = _run(tmp_path, "fail")
    assert r.returncode == 1
    assert "ValueError: boom" in r.stderr
    first = r.stderr.splitlines()[1]
    assert "prog.py" in first and "runpy" not in r.stderr


def test_missing_script(tmp_path):
    r = subprocess.run([sys.executable, "-m", "torchtrek.cli", "run", "nope.py"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "nope.py" in r.stderr


def test_install_as_torch_refuses_when_real_torch_is_loaded():
    pytest.importorskip("torch")
    import torchtrek

    with pytest.raises(RuntimeError, match="real torch is already imported"):
        torchtrek.install_as_torch()


def test_unsupported_dtype_is_named():
    import torchtrek as tt

    with pytest.raises(NotImplementedError, match="torch.bfloat16 is not supported"):
        tt.zeros(2, dtype=tt.bfloat16)
    with pytest.raises(NotImplementedError, match="bfloat16"):
        tt.ones(2).to(tt.bfloat16)
    with pytest.raises(NotImplementedError, match="bfloat16"):
        tt.nn.Linear(2, 2).to(tt.bfloat16)
    assert not tt.cuda.is_bf16_supported()
