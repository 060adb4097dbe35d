/* Judge templates (rendering byte-identical to just-eval's recorded prompts, the
 * URIAL authors' syntax, errors), answer parsing (every recorded answer gives the
 * recorded parsed_result; fences, repairs, validation) and reports (upstream's
 * *.eval_res.json numbers exactly). */
#include <jansson.h>

#include "eval/eval_int.h"
#include "eval/report_int.h"
#include "harness.h"

static char path_buf[4][1024];
static const char *fix(int slot, const char *rel) {
    const char *f = th_fixtures();
    if (!f) return NULL;
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/just-eval/%s", f, rel);
    return path_buf[slot];
}

static json_t *load(const char *p) {
    return json_load_file(p, 0, NULL);
}

/* ---- templates ---------------------------------------------------------------------- */
static void builtin_templates(void) {
    for (int mode = 0; mode < 3; mode++) {
        ur_judge_tmpl *t = ur_judge_tmpl_builtin(mode);
        const ur_judge_schema *s = ur_judge_tmpl_schema(t);
        ur_judge_schema d;
        ur_judge_schema_default(mode, &d);
        CHECK(s->shape == d.shape && s->n_aspects == d.n_aspects);
        for (int i = 0; i < s->n_aspects && i < d.n_aspects; i++) CHECK(!strcmp(s->aspects[i], d.aspects[i]));
        ur_buf b = {0};
        ur_judge_render(t, "QUERY $x", "ANSWER ${candidate}", mode == UR_JUDGE_PAIRWISE ? "OTHER" : NULL, &b);
        CHECK(strstr(b.data, "QUERY $x") && strstr(b.data, "ANSWER ${candidate}"));
        CHECK(mode != UR_JUDGE_PAIRWISE || (strstr(b.data, "OTHER") && strstr(b.data, "ANSWER") < strstr(b.data, "OTHER")));
        CHECK(!strstr(b.data, "${instruction}"));
        ur_buf_free(&b);
        ur_judge_tmpl_free(t);
    }
}

static json_t *parse_str(const ur_judge_schema *s, const char *t, ur_err *err) {
    return ur_judge_parse_json(s, t, strlen(t), NULL, err);
}

/* Declared scales: LIMA's six points and Fail/Pass/Excellent built in, scores checked
 * against them, labels worth their values, malformed declarations refused; the records'
 * scale read back by the report. */
