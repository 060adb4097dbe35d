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
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/ctx_int.h"
#include "tensor/ops.h"
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
    c->nt = p.n_threads > 0 ? p.n_threads : ur_n_cores();
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
    free(c);
}

const ur_model *ur_ctx_model(const ur_ctx *c) { return c->m; }
int ur_ctx_n_ctx(const ur_ctx *c) { return c->n_ctx; }
int ur_ctx_n_past(const ur_ctx *c) { return c->n_past; }
int ur_ctx_threads(const ur_ctx *c) { return c->nt; }
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
    ur_act_prepare(&c->act, ur_act_type(w->type), x, nb, w->cols, c->nt);
    ur_matmul(w->data, w->type, w->rows, &c->act, y, w->rows, c->nt);
}

/* Two or three matrices sharing one input (q/k/v, gate/up): convert x once when
 * their activation types agree. */
static void matmul_shared(ur_ctx *c, const float *x, int nb, const ur_weight **ws, float **ys, int n) {
    int prepared = -1;
    for (int i = 0; i < n; i++) {
        int at = ur_act_type(ws[i]->type);
        if (at != prepared) {
            ur_act_prepare(&c->act, at, x, nb, ws[i]->cols, c->nt);
            prepared = at;
        }
        ur_matmul(ws[i]->data, ws[i]->type, ws[i]->rows, &c->act, ys[i], ws[i]->rows, c->nt);
    }
}

static void rmsnorm_rows(ur_ctx *c, float *y, const float *x, const ur_weight *w, int nb) {
    const int dim = c->m->hp.dim;
    const float eps = c->m->hp.rms_eps;
#pragma omp parallel for num_threads(c->nt) if (nb > 1)
    for (int t = 0; t < nb; t++) ur_rmsnorm(y + (size_t)t * dim, x + (size_t)t * dim, w->data, dim, eps);
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
static void attention(ur_ctx *c, int layer, int nb) {
    const ur_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim, nh = hp->n_heads, group = hp->n_heads / hp->n_kv_heads, kvd = c->kv_dim;
    const float scale = 1.0f / sqrtf((float)hd);
    const int tasks = nb * nh;
#pragma omp parallel num_threads(c->nt) if (tasks > 1)
    {
        const int tid = omp_get_thread_num(), ntid = omp_get_num_threads();
        float *s = c->scores + (size_t)tid * c->n_ctx;
        for (int task = tid; task < tasks; task += ntid) {
            const int t = task / nh, h = task % nh, g = h / group;
            const ur_ctx *rc = c->row_ctx[t];
            const uint16_t *kc = rc->k_cache + (size_t)layer * rc->n_ctx * kvd;
            const uint16_t *vc = rc->v_cache + (size_t)layer * rc->n_ctx * kvd;
            const int n_kv = c->row_pos[t] + 1;
            const float *qh = c->q + (size_t)t * hp->dim + (size_t)h * hd;
            for (int j = 0; j < n_kv; j++) s[j] = ur_dot_f32_f16(qh, kc + (size_t)j * kvd + (size_t)g * hd, hd) * scale;
            ur_softmax(s, n_kv);
            float *out = c->att + (size_t)t * hp->dim + (size_t)h * hd;
            memset(out, 0, sizeof(float) * (size_t)hd);
            for (int j = 0; j < n_kv; j++)
                ur_axpy_f16(out, vc + (size_t)j * kvd + (size_t)g * hd, s[j], hd);
        }
    }
}

static void layer_forward(ur_ctx *c, int l, int nb) {
    const ur_hparams *hp = &c->m->hp;
    const ur_layer *L = &c->m->layers[l];
    const int dim = hp->dim, kvd = c->kv_dim, ff = hp->ff, hd = hp->head_dim;

    /* attention block */
    rmsnorm_rows(c, c->xn, c->x, &L->attn_norm, nb);
    const ur_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[3] = {c->q, c->k, c->v};
    matmul_shared(c, c->xn, nb, qkv, qkv_out, 3);
    add_bias(c->q, &L->bq, nb, dim);
    add_bias(c->k, &L->bk, nb, kvd);
    add_bias(c->v, &L->bv, nb, kvd);
#pragma omp parallel for num_threads(c->nt) if (nb > 1)
    for (int t = 0; t < nb; t++) {
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
    attention(c, l, nb);
    matmul(c, &L->wo, c->att, nb, c->tmp);
    for (size_t i = 0; i < (size_t)nb * dim; i++) c->x[i] += c->tmp[i];

    /* feed-forward block */
    rmsnorm_rows(c, c->xn, c->x, &L->ffn_norm, nb);
    const ur_weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {c->gate, c->up};
    matmul_shared(c, c->xn, nb, gu, gu_out, 2);
#pragma omp parallel for num_threads(c->nt) if (nb > 1)
    for (int t = 0; t < nb; t++)
        ur_swiglu(c->gate + (size_t)t * ff, c->gate + (size_t)t * ff, c->up + (size_t)t * ff, ff);
    matmul(c, &L->w_down, c->gate, nb, c->tmp);
    for (size_t i = 0; i < (size_t)nb * dim; i++) c->x[i] += c->tmp[i];
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
    for (int t = 0; t < n; t++) {
        c->row_ctx[t] = cs[t];
        c->row_pos[t] = cs[t]->n_past;
    }
    forward_rows(c, tokens, n, logits, logits ? n : 0);
    return 0;
}
