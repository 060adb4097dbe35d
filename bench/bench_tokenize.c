/* Tokenizer speed: urial's tokenizer on one text file under one vocab.
 *
 *   build/bench_tokenize VOCAB.gguf TEXT [--reps R] [--special]
 *
 * Loads the vocab, reads TEXT whole, tokenizes it R times (default 5; no BOS) and prints one
 * JSON line: {"engine":"urial","bytes":..,"tokens":..,"best_s":..,"mb_s":..}. The best run
 * counts (the machine may be shared). bench/tokenize.sh runs it next to llama.cpp's
 * tokenizer on the same files and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "urial/base.h"
#include "urial/gguf.h"
#include "urial/tokenizer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenize VOCAB.gguf TEXT [--reps R] [--special]\n");
        return 2;
    }
    int reps = 5, special = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--special")) special = 1;
    }
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(argv[1], &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    ur_buf text = {0};
    if (!v || ur_read_file(argv[2], "text", 0, &text, &err) < 0) {
        fprintf(stderr, "bench_tokenize: %s\n", err.msg);
        return 1;
    }
    double best = 1e30;
    int n = 0;
    for (int r = 0; r < reps; r++) {
        int32_t *ids = NULL;
        double t0 = now();
        n = ur_tokenize_alloc(v, text.data, text.len, 0, special, &ids, &err);
        double t = now() - t0;
        free(ids);
        if (n < 0) {
            fprintf(stderr, "bench_tokenize: %s\n", err.msg);
            return 1;
        }
        if (t < best) best = t;
    }
    printf("{\"engine\":\"urial\",\"bytes\":%zu,\"tokens\":%d,\"best_s\":%.4f,\"mb_s\":%.2f}\n", text.len, n, best,
           (double)text.len / best / 1e6);
    ur_buf_free(&text);
    ur_vocab_free(v);
    ur_gguf_close(g);
    return 0;
}
