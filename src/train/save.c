/* Writing a trained network as a GGUF model (or a LoRA adapter) that urial and
 * llama.cpp load (train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/gemm.h"
#include "train/internal.h"
#include "urial/quantize.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* A save's working state: the buffers kept until the file is written, the
 * threads (all cores, for the save only) that quantize them, and the file type
 * that picks each matrix's type (quantize.h: the code `urial quantize` uses). */
typedef struct keep {
    void **p;
    int n, cap;
    ur_pool *pool;
    ur_qmix mix;
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

/* Add tensor `name` ([rows][cols] floats in f) as the file type gives it (vectors stay F32). */
static int put(ur_gguf_writer *w, keep *k, const char *name, const float *f, int64_t cols, int64_t rows, ur_err *err) {
    int64_t ne[2] = {cols, rows};
    const int type = ur_qmix_type(&k->mix, name, rows == 1 ? 1 : 2, cols, UR_TYPE_F32);
    if (rows == 1 || type == UR_TYPE_F32)
        return ur_gguf_w_tensor(w, name, UR_TYPE_F32, rows == 1 ? 1 : 2, ne, f, sizeof(float) * (size_t)(cols * rows),
                                err);
    if (cols % ur_type_block(type))
        return ur_errf(err, "tensor '%s': %lld columns are not a multiple of the %s block (%d)", name,
                       (long long)cols, ur_type_name(type), ur_type_block(type));
    const uint64_t rb = ur_row_size(type, cols);
    uint8_t *q = keep_alloc(k, rb * (size_t)rows);
    ur_quantize_rows(k->pool, type, f, q, rows, cols);
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
static int put_frozen(ur_gguf_writer *w, keep *k, const char *name, const ur_weight *wt, ur_err *err) {
    ur_qmix probe = k->mix; /* put() counts the tensor when it converts it */
    const int want = wt->rows == 1 ? UR_TYPE_F32 : ur_qmix_type(&probe, name, 2, wt->cols, wt->type);
    if (wt->type == want) {
        k->mix = probe;
        int64_t ne[2] = {wt->cols, wt->rows};
        return ur_gguf_w_tensor(w, name, want, wt->rows == 1 ? 1 : 2, ne, wt->data, wt->row_bytes * (size_t)wt->rows,
                                err);
    }
    return put(w, k, name, dequant(k, wt), wt->cols, wt->rows, err);
}

/* general.*, the hyperparameters and the tokenizer. A net from a base model keeps the
 * base's <arch>.* keys (every architecture's own hyperparameters, as llama.cpp reads
 * them); one trained from scratch is a llama model. */
static void put_meta(ur_gguf_writer *w, const ur_tnet *n, const ur_tsave_opts *o) {
    const ur_hparams *hp = &n->hp;
    const char *arch = ur_arch_name(hp->arch);
    ur_gguf_w_str(w, "general.architecture", arch);
    ur_gguf_w_str(w, "general.name", o->name ? o->name : "urial-trained");
    ur_gguf_w_u32(w, "general.alignment", 32);
    if (n->base) {
        const ur_gguf *bg = n->base->gguf;
        const size_t al = strlen(arch);
        for (uint64_t i = 0; i < bg->n_kv; i++) {
            const ur_str *key = &bg->kv[i].key;
            if (key->len == al + 11 && !memcmp(key->ptr + al, ".vocab_size", 11) && n->n_new) continue;
            if (key->len > al && key->ptr[al] == '.' && !memcmp(key->ptr, arch, al)) ur_gguf_w_copy_kv(w, &bg->kv[i]);
        }
        char vk[64];
        snprintf(vk, sizeof vk, "%s.vocab_size", arch);
        if (n->n_new && ur_gguf_find(bg, vk)) ur_gguf_w_u32(w, vk, (uint32_t)hp->n_vocab);
    } else {
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
    }
    const ur_gguf *g = o->tok_src;
    if (o->eot_text) {
        ur_tok_put_eot(w, g, o->eot_text, o->chat_template);
        return;
    }
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const ur_str *key = &g->kv[i].key;
        if (key->len <= 10 || memcmp(key->ptr, "tokenizer.", 10)) continue;
        if (o->chat_template && key->len == 23 && !memcmp(key->ptr, "tokenizer.chat_template", 23)) continue;
        ur_gguf_w_copy_kv(w, &g->kv[i]);
    }
    if (o->chat_template) ur_gguf_w_str(w, "tokenizer.chat_template", o->chat_template);
}

/* A frozen matrix with the new tokens' trainable rows after its own, as F32 rows. */
static int put_grown(ur_gguf_writer *w, keep *k, const char *name, const ur_weight *fz, const float *rows, int nx,
                     ur_err *err) {
    if (!nx) return put_frozen(w, k, name, fz, err);
    const size_t D = (size_t)fz->cols, V0 = (size_t)fz->rows;
    float *f = keep_alloc(k, sizeof(float) * D * (V0 + (size_t)nx));
    memcpy(f, dequant(k, fz), sizeof(float) * D * V0);
    memcpy(f + D * V0, rows, sizeof(float) * D * (size_t)nx);
    return put(w, k, name, f, fz->cols, fz->rows + nx, err);
}

/* A linear map's weight as F32 rows: the trained one, the frozen one dequantized, or
 * the frozen one merged with its adapter, W + s B A. */
static const float *lin_f32(keep *k, const ur_tlin *t) {
    if (t->w) return t->w;
    float *f = dequant(k, &t->fz);
    if (t->r) ur_sgemm(0, 0, t->out, t->in, t->r, t->s, t->b, t->r, t->a, t->in, 1.0f, f, t->in, k->pool, NULL);
    return f;
}

/* One linear map, as it is when frozen and unadapted (bytes copied), else as F32 rows in `type`. */
static int put_lin(ur_gguf_writer *w, keep *k, const char *name, const ur_tlin *t, ur_err *err) {
    if (!t->w && !t->r) return put_frozen(w, k, name, &t->fz, err);
    return put(w, k, name, lin_f32(k, t), t->in, t->out, err);
}

/* Several linear maps stored as one matrix of their rows in order (phi3's attn_qkv and
 * ffn_up): the base's bytes when all are frozen and unadapted (their views are the
 * fused tensor's consecutive rows), else their F32 rows concatenated. */
static int put_fused(ur_gguf_writer *w, keep *k, const char *name, const ur_tlin *const *ts, int nt, ur_err *err) {
    int64_t rows = 0;
    int untouched = 1;
    for (int i = 0; i < nt; i++) rows += ts[i]->out, untouched &= !ts[i]->w && !ts[i]->r;
    const int in = ts[0]->in;
    if (untouched) {
        ur_weight all = ts[0]->fz;
        all.rows = rows;
        return put_frozen(w, k, name, &all, err);
    }
    float *f = keep_alloc(k, sizeof(float) * (size_t)rows * (size_t)in);
    int64_t r0 = 0;
    for (int i = 0; i < nt; i++) {
        memcpy(f + (size_t)r0 * in, lin_f32(k, ts[i]), sizeof(float) * (size_t)ts[i]->out * (size_t)in);
        r0 += ts[i]->out;
    }
    return put(w, k, name, f, in, rows, err);
}

int ur_tnet_save(const ur_tnet *n, const ur_tsave_opts *o, const char *path, ur_err *err) {
    const ur_hparams *hp = &n->hp;
    keep k = {0};
    if (ur_qmix_init(&k.mix, o->mix ? o->mix : ur_type_name(o->type), !o->mix, err))
        return ur_errf(err, "%s: cannot write weights: %s", path, err->msg);
    if (!o->tok_src) return ur_errf(err, "%s: no tokenizer to copy", path);
    ur_qmix_begin(&k.mix, hp->n_layers, !n->tied);
    ur_gguf_writer *w = ur_gguf_writer_new();
    k.pool = ur_pool_new(0, NULL); /* NULL (no threads to be had): quantize on this thread */
    int rc = -1;
    put_meta(w, n, o);
    ur_gguf_w_u32(w, "general.file_type", (uint32_t)k.mix.ftype);
    const int64_t D = hp->dim, V = hp->n_vocab;
    const int fused_qkv = n->base && n->base->fused_qkv, fused_gu = n->base && n->base->fused_gate_up;
    if (n->n_new && (n->n_new != 1 || !o->eot_text)) {
        ur_errf(err, "%s: %d new tokens but no end-of-turn text to write for them", path, n->n_new);
        goto out;
    }
    if (n->embd ? put(w, &k, "token_embd.weight", n->embd, D, V, err)
                : put_grown(w, &k, "token_embd.weight", &n->embd_fz, n->embd_new, n->n_new, err))
        goto out;
    if (put(w, &k, "output_norm.weight", n->out_norm, D, 1, err)) goto out;
    if (!n->tied && (n->output.w ? put(w, &k, "output.weight", n->output.w, D, V, err)
                                 : put_grown(w, &k, "output.weight", &n->output.fz, n->output.xw, n->output.nx, err)))
        goto out;
    if (n->base && n->base->rope_long) { /* LongRoPE's factors go back as they came */
        if (put(w, &k, "rope_factors_long.weight", n->base->rope_long, hp->n_rot / 2, 1, err) ||
            put(w, &k, "rope_factors_short.weight", n->base->rope_short, hp->n_rot / 2, 1, err))
            goto out;
    } else if (n->rope_freqs && put(w, &k, "rope_freqs.weight", n->rope_freqs, hp->n_rot / 2, 1, err)) {
        goto out;
    }
    tr_part parts[TR_MAX_PARTS];
    for (int l = 0; l < hp->n_layers; l++) {
        ur_tlayer *L = &n->layers[l];
        const int np = tr_layer_parts(hp, n->base, l, L, parts);
        for (int j = 0; j < np; j++) {
            const tr_part *pt = &parts[j];
            char nm[96];
            snprintf(nm, sizeof nm, "blk.%d.%.31s", l, pt->name);
            int r = 0;
            if (!pt->lin) r = put(w, &k, nm, *pt->p, pt->ne0, 1, err);
            else if (fused_qkv && pt->lin == &L->q) {
                const ur_tlin *ts[3] = {&L->q, &L->k, &L->v};
                snprintf(nm, sizeof nm, "blk.%d.attn_qkv.weight", l);
                r = put_fused(w, &k, nm, ts, 3, err);
            } else if (fused_gu && pt->lin == &L->gate) {
                const ur_tlin *ts[2] = {&L->gate, &L->up};
                snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l);
                r = put_fused(w, &k, nm, ts, 2, err);
            } else if ((fused_qkv && (pt->lin == &L->k || pt->lin == &L->v)) || (fused_gu && pt->lin == &L->up)) {
                continue; /* written with the fused tensor */
            } else {
                r = put_lin(w, &k, nm, pt->lin, err);
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

static const char *const LIN[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

/* A LoRA pair for llama.cpp: lora_a [in, rank] and lora_b [rank, out] (ne order). */
static int put_pair(ur_gguf_writer *w, const char *base, const float *a, const float *b, int64_t in, int64_t out,
                    int64_t rank, ur_err *err) {
    char nm[128];
    int64_t ne[2] = {in, rank};
    snprintf(nm, sizeof nm, "%s.lora_a", base);
    if (ur_gguf_w_tensor(w, nm, UR_TYPE_F32, 2, ne, a, sizeof(float) * (size_t)(in * rank), err)) return -1;
    ne[0] = rank, ne[1] = out;
    snprintf(nm, sizeof nm, "%s.lora_b", base);
    return ur_gguf_w_tensor(w, nm, UR_TYPE_F32, 2, ne, b, sizeof(float) * (size_t)(rank * out), err);
}

/* One adapter for a fused matrix made of the maps ts (rows in order): A stacks the
 * adapted maps' A, B places each B in its rows and its rank's columns, scaled by
 * R / r so that llama.cpp's alpha / R gives every part its alpha / r. */
static int put_fused_pair(ur_gguf_writer *w, keep *k, const char *base, const ur_tlin *const *ts, int nt, ur_err *err) {
    int64_t R = 0, rows = 0;
    for (int i = 0; i < nt; i++) R += ts[i]->r, rows += ts[i]->out;
    if (!R) return 0;
    const int64_t in = ts[0]->in;
    float *a = keep_alloc(k, sizeof(float) * (size_t)(R * in)), *b = keep_alloc(k, sizeof(float) * (size_t)(rows * R));
    memset(b, 0, sizeof(float) * (size_t)(rows * R));
    int64_t r0 = 0, o0 = 0;
    for (int i = 0; i < nt; i++) {
        const ur_tlin *t = ts[i];
        if (t->r) {
            memcpy(a + (size_t)(r0 * in), t->a, sizeof(float) * (size_t)(t->r * in));
            for (int o = 0; o < t->out; o++)
                for (int j = 0; j < t->r; j++)
                    b[(size_t)(o0 + o) * R + (size_t)(r0 + j)] = t->b[(size_t)o * t->r + j] * (float)R / (float)t->r;
            r0 += t->r;
        }
        o0 += t->out;
    }
    return put_pair(w, base, a, b, in, rows, R, err);
}

int ur_tnet_save_adapter(const ur_tnet *n, const char *path, ur_err *err) {
    if (!n->lora) return ur_errf(err, "%s: not a LoRA network", path);
    if (n->n_new) return ur_errf(err, "%s: a LoRA adapter cannot add tokens to the base's vocabulary", path);
    ur_gguf_writer *w = ur_gguf_writer_new();
    keep k = {0};
    ur_gguf_w_str(w, "general.architecture", ur_arch_name(n->hp.arch));
    ur_gguf_w_str(w, "general.type", "adapter");
    ur_gguf_w_str(w, "general.name", "urial-lora");
    ur_gguf_w_str(w, "adapter.type", "lora");
    ur_gguf_w_f32(w, "adapter.lora.alpha", n->lora_alpha);
    const int fused_qkv = n->base && n->base->fused_qkv, fused_gu = n->base && n->base->fused_gate_up;
    int rc = 0;
    for (int l = 0; l < n->hp.n_layers && !rc; l++) {
        const ur_tlayer *L = &n->layers[l];
        const ur_tlin *ls[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
        for (int j = 0; j < 7 && !rc; j++) {
            char nm[96];
            if (fused_qkv && j < 3) {
                if (j == 0) snprintf(nm, sizeof nm, "blk.%d.attn_qkv.weight", l), rc = put_fused_pair(w, &k, nm, ls, 3, err);
                continue;
            }
            if (fused_gu && (j == 4 || j == 5)) {
                if (j == 4) snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l), rc = put_fused_pair(w, &k, nm, ls + 4, 2, err);
                continue;
            }
            if (!ls[j]->r) continue;
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, LIN[j]);
            rc = put_pair(w, nm, ls[j]->a, ls[j]->b, ls[j]->in, ls[j]->out, ls[j]->r, err);
        }
    }
    if (!rc) rc = ur_gguf_write(w, path, err);
    ur_gguf_writer_free(w);
    keep_free(&k);
    return rc;
}
