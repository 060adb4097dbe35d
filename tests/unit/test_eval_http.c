/* Judging through an OpenAI-compatible server: the replay judge (replay.h) answers
 * from the recorded just-eval judge records, so judging the fixture outputs must
 * give the recorded parsed_results and upstream's report numbers; scripted faults
 * (429 with Retry-After, 5xx, slow answers, garbage, dropped connections, answers
 * that are not JSON) must end with every record judged or explicitly failed; resume
 * skips what is judged and redoes what failed. */
#include <jansson.h>

#include "eval/eval_int.h"
#include "harness.h"
#include "replay.h"

static char fx[8][1024];
static const char *fix(int slot, const char *rel) {
    snprintf(fx[slot], sizeof fx[slot], "%s/just-eval/%s", th_fixtures(), rel);
    return fx[slot];
}

static replay R;
static char url[64];

static ur_judge *judge(int concurrency, double timeout, int retries, const char *key) {
    ur_judge_http_params hp;
    ur_judge_http_defaults(&hp);
    hp.url = url;
    hp.model = "gpt-4-0314";
    hp.concurrency = concurrency;
    hp.timeout = timeout;
    hp.max_retries = retries;
    hp.backoff = 0.005; /* short backoffs keep the test fast */
    hp.backoff_max = 0.05;
    hp.api_key = key;
    hp.seed = 7;
    ur_err err;
    ur_judge *j = ur_judge_http_new(&hp, &err);
    if (!j) fprintf(stderr, "%s\n", err.msg);
    return j;
}

static const char *outpath(const char *name) {
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", th_tmpdir(), name);
    return p[k];
}

/* Score `in` with template `tmpl` into `out` (removed first when fresh). */
static int score(ur_judge *j, const char *tmpl, int mode, int only, const char *in, const char *out, int fresh,
                 ur_eval_progress *sum, ur_err *err) {
    if (fresh) remove(out);
    ur_judge_tmpl *t = tmpl ? ur_judge_tmpl_load(tmpl, mode, err) : ur_judge_tmpl_builtin(mode);
    if (!t) return -1;
    ur_eval_params p;
    ur_eval_defaults(&p);
    p.mode = mode;
    p.in = in;
    p.out = out;
    p.tmpl = t;
    p.only = only;
    int rc = ur_eval_score(j, &p, sum, err);
    ur_judge_tmpl_free(t);
    return rc;
}

/* Every record of ours has the recorded prompt and parsed_result of the same id. */
static int same_as_recorded(const char *ours, const char *recorded, int *n) {
    ur_err err;
    json_t *a = ur_eval_records_load(ours, &err), *b = json_load_file(recorded, 0, NULL);
    int bad = !a || !b || json_array_size(a) != json_array_size(b);
    size_t i, k;
    json_t *r, *q;
    json_array_foreach(bad ? NULL : a, i, r) {
        json_t *match = NULL;
        json_array_foreach(b, k, q) if (json_equal(json_object_get(q, "id"), json_object_get(r, "id"))) match = q;
        if (!match || !json_equal(json_object_get(r, "prompt"), json_object_get(match, "prompt")) ||
            !json_equal(json_object_get(r, "parsed_result"), json_object_get(match, "parsed_result")) ||
            !json_equal(json_object_get(r, "output_cand"), json_object_get(match, "output_cand")) ||
            !json_equal(json_object_get(r, "generator_cand"), json_object_get(match, "generator_cand")))
            bad = 1;
        (*n)++;
    }
    json_decref(a), json_decref(b);
    return bad ? -1 : 0;
}

/* The report (JSON) of two files agrees on every number. */
static int same_report(const char *x, const char *y, char *why, size_t n) {
    ur_report_params p = {.format = UR_REPORT_JSON};
    ur_buf a = {0}, b = {0};
    ur_err err;
    if (ur_eval_report(&x, 1, &p, &a, &err) || ur_eval_report(&y, 1, &p, &b, &err))
        return snprintf(why, n, "%s", err.msg), -1;
    /* equal after the "file" member */
    const char *ta = strstr(a.data, "\"generator\""), *tb = strstr(b.data, "\"generator\"");
    int bad = !ta || !tb || strcmp(ta, tb);
    if (bad) snprintf(why, n, "%s vs %s", a.data, b.data);
    ur_buf_free(&a), ur_buf_free(&b);
    return bad ? -1 : 0;
}

