/* AVX2 GEMM over the 16-token activation panels (quant.h): the design of the
 * AVX-512 GEMM (kernels_avx512_q.c) with a 3-row tile against one panel as two
 * 8-lane halves, within the 16 ymm registers. Also the panel builder (gathers). */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include "tensor/kernels_avx2.h"

#define GR2 3    /* weight rows per tile */
#define KC2 8192 /* elements of k per packed chunk */

typedef struct {
    int8_t q[GR2 * KC2];        /* [s][GR2][SL] signed quants */
    float ws[GR2 * KC2 / 16];   /* [s][GR2] scale of the sub-block */
    int32_t wc[GR2 * KC2 / 16]; /* [s][GR2] -128 * sum of its quants */
    float wm[GR2 * KC2 / 16];   /* [s][GR2] -dmin * m (q4_K, q5_K; sized for 16-quant sub-blocks too) */
} tile2;

typedef void (*pack2_fn)(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t);
typedef void (*mk2_fn)(const tile2 *t, int nsub, const uint8_t *P, float *out);

KI2 int sum_u8x32(__m256i v) {
    __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si32(h) + _mm_extract_epi32(h, 2);
}

static void zero_rows(tile2 *t, int nr, int nsub, int sl) {
    for (int r = nr; r < GR2; r++)
        for (int s = 0; s < nsub; s++) {
            memset(t->q + ((size_t)s * GR2 + r) * sl, 0, (size_t)sl);
            t->ws[s * GR2 + r] = 0, t->wc[s * GR2 + r] = 0, t->wm[s * GR2 + r] = 0;
        }
}

K2 static void pack2_q4_0(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t) {
    const int nsub = (int)(ne / 32);
    const __m256i m4 = _mm256_set1_epi8(0x0F), c8 = _mm256_set1_epi8(8);
    for (int r = 0; r < nr; r++) {
        const block_q4_0 *b = (const block_q4_0 *)(j->W + (row0 + r) * j->wrow) + e0 / 32;
        for (int s = 0; s < nsub; s++) {
            __m128i v = _mm_loadu_si128((const __m128i *)b[s].qs);
            __m256i q = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1), m4);
            _mm256_store_si256((__m256i *)(t->q + ((size_t)s * GR2 + r) * 32), _mm256_sub_epi8(q, c8));
            t->ws[s * GR2 + r] = _cvtsh_ss(b[s].d);
            t->wc[s * GR2 + r] = -128 * (sum_u8x32(q) - 256);
        }
    }
    zero_rows(t, nr, nsub, 32);
}

K2 static void pack2_q8_0(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t) {
    const int nsub = (int)(ne / 32);
    for (int r = 0; r < nr; r++) {
        const block_q8_0 *b = (const block_q8_0 *)(j->W + (row0 + r) * j->wrow) + e0 / 32;
        for (int s = 0; s < nsub; s++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)b[s].qs);
            _mm256_store_si256((__m256i *)(t->q + ((size_t)s * GR2 + r) * 32), v);
            t->ws[s * GR2 + r] = _cvtsh_ss(b[s].d);
            t->wc[s * GR2 + r] = -128 * (sum_u8x32(_mm256_xor_si256(v, _mm256_set1_epi8((char)0x80))) - 4096);
        }
    }
    zero_rows(t, nr, nsub, 32);
}

KI2 void pack2_kq(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, ur_half hd, ur_half hm, tile2 *t,
                  int s0, int r) {
    uint8_t sc[8], m[8];
    kq_scales2(scales, sc, m);
    const float d = _cvtsh_ss(hd), dmin = _cvtsh_ss(hm);
    const __m256i m4 = _mm256_set1_epi8(0x0F), c16 = _mm256_set1_epi8(16);
    const __m256i h = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
        __m256i q[2] = {_mm256_and_si256(v, m4), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4)};
        for (int u = 0; u < 2; u++) {
            if (qh) {
                __m256i bit = _mm256_set1_epi8((char)(1 << (2 * p + u)));
                q[u] = _mm256_or_si256(q[u], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit), c16));
            }
            int s = s0 + 2 * p + u;
            _mm256_store_si256((__m256i *)(t->q + ((size_t)s * GR2 + r) * 32), q[u]);
            t->ws[s * GR2 + r] = d * (float)sc[2 * p + u];
            t->wm[s * GR2 + r] = -(dmin * (float)m[2 * p + u]);
            t->wc[s * GR2 + r] = -128 * sum_u8x32(q[u]);
        }
    }
}

