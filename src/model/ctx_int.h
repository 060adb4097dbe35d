/* urial — the inference context's layout, shared by forward.c (contexts and the
 * decode calls), layer.c (one transformer layer over a chunk of rows) and kvstate.c
 * (saving, loading and copying a prefix of the KV cache).
 * Not a public header: the public API is ur_ctx_* in include/urial/model.h.
 *
 * The KV cache of layer l holds kv_rows[l] rows of kv_dim F16 values at kv_off[l]
 * in k_cache and v_cache; position p lives in row p % kv_rows[l]. A full-attention
 * layer has kv_rows = n_ctx (so row = position). A sliding-window layer whose window
 * W is much shorter than the context keeps a ring of W - 1 + n_batch + min(W, 1024)
 * rows when that is shorter than n_ctx: W - 1 + n_batch rows are what a chunk of
 * n_batch new rows reads (each row's last W positions) while the chunk writes its
 * own; the rest lets a context go back by that many positions (a session rewinding
 * to its prompt prefix after an answer) without recomputing (ur_ctx_truncate). */
#ifndef URIAL_MODEL_CTX_INT_H
#define URIAL_MODEL_CTX_INT_H

#include <stdint.h>

#include "urial/model.h"
#include "urial/tensor.h"

struct ur_ctx {
    const ur_model *m;
    int n_ctx, n_batch, nt;      /* nt: threads of pool */
    ur_pool *pool, *own_pool;    /* the pool computed with; own_pool: the same when created here (freed with c) */
    int n_past;                  /* tokens in the context (tokens[0..n_past)) */
    /* Positions [0, n_kv) have the keys and values what comes next needs. n_kv < n_past
     * only after ur_ctx_truncate went back further than the sliding-window rings still
     * reach: the next decode recomputes tokens [n_kv, n_past) first. */
    int n_kv;
    /* The sliding layers' rings hold positions >= swa_lo (older ones were overwritten;
     * 0 without rings). */
    int swa_lo;
    int kv_dim;
    int swa_rows;                /* rows of a sliding layer's cache: a ring shorter than n_ctx, or n_ctx */
    int32_t *tokens;             /* [n_ctx] the tokens whose keys/values are cached */
    uint16_t *k_cache, *v_cache; /* per layer [kv_rows[l]][kv_dim] at kv_off[l] */
    size_t *kv_off;              /* [n_layers] element offsets into k_cache / v_cache */
    int *kv_rows;                /* [n_layers] */
    size_t kv_elems;             /* elements of k_cache (= of v_cache) */
    const float *rope_ff;        /* the rope frequency divisors this context uses (ur_model_rope_factors) */
    /* scratch, one row per token of the chunk: x, xn, tmp [nb][dim]; q, att [nb][q_dim];
     * k, v [nb][kv_dim]; gate, up [nb][ff] */
    float *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up;
    float *rope_cs;      /* [nb][n_rot] cos/sin pairs for the chunk's positions (full layers) */
    float *rope_cs_swa;  /* the same for sliding layers when their rope differs (own base/scale), else rope_cs */
    float *scores;       /* [nt][scores_per_thread]: each thread's attention scratch */
    size_t scores_per_thread; /* ur_attend_scratch(n_ctx, head_dim) */
    int *blk;            /* [n_batch + 1] attention row blocks (layer.c) */
    /* Where each row of the chunk being computed belongs: the context whose KV cache
     * it reads and extends, and its position there. For ur_decode all rows are this
     * context's, at n_past + t; for ur_decode_batch row t is contexts[t]'s next
     * token. [n_batch] each. */
    struct ur_ctx **row_ctx;
    int *row_pos;
    ur_act act;
};

/* layer.c: layer l over the chunk's nb rows (x in, x out; keys and values into the
 * rows' contexts' caches), and the output head (final norm, output matrix, bias,
 * soft-capping) over nb rows of x starting at xs. */
void ur_layer_forward(ur_ctx *c, int l, int nb);
void ur_output_forward(ur_ctx *c, const float *xs, int nb, float *logits);
/* The final norm alone over nb rows of x (the "last hidden states"), into out [nb][dim]. */
void ur_output_norm(ur_ctx *c, const float *xs, int nb, float *out);

/* The cache row of position p in layer l of context c. */
static inline size_t ur_kv_row(const struct ur_ctx *c, int l, int p) {
    return c->kv_off[l] + (size_t)(p % c->kv_rows[l]) * (size_t)c->kv_dim;
}

#endif
