/* Hugging Face checkpoint -> GGUF (include/urial/convert.h): config.json to the
 * architecture's keys (synth.c's writer), tokenizer.json through the tokenizer
 * converter, and the safetensors tensors renamed, transformed and encoded one at a
 * time while the file is written. */
#include "urial/convert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/arch.h"
#include "model/safetensors.h"
#include "urial/gguf.h"
#include "urial/pool.h"
#include "urial/quantize.h"
#include "urial/tensor.h"
#include "urial/tokenizer.h"

/* ---- config.json ---------------------------------------------------------------------- */
typedef struct hf_cfg {
    int arch, hd, swa, tied;
    ur_synth_params p;
    float *rope_freqs;            /* llama3 rope scaling: hd/2 divisors, or NULL */
    float *rope_long, *rope_short; /* Phi-3's LongRoPE factors (hd/2 each), or NULL */
} hf_cfg;

static const struct {
    const char *hf;
    int arch;
} ARCHS[] = {{"LlamaForCausalLM", UR_ARCH_LLAMA},   {"MistralForCausalLM", UR_ARCH_LLAMA},
             {"Qwen2ForCausalLM", UR_ARCH_QWEN2},   {"Qwen3ForCausalLM", UR_ARCH_QWEN3},
             {"Gemma2ForCausalLM", UR_ARCH_GEMMA2}, {"Gemma3ForCausalLM", UR_ARCH_GEMMA3},
             {"Olmo2ForCausalLM", UR_ARCH_OLMO2},   {"Phi3ForCausalLM", UR_ARCH_PHI3}};

