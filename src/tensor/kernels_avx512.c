/* AVX-512 kernels, part 1: activation quantizers, panel builders, and the float
 * weight types (F32, F16, BF16). The quantized weight types are in
 * kernels_avx512_q.c. Everything here gives the same bytes / the same sums (up to
 * float summation order) as kernels_scalar.c. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/quant.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx2,fma,f16c"
#define K512 __attribute__((target(TGT)))
#define KI static inline __attribute__((always_inline, target(TGT)))
#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* ---- activation quantizers ------------------------------------------------------ */

/* Q8_0 as llama.cpp's x86 build does it (see kernels_scalar.c). */
K512 static void act_q8_0(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->k;
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t), *ds = (float *)act_dsum(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            __m512 v0 = _mm512_loadu_ps(xr + 32 * b), v1 = _mm512_loadu_ps(xr + 32 * b + 16);
            float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            float df = _cvtsh_ss(_cvtss_sh(amax / 127.f, 0));
            __m512 id = _mm512_set1_ps(amax != 0 ? 127.f / amax : 0.f);
            __m512i i0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), RNE);
            __m512i i1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), RNE);
            _mm_storeu_si128((__m128i *)(q + 32 * b), _mm512_cvtepi32_epi8(i0));
            _mm_storeu_si128((__m128i *)(q + 32 * b + 16), _mm512_cvtepi32_epi8(i1));
            d[b] = df;
            ds[b] = df * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        }
    }
}

/* Q8_K as the reference: scale -127 / (first element of largest magnitude). */
K512 static void act_q8_K(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t);
        int16_t *bs = (int16_t *)act_bsums(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            const float *xb = x + t * a->k + 256 * b;
            __m512 am = _mm512_setzero_ps();
            for (int c = 0; c < 16; c++) am = _mm512_max_ps(am, _mm512_abs_ps(_mm512_loadu_ps(xb + 16 * c)));
            float amax = _mm512_reduce_max_ps(am);
            if (amax == 0) {
                memset(q + 256 * b, 0, 256);
                memset(bs + 16 * b, 0, 32);
                d[b] = 0;
                continue;
            }
            float max = 0;
            for (int c = 0; c < 16; c++) {
                __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(xb + 16 * c)), _mm512_set1_ps(amax),
                                                 _CMP_EQ_OQ);
                if (m) {
                    max = xb[16 * c + __builtin_ctz(m)];
                    break;
                }
            }
            const float iscale = -127.f / max;
            const __m512 is = _mm512_set1_ps(iscale);
            for (int c = 0; c < 16; c++) {
                __m512i v = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16 * c), is), RNE);
                v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
                _mm_storeu_si128((__m128i *)(q + 256 * b + 16 * c), _mm512_cvtepi32_epi8(v));
                bs[16 * b + c] = (int16_t)_mm512_reduce_add_epi32(v);
            }
            d[b] = 1 / iscale;
        }
    }
}

K512 static void act_f16(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->k;
        uint16_t *h = (uint16_t *)act_qs(a, L, t);
        int64_t i = 0;
        for (; i + 16 <= a->k; i += 16)
            _mm256_storeu_si256((__m256i *)(h + i), _mm512_cvtps_ph(_mm512_loadu_ps(xr + i), RNE));
        for (; i < a->k; i++) h[i] = ur_f32_to_f16(xr[i]);
    }
}

/* f32 -> bf16, round to nearest even, NaN kept quiet (as ur_f32_to_bf16). */
K512 static void act_bf16(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
    const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->k;
        uint16_t *h = (uint16_t *)act_qs(a, L, t);
        int64_t i = 0;
        for (; i + 16 <= a->k; i += 16) {
            __m512i u = _mm512_castps_si512(_mm512_loadu_ps(xr + i));
            __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias),
                                                           _mm512_and_si512(_mm512_srli_epi32(u, 16), one)), 16);
            __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absm), inf);
            r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
            _mm256_storeu_si256((__m256i *)(h + i), _mm512_cvtepi32_epi16(r));
        }
        for (; i < a->k; i++) h[i] = ur_f32_to_bf16(xr[i]);
    }
}

