/* urial — training llama models on the CPU: pretraining from scratch, full
 * fine-tuning with F32 master weights, and LoRA adapters on a frozen (possibly
 * quantized) base.
 *
 * The pieces, in the order data flows:
 *   ur_tnet     the trainable network: every trainable tensor in ONE contiguous F32
 *               buffer (params), its gradient in a second one (grads) with the same
 *               layout, so zeroing, clipping, AdamW and checkpointing are loops over
 *               one array; frozen weights (LoRA) stay in the base model's mapping.
 *   ur_tctx     activations and scratch for micro-batches of up to max_tokens
 *               tokens; forward + backward of one micro-batch adds its gradient.
 *   ur_adamw_*  the optimizer step, learning-rate schedules, gradient clipping.
 *   ur_tdata    datasets: SFT conversations (loss on assistant tokens only) and
 *               raw text for pretraining (loss on every token).
 *   ur_trainer  the loop: epochs, seeded order, gradient accumulation, dropout,
 *               checkpoints, dev evaluation, resume (src/train/trainer.c).
 *
 * A micro-batch is a list of tokens made of one or more *segments* (examples
 * packed end to end): token t attends to the tokens of its own segment up to t,
 * and its rope position counts from its segment's start, so packing examples is
 * the same computation as running them one by one. */
#ifndef URIAL_TRAIN_H
#define URIAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/gguf.h"
#include "urial/model.h"

/* ---- the trainable network --------------------------------------------------- */

/* One trainable tensor: GGUF name, offset (floats) into params/grads, shape
 * ne0 (row length) x ne1 (rows; 1 for vectors). decay: AdamW weight decay applies
 * (matrices; not norm weights). */
typedef struct ur_ttensor {
    char name[96];
    size_t off;
    int64_t ne0, ne1;
    int decay;
} ur_ttensor;

/* A linear map y[N][out] = x[N][in] · W^T (+ s · (x · A^T) · B^T with LoRA). */
typedef struct ur_tlin {
    int in, out;
    float *w, *gw;  /* trainable F32 weight [out][in] and its gradient (full training), or NULL */
    ur_weight fz;   /* the frozen weight when w is NULL (any type, in the base's mapping) */
    float *a, *ga;  /* LoRA A [r][in] */
    float *b, *gb;  /* LoRA B [out][r] */
    int r;
    float s;        /* LoRA scale alpha / r */
} ur_tlin;

typedef struct ur_tlayer {
    float *attn_norm, *g_attn_norm; /* [dim]; g NULL when frozen */
    float *ffn_norm, *g_ffn_norm;
    ur_tlin q, k, v, o, gate, up, down;
} ur_tlayer;

enum { UR_LORA_Q = 1, UR_LORA_K = 2, UR_LORA_V = 4, UR_LORA_O = 8, UR_LORA_GATE = 16, UR_LORA_UP = 32,
       UR_LORA_DOWN = 64, UR_LORA_ALL = 127 };

typedef struct ur_tnet {
    ur_hparams hp;
    int tied;             /* output matrix = token embedding */
    int lora;             /* 0: every weight trainable; else the LoRA rank */
    float lora_alpha;
    unsigned lora_targets;/* UR_LORA_* */
    float *params, *grads;/* the trainable tensors, one buffer each (64-byte aligned) */
    size_t n_params;      /* floats in each buffer */
    ur_ttensor *tensors;
    int n_tensors;
    float *embd, *g_embd; /* [n_vocab][dim] trainable, or NULL with embd_fz set */
    ur_weight embd_fz;
    float *out_norm, *g_out_norm;
    ur_tlin output;       /* [n_vocab][dim]; w == embd when tied */
    ur_tlayer *layers;
    float *rope;          /* [n_ctx_train][n_rot] cos/sin pairs per position */
    float *rope_freqs;    /* n_rot/2 or NULL (copied from the base) */
    const ur_model *base; /* the model the net came from (not owned), or NULL */
} ur_tnet;

/* A new model of shape hp (n_vocab, dim, n_layers, n_heads, n_kv_heads, ff,
 * n_ctx_train; head_dim/n_rot derived; rope_base, rms_eps as given), weights drawn
 * from N(0, 0.02) (attention output and down projections scaled by 1/sqrt(2 L)),
 * norms 1; deterministic for a seed. */
ur_tnet *ur_tnet_new(const ur_hparams *hp, int tied, uint64_t seed, ur_err *err);
/* Full fine-tuning: an F32 master copy of every weight of m (dequantized). */
ur_tnet *ur_tnet_from_model(const ur_model *m, ur_err *err);
/* LoRA on a frozen m: rank r adapters on the targeted matrices of every layer;
 * A ~ N(0, 1/in) (deterministic for seed), B = 0, scale alpha / r. */
