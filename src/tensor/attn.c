/* Attention of several queries that share one KV head (ur_attend): the heads of a
 * GQA group, times a few consecutive rows of one sequence in a prefill.
 *
 * The keys are visited in tiles of 16 positions aligned to multiples of 16 of the
 * absolute position. A tile's keys (then its values) are widened from the F16 cache
 * into f32 once and used by every query of the task, so a group of g heads reads and
 * converts its cache once instead of g times. Per query the softmax is exact (two
 * passes over its scores: the maximum, then exp and the sum) with a vectorised exp;
 * the output is the sum of p_j v_j in position order, divided by the sum at the end.
 *
 * A query's result depends only on its own vector, its own positions and the cache:
 * not on which other queries share the task, nor on where the task's range starts
 * (lanes are fixed by position mod 16, and every sum runs over the query's own tiles
 * in order). That keeps batched decoding, prefill chunks and single decodes
 * bit-identical to one another. */
#include <math.h>
#include <string.h>

#include "tensor/ops.h"
#include "urial/tensor.h"

#define TILE 16

/* The positions a call covers: lo..hi over all its queries; scores are kept from
 * base (lo rounded down to a tile) for span positions (whole tiles). */
typedef struct range {
    int lo, hi, base, span;
} range;

/* f32 copy of positions [b0, b0 + TILE) (those in [lo, hi]; others left alone) */
static void widen_tile(float *t, const uint16_t *base, const ur_attn *a, int b0, int lo, int hi) {
    for (int j = 0; j < TILE; j++) {
        const int p = b0 + j;
        if (p < lo || p > hi) continue;
        const uint16_t *r = base + (size_t)(p % a->rows) * (size_t)a->kv_stride;
        for (int d = 0; d < a->hd; d++) t[(size_t)j * a->hd + d] = ur_f16_to_f32(r[d]);
    }
}

static float cap_score(float s, float cap) { return cap > 0 ? cap * tanhf(s) : s; }

/* ---- the portable kernel ---------------------------------------------------------- */

static void attend_scalar(const ur_attn *a, const range *g, float *tile, float *sc) {
    const int hd = a->hd;
    const int lo = g->lo, hi = g->hi, base = g->base, span = g->span;
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile(tile, a->k, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            float *s = sc + (size_t)i * span - base;
            for (int p = b0 > a->lo[i] ? b0 : a->lo[i]; p < b0 + TILE && p <= a->hi[i]; p++) {
                const float *k = tile + (size_t)(p - b0) * hd;
                float d = 0;
                for (int e = 0; e < hd; e++) d += a->q[i][e] * k[e];
                s[p] = cap_score(d * a->scale, a->cap);
            }
        }
    }
    float inv[UR_ATTN_MAXQ];
    for (int i = 0; i < a->nq; i++) {
        float *s = sc + (size_t)i * span - base, m = -INFINITY;
        double sum = 0;
        for (int p = a->lo[i]; p <= a->hi[i]; p++) m = s[p] > m ? s[p] : m;
        for (int p = a->lo[i]; p <= a->hi[i]; p++) sum += s[p] = expf(s[p] - m);
        inv[i] = (float)(1.0 / sum);
        memset(a->out[i], 0, sizeof(float) * (size_t)hd);
    }
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile(tile, a->v, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            const float *s = sc + (size_t)i * span - base;
            for (int p = b0 > a->lo[i] ? b0 : a->lo[i]; p < b0 + TILE && p <= a->hi[i]; p++)
                for (int e = 0; e < hd; e++) a->out[i][e] += s[p] * tile[(size_t)(p - b0) * hd + e];
        }
    }
    for (int i = 0; i < a->nq; i++)
        for (int e = 0; e < hd; e++) a->out[i][e] *= inv[i];
}

/* ---- AVX-512 ------------------------------------------------------------------------ */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512dq,avx2,fma,f16c")))
#define I512 static inline __attribute__((always_inline, target("avx512f,avx512dq,avx2,fma,f16c")))

