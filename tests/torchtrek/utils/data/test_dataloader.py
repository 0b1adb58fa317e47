"""torch.utils.data against torch 2.13: batches (values, dtypes, nesting), lengths, samplers,
drop_last, iterable datasets, random_split and the errors torch raises."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")


def _plain(x):
    """A batch as nested Python values and (dtype, array) pairs, comparable across libraries."""
    if hasattr(x, "detach") and hasattr(x, "dtype"):
        return (str(x.dtype).split(".")[-1], x.detach().numpy().tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


def _batches(m, dataset_fn, **kw):
    return [_plain(b) for b in m.utils.data.DataLoader(dataset_fn(m), **kw)]


Point = namedtuple("Point", ["x", "y"])


class Samples:
    """A map-style dataset of mixed samples (not a Dataset subclass: any __getitem__ works)."""

    def __init__(self, m, kind):
        self.m, self.kind = m, kind

    def __len__(self):
        return 7

    def __getitem__(self, i):
        m = self.m
        if self.kind == "tuple":
            return m.full((2,), float(i)), i, float(i) / 2, f"s{i}"
        if self.kind == "dict":
            return {"a": m.tensor([i, i + 1]), "b": {"c": i % 2 == 0}}
        if self.kind == "namedtuple":
            return Point(np.full(3, i, dtype=np.float32), np.int64(i))
        return [m.tensor(float(i)), [i, i * 2]]


@pytest.mark.parametrize("kind", ["tuple", "dict", "namedtuple", "list"])
@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None), dict(batch_size=7)])
def test_default_collate_matches_torch(kind, kw):
    want = _batches(torch, lambda m: Samples(m, kind), **kw)
    got = _batches(tt, lambda m: Samples(m, kind), **kw)
    assert got == want


def test_tensor_dataset_and_lengths():
    for bs, drop in [(4, False), (4, True), (10, False), (1, False)]:
        lens = []
        for m in (torch, tt):
            ds = m.utils.data.TensorDataset(m.arange(10.0), m.arange(10))
            dl = m.utils.data.DataLoader(ds, batch_size=bs, drop_last=drop)
            lens.append((len(ds), len(dl), [len(b[0]) for b in dl], _plain(ds[3])))
        assert lens[0] == lens[1]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        tt.utils.data.TensorDataset(tt.zeros(3), tt.zeros(4))


def test_shuffle_is_a_permutation_reproducible_with_a_generator():
    ds = tt.utils.data.TensorDataset(tt.arange(50))

    def order(seed):
        g = tt.Generator().manual_seed(seed)
        return [int(v) for (b,) in tt.utils.data.DataLoader(ds, batch_size=8, shuffle=True,
                                                            generator=g) for v in b]

    assert sorted(order(0)) == list(range(50))
    assert order(0) == order(0) and order(0) != order(1)
    tt.manual_seed(3)
    a = [b[0].tolist() for b in tt.utils.data.DataLoader(ds, batch_size=50, shuffle=True)]
    tt.manual_seed(3)
    b = [b[0].tolist() for b in tt.utils.data.DataLoader(ds, batch_size=50, shuffle=True)]
    assert a == b  # the global seed fixes the order, as torch.manual_seed does


def test_samplers():
    data = list(range(10))
    S = tt.utils.data
    assert list(S.SequentialSampler(data)) == data
    r = list(S.RandomSampler(data, replacement=True, num_samples=25))
    assert len(r) == 25 and all(0 <= i < 10 for i in r)
    r = list(S.RandomSampler(data, num_samples=23))
    assert len(r) == 23 and sorted(r[:10]) == data and sorted(r[10:20]) == data
    assert sorted(S.SubsetRandomSampler([3, 5, 7])) == [3, 5, 7]
    w = list(S.WeightedRandomSampler([0.0, 1.0, 0.0], 5))
    assert w == [1] * 5
    assert list(S.BatchSampler(S.SequentialSampler(range(7)), 3, False)) == \
        list(torch.utils.data.BatchSampler(range(7), 3, False))
    assert len(S.BatchSampler(range(7), 3, True)) == 2
    huge = S.RandomSampler(data, replacement=True, num_samples=int(1e10))  # minGPT's: lazy
    assert len(huge) == int(1e10) and next(iter(huge)) in data
    for bad in (dict(num_samples=0), dict(replacement=1)):
        with pytest.raises((ValueError, TypeError)):
            S.RandomSampler(data, **bad)


def test_sampler_and_batch_sampler_arguments():
    ds = tt.utils.data.TensorDataset(tt.arange(6))
    dl = tt.utils.data.DataLoader(ds, sampler=[5, 4, 3, 2, 1, 0], batch_size=4)
    assert [b[0].tolist() for b in dl] == [[5, 4, 3, 2], [1, 0]]
    dl = tt.utils.data.DataLoader(ds, batch_sampler=[[0, 2], [1, 3, 5]])
    assert [b[0].tolist() for b in dl] == [[0, 2], [1, 3, 5]]
    for m in (torch, tt):
        with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
            m.utils.data.DataLoader(ds if m is tt else torch.utils.data.TensorDataset(
                torch.arange(6)), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        tt.utils.data.DataLoader(ds, batch_sampler=[[0]], batch_size=2)


class Stream:
    def __init__(self, m, n):
        self.m, self.n = m, n

    def make(self):
        m, n = self.m, self.n

        class S(m.utils.data.IterableDataset):
            def __iter__(self):
                return iter(m.tensor([i, -i]) for i in range(n))

            def __len__(self):
                return n
        return S()


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None)])
def test_iterable_dataset(kw):
    want = [_plain(b) for b in torch.utils.data.DataLoader(Stream(torch, 7).make(), **kw)]
    got = [_plain(b) for b in tt.utils.data.DataLoader(Stream(tt, 7).make(), **kw)]
    assert got == want
    assert len(tt.utils.data.DataLoader(Stream(tt, 7).make(), **kw)) == \
        len(torch.utils.data.DataLoader(Stream(torch, 7).make(), **kw))
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        tt.utils.data.DataLoader(Stream(tt, 3).make(), shuffle=True)


def test_random_split_subset_concat():
    S = tt.utils.data
    parts = S.random_split(range(10), [3, 7], generator=tt.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    assert [len(p) for p in S.random_split(range(10), [0.33, 0.33, 0.34])] == \
        [len(p) for p in torch.utils.data.random_split(range(10), [0.33, 0.33, 0.34])]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        S.random_split(range(10), [3, 3])
    sub = S.Subset(list("abcdef"), [5, 0, 2])
    assert [sub[i] for i in range(len(sub))] == ["f", "a", "c"]
    cat = S.TensorDataset(tt.arange(3)) + S.TensorDataset(tt.arange(10, 12))
    assert len(cat) == 5 and int(cat[3][0]) == 10 and int(cat[-1][0]) == 11


def test_num_workers_loads_in_process_with_the_same_batches():
    ds = tt.utils.data.TensorDataset(tt.arange(9))
    with pytest.warns(UserWarning, match="main process"):
        import torchtrek.utils.data.dataloader as dl_mod
        dl_mod._warned_workers = False
        batches = [b[0].tolist() for b in tt.utils.data.DataLoader(ds, batch_size=4,
                                                                   num_workers=2)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert tt.utils.data.get_worker_info() is None


def test_collate_errors_match_torch():
    for m in (torch, tt):
        with pytest.raises(RuntimeError, match="each element in list of batch should be of "
                                               "equal size"):
            m.utils.data.default_collate([[1, 2], [3]])
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            m.utils.data.default_collate([object(), object()])
