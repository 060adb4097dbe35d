/* urial eval score | pairwise | report | style — judge outputs with an LLM judge as
 * just-eval does (an OpenAI-compatible server, or a local GGUF with constrained
 * decoding), into resumable JSONL, and read the results as tables, JSON or HTML;
 * style: count answers in the assistant style (no judge). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "urial/eval.h"
#include "urial/results.h"

static const char *HELP =
    "usage: urial eval score --in OUTPUTS --out JUDGED.jsonl [--mode multi|safety|auto] [options]\n"
    "       urial eval pairwise --a A.json --b B.json --out JUDGED.jsonl [options]\n"
    "       urial eval report JUDGED... [--by dataset|category] [--format md|json|html] [--data OUTPUTS] [-o FILE]\n"
    "       urial eval style RESULTS... [--json OUT.json] [--records]\n"
    "Judge model outputs with an LLM judge the way just-eval does, and report the results.\n"
    "\n"
    "score: each output is rated 1-5 on helpfulness, clarity, factuality, depth and engagement (--mode multi,\n"
    "the default), or on safety (--mode safety); --mode auto rates red-team items (just-eval's category\n"
    "\"safety\", or a red-team dataset) on safety and the others on the five aspects.\n"
    "pairwise: the outputs of A and B for the same ids are compared aspect by aspect, each pair twice (A shown\n"
    "first, then B), and the two verdicts are summed into win / tie / lose for A.\n"
    "  --in FILE              outputs: just-eval JSON (\"instruction\", \"output\", \"generator\", ...) or urial run's JSONL\n"
    "  --a FILE --b FILE      pairwise: the two models' outputs (matched by id)\n"
    "  --out FILE             JSONL records in just-eval's format; resumed: items judged with the same prompt are\n"
    "                         skipped, failed ones judged again\n"
    "  --template FILE        a judge template (${instruction} ${candidate}, or ${candidate_A} ${candidate_B} for\n"
    "                         pairwise; the URIAL authors' {$instruction} {$candidate_A} {$candidate_B} also work);\n"
    "                         default: urial's own (urial eval score --show-template multi|safety|pairwise)\n"
    "  --safety-template FILE --mode auto: the template for red-team items\n"
    "  --only regular|red-team  judge only those items      --limit N   only the first N selected items\n"
    "judge (an OpenAI-compatible chat-completions server):\n"
    "  --judge-url URL        default https://api.openai.com/v1 (vLLM, llama.cpp's server, ...: http://HOST:PORT/v1)\n"
    "  --judge-model M        default gpt-4o\n"
    "  --api-key-env VAR      the API key's environment variable (default OPENAI_API_KEY; optional for other URLs)\n"
    "  --concurrency N        requests in flight (default 4)\n"
    "  --timeout S            seconds for one request (default 120)\n"
    "  --retries N            retries of a request on 429, 5xx, timeouts, connection errors (default 8)\n"
    "  --backoff S            first retry delay, doubled each time, with jitter (default 1); --backoff-max S (60)\n"
    "  --max-tokens N         the judge's answer length (default 1024, as just-eval)\n"
    "  --reask N              ask again when an answer is not the expected JSON (default 2)\n"
    "offline judge:\n"
    "  --judge local:MODEL.gguf  judge with a local model; answers are constrained to the JSON shape\n"
    "  --judge-template NAME|auto|raw  its chat template (default auto: the model's, else plain text)\n"
    "  --ctx N  -t, --threads N  --reason-max N (bytes of a reason, default 400)\n"
    "report: per-aspect means (an \"N/A\" score counts as 5, as in just-eval), judged count, mean output length\n"
    "in words; several files side by side; pairwise files as win / tie / lose. --format json prints one object\n"
    "per file with just-eval's keys; --by needs \"dataset\"/\"category\" in the records or --data OUTPUTS.\n"
    "style (no judge): per file of urial run's JSONL (or a JSON array), how many answers are in the assistant\n"
    "style: they open by addressing the question (the first sentence starts with an acknowledgement such as\n"
    "\"Sure\" or \"Great question\", or contains the instruction's key term: its longest word of 4+ letters that\n"
    "is not a stopword) and close with an offer (the last sentence contains \"let me know\", \"feel free\",\n"
    "\"hope this helps\", ...); docs/eval.md \"Style\" has the exact lists. Empty answers are neither.\n"
    "  --json OUT.json        also write {\"files\":[{file, generator, n, assistant_style, opens, closes, ratio}],\n"
    "                         \"measure\"}\n"
    "  --records              also print one line per record: ID OPENS CLOSES (ID as JSON, 0/1)\n";

/* ---- progress on stderr ------------------------------------------------------------------- */
typedef struct prog {
    int tty;
    double t0;
    int quiet;
} prog;

