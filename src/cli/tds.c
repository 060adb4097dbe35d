/* urial tds --base B --aligned A --data FILE --out DIR — token distribution shift;
 * urial tds prefix (the same pair, the prefix experiment); urial tds report DIR.
 * The options, the two models (or the base on a server) and one call of ur_tds_run
 * or ur_tds_prefix_run (include/urial/tds.h); then the reports from the records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli.h"
#include "urial/remote.h"
#include "urial/tds.h"

static const char USAGE[] =
    "usage: urial tds --base BASE.gguf --aligned ALIGNED.gguf --data FILE --out DIR [options]\n"
    "       urial tds --base NAME --backend openai --base-url URL --aligned ALIGNED.gguf --data FILE --out DIR\n"
    "       urial tds report DIR [DIR...] [--out FILE.html]\n"
    "       urial tds prefix --base BASE.gguf --aligned ALIGNED.gguf --data FILE --k 5,10,20 --out DIR\n"
    "Token distribution shift, as the paper and the authors' AlignTDS code measure it: each model reads\n"
    "its own prompt (the aligned model its chat template, the base model the authors' zero-shot wrapper\n"
    "of the query) followed by the same answer tokens; at every answer position the aligned model's own\n"
    "top token is ranked under the base model (eta = 1: the base's top token too) and classed unshifted\n"
    "(eta = 1), marginal (2-3) or shifted (> 3); also both probabilities, the base's top 3, KL in both\n"
    "directions over the vocabulary and AlignTDS's top-30 KL. One teacher-forced forward per model and answer.\n";

static const char USAGE_PREFIX[] =
    "usage: urial tds prefix --base BASE.gguf --aligned ALIGNED.gguf --data FILE --out DIR [--k 5,10,20] [options]\n"
    "For each k: the input and the first k tokens of the aligned model's answer go into the base model,\n"
    "which continues greedily for the rest of the answer's length; agreement is the share of those\n"
    "positions where its token is the aligned one (k = 0: the base model alone on the same input).\n";

static const char FILES[] =
    "Prompts (--aligned-prompt, --base-prompt): aligntds (the authors' zero-shot wrapper of the query),\n"
    "plain (the query alone), same (base only: the aligned model's input tokens), input (the TDS authors'\n"
    "rendered \"input\"), auto (the aligned model's chat template), a template name or a URIAL prompt\n"
    "(a built-in name or a file; urial prompt --list shows the names).\n"
    "Files in DIR:\n"
    "  tokens.jsonl   one record per answer (append-only: kill and rerun to resume; each shard needs its\n"
    "                 own DIR, joined with urial merge --jsonl ALL/tokens.jsonl D0/tokens.jsonl ...)\n"
    "  summary.json   counts and ratios overall, by position and relative position, per answer; the KLs,\n"
    "                 AlignTDS's TP/TR curves, top tokens and words\n"
    "  report.html    one self-contained page: the numbers, the paper's figures, every answer coloured by class\n"
    "urial tds report DIR rewrites summary.json and report.html from DIR/tokens.jsonl; with several DIRs\n"
    "(pairs, or a model against itself as the baseline) it rewrites each summary.json and puts the pairs\n"
    "side by side in one page, --out FILE.html.\n";

static const char FILES_PREFIX[] =
    "Files in DIR: prefix.jsonl (one record per answer: per k the base continuation, a 0/1 string of\n"
    "matches, the count and the initial exact run), prefix.json (per k: agreement overall and by\n"
    "position after the prefix, mean exact run), prefix.html (a table and the agreement plot).\n"
    "urial tds prefix report DIR rewrites prefix.json and prefix.html from prefix.jsonl.\n";

/* ---- reports ----------------------------------------------------------------------------- */
/* One pair's headline numbers from its summary.json. */
static void headline(const char *dir, int several, int n, const char *sum, const char *html_path) {
    json_t *s = json_loads(sum, 0, NULL), *e;
    json_t *r = json_object_get(s, "ratios"), *w = json_object_get(s, "written_is_aligned_top");
    struct stat st;
    fprintf(stderr, "urial: tds: %s%s%d answers, %lld positions: unshifted %.2f%%, marginal %.2f%%, shifted %.2f%%",
            several ? dir : "", several ? ": " : "", n, (long long)json_integer_value(json_object_get(s, "positions")),
            100 * json_number_value(json_object_get(r, "unshifted")), 100 * json_number_value(json_object_get(r, "marginal")),
            100 * json_number_value(json_object_get(r, "shifted")));
    if (json_is_number(json_object_get(w, "ratio")))
        fprintf(stderr, "; written = aligned top %.2f%%", 100 * json_number_value(json_object_get(w, "ratio")));
    json_t *kl = json_object_get(json_object_get(json_object_get(s, "kl"), "align_base"), "mean");
    if (json_is_number(kl)) fprintf(stderr, "; mean KL(P_align||P_base) %.4f", json_number_value(kl));
    if (html_path)
        fprintf(stderr, "; wrote %s/summary.json and %s (%.1f MB)", dir, html_path,
                stat(html_path, &st) ? 0.0 : (double)st.st_size / 1e6);
    else fprintf(stderr, "; wrote %s/summary.json", dir);
    fputc('\n', stderr);
    json_t *top = json_object_get(s, "top_shifted");
    if (json_array_size(top)) {
        ur_buf t = {0};
        for (size_t i = 0; i < json_array_size(top) && i < 12; i++) {
            json_t *txt = json_object_get(e = json_array_get(top, i), "text");
            ur_buf_puts(&t, i ? ", " : "");
            ur_buf_json_str(&t, json_string_value(txt), json_string_length(txt));
            ur_buf_printf(&t, " %lld", (long long)json_integer_value(json_object_get(e, "count")));
        }
        fprintf(stderr, "urial: tds: most frequent shifted tokens (eta > 3): %s\n", t.data);
        ur_buf_free(&t);
    }
    json_decref(s);
}

