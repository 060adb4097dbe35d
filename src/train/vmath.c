/* Row kernels (vmath.h): scalar reference first, then the SIMD paths. */
#include "train/vmath.h"

#include <math.h>

#include "urial/tensor.h"

/* ---- scalar --------------------------------------------------------------- */
static float exp_sum_scalar(float *y, const float *x, float m, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += (y[i] = expf(x[i] - m));
    return s;
}
static void swiglu_scalar(float *h, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
/* h = g sig(g) u; dh/dg = u sig(g) (1 + g (1 - sig(g))), dh/du = g sig(g) */
static void swiglu_back_scalar(float *dg, float *du, float *h, const float *g, const float *u, const float *dh,
                               int n) {
    for (int i = 0; i < n; i++) {
        const float gi = g[i], ui = u[i], d = dh[i];
        const float sg = 1.0f / (1.0f + expf(-gi)), si = gi * sg;
        if (h) h[i] = si * ui;
        dg[i] = d * ui * sg * (1.0f + gi * (1.0f - sg));
        du[i] = d * si;
    }
}

#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx512dq")))
#define T256 __attribute__((target("avx2,fma")))
#define I512 static inline __attribute__((always_inline, target("avx512f,avx512dq")))
#define I256 static inline __attribute__((always_inline, target("avx2,fma")))

/* exp(x) = 2^n * p(r), n = round(x log2 e), r = x - n ln 2 (two-part ln 2) */
#define EXP_C(X)                                                                                          \
    X(LOG2E, 1.44269504088896341f) X(LN2HI, 0.693359375f) X(LN2LO, -2.12194440e-4f)                       \
    X(P0, 1.9875691500e-4f) X(P1, 1.3981999507e-3f) X(P2, 8.3334519073e-3f) X(P3, 4.1665795894e-2f)      \
    X(P4, 1.6666665459e-1f) X(P5, 5.0000001201e-1f)
#define DECL(name, v) static const float name = v;
EXP_C(DECL)
#undef DECL

I512 __m512 exp512(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.33654f);
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.3762626647949f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2LO), r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    __m512 r2 = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps((__mmask16)~under, p, n);
}

I256 __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.3762626647949f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    __m256 r2 = _mm256_mul_ps(r, r);
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n: n in [-126, 128) after the clamp; split n = n1 + n2 so each power is a
     * normal float (n = 128 only for x near the top of the range) */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    p = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_andnot_ps(under, p);
}

I512 float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }
I256 float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T512 static float exp_sum_512(float *y, const float *x, float m, int n) {
    __m512 acc = _mm512_setzero_ps(), vm = _mm512_set1_ps(m);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm)));
        _mm512_mask_storeu_ps(y + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    return hsum512(acc);
}

T256 static float exp_sum_256(float *y, const float *x, float m, int n) {
    __m256 acc = _mm256_setzero_ps(), vm = _mm256_set1_ps(m);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = hsum256(acc);
    for (; i < n; i++) s += (y[i] = expf(x[i] - m));
    return s;
}

T512 static void swiglu_512(float *h, const float *g, const float *u, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i);
        __m512 sg = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), gi))));
        _mm512_storeu_ps(h + i, _mm512_mul_ps(_mm512_mul_ps(gi, sg), _mm512_loadu_ps(u + i)));
    }
    swiglu_scalar(h + i, g + i, u + i, n - i);
}

T256 static void swiglu_256(float *h, const float *g, const float *u, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 sg = _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), gi))));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_mul_ps(gi, sg), _mm256_loadu_ps(u + i)));
    }
    swiglu_scalar(h + i, g + i, u + i, n - i);
}

T512 static void swiglu_back_512(float *dg, float *du, float *h, const float *g, const float *u, const float *dh,
                                 int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i), ui = _mm512_loadu_ps(u + i), d = _mm512_loadu_ps(dh + i);
        __m512 sg = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), gi))));
        __m512 si = _mm512_mul_ps(gi, sg);
        if (h) _mm512_storeu_ps(h + i, _mm512_mul_ps(si, ui));
        __m512 t = _mm512_fmadd_ps(gi, _mm512_sub_ps(one, sg), one);
        _mm512_storeu_ps(dg + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, ui), sg), t));
        _mm512_storeu_ps(du + i, _mm512_mul_ps(d, si));
    }
    swiglu_back_scalar(dg + i, du + i, h ? h + i : NULL, g + i, u + i, dh + i, n - i);
}

T256 static void swiglu_back_256(float *dg, float *du, float *h, const float *g, const float *u, const float *dh,
                                 int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i), ui = _mm256_loadu_ps(u + i), d = _mm256_loadu_ps(dh + i);
        __m256 sg = _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), gi))));
        __m256 si = _mm256_mul_ps(gi, sg);
        if (h) _mm256_storeu_ps(h + i, _mm256_mul_ps(si, ui));
        __m256 t = _mm256_fmadd_ps(gi, _mm256_sub_ps(one, sg), one);
        _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, ui), sg), t));
        _mm256_storeu_ps(du + i, _mm256_mul_ps(d, si));
    }
    swiglu_back_scalar(dg + i, du + i, h ? h + i : NULL, g + i, u + i, dh + i, n - i);
}
#define HAVE_SIMD 1
#else
#define HAVE_SIMD 0
#endif

float ur_vexp_sum(float *y, const float *x, float m, int n) {
#if HAVE_SIMD
    int l = ur_simd_level();
    if (l >= UR_SIMD_AVX512) return exp_sum_512(y, x, m, n);
    if (l >= UR_SIMD_AVX2) return exp_sum_256(y, x, m, n);
#endif
    return exp_sum_scalar(y, x, m, n);
}

void ur_vswiglu(float *h, const float *g, const float *u, int n) {
#if HAVE_SIMD
    int l = ur_simd_level();
    if (l >= UR_SIMD_AVX512) return swiglu_512(h, g, u, n);
    if (l >= UR_SIMD_AVX2) return swiglu_256(h, g, u, n);
#endif
    swiglu_scalar(h, g, u, n);
}

void ur_vswiglu_back(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int n) {
#if HAVE_SIMD
    int l = ur_simd_level();
    if (l >= UR_SIMD_AVX512) return swiglu_back_512(dg, du, h, g, u, dh, n);
    if (l >= UR_SIMD_AVX2) return swiglu_back_256(dg, du, h, g, u, dh, n);
#endif
    swiglu_back_scalar(dg, du, h, g, u, dh, n);
}

/* max and dot: plain loops over 16 partial lanes, which gcc vectorises (src/train is
 * built with -fvect-cost-model=dynamic) */
float ur_vmax(const float *x, int n) {
    float m[16];
    for (int j = 0; j < 16; j++) m[j] = -INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float r = -INFINITY;
    for (int j = 0; j < 16; j++) r = m[j] > r ? m[j] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

float ur_vdot(const float *a, const float *b, int n) {
    float s[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) s[j] += a[i + j] * b[i + j];
    float r = 0.0f;
    for (int j = 0; j < 16; j++) r += s[j];
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}
