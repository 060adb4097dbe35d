/* The offline judge: the JSON automaton of each answer shape accepts the answers it
 * should and nothing that would not parse (random walks through it always end in
 * an answer ur_judge_parse accepts), and a small random-weight model with the
 * Llama-2 vocabulary, decoding under the mask, gives parseable scores for 20 outputs. */
#include <jansson.h>

#include "eval/eval_int.h"
#include "eval/jsonmask.h"
#include "harness.h"
#include "urial/model.h"

static void schemas(ur_judge_schema s[4]) {
    ur_judge_schema_default(UR_JUDGE_MULTI, &s[0]);
    ur_judge_schema_default(UR_JUDGE_PAIRWISE, &s[1]);
    json_t *prefs = json_loads("{\"helpfulness\": {\"reason\": \"\", \"preference\": \"A\"}, \"depth\": {\"reason\": \"\", "
                               "\"preference\": \"A\"}}", 0, NULL);
    json_t *pref = json_loads("{\"preference\": \"A\", \"reason\": \"\"}", 0, NULL);
    ur_judge_schema_from_json(prefs, &s[2]);
    ur_judge_schema_from_json(pref, &s[3]);
    json_decref(prefs), json_decref(pref);
}

static int accepts(const jm_shape *sh, const char *text) {
    jm_state st = {0};
    return !jm_feed(sh, &st, text, strlen(text)) && jm_complete(sh, &st);
}

static void automaton_accepts_valid_answers(void) {
    ur_judge_schema s[4];
    schemas(s);
    const char *good[4] = {
        "{\n    \"helpfulness\": {\n        \"reason\": \"Direct and useful.\",\n        \"score\": \"5\"\n    },\n"
        "    \"clarity\": {\"reason\": \"ok\", \"score\": \"4\"}, \"factuality\": {\"reason\": \"\", \"score\": \"3\"},"
        "\"depth\":{\"reason\":\"thin\",\"score\":\"2\"}, \"engagement\": {\"reason\": \"dull\", \"score\": \"1\"}\n}",
        "{\"rationale\": \"A is better.\", \"choices\": {\"helpfulness\": \"A\", \"clarity\": \"B\", \"factuality\": "
        "\"tie\", \"depth\": \"A\", \"engagement\": \"A\", \"safety\": \"tie\", \"overall\": \"A\"}}",
        "{\"helpfulness\": {\"reason\": \"x\", \"preference\": \"same\"}, \"depth\": {\"reason\": \"y\", "
        "\"preference\": \"B\"}}",
        " {\"preference\": \"A\", \"reason\": \"shorter and right\"}",
    };
    for (int i = 0; i < 4; i++) {
        jm_shape sh;
        jm_shape_init(&sh, &s[i], 64, 0);
        CHECKF(accepts(&sh, good[i]), "shape %d", i);
        ur_err err;
        json_t *j = ur_judge_parse_json(&s[i], good[i], strlen(good[i]), NULL, &err);
        CHECKF(j, "shape %d: %s", i, err.msg);
        json_decref(j);
        CHECK(strlen(good[i]) <= sh.max_bytes);
        jm_shape_free(&sh);
    }
    /* declared scales: the digits of 1-6, the words of Fail/Pass/Excellent */
    ur_err e6;
    ur_judge_tmpl *l6 = ur_judge_tmpl_named("lima6", UR_JUDGE_MULTI, &e6), *gr = ur_judge_tmpl_named("grade", UR_JUDGE_MULTI, &e6);
    if (l6 && gr) {
        jm_shape s6, sg;
        jm_shape_init(&s6, ur_judge_tmpl_schema(l6), 16, 0);
        jm_shape_init(&sg, ur_judge_tmpl_schema(gr), 16, 0);
        const char *ok6 = "{\"helpfulness\": {\"reason\": \"r\", \"score\": \"6\"}}";
        const char *okg = "{\"grade\": {\"reason\": \"r\", \"score\": \"Excellent\"}}";
        CHECK(accepts(&s6, ok6) && strlen(ok6) <= s6.max_bytes);
        CHECK(!accepts(&s6, "{\"helpfulness\": {\"reason\": \"r\", \"score\": \"7\"}}"));
        CHECK(accepts(&sg, okg) && strlen(okg) <= sg.max_bytes);
        CHECK(!accepts(&sg, "{\"grade\": {\"reason\": \"r\", \"score\": \"Good\"}}"));
        jm_shape_free(&s6), jm_shape_free(&sg);
    }
    CHECK(l6 && gr);
    ur_judge_tmpl_free(l6), ur_judge_tmpl_free(gr);
    /* and refuses what is not the shape */
    jm_shape sh;
    jm_shape_init(&sh, &s[0], 8, 0);
    const char *bad[] = {"{\"helpfulness\": {\"reason\": \"ok\", \"score\": \"6\"",       /* score 6 */
                         "{\"helpfulness\": {\"reason\": \"it said \\\"no\\\"\"",          /* a backslash */
                         "{\"helpfulness\": {\"reason\": \"nine bytes\"",                  /* longer than 8 */
                         "{\"clarity\"",                                                   /* the wrong order */
                         "{\"helpfulness\": {\"reason\": \"caf\xc3\xa9\""};               /* not ASCII */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jm_state st = {0};
        CHECKF(jm_feed(&sh, &st, bad[i], strlen(bad[i])) == -1, "accepted %s", bad[i]);
        CHECK(st.seg == 0 && st.pos == 0); /* unchanged */
    }
    jm_shape_free(&sh);
}

