/* Transformer row operations; see ops.h. The F16 helpers have an AVX2+F16C path
 * chosen at run time and a scalar reference. */
#include "tensor/ops.h"

#include <math.h>
#include <pthread.h>

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

void ur_rope_cache(float *cs, float pos, int n_rot, float base, float scale, const float *freqs, float mscale) {
    /* theta for pair i = pos * base^(-2i/n_rot), built as a running product
     * (the same float rounding as ggml's cache), then divided by the optional
     * per-pair frequency factor and the linear scale. */
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = pos;
    for (int i = 0; i < n_rot / 2; i++) {
        float ff = freqs ? freqs[i] : 1.0f;
        float t = (theta / ff) * (1.0f / scale);
        cs[2 * i] = cosf(t) * mscale;
        cs[2 * i + 1] = sinf(t) * mscale;
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

void ur_swiglu(float *h, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

float ur_gelu(float x) {
    const float a = 0.044715f, s = 0.79788456080286535587989211986876f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(s * x * (1.0f + a * x * x)));
}

/* GELU of every F16 value, rounded to F16 (128 KiB, filled once): llama.cpp's table,
 * so that GeGLU models give its very numbers. A constant of the math, not state. */
static uint16_t gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void gelu_table_init(void) {
    for (int i = 0; i < 1 << 16; i++) gelu_table[i] = ur_f32_to_f16(ur_gelu(ur_f16_to_f32((uint16_t)i)));
}

/* Elements [i, n) in scalar code (the reference; the AVX2 path's tail). */
static void geglu_scalar(float *h, const float *g, const float *u, int i, int n) {
    for (; i < n; i++) {
        const float x = g[i];
        if (x <= -10.0f) h[i] = 0.0f;
        else if (x >= 10.0f) h[i] = x * u[i];
        else h[i] = ur_f16_to_f32(gelu_table[ur_f32_to_f16(x)]) * u[i];
    }
}

#if UR_X86
/* 8 at a time: the F16 rounding and widening in F16C instructions (the same
 * round-to-nearest-even), the lookup per element. */
__attribute__((target("avx2,fma,f16c"))) static void geglu_avx2(float *h, const float *g, const float *u, int n) {
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    uint16_t idx[8], val[8];
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i), vu = _mm256_loadu_ps(u + i);
        _mm_storeu_si128((__m128i *)idx, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        for (int j = 0; j < 8; j++) val[j] = gelu_table[idx[j]];
        __m256 y = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)val)), vu);
        y = _mm256_blendv_ps(y, _mm256_mul_ps(x, vu), _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
        y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LE_OQ));
        _mm256_storeu_ps(h + i, y);
    }
    geglu_scalar(h, g, u, i, n);
}
#endif

void ur_geglu(float *h, const float *g, const float *u, int n) {
    pthread_once(&gelu_once, gelu_table_init);
#if UR_X86
    if (ur_simd_level() >= UR_SIMD_AVX2) {
        geglu_avx2(h, g, u, n);
        return;
    }
#endif
    geglu_scalar(h, g, u, 0, n);
}

#if UR_X86
__attribute__((target("avx2,fma,f16c"))) static void f32_to_f16_avx2(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = ur_f32_to_f16(src[i]);
}
#endif

void ur_f32_to_f16_row(uint16_t *dst, const float *src, int n) {
#if UR_X86
    if (ur_simd_level() >= UR_SIMD_AVX2) {
        f32_to_f16_avx2(dst, src, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) dst[i] = ur_f32_to_f16(src[i]);
}
