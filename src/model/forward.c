/* The forward pass: a chunk of tokens through every layer, the KV cache, and the
 * logits. Shapes (row-major, one row per token of the chunk):
 *   x, xn, q, att, tmp : [nb][dim]        k, v : [nb][kv_dim]
 *   gate, up           : [nb][ff]         cache: [layer][n_ctx][kv_dim] (F16)
 * The equations are the llama ones:
 *   h  = x + Wo · attention(rope(Wq·n1(x)), rope(Wk·n1(x)), Wv·n1(x))
 *   x' = h + Wdown · (silu(Wgate·n2(h)) * (Wup·n2(h)))
 *   logits = Wout · n3(x_L)
 * where n1/n2/n3 are RMS norms and qwen2 adds biases to q, k and v. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ctx_int.h"
#include "tensor/ops.h"
#include "tensor/quant.h"
#include "urial/model.h"
#include "urial/tensor.h"

static void *xcalloc(size_t n, size_t sz, int *fail) {
    void *p = calloc(n ? n : 1, sz);
    if (!p) *fail = 1;
    return p;
}

ur_ctx *ur_ctx_new(const ur_model *m, ur_ctx_params p, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    ur_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ur_errf(err, "%s: out of memory", m->gguf->path);
        return NULL;
    }
    c->m = m;
    c->n_ctx = p.n_ctx > 0 ? p.n_ctx : hp->n_ctx_train;
    c->n_batch = p.n_batch > 0 ? p.n_batch : 256;
    /* Threads: the context owns a pool of n_threads unless the caller lends one. Pools
     * are per context rather than one per process because a context is what one
     * thread computes with at a time: contexts used from different threads (two
     * engines, a test's helper thread) then never wait for each other, and nothing
     * global hides in the library. Contexts used in turn by one thread (the server's
     * slots) share one pool through p.pool, so their idle workers are not multiplied. */
    if (p.pool) c->pool = p.pool;
    else if (!(c->pool = c->own_pool = ur_pool_new(p.n_threads > 0 ? p.n_threads : ur_n_cores(), err))) {
        free(c);
        return NULL;
    }
    c->nt = ur_pool_threads(c->pool);
    c->kv_dim = hp->n_kv_heads * hp->head_dim;
    size_t nb = (size_t)c->n_batch, dim = (size_t)hp->dim, kvd = (size_t)c->kv_dim, ff = (size_t)hp->ff;
    size_t cache = (size_t)hp->n_layers * (size_t)c->n_ctx * kvd;
    int fail = 0;
    c->tokens = xcalloc((size_t)c->n_ctx, sizeof(int32_t), &fail);
    c->k_cache = xcalloc(cache, sizeof(uint16_t), &fail);
    c->v_cache = xcalloc(cache, sizeof(uint16_t), &fail);
    c->x = xcalloc(nb * dim, sizeof(float), &fail);
    c->xn = xcalloc(nb * dim, sizeof(float), &fail);
    c->q = xcalloc(nb * dim, sizeof(float), &fail);
    c->att = xcalloc(nb * dim, sizeof(float), &fail);
    c->tmp = xcalloc(nb * dim, sizeof(float), &fail);
    c->k = xcalloc(nb * kvd, sizeof(float), &fail);
    c->v = xcalloc(nb * kvd, sizeof(float), &fail);
    c->gate = xcalloc(nb * ff, sizeof(float), &fail);
    c->up = xcalloc(nb * ff, sizeof(float), &fail);
    c->rope_cs = xcalloc(nb * (size_t)hp->n_rot, sizeof(float), &fail);
    c->scores = xcalloc((size_t)c->nt * (size_t)c->n_ctx, sizeof(float), &fail);
    c->row_ctx = xcalloc(nb, sizeof *c->row_ctx, &fail);
    c->row_pos = xcalloc(nb, sizeof *c->row_pos, &fail);
    if (fail) {
        ur_errf(err, "%s: out of memory for a context of %d tokens (KV cache %.1f MiB)", m->gguf->path, c->n_ctx,
                (double)cache * 4 / (1 << 20));
        ur_ctx_free(c);
        return NULL;
    }
    return c;
}

void ur_ctx_free(ur_ctx *c) {
    if (!c) return;
    free(c->k_cache), free(c->v_cache), free(c->x), free(c->xn), free(c->q), free(c->att), free(c->tmp);
    free(c->k), free(c->v), free(c->gate), free(c->up), free(c->rope_cs), free(c->scores), free(c->tokens);
    free(c->row_ctx), free(c->row_pos);
    ur_act_free(&c->act);
    ur_pool_free(c->own_pool);
    free(c);
}

