/* Internal to src/train: the training context (activations and scratch) and the
 * forward/backward pairs of the ops. Shapes are named once here:
 *   N  tokens in the micro-batch     D  dim            F  ff
 *   H  heads   G  kv heads   hd  head dim   KV = G * hd   V  vocab
 * Matrices are row-major, one row per token. */
#ifndef URIAL_TRAIN_INTERNAL_H
#define URIAL_TRAIN_INTERNAL_H

#include <stdint.h>

#include "train/gemm.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* What the backward pass of one layer reads from its forward pass (QD = H * hd). */
typedef struct tr_acts {
    float *x_in;  /* [N][D] layer input (the residual stream) */
    float *rstd1; /* [N] 1/rms of x_in (pre-norm) */
    float *q_raw, *k_raw;   /* [N][QD], [N][KV] projections before the q/k norms (qk_norm) */
    float *rstd_q, *rstd_k; /* [N*H], [N*G] (per head) or [N] (whole row) */
    float *q;     /* [N][QD] queries after norm and rope */
    float *k, *v; /* [N][KV] keys after norm and rope, values */
    float *att;   /* [N][QD] attention output (input of Wo) */
    float *lse;   /* [N][H] log-sum-exp of each attention row */
    float *o_raw, *rstd_po; /* [N][D], [N] attention block output before its post-norm */
    float *x_mid; /* [N][D] after the attention residual */
    float *rstd2; /* [N] */
    float *gate, *up; /* [N][F] before the activation */
    float *f_raw, *rstd_pf; /* [N][D], [N] FFN output before its post-norm */
} tr_acts;

struct ur_tctx {
    int max_tokens, recompute, nt, max_seg; /* nt: threads of pool */
    ur_pool *pool;        /* the context's own threads (ur_tctx_new) */
    int n_layers, D, QD, KV, F, H, V;
    tr_acts *la;          /* [n_layers]; with recompute only x_in differs per layer */
    float *x_final, *rstd_f; /* [N][D], [N]: input of the output norm */
    /* scratch */
    float *xn, *dxn, *dres, *tmp;   /* [N][D] */
    float *datt, *dq, *dkh, *dvh;   /* [N][QD] */
    float *dk, *dv;       /* [N][KV] */
    float *h, *dh, *dup;  /* [N][F] */
    float *lora_u, *lora_du; /* [N][r] */
    float *deq;           /* [DEQ_ROWS][max in] dequantized rows of a frozen weight */
    int32_t *sel;         /* [N] rows with a target */
    float *lx, *ldx, *logits; /* [LC][D], [LC][D], [LC][V] */
    float *att_s, *att_p; /* per pool thread [QB][max_seg] */
    ur_gemm_ws *ws;       /* [nt + 1]: one per thread inside parallel regions, [nt] for the rest */
    ur_act act;           /* activations for ur_matmul on quantized frozen weights */
    void *block;          /* the one allocation everything above points into */
};

enum { TR_QB = 128, TR_LC = 256, TR_DEQ_ROWS = 256 };

/* ---- net.c: the tensors of a layer ------------------------------------------------ */
/* One tensor of a layer, in GGUF order: a vector (norm or bias: *p, *g in the layer)
 * or a linear map (lin), with its name after "blk.N." and the base model's tensor it
 * comes from (data NULL without a base). */
typedef struct tr_part {
    char name[32];
    int64_t ne0, ne1; /* ne1 = 1: a vector */
    float **p, **g;
    ur_tlin *lin;
    const ur_weight *src;
} tr_part;
enum { TR_MAX_PARTS = 16 };
/* The parts layer l has: what the architecture's variations ask for, biases where
 * the base model has them. L may be a layer whose pointers are not set yet. */
int tr_layer_parts(const ur_hparams *hp, const ur_model *base, int l, ur_tlayer *L, tr_part *out);