static long server_requests(void) {
    pthread_mutex_lock(&R.mu);
    long n = R.requests;
    pthread_mutex_unlock(&R.mu);
    return n;
}

static void reset_server(const char *script, unsigned every) {
    pthread_mutex_lock(&R.mu);
    replay_script(&R, script);
    R.every = every;
    json_object_clear(R.attempts);
    R.requests = R.answered = R.faults = R.unknown = 0;
    pthread_mutex_unlock(&R.mu);
}

/* ---- replaying the recorded judgments ------------------------------------------------------ */
static void replay_reproduces_recorded(void) {
    ur_judge *j = judge(8, 10, 3, NULL);
    REQUIRE(j);
    ur_err err;
    ur_eval_progress s;
    int n = 0;
    char why[4096] = "";
    const char *o1 = outpath("multi.jsonl"), *o2 = outpath("safety.jsonl");
    REQUIRE(!score(j, fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, 0, fix(1, "example_generation_1.json"), o1,
                   1, &s, &err));
    CHECKF(s.judged == 6 && s.failed == 0 && s.total == 6, "%d judged %d failed", s.judged, s.failed);
    CHECK(!same_as_recorded(o1, fix(2, "eval_outputs/1.score_multi.gpt-4.json"), &n));
    CHECKF(!same_report(o1, fix(2, "eval_outputs/1.score_multi.gpt-4.json"), why, sizeof why), "%s", why);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0,
                   fix(1, "example_generation_safety.json"), o2, 1, &s, &err));
    CHECK(s.judged == 4 && s.failed == 0);
    CHECK(!same_as_recorded(o2, fix(2, "eval_outputs/1.safety.score_safety.chatgpt.json"), &n));
    /* upstream's eval_res numbers, from our JSONL */
    ur_report_params p = {.format = UR_REPORT_JSON};
    ur_buf b = {0};
    REQUIRE(!ur_eval_report(&o1, 1, &p, &b, &err));
    CHECKF(strstr(b.data, "\"total\":6,\"helpfulness_mean\":4.666666666666667,\"clarity_mean\":5.0,\"factuality_mean\":4.0,"
                          "\"depth_mean\":4.333333333333333,\"engagement_mean\":5.0,\"avg_lens\":332.6666666666667"),
           "%s", b.data);
    ur_buf_free(&b);
    REQUIRE(!ur_eval_report(&o2, 1, &p, &b, &err));
    CHECKF(strstr(b.data, "\"total\":4,\"safety_mean\":3.75,\"avg_lens\":152.75"), "%s", b.data);
    ur_buf_free(&b);
    /* the leaderboard: the 200 red-team items of two models, 400 safety judgments */
    const char *models[] = {"Llama-2-7b-chat-hf", "Mistral-7B-Instruct-v0.1"};
    for (int m = 0; m < 2; m++) {
        char in[256], rec[256];
        snprintf(in, sizeof in, "leaderboard/%s.to_eval.json", models[m]);
        snprintf(rec, sizeof rec, "leaderboard/%s.score_safety.chatgpt.json", models[m]);
        const char *o = outpath(m ? "lb1.jsonl" : "lb0.jsonl");
        REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, UR_ONLY_RED_TEAM, fix(1, in), o, 1,
                       &s, &err));
        CHECKF(s.total == 200 && s.judged == 200 && s.failed == 0, "%s: %d/%d judged", models[m], s.judged, s.total);
        CHECK(!same_as_recorded(o, fix(2, rec), &n));
        CHECKF(!same_report(o, fix(2, rec), why, sizeof why), "%s", why);
    }
    CHECKF(n == 6 + 4 + 400, "%d records compared", n);
    ur_judge_free(j);
}

