/* urial bench -m MODEL [--prompt N] [--gen N] [--threads N] [--json] — prefill and decode speed,
 * measured the way ../shared/tools/llamacpp.mjs measures llama.cpp: one batch of N prompt tokens,
 * then N greedy single-token decode steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tensor.h"

static const char *HELP =
    "usage: urial bench -m MODEL.gguf [--prompt N] [--gen N] [--reps R] [--threads N] [--json]\n"
    "Prefill (one batch of N tokens) and decode (N greedy steps) speed in tokens/s.\n"
    "  --prompt N   prompt tokens (default 128)\n"
    "  --gen N      decode steps (default 32)\n"
    "  --reps R     repeat and keep the best run (default 1)\n"
    "  --json       last line of stdout: {\"prefill_tok_s\":..,\"decode_tok_s\":..,...}\n";

int cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"prompt", required_argument, 0, 'p'},
        {"gen", required_argument, 0, 'g'},   {"reps", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 't'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *model = NULL;
    long np = 128, ng = 32, reps = 1, threads = 0;
    int json = 0, c;
    while ((c = cli_getopt(argc, argv, "m:t:h", opts, "bench")) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': if (cli_int("--prompt", optarg, 1, 1 << 20, &np)) return 1; break;
        case 'g': if (cli_int("--gen", optarg, 0, 1 << 20, &ng)) return 1; break;
        case 'r': if (cli_int("--reps", optarg, 1, 1000, &reps)) return 1; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 1; break;
        case 'j': json = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model) return cli_fail("bench: -m MODEL is required (see urial bench --help)");
    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    const int nv = m->hp.n_vocab;
    int rc = 1;
    ur_ctx *ctx = cli_new_ctx(m, (int)(np + ng + 16), (int)threads, json);
    int32_t *toks = malloc(sizeof *toks * (size_t)np);
    float *logits = malloc(sizeof(float) * (size_t)nv);
    if (!ctx || !toks || !logits) goto out;
    for (long i = 0; i < np; i++) toks[i] = (int32_t)((100 + (i * 7919) % 20000) % nv);
    double best_pp = 0, best_tg = 0;
    ur_err err = {{0}};
    for (long r = 0; r < reps; r++) {
        ur_ctx_truncate(ctx, 0);
        double t0 = ur_now();
        if (ur_decode(ctx, toks, (int)np, logits, 0, &err)) goto fail;
        double pp = (double)np / (ur_now() - t0);
        int32_t tok = (toks[np - 1] + 1) % nv;
        t0 = ur_now();
        for (long i = 0; i < ng; i++) {
            if (ur_decode(ctx, &tok, 1, logits, 0, &err)) goto fail;
            int b = 0;
            for (int j = 1; j < nv; j++)
                if (logits[j] > logits[b]) b = j;
            tok = b;
        }
        double tg = ng ? (double)ng / (ur_now() - t0) : 0;
        if (pp > best_pp) best_pp = pp;
        if (tg > best_tg) best_tg = tg;
    }
    if (!json)
        printf("%s: prefill %ld tokens: %.1f tok/s; decode %ld tokens: %.1f tok/s (%d threads, %s)\n", model, np,
               best_pp, ng, best_tg, ur_ctx_threads(ctx), ur_simd_name(ur_simd_level()));
    else
        printf("{\"engine\":\"urial\",\"model\":\"%s\",\"threads\":%d,\"prompt\":%ld,\"gen\":%ld,\"prefill_tok_s\":%.3f,"
               "\"decode_tok_s\":%.3f,\"simd\":\"%s\"}\n",
               model, ur_ctx_threads(ctx), np, ng, best_pp, best_tg, ur_simd_name(ur_simd_level()));
    rc = 0;
    goto out;
fail:
    rc = cli_fail("%s", err.msg);
out:
    free(toks), free(logits);
    ur_ctx_free(ctx);
    ur_model_free(m);
    return rc;
}
