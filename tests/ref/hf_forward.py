#!/usr/bin/python3
"""A reference forward pass in Hugging Face's conventions, written with plain PyTorch ops.

usage: /usr/bin/python3 tests/ref/hf_forward.py HF_DIR > NAME.txt   (Debian's python3-torch)

Reads HF_DIR/config.json, the safetensors (single file or shards with the index) and
HF_DIR/tokens.txt, runs the teacher-forced forward in float64 and prints the top-10 logits
at every position:  POS ID:LOGIT ... , after "# nll X", the summed negative log-likelihood
of each next token of the sequence (natural log). The conventions are the ones transformers' modeling
files use, written out here: RMSNorm (Gemma's with 1 + w), rotate_half RoPE on the
unpermuted q/k rows (Llama-3's frequency scaling), grouped-query attention with a causal
mask, Qwen2's q/k/v biases, Qwen3's and Gemma-3's per-head q/k norms, OLMo-2's q/k norms
over the whole projection and its norms after attention and MLP, Phi-3's fused qkv and
gate_up and LongRoPE, Gemma's sqrt(hidden) embedding scale, GELU-tanh gates, query_pre_attn_scalar and
soft-capping, and Gemma-3's local/global rope bases. The test sequence (48 tokens) is
shorter than every sliding window, so windows play no part.
"""
import json
import math
import os
import struct
import sys

import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path, out):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    for name, v in header.items():
        if name == "__metadata__":
            continue
        b, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b : base + e]), dtype=DT[v["dtype"]])
        out[name] = t.reshape(v["shape"]).to(torch.float64)


def load(d):
    w = {}
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        for f in sorted(set(json.load(open(idx))["weight_map"].values())):
            read_safetensors(os.path.join(d, f), w)
    else:
        read_safetensors(os.path.join(d, "model.safetensors"), w)
    return w


def rms(x, w, eps, gemma=False):
    y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    return y * ((1.0 + w) if gemma else w)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def inv_freq(cfg, hd, base):
    f = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        out = torch.where(wavelen > orig / lo, f / factor, f)
        smooth = (orig / wavelen - lo) / (hi - lo)
        mid = (1 - smooth) * out / factor + smooth * out
        medium = (wavelen >= orig / hi) & (wavelen <= orig / lo)
        f = torch.where(medium, mid, out)
    return f


