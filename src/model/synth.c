/* Random-weight models (ur_synth_write): every value comes from integer
 * arithmetic on a seeded splitmix64 stream and at most one float rounding, so a
 * file is bit-identical on any machine for the same parameters. That lets tests
 * regenerate a model and compare its logits with reference figures recorded
 * from llama.cpp on the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
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
    p->attn_softcap = p->final_softcap = -1.0f; /* the architecture's default */
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

/* Llama-3.1's rope frequency divisors for n_rot/2 pairs (the converter's formula:
 * factor 8, low-frequency factor 1, high-frequency factor 4, original context 8192). */
static void llama3_factors(float *f, int half, float base) {
    const double factor = 8, lo = 1, hi = 4, orig = 8192, pi = 3.14159265358979323846;
    for (int i = 0; i < half; i++) {
        const double freq = 1.0 / pow(base, (2.0 * i) / (2.0 * half)), wavelen = 2 * pi / freq;
        if (wavelen < orig / hi) f[i] = 1.0f;
        else if (wavelen > orig / lo) f[i] = (float)factor;
        else {
            const double smooth = (orig / wavelen - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
}

/* A tensor to write: name, ne0, ne1 (0 = vector), type, kind (what fills it). */
enum { K_RANDOM, K_NORM, K_BIAS, K_ROPE_TOY, K_ROPE_LLAMA3, K_ROPE_LONG, K_ROPE_SHORT };
typedef struct spec {
    char name[64];
    int64_t ne0, ne1;
    int type, kind;
} spec;

typedef struct tlist {
    spec *t;
    int n, cap;
} tlist;

static void add(tlist *l, const char *name, int64_t ne0, int64_t ne1, int type, int kind) {
    if (l->n == l->cap) l->t = ur_xrealloc(l->t, sizeof *l->t * (size_t)(l->cap = l->cap ? 2 * l->cap : 64));
    spec *s = &l->t[l->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ne0 = ne0, s->ne1 = ne1, s->type = type, s->kind = kind;
}

/* The tensors of the architecture, in the order the existing llama/qwen2 files have
 * them (the seeds follow the order, so those files stay bit-identical). */
static void tensor_list(const ur_synth_params *p, const ur_arch_info *ai, int arch, int n_vocab, int hd, int tied,
                        tlist *l) {
    /* phi3: attn_qkv unless unfused; its gate and up are always one 2*ff ffn_up (llama.cpp has no ffn_gate for it) */
    const int fused = arch == UR_ARCH_PHI3 && !p->unfused, fused_ff = arch == UR_ARCH_PHI3;
    const int64_t dim = p->dim, qd = (int64_t)hd * p->n_heads, kvd = (int64_t)hd * p->n_kv_heads, ff = p->ff;
    const int otype = p->output_type >= 0 ? p->output_type : p->type, pre = ai->norm & UR_NORM_PRE,
              post = ai->norm & UR_NORM_POST, qkn = ai->qk_norm, F = UR_TYPE_F32;
    add(l, "token_embd.weight", dim, n_vocab, p->type, K_RANDOM);
    add(l, "output_norm.weight", dim, 0, F, K_NORM);
    if (!tied) add(l, "output.weight", dim, n_vocab, otype, K_RANDOM);
    if (p->rope_freqs || p->llama3_rope) add(l, "rope_freqs.weight", hd / 2, 0, F, p->llama3_rope ? K_ROPE_LLAMA3 : K_ROPE_TOY);
    if (arch == UR_ARCH_PHI3 && p->longrope_orig > 0) {
        add(l, "rope_factors_long.weight", hd / 2, 0, F, K_ROPE_LONG);
        add(l, "rope_factors_short.weight", hd / 2, 0, F, K_ROPE_SHORT);
    }
    for (int i = 0; i < p->n_layers; i++) {
        char n[64];
#define L(sfx, a0, a1, ty, kd) (snprintf(n, sizeof n, "blk.%d.%s", i, sfx), add(l, n, a0, a1, ty, kd))
        if (pre) L("attn_norm.weight", dim, 0, F, K_NORM);
        if (fused) L("attn_qkv.weight", dim, qd + 2 * kvd, p->type, K_RANDOM);
        else {
            L("attn_q.weight", dim, qd, p->type, K_RANDOM);
            L("attn_k.weight", dim, kvd, p->type, K_RANDOM);
            L("attn_v.weight", dim, kvd, p->type, K_RANDOM);
        }
        if (qkn) {
            L("attn_q_norm.weight", qkn == UR_QKNORM_HEAD ? hd : qd, 0, F, K_NORM);
            L("attn_k_norm.weight", qkn == UR_QKNORM_HEAD ? hd : kvd, 0, F, K_NORM);
        }
        L("attn_output.weight", qd, dim, p->type, K_RANDOM);
        if (post) L("post_attention_norm.weight", dim, 0, F, K_NORM);
        if (pre) L("ffn_norm.weight", dim, 0, F, K_NORM);
        if (fused_ff) L("ffn_up.weight", dim, 2 * ff, p->type, K_RANDOM);
        else {
            L("ffn_gate.weight", dim, ff, p->type, K_RANDOM);
            L("ffn_up.weight", dim, ff, p->type, K_RANDOM);
        }
        L("ffn_down.weight", ff, dim, p->type, K_RANDOM);
        if (post) L("post_ffw_norm.weight", dim, 0, F, K_NORM);
        if (arch == UR_ARCH_QWEN2) {
            L("attn_q.bias", qd, 0, F, K_BIAS);
            L("attn_k.bias", kvd, 0, F, K_BIAS);
            L("attn_v.bias", kvd, 0, F, K_BIAS);
        }
#undef L
    }
}

/* The hyperparameter keys llama.cpp reads for the architecture (also `urial convert`'s). */
void ur_arch_put_hparams(ur_gguf_writer *w, const ur_synth_params *p, int arch, int hd, int swa) {
    const ur_arch_info *ai = ur_arch_info_get(arch);
    const char *a = ai->name;
    char key[128];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", a, s), key)
    ur_gguf_w_u32(w, KEY("context_length"), (uint32_t)p->n_ctx);
    ur_gguf_w_u32(w, KEY("embedding_length"), (uint32_t)p->dim);
    ur_gguf_w_u32(w, KEY("block_count"), (uint32_t)p->n_layers);
    ur_gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)p->ff);
    ur_gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)p->n_heads);
    ur_gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_kv_heads);
    if (hd * p->n_heads != p->dim || arch == UR_ARCH_GEMMA2 || arch == UR_ARCH_GEMMA3 || arch == UR_ARCH_QWEN3) {
        ur_gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)hd);
        ur_gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)hd);
    }
    ur_gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
    ur_gguf_w_f32(w, KEY("rope.freq_base"), p->rope_base);
    ur_gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), p->rms_eps > 0 ? p->rms_eps : ai->rms_eps);
    if (p->rope_scale > 1) {
        ur_gguf_w_str(w, KEY("rope.scaling.type"), "linear");
        ur_gguf_w_f32(w, KEY("rope.scaling.factor"), p->rope_scale);
    }
    if (swa) ur_gguf_w_u32(w, KEY("attention.sliding_window"), (uint32_t)swa);
    if (arch == UR_ARCH_GEMMA2) {
        ur_gguf_w_f32(w, KEY("attn_logit_softcapping"), p->attn_softcap >= 0 ? p->attn_softcap : 50.0f);
        ur_gguf_w_f32(w, KEY("final_logit_softcapping"), p->final_softcap >= 0 ? p->final_softcap : 30.0f);
    } else if (arch == UR_ARCH_GEMMA3 && p->final_softcap > 0) {
        ur_gguf_w_f32(w, KEY("final_logit_softcapping"), p->final_softcap);
    }
    if (arch == UR_ARCH_PHI3 && p->longrope_orig > 0) {
        const double scale = (double)p->n_ctx / p->longrope_orig;
        ur_gguf_w_u32(w, KEY("rope.scaling.original_context_length"), (uint32_t)p->longrope_orig);
        ur_gguf_w_f32(w, KEY("rope.scaling.attn_factor"),
                      scale > 1 ? (float)sqrt(1 + log(scale) / log((double)p->longrope_orig)) : 1.0f);
    }
