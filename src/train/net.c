/* The trainable network (train.h): the tensor table, the one-buffer layout of
 * parameters and gradients, initialisation (random, from a model, LoRA), and the
 * rope table. Saving is in save.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "train/internal.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* ---- the tensor table ------------------------------------------------------------ */
typedef struct builder {
    ur_ttensor *t;
    int n, cap;
    size_t off;
} builder;

/* Register a trainable tensor; returns its index. Offsets are rounded to 16 floats
 * (64 bytes) so every tensor starts on a cache line. */
static int add(builder *b, const char *name, int64_t ne0, int64_t ne1, int decay) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->t = ur_xrealloc(b->t, sizeof *b->t * (size_t)b->cap);
    }
    ur_ttensor *t = &b->t[b->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = b->off;
    t->ne0 = ne0;
    t->ne1 = ne1;
    t->decay = decay;
    b->off += ((size_t)(ne0 * ne1) + 15) & ~(size_t)15;
    return b->n++;
}

static int alloc_buffers(ur_tnet *n, builder *b, ur_err *err) {
    n->tensors = b->t;
    n->n_tensors = b->n;
    n->n_params = b->off;
    size_t bytes = (n->n_params * sizeof(float) + 63) & ~(size_t)63;
    n->params = aligned_alloc(64, bytes ? bytes : 64);
    n->grads = aligned_alloc(64, bytes ? bytes : 64);
    if (!n->params || !n->grads)
        return ur_errf(err, "out of memory for %zu trainable parameters (%.1f MiB each for weights and gradients)",
                       n->n_params, (double)bytes / (1 << 20));
    memset(n->params, 0, bytes);
    memset(n->grads, 0, bytes);
    return 0;
}

/* One position table: [n_ctx_train][n_rot] cos/sin pairs. */
static float *rope_table(const ur_hparams *hp, float base, float scale, const float *freqs, float mscale) {
    float *t = malloc(sizeof(float) * (size_t)hp->n_ctx_train * (size_t)hp->n_rot);
    if (!t) return NULL;
    for (int p = 0; p < hp->n_ctx_train; p++)
        ur_rope_cache(t + (size_t)p * hp->n_rot, (float)p, hp->n_rot, base, scale, freqs, mscale);
    return t;
}

/* The rope tables, as the engine makes them (forward.c): the global one with the
 * frequency divisors (rope_freqs, or LongRoPE's short factors: training sequences
 * are within the original context) and the attention factor; sliding layers with
 * their own base or scale get a second table. */
static int build_rope(ur_tnet *n, const float *freqs, ur_err *err) {
    const ur_hparams *hp = &n->hp;
    if (freqs) {
        n->rope_freqs = malloc(sizeof(float) * (size_t)(hp->n_rot / 2));
        if (!n->rope_freqs) return ur_errf(err, "out of memory");
        memcpy(n->rope_freqs, freqs, sizeof(float) * (size_t)(hp->n_rot / 2));
    }
    n->rope = rope_table(hp, hp->rope_base, hp->rope_scale, n->rope_freqs, hp->rope_attn_factor);
    if (!n->rope) return ur_errf(err, "out of memory for the rope table (%d positions)", hp->n_ctx_train);
    n->rope_swa = n->rope;
    if (hp->swa_window && (hp->rope_base_swa != hp->rope_base || hp->rope_scale_swa != hp->rope_scale) &&
        !(n->rope_swa = rope_table(hp, hp->rope_base_swa, hp->rope_scale_swa, NULL, 1.0f)))
        return ur_errf(err, "out of memory for the rope table (%d positions)", hp->n_ctx_train);
    return 0;
}

void ur_tnet_free(ur_tnet *n) {
    if (!n) return;
    free(n->params);
    free(n->grads);
    free(n->tensors);
    free(n->layers);
    if (n->rope_swa != n->rope) free(n->rope_swa);
    free(n->rope);
    free(n->rope_freqs);
    free(n);
}

const ur_ttensor *ur_tnet_find(const ur_tnet *n, const char *name) {
    for (int i = 0; i < n->n_tensors; i++)
        if (!strcmp(n->tensors[i].name, name)) return &n->tensors[i];
    return NULL;
}

