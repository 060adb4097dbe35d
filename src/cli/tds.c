/* urial tds --base B --aligned A --data FILE --out DIR — token distribution shift:
 * per answer token, the base model's rank of the aligned model's token, into an
 * append-only DIR/tokens.jsonl (one record per answer; resumable, shardable like
 * urial run), then DIR/summary.json and DIR/report.html computed from it.
 * urial tds report DIR rebuilds those two from tokens.jsonl (e.g. after merging
 * shards with urial merge --jsonl); urial tds prefix is in tds_prefix.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/tds_job.h"

int cmd_tds_prefix(int argc, char **argv);

static const char *HELP =
    "usage: urial tds --base BASE.gguf --aligned ALIGNED.gguf --data FILE --out DIR [options]\n"
    "       urial tds --base NAME --backend openai --base-url URL --aligned ALIGNED.gguf --data FILE --out DIR\n"
    "       urial tds report DIR\n"
    "       urial tds prefix --base BASE.gguf --aligned ALIGNED.gguf --data FILE --k 5,10,20 --out DIR\n"
    "Token distribution shift: for every token o_t of the aligned model's answer, the rank eta of o_t\n"
    "under the base model given the same input and o_<t (1 = the base model's top token), its class\n"
    "(unshifted eta = 1, marginal 2-3, shifted > 3), both probabilities, the base's top 3 and\n"
    "KL(P_align || P_base). One teacher-forced forward per model and answer.\n";

static const char HELP_REMOTE[] =
    "The base model on a server (vLLM, urial serve, ...; the aligned model stays here):\n"
    "  --backend local|openai  where the base model runs (default local)\n"
    "  --base-url URL        the server's API, e.g. http://127.0.0.1:8000/v1; --base NAME is the model's\n"
    "                        name there (a path ending in .gguf: its base name, as urial serve names it)\n"
    "  --api-key-env VAR     send the key in environment variable VAR\n"
    "  --top-logprobs K      the base's top K logprobs per position (default 20, vLLM's usual maximum;\n"
    "                        at least 3): eta is exact when the aligned token is among them, else\n"
    "                        recorded as \"rank\":null,\"rank_gt\":K (the class is exact); KL is null\n"
    "  --concurrency N       requests in flight (default 4)   --timeout S   seconds per request (600)\n"
    "  --retries N           retries on 429, 5xx, timeouts, broken connections (default 8)\n"
    "  The answers' token ids are sent as the prompt (/v1/completions, echo, max_tokens 0, logprobs K,\n"
    "  return_tokens_as_token_ids): the server's model must use the aligned model's tokenizer.\n";

static const char *HELP_FILES =
    "Files in DIR:\n"
    "  tokens.jsonl   one record per answer (append-only: kill and rerun to resume; each shard needs its\n"
    "                 own DIR, joined with urial merge --jsonl ALL/tokens.jsonl D0/tokens.jsonl ...)\n"
    "  summary.json   counts and ratios overall and per answer, by position, mean KL, top tokens\n"
    "  report.html    one self-contained page: the numbers, plots, and every answer coloured by class\n"
    "urial tds report DIR rewrites summary.json and report.html from DIR/tokens.jsonl.\n";

/* summary.json and report.html from the records of DIR/tokens.jsonl. */
static int write_reports(const char *dir, const ur_results *res) {
    int n = ur_results_count(res), rc = -1;
    const char **recs = malloc(sizeof *recs * (size_t)(n ? n : 1));
    if (!recs) abort();
    for (int i = 0; i < n; i++) recs[i] = ur_results_get(res, i)->json;
    ur_buf sum = {0}, html = {0}, path = {0};
    ur_err err = {{0}};
    ur_buf_printf(&path, "%s/tokens.jsonl", dir);
    if (ur_tds_summarize(path.data, recs, n, &sum, &html, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    path.len = 0;
    ur_buf_printf(&path, "%s/summary.json", dir);
    if (ur_write_file_atomic(path.data, sum.data, sum.len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    path.len = 0;
    ur_buf_printf(&path, "%s/report.html", dir);
    if (ur_write_file_atomic(path.data, html.data, html.len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    /* the headline numbers, read back from the summary just written */
    json_t *s = json_loads(sum.data, 0, NULL), *r = json_object_get(s, "ratios");
    fprintf(stderr, "urial: tds: %d answers, %lld positions: unshifted %.2f%%, marginal %.2f%%, shifted %.2f%%; "
                    "wrote %s/summary.json and %s/report.html (%.1f MB)\n",
            n, (long long)json_integer_value(json_object_get(s, "positions")),
            100 * json_number_value(json_object_get(r, "unshifted")), 100 * json_number_value(json_object_get(r, "marginal")),
            100 * json_number_value(json_object_get(r, "shifted")), dir, dir, (double)html.len / 1e6);
    json_t *top = json_object_get(s, "top_shifted");
    if (json_array_size(top)) {
        ur_buf t = {0};
        for (size_t i = 0; i < json_array_size(top) && i < 12; i++) {
            json_t *e = json_array_get(top, i), *txt = json_object_get(e, "text");
            ur_buf_puts(&t, i ? ", " : "");
            ur_buf_json_str(&t, json_string_value(txt), json_string_length(txt));
            ur_buf_printf(&t, " %lld", (long long)json_integer_value(json_object_get(e, "count")));
        }
        fprintf(stderr, "urial: tds: most frequent shifted tokens (eta > 3): %s\n", t.data);
        ur_buf_free(&t);
    }
    json_decref(s);
    rc = 0;
out:
    free(recs);
    ur_buf_free(&sum), ur_buf_free(&html), ur_buf_free(&path);
    return rc;
}

static int cmd_tds_report(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs("usage: urial tds report DIR\n", stdout);
        fputs(HELP_FILES, stdout);
        return 0;
    }
    if (argc != 2) return cli_fail("tds report: give the directory of a tds run (see urial tds --help)");
    ur_buf path = {0};
    ur_buf_printf(&path, "%s/tokens.jsonl", argv[1]);
    ur_err err = {{0}};
    ur_results *res = ur_results_open(path.data, UR_RESULTS_READ, &err);
    ur_buf_free(&path);
    if (!res) return cli_fail("%s", err.msg);
    if (ur_results_note(res)) fprintf(stderr, "urial: tds report: %s\n", ur_results_note(res));
    int rc = write_reports(argv[1], res) ? 1 : 0;
    ur_results_close(res);
    return rc;
}

/* One answer's record: the item, the answer, the input tokens and the positions. */
void tds_make_record(const tds_job *j, const ur_item *it, const char *cfg, const ur_buf *answer, const char *stop,
                        const ur_tds_seq *seq, const ur_tds_pos *pos, ur_buf *b) {
    ur_buf_printf(b, "{\"id\":%s,\"input_index\":%d,\"instruction\":", it->id, it->index);
    ur_buf_json_str(b, it->turns[0], strlen(it->turns[0]));
    ur_buf_puts(b, ",\"output\":");
    ur_buf_json_str(b, answer->data ? answer->data : "", answer->len);
    ur_buf_printf(b, ",\"stop\":\"%s\",\"config\":%s,\"n_input\":%d,\"input_ids\":[", stop, cfg, seq->n_context);
    for (int i = 0; i < seq->n_context; i++) ur_buf_printf(b, "%s%d", i ? "," : "", seq->ids[i]);
    ur_buf_printf(b, "],\"n_tokens\":%d,\"tokens\":", seq->n - seq->n_context);
    ur_tds_tokens_json(j->ma->vocab, pos, seq->n - seq->n_context, b);
    ur_buf_puts(b, "}");
}

int cmd_tds(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "report")) return cmd_tds_report(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "prefix")) return cmd_tds_prefix(argc - 1, argv + 1);
    enum { O_TOPLP = 2100 };
    static const struct option opts[] = {TDS_JOB_OPTIONS, CLI_REMOTE_OPTIONS, {"top-logprobs", required_argument, 0, O_TOPLP},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    tds_job j;
    tds_job_init(&j);
    int c, r;
    while ((c = cli_getopt(argc, argv, "n:t:h", opts, "tds")) != -1) {
        if ((r = tds_job_opt(&j, c, optarg)) != 0 || (r = cli_remote_opt(&j.rem, c, optarg)) != 0) {
            if (r < 0) return 1;
            continue;
        }
        if (c == O_TOPLP) {
            if (cli_int("--top-logprobs", optarg, 3, 1 << 20, &j.top_k)) return 1;
            continue;
        }
        if (c == 'h') {
            fputs(HELP, stdout), fputs(TDS_JOB_HELP, stdout), fputs(HELP_REMOTE, stdout), fputs(HELP_FILES, stdout);
            return 0;
        }
        return 1;
    }
    if (optind != argc) return cli_fail("tds: unexpected argument '%s'", argv[optind]);

    int rc = 1;
    ur_results *res = NULL;
    json_t *config = NULL;
    char *cfg = NULL;
    ur_tds_pos *pos = NULL;
    ur_buf path = {0}, rec = {0}, key = {0}, answer = {0};
    ur_err err = {{0}};
    if (tds_job_open(&j, "tds") || tds_mkdir(j.out_dir, "tds")) goto done;
    ur_buf_printf(&path, "%s/tokens.jsonl", j.out_dir);
    if (!(res = ur_results_open(path.data, UR_RESULTS_APPEND, &err))) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (ur_results_note(res)) fprintf(stderr, "urial: tds: %s\n", ur_results_note(res));
    config = tds_job_config(&j, "tds");
    cfg = json_dumps(config, JSON_COMPACT);
    if (tds_check_configs(res, path.data, config, "tds")) goto done;

    cli_progress pg = {.tty = isatty(2), .total = j.n_sel, .t0 = ur_now()};
    for (int i = 0; i < j.n_sel; i++)
        if (ur_results_find(res, j.ds.items[j.sel[i]].id)) pg.done++;
    fprintf(stderr, "urial: tds: %s: %d items (%s)%s; %d in this selection, %d already in %s, %d to score\n", j.data_path,
            j.ds.n, ur_data_format_name(j.ds.format), j.shard_n > 1 ? ", sharded" : "", j.n_sel, pg.done, path.data,
            j.n_sel - pg.done);
    long seq_tokens = 0;
    double t_score = 0;
    cli_progress_show(&pg);
    if (j.client) {
        if (tds_run_remote(&j, res, cfg, &pg)) goto done;
        goto report;
    }
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
            cli_progress_show(&pg);
            continue;
        }
        const int T = seq.n - seq.n_context;
        ur_tds_pos *np = realloc(pos, sizeof *pos * (size_t)T);
        if (!np) abort();
        pos = np;
        double t1 = ur_now();
        if (ur_tds_score(j.cb, j.ca, seq.ids, seq.n, seq.n_context, pos, &err)) {
            ur_tds_seq_free(&seq);
            cli_fail("%s", err.msg);
            goto done;
        }
        t_score += ur_now() - t1;
        seq_tokens += seq.n - 1;
        rec.len = 0;
        tds_make_record(&j, it, cfg, &answer, stop, &seq, pos, &rec);
        ur_tds_seq_free(&seq);
        if (ur_results_append(res, rec.data, rec.len, &err)) {
            cli_fail("%s", err.msg);
            goto done;
        }
        pg.done++, pg.generated++;
        pg.tokens += T;
        pg.t_gen += ur_now() - t0;
        cli_progress_show(&pg);
    }
    if (pg.tty) fputc('\n', stderr);
    fprintf(stderr, "urial: tds: %d of %d done (%d scored now, %d skipped); scoring: %ld tokens through both models "
                    "in %.2f s, %.1f tok/s\n",
            pg.done, j.n_sel, pg.generated, pg.skipped, seq_tokens, t_score, t_score > 0 ? seq_tokens / t_score : 0.0);
report:
    if (write_reports(j.out_dir, res)) goto done;
    rc = pg.done == j.n_sel ? 0 : 1;
done:
    ur_results_close(res);
    json_decref(config);
    free(cfg), free(pos);
    ur_buf_free(&path), ur_buf_free(&rec), ur_buf_free(&key), ur_buf_free(&answer);
    tds_job_close(&j);
    return rc;
}
