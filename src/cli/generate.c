/* urial generate -m MODEL -p PROMPT [...] — stream a continuation to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/generate.h"

static const char *HELP =
    "usage: urial generate -m MODEL.gguf -p PROMPT [options]\n"
    "Continue PROMPT, streaming the text to stdout; a timing line goes to stderr.\n"
    "  -n, --max-tokens N     tokens to generate (default 256; -1 = until the context is full)\n"
    "  --temp T               temperature (default 0 = greedy)\n"
    "  --top-k K              keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P              nucleus sampling mass (default 1 = off)\n"
    "  --min-p P              drop tokens below P x the top probability (default 0 = off)\n"
    "  --repeat-penalty R     repetition penalty (default 1 = off); divides positive and multiplies\n"
    "                         negative logits of tokens already seen\n"
    "  --repeat-last-n N      penalise only the last N tokens (llama.cpp's meaning); default -1 = every\n"
    "                         previous token, prompt included (Hugging Face / vLLM repetition_penalty)\n"
    "  --seed S               random seed (default 0); the same seed gives the same output\n"
    "  --stop STR             stop before STR (repeatable); STR never appears in the output\n"
    "  --ignore-eos           keep generating after end-of-generation tokens\n"
    "  --no-bos               do not prepend BOS\n"
    "  --special              parse special-token text in the prompt (e.g. <s>, [INST])\n"
    "  --ctx N                context length (default: the model's)\n"
    "  -t, --threads N        threads (default: all cores)\n";

static int write_out(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    enum { O_TEMP = 256, O_TOPK, O_TOPP, O_MINP, O_RP, O_RLN, O_SEED, O_STOP, O_IGN, O_NOBOS, O_SPECIAL, O_CTX };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"prompt", required_argument, 0, 'p'},
        {"max-tokens", required_argument, 0, 'n'}, {"temp", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK},   {"top-p", required_argument, 0, O_TOPP},
        {"min-p", required_argument, 0, O_MINP},   {"repeat-penalty", required_argument, 0, O_RP},
        {"repeat-last-n", required_argument, 0, O_RLN}, {"seed", required_argument, 0, O_SEED},
        {"stop", required_argument, 0, O_STOP},    {"ignore-eos", no_argument, 0, O_IGN},
        {"no-bos", no_argument, 0, O_NOBOS},       {"special", no_argument, 0, O_SPECIAL},
        {"ctx", required_argument, 0, O_CTX},      {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *model = NULL, *prompt = NULL;
    const char *stops[64];
    int n_stop = 0, no_bos = 0, special = 0, c;
    long n_ctx = 0, threads = 0, v;
    double d;
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    while ((c = cli_getopt(argc, argv, "m:p:n:t:h", opts, "generate")) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': if (cli_int("--max-tokens", optarg, -1, 1 << 24, &v)) return 1; gp.max_tokens = (int)v; break;
        case O_TEMP: if (cli_float("--temp", optarg, 0, 100, &d)) return 1; gp.sampler.temp = (float)d; break;
        case O_TOPK: if (cli_int("--top-k", optarg, 0, 1 << 30, &v)) return 1; gp.sampler.top_k = (int)v; break;
        case O_TOPP: if (cli_float("--top-p", optarg, 0, 1, &d)) return 1; gp.sampler.top_p = (float)d; break;
        case O_MINP: if (cli_float("--min-p", optarg, 0, 1, &d)) return 1; gp.sampler.min_p = (float)d; break;
        case O_RP: if (cli_float("--repeat-penalty", optarg, 0.01, 100, &d)) return 1; gp.sampler.repeat_penalty = (float)d; break;
        case O_RLN: if (cli_int("--repeat-last-n", optarg, -1, 1 << 24, &v)) return 1; gp.sampler.repeat_last_n = (int)v; break;
        case O_SEED: if (cli_u64("--seed", optarg, &gp.sampler.seed)) return 1; break;
        case O_STOP:
            if (n_stop == 64) return cli_fail("generate: at most 64 --stop strings");
            if (!*optarg) return cli_fail("generate: --stop needs a non-empty string");
            stops[n_stop++] = optarg;
            break;
        case O_IGN: gp.ignore_eog = 1; break;
        case O_NOBOS: no_bos = 1; break;
        case O_SPECIAL: special = 1; break;
        case O_CTX: if (cli_int("--ctx", optarg, 1, 1 << 24, &n_ctx)) return 1; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model || !prompt) return cli_fail("generate: -m MODEL and -p PROMPT are required (see urial generate --help)");
    if (optind != argc) return cli_fail("generate: unexpected argument '%s'", argv[optind]);
    gp.stop = stops;
    gp.n_stop = n_stop;

    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    int rc = 1;
    int32_t *ids = NULL;
    ur_ctx *ctx = cli_new_ctx(m, (int)n_ctx, (int)threads, 0);
    if (!ctx) goto out;
    int n = cli_tokenize(m->vocab, prompt, !no_bos && ur_vocab_add_bos(m->vocab), special, &ids);
    if (n < 0) goto out;
    ur_gen_result res;
    ur_err err = {{0}};
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
    ur_ctx_free(ctx);
    ur_model_free(m);
    return rc;
}