const ur_model *ur_ctx_model(const ur_ctx *c) { return c->m; }
int ur_ctx_n_ctx(const ur_ctx *c) { return c->n_ctx; }
int ur_ctx_n_past(const ur_ctx *c) { return c->n_past; }
int ur_ctx_threads(const ur_ctx *c) { return c->nt; }

void ur_ctx_describe(const ur_ctx *c, uint64_t kv_bytes, ur_buf *out) {
    const ur_model *m = c->m;
    ur_buf_printf(out, "%s: %s, %.2fM params, context %d tokens, KV cache %.1f MiB, %d threads, %s", m->gguf->path,
                  ur_arch_name(m->hp.arch), (double)m->n_params / 1e6, c->n_ctx,
                  (double)(kv_bytes ? kv_bytes : ur_ctx_kv_bytes(c)) / (1 << 20), c->nt, ur_simd_name(ur_simd_level()));
}
ur_pool *ur_ctx_pool(const ur_ctx *c) { return c->pool; }
int ur_ctx_n_batch(const ur_ctx *c) { return c->n_batch; }
const int32_t *ur_ctx_tokens(const ur_ctx *c) { return c->tokens; }
uint64_t ur_ctx_kv_bytes(const ur_ctx *c) {
    return 2ull * (uint64_t)c->m->hp.n_layers * (uint64_t)c->n_ctx * (uint64_t)c->kv_dim * sizeof(uint16_t);
}
void ur_ctx_truncate(ur_ctx *c, int n) {
    if (n < c->n_past) c->n_past = n < 0 ? 0 : n;
}

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
} rows_job;

static void rmsnorm_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const int dim = j->c->m->hp.dim;
    (void)tid;
    for (int64_t t = t0; t < t1; t++)
        ur_rmsnorm(j->y + (size_t)t * dim, j->x + (size_t)t * dim, j->w->data, dim, j->c->m->hp.rms_eps);
}

static void rmsnorm_rows(ur_ctx *c, float *y, const float *x, const ur_weight *w, int nb) {
    rows_job j = {c, y, x, w, 0};
    ur_pool_for(nb > 1 ? c->pool : NULL, nb, 0, rmsnorm_body, &j);
}

static void add_bias(float *y, const ur_weight *b, int nb, int n) {
    if (!b->data) return;
    const float *bias = b->data;
    for (int t = 0; t < nb; t++)
        for (int i = 0; i < n; i++) y[(size_t)t * n + i] += bias[i];
}

/* Causal self-attention for the chunk's nb queries, row t against positions
 * [0, row_pos[t]] of its context's cache: f32 queries, keys and values widened from the F16 cache, an
 * exact (two-pass) softmax and f32 accumulation. This is the arithmetic of
 * llama.cpp's tiled flash attention (its path for batches of 64+ queries); its
 * path for smaller batches rounds q and the running output to F16 instead. */
static void attention_body(void *arg, int64_t task0, int64_t task1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const int layer = j->layer;
    const ur_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim, nh = hp->n_heads, group = hp->n_heads / hp->n_kv_heads, kvd = c->kv_dim;
    const float scale = 1.0f / sqrtf((float)hd);
    float *s = c->scores + (size_t)tid * c->n_ctx; /* this thread's [n_ctx] scores */
    for (int task = (int)task0; task < (int)task1; task++) {
        const int t = task / nh, h = task % nh, g = h / group;
        const ur_ctx *rc = c->row_ctx[t];
        const uint16_t *kc = rc->k_cache + (size_t)layer * rc->n_ctx * kvd;
        const uint16_t *vc = rc->v_cache + (size_t)layer * rc->n_ctx * kvd;
        const int n_kv = c->row_pos[t] + 1;
        const float *qh = c->q + (size_t)t * hp->dim + (size_t)h * hd;
        for (int i = 0; i < n_kv; i++) s[i] = ur_dot_f32_f16(qh, kc + (size_t)i * kvd + (size_t)g * hd, hd) * scale;
        ur_softmax(s, n_kv);
        float *out = c->att + (size_t)t * hp->dim + (size_t)h * hd;
        memset(out, 0, sizeof(float) * (size_t)hd);
        for (int i = 0; i < n_kv; i++)
            ur_axpy_f16(out, vc + (size_t)i * kvd + (size_t)g * hd, s[i], hd);
    }
}

/* One task per (row, head), in chunks of about 1/16 of a thread's share: tasks
 * differ in length (rows attend to different numbers of positions), so they are taken
 * dynamically, but a prefill's thousands of short tasks are not handed out one by one. */
static void attention(ur_ctx *c, int layer, int nb) {
    rows_job j = {c, NULL, NULL, NULL, layer};
    const int tasks = nb * c->m->hp.n_heads, chunk = tasks / (16 * c->nt);
    ur_pool_for(tasks > 1 ? c->pool : NULL, tasks, chunk > 1 ? chunk : 1, attention_body, &j);
}

