/* urial bench -m MODEL [--prompt N] [--gen N] [--threads N] [--json] — prefill and decode speed,
 * measured the way ../shared/tools/llamacpp.mjs measures llama.cpp: one batch of N prompt tokens,
 * then N greedy single-token decode steps.
 * urial bench -m MODEL --urial NAME [--query TEXT] [--json] — time to first token for a query after
 * a URIAL prompt, with the prompt's prefix computed every time and with it cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/session.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial bench -m MODEL.gguf [--prompt N] [--gen N] [--reps R] [--threads N] [--json]\n"
    "       urial bench -m MODEL.gguf --urial NAME|FILE [--query TEXT] [--reps R] [--threads N] [--json]\n"
    "Prefill (one batch of N tokens) and decode (N greedy steps) speed in tokens/s.\n"
    "With --urial NAME|FILE: time to first token (ms) for --query after that URIAL prompt, uncached (prompt\n"
    "prefix + query computed in an empty context) and cached (the prefix's KV already in the context);\n"
    "with --json: {\"ttft_uncached_ms\":..,\"ttft_cached_ms\":..,\"prefix_tokens\":..,\"query_tokens\":..,...}\n";

static const char *DEFAULT_QUERY = "What are the names of some famous actors that started their careers on Broadway?";

/* Time to first token after a URIAL prompt: uncached = the whole prompt in an
 * emptied context; cached = the query after the session's cached prefix. Best of
 * `reps` each. */
