/* The architectures as data: what each row of the table (src/model/arch.c) turns a
 * file's metadata into, the files that are refused, the sliding-window KV cache
 * (rings, rewinds past them, prefix copies and files), and GeGLU's F16 table. The
 * logits themselves are held to llama.cpp's in test_reference.c. */
#include <math.h>

#include "harness.h"
#include "tensor/ops.h"
#include "urial/model.h"
#include "urial/tensor.h"

typedef struct {
    const char *arch;
    int type, layers, window, head_dim, dim, ff, longrope;
    float rope_base, rope_scale;
} spec;

static const char *synth(const char *name, spec s) {
    static char p[512];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.arch = s.arch;
    sp.type = s.type;
    if (s.layers) sp.n_layers = s.layers;
    if (s.dim) sp.dim = s.dim;
    if (s.ff) sp.ff = s.ff;
    sp.swa_window = s.window;
    sp.head_dim = s.head_dim;
    sp.longrope_orig = s.longrope;
    if (s.rope_base > 0) sp.rope_base = s.rope_base;
    sp.rope_scale = s.rope_scale;
    sp.scale = 0.1f;
    return th_synth(&sp, name, p, sizeof p);
}

static ur_model *load(const char *name, spec s) {
    const char *p = synth(name, s);
    if (!p) return NULL;
    ur_err err = {{0}};
    ur_model *m = ur_model_load(p, &err);
    if (!m) fprintf(stderr, "load: %s\n", err.msg);
    return m;
}

static int near(float a, float b) { return fabsf(a - b) <= 1e-6f * fmaxf(1.0f, fabsf(b)); }