static void score_scales(void) {
    ur_err err;
    ur_judge_tmpl *l6 = ur_judge_tmpl_named("lima6", UR_JUDGE_MULTI, &err), *gr = ur_judge_tmpl_named("grade", UR_JUDGE_MULTI, &err);
    REQUIRE(l6 && gr);
    const ur_judge_schema *s6 = ur_judge_tmpl_schema(l6), *sg = ur_judge_tmpl_schema(gr);
    CHECK(s6->n_aspects == 1 && !strcmp(s6->aspects[0], "helpfulness") && s6->scale.scale_min == 1 &&
          s6->scale.scale_max == 6 && !s6->scale.n_labels);
    CHECK(sg->n_aspects == 1 && !strcmp(sg->aspects[0], "grade") && sg->scale.n_labels == 3 &&
          !strcmp(sg->scale.labels[2], "Excellent") && sg->scale.values[2] == 3);
    ur_buf b = {0};
    ur_judge_render(l6, "Q", "A", NULL, &b);
    CHECK(!strstr(b.data, "urial-scale") && !strncmp(b.data, "Below is a request", 18)); /* the line is not sent */
    ur_buf_free(&b);
    json_t *j = parse_str(s6, "{\"helpfulness\": {\"reason\": \"r\", \"score\": \"6\"}}", &err);
    CHECKF(j, "%s", err.msg);
    json_decref(j);
    CHECK(!parse_str(s6, "{\"helpfulness\": {\"reason\": \"r\", \"score\": \"7\"}}", &err));
    CHECKF(strstr(err.msg, "score \"7\" is not 1 to 6"), "%s", err.msg);
    j = parse_str(sg, "{\"grade\": {\"reason\": \"r\", \"score\": \"excellent\"}}", &err);
    CHECKF(j, "%s", err.msg);
    double d = 0;
    CHECK(j && !ur_judge_scale_value(&sg->scale, json_object_get(json_object_get(j, "grade"), "score"), &d) && d == 3);
    json_decref(j);
    CHECK(!parse_str(sg, "{\"grade\": {\"reason\": \"r\", \"score\": \"Good\"}}", &err));
    CHECKF(strstr(err.msg, "is not one of Fail=1 Pass=2 Excellent=3"), "%s", err.msg);
    /* the default scale is untouched: 1 to 5 and N/A */
    ur_judge_tmpl *m = ur_judge_tmpl_builtin(UR_JUDGE_MULTI);
    CHECK(ur_judge_scale_is_default(&ur_judge_tmpl_schema(m)->scale));
    ur_judge_tmpl_free(m);
    /* declarations */
    const char *badtx[] = {"urial-scale: 6-1\n${instruction} ${candidate}", "urial-scale: Fail Pass\n${instruction} ${candidate}",
                           "urial-scale: Pass=1 Passable=2\n${instruction} ${candidate}", "urial-scale: 1-12\n${instruction} ${candidate}"};
    for (int i = 0; i < 4; i++) {
        CHECKF(!ur_judge_tmpl_parse("t.txt", badtx[i], strlen(badtx[i]), UR_JUDGE_MULTI, &err), "%s", badtx[i]);
        CHECKF(strstr(err.msg, "t.txt: line 1: scale"), "%s", err.msg);
    }
    const char *pw = "urial-scale: 1-3\n${instruction} ${candidate_A} ${candidate_B}";
    CHECK(!ur_judge_tmpl_parse("p.md", pw, strlen(pw), UR_JUDGE_PAIRWISE, &err) && strstr(err.msg, "no score scale"));
    CHECK(!ur_judge_tmpl_named("nope", UR_JUDGE_MULTI, &err) && strstr(err.msg, "builtin:nope"));
    /* the scale a record carries, and back */
    json_t *sj = ur_judge_scale_json(&sg->scale);
    ur_judge_scale back;
    ur_judge_scale_from_json(sj, &back);
    CHECK(back.n_labels == 3 && !strcmp(back.labels[1], "Pass") && back.values[1] == 2);
    json_decref(sj);
    char txt[160];
    ur_judge_scale_text(&s6->scale, txt, sizeof txt);
    CHECK(!strcmp(txt, "1 to 6"));
    ur_judge_tmpl_free(l6), ur_judge_tmpl_free(gr);
}

/* Every recorded prompt of a judge file is what the template renders for its item. */
static int check_prompts(const char *tmpl_path, int mode, const char *outputs, const char *judged, int *n_checked) {
    ur_err err;
    ur_judge_tmpl *t = ur_judge_tmpl_load(tmpl_path, mode, &err);
    json_t *outs = load(outputs), *recs = load(judged);
    int bad = !t || !outs || !recs;
    size_t i;
    json_t *r;
    json_array_foreach(bad ? NULL : recs, i, r) {
        json_t *item = NULL, *o;
        size_t j;
        json_array_foreach(outs, j, o) if (json_equal(json_object_get(o, "id"), json_object_get(r, "id"))) item = o;
        if (!item) {
            bad = 1;
            break;
        }
        ur_buf b = {0};
        ur_judge_render(t, json_string_value(json_object_get(item, "instruction")),
                        json_string_value(json_object_get(item, "output")), NULL, &b);
        const char *want = json_string_value(json_object_get(r, "prompt"));
        if (strcmp(b.data, want)) bad = 1;
        ur_buf_free(&b);
        (*n_checked)++;
    }
    ur_judge_tmpl_free(t);
    json_decref(outs), json_decref(recs);
    return bad ? -1 : 0;
}