static void show(void *user, const ur_eval_progress *p) {
    prog *g = user;
    if (!g->tty || g->quiet) return;
    int done = p->kept + p->judged + p->failed;
    char extra[96];
    snprintf(extra, sizeof extra, "failed %d  requests %ld  retries %ld", p->failed, p->stats ? p->stats->requests : 0,
             p->stats ? p->stats->retries : 0);
    cli_progress_line(done, p->total, p->judged + p->failed, p->total - done, ur_now() - g->t0, extra);
}

static void note(void *user, const char *msg) {
    prog *g = user;
    if (!g->quiet) fprintf(stderr, "urial: %s\n", msg);
}

/* ---- judging ------------------------------------------------------------------------------- */
enum { O_IN = 256, O_A, O_B, O_OUT, O_MODE, O_TMPL, O_STMPL, O_ONLY, O_LIMIT, O_JUDGE, O_URL, O_MODEL, O_KEYENV,
       O_CONC, O_TIMEOUT, O_RETRIES, O_BACKOFF, O_BACKMAX, O_MAXTOK, O_REASK, O_JTMPL, O_CTX, O_REASON, O_QUIET,
       O_SHOW };

static int judge_cmd(int argc, char **argv, int pairwise) {
    static const struct option opts[] = {
        {"in", required_argument, 0, O_IN},           {"a", required_argument, 0, O_A},
        {"b", required_argument, 0, O_B},             {"out", required_argument, 0, O_OUT},
        {"mode", required_argument, 0, O_MODE},       {"template", required_argument, 0, O_TMPL},
        {"safety-template", required_argument, 0, O_STMPL}, {"only", required_argument, 0, O_ONLY},
        {"limit", required_argument, 0, O_LIMIT},     {"judge", required_argument, 0, O_JUDGE},
        {"judge-url", required_argument, 0, O_URL},   {"judge-model", required_argument, 0, O_MODEL},
        {"api-key-env", required_argument, 0, O_KEYENV}, {"concurrency", required_argument, 0, O_CONC},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"retries", required_argument, 0, O_RETRIES},
        {"backoff", required_argument, 0, O_BACKOFF}, {"backoff-max", required_argument, 0, O_BACKMAX},
        {"max-tokens", required_argument, 0, O_MAXTOK}, {"reask", required_argument, 0, O_REASK},
        {"judge-template", required_argument, 0, O_JTMPL}, {"ctx", required_argument, 0, O_CTX},
        {"threads", required_argument, 0, 't'},       {"reason-max", required_argument, 0, O_REASON},
        {"quiet", no_argument, 0, O_QUIET},           {"show-template", required_argument, 0, O_SHOW},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    const char *cmd = pairwise ? "eval pairwise" : "eval score";
    const char *in = NULL, *a = NULL, *b = NULL, *out = NULL, *tmpl = NULL, *stmpl = NULL, *local = NULL;
    const char *key_env = NULL, *jtmpl = "auto";
    int mode = UR_JUDGE_MULTI, quiet = 0;
    long v, ctx = 0, threads = 0, reason = 0;
    double d;
    ur_eval_params ep;
    ur_eval_defaults(&ep);
    ur_judge_http_params hp;
    ur_judge_http_defaults(&hp);
    int url_given = 0, c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "t:h", opts, cmd)) != -1) {
        switch (c) {
        case O_IN: in = optarg; break;
        case O_A: a = optarg; break;
        case O_B: b = optarg; break;
        case O_OUT: out = optarg; break;
        case O_MODE:
            if (!strcmp(optarg, "multi")) mode = UR_JUDGE_MULTI;
            else if (!strcmp(optarg, "safety")) mode = UR_JUDGE_SAFETY;
            else if (!strcmp(optarg, "auto")) mode = UR_EVAL_AUTO;
            else return cli_fail("%s: --mode must be multi, safety or auto, not '%s'", cmd, optarg);
            break;
        case O_TMPL: tmpl = optarg; break;
        case O_STMPL: stmpl = optarg; break;
        case O_ONLY:
            if (!strcmp(optarg, "regular")) ep.only = UR_ONLY_REGULAR;
            else if (!strcmp(optarg, "red-team")) ep.only = UR_ONLY_RED_TEAM;
            else return cli_fail("%s: --only must be regular or red-team, not '%s'", cmd, optarg);
            break;
        case O_LIMIT: if (cli_int("--limit", optarg, 1, 1 << 30, &v)) return 1; ep.limit = (int)v; break;
        case O_JUDGE:
            if (!strncmp(optarg, "local:", 6)) local = optarg + 6;
            else hp.url = optarg, url_given = 1;
            break;
        case O_URL: hp.url = optarg, url_given = 1; break;
        case O_MODEL: hp.model = optarg; break;
        case O_KEYENV: key_env = optarg; break;
        case O_CONC: if (cli_int("--concurrency", optarg, 1, 1024, &v)) return 1; hp.concurrency = (int)v; break;
        case O_TIMEOUT: if (cli_float("--timeout", optarg, 0.001, 86400, &hp.timeout)) return 1; break;
        case O_RETRIES: if (cli_int("--retries", optarg, 0, 1000, &v)) return 1; hp.max_retries = (int)v; break;
        case O_BACKOFF: if (cli_float("--backoff", optarg, 0, 3600, &d)) return 1; hp.backoff = d; break;
        case O_BACKMAX: if (cli_float("--backoff-max", optarg, 0, 86400, &d)) return 1; hp.backoff_max = d; break;
        case O_MAXTOK: if (cli_int("--max-tokens", optarg, 1, 1 << 20, &v)) return 1; hp.max_tokens = (int)v; break;
        case O_REASK: if (cli_int("--reask", optarg, 0, 100, &v)) return 1; ep.reask = (int)v; break;
        case O_JTMPL: jtmpl = optarg; break;
        case O_CTX: if (cli_int("--ctx", optarg, 64, 1 << 24, &ctx)) return 1; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 1; break;
        case O_REASON: if (cli_int("--reason-max", optarg, 1, 1 << 16, &reason)) return 1; break;
        case O_QUIET: quiet = 1; break;
        case O_SHOW: {
            int m = !strcmp(optarg, "safety") ? UR_JUDGE_SAFETY : !strcmp(optarg, "pairwise") ? UR_JUDGE_PAIRWISE
                    : !strcmp(optarg, "multi")                  ? UR_JUDGE_MULTI
                                                                : -1;
            if (m < 0) return cli_fail("%s: --show-template takes multi, safety or pairwise", cmd);
            /* the built-in text, exactly as a --template file would hold it */
            ur_judge_tmpl *t = ur_judge_tmpl_builtin(m);
            ur_buf s = {0};
            ur_judge_render(t, "${instruction}", m == UR_JUDGE_PAIRWISE ? "${candidate_A}" : "${candidate}",
                            m == UR_JUDGE_PAIRWISE ? "${candidate_B}" : NULL, &s);
            fputs(s.data, stdout);
            ur_buf_free(&s);
            ur_judge_tmpl_free(t);
            return 0;
        }
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (optind != argc) return cli_fail("%s: unexpected argument '%s'", cmd, argv[optind]);
    if (pairwise ? !a || !b || !out : !in || !out)
        return cli_fail("%s: %s and --out are required (see urial eval --help)", cmd, pairwise ? "--a, --b" : "--in");
    if (pairwise && mode != UR_JUDGE_MULTI) return cli_fail("%s: --mode is for eval score", cmd);
    if (local && url_given) return cli_fail("%s: give either --judge local:MODEL or a judge URL, not both", cmd);

    /* templates */
    int tmode = pairwise ? UR_JUDGE_PAIRWISE : mode == UR_EVAL_AUTO ? UR_JUDGE_MULTI : mode;
    ur_err err = {{0}};
    ur_judge_tmpl *t = tmpl ? ur_judge_tmpl_load(tmpl, tmode, &err) : ur_judge_tmpl_builtin(tmode);
    ur_judge_tmpl *ts = NULL;
    if (!t) return cli_fail("%s", err.msg);
    if (mode == UR_EVAL_AUTO && !pairwise && !(ts = stmpl ? ur_judge_tmpl_load(stmpl, UR_JUDGE_SAFETY, &err)
                                                          : ur_judge_tmpl_builtin(UR_JUDGE_SAFETY))) {
        ur_judge_tmpl_free(t);
        return cli_fail("%s", err.msg);
    }

    /* the judge */
    ur_judge *j = NULL;
    int rc = 1;
    if (local) {
        ur_judge_local_params lp = {.model_path = local, .chat_template = jtmpl, .n_ctx = (int)ctx,
                                    .n_threads = (int)threads, .reason_max = (int)reason};
        j = ur_judge_local_new(&lp, &err);
    } else {
        const char *var = key_env ? key_env : "OPENAI_API_KEY";
        const char *key = getenv(var);
        int openai = strstr(hp.url, "api.openai.com") != NULL;
        if ((!key || !*key) && (key_env || openai)) {
            cli_fail("%s: $%s is not set (the judge at %s needs an API key%s)", cmd, var, hp.url,
                     key_env ? "" : "; --api-key-env VAR reads another variable");
            goto done;
        }
        hp.api_key = key && *key ? key : NULL;
        j = ur_judge_http_new(&hp, &err);
    }
    if (!j) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (ur_judge_note(j) && !quiet) fprintf(stderr, "urial: %s\n", ur_judge_note(j));
    ep.mode = pairwise ? UR_JUDGE_PAIRWISE : mode;
    ep.in = pairwise ? a : in;
    ep.in_b = b;
    ep.out = out;
    ep.tmpl = t;
    ep.tmpl_safety = ts;
    prog g = {.tty = isatty(2), .t0 = ur_now(), .quiet = quiet};
    ep.progress = show;
    ep.note = note;
    ep.progress_user = &g;
    ur_eval_progress s;
    int r = pairwise ? ur_eval_pairwise(j, &ep, &s, &err) : ur_eval_score(j, &ep, &s, &err);
    if (g.tty && !quiet) fputs("\r\033[K", stderr);
    const ur_judge_stats *st = ur_judge_get_stats(j);
    if (!quiet && (!r || st->requests))
        fprintf(stderr,
                "urial: %s: %d items: %d judged now, %d already in %s, %d failed; %ld requests to %s (%ld retries: "
                "%ld rate-limited, %ld server errors, %ld timeouts, %ld connection errors, %ld bad answers) in %.1f s\n",
                cmd, s.total, s.judged, s.kept, out, s.failed, st->requests, ur_judge_model(j), st->retries,
                st->http_429, st->http_5xx, st->timeouts, st->conn_errors, st->bad_bodies, ur_now() - g.t0);
    if (r) {
        cli_fail("%s", err.msg);
    } else if (s.failed) {
        cli_fail("%s: %d records failed (each has its \"error\" in %s); run the same command again to retry them", cmd,
                 s.failed, out);
    } else {
        rc = 0;
    }
done:
    ur_judge_free(j);
    ur_judge_tmpl_free(t);
    ur_judge_tmpl_free(ts);
    return rc;
}

/* ---- reports -------------------------------------------------------------------------------- */
static int report_cmd(int argc, char **argv) {
    enum { O_BY = 256, O_FORMAT, O_DATA };
    static const struct option opts[] = {{"by", required_argument, 0, O_BY},   {"format", required_argument, 0, O_FORMAT},
                                         {"data", required_argument, 0, O_DATA}, {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    ur_report_params p = {0};
    const char *outp = NULL;
    int c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "o:h", opts, "eval report")) != -1) {
        switch (c) {
        case O_BY:
            if (!strcmp(optarg, "dataset")) p.by = UR_BY_DATASET;
            else if (!strcmp(optarg, "category")) p.by = UR_BY_CATEGORY;
            else return cli_fail("eval report: --by must be dataset or category, not '%s'", optarg);
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "md")) p.format = UR_REPORT_MD;
            else if (!strcmp(optarg, "json")) p.format = UR_REPORT_JSON;
            else if (!strcmp(optarg, "html")) p.format = UR_REPORT_HTML;
            else return cli_fail("eval report: --format must be md, json or html, not '%s'", optarg);
            break;
        case O_DATA: p.data = optarg; break;
        case 'o': outp = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (optind >= argc) return cli_fail("eval report: give one or more judged files (see urial eval --help)");
    ur_buf out = {0};
    ur_err err = {{0}};
    if (ur_eval_report((const char *const *)argv + optind, argc - optind, &p, &out, &err)) {
        ur_buf_free(&out);
        return cli_fail("%s", err.msg);
    }
    int rc = 0;
    if (outp) {
        if (ur_write_file_atomic(outp, out.data ? out.data : "", out.len, &err)) rc = cli_fail("%s", err.msg);
    } else {
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    }
    ur_buf_free(&out);
    return rc;
}

