"""nn.RNN / LSTM / GRU, their cells and packed sequences against torch 2.13 from the same
weights: outputs, final states and the gradient of every parameter and input, eagerly and
compiled (the time loop traced)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")


def _pair(make):
    th = make(torch)
    m = make(tt)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in th.parameters()]
    m.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in th.state_dict().items()})
    return th, m


def _run(lib, mod, x, hx, packed, compiled):
    xi = lib.tensor(x, requires_grad=True)
    hs = None if hx is None else [lib.tensor(h, requires_grad=True) for h in hx]

    def fwd(xi, *hs):
        inp = xi
        if packed is not None:
            inp = lib.nn.utils.rnn.pack_padded_sequence(xi, packed, batch_first=mod.batch_first,
                                                        enforce_sorted=False)
        state = None if not hs else (tuple(hs) if len(hs) == 2 else hs[0])
        out, hn = mod(inp) if state is None else mod(inp, state)
        if packed is not None:
            out, _ = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=mod.batch_first)
        hn = hn if isinstance(hn, tuple) else (hn,)
        w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32))
        return (out * w).sum() + sum((t * 0.5).sum() for t in hn), out

    if compiled:
        fwd = tt.compile(fwd)
    loss, out = fwd(xi, *(hs or []))
    loss.backward()
    return ([float(loss), out.detach().numpy()] + [xi.grad.numpy()] +
            [h.grad.numpy() for h in hs or []] + [p.grad.numpy() for p in mod.parameters()])


CONFIGS = [
    ("RNN", dict(num_layers=2), (6, 3, 5), None, None),
    ("RNN_relu", dict(nonlinearity="relu", bias=False), (4, 2, 5), None, None),
    ("LSTM", dict(num_layers=2), (6, 3, 5), None, None),
    ("LSTM_bi_bf", dict(batch_first=True, bidirectional=True), (3, 6, 5), None, None),
    ("LSTM_proj_h0", dict(num_layers=2, proj_size=3), (4, 2, 5), ((2, 2, 3), (2, 2, 7)), None),
    ("LSTM_packed", dict(num_layers=2, bidirectional=True), (6, 3, 5), None, [4, 6, 2]),
    ("GRU", dict(num_layers=2), (6, 3, 5), None, None),
    ("GRU_bi_h0", dict(bidirectional=True), (5, 2, 5), ((2, 2, 7),), None),
    ("GRU_packed_bf", dict(batch_first=True), (3, 6, 5), None, [6, 3, 5]),
    ("LSTM_unbatched", dict(), (4, 5), None, None),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,kw,shape,hx,packed", [pytest.param(*c, id=c[0]) for c in CONFIGS])
def test_recurrent_layers_match_torch(name, kw, shape, hx, packed, compiled):
    cls = name.split("_")[0]
    torch.manual_seed(0)
    th, m = _pair(lambda lib: getattr(lib.nn, cls)(5, 7, **kw))
    rng = np.random.RandomState(1)
    x = rng.randn(*shape).astype(np.float32)
    if hx is not None:
        if "proj" in name:
            hx = [rng.randn(*hx[0]).astype(np.float32), rng.randn(*hx[1]).astype(np.float32)]
        else:
            hx = [rng.randn(*hx[0]).astype(np.float32)]
    want = _run(torch, th, x, hx, packed, False)
    got = _run(tt, m, x, hx, packed, compiled)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cls):
    torch.manual_seed(0)
    th, m = _pair(lambda lib: getattr(lib.nn, cls)(4, 6))
    x = np.random.RandomState(2).randn(5, 3, 4).astype(np.float32)
    res = []
    for lib, mod in ((torch, th), (tt, m)):
        h = None
        total = 0
        for t in range(5):
            h = mod(lib.tensor(x[t]), h)
            total = total + (h[0] if isinstance(h, tuple) else h).sum()
        total.backward()
        res.append([float(total)] + [p.grad.numpy() for p in mod.parameters()])
    for g, w in zip(res[1], res[0]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert repr(m) == repr(th)


def test_packing_round_trip_and_errors():
    seqs = [tt.arange(1.0, 4.0), tt.arange(4.0, 6.0), tt.tensor([6.0])]
    packed = tt.nn.utils.rnn.pack_sequence(seqs)
    want = torch.nn.utils.rnn.pack_sequence([torch.arange(1.0, 4.0), torch.arange(4.0, 6.0),
                                             torch.tensor([6.0])])
    assert packed.data.tolist() == want.data.tolist()
    assert packed.batch_sizes.tolist() == want.batch_sizes.tolist()
    assert [s.tolist() for s in tt.nn.utils.rnn.unpack_sequence(packed)] == \
        [[1, 2, 3], [4, 5], [6]]
    padded, lengths = tt.nn.utils.rnn.pad_packed_sequence(packed, batch_first=True,
                                                         total_length=4)
    assert tuple(padded.shape) == (3, 4) and lengths.tolist() == [3, 2, 1]
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        tt.nn.utils.rnn.pack_padded_sequence(tt.zeros(3, 2), [1, 3])
    with pytest.raises(ValueError, match="proj_size"):
        tt.nn.GRU(3, 4, proj_size=2)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        tt.nn.LSTM(3, 4)(tt.zeros(2, 1, 5))
    assert repr(tt.nn.LSTM(3, 4, 2, batch_first=True, dropout=0.5)) == \
        repr(torch.nn.LSTM(3, 4, 2, batch_first=True, dropout=0.5))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_compiled_cells_run_their_gates_as_one_kernel_each_way(kind):
    # the recurrence node's steps call lstm_cell / gru_cell and their backwards
    # (ir/ops/rnn.py): on the C backend one kernel per step and direction, no per-gate
    # kernels or concatenations
    import re

    tt.manual_seed(0)
    lstm = getattr(tt.nn, kind)(8, 16, 1)
    x = tt.randn(5, 3, 8)
    op = kind.lower() + "_cell"

    def step(a):
        out, _ = lstm(a)
        out.sum().backward()
        return out

    f = tt.compile(step, backend="c")
    f(x)
    src = f.source(x)
    body = src.split("/* ---- kernels.c")[0]
    assert len(re.findall(rf"= _k\d+_{op}\(", body)) == 5
    assert len(re.findall(rf"= _k\d+_{op}_backward\(", body)) == 5
    assert len(re.findall(rf"^void k\d+_{op}(_backward)?\(", src, flags=re.M)) == 2  # shared
    assert "np.concatenate((mul" not in body and "np.concatenate((grad" not in body