K2 static void pack2_q4_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t) {
    const int nbk = (int)(ne / 256);
    for (int r = 0; r < nr; r++) {
        const block_q4_K *b = (const block_q4_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) pack2_kq(b[i].scales, b[i].qs, NULL, b[i].d, b[i].dmin, t, 8 * i, r);
    }
    zero_rows(t, nr, nbk * 8, 32);
}
K2 static void pack2_q5_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t) {
    const int nbk = (int)(ne / 256);
    for (int r = 0; r < nr; r++) {
        const block_q5_K *b = (const block_q5_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) pack2_kq(b[i].scales, b[i].qs, b[i].qh, b[i].d, b[i].dmin, t, 8 * i, r);
    }
    zero_rows(t, nr, nbk * 8, 32);
}

K2 static void pack2_q6_K(const mm_job *j, int64_t row0, int nr, int64_t e0, int64_t ne, tile2 *t) {
    const int nbk = (int)(ne / 256);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), c32 = _mm256_set1_epi8(32);
    for (int r = 0; r < nr; r++) {
        const block_q6_K *b = (const block_q6_K *)(j->W + (row0 + r) * j->wrow) + e0 / 256;
        for (int i = 0; i < nbk; i++) {
            const float d = _cvtsh_ss(b[i].d);
            for (int h = 0; h < 2; h++) {
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h));
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h + 32));
                __m256i qh = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
                for (int c = 0; c < 4; c++) {
                    __m256i sad = _mm256_sad_epu8(q[c], _mm256_setzero_si256());
                    __m256i v = _mm256_sub_epi8(q[c], c32);
                    for (int u = 0; u < 2; u++) {
                        int sb = 8 * h + 2 * c + u, s = 16 * i + sb;
                        __m128i half = u ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v);
                        __m128i hs = u ? _mm256_extracti128_si256(sad, 1) : _mm256_castsi256_si128(sad);
                        _mm_store_si128((__m128i *)(t->q + ((size_t)s * GR2 + r) * 16), half);
                        t->ws[s * GR2 + r] = d * (float)b[i].scales[sb];
                        t->wc[s * GR2 + r] = -128 * (_mm_cvtsi128_si32(hs) + _mm_extract_epi32(hs, 2) - 16 * 32);
                    }
                }
            }
        }
    }
    zero_rows(t, nr, nbk * 16, 16);
}

/* GR2 rows x one panel (two 8-token halves) over nsub sub-blocks; as mk() in
 * kernels_avx512_q.c. */
