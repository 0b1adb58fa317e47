"""Tensor API of torchtrek, checked against torch (the oracle): creation, dtype
inference, metadata, shape ops, dtype conversion, Python conversion and repr."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchtrek as tt

DTYPES = {
    "float32": (tt.float32, torch.float32),
    "float64": (tt.float64, torch.float64),
    "int32": (tt.int32, torch.int32),
    "int64": (tt.int64, torch.int64),
    "bool": (tt.bool, torch.bool),
}
TT_TO_TORCH = {str(a): b for a, b in DTYPES.values()}


def torch_dtype(d):
    return TT_TO_TORCH[str(d)]


def assert_same(a, b):
    """tt tensor `a` matches torch tensor `b` in shape, dtype and values."""
    assert isinstance(a, tt.Tensor), type(a)
    assert tuple(a.shape) == tuple(b.shape)
    assert torch_dtype(a.dtype) == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ tt.tensor


@pytest.mark.parametrize(
    "data",
    [
        7,
        7.0,
        True,
        -3,
        [1, 2, 3],
        [1.0, 2.5],
        [1, 2.0],
        [True, False],
        [[1, 2], [3, 4]],
        [[[1.5], [2.5]], [[3.5], [4.5]]],
        [[[[1, 2]]]],
        [],
    ],
    ids=repr,
)
def test_tensor_from_python_data_matches_torch(data):
    assert_same(tt.tensor(data), torch.tensor(data))


@pytest.mark.parametrize(
    "arr",
    [
        np.array([1.0, 2.0]),  # float64 stays float64
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([[1, 2], [3, 4]], dtype=np.int64),
        np.array([1, 2], dtype=np.int32),
        np.array([True, False]),
        np.array(3.5),
    ],
    ids=lambda a: f"{a.dtype}{list(a.shape)}",
)
def test_tensor_from_numpy_matches_torch(arr):
    assert_same(tt.tensor(arr), torch.tensor(arr))


def test_tensor_from_numpy_copies():
    arr = np.array([1.0, 2.0])
    t = tt.tensor(arr)
    arr[0] = 100.0
    assert t.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", list(DTYPES))
def test_tensor_with_explicit_dtype(name):
    d_tt, d_torch = DTYPES[name]
    data = [[0, 1, 2], [3, 0, 5]]
    assert_same(tt.tensor(data, dtype=d_tt), torch.tensor(data, dtype=d_torch))


def test_tensor_requires_grad_flag():
    t = tt.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    assert not tt.tensor([1.0]).requires_grad


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        tt.tensor([1, 2], requires_grad=True)
    assert "floating point" in str(theirs.value) and "floating point" in str(ours.value)
    with pytest.raises(RuntimeError):
        tt.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError):
        tt.zeros(2, dtype=tt.int64, requires_grad=True)


# ------------------------------------------------------------------ factories


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", [(), (3,), (2, 3), (2, 1, 3), (1, 2, 3, 4)], ids=str)
def test_filled_factories_varargs_and_tuple(fn, size):
    theirs = getattr(torch, fn)(size)
    results = [getattr(tt, fn)(size), getattr(tt, fn)(list(size))]
    if size:  # torch.zeros() without a size is a TypeError
        results.append(getattr(tt, fn)(*size))
    for ours in results:
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert ours.dtype == tt.float32
        if fn != "empty":
            assert_same(ours, theirs)


@pytest.mark.parametrize("fn", ["zeros", "ones"])
@pytest.mark.parametrize("name", list(DTYPES))
def test_filled_factories_dtype(fn, name):
    d_tt, d_torch = DTYPES[name]
    assert_same(getattr(tt, fn)(2, 3, dtype=d_tt), getattr(torch, fn)(2, 3, dtype=d_torch))
    assert tt.empty((2, 3), dtype=d_tt).dtype == d_tt


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_requires_grad(fn):
    t = getattr(tt, fn)(2, 2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize(
    "args,kwargs",
    [
        (((2, 3), 1.5), {}),
        (((2, 3), 4), {}),
        (((2,), True), {}),
        (((2, 2), 7), {"dtype": "float64"}),
        (((3,), 2.0), {"dtype": "int32"}),
        (((), 3.0), {}),
    ],
    ids=str,
)
def test_full_matches_torch(args, kwargs):
    kw_tt = {k: DTYPES[v][0] for k, v in kwargs.items()}
    kw_torch = {k: DTYPES[v][1] for k, v in kwargs.items()}
    assert_same(tt.full(*args, **kw_tt), torch.full(*args, **kw_torch))


def test_full_requires_grad():
    t = tt.full((2,), 3.0, requires_grad=True)
    assert t.requires_grad and t.tolist() == [3.0, 3.0]


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((5,), {}),
        ((2, 7), {}),
        ((1, 10, 3), {}),
        ((10, 0, -3), {}),
        ((0.0, 1.0, 0.25), {}),
        ((5,), {"dtype": "float32"}),
        ((5,), {"dtype": "float64"}),
        ((1, 2.5, 0.5), {"dtype": "float64"}),
        ((0,), {}),
    ],
    ids=str,
)
def test_arange_matches_torch(args, kwargs):
    kw_tt = {k: DTYPES[v][0] for k, v in kwargs.items()}
    kw_torch = {k: DTYPES[v][1] for k, v in kwargs.items()}
    assert_same(tt.arange(*args, **kw_tt), torch.arange(*args, **kw_torch))


def test_arange_requires_grad():
    t = tt.arange(3, dtype=tt.float32, requires_grad=True)
    assert t.requires_grad


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_random_shapes_dtypes_and_seed(fn):
    f = getattr(tt, fn)
    tt.manual_seed(123)
    a = f(3, 4)
    b = f((3, 4))
    tt.manual_seed(123)
    a2 = f(3, 4)
    b2 = f((3, 4))
    assert a.shape == tt.Size([3, 4]) and b.shape == (3, 4)
    assert a.dtype == tt.float32
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())  # the stream advances
    assert f(2, dtype=tt.float64).dtype == tt.float64
    tt.manual_seed(124)
    assert not np.array_equal(f(3, 4).numpy(), a.numpy())


def test_rand_range_and_randn_spread():
    tt.manual_seed(0)
    u = tt.rand(2000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    n = tt.randn(4000).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1


# ------------------------------------------------------------------ metadata

SHAPES = [(), (4,), (2, 3), (2, 3, 4), (2, 1, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_metadata_matches_torch(shape):
    ours, theirs = tt.zeros(shape), torch.zeros(shape)
    assert isinstance(ours.shape, tt.Size) and isinstance(ours.shape, tuple)
    assert ours.shape == theirs.shape
    assert ours.size() == tuple(theirs.size())
    assert isinstance(ours.size(), tt.Size)
    assert ours.dim() == theirs.dim() and ours.ndim == theirs.ndim
    assert ours.numel() == theirs.numel()
    for d in range(-len(shape), len(shape)):
        assert ours.size(d) == theirs.size(d)
    assert repr(ours.shape) == repr(theirs.shape).replace("torch.", "torchtrek.")
    assert str(ours.size()) == str(theirs.size()).replace("torch.", "torchtrek.")


def test_size_repr():
    assert repr(tt.zeros(2, 3).shape) == "torchtrek.Size([2, 3])"
    assert repr(tt.tensor(1.0).shape) == "torchtrek.Size([])"


@pytest.mark.parametrize("dim", [2, -3])
def test_size_out_of_range_dim_raises_index_error(dim):
    with pytest.raises(IndexError):
        torch.zeros(2, 3).size(dim)
    with pytest.raises(IndexError):
        tt.zeros(2, 3).size(dim)


# ------------------------------------------------------------------ shape ops

X_DATA = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

SHAPE_OPS = [
    ("reshape_varargs", lambda x: x.reshape(4, 6)),
    ("reshape_tuple", lambda x: x.reshape((6, 4))),
    ("reshape_infer", lambda x: x.reshape(-1, 2)),
    ("reshape_flat", lambda x: x.reshape(-1)),
    ("view", lambda x: x.view(3, 8)),
    ("view_tuple_infer", lambda x: x.view((2, -1))),
    ("flatten", lambda x: x.flatten()),
    ("flatten_1", lambda x: x.flatten(1)),
    ("flatten_0_1", lambda x: x.flatten(0, 1)),
    ("flatten_neg", lambda x: x.flatten(-2, -1)),
    ("unsqueeze_0", lambda x: x.unsqueeze(0)),
    ("unsqueeze_last", lambda x: x.unsqueeze(3)),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1)),
    ("unsqueeze_neg2", lambda x: x.unsqueeze(-2)),
    ("squeeze_all", lambda x: x.reshape(1, 2, 1, 12).squeeze()),
    ("squeeze_dim", lambda x: x.reshape(1, 2, 1, 12).squeeze(2)),
    ("squeeze_neg_dim", lambda x: x.reshape(2, 12, 1).squeeze(-1)),
    ("squeeze_noop", lambda x: x.squeeze(0)),
    ("permute_varargs", lambda x: x.permute(2, 0, 1)),
    ("permute_tuple", lambda x: x.permute((1, 2, 0))),
    ("permute_neg", lambda x: x.permute(-1, -3, -2)),
    ("transpose", lambda x: x.transpose(0, 2)),
    ("transpose_neg", lambda x: x.transpose(-1, -2)),
    ("T_2d", lambda x: x.reshape(6, 4).T),
    ("4d_permute", lambda x: x.reshape(1, 2, 3, 4).permute(3, 1, 0, 2)),
    ("chain", lambda x: x.transpose(0, 1).reshape(3, 8).unsqueeze(1).flatten()),
]


@pytest.mark.parametrize("op", [f for _, f in SHAPE_OPS], ids=[n for n, _ in SHAPE_OPS])
def test_shape_ops_match_torch(op):
    assert_same(op(tt.tensor(X_DATA)), op(torch.tensor(X_DATA)))


def test_shape_ops_on_0d_tensor():
    for op in (lambda x: x.reshape(1), lambda x: x.unsqueeze(0), lambda x: x.flatten(),
               lambda x: x.squeeze(), lambda x: x.reshape(1, 1).squeeze()):
        assert_same(op(tt.tensor(5.0)), op(torch.tensor(5.0)))


def test_reshape_with_wrong_numel_raises_runtime_error():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError):
        tt.zeros(2, 3).reshape(4, 2)


def test_shape_ops_keep_dtype():
    for name, (d_tt, d_torch) in DTYPES.items():
        ours = tt.zeros(2, 3, dtype=d_tt).reshape(3, 2).T.unsqueeze(0)
        theirs = torch.zeros(2, 3, dtype=d_torch).reshape(3, 2).T.unsqueeze(0)
        assert_same(ours, theirs)


# ------------------------------------------------------------------ dtypes


def test_dtype_objects_and_default():
    assert tt.float32 is not tt.float64
    assert tt.tensor([1.0]).dtype == tt.float32 == tt.get_default_dtype()
    for name, (d_tt, d_torch) in DTYPES.items():
        assert repr(d_tt) == repr(d_torch).replace("torch.", "torchtrek.")
        assert str(d_tt) == str(d_torch).replace("torch.", "torchtrek.")


@pytest.mark.parametrize("src", list(DTYPES))
@pytest.mark.parametrize("dst", list(DTYPES))
def test_to_dtype_matches_torch(src, dst):
    data = [[-1.5, 0.0, 2.7], [3.0, 0.5, -0.0]]
    base_tt = tt.tensor(data).to(DTYPES[src][0])
    base_torch = torch.tensor(data).to(DTYPES[src][1])
    assert_same(base_tt.to(DTYPES[dst][0]), base_torch.to(DTYPES[dst][1]))
    assert_same(base_tt.to(dtype=DTYPES[dst][0]), base_torch.to(dtype=DTYPES[dst][1]))


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "bool"])
def test_conversion_methods_match_torch(method):
    data = [[-1.5, 0.0], [2.7, 1.0]]
    assert_same(getattr(tt.tensor(data), method)(), getattr(torch.tensor(data), method)())
    ints = [[0, 3], [-2, 1]]
    assert_same(getattr(tt.tensor(ints), method)(), getattr(torch.tensor(ints), method)())


# ------------------------------------------------------------------ python conversion


@pytest.mark.parametrize(
    "data", [2.5, 7, True, [3.25], [[4]], [[[[1.5]]]]], ids=repr
)
def test_item_matches_torch(data):
    ours, theirs = tt.tensor(data).item(), torch.tensor(data).item()
    assert ours == theirs and type(ours) is type(theirs)


def test_item_on_many_elements_raises():
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError):
        tt.tensor([1.0, 2.0]).item()


@pytest.mark.parametrize(
    "data",
    [1.5, 3, False, [1, 2], [[1.5, 2.0], [3.0, 4.0]], [[True], [False]], [[[[1]]]], []],
    ids=repr,
)
def test_tolist_matches_torch(data):
    ours, theirs = tt.tensor(data).tolist(), torch.tensor(data).tolist()
    assert ours == theirs
    assert type(ours) is type(theirs)
    if isinstance(theirs, list) and theirs and not isinstance(theirs[0], list):
        assert [type(v) for v in ours] == [type(v) for v in theirs]


@pytest.mark.parametrize("name", list(DTYPES))
def test_numpy_matches_torch(name):
    d_tt, d_torch = DTYPES[name]
    data = [[1, 0], [2, 3]]
    ours, theirs = tt.tensor(data, dtype=d_tt).numpy(), torch.tensor(data, dtype=d_torch).numpy()
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_numpy_of_requires_grad_tensor_raises():
    with pytest.raises(RuntimeError):
        torch.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(RuntimeError):
        tt.tensor([1.0], requires_grad=True).numpy()
    assert tt.tensor([1.0], requires_grad=True).detach().numpy().tolist() == [1.0]


# ------------------------------------------------------------------ repr


def _reprs_equal(ours, theirs):
    assert repr(ours) == repr(theirs).replace("torch.", "torchtrek."), (repr(ours), repr(theirs))
    assert str(ours) == str(theirs).replace("torch.", "torchtrek.")


def test_repr_spec_examples():
    assert repr(tt.tensor(7.0)) == "tensor(7.)"
    assert repr(tt.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tt.tensor([[1, 2]])) == "tensor([[1, 2]])"
    x = tt.tensor(2.0, requires_grad=True)
    assert repr(x * 3 + 9) == "tensor(15., grad_fn=<AddBackward0>)"


@pytest.mark.parametrize(
    "data,kw",
    [
        (7.0, {}),
        (3.14159, {}),
        ([1.0, 2.0], {}),
        ([1.0, 2.0], {"requires_grad": True}),
        ([[1, 2]], {}),
        ([[1, 2], [3, 4]], {"dtype": "int32"}),
        ([1.5, -2.25], {"dtype": "float64"}),
        ([2.0], {"dtype": "float64"}),
        ([True, False], {}),
        ([[[1.0, 2.5]], [[3.0, 4.0]]], {}),
        ([[[[1, 2]]]], {}),
        ([], {}),
        ([1e-5, 1.0], {}),
        (5, {"dtype": "int32"}),
    ],
    ids=str,
)
def test_repr_matches_torch(data, kw):
    kw_tt = {k: (DTYPES[v][0] if k == "dtype" else v) for k, v in kw.items()}
    kw_torch = {k: (DTYPES[v][1] if k == "dtype" else v) for k, v in kw.items()}
    _reprs_equal(tt.tensor(data, **kw_tt), torch.tensor(data, **kw_torch))


def test_repr_of_factories_matches_torch():
    _reprs_equal(tt.zeros(2, 3), torch.zeros(2, 3))
    _reprs_equal(tt.ones(2, dtype=tt.int64), torch.ones(2, dtype=torch.int64))
    _reprs_equal(tt.arange(6).reshape(2, 3), torch.arange(6).reshape(2, 3))
    _reprs_equal(tt.full((2,), 0.5, dtype=tt.float64), torch.full((2,), 0.5, dtype=torch.float64))
    _reprs_equal(tt.ones(3, requires_grad=True), torch.ones(3, requires_grad=True))


@pytest.mark.parametrize(
    "name,fn",
    [
        ("add", lambda x: x + 1),
        ("radd", lambda x: 1 + x),
        ("sub", lambda x: x - 1),
        ("mul", lambda x: x * 2),
        ("div", lambda x: x / 2),
        ("pow", lambda x: x ** 2),
        ("neg", lambda x: -x),
        ("exp", lambda x: x.exp()),
        ("sum", lambda x: x.sum()),
        ("mean", lambda x: x.mean()),
        ("tanh", lambda x: x.tanh()),
        ("sum_dim", lambda x: x.sum(0)),
        ("relu", lambda x: x.relu()),
        ("sigmoid", lambda x: x.sigmoid()),
        ("matmul_2d", lambda x: x @ x),
        ("reshape", lambda x: x.reshape(4)),
    ],
)
def test_repr_and_grad_fn_name_match_torch(name, fn):
    data = [[1.0, 2.0], [-3.0, 0.5]]
    ours = fn(tt.tensor(data, requires_grad=True))
    theirs = fn(torch.tensor(data, requires_grad=True))
    assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__
    _reprs_equal(ours, theirs)


# ------------------------------------------------------------------ errors match torch


@pytest.mark.parametrize(
    "op",
    [
        lambda m: m.zeros(2, 3).flatten(1, 0),
        lambda m: m.zeros(2, 3).permute(0, 0),
        lambda m: m.zeros(2, 3).permute(1, 0, 2),
        lambda m: m.zeros(2, 3).transpose(0, 2),
        lambda m: m.zeros(2, 3).unsqueeze(3),
        lambda m: m.zeros(2, 3).squeeze(2),
        lambda m: m.zeros(2, 3).view(-1, -1),
        lambda m: m.zeros(2, 3).reshape(5),
        lambda m: m.tensor([[1, 2], [3]]),
        lambda m: m.tensor([1.0, 2.0]).item(),
    ],
    ids=["flatten_order", "permute_dup", "permute_len", "transpose_range", "unsqueeze_range",
         "squeeze_range", "view_two_infer", "reshape_numel", "ragged", "item_many"],
)
def test_errors_have_torch_exception_types(op):
    with pytest.raises(Exception) as theirs:
        op(torch)
    with pytest.raises(Exception) as ours:
        op(tt)
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)


@pytest.mark.parametrize(
    "name,fn",
    [
        ("pow_tensor_exponent", lambda x: x ** x),
        ("rpow", lambda x: 2 ** x),
        ("transpose", lambda x: x.transpose(0, 1)),
        ("permute", lambda x: x.permute(1, 0)),
        ("T", lambda x: x.T),
        ("unsqueeze", lambda x: x.unsqueeze(1)),
        ("squeeze_all", lambda x: x.reshape(1, 4).squeeze()),
        ("squeeze_dim", lambda x: x.reshape(1, 4).squeeze(0)),
        ("flatten", lambda x: x.flatten()),
        ("to_float64", lambda x: x.to(torch.float64 if isinstance(x, torch.Tensor) else tt.float64)),
        ("mean_dim", lambda x: x.mean(1)),
        ("where", lambda x: (torch if isinstance(x, torch.Tensor) else tt).where(x > 0, x, 0.0)),
        ("dot", lambda x: x.flatten() @ x.flatten()),
    ],
)
def test_grad_fn_names_of_more_ops_match_torch(name, fn):
    data = [[1.0, 2.0], [0.5, 3.0]]
    ours = fn(tt.tensor(data, requires_grad=True))
    theirs = fn(torch.tensor(data, requires_grad=True))
    assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__
    _reprs_equal(ours, theirs)


# ------------------------------------------------------------------ Size behaves like torch.Size


def test_size_slicing_and_concatenation_stay_sizes():
    ours, theirs = tt.zeros(2, 3, 4).shape, torch.zeros(2, 3, 4).shape
    for op in (lambda s: s[1:], lambda s: s[:0], lambda s: s + (5,), lambda s: s[::-1]):
        a, b = op(ours), op(theirs)
        assert type(b) is torch.Size
        assert isinstance(a, tt.Size), (type(a), b)
        assert repr(a) == repr(b).replace("torch.", "torchtrek.")
    assert ours[0] == 2 and ours[-1] == 4 and isinstance(ours[0], int)
    assert ours == (2, 3, 4) and ours.numel() == theirs.numel() == 24
    assert tt.Size([2, 3]) == torch.Size([2, 3])


# ------------------------------------------------------------------ more dtype inference / factory errors


def test_tensor_from_numpy_float64_scalar_keeps_float64():
    assert_same(tt.tensor(np.float64(1.5)), torch.tensor(np.float64(1.5)))
    assert_same(tt.tensor(np.float32(1.5)), torch.tensor(np.float32(1.5)))
    assert_same(tt.tensor(np.int32(3)), torch.tensor(np.int32(3)))


@pytest.mark.parametrize("args", [(5, 1), (0, 5, -1), (1.0, 0.0, 0.5)], ids=str)
def test_arange_with_inconsistent_step_raises_like_torch(args):
    with pytest.raises(RuntimeError, match="step sign"):
        torch.arange(*args)
    with pytest.raises(RuntimeError):
        tt.arange(*args)


def test_arange_zero_step_raises():
    with pytest.raises(RuntimeError):
        torch.arange(0, 5, 0)
    with pytest.raises(RuntimeError):
        tt.arange(0, 5, 0)


def test_contiguous_and_is_contiguous_follow_torch():
    a = tt.arange(6.0).reshape(2, 3)
    ta = torch.arange(6.0).reshape(2, 3)
    assert a.is_contiguous() and ta.is_contiguous()
    assert a.contiguous() is a  # torch returns self when already contiguous
    t, tt_t = a.t(), ta.t()
    assert t.is_contiguous() == tt_t.is_contiguous() == False
    c = t.contiguous()
    assert c.is_contiguous() and c is not t
    assert_same(c, tt_t.contiguous())
    c.add_(1)  # a copy: writing it leaves `a` alone, as in torch
    assert_same(a, ta)


def test_contiguous_carries_gradient_eager_and_compiled():
    w = tt.arange(6.0).reshape(2, 3).requires_grad_()
    (w.t().contiguous() * tt.tensor([1.0, 2.0])).sum().backward()
    tw = torch.arange(6.0).reshape(2, 3).requires_grad_()
    (tw.t().contiguous() * torch.tensor([1.0, 2.0])).sum().backward()
    assert_same(w.grad, tw.grad)
    f = tt.compile(lambda x: x.t().contiguous() * 2)
    assert_same(f(tt.arange(6.0).reshape(2, 3)), torch.arange(6.0).reshape(2, 3).t() * 2)
