/* The whole model's forward and backward pass over one micro-batch (shapes in
 * internal.h), and the context that holds its activations.
 *
 * Forward, per layer l (x = the residual stream):
 *   xn = rmsnorm(x) ; q, k, v = xn Wq^T, xn Wk^T, xn Wv^T ; rope(q, k)
 *   x_mid = x + drop_l(attention(q, k, v) Wo^T)
 *   xn = rmsnorm(x_mid) ; x' = x_mid + drop_l(swiglu(xn Wg^T, xn Wu^T) Wd^T)
 * then logits = rmsnorm(x_L) Wout^T for the tokens that have a target only, in
 * chunks of TR_LC rows whose cross-entropy gradient goes straight back through
 * Wout, so the [N][V] logits never exist at once. The backward walks the layers
 * down with dres = dL/dx, recomputing the cheap things (normed inputs, SwiGLU
 * output) instead of storing them, or, with recompute, the whole layer from its
 * stored input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/internal.h"

/* ---- the context -------------------------------------------------------------------- */
/* Bump allocation out of one block; with base == NULL only counts. */
typedef struct arena {
    char *base;
    size_t off;
} arena;

static void *take(arena *a, size_t bytes) {
    void *p = a->base ? a->base + a->off : NULL;
    a->off += (bytes + 63) & ~(size_t)63;
    return p;
}
#define TAKEF(a, n) ((float *)take(a, sizeof(float) * (size_t)(n)))

static int max_in_frozen(const ur_tnet *n) {
    const ur_hparams *hp = &n->hp;
    int any = n->output.fz.data && n->output.fz.type != UR_TYPE_F32;
    for (int l = 0; l < hp->n_layers && !any; l++) {
        const ur_tlin *ls[7] = {&n->layers[l].q, &n->layers[l].k, &n->layers[l].v, &n->layers[l].o,
                                &n->layers[l].gate, &n->layers[l].up, &n->layers[l].down};
        for (int j = 0; j < 7; j++) any |= !ls[j]->w && ls[j]->fz.type != UR_TYPE_F32;
    }
    return any ? (hp->dim > hp->ff ? hp->dim : hp->ff) : 0;
}

static void layout(ur_tctx *c, const ur_tnet *n, arena *a) {
    const ur_hparams *hp = &n->hp;
    const size_t N = (size_t)c->max_tokens, D = (size_t)hp->dim, F = (size_t)hp->ff, H = (size_t)hp->n_heads;
    const size_t KV = (size_t)hp->n_kv_heads * (size_t)hp->head_dim, V = (size_t)hp->n_vocab;
    c->la = take(a, sizeof(tr_acts) * (size_t)hp->n_layers);
    tr_acts shared = {0};
    for (int l = 0; l < hp->n_layers; l++) {
        tr_acts s;
        s.x_in = TAKEF(a, N * D);
        if (!c->recompute || l == 0) {
            s.rstd1 = TAKEF(a, N), s.q = TAKEF(a, N * D), s.k = TAKEF(a, N * KV), s.v = TAKEF(a, N * KV);
            s.att = TAKEF(a, N * D), s.lse = TAKEF(a, N * H), s.x_mid = TAKEF(a, N * D), s.rstd2 = TAKEF(a, N);
            s.gate = TAKEF(a, N * F), s.up = TAKEF(a, N * F);
            if (l == 0) shared = s;
        } else {
            float *x_in = s.x_in;
            s = shared;
            s.x_in = x_in;
        }
        if (c->la) c->la[l] = s;
    }
    c->x_final = TAKEF(a, N * D), c->rstd_f = TAKEF(a, N);
    c->xn = TAKEF(a, N * D), c->dxn = TAKEF(a, N * D), c->dres = TAKEF(a, N * D), c->tmp = TAKEF(a, N * D);
    c->datt = TAKEF(a, N * D), c->dq = TAKEF(a, N * D), c->dkh = TAKEF(a, N * D), c->dvh = TAKEF(a, N * D);
    c->dk = TAKEF(a, N * KV), c->dv = TAKEF(a, N * KV);
    c->h = TAKEF(a, N * F), c->dh = TAKEF(a, N * F), c->dup = TAKEF(a, N * F);
    c->lora_u = TAKEF(a, N * (size_t)n->lora), c->lora_du = TAKEF(a, N * (size_t)n->lora);
    c->deq = TAKEF(a, (size_t)TR_DEQ_ROWS * (size_t)max_in_frozen(n));
    c->sel = take(a, sizeof(int32_t) * N);
    c->lx = TAKEF(a, (size_t)TR_LC * D), c->ldx = TAKEF(a, (size_t)TR_LC * D), c->logits = TAKEF(a, (size_t)TR_LC * V);
    c->att_s = TAKEF(a, (size_t)c->nt * TR_QB * (size_t)c->max_seg);
    c->att_p = TAKEF(a, (size_t)c->nt * TR_QB * (size_t)c->max_seg);
}