#undef KEY
}

int ur_synth_write(const ur_synth_params *p, const char *path, ur_err *err) {
    const int arch = ur_arch_lookup(p->arch);
    if (arch < 0)
        return ur_errf(err, "%s: synth: architecture '%s' is not supported (llama, qwen2, qwen3, gemma2, gemma3, olmo2, "
                            "phi3)",
                       path, p->arch);
    const ur_arch_info *ai = ur_arch_info_get(arch);
    const int hd = p->head_dim > 0 ? p->head_dim : p->n_heads > 0 ? p->dim / p->n_heads : 0;
    if (p->dim <= 0 || p->n_layers <= 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 || p->ff <= 0 || hd <= 0 || hd % 2 ||
        (!p->head_dim && p->dim % p->n_heads) || p->n_heads % p->n_kv_heads)
        return ur_errf(err, "%s: synth: bad shape (dim %d, heads %d/%d, head size %d, ff %d, layers %d)", path, p->dim,
                       p->n_heads, p->n_kv_heads, hd, p->ff, p->n_layers);
    if (arch == UR_ARCH_OLMO2 && p->tied) return ur_errf(err, "%s: synth: olmo2 files always have output.weight", path);
    const int otype = p->output_type >= 0 ? p->output_type : p->type;
    const int blk = ur_type_block(p->type);
    if (!ur_type_is_weight(p->type) || !ur_type_is_weight(otype))
        return ur_errf(err, "%s: synth: unsupported weight type", path);
    if (p->dim % blk || p->ff % blk || (hd * p->n_heads) % blk || p->dim % ur_type_block(otype))
        return ur_errf(err, "%s: synth: dim %d, ff %d and heads x head size %d must be multiples of the %s block (%d)",
                       path, p->dim, p->ff, hd * p->n_heads, ur_type_name(p->type), blk);
    const int tied = arch == UR_ARCH_GEMMA2 || arch == UR_ARCH_GEMMA3 || p->tied; /* Gemma's files tie the output */
    const int swa = p->swa_window > 0                                           ? p->swa_window
                    : p->swa_window == 0 && arch == UR_ARCH_GEMMA2               ? 4096
                    : p->swa_window == 0 && arch == UR_ARCH_GEMMA3               ? 1024
                                                                                 : 0;

    ur_gguf_writer *w = ur_gguf_writer_new();
    char name[64];
    /* llama.cpp gives a model whose name contains "phi3" Phi-3's token attributes, which
     * need Phi-3's vocabulary (<|endoftext|>): the built-in vocabulary has none */
    snprintf(name, sizeof name, "urial-synth-%s", arch == UR_ARCH_PHI3 ? "phi" : ai->name);
    ur_gguf_w_str(w, "general.architecture", ai->name);
    ur_gguf_w_str(w, "general.name", name);
    ur_gguf_w_u32(w, "general.alignment", 32);
    ur_arch_put_hparams(w, p, arch, hd, swa);
    int n_vocab = 0, rc = -1;
    ur_gguf *vg = NULL;
    tlist tl = {0};
    void **data = NULL;
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

    tensor_list(p, ai, arch, n_vocab, hd, tied, &tl);
    data = ur_xcalloc((size_t)tl.n, sizeof *data);
    for (int i = 0; i < tl.n; i++) {
        const spec *t = &tl.t[i];
        int64_t rows = t->ne1 ? t->ne1 : 1;
        uint64_t bytes = ur_row_size(t->type, t->ne0) * (uint64_t)rows;
        data[i] = malloc(bytes ? bytes : 1);
        if (!data[i]) {
            ur_errf(err, "%s: out of memory", path);
            goto done;
        }
        uint64_t seed = p->seed * 0x100000001B3ull + (uint64_t)i * 0x9E3779B97F4A7C15ull;
        float *f = data[i];
        uint64_t s = seed;
        switch (t->kind) {
        case K_NORM: /* norm weights around 1 */
            for (int64_t j = 0; j < t->ne0; j++) f[j] = 1.0f + gauss_int(&s) * (0.1f / GAUSS_SD);
            break;
        case K_BIAS:
            for (int64_t j = 0; j < t->ne0; j++) f[j] = gauss_int(&s) * (0.02f / GAUSS_SD);
            break;
        case K_ROPE_TOY:
            for (int64_t j = 0; j < t->ne0; j++) f[j] = (float)(1 + j % 4);
            break;
        case K_ROPE_LLAMA3: llama3_factors(f, (int)t->ne0, p->rope_base); break;
        case K_ROPE_LONG: /* LongRoPE-like: divisors growing from 1 to ~scale over the pairs */
            for (int64_t j = 0; j < t->ne0; j++) f[j] = 1.0f + (float)j / (float)t->ne0 * (float)p->n_ctx / (float)p->longrope_orig;
            break;
        case K_ROPE_SHORT:
            for (int64_t j = 0; j < t->ne0; j++) f[j] = 1.0f + 0.05f * (float)(j % 5);
            break;
        default: fill_random(data[i], t->type, t->ne0 * rows, p->scale, seed);
        }
        int64_t ne[2] = {t->ne0, rows};
        if (ur_gguf_w_tensor(w, t->name, t->type, t->ne1 ? 2 : 1, ne, data[i], bytes, err)) goto done;
    }
    rc = ur_gguf_write(w, path, err);
done:
    for (int i = 0; data && i < tl.n; i++) free(data[i]);
    free(data);
    free(tl.t);
    ur_gguf_close(vg);
    ur_gguf_writer_free(w);
    return rc;
}
