"""randperm, logspace, normal, bernoulli, multinomial, scalar_tensor, tril/triu_indices,
randint_like(device=) and generator= against torch 2.13 (values where deterministic;
shapes, dtypes, errors, reproducibility and statistics where random)."""

import numpy as np
import pytest
import torch

import torchtrek as tt


def _same_error(fn_torch, fn_tt):
    """Both raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        fn_torch()
    with pytest.raises(type(theirs.value)) as ours:
        fn_tt()
    assert str(ours.value) == str(theirs.value)


def _seeded(fn, seed=7):
    tt.manual_seed(seed)
    a = fn().numpy()
    tt.manual_seed(seed)
    b = fn().numpy()
    assert np.array_equal(a, b, equal_nan=True)
    return a


# ----------------------------------------------------------------- randperm


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "float32", "float64", "float16"])
def test_randperm_is_a_seeded_permutation(dtype):
    a = _seeded(lambda: tt.randperm(50, dtype=getattr(tt, dtype)))
    assert a.dtype == torch.randperm(50, dtype=getattr(torch, dtype)).numpy().dtype
    assert sorted(a.tolist()) == list(range(50))
    assert tt.randperm(5).dtype == tt.int64 and tuple(tt.randperm(0).shape) == (0,)
    assert tt.randperm(tt.tensor(4)).shape == (4,)


def test_randperm_is_uniform():
    tt.manual_seed(0)
    first = np.array([tt.randperm(4)[0].item() for _ in range(2000)])
    counts = np.bincount(first, minlength=4)
    assert np.all(np.abs(counts - 500) < 100)


@pytest.mark.parametrize("call", [
    "randperm(-1)", "randperm(5.0)", "randperm(True)", "randperm(5, dtype=M.bool)",
    "randperm(257, dtype=M.uint8)", "randperm(129, dtype=M.int8)", "randperm(2050, dtype=M.float16)",
    "randperm(2**24 + 2, dtype=M.float32)", "randperm(5, requires_grad=True)",
])
def test_randperm_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


def test_randperm_requires_grad_for_float():
    assert tt.randperm(3, dtype=tt.float32, requires_grad=True).requires_grad


# ----------------------------------------------------------------- logspace


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8"])
@pytest.mark.parametrize("args", [(0, 1, 5), (-3.3, 10.1, 7, 2.5), (2, 0, 3), (0.5, 3.7, 10, 2.0),
                                  (-1, 1, 5, -2.0), (0, 3, 4), (1.0, 1.0, 1), (0, 1, 0),
                                  (0.5, 1, 1), (-2, 2, 33, 0.5)])
def test_logspace_matches_torch(args, dtype):
    if dtype == "uint8" and min(args[:2]) < 0:
        args = (abs(args[0]), abs(args[1])) + args[2:]
    with np.errstate(all="ignore"):
        theirs = torch.logspace(*args, dtype=getattr(torch, dtype)).numpy()
        ours = tt.logspace(*args, dtype=getattr(tt, dtype)).numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)  # bit for bit, NaNs included


def test_logspace_defaults_and_tensor_arguments():
    assert tt.logspace(0, 1, 3).dtype == tt.float32
    np.testing.assert_array_equal(tt.logspace(tt.tensor(0.0), 1, 3, base=tt.tensor(2.0)).numpy(),
                                  torch.logspace(torch.tensor(0.0), 1, 3, base=torch.tensor(2.0)).numpy())
    assert tt.logspace(0, 1, 4, requires_grad=True).requires_grad


@pytest.mark.parametrize("call", [
    "logspace(0, 1, -1)", "logspace(0, 1, 3, dtype=M.bool)", "logspace(M.tensor([0., 1.]), 1, 3)",
    "logspace(0, 1, 3, dtype=M.int32, requires_grad=True)", "logspace(-3.3, 1, 3, dtype=M.uint8)",
    "logspace(10, 10, 1, dtype=M.int16)",
])
def test_logspace_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


# ----------------------------------------------------------------- normal


def test_normal_float_float_size():
    a = _seeded(lambda: tt.normal(2.0, 3.0, (200, 100)))
    assert a.dtype == np.float32 and a.shape == (200, 100)
    assert abs(a.mean() - 2.0) < 0.1 and abs(a.std() - 3.0) < 0.1
    assert tt.normal(0, 1, [4], dtype=tt.float64).dtype == tt.float64
    assert tt.normal(0.0, 1.0, size=(2,), requires_grad=True).requires_grad
    assert tt.normal(tt.tensor(0.0), 1.0, (3,)).shape == (3,)  # a 0-dim tensor is a number here


@pytest.mark.parametrize("args", [
    "M.tensor([0., 1.]), M.tensor([1., 2.])", "M.tensor([0., 1.]), M.tensor([[1.], [2.]])",
    "M.tensor([0., 1.])", "M.tensor([0., 1.]), 2", "1., M.tensor([1., 2.])",
    "M.tensor([0., 1.], dtype=M.float64), M.tensor([1., 2.])",
    "M.tensor([0., 1.]), M.tensor([1., 2.], dtype=M.float64)",
    "M.tensor([0., 1.], dtype=M.float16), 2.", "2., M.tensor([0., 1.], dtype=M.float64)",
    "M.tensor([0., 1.]), M.tensor([1, 2])", "M.tensor(0.), M.tensor(1.)", "M.tensor([]), M.tensor([])",
])
def test_normal_tensor_forms_shape_and_dtype(args):
    theirs = eval(f"M.normal({args})", {"M": torch})
    ours = eval(f"M.normal({args})", {"M": tt})
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]


def test_normal_tensor_statistics_broadcast():
    tt.manual_seed(1)
    mean = tt.tensor([[-5.0], [5.0]])
    std = tt.tensor([0.5, 2.0, 4.0]).reshape(1, 3, 1).expand(1, 3, 1)
    out = tt.normal(mean.reshape(1, 2, 1, 1).expand(1, 2, 1, 4000), std.reshape(3, 1, 1, 1)).numpy()
    assert out.shape == (3, 2, 1, 4000)
    np.testing.assert_allclose(out.mean(axis=-1)[:, :, 0], [[-5, 5]] * 3, atol=0.2)
    np.testing.assert_allclose(out.std(axis=-1)[:, :, 0], [[0.5, 0.5], [2, 2], [4, 4]], rtol=0.06)


def test_normal_gradients_are_zero_like_torch():
    for make in (lambda M, m, s: M.normal(m, s), lambda M, m, s: M.normal(m, 2.0),
                 lambda M, m, s: M.normal(1.0, s)):
        grads = []
        for M in (torch, tt):
            m = M.tensor([0.0], requires_grad=True)
            s = M.tensor([[1.0], [2.0]], requires_grad=True)
            out = make(M, m, s)
            assert out.requires_grad
            out.sum().backward()
            grads.append([None if g is None else np.asarray(g.numpy()) for g in (m.grad, s.grad)])
        for a, b in zip(*grads):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
    with tt.no_grad():
        assert not tt.normal(tt.tensor([0.0], requires_grad=True), 1.0).requires_grad


@pytest.mark.parametrize("call", [
    "normal(0., 1.)", "normal(0., 1., 4)", "normal(M.tensor([0., 1.]), 1., (2,))",
    "normal(0., 1., (2,), dtype=M.int64)", "normal(0., -1., (2,))", "normal(0., -0.5, (2,))",
    "normal(M.tensor([0., 1.]), M.tensor([1., 2., 3.]))", "normal(M.tensor([0, 1]), 2.)",
    "normal(1., M.tensor([1, 2]))", "normal(M.tensor([True]), 1.)",
    "normal(M.tensor([0., 1.]), M.tensor([1., -2.]))", "normal(M.tensor([0., 1.]), -2.)",
])
def test_normal_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        eval("M." + call, {"M": torch})
    with pytest.raises(type(theirs.value)) as ours:
        eval("M." + call, {"M": tt})
    # the argument-parser messages list torch's overloads; compare their first line
    assert str(ours.value).splitlines()[0] == str(theirs.value).splitlines()[0]


# ----------------------------------------------------------------- bernoulli


def test_bernoulli_values_dtype_and_statistics():
    p = tt.tensor([0.0, 1.0, 0.25, 0.75]).reshape(4, 1).expand(4, 5000)
    out = _seeded(lambda: tt.bernoulli(p))
    assert out.dtype == np.float32 and set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_allclose(out.mean(axis=1), [0, 1, 0.25, 0.75], atol=0.03)
    out = tt.bernoulli(tt.zeros(10000, dtype=tt.int64), 0.3).numpy()
    assert out.dtype == np.int64 and abs(out.mean() - 0.3) < 0.03
    assert tt.bernoulli(tt.tensor([True, False]), 1.0).tolist() == [True, True]
    assert tt.bernoulli(tt.tensor(0.5)).shape == ()
    assert tt.bernoulli(tt.tensor([0.5], dtype=tt.float64)).dtype == tt.float64


def test_bernoulli_gradient_is_zero_like_torch():
    x = tt.tensor([0.5, 1.0], requires_grad=True)
    out = tt.bernoulli(x)
    assert out.requires_grad
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_tensor_bernoulli_methods():
    x = tt.zeros(2, 3)
    assert x.bernoulli_(1.0) is x and x.tolist() == [[1.0] * 3] * 2
    x.bernoulli_(tt.tensor([1.0, 0.0, 1.0]))
    assert x.tolist() == [[1.0, 0.0, 1.0]] * 2
    y = tt.zeros(4, dtype=tt.int64).bernoulli_(0.0)
    assert y.dtype == tt.int64 and y.tolist() == [0] * 4
    assert tt.tensor([0.0, 1.0]).bernoulli().tolist() == [0.0, 1.0]
    assert tt.tensor([0.0, 1.0]).bernoulli(1.0).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("call", [
    "bernoulli(M.tensor([0, 1]))", "bernoulli(M.tensor([True]))", "bernoulli(M.tensor([0.5, 1.5]))",
    "bernoulli(M.tensor([0.5, float('nan')]))", "bernoulli(M.tensor([0., 1.]), 1.5)",
    "bernoulli(M.tensor([0., 1.]), -0.1)", "bernoulli(0.5)", "tensor([0., 0.]).bernoulli_(M.tensor([1, 0]))",
    "tensor([0., 0.]).bernoulli_(1.5)", "tensor([0., 0.]).bernoulli_(M.tensor([1., 0., 1.]))",
    "tensor([0., 0.]).bernoulli_(M.tensor([[1., 0.], [1., 1.]]))",
    "tensor([0., 0.], requires_grad=True).bernoulli_(0.5)",
])
def test_bernoulli_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


# ----------------------------------------------------------------- multinomial


def test_multinomial_with_replacement_statistics():
    p = tt.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 2.0]])
    out = _seeded(lambda: tt.multinomial(p, 8000, replacement=True))
    assert out.dtype == np.int64 and out.shape == (2, 8000)
    freq = np.stack([np.bincount(r, minlength=3) / 8000 for r in out])
    np.testing.assert_allclose(freq, [[0, 0.25, 0.75], [0.5, 0, 0.5]], atol=0.03)


def test_multinomial_without_replacement():
    tt.manual_seed(2)
    p = tt.tensor([1.0, 0.0, 2.0, 5.0])
    draws = [tt.multinomial(p, 3).tolist() for _ in range(600)]
    assert all(len(set(d)) == 3 and 1 in d for d in draws if 1 in d) and all(len(set(d)) == 3 for d in draws)
    assert sum(1 not in d for d in draws) == 600  # zero probability: only once the rest run out
    first = np.bincount([d[0] for d in draws], minlength=4) / 600
    np.testing.assert_allclose(first, [1 / 8, 0, 2 / 8, 5 / 8], atol=0.06)
    full = tt.multinomial(tt.tensor([0.0, 1.0, 0.0]), 3).tolist()
    assert full[0] == 1 and sorted(full) == [0, 1, 2]
    assert tt.multinomial(tt.tensor([[0.0, 1.0], [1.0, 0.0]]), 1).tolist() == [[1], [0]]
    assert tuple(tt.multinomial(tt.zeros(0, 3), 1).shape) == (0, 1)


@pytest.mark.parametrize("call", [
    "multinomial(M.tensor([0., 1., 2.]), 4)", "multinomial(M.tensor([0., 1., 2.]), 0)",
    "multinomial(M.tensor([[[0., 1.]]]), 1)", "multinomial(M.tensor(1.), 1)",
    "multinomial(M.tensor([0, 1, 2]), 1)", "multinomial(M.tensor([0., -1., 2.]), 1)",
    "multinomial(M.tensor([0., float('inf'), 2.]), 1)", "multinomial(M.tensor([0., float('nan')]), 1)",
    "multinomial(M.tensor([[0., 0.], [1., 1.]]), 1)", "multinomial(M.tensor([0., 0.]), 2, True)",
    "multinomial(M.tensor([0., -1., 2.]), 2, True)", "multinomial(M.tensor([0., float('inf')]), 2, True)",
    "multinomial(M.tensor([0., 1., 2.]), 2.0)", "multinomial(M.tensor([0., 1., 2.]), 2, 1)",
    "multinomial(M.tensor([0., 1., 2.]), True)", "multinomial(M.tensor([]), 1)",
])
def test_multinomial_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


# ----------------------------------------------------------------- scalar_tensor


@pytest.mark.parametrize("value", [3, -3.7, 3.7, True, 0.1, -1, 2**40, float("nan"), float("inf"), 1e40])
@pytest.mark.parametrize("dtype", [None, "float64", "float16", "int64", "int32", "uint8", "bool"])
def test_scalar_tensor_matches_torch(value, dtype):
    try:
        theirs = torch.scalar_tensor(value, dtype=getattr(torch, dtype) if dtype else None)
    except Exception as err:
        with pytest.raises(type(err), match=str(err)):
            tt.scalar_tensor(value, dtype=getattr(tt, dtype) if dtype else None)
        return
    with np.errstate(over="ignore"):
        ours = tt.scalar_tensor(value, dtype=getattr(tt, dtype) if dtype else None)
    assert ours.shape == () and ours.numpy().dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("call", [
    "scalar_tensor(M.tensor([2.]))", "scalar_tensor('a')", "scalar_tensor(2**70)",
    "scalar_tensor(complex(1, 2))", "scalar_tensor(M.tensor(2., requires_grad=True))",
    "scalar_tensor(3, dtype=M.int64, requires_grad=True)",
])
def test_scalar_tensor_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


def test_scalar_tensor_grad_and_tensor_input():
    assert tt.scalar_tensor(3, requires_grad=True).requires_grad
    assert tt.scalar_tensor(tt.tensor(2, dtype=tt.int32)).dtype == tt.float32


# ----------------------------------------------------------------- tril/triu_indices


@pytest.mark.parametrize("fn", ["tril_indices", "triu_indices"])
def test_tri_indices_match_torch(fn):
    for row in range(5):
        for col in range(5):
            for offset in range(-6, 7):
                theirs = getattr(torch, fn)(row, col, offset).numpy()
                ours = getattr(tt, fn)(row, col, offset).numpy()
                assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
                np.testing.assert_array_equal(ours, theirs)
    assert getattr(tt, fn)(3, 4, dtype=tt.int32).dtype == tt.int32
    assert getattr(tt, fn)(row=2, col=3, offset=1, device="cpu").shape == getattr(torch, fn)(2, 3, 1).shape


@pytest.mark.parametrize("call", [
    "tril_indices(-1, 3)", "triu_indices(3, -2)", "tril_indices(3, 3, dtype=M.float32)",
    "triu_indices(3, 3, dtype=M.int16)", "tril_indices(3, 3, dtype=M.uint8)", "triu_indices(3.0, 3)",
    "tril_indices(3, 3, 1.0)", "tril_indices(3, 3, requires_grad=True)",
])
def test_tri_indices_errors_match_torch(call):
    _same_error(lambda: eval("M." + call, {"M": torch}), lambda: eval("M." + call, {"M": tt}))


# ----------------------------------------------------------------- randint_like, generators


def test_randint_like_device_and_forms():
    x = tt.ones(2, 3)
    out = tt.randint_like(x, 2, 5, device="cpu")
    assert out.dtype == tt.float32 and tuple(out.shape) == (2, 3) and out.device.type == "cpu"
    assert set(tt.randint_like(x, high=3).numpy().ravel()) <= {0.0, 1.0, 2.0}
    assert tt.randint_like(tt.ones(4, dtype=tt.int64), 5).dtype == tt.int64
    assert tt.randint_like(x, 5, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        tt.randint_like(x, 5, 2)


def test_generators_are_independent_reproducible_streams():
    g = tt.Generator().manual_seed(11)
    a = [tt.randperm(10, generator=g).tolist(), tt.rand(3, generator=g).tolist(),
         tt.normal(0.0, 1.0, (3,), generator=g).tolist(), tt.randint(9, (3,), generator=g).tolist()]
    tt.manual_seed(0)
    g.manual_seed(11)
    b = [tt.randperm(10, generator=g).tolist(), tt.rand(3, generator=g).tolist(),
         tt.normal(0.0, 1.0, (3,), generator=g).tolist(), tt.randint(9, (3,), generator=g).tolist()]
    assert a == b and g.initial_seed() == 11
    with pytest.raises(TypeError, match="generator"):
        tt.randperm(3, generator=3)


def test_random_factories_refuse_tracing_like_rand():
    x = tt.full((3,), 0.5)
    for fn in (lambda x: x + tt.randperm(3), lambda x: tt.normal(x, 1.0),
               lambda x: x + tt.normal(0.0, 1.0, (3,)), lambda x: tt.bernoulli(x),
               lambda x: tt.multinomial(x, 1), lambda x: tt.randint_like(x, 3)):
        with pytest.raises(tt.TraceError, match="random numbers inside a compiled function"):
            tt.compile(fn)(x)


def test_deterministic_factories_work_inside_compile():
    @tt.compile
    def f(x):
        return x + tt.scalar_tensor(2.0) + tt.logspace(0, 1, 3) + tt.tril_indices(3, 3)[1, 3:].float()

    np.testing.assert_allclose(f(tt.ones(3)).numpy(),
                               (1 + 2 + torch.logspace(0, 1, 3) + torch.tensor([0.0, 1.0, 2.0])).numpy())