/* Write the reports of dirs[0..n) and print their headline numbers. html: the
 * combined page of several dirs (NULL: DIR/report.html of the one dir). */
static int reports(const char *const *dirs, int nd, int prefix, const char *html, const char *cmd) {
    ur_buf *sum = ur_xcalloc((size_t)nd, sizeof *sum), note = {0}, path = {0};
    int *n = ur_xcalloc((size_t)nd, sizeof *n), rc = 0;
    ur_err err = {{0}};
    if (ur_tds_write_reports(dirs, nd, prefix, html, sum, n, &note, &err)) {
        rc = cli_fail("%s", err.msg);
    } else {
        if (note.len) fprintf(stderr, "urial: %s: %s\n", cmd, note.data);
        for (int i = 0; i < nd && prefix; i++) {
            json_t *s = json_loads(sum[i].data, 0, NULL), *e;
            size_t k;
            fprintf(stderr, "urial: tds prefix: %d answers; agreement", n[i]);
            json_array_foreach(json_object_get(s, "k"), k, e)
                fprintf(stderr, "%s k=%lld %.2f%%", k ? "," : "", (long long)json_integer_value(json_object_get(e, "k")),
                        100 * json_number_value(json_object_get(e, "agreement")));
            fprintf(stderr, "; wrote %s/prefix.json and %s/prefix.html\n", dirs[i], dirs[i]);
            json_decref(s);
        }
        if (!prefix && !html) ur_buf_printf(&path, "%s/report.html", dirs[0]);
        for (int i = 0; i < nd && !prefix; i++)
            headline(dirs[i], nd > 1, n[i], sum[i].data, i == nd - 1 ? (html ? html : path.data) : NULL);
    }
    for (int i = 0; i < nd; i++) ur_buf_free(&sum[i]);
    free(sum), free(n);
    ur_buf_free(&note), ur_buf_free(&path);
    return rc;
}

