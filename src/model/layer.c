/* One transformer layer over a chunk of nb rows, for every architecture urial runs,
 * and the output head. Shapes (row-major, one row per token of the chunk):
 *   x, xn, tmp : [nb][dim]     q, att : [nb][q_dim]     k, v : [nb][kv_dim]
 *   gate, up   : [nb][ff]      cache  : per layer [kv_rows][kv_dim] (F16)
 * The equations, with the named variations of ur_hparams in brackets:
 *   a  = [PRE] n1(x) or x
 *   q, k, v = Wq a (+bq), Wk a (+bk), Wv a (+bv)
 *   q, k = [qk_norm] RMSNorm per head or over the whole row; rope(q), rope(k) with the
 *          layer's rope (sliding layers may have their own base and scale)
 *   att = softmax(s) v over the keys the row sees (all earlier positions, or [swa] the
 *         last swa_window), s = q.k * attn_scale, [attn_softcap] s = c tanh(s / c)
 *   x  = x + [POST] n2(Wo att (+bo))
 *   a  = [PRE] n3(x) or x
 *   x  = x + [POST] n4(Wdown ([act] silu or gelu(Wgate a) * Wup a))
 *   logits = [final_softcap] c tanh(Wout n5(x_L) (+b) / c)
 * n1..n5 are RMSNorms with their weights; the embedding rows are multiplied by
 * [embd_scale] before the first layer (forward.c). */
#include <math.h>
#include <string.h>

#include "model/ctx_int.h"
#include "tensor/ops.h"
#include "urial/model.h"
#include "urial/tensor.h"

/* y[nb][w->rows] = W · x[nb][w->cols], converting x once per distinct activation type. */
static void matmul(ur_ctx *c, const ur_weight *w, const float *x, int nb, float *y) {
    ur_act_prepare(&c->act, ur_act_type(w->type), x, nb, w->cols, c->pool);
    ur_matmul(w->data, w->type, w->rows, &c->act, y, w->rows, c->pool);
}

/* Two or three matrices sharing one input (q/k/v, gate/up): convert x once when
 * their activation types agree. */
static void matmul_shared(ur_ctx *c, const float *x, int nb, const ur_weight **ws, float **ys, int n) {
    int prepared = -1;
    for (int i = 0; i < n; i++) {
        int at = ur_act_type(ws[i]->type);
        if (at != prepared) {
            ur_act_prepare(&c->act, at, x, nb, ws[i]->cols, c->pool);
            prepared = at;
        }
        ur_matmul(ws[i]->data, ws[i]->type, ws[i]->rows, &c->act, ys[i], ws[i]->rows, c->pool);
    }
}

/* The per-row loops of a layer run as pool loops over rows (or attention tasks);
 * rows_job carries what their bodies need. */
typedef struct rows_job {
    ur_ctx *c;
    float *y;
    const float *x;
    const ur_weight *w;
    int layer;
    const void *aux; /* the attention's plan */
} rows_job;

static void rmsnorm_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const int dim = j->c->m->hp.dim;
    (void)tid;
    for (int64_t t = t0; t < t1; t++)
        ur_rmsnorm(j->y + (size_t)t * dim, j->x + (size_t)t * dim, j->w->data, dim, j->c->m->hp.rms_eps);
}

/* y = RMSNorm(x) * w over nb rows of dim (y may be x) */
static void rmsnorm_rows(ur_ctx *c, float *y, const float *x, const ur_weight *w, int nb) {
    rows_job j = {c, y, x, w, 0, NULL};
    ur_pool_for(nb > 1 ? c->pool : NULL, nb, 0, rmsnorm_body, &j);
}

static void add_bias(float *y, const ur_weight *b, int nb, int n) {
    if (!b->data) return;
    const float *bias = b->data;
    for (int t = 0; t < nb; t++)
        for (int i = 0; i < n; i++) y[(size_t)t * n + i] += bias[i];
}

/* q/k norms (per head, or over the whole row) of one row of nh heads */
static void qk_norm(float *x, const ur_weight *w, const ur_hparams *hp, int nh) {
    if (hp->qk_norm == UR_QKNORM_HEAD)
        for (int h = 0; h < nh; h++) ur_rmsnorm(x + (size_t)h * hp->head_dim, x + (size_t)h * hp->head_dim, w->data,
                                                hp->head_dim, hp->rms_eps);
    else if (hp->qk_norm == UR_QKNORM_ALL)
        ur_rmsnorm(x, x, w->data, nh * hp->head_dim, hp->rms_eps);
}

