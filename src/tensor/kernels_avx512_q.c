/* AVX-512 kernels (F BW VL DQ + VNNI + VBMI, chosen at run time) for the quantized
 * weight types. Two shapes of work:
 *
 * GEMV (n < UR_PANEL_MIN_N tokens, decode): memory-bound, so each weight row is
 * streamed once and unpacked in registers: 8 blocks of q4_0/q8_0 per step (144 /
 * 272 bytes, loaded as whole zmm and rearranged with vpermb), or one K-quant
 * super-block; vpdpbusd (u8 x s8) against the activation quants, one float
 * multiply-add per block pair with scale d_w * d_x.
 *
 * GEMM (n >= UR_PANEL_MIN_N, prefill): compute-bound. A tile of GR weight rows is
 * unpacked once ("packed": signed int8 quants, a float scale and an integer
 * correction per sub-block) and reused against every 16-token activation panel
 * (quant.h): one zmm lane per token, the weight dword broadcast, vpdpbusd with the
 * activation as (q + 128) unsigned bytes; the -128 * sum(w) correction is the
 * initial value of the integer accumulator, so lane t ends a sub-block holding
 * exactly sum(w * x) for token t. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/quant.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx2,fma,f16c"
#define K512 __attribute__((target(TGT)))
#define KI static inline __attribute__((always_inline, target(TGT)))

/* Byte/word/lane index tables for the permutes, filled once at registration. */
static struct {
    uint8_t q40[4][64], q80[4][64];
    uint16_t q40w[32], q80w[2][32];
    int32_t pair[4][16];
} T __attribute__((aligned(64)));

static void build_tables(void) {
    for (int p = 0; p < 4; p++) {
        for (int i = 0; i < 64; i++) {
            int lane = i >> 4, blk = 2 * p + (lane >> 1);
            int base4 = p < 2 ? 0 : 64;
            T.q40[p][i] = (uint8_t)(18 * blk + 2 + (i & 15) - base4);
            int blk8 = 2 * p + (i >> 5);
            T.q80[p][i] = (uint8_t)(34 * blk8 + 2 + (i & 31) - 64 * p);
        }
        for (int l = 0; l < 16; l++) T.pair[p][l] = 2 * p + (l >> 3);
    }
    for (int i = 0; i < 32; i++) {
        T.q40w[i] = (uint16_t)(i < 8 ? 9 * i : 0);
        T.q80w[0][i] = (uint16_t)(i < 4 ? 17 * i : 0);
        T.q80w[1][i] = (uint16_t)(i >= 4 && i < 8 ? 17 * i - 64 : 0);
    }
}

KI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Software prefetch of the weight stream, 4 KiB ahead: the GEMVs spend ~30 instructions
 * per 144 bytes, so the out-of-order window alone keeps too few cache lines in flight;
 * measured +15-20% GB/s on one and two threads (bench/KERNELS.md). Prefetching past the
 * end of the weights is harmless (prefetches do not fault). */
#define PF_DIST 4096
KI void prefetch_ahead(const uint8_t *w, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)((uintptr_t)w + PF_DIST + o), _MM_HINT_T0);
}

/* ==== GEMV ================================================================== */

/* q4_0 / q8_0 tails (block counts not a multiple of 8): plain integer dots. */
static float tail_q4_0(const block_q4_0 *b, const int8_t *q, const float *d, int64_t nb) {
    float s = 0;
    for (int64_t i = 0; i < nb; i++, q += 32) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += ((b[i].qs[j] & 0xF) - 8) * q[j] + ((b[i].qs[j] >> 4) - 8) * q[j + 16];
        s += (float)sum * ur_f16_to_f32(b[i].d) * d[i];
    }
    return s;
}
static float tail_q8_0(const block_q8_0 *b, const int8_t *q, const float *d, int64_t nb) {
    float s = 0;
    for (int64_t i = 0; i < nb; i++, q += 32) {
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += b[i].qs[j] * q[j];
        s += (float)sum * ur_f16_to_f32(b[i].d) * d[i];
    }
    return s;
}

