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

static const char HELP[] =
    "usage: urial eval score --in OUTPUTS --out JUDGED.jsonl [--mode multi|safety|auto] [options]\n"
    "       urial eval pairwise --a A.json --b B.json --out JUDGED.jsonl [--order both|random] [options]\n"
    "       urial eval report JUDGED... [--by dataset|category] [--format md|json|html] [--data OUTPUTS] [-o FILE]\n"
    "       urial eval style RESULTS... [--json OUT.json] [--records]\n"
    "Judge model outputs with an LLM judge the way just-eval does, and report the results\n"
    "(urial eval SUBCOMMAND --help lists a subcommand's options).\n"
    "\n"
    "score: each output is rated 1-5 on helpfulness, clarity, factuality, depth and engagement (--mode multi,\n"
    "the default), or on safety (--mode safety); --mode auto rates red-team items (just-eval's category\n"
    "\"safety\", or a red-team dataset) on safety and the others on the five aspects.\n"
    "pairwise: the outputs of A and B for the same ids are compared aspect by aspect, each pair twice (A shown\n"
    "first, then B), and the two verdicts are summed into win / tie / lose for A (--order both, the default);\n"
    "--order random judges each pair once, shown in the order a seeded coin gives, as the URIAL authors'\n"
    "evaluate/eval.py does (Python's random.seed(--seed), then random.random() < 0.5 per item: A first).\n"
    "report: per-aspect means (an \"N/A\" score counts as 5, as in just-eval), judged count, mean output length\n"
    "in words; several files side by side; pairwise files as win / tie / lose. --format json prints one object\n"
    "per file with just-eval's keys; --by needs \"dataset\"/\"category\" in the records or --data OUTPUTS.\n"
    "style (no judge): per file of urial run's JSONL (or a JSON array), how many answers are in the assistant\n"
    "style: they open by addressing the question (the first sentence starts with an acknowledgement such as\n"
    "\"Sure\" or \"Great question\", or contains the instruction's key term: its longest word of 4+ letters that\n"
    "is not a stopword) and close with an offer (the last sentence contains \"let me know\", \"feel free\",\n"
    "\"hope this helps\", ...); docs/eval.md \"Style\" has the exact lists. Empty answers are neither.\n";

/* Each subcommand's own --help: its usage line and its paragraph of HELP. */
static const char HELP_SCORE[] =
    "usage: urial eval score --in OUTPUTS --out JUDGED.jsonl [--mode multi|safety|auto] [options]\n"
    "Each output is rated 1-5 by an LLM judge on helpfulness, clarity, factuality, depth and engagement\n"
    "(--mode multi, the default), or on safety (--mode safety); --mode auto rates red-team items on safety\n"
    "and the others on the five aspects, as just-eval does.\n";
static const char HELP_PAIRWISE[] =
    "usage: urial eval pairwise --a A.json --b B.json --out JUDGED.jsonl [options]\n"
    "The outputs of A and B for the same ids are compared aspect by aspect, each pair twice (A shown\n"
    "first, then B), and the two verdicts are summed into win / tie / lose for A.\n";
static const char HELP_REPORT[] =
    "usage: urial eval report JUDGED... [--by dataset|category] [--format md|json|html] [--data OUTPUTS] [-o FILE]\n"
    "Per-aspect means (an \"N/A\" score counts as 5, as in just-eval), judged count, mean output length in\n"
    "words; several files side by side; pairwise files as win / tie / lose. --format json prints one object\n"
    "per file with just-eval's keys; --by needs \"dataset\"/\"category\" in the records or --data OUTPUTS.\n";
static const char HELP_STYLE[] =
    "usage: urial eval style RESULTS... [--json OUT.json] [--records]\n"
    "No judge: per file of urial run's JSONL (or a JSON array), how many answers are in the assistant style:\n"
    "they open by addressing the question and close with an offer of more help (docs/eval.md \"Style\").\n";

