/* urial defaults MODEL.gguf [--urial NAME|FILE] [--repeat-penalty R] [--repeat-last-n N] [--clear] [--out OUT]
 * — show or record the URIAL prompt and decoding a model is meant to be used with
 * (keys under "urial.", read by chat, run, serve and generate when the user gives
 * none: ur_chat_recorded in include/urial/chat.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/chat.h"

static const char USAGE[] =
    "usage: urial defaults MODEL.gguf [--urial NAME|FILE] [--repeat-penalty R] [--repeat-last-n N] [--clear]\n"
    "                      [--out OUT.gguf]\n"
    "Show the URIAL prompt and decoding MODEL records (GGUF keys urial.prompt, urial.repeat_penalty,\n"
    "urial.repeat_last_n), or record them: chat, run, serve and generate then use them whenever no --urial,\n"
    "--template, --repeat-penalty or --repeat-last-n is given. The model is rewritten in place (atomically)\n"
    "unless --out names another file; its tensors are copied unchanged.\n";

static void show(const ur_gguf *g) {
    ur_str t = {0, 0};
    float pen;
    int64_t n;
    int any = 0;
    if (!ur_gguf_get_str(g, "urial.prompt", &t, NULL)) {
        printf("urial.prompt: %zu bytes, begins \"%.*s\"\n", (size_t)t.len, (int)(t.len < 60 ? t.len : 60), t.ptr);
        any = 1;
    }
    if (!ur_gguf_get_f32(g, "urial.repeat_penalty", &pen, NULL)) printf("urial.repeat_penalty: %g\n", pen), any = 1;
    if (!ur_gguf_get_i64(g, "urial.repeat_last_n", &n, NULL)) printf("urial.repeat_last_n: %lld\n", (long long)n), any = 1;
    if (!any) printf("%s records no defaults (urial defaults --help)\n", g->path);
}

/* The new keys onto w; -1 (printed) when the prompt cannot be read. */
static int set_keys(ur_gguf_writer *w, const char *urial, double pen, int last_n, int clear) {
    if (clear) {
        ur_gguf_w_remove(w, "urial.prompt");
        ur_gguf_w_remove(w, "urial.repeat_penalty");
        ur_gguf_w_remove(w, "urial.repeat_last_n");
    }
    if (urial) {
        ur_err err = {{0}};
        ur_chat *f = ur_chat_urial(urial, &err);
        if (!f) return cli_fail("defaults: %s", err.msg), -1;
        size_t len;
        const char *text = ur_chat_urial_prompt(f, &len);
        ur_gguf_w_str_n(w, "urial.prompt", text, len);
        ur_chat_free(f);
    }
    if (pen > 0) ur_gguf_w_f32(w, "urial.repeat_penalty", (float)pen);
    if (last_n != UR_LAST_N_DEFAULT) ur_gguf_w_i32(w, "urial.repeat_last_n", last_n);
    return 0;
}

int cmd_defaults(int argc, char **argv) {
    const char *urial = NULL, *out = NULL;
    double pen = 0;
    int last_n = UR_LAST_N_DEFAULT, clear = 0;
    const cli_opt opts[] = {
        OPT_STR("urial", 0, "NAME|FILE", &urial, "record this URIAL prompt (a built-in name or a prompt file)"),
        OPT_REAL("repeat-penalty", 0, "R", 0.01, 100, &pen, "record this repetition penalty"),
        OPT_INT("repeat-last-n", 0, "N", -1, 1 << 24, &last_n, "record the penalty's window (-1: the whole context)"),
        OPT_FLAG("clear", 0, &clear, "remove the recorded defaults first"),
        OPT_STR("out", 'o', "OUT.gguf", &out, "write to OUT instead of rewriting MODEL"),
        OPT_END};
    const cli_cmd cmd = {"defaults", USAGE, opts, NULL, 1, 1};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 1) return cli_fail("defaults: expected one MODEL.gguf (see urial defaults --help)");
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(argv[a], &err);
    if (!g) return cli_fail("%s", err.msg);
    int rc = 0;
    if (!urial && pen <= 0 && last_n == UR_LAST_N_DEFAULT && !clear) {
        show(g);
    } else {
        ur_gguf_writer *w = ur_gguf_writer_from(g, &err);
        const char *path = out ? out : argv[a];
        if (!w) rc = cli_fail("%s", err.msg);
        else if (set_keys(w, urial, pen, last_n, clear)) rc = 1;
        else if (ur_gguf_write(w, path, &err)) rc = cli_fail("%s", err.msg);
        else fprintf(stderr, "urial: wrote %s\n", path);
        ur_gguf_writer_free(w);
    }
    ur_gguf_close(g);
    return rc;
}