static void init_dims(ur_tctx *c, const ur_tnet *n, int max_tokens, int recompute, int nthreads) {
    c->max_tokens = max_tokens;
    c->recompute = recompute;
    c->nt = nthreads > 0 ? nthreads : ur_n_cores();
    c->max_seg = max_tokens < n->hp.n_ctx_train ? max_tokens : n->hp.n_ctx_train;
}

uint64_t ur_tctx_bytes(const ur_tnet *n, int max_tokens, int recompute, int nthreads) {
    ur_tctx c = {0};
    init_dims(&c, n, max_tokens, recompute, nthreads);
    arena a = {0};
    layout(&c, n, &a);
    /* GEMM workspaces: the shared one (KC x NC plus an A block per thread) and one per thread */
    uint64_t ws = (uint64_t)(256 * 4096 + c.nt * 256 * 144) * 4 + (uint64_t)c.nt * (256 * 4096 + 256 * 144) * 4;
    return a.off + ws;
}

ur_tctx *ur_tctx_new(const ur_tnet *n, int max_tokens, int recompute, int nthreads, ur_err *err) {
    ur_tctx *c = ur_xcalloc(1, sizeof *c);
    if (max_tokens <= 0) max_tokens = 1;
    init_dims(c, n, max_tokens, recompute, nthreads);
    const ur_hparams *hp = &n->hp;
    c->n_layers = hp->n_layers, c->D = hp->dim, c->F = hp->ff, c->H = hp->n_heads, c->V = hp->n_vocab;
    c->KV = hp->n_kv_heads * hp->head_dim;
    arena a = {0};
    layout(c, n, &a);
    c->block = aligned_alloc(64, a.off);
    c->ws = calloc((size_t)c->nt + 1, sizeof *c->ws);
    /* the context's own pool of nt threads: one training step runs hundreds of short
     * loops, all from the thread that owns the context */
    if (!(c->pool = ur_pool_new(c->nt, err))) {
        ur_tctx_free(c);
        return NULL;
    }
    if (!c->block || !c->ws) {
        ur_errf(err, "out of memory for training activations (%.1f MiB for %d tokens; try fewer tokens per "
                     "micro-batch or --recompute)",
                (double)a.off / (1 << 20), max_tokens);
        ur_tctx_free(c);
        return NULL;
    }
    memset(c->block, 0, a.off);
    arena b = {c->block, 0};
    layout(c, n, &b);
    return c;
}

void ur_tctx_free(ur_tctx *c) {
    if (!c) return;
    if (c->ws)
        for (int i = 0; i <= c->nt; i++) ur_gemm_ws_free(&c->ws[i]);
    free(c->ws);
    ur_pool_free(c->pool);
    ur_act_free(&c->act);
    free(c->block);
    free(c);
}

ur_pool *ur_tctx_pool(const ur_tctx *c) { return c->pool; }

/* ---- forward ------------------------------------------------------------------------- */
static float drop_rate(const ur_tdrop *d, int l, int L) {
    return d && d->top > 0.0f && L > 1 ? d->top * (float)l / (float)(L - 1) : 0.0f;
}