/* widen a tile's positions in [lo, hi] with 16-wide conversions (hd % 16 == 0) */
I512 void widen_tile512(float *t, const uint16_t *base, const ur_attn *a, int b0, int lo, int hi) {
    for (int j = 0; j < TILE; j++) {
        const int p = b0 + j;
        if (p < lo || p > hi) continue;
        const uint16_t *r = base + (size_t)(p % a->rows) * (size_t)a->kv_stride;
        for (int d = 0; d < a->hd; d += 16)
            _mm512_storeu_ps(t + (size_t)j * a->hd + d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + d))));
    }
}

/* lane j of the result = the sum of the 16 lanes of v[j] */
I512 __m512 sum16(__m512 *v) {
    __m512 w[8], x[4], y[2];
    for (int i = 0; i < 8; i++)
        w[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++)
        x[i] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * i], w[2 * i + 1], 0x44), _mm512_shuffle_ps(w[2 * i], w[2 * i + 1], 0xEE));
    /* x[i]: 128-bit block L holds keys 4i..4i+3's partial sums of block L */
    for (int i = 0; i < 2; i++)
        y[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x88), _mm512_shuffle_f32x4(y[0], y[1], 0xDD));
}

/* e^x for x <= 0 (lanes below -87 give ~1e-38, callers mask them): x = n ln2 + r,
 * |r| <= ln2/2, e^r by its Taylor polynomial to r^7 (relative error < 1e-8). */
I512 __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, n);
}

/* lanes of tile b0 that hold positions in [lo, hi] */
I512 __mmask16 lanes(int b0, int lo, int hi) {
    const int j0 = lo > b0 ? lo - b0 : 0, j1 = hi < b0 + TILE - 1 ? hi - b0 : TILE - 1;
    if (j1 < j0) return 0;
    return (__mmask16)(((1u << (j1 + 1)) - 1) & ~((1u << j0) - 1));
}

T512 static void attend_avx512(const ur_attn *a, const range *g, float *tile, float *sc) {
    const int hd = a->hd;
    const int lo = g->lo, hi = g->hi, base = g->base, span = g->span;
    const __m512 vscale = _mm512_set1_ps(a->scale), ninf = _mm512_set1_ps(-INFINITY);
    /* scores: 16 dot products per query and tile, reduced into one vector */
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile512(tile, a->k, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            const __mmask16 m = lanes(b0, a->lo[i], a->hi[i]);
            if (!m) continue;
            __m512 acc[TILE];
            for (int j = 0; j < TILE; j++) acc[j] = _mm512_setzero_ps();
            for (int d = 0; d < hd; d += 16) {
                const __m512 qd = _mm512_loadu_ps(a->q[i] + d);
#pragma GCC unroll 16
                for (int j = 0; j < TILE; j++) acc[j] = _mm512_fmadd_ps(qd, _mm512_loadu_ps(tile + (size_t)j * hd + d), acc[j]);
            }
            float *s = sc + (size_t)i * span + (b0 - base);
            _mm512_storeu_ps(s, _mm512_mask_blend_ps(m, ninf, _mm512_mul_ps(sum16(acc), vscale)));
            if (a->cap > 0)
                for (int j = 0; j < TILE; j++)
                    if (m >> j & 1) s[j] = cap_score(s[j], a->cap);
        }
    }
    /* softmax numerators in place; 1 / sum per query */
    float inv[UR_ATTN_MAXQ];
    for (int i = 0; i < a->nq; i++) {
        float *s = sc + (size_t)i * span - base;
        const int t0 = a->lo[i] - (a->lo[i] - base) % TILE, t1 = a->hi[i];
        __m512 vm = ninf;
        for (int b0 = t0; b0 <= t1; b0 += TILE) vm = _mm512_max_ps(vm, _mm512_loadu_ps(s + b0)); /* -inf outside */
        const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
        __m512 vs = _mm512_setzero_ps();
        for (int b0 = t0; b0 <= t1; b0 += TILE) {
            const __m512 e = _mm512_maskz_mov_ps(lanes(b0, a->lo[i], a->hi[i]), exp512(_mm512_sub_ps(_mm512_loadu_ps(s + b0), mx)));
            _mm512_storeu_ps(s + b0, e);
            vs = _mm512_add_ps(vs, e);
        }
        inv[i] = 1.0f / _mm512_reduce_add_ps(vs);
        memset(a->out[i], 0, sizeof(float) * (size_t)hd);
    }
    /* outputs: sum of p v over each query's positions, in order */
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile512(tile, a->v, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            const float *s = sc + (size_t)i * span - base;
            const int p0 = b0 > a->lo[i] ? b0 : a->lo[i], p1 = b0 + TILE - 1 < a->hi[i] ? b0 + TILE - 1 : a->hi[i];
            if (p1 < p0) continue;
            for (int d = 0; d < hd; d += 16) {
                __m512 acc = _mm512_loadu_ps(a->out[i] + d);
                for (int p = p0; p <= p1; p++)
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(s[p]), _mm512_loadu_ps(tile + (size_t)(p - b0) * hd + d), acc);
                _mm512_storeu_ps(a->out[i] + d, acc);
            }
        }
    }
    for (int i = 0; i < a->nq; i++) {
        const __m512 vi = _mm512_set1_ps(inv[i]);
        for (int d = 0; d < hd; d += 16) _mm512_storeu_ps(a->out[i] + d, _mm512_mul_ps(_mm512_loadu_ps(a->out[i] + d), vi));
    }
}

