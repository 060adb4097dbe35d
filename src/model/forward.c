/* Contexts and the decode calls: a chunk of tokens through every layer (layer.c),
 * the KV cache, and the logits. A context owns its KV cache (ctx_int.h: per-layer
 * rows, rings for sliding-window layers) and scratch for chunks of n_batch rows. */
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

/* The rows of each layer's cache: n_ctx, except sliding layers when a ring of
 * W - 1 + n_batch + min(W, 1024) rows is shorter (ctx_int.h). */
static void kv_layout(ur_ctx *c) {
    const ur_model *m = c->m;
    const ur_hparams *hp = &m->hp;
    const int64_t w = hp->swa_window, ring = w - 1 + c->n_batch + (w < 1024 ? w : 1024);
    c->swa_rows = hp->swa_window > 0 && ring < c->n_ctx ? (int)ring : c->n_ctx;
    c->kv_elems = 0;
    for (int l = 0; l < hp->n_layers; l++) {
        c->kv_rows[l] = m->layers[l].swa ? c->swa_rows : c->n_ctx;
        c->kv_off[l] = c->kv_elems;
        c->kv_elems += (size_t)c->kv_rows[l] * (size_t)c->kv_dim;
    }
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
    c->kv_dim = hp->kv_dim;
    c->rope_ff = ur_model_rope_factors(m, c->n_ctx);
    size_t nb = (size_t)c->n_batch, dim = (size_t)hp->dim, qd = (size_t)hp->q_dim, kvd = (size_t)c->kv_dim;
    size_t ff = (size_t)hp->ff;
    int fail = 0;
    c->kv_off = xcalloc((size_t)hp->n_layers, sizeof *c->kv_off, &fail);
    c->kv_rows = xcalloc((size_t)hp->n_layers, sizeof *c->kv_rows, &fail);
    if (!fail) kv_layout(c);
    c->tokens = xcalloc((size_t)c->n_ctx, sizeof(int32_t), &fail);
    c->k_cache = xcalloc(c->kv_elems, sizeof(uint16_t), &fail);
    c->v_cache = xcalloc(c->kv_elems, sizeof(uint16_t), &fail);
    c->x = xcalloc(nb * dim, sizeof(float), &fail);
    c->xn = xcalloc(nb * dim, sizeof(float), &fail);
    c->tmp = xcalloc(nb * dim, sizeof(float), &fail);
    c->q = xcalloc(nb * qd, sizeof(float), &fail);
    c->att = xcalloc(nb * qd, sizeof(float), &fail);
    c->k = xcalloc(nb * kvd, sizeof(float), &fail);
    c->v = xcalloc(nb * kvd, sizeof(float), &fail);
    c->gate = xcalloc(nb * ff, sizeof(float), &fail);
    c->up = xcalloc(nb * ff, sizeof(float), &fail);
    c->rope_cs = xcalloc(nb * (size_t)hp->n_rot, sizeof(float), &fail);
    const int own_swa_rope = m->n_swa_layers && (hp->rope_base_swa != hp->rope_base || hp->rope_scale_swa != hp->rope_scale);
    c->rope_cs_swa = own_swa_rope ? xcalloc(nb * (size_t)hp->n_rot, sizeof(float), &fail) : c->rope_cs;
    c->scores_per_thread = ur_attend_scratch(c->n_ctx, hp->head_dim);
    c->scores = xcalloc((size_t)c->nt * c->scores_per_thread, sizeof(float), &fail);
    c->blk = xcalloc(nb + 1, sizeof *c->blk, &fail);
    c->row_ctx = xcalloc(nb, sizeof *c->row_ctx, &fail);
    c->row_pos = xcalloc(nb, sizeof *c->row_pos, &fail);
    if (fail) {
        ur_errf(err, "%s: out of memory for a context of %d tokens (KV cache %.1f MiB)", m->gguf->path, c->n_ctx,
                (double)c->kv_elems * 4 / (1 << 20));
        ur_ctx_free(c);
        return NULL;
    }
    return c;
}

