/* Writing a trained network as a GGUF model (or a LoRA adapter) that urial and
 * llama.cpp load (train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/gemm.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* A save's working state: the buffers kept until the file is written, and the
 * threads (all cores, for the save only) that quantize them. */
typedef struct keep {
    void **p;
    int n, cap;
    ur_pool *pool;
} keep;

static void *keep_alloc(keep *k, size_t bytes) {
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->p = ur_xrealloc(k->p, sizeof(void *) * (size_t)k->cap);
    }
    void *p = ur_xmalloc(bytes ? bytes : 1);
    return k->p[k->n++] = p;
}

static void keep_free(keep *k) {
    for (int i = 0; i < k->n; i++) free(k->p[i]);
    free(k->p);
}

typedef struct quant_job {
    const float *f;
    uint8_t *q;
    int64_t cols;
    uint64_t rb;
    int type;
} quant_job;

static void quant_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const quant_job *j = arg;
    (void)tid;
    for (int64_t r = r0; r < r1; r++)
        ur_quantize_row(j->type, j->f + (size_t)r * j->cols, j->q + (size_t)r * j->rb, j->cols);
}

/* Add tensor `name` ([rows][cols] floats in f) as `type` (vectors stay F32). */
static int put(ur_gguf_writer *w, keep *k, const char *name, const float *f, int64_t cols, int64_t rows, int type,
               ur_err *err) {
    int64_t ne[2] = {cols, rows};
    if (rows == 1 || type == UR_TYPE_F32)
        return ur_gguf_w_tensor(w, name, UR_TYPE_F32, rows == 1 ? 1 : 2, ne, f, sizeof(float) * (size_t)(cols * rows),
                                err);
    if (cols % ur_type_block(type))
        return ur_errf(err, "tensor '%s': %lld columns are not a multiple of the %s block (%d)", name,
                       (long long)cols, ur_type_name(type), ur_type_block(type));
    const uint64_t rb = ur_row_size(type, cols);
    uint8_t *q = keep_alloc(k, rb * (size_t)rows);
    quant_job j = {f, q, cols, rb, type};
    ur_pool_for(k->pool, rows, 0, quant_body, &j);
    return ur_gguf_w_tensor(w, name, type, 2, ne, q, rb * (size_t)rows, err);
}

/* The F32 values of a frozen weight (dequantized into a kept buffer). */
static float *dequant(keep *k, const ur_weight *wt) {
    float *f = keep_alloc(k, sizeof(float) * (size_t)(wt->rows * wt->cols));
    for (int64_t r = 0; r < wt->rows; r++)
        ur_dequantize_row(wt->type, (const uint8_t *)wt->data + (size_t)r * wt->row_bytes, f + (size_t)r * wt->cols,
                          wt->cols);
    return f;
}

/* A frozen weight as it is when its type is the one asked for, else converted. */
static int put_frozen(ur_gguf_writer *w, keep *k, const char *name, const ur_weight *wt, int type, ur_err *err) {
    const int want = wt->rows == 1 ? UR_TYPE_F32 : type;
    if (wt->type == want) {
        int64_t ne[2] = {wt->cols, wt->rows};
        return ur_gguf_w_tensor(w, name, want, wt->rows == 1 ? 1 : 2, ne, wt->data, wt->row_bytes * (size_t)wt->rows,
                                err);
    }
    return put(w, k, name, dequant(k, wt), wt->cols, wt->rows, type, err);
}

static void put_meta(ur_gguf_writer *w, const ur_tnet *n, const ur_tsave_opts *o) {
    const ur_hparams *hp = &n->hp;
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_str(w, "general.name", o->name ? o->name : "urial-trained");
    ur_gguf_w_u32(w, "general.alignment", 32);
    ur_gguf_w_u32(w, "llama.context_length", (uint32_t)hp->n_ctx_train);
    ur_gguf_w_u32(w, "llama.embedding_length", (uint32_t)hp->dim);
    ur_gguf_w_u32(w, "llama.block_count", (uint32_t)hp->n_layers);
    ur_gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)hp->ff);
    ur_gguf_w_u32(w, "llama.attention.head_count", (uint32_t)hp->n_heads);
    ur_gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)hp->n_kv_heads);
    ur_gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)hp->n_rot);
    ur_gguf_w_f32(w, "llama.rope.freq_base", hp->rope_base);
    if (hp->rope_scale != 1.0f) {
        ur_gguf_w_str(w, "llama.rope.scaling.type", "linear");
        ur_gguf_w_f32(w, "llama.rope.scaling.factor", hp->rope_scale);
    }
    ur_gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->rms_eps);
    const ur_gguf *g = o->tok_src;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const ur_str *key = &g->kv[i].key;
        if (key->len <= 10 || memcmp(key->ptr, "tokenizer.", 10)) continue;
        if (o->chat_template && key->len == 23 && !memcmp(key->ptr, "tokenizer.chat_template", 23)) continue;
        ur_gguf_w_copy_kv(w, &g->kv[i]);
    }
    if (o->chat_template) ur_gguf_w_str(w, "tokenizer.chat_template", o->chat_template);
}

