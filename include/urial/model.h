/* urial — models: architecture facts from GGUF metadata, weight views into the
 * mapping, and the forward pass over a batch of tokens with a KV cache.
 *
 * Supported general.architecture values (docs/engine.md "Architectures"): llama
 * (Llama-2/3.x, Mistral, TinyLlama), qwen2 (Qwen2/2.5), qwen3, gemma2, gemma3,
 * olmo2 and phi3. They differ in a few named variations of one transformer layer
 * (src/model/arch.c holds one table row per architecture); ur_hparams carries
 * those variations and the forward pass reads nothing else about the name. */
#ifndef URIAL_MODEL_H
#define URIAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/gguf.h"
#include "urial/pool.h"
#include "urial/tokenizer.h"

enum ur_arch {
    UR_ARCH_LLAMA = 0,
    UR_ARCH_QWEN2 = 1,
    UR_ARCH_QWEN3 = 2,
    UR_ARCH_GEMMA2 = 3,
    UR_ARCH_GEMMA3 = 4,
    UR_ARCH_OLMO2 = 5,
    UR_ARCH_PHI3 = 6,
    UR_ARCH_COUNT
};

/* Where a layer normalizes (bits): PRE = RMSNorm of the block input (attn_norm,
 * ffn_norm), POST = RMSNorm of the block output before the residual add
 * (post_attention_norm, post_ffw_norm). llama: PRE; gemma2/3: PRE|POST; olmo2: POST. */
enum { UR_NORM_PRE = 1, UR_NORM_POST = 2 };
/* RMSNorm of q and k after their projections: none, per head (weights [head_dim]:
 * qwen3, gemma3) or over the whole projection (weights [q_dim] / [kv_dim]: olmo2). */
enum { UR_QKNORM_NONE = 0, UR_QKNORM_HEAD = 1, UR_QKNORM_ALL = 2 };
/* The gated feed-forward's activation: silu(gate) * up, or gelu_tanh(gate) * up. */
enum { UR_ACT_SILU = 0, UR_ACT_GELU = 1 };

typedef struct ur_hparams {
    int arch;
    int n_vocab;
    int dim;          /* embedding length */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;     /* attention.key_length (= dim / n_heads unless the file says otherwise) */
    int q_dim;        /* n_heads * head_dim: rows of Wq, columns of Wo */
    int kv_dim;       /* n_kv_heads * head_dim: rows of Wk and Wv, one cached key or value */
    int ff;           /* feed-forward length */
    int n_ctx_train;  /* context length the model was trained with */
    int n_rot;        /* rope dimension count (<= head_dim) */
    int rope_neox;    /* 1: rotate (i, i+n_rot/2) pairs; 0: adjacent pairs */
    float rope_base;
    float rope_scale; /* linear position scaling: positions are multiplied by 1/rope_scale */
    float rms_eps;
    /* the architecture's variations (arch.c) */
    int norm;             /* UR_NORM_* bits */
    int qk_norm;          /* UR_QKNORM_* */
    int act;              /* UR_ACT_* */
    float embd_scale;     /* token embeddings are multiplied by this (Gemma: sqrt(dim)), else 1 */
    float attn_scale;     /* q.k is multiplied by this: 1/sqrt(head_dim), or Gemma's 1/sqrt(query_pre_attn_scalar) */
    int q_prescale;       /* 1: q is multiplied by attn_scale before the dot products (llama.cpp's
                           * order for gemma and phi3), 0: the dot products are */
    float attn_softcap;   /* 0, or scores become c * tanh(s / c) (gemma2) */
    float final_softcap;  /* 0, or logits become c * tanh(l / c) */
    int swa_window;       /* 0, or sliding-window layers attend to the last swa_window positions
                           * (their own included); which layers: ur_layer.swa */
    float rope_base_swa;  /* rope base and linear scale of the sliding-window layers */
    float rope_scale_swa;
    float rope_attn_factor; /* cos and sin are multiplied by this (LongRoPE's attention factor), else 1 */
    int n_ctx_orig;       /* rope.scaling.original_context_length: a context longer than this
                           * uses rope_factors_long, otherwise rope_factors_short */
} ur_hparams;

/* A weight matrix (or vector) in place in the mapping: `rows` rows of `cols`
 * elements of `type`; row r starts at data + r * row_bytes. A fused projection
 * (phi3's attn_qkv, its 2*ff ffn_up) is bound as views of consecutive rows. */
typedef struct ur_weight {
    const void *data;
    int type;
    int64_t rows, cols;
    uint64_t row_bytes;
} ur_weight;

/* One layer's weights; data NULL where the architecture (or the file) has none. */
typedef struct ur_layer {
    ur_weight attn_norm, wq, wk, wv, wo;
    ur_weight bq, bk, bv, bo;          /* optional biases (qwen2's q/k/v) */
    ur_weight q_norm, k_norm;          /* UR_QKNORM_HEAD: [head_dim]; UR_QKNORM_ALL: [q_dim], [kv_dim] */
    ur_weight attn_post_norm;          /* UR_NORM_POST */
    ur_weight ffn_norm, w_gate, w_up, w_down;
    ur_weight ffn_post_norm;           /* UR_NORM_POST */
    int swa;                           /* 1: a sliding-window layer (hp.swa_window) */
} ur_layer;

