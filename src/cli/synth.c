/* urial synth OUT.gguf [...] — write a random-weight model. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial synth OUT.gguf [options]\n"
    "Write a random-weight model (deterministic for a seed) with urial's GGUF writer: for smoke demos,\n"
    "tests and cross-checks against llama.cpp. Not a trained model: its text is noise.\n";

int cmd_synth(int argc, char **argv) {
    ur_synth_params p;
    ur_synth_defaults(&p);
    const cli_opt opts[] = {
        OPT_STR("arch", 0, "llama|qwen2", &p.arch, "(default llama)"),
        OPT_INT("dim", 0, "N", 1, 1 << 16, &p.dim, "embedding length (default 256)"),
        OPT_INT("layers", 0, "N", 1, 1024, &p.n_layers, "(default 2)"),
        OPT_INT("heads", 0, "N", 1, 1024, &p.n_heads, "(default 4)"),
        OPT_INT("kv-heads", 0, "N", 1, 1024, &p.n_kv_heads, "(default 2)"),
        OPT_INT("ff", 0, "N", 1, 1 << 18, &p.ff, "feed-forward length (default 512)"),
        OPT_INT("ctx", 0, "N", 1, 1 << 24, &p.n_ctx, "the trained context length it records (default 512)"),
        OPT_FN("type", 0, "T", cli_opt_type, &p.type, "f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K (default f32)"),
        OPT_FN("output-type", 0, "T", cli_opt_type, &p.output_type, "type of output.weight (default: --type)"),
        OPT_FLAG("tied", 0, &p.tied, "no output.weight (the output matrix is token_embd)"),
        OPT_FLAG("rope-freqs", 0, &p.rope_freqs, "add a rope_freqs tensor (Llama-3 style frequency factors)"),
        OPT_FLOAT("rope-base", 0, "X", 1, 1e9, &p.rope_base, "(default 10000)"),
        OPT_FLOAT("scale", 0, "X", 1e-6, 10, &p.scale, "weight standard deviation (default 0.02)"),
        OPT_U64("seed", 0, "N", &p.seed, "(default 1)"),
        OPT_STR("vocab", 0, "VOCAB.gguf", &p.vocab_path,
                "copy the tokenizer from this GGUF (default: a built-in 380-token byte vocab)"),
        OPT_END};
    const cli_cmd cmd = {"synth", USAGE, opts, NULL, 0, 2};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 1) return cli_fail("synth: expected one OUT.gguf argument (see urial synth --help)");
    ur_err err = {{0}};
    if (ur_synth_write(&p, argv[a], &err)) return cli_fail("%s", err.msg);
    fprintf(stderr, "urial: wrote %s (%s, dim %d, %d layers, type %s)\n", argv[a], p.arch, p.dim, p.n_layers,
            ur_type_name(p.type));
    return 0;
}
