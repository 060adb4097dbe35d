/* The architectures urial runs, as one table row each, and the reading of their
 * hyperparameters from GGUF metadata. What each row means is llama.cpp's reading
 * of the same keys (the authority on what a GGUF file means):
 *
 *   llama   pre-norm, SwiGLU, adjacent-pair rope, optional rope_freqs (Llama-3.x scaling)
 *   qwen2   llama + neox rope (+ the q/k/v biases its files carry)
 *   qwen3   qwen2 + RMSNorm of each q and k head, head size from attention.key_length
 *   gemma2  embeddings x sqrt(dim), pre- and post-norms, GeGLU (tanh GELU), q scaled by
 *           1/sqrt(query_pre_attn_scalar), attention and final logit soft-capping,
 *           sliding window on even layers, tied output
 *   gemma3  gemma2 without soft-capping, q/k head norms, 5 sliding : 1 global layers,
 *           sliding layers with their own rope base (10000) and no rope scaling
 *   olmo2   no pre-norms: RMSNorm after attention and after the FFN, q/k norms over the
 *           whole projection
 *   phi3    fused attn_qkv and gate-up projections, LongRoPE (rope_factors_long/short and
 *           an attention factor), q scaled before attention
 *
 * Gemma's RMSNorm is (1 + w) x: llama.cpp's converter stores 1 + w in the file, so the
 * norms here are plain x * w for every architecture. */
#include "model/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ur_arch_info ARCHS[UR_ARCH_COUNT] = {
    [UR_ARCH_LLAMA] = {.name = "llama", .rms_eps = 1e-5f, .norm = UR_NORM_PRE},
    [UR_ARCH_QWEN2] = {.name = "qwen2", .rope_neox = 1, .rms_eps = 1e-6f, .norm = UR_NORM_PRE},
    [UR_ARCH_QWEN3] = {.name = "qwen3", .rope_neox = 1, .rms_eps = 1e-6f, .norm = UR_NORM_PRE,
                       .qk_norm = UR_QKNORM_HEAD},
    [UR_ARCH_GEMMA2] = {.name = "gemma2", .rope_neox = 1, .rms_eps = 1e-6f, .norm = UR_NORM_PRE | UR_NORM_POST,
                        .act = UR_ACT_GELU, .embd_scale = 1, .q_prescale = 1, .gemma_scale_layers = 46,
                        .swa_period = 2, .swa_default = 4096, .rope_scale_swa = 1, .attn_softcap = 50.0f,
                        .final_softcap = 30.0f, .read_final_softcap = 1, .output = UR_OUT_TIED},
    [UR_ARCH_GEMMA3] = {.name = "gemma3", .rope_neox = 1, .rms_eps = 1e-6f, .norm = UR_NORM_PRE | UR_NORM_POST,
                        .qk_norm = UR_QKNORM_HEAD, .act = UR_ACT_GELU, .embd_scale = 1, .q_prescale = 1,
                        .gemma_scale_layers = 62, .swa_period = 6, .rope_base_swa = 10000.0f,
                        .read_final_softcap = 1},
    [UR_ARCH_OLMO2] = {.name = "olmo2", .rope_neox = 1, .rms_eps = 1e-6f, .norm = UR_NORM_POST,
                       .qk_norm = UR_QKNORM_ALL, .swa_period = 4, .output = UR_OUT_REQUIRED},
    [UR_ARCH_PHI3] = {.name = "phi3", .rope_neox = 1, .rms_eps = 1e-5f, .norm = UR_NORM_PRE, .q_prescale = 1,
                      .swa_ignored = 1, .fused = 1, .longrope = 1},
};

const ur_arch_info *ur_arch_info_get(int arch) { return arch >= 0 && arch < UR_ARCH_COUNT ? &ARCHS[arch] : NULL; }

const char *ur_arch_name(int arch) { return arch >= 0 && arch < UR_ARCH_COUNT ? ARCHS[arch].name : "unknown"; }

int ur_arch_lookup(const char *name) {
    for (int i = 0; i < UR_ARCH_COUNT; i++)
        if (!strcmp(ARCHS[i].name, name)) return i;
    return -1;
}

