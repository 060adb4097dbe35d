/* Models: loading (and refusing bad files), the forward pass's consistency across
 * batch sizes and the KV cache, and the generation loop's stop handling. The
 * numbers themselves are checked against llama.cpp in test_reference.c. */
#include <math.h>

#include "harness.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tensor.h"

static char path_f32[512];

static const char *synth(const char *name, const char *arch, int type, int tied, int rope_freqs) {
    static char p[512];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.arch = arch;
    sp.type = type;
    sp.tied = tied;
    sp.rope_freqs = rope_freqs;
    return th_synth(&sp, name, p, sizeof p);
}

static void loads_synth_models(void) {
    const char *p = synth("a.gguf", "llama", UR_TYPE_F32, 0, 0);
    REQUIRE(p);
    snprintf(path_f32, sizeof path_f32, "%s", p);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(p, &err);
    REQUIRE(m);
    CHECK(m->hp.arch == UR_ARCH_LLAMA);
    CHECK(m->hp.dim == 256 && m->hp.n_layers == 2 && m->hp.n_heads == 4 && m->hp.n_kv_heads == 2);
    CHECK(m->hp.head_dim == 64 && m->hp.ff == 512 && m->hp.n_ctx_train == 512 && !m->hp.rope_neox);
    CHECK(!m->tied_output && !m->rope_freqs);
    CHECK(m->hp.n_vocab == ur_vocab_size(m->vocab));
    ur_model_free(m);

    p = synth("q.gguf", "qwen2", UR_TYPE_Q8_0, 1, 1);
    REQUIRE(p);
    m = ur_model_load(p, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(m->hp.arch == UR_ARCH_QWEN2 && m->hp.rope_neox && m->tied_output && m->rope_freqs);
        CHECK(m->layers[0].bq.data && m->layers[1].bv.data);
        ur_model_free(m);
    }
}

/* Copy a GGUF, replacing one string key and/or dropping or reshaping one tensor. */
static const char *edited(const char *src, const char *name, const char *skey, const char *sval, const char *drop,
                          const char *reshape) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", th_tmpdir(), name);
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(src, &err);
    if (!g) return NULL;
    ur_gguf_writer *w = ur_gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) ur_gguf_w_copy_kv(w, &g->kv[i]);
    if (skey) ur_gguf_w_str(w, skey, sval);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        char tn[128];
        snprintf(tn, sizeof tn, "%.*s", (int)t->name.len, t->name.ptr);
        if (drop && !strcmp(tn, drop)) continue;
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        if (reshape && !strcmp(tn, reshape) && t->n_dims == 2) ne[0] /= 2, ne[1] *= 2;
        ur_gguf_w_tensor(w, tn, t->type, t->n_dims, ne, t->data, t->nbytes, NULL);
    }
    int rc = ur_gguf_write(w, p, &err);
    ur_gguf_writer_free(w);
    ur_gguf_close(g);
    return rc ? NULL : p;
}

