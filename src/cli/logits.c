/* urial logits -m MODEL (--text TEXT | --ids 1,2,3) [--top K] [--no-bos] — teacher-forced
 * next-token logits at every position from one batched forward, as JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: urial logits -m MODEL.gguf (--text TEXT | --ids 1,2,3) [--top K] [--no-bos] [--special]\n"
    "One JSON object per input position on stdout: {\"pos\":i,\"token\":id,\"top\":[[id,logit],...]},\n"
    "the K largest next-token logits after position i, all from one batched forward.\n"
    "  --ids LIST     token ids, used exactly as given (no BOS added)\n"
    "  --text TEXT    text, tokenized with BOS unless --no-bos\n"
    "  --top K        logits per position (default 10)\n"
    "  --ctx N        context length (default: the input length)\n"
    "  -t, --threads N\n";

/* Indices of the k largest values of x[0..n), largest first (ties: lower id first). */
static void top_k(const float *x, int n, int k, int *out) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m == k && x[i] <= x[out[m - 1]]) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && x[out[j - 1]] < x[i]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
}

int cmd_logits(int argc, char **argv) {
    enum { O_NOBOS = 256, O_SPECIAL, O_CTX };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"text", required_argument, 0, 'x'},
        {"ids", required_argument, 0, 'i'},   {"top", required_argument, 0, 'k'},
        {"no-bos", no_argument, 0, O_NOBOS},  {"special", no_argument, 0, O_SPECIAL},
        {"ctx", required_argument, 0, O_CTX}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *model = NULL, *text = NULL, *idstr = NULL;
    long top = 10, threads = 0, n_ctx = 0;
    int no_bos = 0, special = 0, c;
    while ((c = cli_getopt(argc, argv, "m:t:h", opts, "logits")) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'x': text = optarg; break;
        case 'i': idstr = optarg; break;
        case 'k': if (cli_int("--top", optarg, 1, 1 << 20, &top)) return 1; break;
        case O_NOBOS: no_bos = 1; break;
        case O_SPECIAL: special = 1; break;
        case O_CTX: if (cli_int("--ctx", optarg, 1, 1 << 24, &n_ctx)) return 1; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model || (!text == !idstr))
        return cli_fail("logits: -m MODEL and exactly one of --text or --ids are required (see urial logits --help)");
    if (optind != argc) return cli_fail("logits: unexpected argument '%s'", argv[optind]);
    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    int rc = 1, n;
    int32_t *ids = NULL;
    float *logits = NULL;
    int *best = NULL;
    ur_ctx *ctx = NULL;
    n = idstr ? cli_parse_ids(idstr, &ids) : cli_tokenize(m->vocab, text, !no_bos && ur_vocab_add_bos(m->vocab), special, &ids);
    if (n < 0) goto out;
    ctx = cli_new_ctx(m, n_ctx ? (int)n_ctx : n, (int)threads, 1);
    if (!ctx) goto out;
    const int nv = m->hp.n_vocab;
    if (top > nv) top = nv;
    logits = malloc(sizeof(float) * (size_t)n * (size_t)nv);
    best = malloc(sizeof(int) * (size_t)top);
    if (!logits || !best) {
        rc = cli_fail("logits: out of memory for %d x %d logits", n, nv);
        goto out;
    }
    ur_err err = {{0}};
    if (ur_decode(ctx, ids, n, logits, 1, &err)) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    ur_buf b = {0};
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * nv;
        top_k(row, nv, (int)top, best);
        ur_buf_printf(&b, "{\"pos\":%d,\"token\":%d,\"top\":[", i, ids[i]);
        for (int j = 0; j < top; j++) ur_buf_printf(&b, "%s[%d,%.9g]", j ? "," : "", best[j], row[best[j]]);
        ur_buf_puts(&b, "]}\n");
        fwrite(b.data, 1, b.len, stdout);
        b.len = 0;
    }
    ur_buf_free(&b);
    rc = 0;
out:
    free(ids), free(logits), free(best);
    ur_ctx_free(ctx);
    ur_model_free(m);
    return rc;
}