void ur_ctx_free(ur_ctx *c) {
    if (!c) return;
    free(c->k_cache), free(c->v_cache), free(c->x), free(c->xn), free(c->q), free(c->att), free(c->tmp);
    free(c->k), free(c->v), free(c->gate), free(c->up), free(c->scores), free(c->blk), free(c->tokens);
    if (c->rope_cs_swa != c->rope_cs) free(c->rope_cs_swa);
    free(c->rope_cs), free(c->kv_off), free(c->kv_rows);
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
uint64_t ur_ctx_kv_bytes(const ur_ctx *c) { return 2ull * c->kv_elems * sizeof(uint16_t); }

/* Keep positions [0, n). Position n then reads the sliding layers' positions from
 * n - W + 1 on: if a ring has overwritten some of them, nothing short of recomputing
 * the sequence brings them back, so the next decode does that (from tokens[0]). */
void ur_ctx_truncate(ur_ctx *c, int n) {
    if (n < 0) n = 0;
    if (n >= c->n_past) return;
    c->n_past = n;
    if (c->n_kv > n) c->n_kv = n;
    const int need = n - c->m->hp.swa_window + 1; /* the oldest position n reads in a sliding layer */
    if (n > 0 && c->swa_lo > (need > 0 ? need : 0)) c->n_kv = 0, c->swa_lo = 0;
}

/* nb <= n_batch rows through every layer in c's scratch buffers, each row going to
 * the context and position in c->row_ctx / c->row_pos (set by the caller), and
 * stored in that context's tokens. out_rows: logits for the last out_rows rows. */
static void forward_rows(ur_ctx *c, const int32_t *tokens, int nb, float *logits, int out_rows) {
    const ur_model *m = c->m;
    const ur_hparams *hp = &m->hp;
    const int dim = hp->dim;
    for (int t = 0; t < nb; t++) {
        float *x = c->x + (size_t)t * dim;
        ur_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                          x, dim);
        if (hp->embd_scale != 1.0f)
            for (int i = 0; i < dim; i++) x[i] *= hp->embd_scale;
    }
    for (int t = 0; t < nb; t++) {
        ur_rope_cache(c->rope_cs + (size_t)t * hp->n_rot, (float)c->row_pos[t], hp->n_rot, hp->rope_base,
                      hp->rope_scale, c->rope_ff, hp->rope_attn_factor);
        if (c->rope_cs_swa != c->rope_cs) /* sliding layers: their own base and scale, no factors */
            ur_rope_cache(c->rope_cs_swa + (size_t)t * hp->n_rot, (float)c->row_pos[t], hp->n_rot, hp->rope_base_swa,
                          hp->rope_scale_swa, NULL, 1.0f);
    }
    for (int l = 0; l < hp->n_layers; l++) ur_layer_forward(c, l, nb);
    for (int t = 0; t < nb; t++) {
        ur_ctx *rc = c->row_ctx[t];
        const int p = c->row_pos[t];
        rc->tokens[p] = tokens[t];
        if (p + 1 > rc->n_past) rc->n_past = p + 1;
        rc->n_kv = p + 1;
        if (rc->swa_rows < rc->n_ctx && p - rc->swa_rows + 1 > rc->swa_lo) rc->swa_lo = p - rc->swa_rows + 1;
    }
    if (out_rows) ur_output_forward(c, c->x + (size_t)(nb - out_rows) * dim, out_rows, logits);
}

/* One chunk of nb <= n_batch tokens of c's own sequence at positions pos0.. .
 * out_rows: 0 = no logits, 1 = last token only, nb = all. */
static void forward_chunk(ur_ctx *c, const int32_t *tokens, int nb, int pos0, float *logits, int out_rows) {
    for (int t = 0; t < nb; t++) {
        c->row_ctx[t] = c;
        c->row_pos[t] = pos0 + t;
    }
    forward_rows(c, tokens, nb, logits, out_rows);
}

/* After a rewind the rings could not serve (ur_ctx_truncate): recompute the
 * context's tokens [n_kv, n_past) before anything new. */
static void replay(ur_ctx *c) {
    while (c->n_kv < c->n_past) {
        const int nb = c->n_past - c->n_kv < c->n_batch ? c->n_past - c->n_kv : c->n_batch;
        forward_chunk(c, c->tokens + c->n_kv, nb, c->n_kv, NULL, 0);
    }
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
    replay(c);
    const int first = n - n_out, pos0 = c->n_past; /* first: the first position with a logits row */
    for (int i0 = 0; i0 < n; i0 += c->n_batch) {
        int nb = n - i0 < c->n_batch ? n - i0 : c->n_batch;
        int from = i0 > first ? i0 : first; /* this chunk's rows [from, i0 + nb), a tail of the chunk */
        int rows = i0 + nb > from ? i0 + nb - from : 0;
        forward_chunk(c, tokens + i0, nb, pos0 + i0, rows ? logits + (size_t)(from - first) * nv : NULL, rows);
    }
    return 0;
}

int ur_decode_hidden(ur_ctx *c, const int32_t *tokens, int n, float *mean, float *rows, ur_err *err) {
    const ur_model *m = c->m;
    const int dim = m->hp.dim;
    if (n <= 0) return ur_errf(err, "%s: nothing to decode (0 tokens)", m->gguf->path);
    if (n > c->n_ctx - c->n_past)
        return ur_errf(err, "%s: %d tokens do not fit: %d of the context's %d positions are free", m->gguf->path, n,
                       c->n_ctx - c->n_past, c->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
            return ur_errf(err, "%s: token id %d (position %d) is out of range", m->gguf->path, tokens[i], i);
    replay(c);
    double *acc = calloc((size_t)dim, sizeof *acc);
    if (!acc) return ur_errf(err, "%s: out of memory", m->gguf->path);
    const int pos0 = c->n_past;
    for (int i0 = 0; i0 < n; i0 += c->n_batch) {
        const int nb = n - i0 < c->n_batch ? n - i0 : c->n_batch;
        forward_chunk(c, tokens + i0, nb, pos0 + i0, NULL, 0);
        ur_output_norm(c, c->x, nb, c->xn); /* xn: free scratch after the layers */
        for (int t = 0; t < nb; t++) {
            const float *h = c->xn + (size_t)t * dim;
            for (int d = 0; d < dim; d++) acc[d] += h[d];
            if (rows) memcpy(rows + (size_t)(i0 + t) * dim, h, sizeof(float) * (size_t)dim);
        }
    }
    for (int d = 0; d < dim; d++) mean[d] = (float)(acc[d] / n);
    free(acc);
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
     * bit-identical to 20 decoded alone). A batch of 16 to 30 reads the weights twice.
     * A group also fits c's scratch of n_batch rows. */
    const int G = UR_PANEL_MIN_N - 1 < c->n_batch ? UR_PANEL_MIN_N - 1 : c->n_batch;
    for (int t = 0; t < n; t++) replay(cs[t]);
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
