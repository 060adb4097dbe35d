/* Transformer row operations; see ops.h. The F16 helpers have an AVX2+F16C path
 * chosen at run time and a scalar reference. */
#include "tensor/ops.h"

#include <math.h>

#include "urial/tensor.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define UR_X86 1
#else
#define UR_X86 0
#endif

void ur_rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    double sum = 0.0; /* float squares summed in double, as ggml does */
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

void ur_rope_cache(float *cs, float pos, int n_rot, float base, float scale, const float *freqs) {
    /* theta for pair i = pos * base^(-2i/n_rot), built as a running product
     * (the same float rounding as ggml's cache), then divided by the optional
     * per-pair frequency factor and the linear scale. */
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = pos;
    for (int i = 0; i < n_rot / 2; i++) {
        float ff = freqs ? freqs[i] : 1.0f;
        float t = (theta / ff) * (1.0f / scale);
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

void ur_rope(float *x, const float *cs, int n_rot, int neox) {
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

void ur_softmax(float *x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max) max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        float e = expf(x[i] - max);
        x[i] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void ur_swiglu(float *h, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- F16 rows --------------------------------------------------------------- */
#if UR_X86
__attribute__((target("avx2,fma,f16c"))) static float dot_f32_f16_avx2(const float *a, const uint16_t *b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), b1, acc1);
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    float r = _mm_cvtss_f32(s);
    for (; i < n; i++) r += a[i] * ur_f16_to_f32(b[i]);
    return r;
}

__attribute__((target("avx2,fma,f16c"))) static void axpy_f16_avx2(float *y, const uint16_t *x, float a, int n) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, vx, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * ur_f16_to_f32(x[i]);
}

__attribute__((target("avx2,fma,f16c"))) static void f32_to_f16_avx2(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = ur_f32_to_f16(src[i]);
}
#endif

float ur_dot_f32_f16(const float *a, const uint16_t *b, int n) {
#if UR_X86
    if (ur_simd_level() >= UR_SIMD_AVX2) return dot_f32_f16_avx2(a, b, n);
#endif
    float r = 0.0f;
    for (int i = 0; i < n; i++) r += a[i] * ur_f16_to_f32(b[i]);
    return r;
}

void ur_axpy_f16(float *y, const uint16_t *x, float a, int n) {
#if UR_X86
    if (ur_simd_level() >= UR_SIMD_AVX2) {
        axpy_f16_avx2(y, x, a, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) y[i] += a * ur_f16_to_f32(x[i]);
}

void ur_f32_to_f16_row(uint16_t *dst, const float *src, int n) {
#if UR_X86
    if (ur_simd_level() >= UR_SIMD_AVX2) {
        f32_to_f16_avx2(dst, src, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) dst[i] = ur_f32_to_f16(src[i]);
}
