/* Model loading: hyperparameters from GGUF metadata (arch.c), weight views into the
 * mapping (never copied), shape and type checks with one-line errors. Which tensors
 * a layer has follows the architecture's row of the table; a tensor the file holds
 * but no variation uses is an error (as in llama.cpp), never silently ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "urial/model.h"
#include "urial/tensor.h"

/* Binding state: which of the file's tensors something uses. */
typedef struct binder {
    const ur_model *m;
    uint8_t *used; /* [n_tensors] */
} binder;

/* Bind tensor `name` expecting ne = {cols, rows} (rows = 0 for a vector). */
static int bind(binder *bd, ur_weight *w, const char *name, int64_t cols, int64_t rows, int optional, int float_only,
                ur_err *err) {
    const ur_gguf *g = bd->m->gguf;
    const ur_gguf_tensor *t = ur_gguf_find_tensor(g, name);
    memset(w, 0, sizeof *w);
    if (!t) return optional ? 0 : ur_errf(err, "%s: missing tensor '%s'", g->path, name);
    int want_dims = rows ? 2 : 1;
    int64_t ne1 = t->n_dims > 1 ? t->ne[1] : 1;
    if (t->n_dims != want_dims || t->ne[0] != cols || (rows && ne1 != rows)) {
        char want[64], got[96];
        if (rows) snprintf(want, sizeof want, "[%lld, %lld]", (long long)cols, (long long)rows);
        else snprintf(want, sizeof want, "[%lld]", (long long)cols);
        int n = snprintf(got, sizeof got, "[");
        for (int i = 0; i < t->n_dims; i++)
            n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", i ? ", " : "", (long long)t->ne[i]);
        snprintf(got + n, sizeof got - (size_t)n, "]");
        return ur_errf(err, "%s: tensor '%s' has shape %s, expected %s", g->path, name, got, want);
    }
    if (float_only && t->type != UR_TYPE_F32)
        return ur_errf(err, "%s: tensor '%s' has type %s, expected f32", g->path, name, ur_type_name(t->type));
    w->data = t->data;
    w->type = t->type;
    w->cols = cols;
    w->rows = rows ? rows : 1;
    w->row_bytes = ur_row_size(t->type, cols);
    bd->used[t - g->tensors] = 1;
    return 0;
}

/* Rows [r0, r0 + n) of a matrix, or elements [r0, r0 + n) of an F32 vector: the
 * parts of a fused projection. */
static ur_weight part(const ur_weight *w, int64_t r0, int64_t n) {
    ur_weight v = *w;
    if (!w->data) return v;
    if (w->rows == 1 && w->cols > 1 && w->type == UR_TYPE_F32) { /* a bias vector */
        v.data = (const float *)w->data + r0;
        v.cols = n;
        v.row_bytes = ur_row_size(w->type, n);
    } else {
        v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
        v.rows = n;
    }
    return v;
}

/* blk.<l>.<suffix> */
static const char *lname(char *buf, size_t cap, int l, const char *suffix) {
    snprintf(buf, cap, "blk.%d.%s", l, suffix);
    return buf;
}

/* q, k, v (and biases): separate, or one attn_qkv [dim, q_dim + 2 kv_dim] split by rows. */
static int bind_qkv(binder *bd, ur_model *m, ur_layer *L, int l, int fused_ok, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    const int64_t dim = hp->dim, qd = hp->q_dim, kvd = hp->kv_dim;
    char n[96];
    if (fused_ok && ur_gguf_find_tensor(m->gguf, lname(n, sizeof n, l, "attn_qkv.weight"))) {
        ur_weight w, b;
        if (bind(bd, &w, n, dim, qd + 2 * kvd, 0, 0, err) ||
            bind(bd, &b, lname(n, sizeof n, l, "attn_qkv.bias"), qd + 2 * kvd, 0, 1, 1, err))
            return -1;
        L->wq = part(&w, 0, qd), L->wk = part(&w, qd, kvd), L->wv = part(&w, qd + kvd, kvd);
        L->bq = part(&b, 0, qd), L->bk = part(&b, qd, kvd), L->bv = part(&b, qd + kvd, kvd);
        m->fused_qkv = 1;
        return 0;
    }
    return bind(bd, &L->wq, lname(n, sizeof n, l, "attn_q.weight"), dim, qd, 0, 0, err) ||
           bind(bd, &L->wk, lname(n, sizeof n, l, "attn_k.weight"), dim, kvd, 0, 0, err) ||
           bind(bd, &L->wv, lname(n, sizeof n, l, "attn_v.weight"), dim, kvd, 0, 0, err) ||
           bind(bd, &L->bq, lname(n, sizeof n, l, "attn_q.bias"), qd, 0, 1, 1, err) ||
           bind(bd, &L->bk, lname(n, sizeof n, l, "attn_k.bias"), kvd, 0, 1, 1, err) ||
           bind(bd, &L->bv, lname(n, sizeof n, l, "attn_v.bias"), kvd, 0, 1, 1, err);
}

