/* Random-weight models (ur_synth_write): every value comes from integer
 * arithmetic on a seeded splitmix64 stream and at most one float rounding, so a
 * file is bit-identical on any machine for the same parameters. That lets tests
 * regenerate a model and compare its logits with reference figures recorded
 * from llama.cpp on the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/gguf.h"
#include "urial/model.h"
#include "urial/tensor.h"

void ur_synth_defaults(ur_synth_params *p) {
    memset(p, 0, sizeof *p);
    p->arch = "llama";
    p->dim = 256;
    p->n_layers = 2;
    p->n_heads = 4;
    p->n_kv_heads = 2;
    p->ff = 512;
    p->n_ctx = 512;
    p->type = UR_TYPE_F32;
    p->output_type = -1;
    p->rope_base = 10000.0f;
    p->scale = 0.02f;
    p->seed = 1;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Approximately normal integer (sum of four 16-bit uniforms, centred): sd = 37837. */
static float gauss_int(uint64_t *s) {
    uint64_t r = splitmix(s);
    int32_t v = (int32_t)(r & 0xFFFF) + (int32_t)((r >> 16) & 0xFFFF) + (int32_t)((r >> 32) & 0xFFFF) +
                (int32_t)(r >> 48) - 4 * 32768;
    return (float)v;
}
#define GAUSS_SD 37837.0f

static void put_f16(uint8_t *p, float v) {
    uint16_t h = ur_f32_to_f16(v);
    memcpy(p, &h, 2);
}

/* Fill n elements of `type` with random values of standard deviation ~scale. */
static void fill_random(void *dst, int type, int64_t n, float scale, uint64_t seed) {
    uint64_t s = seed;
    const float c = scale / GAUSS_SD;
    uint8_t *b = dst;
    if (type == UR_TYPE_F32 || type == UR_TYPE_F16 || type == UR_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float v = gauss_int(&s) * c;
            if (type == UR_TYPE_F32) memcpy(b + 4 * i, &v, 4);
            else {
                uint16_t h = type == UR_TYPE_F16 ? ur_f32_to_f16(v) : ur_f32_to_bf16(v);
                memcpy(b + 2 * i, &h, 2);
            }
        }
        return;
    }
    /* quantized: random quant bits, block scales chosen so that the decoded values
     * have a standard deviation near `scale` (and mean near zero) */
    const int bs = ur_type_block_bytes(type), nblk = (int)(n / ur_type_block(type));
    for (int64_t i = 0; i < (int64_t)nblk * bs; i += 8) {
        uint64_t r = splitmix(&s);
        memcpy(b + i, &r, (size_t)(i + 8 <= (int64_t)nblk * bs ? 8 : nblk * bs - i));
    }
    for (int k = 0; k < nblk; k++) {
        uint8_t *blk = b + (size_t)k * bs;
        switch (type) {
        case UR_TYPE_Q8_0: put_f16(blk, scale / 74.0f); break;
        case UR_TYPE_Q4_0: put_f16(blk, scale / 4.6f); break;
        case UR_TYPE_Q4_K: {
            float d = scale / 147.0f;
            put_f16(blk, d);
            put_f16(blk + 2, 7.5f * d);
            break;
        }
        case UR_TYPE_Q5_K: {
            float d = scale / 295.0f;
            put_f16(blk, d);
            put_f16(blk + 2, 15.5f * d);
            break;
        }
        case UR_TYPE_Q6_K:
            for (int j = 0; j < 16; j++) blk[192 + j] = (uint8_t)(1 + splitmix(&s) % 31);
            put_f16(blk + 208, scale / 290.0f);
            break;
        }
    }
}

/* Built-in vocabulary (SentencePiece "llama" model): <unk>, <s>, </s>, the 256
 * byte tokens, "▁", printable ASCII, and "▁" + each lowercase letter. */