static const char *const LIN[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

int ur_tnet_save(const ur_tnet *n, const ur_tsave_opts *o, const char *path, ur_err *err) {
    const ur_hparams *hp = &n->hp;
    const int type = o->type;
    if (type != UR_TYPE_F32 && type != UR_TYPE_F16 && type != UR_TYPE_BF16 && type != UR_TYPE_Q8_0 &&
        type != UR_TYPE_Q4_0)
        return ur_errf(err, "%s: cannot write weights as %s (f32, f16, bf16, q8_0 or q4_0)", path, ur_type_name(type));
    if (!o->tok_src) return ur_errf(err, "%s: no tokenizer to copy", path);
    ur_gguf_writer *w = ur_gguf_writer_new();
    keep k = {.pool = ur_pool_new(0, NULL)}; /* NULL (no threads to be had): quantize on this thread */
    int rc = -1;
    put_meta(w, n, o);
    const int64_t D = hp->dim, V = hp->n_vocab;
    if (n->embd ? put(w, &k, "token_embd.weight", n->embd, D, V, type, err)
                : put_frozen(w, &k, "token_embd.weight", &n->embd_fz, type, err))
        goto out;
    if (put(w, &k, "output_norm.weight", n->out_norm, D, 1, type, err)) goto out;
    if (!n->tied && (n->output.w ? put(w, &k, "output.weight", n->output.w, D, V, type, err)
                                 : put_frozen(w, &k, "output.weight", &n->output.fz, type, err)))
        goto out;
    if (n->rope_freqs && put(w, &k, "rope_freqs.weight", n->rope_freqs, hp->n_rot / 2, 1, type, err)) goto out;
    for (int l = 0; l < hp->n_layers; l++) {
        const ur_tlayer *L = &n->layers[l];
        char nm[96];
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        if (put(w, &k, nm, L->attn_norm, D, 1, type, err)) goto out;
        const ur_tlin *ls[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
        for (int j = 0; j < 7; j++) {
            const ur_tlin *t = ls[j];
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, LIN[j]);
            if (j == 4) {
                char nn[96];
                snprintf(nn, sizeof nn, "blk.%d.ffn_norm.weight", l);
                if (put(w, &k, nn, L->ffn_norm, D, 1, type, err)) goto out;
            }
            int r;
            if (t->w) r = put(w, &k, nm, t->w, t->in, t->out, type, err);
            else if (!t->r) r = put_frozen(w, &k, nm, &t->fz, type, err);
            else {
                /* merged: W + s B A */
                float *f = dequant(&k, &t->fz);
                ur_sgemm(0, 0, t->out, t->in, t->r, t->s, t->b, t->r, t->a, t->in, 1.0f, f, t->in, k.pool, NULL);
                r = put(w, &k, nm, f, t->in, t->out, type, err);
            }
            if (r) goto out;
        }
    }
    rc = ur_gguf_write(w, path, err);
out:
    ur_gguf_writer_free(w);
    keep_free(&k);
    ur_pool_free(k.pool);
    return rc;
}

int ur_tnet_save_adapter(const ur_tnet *n, const char *path, ur_err *err) {
    if (!n->lora) return ur_errf(err, "%s: not a LoRA network", path);
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_str(w, "general.type", "adapter");
    ur_gguf_w_str(w, "general.name", "urial-lora");
    ur_gguf_w_str(w, "adapter.type", "lora");
    ur_gguf_w_f32(w, "adapter.lora.alpha", n->lora_alpha);
    int rc = 0;
    for (int i = 0; i < n->n_tensors && !rc; i++) {
        const ur_ttensor *t = &n->tensors[i];
        int64_t ne[2] = {t->ne0, t->ne1};
        rc = ur_gguf_w_tensor(w, t->name, UR_TYPE_F32, 2, ne, n->params + t->off,
                              sizeof(float) * (size_t)(t->ne0 * t->ne1), err);
    }
    if (!rc) rc = ur_gguf_write(w, path, err);
    ur_gguf_writer_free(w);
    return rc;
}
