/* Matmul benchmark on TinyLlama-1.1B shapes.
 *
 *   build/bench_matmul [--types q4_0,q8_0,...] [--shapes 2048x2048,...] [--n 1,256]
 *                      [--threads 1,2] [--levels best,scalar] [--time SECONDS] [--reps R]
 *
 * For every (type, shape, n, threads, level) it prints one line: n = 1 reports the
 * weight bytes streamed per second (decode is memory-bound), larger n reports
 * GFLOP/s (2 * rows * k * n per call; prefill is compute-bound). Weights are random
 * and cycled through copies totalling >= 256 MiB so that n = 1 reads DRAM, as a
 * decode step does. "memread" lines give the plain read bandwidth for comparison.
 * With --reps R each figure is the best of R timings (the machine may be shared).
 *
 * When all five TinyLlama shapes ran, a summary estimates the model's matmul time per
 * token: 22 layers x (q, o: 2048x2048; k, v: 256x2048; gate, up: 5632x2048; down:
 * 2048x5632) + the output matrix 32000x2048 -> decode tok/s (n = 1) and prefill tok/s
 * (n tokens per call), matmuls only (no attention, norms, activation prep). */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/base.h"
#include "urial/pool.h"
#include "urial/tensor.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static float rndf(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0) * 2 - 1; }

/* Random weights: quantize random floats for the types we can produce, random bytes with
 * sane f16 scales for the K-quants (only speed matters here). */
static void fill(int type, uint8_t *w, int64_t rows, int64_t k) {
    uint64_t rb = ur_row_size(type, k);
    float *x = malloc(sizeof(float) * (size_t)k);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = w + r * rb;
        for (int64_t i = 0; i < k; i++) x[i] = rndf();
        if (ur_quantize_row(type, x, row, k) == 0) continue;
        for (uint64_t i = 0; i < rb; i++) row[i] = (uint8_t)rnd();
        int bb = ur_type_block_bytes(type);
        for (uint64_t b = 0; b < rb / (uint64_t)bb; b++) {
            uint16_t d = ur_f32_to_f16(0.001f);
            if (type == UR_TYPE_Q6_K) memcpy(row + b * bb + 208, &d, 2);
            else memcpy(row + b * bb, &d, 2), memcpy(row + b * bb + 2, &d, 2);
        }
    }
    free(x);
}

/* sum of the 64-bit lanes of the 1 MiB blocks [b0, b1) of p (a read the compiler keeps) */
__attribute__((target("avx2"))) static double read_body(void *arg, int64_t b0, int64_t b1, int tid) {
    const uint8_t *p = arg;
    (void)tid;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    for (size_t o = (size_t)b0 << 20; o < (size_t)b1 << 20; o += 64) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(p + o)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(p + o + 32)));
    }
    s0 = _mm256_add_epi64(s0, s1);
    return (double)(_mm256_extract_epi64(s0, 0) + _mm256_extract_epi64(s0, 3));
}

/* read bandwidth (GB/s) of `bytes` (a multiple of 1 MiB) on the pool's threads */
static double memread(const uint8_t *p, size_t bytes, ur_pool *pool) {
    double t0 = ur_now();
    double sink = ur_pool_sum(pool, (int64_t)(bytes >> 20), 16, read_body, (void *)p);
    double t = ur_now() - t0;
    if (sink == 42) printf(" ");
    return (double)bytes / t / 1e9;
}

static int parse_list(const char *s, char out[][32], int max) {
    int n = 0;
    while (*s && n < max) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        snprintf(out[n++], 32, "%.*s", (int)len, s);
        s += len + (e ? 1 : 0);
    }
    return n;
}