static void builtin_vocab(ur_gguf_writer *w, int *n_vocab) {
    enum { MAXV = 512 };
    static char pieces[MAXV][8];
    const char *strs[MAXV];
    float scores[MAXV];
    int32_t types[MAXV];
    int n = 0;
    const char *ctl[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        snprintf(pieces[n], 8, "%s", ctl[i]);
        types[n] = i == 0 ? 2 : 3;
        scores[n++] = 0.0f;
    }
    for (int i = 0; i < 256; i++) {
        snprintf(pieces[n], 8, "<0x%02X>", i);
        types[n] = 6;
        scores[n++] = 0.0f;
    }
    snprintf(pieces[n], 8, "\xe2\x96\x81");
    types[n] = 1;
    scores[n++] = -1.0f;
    for (int ch = 0x21; ch < 0x7F; ch++) {
        snprintf(pieces[n], 8, "%c", ch);
        types[n] = 1;
        scores[n] = -2.0f - (float)(ch - 0x21);
        n++;
    }
    for (int ch = 'a'; ch <= 'z'; ch++) {
        snprintf(pieces[n], 8, "\xe2\x96\x81%c", ch);
        types[n] = 1;
        scores[n] = -200.0f - (float)(ch - 'a');
        n++;
    }
    for (int i = 0; i < n; i++) strs[i] = pieces[i];
    ur_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", strs, NULL, (uint64_t)n);
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, scores, (uint64_t)n);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, types, (uint64_t)n);
    ur_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    ur_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
    ur_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 0);
    *n_vocab = n;
}

int ur_synth_write(const ur_synth_params *p, const char *path, ur_err *err) {
    int qwen = !strcmp(p->arch, "qwen2");
    if (!qwen && strcmp(p->arch, "llama"))
        return ur_errf(err, "%s: synth: architecture '%s' is not supported (llama, qwen2)", path, p->arch);
    if (p->dim <= 0 || p->n_layers <= 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 || p->ff <= 0 ||
        p->dim % p->n_heads || p->n_heads % p->n_kv_heads)
        return ur_errf(err, "%s: synth: bad shape (dim %d, heads %d/%d, ff %d, layers %d)", path, p->dim, p->n_heads,
                       p->n_kv_heads, p->ff, p->n_layers);
    const int otype = p->output_type >= 0 ? p->output_type : p->type;
    const int blk = ur_type_block(p->type);
    if (!ur_type_is_weight(p->type) || !ur_type_is_weight(otype))
        return ur_errf(err, "%s: synth: unsupported weight type", path);
    if (p->dim % blk || p->ff % blk || p->dim % ur_type_block(otype))
        return ur_errf(err, "%s: synth: dim %d and ff %d must be multiples of the %s block (%d)", path, p->dim, p->ff,
                       ur_type_name(p->type), blk);

    ur_gguf_writer *w = ur_gguf_writer_new();
    const char *a = qwen ? "qwen2" : "llama";
    char key[128];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", a, s), key)
    ur_gguf_w_str(w, "general.architecture", a);
    ur_gguf_w_str(w, "general.name", qwen ? "urial-synth-qwen2" : "urial-synth-llama");
    ur_gguf_w_u32(w, "general.alignment", 32);
    ur_gguf_w_u32(w, KEY("context_length"), (uint32_t)p->n_ctx);
    ur_gguf_w_u32(w, KEY("embedding_length"), (uint32_t)p->dim);
    ur_gguf_w_u32(w, KEY("block_count"), (uint32_t)p->n_layers);
    ur_gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)p->ff);
    ur_gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)p->n_heads);
    ur_gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_kv_heads);
    ur_gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)(p->dim / p->n_heads));
    ur_gguf_w_f32(w, KEY("rope.freq_base"), p->rope_base);
    ur_gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), qwen ? 1e-6f : 1e-5f);
#undef KEY
    int n_vocab = 0, rc = -1;
    ur_gguf *vg = NULL;
    if (p->vocab_path) {
        vg = ur_gguf_open(p->vocab_path, err);
        if (!vg) goto done;
        for (uint64_t i = 0; i < vg->n_kv; i++)
            if (vg->kv[i].key.len > 10 && !memcmp(vg->kv[i].key.ptr, "tokenizer.", 10)) ur_gguf_w_copy_kv(w, &vg->kv[i]);
        const ur_gguf_kv *toks;
        if (ur_gguf_get_arr(vg, "tokenizer.ggml.tokens", UR_GGUF_STRING, &toks, err) != 0) {
            if (!err || !err->msg[0]) ur_errf(err, "%s: no tokenizer.ggml.tokens", p->vocab_path);
            goto done;
        }
        n_vocab = (int)toks->arr_n;
    } else {
        builtin_vocab(w, &n_vocab);
    }

    /* tensors: name, ne0, ne1 (0 = vector), type, kind (0 random, 1 norm, 2 bias, 3 rope freqs) */
    struct spec { char name[64]; int64_t ne0, ne1; int type, kind; } *ts;
    const int per_layer = qwen ? 12 : 9, nts = 4 + p->n_layers * per_layer;
    ts = ur_xcalloc((size_t)nts, sizeof *ts);
    void **data = ur_xcalloc((size_t)nts, sizeof *data);
    int nt = 0;
    const int64_t dim = p->dim, kvd = (int64_t)p->dim / p->n_heads * p->n_kv_heads, hd = p->dim / p->n_heads;
