/* Batch runs' files: datasets in every input format (and one-line errors for bad
 * ones), and append-only result files — appending, resuming after a torn last
 * line, duplicates, locking, and refusing damaged files. */
#include <fcntl.h>
#include <unistd.h>

#include "harness.h"
#include "urial/dataset.h"
#include "urial/results.h"

static int parse(const char *text, ur_dataset *ds, ur_err *err) {
    return ur_dataset_parse(text, strlen(text), "d.json", ds, err);
}

/* The fixture files: just-eval-instruct (1000, ids 0..999) and MT-Bench (80, two turns). */
static void fixture_formats(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char p[4300];
    ur_err err = {{0}};
    ur_dataset ds;
    snprintf(p, sizeof p, "%s/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json", fx);
    REQUIRE(!ur_dataset_load(p, &ds, &err));
    CHECK(ds.format == UR_DATA_JUST_EVAL && ds.n == 1000 && !strcmp(ur_data_format_name(ds.format), "just-eval"));
    CHECK(!strcmp(ds.items[0].id, "0") && !strcmp(ds.items[999].id, "999") && ds.items[999].index == 999);
    CHECK(!strcmp(ds.items[0].turns[0], "What are the names of some famous actors that started their careers on Broadway?"));
    CHECK(strstr(ds.items[0].fields, "\"source_id\":\"alpaca_eval-0\"") && strstr(ds.items[0].fields, "\"datasplit\""));
    ur_dataset_free(&ds);
    snprintf(p, sizeof p, "%s/urial/mt-bench-question.jsonl", fx);
    REQUIRE(!ur_dataset_load(p, &ds, &err));
    CHECK(ds.format == UR_DATA_MT_BENCH && ds.n == 80 && !strcmp(ds.items[0].id, "81") && ds.items[0].line == 1);
    int two = 1;
    for (int i = 0; i < ds.n; i++) two &= ds.items[i].n_turns == 2;
    CHECK(two && !strncmp(ds.items[0].turns[1], "Rewrite your previous response.", 31));
    ur_dataset_free(&ds);
}

static void inline_formats(void) {
    ur_err err = {{0}};
    ur_dataset ds;
    /* AlpacaEval: no ids, the position is the id */
    REQUIRE(!parse("\xEF\xBB\xBF [{\"instruction\":\"a\",\"dataset\":\"x\"},{\"instruction\":\"b\",\"output\":\"old\"}]", &ds,
                   &err));
    CHECK(ds.format == UR_DATA_ALPACA_EVAL && ds.n == 2 && !strcmp(ds.items[1].id, "1") && !strcmp(ds.items[1].turns[0], "b"));
    ur_dataset_free(&ds);
    /* just-eval style with string ids */
    REQUIRE(!parse("[{\"id\":\"q-1\",\"instruction\":\"a\"},{\"id\":\"q-2\",\"instruction\":\"b\"}]", &ds, &err));
    CHECK(ds.format == UR_DATA_JUST_EVAL && !strcmp(ds.items[0].id, "\"q-1\""));
    ur_dataset_free(&ds);
    /* plain JSONL, blank lines skipped, line numbers kept */
    REQUIRE(!parse("{\"id\":7,\"instruction\":\"x\"}\n\n  \n{\"id\":8,\"instruction\":\"y\\nz\"}\r\n", &ds, &err));
    CHECK(ds.format == UR_DATA_JSONL && ds.n == 2 && ds.items[1].line == 4 && !strcmp(ds.items[1].turns[0], "y\nz"));
    ur_dataset_free(&ds);
    /* JSONL without ids */
    REQUIRE(!parse("{\"instruction\":\"x\"}\n{\"instruction\":\"y\"}", &ds, &err));
    CHECK(ds.n == 2 && !strcmp(ds.items[1].id, "1"));
    ur_dataset_free(&ds);
    /* MT-Bench, any number of turns */
    REQUIRE(!parse("{\"question_id\":5,\"turns\":[\"a\",\"b\",\"c\"]}\n{\"question_id\":6,\"turns\":[\"d\"]}", &ds, &err));
    CHECK(ds.format == UR_DATA_MT_BENCH && ds.items[0].n_turns == 3 && ds.items[1].n_turns == 1 && !strcmp(ds.items[1].id, "6"));
    ur_dataset_free(&ds);
    /* keys */
    ur_buf k = {0};
    ur_record_key("81", 2, &k);
    ur_record_key("\"a\"", 0, &k);
    CHECK(!strcmp(k.data, "81#2\"a\""));
    ur_buf_free(&k);
}