/* Random walks: at each step a random byte among those allowed; every completed
 * answer must parse and validate. */
static void random_walks_always_parse(void) {
    ur_judge_schema s[4];
    schemas(s);
    uint64_t rng = 12345;
    int walks = 0;
    for (int i = 0; i < 4; i++) {
        jm_shape sh;
        jm_shape_init(&sh, &s[i], 20, 0);
        for (int w = 0; w < 150; w++) {
            jm_state st = {0};
            ur_buf b = {0};
            while (!jm_complete(&sh, &st) && b.len <= sh.max_bytes) {
                unsigned char ok[256];
                int n = 0;
                for (int c = 0; c < 256; c++) {
                    jm_state t = st;
                    char ch = (char)c;
                    if (!jm_feed(&sh, &t, &ch, 1)) ok[n++] = (unsigned char)c;
                }
                REQUIRE(n > 0);
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                char ch = (char)ok[(rng >> 33) % (uint64_t)n];
                jm_feed(&sh, &st, &ch, 1);
                ur_buf_put(&b, &ch, 1);
            }
            CHECKF(jm_complete(&sh, &st) && b.len <= sh.max_bytes, "shape %d: %zu bytes, max %zu", i, b.len,
                   sh.max_bytes);
            ur_err err;
            json_t *j = ur_judge_parse_json(&s[i], b.data, b.len, NULL, &err);
            CHECKF(j, "shape %d: '%s': %s", i, b.data, err.msg);
            json_decref(j);
            ur_buf_free(&b);
            walks++;
        }
        jm_shape_free(&sh);
    }
    CHECK(walks == 600);
}

static const char *synth_judge_model(void) {
    static char path[512];
    const char *fx = th_fixtures();
    if (!fx) return NULL;
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    snprintf(path, sizeof path, "%s/judge.gguf", th_tmpdir());
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.dim = 64, sp.n_layers = 2, sp.n_heads = 4, sp.n_kv_heads = 2, sp.ff = 128, sp.n_ctx = 4096, sp.seed = 11;
    sp.vocab_path = vocab;
    ur_err err;
    if (ur_synth_write(&sp, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    return path;
}

static void local_judge_scores_20_outputs(void) {
    const char *model = synth_judge_model();
    if (!model) SKIP("no fixtures");
    char in[1024], out[512], a[1024], b[1024], pout[512];
    snprintf(in, sizeof in, "%s/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json", th_fixtures());
    snprintf(out, sizeof out, "%s/local.jsonl", th_tmpdir());
    ur_judge_local_params lp = {.model_path = model, .chat_template = "auto", .reason_max = 24, .ws_max = 2, .n_threads = 1};
    ur_err err;
    ur_judge *j = ur_judge_local_new(&lp, &err);
    REQUIRE(j);
    CHECK(ur_judge_note(j) && strstr(ur_judge_note(j), "plain text"));
    CHECK(!strcmp(ur_judge_model(j), "judge"));
    ur_judge_tmpl *t = ur_judge_tmpl_builtin(UR_JUDGE_MULTI), *ts = ur_judge_tmpl_builtin(UR_JUDGE_SAFETY);
    ur_eval_params p;
    ur_eval_defaults(&p);
    p.mode = UR_EVAL_AUTO;
    p.in = in, p.out = out, p.tmpl = t, p.tmpl_safety = ts;
    p.limit = 20;
    ur_eval_progress s;
    double t0 = ur_now();
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECKF(s.judged == 20 && s.failed == 0 && s.asks == 20, "%d judged, %d failed, %d asks", s.judged, s.failed,
           s.asks);
    json_t *recs = ur_eval_records_load(out, &err);
    REQUIRE(recs && json_array_size(recs) == 20);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_t *pr = json_object_get(r, "parsed_result");
        double d;
        CHECK(json_is_object(pr) && !ur_judge_score_value(json_object_get(json_object_get(pr, "depth"), "score"), &d) &&
              d >= 1 && d <= 5);
        CHECK(!strcmp(json_string_value(json_object_get(json_object_get(r, "eval_config"), "gpt")), "judge"));
    }
    json_decref(recs);
    /* red-team items get the safety shape */
    p.only = UR_ONLY_RED_TEAM, p.limit = 2;
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECK(s.judged == 2 && s.failed == 0);
    /* pairwise: the choices shape, both orders */
    snprintf(a, sizeof a, "%s/just-eval/example_generation_1.json", th_fixtures());
    snprintf(b, sizeof b, "%s/just-eval/example_generation_2.json", th_fixtures());
    snprintf(pout, sizeof pout, "%s/local_pair.jsonl", th_tmpdir());
    ur_judge_tmpl *tp = ur_judge_tmpl_builtin(UR_JUDGE_PAIRWISE);
    ur_eval_params pp;
    ur_eval_defaults(&pp);
    pp.in = a, pp.in_b = b, pp.out = pout, pp.tmpl = tp, pp.limit = 2;
    REQUIRE(!ur_eval_pairwise(j, &pp, &s, &err));
    CHECKF(s.judged == 2 && s.failed == 0 && s.asks == 4, "%d judged %d failed", s.judged, s.failed);
    fprintf(stderr, "local judge: %.1f s\n", ur_now() - t0);
    ur_judge_tmpl_free(t), ur_judge_tmpl_free(ts), ur_judge_tmpl_free(tp);
    ur_judge_free(j);
}

int main(void) {
    th_suite = "eval_local";
    RUN(automaton_accepts_valid_answers);
    RUN(random_walks_always_parse);
    RUN(local_judge_scores_20_outputs);
    TEST_MAIN_END();
}
