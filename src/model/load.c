/* Model loading: hyperparameters from GGUF metadata, weight views into the
 * mapping (never copied), shape and type checks with one-line errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/model.h"
#include "urial/tensor.h"

const char *ur_arch_name(int arch) {
    switch (arch) {
    case UR_ARCH_LLAMA: return "llama";
    case UR_ARCH_QWEN2: return "qwen2";
    }
    return "unknown";
}

/* Read "<arch>.<suffix>" as u32 into *out; absent keys keep *out unless required. */
static int arch_u32(const ur_gguf *g, const char *arch, const char *suffix, int required, int *out,
                    ur_err *err) {
    char key[128];
    uint32_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = ur_gguf_get_u32(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 1) return required ? ur_errf(err, "%s: missing metadata key '%s'", g->path, key) : 0;
    if (v > (1u << 30)) return ur_errf(err, "%s: metadata '%s' = %u is out of range", g->path, key, v);
    *out = (int)v;
    return 0;
}

static int arch_f32(const ur_gguf *g, const char *arch, const char *suffix, float *out, ur_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return ur_gguf_get_f32(g, key, out, err) < 0 ? -1 : 0;
}

/* Bind tensor `name` expecting ne = {cols, rows} (rows = 0 for a vector). */
static int bind(const ur_model *m, ur_weight *w, const char *name, int64_t cols, int64_t rows, int optional,
                int float_only, ur_err *err) {
    const ur_gguf *g = m->gguf;
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
    return 0;
}