static void expect_error(const char *text, const char *want) {
    ur_err err = {{0}};
    ur_dataset ds;
    int rc = parse(text, &ds, &err);
    CHECKF(rc == -1 && strstr(err.msg, want) && !strchr(err.msg, '\n') && !strncmp(err.msg, "d.json: ", 8),
           "want '%s', got rc %d '%s'", want, rc, err.msg);
    if (!rc) ur_dataset_free(&ds);
}

static void bad_datasets(void) {
    expect_error("", "the dataset is empty");
    expect_error(" \n", "the dataset is empty");
    expect_error("[]", "the dataset has no items");
    expect_error("hello", "not a dataset: expected a JSON array or JSON lines");
    expect_error("[{\"id\":1,\"instruction\":\"a\"}", "not valid JSON: ");
    expect_error("{\"id\":1,\"instruction\":\"a\"}\n{\"id\":2,", "line 2: not valid JSON");
    expect_error("[{\"id\":1,\"instruction\":\"a\"},{\"id\":2,\"prompt\":\"b\"}]", "item 1 has no \"instruction\" string");
    expect_error("[{\"id\":1,\"instruction\":5}]", "item 0 has no \"instruction\" string");
    expect_error("{\"id\":1,\"instruction\":\"a\"}\n{\"id\":1,\"instruction\":\"b\"}", "id 1 appears twice (line 1 and line 2)");
    expect_error("[{\"id\":1,\"instruction\":\"a\"},{\"instruction\":\"b\"}]", "item 1 has no id but item 0 has one");
    expect_error("[{\"id\":[1],\"instruction\":\"a\"}]", "the id must be an integer or a string");
    expect_error("[1,2]", "item 0 is not a JSON object");
    expect_error("{\"question_id\":1,\"turns\":[\"a\",2]}", "line 1: turn 2 is not a string");
    expect_error("{\"question_id\":1,\"turns\":[]}\n", "line 1 has no \"turns\"");
    ur_err err = {{0}};
    ur_dataset ds;
    CHECK(ur_dataset_load("/nonexistent/d.json", &ds, &err) == -1 &&
          !strcmp(err.msg, "/nonexistent/d.json: cannot read dataset: No such file or directory"));
}

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
}