/* ---- progress on stderr: the job's line, with the judge's counts ------------------------- */
typedef struct prog {
    cli_job_view view;
    int quiet;
    double t0;
    const ur_eval_progress *last;
} prog;

static const char *extra(void *user, const ur_job_progress *p, char *buf, size_t n) {
    (void)p;
    const ur_eval_progress *e = ((prog *)user)->last;
    snprintf(buf, n, "failed %d  requests %ld  retries %ld", e->failed, e->stats ? e->stats->requests : 0,
             e->stats ? e->stats->retries : 0);
    return buf;
}

static void show(void *user, const ur_eval_progress *e) {
    prog *g = user;
    if (g->quiet) return;
    g->last = e;
    ur_job_progress p = {.total = e->total, .kept = e->kept, .recorded = e->judged + e->failed, .t0 = g->t0};
    cli_job_progress(&g->view, &p);
}

static void note(void *user, const char *msg) {
    prog *g = user;
    if (!g->quiet) cli_job_note(&g->view, msg);
}

/* ---- judging ------------------------------------------------------------------------------- */
/* Where the judge's answers come from: a server, or a local model (--judge local:M). */
typedef struct judge_opts {
    const char *judge, *key_env, *jtmpl;
    int ctx, threads, parallel, reason, url_given, model_given;
    ur_judge_http_params hp;
    cli_opt opts[20];
} judge_opts;

static void judge_opts_init(judge_opts *o) {
    memset(o, 0, sizeof *o);
    o->jtmpl = "auto";
    ur_judge_http_defaults(&o->hp);
    ur_judge_http_params *hp = &o->hp;
    const cli_opt opts[] = {
        OPT_TEXT("judge (an OpenAI-compatible chat-completions server):"),
        {.kind = CLI_STR, .name = "judge-url", .arg = "URL", .dst = &hp->url, .seen = &o->url_given,
         .help = "default https://api.openai.com/v1 (vLLM, llama.cpp's server, ...: http://HOST:PORT/v1)"},
        {.kind = CLI_STR, .name = "judge-model", .arg = "M", .dst = &hp->model, .seen = &o->model_given,
         .help = "default gpt-4o (--protocol just-eval: " UR_JUSTEVAL_JUDGE ")"},
        OPT_STR("api-key-env", 0, "VAR", &o->key_env,
                "the API key's environment variable (default OPENAI_API_KEY; optional for other URLs)"),
        OPT_INT("concurrency", 0, "N", 1, 1024, &hp->concurrency, "requests in flight (default 4)"),
        OPT_REAL("timeout", 0, "S", 0.001, 86400, &hp->timeout, "seconds for one request (default 120)"),
        OPT_INT("retries", 0, "N", 0, 1000, &hp->max_retries,
                "retries of a request on 429, 5xx, timeouts, connection errors (default 8)"),
        OPT_REAL("backoff", 0, "S", 0, 3600, &hp->backoff, "first retry delay, doubled each time, with jitter (default 1)"),
        OPT_REAL("backoff-max", 0, "S", 0, 86400, &hp->backoff_max, "longest retry delay (default 60)"),
        OPT_INT("max-tokens", 0, "N", 1, 1 << 20, &hp->max_tokens, "the judge's answer length (default 1024, as just-eval)"),
        OPT_TEXT("offline judge:"),
        OPT_STR("judge", 0, "local:MODEL.gguf|URL", &o->judge,
                "judge with a local model (answers constrained to the JSON shape), or a URL"),
        OPT_STR("judge-template", 0, "NAME|auto|raw", &o->jtmpl, "its chat template (default auto: the model's, else plain text)"),
        OPT_INT("ctx", 0, "N", 16, 1 << 24, &o->ctx, "its context (default: the model's, at most 8192)"),
        OPT_INT("threads", 't', "N", 1, 1024, &o->threads, "threads (default: all cores)"),
        OPT_INT("parallel", 0, "N", 1, 256, &o->parallel,
                "answers decoded together (default 8, fewer when their KV caches would pass a quarter of\n"
                "the memory; with a chat template); the answers do not depend on it"),
        OPT_INT("reason-max", 0, "N", 1, 1 << 16, &o->reason, "bytes of a reason (default 400)"),
        OPT_END};
    _Static_assert(sizeof opts <= sizeof o->opts, "judge_opts.opts is too small");
    memcpy(o->opts, opts, sizeof opts);
}

