/* Several sequences decoded together (ur_decode_batch, a server's slots) and a
 * prompt prefix's KV cache copied between contexts (ur_ctx_copy_prefix): both
 * must give the logits that decoding each sequence on its own gives. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "urial/model.h"
#include "urial/tensor.h"

static const char *synth_w(const char *name, const char *arch, int type, int window) {
    static char p[512];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.arch = arch;
    sp.type = type;
    sp.swa_window = window;
    if (window) sp.n_layers = 3;
    sp.scale = 0.1f;
    return th_synth(&sp, name, p, sizeof p);
}

static const char *synth(const char *name, const char *arch, int type) { return synth_w(name, arch, type, 0); }

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static double rel_diff(const float *a, const float *b, int n) {
    double d = 0, m = 1e-6;
    for (int i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d) d = e;
        if (fabs(a[i]) > m) m = fabs(a[i]);
    }
    return d / m;
}

/* Twenty sequences with prompts of different lengths, then 6 greedy steps: decoded
 * together (in batches of 20, and of 19 with one idle for a step: more than one group
 * of the GEMV-sized batches ur_decode_batch makes) and each on its own. Every weight
 * type and architecture: bit-identical (what makes `urial run --parallel N` give the
 * same records). The windowed cases (window 6, n_batch 4: a 15-row ring per sliding
 * layer) run past their window. */
static void batch_equals_separate(void) {
    const struct { const char *arch; int type; int window; } cases[] = {
        {"llama", UR_TYPE_Q8_0, 0},  {"qwen2", UR_TYPE_Q4_K, 0},  {"llama", UR_TYPE_Q4_0, 0},
        {"llama", UR_TYPE_F16, 0},   {"llama", UR_TYPE_F32, 0},   {"qwen2", UR_TYPE_BF16, 0},
        {"qwen3", UR_TYPE_Q4_K, 0},  {"gemma2", UR_TYPE_Q8_0, 6}, {"gemma3", UR_TYPE_Q6_K, 6},
        {"olmo2", UR_TYPE_Q4_0, 6},  {"phi3", UR_TYPE_Q5_K, 0},   {"gemma2", UR_TYPE_F32, 6}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        char name[32];
        snprintf(name, sizeof name, "b%zu.gguf", ci);
        const char *p = synth_w(name, cases[ci].arch, cases[ci].type, cases[ci].window);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        const int nv = m->hp.n_vocab;
        ur_ctx_params cp = {.n_ctx = 128, .n_batch = cases[ci].window ? 4 : 0, .n_threads = 1};
        ur_ctx *bat[20], *one[20];
        float *lb = malloc(sizeof(float) * 20 * (size_t)nv), *lo = malloc(sizeof(float) * (size_t)nv);
        int32_t next[20];
        for (int s = 0; s < 20; s++) {
            bat[s] = ur_ctx_new(m, cp, &err);
            one[s] = ur_ctx_new(m, cp, &err);
            REQUIRE(bat[s] && one[s]);
            int32_t prompt[32];
            int np = 5 + (4 * s) % 11;
            for (int i = 0; i < np; i++) prompt[i] = (int32_t)((i * 31 + s * 7 + 1) % nv);
            REQUIRE(ur_decode(bat[s], prompt, np, lo, 0, &err) == 0);
            REQUIRE(ur_decode(one[s], prompt, np, lo, 0, &err) == 0);
            next[s] = argmax(lo, nv);
        }
        double worst = 0;
        int same = 1;
        for (int step = 0; step < 6; step++) {
            /* step 3: only sequences 0 and 2 advance */
            ur_ctx *cs[20];
            int32_t tk[20], idx[20], n = 0;
            for (int s = 0; s < 20; s++)
                if (step != 3 || s != 1) cs[n] = bat[s], tk[n] = next[s], idx[n++] = s;
            CHECKF(ur_decode_batch(cs, tk, n, lb, &err) == 0, "case %zu: %s", ci, err.msg);
            for (int k = 0; k < n; k++) {
                int s = idx[k];
                REQUIRE(ur_decode(one[s], &next[s], 1, lo, 0, &err) == 0);
                const float *row = lb + (size_t)k * nv;
                double d = rel_diff(row, lo, nv);
                if (d > worst) worst = d;
                if (memcmp(row, lo, sizeof(float) * (size_t)nv)) same = 0;
                next[s] = argmax(lo, nv);
                CHECK(ur_ctx_n_past(bat[s]) == ur_ctx_n_past(one[s]));
                CHECK(!memcmp(ur_ctx_tokens(bat[s]), ur_ctx_tokens(one[s]), sizeof(int32_t) * (size_t)ur_ctx_n_past(one[s])));
            }
        }
        CHECKF(same, "case %zu: batched logits differ (max rel %g)", ci, worst);
        for (int s = 0; s < 20; s++) ur_ctx_free(bat[s]), ur_ctx_free(one[s]);
        free(lb), free(lo);
        ur_model_free(m);
    }
}