/* Each architecture's variations, as the loader reads them from a synth file. */
static void hyperparameters_per_arch(void) {
    ur_model *m = load("llama.gguf", (spec){.arch = "llama", .type = UR_TYPE_F32});
    REQUIRE(m);
    const ur_hparams *hp = &m->hp;
    CHECK(hp->norm == UR_NORM_PRE && hp->qk_norm == UR_QKNORM_NONE && hp->act == UR_ACT_SILU && !hp->rope_neox);
    CHECK(hp->embd_scale == 1.0f && near(hp->attn_scale, 0.125f) && !hp->q_prescale && !hp->swa_window);
    CHECK(hp->attn_softcap == 0 && hp->final_softcap == 0 && hp->q_dim == 256 && hp->kv_dim == 128);
    ur_model_free(m);

    m = load("qwen3.gguf", (spec){.arch = "qwen3", .type = UR_TYPE_F32, .head_dim = 128});
    REQUIRE(m);
    hp = &m->hp;
    CHECK(hp->head_dim == 128 && hp->q_dim == 512 && hp->kv_dim == 256 && hp->dim == 256 && hp->rope_neox);
    CHECK(hp->qk_norm == UR_QKNORM_HEAD && m->layers[1].q_norm.cols == 128 && m->layers[1].wo.cols == 512);
    CHECK(!m->layers[0].bq.data && near(hp->attn_scale, 1.0f / sqrtf(128.0f)));
    ur_model_free(m);

    m = load("gemma2.gguf", (spec){.arch = "gemma2", .type = UR_TYPE_F32, .layers = 3});
    REQUIRE(m);
    hp = &m->hp;
    CHECK(hp->norm == (UR_NORM_PRE | UR_NORM_POST) && hp->act == UR_ACT_GELU && hp->q_prescale && m->tied_output);
    CHECK(hp->embd_scale == 16.0f && hp->attn_softcap == 50.0f && hp->final_softcap == 30.0f);
    CHECK(hp->swa_window == 4096 && m->layers[0].swa && !m->layers[1].swa && m->layers[2].swa && m->n_swa_layers == 2);
    CHECK(hp->rope_base_swa == hp->rope_base && m->layers[0].attn_post_norm.data && m->layers[2].ffn_post_norm.data);
    ur_model_free(m);

    m = load("gemma3.gguf", (spec){.arch = "gemma3", .type = UR_TYPE_F32, .layers = 7, .window = 16, .head_dim = 128,
                                   .rope_base = 1e6f, .rope_scale = 8});
    REQUIRE(m);
    hp = &m->hp;
    CHECK(hp->swa_window == 16 && m->n_swa_layers == 6 && !m->layers[5].swa && m->layers[6].swa && m->layers[4].swa);
    CHECK(hp->rope_base == 1e6f && hp->rope_scale == 8.0f && hp->rope_base_swa == 10000.0f && hp->rope_scale_swa == 1.0f);
    CHECK(hp->attn_softcap == 0 && hp->final_softcap == 0 && hp->qk_norm == UR_QKNORM_HEAD);
    CHECK(near(hp->attn_scale, 1.0f / sqrtf(128.0f)));
    ur_model_free(m);
    /* Gemma's 27B shape (62 layers): queries scaled by 1/sqrt(dim / heads), not the head size */
    m = load("gemma3-27b.gguf", (spec){.arch = "gemma3", .type = UR_TYPE_Q4_0, .layers = 62, .dim = 128, .ff = 256, .head_dim = 128});
    REQUIRE(m);
    CHECK(near(m->hp.attn_scale, 1.0f / sqrtf(32.0f)) && m->hp.swa_window == 1024);
    ur_model_free(m);

    m = load("olmo2.gguf", (spec){.arch = "olmo2", .type = UR_TYPE_F32});
    REQUIRE(m);
    hp = &m->hp;
    CHECK(hp->norm == UR_NORM_POST && hp->qk_norm == UR_QKNORM_ALL && !m->layers[0].attn_norm.data);
    CHECK(m->layers[0].q_norm.cols == 256 && m->layers[0].k_norm.cols == 128 && !m->tied_output && !hp->swa_window);
    ur_model_free(m);

    m = load("phi3.gguf", (spec){.arch = "phi3", .type = UR_TYPE_Q8_0, .longrope = 64, .window = 32});
    REQUIRE(m);
    hp = &m->hp;
    CHECK(m->fused_qkv && m->fused_gate_up && hp->q_prescale && !hp->swa_window && hp->n_ctx_orig == 64);
    const ur_layer *L = &m->layers[0];
    CHECK(L->wq.rows == 256 && L->wk.rows == 128 && L->wv.rows == 128 && L->w_gate.rows == 512 && L->w_up.rows == 512);
    CHECK((const uint8_t *)L->wk.data == (const uint8_t *)L->wq.data + 256 * L->wq.row_bytes);
    CHECK((const uint8_t *)L->w_up.data == (const uint8_t *)L->w_gate.data + 512 * L->w_gate.row_bytes);
    /* LongRoPE: long factors for contexts beyond the original 64 positions, short ones within */
    CHECK(m->rope_long && m->rope_short && ur_model_rope_factors(m, 64) == m->rope_short &&
          ur_model_rope_factors(m, 65) == m->rope_long);
    CHECK(near(hp->rope_attn_factor, sqrtf(1.0f + logf(512.0f / 64.0f) / logf(64.0f))));
    ur_model_free(m);
}