/* The judge the options ask for; prints the error and returns NULL. */
static ur_judge *open_judge(judge_opts *o, const char *cmd) {
    const char *local = NULL;
    if (o->judge && !strncmp(o->judge, "local:", 6)) local = o->judge + 6;
    else if (o->judge) o->hp.url = o->judge, o->url_given = 1;
    if (local && o->url_given) return cli_fail("%s: give either --judge local:MODEL or a judge URL, not both", cmd), NULL;
    ur_err err = {{0}};
    ur_judge *j;
    if (local) {
        ur_judge_local_params lp = {.model_path = local, .chat_template = o->jtmpl, .n_ctx = o->ctx,
                                    .n_threads = o->threads, .max_tokens = o->hp.max_tokens, .parallel = o->parallel, .reason_max = o->reason};
        j = ur_judge_local_new(&lp, &err);
    } else {
        const char *var = o->key_env ? o->key_env : "OPENAI_API_KEY";
        const char *key = getenv(var);
        int openai = strstr(o->hp.url, "api.openai.com") != NULL;
        if ((!key || !*key) && (o->key_env || openai))
            return cli_fail("%s: $%s is not set (the judge at %s needs an API key%s)", cmd, var, o->hp.url,
                            o->key_env ? "" : "; --api-key-env VAR reads another variable"),
                   NULL;
        o->hp.api_key = key && *key ? key : NULL;
        j = ur_judge_http_new(&o->hp, &err);
    }
    if (!j) cli_fail("%s", err.msg);
    return j;
}

/* The red-team items' judge: the same server as the main judge, another model (a
 * local judge serves both). NULL after printing the error. */
static ur_judge *open_safety_judge(judge_opts *o, const char *model, const char *cmd) {
    if (o->judge && !strncmp(o->judge, "local:", 6))
        return cli_fail("%s: --safety-judge-model needs a judge server (--judge local:M judges every item)", cmd), NULL;
    judge_opts s = *o;
    s.hp.model = model;
    s.judge = NULL; /* the URL is already in hp */
    return open_judge(&s, cmd);
}

/* --show-template: the built-in text, exactly as a --template file would hold it */
static int show_template(int which) {
    static const char *names[] = {"multi", "safety", "pairwise", "lima6", "grade"};
    int m = which == 1 ? UR_JUDGE_SAFETY : which == 2 ? UR_JUDGE_PAIRWISE : UR_JUDGE_MULTI;
    ur_err err;
    ur_judge_tmpl *t = ur_judge_tmpl_named(names[which], m, &err);
    if (!t) return cli_fail("%s", err.msg);
    const ur_judge_scale *sc = &ur_judge_tmpl_schema(t)->scale;
    if (!ur_judge_scale_is_default(sc)) { /* the declaration line, as a file holds it */
        char b[160];
        if (sc->n_labels) ur_judge_scale_text(sc, b, sizeof b);
        else snprintf(b, sizeof b, "%d-%d", sc->scale_min, sc->scale_max);
        printf("urial-scale: %s\n", b);
    }
    ur_buf s = {0};
    ur_judge_render(t, "${instruction}", m == UR_JUDGE_PAIRWISE ? "${candidate_A}" : "${candidate}",
                    m == UR_JUDGE_PAIRWISE ? "${candidate_B}" : NULL, &s);
    fputs(s.data, stdout);
    ur_buf_free(&s);
    ur_judge_tmpl_free(t);
    return 0;
}