static int load_hparams(ur_model *m, ur_err *err) {
    const ur_gguf *g = m->gguf;
    ur_hparams *hp = &m->hp;
    ur_str s;
    int rc = ur_gguf_get_str(g, "general.architecture", &s, err);
    if (rc < 0) return -1;
    if (rc == 1) return ur_errf(err, "%s: missing metadata key 'general.architecture'", g->path);
    char arch[64];
    snprintf(arch, sizeof arch, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    if (!strcmp(arch, "llama")) hp->arch = UR_ARCH_LLAMA;
    else if (!strcmp(arch, "qwen2")) hp->arch = UR_ARCH_QWEN2;
    else return ur_errf(err, "%s: architecture '%s' is not supported (urial runs llama and qwen2)", g->path, arch);

    int experts = 0;
    if (arch_u32(g, arch, "context_length", 1, &hp->n_ctx_train, err) ||
        arch_u32(g, arch, "embedding_length", 1, &hp->dim, err) ||
        arch_u32(g, arch, "block_count", 1, &hp->n_layers, err) ||
        arch_u32(g, arch, "feed_forward_length", 1, &hp->ff, err) ||
        arch_u32(g, arch, "attention.head_count", 1, &hp->n_heads, err) ||
        arch_u32(g, arch, "expert_count", 0, &experts, err))
        return -1;
    if (experts > 0)
        return ur_errf(err, "%s: mixture-of-experts models (%s.expert_count = %d) are not supported", g->path,
                       arch, experts);
    hp->n_kv_heads = hp->n_heads;
    if (arch_u32(g, arch, "attention.head_count_kv", 0, &hp->n_kv_heads, err)) return -1;
    if (hp->dim <= 0 || hp->n_layers <= 0 || hp->ff <= 0 || hp->n_heads <= 0 || hp->n_kv_heads <= 0 ||
        hp->n_ctx_train <= 0)
        return ur_errf(err, "%s: hyperparameters must be positive (dim %d, layers %d, ff %d, heads %d/%d, ctx %d)",
                       g->path, hp->dim, hp->n_layers, hp->ff, hp->n_heads, hp->n_kv_heads, hp->n_ctx_train);
    if (hp->dim % hp->n_heads)
        return ur_errf(err, "%s: embedding length %d is not a multiple of the head count %d", g->path, hp->dim,
                       hp->n_heads);
    if (hp->n_heads % hp->n_kv_heads)
        return ur_errf(err, "%s: head count %d is not a multiple of the kv head count %d", g->path, hp->n_heads,
                       hp->n_kv_heads);
    hp->head_dim = hp->dim / hp->n_heads;
    int key_len = hp->head_dim;
    if (arch_u32(g, arch, "attention.key_length", 0, &key_len, err)) return -1;
    if (key_len != hp->head_dim)
        return ur_errf(err, "%s: attention.key_length %d differs from embedding/heads %d (not supported)", g->path,
                       key_len, hp->head_dim);
    hp->n_rot = hp->head_dim;
    if (arch_u32(g, arch, "rope.dimension_count", 0, &hp->n_rot, err)) return -1;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return ur_errf(err, "%s: rope dimension count %d must be even and at most the head size %d", g->path,
                       hp->n_rot, hp->head_dim);
    hp->rope_neox = hp->arch == UR_ARCH_QWEN2;
    hp->rope_base = 10000.0f;
    hp->rope_scale = 1.0f;
    hp->rms_eps = hp->arch == UR_ARCH_QWEN2 ? 1e-6f : 1e-5f;
    if (arch_f32(g, arch, "rope.freq_base", &hp->rope_base, err) ||
        arch_f32(g, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps, err))
        return -1;
    /* rope scaling: only linear is supported (others change the numbers silently otherwise) */
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (ur_gguf_get_str(g, key, &s, err) == 0 && !(s.len == 4 && !memcmp(s.ptr, "none", 4)) &&
        !(s.len == 6 && !memcmp(s.ptr, "linear", 6)))
        return ur_errf(err, "%s: rope scaling '%.*s' is not supported (only linear)", g->path, (int)s.len, s.ptr);
    float factor = 0;
    if (arch_f32(g, arch, "rope.scaling.factor", &factor, err) || arch_f32(g, arch, "rope.scale_linear", &factor, err))
        return -1;
    if (factor > 0) hp->rope_scale = factor;
    if (!(hp->rope_base > 0) || !(hp->rms_eps > 0) || !isfinite(hp->rope_base))
        return ur_errf(err, "%s: rope base %g and rms epsilon %g must be positive", g->path, hp->rope_base,
                       hp->rms_eps);
    return 0;
}

static int bind_weights(ur_model *m, ur_err *err) {
    const ur_hparams *hp = &m->hp;
    const ur_gguf_tensor *te = ur_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return ur_errf(err, "%s: missing tensor 'token_embd.weight'", m->gguf->path);
    if (te->n_dims != 2 || te->ne[0] != hp->dim)
        return ur_errf(err, "%s: tensor 'token_embd.weight' must be [%d, n_vocab]", m->gguf->path, hp->dim);
    m->hp.n_vocab = (int)te->ne[1];
    int64_t dim = hp->dim, kv = (int64_t)hp->n_kv_heads * hp->head_dim, nv = m->hp.n_vocab;
    if (bind(m, &m->tok_embd, "token_embd.weight", dim, nv, 0, 0, err) ||
        bind(m, &m->output_norm, "output_norm.weight", dim, 0, 0, 1, err) ||
        bind(m, &m->output, "output.weight", dim, nv, 1, 0, err))
        return -1;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }
    ur_weight rf;
    if (bind(m, &rf, "rope_freqs.weight", hp->n_rot / 2, 0, 1, 1, err)) return -1;
    m->rope_freqs = rf.data;
    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return ur_errf(err, "%s: out of memory", m->gguf->path);
    for (int i = 0; i < hp->n_layers; i++) {
        ur_layer *l = &m->layers[i];
        char n[12][64];
        const char *names[12] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                                 "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                                 "ffn_down.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias"};
        for (int j = 0; j < 12; j++) snprintf(n[j], sizeof n[j], "blk.%d.%s", i, names[j]);
        int bias = hp->arch == UR_ARCH_QWEN2;
        if (bind(m, &l->attn_norm, n[0], dim, 0, 0, 1, err) || bind(m, &l->wq, n[1], dim, dim, 0, 0, err) ||
            bind(m, &l->wk, n[2], dim, kv, 0, 0, err) || bind(m, &l->wv, n[3], dim, kv, 0, 0, err) ||
            bind(m, &l->wo, n[4], dim, dim, 0, 0, err) || bind(m, &l->ffn_norm, n[5], dim, 0, 0, 1, err) ||
            bind(m, &l->w_gate, n[6], dim, hp->ff, 0, 0, err) || bind(m, &l->w_up, n[7], dim, hp->ff, 0, 0, err) ||
            bind(m, &l->w_down, n[8], hp->ff, dim, 0, 0, err) || bind(m, &l->bq, n[9], dim, 0, !bias, 1, err) ||
            bind(m, &l->bk, n[10], kv, 0, !bias, 1, err) || bind(m, &l->bv, n[11], kv, 0, !bias, 1, err))
            return -1;
    }
    m->n_params = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const ur_gguf_tensor *t = &m->gguf->tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return 0;
}

ur_model *ur_model_load(const char *path, ur_err *err) {
    ur_model *m = calloc(1, sizeof *m);
    if (!m) {
        ur_errf(err, "%s: out of memory", path);
        return NULL;
    }
    m->gguf = ur_gguf_open(path, err);
    if (!m->gguf || load_hparams(m, err) || bind_weights(m, err)) goto fail;
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