/* q/k norms, rope, the q scale, then k and v into their contexts' caches, rows [t0, t1) */
static void rope_store_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const ur_hparams *hp = &c->m->hp;
    const ur_layer *L = &c->m->layers[j->layer];
    const int l = j->layer, qd = hp->q_dim, kvd = hp->kv_dim, hd = hp->head_dim;
    const float *table = L->swa ? c->rope_cs_swa : c->rope_cs;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        ur_ctx *rc = c->row_ctx[t];
        float *q = c->q + (size_t)t * qd, *k = c->k + (size_t)t * kvd;
        const float *cs = table + (size_t)t * hp->n_rot;
        qk_norm(q, &L->q_norm, hp, hp->n_heads);
        qk_norm(k, &L->k_norm, hp, hp->n_kv_heads);
        for (int h = 0; h < hp->n_heads; h++) ur_rope(q + (size_t)h * hd, cs, hp->n_rot, hp->rope_neox);
        for (int h = 0; h < hp->n_kv_heads; h++) ur_rope(k + (size_t)h * hd, cs, hp->n_rot, hp->rope_neox);
        if (hp->q_prescale)
            for (int i = 0; i < qd; i++) q[i] *= hp->attn_scale;
        const size_t row = ur_kv_row(rc, l, c->row_pos[t]);
        ur_f32_to_f16_row(rc->k_cache + row, k, kvd);
        ur_f32_to_f16_row(rc->v_cache + row, c->v + (size_t)t * kvd, kvd);
    }
}

/* Causal self-attention for the chunk's nb queries, row t (at position p) against
 * positions [lo, p] of its context's cache, lo = 0 or, in a sliding layer,
 * max(0, p - W + 1): f32 queries, keys and values widened from the F16 cache, an
 * exact (two-pass) softmax and f32 accumulation, as llama.cpp's tiled flash
 * attention (its path for batches of 64+ queries; its soft-capping is
 * c tanh(s (scale / c))); its path for smaller batches rounds q and the running
 * output to F16 instead. A task (ur_attend, src/tensor/attn.c) is the heads that
 * share one KV head, times up to UR_ATTN_MAXQ / group consecutive rows of one
 * sequence (c->blk): they read and widen the cache once. */
typedef struct attn_plan {
    int hps, subs, nblk; /* heads per task, tasks per KV head, row blocks */
} attn_plan;

static void attention_body(void *arg, int64_t task0, int64_t task1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const attn_plan *pl = j->aux;
    const int layer = j->layer;
    const ur_hparams *hp = &c->m->hp;
    const int swa = c->m->layers[layer].swa;
    const int hd = hp->head_dim, group = hp->n_heads / hp->n_kv_heads;
    const float scale = hp->q_prescale ? 1.0f : hp->attn_scale, cap = hp->attn_softcap;
    float *scratch = c->scores + (size_t)tid * c->scores_per_thread;
    for (int task = (int)task0; task < (int)task1; task++) {
        const int blk = task / (hp->n_kv_heads * pl->subs), g = task / pl->subs % hp->n_kv_heads, sub = task % pl->subs;
        const int t0 = c->blk[blk], t1 = c->blk[blk + 1];
        const int h0 = g * group + sub * pl->hps, h1 = h0 + pl->hps < (g + 1) * group ? h0 + pl->hps : (g + 1) * group;
        const ur_ctx *rc = c->row_ctx[t0];
        ur_attn a = {.nq = 0, .hd = hd, .rows = rc->kv_rows[layer], .kv_stride = hp->kv_dim,
                     .k = rc->k_cache + rc->kv_off[layer] + (size_t)g * hd, .v = rc->v_cache + rc->kv_off[layer] + (size_t)g * hd,
                     .scale = cap > 0 ? scale / cap : scale, .cap = cap};
        for (int t = t0; t < t1; t++) {
            const int p = c->row_pos[t], lo = swa && p - hp->swa_window + 1 > 0 ? p - hp->swa_window + 1 : 0;
            for (int h = h0; h < h1; h++) {
                a.q[a.nq] = c->q + (size_t)t * hp->q_dim + (size_t)h * hd;
                a.out[a.nq] = c->att + (size_t)t * hp->q_dim + (size_t)h * hd;
                a.lo[a.nq] = lo, a.hi[a.nq++] = p;
            }
        }
        ur_attend(&a, scratch);
    }
}

/* Rows into blocks (consecutive positions of one context, at most rmax rows), then
 * tasks of (block, KV head, heads) taken dynamically in chunks: tasks differ in length
 * (rows attend to different numbers of positions). */