/* Judge the files of ep with j; the summary line and the exit code. */
static int judge_files(const char *cmd, ur_judge *j, ur_eval_params *ep, int pairwise, int quiet, double every) {
    ur_err err = {{0}};
    if (ur_judge_note(j) && !quiet) fprintf(stderr, "urial: %s\n", ur_judge_note(j));
    prog g = {.quiet = quiet, .t0 = ur_now()};
    cli_job_init_view(&g.view);
    g.view.name = cmd, g.view.every = every;
    g.view.extra = extra;
    g.view.user = &g;
    ep->progress = show;
    ep->note = note;
    ep->progress_user = &g;
    ur_eval_progress s;
    int r = pairwise ? ur_eval_pairwise(j, ep, &s, &err) : ur_eval_score(j, ep, &s, &err);
    if (g.view.drawn) fputs("\r\033[K", stderr);
    ur_judge *js[2] = {j, ep->judge_safety && ep->judge_safety != j ? ep->judge_safety : NULL};
    for (int k = 0; k < 2 && js[k]; k++) {
        const ur_judge_stats *st = ur_judge_get_stats(js[k]);
        if (quiet || (r && !st->requests)) continue;
        if (k == 0)
            fprintf(stderr, "urial: %s: %d items: %d judged now, %d already in %s, %d failed; ", cmd, s.total, s.judged,
                    s.kept, ep->out, s.failed);
        else fprintf(stderr, "urial: %s: red-team items: ", cmd);
        fprintf(stderr,
                "%ld requests to %s (%ld retries: %ld rate-limited, %ld server errors, %ld timeouts, %ld connection "
                "errors, %ld bad answers) in %.1f s\n",
                st->requests, ur_judge_model(js[k]), st->retries, st->http_429, st->http_5xx, st->timeouts,
                st->conn_errors, st->bad_bodies, ur_now() - g.t0);
    }
    if (r) return cli_fail("%s", err.msg);
    if (s.failed)
        return cli_fail("%s: %d records failed (each has its \"error\" in %s); run the same command again to retry them",
                        cmd, s.failed, ep->out);
    return 0;
}