static const char *const LIN_NAMES[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

static ur_tlin *layer_lin(ur_tlayer *L, int i) {
    ur_tlin *l[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    return l[i];
}

int tr_layer_parts(const ur_hparams *hp, const ur_model *base, int l, ur_tlayer *L, tr_part *out) {
    const ur_layer *S = base ? &base->layers[l] : NULL;
    const int64_t dim = hp->dim, qd = hp->q_dim, kvd = hp->kv_dim, ff = hp->ff;
    const int pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST, head = hp->qk_norm == UR_QKNORM_HEAD;
    static const ur_weight none;
    int n = 0;
#define VEC(nm, len, P, G, SRC)                                                                       \
    (out[n] = (tr_part){.ne0 = (len), .ne1 = 1, .p = &L->P, .g = &L->G, .src = S ? &S->SRC : &none}, \
     snprintf(out[n].name, sizeof out[n].name, "%s", nm), n++)
#define LIN(nm, in, o, F, SRC)                                                                   \
    (out[n] = (tr_part){.ne0 = (in), .ne1 = (o), .lin = &L->F, .src = S ? &S->SRC : &none}, \
     snprintf(out[n].name, sizeof out[n].name, "%s", nm), n++)
    if (pre) VEC("attn_norm.weight", dim, attn_norm, g_attn_norm, attn_norm);
    LIN("attn_q.weight", dim, qd, q, wq);
    LIN("attn_k.weight", dim, kvd, k, wk);
    LIN("attn_v.weight", dim, kvd, v, wv);
    if (S && S->bq.data) VEC("attn_q.bias", qd, bq, g_bq, bq);
    if (S && S->bk.data) VEC("attn_k.bias", kvd, bk, g_bk, bk);
    if (S && S->bv.data) VEC("attn_v.bias", kvd, bv, g_bv, bv);
    if (hp->qk_norm) {
        VEC("attn_q_norm.weight", head ? hp->head_dim : qd, q_norm, g_q_norm, q_norm);
        VEC("attn_k_norm.weight", head ? hp->head_dim : kvd, k_norm, g_k_norm, k_norm);
    }
    LIN("attn_output.weight", qd, dim, o, wo);
    if (S && S->bo.data) VEC("attn_output.bias", dim, bo, g_bo, bo);
    if (post) VEC("post_attention_norm.weight", dim, attn_post_norm, g_attn_post_norm, attn_post_norm);
    if (pre) VEC("ffn_norm.weight", dim, ffn_norm, g_ffn_norm, ffn_norm);
    LIN("ffn_gate.weight", dim, ff, gate, w_gate);
    LIN("ffn_up.weight", dim, ff, up, w_up);
    LIN("ffn_down.weight", ff, dim, down, w_down);
    if (post) VEC("post_ffw_norm.weight", dim, ffn_post_norm, g_ffn_post_norm, ffn_post_norm);
#undef VEC
#undef LIN
    return n;
}

/* What training cannot do yet, as one line; 0 when it can. */
static int check_shape(const ur_hparams *hp, const ur_model *base, ur_err *err) {
    if (hp->dim <= 0 || hp->n_layers <= 0 || hp->n_heads <= 0 || hp->n_kv_heads <= 0 || hp->ff <= 0 ||
        hp->n_vocab <= 0 || hp->n_ctx_train <= 0 || hp->head_dim <= 0 || hp->n_heads % hp->n_kv_heads)
        return ur_errf(err, "bad model shape (dim %d, layers %d, heads %d/%d, ff %d, vocab %d, ctx %d)", hp->dim,
                       hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->ff, hp->n_vocab, hp->n_ctx_train);
    if (base && base->output_b.data)
        return ur_errf(err, "%s: training does not support an output bias (output.bias)", base->gguf->path);
    return 0;
}

/* The full-training layout: every weight trainable, in GGUF order. */
static int layout_full(ur_tnet *n, ur_err *err) {
    const ur_hparams *hp = &n->hp;
    const int64_t dim = hp->dim, nv = hp->n_vocab;
    builder b = {0};
    int i_embd = add(&b, "token_embd.weight", dim, nv, 1);
    int i_onorm = add(&b, "output_norm.weight", dim, 1, 0);
    int i_out = n->tied ? -1 : add(&b, "output.weight", dim, nv, 1);
    n->layers = ur_xcalloc((size_t)hp->n_layers, sizeof *n->layers);
    int *li = ur_xmalloc(sizeof(int) * TR_MAX_PARTS * (size_t)hp->n_layers);
    tr_part parts[TR_MAX_PARTS];
    for (int l = 0; l < hp->n_layers; l++) {
        const int np = tr_layer_parts(hp, n->base, l, &n->layers[l], parts);
        for (int j = 0; j < np; j++) {
            char nm[96];
            snprintf(nm, sizeof nm, "blk.%d.%.31s", l, parts[j].name);
            li[TR_MAX_PARTS * l + j] = add(&b, nm, parts[j].ne0, parts[j].ne1, parts[j].lin != NULL);
        }
    }
    if (alloc_buffers(n, &b, err)) {
        free(li);
        return -1;
    }
#define P(i) (n->params + n->tensors[i].off)
#define G(i) (n->grads + n->tensors[i].off)
    n->embd = P(i_embd), n->g_embd = G(i_embd);
    n->out_norm = P(i_onorm), n->g_out_norm = G(i_onorm);
    n->output.in = (int)dim, n->output.out = (int)nv;
    n->output.w = n->tied ? n->embd : P(i_out);
    n->output.gw = n->tied ? n->g_embd : G(i_out);
    for (int l = 0; l < hp->n_layers; l++) {
        const int np = tr_layer_parts(hp, n->base, l, &n->layers[l], parts);
        for (int j = 0; j < np; j++) {
            const int i = li[TR_MAX_PARTS * l + j];
            if (parts[j].lin) {
                ur_tlin *t = parts[j].lin;
                t->in = (int)parts[j].ne0, t->out = (int)parts[j].ne1;
                t->w = P(i), t->gw = G(i);
            } else {
                *parts[j].p = P(i), *parts[j].g = G(i);
            }
        }
    }
#undef P
#undef G
    free(li);
    return 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Standard normal by Box-Muller on a splitmix stream (deterministic everywhere). */
static float normal(uint64_t *s) {
    double u1 = ((splitmix(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void fill_normal(float *x, size_t n, float sd, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) x[i] = sd * normal(&s);
}

ur_tnet *ur_tnet_new(const ur_hparams *hp_in, int tied, uint64_t seed, ur_err *err) {
    ur_tnet *n = ur_xcalloc(1, sizeof *n);
    n->hp = *hp_in;
    ur_hparams *hp = &n->hp;
    hp->arch = UR_ARCH_LLAMA;
    hp->head_dim = hp->n_heads > 0 ? hp->dim / hp->n_heads : 0;
    if (check_shape(hp, NULL, err)) goto fail;
    hp->q_dim = hp->dim, hp->kv_dim = hp->n_kv_heads * hp->head_dim;
    hp->norm = UR_NORM_PRE, hp->qk_norm = UR_QKNORM_NONE, hp->act = UR_ACT_SILU;
    hp->embd_scale = 1.0f, hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim), hp->q_prescale = 0;
    hp->attn_softcap = hp->final_softcap = 0, hp->swa_window = 0, hp->rope_attn_factor = 1.0f;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim) hp->n_rot = hp->head_dim;
    if (!(hp->rope_base > 0)) hp->rope_base = 10000.0f;
    if (!(hp->rope_scale > 0)) hp->rope_scale = 1.0f;
    if (!(hp->rms_eps > 0)) hp->rms_eps = 1e-5f;
    hp->rope_neox = 0;
    n->tied = tied;
    if (layout_full(n, err) || build_rope(n, NULL, err)) goto fail;
    const float resid = 0.02f / sqrtf(2.0f * (float)hp->n_layers);
    for (int i = 0; i < n->n_tensors; i++) {
        const ur_ttensor *t = &n->tensors[i];
        float *p = n->params + t->off;
        size_t cnt = (size_t)(t->ne0 * t->ne1);
        if (t->ne1 == 1) {
            for (size_t j = 0; j < cnt; j++) p[j] = 1.0f;
            continue;
        }
        int is_resid = strstr(t->name, "attn_output") || strstr(t->name, "ffn_down");
        fill_normal(p, cnt, is_resid ? resid : 0.02f, seed * 0x100000001B3ull + (uint64_t)i * 0x9E3779B97F4A7C15ull);
    }
    return n;
fail:
    ur_tnet_free(n);
    return NULL;
}

static void dequant_all(const ur_weight *w, float *dst) {
    for (int64_t r = 0; r < w->rows; r++)
        ur_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, dst + (size_t)r * w->cols,
                          w->cols);
}

/* The rope divisors a net trained on m uses (ur_model_rope_factors for a context
 * within the original one). */
static const float *train_freqs(const ur_model *m) {
    return m->rope_freqs ? m->rope_freqs : m->rope_short;
}

/* The mean of a weight's rows (accumulated in double), into k rows of dst: where new
 * tokens start, so that their logits begin near the average token's and their
 * embedding carries no direction of its own. */
static void mean_rows(const ur_weight *w, float *dst, int k) {
    const int64_t D = w->cols;
    double *acc = ur_xcalloc((size_t)D, sizeof *acc);
    float *row = ur_xmalloc(sizeof(float) * (size_t)D);
    for (int64_t r = 0; r < w->rows; r++) {
        ur_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, row, D);
        for (int64_t i = 0; i < D; i++) acc[i] += row[i];
    }
    for (int j = 0; j < k; j++)
        for (int64_t i = 0; i < D; i++) dst[(size_t)j * D + i] = (float)(acc[i] / (double)w->rows);
    free(row), free(acc);
}

static int check_new(const ur_model *m, int n_new, ur_err *err) {
    if (n_new < 0 || n_new > 16) return ur_errf(err, "%s: cannot add %d tokens (0 to 16)", m->gguf->path, n_new);
    return 0;
}

ur_tnet *ur_tnet_from_model(const ur_model *m, ur_err *err) { return ur_tnet_from_model_grown(m, 0, err); }

ur_tnet *ur_tnet_from_model_grown(const ur_model *m, int n_new, ur_err *err) {
    ur_tnet *n = ur_xcalloc(1, sizeof *n);
    n->hp = m->hp;
    n->tied = m->tied_output;
    n->base = m;
    n->n_new = n_new;
    n->hp.n_vocab += n_new;
    if (check_new(m, n_new, err) || check_shape(&n->hp, m, err) || layout_full(n, err) ||
        build_rope(n, train_freqs(m), err))
        goto fail;
    const size_t D = (size_t)n->hp.dim, V0 = (size_t)m->hp.n_vocab;
    dequant_all(&m->tok_embd, n->embd);
    if (n_new) mean_rows(&m->tok_embd, n->embd + V0 * D, n_new);
    dequant_all(&m->output_norm, n->out_norm);
    if (!n->tied) dequant_all(&m->output, n->output.w);
    if (!n->tied && n_new) mean_rows(&m->output, n->output.w + V0 * D, n_new);
    tr_part parts[TR_MAX_PARTS];
    for (int l = 0; l < n->hp.n_layers; l++) {
        const int np = tr_layer_parts(&n->hp, m, l, &n->layers[l], parts);
        for (int j = 0; j < np; j++) dequant_all(parts[j].src, parts[j].lin ? parts[j].lin->w : *parts[j].p);
    }
    return n;
fail:
    ur_tnet_free(n);
    return NULL;
}

int ur_lora_targets_parse(const char *s) {
    static const char *const names[7] = {"q", "k", "v", "o", "gate", "up", "down"};
    if (!strcmp(s, "all")) return UR_LORA_ALL;
    int bits = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < 7; i++)
            if (strlen(names[i]) == len && !strncmp(p, names[i], len)) found = i;
        if (found < 0) return -1;
        bits |= 1 << found;
        p += len;
        if (*p == ',') p++;
    }
    return bits ? bits : -1;
}

