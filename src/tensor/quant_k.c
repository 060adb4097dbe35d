/* Encoders for the k-quant block formats Q4_K, Q5_K and Q6_K (layouts: quant.h).
 *
 * These are urial's own encoders, not byte copies of llama.cpp's: any bytes in
 * the block format decode the same in every reader, so what matters is the error.
 * The method, per 256-element super-block:
 *   1. each sub-block gets the best float scale (and, for Q4_K/Q5_K, the best min)
 *      by a short search: a grid of candidate scales around range/levels, each
 *      followed by a least-squares refit of scale and min to the rounded levels;
 *   2. the sub-block scales (and mins) are quantized to 6 bits (Q6_K: int8) against
 *      the super-block's largest, stored as f16 d (dmin);
 *   3. every element is rounded again against the scale it will be decoded with.
 * Errors this gives on Gaussian data (RMS error / RMS value, tests/unit/test_quantize.c):
 * Q4_K 0.078, Q5_K 0.038, Q6_K 0.017. The grids (7 candidates each) are where more
 * candidates stopped paying: 13 gave the same Q4_K/Q5_K errors and 1.4x the time. */
#include <math.h>
#include <string.h>

#include "tensor/quant.h"

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- one sub-block: x ≈ s * q - m, q in [0, nmax], m >= 0 ---------------------- */
/* Least squares for s and m given the levels q: minimise sum (s q_i - m - x_i)^2. */
static void fit_affine(const float *x, const uint8_t *q, int n, float *s, float *m) {
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; i++) sq += q[i], sqq += (double)q[i] * q[i], sx += x[i], sqx += (double)q[i] * x[i];
    double det = n * sqq - sq * sq;
    if (det <= 0) return; /* every level equal: keep s, m */
    double ss = (n * sqx - sq * sx) / det, mm = (sq * sqx - sqq * sx) / det;
    if (mm > 0) { /* the min must be <= 0 in x's terms (m >= 0): refit with m = 0 */
        mm = 0;
        ss = sqq > 0 ? sqx / sqq : 0;
    }
    *s = (float)ss;
    *m = (float)-mm;
}

static double affine_err(const float *x, int n, float s, float m, int nmax, uint8_t *q) {
    double e = 0;
    const float is = s > 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < n; i++) {
        q[i] = (uint8_t)clampi(ur_nearest_int((x[i] + m) * is), 0, nmax);
        const double d = (double)s * q[i] - m - x[i];
        e += d * d;
    }
    return e;
}

