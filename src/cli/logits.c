/* urial logits -m MODEL (--text TEXT | --ids 1,2,3) [--top K] [--no-bos] — teacher-forced
 * next-token logits at every position from one batched forward, as JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char USAGE[] =
    "usage: urial logits -m MODEL.gguf (--text TEXT | --ids 1,2,3) [--top K] [--no-bos] [--special]\n"
    "One JSON object per input position on stdout: {\"pos\":i,\"token\":id,\"top\":[[id,logit],...]},\n"
    "the K largest next-token logits after position i, all from one batched forward.\n";

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
    const char *text = NULL, *idstr = NULL;
    int top = 10, no_bos = 0, special = 0;
    cli_engine eng;
    cli_engine_init(&eng, "the model", "context length: the longest input allowed (default: the model's context;\n"
                    "the input's length is what is allocated)");
    const cli_opt opts[] = {
        OPT_GROUP(eng.opts), OPT_STR("ids", 0, "LIST", &idstr, "token ids, used exactly as given (no BOS added)"),
        OPT_STR("text", 0, "TEXT", &text, "text, tokenized with BOS unless --no-bos"),
        OPT_INT("top", 0, "K", 1, 1 << 20, &top, "logits per position (default 10)"),
        OPT_FLAG("no-bos", 0, &no_bos, "do not prepend BOS to --text"),
        OPT_FLAG("special", 0, &special, "parse special-token text in --text"), OPT_END};
    const cli_cmd cmd = {"logits", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const char *model = eng.model;
    if (!model || (!text == !idstr))
        return cli_fail("logits: -m MODEL and exactly one of --text or --ids are required (see urial logits --help)");
    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    int rc = 1, n;
    int32_t *ids = NULL;
    float *logits = NULL;
    int *best = NULL;
    ur_ctx *ctx = NULL;
    n = idstr ? cli_parse_ids(idstr, &ids) : cli_tokenize(m->vocab, text, !no_bos && ur_vocab_add_bos(m->vocab), special, &ids);
    if (n < 0) goto out;
    if (n > (eng.ctx ? eng.ctx : m->hp.n_ctx_train)) { /* attention is quadratic: no unbounded inputs */
        rc = cli_fail("logits: %d tokens pass the context of %d (%s)", n, eng.ctx ? eng.ctx : m->hp.n_ctx_train,
                      eng.ctx ? "--ctx" : "the model's; --ctx N raises it");
        goto out;
    }
    ctx = cli_new_ctx(m, eng.ctx ? eng.ctx : n, eng.threads, 1);
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