ur_tnet *ur_tnet_lora(const ur_model *m, int r, float alpha, unsigned targets, uint64_t seed, ur_err *err) {
    return ur_tnet_lora_grown(m, r, alpha, targets, seed, 0, err);
}

/* LoRA's new-token rows: trainable tensors after the adapters, pointed to by the
 * embedding (embd_new) and by the frozen output map as its extra rows. */
static void lora_new_rows(ur_tnet *n, const ur_model *m, int i_embd, int i_out) {
    const int k = n->n_new;
    n->embd_new = n->params + n->tensors[i_embd].off, n->g_embd_new = n->grads + n->tensors[i_embd].off;
    mean_rows(&m->tok_embd, n->embd_new, k);
    n->output.nx = k;
    n->output.out = m->hp.n_vocab + k;
    if (n->tied) {
        n->output.xw = n->embd_new, n->output.gxw = n->g_embd_new;
    } else {
        n->output.xw = n->params + n->tensors[i_out].off, n->output.gxw = n->grads + n->tensors[i_out].off;
        mean_rows(&m->output, n->output.xw, k);
    }
}

ur_tnet *ur_tnet_lora_grown(const ur_model *m, int r, float alpha, unsigned targets, uint64_t seed, int n_new,
                            ur_err *err) {
    ur_tnet *n = ur_xcalloc(1, sizeof *n);
    n->hp = m->hp;
    n->tied = m->tied_output;
    n->base = m;
    n->lora = r;
    n->lora_alpha = alpha;
    n->lora_targets = targets;
    n->n_new = n_new;
    n->hp.n_vocab += n_new;
    const ur_hparams *hp = &n->hp;
    if (check_new(m, n_new, err) || check_shape(hp, m, err)) goto fail;
    if (r <= 0 || !targets) {
        ur_errf(err, "%s: LoRA needs a rank >= 1 and at least one target matrix", m->gguf->path);
        goto fail;
    }
    builder b = {0};
    int *idx = ur_xmalloc(sizeof(int) * 14 * (size_t)hp->n_layers);
    for (int l = 0; l < hp->n_layers; l++) {
        const ur_layer *S = &m->layers[l];
        const ur_weight *src[7] = {&S->wq, &S->wk, &S->wv, &S->wo, &S->w_gate, &S->w_up, &S->w_down};
        for (int j = 0; j < 7; j++) {
            idx[14 * l + 2 * j] = idx[14 * l + 2 * j + 1] = -1;
            if (!(targets & (1u << j))) continue;
            char nm[96];
            snprintf(nm, sizeof nm, "blk.%d.%s.weight.lora_a", l, LIN_NAMES[j]);
            idx[14 * l + 2 * j] = add(&b, nm, src[j]->cols, r, 1);
            snprintf(nm, sizeof nm, "blk.%d.%s.weight.lora_b", l, LIN_NAMES[j]);
            idx[14 * l + 2 * j + 1] = add(&b, nm, r, src[j]->rows, 1);
        }
    }
    int i_embd = n_new ? add(&b, "token_embd.weight.new", hp->dim, n_new, 1) : -1;
    int i_out = n_new && !n->tied ? add(&b, "output.weight.new", hp->dim, n_new, 1) : -1;
    if (alloc_buffers(n, &b, err) || build_rope(n, train_freqs(m), err)) {
        free(idx);
        goto fail;
    }
    n->layers = ur_xcalloc((size_t)hp->n_layers, sizeof *n->layers);
    /* frozen parts: the base's F32 norms and biases are used in place; the matrices through ur_weight */
    n->embd_fz = m->tok_embd;
    n->out_norm = (float *)m->output_norm.data;
    n->output.in = hp->dim, n->output.out = m->hp.n_vocab, n->output.fz = m->output;
    if (n_new) lora_new_rows(n, m, i_embd, i_out);
    tr_part parts[TR_MAX_PARTS];
    for (int l = 0; l < hp->n_layers; l++) {
        ur_tlayer *L = &n->layers[l];
        const int np = tr_layer_parts(hp, m, l, L, parts);
        for (int j = 0; j < np; j++)
            if (!parts[j].lin) *parts[j].p = (float *)parts[j].src->data;
        const ur_layer *S = &m->layers[l];
        const ur_weight *src[7] = {&S->wq, &S->wk, &S->wv, &S->wo, &S->w_gate, &S->w_up, &S->w_down};
        for (int j = 0; j < 7; j++) {
            ur_tlin *t = layer_lin(L, j);
            t->fz = *src[j];
            t->in = (int)src[j]->cols, t->out = (int)src[j]->rows;
            int ia = idx[14 * l + 2 * j], ib = idx[14 * l + 2 * j + 1];
            if (ia < 0) continue;
            t->r = r;
            t->s = alpha / (float)r;
            t->a = n->params + n->tensors[ia].off, t->ga = n->grads + n->tensors[ia].off;
            t->b = n->params + n->tensors[ib].off, t->gb = n->grads + n->tensors[ib].off;
            fill_normal(t->a, (size_t)r * (size_t)t->in, 1.0f / sqrtf((float)t->in),
                        seed * 0x100000001B3ull + (uint64_t)ia * 0x9E3779B97F4A7C15ull);
        }
    }
    free(idx);
    return n;
fail:
    ur_tnet_free(n);
    return NULL;
}