/* Best (s, m) for one sub-block of n values with levels 0..nmax. */
static void best_affine(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float lo = 0, hi = x[0];
    for (int i = 0; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    *m_out = -lo;
    *s_out = 0;
    if (hi <= lo) return;
    uint8_t q[32];
    float best_s = (hi - lo) / nmax, best_m = -lo;
    double best = affine_err(x, n, best_s, best_m, nmax, q);
    for (int k = -2; k <= 4; k++) {
        float s = (hi - lo) / (nmax + 0.1f * k), m = -lo;
        affine_err(x, n, s, m, nmax, q);
        fit_affine(x, q, n, &s, &m);
        if (s <= 0) continue;
        double e = affine_err(x, n, s, m, nmax, q);
        if (e < best) best = e, best_s = s, best_m = m;
    }
    *s_out = best_s;
    *m_out = best_m;
}

/* ---- Q4_K / Q5_K ---------------------------------------------------------------- */
static void pack_scales(uint8_t *dst, const uint8_t *ls, const uint8_t *lm) {
    memset(dst, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            dst[j] = ls[j];
            dst[j + 4] = lm[j];
        } else {
            dst[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            dst[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            dst[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* One super-block of 256 into levels L[256] (0..nmax), d/dmin and the 6-bit scales. */
static void kq_levels(const float *x, int nmax, uint8_t *L, ur_half *hd, ur_half *hmin, uint8_t *scales) {
    float s[8], m[8], smax = 0, mmax = 0;
    for (int j = 0; j < 8; j++) {
        best_affine(x + 32 * j, 32, nmax, &s[j], &m[j]);
        smax = fmaxf(smax, s[j]);
        mmax = fmaxf(mmax, m[j]);
    }
    uint8_t ls[8], lm[8];
    const float is = smax > 0 ? 63.f / smax : 0.f, im = mmax > 0 ? 63.f / mmax : 0.f;
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(ur_nearest_int(is * s[j]), 0, 63);
        lm[j] = (uint8_t)clampi(ur_nearest_int(im * m[j]), 0, 63);
    }
    *hd = ur_f32_to_f16(smax / 63.f);
    *hmin = ur_f32_to_f16(mmax / 63.f);
    pack_scales(scales, ls, lm);
    const float d = ur_f16_to_f32(*hd), dmin = ur_f16_to_f32(*hmin);
    for (int j = 0; j < 8; j++) {
        const float sd = d * ls[j], md = dmin * lm[j];
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = sd > 0 ? (uint8_t)clampi(ur_nearest_int((x[32 * j + i] + md) / sd), 0, nmax) : 0;
    }
}

/* Elements 64j+l and 64j+32+l share byte qs[32j+l] (low and high nibble). */
static void pack_nibbles(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            qs[32 * j + l] = (uint8_t)((L[64 * j + l] & 0xF) | ((L[64 * j + 32 + l] & 0xF) << 4));
}

void ur_quant_q4_K(const float *x, void *dst, int64_t nb) {
    block_q4_K *y = dst;
    uint8_t L[256];
    for (int64_t i = 0; i < nb; i++, x += 256) {
        kq_levels(x, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
        pack_nibbles(L, y[i].qs);
    }
}

void ur_quant_q5_K(const float *x, void *dst, int64_t nb) {
    block_q5_K *y = dst;
    uint8_t L[256];
    for (int64_t i = 0; i < nb; i++, x += 256) {
        kq_levels(x, 31, L, &y[i].d, &y[i].dmin, y[i].scales);
        pack_nibbles(L, y[i].qs);
        memset(y[i].qh, 0, 32);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                y[i].qh[l] |= (uint8_t)((L[64 * j + l] >> 4) << (2 * j));
                y[i].qh[l] |= (uint8_t)((L[64 * j + 32 + l] >> 4) << (2 * j + 1));
            }
    }
}

/* ---- Q6_K: x ≈ d * sc * (q - 32), q - 32 in [-32, 31], 16 sub-blocks of 16 -------- */
static double sym_err(const float *x, int n, float s, int8_t *q) {
    double e = 0;
    const float is = s != 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < n; i++) {
        q[i] = (int8_t)clampi(ur_nearest_int(x[i] * is), -32, 31);
        const double d = (double)s * q[i] - x[i];
        e += d * d;
    }
    return e;
}

/* Best signed scale for 16 values: the value of largest magnitude maps near -32. */
static float best_sym(const float *x) {
    float amax = 0, max = 0;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    if (amax == 0) return 0;
    int8_t q[16];
    float best_s = max / -32.f;
    double best = sym_err(x, 16, best_s, q);
    for (int k = -3; k <= 3; k++) {
        float s = max / (-32.f + 0.25f * k);
        sym_err(x, 16, s, q);
        double qq = 0, qx = 0;
        for (int i = 0; i < 16; i++) qq += (double)q[i] * q[i], qx += (double)q[i] * x[i];
        if (qq > 0) s = (float)(qx / qq);
        double e = sym_err(x, 16, s, q);
        if (e < best) best = e, best_s = s;
    }
    return best_s;
}

void ur_quant_q6_K(const float *x, void *dst, int64_t nb) {
    block_q6_K *y = dst;
    for (int64_t i = 0; i < nb; i++, x += 256) {
        float s[16], amax = 0, max = 0;
        for (int j = 0; j < 16; j++) {
            s[j] = best_sym(x + 16 * j);
            if (fabsf(s[j]) > amax) amax = fabsf(s[j]), max = s[j];
        }
        memset(&y[i], 0, sizeof y[i]);
        uint8_t L[256];
        memset(L, 32, sizeof L);
        if (amax > 0) {
            const float iscale = -128.f / max;
            y[i].d = ur_f32_to_f16(1 / iscale);
            const float d = ur_f16_to_f32(y[i].d);
            for (int j = 0; j < 16; j++) {
                y[i].scales[j] = (int8_t)clampi(ur_nearest_int(iscale * s[j]), -128, 127);
                const float sd = d * y[i].scales[j];
                if (sd == 0) continue;
                for (int l = 0; l < 16; l++)
                    L[16 * j + l] = (uint8_t)(clampi(ur_nearest_int(x[16 * j + l] / sd), -32, 31) + 32);
            }
        }
        /* each half of 128: ql[l] = elements l (low) and l+64 (high), ql[l+32] = l+32 and
         * l+96; qh[l] holds bits 4-5 of l, l+32, l+64, l+96 */
        for (int h = 0; h < 2; h++) {
            const uint8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                  ((Lh[l + 96] >> 4) << 6));
            }
        }
    }
}
