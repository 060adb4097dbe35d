/* urial generate -m MODEL -p PROMPT [...] — stream a continuation to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/generate.h"

static const char USAGE[] =
    "usage: urial generate -m MODEL.gguf -p PROMPT [options]\n"
    "Continue PROMPT, streaming the text to stdout; a timing line goes to stderr. With --urial or\n"
    "--template, PROMPT is a user message rendered with that format (its stop strings and decoding\n"
    "defaults apply) and the raw continuation is streamed (urial chat shows it cleaned).\n";

static int write_out(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *prompt = NULL;
    int no_bos = 0, special = 0;
    cli_strs stops = {{0}, 0};
    cli_engine eng;
    cli_engine_init(&eng, "the model", NULL);
    cli_format fmt;
    cli_format_init(&fmt);
    fmt.refuse = CLI_FORMAT_NO_PREFIX;
    fmt.why = "generate prints the continuation alone (use urial prompt or urial run)";
    fmt.opts[0].help = "render PROMPT as a query with this URIAL prompt (a built-in name or a file)";
    fmt.opts[1].help = "render PROMPT as a user message with this chat template (auto: the model's)";
    cli_decoding dec;
    cli_decoding_init(&dec, 256, "tokens to generate (default 256; -1 = until the context is full)");
    const cli_opt opts[] = {
        OPT_GROUP(eng.opts), OPT_STR("prompt", 'p', "PROMPT", &prompt, "the text to continue"),
        OPT_STRS("stop", 0, "STR", &stops, "stop before STR (repeatable); STR never appears in the output"),
        OPT_FLAG("ignore-eos", 0, &dec.gp.ignore_eog, "keep generating after end-of-generation tokens"),
        OPT_FLAG("no-bos", 0, &no_bos, "do not prepend BOS"),
        OPT_FLAG("special", 0, &special, "parse special-token text in the prompt (e.g. <s>, [INST])"),
        OPT_GROUP(fmt.opts), OPT_GROUP(dec.opts), OPT_END};
    const cli_cmd cmd = {"generate", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const char *model = eng.model;
    if (!model || !prompt) return cli_fail("generate: -m MODEL and -p PROMPT are required (see urial generate --help)");
    for (int i = 0; i < stops.n; i++)
        if (!*stops.v[i]) return cli_fail("generate: --stop needs a non-empty string");
    ur_gen_params gp = dec.gp;

    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    int rc = 1;
    int32_t *ids = NULL;
    ur_chat *f = NULL;
    ur_buf text = {0};
    const char *all_stops[80];
    ur_err err = {{0}};
    ur_ctx *ctx = cli_new_ctx(m, eng.ctx, eng.threads, 0);
    if (!ctx) goto out;
    for (int i = 0; i < stops.n; i++) all_stops[gp.n_stop++] = stops.v[i];
    if (cli_format_given(&fmt)) { /* the prompt as a user message in that format */
        if (!(f = cli_format_open(&fmt, "generate", model, m->gguf))) goto out;
        ur_conv conv = {0};
        ur_conv_add(&conv, UR_ROLE_USER, prompt, strlen(prompt));
        int bad = ur_chat_render(f, conv.msgs, conv.n, 1, &text, &err);
        ur_conv_free(&conv);
        if (bad) {
            cli_fail("%s", err.msg);
            goto out;
        }
        prompt = text.data;
        no_bos |= !ur_chat_add_bos(f);
        special |= ur_chat_parse_special(f);
        int nfs;
        const char *const *fs = ur_chat_stops(f, &nfs);
        for (int i = 0; i < nfs && gp.n_stop < 80; i++) all_stops[gp.n_stop++] = fs[i];
        ur_chat_decoding(f, &gp.sampler);
    }
    gp.stop = all_stops;
    int n = cli_tokenize(m->vocab, prompt, !no_bos && ur_vocab_add_bos(m->vocab), special, &ids);
    if (n < 0) goto out;
    ur_gen_result res;
    if (ur_generate(ctx, ids, n, &gp, write_out, NULL, &res, &err)) {
        fflush(stdout);
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    fputc('\n', stdout);
    fflush(stdout);
    fprintf(stderr, "urial: prompt %d tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.1f tok/s), stop: %s\n",
            res.n_prompt, res.t_prompt, res.t_prompt > 0 ? (res.n_prompt - res.n_reused) / res.t_prompt : 0.0, res.n_gen,
            res.t_gen, res.t_gen > 0 ? res.n_gen / res.t_gen : 0.0, ur_stop_reason_name(res.stop_reason));
    ur_buf_free(&res.text);
    rc = 0;
out:
    free(ids);
    ur_buf_free(&text);
    ur_chat_free(f);
    ur_ctx_free(ctx);
    ur_model_free(m);
    return rc;
}
