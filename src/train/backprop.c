/* The whole model's forward and backward pass over one micro-batch (shapes in
 * internal.h), and the context that holds its activations.
 *
 * Forward, per layer l (x = the residual stream), with the model's variations in
 * brackets (the engine's layer, src/model/layer.c, in training form):
 *   a = [pre] rmsnorm(x) or x ; q, k, v = a Wq^T (+bq), a Wk^T (+bk), a Wv^T (+bv)
 *   q, k = [qk_norm] rmsnorm per head or per row ; rope(q, k) (the layer's table)
 *   o = attention(q, k, v) Wo^T (+bo)  (scale, soft-capping, sliding window)
 *   x_mid = x + drop_l([post] rmsnorm(o) or o)
 *   a = [pre] rmsnorm(x_mid) or x_mid ; f = act(a Wg^T, a Wu^T) Wd^T  (SwiGLU or GeGLU)
 *   x' = x_mid + drop_l([post] rmsnorm(f) or f)
 * with x_0 = E[tok] * embd_scale, then logits = rmsnorm(x_L) Wout^T (soft-capped)
 * for the tokens that have a target only, in
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
    int in = hp->dim > hp->ff ? hp->dim : hp->ff;
    return any ? (in > hp->q_dim ? in : hp->q_dim) : 0;
}

static void layout(ur_tctx *c, const ur_tnet *n, arena *a) {
    const ur_hparams *hp = &n->hp;
    const size_t N = (size_t)c->max_tokens, D = (size_t)hp->dim, F = (size_t)hp->ff, H = (size_t)hp->n_heads;
    const size_t QD = (size_t)hp->q_dim, KV = (size_t)hp->kv_dim, V = (size_t)hp->n_vocab;
    const int pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST, qkn = hp->qk_norm;
    const size_t nq = qkn == UR_QKNORM_HEAD ? N * H : N, nk = qkn == UR_QKNORM_HEAD ? N * (size_t)hp->n_kv_heads : N;
    c->la = take(a, sizeof(tr_acts) * (size_t)hp->n_layers);
    tr_acts shared = {0};
    for (int l = 0; l < hp->n_layers; l++) {
        tr_acts s = {0};
        s.x_in = TAKEF(a, N * D);
        if (!c->recompute || l == 0) {
            if (pre) s.rstd1 = TAKEF(a, N), s.rstd2 = TAKEF(a, N);
            if (qkn) s.q_raw = TAKEF(a, N * QD), s.k_raw = TAKEF(a, N * KV), s.rstd_q = TAKEF(a, nq), s.rstd_k = TAKEF(a, nk);
            if (post) s.o_raw = TAKEF(a, N * D), s.rstd_po = TAKEF(a, N), s.f_raw = TAKEF(a, N * D), s.rstd_pf = TAKEF(a, N);
            s.q = TAKEF(a, N * QD), s.k = TAKEF(a, N * KV), s.v = TAKEF(a, N * KV);
            s.att = TAKEF(a, N * QD), s.lse = TAKEF(a, N * H), s.x_mid = TAKEF(a, N * D);
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
    c->datt = TAKEF(a, N * QD), c->dq = TAKEF(a, N * QD), c->dkh = TAKEF(a, N * QD), c->dvh = TAKEF(a, N * QD);
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
    c->KV = hp->kv_dim, c->QD = hp->q_dim;
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

/* Layer l's sliding window (0: none) and rope table. */
static int layer_window(const ur_tnet *n, int l) {
    return n->base && n->base->layers[l].swa ? n->hp.swa_window : 0;
}
static const float *layer_rope(const ur_tnet *n, int l) { return layer_window(n, l) ? n->rope_swa : n->rope; }

/* RMSNorm of q or k ([N][nh * hd]) with the model's q/k norm: per head (N * nh rows of
 * hd) or per row (N rows of nh * hd). */
static void qk_norm_fwd(const ur_hparams *hp, float *y, float *rstd, const float *x, const float *w, int N, int nh,
                        ur_pool *pool) {
    if (hp->qk_norm == UR_QKNORM_HEAD) tr_rmsnorm_fwd(y, rstd, x, w, N * nh, hp->head_dim, hp->rms_eps, pool);
    else tr_rmsnorm_fwd(y, rstd, x, w, N, nh * hp->head_dim, hp->rms_eps, pool);
}
static void qk_norm_bwd(const ur_hparams *hp, float *dx, float *gw, const float *dy, const float *x, const float *rstd,
                        const float *w, int N, int nh, ur_pool *pool) {
    if (hp->qk_norm == UR_QKNORM_HEAD) tr_rmsnorm_bwd(dx, gw, dy, x, rstd, w, N * nh, hp->head_dim, pool);
    else tr_rmsnorm_bwd(dx, gw, dy, x, rstd, w, N, nh * hp->head_dim, pool);
}