/* ---- panels: 16 tokens side by side, gathered from the token rows ------------------ */
K512 static void pan_q8(ur_act *a, const act_layout *L, int64_t g0, int64_t g1) {
    const int is0 = a->type == UR_TYPE_Q8_0, bk = is0 ? 32 : 256;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i x80 = _mm512_set1_epi32((int)0x80808080u);
    for (int64_t g = g0; g < g1; g++) {
        const int64_t t0 = g * UR_PANEL_T, nt = a->n - t0 < UR_PANEL_T ? a->n - t0 : UR_PANEL_T;
        const __mmask16 m = (__mmask16)((1u << nt) - 1);
        const __m512i iq = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)L->qstride));
        const __m512i id = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)L->nb));
        const __m512i is = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)L->nsum));
        const int8_t *q0 = act_qs(a, L, t0);
        const float *d0 = act_d(a, L, t0);
        const int16_t *s0 = act_bsums(a, L, t0);
        uint8_t *P = (uint8_t *)act_pan(a, L, g);
        for (int64_t b = 0; b < L->nb; b++) {
            uint8_t *B = P + (size_t)b * L->pan_block;
            for (int jj = 0; jj < bk / 4; jj++) {
                __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, iq, q0 + b * bk + 4 * jj, 1);
                _mm512_store_si512(B + 64 * jj, _mm512_xor_si512(v, x80));
            }
            __m512 dv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, id, d0 + b, 4);
            _mm512_store_ps((float *)(B + bk * 16), dv);
            if (!is0)
                for (int s = 0; s < 8; s++) {
                    __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, is, s0 + 16 * b + 2 * s, 2);
                    __m512i sum = _mm512_add_epi32(_mm512_srai_epi32(_mm512_slli_epi32(v, 16), 16), _mm512_srai_epi32(v, 16));
                    _mm512_store_ps((float *)(B + bk * 16 + 64 + 64 * s), _mm512_mul_ps(dv, _mm512_cvtepi32_ps(sum)));
                }
        }
    }
}

K512 static void pan_float(ur_act *a, const act_layout *L, int64_t g0, int64_t g1) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i iq = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)L->qstride));
    const int esz = a->type == UR_TYPE_F32 ? 4 : 2;
    for (int64_t g = g0; g < g1; g++) {
        const int64_t t0 = g * UR_PANEL_T, nt = a->n - t0 < UR_PANEL_T ? a->n - t0 : UR_PANEL_T;
        const __mmask16 m = (__mmask16)((1u << nt) - 1);
        const uint8_t *q0 = (const uint8_t *)act_qs(a, L, t0);
        float *P = (float *)act_pan(a, L, g);
        for (int64_t e = 0; e < a->k; e++) {
            /* a dword at each element (2-byte types: the element is its low half; reading
             * 2 bytes past a row stays inside the buffer, the panels follow the rows) */
            __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, iq, q0 + e * esz, 1);
            __m512 f;
            if (a->type == UR_TYPE_F32) f = _mm512_castsi512_ps(v);
            else if (a->type == UR_TYPE_F16) f = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
            else f = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            _mm512_store_ps(P + 16 * e, f);
        }
    }
}

