/* urial — the inference context's layout, shared by forward.c (the forward pass
 * that fills the KV cache) and kvstate.c (saving and loading a prefix of it).
 * Not a public header: the public API is ur_ctx_* in include/urial/model.h. */
#ifndef URIAL_MODEL_CTX_INT_H
#define URIAL_MODEL_CTX_INT_H

#include <stdint.h>

#include "urial/model.h"
#include "urial/tensor.h"

struct ur_ctx {
    const ur_model *m;
    int n_ctx, n_batch, nt;      /* nt: threads of pool */
    ur_pool *pool, *own_pool;    /* the pool computed with; own_pool: the same when created here (freed with c) */
    int n_past;
    int kv_dim;
    int32_t *tokens;             /* [n_ctx] the tokens whose keys/values are cached */
    uint16_t *k_cache, *v_cache; /* [n_layers][n_ctx][kv_dim] */
    float *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up;
    float *rope_cs;      /* [nb][n_rot] cos/sin pairs for the chunk's positions */
    float *scores;       /* [nt][n_ctx] attention scores per thread */
    /* Where each row of the chunk being computed belongs: the context whose KV cache
     * it reads and extends, and its position there. For ur_decode all rows are this
     * context's, at n_past + t; for ur_decode_batch row t is contexts[t]'s next
     * token. [n_batch] each. */
    struct ur_ctx **row_ctx;
    int *row_pos;
    ur_act act;
};

#endif