/* rope on q and k of rows [t0, t1), then k and v into their contexts' caches */
static void rope_store_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const ur_hparams *hp = &c->m->hp;
    const int l = j->layer, dim = hp->dim, kvd = c->kv_dim, hd = hp->head_dim;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        ur_ctx *rc = c->row_ctx[t];
        uint16_t *kc = rc->k_cache + ((size_t)l * rc->n_ctx + (size_t)c->row_pos[t]) * kvd;
        uint16_t *vc = rc->v_cache + ((size_t)l * rc->n_ctx + (size_t)c->row_pos[t]) * kvd;
        const float *cs = c->rope_cs + (size_t)t * hp->n_rot;
        for (int h = 0; h < hp->n_heads; h++) ur_rope(c->q + (size_t)t * dim + (size_t)h * hd, cs, hp->n_rot, hp->rope_neox);
        for (int h = 0; h < hp->n_kv_heads; h++)
            ur_rope(c->k + (size_t)t * kvd + (size_t)h * hd, cs, hp->n_rot, hp->rope_neox);
        ur_f32_to_f16_row(kc, c->k + (size_t)t * kvd, kvd);
        ur_f32_to_f16_row(vc, c->v + (size_t)t * kvd, kvd);
    }
}

/* x += tmp over rows [t0, t1) (the residual connections) */
static void residual_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const size_t dim = (size_t)j->c->m->hp.dim;
    (void)tid;
    for (size_t i = (size_t)t0 * dim; i < (size_t)t1 * dim; i++) j->c->x[i] += j->c->tmp[i];
}

static void swiglu_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rows_job *j = arg;
    const ur_ctx *c = j->c;
    const size_t ff = (size_t)c->m->hp.ff;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) ur_swiglu(c->gate + t * ff, c->gate + t * ff, c->up + t * ff, (int)ff);
}

static void layer_forward(ur_ctx *c, int l, int nb) {
    const ur_hparams *hp = &c->m->hp;
    const ur_layer *L = &c->m->layers[l];
    const int dim = hp->dim, kvd = c->kv_dim;
    rows_job j = {c, NULL, NULL, NULL, l};
    ur_pool *pool = nb > 1 ? c->pool : NULL;

    /* attention block */
    rmsnorm_rows(c, c->xn, c->x, &L->attn_norm, nb);
    const ur_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[3] = {c->q, c->k, c->v};
    matmul_shared(c, c->xn, nb, qkv, qkv_out, 3);
    add_bias(c->q, &L->bq, nb, dim);
    add_bias(c->k, &L->bk, nb, kvd);
    add_bias(c->v, &L->bv, nb, kvd);
    ur_pool_for(pool, nb, 0, rope_store_body, &j);
    attention(c, l, nb);
    matmul(c, &L->wo, c->att, nb, c->tmp);
    ur_pool_for(pool, nb, 0, residual_body, &j);

    /* feed-forward block */
    rmsnorm_rows(c, c->xn, c->x, &L->ffn_norm, nb);
    const ur_weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {c->gate, c->up};
    matmul_shared(c, c->xn, nb, gu, gu_out, 2);
    ur_pool_for(pool, nb, 0, swiglu_body, &j);
    matmul(c, &L->w_down, c->gate, nb, c->tmp);
    ur_pool_for(pool, nb, 0, residual_body, &j);
}

/* nb <= n_batch rows through every layer in c's scratch buffers, each row going to
 * the context and position in c->row_ctx / c->row_pos (set by the caller), and
 * appended to that context's tokens. out_rows: logits for the last out_rows rows. */
static void forward_rows(ur_ctx *c, const int32_t *tokens, int nb, float *logits, int out_rows) {
    const ur_model *m = c->m;
    const ur_hparams *hp = &m->hp;
    const int dim = hp->dim;
    for (int t = 0; t < nb; t++)
        ur_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                          c->x + (size_t)t * dim, dim);
    for (int t = 0; t < nb; t++)
        ur_rope_cache(c->rope_cs + (size_t)t * hp->n_rot, (float)c->row_pos[t], hp->n_rot, hp->rope_base,
                      hp->rope_scale, m->rope_freqs);
    for (int l = 0; l < hp->n_layers; l++) layer_forward(c, l, nb);
    for (int t = 0; t < nb; t++) {
        ur_ctx *rc = c->row_ctx[t];
        rc->tokens[c->row_pos[t]] = tokens[t];
        rc->n_past = c->row_pos[t] + 1;
    }
    if (!out_rows) return;
    const float *xs = c->x + (size_t)(nb - out_rows) * dim;
    rmsnorm_rows(c, c->xn, xs, &m->output_norm, out_rows);
    matmul(c, &m->output, c->xn, out_rows, logits);
}