static void fixture_templates_render_recorded_prompts(void) {
    if (!th_fixtures()) SKIP("no fixtures");
    int n = 0;
    CHECK(!check_prompts(fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, fix(1, "example_generation_1.json"),
                         fix(2, "eval_outputs/1.score_multi.gpt-4.json"), &n));
    CHECK(!check_prompts(fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY, fix(1, "example_generation_safety.json"),
                         fix(2, "eval_outputs/1.safety.score_safety.chatgpt.json"), &n));
    CHECK(!check_prompts(fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY,
                         fix(1, "leaderboard/Llama-2-7b-chat-hf.to_eval.json"),
                         fix(2, "leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json"), &n));
    CHECK(!check_prompts(fix(0, "templates/score_safety.txt"), UR_JUDGE_SAFETY,
                         fix(1, "leaderboard/Mistral-7B-Instruct-v0.1.to_eval.json"),
                         fix(2, "leaderboard/Mistral-7B-Instruct-v0.1.score_safety.chatgpt.json"), &n));
    CHECKF(n == 6 + 4 + 400, "%d prompts checked", n);
    /* the schema comes from the template's example answer */
    ur_err err;
    ur_judge_tmpl *t = ur_judge_tmpl_load(fix(0, "templates/score_multi.txt"), UR_JUDGE_MULTI, &err);
    REQUIRE(t);
    const ur_judge_schema *s = ur_judge_tmpl_schema(t);
    CHECK(s->shape == UR_SHAPE_SCORES && s->n_aspects == 5 && !strcmp(s->aspects[0], "helpfulness") &&
          !strcmp(s->aspects[4], "engagement"));
    ur_judge_tmpl_free(t);
}

static void urial_pairwise_template(void) {
    if (!th_fixtures()) SKIP("no fixtures");
    ur_err err;
    ur_judge_tmpl *t = ur_judge_tmpl_load(fix(0, "templates/pairwise_urial.md"), UR_JUDGE_PAIRWISE, &err);
    REQUIRE(t);
    const ur_judge_schema *s = ur_judge_tmpl_schema(t);
    CHECK(s->shape == UR_SHAPE_CHOICES && s->n_aspects == 6 && !strcmp(s->aspects[0], "engagement") &&
          !strcmp(s->aspects[5], "safety"));
    ur_buf b = {0};
    /* plain replacement one name after the other, as the authors' code: an instruction
     * that spells {$candidate_A} gets A's text too; "$" means nothing special */
    ur_judge_render(t, "Q {$candidate_A} $5", "AAA", "BBB", &b);
    CHECK(strstr(b.data, "```\nQ AAA $5\n```") && strstr(b.data, "## Response A\n```\nAAA\n```") &&
          strstr(b.data, "## Response B\n```\nBBB\n```") && !strstr(b.data, "{$"));
    ur_buf_free(&b);
    ur_judge_tmpl_free(t);
    /* a pairwise template is refused for scoring */
    CHECK(!ur_judge_tmpl_load(fix(0, "templates/pairwise_urial.md"), UR_JUDGE_MULTI, &err));
    CHECKF(strstr(err.msg, "pairwise_urial.md") && strstr(err.msg, "{$candidate}"), "%s", err.msg);
}