static int bench_ttft(const char *model, const cli_format *fmt, const char *query, int reps, int threads, int n_ctx,
                      int json) {
    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    int rc = 1;
    ur_err err = {{0}};
    ur_chat *f = cli_format_open(fmt, "bench", model, m->gguf);
    ur_ctx *ctx = f ? cli_new_ctx(m, n_ctx, threads, json) : NULL;
    ur_session_params sp = {UR_REUSE_PREFIX, NULL};
    ur_session *s = ctx ? ur_session_new(ctx, f, &sp, &err) : NULL;
    ur_buf text = {0};
    int32_t *ids = NULL;
    if (ctx && !s) cli_fail("%s", err.msg);
    if (!s) goto out;
    ur_msg q = {UR_ROLE_USER, (char *)query, strlen(query)};
    if (ur_chat_render(f, &q, 1, 1, &text, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    int n = cli_tokenize(m->vocab, text.data, ur_chat_add_bos(f) && ur_vocab_add_bos(m->vocab), 0, &ids);
    if (n < 0) goto out;
    const int np = ur_session_prefix_len(s);
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = 1;
    double best_unc = 1e30, best_c = 1e30;
    for (int r = 0; r < reps; r++) {
        ur_gen_result res;
        ur_ctx_truncate(ctx, 0);
        double t0 = ur_now();
        if (ur_generate(ctx, ids, n, &gp, NULL, NULL, &res, &err)) goto fail;
        double t = ur_now() - t0;
        ur_buf_free(&res.text);
        if (t < best_unc) best_unc = t;
    }
    for (int r = 0; r < reps; r++) {
        if (ur_session_warm(s, &err) < 0) goto fail; /* not timed: the prefix is cached beforehand */
        ur_answer a;
        double t0 = ur_now();
        if (ur_session_answer(s, &q, 1, &gp, NULL, NULL, &a, &err)) goto fail;
        double t = ur_now() - t0;
        int cached = a.n_cached;
        ur_answer_free(&a);
        if (cached != np) {
            cli_fail("bench: the cached path reused %d tokens, not the %d of the prefix", cached, np);
            goto out;
        }
        if (t < best_c) best_c = t;
    }
    if (!json)
        printf("%s: %s + query: prefix %d tokens, query %d tokens; time to first token %.1f ms uncached, %.1f ms "
               "cached (%.1fx) (%d threads, %s)\n",
               model, ur_chat_name(f), np, n - np, best_unc * 1e3, best_c * 1e3, best_unc / best_c,
               ur_ctx_threads(ctx), ur_simd_name(ur_simd_level()));
    else
        printf("{\"engine\":\"urial\",\"model\":\"%s\",\"urial\":\"%s\",\"threads\":%d,\"prefix_tokens\":%d,"
               "\"query_tokens\":%d,\"ttft_uncached_ms\":%.3f,\"ttft_cached_ms\":%.3f,\"speedup\":%.2f,"
               "\"simd\":\"%s\"}\n",
               model, ur_chat_name(f), ur_ctx_threads(ctx), np, n - np, best_unc * 1e3, best_c * 1e3,
               best_unc / best_c, ur_simd_name(ur_simd_level()));
    rc = 0;
    goto out;
fail:
    cli_fail("%s", err.msg);
out:
    free(ids);
    ur_buf_free(&text);
    ur_session_free(s);
    ur_ctx_free(ctx);
    ur_chat_free(f);
    ur_model_free(m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *query = NULL;
    int np = 128, ng = 32, reps = 1, json = 0;
    cli_engine eng;
    cli_engine_init(&eng, "the model", "the largest --prompt + --gen allowed (default: the model's context)");
    cli_format fmt; /* --urial only */
    cli_format_init(&fmt);
    fmt.opts[1] = (cli_opt)OPT_END;
    const cli_opt opts[] = {
        OPT_GROUP(eng.opts), OPT_INT("prompt", 0, "N", 1, 1 << 20, &np, "prompt tokens (default 128)"),
        OPT_INT("gen", 0, "N", 0, 1 << 20, &ng, "decode steps (default 32)"),
        OPT_INT("reps", 0, "R", 1, 1000, &reps, "repeat and keep the best run (default 1)"),
        OPT_FLAG("json", 0, &json, "last line of stdout: {\"prefill_tok_s\":..,\"decode_tok_s\":..,...}"),
        OPT_GROUP(fmt.opts), OPT_STR("query", 0, "TEXT", &query, "with --urial; default: just-eval-instruct's first instruction"),
        OPT_END};
    const cli_cmd cmd = {"bench", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const char *model = eng.model;
    if (!model) return cli_fail("bench: -m MODEL is required (see urial bench --help)");
    if (query && !fmt.urial) return cli_fail("bench: --query needs --urial NAME|FILE");
    if (fmt.urial) return bench_ttft(model, &fmt, query ? query : DEFAULT_QUERY, reps, eng.threads, eng.ctx, json);
    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    const int nv = m->hp.n_vocab, cap = eng.ctx ? eng.ctx : m->hp.n_ctx_train;
    if (np + ng > cap) {
        cli_fail("bench: --prompt %d + --gen %d tokens pass the context of %d (%s)", np, ng, cap,
                 eng.ctx ? "--ctx" : "the model's; --ctx N raises it");
        ur_model_free(m);
        return 1;
    }
    int rc = 1;
    ur_ctx *ctx = cli_new_ctx(m, np + ng + 16, eng.threads, json);
    int32_t *toks = malloc(sizeof *toks * (size_t)np);
    float *logits = malloc(sizeof(float) * (size_t)nv);
    if (!ctx || !toks || !logits) goto out;
    for (int i = 0; i < np; i++) toks[i] = (int32_t)((100 + (i * 7919) % 20000) % nv);
    double best_pp = 0, best_tg = 0;
    ur_err err = {{0}};
    for (int r = 0; r < reps; r++) {
        ur_ctx_truncate(ctx, 0);
        double t0 = ur_now();
        if (ur_decode(ctx, toks, (int)np, logits, 0, &err)) goto fail;
        double pp = (double)np / (ur_now() - t0);
        int32_t tok = (toks[np - 1] + 1) % nv;
        t0 = ur_now();
        for (int i = 0; i < ng; i++) {
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
        printf("%s: prefill %d tokens: %.1f tok/s; decode %d tokens: %.1f tok/s (%d threads, %s)\n", model, np,
               best_pp, ng, best_tg, ur_ctx_threads(ctx), ur_simd_name(ur_simd_level()));
    else
        printf("{\"engine\":\"urial\",\"model\":\"%s\",\"threads\":%d,\"prompt\":%d,\"gen\":%d,\"prefill_tok_s\":%.3f,"
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
