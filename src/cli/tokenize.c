/* urial tokenize -m MODEL --text TEXT [--no-bos] [--special] [--json] [--pieces] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tokenizer.h"

static const char USAGE[] =
    "usage: urial tokenize -m MODEL.gguf --text TEXT [--no-bos] [--special] [--json] [--pieces]\n"
    "Token ids of TEXT under the model's tokenizer (a vocab-only GGUF works too).\n";

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int no_bos = 0, special = 0, json = 0, pieces = 0;
    const cli_opt opts[] = {
        OPT_STR("model", 'm', "MODEL.gguf", &model, "the model, or a vocab-only GGUF"),
        OPT_STR("text", 0, "TEXT", &text, "the text"),
        OPT_FLAG("no-bos", 0, &no_bos, "do not prepend the BOS token (added by default when the model asks for it)"),
        OPT_FLAG("special", 0, &special, "parse special-token text such as <s> or [INST] into those tokens"),
        OPT_FLAG("json", 0, &json, "print a JSON array of ids"),
        OPT_FLAG("pieces", 0, &pieces, "print one 'id<TAB>piece' line per token"), OPT_END};
    const cli_cmd cmd = {"tokenize", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!model || !text) return cli_fail("tokenize: -m MODEL and --text TEXT are required (see urial tokenize --help)");
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(model, &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    if (!v) {
        ur_gguf_close(g);
        return cli_fail("%s", err.msg);
    }
    int add_bos = !no_bos && ur_vocab_add_bos(v);
    int32_t *ids = NULL;
    int n = cli_tokenize(v, text, add_bos, special, &ids);
    int rc = n < 0;
    if (n >= 0) {
        ur_buf b = {0};
        if (json) ur_buf_puts(&b, "[");
        for (int i = 0; i < n; i++) {
            if (pieces) {
                size_t pl;
                const char *p = ur_vocab_piece(v, ids[i], &pl);
                ur_buf_printf(&b, "%d\t%.*s\n", ids[i], (int)pl, p);
            } else {
                ur_buf_printf(&b, json ? "%s%d" : "%s%d", i ? (json ? "," : " ") : "", ids[i]);
            }
        }
        if (!pieces) ur_buf_puts(&b, json ? "]\n" : "\n");
        fwrite(b.data, 1, b.len, stdout);
        ur_buf_free(&b);
    }
    free(ids);
    ur_vocab_free(v);
    ur_gguf_close(g);
    return rc;
}
