/* urial tokenize -m MODEL --text TEXT [--no-bos] [--special] [--json] [--pieces] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tokenizer.h"

static const char *HELP =
    "usage: urial tokenize -m MODEL.gguf --text TEXT [--no-bos] [--special] [--json] [--pieces]\n"
    "Token ids of TEXT under the model's tokenizer (a vocab-only GGUF works too).\n"
    "  --no-bos    do not prepend the BOS token (added by default when the model asks for it)\n"
    "  --special   parse special-token text such as <s> or [INST] into those tokens\n"
    "  --json      print a JSON array of ids\n"
    "  --pieces    print one 'id<TAB>piece' line per token\n";

int cmd_tokenize(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"text", required_argument, 0, 't'},
                                         {"no-bos", no_argument, 0, 'B'},       {"special", no_argument, 0, 'S'},
                                         {"json", no_argument, 0, 'j'},         {"pieces", no_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *model = NULL, *text = NULL;
    int no_bos = 0, special = 0, json = 0, pieces = 0, c;
    while ((c = cli_getopt(argc, argv, "m:t:h", opts, "tokenize")) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': text = optarg; break;
        case 'B': no_bos = 1; break;
        case 'S': special = 1; break;
        case 'j': json = 1; break;
        case 'P': pieces = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model || !text) return cli_fail("tokenize: -m MODEL and --text TEXT are required (see urial tokenize --help)");
    if (optind != argc) return cli_fail("tokenize: unexpected argument '%s'", argv[optind]);
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
