/* GEMM micro-kernels for AVX-512 (12 x 32) and AVX2 (6 x 16), compiled with
 * function-level target attributes and chosen at run time (gemm.c). Both keep
 * the whole C tile in registers (24 zmm / 12 ymm accumulators), load one row of
 * the packed B panel per k step and broadcast the A values from the packed A
 * panel (gcc folds the broadcast into the FMA's memory operand). */
#include "train/gemm.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f")))
#define T256 __attribute__((target("avx2,fma")))

T512 static void kernel_12x32(int kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
#define Z(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
    Z(0) Z(1) Z(2) Z(3) Z(4) Z(5) Z(6) Z(7) Z(8) Z(9) Z(10) Z(11)
#undef Z
    for (int p = 0; p < kc; p++, a += 12, b += 32) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define F(i)                                                                                                   \
    {                                                                                                          \
        const __m512 ai = _mm512_set1_ps(a[i]);                                                                \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                            \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                            \
    }
        F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
#undef F
    }
    const __m512 va = _mm512_set1_ps(alpha);
#define S(i)                                                                                                   \
    {                                                                                                          \
        float *r = c + (long)(i) * ldc;                                                                        \
        __m512 v0 = _mm512_mul_ps(c##i##0, va), v1 = _mm512_mul_ps(c##i##1, va);                               \
        if (acc) v0 = _mm512_add_ps(v0, _mm512_loadu_ps(r)), v1 = _mm512_add_ps(v1, _mm512_loadu_ps(r + 16));  \
        _mm512_storeu_ps(r, v0);                                                                               \
        _mm512_storeu_ps(r + 16, v1);                                                                          \
    }
    S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
#undef S
}

T256 static void kernel_6x16(int kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
#define Z(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
    Z(0) Z(1) Z(2) Z(3) Z(4) Z(5)
#undef Z
    for (int p = 0; p < kc; p++, a += 6, b += 16) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#define F(i)                                                                                                   \
    {                                                                                                          \
        const __m256 ai = _mm256_broadcast_ss(a + (i));                                                       \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                                            \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                                            \
    }
        F(0) F(1) F(2) F(3) F(4) F(5)
#undef F
    }
    const __m256 va = _mm256_set1_ps(alpha);
#define S(i)                                                                                                   \
    {                                                                                                          \
        float *r = c + (long)(i) * ldc;                                                                        \
        __m256 v0 = _mm256_mul_ps(c##i##0, va), v1 = _mm256_mul_ps(c##i##1, va);                               \
        if (acc) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r + 8));   \
        _mm256_storeu_ps(r, v0);                                                                               \
        _mm256_storeu_ps(r + 8, v1);                                                                           \
    }
    S(0) S(1) S(2) S(3) S(4) S(5)
#undef S
}

int ur_gemm_avx512(ur_gemm_impl *k) {
    k->mr = 12, k->nr = 32, k->kernel = kernel_12x32;
    return 1;
}
int ur_gemm_avx2(ur_gemm_impl *k) {
    k->mr = 6, k->nr = 16, k->kernel = kernel_6x16;
    return 1;
}
#else
int ur_gemm_avx512(ur_gemm_impl *k) {
    (void)k;
    return 0;
}
int ur_gemm_avx2(ur_gemm_impl *k) {
    (void)k;
    return 0;
}
#endif
