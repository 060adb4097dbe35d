/* AVX2 kernels (AVX2 + FMA + F16C; AVX-VNNI when present): activation quantizers,
 * GEMV for every weight type, GEMM over the 16-token panels for the quantized types
 * (kernels_avx2_gemm.c). The same designs as the AVX-512 kernels at half the
 * width; see kernels_avx512_q.c for the reasoning.
 *
 * One compiled body serves CPUs with and without AVX-VNNI: the u8 x s8 dot is
 * either vpdpbusd (VEX form, through asm so that the function's target need not
 * include avxvnni) or vpmaddubsw + vpmaddwd. Without VNNI, vpmaddubsw saturates
 * int16 pair sums, so every caller keeps |u * s| pairs below 32768. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/kernels_avx2.h"

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* ---- activation quantizers --------------------------------------------------------- */
KI2 float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
KI2 __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* 32 int32 (four vectors, elements in order) to 32 int8. */
KI2 __m256i pack32(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    __m256i a = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(a, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

K2 static void act_q8_0(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->k;
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t), *ds = (float *)act_dsum(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            __m256 v[4];
            __m256 m = _mm256_setzero_ps();
            for (int c = 0; c < 4; c++) v[c] = _mm256_loadu_ps(xr + 32 * b + 8 * c), m = _mm256_max_ps(m, abs8(v[c]));
            float amax = hmax8(m);
            __m256 id = _mm256_set1_ps(amax != 0 ? 127.f / amax : 0.f);
            __m256i i[4];
            for (int c = 0; c < 4; c++) i[c] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[c], id), RNE));
            _mm256_storeu_si256((__m256i *)(q + 32 * b), pack32(i[0], i[1], i[2], i[3]));
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
            float df = _cvtsh_ss(_cvtss_sh(amax / 127.f, 0));
            d[b] = df;
            ds[b] = df * (float)hsum8i(s);
        }
    }
}

K2 static void act_q8_K(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t);
        int16_t *bs = (int16_t *)act_bsums(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            const float *xb = x + t * a->k + 256 * b;
            __m256 m = _mm256_setzero_ps();
            for (int c = 0; c < 32; c++) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(xb + 8 * c)));
            float amax = hmax8(m), max = 0;
            if (amax == 0) {
                memset(q + 256 * b, 0, 256);
                memset(bs + 16 * b, 0, 32);
                d[b] = 0;
                continue;
            }
            for (int c = 0; c < 32; c++) {
                int msk = _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(xb + 8 * c)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
                if (msk) {
                    max = xb[8 * c + __builtin_ctz((unsigned)msk)];
                    break;
                }
            }
            const float iscale = -127.f / max;
            const __m256 is = _mm256_set1_ps(iscale);
            for (int c = 0; c < 8; c++) {
                __m256i i[4];
                for (int u = 0; u < 4; u++) {
                    __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 32 * c + 8 * u), is), RNE);
                    i[u] = _mm256_min_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(127));
                }
                _mm256_storeu_si256((__m256i *)(q + 256 * b + 32 * c), pack32(i[0], i[1], i[2], i[3]));
                bs[16 * b + 2 * c] = (int16_t)hsum8i(_mm256_add_epi32(i[0], i[1]));
                bs[16 * b + 2 * c + 1] = (int16_t)hsum8i(_mm256_add_epi32(i[2], i[3]));
            }
            d[b] = 1 / iscale;
        }
    }
}

K2 static void act_f16(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->k;
        uint16_t *h = (uint16_t *)act_qs(a, L, t);
        int64_t i = 0;
        for (; i + 8 <= a->k; i += 8) _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(xr + i), RNE));
        for (; i < a->k; i++) h[i] = ur_f32_to_f16(xr[i]);
    }
}

/* ---- GEMV: q8_0 ------------------------------------------------------------------------
 * Per block: |w| and sign(x, w) make the u8 x s8 dot exact (|w| <= 128, |x| <= 127: pairs
 * stay below 32768, so this also works without VNNI). */
KI2 void gemv2_q80_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int vnni) {
    const int8_t *xq[4];
    const float *xd[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) xq[t] = act_qs(j->x, &j->L, t0 + t), xd[t] = act_d(j->x, &j->L, t0 + t);
    for (int64_t r = r0; r < r1; r++) {
        const block_q8_0 *bl = (const block_q8_0 *)(j->W + r * j->wrow);
        __m256 acc[4][2];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        for (int64_t b = 0; b < j->L.nb; b++) {
            if (!(b & 1)) prefetch2((const uint8_t *)(bl + b), 68);
            const __m256i q = _mm256_loadu_si256((const __m256i *)bl[b].qs);
            const float dw = _cvtsh_ss(bl[b].d);
            __m256i aq = _mm256_sign_epi8(q, q);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                __m256i sx = _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(xq[t] + 32 * b)), q);
                __m256i i = dot_u8s8(_mm256_setzero_si256(), aq, sx, vnni);
                acc[t][b & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(dw * xd[t][b]), acc[t][b & 1]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) j->y[(t0 + t) * j->ldy + r] = hsum8(_mm256_add_ps(acc[t][0], acc[t][1]));
    }
}

