import linecache
import traceback

import pytest

from torchtrek.runtime.loader import load_function, load_source

SRC = """\
import numpy as np


def boom(x):
    y = x + 1
    raise ValueError("from generated code")
"""


def test_generated_lines_show_in_tracebacks():
    fn = load_function(SRC, "boom")
    with pytest.raises(ValueError) as info:
        fn(1)
    frames = traceback.extract_tb(info.tb)
    assert frames[-1].filename.startswith("<torchtrek-generated")
    assert frames[-1].line == 'raise ValueError("from generated code")'
    assert linecache.getline(frames[-1].filename, 5).strip() == "y = x + 1"


def test_same_source_loads_once():
    assert load_source(SRC, "boom") is load_source(SRC, "boom")