KI2 void mk2(const tile2 *t, int nsub, const uint8_t *P, float *out, const int SL, const int SPB, const int PB,
             const int DOFF, const int XOFF, const int MINS, const int vnni) {
    __m256 f[GR2][2];
#pragma GCC unroll 4
    for (int r = 0; r < GR2; r++) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int s = 0; s < nsub; s++) {
        const int ab = s / SPB, sb = s % SPB;
        const int8_t *wq = t->q + (size_t)s * GR2 * SL;
        const uint8_t *pq = P + (size_t)ab * PB + (size_t)sb * SL * 16;
        __m256i ia[GR2][2];
#pragma GCC unroll 4
        for (int r = 0; r < GR2; r++) ia[r][0] = ia[r][1] = _mm256_set1_epi32(t->wc[s * GR2 + r]);
#pragma GCC unroll 8
        for (int e = 0; e < SL / 4; e++) {
            __m256i a0 = _mm256_load_si256((const __m256i *)(pq + 64 * e));
            __m256i a1 = _mm256_load_si256((const __m256i *)(pq + 64 * e + 32));
#pragma GCC unroll 4
            for (int r = 0; r < GR2; r++) {
                int32_t wd;
                memcpy(&wd, wq + r * SL + 4 * e, 4);
                __m256i w = _mm256_set1_epi32(wd);
                ia[r][0] = dot_u8s8(ia[r][0], a0, w, vnni);
                ia[r][1] = dot_u8s8(ia[r][1], a1, w, vnni);
            }
        }
        const float *dp = (const float *)(P + (size_t)ab * PB + DOFF);
        __m256 d0 = _mm256_load_ps(dp), d1 = _mm256_load_ps(dp + 8);
#pragma GCC unroll 4
        for (int r = 0; r < GR2; r++) {
            __m256 w = _mm256_set1_ps(t->ws[s * GR2 + r]);
            f[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[r][0]), _mm256_mul_ps(w, d0), f[r][0]);
            f[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[r][1]), _mm256_mul_ps(w, d1), f[r][1]);
        }
        if (MINS) {
            const float *xs = (const float *)(P + (size_t)ab * PB + XOFF + 64 * sb);
            __m256 x0 = _mm256_load_ps(xs), x1 = _mm256_load_ps(xs + 8);
#pragma GCC unroll 4
            for (int r = 0; r < GR2; r++) {
                __m256 m = _mm256_set1_ps(t->wm[s * GR2 + r]);
                f[r][0] = _mm256_fmadd_ps(m, x0, f[r][0]);
                f[r][1] = _mm256_fmadd_ps(m, x1, f[r][1]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < GR2; r++) {
        _mm256_store_ps(out + 16 * r, f[r][0]);
        _mm256_store_ps(out + 16 * r + 8, f[r][1]);
    }
}

#define MK2(name, ...)                                                                             \
    K2 static void name##_v(const tile2 *t, int ns, const uint8_t *P, float *o) { mk2(t, ns, P, o, __VA_ARGS__, 1); } \
    K2 static void name##_n(const tile2 *t, int ns, const uint8_t *P, float *o) { mk2(t, ns, P, o, __VA_ARGS__, 0); }
MK2(mk2_q0, 32, 1, 576, 512, 0, 0)
MK2(mk2_kq, 32, 8, 4672, 4096, 4160, 1)
MK2(mk2_q6, 16, 16, 4672, 4096, 0, 0)

static void gemm2(const mm_job *j, int64_t r0, int64_t r1, pack2_fn pack, mk2_fn mk, int sl) {
    tile2 t __attribute__((aligned(64)));
    float out[GR2 * 16] __attribute__((aligned(64)));
    const int bk = j->x->type == UR_TYPE_Q8_0 ? 32 : 256;
    const int64_t k = j->k, n = j->n;
    for (int64_t rt = r0; rt < r1; rt += GR2) {
        const int nr = r1 - rt < GR2 ? (int)(r1 - rt) : GR2;
        for (int64_t e0 = 0; e0 < k; e0 += KC2) {
            const int64_t ne = k - e0 < KC2 ? k - e0 : KC2;
            pack(j, rt, nr, e0, ne, &t);
            for (int64_t g = 0; g < j->L.ng; g++) {
                mk(&t, (int)(ne / sl), act_pan(j->x, &j->L, g) + (size_t)(e0 / bk) * j->L.pan_block, out);
                for (int l = 0; l < 16 && g * 16 + l < n; l++) {
                    float *yp = j->y + (g * 16 + l) * j->ldy + rt;
                    for (int r = 0; r < nr; r++) yp[r] = e0 ? yp[r] + out[16 * r + l] : out[16 * r + l];
                }
            }
        }
    }
}

void gemm2_q4_0(const mm_job *j, int64_t r0, int64_t r1, int vnni) {
    gemm2(j, r0, r1, pack2_q4_0, vnni ? mk2_q0_v : mk2_q0_n, 32);
}
void gemm2_q8_0(const mm_job *j, int64_t r0, int64_t r1) { gemm2(j, r0, r1, pack2_q8_0, mk2_q0_v, 32); }
void gemm2_q4_K(const mm_job *j, int64_t r0, int64_t r1, int vnni) {
    gemm2(j, r0, r1, pack2_q4_K, vnni ? mk2_kq_v : mk2_kq_n, 32);
}
void gemm2_q5_K(const mm_job *j, int64_t r0, int64_t r1, int vnni) {
    gemm2(j, r0, r1, pack2_q5_K, vnni ? mk2_kq_v : mk2_kq_n, 32);
}
void gemm2_q6_K(const mm_job *j, int64_t r0, int64_t r1, int vnni) {
    gemm2(j, r0, r1, pack2_q6_K, vnni ? mk2_q6_v : mk2_q6_n, 16);
}

/* ---- float weights: 4 rows x one panel, blocked as gemm_f in kernels_avx512.c ------- */
#define FR2 4
#define FKC2 512
#define FMC2 32

KI2 __m256 ldw8(const void *p, int type) {
    if (type == UR_TYPE_F32) return _mm256_loadu_ps(p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == UR_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

K2 static void mkf2(const float *wt, int ne, const float *P, float *out) {
    __m256 f[FR2][2];
#pragma GCC unroll 4
    for (int r = 0; r < FR2; r++) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int e = 0; e < ne; e++) {
        __m256 a0 = _mm256_load_ps(P + 16 * e), a1 = _mm256_load_ps(P + 16 * e + 8);
#pragma GCC unroll 4
        for (int r = 0; r < FR2; r++) {
            __m256 w = _mm256_broadcast_ss(wt + r * FKC2 + e);
            f[r][0] = _mm256_fmadd_ps(w, a0, f[r][0]);
            f[r][1] = _mm256_fmadd_ps(w, a1, f[r][1]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < FR2; r++) _mm256_store_ps(out + 16 * r, f[r][0]), _mm256_store_ps(out + 16 * r + 8, f[r][1]);
}

K2 void gemm2_f(const mm_job *j, int64_t r0, int64_t r1) {
    float wt[FMC2 * FKC2] __attribute__((aligned(64)));
    float out[FR2 * 16] __attribute__((aligned(64)));
    const int type = j->wtype, esz = type == UR_TYPE_F32 ? 4 : 2;
    const int64_t k = j->k, n = j->n;
    for (int64_t e0 = 0; e0 < k; e0 += FKC2) {
        const int ne = (int)(k - e0 < FKC2 ? k - e0 : FKC2);
        for (int64_t rb = r0; rb < r1; rb += FMC2) {
            const int nrb = (int)(r1 - rb < FMC2 ? r1 - rb : FMC2);
            for (int r = 0; r < (nrb + FR2 - 1) / FR2 * FR2; r++) {
                const uint8_t *w = j->W + (rb + r) * j->wrow + e0 * esz;
                int e = 0;
                if (r < nrb)
                    for (; e + 8 <= ne; e += 8) _mm256_store_ps(wt + r * FKC2 + e, ldw8(w + e * esz, type));
                for (; e < ne; e++) {
                    float v = 0;
                    if (r < nrb) {
                        if (type == UR_TYPE_F32) v = ((const float *)w)[e];
                        else if (type == UR_TYPE_F16) v = _cvtsh_ss(((const uint16_t *)w)[e]);
                        else v = ur_bf16_to_f32(((const uint16_t *)w)[e]);
                    }
                    wt[r * FKC2 + e] = v;
                }
            }
            for (int64_t g = 0; g < j->L.ng; g++) {
                const float *P = (const float *)act_pan(j->x, &j->L, g) + 16 * e0;
                for (int rt = 0; rt < nrb; rt += FR2) {
                    const int nr = nrb - rt < FR2 ? nrb - rt : FR2;
                    mkf2(wt + rt * FKC2, ne, P, out);
                    for (int l = 0; l < 16 && g * 16 + l < n; l++) {
                        float *yp = j->y + (g * 16 + l) * j->ldy + rb + rt;
                        for (int r = 0; r < nr; r++) yp[r] = e0 ? yp[r] + out[16 * r + l] : out[16 * r + l];
                    }
                }
            }
        }
    }
}

/* ---- panels for Q8_0 / Q8_K, gathered 8 tokens at a time ----------------------------- */
K2 void pan2_q8(ur_act *a, const act_layout *L, int64_t g0, int64_t g1) {
    const int is0 = a->type == UR_TYPE_Q8_0, bk = is0 ? 32 : 256;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i x80 = _mm256_set1_epi32((int)0x80808080u);
    for (int64_t g = g0; g < g1; g++) {
        const int64_t t0 = g * UR_PANEL_T;
        uint8_t *P = (uint8_t *)act_pan(a, L, g);
        for (int h = 0; h < 2; h++) {
            const int64_t th = t0 + 8 * h;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(a->n - th)), lane);
            const __m256i iq = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)L->qstride));
            const __m256i id = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)L->nb));
            const __m256i is = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)L->nsum));
            /* rows past n are never read (masked), but their base must be a valid pointer */
            const int64_t tb = th < a->n ? th : 0;
            const int8_t *q0 = act_qs(a, L, tb);
            const float *d0 = act_d(a, L, tb);
            const int16_t *s0 = act_bsums(a, L, tb);
            for (int64_t b = 0; b < L->nb; b++) {
                uint8_t *B = P + (size_t)b * L->pan_block;
                for (int jj = 0; jj < bk / 4; jj++) {
                    __m256i v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(q0 + b * bk + 4 * jj),
                                                            iq, m, 1);
                    _mm256_store_si256((__m256i *)(B + 64 * jj + 32 * h), _mm256_xor_si256(v, x80));
                }
                __m256 dv = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), d0 + b, id, _mm256_castsi256_ps(m), 4);
                _mm256_store_ps((float *)(B + bk * 16) + 8 * h, dv);
                if (!is0)
                    for (int s = 0; s < 8; s++) {
                        __m256i v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(s0 + 16 * b + 2 * s),
                                                                is, m, 2);
                        __m256i sum = _mm256_add_epi32(_mm256_srai_epi32(_mm256_slli_epi32(v, 16), 16), _mm256_srai_epi32(v, 16));
                        _mm256_store_ps((float *)(B + bk * 16 + 64 + 64 * s) + 8 * h, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(sum)));
                    }
            }
        }
    }
}

