/* Generation one token at a time (ur_gen_begin / ur_gen_step / ur_gen_end), driven
 * by hand and with batched decoding, against ur_generate; and log-probabilities of a
 * row (ur_logprobs_row) against a direct computation. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tensor.h"

static ur_model *model(void) {
    static char p[512];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.type = UR_TYPE_Q8_0;
    sp.scale = 0.3f;
    snprintf(p, sizeof p, "%s/g.gguf", th_tmpdir());
    ur_err err = {{0}};
    if (ur_synth_write(&sp, p, &err)) return NULL;
    return ur_model_load(p, &err);
}

static int collect(void *user, const char *text, size_t len) {
    ur_buf_put(user, text, len);
    return 0;
}

/* The step loop over ur_decode_batch (three sequences together) gives what
 * ur_generate gives for each alone: text, streamed text, tokens, stop reason. */
static void steps_equal_generate(void) {
    ur_model *m = model();
    REQUIRE(m);
    ur_err err = {{0}};
    const int nv = m->hp.n_vocab;
    ur_ctx_params cp = {.n_ctx = 64, .n_threads = 1};
    const char *stops[2] = {"e", "xq"};
    ur_gen_params gp[3];
    for (int s = 0; s < 3; s++) {
        ur_gen_defaults(&gp[s]);
        gp[s].max_tokens = 12 + 3 * s;
        gp[s].sampler.temp = s == 0 ? 0.f : 0.9f;
        gp[s].sampler.seed = 100 + (uint64_t)s;
        gp[s].sampler.repeat_penalty = s == 2 ? 1.3f : 1.f;
        if (s == 1) gp[s].stop = stops, gp[s].n_stop = 2;
    }
    int32_t prompt[3][8];
    ur_gen_result ref[3];
    int32_t ref_tok[3][32], got_tok[3][32];
    ur_buf ref_stream[3] = {{0}}, got_stream[3] = {{0}};
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 8; i++) prompt[s][i] = (int32_t)(1 + (i * 13 + s * 5) % (nv - 1));
        ur_ctx *c = ur_ctx_new(m, cp, &err);
        REQUIRE(c);
        ur_gen_params g = gp[s];
        g.tokens = ref_tok[s];
        g.tokens_cap = 32;
        REQUIRE(ur_generate(c, prompt[s], 8, &g, collect, &ref_stream[s], &ref[s], &err) == 0);
        ur_ctx_free(c);
    }
    /* the same with steps: prompts decoded alone, then all generated tokens batched */
    ur_ctx *cs[3];
    ur_gen_state *gs[3];
    float *logits = malloc(sizeof(float) * 3 * (size_t)nv);
    int32_t next[3];
    int live[3];
    for (int s = 0; s < 3; s++) {
        cs[s] = ur_ctx_new(m, cp, &err);
        REQUIRE(cs[s]);
        ur_gen_params g = gp[s];
        g.tokens = got_tok[s];
        g.tokens_cap = 32;
        gs[s] = ur_gen_begin(m, prompt[s], 8, &g, collect, &got_stream[s], &err);
        REQUIRE(gs[s]);
        REQUIRE(ur_decode(cs[s], prompt[s], 8, logits, 0, &err) == 0);
        live[s] = ur_gen_step(gs[s], logits, 1, &next[s], &err);
        REQUIRE(live[s] >= 0);
    }
    for (;;) {
        ur_ctx *bc[3];
        int32_t bt[3];
        int idx[3], n = 0;
        for (int s = 0; s < 3; s++)
            if (live[s] == 1) bc[n] = cs[s], bt[n] = next[s], idx[n++] = s;
        if (!n) break;
        REQUIRE(ur_decode_batch(bc, bt, n, logits, &err) == 0);
        for (int k = 0; k < n; k++) {
            int s = idx[k];
            live[s] = ur_gen_step(gs[s], logits + (size_t)k * nv, ur_ctx_n_past(cs[s]) < ur_ctx_n_ctx(cs[s]), &next[s], &err);
            REQUIRE(live[s] >= 0);
        }
    }
    for (int s = 0; s < 3; s++) {
        ur_gen_result r;
        CHECK(ur_gen_last_token(gs[s]) >= 0);
        CHECK(ur_gen_emitted(gs[s]) == ur_gen_peek(gs[s])->text.len);
        ur_gen_end(gs[s], &r);
        CHECKF(r.n_gen == ref[s].n_gen && r.stop_reason == ref[s].stop_reason, "seq %d: %d/%d tokens, stop %d/%d", s,
               r.n_gen, ref[s].n_gen, r.stop_reason, ref[s].stop_reason);
        CHECK(r.text.len == ref[s].text.len && (!r.text.len || !memcmp(r.text.data, ref[s].text.data, r.text.len)));
        CHECK(got_stream[s].len == ref_stream[s].len &&
              (!got_stream[s].len || !memcmp(got_stream[s].data, ref_stream[s].data, got_stream[s].len)));
        CHECK(!memcmp(got_tok[s], ref_tok[s], sizeof(int32_t) * (size_t)r.n_gen));
        ur_buf_free(&r.text), ur_buf_free(&ref[s].text), ur_buf_free(&ref_stream[s]), ur_buf_free(&got_stream[s]);
        ur_ctx_free(cs[s]);
    }
    free(logits);
    ur_model_free(m);
}

