#!/usr/bin/python3
"""Reference loss and gradients for urial's trainer, computed by PyTorch.

usage: /usr/bin/python3 tests/ref/train/ref_grads.py MODEL.gguf OUT.txt   (OUT - = stdout)
(tests/ref/train/gen.sh writes MODEL.gguf with `urial synth` and runs this; the
output is committed and tests/unit/test_train_model.c compares against it
without Python.)

The model is rebuilt from the GGUF's F32 tensors as the llama architecture, in
float64: token embedding, per layer RMSNorm -> q/k/v -> rope (adjacent pairs,
theta_i = pos * base^(-2i/n_rot) / rope_freqs[i]) -> causal grouped-query
attention within each packed segment -> output projection, residual, RMSNorm ->
SwiGLU feed-forward, residual; final RMSNorm and the output matrix. The loss is
the mean cross-entropy over the tokens that have a target (-1 = no loss).

Output (text): the batch, the loss, then per tensor (GGUF name) a compact
fingerprint of its gradient that pins every element down:
    G name n sum sumsq maxabs proj1 proj2 e0 ... e7
proj_k = sum_i g[i] * s_k(i) with s_k(i) in [-1, 1) from splitmix64 (as in the C
test), e_j = g[(j * 7919 + 13) % n].
"""
import struct
import sys

import numpy as np
import torch

MASK = (1 << 64) - 1


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def signs(k, n):
    """s_k(i) = (splitmix(k * 2^32 + i) >> 40) / 2^23 - 1 for i < n (vectorised)."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(k << 32) + i + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 8388608.0 - 1.0


# ---- a minimal GGUF reader (F32 tensors and scalar/string metadata) ----------------
def read_gguf(path):
    data = open(path, "rb").read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal off
        n = take("Q")
        s = data[off:off + n].decode("utf-8", "replace")
        off += n
        return s

    scal = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t in scal:
            return take(scal[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        raise ValueError("bad type %d" % t)

    assert data[:4] == b"GGUF"
    off = 4
    _version, n_t, n_kv = take("I"), take("Q"), take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        typ, o = take("I"), take("Q")
        infos.append((name, ne, typ, o))
    align = kv.get("general.alignment", 32)
    start = (off + align - 1) // align * align
    tensors = {}
    for name, ne, typ, o in infos:
        assert typ == 0, "only F32 models: %s has type %d" % (name, typ)
        n = int(np.prod(ne))
        a = np.frombuffer(data, dtype="<f4", count=n, offset=start + o)
        tensors[name] = torch.tensor(a.reshape(list(reversed(ne))), dtype=torch.float64, requires_grad=True)
    return kv, tensors


def batch():
    """Three packed segments (10, 8, 6 tokens); targets are the next token in the
    segment except the last, and a few more are masked as an SFT prompt would be."""
    lens = [10, 8, 6]
    x = 12345
    toks, pos, seg = [], [], []
    for L in lens:
        s0 = len(toks)
        for p in range(L):
            x = (x * 1103515245 + 12345) % 2147483648
            toks.append(3 + (x >> 8) % 377)
            pos.append(p)
            seg.append(s0)
    tg = []
    for t in range(len(toks)):
        last = t + 1 == len(toks) or seg[t + 1] != seg[t]
        tg.append(-1 if last or t in (0, 1, 11) else toks[t + 1])
    return toks, tg, pos, seg


def main():
    kv, W = read_gguf(sys.argv[1])
    a = "llama"
    dim, L = kv[a + ".embedding_length"], kv[a + ".block_count"]
    H, G = kv[a + ".attention.head_count"], kv[a + ".attention.head_count_kv"]
    hd, eps = dim // H, kv[a + ".attention.layer_norm_rms_epsilon"]
    base = kv.get(a + ".rope.freq_base", 10000.0)
    n_rot = kv.get(a + ".rope.dimension_count", hd)
    toks, tg, pos, seg = batch()
    N = len(toks)
    freqs = W["rope_freqs.weight"].detach() if "rope_freqs.weight" in W else torch.ones(n_rot // 2, dtype=torch.float64)
    i = torch.arange(n_rot // 2, dtype=torch.float64)
    theta = torch.tensor(pos, dtype=torch.float64)[:, None] * base ** (-2.0 * i / n_rot) / freqs[None, :]
    cos, sin = torch.cos(theta), torch.sin(theta)  # [N][n_rot/2]

    def rms(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def rope(x, nh):  # x [N][nh*hd]: rotate adjacent pairs of the first n_rot dims
        x = x.view(N, nh, hd)
        r, rest = x[..., :n_rot], x[..., n_rot:]
        a0, a1 = r[..., 0::2], r[..., 1::2]
        c, s = cos[:, None, :], sin[:, None, :]
        rot = torch.stack([a0 * c - a1 * s, a0 * s + a1 * c], dim=-1).flatten(-2)
        return torch.cat([rot, rest], dim=-1).reshape(N, nh * hd)

    segt = torch.tensor(seg)
    idx = torch.arange(N)
    allowed = (segt[:, None] == segt[None, :]) & (idx[None, :] <= idx[:, None])  # [query][key]

    x = W["token_embd.weight"][torch.tensor(toks)]
    for l in range(L):
        p = "blk.%d." % l
        xn = rms(x, W[p + "attn_norm.weight"])
        q = rope(xn @ W[p + "attn_q.weight"].T, H).view(N, H, hd).transpose(0, 1)
        k = rope(xn @ W[p + "attn_k.weight"].T, G).view(N, G, hd).transpose(0, 1)
        v = (xn @ W[p + "attn_v.weight"].T).view(N, G, hd).transpose(0, 1)
        k = k.repeat_interleave(H // G, dim=0)
        v = v.repeat_interleave(H // G, dim=0)
        s = q @ k.transpose(1, 2) / hd ** 0.5
        s = s.masked_fill(~allowed[None], float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(N, dim)
        x = x + o @ W[p + "attn_output.weight"].T
        xn = rms(x, W[p + "ffn_norm.weight"])
        h = torch.nn.functional.silu(xn @ W[p + "ffn_gate.weight"].T) * (xn @ W[p + "ffn_up.weight"].T)
        x = x + h @ W[p + "ffn_down.weight"].T
    out = W["output.weight"] if "output.weight" in W else W["token_embd.weight"]
    logits = rms(x, W["output_norm.weight"]) @ out.T
    tgt = torch.tensor(tg)
    loss = torch.nn.functional.cross_entropy(logits[tgt >= 0], tgt[tgt >= 0])
    loss.backward()

    with (sys.stdout if sys.argv[2] == "-" else open(sys.argv[2], "w")) as f:
        f.write("# reference gradients: tests/ref/train/ref_grads.py (PyTorch %s, float64)\n" % torch.__version__)
        f.write("tokens " + ",".join(map(str, toks)) + "\n")
        f.write("targets " + ",".join(map(str, tg)) + "\n")
        f.write("pos " + ",".join(map(str, pos)) + "\n")
        f.write("seg " + ",".join(map(str, seg)) + "\n")
        f.write("loss %.12e\n" % loss.item())
        for name, t in W.items():
            if name == "rope_freqs.weight":
                continue
            g = t.grad.detach().flatten().numpy()
            n = g.size
            row = [n, g.sum(), (g * g).sum(), np.abs(g).max(), (g * signs(1, n)).sum(), (g * signs(2, n)).sum()]
            row += [g[(j * 7919 + 13) % n] for j in range(8)]
            f.write("G %s %d " % (name, n) + " ".join("%.12e" % v for v in row[1:]) + "\n")


if __name__ == "__main__":
    main()
