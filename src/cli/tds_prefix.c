/* urial tds prefix --base B --aligned A --data FILE --k 5,10,20 --out DIR — the
 * paper's finding that a base model follows an aligned one once given a few of its
 * tokens: force the first k tokens of the aligned answer into the base model's
 * context, let the base model continue greedily, and compare its tokens with the
 * rest of the aligned answer position by position. DIR/prefix.jsonl (one record
 * per answer: append-only, resumable, shardable), DIR/prefix.json, DIR/prefix.html. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/tds_job.h"

int cmd_tds_prefix(int argc, char **argv);

static const char *HELP =
    "usage: urial tds prefix --base BASE.gguf --aligned ALIGNED.gguf --data FILE --out DIR [--k 5,10,20] [options]\n"
    "For each k: the input and the first k tokens of the aligned model's answer go into the base model,\n"
    "which continues greedily for the rest of the answer's length; agreement is the share of those\n"
    "positions where its token is the aligned one (k = 0: the base model alone on the same input).\n"
    "  --k LIST              prefix lengths (default 5,10,20)\n";

static const char *HELP_FILES =
    "Files in DIR: prefix.jsonl (one record per answer: per k the base continuation, a 0/1 string of\n"
    "matches, the count and the initial exact run), prefix.json (per k: agreement overall and by\n"
    "position after the prefix, mean exact run), prefix.html (a table and the agreement plot).\n"
    "urial tds prefix report DIR rewrites prefix.json and prefix.html from prefix.jsonl.\n";

static int write_reports(const char *dir, const ur_results *res) {
    int n = ur_results_count(res), rc = -1;
    const char **recs = malloc(sizeof *recs * (size_t)(n ? n : 1));
    if (!recs) abort();
    for (int i = 0; i < n; i++) recs[i] = ur_results_get(res, i)->json;
    ur_buf js = {0}, html = {0}, path = {0};
    ur_err err = {{0}};
    ur_buf_printf(&path, "%s/prefix.jsonl", dir);
    if (ur_tds_prefix_summarize(path.data, recs, n, &js, &html, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    path.len = 0;
    ur_buf_printf(&path, "%s/prefix.json", dir);
    if (ur_write_file_atomic(path.data, js.data, js.len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    path.len = 0;
    ur_buf_printf(&path, "%s/prefix.html", dir);
    if (ur_write_file_atomic(path.data, html.data, html.len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    json_t *s = json_loads(js.data, 0, NULL), *e;
    size_t i;
    fprintf(stderr, "urial: tds prefix: %d answers; agreement", n);
    json_array_foreach(json_object_get(s, "k"), i, e)
        fprintf(stderr, "%s k=%lld %.2f%%", i ? "," : "", (long long)json_integer_value(json_object_get(e, "k")),
                100 * json_number_value(json_object_get(e, "agreement")));
    fprintf(stderr, "; wrote %s/prefix.json and %s/prefix.html\n", dir, dir);
    json_decref(s);
    rc = 0;
out:
    free(recs);
    ur_buf_free(&js), ur_buf_free(&html), ur_buf_free(&path);
    return rc;
}

static int prefix_report(int argc, char **argv) {
    if (argc != 2) return cli_fail("tds prefix report: give the directory of a tds prefix run");
    ur_buf path = {0};
    ur_buf_printf(&path, "%s/prefix.jsonl", argv[1]);
    ur_err err = {{0}};
    ur_results *res = ur_results_open(path.data, UR_RESULTS_READ, &err);
    ur_buf_free(&path);
    if (!res) return cli_fail("%s", err.msg);
    int rc = write_reports(argv[1], res) ? 1 : 0;
    ur_results_close(res);
    return rc;
}

/* "5,10,20" -> ks; returns the count or -1 (printed). */
static int parse_ks(const char *s, int *ks, int max) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1 << 20 || (*end && *end != ',') || n == max)
            return cli_fail("tds prefix: --k '%s' is not a list of at most %d prefix lengths >= 0 (e.g. 5,10,20)", s, max), -1;
        for (int i = 0; i < n; i++)
            if (ks[i] == v) return cli_fail("tds prefix: --k '%s' repeats %ld", s, v), -1;
        ks[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!n) return cli_fail("tds prefix: --k is empty"), -1;
    return n;
}

/* One k: the base model continues input + o[0..k) for T - k tokens. */
static int run_k(tds_job *j, const ur_tds_seq *seq, int k, int32_t *cont, ur_buf *b) {
    const int T = seq->n - seq->n_context, left = T - k;
    ur_buf_printf(b, "{\"k\":%d", k);
    if (left <= 0) {
        ur_buf_puts(b, ",\"compared\":0,\"matched\":0,\"exact\":0,\"match\":\"\",\"continuation\":[]}");
        return 0;
    }
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = left;
    gp.tokens = cont;
    gp.tokens_cap = left;
    ur_gen_result res;
    ur_err err = {{0}};
    if (ur_generate(j->cb, seq->ids, seq->n_context + k, &gp, NULL, NULL, &res, &err))
        return cli_fail("%s", err.msg), -1;
    int got = res.n_gen + (res.stop_reason == UR_STOP_EOG);
    if (got > left) got = left;
    ur_buf_free(&res.text);
    const int32_t *o = seq->ids + seq->n_context + k;
    int matched = 0, exact = 0, run = 1;
    for (int p = 0; p < left; p++) {
        int hit = p < got && cont[p] == o[p];
        matched += hit;
        run &= hit;
        exact += run;
    }
    ur_buf_printf(b, ",\"compared\":%d,\"matched\":%d,\"exact\":%d,\"match\":\"", left, matched, exact);
    for (int p = 0; p < left; p++) ur_buf_puts(b, p < got && cont[p] == o[p] ? "1" : "0");
    ur_buf_puts(b, "\",\"continuation\":[");
    for (int p = 0; p < got; p++) ur_buf_printf(b, "%s%d", p ? "," : "", cont[p]);
    ur_buf_puts(b, "]}");
    return 0;
}