/* Rows [r0, r1) of a q4_0 or q8_0 matrix against tokens t0..t0+N-1 (N = 1..4). Per 8 blocks the
 * weights become four zmm of 64 quants in element order (two blocks each); lanes 0-7
 * of the vpdpbusd result belong to the first block, 8-15 to the second, and are
 * scaled by d_w * d_x of their block. The unsigned side is the weight: q4_0 nibbles
 * (q) or q8_0 bytes xor 0x80 (q + 128); the offset times the block's activation sum
 * (act dsum = d_x * sum) is taken off once per row: y = acc - off * sum(d_w * dsum). */
KI void gemv_q_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int is8) {
    const int64_t nb = j->L.nb, n8 = nb & ~(int64_t)7;
    const int8_t *xq[4];
    const float *xd[4], *xs[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) {
        xq[t] = act_qs(j->x, &j->L, t0 + t);
        xd[t] = act_d(j->x, &j->L, t0 + t);
        xs[t] = act_dsum(j->x, &j->L, t0 + t);
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F), x80 = _mm512_set1_epi8((char)0x80);
    __m512i ix[4], pr[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        ix[p] = _mm512_load_si512(is8 ? T.q80[p] : T.q40[p]);
        pr[p] = _mm512_load_si512(T.pair[p]);
    }
    const __m512i iw0 = _mm512_load_si512(is8 ? T.q80w[0] : T.q40w), iw1 = _mm512_load_si512(T.q80w[1]);
    const int64_t bstep = is8 ? 272 : 144;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = j->W + r * j->wrow;
        __m512 acc[4][4]; /* one chain per block pair: one chain would be bound by fma latency */
        __m256 bacc[4];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) {
            acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = _mm512_setzero_ps();
            bacc[t] = _mm256_setzero_ps();
        }
        for (int64_t b = 0; b < n8; b += 8, w += bstep) {
            __m512i q[4];
            __m128i dh;
            prefetch_ahead(w, is8 ? 272 : 144);
            if (is8) {
                __m512i z0 = _mm512_loadu_si512(w), z1 = _mm512_loadu_si512(w + 64);
                __m512i z2 = _mm512_loadu_si512(w + 128), z3 = _mm512_loadu_si512(w + 192);
                __m512i z4 = _mm512_maskz_loadu_epi8(0xFFFF, w + 256);
                q[0] = _mm512_xor_si512(_mm512_permutex2var_epi8(z0, ix[0], z1), x80);
                q[1] = _mm512_xor_si512(_mm512_permutex2var_epi8(z1, ix[1], z2), x80);
                q[2] = _mm512_xor_si512(_mm512_permutex2var_epi8(z2, ix[2], z3), x80);
                q[3] = _mm512_xor_si512(_mm512_permutex2var_epi8(z3, ix[3], z4), x80);
                __m512i h = _mm512_or_si512(_mm512_maskz_permutex2var_epi16(0x0F, z0, iw0, z1),
                                            _mm512_maskz_permutex2var_epi16(0xF0, z2, iw1, z3));
                dh = _mm512_castsi512_si128(h);
            } else {
                __m512i z0 = _mm512_loadu_si512(w), z1 = _mm512_loadu_si512(w + 64);
                __m512i z2 = _mm512_maskz_loadu_epi8(0xFFFF, w + 128);
                q[0] = _mm512_permutexvar_epi8(ix[0], z0);
                q[1] = _mm512_permutex2var_epi8(z0, ix[1], z1);
                q[2] = _mm512_permutexvar_epi8(ix[2], z1);
                q[3] = _mm512_permutex2var_epi8(z1, ix[3], z2);
                /* lanes 0 and 2 hold a block's bytes for its low nibbles, 1 and 3 for the high */
#pragma GCC unroll 4
                for (int p = 0; p < 4; p++)
                    q[p] = _mm512_and_si512(_mm512_mask_srli_epi16(q[p], 0xFF00FF00u, q[p], 4), m4);
                dh = _mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, iw0, z1));
            }
            __m256 dw = _mm256_cvtph_ps(dh);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_loadu_ps(xd[t] + b)));
                bacc[t] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xs[t] + b), bacc[t]);