static void template_syntax_errors(void) {
    ur_err err;
    const char *ok = "Q: ${instruction} costs $$5\nA: $candidate.";
    ur_judge_tmpl *t = ur_judge_tmpl_parse("t.txt", ok, strlen(ok), UR_JUDGE_MULTI, &err);
    REQUIRE(t);
    ur_buf b = {0};
    ur_judge_render(t, "q$", "a", NULL, &b);
    CHECK(!strcmp(b.data, "Q: q$ costs $5\nA: a."));
    ur_buf_free(&b);
    ur_judge_tmpl_free(t);
    struct { const char *text, *want; } bad[] = {
        {"${instruction} ${candidate} costs $5", "t.txt: line 1, column 35: invalid placeholder"},
        {"${instruction}\n${candidate} ${ x}", "t.txt: line 2, column 14: invalid placeholder"},
        {"${instruction} ${answer}", "unknown placeholder 'answer'"},
        {"${instruction} only", "no candidate placeholder"},
        {"${candidate} only", "no instruction placeholder"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK(!ur_judge_tmpl_parse("t.txt", bad[i].text, strlen(bad[i].text), UR_JUDGE_MULTI, &err));
        CHECKF(strstr(err.msg, bad[i].want), "'%s': got '%s'", bad[i].text, err.msg);
    }
    const char *pw = "${instruction} ${candidate_A}";
    CHECK(!ur_judge_tmpl_parse("p.txt", pw, strlen(pw), UR_JUDGE_PAIRWISE, &err) && strstr(err.msg, "candidate_B"));
}

/* ---- answers ------------------------------------------------------------------------- */
static void recorded_answers_parse_to_recorded_results(void) {
    if (!th_fixtures()) SKIP("no fixtures");
    static const char *files[] = {
        "eval_outputs/0.score_multi.chatgpt.json", "eval_outputs/0.score_multi.gpt-4.json",
        "eval_outputs/0.score_safety.chatgpt.json", "eval_outputs/1.safety.score_safety.chatgpt.json",
        "eval_outputs/1.score_multi.gpt-4.json", "eval_outputs/safety.score_safety.chatgpt.json",
        "eval_outputs/score_multi.gpt4.json", "eval_outputs/pairwise.gpt-3.5-turbo.json",
        "eval_outputs/1-2.pairwise.gpt-3.5-turbo.json", "eval_outputs/0-2.pairwise_multi.gpt-4.json",
        "eval_outputs/0-2.pairwise_multi.gpt-3.5-turbo.json", "eval_outputs/1-2.pairwise_multi.gpt-4.json",
        "eval_outputs/1-2.pairwise_multi.gpt-3.5-turbo.json",
        "leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json",
        "leaderboard/Mistral-7B-Instruct-v0.1.score_safety.chatgpt.json"};
    int n = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        json_t *recs = load(fix(0, files[f]));
        REQUIRE(recs);
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) {
            json_t *want = json_object_get(r, "parsed_result");
            ur_judge_schema s;
            REQUIRE(!ur_judge_schema_from_json(want, &s));
            const char *res = json_string_value(json_object_get(r, "result"));
            ur_err err;
            ur_buf x = {0};
            json_t *got = ur_judge_parse_json(&s, res, strlen(res), &x, &err);
            CHECKF(got && json_equal(got, want), "%s record %zu: %s", files[f], i, got ? "differs" : err.msg);
            CHECKF(x.data && !strcmp(x.data, res), "%s record %zu: extracted text differs", files[f], i);
            json_decref(got);
            ur_buf_free(&x);
            n++;
        }
        json_decref(recs);
    }
    CHECKF(n == 474, "%d answers", n);
}

static json_t *parse_multi(const char *text, ur_err *err) {
    ur_judge_schema s;
    ur_judge_schema_default(UR_JUDGE_MULTI, &s);
    return ur_judge_parse_json(&s, text, strlen(text), NULL, err);
}

#define SC(h, c, f, d, e)                                                                                       \
    "{\"helpfulness\": {\"reason\": \"r\", \"score\": " h "}, \"clarity\": {\"reason\": \"r\", \"score\": " c  \
    "}, \"factuality\": {\"reason\": \"r\", \"score\": " f "}, \"depth\": {\"reason\": \"r\", \"score\": " d     \
    "}, \"engagement\": {\"reason\": \"r\", \"score\": " e "}}"

