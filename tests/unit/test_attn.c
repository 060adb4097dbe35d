/* ur_attend (src/tensor/attn.c): several queries sharing one KV head against an F16
 * cache, at every SIMD level this machine has, against a double-precision reference;
 * and a query's result bit-identical whatever other queries share its call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensor/ops.h"
#include "urial/tensor.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

typedef struct {
    int hd, rows, kv_stride, n_ctx;
    uint16_t *k, *v;
    float *q;   /* [UR_ATTN_MAXQ][hd] */
    float *out; /* [UR_ATTN_MAXQ][hd] */
} fixture;

static void fixture_init(fixture *f, int hd, int rows, int n_ctx, float qscale) {
    f->hd = hd, f->rows = rows, f->n_ctx = n_ctx, f->kv_stride = hd * 2; /* a second head interleaved */
    f->k = malloc(sizeof(uint16_t) * (size_t)rows * f->kv_stride);
    f->v = malloc(sizeof(uint16_t) * (size_t)rows * f->kv_stride);
    for (size_t i = 0; i < (size_t)rows * f->kv_stride; i++) f->k[i] = ur_f32_to_f16(frand()), f->v[i] = ur_f32_to_f16(frand());
    f->q = malloc(sizeof(float) * UR_ATTN_MAXQ * (size_t)hd);
    f->out = malloc(sizeof(float) * UR_ATTN_MAXQ * (size_t)hd);
    for (int i = 0; i < UR_ATTN_MAXQ * hd; i++) f->q[i] = frand() * qscale;
}

static void fixture_free(fixture *f) { free(f->k), free(f->v), free(f->q), free(f->out); }

static ur_attn make(const fixture *f, float scale, float cap) {
    ur_attn a = {.nq = 0, .hd = f->hd, .rows = f->rows, .kv_stride = f->kv_stride, .k = f->k + f->hd, .v = f->v + f->hd,
                 .scale = scale, .cap = cap};
    return a;
}

static void add(ur_attn *a, const fixture *f, int qi, int lo, int hi, float *out) {
    a->q[a->nq] = f->q + (size_t)qi * f->hd;
    a->out[a->nq] = out;
    a->lo[a->nq] = lo, a->hi[a->nq++] = hi;
}

/* the reference in double */
static double ref_err(const fixture *f, const ur_attn *a, int i) {
    const int hd = f->hd, n = a->hi[i] - a->lo[i] + 1;
    double *s = malloc(sizeof(double) * (size_t)n), m = -1e300, sum = 0, worst = 0, big = 1e-9;
    for (int p = a->lo[i]; p <= a->hi[i]; p++) {
        const uint16_t *k = a->k + (size_t)(p % a->rows) * a->kv_stride;
        double d = 0;
        for (int e = 0; e < hd; e++) d += (double)a->q[i][e] * ur_f16_to_f32(k[e]);
        d *= a->scale;
        if (a->cap > 0) d = a->cap * tanh(d);
        s[p - a->lo[i]] = d;
        if (d > m) m = d;
    }
    for (int j = 0; j < n; j++) sum += s[j] = exp(s[j] - m);
    for (int e = 0; e < hd; e++) {
        double o = 0;
        for (int p = a->lo[i]; p <= a->hi[i]; p++) o += s[p - a->lo[i]] / sum * ur_f16_to_f32(a->v[(size_t)(p % a->rows) * a->kv_stride + e]);
        if (fabs(o) > big) big = fabs(o);
        if (fabs(o - a->out[i][e]) > worst) worst = fabs(o - a->out[i][e]);
    }
    free(s);
    return worst / big;
}

/* 16 queries with different ranges (windows, a ring that wraps, single positions) */
static void matches_reference(void) {
    const int hds[] = {64, 96, 128, 256, 24, 12};
    const int top = ur_simd_level();
    for (int level = 0; level <= top; level++) {
        ur_simd_set(level);
        double level_worst = 0;
        for (size_t hi_ = 0; hi_ < sizeof hds / sizeof hds[0]; hi_++) {
            const int hd = hds[hi_];
            for (int ring = 0; ring < 2; ring++) {
                fixture f;
                const int n_ctx = 300, rows = ring ? 53 : n_ctx;
                fixture_init(&f, hd, rows, n_ctx, 3.0f);
                float *scratch = calloc(ur_attend_scratch(n_ctx, hd), sizeof(float));
                for (int capped = 0; capped < 2; capped++) {
                    ur_attn a = make(&f, 1.0f / sqrtf((float)hd), capped ? 0.5f : 0);
                    for (int i = 0; i < UR_ATTN_MAXQ; i++) {
                        int hi = ring ? 250 + i : 17 * i + 3, lo = ring ? hi - 40 + (i % 3) : (i % 4 == 0 ? 0 : hi - 5 * i);
                        if (i == 7) lo = hi; /* one position */
                        if (lo < 0) lo = 0;
                        add(&a, &f, i, lo, hi, f.out + (size_t)i * hd);
                    }
                    ur_attend(&a, scratch);
                    double worst = 0;
                    for (int i = 0; i < a.nq; i++) {
                        double e = ref_err(&f, &a, i);
                        if (e > worst) worst = e;
                    }
                    if (worst > level_worst) level_worst = worst;
                    CHECKF(worst < 2e-6, "%s hd %d ring %d cap %d: relative error %g", ur_simd_name(level), hd, ring, capped, worst);
                }
                free(scratch);
                fixture_free(&f);
            }
        }
        printf("INFO attn %s: worst relative error %.2g against double\n", ur_simd_name(level), level_worst);
    }
    ur_simd_set(top);
}

/* query 5 alone, with 15 others, and with others of other ranges: the same bits */
static void query_independent_of_company(void) {
    const int top = ur_simd_level();
    for (int level = 0; level <= top; level++) {
        ur_simd_set(level);
        fixture f;
        fixture_init(&f, 64, 40, 500, 2.0f);
        float *scratch = calloc(ur_attend_scratch(500, 64), sizeof(float));
        float alone[64], *mixed = malloc(sizeof(float) * UR_ATTN_MAXQ * 64);
        ur_attn a = make(&f, 0.125f, 0);
        add(&a, &f, 5, 437, 470, alone);
        ur_attend(&a, scratch);
        for (int trial = 0; trial < 3; trial++) {
            ur_attn b = make(&f, 0.125f, 0);
            for (int i = 0; i < UR_ATTN_MAXQ; i++) {
                int hi = i == 5 ? 470 : 440 + trial * 9 + i, lo = i == 5 ? 437 : hi - 30 + i;
                add(&b, &f, i == 5 ? 5 : (i + trial) % UR_ATTN_MAXQ, lo, hi, mixed + (size_t)i * 64);
            }
            ur_attend(&b, scratch);
            CHECKF(!memcmp(alone, mixed + 5 * 64, sizeof alone), "%s trial %d: query 5 changed with its company", ur_simd_name(level), trial);
        }
        free(mixed), free(scratch);
        fixture_free(&f);
    }
    ur_simd_set(top);
}

int main(void) {
    th_suite = "attn";
    RUN(matches_reference);
    RUN(query_independent_of_company);
    TEST_MAIN_END();
}