def rope(x, pos, f, mscale=1.0):
    ang = pos[:, None] * f[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    return x * (emb.cos() * mscale)[:, None, :] + rotate_half(x) * (emb.sin() * mscale)[:, None, :]


def longrope(cfg, hd, base, T):
    """Phi-3's LongRoPE: per-pair divisors (long factors beyond the original context, as
    transformers picks them by sequence length) and the attention factor on cos and sin."""
    rs = cfg["rope_scaling"]
    orig = cfg["original_max_position_embeddings"]
    ext = torch.tensor(rs["long_factor"] if T > orig else rs["short_factor"], dtype=torch.float64)
    f = 1.0 / (ext * base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    scale = cfg["max_position_embeddings"] / orig
    return f, math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0


def forward(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = load(d)
    arch = cfg["architectures"][0]
    gemma = arch.startswith("Gemma")
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim", D // H)
    eps = cfg["rms_norm_eps"]
    toks = [int(t) for t in open(os.path.join(d, "tokens.txt")).read().strip().split(",")]
    T = len(toks)
    pos = torch.arange(T, dtype=torch.float64)
    x = w["model.embed_tokens.weight"][toks]
    if gemma:
        x = x * math.sqrt(D)
    scale = cfg.get("query_pre_attn_scalar", hd) ** -0.5
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        g = lambda n: w[p + n]
        base = cfg.get("rope_theta", 10000.0)
        if arch == "Gemma3ForCausalLM" and (l + 1) % cfg.get("sliding_window_pattern", 6):
            base = cfg.get("rope_local_base_freq", 10000.0)
        f, mscale = inv_freq(cfg, hd, base), 1.0
        if (cfg.get("rope_scaling") or {}).get("type") in ("longrope", "su"):
            f, mscale = longrope(cfg, hd, base, T)
        a_in = x if arch == "Olmo2ForCausalLM" else rms(x, g("input_layernorm.weight"), eps, gemma)
        if arch == "Phi3ForCausalLM":
            qkv = a_in @ g("self_attn.qkv_proj.weight").T
            q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
        else:
            q = a_in @ g("self_attn.q_proj.weight").T
            k = a_in @ g("self_attn.k_proj.weight").T
            v = a_in @ g("self_attn.v_proj.weight").T
        if arch == "Qwen2ForCausalLM":
            q, k, v = q + g("self_attn.q_proj.bias"), k + g("self_attn.k_proj.bias"), v + g("self_attn.v_proj.bias")
        if arch == "Olmo2ForCausalLM":
            q, k = rms(q, g("self_attn.q_norm.weight"), eps), rms(k, g("self_attn.k_norm.weight"), eps)
        q, k, v = q.view(T, H, hd), k.view(T, KV, hd), v.view(T, KV, hd)
        if arch in ("Qwen3ForCausalLM", "Gemma3ForCausalLM"):
            q = rms(q, g("self_attn.q_norm.weight"), eps, gemma)
            k = rms(k, g("self_attn.k_norm.weight"), eps, gemma)
        q, k = rope(q, pos, f, mscale), rope(k, pos, f, mscale)
        rep = H // KV
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) * scale
        cap = cfg.get("attn_logit_softcapping") if arch == "Gemma2ForCausalLM" else None
        if cap:
            s = torch.tanh(s / cap) * cap
        s = torch.softmax(s + mask, dim=-1)
        o = torch.einsum("hts,shd->thd", s, v).reshape(T, H * hd) @ g("self_attn.o_proj.weight").T
        if gemma or arch == "Olmo2ForCausalLM":
            o = rms(o, g("post_attention_layernorm.weight"), eps, gemma)
        h = x + o
        if gemma:
            m_in = rms(h, g("pre_feedforward_layernorm.weight"), eps, True)
        elif arch == "Olmo2ForCausalLM":
            m_in = h
        else:
            m_in = rms(h, g("post_attention_layernorm.weight"), eps)
        if arch == "Phi3ForCausalLM":
            gate, up = (m_in @ g("mlp.gate_up_proj.weight").T).chunk(2, dim=-1)
        else:
            gate, up = m_in @ g("mlp.gate_proj.weight").T, m_in @ g("mlp.up_proj.weight").T
        act = torch.nn.functional.gelu(gate, approximate="tanh") if gemma else torch.nn.functional.silu(gate)
        m = (act * up) @ g("mlp.down_proj.weight").T
        if gemma or arch == "Olmo2ForCausalLM":
            m = rms(m, g("post_feedforward_layernorm.weight"), eps, gemma)
        x = h + m
    x = rms(x, w["model.norm.weight"], eps, gemma)
    out = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = x @ out.T
    cap = cfg.get("final_logit_softcapping")
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return toks, logits


def main():
    d = sys.argv[1]
    toks, logits = forward(d)
    print(f"# hf {os.path.basename(d.rstrip('/'))} (PyTorch {torch.__version__}, float64)")
    print("# tokens " + ",".join(str(t) for t in toks))
    lp = torch.log_softmax(logits[:-1], dim=-1)
    nll = -lp.gather(1, torch.tensor(toks[1:])[:, None]).sum()
    print(f"# nll {float(nll)!r}")
    for p in range(logits.shape[0]):
        v, i = torch.topk(logits[p], 10)
        print(str(p) + " " + " ".join(f"{int(a)}:{float(b)!r}" for a, b in zip(i, v)))


if __name__ == "__main__":
    main()
