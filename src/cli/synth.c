/* urial synth OUT.gguf [...] — write a random-weight model. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial synth OUT.gguf [options]\n"
    "Write a random-weight model (deterministic for a seed) with urial's GGUF writer: for smoke demos,\n"
    "tests and cross-checks against llama.cpp. Not a trained model: its text is noise. Each architecture\n"
    "gets the metadata keys and tensor names llama.cpp's converter writes for it (docs/engine.md).\n";

int cmd_synth(int argc, char **argv) {
    ur_synth_params p;
    ur_synth_defaults(&p);
    const cli_opt opts[] = {
        OPT_STR("arch", 0, "A", &p.arch, "llama qwen2 qwen3 gemma2 gemma3 olmo2 phi3 (default llama)"),
        OPT_INT("dim", 0, "N", 1, 1 << 16, &p.dim, "embedding length (default 256)"),
        OPT_INT("layers", 0, "N", 1, 1024, &p.n_layers, "(default 2)"),
        OPT_INT("heads", 0, "N", 1, 1024, &p.n_heads, "(default 4)"),
        OPT_INT("kv-heads", 0, "N", 1, 1024, &p.n_kv_heads, "(default 2)"),
        OPT_INT("head-dim", 0, "N", 2, 1 << 12, &p.head_dim, "head size when it is not dim/heads (attention.key_length)"),
        OPT_INT("ff", 0, "N", 1, 1 << 18, &p.ff, "feed-forward length (default 512)"),
        OPT_INT("ctx", 0, "N", 1, 1 << 24, &p.n_ctx, "the trained context length it records (default 512)"),
        OPT_FN("type", 0, "T", cli_opt_type, &p.type, "f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K (default f32)"),
        OPT_FN("output-type", 0, "T", cli_opt_type, &p.output_type, "type of output.weight (default: --type)"),
        OPT_FLAG("tied", 0, &p.tied, "no output.weight (the output matrix is token_embd)"),
        OPT_FLAG("rope-freqs", 0, &p.rope_freqs, "add a rope_freqs tensor with toy frequency factors 1..4 (llama)"),
        OPT_FLAG("llama3-rope", 0, &p.llama3_rope, "add rope_freqs with Llama-3.1's scaling factors (llama)"),
        OPT_FLOAT("rope-base", 0, "X", 1, 1e9, &p.rope_base, "(default 10000)"),
        OPT_FLOAT("rope-scale", 0, "X", 1, 1024, &p.rope_scale, "linear rope scaling factor (gemma3: global layers only)"),
        OPT_INT("window", 0, "N", 1, 1 << 24, &p.swa_window,
                "attention.sliding_window (gemma2 default 4096, gemma3 1024, olmo2 none; phi3: written, ignored)"),
        OPT_FLOAT("attn-softcap", 0, "X", 0, 1e6, &p.attn_softcap, "gemma2 attention soft-capping (default 50)"),
        OPT_FLOAT("final-softcap", 0, "X", 0, 1e6, &p.final_softcap, "final logit soft-capping (gemma2 default 30)"),
        OPT_INT("longrope", 0, "N", 1, 1 << 24, &p.longrope_orig,
                "phi3: LongRoPE factors with an original context of N (long factors beyond it)"),
        OPT_FLAG("unfused", 0, &p.unfused, "phi3: separate q/k/v instead of attn_qkv"),
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