typedef struct ur_model {
    ur_gguf *gguf;
    ur_vocab *vocab;
    ur_hparams hp;
    char *name;            /* general.name or the file's base name */
    ur_weight tok_embd, output_norm, output; /* output == tok_embd when tied */
    ur_weight output_b;    /* optional output bias */
    int tied_output;
    int fused_qkv, fused_gate_up; /* the file holds attn_qkv / a 2*ff ffn_up (bound as views) */
    const float *rope_freqs; /* n_rot/2 frequency divisors (Llama-3 scaling), or NULL */
    const float *rope_long, *rope_short; /* LongRoPE's divisors (phi3), or NULL */
    int n_swa_layers;      /* how many layers have sliding-window attention */
    ur_layer *layers;
    uint64_t n_params;
} ur_model;

ur_model *ur_model_load(const char *path, ur_err *err);
/* The same from an opened or parsed GGUF (ur_gguf_open, ur_gguf_parse), which the model
 * then owns (closed by ur_model_free, or here on failure). */
ur_model *ur_model_from_gguf(ur_gguf *g, ur_err *err);
void ur_model_free(ur_model *m);
const char *ur_arch_name(int arch);
/* The rope frequency divisors a context of n_ctx positions uses: rope_freqs, else
 * LongRoPE's long factors beyond the original context and its short ones within it
 * (as llama.cpp chooses them), else NULL. */
const float *ur_model_rope_factors(const ur_model *m, int n_ctx);

/* An inference context: the KV cache (F16, as llama.cpp keeps it; sliding-window
 * layers keep only what their window needs, see ur_ctx_truncate) and scratch
 * buffers for batches of up to `n_batch` tokens. The tokens in the cache are a
 * single sequence; each ur_decode() call appends to it. */
typedef struct ur_ctx ur_ctx;

typedef struct ur_ctx_params {
    int n_ctx;     /* KV cache length in tokens; 0 = the model's n_ctx_train */
    int n_batch;   /* tokens per internal forward chunk; 0 = 256 */
    int n_threads; /* 0 = number of cores */
    /* A pool to compute with instead of starting one of n_threads (not owned: free
     * it after the contexts). Only for contexts that one thread uses in turn, as the
     * server's slots are; NULL = the context's own pool. */
    ur_pool *pool;
} ur_ctx_params;

ur_ctx *ur_ctx_new(const ur_model *m, ur_ctx_params p, ur_err *err);
void ur_ctx_free(ur_ctx *c);
const ur_model *ur_ctx_model(const ur_ctx *c);
int ur_ctx_n_ctx(const ur_ctx *c);
int ur_ctx_n_past(const ur_ctx *c);           /* tokens in the cache */
const int32_t *ur_ctx_tokens(const ur_ctx *c); /* the ur_ctx_n_past() tokens in the cache */
uint64_t ur_ctx_kv_bytes(const ur_ctx *c);
int ur_ctx_threads(const ur_ctx *c);
/* One line for the user (no newline): "PATH: llama, 3.15M params, context 1024 tokens,
 * KV cache 1.0 MiB, 2 threads, avx512"; kv_bytes: the KV figure to show (0: the
 * context's own). Appended to out. */
void ur_ctx_describe(const ur_ctx *c, uint64_t kv_bytes, ur_buf *out);
ur_pool *ur_ctx_pool(const ur_ctx *c);        /* the pool c computes with (for loops over its outputs) */
int ur_ctx_n_batch(const ur_ctx *c);          /* tokens per internal forward chunk */
/* Forget cache positions >= n (keeps a shared prefix; 0 resets). A sliding-window layer
 * keeps a ring of window - 1 + n_batch + min(window, 1024) rows when that is shorter
 * than n_ctx; if the ring no longer holds the positions n needs (the context went on
 * more than n_batch + min(window, 1024) positions past n), the next decode first
 * recomputes tokens [0, n) (same results, more time). */
void ur_ctx_truncate(ur_ctx *c, int n);

/* Run tokens[0..n) at positions n_past .. n_past+n-1 and append them to the cache.
 * logits: NULL (no output), or n_vocab floats for the last token (all = 0), or
 * n * n_vocab floats, one row per input position (all = 1: teacher forcing).
 * Fails (cache untouched) if the tokens do not fit in the context or an id is
 * out of range. */
int ur_decode(ur_ctx *c, const int32_t *tokens, int n, float *logits, int all, ur_err *err);
/* The same with logits for the last n_out positions only (0 <= n_out <= n; n_out
 * rows of n_vocab floats, in position order): ur_decode is n_out = 0, 1 or n. The
 * chunks and arithmetic are ur_decode's, so the rows are bit-identical to the
 * matching rows of all = 1; positions before them skip the output matrix (TDS
 * scores an answer after a long prompt). */
