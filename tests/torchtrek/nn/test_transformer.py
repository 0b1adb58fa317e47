"""MultiheadAttention and the Transformer family against torch 2.13 from the same weights:
outputs, attention weights and every gradient, eager and compiled; torch's names and init."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

rng = np.random.RandomState(0)
X = rng.randn(5, 3, 8).astype(np.float32)
KPM = np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])


def _compare(make, inputs, call, compiled=False, train=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        th, m = make(torch), make(tt)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert list(m.state_dict()) == list(th.state_dict())
    m.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in th.state_dict().items()})
    th.train(train)
    m.train(train)
    res = []
    for lib, mod in ((torch, th), (tt, m)):
        xs = [lib.tensor(a, requires_grad=True) for a in inputs]

        def fn(*xs):
            out = call(lib, mod, *xs)
            outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]
            w = [lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)).astype(np.float32))
                 for o in outs]
            return sum((o * wi).sum() for o, wi in zip(outs, w)), outs

        if compiled and lib is tt:
            fn = tt.compile(fn)
        loss, outs = fn(*xs)
        loss.backward()
        res.append([o.detach().numpy() for o in outs] + [x.grad.numpy() for x in xs] +
                   [p.grad.numpy() for p in mod.parameters() if p.grad is not None])
    assert len(res[0]) == len(res[1])
    for g, w in zip(res[1], res[0]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-6)


def _mask(lib, n):
    return lib.nn.Transformer.generate_square_subsequent_mask(n)


CASES = [
    ("mha_self", lambda m: m.nn.MultiheadAttention(8, 2), [X], lambda l, mod, a: mod(a, a, a)),
    ("mha_no_weights", lambda m: m.nn.MultiheadAttention(8, 2), [X],
     lambda l, mod, a: mod(a, a, a, need_weights=False)),
    ("mha_masks", lambda m: m.nn.MultiheadAttention(8, 2), [X],
     lambda l, mod, a: mod(a, a, a, key_padding_mask=l.tensor(KPM), attn_mask=_mask(l, 5))),
    ("mha_kdim_vdim_bias_kv_zero_attn_bf", lambda m: m.nn.MultiheadAttention(
        8, 4, kdim=6, vdim=3, batch_first=True, add_bias_kv=True, add_zero_attn=True),
     [X, rng.randn(5, 7, 6).astype(np.float32), rng.randn(5, 7, 3).astype(np.float32)],
     lambda l, mod, a, k, v: mod(a, k, v, average_attn_weights=False)),
    ("encoder", lambda m: m.nn.TransformerEncoder(
        m.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2), [X],
     lambda l, mod, a: mod(a, mask=_mask(l, 5))),
    ("encoder_norm_first_gelu_bf", lambda m: m.nn.TransformerEncoder(
        m.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True,
                                     batch_first=True), 2, norm=m.nn.LayerNorm(8)),
     [X.transpose(1, 0, 2).copy()], lambda l, mod, a: mod(a, src_key_padding_mask=l.tensor(KPM))),
    ("transformer", lambda m: m.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0),
     [X, rng.randn(4, 3, 8).astype(np.float32)],
     lambda l, mod, s, t: mod(s, t, tgt_mask=_mask(l, 4), tgt_is_causal=True)),
    ("decoder_layer_norm_first", lambda m: m.nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.0, norm_first=True), [rng.randn(4, 3, 8).astype(np.float32), X],
     lambda l, mod, t, mem: mod(t, mem, memory_key_padding_mask=l.tensor(KPM))),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("make,inputs,call", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_matches_torch(make, inputs, call, compiled):
    _compare(make, inputs, call, compiled)


def test_init_and_errors():
    m = tt.nn.MultiheadAttention(8, 2)
    assert float(m.in_proj_bias.abs().sum()) == 0 and float(m.out_proj.bias.abs().sum()) == 0
    bound = (6 / (8 + 24)) ** 0.5
    assert float(m.in_proj_weight.abs().max()) <= bound
    assert isinstance(m.out_proj, tt.nn.modules.linear.NonDynamicallyQuantizableLinear)
    with pytest.raises(AssertionError, match="divisible"):
        tt.nn.MultiheadAttention(8, 3)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(tt.zeros(2, 1, 8), tt.zeros(2, 1, 8), tt.zeros(2, 1, 8), is_causal=True)
    mask = tt.nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.tolist() == torch.nn.Transformer.generate_square_subsequent_mask(3).tolist()
    assert tt.nn.modules.activation.MultiheadAttention is tt.nn.MultiheadAttention