/* A file with a tensor no variation uses is refused, as llama.cpp refuses it. */
static void refuses_unused_tensors(void) {
    const char *src = synth("extra-src.gguf", (spec){.arch = "qwen3", .type = UR_TYPE_F32});
    REQUIRE(src);
    char p[600];
    snprintf(p, sizeof p, "%s/extra.gguf", th_tmpdir());
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(src, &err);
    REQUIRE(g);
    ur_gguf_writer *w = ur_gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) ur_gguf_w_copy_kv(w, &g->kv[i]);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        char tn[128];
        snprintf(tn, sizeof tn, "%.*s", (int)t->name.len, t->name.ptr);
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        ur_gguf_w_tensor(w, tn, t->type, t->n_dims, ne, t->data, t->nbytes, NULL);
    }
    float post[256] = {0};
    int64_t ne[1] = {256};
    ur_gguf_w_tensor(w, "blk.0.post_ffw_norm.weight", UR_TYPE_F32, 1, ne, post, sizeof post, NULL);
    REQUIRE(ur_gguf_write(w, p, &err) == 0);
    ur_gguf_writer_free(w);
    ur_gguf_close(g);
    ur_model *m = ur_model_load(p, &err);
    CHECK(!m);
    CHECKF(strstr(err.msg, "'blk.0.post_ffw_norm.weight' is not part of a qwen3 model"), "%s", err.msg);
    ur_model_free(m);
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.arch = "olmo2";
    sp.tied = 1;
    CHECK(ur_synth_write(&sp, p, &err) == -1 && strstr(err.msg, "output.weight"));
    sp.arch = "mamba";
    CHECK(ur_synth_write(&sp, p, &err) == -1 && strstr(err.msg, "gemma3"));
}

/* Feed tokens[0..n) to c in calls of `step` tokens, all logits into out[n][nv]. */
static int feed(ur_ctx *c, const int32_t *tokens, int n, int step, float *out, int nv) {
    ur_err err = {{0}};
    for (int i = 0; i < n; i += step) {
        int k = n - i < step ? n - i : step;
        if (ur_decode(c, tokens + i, k, out ? out + (size_t)i * nv : NULL, out != NULL, &err)) {
            fprintf(stderr, "decode: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* A sliding layer's ring (window 8 - 1 + n_batch 4 + rewind room 8 = 19 rows of 96)
 * gives the very logits of a cache that keeps every position, fed in the same chunks,
 * at ~1/5 of the KV memory for the sliding layers. */
static void sliding_ring_equals_full(void) {
    const spec specs[2] = {{.arch = "gemma3", .type = UR_TYPE_Q8_0, .layers = 7, .window = 8},
                           {.arch = "gemma2", .type = UR_TYPE_F32, .layers = 3, .window = 8}};
    for (int si = 0; si < 2; si++) {
        char name[32];
        snprintf(name, sizeof name, "ring%d.gguf", si);
        ur_model *m = load(name, specs[si]);
        REQUIRE(m);
        const int nv = m->hp.n_vocab, n = 90;
        int32_t toks[90];
        for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 37 + 5) % nv);
        ur_err err = {{0}};
        ur_ctx *ring = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_batch = 4, .n_threads = 2}, &err);
        ur_ctx *full = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_threads = 2}, &err);
        REQUIRE(ring && full);
        const uint64_t layers = (uint64_t)m->hp.n_layers, slide = (uint64_t)m->n_swa_layers, kvd = (uint64_t)m->hp.kv_dim;
        CHECK(ur_ctx_kv_bytes(full) == 2 * 2 * layers * 96 * kvd);
        CHECK(ur_ctx_kv_bytes(ring) == 2 * 2 * ((layers - slide) * 96 + slide * 19) * kvd);
        float *a = malloc(sizeof(float) * (size_t)n * nv), *b = malloc(sizeof(float) * (size_t)n * nv);
        REQUIRE(a && b);
        /* a prefill of 40 in chunks of 4, then one token at a time */
        REQUIRE(feed(ring, toks, 40, 4, a, nv) == 0 && feed(ring, toks + 40, n - 40, 1, a + (size_t)40 * nv, nv) == 0);
        REQUIRE(feed(full, toks, 40, 4, b, nv) == 0 && feed(full, toks + 40, n - 40, 1, b + (size_t)40 * nv, nv) == 0);
        CHECKF(!memcmp(a, b, sizeof(float) * (size_t)n * nv), "%s: ring and full cache differ", specs[si].arch);
        free(a), free(b);
        ur_ctx_free(ring), ur_ctx_free(full);
        ur_model_free(m);
    }
}

