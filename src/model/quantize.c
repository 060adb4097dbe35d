/* Quantizing models (quantize.h): the file types and their per-tensor rules, row
 * encoding on a thread pool, and the streaming file quantizer. */
#include "urial/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "urial/gguf.h"
#include "urial/tensor.h"

/* ---- file types ------------------------------------------------------------------ */
typedef struct {
    const char *name, *alias;
    int ftype, base;
} ftype_info;

/* general.file_type ids are llama.cpp's llama_ftype values. */
static const ftype_info FTYPES[] = {
    {"f32", NULL, 0, UR_TYPE_F32},       {"f16", NULL, 1, UR_TYPE_F16},
    {"bf16", NULL, 32, UR_TYPE_BF16},    {"q8_0", NULL, 7, UR_TYPE_Q8_0},
    {"q4_0", NULL, 2, UR_TYPE_Q4_0},     {"q4_K_S", NULL, 14, UR_TYPE_Q4_K},
    {"q4_K_M", "q4_K", 15, UR_TYPE_Q4_K}, {"q5_K_S", NULL, 16, UR_TYPE_Q5_K},
    {"q5_K_M", "q5_K", 17, UR_TYPE_Q5_K}, {"q6_K", NULL, 18, UR_TYPE_Q6_K},
};
enum { FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_M = 17 };

const char *ur_qmix_names(void) { return "f32 f16 bf16 q8_0 q4_0 q4_K_S q4_K_M (= q4_K) q5_K_S q5_K_M (= q5_K) q6_K"; }

int ur_qmix_init(ur_qmix *m, const char *name, int pure, ur_err *err) {
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0]; i++) {
        const ftype_info *f = &FTYPES[i];
        if (strcasecmp(name, f->name) && (!f->alias || strcasecmp(name, f->alias))) continue;
        snprintf(m->name, sizeof m->name, "%s", f->name);
        m->ftype = f->ftype;
        m->base = f->base;
        m->pure = pure;
        return 0;
    }
    return ur_errf(err, "unknown type '%s' (%s)", name, ur_qmix_names());
}

void ur_qmix_begin(ur_qmix *m, int n_layers, int has_output) {
    m->n_layers = n_layers;
    m->has_output = has_output;
    m->i_attn_v = 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* llama.cpp's choice of layers that get more bits: the first and last eighth and every third in between. */
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int is_quantized(int type) { return ur_type_block(type) > 1; }

/* The mixture's type for one matrix (before the block-size fallback). */
static int mixture_type(ur_qmix *m, const char *name, int64_t ne0) {
    int t = m->base, layer = -1;
    sscanf(name, "blk.%d.", &layer);
    if (!strcmp(name, "output.weight") || (!m->has_output && !strcmp(name, "token_embd.weight"))) {
        if (ne0 % ur_type_block(t)) return UR_TYPE_Q8_0;
        return t == UR_TYPE_Q8_0 ? t : UR_TYPE_Q6_K;
    }
    if (strstr(name, "attn_v.weight")) {
        const int i = m->i_attn_v++;
        if ((m->ftype == FT_Q4_K_M || m->ftype == FT_Q5_K_M) && more_bits(i, m->n_layers)) t = UR_TYPE_Q6_K;
        else if (m->ftype == FT_Q4_K_S && i < 4) t = UR_TYPE_Q5_K;
    } else if (strstr(name, "ffn_down") && layer >= 0) {
        if ((m->ftype == FT_Q4_K_M || m->ftype == FT_Q5_K_M) && more_bits(layer, m->n_layers)) t = UR_TYPE_Q6_K;
        else if (m->ftype == FT_Q4_K_S && layer < m->n_layers / 8) t = UR_TYPE_Q5_K;
    } else if (strstr(name, "attn_qkv.weight")) {
        if (m->ftype == FT_Q4_K_M) t = UR_TYPE_Q5_K;
        else if (m->ftype == FT_Q5_K_M) t = UR_TYPE_Q6_K;
    }
    return t;
}

int ur_qmix_type(ur_qmix *m, const char *name, int n_dims, int64_t ne0, int cur) {
    if (n_dims < 2 || !ends_with(name, "weight") || strstr(name, "_norm.weight")) return cur;
    int t = m->base;
    if (!m->pure && is_quantized(m->base)) t = mixture_type(m, name, ne0);
    if (ne0 % ur_type_block(t)) t = ne0 % 32 ? UR_TYPE_F16 : UR_TYPE_Q8_0;
    return t;
}

/* ---- rows on the pool ---------------------------------------------------------------- */
typedef struct {
    const float *f;
    uint8_t *q;
    int64_t cols;
    uint64_t rb;
    int type;
} rows_job;

static void rows_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const rows_job *j = arg;
    (void)tid;
    for (int64_t r = r0; r < r1; r++)
        ur_quantize_row(j->type, j->f + (size_t)r * (size_t)j->cols, j->q + (size_t)r * j->rb, j->cols);
}