/* A context with no room: the step ends generation with UR_STOP_CONTEXT; max_tokens 0
 * ends it before sampling. */
static void step_limits(void) {
    ur_model *m = model();
    REQUIRE(m);
    ur_err err = {{0}};
    float *logits = calloc((size_t)m->hp.n_vocab, sizeof(float));
    logits[7] = 5;
    int32_t p[1] = {3}, next = -1;
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    ur_gen_state *g = ur_gen_begin(m, p, 1, &gp, NULL, NULL, &err);
    REQUIRE(g);
    CHECK(ur_gen_step(g, logits, 0, &next, &err) == 0);
    CHECK(ur_gen_peek(g)->stop_reason == UR_STOP_CONTEXT && ur_gen_peek(g)->n_gen == 1 && ur_gen_last_token(g) == 7);
    CHECK(ur_gen_step(g, logits, 1, &next, &err) == 0); /* ended: stays ended */
    ur_gen_end(g, NULL);
    gp.max_tokens = 0;
    g = ur_gen_begin(m, p, 1, &gp, NULL, NULL, &err);
    CHECK(ur_gen_step(g, logits, 1, &next, &err) == 0 && ur_gen_peek(g)->stop_reason == UR_STOP_LENGTH &&
          ur_gen_last_token(g) == -1);
    ur_gen_end(g, NULL);
    free(logits);
    ur_model_free(m);
}

static void logprobs_of_a_row(void) {
    enum { NV = 50 };
    float x[NV];
    for (int i = 0; i < NV; i++) x[i] = (float)sin(i * 1.7) * 4;
    x[11] = x[30] = 9; /* a tie at the top: the lower id first */
    double lse = 0, mx = 9;
    for (int i = 0; i < NV; i++) lse += exp(x[i] - mx);
    lse = mx + log(lse);
    int32_t ids[5];
    float lps[5];
    double lp = ur_logprobs_row(x, NV, 4, 5, ids, lps);
    CHECK(fabs(lp - (x[4] - lse)) < 1e-9);
    CHECK(ids[0] == 11 && ids[1] == 30);
    for (int j = 0; j < 5; j++) {
        CHECK(fabs(lps[j] - (x[ids[j]] - lse)) < 1e-5);
        if (j) CHECK(lps[j] <= lps[j - 1]);
    }
    int above = 0; /* nothing outside the top 5 beats the fifth */
    for (int i = 0; i < NV; i++) above += x[i] > x[ids[4]];
    CHECK(above == 4);
    /* k larger than the vocabulary: all of it, sorted; probabilities sum to 1 */
    int32_t all[NV];
    float alp[NV];
    ur_logprobs_row(x, NV, -1, NV + 10, all, alp);
    double sum = 0;
    for (int j = 0; j < NV; j++) sum += exp(alp[j]);
    CHECK(fabs(sum - 1) < 1e-5);
    CHECK(ur_logprobs_row(x, NV, -1, 0, NULL, NULL) == 0);
}

int main(void) {
    th_suite = "gen_step";
    RUN(steps_equal_generate);
    RUN(step_limits);
    RUN(logprobs_of_a_row);
    TEST_MAIN_END();
}
