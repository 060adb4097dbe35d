/* urial study --base B --aligned A --data FILE --out DIR --judge URL|local:M.gguf — the
 * paper's experiment for one pair in one resumable command: the options and one call
 * of ur_study_run (include/urial/study.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/remote.h"
#include "urial/study.h"

static const char USAGE[] =
    "usage: urial study --base BASE.gguf --aligned ALIGNED.gguf --data FILE --out DIR --judge URL|local:JUDGE.gguf\n"
    "                   [--methods LIST] [--limit N] [--shard I/N] [--by category|dataset|tag] [--plan] [options]\n"
    "The URIAL paper's experiment for a base/aligned pair: answers by the base model under each method and by\n"
    "the aligned model under its chat template, every answer judged with the just-eval protocol (five aspects,\n"
    "safety on red-team items), TDS between the pair; DIR/study.json and DIR/report.html. Each step is a\n"
    "resumable job: kill it anywhere and run the same command again. Shards may share DIR; the report counts\n"
    "every shard there. Methods (--methods, comma-separated; default urial-k0,urial-k1,urial-k3,aligned):\n";

static const char EPILOG[] =
    "Files: DIR/gen/METHOD.jsonl (urial run), DIR/judge/METHOD.jsonl (urial eval score --mode auto),\n"
    "DIR/tds/tokens.jsonl and summary.json (urial tds), DIR/study.json, DIR/report.html; with --shard I/N\n"
    "the step files are under DIR/shard-I-of-N/ (gen/, judge/, tds/). docs/study.md has the details.\n";

int cmd_study(int argc, char **argv) {
    ur_study_params p = {.sel = UR_JOB_SELECT_ALL};
    const char *methods = NULL, *key_env = NULL, *aligned_url = NULL;
    int by = 0;
    cli_engine eng;
    cli_engine_init(&eng, NULL, NULL);
    cli_decoding dec;
    cli_decoding_init(&dec, 1024, "tokens per answer at most (default 1024, as the paper's just-eval runs)");
    cli_select sel;
    cli_select_init(&sel);
    sel.opts[1].help = "only items whose position p (after --limit) has p % N == I; shards may share --out";
    cli_remote rem;
    cli_remote_init(&rem, "generation on a server (vLLM, urial serve; --base and --aligned name the models there):");
    const cli_opt opts[] = {
        OPT_STR("base", 0, "BASE.gguf", &p.base, "the base model"),
        OPT_STR("aligned", 0, "ALIGNED.gguf", &p.aligned, "the aligned model (answers under its own chat template)"),
        OPT_STR("template", 0, "NAME|auto", &p.aligned_template, "the aligned model's chat template (default auto)"),
        OPT_STR("data", 0, "FILE", &p.data, "the instructions: just-eval-instruct JSON, AlpacaEval JSON, or JSONL"),
        OPT_STR("out", 0, "DIR", &p.out_dir, "the study's directory (created; resumed when it holds a study)"),
        OPT_STR("methods", 0, "LIST", &methods, "the base model's methods and aligned (see above)"),
        OPT_STR("judge", 0, "URL|local:M.gguf", &p.judge, "the judge: an OpenAI-compatible server, or a local GGUF"),
        OPT_STR("judge-model", 0, "NAME", &p.judge_model, "the judge's model on its server (default gpt-4o)"),
        OPT_STR("judge-key-env", 0, "VAR", &key_env, "the judge's API key variable (default OPENAI_API_KEY, if set)"),
        OPT_INT("judge-parallel", 0, "N", 1, 256, &p.judge_parallel, "a local judge: answers decoded together"),
        OPT_INT("judge-ctx", 0, "N", 16, 1 << 24, &p.judge_ctx, "a local judge's context (default: its model's, <= 8192)"),
        OPT_INT("judge-reason-max", 0, "N", 1, 1 << 16, &p.judge_reason_max, "a local judge: bytes of a reason (400)"),
        OPT_CHOICE("by", 0, "category|dataset|tag", &by, "the report's breakdown (tag: the items' \"tags\")"),
        OPT_FLAG("plan", 0, &p.plan, "print the steps and the estimated time on this machine; run nothing"),
        OPT_INT("parallel", 0, "N", 1, 256, &p.parallel, CLI_PARALLEL_HELP),
        OPT_GROUP(sel.opts), OPT_GROUP(eng.opts), OPT_GROUP(dec.opts), OPT_GROUP(rem.opts),
        OPT_STR("aligned-url", 0, "URL", &aligned_url, "the aligned model's server, when not --base-url's"), OPT_END};
    ur_buf help = {0};
    ur_buf_printf(&help, "%s", USAGE);
    ur_study_methods_help(&help);
    const cli_cmd cmd = {"study", help.data, opts, EPILOG, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    ur_buf_free(&help);
    if (a <= 0) return a < 0;
    ur_study_method ms[32];
    ur_err err = {{0}};
    if ((p.n_methods = ur_study_methods(methods, ms, 32, &err)) < 0) return cli_fail("study: %s", err.msg);
    p.methods = ms;
    p.api_key = getenv(key_env ? key_env : "OPENAI_API_KEY");
    if (key_env && !p.api_key) return cli_fail("study: --judge-key-env %s: the environment variable is not set", key_env);
    if (rem.on && !(p.client = cli_remote_open(&rem, "study", p.base ? p.base : "base"))) return 1;
    if (aligned_url && !rem.on) return cli_fail("study: --aligned-url needs --backend openai"), ur_remote_free(p.client), 1;
    cli_remote rem_a = rem;
    rem_a.url = aligned_url;
    if (rem.on && aligned_url && !(p.client_aligned = cli_remote_open(&rem_a, "study", p.aligned ? p.aligned : "a")))
        return ur_remote_free(p.client), 1;
    p.sel = sel.sel, p.gp = dec.gp, p.threads = eng.threads, p.n_ctx = eng.ctx, p.by = by;
    cli_job_view view;
    cli_job_init_view(&view);
    p.progress = cli_job_progress, p.note = cli_job_note, p.hook_user = &view;
    ur_buf plan = {0};
    double t0 = ur_now();
    int r = ur_study_run(&p, &plan, &err);
    cli_job_end_view(&view);
    ur_remote_free(p.client), ur_remote_free(p.client_aligned);
    if (plan.len) fputs(plan.data, stdout);
    ur_buf_free(&plan);
    if (r) return cli_fail("%s", err.msg);
    if (!p.plan) fprintf(stderr, "urial: study: done in %.1f s; report: %s/report.html\n", ur_now() - t0, p.out_dir);
    return 0;
}