void ur_quantize_rows(ur_pool *pool, int type, const float *src, void *dst, int64_t rows, int64_t cols) {
    rows_job j = {src, dst, cols, ur_row_size(type, cols), type};
    ur_pool_for(pool, rows, 0, rows_body, &j);
}

/* ---- the file -------------------------------------------------------------------------- */
typedef struct {
    ur_pool *pool;
    float *scratch; /* [threads][cols] of the widest tensor */
    int64_t scratch_cols;
} qctx;

typedef struct {
    qctx *c;
    const ur_gguf_tensor *t;
    int type;
} qtensor;

typedef struct {
    const qtensor *q;
    uint8_t *dst;
    uint64_t rb_in, rb_out;
} convert_job;

static void convert_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const convert_job *j = arg;
    const ur_gguf_tensor *t = j->q->t;
    float *row = j->q->c->scratch + (size_t)tid * (size_t)t->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        ur_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * j->rb_in, row, t->ne[0]);
        ur_quantize_row(j->q->type, row, j->dst + (size_t)r * j->rb_out, t->ne[0]);
    }
}

static int fill_tensor(void *arg, void *dst, uint64_t nbytes, ur_err *err) {
    const qtensor *q = arg;
    (void)err;
    if (q->type == q->t->type) {
        memcpy(dst, q->t->data, (size_t)nbytes);
        return 0;
    }
    const int64_t rows = (int64_t)(q->t->nbytes / ur_row_size(q->t->type, q->t->ne[0]));
    convert_job j = {q, dst, ur_row_size(q->t->type, q->t->ne[0]), ur_row_size(q->type, q->t->ne[0])};
    ur_pool_for(q->c->pool, rows, 0, convert_body, &j);
    return 0;
}

static void copy_meta(ur_gguf_writer *w, const ur_gguf *g, const ur_qmix *mix) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const ur_str *k = &g->kv[i].key;
        if ((k->len == 17 && !memcmp(k->ptr, "general.file_type", 17)) ||
            (k->len == 28 && !memcmp(k->ptr, "general.quantization_version", 28)))
            continue;
        ur_gguf_w_copy_kv(w, &g->kv[i]);
    }
    if (is_quantized(mix->base)) ur_gguf_w_u32(w, "general.quantization_version", 2);
    ur_gguf_w_u32(w, "general.file_type", (uint32_t)mix->ftype);
}

/* The layer count from <arch>.block_count (0 when absent: the layer rules then see none). */
static int layer_count(const ur_gguf *g) {
    ur_str arch;
    uint32_t n = 0;
    ur_err e = {{0}};
    char key[96];
    if (ur_gguf_get_str(g, "general.architecture", &arch, &e) || arch.len > 64) return 0;
    snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
    return ur_gguf_get_u32(g, key, &n, &e) ? 0 : (int)n;
}

int ur_quantize_file(const char *in, const char *out, ur_qmix *mix, int threads, ur_quantize_stats *st, ur_err *err) {
    ur_gguf *g = ur_gguf_open(in, err);
    if (!g) return -1;
    if (!strcmp(in, out)) {
        ur_gguf_close(g);
        return ur_errf(err, "%s: the output must be another file", out);
    }
    memset(st, 0, sizeof *st);
    qctx c = {0};
    qtensor *qs = ur_xcalloc(g->n_tensors ? g->n_tensors : 1, sizeof *qs);
    ur_gguf_writer *w = ur_gguf_writer_new();
    copy_meta(w, g, mix);
    ur_qmix_begin(mix, layer_count(g), ur_gguf_find_tensor(g, "output.weight") != NULL);
    int rc = -1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 79 ? t->name.len : 79), t->name.ptr);
        qs[i] = (qtensor){&c, t, ur_qmix_type(mix, name, t->n_dims, t->ne[0], t->type)};
        if (qs[i].type != t->type && t->ne[0] > c.scratch_cols) c.scratch_cols = t->ne[0];
        if (ur_gguf_w_tensor_fill(w, name, qs[i].type, t->n_dims, t->ne, fill_tensor, &qs[i], err)) goto out;
        st->n_tensors++;
        st->count[qs[i].type]++;
        st->bytes_in += t->nbytes;
        st->bytes_out += ur_row_size(qs[i].type, t->ne[0]) * (t->nbytes / ur_row_size(t->type, t->ne[0]));
    }
    c.pool = ur_pool_new(threads, NULL); /* NULL (no threads to be had): quantize on this thread */
    c.scratch = ur_xmalloc(sizeof(float) * (size_t)ur_pool_threads(c.pool) * (size_t)(c.scratch_cols + 1));
    rc = ur_gguf_write(w, out, err);
out:
    ur_gguf_writer_free(w);
    ur_pool_free(c.pool);
    free(c.scratch);
    free(qs);
    ur_gguf_close(g);
    return rc;
}