static void refuses_bad_models(void) {
    REQUIRE(path_f32[0]);
    struct { const char *name, *skey, *sval, *drop, *reshape, *want; } cases[] = {
        {"neox.gguf", "general.architecture", "gptneox", NULL, NULL, "architecture 'gptneox' is not supported"},
        {"drop.gguf", NULL, NULL, "blk.1.ffn_up.weight", NULL, "missing tensor 'blk.1.ffn_up.weight'"},
        {"shape.gguf", NULL, NULL, NULL, "blk.0.attn_k.weight", "tensor 'blk.0.attn_k.weight' has shape"},
        {"gpt2.gguf", "tokenizer.ggml.model", "gpt2", NULL, NULL, "gpt2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = edited(path_f32, cases[i].name, cases[i].skey, cases[i].sval, cases[i].drop, cases[i].reshape);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        CHECKF(!m, "%s loaded", cases[i].name);
        CHECKF(strstr(err.msg, cases[i].want) && strstr(err.msg, cases[i].name), "%s: '%s'", cases[i].name, err.msg);
        CHECKF(!strchr(err.msg, '\n'), "multi-line message: %s", err.msg);
        ur_model_free(m);
    }
}

static float maxdiff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

/* One batched forward == small chunks == token-by-token decode with the cache. */
static void batch_chunks_and_cache_agree(void) {
    for (int type_i = 0; type_i < 2; type_i++) {
        const int type = type_i ? UR_TYPE_Q4_0 : UR_TYPE_F32;
        const char *p = synth(type_i ? "c1.gguf" : "c0.gguf", type_i ? "qwen2" : "llama", type, 0, 0);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        const int n = 21, nv = m->hp.n_vocab;
        int32_t toks[21];
        for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 97 + 1) % nv);
        float *a = malloc(sizeof(float) * n * nv), *b = malloc(sizeof(float) * n * nv), *c = malloc(sizeof(float) * n * nv);
        ur_ctx *ca = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_threads = 2}, &err);
        ur_ctx *cb = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_batch = 4, .n_threads = 1}, &err);
        ur_ctx *cc = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_threads = 2}, &err);
        REQUIRE(ca && cb && cc);
        CHECK(ur_decode(ca, toks, n, a, 1, &err) == 0);
        CHECK(ur_decode(cb, toks, n, b, 1, &err) == 0);
        for (int i = 0; i < n; i++) CHECK(ur_decode(cc, toks + i, 1, c + (size_t)i * nv, 0, &err) == 0);
        CHECK(ur_ctx_n_past(ca) == n && ur_ctx_n_past(cc) == n);
        /* f32: only summation order differs. Q4_0: batches of 16+ tokens take the GEMM kernels,
         * smaller ones the GEMV kernels; a last-bit difference can flip one Q8_0-rounded
         * activation, and through attention that moves later logits by up to ~1e-2 (the same
         * effect bounds the agreement with llama.cpp in test_reference.c). */
        const float tol = type == UR_TYPE_F32 ? 1e-4f : 3e-2f;
        float dab = maxdiff(a, b, (size_t)n * nv), dac = maxdiff(a, c, (size_t)n * nv);
        CHECKF(dab < tol && dac < tol, "type %s: batch vs chunks %g, batch vs cache %g", ur_type_name(type), dab, dac);
        /* rewinding the cache and decoding the tail again gives the same logits */
        ur_ctx_truncate(cc, 10);
        float *d = malloc(sizeof(float) * 11 * nv);
        CHECK(ur_decode(cc, toks + 10, 11, d, 1, &err) == 0);
        CHECKF(maxdiff(d, a + (size_t)10 * nv, (size_t)11 * nv) < tol, "after truncate");
        /* errors leave the cache as it was */
        int32_t bad = nv;
        CHECK(ur_decode(cc, &bad, 1, NULL, 0, &err) == -1 && strstr(err.msg, "out of range"));
        int32_t many[64] = {0};
        CHECK(ur_decode(cc, many, 64, NULL, 0, &err) == -1 && strstr(err.msg, "do not fit"));
        CHECK(ur_ctx_n_past(cc) == 21);
        free(a), free(b), free(c), free(d);
        ur_ctx_free(ca), ur_ctx_free(cb), ur_ctx_free(cc);
        ur_model_free(m);
    }
}

/* ur_decode_last: logits for a tail of the positions, bit-identical to the same rows
 * of ur_decode(all = 1), for tails inside one chunk, across chunks, of one row. */
