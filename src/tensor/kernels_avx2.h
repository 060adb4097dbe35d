/* Internal to the AVX2 kernels (kernels_avx2.c, kernels_avx2_gemm.c): target
 * attributes, small helpers, and the GEMM entry points. */
#ifndef URIAL_TENSOR_KERNELS_AVX2_H
#define URIAL_TENSOR_KERNELS_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "tensor/quant.h"

#define TGT2 "avx2,fma,f16c"
#define K2 __attribute__((target(TGT2)))
#define KI2 static inline __attribute__((always_inline, target(TGT2)))

/* acc + (u8 u) . (s8 s) over groups of 4 bytes; without VNNI each pair of products
 * must stay below 32768 in magnitude (vpmaddubsw saturates). */
KI2 __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s, const int vnni) {
    if (vnni) {
        __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "x"(s));
        return acc;
    }
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

KI2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
KI2 int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* Software prefetch of the weight stream 4 KiB ahead (see kernels_avx512_q.c). */
KI2 void prefetch2(const uint8_t *w, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)((uintptr_t)w + 4096 + o), _MM_HINT_T0);
}

/* The 8 six-bit scales and mins of a q4_K/q5_K block. */
static inline void kq_scales2(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
    uint32_t u[3];
    memcpy(u, s, 12);
    uint32_t s0 = u[0] & 0x3F3F3F3Fu, m0 = u[1] & 0x3F3F3F3Fu;
    uint32_t s1 = (u[2] & 0x0F0F0F0Fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    uint32_t m1 = ((u[2] >> 4) & 0x0F0F0F0Fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    memcpy(sc, &s0, 4), memcpy(sc + 4, &s1, 4), memcpy(m, &m0, 4), memcpy(m + 4, &m1, 4);
}

/* GEMM over the activation panels (n >= UR_PANEL_MIN_N), kernels_avx2_gemm.c. */
void gemm2_q4_0(const mm_job *j, int64_t r0, int64_t r1, int vnni);
void gemm2_q8_0(const mm_job *j, int64_t r0, int64_t r1); /* needs VNNI */
void gemm2_q4_K(const mm_job *j, int64_t r0, int64_t r1, int vnni);
void gemm2_q5_K(const mm_job *j, int64_t r0, int64_t r1, int vnni);
void gemm2_q6_K(const mm_job *j, int64_t r0, int64_t r1, int vnni);
void gemm2_f(const mm_job *j, int64_t r0, int64_t r1);
void pan2_q8(ur_act *a, const act_layout *L, int64_t g0, int64_t g1);
void pan2_float(ur_act *a, const act_layout *L, int64_t g0, int64_t g1);

#endif
