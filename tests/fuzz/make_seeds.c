/* Writes the fuzzer's seed files with urial's own GGUF writer (make fuzz-seeds).
 * Small on purpose (a few KB at most): the fuzzer mutates them, so they should
 * cover every value type, string arrays, every weight type, ranks 1..4, a
 * non-default alignment and version 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/gguf.h"
#include "urial/tensor.h"

static int put(ur_gguf_writer *w, const char *dir, const char *name) {
    char path[1024];
    ur_err err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ur_gguf_write(w, path, &err)) {
        fprintf(stderr, "make_seeds: %s\n", err.msg);
        return -1;
    }
    ur_gguf_writer_free(w);
    printf("wrote %s\n", path);
    return 0;
}

static void tensor(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne) {
    static uint8_t data[8192];
    uint64_t rows = 1;
    for (int d = 1; d < n_dims; d++) rows *= (uint64_t)ne[d];
    uint64_t n = ur_row_size(type, ne[0]) * rows;
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
    ur_err err;
    if (n > sizeof data || ur_gguf_w_tensor(w, name, type, n_dims, ne, data, n, &err)) {
        fprintf(stderr, "make_seeds: %s: %s\n", name, n > sizeof data ? "too big" : err.msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;

    /* 1: a tiny llama-shaped file: hyperparameters, a 6-token vocabulary, tensors */
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_u32(w, "general.alignment", 32);
    ur_gguf_w_u32(w, "llama.embedding_length", 32);
    ur_gguf_w_u32(w, "llama.block_count", 1);
    ur_gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    ur_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    const char *toks[] = {"<unk>", "<s>", "</s>", "<0x0A>", "\xe2\x96\x81the", "a"};
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 6);
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, (float[]){0, 0, 0, 0, -1, -2}, 6);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, (int32_t[]){2, 3, 3, 6, 1, 1}, 6);
    ur_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1);
    tensor(w, "token_embd.weight", UR_TYPE_Q8_0, 2, (int64_t[]){32, 6});
    tensor(w, "output_norm.weight", UR_TYPE_F32, 1, (int64_t[]){32});
    tensor(w, "blk.0.attn_q.weight", UR_TYPE_Q4_0, 2, (int64_t[]){32, 2});
    tensor(w, "blk.0.f16", UR_TYPE_F16, 3, (int64_t[]){4, 2, 2});
    tensor(w, "blk.0.bf16", UR_TYPE_BF16, 4, (int64_t[]){2, 2, 2, 2});
    rc |= put(w, dir, "llama-tiny.gguf");

    /* 2: every metadata value type, empty string and arrays, no tensors */
    w = ur_gguf_writer_new();
    static const uint8_t u8 = 1; static const int8_t i8 = -1; static const uint16_t u16 = 2;
    static const int16_t i16 = -2; static const int64_t i64 = -3; static const double f64 = 0.5;
    static const struct { const char *k; int t; const void *v; } sc[] = {
        {"u8", UR_GGUF_U8, &u8}, {"i8", UR_GGUF_I8, &i8}, {"u16", UR_GGUF_U16, &u16},
        {"i16", UR_GGUF_I16, &i16}, {"i64", UR_GGUF_I64, &i64}, {"f64", UR_GGUF_F64, &f64}};
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        ur_gguf_kv kv = {.key = {sc[i].k, strlen(sc[i].k)}, .type = sc[i].t, .data = sc[i].v};
        ur_gguf_w_copy_kv(w, &kv);
    }
    ur_gguf_w_u32(w, "u32", 3);
    ur_gguf_w_i32(w, "i32", -4);
    ur_gguf_w_u64(w, "u64", 5);
    ur_gguf_w_f32(w, "f32", 1.5f);
    ur_gguf_w_bool(w, "bool", 0);
    ur_gguf_w_str(w, "str", "text");
    ur_gguf_w_str(w, "empty", "");
    ur_gguf_w_arr(w, "arr.u8", UR_GGUF_U8, (uint8_t[]){1, 2, 3}, 3);
    ur_gguf_w_arr(w, "arr.u16", UR_GGUF_U16, (uint16_t[]){1, 2}, 2);
    ur_gguf_w_arr(w, "arr.u64", UR_GGUF_U64, (uint64_t[]){1, 2}, 2);
    ur_gguf_w_arr(w, "arr.f64", UR_GGUF_F64, (double[]){1, 2}, 2);
    ur_gguf_w_arr(w, "arr.bool", UR_GGUF_BOOL, (uint8_t[]){0, 1}, 2);
    ur_gguf_w_arr(w, "arr.empty", UR_GGUF_I16, NULL, 0);
    ur_gguf_w_arr_str(w, "arr.str", (const char *[]){"", "x", "yz"}, NULL, 3);
    rc |= put(w, dir, "all-types.gguf");

    /* 3: K-quants at alignment 64 */
    w = ur_gguf_writer_new();
    ur_gguf_w_u32(w, "general.alignment", 64);
    tensor(w, "q4_K", UR_TYPE_Q4_K, 1, (int64_t[]){256});
    tensor(w, "q5_K", UR_TYPE_Q5_K, 1, (int64_t[]){256});
    tensor(w, "q6_K", UR_TYPE_Q6_K, 2, (int64_t[]){256, 1});
    rc |= put(w, dir, "kquants-align64.gguf");

    /* 4: nothing but the header */
    rc |= put(ur_gguf_writer_new(), dir, "empty.gguf");

    /* 5: version 2 (same layout): seed 1 with its version patched */
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s/llama-tiny.gguf", dir);
    snprintf(out, sizeof out, "%s/llama-tiny-v2.gguf", dir);
    FILE *f = fopen(in, "rb"), *g = fopen(out, "wb");
    if (!f || !g) return 1;
    int c, n = 0;
    while ((c = fgetc(f)) != EOF) fputc(n++ == 4 ? 2 : c, g);
    fclose(f);
    if (fclose(g)) return 1;
    printf("wrote %s\n", out);
    return rc ? 1 : 0;
}