#pragma GCC unroll 4
                for (int p = 0; p < 4; p++) {
                    __m512i i = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[p],
                                                    _mm512_load_si512(xq[t] + 32 * b + 64 * p));
                    acc[t][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_permutexvar_ps(pr[p], s8), acc[t][p]);
                }
            }
        }
        const float off = is8 ? 128.f : 8.f;
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) {
            __m512 a4 = _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3]));
            float s = _mm512_reduce_add_ps(a4) - off * hsum256(bacc[t]);
            if (n8 < nb) {
                const uint8_t *wt = j->W + r * j->wrow + n8 * (is8 ? 34 : 18);
                s += is8 ? tail_q8_0((const block_q8_0 *)wt, xq[t] + 32 * n8, xd[t] + n8, nb - n8)
                         : tail_q4_0((const block_q4_0 *)wt, xq[t] + 32 * n8, xd[t] + n8, nb - n8);
            }
            j->y[(t0 + t) * j->ldy + r] = s;
        }
    }
}

#define G40(a, b, t, N) gemv_q_n(j, a, b, t, N, 0)
#define G80(a, b, t, N) gemv_q_n(j, a, b, t, N, 1)
K512 static void gemv_q4_0(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, G40); }
K512 static void gemv_q8_0(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, G80); }

/* K-quants: sub-block scales in 16-bit words multiply vpmaddubsw pair sums inside
 * vpdpwssd, so a whole super-block accumulates in int32 lanes; then one multiply-add
 * by d_w * d_x. Mins (q4_K/q5_K) or the -32 offset (q6_K) go through the bsums. */
KI void kq_scales(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
    uint32_t u[3];
    memcpy(u, s, 12);
    uint32_t s0 = u[0] & 0x3F3F3F3Fu, m0 = u[1] & 0x3F3F3F3Fu;
    uint32_t s1 = (u[2] & 0x0F0F0F0Fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    uint32_t m1 = ((u[2] >> 4) & 0x0F0F0F0Fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    memcpy(sc, &s0, 4), memcpy(sc + 4, &s1, 4), memcpy(m, &m0, 4), memcpy(m + 4, &m1, 4);
}

/* One q4_K (five = 0) or q5_K super-block against N tokens' quants. */
KI void kq_block(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, float d, float dmin,
                 const int8_t *const *xq, const float *const *xd, const int16_t *const *xb, int64_t i,
                 __m512 *acc, __m256 *macc, const int N, const int five) {
    uint8_t sc[8], m[8];
    kq_scales(scales, sc, m);
    /* words: 16 x sc[2p] then 16 x sc[2p+1] for the zmm holding sub-blocks 2p, 2p+1 */
    const __m512i sc16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)sc)));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m256i m16 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)m));
    __m512i q[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * p)));
        v = _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4), m4);
        if (five) {
            __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
            __m512i bit = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi8((char)(1 << (2 * p))),
                                                  _mm512_set1_epi8((char)(1 << (2 * p + 1))));
            v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(h, bit), v, _mm512_set1_epi8(16));
        }
        q[p] = v;
    }
    __m512i scp[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m512i idx = _mm512_set1_epi16((short)(2 * p));
        scp[p] = _mm512_permutexvar_epi16(_mm512_mask_add_epi16(idx, 0xFFFF0000u, idx, _mm512_set1_epi16(1)), sc16);
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) {
        __m512i is2[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m512i p16 = _mm512_maddubs_epi16(q[p], _mm512_loadu_si512(xq[t] + 256 * i + 64 * p));
            is2[p & 1] = _mm512_dpwssd_epi32(is2[p & 1], p16, scp[p]);
        }
        __m512i isum = _mm512_add_epi32(is2[0], is2[1]);
        float dd = d * xd[t][i];
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dd), acc[t]);
        /* sum over sub-blocks j of m_j * (bsums[2j] + bsums[2j+1]) */
        __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(xb[t] + 16 * i)), _mm256_set1_epi16(1));
        __m256 mm = _mm256_cvtepi32_ps(_mm256_mullo_epi32(bs, m16));
        macc[t] = _mm256_fmadd_ps(mm, _mm256_set1_ps(dmin * xd[t][i]), macc[t]);
    }
}