ur_tnet *ur_tnet_lora(const ur_model *m, int r, float alpha, unsigned targets, uint64_t seed, ur_err *err);
void ur_tnet_free(ur_tnet *n);
const ur_ttensor *ur_tnet_find(const ur_tnet *n, const char *name);
/* Parse "q,k,v,o,gate,up,down" (or "all") into UR_LORA_* bits; -1 if unknown. */
int ur_lora_targets_parse(const char *s);

/* Write the network as a GGUF model that urial and llama.cpp load: general.*,
 * the llama.* hyperparameters, the tokenizer.* keys copied from tok_src (and
 * tokenizer.chat_template = chat_template when not NULL), and every weight as
 * `type` (F32, F16, BF16, Q8_0 or Q4_0 for matrices; norms stay F32). A LoRA net
 * writes its merged weights W + s B A. */
typedef struct ur_tsave_opts {
    const char *name;          /* general.name */
    int type;                  /* matrix type */
    const char *chat_template; /* Jinja text or NULL */
    const ur_gguf *tok_src;    /* tokenizer.* source (required) */
} ur_tsave_opts;
int ur_tnet_save(const ur_tnet *n, const ur_tsave_opts *o, const char *path, ur_err *err);
/* LoRA adapter in llama.cpp's format: general.type "adapter", adapter.type "lora",
 * adapter.lora.alpha; per adapted matrix "blk.N.attn_q.weight.lora_a" (F32, ne
 * [in, r]) and ".lora_b" (ne [r, out]); llama.cpp applies W + (alpha / r) B A. */
int ur_tnet_save_adapter(const ur_tnet *n, const char *path, ur_err *err);

/* ---- activations, forward and backward ------------------------------------------- */
typedef struct ur_tbatch {
    int n;                  /* tokens */
    const int32_t *tokens;  /* [n] inputs */
    const int32_t *targets; /* [n] the token to predict after each input, -1 = no loss there */
    const int32_t *pos;     /* [n] position within its segment (rope) */
    const int32_t *seg;     /* [n] index of the first token of its segment (attention window) */
} ur_tbatch;

typedef struct ur_tctx ur_tctx;

/* Activations for micro-batches of up to max_tokens tokens (no segment longer than
 * the model's n_ctx_train). recompute: keep only each layer's input and recompute
 * the layer in the backward pass (about 1/8 of the activation memory for one more
 * forward pass). */
ur_tctx *ur_tctx_new(const ur_tnet *n, int max_tokens, int recompute, int nthreads, ur_err *err);
void ur_tctx_free(ur_tctx *c);
/* Bytes ur_tctx_new would allocate (the memory estimate shown before training). */
uint64_t ur_tctx_bytes(const ur_tnet *n, int max_tokens, int recompute, int nthreads);

/* Residual dropout (LIMA): layer l drops each element of its attention and
 * feed-forward outputs with probability top * l / (L - 1), scaling the rest by
 * 1 / (1 - p); masks are a hash of (key, layer, branch, token, element), so a
 * recomputed forward and a resumed run see the same masks. top = 0: off. */
typedef struct ur_tdrop {
    float top;
    uint64_t key;
} ur_tdrop;

/* Forward and backward of one micro-batch: grads += d(loss_scale * sum of the
 * target tokens' negative log-likelihoods)/d(params). Returns that sum (natural
 * log, unscaled); *n_targets gets the number of target tokens. */
double ur_tctx_step(ur_tctx *c, ur_tnet *n, const ur_tbatch *b, float loss_scale, ur_tdrop drop, int *n_targets);
/* Forward only (no dropout): the sum of the targets' negative log-likelihoods. */
double ur_tctx_eval(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b, int *n_targets);

/* ---- optimizer ------------------------------------------------------------------- */
typedef struct ur_adamw {
    float beta1, beta2, eps, weight_decay;
} ur_adamw;
/* One AdamW step (PyTorch's torch.optim.AdamW): for step t >= 1,
 *   p -= lr * wd * p   (tensors with decay)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * m and v have n->n_params floats. */
void ur_adamw_step(ur_tnet *n, float *m, float *v, int64_t t, float lr, const ur_adamw *o, int nthreads);
/* L2 norm of all gradients (double accumulation in a fixed order). */
double ur_grad_norm(const ur_tnet *n, int nthreads);
void ur_grad_scale(ur_tnet *n, float s, int nthreads);
void ur_grad_zero(ur_tnet *n);

enum ur_sched_kind { UR_SCHED_LINEAR = 0, UR_SCHED_COSINE = 1, UR_SCHED_CONST = 2 };
typedef struct ur_sched {
    int kind;
    float lr, lr_end; /* peak and final learning rate */
    int64_t warmup;   /* linear warmup steps from 0 to lr */
} ur_sched;
/* Learning rate for step (0-based) of total: warmup (lr * (step+1)/warmup), then
 * linear or cosine from lr (at the first step after warmup) to lr_end (at the
 * last step), or constant lr. */
float ur_sched_lr(const ur_sched *s, int64_t step, int64_t total);
int ur_sched_parse(const char *name); /* "linear", "cosine", "constant"; -1 if unknown */

#endif