/* ---- ops.c ---------------------------------------------------------------------- */
/* x[t] = E[tok[t]] * hp.embd_scale */
void tr_embed_fwd(const ur_tnet *n, const int32_t *tok, int N, float *x);
void tr_embed_bwd(float *gE, const int32_t *tok, int N, const float *dx, int D, ur_pool *pool);
void tr_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps, ur_pool *pool);
/* dx[N][D] += d/dx, gw[D] += d/dw (gw may be NULL) of y = x * rstd * w given dy */
void tr_rmsnorm_bwd(float *dx, float *gw, const float *dy, const float *x, const float *rstd, const float *w, int N,
                    int D, ur_pool *pool);
/* recompute y = x * rstd * w from a saved rstd */
void tr_rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int N, int D, ur_pool *pool);
/* x[N][nh*hd]: rotate each head's first n_rot dims by its token's position (inv: the inverse rotation) */
void tr_rope(float *x, const int32_t *pos, const float *table, int N, int nh, int hd, int n_rot, int neox, int inv,
             ur_pool *pool);
void tr_swiglu_fwd(float *h, const float *g, const float *u, int N, int F, ur_pool *pool);
/* dg[N][F], du[N][F] from dh (dg may alias dh); h = silu(g) u again when h != NULL */
void tr_swiglu_bwd(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int N, int F, ur_pool *pool);
/* GeGLU with the tanh form of GELU (exact, not the inference engine's F16 table): the same contract */
void tr_geglu_fwd(float *h, const float *g, const float *u, int N, int F, ur_pool *pool);
void tr_geglu_bwd(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int N, int F, ur_pool *pool);
/* y[N][n] += b; gb[n] += column sums of dy (tokens in order) */
void tr_bias_fwd(float *y, const float *b, int N, int n, ur_pool *pool);
void tr_bias_bwd(float *gb, const float *dy, int N, int n, ur_pool *pool);
/* y[N][D] *= mask / (1 - p), mask from (key, layer, branch, token, element); the same call is the backward */
void tr_dropout(float *y, int N, int D, float p, uint64_t key, int layer, int branch, ur_pool *pool);
/* logits[n][V] -> dlogits = scale * (softmax - onehot(target)); returns the sum of -log p(target).
 * cap > 0: the logits are soft-capped first, l' = cap tanh(l / cap), and the gradient is d/dl. */
double tr_xent(float *logits, const int32_t *targets, int n, int V, float scale, float cap, ur_pool *pool);
void tr_add(float *y, const float *a, const float *b, size_t n, ur_pool *pool); /* y = a + b (y may alias) */

/* ---- attention.c ---------------------------------------------------------------- */
/* att[N][QD], lse[N][H] = causal softmax(s) v within each segment, s = q k^T * hp.attn_scale,
 * soft-capped to c tanh(s / c) with hp.attn_softcap; window > 0: each query sees only its
 * last `window` positions */
void tr_attention_fwd(ur_tctx *c, const ur_hparams *hp, int window, const int32_t *seg, int N, const float *q,
                      const float *k, const float *v, float *att, float *lse);
/* dq[N][QD], dk[N][KV], dv[N][KV] from datt[N][QD] (uses dkh/dvh scratch) */
void tr_attention_bwd(ur_tctx *c, const ur_hparams *hp, int window, const int32_t *seg, int N, const float *q,
                      const float *k, const float *v, const float *att, const float *lse, const float *datt, float *dq,
                      float *dk, float *dv);

/* ---- linear.c ------------------------------------------------------------------- */
/* y[N][out] = x[N][in] W^T (+ LoRA) */
void tr_lin_fwd(ur_tctx *c, const ur_tlin *l, const float *x, int N, float *y);
/* dx[N][in] (+)= dy W (+ LoRA) (acc: add to dx), gw += dy^T x, LoRA grads; dx may be NULL */
void tr_lin_bwd(ur_tctx *c, const ur_tlin *l, const float *x, const float *dy, int N, float *dx, int acc);

#endif