static void answer_extraction_and_validation(void) {
    ur_err err;
    json_t *j = parse_multi("Sure! Here is my rating:\n```json\n" SC("\"5\"", "4", "\"N/A\"", "3.0", "\" 2 \"")
                            "\n```\nHope it helps {really}", &err);
    CHECKF(!j, "trailing braces after the JSON break it, as in just-eval");
    j = parse_multi("Sure! Here it is:\n```json\n" SC("\"5\"", "4", "\"N/A\"", "3.0", "\" 2 \"") "\n```\n", &err);
    CHECKF(j, "%s", err.msg);
    double d;
    CHECK(j && !ur_judge_score_value(json_object_get(json_object_get(j, "factuality"), "score"), &d) && d == 5.0);
    json_decref(j);
    /* just-eval's repairs: a raw newline in a string; double quotes inside a reason */
    const char *raw = "{\"safety\": {\"reason\": \"line one\nline two\", \"score\": \"4\"}}";
    const char *quotes = "{\"safety\": {\"reason\": \"it says \"no\" politely\", \"score\": \"5\"}}";
    ur_judge_schema s;
    ur_judge_schema_default(UR_JUDGE_SAFETY, &s);
    j = ur_judge_parse_json(&s, raw, strlen(raw), NULL, &err);
    CHECK(j && !strcmp(json_string_value(json_object_get(json_object_get(j, "safety"), "reason")), "line oneline two"));
    json_decref(j);
    j = ur_judge_parse_json(&s, quotes, strlen(quotes), NULL, &err);
    CHECK(j && !strcmp(json_string_value(json_object_get(json_object_get(j, "safety"), "reason")),
                       "it says 'no' politely"));
    json_decref(j);
    /* aspect names in another case are accepted and normalised */
    const char *cased = "{\"Safety\": {\"reason\": \"ok\", \"Score\": 3}}";
    j = ur_judge_parse_json(&s, cased, strlen(cased), NULL, &err);
    CHECK(j && json_object_get(json_object_get(j, "safety"), "score"));
    json_decref(j);
    /* failures name what is wrong */
    struct { const char *text, *want; } bad[] = {
        {"I cannot rate this.", "no JSON object"},
        {"{\"helpfulness\": {\"score\": \"5\"},}", "not valid JSON"},
        {SC("\"5\"", "\"5\"", "\"5\"", "\"5\"", "\"7\""), "\"engagement\": score \"7\" is not 1 to 5"},
        {SC("\"5\"", "\"5\"", "\"high\"", "\"5\"", "\"5\""), "\"factuality\": score \"high\""},
        {SC("\"5\"", "\"5\"", "\"5\"", "0", "\"5\""), "\"depth\": score 0 is not"},
        {"{\"helpfulness\": {\"reason\": \"r\", \"score\": \"5\"}}", "no \"clarity\" object"},
        {"[1, 2]", "no JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        j = parse_multi(bad[i].text, &err);
        CHECKF(!j && strstr(err.msg, bad[i].want), "'%s': got '%s'", bad[i].text, err.msg);
        json_decref(j);
    }
    /* pairwise choices */
    ur_judge_schema p;
    ur_judge_schema_default(UR_JUDGE_PAIRWISE, &p);
    const char *ch = "{\"rationale\": \"x\", \"choices\": {\"helpfulness\": \"A\", \"clarity\": \"b\", \"factuality\": "
                     "\"tie\", \"depth\": \"Same\", \"engagement\": \" A \", \"safety\": \"tie\", \"overall\": \"B\"}}";
    j = ur_judge_parse_json(&p, ch, strlen(ch), NULL, &err);
    REQUIRE(j);
    int v[UR_JUDGE_MAX_ASPECTS];
    ur_judge_verdicts(&p, j, v);
    CHECK(v[0] == 1 && v[1] == -1 && v[2] == 0 && v[3] == 0 && v[4] == 1 && v[5] == 0 && v[6] == -1);
    json_decref(j);
    const char *bad_ch = "{\"rationale\": \"x\", \"choices\": {\"helpfulness\": \"C\"}}";
    CHECK(!ur_judge_parse_json(&p, bad_ch, strlen(bad_ch), NULL, &err) && strstr(err.msg, "\"helpfulness\" is not A"));
    /* strings for records: invalid UTF-8 (a message cut short) becomes U+FFFD */
    json_t *js = ur_eval_jstr("ok \xc3");
    CHECK(js && !strcmp(json_string_value(js), "ok \xef\xbf\xbd"));
    json_decref(js);
    /* the public string interface */
    char *parsed = NULL, *ex = NULL;
    const char *fenced = "```{\"safety\":{\"reason\":\"fine\",\"score\":\"5\"}}```";
    CHECK(!ur_judge_parse(&s, fenced, strlen(fenced), &parsed, &ex, &err));
    CHECK(parsed && !strcmp(parsed, "{\"safety\":{\"reason\":\"fine\",\"score\":\"5\"}}") && ex && ex[0] == '{');
    free(parsed), free(ex);
}

/* ---- reports --------------------------------------------------------------------------- */
static void numbers_as_python_prints_them(void) {
    double v[] = {5.0, 4.666666666666667, 332.6666666666667, 1000.0, 1e-05, 0.1, 3.75, 1e16, 123456789.0};
    const char *want[] = {"5.0", "4.666666666666667", "332.6666666666667", "1000.0", "1e-05", "0.1", "3.75",
                          "1e+16", "123456789.0"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char b[64];
        rp_pyfloat(v[i], b, sizeof b);
        CHECKF(!strcmp(b, want[i]), "%s, want %s", b, want[i]);
    }
    /* numpy's mean (pairwise summation), values printed by numpy 1.x / Python */
    rp_vec a = {0}, c = {0};
    for (int i = 0; i < 300; i++) rp_push(&a, (double)(i * 7919 % 1000) / 7.0 + 1e-3 * i);
    for (int i = 0; i < 100; i++) rp_push(&c, (double)(i * 7919 % 1000) / 7.0 + 1e-3 * i);
    char b[64];
    rp_pyfloat(rp_mean(&a), b, sizeof b);
    CHECKF(!strcmp(b, "71.6495"), "%s", b); /* a plain left-to-right sum gives 71.64950000000009 */
    rp_pyfloat(rp_mean(&c), b, sizeof b);
    CHECKF(!strcmp(b, "70.12092857142856"), "%s", b);
    free(a.v), free(c.v);
    /* Python's str.split(): NBSP, U+3000 and \x1c split; a zero-width space does not */
    const char *s = "a\xc2\xa0" "b c\xe2\x80\x8b" "d\xe3\x80\x80" "e\x1c" "f";
    CHECK(ur_word_count(s, strlen(s)) == 5);
    CHECK(ur_word_count("", 0) == 0 && ur_word_count("  one  ", 7) == 1);
}

/* Our report's JSON for one file against upstream's *.eval_res.json: every key of
 * theirs but output_file has the same value, numbers bit for bit. */
static int same_as_upstream(const char *judged, const char *eval_res, char *why, size_t n) {
    ur_report_params p = {.format = UR_REPORT_JSON};
    ur_buf out = {0};
    ur_err err;
    const char *files[] = {judged};
    if (ur_eval_report(files, 1, &p, &out, &err)) return snprintf(why, n, "%s", err.msg), -1;
    json_t *ours = json_loads(out.data, 0, NULL), *theirs = load(eval_res);
    int bad = !ours || !theirs;
    const char *k;
    json_t *v;
    json_object_foreach(bad ? NULL : theirs, k, v) {
        if (!strcmp(k, "output_file")) continue;
        json_t *o = json_object_get(ours, k);
        int eq = json_is_number(v) ? json_is_number(o) && json_number_value(o) == json_number_value(v) : json_equal(o, v);
        if (!eq) {
            snprintf(why, n, "%s: key %s differs: %s", judged, k, out.data);
            bad = 1;
            break;
        }
    }
    /* and the numbers print as Python printed them */
    char *theirs_text = th_read_file(eval_res, NULL);
    if (!bad && strstr(theirs_text, "4.666666666666667") && !strstr(out.data, "4.666666666666667")) bad = 1;
    free(theirs_text);
    json_decref(ours), json_decref(theirs);
    ur_buf_free(&out);
    return bad ? -1 : 0;
}

static void report_reproduces_upstream(void) {
    if (!th_fixtures()) SKIP("no fixtures");
    char why[2048] = "";
    CHECKF(!same_as_upstream(fix(0, "eval_outputs/1.score_multi.gpt-4.json"),
                             fix(1, "eval_outputs/1.score_multi.gpt-4.eval_res.json"), why, sizeof why), "%s", why);
    CHECKF(!same_as_upstream(fix(0, "eval_outputs/1.safety.score_safety.chatgpt.json"),
                             fix(1, "eval_outputs/1.safety.score_safety.chatgpt.eval_res.json"), why, sizeof why),
           "%s", why);
    CHECKF(!same_as_upstream(fix(0, "eval_outputs/pairwise.gpt-3.5-turbo.json"),
                             fix(1, "eval_outputs/pairwise.gpt-3.5-turbo.eval_res.json"), why, sizeof why), "%s", why);
    CHECKF(!same_as_upstream(fix(0, "eval_outputs/pairwise_multi.gpt-3.5-turbo.json"),
                             fix(1, "eval_outputs/pairwise_multi.gpt-3.5-turbo.eval_res.json"), why, sizeof why),
           "%s", why);
    /* score_multi.gpt4.eval_res.json is stale upstream (a 1-10 scale with a safety
     * aspect the file no longer has): no report of score_multi.gpt4.json can match it */
    CHECK(same_as_upstream(fix(0, "eval_outputs/score_multi.gpt4.json"),
                           fix(1, "eval_outputs/score_multi.gpt4.eval_res.json"), why, sizeof why));
}

static void report_formats(void) {
    if (!th_fixtures()) SKIP("no fixtures");
    const char *files[] = {fix(0, "eval_outputs/1.score_multi.gpt-4.json"), fix(1, "eval_outputs/0.score_multi.gpt-4.json"),
                           fix(2, "eval_outputs/1.safety.score_safety.chatgpt.json"),
                           fix(3, "eval_outputs/pairwise.gpt-3.5-turbo.json")};
    ur_report_params p = {.format = UR_REPORT_MD};
    ur_buf out = {0};
    ur_err err;
    REQUIRE(!ur_eval_report(files, 4, &p, &out, &err));
    /* one table, the models side by side */
    CHECKF(strstr(out.data, "| aspect | Llama-2-7b-chat-hf | K=0random//Llama-2-7b-hf.json | test |"),
           "%s", out.data);
    CHECK(strstr(out.data, "| helpfulness | 4.67 | - | - |") && strstr(out.data, "| safety | - | - | 3.75 |"));
    CHECK(strstr(out.data, "| words (mean) | 332.7 | 258.8 | 152.8 |"));
    CHECK(strstr(out.data, "| overall | 16.7% (1) | 0.0% (0) | 83.3% (5) |"));
    ur_buf_free(&out);
    p.format = UR_REPORT_HTML;
    REQUIRE(!ur_eval_report(files, 4, &p, &out, &err));
    CHECK(strstr(out.data, "<svg") && strstr(out.data, "<table>") && strstr(out.data, "</html>"));
    ur_buf_free(&out);
    /* breakdown by dataset, looked up in the outputs file when the records lack it */
    p.format = UR_REPORT_JSON;
    p.by = UR_BY_DATASET;
    p.data = fix(1, "example_generation_1.json");
    REQUIRE(!ur_eval_report(files, 1, &p, &out, &err));
    CHECKF(strstr(out.data, "\"by\":{\"helpful_base\":{\"total\":6,\"helpfulness_mean\":4.666666666666667,"), "%s",
           out.data);
    ur_buf_free(&out);
    const char *missing[] = {"/nonexistent/x.json"};
    CHECK(ur_eval_report(missing, 1, &p, &out, &err) && strstr(err.msg, "/nonexistent/x.json"));
}

int main(void) {
    th_suite = "eval_judge";
    RUN(builtin_templates);
    RUN(score_scales);
    RUN(fixture_templates_render_recorded_prompts);
    RUN(urial_pairwise_template);
    RUN(template_syntax_errors);
    RUN(recorded_answers_parse_to_recorded_results);
    RUN(answer_extraction_and_validation);
    RUN(numbers_as_python_prints_them);
    RUN(report_reproduces_upstream);
    RUN(report_formats);
    TEST_MAIN_END();
}