static void attention(ur_ctx *c, int layer, int nb) {
    const ur_hparams *hp = &c->m->hp;
    const int group = hp->n_heads / hp->n_kv_heads;
    attn_plan pl = {group < UR_ATTN_MAXQ ? group : UR_ATTN_MAXQ, 0, 0};
    pl.subs = (group + pl.hps - 1) / pl.hps;
    const int rmax = UR_ATTN_MAXQ / pl.hps;
    for (int t = 0; t < nb; t++) {
        const int b = pl.nblk;
        if (t == 0 || c->row_ctx[t] != c->row_ctx[t - 1] || c->row_pos[t] != c->row_pos[t - 1] + 1 || t - c->blk[b - 1] >= rmax)
            c->blk[pl.nblk++] = t;
    }
    c->blk[pl.nblk] = nb;
    rows_job j = {c, NULL, NULL, NULL, layer, &pl};
    const int tasks = pl.nblk * hp->n_kv_heads * pl.subs, chunk = tasks / (16 * c->nt);
    ur_pool_for(tasks > 1 ? c->pool : NULL, tasks, chunk > 1 ? chunk : 1, attention_body, &j);
}

/* x += tmp over rows [t0, t1) (the residual connections) */
static void residual_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const size_t dim = (size_t)j->c->m->hp.dim;
    (void)tid;
    for (size_t i = (size_t)t0 * dim; i < (size_t)t1 * dim; i++) j->c->x[i] += j->c->tmp[i];
}

/* gate = act(gate) * up over rows [t0, t1) */
static void act_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const size_t ff = (size_t)c->m->hp.ff;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        float *g = c->gate + t * ff;
        if (c->m->hp.act == UR_ACT_GELU) ur_geglu(g, g, c->up + t * ff, (int)ff);
        else ur_swiglu(g, g, c->up + t * ff, (int)ff);
    }
}

void ur_layer_forward(ur_ctx *c, int l, int nb) {
    const ur_hparams *hp = &c->m->hp;
    const ur_layer *L = &c->m->layers[l];
    const int pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST;
    rows_job j = {c, NULL, NULL, NULL, l, NULL};
    ur_pool *pool = nb > 1 ? c->pool : NULL;

    /* attention block */
    const float *a = c->x;
    if (pre) rmsnorm_rows(c, c->xn, c->x, &L->attn_norm, nb), a = c->xn;
    const ur_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[3] = {c->q, c->k, c->v};
    matmul_shared(c, a, nb, qkv, qkv_out, 3);
    add_bias(c->q, &L->bq, nb, hp->q_dim);
    add_bias(c->k, &L->bk, nb, hp->kv_dim);
    add_bias(c->v, &L->bv, nb, hp->kv_dim);
    ur_pool_for(pool, nb, 0, rope_store_body, &j);
    attention(c, l, nb);
    matmul(c, &L->wo, c->att, nb, c->tmp);
    add_bias(c->tmp, &L->bo, nb, hp->dim);
    if (post) rmsnorm_rows(c, c->tmp, c->tmp, &L->attn_post_norm, nb);
    ur_pool_for(pool, nb, 0, residual_body, &j);

    /* feed-forward block */
    a = c->x;
    if (pre) rmsnorm_rows(c, c->xn, c->x, &L->ffn_norm, nb), a = c->xn;
    const ur_weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {c->gate, c->up};
    matmul_shared(c, a, nb, gu, gu_out, 2);
    ur_pool_for(pool, nb, 0, act_body, &j);
    matmul(c, &L->w_down, c->gate, nb, c->tmp);
    if (post) rmsnorm_rows(c, c->tmp, c->tmp, &L->ffn_post_norm, nb);
    ur_pool_for(pool, nb, 0, residual_body, &j);
}

/* y[i] = cap tanh(y[i] / cap) for elements [i0, i1) (ggml's scale by 1/cap, tanh, scale by cap) */
static void softcap_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const rows_job *j = arg;
    const float cap = j->c->m->hp.final_softcap, inv = 1.0f / cap;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) j->y[i] = tanhf(j->y[i] * inv) * cap;
}

void ur_output_norm(ur_ctx *c, const float *xs, int nb, float *out) {
    rmsnorm_rows(c, out, xs, &c->m->output_norm, nb);
}

void ur_output_forward(ur_ctx *c, const float *xs, int nb, float *logits) {
    const ur_model *m = c->m;
    rmsnorm_rows(c, c->xn, xs, &m->output_norm, nb);
    matmul(c, &m->output, c->xn, nb, logits);
    add_bias(logits, &m->output_b, nb, m->hp.n_vocab);
    if (m->hp.final_softcap > 0) {
        rows_job j = {c, logits, NULL, NULL, 0, NULL};
        ur_pool_for(c->pool, (int64_t)nb * m->hp.n_vocab, 16384, softcap_body, &j); /* ~3 ms of tanhf per 256k row */
    }
}