/* Going back into a ring: within its reach nothing is recomputed; beyond it the
 * next decode recomputes the kept tokens; both continue with the right logits. */
static void rewind_into_ring(void) {
    ur_model *m = load("rew.gguf", (spec){.arch = "gemma3", .type = UR_TYPE_Q4_K, .layers = 7, .window = 8});
    REQUIRE(m);
    const int nv = m->hp.n_vocab;
    int32_t toks[70];
    for (int i = 0; i < 70; i++) toks[i] = (int32_t)((i * 53 + 11) % nv);
    ur_err err = {{0}};
    ur_ctx_params cp = {.n_ctx = 96, .n_batch = 4, .n_threads = 2};
    ur_ctx *c = ur_ctx_new(m, cp, &err), *ref = ur_ctx_new(m, cp, &err);
    REQUIRE(c && ref);
    float *a = malloc(sizeof(float) * 10 * (size_t)nv), *b = malloc(sizeof(float) * 10 * (size_t)nv);
    const int backs[3] = {58, 30, 0}; /* 58: the ring (positions 41..59) still holds 51..57; 30: it does not */
    for (int k = 0; k < 3; k++) {
        ur_ctx_truncate(c, 0);
        REQUIRE(feed(c, toks, 60, 4, NULL, nv) == 0);
        ur_ctx_truncate(c, backs[k]);
        CHECK(ur_ctx_n_past(c) == backs[k]);
        REQUIRE(feed(c, toks + backs[k], 10, 1, a, nv) == 0);
        /* the reference: the kept tokens in chunks of n_batch from 0 (how a recompute
         * runs them), then the same single steps */
        ur_ctx_truncate(ref, 0);
        REQUIRE(feed(ref, toks, backs[k], 4, NULL, nv) == 0 && feed(ref, toks + backs[k], 10, 1, b, nv) == 0);
        CHECKF(!memcmp(a, b, sizeof(float) * 10 * (size_t)nv), "back to %d: logits differ", backs[k]);
        CHECK(ur_ctx_n_past(c) == backs[k] + 10);
    }
    free(a), free(b);
    ur_ctx_free(c), ur_ctx_free(ref);
    ur_model_free(m);
}

/* A prefix computed in a ring context, copied into a full one (and back), and saved
 * to a file and loaded into both: the continuation equals computing the prefix. */
