/* urial — models: architecture facts from GGUF metadata, weight views into the
 * mapping, and the forward pass over a batch of tokens with a KV cache.
 *
 * Supported general.architecture values: "llama" (Llama-2/3, Mistral, TinyLlama:
 * grouped-query attention, rope base from metadata, optional rope_freqs, tied or
 * separate output matrix) and "qwen2" (q/k/v biases, NEOX-style rope). */
#ifndef URIAL_MODEL_H
#define URIAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/gguf.h"
#include "urial/pool.h"
#include "urial/tokenizer.h"

enum ur_arch { UR_ARCH_LLAMA = 0, UR_ARCH_QWEN2 = 1 };

typedef struct ur_hparams {
    int arch;
    int n_vocab;
    int dim;          /* embedding length */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;     /* dim / n_heads */
    int ff;           /* feed-forward length */
    int n_ctx_train;  /* context length the model was trained with */
    int n_rot;        /* rope dimension count (<= head_dim) */
    int rope_neox;    /* 1: rotate (i, i+n_rot/2) pairs; 0: adjacent pairs */
    float rope_base;
    float rope_scale; /* linear position scaling: positions are multiplied by 1/rope_scale */
    float rms_eps;
} ur_hparams;

/* A weight matrix (or vector) in place in the mapping: `rows` rows of `cols`
 * elements of `type`; row r starts at data + r * row_bytes. */
typedef struct ur_weight {
    const void *data;
    int type;
    int64_t rows, cols;
    uint64_t row_bytes;
} ur_weight;

typedef struct ur_layer {
    ur_weight attn_norm, wq, wk, wv, wo;
    ur_weight bq, bk, bv; /* qwen2 only (data NULL otherwise) */
    ur_weight ffn_norm, w_gate, w_up, w_down;
} ur_layer;

typedef struct ur_model {
    ur_gguf *gguf;
    ur_vocab *vocab;
    ur_hparams hp;
    char *name;            /* general.name or the file's base name */
    ur_weight tok_embd, output_norm, output; /* output == tok_embd when tied */
    int tied_output;
    const float *rope_freqs; /* n_rot/2 frequency divisors, or NULL */
    ur_layer *layers;
    uint64_t n_params;
} ur_model;

ur_model *ur_model_load(const char *path, ur_err *err);
void ur_model_free(ur_model *m);
const char *ur_arch_name(int arch);

/* An inference context: the KV cache (F16, as llama.cpp keeps it) and scratch
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
/* Forget cache positions >= n (keeps a shared prefix; 0 resets). */
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
 * and cross-checks against llama.cpp on the very same file. */
typedef struct ur_synth_params {
    const char *arch;      /* "llama" or "qwen2" */
    int dim, n_layers, n_heads, n_kv_heads, ff, n_ctx;
    int type;              /* weight type of the matrices (norms stay F32) */
    int output_type;       /* -1 = same as type */
    int tied;              /* no output.weight: output = token_embd */
    int rope_freqs;        /* add a rope_freqs tensor (Llama-3 style) */
    float rope_base;
    float scale;           /* weight standard deviation, ~0.02 */
    uint64_t seed;
    const char *vocab_path;/* copy tokenizer.* from this GGUF; NULL = built-in byte vocab */
} ur_synth_params;
void ur_synth_defaults(ur_synth_params *p);
int ur_synth_write(const ur_synth_params *p, const char *path, ur_err *err);

#endif