/* q4_0 by groups of 8 blocks: nibbles as unsigned bytes (pairs stay far below the
 * vpmaddubsw limit), the 8 scales gathered and converted at once, the -8 offset taken
 * off per row through the activation block sums: y = acc - 8 * sum(d_w * dsum). */
KI2 void gemv2_q40_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int vnni) {
    const int8_t *xq[4];
    const float *xd[4], *xs[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++)
        xq[t] = act_qs(j->x, &j->L, t0 + t), xd[t] = act_d(j->x, &j->L, t0 + t), xs[t] = act_dsum(j->x, &j->L, t0 + t);
    const int64_t nb = j->L.nb, n8 = nb & ~(int64_t)7;
    const __m256i m4 = _mm256_set1_epi8(0x0F), lo16 = _mm256_set1_epi32(0xFFFF);
    const __m256i off = _mm256_setr_epi32(0, 18, 36, 54, 72, 90, 108, 126);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = j->W + r * j->wrow;
        __m256 acc[4][2], bacc[4];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t][0] = acc[t][1] = bacc[t] = _mm256_setzero_ps();
        for (int64_t b = 0; b < n8; b += 8, w += 144) {
            prefetch2(w, 144);
            __m256i g = _mm256_and_si256(_mm256_i32gather_epi32((const int *)w, off, 1), lo16);
            __m256 dw = _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256(g, 1)));
            __m256 s8[4];
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                s8[t] = _mm256_mul_ps(dw, _mm256_loadu_ps(xd[t] + b));
                bacc[t] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xs[t] + b), bacc[t]);
            }
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(w + 18 * i + 2));
                __m256i q = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1), m4);
                const __m256i ix = _mm256_set1_epi32(i);
#pragma GCC unroll 4
                for (int t = 0; t < N; t++) {
                    __m256i d = dot_u8s8(_mm256_setzero_si256(), q, _mm256_load_si256((const __m256i *)(xq[t] + 32 * (b + i))), vnni);
                    acc[t][i & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_permutevar8x32_ps(s8[t], ix), acc[t][i & 1]);
                }
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) {
            float s = hsum8(_mm256_add_ps(acc[t][0], acc[t][1])) - 8 * hsum8(bacc[t]);
            const block_q4_0 *bl = (const block_q4_0 *)(j->W + r * j->wrow);
            for (int64_t b = n8; b < nb; b++) { /* tail blocks */
                int sum = 0;
                for (int l = 0; l < 16; l++)
                    sum += ((bl[b].qs[l] & 0xF) - 8) * xq[t][32 * b + l] + ((bl[b].qs[l] >> 4) - 8) * xq[t][32 * b + l + 16];
                s += (float)sum * _cvtsh_ss(bl[b].d) * xd[t][b];
            }
            j->y[(t0 + t) * j->ldy + r] = s;
        }
    }
}

/* ---- GEMV: K-quants (scales applied in int16 by vpmaddwd, one float step per block) ---- */
KI2 void gemv2_kq_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int five) {
    const int8_t *xq[4];
    const float *xd[4];
    const int16_t *xb[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++)
        xq[t] = act_qs(j->x, &j->L, t0 + t), xd[t] = act_d(j->x, &j->L, t0 + t), xb[t] = act_bsums(j->x, &j->L, t0 + t);
    const __m256i m4 = _mm256_set1_epi8(0x0F), c16 = _mm256_set1_epi8(16);
    for (int64_t r = r0; r < r1; r++) {
        __m256 acc[4];
        float macc[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < j->L.nb; i++) {
            prefetch2(j->W + r * j->wrow + i * (five ? 176 : 144), five ? 176 : 144);
            const uint8_t *scales, *qs, *qh = NULL;
            ur_half hd, hm;
            if (five) {
                const block_q5_K *b = (const block_q5_K *)(j->W + r * j->wrow) + i;
                scales = b->scales, qs = b->qs, qh = b->qh, hd = b->d, hm = b->dmin;
            } else {
                const block_q4_K *b = (const block_q4_K *)(j->W + r * j->wrow) + i;
                scales = b->scales, qs = b->qs, hd = b->d, hm = b->dmin;
            }
            uint8_t sc[8], m[8];
            kq_scales2(scales, sc, m);
            __m256i h = five ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
            __m256i isum[4];
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
                __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                if (five) {
                    __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * p))), b1 = _mm256_set1_epi8((char)(2 << (2 * p)));
                    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b0), b0), c16));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b1), b1), c16));
                }
                __m256i s0 = _mm256_set1_epi16(sc[2 * p]), s1 = _mm256_set1_epi16(sc[2 * p + 1]);