static void sliding_prefix_copy_and_file(void) {
    ur_model *m = load("pre.gguf", (spec){.arch = "gemma3", .type = UR_TYPE_Q8_0, .layers = 7, .window = 8});
    REQUIRE(m);
    const int nv = m->hp.n_vocab;
    int32_t toks[60];
    for (int i = 0; i < 60; i++) toks[i] = (int32_t)((i * 29 + 7) % nv);
    ur_err err = {{0}};
    ur_ctx *ring = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_batch = 4, .n_threads = 1}, &err);
    ur_ctx *full = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_threads = 1}, &err);
    ur_ctx *ref = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_batch = 4, .n_threads = 1}, &err);
    REQUIRE(ring && full && ref);
    float *a = malloc(sizeof(float) * (size_t)nv), *b = malloc(sizeof(float) * (size_t)nv);
    REQUIRE(feed(ref, toks, 40, 4, NULL, nv) == 0 && feed(ref, toks + 40, 6, 1, NULL, nv) == 0);
    REQUIRE(ur_decode(ref, toks + 46, 1, b, 0, &err) == 0);
    REQUIRE(feed(ring, toks, 40, 4, NULL, nv) == 0);
    char kv[600];
    snprintf(kv, sizeof kv, "%s/pre.kv", th_tmpdir());
    REQUIRE(ur_ctx_save_prefix(ring, 40, kv, &err) == 0);
    ur_ctx *targets[2] = {full, ring};
    for (int t = 0; t < 2; t++) {
        for (int how = 0; how < 2; how++) { /* 0: copied from the ring context, 1: loaded from the file */
            ur_ctx *dst = targets[t];
            if (how == 0 && dst == ring) continue;
            if (how == 0) REQUIRE(ur_ctx_copy_prefix(dst, ring, 40, &err) == 0);
            else CHECKF(ur_ctx_load_prefix(dst, kv, toks, 40, &err) == 1, "load: %s", err.msg);
            REQUIRE(ur_ctx_n_past(dst) == 40);
            REQUIRE(feed(dst, toks + 40, 6, 1, NULL, nv) == 0);
            REQUIRE(ur_decode(dst, toks + 46, 1, a, 0, &err) == 0);
            CHECKF(!memcmp(a, b, sizeof(float) * (size_t)nv), "target %d way %d: continuation differs", t, how);
        }
    }
    /* a copy of 30 tokens from a ring that has moved on to 60: the destination recomputes them */
    ur_ctx_truncate(ring, 0);
    REQUIRE(feed(ring, toks, 60, 4, NULL, nv) == 0);
    REQUIRE(ur_ctx_copy_prefix(full, ring, 30, &err) == 0);
    CHECK(ur_ctx_n_past(full) == 30 && !memcmp(ur_ctx_tokens(full), toks, sizeof(int32_t) * 30));
    CHECK(ur_ctx_save_prefix(ring, 30, kv, &err) == -1 && strstr(err.msg, "overwritten"));
    REQUIRE(ur_decode(full, toks + 30, 1, a, 0, &err) == 0);
    ur_ctx *ref2 = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 96, .n_threads = 1}, &err);
    REQUIRE(ref2);
    REQUIRE(ur_decode(ref2, toks, 30, NULL, 0, &err) == 0 && ur_decode(ref2, toks + 30, 1, b, 0, &err) == 0);
    CHECK(!memcmp(a, b, sizeof(float) * (size_t)nv));
    ur_ctx_free(ref2);
    free(a), free(b);
    ur_ctx_free(ring), ur_ctx_free(full), ur_ctx_free(ref);
    ur_model_free(m);
}

/* GeGLU through the F16 table: SIMD and scalar paths agree bit for bit, the cut-offs
 * at +-10 hold, and the table is GELU rounded to F16. */
static void geglu_table(void) {
    enum { N = 4099 };
    float *g = malloc(sizeof(float) * N), *u = malloc(sizeof(float) * N), *h1 = malloc(sizeof(float) * N),
          *h2 = malloc(sizeof(float) * N);
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 30.0 - 15.0);
        u[i] = 0.5f + (float)(i % 7) * 0.25f;
    }
    g[0] = -10.0f, g[1] = 10.0f, g[2] = 0.0f, g[3] = -9.999f;
    int lvl = ur_simd_level();
    ur_geglu(h1, g, u, N);
    ur_simd_set(UR_SIMD_SCALAR);
    ur_geglu(h2, g, u, N);
    ur_simd_set(lvl);
    CHECK(!memcmp(h1, h2, sizeof(float) * N));
    CHECK(h1[0] == 0.0f && h1[1] == 10.0f * u[1] && h1[2] == 0.0f);
    for (int i = 4; i < N; i++) {
        if (g[i] <= -10.0f || g[i] >= 10.0f) continue;
        const float x = ur_f16_to_f32(ur_f32_to_f16(g[i]));
        const float want = ur_f16_to_f32(ur_f32_to_f16(ur_gelu(x))) * u[i];
        CHECKF(h1[i] == want, "g %g: %g != %g", g[i], h1[i], want);
    }
    free(g), free(u), free(h1), free(h2);
}

int main(void) {
    th_suite = "arch";
    RUN(hyperparameters_per_arch);
    RUN(refuses_unused_tensors);
    RUN(sliding_ring_equals_full);
    RUN(rewind_into_ring);
    RUN(sliding_prefix_copy_and_file);
    RUN(geglu_table);
    TEST_MAIN_END();
}