int ur_decode_last(ur_ctx *c, const int32_t *tokens, int n, float *logits, int n_out, ur_err *err);

/* The last hidden states (after the final norm, what the output matrix reads) of
 * tokens[0..n), appended to the cache as ur_decode does: their mean over the n
 * positions into mean[dim] (mean-pooled, as sentence embeddings are), and, if rows is
 * not NULL, every position's into rows[n][dim]. Same chunks and arithmetic as
 * ur_decode, without the output matrix. */
int ur_decode_hidden(ur_ctx *c, const int32_t *tokens, int n, float *mean, float *rows, ur_err *err);

/* Several sequences at once (a server's slots): one token for each of the n
 * contexts cs[0..n) (distinct, same model, same n_ctx, n <= n_batch of cs[0]),
 * each appended to its own context at its own position, in one forward pass that
 * reads every weight matrix once. logits: NULL, or n rows of n_vocab floats, row i
 * for cs[i]. Uses cs[0]'s scratch buffers and threads. For the quantized weight
 * types the rows are bit-identical to n separate ur_decode calls; for F32/F16/BF16
 * weights the matrix kernels sum in another order for several rows than for one,
 * so the logits can differ from ur_decode's in the last bits. Fails (nothing
 * decoded) on a full context or a bad token id. */
int ur_decode_batch(ur_ctx *const *cs, const int32_t *tokens, int n, float *logits, ur_err *err);

/* Copy the KV cache of src's first n tokens into dst (same model, dst->n_ctx > n;
 * whatever dst held is dropped): a shared prompt prefix computed once and used by
 * several contexts, bit-identical to computing it in dst. */
int ur_ctx_copy_prefix(ur_ctx *dst, const ur_ctx *src, int n, ur_err *err);

/* Persisting a prompt prefix's KV cache (src/model/kvstate.c), e.g. the URIAL
 * preamble and examples, so that a later run loads it instead of computing it.
 * The file records the model file's identity (size, mtime, a hash of its header,
 * metadata and sampled weights), the cache's shape, the tokens, and a checksum.
 * Save: the first n (<= ur_ctx_n_past) cached tokens, written to a temporary file
 * and renamed into place. */
int ur_ctx_save_prefix(const ur_ctx *c, int n, const char *path, ur_err *err);
/* Load: when the file was written for this very model file and holds exactly
 * tokens[0..n), the context then holds those n tokens (whatever it held is
 * dropped) and 1 is returned. 0: there is no such file. -1: the file cannot be
 * used — another model file or a modified one, other tokens, another shape or
 * format version, truncated, corrupt — with err saying which in one line; the
 * context is then left as it was or empty (ur_ctx_n_past() = 0). */
int ur_ctx_load_prefix(ur_ctx *c, const char *path, const int32_t *tokens, int n, ur_err *err);

/* Write a random-weight model (deterministic for a seed) — smoke demos, tests
 * and cross-checks against llama.cpp on the very same file. Every architecture
 * gets the metadata keys and tensor names llama.cpp's converter writes for it. */
typedef struct ur_synth_params {
    const char *arch;      /* llama qwen2 qwen3 gemma2 gemma3 olmo2 phi3 */
    int dim, n_layers, n_heads, n_kv_heads, ff, n_ctx;
    int head_dim;          /* 0 = dim / n_heads; else attention.key_length/value_length (qwen3, gemma) */
    int type;              /* weight type of the matrices (norms stay F32) */
    int output_type;       /* -1 = same as type */
    int tied;              /* no output.weight: output = token_embd (always for gemma2/3, never for olmo2) */
    int rope_freqs;        /* add a rope_freqs tensor with toy factors 1..4 (llama) */
    int llama3_rope;       /* add rope_freqs with Llama-3.1's factors (8, low 1, high 4, original 8192) */
    float rope_base;
    float rope_scale;      /* > 1: linear rope scaling (rope.scaling.type linear, factor) */
    int swa_window;        /* attention.sliding_window (gemma2, gemma3, olmo2; phi3 writes it and it is ignored);
                            * 0 = the architecture's usual: gemma2 4096, gemma3 1024, none otherwise */
    float attn_softcap, final_softcap; /* gemma2 (default 50, 30); final also gemma3 (default none) */
    int longrope_orig;     /* phi3: > 0 adds rope_factors_long/short, original context = this, attn factor */
    int unfused;           /* phi3: separate attn_q/k/v instead of attn_qkv (its gate/up stay one 2*ff ffn_up) */
    float scale;           /* weight standard deviation, ~0.02 */
    float rms_eps;         /* attention.layer_norm_rms_epsilon; 0: the architecture's usual */
    uint64_t seed;
    const char *vocab_path;/* copy tokenizer.* from this GGUF; NULL = built-in byte vocab */
} ur_synth_params;
void ur_synth_defaults(ur_synth_params *p);
int ur_synth_write(const ur_synth_params *p, const char *path, ur_err *err);

#endif