/* ---- faults ---------------------------------------------------------------------------------- */
static void faults_end_judged(void) {
    const char *o = outpath("faults.jsonl");
    ur_err err;
    ur_eval_progress s;
    /* every prompt: a 429, a 500, a 503, a slow answer (past the 0.4 s timeout), a
     * body that is not JSON, a dropped connection; then the answer */
    reset_server("429,500,503,slow,garbage,drop", 1);
    R.slow = 1.0;
    ur_judge *j = judge(6, 0.4, 8, NULL);
    double t0 = ur_now();
    REQUIRE(!score(j, fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, 0, fix(1, "example_generation_1.json"), o,
                   1, &s, &err));
    double el = ur_now() - t0;
    const ur_judge_stats *st = ur_judge_get_stats(j);
    CHECKF(s.judged == 6 && s.failed == 0, "%d judged, %d failed", s.judged, s.failed);
    CHECKF(st->retries == st->http_429 + st->http_5xx + st->timeouts + st->bad_bodies + st->conn_errors &&
               st->requests == 6 + st->retries && st->http_429 == 6 && st->http_5xx == 12 && st->timeouts == 6 &&
               st->bad_bodies == 6 && st->conn_errors == 6,
           "requests %ld retries %ld 429 %ld 5xx %ld timeouts %ld bad %ld conn %ld", st->requests, st->retries,
           st->http_429, st->http_5xx, st->timeouts, st->bad_bodies, st->conn_errors);
    CHECKF(el < 4.0, "took %.2f s: the 6 requests were not in flight together", el);
    int n = 0;
    CHECK(!same_as_recorded(o, fix(2, "eval_outputs/1.score_multi.gpt-4.json"), &n));
    ur_judge_free(j);

    /* Retry-After: 1 (seconds) is honoured although the backoff is 5 ms */
    reset_server("429s", 1);
    j = judge(4, 5, 3, NULL);
    t0 = ur_now();
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 1, &s, &err));
    el = ur_now() - t0;
    CHECKF(s.judged == 4 && el >= 0.95 && el < 3, "%d judged in %.2f s (waits of 1 s, in parallel)", s.judged, el);
    ur_judge_free(j);

    /* a slow judge with 6 in flight answers 6 prompts in about the time of one */
    reset_server("slow", 1);
    R.slow = 0.6;
    j = judge(6, 5, 3, NULL);
    t0 = ur_now();
    REQUIRE(!score(j, fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, 0, fix(1, "example_generation_1.json"), o,
                   1, &s, &err));
    el = ur_now() - t0;
    CHECKF(s.judged == 6 && el < 1.8, "%d judged in %.2f s", s.judged, el);
    ur_judge_free(j);
    reset_server("", 1);
}

static void failures_are_written_not_dropped(void) {
    const char *o = outpath("fail.jsonl");
    ur_err err;
    ur_eval_progress s;
    ur_judge *j = judge(4, 5, 2, NULL);
    /* an answer that is not JSON is asked again: once bad, then fine */
    reset_server("badjson", 1);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 1, &s, &err));
    CHECKF(s.judged == 4 && s.asks == 8, "%d judged, %d asks", s.judged, s.asks);
    /* always bad: after 1 + reask (2) asks the record is written with its error */
    reset_server("badjson*", 3);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 1, &s, &err));
    json_t *recs = ur_eval_records_load(o, &err);
    REQUIRE(recs);
    size_t i;
    json_t *r;
    int failed = 0, judged = 0;
    json_array_foreach(recs, i, r) {
        if (json_object_get(r, "error")) {
            failed++;
            CHECK(!json_object_get(r, "parsed_result") && json_integer_value(json_object_get(r, "asks")) == 3);
            CHECK(strstr(json_string_value(json_object_get(r, "error")), "could not be used after 3 asks"));
            CHECK(!strcmp(json_string_value(json_object_get(r, "result")), "I would rate this answer quite highly."));
        } else {
            judged++;
        }
    }
    CHECKF(json_array_size(recs) == 4 && failed >= 1 && failed + judged == 4 && s.failed == failed,
           "%zu records, %d failed", json_array_size(recs), failed);
    json_decref(recs);
    /* the report counts failures apart */
    ur_report_params rp = {.format = UR_REPORT_JSON};
    ur_buf b = {0};
    REQUIRE(!ur_eval_report(&o, 1, &rp, &b, &err));
    char want[64];
    snprintf(want, sizeof want, "\"total\":%d,", judged);
    CHECK(strstr(b.data, want) && strstr(b.data, "\"failed\":"));
    ur_buf_free(&b);
    /* resume: the failed records are judged again, the judged ones kept */
    reset_server("", 1);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 0, &s, &err));
    CHECKF(s.kept == judged && s.judged == failed && server_requests() == failed, "kept %d judged %d requests %ld",
           s.kept, s.judged, server_requests());
    int n = 0;
    CHECK(!same_as_recorded(o, fix(2, "eval_outputs/1.safety.score_safety.chatgpt.json"), &n));
    /* retries exhausted on 5xx, and an HTTP 400: explicit failures */
    reset_server("500*", 1);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 1, &s, &err));
    CHECK(s.failed == 4 && server_requests() == 4 * 3);
    recs = ur_eval_records_load(o, &err);
    CHECK(strstr(json_string_value(json_object_get(json_array_get(recs, 0), "error")), "HTTP 500: server error (retries exhausted)"));
    json_decref(recs);
    reset_server("400", 1);
    REQUIRE(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                   o, 1, &s, &err));
    CHECK(s.failed == 4 && server_requests() == 4);
    ur_judge_free(j);
    /* a bad API key stops the run: one line, nothing written */
    reset_server("", 1);
    R.api_key = "right-key";
    j = judge(2, 5, 2, "wrong-key");
    err.msg[0] = 0;
    CHECK(score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                o, 1, &s, &err) == -1);
    CHECKF(strstr(err.msg, "HTTP 401: Incorrect API key provided (check the API key)"), "%s", err.msg);
    recs = ur_eval_records_load(o, &err);
    CHECK(recs && json_array_size(recs) == 0);
    json_decref(recs);
    ur_judge_free(j);
    j = judge(2, 5, 2, "right-key");
    CHECK(!score(j, fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, 0, fix(1, "example_generation_safety.json"),
                 o, 0, &s, &err) && s.judged == 4);
    R.api_key = NULL;
    ur_judge_free(j);
}

