/* Training throughput: forward + backward + AdamW steps of a random-init llama
 * model on random tokens (every token has a loss, as in pretraining), the same
 * work bench/train_torch.py times in PyTorch. Prints one JSON line.
 *   build/bench_train --dim 256 --layers 6 --heads 8 --kv-heads 4 --ff 768 --ctx 512 --vocab 8000 \
 *                     --batch 16 --steps 5 --threads 2 [--recompute] [--lora R --type T]
 * The first step is a warm-up and not timed; tokens/s is over the remaining steps.
 * --lora R trains rank-R adapters on a frozen random base written as type T (f32, q8_0, q4_0, ...)
 * instead of every weight. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/tensor.h"
#include "urial/train.h"

int main(int argc, char **argv) {
    ur_hparams hp = {0};
    hp.dim = 256, hp.n_layers = 6, hp.n_heads = 8, hp.n_kv_heads = 4, hp.ff = 768, hp.n_ctx_train = 512;
    hp.n_vocab = 8000;
    int batch = 16, steps = 5, threads = 2, recompute = 0, micro = 0, lora = 0, type = UR_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *dst = !strcmp(a, "--dim") ? &hp.dim : !strcmp(a, "--layers") ? &hp.n_layers : !strcmp(a, "--heads") ? &hp.n_heads
                 : !strcmp(a, "--kv-heads") ? &hp.n_kv_heads : !strcmp(a, "--ff") ? &hp.ff : !strcmp(a, "--ctx") ? &hp.n_ctx_train
                 : !strcmp(a, "--vocab") ? &hp.n_vocab : !strcmp(a, "--batch") ? &batch : !strcmp(a, "--steps") ? &steps
                 : !strcmp(a, "--threads") ? &threads : !strcmp(a, "--micro-tokens") ? &micro
                 : !strcmp(a, "--lora") ? &lora : NULL;
        if (!strcmp(a, "--recompute")) {
            recompute = 1;
            continue;
        }
        if (!strcmp(a, "--type") && i + 1 < argc) {
            const char *t = argv[++i];
            type = !strcmp(t, "q8_0") ? UR_TYPE_Q8_0 : !strcmp(t, "q4_0") ? UR_TYPE_Q4_0 : !strcmp(t, "f16") ? UR_TYPE_F16
                 : !strcmp(t, "q4_K") ? UR_TYPE_Q4_K : UR_TYPE_F32;
            continue;
        }
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "usage: bench_train [--dim N --layers N --heads N --kv-heads N --ff N --ctx N --vocab N "
                            "--batch N --steps N --threads N --micro-tokens N --recompute]\n");
            return 1;
        }
        *dst = atoi(argv[++i]);
    }
    ur_err err;
    ur_tnet *n;
    ur_model *base = NULL;
    if (lora) { /* a random frozen base of the same shape, with the built-in 380-token vocabulary */
        ur_synth_params sp;
        ur_synth_defaults(&sp);
        sp.dim = hp.dim, sp.n_layers = hp.n_layers, sp.n_heads = hp.n_heads, sp.n_kv_heads = hp.n_kv_heads;
        sp.ff = hp.ff, sp.n_ctx = hp.n_ctx_train, sp.type = type;
        const char *path = "/tmp/urial-bench-train-base.gguf";
        if (ur_synth_write(&sp, path, &err) || !(base = ur_model_load(path, &err))) return fprintf(stderr, "%s\n", err.msg), 1;
        hp.n_vocab = base->hp.n_vocab;
        n = ur_tnet_lora(base, lora, 2.0f * lora, UR_LORA_ALL, 1, &err);
    } else {
        n = ur_tnet_new(&hp, 0, 1, &err);
    }
    if (!n) return fprintf(stderr, "%s\n", err.msg), 1;
    const int ctx = hp.n_ctx_train, N = batch * ctx;
    if (micro <= 0 || micro > N) micro = N;
    micro = micro / ctx * ctx;
    ur_tctx *c = ur_tctx_new(n, micro, recompute, threads, &err);
    if (!c) return fprintf(stderr, "%s\n", err.msg), 1;
    int32_t *tok = malloc(sizeof(int32_t) * 4 * (size_t)N);
    int32_t *tgt = tok + N, *pos = tgt + N, *seg = pos + N;
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((s >> 33) % (uint64_t)hp.n_vocab);
        pos[i] = i % ctx, seg[i] = i - i % ctx;
    }
    for (int i = 0; i < N; i++) tgt[i] = i % ctx == ctx - 1 ? tok[i - ctx + 1] : tok[i + 1];
    float *m = calloc(n->n_params, sizeof(float)), *v = calloc(n->n_params, sizeof(float));
    ur_adamw o = {0.9f, 0.95f, 1e-8f, 0.1f};
    double t_total = 0, loss = 0;
    for (int st = 0; st <= steps; st++) {
        double t0 = ur_now();
        ur_grad_zero(n);
        double nll = 0;
        for (int i0 = 0; i0 < N; i0 += micro) {
            ur_tbatch b = {.n = micro, .tokens = tok + i0, .targets = tgt + i0, .pos = pos + i0, .seg = seg};
            int got;
            nll += ur_tctx_step(c, n, &b, 1.0f / (float)N, (ur_tdrop){0}, &got);
        }
        double gn = ur_grad_norm(n, ur_tctx_pool(c));
        if (gn > 1.0) ur_grad_scale(n, (float)(1.0 / gn), ur_tctx_pool(c));
        ur_adamw_step(n, m, v, st + 1, 1e-3f, &o, ur_tctx_pool(c));
        double dt = ur_now() - t0;
        if (st > 0) t_total += dt;
        loss = nll / N;
    }
    printf("{\"engine\":\"urial%s%s\",\"params\":%zu,\"tokens_per_step\":%d,\"steps\":%d,\"threads\":%d,\"tok_s\":%.1f,"
           "\"loss\":%.4f,\"mem_mib\":%.0f}\n",
           lora ? " lora " : "", lora ? ur_type_name(type) : "", n->n_params, N, steps, threads, (double)N * steps / t_total, loss,
           (double)(ur_tctx_bytes(n, micro, recompute, threads) + 16 * n->n_params) / (1 << 20));
    free(tok), free(m), free(v);
    ur_tctx_free(c);
    ur_tnet_free(n);
    ur_model_free(base);
    return 0;
}