/* Float panels: one gather of 8 tokens per element and half (2-byte types: the element
 * is the low half of the dword gathered; the 2 bytes past a row stay inside the buffer). */
K2 void pan2_float(ur_act *a, const act_layout *L, int64_t g0, int64_t g1) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i iq = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)L->qstride));
    const int esz = a->type == UR_TYPE_F32 ? 4 : 2;
    for (int64_t g = g0; g < g1; g++) {
        float *P = (float *)act_pan(a, L, g);
        for (int h = 0; h < 2; h++) {
            const int64_t th = g * UR_PANEL_T + 8 * h;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(a->n - th)), lane);
            const uint8_t *q0 = (const uint8_t *)act_qs(a, L, th < a->n ? th : 0);
            for (int64_t e = 0; e < a->k; e++) {
                __m256i v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(q0 + e * esz), iq, m, 1);
                __m256 f;
                if (a->type == UR_TYPE_F32) f = _mm256_castsi256_ps(v);
                else if (a->type == UR_TYPE_BF16) f = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
                else {
                    __m256i lo = _mm256_and_si256(v, _mm256_set1_epi32(0xFFFF));
                    f = _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)));
                }
                _mm256_store_ps(P + 16 * e + 8 * h, f);
            }
        }
    }
}

#else /* not x86 (or -DUR_NO_SIMD): the scalar kernels only */
#include "tensor/quant.h"
typedef int kernels_avx2_gemm_unused; /* (not x86: nothing here) */
#endif