static int cfg_int(json_t *c, const char *k, int def) {
    json_t *v = json_object_get(c, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}
static double cfg_num(json_t *c, const char *k, double def) {
    json_t *v = json_object_get(c, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* Llama-3.1's rope scaling as the converter turns it into rope_freqs (divisors per pair). */
static float *llama3_freqs(json_t *rs, int hd, double base) {
    const double factor = cfg_num(rs, "factor", 8), lo = cfg_num(rs, "low_freq_factor", 1),
                 hi = cfg_num(rs, "high_freq_factor", 4), orig = cfg_num(rs, "original_max_position_embeddings", 8192);
    float *f = ur_xmalloc(sizeof(float) * (size_t)(hd / 2));
    for (int i = 0; i < hd / 2; i++) {
        const double freq = 1.0 / pow(base, (2.0 * i) / hd), wavelen = 2 * M_PI / freq;
        if (wavelen < orig / hi) f[i] = 1.0f;
        else if (wavelen > orig / lo) f[i] = (float)factor;
        else {
            const double smooth = (orig / wavelen - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
    return f;
}

/* LongRoPE's factor list `key` of rs: hd/2 numbers, or NULL. */
static float *factor_list(json_t *rs, const char *key, int half) {
    json_t *a = json_object_get(rs, key);
    if (!json_is_array(a) || (int)json_array_size(a) != half) return NULL;
    float *f = ur_xmalloc(sizeof(float) * (size_t)half);
    for (int i = 0; i < half; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v) || !(json_number_value(v) > 0)) return free(f), NULL;
        f[i] = (float)json_number_value(v);
    }
    return f;
}

/* Phi-3's LongRoPE ("longrope", formerly "su"): rope_factors_long/short and the original
 * context, from which the attention factor sqrt(1 + ln(ctx/orig) / ln(orig)) follows. */
static int longrope(hf_cfg *h, json_t *c, json_t *rs, const char *path, ur_err *err) {
    h->p.longrope_orig = cfg_int(c, "original_max_position_embeddings", 0);
    h->rope_long = factor_list(rs, "long_factor", h->hd / 2);
    h->rope_short = factor_list(rs, "short_factor", h->hd / 2);
    if (h->p.longrope_orig <= 0 || !h->rope_long || !h->rope_short)
        return ur_errf(err, "%s: longrope needs original_max_position_embeddings and long_factor/short_factor lists "
                            "of head_dim/2 = %d positive numbers", path, h->hd / 2);
    return 0;
}

static int rope_scaling(hf_cfg *h, json_t *c, const char *path, ur_err *err) {
    json_t *rs = json_object_get(c, "rope_scaling");
    if (!json_is_object(rs)) return 0;
    const char *t = json_string_value(json_object_get(rs, "rope_type"));
    if (!t) t = json_string_value(json_object_get(rs, "type"));
    if (t && !strcmp(t, "linear")) {
        h->p.rope_scale = (float)cfg_num(rs, "factor", 1);
        return 0;
    }
    if (t && !strcmp(t, "llama3") && h->arch == UR_ARCH_LLAMA) {
        h->rope_freqs = llama3_freqs(rs, h->hd, h->p.rope_base);
        return 0;
    }
    if (t && (!strcmp(t, "longrope") || !strcmp(t, "su")) && h->arch == UR_ARCH_PHI3) return longrope(h, c, rs, path, err);
    if (t && !strcmp(t, "default")) return 0;
    return ur_errf(err, "%s: rope_scaling type '%s' is not supported by urial convert (linear; llama3 for llama; "
                        "longrope for phi3)", path, t ? t : "?");
}

static int read_config(const char *dir, hf_cfg *h, ur_err *err) {
    ur_buf path = {0};
    ur_buf_printf(&path, "%s/config.json", dir);
    json_error_t je;
    json_t *c = json_load_file(path.data, 0, &je);
    int rc = -1;
    memset(h, 0, sizeof *h);
    ur_synth_defaults(&h->p);
    if (!json_is_object(c)) {
        ur_errf(err, "%s: %s", path.data, c ? "not a JSON object" : je.text);
        goto out;
    }
    const char *a = json_string_value(json_array_get(json_object_get(c, "architectures"), 0));
    h->arch = -1;
    for (size_t i = 0; a && i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (!strcmp(a, ARCHS[i].hf)) h->arch = ARCHS[i].arch;
    if (h->arch < 0) {
        ur_errf(err, "%s: architecture '%s' is not one urial runs (Llama, Mistral, Qwen2, Qwen3, Gemma2, Gemma3, Olmo2, "
                     "Phi3 ...ForCausalLM)", path.data, a ? a : "(no \"architectures\")");
        goto out;
    }
    ur_synth_params *p = &h->p;
    p->arch = ur_arch_info_get(h->arch)->name;
    p->dim = cfg_int(c, "hidden_size", 0);
    p->n_layers = cfg_int(c, "num_hidden_layers", 0);
    p->n_heads = cfg_int(c, "num_attention_heads", 0);
    p->n_kv_heads = cfg_int(c, "num_key_value_heads", p->n_heads);
    p->ff = cfg_int(c, "intermediate_size", 0);
    p->n_ctx = cfg_int(c, "max_position_embeddings", 4096);
    h->hd = cfg_int(c, "head_dim", p->n_heads > 0 ? p->dim / p->n_heads : 0);
    p->head_dim = h->hd * p->n_heads != p->dim ? h->hd : 0;
    p->rope_base = (float)cfg_num(c, "rope_theta", 10000);
    p->rms_eps = (float)cfg_num(c, "rms_norm_eps", 0);
    const int gemma = h->arch == UR_ARCH_GEMMA2 || h->arch == UR_ARCH_GEMMA3;
    json_t *tie = json_object_get(c, "tie_word_embeddings");
    h->tied = gemma || (tie ? json_is_true(tie) : 0);
    if (gemma || h->arch == UR_ARCH_OLMO2 || h->arch == UR_ARCH_PHI3) h->swa = cfg_int(c, "sliding_window", 0);
    p->attn_softcap = (float)cfg_num(c, "attn_logit_softcapping", h->arch == UR_ARCH_GEMMA2 ? 0 : -1);
    p->final_softcap = (float)cfg_num(c, "final_logit_softcapping", h->arch == UR_ARCH_GEMMA2 ? 0 : -1);
    if (p->dim <= 0 || p->n_layers <= 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 || p->ff <= 0 || h->hd <= 0 ||
        h->hd % 2 || p->n_heads % p->n_kv_heads) {
        ur_errf(err, "%s: bad shape (hidden_size %d, layers %d, heads %d/%d, head_dim %d, intermediate_size %d)",
                path.data, p->dim, p->n_layers, p->n_heads, p->n_kv_heads, h->hd, p->ff);
        goto out;
    }
    rc = rope_scaling(h, c, path.data, err);
out:
    json_decref(c);
    ur_buf_free(&path);
    return rc;
}

/* ---- tensor names ------------------------------------------------------------------------ */
enum { X_NONE = 0, X_PERM_Q = 1, X_PERM_K = 2 };

typedef struct plan {
    char name[64];
    const st_tensor *src;
    int type, perm, plus1, layer;
    const float *fixed; /* rope_freqs: values computed here */
} plan;

static const struct {
    const char *hf, *gg;
} LAYER_NAMES[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},       {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},       {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},    {"mlp.gate_up_proj.weight", "ffn_up.weight"},
};

/* The GGUF name of Hugging Face tensor hf: 1 named, 0 to skip, -1 unknown. */
static int map_name(const hf_cfg *h, const char *hf, plan *pl) {
    const char *n = hf;
    if (!strncmp(n, "model.", 6)) n += 6;
    pl->layer = -1;
    if (!strcmp(n, "embed_tokens.weight")) return snprintf(pl->name, sizeof pl->name, "token_embd.weight"), 1;
    if (!strcmp(n, "norm.weight")) return snprintf(pl->name, sizeof pl->name, "output_norm.weight"), 1;
    if (!strcmp(hf, "lm_head.weight")) return h->tied ? 0 : (snprintf(pl->name, sizeof pl->name, "output.weight"), 1);
    int layer, off = 0;
    if (sscanf(n, "layers.%d.%n", &layer, &off) != 1 || off == 0 || layer < 0 || layer >= h->p.n_layers) return -1;
    const char *rest = n + off;
    if (strstr(rest, "rotary_emb.inv_freq")) return 0; /* recomputed from rope_theta */
    pl->layer = layer;
    const char *gg = NULL;
    if (!strcmp(rest, "post_attention_layernorm.weight"))
        gg = ur_arch_info_get(h->arch)->norm & UR_NORM_POST ? "post_attention_norm.weight" : "ffn_norm.weight";
    for (size_t i = 0; !gg && i < sizeof LAYER_NAMES / sizeof LAYER_NAMES[0]; i++)
        if (!strcmp(rest, LAYER_NAMES[i].hf)) gg = LAYER_NAMES[i].gg;
    if (!gg) return -1;
    snprintf(pl->name, sizeof pl->name, "blk.%d.%s", layer, gg);
    if (h->arch == UR_ARCH_LLAMA && strstr(rest, "q_proj")) pl->perm = X_PERM_Q;
    if (h->arch == UR_ARCH_LLAMA && strstr(rest, "k_proj")) pl->perm = X_PERM_K;
    return 1;
}

/* Tensor order: the global ones first, then layer by layer, by name within a layer. */
static int plan_order(const void *a, const void *b) {
    const plan *x = a, *y = b;
    if (x->layer != y->layer) return (x->layer > y->layer) - (x->layer < y->layer);
    return strcmp(x->name, y->name);
}

/* ---- converting one tensor ------------------------------------------------------------------- */
typedef struct conv_ctx {
    ur_pool *pool;
    float *scratch; /* [threads][widest row] */
    int64_t width;
    const hf_cfg *h;
} conv_ctx;

typedef struct tjob {
    conv_ctx *c;
    plan *pl;
} tjob;

typedef struct rowjob {
    const plan *pl;
    const conv_ctx *c;
    int64_t rows, cols;
    uint8_t *dst;
} rowjob;

/* The source row of output row r: llama's q/k rows from rotate_half order (i, i + hd/2)
 * to interleaved pairs (2i, 2i + 1) within each head. */
static int64_t src_row(const rowjob *j, int64_t r) {
    if (!j->pl->perm) return r;
    const int64_t hd = j->c->h->hd, h = r / hd, i = r % hd;
    return h * hd + (i % 2) * (hd / 2) + i / 2;
}

static void to_f32(int type, const uint8_t *p, float *y, int64_t n) { ur_dequantize_row(type, p, y, n); }

static void rows_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const rowjob *j = arg;
    const st_tensor *s = j->pl->src;
    const int esize = s->type == UR_TYPE_F32 ? 4 : 2;
    float *row = j->c->scratch + (size_t)tid * (size_t)j->c->width;
    const uint64_t rb = ur_row_size(j->pl->type, j->cols);
    for (int64_t r = r0; r < r1; r++) {
        to_f32(s->type, s->data + (size_t)src_row(j, r) * (size_t)j->cols * esize, row, j->cols);
        if (j->pl->plus1)
            for (int64_t i = 0; i < j->cols; i++) row[i] += 1.0f;
        ur_quantize_row(j->pl->type, row, j->dst + (size_t)r * rb, j->cols);
    }
}

static int fill_tensor(void *arg, void *dst, uint64_t nbytes, ur_err *err) {
    tjob *t = arg;
    const plan *pl = t->pl;
    (void)err;
    if (pl->fixed) {
        memcpy(dst, pl->fixed, (size_t)nbytes);
        return 0;
    }
    const st_tensor *s = pl->src;
    const int64_t cols = s->shape[s->n_dims - 1], rows = s->n_dims == 1 ? 1 : s->shape[0];
    rowjob j = {pl, t->c, rows, cols, dst};
    if (s->n_dims == 1 && pl->perm) { /* a permuted bias: one row of hd-blocks, element-wise */
        float *row = t->c->scratch;
        to_f32(s->type, s->data, row, cols);
        float *o = dst;
        rowjob one = {pl, t->c, cols, 1, NULL};
        for (int64_t i = 0; i < cols; i++) o[i] = row[src_row(&one, i)];
        return 0;
    }
    ur_pool_for(t->c->pool, rows, 0, rows_body, &j);
    return 0;
}

/* ---- the file -------------------------------------------------------------------------------- */
/* tokenizer.* from tokenizer.json, through the tokenizer converter's file. */
static int put_tokenizer(ur_gguf_writer *w, const char *dir, const char *out, const hf_cfg *h, int64_t *n_tokens,
                         ur_err *err) {
    ur_buf tj = {0}, tmp = {0};
    ur_buf_printf(&tj, "%s/tokenizer.json", dir);
    ur_buf_printf(&tmp, "%s.vocab.tmp", out);
    ur_convert_opts co = {.arch = ur_arch_info_get(h->arch)->name};
    int rc = ur_tokenizer_convert(tj.data, &co, tmp.data, err);
    ur_gguf *g = rc ? NULL : ur_gguf_open(tmp.data, err);
    if (!rc && !g) rc = -1;
    const ur_gguf_kv *toks = NULL;
    *n_tokens = g && !ur_gguf_get_arr(g, "tokenizer.ggml.tokens", UR_GGUF_STRING, &toks, NULL) ? (int64_t)toks->arr_n : 0;
    for (uint64_t i = 0; g && i < g->n_kv; i++)
        if (g->kv[i].key.len > 10 && !memcmp(g->kv[i].key.ptr, "tokenizer.", 10)) ur_gguf_w_copy_kv(w, &g->kv[i]);
    ur_gguf_close(g);
    unlink(tmp.data);
    ur_buf_free(&tj);
    ur_buf_free(&tmp);
    return rc;
}

/* The plans of every tensor, in file order; -1 with err on an unknown tensor. */
static plan *make_plans(const hf_cfg *h, const st_set *s, int *n, const char *dir, ur_err *err) {
    plan *pl = ur_xcalloc((size_t)st_count(s) + 4, sizeof *pl);
    int k = 0;
    const int gemma = h->arch == UR_ARCH_GEMMA2 || h->arch == UR_ARCH_GEMMA3;
    const struct {
        const char *name;
        const float *f;
    } fixed[3] = {{"rope_freqs.weight", h->rope_freqs},
                  {"rope_factors_long.weight", h->rope_long},
                  {"rope_factors_short.weight", h->rope_short}};
    for (int i = 0; i < 3; i++)
        if (fixed[i].f) {
            snprintf(pl[k].name, sizeof pl[k].name, "%s", fixed[i].name);
            pl[k].fixed = fixed[i].f, pl[k].layer = -1, pl[k].type = UR_TYPE_F32;
            k++;
        }
    for (int i = 0; i < st_count(s); i++) {
        const st_tensor *t = st_get(s, i);
        plan *p = &pl[k];
        memset(p, 0, sizeof *p);
        int r = map_name(h, t->name, p);
        if (r < 0) {
            ur_errf(err, "%s: tensor '%.100s' (%s) has no GGUF name for %s", dir, t->name, ur_base_name(t->file),
                    ur_arch_info_get(h->arch)->name);
            free(pl);
            return NULL;
        }
        if (!r) continue;
        p->src = t;
        const size_t L = strlen(p->name);
        p->plus1 = gemma && L > 11 && !strcmp(p->name + L - 11, "norm.weight");
        k++;
    }
    qsort(pl, (size_t)k, sizeof *pl, plan_order);
    *n = k;
    return pl;
}

static int check_shape(const plan *p, const hf_cfg *h, const char *dir, ur_err *err) {
    const st_tensor *t = p->src;
    if (!t) return 0;
    if (t->n_dims < 1 || t->n_dims > 2)
        return ur_errf(err, "%s: tensor '%.100s' has %d dimensions (1 or 2 expected)", dir, t->name, t->n_dims);
    if (p->perm && t->n_dims == 2 && t->shape[0] % h->hd)
        return ur_errf(err, "%s: tensor '%.100s': %lld rows are not whole heads of %d", dir, t->name,
                       (long long)t->shape[0], h->hd);
    return 0;
}

int ur_hf_convert(const char *hf_dir, const char *out, const ur_hf_convert_opts *o, ur_hf_convert_stats *st,
                  ur_err *err) {
    memset(st, 0, sizeof *st);
    hf_cfg h;
    ur_qmix mix;
    if (ur_qmix_init(&mix, o && o->type ? o->type : "f16", 0, err)) return -1;
    st_set *s = NULL;
    if (read_config(hf_dir, &h, err) || !(s = st_open_dir(hf_dir, err))) {
        free(h.rope_freqs), free(h.rope_long), free(h.rope_short);
        return -1;
    }
    ur_gguf_writer *w = ur_gguf_writer_new();
    conv_ctx c = {.h = &h};
    int n = 0, rc = -1;
    tjob *jobs = NULL;
    plan *pl = make_plans(&h, s, &n, hf_dir, err);
    if (!pl) goto out;
    const char *arch = ur_arch_info_get(h.arch)->name;
    ur_gguf_w_str(w, "general.architecture", arch);
    ur_buf dname = {0}; /* the directory's name, without trailing slashes */
    ur_buf_puts(&dname, hf_dir);
    while (dname.len > 1 && dname.data[dname.len - 1] == '/') dname.data[--dname.len] = 0;
    ur_gguf_w_str(w, "general.name", o && o->name ? o->name : ur_base_name(dname.data));
    ur_buf_free(&dname);
    ur_gguf_w_u32(w, "general.alignment", 32);
    ur_arch_put_hparams(w, &h.p, h.arch, h.hd, h.swa);
    int64_t n_tokens = 0;
    if (put_tokenizer(w, hf_dir, out, &h, &n_tokens, err)) goto out;
    const st_tensor *emb = st_find(s, "model.embed_tokens.weight");
    if (emb && emb->n_dims == 2 && n_tokens != emb->shape[0]) {
        ur_errf(err, "%s: tokenizer.json gives %lld tokens (with config.json's vocab_size) but embed_tokens has %lld rows",
                hf_dir, (long long)n_tokens, (long long)emb->shape[0]);
        goto out;
    }
    ur_gguf_w_u32(w, "general.file_type", (uint32_t)mix.ftype);
    if (ur_type_block(mix.base) > 1) ur_gguf_w_u32(w, "general.quantization_version", 2);
    int has_output = 0;
    for (int i = 0; i < n; i++) has_output |= !strcmp(pl[i].name, "output.weight");
    ur_qmix_begin(&mix, h.p.n_layers, has_output);
    jobs = ur_xcalloc((size_t)n + 1, sizeof *jobs);
    for (int i = 0; i < n; i++) {
        plan *p = &pl[i];
        if (check_shape(p, &h, hf_dir, err)) goto out;
        int64_t ne[2];
        int nd = 1;
        if (p->fixed) ne[0] = h.hd / 2;
        else if (p->src->n_dims == 1) ne[0] = p->src->shape[0];
        else ne[0] = p->src->shape[1], ne[1] = p->src->shape[0], nd = 2;
        if (!p->fixed) p->type = ur_qmix_type(&mix, p->name, nd, ne[0], UR_TYPE_F32);
        if (nd == 1) p->type = UR_TYPE_F32;
        if (ne[0] > c.width) c.width = ne[0];
        jobs[i] = (tjob){&c, p};
        if (ur_gguf_w_tensor_fill(w, p->name, p->type, nd, ne, fill_tensor, &jobs[i], err)) goto out;
        st->bytes_out += ur_row_size(p->type, ne[0]) * (uint64_t)(nd == 2 ? ne[1] : 1);
    }
    c.pool = ur_pool_new(o ? o->threads : 0, NULL);
    c.scratch = ur_xmalloc(sizeof(float) * (size_t)ur_pool_threads(c.pool) * (size_t)(c.width + 1));
    rc = ur_gguf_write(w, out, err);
    snprintf(st->arch, sizeof st->arch, "%s", arch);
    st->n_tensors = n;
    st->n_layers = h.p.n_layers;
out:
    ur_gguf_writer_free(w);
    ur_pool_free(c.pool);
    free(c.scratch);
    free(jobs);
    free(pl);
    st_close(s);
    free(h.rope_freqs), free(h.rope_long), free(h.rope_short);
    return rc;
}
