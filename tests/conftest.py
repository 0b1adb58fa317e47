"""Every graph the suite builds is verified and its IR text round-tripped through
the parser (runtime/compiled.py checks both when TORCHTREK_VERIFY is set)."""

import os

os.environ.setdefault("TORCHTREK_VERIFY", "1")

# Keep the suite's generated-source cache out of the user's cache directory.
import tempfile  # noqa: E402

os.environ.setdefault("TORCHTREK_CACHE_DIR", tempfile.mkdtemp(prefix="torchtrek-test-cache-"))

import pytest  # noqa: E402

# The op families' compiled checks run on the C backend with a kernel for every region,
# however small (by default regions under 4096 elements stay NumPy): every op's formula
# is then printed as C, compiled and compared with torch, forward and backward.
C_EVERY_SIZE = {"test_ops.py", "test_ops_math.py", "test_ops_reductions.py"}


@pytest.fixture(autouse=True)
def _c_kernels_for_every_size(request, monkeypatch):
    if os.path.basename(str(request.node.fspath)) in C_EVERY_SIZE:
        monkeypatch.setenv("TORCHTREK_C_MIN_NUMEL", "0")
