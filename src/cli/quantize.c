/* urial quantize IN.gguf OUT.gguf TYPE — re-encode a model's matrices. */
#include <stdio.h>

#include "cli/cli.h"
#include "urial/quantize.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial quantize IN.gguf OUT.gguf TYPE [options]\n"
    "Write IN's weights as TYPE, tensor by tensor (memory: one output tensor), on all cores.\n"
    "TYPE is one of llama-quantize's names: f32 f16 bf16 q8_0 q4_0 q4_K_S q4_K_M (= q4_K) q5_K_S\n"
    "q5_K_M (= q5_K) q6_K. A k-quant mixture (_S, _M) gives some matrices more bits as llama.cpp's\n"
    "quantizer does (attn_v and ffn_down of the first and last eighth of the layers and every third\n"
    "in between get Q6_K in _M); the output matrix gets Q6_K for every quantized type but q8_0.\n"
    "Norms and other vectors keep their type (docs/bridges.md#quantize).\n";

int cmd_quantize(int argc, char **argv) {
    int threads = 0, pure = 0;
    const cli_opt opts[] = {
        OPT_INT("threads", 't', "N", 0, 4096, &threads, "threads (default 0 = all cores)"),
        OPT_FLAG("pure", 0, &pure, "every matrix gets the base type (no mixture rules, as llama-quantize --pure)"),
        OPT_END};
    const cli_cmd cmd = {"quantize", USAGE, opts, NULL, 3, 3};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 3) return cli_fail("quantize: expected IN.gguf OUT.gguf TYPE (see urial quantize --help)");
    ur_err err = {{0}};
    ur_qmix mix;
    if (ur_qmix_init(&mix, argv[a + 2], pure, &err)) return cli_fail("quantize: %s", err.msg);
    ur_quantize_stats st;
    double t0 = ur_now();
    if (ur_quantize_file(argv[a], argv[a + 1], &mix, threads, &st, &err)) return cli_fail("%s", err.msg);
    char types[256] = "";
    size_t n = 0;
    for (int t = 0; t < 31; t++)
        if (st.count[t] && n < sizeof types)
            n += (size_t)snprintf(types + n, sizeof types - n, "%s%d %s", n ? ", " : "", st.count[t], ur_type_name(t));
    fprintf(stderr, "urial: wrote %s (%s%s): %d tensors (%s), %.1f MiB -> %.1f MiB in %.1f s\n", argv[a + 1], mix.name,
            pure ? ", pure" : "", st.n_tensors, types, st.bytes_in / 1048576.0, st.bytes_out / 1048576.0,
            ur_now() - t0);
    return 0;
}