/* ---- AVX2 (8 lanes: a tile is two halves) ------------------------------------------ */
#define T256 __attribute__((target("avx2,fma,f16c")))
#define I256 static inline __attribute__((always_inline, target("avx2,fma,f16c")))

I256 void widen_tile256(float *t, const uint16_t *base, const ur_attn *a, int b0, int lo, int hi) {
    for (int j = 0; j < TILE; j++) {
        const int p = b0 + j;
        if (p < lo || p > hi) continue;
        const uint16_t *r = base + (size_t)(p % a->rows) * (size_t)a->kv_stride;
        for (int d = 0; d < a->hd; d += 8)
            _mm256_storeu_ps(t + (size_t)j * a->hd + d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + d))));
    }
}

/* lane j of the result = the sum of the 8 lanes of v[j] */
I256 __m256 sum8(const __m256 *v) {
    const __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 u0 = _mm256_hadd_ps(h0, h1), u1 = _mm256_hadd_ps(h2, h3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* e^x for x <= 0, as exp512 (2^n built in the exponent bits: n >= -126 here) */
I256 __m256 exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* all-ones lanes for positions b0..b0+7 inside [lo, hi] */
I256 __m256 lanes256(int b0, int lo, int hi) {
    const __m256i pos = _mm256_add_epi32(_mm256_set1_epi32(b0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(lo), pos), above = _mm256_cmpgt_epi32(pos, _mm256_set1_epi32(hi));
    return _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_or_si256(below, above), _mm256_set1_epi32(-1)));
}

T256 static void attend_avx2(const ur_attn *a, const range *g, float *tile, float *sc) {
    const int hd = a->hd;
    const int lo = g->lo, hi = g->hi, base = g->base, span = g->span;
    const __m256 vscale = _mm256_set1_ps(a->scale), ninf = _mm256_set1_ps(-INFINITY);
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile256(tile, a->k, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            if (b0 + TILE <= a->lo[i] || b0 > a->hi[i]) continue;
            float *s = sc + (size_t)i * span + (b0 - base);
            for (int h = 0; h < TILE; h += 8) {
                __m256 acc[8];
                for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
                for (int d = 0; d < hd; d += 8) {
                    const __m256 qd = _mm256_loadu_ps(a->q[i] + d);
#pragma GCC unroll 8
                    for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(tile + (size_t)(h + j) * hd + d), acc[j]);
                }
                _mm256_storeu_ps(s + h, _mm256_blendv_ps(ninf, _mm256_mul_ps(sum8(acc), vscale), lanes256(b0 + h, a->lo[i], a->hi[i])));
            }
            if (a->cap > 0)
                for (int j = 0; j < TILE; j++)
                    if (b0 + j >= a->lo[i] && b0 + j <= a->hi[i]) s[j] = cap_score(s[j], a->cap);
        }
    }
    float inv[UR_ATTN_MAXQ];
    for (int i = 0; i < a->nq; i++) {
        float *s = sc + (size_t)i * span - base;
        const int t0 = a->lo[i] - (a->lo[i] - base) % TILE, t1 = a->hi[i];
        __m256 vm = ninf;
        for (int b0 = t0; b0 <= t1; b0 += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + b0));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const __m256 mx = _mm256_set1_ps(_mm_cvtss_f32(m4));
        __m256 vs = _mm256_setzero_ps();
        for (int b0 = t0; b0 <= t1; b0 += 8) {
            const __m256 e = _mm256_and_ps(lanes256(b0, a->lo[i], a->hi[i]), exp256(_mm256_sub_ps(_mm256_loadu_ps(s + b0), mx)));
            _mm256_storeu_ps(s + b0, e);
            vs = _mm256_add_ps(vs, e);
        }
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(vs), _mm256_extractf128_ps(vs, 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
        inv[i] = 1.0f / _mm_cvtss_f32(s4);
        memset(a->out[i], 0, sizeof(float) * (size_t)hd);
    }
    for (int b0 = base; b0 <= hi; b0 += TILE) {
        widen_tile256(tile, a->v, a, b0, lo, hi);
        for (int i = 0; i < a->nq; i++) {
            const float *s = sc + (size_t)i * span - base;
            const int p0 = b0 > a->lo[i] ? b0 : a->lo[i], p1 = b0 + TILE - 1 < a->hi[i] ? b0 + TILE - 1 : a->hi[i];
            if (p1 < p0) continue;
            for (int d = 0; d < hd; d += 8) {
                __m256 acc = _mm256_loadu_ps(a->out[i] + d);
                for (int p = p0; p <= p1; p++)
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(s[p]), _mm256_loadu_ps(tile + (size_t)(p - b0) * hd + d), acc);
                _mm256_storeu_ps(a->out[i] + d, acc);
            }
        }
    }
    for (int i = 0; i < a->nq; i++) {
        const __m256 vi = _mm256_set1_ps(inv[i]);
        for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(a->out[i] + d, _mm256_mul_ps(_mm256_loadu_ps(a->out[i] + d), vi));
    }
}
#endif

size_t ur_attend_scratch(int n_ctx, int hd) {
    return (size_t)TILE * (size_t)hd + (size_t)UR_ATTN_MAXQ * ((size_t)n_ctx + 2 * TILE);
}

void ur_attend(const ur_attn *a, float *scratch) {
    range g = {a->lo[0], a->hi[0], 0, 0};
    for (int i = 1; i < a->nq; i++) {
        if (a->lo[i] < g.lo) g.lo = a->lo[i];
        if (a->hi[i] > g.hi) g.hi = a->hi[i];
    }
    g.base = g.lo - g.lo % TILE, g.span = (g.hi - g.base) / TILE * TILE + TILE;
    float *tile = scratch, *sc = scratch + (size_t)TILE * (size_t)a->hd;
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
    if (a->hd % 16 == 0 && ur_simd_level() >= UR_SIMD_AVX512) {
        attend_avx512(a, &g, tile, sc);
        return;
    }
    if (a->hd % 8 == 0 && ur_simd_level() >= UR_SIMD_AVX2) {
        attend_avx2(a, &g, tile, sc);
        return;
    }
#endif
    attend_scalar(a, &g, tile, sc);
}