/* Read "<arch>.<suffix>" as u32 into *out; absent keys keep *out unless required. */
static int arch_u32(const ur_gguf *g, const char *arch, const char *suffix, int required, int *out, ur_err *err) {
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

/* The sliding layers: attention.sliding_window_pattern as a per-layer array (bool or
 * integer: nonzero = sliding) or as a period, else the architecture's period. */
static int swa_layers(ur_model *m, const char *arch, int period, ur_err *err) {
    const ur_gguf *g = m->gguf;
    const ur_hparams *hp = &m->hp;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", arch);
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    if (kv && kv->type == UR_GGUF_ARRAY) {
        int esz = kv->arr_type == UR_GGUF_BOOL || kv->arr_type == UR_GGUF_U8 || kv->arr_type == UR_GGUF_I8 ? 1
                  : kv->arr_type == UR_GGUF_U32 || kv->arr_type == UR_GGUF_I32                            ? 4
                                                                                                          : 0;
        if (!esz || kv->arr_n < (uint64_t)hp->n_layers)
            return ur_errf(err, "%s: '%s' must be an array of %d booleans or integers", g->path, key, hp->n_layers);
        for (int l = 0; l < hp->n_layers; l++) {
            uint32_t v = 0;
            memcpy(&v, kv->data + (size_t)l * esz, (size_t)esz);
            m->layers[l].swa = v != 0;
        }
        return 0;
    }
    if (arch_u32(g, arch, "attention.sliding_window_pattern", 0, &period, err)) return -1;
    for (int l = 0; l < hp->n_layers; l++) m->layers[l].swa = period == 0 || l % period < period - 1;
    return 0;
}

/* Rope scaling: none or linear (others would change the numbers silently if ignored). */
static int rope_scaling(ur_model *m, const char *arch, ur_err *err) {
    const ur_gguf *g = m->gguf;
    ur_hparams *hp = &m->hp;
    char key[128];
    ur_str s;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    int rc = ur_gguf_get_str(g, key, &s, err);
    if (rc < 0) return -1;
    int none = rc == 0 && s.len == 4 && !memcmp(s.ptr, "none", 4);
    if (rc == 0 && !none && !(s.len == 6 && !memcmp(s.ptr, "linear", 6)))
        return ur_errf(err, "%s: rope scaling '%.*s' is not supported (none and linear are; Llama-3 scaling comes as "
                            "rope_freqs, Phi-3's as rope_factors_long/short)",
                       g->path, (int)s.len, s.ptr);
    float factor = 0;
    if (arch_f32(g, arch, "rope.scaling.factor", &factor, err) || arch_f32(g, arch, "rope.scale_linear", &factor, err))
        return -1;
    hp->rope_scale = factor > 0 && !none ? factor : 1.0f;
    hp->rope_attn_factor = 1.0f;
    hp->n_ctx_orig = hp->n_ctx_train;
    if (arch_f32(g, arch, "rope.scaling.attn_factor", &hp->rope_attn_factor, err) ||
        arch_u32(g, arch, "rope.scaling.original_context_length", 0, &hp->n_ctx_orig, err))
        return -1;
    if (!(hp->rope_attn_factor > 0) || !isfinite(hp->rope_attn_factor))
        return ur_errf(err, "%s: rope attention factor %g must be positive", g->path, hp->rope_attn_factor);
    return 0;
}

/* The sliding window, its layers and their rope; the soft-capping values. */
static int variations(ur_model *m, const ur_arch_info *ai, const char *arch, ur_err *err) {
    const ur_gguf *g = m->gguf;
    ur_hparams *hp = &m->hp;
    hp->norm = ai->norm;
    hp->qk_norm = ai->qk_norm;
    hp->act = ai->act;
    hp->q_prescale = ai->q_prescale;
    hp->embd_scale = ai->embd_scale ? sqrtf((float)hp->dim) : 1.0f;
    int scalar = ai->gemma_scale_layers && hp->n_layers == ai->gemma_scale_layers ? hp->dim / hp->n_heads : hp->head_dim;
    hp->attn_scale = 1.0f / sqrtf((float)scalar);
    hp->attn_softcap = ai->attn_softcap;
    hp->final_softcap = ai->final_softcap;
    if (ai->attn_softcap > 0 && arch_f32(g, arch, "attn_logit_softcapping", &hp->attn_softcap, err)) return -1;
    if (ai->read_final_softcap && arch_f32(g, arch, "final_logit_softcapping", &hp->final_softcap, err)) return -1;
    if (hp->attn_softcap < 0 || hp->final_softcap < 0 || !isfinite(hp->attn_softcap) || !isfinite(hp->final_softcap))
        return ur_errf(err, "%s: soft-capping values %g / %g must not be negative", g->path, hp->attn_softcap,
                       hp->final_softcap);

    hp->swa_window = ai->swa_default;
    hp->rope_base_swa = ai->rope_base_swa > 0 ? ai->rope_base_swa : hp->rope_base;
    hp->rope_scale_swa = ai->rope_scale_swa ? hp->rope_scale : 1.0f;
    if (ai->swa_period || ai->swa_ignored) {
        if (arch_u32(g, arch, "attention.sliding_window", 0, &hp->swa_window, err)) return -1;
        if (ai->swa_ignored) hp->swa_window = 0;
    }
    m->n_swa_layers = 0;
    if (hp->swa_window > 0) {
        if (swa_layers(m, arch, ai->swa_period, err) || arch_f32(g, arch, "rope.freq_base_swa", &hp->rope_base_swa, err))
            return -1;
        for (int l = 0; l < hp->n_layers; l++) m->n_swa_layers += m->layers[l].swa;
        if (!(hp->rope_base_swa > 0) || !isfinite(hp->rope_base_swa))
            return ur_errf(err, "%s: sliding-window rope base %g must be positive", g->path, hp->rope_base_swa);
    }
    if (!m->n_swa_layers) hp->swa_window = 0;
    return 0;
}

int ur_arch_load_hparams(ur_model *m, ur_err *err) {
    const ur_gguf *g = m->gguf;
    ur_hparams *hp = &m->hp;
    ur_str s;
    int rc = ur_gguf_get_str(g, "general.architecture", &s, err);
    if (rc < 0) return -1;
    if (rc == 1) return ur_errf(err, "%s: missing metadata key 'general.architecture'", g->path);
    char arch[64];
    snprintf(arch, sizeof arch, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    hp->arch = ur_arch_lookup(arch);
    if (hp->arch < 0)
        return ur_errf(err, "%s: architecture '%s' is not supported (urial runs llama, qwen2, qwen3, gemma2, gemma3, "
                            "olmo2 and phi3)",
                       g->path, arch);
    const ur_arch_info *ai = &ARCHS[hp->arch];

    int experts = 0;
    if (arch_u32(g, arch, "context_length", 1, &hp->n_ctx_train, err) ||
        arch_u32(g, arch, "embedding_length", 1, &hp->dim, err) ||
        arch_u32(g, arch, "block_count", 1, &hp->n_layers, err) ||
        arch_u32(g, arch, "feed_forward_length", 1, &hp->ff, err) ||
        arch_u32(g, arch, "attention.head_count", 1, &hp->n_heads, err) ||
        arch_u32(g, arch, "expert_count", 0, &experts, err))
        return -1;
    if (experts > 0)
        return ur_errf(err, "%s: mixture-of-experts models (%s.expert_count = %d) are not supported", g->path, arch,
                       experts);
    hp->n_kv_heads = hp->n_heads;
    if (arch_u32(g, arch, "attention.head_count_kv", 0, &hp->n_kv_heads, err)) return -1;
    if (hp->dim <= 0 || hp->n_layers <= 0 || hp->ff <= 0 || hp->n_heads <= 0 || hp->n_kv_heads <= 0 ||
        hp->n_ctx_train <= 0 || hp->n_layers > 4096)
        return ur_errf(err, "%s: hyperparameters must be positive (dim %d, layers %d, ff %d, heads %d/%d, ctx %d)",
                       g->path, hp->dim, hp->n_layers, hp->ff, hp->n_heads, hp->n_kv_heads, hp->n_ctx_train);
    if (hp->n_heads % hp->n_kv_heads)
        return ur_errf(err, "%s: head count %d is not a multiple of the kv head count %d", g->path, hp->n_heads,
                       hp->n_kv_heads);
    /* head size: attention.key_length, else dim / n_heads (then dim must divide) */
    hp->head_dim = hp->dim % hp->n_heads ? 0 : hp->dim / hp->n_heads;
    if (arch_u32(g, arch, "attention.key_length", 0, &hp->head_dim, err)) return -1;
    int v_len = hp->head_dim;
    if (arch_u32(g, arch, "attention.value_length", 0, &v_len, err)) return -1;
    if (hp->head_dim <= 0)
        return ur_errf(err, "%s: embedding length %d is not a multiple of the head count %d", g->path, hp->dim,
                       hp->n_heads);
    if (v_len != hp->head_dim)
        return ur_errf(err, "%s: attention.value_length %d differs from key_length %d (not supported)", g->path, v_len,
                       hp->head_dim);
    hp->q_dim = hp->n_heads * hp->head_dim;
    hp->kv_dim = hp->n_kv_heads * hp->head_dim;
    hp->n_rot = hp->head_dim;
    if (arch_u32(g, arch, "rope.dimension_count", 0, &hp->n_rot, err)) return -1;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 || hp->n_rot <= 0)
        return ur_errf(err, "%s: rope dimension count %d must be even and at most the head size %d", g->path,
                       hp->n_rot, hp->head_dim);
    hp->rope_neox = ai->rope_neox;
    hp->rope_base = 10000.0f;
    hp->rms_eps = ai->rms_eps;
    if (arch_f32(g, arch, "rope.freq_base", &hp->rope_base, err) ||
        arch_f32(g, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps, err) || rope_scaling(m, arch, err))
        return -1;
    if (!(hp->rope_base > 0) || !(hp->rms_eps > 0) || !isfinite(hp->rope_base))
        return ur_errf(err, "%s: rope base %g and rms epsilon %g must be positive", g->path, hp->rope_base,
                       hp->rms_eps);
    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return ur_errf(err, "%s: out of memory", g->path);
    return variations(m, ai, arch, err);
}