static int cmd_report(int argc, char **argv, int prefix) {
    const char *name = prefix ? "tds prefix report" : "tds report", *html = NULL;
    const cli_opt opts[] = {prefix ? (cli_opt)OPT_END
                                   : (cli_opt)OPT_STR("out", 'o', "FILE.html", &html,
                                                      "several DIRs: the page that puts them side by side (required)"),
                            OPT_END};
    const cli_cmd cmd = {name,
                         prefix ? "usage: urial tds prefix report DIR\n"
                                : "usage: urial tds report DIR [DIR...] [--out FILE.html]\n",
                         opts, prefix ? FILES_PREFIX : FILES, 0, prefix ? 1 : 64};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const int nd = argc - a;
    if (nd < 1 || (prefix && nd != 1)) return cli_fail("%s: give the directory of a tds run (see urial tds --help)", name);
    if (nd > 1 && !html) return cli_fail("%s: %d directories: give --out FILE.html for the page that holds them", name, nd);
    if (nd == 1 && html) return cli_fail("%s: --out is for several directories (one writes DIR/report.html)", name);
    return reports((const char *const *)argv + a, nd, prefix, html, name) ? 1 : 0;
}

/* ---- a run -------------------------------------------------------------------------------- */
/* "5,10,20" -> ks (at most 16, distinct, >= 0) */
typedef struct ks_list {
    int v[16], n;
} ks_list;
static int parse_ks(void *dst, const char *s) {
    ks_list *k = dst;
    k->n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1 << 20 || (*end && *end != ',') || k->n == 16)
            return cli_fail("tds prefix: --k '%s' is not a list of at most 16 prefix lengths >= 0 (e.g. 5,10,20)", s), -1;
        for (int i = 0; i < k->n; i++)
            if (k->v[i] == v) return cli_fail("tds prefix: --k '%s' repeats %ld", s, v), -1;
        k->v[k->n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!k->n) return cli_fail("tds prefix: --k is empty"), -1;
    return 0;
}

/* A prompt named on the command line: aligntds, plain, same, input, auto, a template
 * name or a URIAL prompt (name or file). *owned gets a format to free. 0, or -1
 * after printing the error line. */
static int open_prompt(const char *spec, const char *opt, const char *cmd, const ur_model *ma, const ur_dataset *ds,
                       ur_tds_prompt *out, ur_chat **owned) {
    static const struct { const char *name; int kind; } kw[] = {{"aligntds", UR_TDS_PROMPT_ALIGNTDS},
        {"plain", UR_TDS_PROMPT_PLAIN}, {"same", UR_TDS_PROMPT_SAME}, {"input", UR_TDS_PROMPT_INPUT}};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (!strcmp(spec, kw[i].name)) {
            if (kw[i].kind == UR_TDS_PROMPT_SAME && !strcmp(opt, "aligned-prompt"))
                return cli_fail("%s: --aligned-prompt cannot be \"same\" (that is for --base-prompt)", cmd), -1;
            if (kw[i].kind == UR_TDS_PROMPT_INPUT && ds->format != UR_DATA_ALIGNTDS)
                return cli_fail("%s: --%s input needs the TDS authors' file (items with a rendered \"input\"); %s is %s",
                                cmd, opt, ds->path, ur_data_format_name(ds->format)), -1;
            *out = (ur_tds_prompt){kw[i].kind, NULL};
            return 0;
        }
    ur_err err = {{0}};
    ur_chat *f = !strcmp(spec, "auto") ? ur_chat_template_auto(ma->gguf, &err) : ur_chat_template(spec, &err);
    if (!f && strcmp(spec, "auto")) f = ur_chat_urial(spec, &err);
    if (!f) {
        if (!strcmp(spec, "auto")) return cli_fail("%s: --%s auto: %s", cmd, opt, err.msg), -1;
        return cli_fail("%s: --%s '%s' is not aligntds, plain, same, input, auto, a chat template or a URIAL prompt "
                        "(urial prompt --list shows the names; a file: %s)", cmd, opt, spec, err.msg), -1;
    }
    if (ur_chat_warning(f)) fprintf(stderr, "urial: warning: %s\n", ur_chat_warning(f));
    *out = (ur_tds_prompt){UR_TDS_PROMPT_FORMAT, f};
    *owned = f;
    return 0;
}

