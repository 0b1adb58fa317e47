import pytest

import torchtrek as tt


def pytest_collection_modifyitems(config, items):
    if tt.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU with pycuda here: run scripts/gpu_check.sh on a GPU machine")
    for item in items:
        if "tests/cuda/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