/* ---- float weights: GEMV ---------------------------------------------------------- */
/* Loads 16 weights or activations of a float type as f32. */
KI __m512 ld16(const void *p, int type) {
    if (type == UR_TYPE_F32) return _mm512_loadu_ps(p);
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (type == UR_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
KI float ld1(const void *p, int64_t i, int type) {
    if (type == UR_TYPE_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return type == UR_TYPE_F16 ? ur_f16_to_f32(h) : ur_bf16_to_f32(h);
}

KI void gemv_f_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int type) {
    const int esz = type == UR_TYPE_F32 ? 4 : 2;
    const uint8_t *xr[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) xr[t] = (const uint8_t *)act_qs(j->x, &j->L, t0 + t);
    const int64_t k = j->k, k32 = k & ~(int64_t)31;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = j->W + r * j->wrow;
        __m512 acc[4][2];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        for (int64_t i = 0; i < k32; i += 32) {
            __m512 w0 = ld16(w + i * esz, type), w1 = ld16(w + (i + 16) * esz, type);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                acc[t][0] = _mm512_fmadd_ps(w0, ld16(xr[t] + i * esz, type), acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(w1, ld16(xr[t] + (i + 16) * esz, type), acc[t][1]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) {
            float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
            for (int64_t i = k32; i < k; i++) s += ld1(w, i, type) * ld1(xr[t], i, type);
            j->y[(t0 + t) * j->ldy + r] = s;
        }
    }
}

/* ---- float weights: GEMM over the panels --------------------------------------------
 * Blocked for the caches: for each chunk of FKC elements and block of FMC rows, the
 * rows are packed as f32 (64 KiB, L2) and every group of panels (FKC x 64 bytes each,
 * L1/L2) is run against all the block's row tiles; y accumulates over the chunks. */
#define FR 4     /* rows per tile */
#define FTG 3    /* panels per tile */
#define FKC 512  /* elements per chunk */
#define FMC 32   /* rows per packed block (a multiple of FR) */

KI void mkf(const float *wt, int ne, const float *const *P, float *out, const int TG) {
    __m512 f[FR][FTG];
#pragma GCC unroll 4
    for (int r = 0; r < FR; r++)
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) f[r][g] = _mm512_setzero_ps();
    for (int e = 0; e < ne; e++) {
        __m512 a[FTG];
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) a[g] = _mm512_load_ps(P[g] + 16 * e);
#pragma GCC unroll 4
        for (int r = 0; r < FR; r++) {
            __m512 w = _mm512_set1_ps(wt[r * FKC + e]);
#pragma GCC unroll 4
            for (int g = 0; g < TG; g++) f[r][g] = _mm512_fmadd_ps(w, a[g], f[r][g]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < FR; r++)
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) _mm512_store_ps(out + (r * FTG + g) * 16, f[r][g]);
}
typedef void (*mkf_fn)(const float *wt, int ne, const float *const *P, float *out);
K512 static void mkf1(const float *wt, int ne, const float *const *P, float *o) { mkf(wt, ne, P, o, 1); }
K512 static void mkf2(const float *wt, int ne, const float *const *P, float *o) { mkf(wt, ne, P, o, 2); }
K512 static void mkf3(const float *wt, int ne, const float *const *P, float *o) { mkf(wt, ne, P, o, 3); }
static const mkf_fn MKF[FTG + 1] = {NULL, mkf1, mkf2, mkf3};

K512 static void gemm_f(const mm_job *j, int64_t r0, int64_t r1) {
    float wt[FMC * FKC] __attribute__((aligned(64)));
    float out[FR * FTG * 16] __attribute__((aligned(64)));
    const int type = j->wtype, esz = type == UR_TYPE_F32 ? 4 : 2;
    const int64_t k = j->k, ng = j->L.ng, n = j->n;
    for (int64_t e0 = 0; e0 < k; e0 += FKC) {
        const int ne = (int)(k - e0 < FKC ? k - e0 : FKC);
        for (int64_t rb = r0; rb < r1; rb += FMC) {
            const int nrb = (int)(r1 - rb < FMC ? r1 - rb : FMC);
            for (int r = 0; r < (nrb + FR - 1) / FR * FR; r++) {
                const uint8_t *w = j->W + (rb + r) * j->wrow + e0 * esz;
                int e = 0;
                if (r < nrb) {
                    for (; e + 16 <= ne; e += 16) _mm512_store_ps(wt + r * FKC + e, ld16(w + e * esz, type));
                    for (; e < ne; e++) wt[r * FKC + e] = ld1(w, e, type);
                } else {
                    for (; e < ne; e++) wt[r * FKC + e] = 0;
                }
            }
            for (int64_t g = 0; g < ng;) {
                const int tg = ng - g >= FTG ? FTG : (int)(ng - g);
                const float *P[FTG];
                for (int i = 0; i < FTG; i++) P[i] = (const float *)act_pan(j->x, &j->L, g + (i < tg ? i : 0)) + 16 * e0;
                for (int rt = 0; rt < nrb; rt += FR) {
                    const int nr = nrb - rt < FR ? nrb - rt : FR;
                    MKF[tg](wt + rt * FKC, ne, P, out);
                    for (int i = 0; i < tg; i++)
                        for (int l = 0; l < 16 && (g + i) * 16 + l < n; l++) {
                            float *yp = j->y + ((g + i) * 16 + l) * j->ldy + rb + rt;
                            for (int r = 0; r < nr; r++) {
                                float v = out[(r * FTG + i) * 16 + l];
                                yp[r] = e0 ? yp[r] + v : v;
                            }
                        }
                }
                g += tg;
            }
        }
    }
}

#define GF32(a, b, t, N) gemv_f_n(j, a, b, t, N, UR_TYPE_F32)
#define GF16(a, b, t, N) gemv_f_n(j, a, b, t, N, UR_TYPE_F16)
#define GBF16(a, b, t, N) gemv_f_n(j, a, b, t, N, UR_TYPE_BF16)
#define MMF(name, TYPE)                                                                            \
    K512 static void mm_##name(const mm_job *j, int64_t r0, int64_t r1) {                          \
        if (j->n >= UR_PANEL_MIN_N) gemm_f(j, r0, r1);                                              \
        else GEMV_ALL(j, r0, r1, TYPE);                                                            \
    }
MMF(f32, GF32)
MMF(f16, GF16)
MMF(bf16, GBF16)

void kernels_avx512(kernel_table *t) {
    kernels_avx512_q(t);
    t->mm[UR_TYPE_F32] = mm_f32;
    t->mm[UR_TYPE_F16] = mm_f16;
    t->mm[UR_TYPE_BF16] = mm_bf16;
    t->act[UR_TYPE_Q8_0] = act_q8_0;
    t->act[UR_TYPE_Q8_K] = act_q8_K;
    t->act[UR_TYPE_F16] = act_f16;
    t->act[UR_TYPE_BF16] = act_bf16;
    t->pan[UR_TYPE_Q8_0] = pan_q8;
    t->pan[UR_TYPE_Q8_K] = pan_q8;
    t->pan[UR_TYPE_F32] = pan_float;
    t->pan[UR_TYPE_F16] = pan_float;
    t->pan[UR_TYPE_BF16] = pan_float;
}

#else /* not x86 (or -DUR_NO_SIMD): the scalar kernels only */
#include "tensor/quant.h"
void kernels_avx512(kernel_table *t) { (void)t; }
#endif