/* --urial-format: the URIAL prompts among the two (the aligned one given by --urial
 * has it already). 0, or -1 (printed). */
static int legacy_formats(ur_chat *fa, ur_chat *fb, int legacy, const char *cmd) {
    ur_chat *fs[2] = {fa, fb};
    int applied = 0;
    for (int i = 0; i < 2; i++) {
        if (!fs[i] || strcmp(ur_chat_kind_name(fs[i]), "urial")) continue;
        ur_err err = {{0}};
        if (ur_chat_set_urial_format(fs[i], legacy, &err)) return cli_fail("%s: %s", cmd, err.msg), -1;
        applied = 1;
    }
    if (!applied) return cli_fail("%s: --urial-format: neither prompt is a URIAL prompt", cmd), -1;
    return 0;
}

static int run(int argc, char **argv, int prefix) {
    const char *name = prefix ? "tds prefix" : "tds";
    const char *base = NULL, *aligned = NULL, *data = NULL, *outputs = NULL, *out = NULL;
    const char *aprompt = NULL, *bprompt = "aligntds";
    int max_tokens = -2, top_k = 20, tokenize = UR_TDS_JOINT, rank = UR_TDS_RANK_ALIGNED;
    ks_list ks = {{5, 10, 20}, 3};
    cli_engine eng;
    cli_engine_init(&eng, NULL, "context length (default: the models', at most 4096)");
    cli_format fmt;
    cli_format_init(&fmt);
    fmt.opts[0].help = "the aligned model's prompt: a URIAL prompt (--aligned-prompt NAME|FILE)";
    fmt.opts[1].help = "the aligned model's prompt: this chat template (--aligned-prompt NAME|auto)";
    fmt.opts[CLI_FORMAT_ZERO_SHOT].help = "the base model's prompt: the URIAL authors' zero-shot wrapper (a baseline)";
    fmt.opts[CLI_FORMAT_RETRIEVE].help = "the base model's prompt: retrieval ICL, the --k examples of POOL most\n"
                                         "similar to the query (BM25)";
    if (prefix) fmt.opts[CLI_FORMAT_RETRIEVE] = (cli_opt)OPT_END; /* tds prefix has its own --k */
    fmt.refuse = CLI_FORMAT_NO_PREFIX;
    fmt.why = "tds scores given answers (tds prefix is the prefix experiment)";
    int bprompt_given = 0;
    cli_select sel;
    cli_select_init(&sel);
    cli_remote rem;
    cli_remote_init(&rem, "The base model on a server (vLLM, urial serve, ...; the aligned model stays here):");
    rem.opts[1].help = "where the base model runs (default local)";
    rem.opts[2].help = "the server's API, e.g. http://127.0.0.1:8000/v1; --base NAME is the model's\n"
                       "name there (a path ending in .gguf: its base name, as urial serve names it)";
    const cli_opt opts[] = {
        OPT_STR("base", 0, "BASE.gguf", &base, "the base model"),
        OPT_STR("aligned", 0, "ALIGNED.gguf", &aligned, "the aligned model (same tokenizer; a different one is refused)"),
        OPT_STR("data", 0, "FILE", &data,
                "the instructions: just-eval-instruct JSON, AlpacaEval JSON, JSONL with\n"
                "\"instruction\", or the TDS authors' file (\"pure_input\", \"input\", \"output\")"),
        OPT_STR("outputs", 0, "FILE", &outputs,
                "the aligned model's answers, matched to --data by id: just-eval JSON\n"
                "(\"output\" a string), the TDS authors' file (\"output\" a list: the first),\n"
                "or urial run's JSONL. Without it the aligned model answers greedily."),
        OPT_STR("aligned-prompt", 0, "P", &aprompt,
                "what the aligned model reads before the answer (default: the TDS authors'\n"
                "file: its rendered \"input\"; else auto, the aligned model's chat template)"),
        {.kind = CLI_STR, .name = "base-prompt", .arg = "P", .dst = &bprompt, .seen = &bprompt_given,
         .help = "what the base model reads before the answer (default aligntds, the authors'\n"
                 "zero-shot wrapper of the query; same: the aligned model's input)"},
        OPT_CHOICE("tokenize", 0, "joint|separate", &tokenize,
                   "joint (default): prompt + answer as one text, the seam as a reader sees it;\n"
                   "separate: the prompt, then the answer alone, as AlignTDS (HF encode) does"),
        OPT_CHOICE("rank", 0, "aligned|given", &rank,
                   "the token ranked at each position: the aligned model's own top token\n"
                   "(default, the paper's), or the one written in the answer"),
        OPT_GROUP(fmt.opts),
        OPT_INT("max-tokens", 'n', "N", 1, 1 << 24, &max_tokens, "answer tokens at most (default: all of a given answer; 1024 generated)"),
        OPT_GROUP(sel.opts), OPT_GROUP(eng.opts),
        OPT_STR("out", 0, "DIR", &out, "the output directory (created; resumed when it holds a run)"),
        prefix ? (cli_opt)OPT_FN("k", 0, "LIST", parse_ks, &ks, "prefix lengths (default 5,10,20)")
               : (cli_opt)OPT_GROUP(rem.opts),
        prefix ? (cli_opt)OPT_END
               : (cli_opt)OPT_INT("top-logprobs", 0, "K", 3, 1 << 20, &top_k,
                                  "the base's top K logprobs per position (default 20, vLLM's usual maximum;\n"
                                  "at least 3): eta is exact when the aligned token is among them, else\n"
                                  "recorded as \"rank\":null,\"rank_gt\":K (the class is exact); KL is null.\n"
                                  "The answers' token ids are sent as the prompt (/v1/completions, echo,\n"
                                  "max_tokens 0, logprobs K, return_tokens_as_token_ids): the server's model\n"
                                  "must use the aligned model's tokenizer."),
        OPT_END};
    const cli_cmd cmd = {name, prefix ? USAGE_PREFIX : USAGE, opts, prefix ? FILES_PREFIX : FILES, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!base || !aligned || !data || !out)
        return cli_fail("%s: --base, --aligned, --data and --out are required (see urial %s --help)", name, name);
    /* the group's --urial / --template are the aligned model's prompt, its baselines the base model's */
    cli_format af = fmt, bf = fmt;
    af.zero_shot = 0, af.retrieve = NULL, af.format_given = af.k_given = 0;
    bf.urial = bf.tmpl = NULL, bf.format_given = 0;
    if (cli_format_check(&af, name) || cli_format_check(&bf, name)) return 1;
    const int base_kind = fmt.zero_shot || fmt.retrieve; /* the baselines are the base model's prompt */
    if (base_kind && bprompt_given)
        return cli_fail("%s: give either --base-prompt or --%s, not both", name, fmt.zero_shot ? "zero-shot" : "retrieve");
    if (aprompt && (fmt.urial || fmt.tmpl))
        return cli_fail("%s: give either --aligned-prompt or --%s, not both", name, fmt.urial ? "urial" : "template");

    int rc = 1;
    ur_err err = {{0}};
    ur_remote *client = NULL;
    ur_dataset ds = {0};
    ur_model *mb = NULL, *ma = NULL;
    ur_ctx *cb = NULL, *ca = NULL;
    ur_chat *f = NULL, *fb = NULL;
    ur_tds_prompt pa = {0}, pb = {0};
    /* the base on a server: its options are checked before anything is read */
    if (rem.on == CLI_BACKEND_OPENAI_CHAT)
        return cli_fail("%s: --backend openai-chat gives no logprobs of given text: use --backend openai", name);
    if (rem.on && !(client = cli_remote_open(&rem, name, base))) return 1;
    if (ur_dataset_load(data, &ds, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (!(ma = cli_load_model(aligned)) || (!client && !(mb = cli_load_model(base)))) goto done;
    if (mb && ur_tds_same_vocab(mb, ma, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (fmt.urial || fmt.tmpl) {
        if (!(f = cli_format_open(&af, name, aligned, ma->gguf))) goto done;
        pa = (ur_tds_prompt){UR_TDS_PROMPT_FORMAT, f};
    } else if (open_prompt(aprompt ? aprompt : ds.format == UR_DATA_ALIGNTDS ? "input" : "auto", "aligned-prompt", name,
                           ma, &ds, &pa, &f)) {
        goto done;
    }
    if (base_kind) {
        if (!(fb = cli_format_open(&bf, name, base, mb ? mb->gguf : NULL))) goto done;
        pb = (ur_tds_prompt){UR_TDS_PROMPT_FORMAT, fb};
    } else if (open_prompt(bprompt, "base-prompt", name, ma, &ds, &pb, &fb)) {
        goto done;
    }
    if (fmt.format_given && legacy_formats(f, fb, fmt.legacy, name)) goto done;
    int da = cli_default_ctx(ma), db = mb ? cli_default_ctx(mb) : da;
    int n_ctx = eng.ctx ? eng.ctx : db < da ? db : da;
    cli_ctx_warn(ma, n_ctx);
    if (mb) cli_ctx_warn(mb, n_ctx);
    if ((mb && !(cb = cli_new_ctx(mb, n_ctx, eng.threads, 0))) || !(ca = cli_new_ctx(ma, n_ctx, eng.threads, 0)))
        goto done;
    cli_job_view view;
    cli_job_init_view(&view);
    view.name = "tds", view.every = sel.progress_every;
    ur_tds_params p = {.ds = &ds, .outputs = outputs, .aligned_prompt = pa, .base_prompt = pb, .tokenize = tokenize,
                       .rank = rank, .base = cb, .aligned = ca,
                       .base_name = client ? rem.model : base, .aligned_name = aligned, .client = client,
                       .top_k = top_k, .max_tokens = max_tokens, .sel = sel.sel, .out_dir = out, .ks = ks.v,
                       .n_ks = ks.n, .progress = cli_job_progress, .note = cli_job_note, .hook_user = &view};
    ur_tds_summary s;
    double t0 = ur_now();
    int r = (prefix ? ur_tds_prefix_run : ur_tds_run)(&p, &s, &err);
    cli_job_end_view(&view);
    if (r) {
        cli_fail("%s", err.msg);
        goto done;
    }
    const ur_job_progress *pg = &s.p;
    int done = pg->kept + pg->recorded;
    if (prefix) {
        fprintf(stderr, "urial: tds prefix: %d of %d done (%d now, %d skipped)\n", done, pg->total, pg->recorded,
                pg->skipped);
    } else if (client) {
        const ur_remote_stats *st = ur_remote_get_stats(client);
        fprintf(stderr, "urial: tds: %d of %d done (%d scored now, %d skipped); base logprobs from %s (model %s, top %d): "
                        "%ld requests, %ld retries; %ld answer tokens in %.2f s\n",
                done, pg->total, pg->recorded, pg->skipped, rem.url, rem.model, top_k, st->requests, st->retries,
                s.scored_tokens, ur_now() - t0);
    } else {
        fprintf(stderr, "urial: tds: %d of %d done (%d scored now, %d skipped); scoring: %ld tokens through both models "
                        "in %.2f s, %.1f tok/s\n",
                done, pg->total, pg->recorded, pg->skipped, s.scored_tokens, s.t_score,
                s.t_score > 0 ? s.scored_tokens / s.t_score : 0.0);
    }
    if (reports((const char *const[]){out}, 1, prefix, NULL, name)) goto done;
    rc = done == pg->total ? 0 : 1;
done:
    ur_ctx_free(cb), ur_ctx_free(ca);
    ur_model_free(mb), ur_model_free(ma);
    ur_chat_free(f), ur_chat_free(fb);
    ur_remote_free(client);
    ur_dataset_free(&ds);
    return rc;
}

int cmd_tds(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "report")) return cmd_report(argc - 1, argv + 1, 0);
    if (argc >= 2 && !strcmp(argv[1], "prefix")) {
        if (argc >= 3 && !strcmp(argv[2], "report")) return cmd_report(argc - 2, argv + 2, 1);
        return run(argc - 1, argv + 1, 1);
    }
    return run(argc, argv, 0);
}
