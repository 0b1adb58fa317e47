"""A GPT training step written once against a torch-like module (`torch` or `torchtrek`):
token and position embeddings, causal self-attention written with matmul / masked_fill /
softmax (minGPT's way) or as F.scaled_dot_product_attention (nanoGPT's flash path,
`Config(attention="sdpa")`), tanh-GELU MLP, pre-norm residual blocks, cross-entropy, AdamW. The shape of
nanoGPT's model, in our own words; the compile-time and speed benchmarks time it.

    step, x, y = make_step(torchtrek, n_layer=4)      # or make_step(torch, ...)
    loss = step(x, y)

`make_step(lib, ..., init=other_model)` copies another model's weights (or a dict of NumPy
arrays by parameter name), so that torch and TorchTrek start from the same point and their
losses can be compared step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Config:
    n_layer: int = 2
    n_embd: int = 128
    n_head: int = 4
    block_size: int = 64
    vocab_size: int = 65
    batch: int = 8
    attention: str = "manual"  # or "sdpa"


def build(lib: Any, cfg: Config) -> Any:
    """The model, its modules from `lib.nn`."""
    nn, F = lib.nn, lib.nn.functional
    C, H, T = cfg.n_embd, cfg.n_head, cfg.block_size

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(C, 3 * C)
            self.c_proj = nn.Linear(C, C)
            if cfg.attention == "manual":
                self.register_buffer("bias", lib.tril(lib.ones(T, T)).view(1, 1, T, T))

        def forward(self, x: Any) -> Any:
            B, T_, _ = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T_, H, C // H).transpose(1, 2)
            k = k.view(B, T_, H, C // H).transpose(1, 2)
            v = v.view(B, T_, H, C // H).transpose(1, 2)
            if cfg.attention == "sdpa":
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T_, :T_] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T_, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(C, 4 * C)
            self.c_proj = nn.Linear(4 * C, C)

        def forward(self, x: Any) -> Any:
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(C)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(C)
            self.mlp = MLP()

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(cfg.vocab_size, C)
            self.wpe = nn.Embedding(T, C)
            self.h = nn.ModuleList([Block() for _ in range(cfg.n_layer)])
            self.ln_f = nn.LayerNorm(C)
            self.lm_head = nn.Linear(C, cfg.vocab_size, bias=False)

        def forward(self, idx: Any, targets: Any) -> Any:
            _, t = idx.size()
            x = self.wte(idx) + self.wpe(lib.arange(0, t, dtype=lib.long))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT()


def _numpy(t: Any) -> np.ndarray:
    return np.array(t.detach().cpu().numpy())


def make_step(lib: Any, cfg: Config = Config(), init: Any = None, lr: float = 1e-3
              ) -> tuple[Callable[[Any, Any], Any], Any, Any, Any]:
    """(step, x, y, model): one AdamW training step on a fixed batch."""
    lib.manual_seed(0)
    model = build(lib, cfg)
    if init is not None:  # another model's weights (or a dict of arrays), by name
        theirs = dict(init) if isinstance(init, dict) else {
            k: _numpy(v) for k, v in init.named_parameters()}
        with lib.no_grad():
            for name, p in model.named_parameters():
                p.copy_(lib.tensor(theirs[name]))
    opt = lib.optim.AdamW(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    shape = (cfg.batch, cfg.block_size)
    x = lib.tensor(rng.integers(0, cfg.vocab_size, shape), dtype=lib.long)
    y = lib.tensor(rng.integers(0, cfg.vocab_size, shape), dtype=lib.long)

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    return step, x, y, model
