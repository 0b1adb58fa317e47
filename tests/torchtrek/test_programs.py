"""Whole programs in the style of the classic PyTorch examples, written here: each is trained a
few steps with torch and with TorchTrek from the same initial weights, eagerly, with
torch.compile(model) and with the whole training step compiled; the losses must be torch's
(rtol 1e-4, float32)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

MODES = ["eager", "compile_model", "compile_step"]


def _copy_weights(src, dst):
    dst.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


# ----------------------------------------------------------------- a GPT, weight tying, top-k


def gpt(m, vocab=17, block=8, n_embd=16, n_head=2, n_layer=2):
    nn, F = m.nn, m.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
            self.qkv = nn.Linear(n_embd, 3 * n_embd)
            self.proj = nn.Linear(n_embd, n_embd)
            self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * n_embd, n_embd))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.qkv(self.ln1(x)).split(n_embd, dim=2)
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, n_embd), wpe=nn.Embedding(block, n_embd),
                h=nn.ModuleList([Block() for _ in range(n_layer)]), ln_f=nn.LayerNorm(n_embd)))
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying

        def forward(self, idx, targets=None):
            t = idx.size(1)
            pos = m.arange(0, t, dtype=m.long)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for blk in self.transformer.h:
                x = blk(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            if targets is None:
                return logits, None
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                           ignore_index=-1)

        @m.no_grad()
        def generate(self, idx, n, top_k):
            for _ in range(n):
                logits, _ = self(idx[:, -block:])
                logits = logits[:, -1, :]
                v, _ = m.topk(logits, top_k)
                logits[logits < v[:, [-1]]] = -float("Inf")
                idx = m.cat((idx, m.argmax(F.softmax(logits, dim=-1), -1, keepdim=True)), dim=1)
            return idx
    return GPT()


@pytest.mark.parametrize("mode", MODES)
def test_gpt_with_weight_tying_and_top_k(mode):
    rng = np.random.RandomState(0)
    data = rng.randint(0, 17, (4, 3, 9))
    torch.manual_seed(0)
    th = gpt(torch)
    model = gpt(tt)
    _copy_weights(th, model)
    assert model.transformer.wte.weight is model.lm_head.weight
    assert len(list(model.parameters())) == len(list(th.parameters()))
    out = {}
    for m, net in ((torch, th), (tt, model)):
        decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
        other = [p for n, p in net.named_parameters() if p.dim() < 2]
        opt = m.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.95))
        fwd = tt.compile(net) if (m is tt and mode == "compile_model") else net

        def step(x, y):
            _, loss = fwd(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            m.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            return loss

        if m is tt and mode == "compile_step":
            step = tt.compile(step)
        losses = []
        for b in data:
            x, y = m.tensor(b[:, :-1]), m.tensor(b[:, 1:])
            losses.append(float(step(x, y).detach()))
        net.eval()
        gen = net.generate(m.tensor(data[0][:1, :3]), 5, top_k=3).tolist()
        out[m.__name__] = (losses, gen)
    np.testing.assert_allclose(out["torchtrek"][0], out["torch"][0], rtol=1e-4)
    assert out["torchtrek"][1] == out["torch"][1]


# ----------------------------------------------------------------- a conv net, StepLR, DataLoader


def convnet(m):
    nn, F = m.nn, m.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout = nn.Dropout(0.0)
            self.fc = nn.Linear(8 * 2 * 2, 5)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return F.log_softmax(self.fc(self.dropout(m.flatten(x, 1))), dim=1)
    return Net()


@pytest.mark.parametrize("mode", MODES)
def test_conv_net_with_step_lr_over_a_data_loader(mode):
    rng = np.random.RandomState(1)
    images = rng.randn(20, 1, 8, 8).astype(np.float32)
    labels = rng.randint(0, 5, 20)
    torch.manual_seed(1)
    th = convnet(torch)
    net = convnet(tt)
    _copy_weights(th, net)
    out = {}
    for m, model in ((torch, th), (tt, net)):
        ds = m.utils.data.TensorDataset(m.tensor(images), m.tensor(labels))
        loader = m.utils.data.DataLoader(ds, batch_size=6)  # a ragged last batch of 2
        opt = m.optim.Adadelta(model.parameters(), lr=1.0)
        sched = m.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        fwd = tt.compile(model) if (m is tt and mode == "compile_model") else model

        def step(x, y):
            opt.zero_grad()
            loss = m.nn.functional.nll_loss(fwd(x), y)
            loss.backward()
            opt.step()
            return loss

        if m is tt and mode == "compile_step":
            step = tt.compile(step)
        losses = []
        for _epoch in range(2):
            model.train()
            for x, y in loader:
                losses.append(float(step(x, y).detach()))
            sched.step()
        model.eval()
        with m.no_grad():
            test = sum(float(m.nn.functional.nll_loss(model(x), y, reduction="sum"))
                       for x, y in loader)
        out[m.__name__] = (losses, test, sched.get_last_lr())
        if m is tt and mode == "compile_step":
            assert step.trace_count <= 2  # full batches, then the ragged one
    np.testing.assert_allclose(out["torchtrek"][0], out["torch"][0], rtol=1e-4)
    assert out["torchtrek"][1] == pytest.approx(out["torch"][1], rel=1e-4)
    assert out["torchtrek"][2] == out["torch"][2]


# ----------------------------------------------------------------- an LBFGS fit
# (in float64, as pytorch/examples' time_sequence_prediction runs LBFGS: in float32 the line
# search's decisions amplify last-bit differences of the reductions' summation order)


@pytest.mark.parametrize("mode", MODES)
def test_lbfgs_fit(mode):
    rng = np.random.RandomState(2)
    t = np.linspace(0, 2 * math.pi, 30)[:, None]
    target = np.sin(t) + 0.05 * rng.randn(30, 1)
    torch.manual_seed(2)
    th = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    net = tt.nn.Sequential(tt.nn.Linear(1, 8), tt.nn.Tanh(), tt.nn.Linear(8, 1)).double()
    _copy_weights(th, net)
    out = {}
    for m, model in ((torch, th), (tt, net)):
        opt = m.optim.LBFGS(model.parameters(), lr=0.8, max_iter=10,
                            line_search_fn="strong_wolfe")
        fwd = tt.compile(model) if (m is tt and mode == "compile_model") else model
        X, Y = m.tensor(t), m.tensor(target)

        def closure():
            opt.zero_grad()
            loss = m.nn.functional.mse_loss(fwd(X), Y)
            loss.backward()
            return loss

        if m is tt and mode == "compile_step":
            closure = tt.compile(closure)  # (LBFGS's own step reads values: it stays eager)
        out[m.__name__] = [float(opt.step(closure).detach()) for _ in range(4)]
    np.testing.assert_allclose(out["torchtrek"], out["torch"], rtol=1e-7)


# ----------------------------------------------------------------- an MLP with a custom Function


def mlp(m):
    class ClampedReLU(m.autograd.Function):
        """relu with a gradient clipped to [-1, 1] (a custom backward, not relu's)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.clamp(-1, 1) * (x > 0).to(g.dtype)

    class MLP(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = m.nn.Linear(6, 16), m.nn.Linear(16, 3)

        def forward(self, x):
            return self.l2(ClampedReLU.apply(self.l1(x)))
    return MLP()


@pytest.mark.parametrize("mode", MODES)
def test_mlp_with_a_custom_autograd_function(mode):
    rng = np.random.RandomState(3)
    xs = rng.randn(5, 8, 6).astype(np.float32) * 3
    ys = rng.randint(0, 3, (5, 8))
    torch.manual_seed(3)
    th = mlp(torch)
    net = mlp(tt)
    _copy_weights(th, net)
    out = {}
    for m, model in ((torch, th), (tt, net)):
        opt = m.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, nesterov=True)
        fwd = tt.compile(model) if (m is tt and mode == "compile_model") else model

        def step(x, y):
            loss = m.nn.functional.cross_entropy(fwd(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        if m is tt and mode == "compile_step":
            step = tt.compile(step)
        out[m.__name__] = [float(step(m.tensor(x), m.tensor(y)).detach())
                           for x, y in zip(xs, ys)]
    np.testing.assert_allclose(out["torchtrek"], out["torch"], rtol=1e-4)


# ----------------------------------------------------------------- char-level LSTM / GRU models


def char_lm(m, kind, vocab=11, emb=8, hidden=12):
    class CharLM(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = m.nn.Embedding(vocab, emb)
            self.rnn = getattr(m.nn, kind)(emb, hidden, num_layers=2, batch_first=True)
            self.head = m.nn.Linear(hidden, vocab)

        def forward(self, x, h=None):
            out, h = self.rnn(self.embed(x), h)
            return self.head(out), h
    return CharLM()


def _detach(h):
    return tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("mode", MODES)
def test_char_level_language_model(kind, mode):
    rng = np.random.RandomState(4)
    text = rng.randint(0, 11, 4 * 3 * 7 + 1)
    torch.manual_seed(4)
    th = char_lm(torch, kind)
    net = char_lm(tt, kind)
    _copy_weights(th, net)
    out = {}
    for m, model in ((torch, th), (tt, net)):
        opt = m.optim.Adam(model.parameters(), lr=0.01)
        fwd = tt.compile(model) if (m is tt and mode == "compile_model") else model

        def step(x, y, h):  # truncated BPTT: the state carries over, detached
            logits, h = fwd(x, h)
            loss = m.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            m.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            return loss, _detach(h)

        if m is tt and mode == "compile_step":
            step = tt.compile(step)
        h = None
        losses = []
        data = text[:-1].reshape(3, 4 * 7)
        target = text[1:].reshape(3, 4 * 7)
        for i in range(4):
            x = m.tensor(data[:, i * 7:(i + 1) * 7])
            y = m.tensor(target[:, i * 7:(i + 1) * 7])
            if m is tt and mode == "compile_step" and h is None:
                z = tt.zeros(2, 3, 12)
                h = (z, z.clone()) if kind == "LSTM" else z  # one signature for every call
            loss, h = step(x, y, h)
            losses.append(float(loss.detach()))
        out[m.__name__] = losses
    np.testing.assert_allclose(out["torchtrek"], out["torch"], rtol=1e-4)


# ----------------------------------------------------------------- a small seq2seq nn.Transformer


def seq2seq(m, vocab=9, d=8):
    class Seq2Seq(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb = m.nn.Embedding(vocab, d)
            self.tgt_emb = m.nn.Embedding(vocab, d)
            self.transformer = m.nn.Transformer(d, 2, 1, 1, 16, dropout=0.0, batch_first=True)
            self.out = m.nn.Linear(d, vocab)

        def forward(self, src, tgt):
            mask = m.nn.Transformer.generate_square_subsequent_mask(tgt.size(1))
            h = self.transformer(self.src_emb(src), self.tgt_emb(tgt), tgt_mask=mask,
                                 tgt_is_causal=True)
            return self.out(h)
    return Seq2Seq()


@pytest.mark.parametrize("mode", MODES)
def test_seq2seq_transformer(mode):
    rng = np.random.RandomState(5)
    src = rng.randint(1, 9, (4, 2, 6))
    tgt = np.flip(src, -1).copy()  # learn to reverse
    torch.manual_seed(5)
    th = seq2seq(torch)
    net = seq2seq(tt)
    _copy_weights(th, net)
    out = {}
    for m, model in ((torch, th), (tt, net)):
        opt = m.optim.AdamW(model.parameters(), lr=0.01)
        sched = m.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 2))
        fwd = tt.compile(model) if (m is tt and mode == "compile_model") else model

        def step(s, t_in, t_out):
            logits = fwd(s, t_in)
            loss = m.nn.functional.cross_entropy(logits.reshape(-1, 9), t_out.reshape(-1),
                                                 label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        if m is tt and mode == "compile_step":
            step = tt.compile(step)
        losses = []
        for b in range(4):
            s, t = m.tensor(src[b]), m.tensor(tgt[b])
            losses.append(float(step(s, t[:, :-1], t[:, 1:]).detach()))
            sched.step()
        out[m.__name__] = losses
    np.testing.assert_allclose(out["torchtrek"], out["torch"], rtol=1e-4)