#pragma GCC unroll 4
                for (int t = 0; t < N; t++) {
                    const int8_t *x = xq[t] + 256 * i + 64 * p;
                    __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)x));
                    __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(p0, s0), _mm256_madd_epi16(p1, s1)));
                }
            }
            const float d = _cvtsh_ss(hd), dmin = _cvtsh_ss(hm);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * xd[t][i]), acc[t]);
                const int16_t *bs = xb[t] + 16 * i;
                int ms = 0;
                for (int jj = 0; jj < 8; jj++) ms += m[jj] * (bs[2 * jj] + bs[2 * jj + 1]);
                macc[t] += dmin * xd[t][i] * (float)ms;
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) j->y[(t0 + t) * j->ldy + r] = hsum8(acc[t]) - macc[t];
    }
}

KI2 void gemv2_q6_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N) {
    const int8_t *xq[4];
    const float *xd[4];
    const int16_t *xb[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++)
        xq[t] = act_qs(j->x, &j->L, t0 + t), xd[t] = act_d(j->x, &j->L, t0 + t), xb[t] = act_bsums(j->x, &j->L, t0 + t);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    for (int64_t r = r0; r < r1; r++) {
        const block_q6_K *b = (const block_q6_K *)(j->W + r * j->wrow);
        __m256 acc[4];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < j->L.nb; i++, b++) {
            prefetch2((const uint8_t *)b, 210);
            __m256i isum[4];
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
                __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    const int s = 8 * h + 2 * c;
                    __m256i scv = _mm256_set_m128i(_mm_set1_epi16(b->scales[s + 1]), _mm_set1_epi16(b->scales[s]));
#pragma GCC unroll 4
                    for (int t = 0; t < N; t++) {
                        __m256i x = _mm256_loadu_si256((const __m256i *)(xq[t] + 256 * i + 128 * h + 32 * c));
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[c], x), scv));
                    }
                }
            }
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
            const float d = _cvtsh_ss(b->d);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                __m256i bsc = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(xb[t] + 16 * i)), sc16);
                isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(bsc, 5));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * xd[t][i]), acc[t]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) j->y[(t0 + t) * j->ldy + r] = hsum8(acc[t]);
    }
}

