import numpy as np
import pytest
import torch

import torchtrek as tt


@pytest.mark.parametrize("args", [(0, 1, 7), (-3.3, 10.1, 13), (1, 2, 1), (0, 10, 100), (2, 2, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_matches_torch(args, dtype):
    ours = tt.linspace(*args, dtype=getattr(tt, dtype))
    theirs = torch.linspace(*args, dtype=getattr(torch, dtype))
    assert ours.dtype.name == dtype and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(3,), (2, 4), (0,), (3, 0)])
def test_eye_matches_torch(args):
    np.testing.assert_array_equal(tt.eye(*args).numpy(), torch.eye(*args).numpy())


def test_randint_is_seeded_int64_and_in_range():
    tt.manual_seed(3)
    a = tt.randint(2, 9, (1000,))
    tt.manual_seed(3)
    b = tt.randint(2, 9, (1000,))
    assert a.dtype == tt.int64 and a.tolist() == b.tolist()
    assert a.numpy().min() >= 2 and a.numpy().max() <= 8
    assert tuple(tt.randint(5, (2, 3)).shape) == (2, 3)
    assert tuple(tt.randint_like(tt.ones(4), 3).shape) == (4,)
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        tt.randint(5, 5, (2,))


def test_type_as_and_clamp_inplace():
    x = tt.tensor([-2.0, 0.5, 3.0])
    assert x.type_as(tt.tensor([1])).dtype == tt.int64
    y = x.clamp_(-1, 1)
    assert y is x and x.tolist() == [-1.0, 0.5, 1.0]
    w = tt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.clamp_(0, 0.5)


def test_like_functions_keep_dtype_and_shape():
    x = tt.ones(2, 3, dtype=tt.float64)
    for f in (tt.zeros_like, tt.ones_like, tt.empty_like, tt.rand_like, tt.randn_like):
        y = f(x)
        assert y.dtype == tt.float64 and tuple(y.shape) == (2, 3) and y.device == x.device
    assert tt.full_like(x, 7).tolist() == [[7.0] * 3] * 2