int cmd_tds_prefix(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "report")) return prefix_report(argc - 1, argv + 1);
    enum { O_K = 3000 };
    static const struct option opts[] = {TDS_JOB_OPTIONS, {"k", required_argument, 0, O_K}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    tds_job j;
    tds_job_init(&j);
    int ks[16] = {5, 10, 20}, nk = 3, c, r;
    while ((c = cli_getopt(argc, argv, "n:t:h", opts, "tds prefix")) != -1) {
        if ((r = tds_job_opt(&j, c, optarg)) != 0) {
            if (r < 0) return 1;
            continue;
        }
        if (c == O_K) {
            if ((nk = parse_ks(optarg, ks, 16)) < 0) return 1;
            continue;
        }
        if (c == 'h') {
            fputs(HELP, stdout), fputs(TDS_JOB_HELP, stdout), fputs(HELP_FILES, stdout);
            return 0;
        }
        return 1;
    }
    if (optind != argc) return cli_fail("tds prefix: unexpected argument '%s'", argv[optind]);

    int rc = 1;
    ur_results *res = NULL;
    json_t *config = NULL;
    char *cfg = NULL;
    int32_t *cont = NULL;
    ur_buf path = {0}, rec = {0}, answer = {0};
    ur_err err = {{0}};
    if (tds_job_open(&j, "tds prefix") || tds_mkdir(j.out_dir, "tds prefix")) goto done;
    ur_buf_printf(&path, "%s/prefix.jsonl", j.out_dir);
    if (!(res = ur_results_open(path.data, UR_RESULTS_APPEND, &err))) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (ur_results_note(res)) fprintf(stderr, "urial: tds prefix: %s\n", ur_results_note(res));
    config = tds_job_config(&j, "tds prefix");
    json_t *jk = json_array();
    for (int i = 0; i < nk; i++) json_array_append_new(jk, json_integer(ks[i]));
    json_object_set_new(config, "k", jk);
    cfg = json_dumps(config, JSON_COMPACT);
    if (tds_check_configs(res, path.data, config, "tds prefix")) goto done;

    cli_progress pg = {.tty = isatty(2), .total = j.n_sel, .t0 = ur_now()};
    for (int i = 0; i < j.n_sel; i++)
        if (ur_results_find(res, j.ds.items[j.sel[i]].id)) pg.done++;
    fprintf(stderr, "urial: tds prefix: %s: %d in this selection, %d already in %s, %d to run\n", j.data_path, j.n_sel,
            pg.done, path.data, j.n_sel - pg.done);
    cli_progress_show(&pg);
    for (int i = 0; i < j.n_sel; i++) {
        const ur_item *it = &j.ds.items[j.sel[i]];
        if (ur_results_find(res, it->id)) continue;
        ur_tds_seq seq;
        const char *stop = "given";
        answer.len = 0;
        double t0 = ur_now();
        int st = tds_job_example(&j, it, &seq, &answer, &stop, pg.tty);
        if (st < 0) goto done;
        if (st > 0) {
            pg.skipped++;
            continue;
        }
        const int T = seq.n - seq.n_context;
        int32_t *nc = realloc(cont, sizeof *cont * (size_t)T);
        if (!nc) abort();
        cont = nc;
        rec.len = 0;
        ur_buf_printf(&rec, "{\"id\":%s,\"input_index\":%d,\"instruction\":", it->id, it->index);
        ur_buf_json_str(&rec, it->turns[0], strlen(it->turns[0]));
        ur_buf_puts(&rec, ",\"output\":");
        ur_buf_json_str(&rec, answer.data ? answer.data : "", answer.len);
        ur_buf_printf(&rec, ",\"stop\":\"%s\",\"config\":%s,\"n_input\":%d,\"answer_ids\":[", stop, cfg, seq.n_context);
        for (int p = 0; p < T; p++) ur_buf_printf(&rec, "%s%d", p ? "," : "", seq.ids[seq.n_context + p]);
        ur_buf_puts(&rec, "],\"prefix\":[");
        for (int k = 0; k < nk; k++) {
            if (k) ur_buf_puts(&rec, ",");
            if (run_k(&j, &seq, ks[k], cont, &rec)) {
                ur_tds_seq_free(&seq);
                goto done;
            }
            pg.tokens += T > ks[k] ? T - ks[k] : 0;
        }
        ur_buf_puts(&rec, "]}");
        ur_tds_seq_free(&seq);
        if (ur_results_append(res, rec.data, rec.len, &err)) {
            cli_fail("%s", err.msg);
            goto done;
        }
        pg.done++, pg.generated++;
        pg.t_gen += ur_now() - t0;
        cli_progress_show(&pg);
    }
    if (pg.tty) fputc('\n', stderr);
    fprintf(stderr, "urial: tds prefix: %d of %d done (%d now, %d skipped)\n", pg.done, j.n_sel, pg.generated, pg.skipped);
    if (write_reports(j.out_dir, res)) goto done;
    rc = pg.done == j.n_sel ? 0 : 1;
done:
    ur_results_close(res);
    json_decref(config);
    free(cfg), free(cont);
    ur_buf_free(&path), ur_buf_free(&rec), ur_buf_free(&answer);
    tds_job_close(&j);
    return rc;
}
