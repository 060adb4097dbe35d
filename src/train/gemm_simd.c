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

/* 16 x 16 transpose: c[j][i] = r[i][j] (four stages of in-lane and lane shuffles) */
#define I512 static inline __attribute__((always_inline, target("avx512f")))
I512 void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* rows 4g..4g+3 */
        __m512 *tt = t + 4 * g, *uu = u + 4 * g;
        uu[0] = _mm512_shuffle_ps(tt[0], tt[2], 0x44); /* cols 0 4 8 12 */
        uu[1] = _mm512_shuffle_ps(tt[0], tt[2], 0xEE); /* cols 1 5 9 13 */
        uu[2] = _mm512_shuffle_ps(tt[1], tt[3], 0x44); /* cols 2 6 10 14 */
        uu[3] = _mm512_shuffle_ps(tt[1], tt[3], 0xEE); /* cols 3 7 11 15 */
    }
    for (int h = 0; h < 2; h++) /* rows 8h..8h+7: pair lanes of row groups 2h and 2h+1 */
        for (int c = 0; c < 4; c++) {
            t[8 * h + 2 * c] = _mm512_shuffle_f32x4(u[8 * h + c], u[8 * h + 4 + c], 0x88);
            t[8 * h + 2 * c + 1] = _mm512_shuffle_f32x4(u[8 * h + c], u[8 * h + 4 + c], 0xDD);
        }
    /* t[2c]: [col c | col c+8] x rows 0-7 of its half; t[2c+1]: cols c+4, c+12 */
    for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(t[2 * c], t[8 + 2 * c], 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(t[2 * c], t[8 + 2 * c], 0xDD);
        r[c + 4] = _mm512_shuffle_f32x4(t[2 * c + 1], t[8 + 2 * c + 1], 0x88);
        r[c + 12] = _mm512_shuffle_f32x4(t[2 * c + 1], t[8 + 2 * c + 1], 0xDD);
    }
}

/* Load 16 rows (n valid, the rest zero) of up to 16 floats (mask) at column p. */
I512 void load16(__m512 r[16], const float *src, long ld, int n, int p, __mmask16 m) {
    for (int i = 0; i < 16; i++) r[i] = i < n ? _mm512_maskz_loadu_ps(m, src + (long)i * ld + p) : _mm512_setzero_ps();
}

T512 static void pack_a_t12(float *dst, const float *A, long lda, int r0, int rows, int p0, int kc) {
    const float *src = A + (long)r0 * lda + p0;
    for (int p = 0; p < kc; p += 16) {
        const int q = kc - p < 16 ? kc - p : 16;
        __m512 r[16];
        load16(r, src, lda, rows, p, (__mmask16)((1u << q) - 1));
        transpose16(r);
        for (int j = 0; j < q; j++) _mm512_mask_storeu_ps(dst + (long)(p + j) * 12, 0x0FFF, r[j]);
    }
}

T512 static void pack_b_t32(float *dst, const float *B, long ldb, int j0, int cols, int p0, int kc) {
    const float *src = B + (long)j0 * ldb + p0;
    for (int p = 0; p < kc; p += 16) {
        const int q = kc - p < 16 ? kc - p : 16;
        const __mmask16 m = (__mmask16)((1u << q) - 1);
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            load16(r, src + (long)h * 16 * ldb, ldb, cols - 16 * h, p, m);
            transpose16(r);
            for (int j = 0; j < q; j++) _mm512_storeu_ps(dst + (long)(p + j) * 32 + 16 * h, r[j]);
        }
    }
}

int ur_gemm_avx512(ur_gemm_impl *k) {
    *k = (ur_gemm_impl){12, 32, kernel_12x32, pack_a_t12, pack_b_t32};
    return 1;
}
/* 8 x 8 transpose: c[j][i] = r[i][j] */
#define I256 static inline __attribute__((always_inline, target("avx2,fma")))
I256 void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 2; g++) {
        __m256 *tt = t + 4 * g, *uu = u + 4 * g;
        uu[0] = _mm256_shuffle_ps(tt[0], tt[2], 0x44); /* cols 0 4 */
        uu[1] = _mm256_shuffle_ps(tt[0], tt[2], 0xEE); /* cols 1 5 */
        uu[2] = _mm256_shuffle_ps(tt[1], tt[3], 0x44); /* cols 2 6 */
        uu[3] = _mm256_shuffle_ps(tt[1], tt[3], 0xEE); /* cols 3 7 */
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

I256 __m256i mask8(int q) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(q), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Load 8 rows (n valid, the rest zero) of up to 8 floats (mask m) at column p. */
I256 void load8(__m256 r[8], const float *src, long ld, int n, int p, __m256i m) {
    for (int i = 0; i < 8; i++) r[i] = i < n ? _mm256_maskload_ps(src + (long)i * ld + p, m) : _mm256_setzero_ps();
}

T256 static void pack_a_t6(float *dst, const float *A, long lda, int r0, int rows, int p0, int kc) {
    const float *src = A + (long)r0 * lda + p0;
    const __m256i six = mask8(6);
    for (int p = 0; p < kc; p += 8) {
        const int q = kc - p < 8 ? kc - p : 8;
        __m256 r[8];
        load8(r, src, lda, rows, p, mask8(q));
        transpose8(r);
        for (int j = 0; j < q; j++) _mm256_maskstore_ps(dst + (long)(p + j) * 6, six, r[j]);
    }
}

T256 static void pack_b_t16(float *dst, const float *B, long ldb, int j0, int cols, int p0, int kc) {
    const float *src = B + (long)j0 * ldb + p0;
    for (int p = 0; p < kc; p += 8) {
        const int q = kc - p < 8 ? kc - p : 8;
        const __m256i m = mask8(q);
        for (int h = 0; h < 2; h++) {
            __m256 r[8];
            load8(r, src + (long)h * 8 * ldb, ldb, cols - 8 * h, p, m);
            transpose8(r);
            for (int j = 0; j < q; j++) _mm256_storeu_ps(dst + (long)(p + j) * 16 + 8 * h, r[j]);
        }
    }
}

int ur_gemm_avx2(ur_gemm_impl *k) {
    *k = (ur_gemm_impl){6, 16, kernel_6x16, pack_a_t6, pack_b_t16};
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