KI void gemv_kq_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N, const int five) {
    const int8_t *xq[4];
    const float *xd[4];
    const int16_t *xb[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) {
        xq[t] = act_qs(j->x, &j->L, t0 + t);
        xd[t] = act_d(j->x, &j->L, t0 + t);
        xb[t] = act_bsums(j->x, &j->L, t0 + t);
    }
    for (int64_t r = r0; r < r1; r++) {
        __m512 acc[4];
        __m256 macc[4];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t] = _mm512_setzero_ps(), macc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < j->L.nb; i++) {
            prefetch_ahead(j->W + r * j->wrow + i * (five ? 176 : 144), five ? 176 : 144);
            if (five) {
                const block_q5_K *b = (const block_q5_K *)(j->W + r * j->wrow) + i;
                kq_block(b->scales, b->qs, b->qh, ur_f16_to_f32(b->d), ur_f16_to_f32(b->dmin), xq, xd, xb, i,
                         acc, macc, N, 1);
            } else {
                const block_q4_K *b = (const block_q4_K *)(j->W + r * j->wrow) + i;
                kq_block(b->scales, b->qs, NULL, ur_f16_to_f32(b->d), ur_f16_to_f32(b->dmin), xq, xd, xb, i,
                         acc, macc, N, 0);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) j->y[(t0 + t) * j->ldy + r] = _mm512_reduce_add_ps(acc[t]) - hsum256(macc[t]);
    }
}

/* q6_K: per half (128 quants) ql is one zmm: its low nibbles are quants 0-63, its high
 * nibbles 64-127; qh (32 bytes, duplicated) gives bits 4-5 at shifts 4/2 (quants
 * 0-31/32-63) and 0/-2 (64-95/96-127). Quants stay unsigned (0..63); the -32 offset
 * is taken off through the bsums. Scales: 16 int8 per block, one per 16 quants. */
KI void gemv_q6_n(const mm_job *j, int64_t r0, int64_t r1, int64_t t0, const int N) {
    const int8_t *xq[4];
    const float *xd[4];
    const int16_t *xb[4];
#pragma GCC unroll 4
    for (int t = 0; t < N; t++) {
        xq[t] = act_qs(j->x, &j->L, t0 + t);
        xd[t] = act_d(j->x, &j->L, t0 + t);
        xb[t] = act_bsums(j->x, &j->L, t0 + t);
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i shl = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    const __m512i shr = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi16(0), _mm512_set1_epi16(2));
    __m512i sidx[4]; /* words: 8 x scale 4c, 8 x 4c+1, 8 x 4c+2, 8 x 4c+3 */
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        uint16_t ix[32];
        for (int w = 0; w < 32; w++) ix[w] = (uint16_t)(4 * c + w / 8);
        sidx[c] = _mm512_loadu_si512(ix);
    }
    for (int64_t r = r0; r < r1; r++) {
        const block_q6_K *b = (const block_q6_K *)(j->W + r * j->wrow);
        __m512 acc[4];
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t i = 0; i < j->L.nb; i++, b++) {
            prefetch_ahead((const uint8_t *)b, 210);
            __m512i q[4];
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
                __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
                __m512i hA = _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30);
                __m512i hB = _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30);
                q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), hA);
                q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hB);
            }
            const __m512i sc16 = _mm512_cvtepi8_epi16(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b->scales)));
            const float d = ur_f16_to_f32(b->d);