/* One layer from s->x_in to out (NULL: skip the final residual add, for a recompute). */
static void layer_fwd(ur_tctx *c, const ur_tnet *n, int l, const ur_tbatch *b, const ur_tdrop *drop, tr_acts *s,
                      float *out) {
    const ur_hparams *hp = &n->hp;
    const ur_tlayer *L = &n->layers[l];
    const int N = b->n, D = c->D;
    ur_pool *pool = c->pool;
    const float p = drop_rate(drop, l, hp->n_layers);
    tr_rmsnorm_fwd(c->xn, s->rstd1, s->x_in, L->attn_norm, N, D, hp->rms_eps, pool);
    tr_lin_fwd(c, &L->q, c->xn, N, s->q);
    tr_lin_fwd(c, &L->k, c->xn, N, s->k);
    tr_lin_fwd(c, &L->v, c->xn, N, s->v);
    tr_rope(s->q, b->pos, n->rope, N, hp->n_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 0, pool);
    tr_rope(s->k, b->pos, n->rope, N, hp->n_kv_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 0, pool);
    tr_attention_fwd(c, hp, b->seg, N, s->q, s->k, s->v, s->att, s->lse);
    tr_lin_fwd(c, &L->o, s->att, N, c->tmp);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 0, pool);
    tr_add(s->x_mid, s->x_in, c->tmp, (size_t)N * D, pool);
    tr_rmsnorm_fwd(c->xn, s->rstd2, s->x_mid, L->ffn_norm, N, D, hp->rms_eps, pool);
    tr_lin_fwd(c, &L->gate, c->xn, N, s->gate);
    tr_lin_fwd(c, &L->up, c->xn, N, s->up);
    if (!out) return;
    tr_swiglu_fwd(c->h, s->gate, s->up, N, c->F, pool);
    tr_lin_fwd(c, &L->down, c->h, N, c->tmp);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 1, pool);
    tr_add(out, s->x_mid, c->tmp, (size_t)N * D, pool);
}

static void forward(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b, const ur_tdrop *drop) {
    tr_embed_fwd(n, b->tokens, b->n, c->la[0].x_in);
    for (int l = 0; l < c->n_layers; l++)
        layer_fwd(c, n, l, b, drop, &c->la[l], l + 1 < c->n_layers ? c->la[l + 1].x_in : c->x_final);
    tr_rmsnorm_fwd(c->xn, c->rstd_f, c->x_final, n->out_norm, b->n, c->D, n->hp.rms_eps, c->pool);
}

/* Logits and cross-entropy for the rows that have a target; with train, the
 * gradient through Wout into dxn (zero elsewhere). */
static double loss_and_head(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b, float scale, int train, int *n_targets) {
    const int D = c->D;
    int nsel = 0;
    for (int t = 0; t < b->n; t++)
        if (b->targets[t] >= 0) c->sel[nsel++] = t;
    *n_targets = nsel;
    if (train) memset(c->dxn, 0, sizeof(float) * (size_t)b->n * D);
    double nll = 0.0;
    int32_t tg[TR_LC];
    for (int i0 = 0; i0 < nsel; i0 += TR_LC) {
        const int nc = nsel - i0 < TR_LC ? nsel - i0 : TR_LC;
        for (int j = 0; j < nc; j++) {
            memcpy(c->lx + (size_t)j * D, c->xn + (size_t)c->sel[i0 + j] * D, sizeof(float) * (size_t)D);
            tg[j] = b->targets[c->sel[i0 + j]];
        }
        tr_lin_fwd(c, &n->output, c->lx, nc, c->logits);
        nll += tr_xent(c->logits, tg, nc, c->V, scale, c->pool);
        if (!train) continue;
        tr_lin_bwd(c, &n->output, c->lx, c->logits, nc, c->ldx, 0);
        for (int j = 0; j < nc; j++)
            memcpy(c->dxn + (size_t)c->sel[i0 + j] * D, c->ldx + (size_t)j * D, sizeof(float) * (size_t)D);
    }
    return nll;
}