static void decode_last_rows_match(void) {
    for (int type_i = 0; type_i < 2; type_i++) {
        const char *p = synth(type_i ? "l1.gguf" : "l0.gguf", "llama", type_i ? UR_TYPE_Q8_0 : UR_TYPE_F32, 0, 0);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        const int n = 23, nv = m->hp.n_vocab;
        int32_t toks[23];
        for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 61 + 3) % nv);
        float *all = malloc(sizeof(float) * n * nv), *tail = malloc(sizeof(float) * n * nv);
        ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_batch = 8, .n_threads = 2}, &err);
        REQUIRE(c && all && tail);
        CHECK(ur_ctx_n_batch(c) == 8);
        CHECK(ur_decode(c, toks, n, all, 1, &err) == 0);
        const int outs[] = {0, 1, 3, 8, 15, 23};
        for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
            ur_ctx_truncate(c, 0);
            memset(tail, 0, sizeof(float) * n * nv);
            CHECK(ur_decode_last(c, toks, n, outs[k] ? tail : NULL, outs[k], &err) == 0);
            CHECK(ur_ctx_n_past(c) == n);
            CHECKF(!memcmp(tail, all + (size_t)(n - outs[k]) * nv, sizeof(float) * (size_t)outs[k] * nv),
                   "type %d: the last %d rows differ", type_i, outs[k]);
        }
        ur_ctx_truncate(c, 0);
        CHECK(ur_decode_last(c, toks, 4, tail, 5, &err) == -1 && strstr(err.msg, "5 of 4"));
        CHECK(ur_decode_last(c, toks, 4, NULL, 1, &err) == -1 && ur_ctx_n_past(c) == 0);
        free(all), free(tail);
        ur_ctx_free(c);
        ur_model_free(m);
    }
}

typedef struct { ur_buf streamed; } sink;
static int collect(void *user, const char *text, size_t len) {
    ur_buf_put(&((sink *)user)->streamed, text, len);
    return 0;
}

/* Stop strings that span tokens: the output ends right before the first
 * occurrence and no part of the stop string is ever streamed. */
static void stop_strings_span_tokens(void) {
    REQUIRE(path_f32[0]);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path_f32, &err);
    REQUIRE(m);
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 256, .n_threads = 2}, &err);
    REQUIRE(c);
    int32_t prompt[] = {1, 100, 120, 140};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = 60;
    gp.ignore_eog = 1;
    ur_gen_result full, cut;
    sink s1 = {{0}}, s2 = {{0}};
    REQUIRE(ur_generate(c, prompt, 4, &gp, collect, &s1, &full, &err) == 0);
    CHECK(full.n_gen == 60 && full.stop_reason == UR_STOP_LENGTH);
    CHECK(full.text.len == s1.streamed.len && !memcmp(full.text.data, s1.streamed.data, full.text.len));
    REQUIRE(full.text.len > 20);
    /* a stop string from the middle of the text (bytes 12..18), then a never-matching one that shares a prefix */
    char stop[8];
    size_t o = 12;
    while (o + 6 <= full.text.len && memchr(full.text.data + o, 0, 6)) o++;
    REQUIRE(o + 6 <= full.text.len);
    memcpy(stop, full.text.data + o, 6);
    stop[6] = 0;
    char decoy[16];
    snprintf(decoy, sizeof decoy, "%.3s\x01\x02", stop);
    const char *stops[2] = {decoy, stop};
    gp.stop = stops;
    gp.n_stop = 2;
    REQUIRE(ur_generate(c, prompt, 4, &gp, collect, &s2, &cut, &err) == 0);
    const char *first = memmem(full.text.data, full.text.len, stop, 6);
    REQUIRE(first);
    size_t want = (size_t)(first - full.text.data);
    CHECK(cut.stop_reason == UR_STOP_STRING);
    CHECKF(cut.text.len == want, "cut at %zu, want %zu", cut.text.len, want);
    CHECK(!memcmp(cut.text.data, full.text.data, want));
    CHECKF(s2.streamed.len == want && !memcmp(s2.streamed.data, full.text.data, want), "streamed %zu bytes",
           s2.streamed.len);
    CHECK(cut.n_reused == 3); /* the prompt's prefix came from the cache */
    ur_buf_free(&full.text), ur_buf_free(&cut.text), ur_buf_free(&s1.streamed), ur_buf_free(&s2.streamed);

    /* a prompt that does not fit is an error, not a truncation */
    int32_t longp[300] = {0};
    CHECK(ur_generate(c, longp, 300, &gp, NULL, NULL, &cut, &err) == -1 && strstr(err.msg, "context"));
    ur_ctx_free(c);
    ur_model_free(m);
}