#pragma GCC unroll 4
            for (int t = 0; t < N; t++) {
                __m512i is2[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m512i p16 = _mm512_maddubs_epi16(q[c], _mm512_loadu_si512(xq[t] + 256 * i + 64 * c));
                    is2[c & 1] = _mm512_dpwssd_epi32(is2[c & 1], p16, _mm512_permutexvar_epi16(sidx[c], sc16));
                }
                __m512i isum = _mm512_add_epi32(is2[0], is2[1]);
                /* - 32 * sum_s sc_s * bsums_s */
                __m256i bsc = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(xb[t] + 16 * i)),
                                                _mm512_castsi512_si256(sc16));
                isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(_mm512_zextsi256_si512(bsc), 5));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * xd[t][i]), acc[t]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < N; t++) j->y[(t0 + t) * j->ldy + r] = _mm512_reduce_add_ps(acc[t]);
    }
}

#define G4K(a, b, t, N) gemv_kq_n(j, a, b, t, N, 0)
#define G5K(a, b, t, N) gemv_kq_n(j, a, b, t, N, 1)
#define G6K(a, b, t, N) gemv_q6_n(j, a, b, t, N)
K512 static void gemv_q4_K(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, G4K); }
K512 static void gemv_q5_K(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, G5K); }
K512 static void gemv_q6_K(const mm_job *j, int64_t r0, int64_t r1) { GEMV_ALL(j, r0, r1, G6K); }

/* ==== GEMM ================================================================== */
#define GR 4    /* weight rows per tile */
#define GTG 3   /* 16-token panels per tile */
#define KC 8192 /* elements of k per packed chunk */

/* A packed tile: GR rows x (up to) KC elements, by sub-block s of SL quants. */
typedef struct {
    int8_t q[GR * KC];        /* [s][GR][SL] signed quants */
    float ws[GR * KC / 16];   /* [s][GR] scale of the sub-block */
    int32_t wc[GR * KC / 16]; /* [s][GR] -128 * sum of its quants */
    float wm[GR * KC / 16];   /* [s][GR] -dmin * m (q4_K, q5_K; sized for 16-quant sub-blocks too) */
} tile;

typedef void (*pack_fn)(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t);
typedef void (*mk_fn)(const tile *t, int nsub, const uint8_t *const *P, float *out);

KI int sum_u8x16(__m128i v) {
    __m128i s = _mm_sad_epu8(v, _mm_setzero_si128());
    return _mm_cvtsi128_si32(s) + _mm_extract_epi32(s, 2);
}
KI int sum_u8x32(__m256i v) {
    __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si32(h) + _mm_extract_epi32(h, 2);
}

/* Zero rows nr..GR-1 of the tile (they are computed but never stored). */
KI void pack_zero_rows(tile *t, int nr, int nsub, int sl) {
    for (int r = nr; r < GR; r++)
        for (int s = 0; s < nsub; s++) {
            memset(t->q + ((size_t)s * GR + r) * sl, 0, (size_t)sl);
            t->ws[s * GR + r] = 0, t->wc[s * GR + r] = 0, t->wm[s * GR + r] = 0;
        }
}

K512 static void pack_q4_0(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t) {
    const int nsub = (int)(ne / 32);
    const __m128i m4 = _mm_set1_epi8(0x0F), c8 = _mm_set1_epi8(8);
    for (int r = 0; r < nr; r++) {
        const block_q4_0 *b = (const block_q4_0 *)(j->W + (row0 + r) * j->wrow) + e0 / 32;
        for (int s = 0; s < nsub; s++) {
            __m128i v = _mm_loadu_si128((const __m128i *)b[s].qs);
            __m128i lo = _mm_and_si128(v, m4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);
            int8_t *q = t->q + ((size_t)s * GR + r) * 32;
            _mm_store_si128((__m128i *)q, _mm_sub_epi8(lo, c8));
            _mm_store_si128((__m128i *)(q + 16), _mm_sub_epi8(hi, c8));
            t->ws[s * GR + r] = _cvtsh_ss(b[s].d);
            t->wc[s * GR + r] = -128 * (sum_u8x16(lo) + sum_u8x16(hi) - 256);
        }
    }
    pack_zero_rows(t, nr, nsub, 32);
}

