/* urial synth OUT.gguf [...] — write a random-weight model. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tensor.h"

static const char *HELP =
    "usage: urial synth OUT.gguf [options]\n"
    "Write a random-weight model (deterministic for a seed) with urial's GGUF writer: for smoke demos,\n"
    "tests and cross-checks against llama.cpp. Not a trained model: its text is noise.\n"
    "  --arch llama|qwen2   (default llama)\n"
    "  --dim N --layers N --heads N --kv-heads N --ff N --ctx N   shape (default 256 2 4 2 512 512)\n"
    "  --type T             f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K (default f32)\n"
    "  --output-type T      type of output.weight (default: --type)\n"
    "  --tied               no output.weight (the output matrix is token_embd)\n"
    "  --rope-freqs         add a rope_freqs tensor (Llama-3 style frequency factors)\n"
    "  --rope-base X        (default 10000)\n"
    "  --scale X            weight standard deviation (default 0.02)\n"
    "  --seed N             (default 1)\n"
    "  --vocab VOCAB.gguf   copy the tokenizer from this GGUF (default: a built-in 380-token byte vocab)\n";

int cmd_synth(int argc, char **argv) {
    enum { O_ARCH = 256, O_DIM, O_LAYERS, O_HEADS, O_KV, O_FF, O_CTX, O_TYPE, O_OTYPE, O_TIED, O_RF, O_BASE, O_SCALE,
           O_SEED, O_VOCAB };
    static const struct option opts[] = {
        {"arch", required_argument, 0, O_ARCH},   {"dim", required_argument, 0, O_DIM},
        {"layers", required_argument, 0, O_LAYERS}, {"heads", required_argument, 0, O_HEADS},
        {"kv-heads", required_argument, 0, O_KV}, {"ff", required_argument, 0, O_FF},
        {"ctx", required_argument, 0, O_CTX},     {"type", required_argument, 0, O_TYPE},
        {"output-type", required_argument, 0, O_OTYPE}, {"tied", no_argument, 0, O_TIED},
        {"rope-freqs", no_argument, 0, O_RF},     {"rope-base", required_argument, 0, O_BASE},
        {"scale", required_argument, 0, O_SCALE}, {"seed", required_argument, 0, O_SEED},
        {"vocab", required_argument, 0, O_VOCAB}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ur_synth_params p;
    ur_synth_defaults(&p);
    long v;
    double d;
    int c;
    while ((c = cli_getopt(argc, argv, "h", opts, "synth")) != -1) {
        switch (c) {
        case O_ARCH: p.arch = optarg; break;
        case O_DIM: if (cli_int("--dim", optarg, 1, 1 << 16, &v)) return 1; p.dim = (int)v; break;
        case O_LAYERS: if (cli_int("--layers", optarg, 1, 1024, &v)) return 1; p.n_layers = (int)v; break;
        case O_HEADS: if (cli_int("--heads", optarg, 1, 1024, &v)) return 1; p.n_heads = (int)v; break;
        case O_KV: if (cli_int("--kv-heads", optarg, 1, 1024, &v)) return 1; p.n_kv_heads = (int)v; break;
        case O_FF: if (cli_int("--ff", optarg, 1, 1 << 18, &v)) return 1; p.ff = (int)v; break;
        case O_CTX: if (cli_int("--ctx", optarg, 1, 1 << 24, &v)) return 1; p.n_ctx = (int)v; break;
        case O_TYPE:
        case O_OTYPE: {
            int t = cli_type_from_name(optarg);
            if (t < 0) return cli_fail("synth: unknown type '%s' (f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K)", optarg);
            if (c == O_TYPE) p.type = t;
            else p.output_type = t;
            break;
        }
        case O_TIED: p.tied = 1; break;
        case O_RF: p.rope_freqs = 1; break;
        case O_BASE: if (cli_float("--rope-base", optarg, 1, 1e9, &d)) return 1; p.rope_base = (float)d; break;
        case O_SCALE: if (cli_float("--scale", optarg, 1e-6, 10, &d)) return 1; p.scale = (float)d; break;
        case O_SEED: if (cli_u64("--seed", optarg, &p.seed)) return 1; break;
        case O_VOCAB: p.vocab_path = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (optind != argc - 1) return cli_fail("synth: expected one OUT.gguf argument (see urial synth --help)");
    ur_err err = {{0}};
    if (ur_synth_write(&p, argv[optind], &err)) return cli_fail("%s", err.msg);
    fprintf(stderr, "urial: wrote %s (%s, dim %d, %d layers, type %s)\n", argv[optind], p.arch, p.dim, p.n_layers,
            ur_type_name(p.type));
    return 0;
}
