#!/usr/bin/python3
"""PyTorch side of bench/train.sh: the same llama model, batch and work as
build/bench_train (forward + backward + global-norm clipping + AdamW on random
tokens, every token with a loss), in float32 on the CPU. Prints one JSON line.

    /usr/bin/python3 bench/train_torch.py --dim 256 --layers 6 --heads 8 --kv-heads 4 --ff 768 \
        --ctx 512 --vocab 8000 --batch 16 --steps 5 --threads 2

Written plainly, as a user would write the model in PyTorch 1.13 (Debian's
python3-torch): RMSNorm, rotary embedding on adjacent pairs, grouped-query
attention by repeat_interleave + masked softmax (1.13 has no fused attention),
SwiGLU; torch.optim.AdamW (foreach implementation).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(ctx, hd, base=10000.0):
    i = torch.arange(hd // 2, dtype=torch.float32)
    theta = torch.arange(ctx, dtype=torch.float32)[:, None] * base ** (-2.0 * i / hd)
    return torch.cos(theta), torch.sin(theta)


def rope(x, cos, sin):  # x [B, h, T, hd]: rotate adjacent pairs
    a0, a1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([a0 * cos - a1 * sin, a0 * sin + a1 * cos], dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        d, hd = a.dim, a.dim // a.heads
        self.h, self.g, self.hd = a.heads, a.kv_heads, hd
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, a.kv_heads * hd, bias=False)
        self.v = nn.Linear(d, a.kv_heads * hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, a.ff, bias=False)
        self.up = nn.Linear(d, a.ff, bias=False)
        self.down = nn.Linear(a.ff, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(h).view(B, T, self.g, self.hd).transpose(1, 2)
        v = self.v(h).view(B, T, self.g, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(self.h // self.g, dim=1)
        v = v.repeat_interleave(self.h // self.g, dim=1)
        s = (q @ k.transpose(-1, -2)) / self.hd ** 0.5
        s = s.masked_fill(mask, float("-inf"))
        att = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(att)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.emb = nn.Embedding(a.vocab, a.dim)
        self.blocks = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim)
        self.out = nn.Linear(a.dim, a.vocab, bias=False)
        cos, sin = rope_tables(a.ctx, a.dim // a.heads)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        self.register_buffer("mask", torch.triu(torch.ones(a.ctx, a.ctx, dtype=torch.bool), 1))
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tok):
        x = self.emb(tok)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return self.out(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(dim=256, layers=6, heads=8, kv_heads=4, ff=768, ctx=512, vocab=8000, batch=16, steps=5,
                     threads=2).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Llama(a)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(7)
    data = torch.randint(0, a.vocab, (a.batch, a.ctx + 1), generator=g)
    x, y = data[:, :-1], data[:, 1:]
    total, loss = 0.0, 0.0
    for st in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        l = F.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        l.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if st > 0:
            total += dt
        loss = l.item()
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"engine": "pytorch " + torch.__version__, "params": n_params, "tokens_per_step": a.batch * a.ctx,
                      "steps": a.steps, "threads": a.threads, "tok_s": round(a.batch * a.ctx * a.steps / total, 1),
                      "loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