int main(int argc, char **argv) {
    const char *types_s = "q4_0,q8_0,q4_K,q5_K,q6_K,f16,bf16,f32";
    const char *shapes_s = "2048x2048,256x2048,5632x2048,2048x5632,32000x2048";
    const char *n_s = "1,256", *thr_s = "1,2", *lvl_s = "best,scalar";
    double min_time = 0.3;
    int reps = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_matmul [--types q4_0,q8_0,...] [--shapes 2048x2048,...] [--n 1,256]\n"
                   "                    [--threads 1,2] [--levels best,avx2,scalar] [--time SECONDS] [--reps R]\n"
                   "See bench/KERNELS.md.\n");
            return 0;
        }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--types")) types_s = argv[i + 1];
        else if (!strcmp(argv[i], "--shapes")) shapes_s = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) n_s = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) thr_s = argv[i + 1];
        else if (!strcmp(argv[i], "--levels")) lvl_s = argv[i + 1];
        else if (!strcmp(argv[i], "--time")) min_time = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_matmul: unknown option %s\n", argv[i]); return 2; }
    }
    char types[16][32], shapes[16][32], ns[16][32], thr[8][32], lvls[4][32];
    int ntypes = parse_list(types_s, types, 16), nshapes = parse_list(shapes_s, shapes, 16);
    int nn = parse_list(n_s, ns, 16), nthr = parse_list(thr_s, thr, 8), nlvl = parse_list(lvl_s, lvls, 4);
    int best = ur_simd_set(99);
    /* ms per call by [type][shape][n][threads][level] for the summary */
    static double ms[16][16][16][8][4];
    printf("# best SIMD level: %s\n", ur_simd_name(best));

    ur_pool *pools[8];
    for (int t = 0; t < nthr; t++)
        if (!(pools[t] = ur_pool_new(atoi(thr[t]), NULL))) return 2;
    size_t mb = (size_t)1 << 30;
    uint8_t *buf = aligned_alloc(64, mb);
    memset(buf, 1, mb);
    for (int t = 0; t < nthr; t++) {
        double g = 0;
        for (int rep = 0; rep < 3 * reps; rep++) {
            double v = memread(buf, mb, pools[t]);
            if (v > g) g = v;
        }
        printf("memread threads %s: %.1f GB/s\n", thr[t], g);
    }
    free(buf);

    printf("%-5s %-11s %4s %3s %-7s %10s %10s %9s %9s\n", "type", "shape", "n", "thr", "level", "GB/s", "GFLOP/s",
           "ms/call", "prep ms");
    for (int ti = 0; ti < ntypes; ti++) {
        int type = -1;
        static const int all[] = {UR_TYPE_F32, UR_TYPE_F16, UR_TYPE_Q4_0, UR_TYPE_Q8_0, UR_TYPE_Q4_K,
                                  UR_TYPE_Q5_K, UR_TYPE_Q6_K, UR_TYPE_BF16};
        for (int i = 0; i < 8; i++)
            if (!strcmp(ur_type_name(all[i]), types[ti])) type = all[i];
        if (type < 0) { fprintf(stderr, "bench_matmul: unknown type %s\n", types[ti]); return 2; }
        for (int si = 0; si < nshapes; si++) {
            int64_t rows, k;
            if (sscanf(shapes[si], "%ldx%ld", &rows, &k) != 2) return 2;
            uint64_t bytes = ur_row_size(type, k) * (uint64_t)rows;
            int copies = (int)((256u << 20) / bytes) + 1;
            if (copies > 64) copies = 64;
            uint8_t *w = aligned_alloc(64, (bytes * copies + 63) & ~(uint64_t)63);
            fill(type, w, rows, k);
            for (int c = 1; c < copies; c++) memcpy(w + c * bytes, w, bytes);
            for (int ni = 0; ni < nn; ni++) {
                int64_t n = atoi(ns[ni]);
                float *x = malloc(sizeof(float) * (size_t)(n * k)), *y = malloc(sizeof(float) * (size_t)(n * rows));
                for (int64_t i = 0; i < n * k; i++) x[i] = rndf();
                ur_act a = {0};
                for (int li = 0; li < nlvl; li++) {
                    int lvl = !strcmp(lvls[li], "scalar") ? 0 : !strcmp(lvls[li], "avx2") ? 1 : best;
                    ur_simd_set(lvl);
                    /* scalar prefill is slow: time a slice of the rows (the rate is what we report) */
                    int64_t r_used = rows;
                    if (lvl == 0 && n > 1 && r_used > 256) r_used = 256;
                    for (int th = 0; th < nthr; th++) {
                        int nt = atoi(thr[th]);
                        int preps = 0;
                        double p0 = ur_now(), pt;
                        do {
                            ur_act_prepare(&a, ur_act_type(type), x, n, k, pools[th]);
                            preps++;
                            pt = ur_now() - p0;
                        } while (pt < min_time / 10);
                        ur_matmul(w, type, r_used, &a, y, r_used, pools[th]); /* warm up */
                        double per = 1e30;
                        for (int rp = 0; rp < (reps > 0 ? reps : 1); rp++) {
                            int calls = 0, c = 0;
                            double t0 = ur_now(), t;
                            do {
                                ur_matmul(w + (uint64_t)c * bytes, type, r_used, &a, y, r_used, pools[th]);
                                c = (c + 1) % copies;
                                calls++;
                                t = ur_now() - t0;
                            } while (t < min_time);
                            if (t / calls < per) per = t / calls;
                        }
                        double gbs = (double)ur_row_size(type, k) * (double)r_used / per / 1e9;
                        double gf = 2.0 * (double)r_used * (double)k * (double)n / per / 1e9;
                        ms[ti][si][ni][th][li] = per * 1e3 * (double)rows / (double)r_used;
                        printf("%-5s %-11s %4ld %3d %-7s %10.1f %10.1f %9.3f %9.3f\n", types[ti], shapes[si], (long)n,
                               nt, ur_simd_name(lvl), gbs, gf, per * 1e3 * (double)rows / (double)r_used,
                               pt / preps * 1e3);
                        fflush(stdout);
                    }
                }
                ur_act_free(&a);
                free(x);
                free(y);
            }
            free(w);
        }
    }
    /* TinyLlama-1.1B matmul-only estimate, if the five shapes were run in order */
    static const char *tl[5] = {"2048x2048", "256x2048", "5632x2048", "2048x5632", "32000x2048"};
    static const double per_layer[5] = {2, 2, 2, 1, 0};
    int ok = nshapes == 5;
    for (int i = 0; ok && i < 5; i++) ok = !strcmp(shapes[i], tl[i]);
    if (ok) {
        printf("\nTinyLlama-1.1B shapes, matmuls only (22 layers + output): tokens/s\n");
        printf("%-5s %4s %3s %-7s %10s\n", "type", "n", "thr", "level", "tok/s");
        for (int ti = 0; ti < ntypes; ti++)
            for (int ni = 0; ni < nn; ni++)
                for (int li = 0; li < nlvl; li++)
                    for (int th = 0; th < nthr; th++) {
                        double t = ms[ti][4][ni][th][li];
                        for (int si = 0; si < 4; si++) t += 22 * per_layer[si] * ms[ti][si][ni][th][li];
                        printf("%-5s %4s %3s %-7s %10.1f\n", types[ti], ns[ni], thr[th], lvls[li],
                               atof(ns[ni]) / (t / 1e3));
                    }
    }
    for (int t = 0; t < nthr; t++) ur_pool_free(pools[t]);
    return 0;
}
