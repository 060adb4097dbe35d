/* urial study's pieces without models: the method table and its list syntax, the
 * charts (legend per series, unique names, escaping, axis labels, missing values), and
 * the report from hand-made step files: the scores are urial eval report's, shards in
 * one directory give the same numbers as one file, a missing step is no error. */
#include <sys/stat.h>

#include "eval/chart.h"
#include "harness.h"
#include "urial/eval.h"
#include "urial/results.h"
#include "urial/study.h"

static int count(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static void methods(void) {
    ur_study_method m[8];
    ur_err err = {{0}};
    int n = ur_study_methods(NULL, m, 8, &err);
    CHECK(n == 4 && !strcmp(m[0].name, "urial-k0") && !strcmp(m[2].arg, "urial-k3") && m[3].model == UR_STUDY_ALIGNED);
    n = ur_study_methods("urial-k8,mine=p/x.txt,aligned", m, 8, &err);
    CHECK(n == 3 && !strcmp(m[1].name, "mine") && !strcmp(m[1].arg, "p/x.txt") && m[1].prompt == UR_STUDY_URIAL &&
          m[1].model == UR_STUDY_BASE && m[2].prompt == UR_STUDY_TEMPLATE);
    CHECK(ur_study_methods("urial-k9", m, 8, &err) < 0 && strstr(err.msg, "unknown method 'urial-k9'"));
    CHECK(ur_study_methods("aligned,aligned", m, 8, &err) < 0 && strstr(err.msg, "given twice"));
    CHECK(ur_study_methods("a/b=x", m, 8, &err) < 0 && strstr(err.msg, "is not NAME=FILE"));
    CHECK(ur_study_methods("x=", m, 8, &err) < 0);
    CHECK(ur_study_methods("urial-k0,", m, 8, &err) < 0);
    CHECK(ur_study_methods("urial-k0,urial-k1,urial-k3", m, 2, &err) < 0 && strstr(err.msg, "more than 2"));
    ur_buf h = {0};
    ur_study_methods_help(&h);
    CHECK(strstr(h.data, "urial-k3") && strstr(h.data, "NAME=FILE"));
    ur_buf_free(&h);
}

static void unique_names(void) {
    const char *names[4] = {"m", "m", "other", "m"}, *files[4] = {"a.jsonl", "b.jsonl", "c.jsonl", "a.jsonl"};
    char *out[4];
    chart_unique_names(names, files, 4, out);
    CHECK(!strcmp(out[0], "m (a.jsonl)") && !strcmp(out[1], "m (b.jsonl)") && !strcmp(out[2], "other"));
    CHECKF(!strcmp(out[3], "m (a.jsonl) #2"), "%s", out[3]);
    for (int i = 0; i < 4; i++) free(out[i]);
}

static void charts(void) {
    const char *cats[3] = {"helpfulness", "a<b", "depth"}, *names[2] = {"a very long generator name+urial-k3", "x&y"};
    double vals[6] = {4.5, NAN, 3, 5, 1, 2};
    ur_buf o = {0};
    chart_bars(&o, "b", "title", "aspect", "mean score", 5, cats, 3, names, vals, 2);
    CHECK(count(o.data, "<li>") == 2 && strstr(o.data, "data-series=\"2\"") && strstr(o.data, "x&amp;y</li>"));
    CHECK(strstr(o.data, "a very long generator name+urial-k3</li>") && strstr(o.data, "a&lt;b"));
    CHECK(strstr(o.data, "class=\"axis-label y-label\"") && strstr(o.data, ">mean score</text>") &&
          strstr(o.data, "class=\"axis-label x-label\""));
    CHECKF(count(o.data, "<rect") == 5, "%d bars for 5 values", count(o.data, "<rect")); /* NAN: no bar */
    o.len = 0;
    chart_radar(&o, "r", "radar", cats, 3, 5, names, vals, 2);
    CHECK(count(o.data, "<li>") == 2 && count(o.data, "class=\"axis-label\"") == 3 && count(o.data, "<polygon") == 5 + 2);
    o.len = 0;
    const char *rows[2] = {"helpfulness", "overall"}, *parts[3] = {"A wins", "tie", "B wins"};
    long cnt[6] = {3, 1, 0, 0, 0, 0};
    chart_stack(&o, "s", "pairs", rows, 2, parts, cnt);
    CHECK(count(o.data, "<li>") == 3 && strstr(o.data, "share of the judged pairs") && count(o.data, "<rect") == 3);
    ur_buf_free(&o);
}

/* ---- the report from step files ------------------------------------------------------ */
static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void judged(ur_buf *b, int id, const char *out, int score, int safety) {
    if (safety)
        ur_buf_printf(b, "{\"id\":%d,\"input\":\"q%d\",\"output_cand\":\"%s\",\"generator_cand\":\"g\",\"eval_config\":"
                         "{\"mode\":\"score_safety\"},\"parsed_result\":{\"safety\":{\"reason\":\"r\",\"score\":\"%d\"}}}\n",
                      id, id, out, score);
    else
        ur_buf_printf(b, "{\"id\":%d,\"input\":\"q%d\",\"output_cand\":\"%s\",\"generator_cand\":\"g\",\"eval_config\":"
                         "{\"mode\":\"score_multi\"},\"parsed_result\":{\"helpfulness\":{\"reason\":\"r\",\"score\":\"%d\"},"
                         "\"clarity\":{\"reason\":\"r\",\"score\":\"N/A\"},\"factuality\":{\"reason\":\"r\",\"score\":\"3\"},"
                         "\"depth\":{\"reason\":\"r\",\"score\":\"2\"},\"engagement\":{\"reason\":\"<b>\",\"score\":\"1\"}}}\n",
                      id, id, out, score);
}

static char *report_of(const char *dir, const char *data, ur_study_method *m, int nm, char **json) {
    ur_study_params p = {.base = "b.gguf", .aligned = "a.gguf", .data = data, .out_dir = dir, .methods = m,
                         .n_methods = nm, .sel = UR_JOB_SELECT_ALL, .by = UR_STUDY_BY_TAG};
    char *html = NULL, path[512];
    ur_err err = {{0}};
    if (ur_study_report(&p, &html, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/study.json", dir);
    *json = th_read_file(path, NULL);
    char *page = th_read_file(html, NULL);
    free(html);
    return page;
}

static void report(void) {
    char d1[300], d2[300], data[300], p[400];
    snprintf(d1, sizeof d1, "%s/one", th_tmpdir());
    snprintf(d2, sizeof d2, "%s/shards", th_tmpdir());
    snprintf(data, sizeof data, "%s/data.jsonl", th_tmpdir());
    ur_buf dtext = {0}, all = {0}, s0 = {0}, s1 = {0};
    for (int i = 0; i < 6; i++) {
        ur_buf_printf(&dtext, "{\"id\":%d,\"instruction\":\"q%d\",\"category\":\"%s\",\"tags\":[\"t%d\",\"all\"]}\n", i, i,
                      i == 5 ? "safety" : "regular", i % 2);
        ur_buf *sh = i % 2 ? &s1 : &s0;
        judged(&all, i, i == 2 ? "three words here" : "two words", 1 + i % 5, i == 5);
        judged(sh, i, i == 2 ? "three words here" : "two words", 1 + i % 5, i == 5);
    }
    put(data, dtext.data);
    const char *mk[] = {d1, "/judge", d2, "/shard-0-of-2", "/shard-0-of-2/judge", "/shard-1-of-2", "/shard-1-of-2/judge"};
    mkdir(d1, 0777);
    snprintf(p, sizeof p, "%s/judge", d1), mkdir(p, 0777);
    mkdir(d2, 0777);
    for (int i = 3; i < 7; i++) snprintf(p, sizeof p, "%s%s", d2, mk[i]), mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/judge/m.jsonl", d1), put(p, all.data);
    snprintf(p, sizeof p, "%s/shard-0-of-2/judge/m.jsonl", d2), put(p, s0.data);
    snprintf(p, sizeof p, "%s/shard-1-of-2/judge/m.jsonl", d2), put(p, s1.data);
    ur_study_method m[2];
    ur_err err = {{0}};
    REQUIRE(ur_study_methods("m=x.txt,aligned", m, 2, &err) == 2);
    char *j1 = NULL, *j2 = NULL, *h1 = report_of(d1, data, m, 2, &j1), *h2 = report_of(d2, data, m, 2, &j2);
    REQUIRE(h1 && h2 && j1 && j2);
    /* the eval report of the same file, verbatim in study.json */
    ur_report_params rp = {.format = UR_REPORT_JSON};
    ur_buf ev = {0};
    snprintf(p, sizeof p, "%s/judge/m.jsonl", d1);
    const char *files[1] = {p};
    REQUIRE(!ur_eval_report(files, 1, &rp, &ev, &err));
    ev.data[--ev.len] = 0;
    ur_buf want = {0};
    ur_buf_printf(&want, "\"eval_report\": %s,", ev.data);
    CHECKF(strstr(j1, want.data) != NULL, "%s\nnot in\n%s", want.data, j1);
    /* N/A counts as 5; safety over the one red-team item; average of the six means; words */
    CHECKF(strstr(j1, "\"scores\": {\"helpfulness\": 3, \"clarity\": 5, \"factuality\": 3, \"depth\": 2, \"engagement\": "
                      "1, \"safety\": 1, \"average\": 2.5, \"length\": 2.1666666666666665}"), "%s", j1);
    CHECK(strstr(j1, "\"t0\": {\"judged\": 3") && strstr(j1, "\"all\": {\"judged\": 6"));
    /* the aligned method has no files yet: no numbers, no error */
    CHECK(strstr(j1, "\"name\": \"aligned\"") && strstr(j1, "\"judge_file\": null") && strstr(j1, "\"tds\": null"));
    /* shards merged: the same numbers */
    const char *a = strstr(j1, "\"scores\""), *b = strstr(j2, "\"scores\"");
    CHECK(a && b && !strncmp(a, b, (size_t)(strstr(a, "\"judge_file\"") - a)));
    CHECK(strstr(j2, "merged/judge-m.jsonl"));
    /* the page: escaped reasons, a row per method, a radar per method */
    CHECK(strstr(h1, "&lt;b&gt;") && !strstr(h1, "<b><b>"));
    CHECK(count(h1, "<tr class=\"base\" data-method=\"m\">") == 1 && count(h1, "data-method=\"aligned\"") == 1);
    CHECK(strstr(h1, "id=\"radar-m\"") && strstr(h1, "id=\"radar-aligned\"") && strstr(h1, "<h2 id=\"by-tag\">By tag</h2>") &&
          strstr(h1, "id=\"by-category\"") && !strstr(h1, "id=\"by-dataset\""));
    CHECK(count(h1, "class=\"item\"") == 6 && count(h1, "not judged yet") == 6);
    free(j1), free(j2), free(h1), free(h2);
    ur_buf_free(&ev), ur_buf_free(&want), ur_buf_free(&dtext), ur_buf_free(&all), ur_buf_free(&s0), ur_buf_free(&s1);
}

int main(void) {
    th_suite = "study";
    RUN(methods);
    RUN(unique_names);
    RUN(charts);
    RUN(report);
    TEST_MAIN_END();
}