/* ---- style -------------------------------------------------------------------------------------- */
/* --records: the per-record lines, printed after the file's line (one pass over the file) */
static void style_record(void *user, const char *id, int opens, int closes) {
    ur_buf_printf((ur_buf *)user, "%s %d %d\n", id, opens, closes);
}

static double pct(long k, long n) { return n ? 100.0 * (double)k / (double)n : 0.0; }

static int style_cmd(int argc, char **argv) {
    enum { O_JSON = 256, O_RECORDS };
    static const struct option opts[] = {{"json", required_argument, 0, O_JSON}, {"records", no_argument, 0, O_RECORDS},
                                         {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *json = NULL;
    int records = 0, c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "h", opts, "eval style")) != -1) {
        switch (c) {
        case O_JSON: json = optarg; break;
        case O_RECORDS: records = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (optind >= argc) return cli_fail("eval style: give one or more results files (see urial eval --help)");
    ur_buf js = {0};
    ur_buf_puts(&js, "{\"files\":[");
    ur_err err = {{0}};
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        const char *f = argv[i];
        ur_style_counts k;
        ur_buf lines = {0};
        if (ur_style_file(f, &k, records ? style_record : NULL, &lines, &err)) {
            ur_buf_free(&lines);
            rc = cli_fail("%s", err.msg);
            break;
        }
        printf("%s", f);
        if (k.generator[0]) printf(" (%s)", k.generator);
        printf(": %ld answers, assistant style %ld (%.1f%%), opens %ld (%.1f%%), closes %ld (%.1f%%)\n", k.n, k.style,
               pct(k.style, k.n), k.opens, pct(k.opens, k.n), k.closes, pct(k.closes, k.n));
        if (lines.len) fwrite(lines.data, 1, lines.len, stdout);
        ur_buf_free(&lines);
        if (i > optind) ur_buf_puts(&js, ",");
        ur_buf_puts(&js, "{\"file\":");
        ur_buf_json_str(&js, f, strlen(f));
        ur_buf_puts(&js, ",\"generator\":");
        if (k.generator[0]) ur_buf_json_str(&js, k.generator, strlen(k.generator));
        else ur_buf_puts(&js, "null");
        ur_buf_printf(&js, ",\"n\":%ld,\"assistant_style\":%ld,\"opens\":%ld,\"closes\":%ld,\"ratio\":", k.n, k.style,
                      k.opens, k.closes);
        if (k.n) ur_buf_printf(&js, "%.6g", (double)k.style / (double)k.n);
        else ur_buf_puts(&js, "null");
        ur_buf_puts(&js, "}");
    }
    fflush(stdout);
    if (!rc && json) {
        ur_buf_puts(&js, "],\"measure\":");
        ur_buf_json_str(&js, UR_STYLE_MEASURE, strlen(UR_STYLE_MEASURE));
        ur_buf_puts(&js, "}\n");
        if (ur_write_file_atomic(json, js.data, js.len, &err)) rc = cli_fail("%s", err.msg);
    }
    ur_buf_free(&js);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    if (!strcmp(argv[1], "score")) return judge_cmd(argc - 1, argv + 1, 0);
    if (!strcmp(argv[1], "pairwise")) return judge_cmd(argc - 1, argv + 1, 1);
    if (!strcmp(argv[1], "report")) return report_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "style")) return style_cmd(argc - 1, argv + 1);
    return cli_fail("eval: unknown subcommand '%s' (score, pairwise, report or style)", argv[1]);
}
