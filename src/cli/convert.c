/* urial convert HF_DIR OUT.gguf — a Hugging Face checkpoint to GGUF. */
#include <stdio.h>

#include "cli/cli.h"
#include "urial/convert.h"

static const char USAGE[] =
    "usage: urial convert HF_DIR OUT.gguf [--type T] [options]\n"
    "Write a Hugging Face checkpoint (config.json, tokenizer.json + tokenizer_config.json, model.safetensors\n"
    "or shards with model.safetensors.index.json) as a GGUF with llama.cpp's tensor names, keys and\n"
    "weight layout (llama's q/k rows permuted for its rope, Gemma's norms as 1 + w), tensor by tensor.\n"
    "Architectures: Llama/Mistral, Qwen2, Qwen3, Gemma2, Gemma3 (text), Olmo2, Phi3 (docs/bridges.md#convert).\n";

int cmd_convert(int argc, char **argv) {
    ur_hf_convert_opts o = {0};
    const cli_opt opts[] = {
        OPT_STR("type", 0, "T", &o.type,
                "matrix type: f32, f16 (default), bf16, q8_0, q4_0, q4_K_M, q5_K_M, q6_K, ... (the\n"
                "types and mixtures of urial quantize); vectors stay f32"),
        OPT_STR("name", 0, "NAME", &o.name, "general.name (default: the directory's name)"),
        OPT_INT("threads", 't', "N", 0, 4096, &o.threads, "threads (default 0 = all cores)"),
        OPT_END};
    const cli_cmd cmd = {"convert", USAGE, opts, NULL, 2, 2};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 2) return cli_fail("convert: expected HF_DIR OUT.gguf (see urial convert --help)");
    ur_err err = {{0}};
    ur_hf_convert_stats st;
    double t0 = ur_now();
    if (ur_hf_convert(argv[a], argv[a + 1], &o, &st, &err)) return cli_fail("%s", err.msg);
    fprintf(stderr, "urial: wrote %s (%s, %d layers, %d tensors, %s, %.1f MiB) in %.1f s\n", argv[a + 1], st.arch,
            st.n_layers, st.n_tensors, o.type ? o.type : "f16", st.bytes_out / 1048576.0, ur_now() - t0);
    return 0;
}