/* ---- backward ------------------------------------------------------------------------ */
/* dres = dL/d(layer output) in, dL/d(layer input) out. */
static void layer_bwd(ur_tctx *c, ur_tnet *n, int l, const ur_tbatch *b, const ur_tdrop *drop) {
    const ur_hparams *hp = &n->hp;
    ur_tlayer *L = &n->layers[l];
    tr_acts *s = &c->la[l];
    const int N = b->n, D = c->D, F = c->F;
    ur_pool *pool = c->pool;
    const float p = drop_rate(drop, l, hp->n_layers);
    if (c->recompute) layer_fwd(c, n, l, b, drop, s, NULL);

    /* feed-forward branch: x' = x_mid + drop(down(h)) */
    memcpy(c->tmp, c->dres, sizeof(float) * (size_t)N * D);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 1, pool);
    tr_swiglu_fwd(c->h, s->gate, s->up, N, F, pool);
    tr_lin_bwd(c, &L->down, c->h, c->tmp, N, c->dh, 0);
    tr_swiglu_bwd(c->dh, c->dup, NULL, s->gate, s->up, c->dh, N, F, pool);
    tr_rmsnorm_apply(c->xn, s->x_mid, s->rstd2, L->ffn_norm, N, D, pool);
    tr_lin_bwd(c, &L->gate, c->xn, c->dh, N, c->dxn, 0);
    tr_lin_bwd(c, &L->up, c->xn, c->dup, N, c->dxn, 1);
    tr_rmsnorm_bwd(c->dres, L->g_ffn_norm, c->dxn, s->x_mid, s->rstd2, L->ffn_norm, N, D, pool);

    /* attention branch: x_mid = x + drop(o(att)) */
    memcpy(c->tmp, c->dres, sizeof(float) * (size_t)N * D);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 0, pool);
    tr_lin_bwd(c, &L->o, s->att, c->tmp, N, c->datt, 0);
    tr_attention_bwd(c, hp, b->seg, N, s->q, s->k, s->v, s->att, s->lse, c->datt, c->dq, c->dk, c->dv);
    tr_rope(c->dq, b->pos, n->rope, N, hp->n_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 1, pool);
    tr_rope(c->dk, b->pos, n->rope, N, hp->n_kv_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 1, pool);
    tr_rmsnorm_apply(c->xn, s->x_in, s->rstd1, L->attn_norm, N, D, pool);
    tr_lin_bwd(c, &L->q, c->xn, c->dq, N, c->dxn, 0);
    tr_lin_bwd(c, &L->k, c->xn, c->dk, N, c->dxn, 1);
    tr_lin_bwd(c, &L->v, c->xn, c->dv, N, c->dxn, 1);
    tr_rmsnorm_bwd(c->dres, L->g_attn_norm, c->dxn, s->x_in, s->rstd1, L->attn_norm, N, D, pool);
}

/* 0 if every token, target, position and segment index is in range. */
static int batch_ok(const ur_tctx *c, const ur_tnet *n, const ur_tbatch *b) {
    if (b->n <= 0 || b->n > c->max_tokens) return 0;
    for (int t = 0; t < b->n; t++) {
        if (b->tokens[t] < 0 || b->tokens[t] >= n->hp.n_vocab || b->targets[t] >= n->hp.n_vocab) return 0;
        if (b->seg[t] < 0 || b->seg[t] > t || (t > 0 && b->seg[t] != t && b->seg[t] != b->seg[t - 1])) return 0;
        if (b->pos[t] < 0 || b->pos[t] >= n->hp.n_ctx_train || t - b->seg[t] >= c->max_seg) return 0;
    }
    return 1;
}

double ur_tctx_step(ur_tctx *c, ur_tnet *n, const ur_tbatch *b, float loss_scale, ur_tdrop drop, int *n_targets) {
    *n_targets = 0;
    if (!batch_ok(c, n, b)) return NAN;
    forward(c, n, b, &drop);
    double nll = loss_and_head(c, n, b, loss_scale, 1, n_targets);
    memset(c->dres, 0, sizeof(float) * (size_t)b->n * c->D);
    tr_rmsnorm_bwd(c->dres, n->g_out_norm, c->dxn, c->x_final, c->rstd_f, n->out_norm, b->n, c->D, c->pool);
    for (int l = c->n_layers - 1; l >= 0; l--) layer_bwd(c, n, l, b, &drop);
    if (n->g_embd) tr_embed_bwd(n->g_embd, b->tokens, b->n, c->dres, c->D, c->pool);
    return nll;
}

double ur_tctx_eval(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b, int *n_targets) {
    *n_targets = 0;
    if (!batch_ok(c, n, b)) return NAN;
    forward(c, n, b, NULL);
    return loss_and_head(c, n, b, 1.0f, 0, n_targets);
}