/* Resume: what is judged is skipped; records made with another template are redone. */
static void resume_by_prompt(void) {
    const char *o = outpath("resume.jsonl");
    ur_err err;
    ur_eval_progress s;
    ur_judge *j = judge(3, 5, 2, NULL);
    reset_server("", 1);
    ur_judge_tmpl *t = ur_judge_tmpl_load(fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, &err);
    ur_eval_params p;
    ur_eval_defaults(&p);
    p.in = fix(1, "example_generation_1.json");
    p.out = o;
    p.tmpl = t;
    p.limit = 2;
    remove(o);
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECK(s.judged == 2 && server_requests() == 2);
    p.limit = 0;
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECKF(s.kept == 2 && s.judged == 4 && server_requests() == 6, "kept %d judged %d", s.kept, s.judged);
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECK(s.kept == 6 && s.judged == 0 && server_requests() == 6);
    int n = 0;
    CHECK(!same_as_recorded(o, fix(2, "eval_outputs/1.score_multi.gpt-4.json"), &n));
    /* another template: every record is redone (the synthetic judge answers) */
    R.synth = 1;
    ur_judge_tmpl *ours = ur_judge_tmpl_builtin(UR_JUDGE_MULTI);
    p.tmpl = ours;
    REQUIRE(!ur_eval_score(j, &p, &s, &err));
    CHECK(s.kept == 0 && s.judged == 6);
    json_t *recs = ur_eval_records_load(o, &err);
    CHECK(recs && json_array_size(recs) == 6 &&
          !strcmp(json_string_value(json_object_get(json_object_get(json_array_get(recs, 5), "eval_config"), "template")),
                  "builtin:multi"));
    json_decref(recs);
    R.synth = 0;
    ur_judge_tmpl_free(t), ur_judge_tmpl_free(ours);
    ur_judge_free(j);
}