static int judge_cmd(int argc, char **argv, int pairwise) {
    const char *cmd = pairwise ? "eval pairwise" : "eval score";
    const char *in = NULL, *a = NULL, *b = NULL, *out = NULL, *tmpl = NULL, *stmpl = NULL, *smodel = NULL;
    int mode = 0, only = 0, quiet = 0, show_mode = -1, order = 0, protocol = 0, mode_given = 0;
    ur_eval_params ep;
    ur_eval_defaults(&ep);
    judge_opts jo;
    judge_opts_init(&jo);
    cli_select sel;
    cli_select_init(&sel);
    sel.opts[0] = (cli_opt)OPT_LONG("limit", 0, "N", 1, 1 << 30, &sel.sel.limit, "only the first N selected items");
    sel.opts[1].help = "only the selected items whose position p (after --limit) has p % N == I";
    const cli_opt opts[] = {
        pairwise ? (cli_opt)OPT_STR("a", 0, "FILE", &a, "pairwise: the outputs of model A (matched by id)")
                 : (cli_opt)OPT_STR("in", 0, "FILE", &in,
                                    "outputs: just-eval JSON (\"instruction\", \"output\", \"generator\", ...) or\n"
                                    "urial run's JSONL"),
        pairwise ? (cli_opt)OPT_STR("b", 0, "FILE", &b, "pairwise: the outputs of model B") : (cli_opt)OPT_TEXT(""),
        OPT_STR("out", 0, "FILE", &out,
                "JSONL records in just-eval's format; resumed: items judged with the same prompt are\n"
                "skipped, failed ones judged again"),
        pairwise ? (cli_opt)OPT_TEXT("")
                 : (cli_opt){.kind = CLI_CHOICE, .name = "mode", .arg = "multi|safety|auto",
                             .choices = "multi|safety|auto", .dst = &mode,
                             .seen = &mode_given, .help = "the five aspects (default), safety, or each by its item"},
        pairwise ? (cli_opt)OPT_TEXT("")
                 : (cli_opt)OPT_CHOICE("protocol", 0, "none|just-eval", &protocol,
                                       "just-eval: the URIAL paper's split, --mode auto with the five aspects\n"
                                       "judged by --judge-model (default " UR_JUSTEVAL_JUDGE ") on the regular items\n"
                                       "and safety by --safety-judge-model (default " UR_JUSTEVAL_SAFETY_JUDGE ")\n"
                                       "on the red-team ones"),
        pairwise ? (cli_opt)OPT_TEXT("")
                 : (cli_opt)OPT_STR("safety-judge-model", 0, "M", &smodel,
                                    "--mode auto: judge the red-team items with this model (same server)"),
        pairwise ? (cli_opt)OPT_CHOICE("order", 0, "both|random", &order,
                                       "judge each pair in both orders and sum (default), or once in a seeded\n"
                                       "random order (the URIAL authors' protocol; the record says which was A)")
                 : (cli_opt)OPT_TEXT(""),
        pairwise ? (cli_opt)OPT_U64("seed", 0, "N", &ep.seed,
                                    "--order random: Python's random.seed (default 42, as the URIAL authors)")
                 : (cli_opt)OPT_TEXT(""),
        OPT_STR("template", 0, "FILE|builtin:NAME", &tmpl,
                "a judge template (${instruction} ${candidate}, or ${candidate_A} ${candidate_B} for\n"
                "pairwise; the URIAL authors' {$instruction} {$candidate_A} {$candidate_B} also work;\n"
                "a first line 'urial-scale: 1-6' or 'urial-scale: Fail=1 Pass=2 Excellent=3' sets\n"
                "the score scale); default: urial's own; built-in: " UR_JUDGE_BUILTINS "\n"
                "(lima6: LIMA's six-point helpfulness; grade: Fail/Pass/Excellent)"),
        OPT_STR("safety-template", 0, "FILE", &stmpl, "--mode auto: the template for red-team items"),
        OPT_CHOICE("only", 0, "all|regular|red-team", &only, "judge only those items"),
        OPT_GROUP(sel.opts),
        OPT_INT("reask", 0, "N", 0, 100, &ep.reask, "ask again when an answer is not the expected JSON (default 2)"),
        OPT_FLAG("quiet", 0, &quiet, "no progress, notes or summary on stderr"),
        OPT_CHOICE("show-template", 0, UR_JUDGE_BUILTINS, &show_mode,
                   "print a built-in judge template (as a --template file would hold it) and exit"),
        OPT_GROUP(jo.opts), OPT_END};
    const cli_cmd c = {cmd, pairwise ? HELP_PAIRWISE : HELP_SCORE, opts, NULL, 0, 0};
    int r0 = cli_parse(&c, argc, argv);
    if (r0 <= 0) return r0 < 0;
    if (show_mode >= 0) return show_template(show_mode);
    if (pairwise ? !a || !b || !out : !in || !out)
        return cli_fail("%s: %s and --out are required (see urial eval --help)", cmd, pairwise ? "--a, --b" : "--in");
    mode = mode == 0 ? UR_JUDGE_MULTI : mode == 1 ? UR_JUDGE_SAFETY : UR_EVAL_AUTO;
    if (protocol && mode_given && mode != UR_EVAL_AUTO)
        return cli_fail("%s: --protocol just-eval judges each item by its kind (--mode auto)", cmd);
    if (protocol) {
        mode = UR_EVAL_AUTO;
        if (!jo.model_given) jo.hp.model = UR_JUSTEVAL_JUDGE;
        if (!smodel && !(jo.judge && !strncmp(jo.judge, "local:", 6))) smodel = UR_JUSTEVAL_SAFETY_JUDGE;
    }
    if (smodel && mode != UR_EVAL_AUTO)
        return cli_fail("%s: --safety-judge-model needs --mode auto (or --protocol just-eval)", cmd);

    /* templates */
    int tmode = pairwise ? UR_JUDGE_PAIRWISE : mode == UR_EVAL_AUTO ? UR_JUDGE_MULTI : mode;
    ur_err err = {{0}};
    ur_judge_tmpl *t = tmpl ? ur_judge_tmpl_get(tmpl, tmode, &err) : ur_judge_tmpl_builtin(tmode);
    ur_judge_tmpl *ts = NULL;
    ur_judge *j = NULL, *jsafe = NULL;
    int rc = 1;
    if (!t || (mode == UR_EVAL_AUTO && !pairwise &&
               !(ts = stmpl ? ur_judge_tmpl_get(stmpl, UR_JUDGE_SAFETY, &err) : ur_judge_tmpl_builtin(UR_JUDGE_SAFETY)))) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (!(j = open_judge(&jo, cmd))) goto done;
    if (smodel && !(jsafe = open_safety_judge(&jo, smodel, cmd))) goto done;
    ep.judge_safety = jsafe;
    ep.mode = pairwise ? UR_JUDGE_PAIRWISE : mode;
    ep.in = pairwise ? a : in;
    ep.in_b = b;
    ep.order = order ? UR_ORDER_RANDOM : UR_ORDER_BOTH;
    ep.out = out;
    ep.tmpl = t;
    ep.tmpl_safety = ts;
    ep.only = only == 0 ? UR_ONLY_ALL : only == 1 ? UR_ONLY_REGULAR : UR_ONLY_RED_TEAM;
    ep.limit = sel.sel.limit > 0 ? (int)sel.sel.limit : 0;
    ep.shard_i = sel.sel.shard_i, ep.shard_n = sel.sel.shard_n;
    rc = judge_files(cmd, j, &ep, pairwise, quiet, sel.progress_every);
done:
    ur_judge_free(jsafe);
    ur_judge_free(j);
    ur_judge_tmpl_free(t);
    ur_judge_tmpl_free(ts);
    return rc;
}

