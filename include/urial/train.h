/* urial — training on the CPU: pretraining llama models from scratch, full
 * fine-tuning with F32 master weights, and LoRA adapters on a frozen (possibly
 * quantized) base, for every architecture the engine runs (the layer's named
 * variations of ur_hparams: pre/post norms, q/k norms, biases, SwiGLU or GeGLU,
 * embedding scale, query scale, soft-capping, sliding windows with their own rope).
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
#include "urial/chat.h"
#include "urial/gguf.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

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
    float *xw, *gxw;/* frozen weight: nx trainable rows after its own ([nx][in]: new tokens' output rows) */
    int nx;         /* out = fz.rows + nx */
} ur_tlin;

/* One layer. Vectors are NULL where the architecture has none; their gradients g_*
 * are NULL when they are frozen (LoRA: norms and biases stay the base's). */
typedef struct ur_tlayer {
    float *attn_norm, *g_attn_norm;           /* [dim] pre-norms (UR_NORM_PRE) */
    float *ffn_norm, *g_ffn_norm;
    float *attn_post_norm, *g_attn_post_norm; /* [dim] post-norms (UR_NORM_POST) */
    float *ffn_post_norm, *g_ffn_post_norm;
    float *q_norm, *g_q_norm, *k_norm, *g_k_norm; /* [head_dim] (per head) or [q_dim] / [kv_dim] */
    float *bq, *g_bq, *bk, *g_bk, *bv, *g_bv, *bo, *g_bo; /* biases */
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
    int n_new;            /* tokens added to the base's vocabulary (the last n_new rows) */
    float *embd_new, *g_embd_new; /* LoRA: their embedding rows [n_new][dim], trainable beside the adapters */
    float *out_norm, *g_out_norm;
    ur_tlin output;       /* [n_vocab][dim]; w == embd when tied */
    ur_tlayer *layers;
    float *rope;          /* [n_ctx_train][n_rot] cos/sin pairs per position */
    float *rope_swa;      /* the same for sliding-window layers with their own rope, else == rope */
    float *rope_freqs;    /* n_rot/2 or NULL (copied from the base: rope_freqs, or LongRoPE's short factors) */
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
/* The same with n_new tokens added after the base's vocabulary (LIMA's end-of-turn
 * token): hp.n_vocab grows by n_new, and the new embedding and output rows start as
 * the mean of the base's rows. Full training: they are rows of token_embd/output.
 * LoRA: they are trainable tensors of their own beside the adapters,
 * "token_embd.weight.new" and (untied) "output.weight.new", [n_new][dim]; the
 * frozen matrices keep the base's rows; checkpoints write all rows. */
ur_tnet *ur_tnet_from_model_grown(const ur_model *m, int n_new, ur_err *err);
ur_tnet *ur_tnet_lora_grown(const ur_model *m, int r, float alpha, unsigned targets, uint64_t seed, int n_new,
                            ur_err *err);
void ur_tnet_free(ur_tnet *n);
const ur_ttensor *ur_tnet_find(const ur_tnet *n, const char *name);
/* Parse "q,k,v,o,gate,up,down" (or "all") into UR_LORA_* bits; -1 if unknown. */
int ur_lora_targets_parse(const char *s);

/* Write the network as a GGUF model that urial and llama.cpp load: general.*,
 * the hyperparameters (the base model's <arch>.* keys, or llama.* for a model
 * trained from scratch), the tokenizer.* keys copied from tok_src (and
 * tokenizer.chat_template = chat_template when not NULL), and every weight as
 * `type` (F32, F16, BF16, Q8_0 or Q4_0 for matrices; norms and biases stay F32)
 * with the base's tensor names (phi3's fused attn_qkv and ffn_up as the base has
 * them). A LoRA net writes its merged weights W + s B A. */
typedef struct ur_tsave_opts {
    const char *name;          /* general.name */
    int type;                  /* matrix type (every matrix; vectors stay F32) */
    const char *mix;           /* or a file type name (quantize.h: "q4_K_M", ...): llama.cpp's mixture */
    const char *chat_template; /* Jinja text or NULL */
    const ur_gguf *tok_src;    /* tokenizer.* source (required) */
    const char *eot_text;      /* a net with n_new = 1: the new token's text (ur_tok_put_eot) */
} ur_tsave_opts;
int ur_tnet_save(const ur_tnet *n, const ur_tsave_opts *o, const char *path, ur_err *err);
/* LoRA adapter in llama.cpp's format: general.architecture (the base's),
 * general.type "adapter", adapter.type "lora", adapter.lora.alpha; per adapted
 * matrix "blk.N.attn_q.weight.lora_a" (F32, ne [in, r]) and ".lora_b" (ne [r, out]);
 * llama.cpp applies W + (alpha / r) B A. A fused base matrix (phi3's attn_qkv, its
 * 2*ff ffn_up) gets one adapter of rank sum(r) whose B is block-diagonal (its
 * blocks scaled by sum(r) / r, so alpha / sum(r) gives each part alpha / r). */
int ur_tnet_save_adapter(const ur_tnet *n, const char *path, ur_err *err);

/* ---- a new end-of-turn token (LIMA) ------------------------------------------------ */
/* Copy src's tokenizer.* keys into w with `text` appended to the vocabulary as a
 * control token (score 0), tokenizer.ggml.eot_token_id naming it (so llama.cpp and
 * urial stop on it), and chat_template (when not NULL) as tokenizer.chat_template. */
void ur_tok_put_eot(ur_gguf_writer *w, const ur_gguf *src, const char *text, const char *chat_template);
/* src's vocabulary with `text` added as above (through a vocab-only GGUF in $TMPDIR,
 * removed at once; *g keeps its mapping: close it after freeing the vocab). Fails
 * with one line when the vocabulary already has a token spelled `text`. */
ur_vocab *ur_vocab_with_eot(const ur_gguf *src, const char *text, ur_gguf **g, ur_err *err);
/* A Jinja chat template with every occurrence of its end-of-turn marker (an
 * expression such as eos_token, or a literal such as '<|im_end|>') replaced by the
 * string literal 'text'; malloc'ed, or NULL when the marker does not occur or text
 * cannot be a plain literal (quotes, backslashes, newlines, braces or %). */
char *ur_jinja_with_eot(const char *jinja, const char *marker, const char *text);

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
/* The context's pool of nthreads threads (for the optimizer step between micro-batches). */
ur_pool *ur_tctx_pool(const ur_tctx *c);
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

/* ---- datasets ---------------------------------------------------------------------- */
/* One training sequence: inputs and the token to predict after each (-1: no loss). */
typedef struct ur_tseq {
    int n;            /* inputs */
    int32_t *tok;     /* [n] inputs (one allocation with tgt: free tok only) */
    int32_t *tgt;     /* [n] targets */
    int32_t *prompt;  /* SFT: the last turn's prompt, generation prompt included (samples) */
    int n_prompt;
    char *question;   /* SFT: the last user message */
    char *answer;     /* SFT: the last assistant message (the reference answer) */
} ur_tseq;

typedef struct ur_tdata {
    ur_tseq *seqs;
    int n, cap;
    int64_t n_tokens, n_targets;
    int n_truncated;  /* SFT examples cut at max_len */
    int64_t n_docs, n_stream; /* text: documents and tokens in the stream */
} ur_tdata;

/* SFT examples from JSONL, one conversation per line, in any of
 *   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
 *   {"conversations": ["user turn", "assistant turn", ...]}   (LIMA's release; or
 *                     ShareGPT-style {"from", "value"} objects, alternating)
 *   {"instruction": "...", "input": "..." (optional), "output": "..."}
 * Each is rendered with the chat format fmt (a template: its end-of-turn marker,
 * e.g. zephyr's </s>, closes every message), tokenized (BOS as the vocabulary
 * asks, special-token text parsed), and cut to max_len + 1 tokens. Targets are
 * set only where the predicted token lies in an assistant message (its text and
 * the end-of-turn marker after it): the loss is on assistant tokens only. */
int ur_tdata_load_sft(ur_tdata *d, const char *path, const ur_vocab *v, const ur_chat *fmt, int max_len,
                      ur_err *err);
/* Pretraining text: documents are separated by blank lines; each is tokenized with
 * BOS (if the vocabulary adds one) and followed by EOS; the stream is cut into
 * windows of ctx inputs (targets: the next token; every token has a loss). */
int ur_tdata_load_text(ur_tdata *d, const char *path, const ur_vocab *v, int ctx, ur_err *err);
/* Move the last n sequences into dev (0, or -1 if n is not in [1, d->n)). */
int ur_tdata_split(ur_tdata *d, ur_tdata *dev, int n);
void ur_tdata_free(ur_tdata *d);

/* ---- optimizer ------------------------------------------------------------------- */
typedef struct ur_adamw {
    float beta1, beta2, eps, weight_decay;
} ur_adamw;
/* One AdamW step (PyTorch's torch.optim.AdamW): for step t >= 1,
 *   p -= lr * wd * p   (tensors with decay)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * m and v have n->n_params floats. */
void ur_adamw_step(ur_tnet *n, float *m, float *v, int64_t t, float lr, const ur_adamw *o, ur_pool *pool);
/* L2 norm of all gradients (double accumulation in a fixed order, the same for any pool). */
double ur_grad_norm(const ur_tnet *n, ur_pool *pool);
void ur_grad_scale(ur_tnet *n, float s, ur_pool *pool);
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

/* ---- the training loop ---------------------------------------------------------------- */
typedef struct ur_train_opts {
    int epochs;
    int64_t max_steps;   /* > 0: stop after this many optimizer steps (may end mid-epoch) */
    int batch;           /* sequences per optimizer step (accumulated over micro-batches) */
    int micro_tokens;    /* tokens per micro-batch: sequences are packed up to this */
    ur_sched sched;
    ur_adamw adamw;
    float clip;          /* clip the global gradient norm to this (0 = off) */
    float dropout;       /* residual dropout at the top layer, 0 at the bottom (0 = off) */
    uint64_t seed;       /* data order (a permutation per epoch) and dropout masks */
    int threads, recompute;
    int save_every;      /* steps between training-state saves, besides epoch ends (0 = none) */
    double save_minutes; /* also save the state when this many minutes passed since the last (0 = off) */
    int eval_every;      /* steps between dev evaluations, besides checkpoints (0 = none) */
    int ckpt_every;      /* epochs between checkpoints (0 or 1: every epoch; the last step always) */
    int resume;          /* continue from out_dir/state.gguf (an error when there is none) */
    int overwrite;       /* a fresh run may replace the run files already in out_dir (else refused) */
    int keep;            /* which checkpoint files stay (UR_KEEP_*; default all) */
    const char *out_dir;
    ur_tsave_opts save;  /* how checkpoints are written */
    int export_adapter;  /* LoRA: 1 also write adapter-NNN.gguf at each checkpoint, 2 only that */
    const ur_chat *fmt;  /* SFT: chat format of the sample generations; NULL: raw text */
    int n_samples;       /* greedy samples per checkpoint (dev prompts, or training prompts without dev) */
    int sample_tokens;
    const char *const *sample_prompts; /* raw-text prompts (pretraining) */
    int n_sample_prompts;
    const char *title;   /* the report's subtitle (e.g. the command line) */
    const char *kind;    /* "sft", "lora", "pretrain" (report and fingerprint) */
} ur_train_opts;

/* Checkpoint files kept on disk (their records stay in checkpoints.jsonl and the report):
 * all (LIMA picks an epoch by reading every checkpoint's samples, so every candidate stays),
 * the last one written, or the one with the lowest dev loss (needs dev data). */
enum { UR_KEEP_ALL = 0, UR_KEEP_LAST = 1, UR_KEEP_BEST = 2 };

enum { UR_TEV_START = 0, UR_TEV_STEP, UR_TEV_EVAL, UR_TEV_CKPT, UR_TEV_SAVE, UR_TEV_DONE };
typedef struct ur_train_event {
    int kind;
    int64_t step, total_steps; /* optimizer steps done / planned */
    int epoch, epochs;         /* 1-based epoch of the step */
    double loss, lr, gnorm;    /* STEP: mean target NLL of the step, its lr, gradient norm before clipping */
    double tok_s, eta_s, elapsed_s;
    double dev_loss;           /* EVAL, CKPT: mean dev NLL (NAN without dev data) */
    const char *path;          /* CKPT, SAVE, DONE: file written (DONE: the report) */
    uint64_t mem_bytes;        /* START: estimated memory */
    int64_t resumed_from;      /* START: the step the run resumed at (0: a fresh start) */
} ur_train_event;
typedef void (*ur_train_cb)(void *user, const ur_train_event *ev);

/* Train n on `train` (dev may be NULL) as o says, writing into o->out_dir:
 *   epoch-NNN.gguf   a model checkpoint at the end of each epoch (every ckpt_every; step-N.gguf
 *                    when max_steps ends a run mid-epoch); LoRA: merged weights
 *   adapter-NNN.gguf LoRA adapter (export_adapter)
 *   state.gguf       weights, AdamW moments, step and epoch statistics (resume),
 *                    at each checkpoint and every save_every steps / save_minutes
 *   log.jsonl        one record per step and per evaluation
 *   checkpoints.jsonl one record per checkpoint: losses, perplexity, samples
 *   report.md        the checkpoints table and sample generations, to pick one
 * The data order and dropout masks derive from (seed, epoch, step), so a run
 * resumed from state.gguf continues exactly as if it had not stopped. */
int ur_train_run(ur_tnet *n, const ur_tdata *train, const ur_tdata *dev, const ur_train_opts *o, ur_train_cb cb,
                 void *user, ur_err *err);
/* Whether o->out_dir may be used as o asks: --resume needs out_dir/state.gguf; a fresh run
 * refuses a directory holding another run's files (state.gguf, log.jsonl,
 * checkpoints.jsonl) unless o->overwrite. ur_train_run checks it too. */
int ur_train_check_out(const ur_train_opts *o, ur_err *err);
/* Bytes the run will hold: weights, gradients and AdamW moments (4 x params x 4
 * bytes) plus activations (ur_tctx_bytes), not counting a mapped frozen base. */
uint64_t ur_train_mem(const ur_tnet *n, const ur_train_opts *o);

#endif
