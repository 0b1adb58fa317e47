import inspect

import torchtrek as tt


def seed(x):
    return x ** 2 + 3 * x + 5


LINE = inspect.getsourcelines(seed)[1] + 1
SEED_IR = f"""\
graph seed(%x: f32[]) {{
  %pow: f32[] = pow %x, 2.0:f32      # test_printer.py:{LINE}: return x ** 2 + 3 * x + 5
  %mul: f32[] = mul 3.0:f32, %x      # test_printer.py:{LINE}: return x ** 2 + 3 * x + 5
  %add: f32[] = add %pow, %mul       # test_printer.py:{LINE}: return x ** 2 + 3 * x + 5
  %add_1: f32[] = add %add, 5.0:f32  # test_printer.py:{LINE}: return x ** 2 + 3 * x + 5
  return %add_1
}}"""


def test_seed_example_text_form_golden():
    assert str(tt.trace(seed, tt.tensor(2.0))) == SEED_IR


def test_text_form_is_deterministic():
    def f(x, w):
        return tt.relu(x @ w).sum(1)

    a = str(tt.trace(f, tt.ones(2, 3), tt.ones(3, 4)))
    b = str(tt.trace(f, tt.ones(2, 3), tt.ones(3, 4)))
    assert a == b
    assert "%matmul: f32[2,4] = matmul %x, %w" in a
    assert "sum[dims=(1,), keepdim=False]" in a


def test_names_are_unique_and_identifiers():
    g = tt.trace(lambda x: (x + 1) + (x + 2) + (x + 3), tt.ones(2))
    text = str(g)
    assert "%add:" in text and "%add_1:" in text and "%add_2:" in text