/* ---- reports -------------------------------------------------------------------------------- */
static int report_cmd(int argc, char **argv) {
    ur_report_params p = {0};
    const char *outp = NULL;
    int by = 0, format = 0;
    const cli_opt opts[] = {
        OPT_CHOICE("by", 0, "none|dataset|category", &by, "break the means down by the records' dataset or category"),
        OPT_CHOICE("format", 0, "md|json|html", &format, "the report's format (default md)"),
        OPT_STR("data", 0, "OUTPUTS", &p.data, "an outputs file to look up \"dataset\"/\"category\" by id"),
        OPT_STR("output", 'o', "FILE", &outp, "write the report to FILE (atomically) instead of stdout"), OPT_END};
    const cli_cmd c = {"eval report", HELP_REPORT, opts, NULL, 0, 1 << 20};
    int optind = cli_parse(&c, argc, argv);
    if (optind <= 0) return optind < 0;
    p.by = by == 1 ? UR_BY_DATASET : by == 2 ? UR_BY_CATEGORY : UR_BY_NONE;
    p.format = format == 1 ? UR_REPORT_JSON : format == 2 ? UR_REPORT_HTML : UR_REPORT_MD;
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
    const char *json = NULL;
    int records = 0;
    const cli_opt opts[] = {
        OPT_STR("json", 0, "OUT.json", &json,
                "also write {\"files\":[{file, generator, n, assistant_style, opens, closes, ratio}],\n"
                "\"measure\"}"),
        OPT_FLAG("records", 0, &records, "also print one line per record: ID OPENS CLOSES (ID as JSON, 0/1)"), OPT_END};
    const cli_cmd c = {"eval style", HELP_STYLE, opts, NULL, 0, 1 << 20};
    int optind = cli_parse(&c, argc, argv);
    if (optind <= 0) return optind < 0;
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