/* One chunk of nb <= n_batch tokens of c's own sequence. out_rows: 0 = no logits,
 * 1 = last token only, nb = all. */
static void forward_chunk(ur_ctx *c, const int32_t *tokens, int nb, float *logits, int out_rows) {
    for (int t = 0; t < nb; t++) {
        c->row_ctx[t] = c;
        c->row_pos[t] = c->n_past + t;
    }
    forward_rows(c, tokens, nb, logits, out_rows);
}

int ur_decode_last(ur_ctx *c, const int32_t *tokens, int n, float *logits, int n_out, ur_err *err) {
    const ur_model *m = c->m;
    const int nv = m->hp.n_vocab;
    if (n <= 0) return ur_errf(err, "%s: nothing to decode (0 tokens)", m->gguf->path);
    if (n > c->n_ctx - c->n_past)
        return ur_errf(err, "%s: %d tokens do not fit: %d of the context's %d positions are free", m->gguf->path, n,
                       c->n_ctx - c->n_past, c->n_ctx);
    if (n_out < 0 || n_out > n || (n_out && !logits))
        return ur_errf(err, "%s: cannot return logits for %d of %d positions", m->gguf->path, n_out, n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return ur_errf(err, "%s: token id %d (position %d) is out of range [0, %d)", m->gguf->path, tokens[i], i,
                           nv);
    const int first = n - n_out; /* the first position with a logits row */
    for (int i0 = 0; i0 < n; i0 += c->n_batch) {
        int nb = n - i0 < c->n_batch ? n - i0 : c->n_batch;
        int from = i0 > first ? i0 : first; /* this chunk's rows [from, i0 + nb), a tail of the chunk */
        int rows = i0 + nb > from ? i0 + nb - from : 0;
        forward_chunk(c, tokens + i0, nb, rows ? logits + (size_t)(from - first) * nv : NULL, rows);
    }
    return 0;
}

int ur_decode(ur_ctx *c, const int32_t *tokens, int n, float *logits, int all, ur_err *err) {
    return ur_decode_last(c, tokens, n, logits, !logits ? 0 : all ? n : 1, err);
}

/* One token for each of n contexts in one forward pass: every matrix is read once
 * for all of them (decoding is bound by reading the weights, so n sequences cost
 * about as much as one), while each row attends to its own context's cache. The
 * first context's scratch buffers and threads are used. */
int ur_decode_batch(ur_ctx *const *cs, const int32_t *tokens, int n, float *logits, ur_err *err) {
    if (n <= 0) return ur_errf(err, "decode batch: no contexts");
    ur_ctx *c = cs[0];
    const ur_model *m = c->m;
    const int nv = m->hp.n_vocab;
    if (n > c->n_batch)
        return ur_errf(err, "%s: %d sequences in one batch, at most %d (n_batch)", m->gguf->path, n, c->n_batch);
    for (int i = 0; i < n; i++) {
        const ur_ctx *ci = cs[i];
        if (ci->m != m || ci->n_ctx != c->n_ctx)
            return ur_errf(err, "%s: decode batch: context %d is for another model or context length", m->gguf->path, i);
        for (int j = 0; j < i; j++)
            if (cs[j] == ci) return ur_errf(err, "%s: decode batch: context %d appears twice", m->gguf->path, i);
        if (ci->n_past >= ci->n_ctx)
            return ur_errf(err, "%s: decode batch: context %d is full (%d tokens)", m->gguf->path, i, ci->n_ctx);
        if (tokens[i] < 0 || tokens[i] >= nv)
            return ur_errf(err, "%s: token id %d (sequence %d) is out of range [0, %d)", m->gguf->path, tokens[i], i, nv);
    }
    /* Groups of fewer than UR_PANEL_MIN_N rows: the matrix products then take the
     * GEMV kernels, which sum every output in the order a single token's decode does,
     * so a sequence's logits do not depend on what else is in the batch (the panel
     * GEMM sums in another order; tests/unit/test_decode_batch.c holds 20 sequences
     * bit-identical to 20 decoded alone). A batch of 16 to 30 reads the weights twice. */
    const int G = UR_PANEL_MIN_N - 1;
    for (int t0 = 0; t0 < n; t0 += G) {
        const int g = n - t0 < G ? n - t0 : G;
        for (int t = 0; t < g; t++) {
            c->row_ctx[t] = cs[t0 + t];
            c->row_pos[t] = cs[t0 + t]->n_past;
        }
        forward_rows(c, tokens + t0, g, logits ? logits + (size_t)t0 * nv : NULL, logits ? g : 0);
    }
    return 0;
}