K512 static void pack_q8_0(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t) {
    const int nsub = (int)(ne / 32);
    const __m256i x80 = _mm256_set1_epi8((char)0x80);
    for (int r = 0; r < nr; r++) {
        const block_q8_0 *b = (const block_q8_0 *)(j->W + (row0 + r) * j->wrow) + e0 / 32;
        for (int s = 0; s < nsub; s++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)b[s].qs);
            _mm256_store_si256((__m256i *)(t->q + ((size_t)s * GR + r) * 32), v);
            t->ws[s * GR + r] = _cvtsh_ss(b[s].d);
            t->wc[s * GR + r] = -128 * (sum_u8x32(_mm256_xor_si256(v, x80)) - 32 * 128);
        }
    }
    pack_zero_rows(t, nr, nsub, 32);
}

/* q4_K (qh == NULL) and q5_K super-blocks: 8 sub-blocks of 32, quants 0..15 / 0..31. */
KI void pack_kq(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, ur_half hd, ur_half hm,
                tile *t, int s0, int r) {
    uint8_t sc[8], m[8];
    kq_scales(scales, sc, m);
    const float d = _cvtsh_ss(hd), dmin = _cvtsh_ss(hm);
    const __m256i m4 = _mm256_set1_epi8(0x0F), c16 = _mm256_set1_epi8(16);
    __m256i h = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        if (qh) {
            lo = _mm256_mask_add_epi8(lo, _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << (2 * p)))), lo, c16);
            hi = _mm256_mask_add_epi8(hi, _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << (2 * p + 1)))), hi,
                                      c16);
        }
#pragma GCC unroll 4
        for (int u = 0; u < 2; u++) {
            int s = s0 + 2 * p + u;
            __m256i q = u ? hi : lo;
            _mm256_store_si256((__m256i *)(t->q + ((size_t)s * GR + r) * 32), q);
            t->ws[s * GR + r] = d * (float)sc[2 * p + u];
            t->wm[s * GR + r] = -(dmin * (float)m[2 * p + u]);
            t->wc[s * GR + r] = -128 * sum_u8x32(q);
        }
    }
}

K512 static void pack_q4_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t) {
    const int nbk = (int)(ne / 256);
    for (int r = 0; r < nr; r++) {
        const block_q4_K *b = (const block_q4_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) pack_kq(b[i].scales, b[i].qs, NULL, b[i].d, b[i].dmin, t, 8 * i, r);
    }
    pack_zero_rows(t, nr, nbk * 8, 32);
}
K512 static void pack_q5_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t) {
    const int nbk = (int)(ne / 256);
    for (int r = 0; r < nr; r++) {
        const block_q5_K *b = (const block_q5_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) pack_kq(b[i].scales, b[i].qs, b[i].qh, b[i].d, b[i].dmin, t, 8 * i, r);
    }
    pack_zero_rows(t, nr, nbk * 8, 32);
}

/* q6_K: 16 sub-blocks of 16, quants - 32 in -32..31 (same unpacking as the GEMV). */
K512 static void pack_q6_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile *t) {
    const int nbk = (int)(ne / 256);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30), c32 = _mm512_set1_epi8(32);
    const __m512i shl = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    const __m512i shr = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi16(0), _mm512_set1_epi16(2));
    for (int r = 0; r < nr; r++) {
        const block_q6_K *b = (const block_q6_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) {
            const float d = _cvtsh_ss(b[i].d);
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m512i ql = _mm512_loadu_si512(b[i].ql + 64 * h);
                __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h)));
                __m512i q[2];
                q[0] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30));
                q[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                       _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30));
#pragma GCC unroll 4
                for (int u = 0; u < 2; u++) {
                    uint64_t sums[8];
                    _mm512_storeu_si512(sums, _mm512_sad_epu8(q[u], _mm512_setzero_si512()));
                    __m512i v = _mm512_sub_epi8(q[u], c32);
#pragma GCC unroll 4
                    for (int c = 0; c < 4; c++) {
                        int sb = 8 * h + 4 * u + c, s = 16 * i + sb;
                        _mm_store_si128((__m128i *)(t->q + ((size_t)s * GR + r) * 16), _mm512_extracti32x4_epi32(v, 0));
                        v = _mm512_alignr_epi32(v, v, 4);
                        t->ws[s * GR + r] = d * (float)b[i].scales[sb];
                        t->wc[s * GR + r] = -128 * ((int)(sums[2 * c] + sums[2 * c + 1]) - 16 * 32);
                    }
                }
            }
        }
    }
    pack_zero_rows(t, nr, nbk * 16, 16);
}