static void results_append_resume(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/r.jsonl", th_tmpdir());
    unlink(p);
    ur_err err = {{0}};
    ur_results *r = ur_results_open(p, UR_RESULTS_APPEND, &err);
    REQUIRE(r);
    CHECK(ur_results_count(r) == 0 && !ur_results_note(r));
    const char *a = "{\"id\":1,\"output\":\"one\",\"input_index\":1}", *b = "{\"id\":\"x\",\"turn\":2,\"output\":\"two\"}";
    CHECK(!ur_results_append(r, a, strlen(a), &err) && !ur_results_append(r, b, strlen(b), &err));
    const ur_record *rec = ur_results_find(r, "\"x\"#2");
    CHECK(rec && !strcmp(rec->output, "two") && rec->turn == 2 && rec->line == 2 && rec->index == -1);
    CHECK(ur_results_append(r, a, strlen(a), &err) == -1 && strstr(err.msg, "already in the file"));
    CHECK(ur_results_append(r, "{\"output\":1}", 12, &err) == -1 && strstr(err.msg, "not a result record"));
    CHECK(ur_results_append(r, "{\"id\":3}\n", 9, &err) == -1 && strstr(err.msg, "one line"));
    /* a second writer is refused while the first holds the file */
    ur_results *r2 = ur_results_open(p, UR_RESULTS_APPEND, &err);
    CHECK(!r2 && strstr(err.msg, "another process is writing this file"));
    ur_results_close(r);

    /* a torn last line (a write cut short by a crash): READ ignores it, APPEND cuts it off */
    FILE *f = fopen(p, "ab");
    fputs("{\"id\":3,\"output\":\"thr", f);
    fclose(f);
    r = ur_results_open(p, UR_RESULTS_READ, &err);
    REQUIRE(r);
    CHECK(ur_results_count(r) == 2 && ur_results_note(r) && strstr(ur_results_note(r), "ignored an incomplete last line (21 bytes"));
    ur_results_close(r);
    size_t n;
    char *t = th_read_file(p, &n);
    CHECK(t && n == strlen(a) + strlen(b) + 2 + 21);
    free(t);
    r = ur_results_open(p, UR_RESULTS_APPEND, &err);
    REQUIRE(r);
    CHECK(ur_results_note(r) && strstr(ur_results_note(r), "dropped an incomplete last line (21 bytes"));
    t = th_read_file(p, &n);
    CHECK(t && n == strlen(a) + strlen(b) + 2 && t[n - 1] == '\n');
    free(t);
    const char *c = "{\"id\":3,\"output\":\"three\"}";
    CHECK(!ur_results_append(r, c, strlen(c), &err) && ur_results_count(r) == 3);
    ur_results_close(r);
    r = ur_results_open(p, UR_RESULTS_READ, &err);
    REQUIRE(r);
    CHECK(ur_results_count(r) == 3 && !ur_results_note(r) && !strcmp(ur_results_get(r, 2)->output, "three"));
    CHECK(ur_results_get(r, 0)->index == 1 && ur_results_get(r, 3) == NULL);
    ur_results_close(r);
}

static void results_bad_files(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/bad.jsonl", th_tmpdir());
    ur_err err = {{0}};
    write_text(p, "{\"id\":1}\nnot json\n{\"id\":2}\n");
    CHECK(!ur_results_open(p, UR_RESULTS_APPEND, &err) && strstr(err.msg, "bad.jsonl: line 2 is not valid JSON"));
    write_text(p, "{\"id\":1}\n[1,2]\n");
    CHECK(!ur_results_open(p, UR_RESULTS_READ, &err) && strstr(err.msg, "line 2 is not a result record"));
    write_text(p, "{\"id\":1,\"turn\":0}\n");
    CHECK(!ur_results_open(p, UR_RESULTS_READ, &err) && strstr(err.msg, "\"turn\" must be"));
    /* a file that is nothing but a torn line, and repeated ids */
    write_text(p, "{\"id\":1,\"out");
    ur_results *r = ur_results_open(p, UR_RESULTS_APPEND, &err);
    CHECK(r && ur_results_count(r) == 0);
    ur_results_close(r);
    size_t n = 1;
    free(th_read_file(p, &n));
    CHECK(n == 0);
    write_text(p, "{\"id\":1,\"output\":\"a\"}\n{\"id\":1,\"output\":\"b\"}\n");
    r = ur_results_open(p, UR_RESULTS_READ, &err);
    CHECK(r && ur_results_count(r) == 1 && strstr(ur_results_note(r), "1 records repeat an earlier record's id") &&
          !strcmp(ur_results_get(r, 0)->output, "a"));
    ur_results_close(r);
    snprintf(p, sizeof p, "%s/none.jsonl", th_tmpdir());
    CHECK(!ur_results_open(p, UR_RESULTS_READ, &err) && strstr(err.msg, "none.jsonl: cannot open results file: No such file"));
    /* atomic whole-file writes */
    snprintf(p, sizeof p, "%s/whole.json", th_tmpdir());
    CHECK(!ur_write_file_atomic(p, "[1]\n", 4, &err));
    char *t = th_read_file(p, &n);
    CHECK(t && n == 4 && !memcmp(t, "[1]\n", 4));
    free(t);
    CHECK(ur_write_file_atomic("/nonexistent/x.json", "x", 1, &err) == -1 && strstr(err.msg, "/nonexistent/x.json: cannot write"));
}

int main(void) {
    th_suite = "batch";
    RUN(fixture_formats);
    RUN(inline_formats);
    RUN(bad_datasets);
    RUN(results_append_resume);
    RUN(results_bad_files);
    TEST_MAIN_END();
}