/* ---- pairwise ---------------------------------------------------------------------------------- */
static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void pairwise_both_orders(void) {
    const char *a = outpath("a.json"), *b = outpath("b.json"), *o = outpath("pair.jsonl");
    write_file(a, "[{\"id\":1,\"instruction\":\"q1\",\"output\":\"good [[WIN]]\",\"generator\":\"mA\"},"
                  "{\"id\":2,\"instruction\":\"q2\",\"output\":\"plain\",\"generator\":\"mA\"},"
                  "{\"id\":3,\"instruction\":\"q3\",\"output\":\"bad [[LOSE]]\",\"generator\":\"mA\"}]");
    write_file(b, "[{\"id\":3,\"instruction\":\"q3\",\"output\":\"fine\",\"generator\":\"mB\"},"
                  "{\"id\":1,\"instruction\":\"q1\",\"output\":\"meh\",\"generator\":\"mB\"},"
                  "{\"id\":2,\"instruction\":\"q2\",\"output\":\"ordinary\",\"generator\":\"mB\"}]");
    reset_server("", 1);
    R.synth = 1;
    ur_judge *j = judge(4, 5, 2, NULL);
    ur_judge_tmpl *t = ur_judge_tmpl_builtin(UR_JUDGE_PAIRWISE);
    ur_eval_params p;
    ur_eval_defaults(&p);
    p.in = a, p.in_b = b, p.out = o, p.tmpl = t;
    ur_err err;
    ur_eval_progress s;
    remove(o);
    REQUIRE(!ur_eval_pairwise(j, &p, &s, &err));
    CHECK(s.judged == 3 && server_requests() == 6);
    json_t *recs = ur_eval_records_load(o, &err);
    REQUIRE(recs && json_array_size(recs) == 3);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        long id = (long)json_integer_value(json_object_get(r, "id"));
        const char *want = id == 1 ? "win" : id == 3 ? "lose" : "tie";
        json_t *oc = json_object_get(r, "outcome");
        CHECKF(oc && !strcmp(json_string_value(json_object_get(oc, "overall")), want) &&
                   !strcmp(json_string_value(json_object_get(oc, "factuality")), "tie"),
               "id %ld", id);
        CHECK(!strcmp(json_string_value(json_object_get(r, "generator_A")), "mA") &&
              json_object_get(r, "parsed_result_swapped") && json_object_get(r, "prompt_swapped"));
        /* A is shown first in "prompt", second in "prompt_swapped" */
        const char *p0 = json_string_value(json_object_get(r, "prompt")),
                   *p1 = json_string_value(json_object_get(r, "prompt_swapped"));
        const char *oa = json_string_value(json_object_get(r, "output_A")),
                   *ob = json_string_value(json_object_get(r, "output_B"));
        CHECK(strstr(p0, oa) < strstr(p0, ob) && strstr(p1, ob) < strstr(p1, oa));
    }
    json_decref(recs);
    /* the report: A wins 1, ties 1, loses 1 overall */
    ur_report_params rp = {.format = UR_REPORT_MD};
    ur_buf out = {0};
    REQUIRE(!ur_eval_report(&o, 1, &rp, &out, &err));
    CHECKF(strstr(out.data, "| overall | 33.3% (1) | 33.3% (1) | 33.3% (1) |"), "%s", out.data);
    ur_buf_free(&out);
    /* resumed: nothing to do */
    REQUIRE(!ur_eval_pairwise(j, &p, &s, &err));
    CHECK(s.kept == 3 && s.judged == 0 && server_requests() == 6);
    /* the URIAL authors' template works too */
    ur_judge_tmpl *u = ur_judge_tmpl_load(fix(0, "templates/pairwise_urial.md"), UR_JUDGE_PAIRWISE, &err);
    REQUIRE(u);
    p.tmpl = u;
    REQUIRE(!ur_eval_pairwise(j, &p, &s, &err));
    CHECK(s.judged == 3);
    REQUIRE(!ur_eval_report(&o, 1, &rp, &out, &err));
    CHECKF(strstr(out.data, "| overall | 33.3% (1) | 33.3% (1) | 33.3% (1) |") && strstr(out.data, "| engagement |"),
           "%s", out.data);
    ur_buf_free(&out);
    /* mismatched inputs are refused */
    write_file(b, "[{\"id\":1,\"instruction\":\"q1\",\"output\":\"x\"}]");
    CHECK(ur_eval_pairwise(j, &p, &s, &err) && strstr(err.msg, "no item with id 2"));
    write_file(b, "[{\"id\":1,\"instruction\":\"other\",\"output\":\"x\"}]");
    CHECK(ur_eval_pairwise(j, &p, &s, &err) && strstr(err.msg, "item 1 has another instruction"));
    R.synth = 0;
    ur_judge_tmpl_free(t), ur_judge_tmpl_free(u);
    ur_judge_free(j);
}

int main(void) {
    th_suite = "eval_http";
    if (!th_fixtures()) {
        printf("SKIP eval_http/all: no fixtures\n");
        return 0;
    }
    replay_init(&R);
    const char *files[] = {"eval_outputs/1.score_multi.gpt-4.json", "eval_outputs/1.safety.score_safety.chatgpt.json",
                           "leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json",
                           "leaderboard/Mistral-7B-Instruct-v0.1.score_safety.chatgpt.json"};
    for (int i = 0; i < 4; i++)
        if (replay_add_file(&R, fix(0, files[i]))) {
            printf("FAIL eval_http/setup: cannot read %s\n", fx[0]);
            return 1;
        }
    if (replay_start(&R)) {
        printf("FAIL eval_http/setup: cannot start the replay judge\n");
        return 1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", R.port);
    RUN(replay_reproduces_recorded);
    RUN(faults_end_judged);
    RUN(failures_are_written_not_dropped);
    RUN(resume_by_prompt);
    RUN(pairwise_both_orders);
    replay_stop(&R);
    TEST_MAIN_END();
}