static void act_fwd(const ur_hparams *hp, float *h, const float *g, const float *u, int N, int F, ur_pool *pool) {
    if (hp->act == UR_ACT_GELU) tr_geglu_fwd(h, g, u, N, F, pool);
    else tr_swiglu_fwd(h, g, u, N, F, pool);
}

/* One layer from s->x_in to out (NULL: a recompute for the backward, which stops
 * before the down projection unless a post-norm needs its output). */
static void layer_fwd(ur_tctx *c, const ur_tnet *n, int l, const ur_tbatch *b, const ur_tdrop *drop, tr_acts *s,
                      float *out) {
    const ur_hparams *hp = &n->hp;
    const ur_tlayer *L = &n->layers[l];
    const int N = b->n, D = c->D, pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST;
    ur_pool *pool = c->pool;
    const float p = drop_rate(drop, l, hp->n_layers);
    const float *a = s->x_in;
    if (pre) tr_rmsnorm_fwd(c->xn, s->rstd1, s->x_in, L->attn_norm, N, D, hp->rms_eps, pool), a = c->xn;
    float *qd = hp->qk_norm ? s->q_raw : s->q, *kd = hp->qk_norm ? s->k_raw : s->k;
    tr_lin_fwd(c, &L->q, a, N, qd);
    tr_lin_fwd(c, &L->k, a, N, kd);
    tr_lin_fwd(c, &L->v, a, N, s->v);
    tr_bias_fwd(qd, L->bq, N, c->QD, pool);
    tr_bias_fwd(kd, L->bk, N, c->KV, pool);
    tr_bias_fwd(s->v, L->bv, N, c->KV, pool);
    if (hp->qk_norm) {
        qk_norm_fwd(hp, s->q, s->rstd_q, s->q_raw, L->q_norm, N, hp->n_heads, pool);
        qk_norm_fwd(hp, s->k, s->rstd_k, s->k_raw, L->k_norm, N, hp->n_kv_heads, pool);
    }
    tr_rope(s->q, b->pos, layer_rope(n, l), N, hp->n_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 0, pool);
    tr_rope(s->k, b->pos, layer_rope(n, l), N, hp->n_kv_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 0, pool);
    tr_attention_fwd(c, hp, layer_window(n, l), b->seg, N, s->q, s->k, s->v, s->att, s->lse);
    tr_lin_fwd(c, &L->o, s->att, N, post ? s->o_raw : c->tmp);
    tr_bias_fwd(post ? s->o_raw : c->tmp, L->bo, N, D, pool);
    if (post) tr_rmsnorm_fwd(c->tmp, s->rstd_po, s->o_raw, L->attn_post_norm, N, D, hp->rms_eps, pool);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 0, pool);
    tr_add(s->x_mid, s->x_in, c->tmp, (size_t)N * D, pool);
    a = s->x_mid;
    if (pre) tr_rmsnorm_fwd(c->xn, s->rstd2, s->x_mid, L->ffn_norm, N, D, hp->rms_eps, pool), a = c->xn;
    tr_lin_fwd(c, &L->gate, a, N, s->gate);
    tr_lin_fwd(c, &L->up, a, N, s->up);
    if (!out && !post) return;
    act_fwd(hp, c->h, s->gate, s->up, N, c->F, pool);
    tr_lin_fwd(c, &L->down, c->h, N, post ? s->f_raw : c->tmp);
    if (post) tr_rmsnorm_fwd(c->tmp, s->rstd_pf, s->f_raw, L->ffn_post_norm, N, D, hp->rms_eps, pool);
    if (!out) return;
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
        nll += tr_xent(c->logits, tg, nc, c->V, scale, n->hp.final_softcap, c->pool);
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
    const int N = b->n, D = c->D, F = c->F, pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST;
    ur_pool *pool = c->pool;
    const float p = drop_rate(drop, l, hp->n_layers);
    if (c->recompute) layer_fwd(c, n, l, b, drop, s, NULL);

    /* feed-forward branch: x' = x_mid + drop([post] f); dF in dxn when post-normed */
    memcpy(c->tmp, c->dres, sizeof(float) * (size_t)N * D);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 1, pool);
    const float *df = c->tmp;
    if (post) {
        memset(c->dxn, 0, sizeof(float) * (size_t)N * D);
        tr_rmsnorm_bwd(c->dxn, L->g_ffn_post_norm, c->tmp, s->f_raw, s->rstd_pf, L->ffn_post_norm, N, D, pool);
        df = c->dxn;
    }
    act_fwd(hp, c->h, s->gate, s->up, N, F, pool);
    tr_lin_bwd(c, &L->down, c->h, df, N, c->dh, 0);
    if (hp->act == UR_ACT_GELU) tr_geglu_bwd(c->dh, c->dup, NULL, s->gate, s->up, c->dh, N, F, pool);
    else tr_swiglu_bwd(c->dh, c->dup, NULL, s->gate, s->up, c->dh, N, F, pool);
    const float *a = s->x_mid;
    if (pre) tr_rmsnorm_apply(c->xn, s->x_mid, s->rstd2, L->ffn_norm, N, D, pool), a = c->xn;
    tr_lin_bwd(c, &L->gate, a, c->dh, N, c->dxn, 0);
    tr_lin_bwd(c, &L->up, a, c->dup, N, c->dxn, 1);
    if (pre) tr_rmsnorm_bwd(c->dres, L->g_ffn_norm, c->dxn, s->x_mid, s->rstd2, L->ffn_norm, N, D, pool);
    else tr_add(c->dres, c->dres, c->dxn, (size_t)N * D, pool);

    /* attention branch: x_mid = x + drop([post] o); dO in dxn when post-normed */
    memcpy(c->tmp, c->dres, sizeof(float) * (size_t)N * D);
    tr_dropout(c->tmp, N, D, p, drop ? drop->key : 0, l, 0, pool);
    const float *dout = c->tmp;
    if (post) {
        memset(c->dxn, 0, sizeof(float) * (size_t)N * D);
        tr_rmsnorm_bwd(c->dxn, L->g_attn_post_norm, c->tmp, s->o_raw, s->rstd_po, L->attn_post_norm, N, D, pool);
        dout = c->dxn;
    }
    tr_bias_bwd(L->g_bo, dout, N, D, pool);
    tr_lin_bwd(c, &L->o, s->att, dout, N, c->datt, 0);
    tr_attention_bwd(c, hp, layer_window(n, l), b->seg, N, s->q, s->k, s->v, s->att, s->lse, c->datt, c->dq, c->dk,
                     c->dv);
    tr_rope(c->dq, b->pos, layer_rope(n, l), N, hp->n_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 1, pool);
    tr_rope(c->dk, b->pos, layer_rope(n, l), N, hp->n_kv_heads, hp->head_dim, hp->n_rot, hp->rope_neox, 1, pool);
    float *dq = c->dq, *dk = c->dk;
    if (hp->qk_norm) { /* back through the q/k norms, into the attention scratch (free again) */
        memset(c->dkh, 0, sizeof(float) * (size_t)N * c->QD);
        memset(c->dvh, 0, sizeof(float) * (size_t)N * c->KV);
        qk_norm_bwd(hp, c->dkh, L->g_q_norm, c->dq, s->q_raw, s->rstd_q, L->q_norm, N, hp->n_heads, pool);
        qk_norm_bwd(hp, c->dvh, L->g_k_norm, c->dk, s->k_raw, s->rstd_k, L->k_norm, N, hp->n_kv_heads, pool);
        dq = c->dkh, dk = c->dvh;
    }
    tr_bias_bwd(L->g_bq, dq, N, c->QD, pool);
    tr_bias_bwd(L->g_bk, dk, N, c->KV, pool);
    tr_bias_bwd(L->g_bv, c->dv, N, c->KV, pool);
    a = s->x_in;
    if (pre) tr_rmsnorm_apply(c->xn, s->x_in, s->rstd1, L->attn_norm, N, D, pool), a = c->xn;
    tr_lin_bwd(c, &L->q, a, dq, N, c->dxn, 0);
    tr_lin_bwd(c, &L->k, a, dk, N, c->dxn, 1);
    tr_lin_bwd(c, &L->v, a, c->dv, N, c->dxn, 1);
    if (pre) tr_rmsnorm_bwd(c->dres, L->g_attn_norm, c->dxn, s->x_in, s->rstd1, L->attn_norm, N, D, pool);
    else tr_add(c->dres, c->dres, c->dxn, (size_t)N * D, pool);
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
    if (n->g_embd) {
        if (n->hp.embd_scale != 1.0f) /* x_0 = E[tok] * s */
            for (size_t i = 0; i < (size_t)b->n * c->D; i++) c->dres[i] *= n->hp.embd_scale;
        tr_embed_bwd(n->g_embd, b->tokens, b->n, c->dres, c->D, c->pool);
    } else if (n->g_embd_new) { /* LoRA: only the new tokens' rows are trainable (tokens in order) */
        const int64_t v0 = n->embd_fz.rows;
        for (int t = 0; t < b->n; t++) {
            if (b->tokens[t] < v0) continue;
            float *g = n->g_embd_new + (size_t)(b->tokens[t] - v0) * c->D;
            const float *d = c->dres + (size_t)t * c->D;
            for (int i = 0; i < c->D; i++) g[i] += d[i] * n->hp.embd_scale;
        }
    }
    return nll;
}

double ur_tctx_eval(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b, int *n_targets) {
    *n_targets = 0;
    if (!batch_ok(c, n, b)) return NAN;
    forward(c, n, b, NULL);
    return loss_and_head(c, n, b, 1.0f, 0, n_targets);
}