static void batch_refuses_bad_input(void) {
    const char *p = synth("e.gguf", "llama", UR_TYPE_Q8_0);
    REQUIRE(p);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(p, &err), *m2 = ur_model_load(p, &err);
    REQUIRE(m && m2);
    ur_ctx_params cp = {.n_ctx = 8, .n_threads = 1};
    ur_ctx *a = ur_ctx_new(m, cp, &err), *b = ur_ctx_new(m, cp, &err), *o = ur_ctx_new(m2, cp, &err);
    ur_ctx_params cp2 = {.n_ctx = 16, .n_threads = 1};
    ur_ctx *d = ur_ctx_new(m, cp2, &err);
    REQUIRE(a && b && o && d);
    int32_t t2[2] = {1, 2}, bad[2] = {1, -1};
    ur_ctx *same[2] = {a, a}, *other[2] = {a, o}, *len[2] = {a, d}, *ok[2] = {a, b};
    CHECK(ur_decode_batch(same, t2, 2, NULL, &err) == -1 && strstr(err.msg, "twice"));
    CHECK(ur_decode_batch(other, t2, 2, NULL, &err) == -1 && strstr(err.msg, "another model"));
    CHECK(ur_decode_batch(len, t2, 2, NULL, &err) == -1);
    CHECK(ur_decode_batch(ok, bad, 2, NULL, &err) == -1 && strstr(err.msg, "out of range"));
    CHECK(ur_ctx_n_past(a) == 0 && ur_ctx_n_past(b) == 0);
    for (int i = 0; i < 8; i++) REQUIRE(ur_decode_batch(ok, t2, 2, NULL, &err) == 0);
    CHECK(ur_ctx_n_past(a) == 8 && ur_ctx_n_past(b) == 8);
    CHECK(ur_decode_batch(ok, t2, 2, NULL, &err) == -1 && strstr(err.msg, "full"));
    CHECK(ur_decode_batch(ok, t2, 0, NULL, &err) == -1);
    ur_ctx_free(a), ur_ctx_free(b), ur_ctx_free(o), ur_ctx_free(d);
    ur_model_free(m), ur_model_free(m2);
}

/* A prefix computed in one context and copied into others: the continuation's
 * logits equal those of a context that computed the prefix itself (the same
 * chunks: the prefix, then the rest). */
static void copied_prefix_equals_computed(void) {
    const int types[2] = {UR_TYPE_Q8_0, UR_TYPE_F32};
    for (int ti = 0; ti < 2; ti++) {
        const char *p = synth(ti ? "c1.gguf" : "c0.gguf", "llama", types[ti]);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        const int nv = m->hp.n_vocab;
        ur_ctx *holder = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 40, .n_threads = 1}, &err);
        ur_ctx *dst = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 128, .n_threads = 1}, &err);
        ur_ctx *ref = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 128, .n_threads = 1}, &err);
        REQUIRE(holder && dst && ref);
        int32_t toks[50];
        for (int i = 0; i < 50; i++) toks[i] = (int32_t)((i * 17 + 3) % nv);
        float *a = malloc(sizeof(float) * (size_t)nv), *b = malloc(sizeof(float) * (size_t)nv);
        REQUIRE(ur_decode(holder, toks, 30, NULL, 0, &err) == 0);
        /* dst held something else: it is dropped */
        REQUIRE(ur_decode(dst, toks + 20, 25, NULL, 0, &err) == 0);
        REQUIRE(ur_ctx_copy_prefix(dst, holder, 30, &err) == 0);
        CHECK(ur_ctx_n_past(dst) == 30 && !memcmp(ur_ctx_tokens(dst), toks, sizeof(int32_t) * 30));
        REQUIRE(ur_decode(dst, toks + 30, 20, a, 0, &err) == 0);
        REQUIRE(ur_decode(ref, toks, 30, NULL, 0, &err) == 0);
        REQUIRE(ur_decode(ref, toks + 30, 20, b, 0, &err) == 0);
        CHECK(!memcmp(a, b, sizeof(float) * (size_t)nv));
        /* a shorter copy of the same holder */
        REQUIRE(ur_ctx_copy_prefix(dst, holder, 10, &err) == 0);
        CHECK(ur_ctx_n_past(dst) == 10);
        CHECK(ur_ctx_copy_prefix(dst, holder, 31, &err) == -1 && strstr(err.msg, "holding 30"));
        ur_ctx *tiny = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 20, .n_threads = 1}, &err);
        CHECK(ur_ctx_copy_prefix(tiny, holder, 30, &err) == -1 && strstr(err.msg, "do not fit"));
        ur_model *m2 = ur_model_load(p, &err);
        ur_ctx *o = ur_ctx_new(m2, (ur_ctx_params){.n_ctx = 64, .n_threads = 1}, &err);
        CHECK(ur_ctx_copy_prefix(o, holder, 5, &err) == -1 && strstr(err.msg, "another model"));
        ur_ctx_free(o), ur_model_free(m2), ur_ctx_free(tiny);
        free(a), free(b);
        ur_ctx_free(holder), ur_ctx_free(dst), ur_ctx_free(ref);
        ur_model_free(m);
    }
}

int main(void) {
    th_suite = "decode_batch";
    RUN(batch_equals_separate);
    RUN(batch_refuses_bad_input);
    RUN(copied_prefix_equals_computed);
    TEST_MAIN_END();
}