/* Same seed, same text; sampling with a different seed differs. */
static void seeded_generation_reproducible(void) {
    REQUIRE(path_f32[0]);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path_f32, &err);
    REQUIRE(m);
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 128, .n_threads = 2}, &err);
    REQUIRE(c);
    int32_t prompt[] = {1, 70, 80};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = 30;
    gp.ignore_eog = 1;
    gp.sampler.temp = 1.5f;
    gp.sampler.seed = 5;
    ur_gen_result r[3];
    for (int i = 0; i < 3; i++) {
        if (i == 2) gp.sampler.seed = 6;
        REQUIRE(ur_generate(c, prompt, 3, &gp, NULL, NULL, &r[i], &err) == 0);
    }
    CHECK(r[0].text.len == r[1].text.len && !memcmp(r[0].text.data, r[1].text.data, r[0].text.len));
    CHECK(r[0].text.len != r[2].text.len || memcmp(r[0].text.data, r[2].text.data, r[0].text.len));
    for (int i = 0; i < 3; i++) ur_buf_free(&r[i].text);
    ur_ctx_free(c);
    ur_model_free(m);
}

/* gp.tokens: the generated ids, the end-of-generation token last when it stopped
 * generation; they are the tokens the context then holds. */
static void generate_returns_tokens(void) {
    REQUIRE(path_f32[0]);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path_f32, &err);
    REQUIRE(m);
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 128, .n_threads = 2}, &err);
    REQUIRE(c);
    int32_t prompt[] = {1, 90, 91}, toks[40], few[5];
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = 30;
    gp.tokens = toks;
    gp.tokens_cap = 40;
    ur_gen_result r;
    REQUIRE(ur_generate(c, prompt, 3, &gp, NULL, NULL, &r, &err) == 0);
    int n = r.n_gen + (r.stop_reason == UR_STOP_EOG);
    CHECK(n >= 1 && n <= 31);
    /* the context holds the prompt and every generated token but the last one */
    CHECK(ur_ctx_n_past(c) == 3 + n - 1 && !memcmp(ur_ctx_tokens(c) + 3, toks, sizeof(int32_t) * (size_t)(n - 1)));
    if (r.stop_reason == UR_STOP_EOG) CHECK(ur_vocab_is_eog(m->vocab, toks[n - 1]));
    ur_detok d;
    ur_buf text = {0};
    ur_detok_init(&d, m->vocab, 0, 0); /* as ur_generate streams a continuation */
    for (int i = 0; i < r.n_gen; i++) ur_detok_push(&d, toks[i], &text);
    ur_detok_flush(&d, &text);
    CHECK(text.len == r.text.len && !memcmp(text.data, r.text.data, r.text.len));
    ur_buf_free(&text);
    ur_buf_free(&r.text);
    /* a smaller buffer gets the first tokens */
    gp.tokens = few;
    gp.tokens_cap = 5;
    REQUIRE(ur_generate(c, prompt, 3, &gp, NULL, NULL, &r, &err) == 0);
    CHECK(!memcmp(few, toks, sizeof few));
    ur_buf_free(&r.text);
    ur_ctx_free(c);
    ur_model_free(m);
}

int main(void) {
    th_suite = "model";
    RUN(loads_synth_models);
    RUN(refuses_bad_models);
    RUN(batch_chunks_and_cache_agree);
    RUN(decode_last_rows_match);
    RUN(generate_returns_tokens);
    RUN(stop_strings_span_tokens);
    RUN(seeded_generation_reproducible);
    TEST_MAIN_END();
}