/* gate and up: separate, or phi3's ffn_up [dim, 2 ff] (gate rows first) with no ffn_gate. */
static int bind_gate_up(binder *bd, ur_model *m, ur_layer *L, int l, int fused_ok, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    char n[96];
    if (fused_ok && !ur_gguf_find_tensor(m->gguf, lname(n, sizeof n, l, "ffn_gate.weight"))) {
        ur_weight w;
        if (bind(bd, &w, lname(n, sizeof n, l, "ffn_up.weight"), hp->dim, 2 * (int64_t)hp->ff, 0, 0, err)) return -1;
        L->w_gate = part(&w, 0, hp->ff), L->w_up = part(&w, hp->ff, hp->ff);
        m->fused_gate_up = 1;
        return 0;
    }
    return bind(bd, &L->w_gate, lname(n, sizeof n, l, "ffn_gate.weight"), hp->dim, hp->ff, 0, 0, err) ||
           bind(bd, &L->w_up, lname(n, sizeof n, l, "ffn_up.weight"), hp->dim, hp->ff, 0, 0, err);
}

static int bind_layer(binder *bd, ur_model *m, int l, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    const ur_arch_info *ai = ur_arch_info_get(hp->arch);
    ur_layer *L = &m->layers[l];
    const int64_t dim = hp->dim;
    const int pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST;
    char n[96];
    if ((pre && bind(bd, &L->attn_norm, lname(n, sizeof n, l, "attn_norm.weight"), dim, 0, 0, 1, err)) ||
        bind_qkv(bd, m, L, l, ai->fused, err) ||
        bind(bd, &L->wo, lname(n, sizeof n, l, "attn_output.weight"), hp->q_dim, dim, 0, 0, err) ||
        bind(bd, &L->bo, lname(n, sizeof n, l, "attn_output.bias"), dim, 0, 1, 1, err) ||
        (post && bind(bd, &L->attn_post_norm, lname(n, sizeof n, l, "post_attention_norm.weight"), dim, 0, 0, 1, err)) ||
        (pre && bind(bd, &L->ffn_norm, lname(n, sizeof n, l, "ffn_norm.weight"), dim, 0, 0, 1, err)) ||
        bind_gate_up(bd, m, L, l, ai->fused, err) ||
        bind(bd, &L->w_down, lname(n, sizeof n, l, "ffn_down.weight"), hp->ff, dim, 0, 0, err) ||
        (post && bind(bd, &L->ffn_post_norm, lname(n, sizeof n, l, "post_ffw_norm.weight"), dim, 0, 0, 1, err)))
        return -1;
    if (hp->qk_norm) {
        const int head = hp->qk_norm == UR_QKNORM_HEAD;
        if (bind(bd, &L->q_norm, lname(n, sizeof n, l, "attn_q_norm.weight"), head ? hp->head_dim : hp->q_dim, 0, 0, 1,
                 err) ||
            bind(bd, &L->k_norm, lname(n, sizeof n, l, "attn_k_norm.weight"), head ? hp->head_dim : hp->kv_dim, 0, 0, 1,
                 err))
            return -1;
    }
    return 0;
}