#define T(nm, a0, a1, ty, kd) (snprintf(ts[nt].name, 64, "%s", nm), ts[nt].ne0 = a0, ts[nt].ne1 = a1, ts[nt].type = ty, ts[nt].kind = kd, nt++)
    T("token_embd.weight", dim, n_vocab, p->type, 0);
    T("output_norm.weight", dim, 0, UR_TYPE_F32, 1);
    if (!p->tied) T("output.weight", dim, n_vocab, otype, 0);
    if (p->rope_freqs) T("rope_freqs.weight", hd / 2, 0, UR_TYPE_F32, 3);
    for (int l = 0; l < p->n_layers; l++) {
        char n[64];
#define L(sfx, a0, a1, ty, kd) (snprintf(n, sizeof n, "blk.%d.%s", l, sfx), T(n, a0, a1, ty, kd))
        L("attn_norm.weight", dim, 0, UR_TYPE_F32, 1);
        L("attn_q.weight", dim, dim, p->type, 0);
        L("attn_k.weight", dim, kvd, p->type, 0);
        L("attn_v.weight", dim, kvd, p->type, 0);
        L("attn_output.weight", dim, dim, p->type, 0);
        L("ffn_norm.weight", dim, 0, UR_TYPE_F32, 1);
        L("ffn_gate.weight", dim, p->ff, p->type, 0);
        L("ffn_up.weight", dim, p->ff, p->type, 0);
        L("ffn_down.weight", p->ff, dim, p->type, 0);
        if (qwen) {
            L("attn_q.bias", dim, 0, UR_TYPE_F32, 2);
            L("attn_k.bias", kvd, 0, UR_TYPE_F32, 2);
            L("attn_v.bias", kvd, 0, UR_TYPE_F32, 2);
        }
#undef L
    }
#undef T
    for (int i = 0; i < nt; i++) {
        int64_t rows = ts[i].ne1 ? ts[i].ne1 : 1;
        uint64_t bytes = ur_row_size(ts[i].type, ts[i].ne0) * (uint64_t)rows;
        data[i] = malloc(bytes ? bytes : 1);
        if (!data[i]) {
            ur_errf(err, "%s: out of memory", path);
            goto free_tensors;
        }
        uint64_t seed = p->seed * 0x100000001B3ull + (uint64_t)i * 0x9E3779B97F4A7C15ull;
        float *f = data[i];
        uint64_t s = seed;
        if (ts[i].kind == 1) /* norm weights around 1 */
            for (int64_t j = 0; j < ts[i].ne0; j++) f[j] = 1.0f + gauss_int(&s) * (0.1f / GAUSS_SD);
        else if (ts[i].kind == 2)
            for (int64_t j = 0; j < ts[i].ne0; j++) f[j] = gauss_int(&s) * (0.02f / GAUSS_SD);
        else if (ts[i].kind == 3)
            for (int64_t j = 0; j < ts[i].ne0; j++) f[j] = (float)(1 + j % 4);
        else
            fill_random(data[i], ts[i].type, ts[i].ne0 * rows, p->scale, seed);
        int64_t ne[2] = {ts[i].ne0, rows};
        if (ur_gguf_w_tensor(w, ts[i].name, ts[i].type, ts[i].ne1 ? 2 : 1, ne, data[i], bytes, err)) goto free_tensors;
    }
    rc = ur_gguf_write(w, path, err);
free_tensors:
    for (int i = 0; i < nt; i++) free(data[i]);
    free(data);
    free(ts);
done:
    ur_gguf_close(vg);
    ur_gguf_writer_free(w);
    return rc;
}