/* The micro-kernel: GR rows x TG panels over nsub sub-blocks of SL quants. Activation
 * block ab = s / SPB has its panel part at P + ab * PB: (q + 128) dwords from
 * (s % SPB) * SL * 16, the 16 d's at DOFF, K-quant sub-block sums (d * sum) at XOFF. */
KI void mk(const tile *t, int nsub, const uint8_t *const *P, float *out, const int TG, const int SL,
           const int SPB, const int PB, const int DOFF, const int XOFF, const int MINS) {
    __m512 f[GR][GTG];
#pragma GCC unroll 4
    for (int r = 0; r < GR; r++)
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) f[r][g] = _mm512_setzero_ps();
    for (int s = 0; s < nsub; s++) {
        const int ab = s / SPB, sb = s % SPB;
        const int8_t *wq = t->q + (size_t)s * GR * SL;
        __m512i ia[GR][GTG];
#pragma GCC unroll 4
        for (int r = 0; r < GR; r++) {
            __m512i c = _mm512_set1_epi32(t->wc[s * GR + r]);
#pragma GCC unroll 4
            for (int g = 0; g < TG; g++) ia[r][g] = c;
        }
        const uint8_t *pq[GTG];
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) pq[g] = P[g] + (size_t)ab * PB + (size_t)sb * SL * 16;
#pragma GCC unroll 8
        for (int e = 0; e < SL / 4; e++) {
            __m512i a[GTG];
#pragma GCC unroll 4
            for (int g = 0; g < TG; g++) a[g] = _mm512_load_si512(pq[g] + 64 * e);
#pragma GCC unroll 4
            for (int r = 0; r < GR; r++) {
                int32_t wd;
                memcpy(&wd, wq + r * SL + 4 * e, 4);
                __m512i w = _mm512_set1_epi32(wd);
#pragma GCC unroll 4
                for (int g = 0; g < TG; g++) ia[r][g] = _mm512_dpbusd_epi32(ia[r][g], a[g], w);
            }
        }
        __m512 dx[GTG];
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) dx[g] = _mm512_load_ps((const float *)(P[g] + (size_t)ab * PB + DOFF));
#pragma GCC unroll 4
        for (int r = 0; r < GR; r++) {
            __m512 w = _mm512_set1_ps(t->ws[s * GR + r]);
#pragma GCC unroll 4
            for (int g = 0; g < TG; g++)
                f[r][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][g]), _mm512_mul_ps(w, dx[g]), f[r][g]);
        }
        if (MINS) {
#pragma GCC unroll 4
            for (int g = 0; g < TG; g++) {
                __m512 xs = _mm512_load_ps((const float *)(P[g] + (size_t)ab * PB + XOFF + 64 * sb));
#pragma GCC unroll 4
                for (int r = 0; r < GR; r++) f[r][g] = _mm512_fmadd_ps(_mm512_set1_ps(t->wm[s * GR + r]), xs, f[r][g]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < GR; r++)
#pragma GCC unroll 4
        for (int g = 0; g < TG; g++) _mm512_store_ps(out + (r * GTG + g) * 16, f[r][g]);
}

/* Instances for 1..GTG panels: q4_0/q8_0 (sub-block = activation block of 32), q4_K/q5_K
 * (8 sub-blocks of 32 per Q8_K block, with mins), q6_K (16 sub-blocks of 16). */
#define MK(name, ...)                                                                              \
    K512 static void name##1(const tile *t, int ns, const uint8_t *const *P, float *o) { mk(t, ns, P, o, 1, __VA_ARGS__); } \
    K512 static void name##2(const tile *t, int ns, const uint8_t *const *P, float *o) { mk(t, ns, P, o, 2, __VA_ARGS__); } \
    K512 static void name##3(const tile *t, int ns, const uint8_t *const *P, float *o) { mk(t, ns, P, o, 3, __VA_ARGS__); } \
    static const mk_fn name[GTG + 1] = {NULL, name##1, name##2, name##3};
MK(mk_q0, 32, 1, 576, 512, 0, 0)
MK(mk_kq, 32, 8, 4672, 4096, 4160, 1)
MK(mk_q6, 16, 16, 4672, 4096, 0, 0)

/* Rows [r0, r1) x all tokens: for each tile of GR rows and chunk of KC elements, pack
 * once, then run every group of GTG panels (single panels for the rest). */
static void gemm(const mm_job *j, int64_t r0, int64_t r1, pack_fn pack, const mk_fn *mkk, int sl) {
    tile t __attribute__((aligned(64)));
    float out[GR * GTG * 16] __attribute__((aligned(64)));
    const int bk = j->x->type == UR_TYPE_Q8_0 ? 32 : 256;
    const int64_t k = j->k, ng = j->L.ng, n = j->n;
    for (int64_t rt = r0; rt < r1; rt += GR) {
        const int nr = r1 - rt < GR ? (int)(r1 - rt) : GR;
        for (int64_t e0 = 0; e0 < k; e0 += KC) {
            const int64_t ne = k - e0 < KC ? k - e0 : KC;
            pack(j, rt, nr, e0, ne, &t);
            for (int64_t g = 0; g < ng;) {
                const int tg = ng - g >= GTG ? GTG : (int)(ng - g);
                const uint8_t *P[GTG];
                for (int i = 0; i < GTG; i++)
                    P[i] = act_pan(j->x, &j->L, g + (i < tg ? i : 0)) + (size_t)(e0 / bk) * j->L.pan_block;
                mkk[tg](&t, (int)(ne / sl), P, out);
                for (int i = 0; i < tg; i++)
                    for (int l = 0; l < 16 && (g + i) * 16 + l < n; l++) {
                        float *yp = j->y + ((g + i) * 16 + l) * j->ldy + rt;
                        for (int r = 0; r < nr; r++) {
                            float v = out[(r * GTG + i) * 16 + l];
                            yp[r] = e0 ? yp[r] + v : v;
                        }
                    }
                g += tg;
            }
        }
    }
}

static void mm_q4_0(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n < UR_PANEL_MIN_N) gemv_q4_0(j, r0, r1);
    else gemm(j, r0, r1, pack_q4_0, mk_q0, 32);
}
static void mm_q8_0(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n < UR_PANEL_MIN_N) gemv_q8_0(j, r0, r1);
    else gemm(j, r0, r1, pack_q8_0, mk_q0, 32);
}
static void mm_q4_K(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n < UR_PANEL_MIN_N) gemv_q4_K(j, r0, r1);
    else gemm(j, r0, r1, pack_q4_K, mk_kq, 32);
}
static void mm_q5_K(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n < UR_PANEL_MIN_N) gemv_q5_K(j, r0, r1);
    else gemm(j, r0, r1, pack_q5_K, mk_kq, 32);
}
static void mm_q6_K(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n < UR_PANEL_MIN_N) gemv_q6_K(j, r0, r1);
    else gemm(j, r0, r1, pack_q6_K, mk_q6, 16);
}

void kernels_avx512_q(kernel_table *t) {
    build_tables();
    t->mm[UR_TYPE_Q4_0] = mm_q4_0;
    t->mm[UR_TYPE_Q8_0] = mm_q8_0;
    t->mm[UR_TYPE_Q4_K] = mm_q4_K;
    t->mm[UR_TYPE_Q5_K] = mm_q5_K;
    t->mm[UR_TYPE_Q6_K] = mm_q6_K;
}

#else /* not x86 (or -DUR_NO_SIMD): the scalar kernels only */
#include "tensor/quant.h"
void kernels_avx512_q(kernel_table *t) { (void)t; }
#endif