static int bind_weights(ur_model *m, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    const ur_arch_info *ai = ur_arch_info_get(hp->arch);
    const ur_gguf *g = m->gguf;
    binder bd = {m, calloc(g->n_tensors ? g->n_tensors : 1, 1)};
    if (!bd.used) return ur_errf(err, "%s: out of memory", g->path);
    int rc = -1;
    const ur_gguf_tensor *te = ur_gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        ur_errf(err, "%s: missing tensor 'token_embd.weight'", g->path);
        goto out;
    }
    if (te->n_dims != 2 || te->ne[0] != hp->dim) {
        ur_errf(err, "%s: tensor 'token_embd.weight' must be [%d, n_vocab]", g->path, hp->dim);
        goto out;
    }
    m->hp.n_vocab = (int)te->ne[1];
    const int64_t dim = hp->dim, nv = hp->n_vocab, half = hp->n_rot / 2;
    ur_weight rf = {0}, rl = {0}, rs = {0};
    if (bind(&bd, &m->tok_embd, "token_embd.weight", dim, nv, 0, 0, err) ||
        bind(&bd, &m->output_norm, "output_norm.weight", dim, 0, 0, 1, err) ||
        (ai->output != UR_OUT_TIED &&
         bind(&bd, &m->output, "output.weight", dim, nv, ai->output == UR_OUT_OPTIONAL, 0, err)) ||
        bind(&bd, &m->output_b, "output.bias", nv, 0, 1, 1, err) ||
        bind(&bd, &rf, "rope_freqs.weight", half, 0, 1, 1, err) ||
        (ai->longrope && (bind(&bd, &rl, "rope_factors_long.weight", half, 0, 1, 1, err) ||
                          bind(&bd, &rs, "rope_factors_short.weight", half, 0, 1, 1, err))))
        goto out;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }
    m->rope_freqs = rf.data;
    m->rope_long = rl.data;
    m->rope_short = rs.data;
    if (!m->rope_long != !m->rope_short) {
        ur_errf(err, "%s: rope_factors_long and rope_factors_short come as a pair", g->path);
        goto out;
    }
    for (int l = 0; l < hp->n_layers; l++)
        if (bind_layer(&bd, m, l, err)) goto out;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!bd.used[i]) {
            ur_errf(err, "%s: tensor '%.*s' is not part of a %s model (urial would ignore it)", g->path,
                    (int)g->tensors[i].name.len, g->tensors[i].name.ptr, ur_arch_name(hp->arch));
            goto out;
        }
    m->n_params = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    rc = 0;
out:
    free(bd.used);
    return rc;
}

const float *ur_model_rope_factors(const ur_model *m, int n_ctx) {
    if (m->rope_freqs) return m->rope_freqs;
    if (m->rope_long) return n_ctx > m->hp.n_ctx_orig ? m->rope_long : m->rope_short;
    return NULL;
}

ur_model *ur_model_load(const char *path, ur_err *err) {
    ur_gguf *g = ur_gguf_open(path, err);
    return g ? ur_model_from_gguf(g, err) : NULL;
}

ur_model *ur_model_from_gguf(ur_gguf *g, ur_err *err) {
    const char *path = g->path;
    ur_model *m = calloc(1, sizeof *m);
    if (!m) {
        ur_errf(err, "%s: out of memory", path);
        ur_gguf_close(g);
        return NULL;
    }
    m->gguf = g;
    if (ur_arch_load_hparams(m, err) || bind_weights(m, err)) goto fail;
    m->vocab = ur_vocab_load(m->gguf, err);
    if (!m->vocab) goto fail;
    if (ur_vocab_size(m->vocab) != m->hp.n_vocab) {
        ur_errf(err, "%s: the tokenizer has %d tokens but token_embd.weight has %d rows", path,
                ur_vocab_size(m->vocab), m->hp.n_vocab);
        goto fail;
    }
    ur_str name;
    if (ur_gguf_get_str(m->gguf, "general.name", &name, NULL) == 0) {
        m->name = ur_xstrndup(name.ptr, name.len);
    } else {
        const char *b = strrchr(path, '/');
        m->name = ur_xstrdup(b ? b + 1 : path);
    }
    return m;
fail:
    ur_model_free(m);
    return NULL;
}

void ur_model_free(ur_model *m) {
    if (!m) return;
    ur_vocab_free(m->vocab);
    ur_gguf_close(m->gguf);
    free(m->layers);
    free(m->name);
    free(m);
}