/* ---- GEMV: float weights ------------------------------------------------------------- */
KI2 __m256 ld8(const void *p, int type) {
    if (type == UR_TYPE_F32) return _mm256_loadu_ps(p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == UR_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
KI2 float ld1(const void *p, int64_t i, int type) {
    if (type == UR_TYPE_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return type == UR_TYPE_F16 ? _cvtsh_ss(h) : ur_bf16_to_f32(h);
}

KI2 void gemv2_f_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int type) {
    const int esz = type == UR_TYPE_F32 ? 4 : 2;
    const uint8_t *xr[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) xr[t] = (const uint8_t *)act_qs(j->x, &j->L, t0 + t);
    const int64_t k = j->k, k16 = k & ~(int64_t)15;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = j->W + r * j->wrow;
        __m256 acc[4][2];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        for (int64_t i = 0; i < k16; i += 16) {
            __m256 w0 = ld8(w + i * esz, type), w1 = ld8(w + (i + 8) * esz, type);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                acc[t][0] = _mm256_fmadd_ps(w0, ld8(xr[t] + i * esz, type), acc[t][0]);
                acc[t][1] = _mm256_fmadd_ps(w1, ld8(xr[t] + (i + 8) * esz, type), acc[t][1]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) {
            float s = hsum8(_mm256_add_ps(acc[t][0], acc[t][1]));
            for (int64_t i = k16; i < k; i++) s += ld1(w, i, type) * ld1(xr[t], i, type);
            j->y[(t0 + t) * j->ldy + r] = s;
        }
    }
}

/* ---- entry points ----------------------------------------------------------------------- */
#define Q40(a, b, t, N) gemv2_q40_n(j, a, b, t, N, 1)
#define Q80(a, b, t, N) gemv2_q80_n(j, a, b, t, N, 1)
#define Q40n(a, b, t, N) gemv2_q40_n(j, a, b, t, N, 0)
#define Q80n(a, b, t, N) gemv2_q80_n(j, a, b, t, N, 0)
#define Q4K(a, b, t, N) gemv2_kq_n(j, a, b, t, N, 0)
#define Q5K(a, b, t, N) gemv2_kq_n(j, a, b, t, N, 1)
#define Q6K(a, b, t, N) gemv2_q6_n(j, a, b, t, N)
#define F32(a, b, t, N) gemv2_f_n(j, a, b, t, N, UR_TYPE_F32)
#define F16(a, b, t, N) gemv2_f_n(j, a, b, t, N, UR_TYPE_F16)
#define BF16(a, b, t, N) gemv2_f_n(j, a, b, t, N, UR_TYPE_BF16)

/* GEMV for n < UR_PANEL_MIN_N, and for q8_0 without VNNI at any n: its weights reach
 * +-128, and vpmaddubsw against (q + 128) panel activations would saturate. */
K2 static void mm_q4_0_v(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n >= UR_PANEL_MIN_N) gemm2_q4_0(j, r0, r1, 1);
    else GEMV_ALL(j, r0, r1, Q40);
}
K2 static void mm_q4_0_n(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n >= UR_PANEL_MIN_N) gemm2_q4_0(j, r0, r1, 0);
    else GEMV_ALL(j, r0, r1, Q40n);
}
K2 static void mm_q8_0_v(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n >= UR_PANEL_MIN_N) gemm2_q8_0(j, r0, r1);
    else GEMV_ALL(j, r0, r1, Q80);
}
K2 static void mm_q8_0_n(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, Q80n); }
#define MMKQ(name, CALL, GEMM)                                                                     \
    K2 static void name##_v(const mm_job *j, int64_t r0, int64_t r1) {                             \
        if (j->n >= UR_PANEL_MIN_N) GEMM(j, r0, r1, 1);                                             \
        else GEMV_ALL(j, r0, r1, CALL);                                                            \
    }                                                                                              \
    K2 static void name##_n(const mm_job *j, int64_t r0, int64_t r1) {                             \
        if (j->n >= UR_PANEL_MIN_N) GEMM(j, r0, r1, 0);                                             \
        else GEMV_ALL(j, r0, r1, CALL);                                                            \
    }
MMKQ(mm_q4_K, Q4K, gemm2_q4_K)
MMKQ(mm_q5_K, Q5K, gemm2_q5_K)
MMKQ(mm_q6_K, Q6K, gemm2_q6_K)

#define MMF(name, CALL)                                                                            \
    K2 static void name(const mm_job *j, int64_t r0, int64_t r1) {                                 \
        if (j->n >= UR_PANEL_MIN_N) gemm2_f(j, r0, r1);                                             \
        else GEMV_ALL(j, r0, r1, CALL);                                                            \
    }
MMF(mm_f32, F32)
MMF(mm_f16, F16)
MMF(mm_bf16, BF16)

void kernels_avx2(kernel_table *t, int vnni) {
    t->mm[UR_TYPE_Q4_0] = vnni ? mm_q4_0_v : mm_q4_0_n;
    t->mm[UR_TYPE_Q8_0] = vnni ? mm_q8_0_v : mm_q8_0_n;
    t->mm[UR_TYPE_Q4_K] = vnni ? mm_q4_K_v : mm_q4_K_n;
    t->mm[UR_TYPE_Q5_K] = vnni ? mm_q5_K_v : mm_q5_K_n;
    t->mm[UR_TYPE_Q6_K] = vnni ? mm_q6_K_v : mm_q6_K_n;
    t->mm[UR_TYPE_F32] = mm_f32;
    t->mm[UR_TYPE_F16] = mm_f16;
    t->mm[UR_TYPE_BF16] = mm_bf16;
    t->act[UR_TYPE_Q8_0] = act_q8_0;
    t->act[UR_TYPE_Q8_K] = act_q8_K;
    t->act[UR_TYPE_F16] = act_f16;
    t->pan[UR_TYPE_Q8_0] = pan2_q8;
    t->pan[UR_TYPE_Q8_K] = pan2_q8;
    t->pan[UR_TYPE_F32] = pan2_float;
    t->pan[UR_TYPE_F16] = pan2_float;
    t->pan[UR_TYPE_BF16] = pan2_float;
}

#else /* not x86 (or -DUR_NO_SIMD): the scalar kernels only */
#include "tensor/quant.h"
void kernels_avx2(kernel_table *t, int vnni) {
    (void)t;
    (void)vnni;
}
#endif
