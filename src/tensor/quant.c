/* Scalar reference: decode every block format to float, and encode float rows as
 * F32/F16/BF16/Q8_0/Q4_0/Q8_K exactly as llama.cpp's reference quantizers do
 * (same formulas, same float operations in the same order, so the same bytes);
 * Q4_K/Q5_K/Q6_K with urial's own encoders (quant_k.c).
 * Layouts: quant.h. */
#include <math.h>
#include <string.h>

#include "tensor/quant.h"

/* ---- decode ---------------------------------------------------------------- */
static void deq_q4_0(const block_q4_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = ur_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q8_0(const block_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = ur_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)b[i].qs[j] * d;
    }
}

/* q4_K and q5_K share everything but the fifth bit (qh == NULL for q4_K). */
static void deq_kq(ur_half hd, ur_half hmin, const uint8_t *scales, const uint8_t *qh,
                   const uint8_t *qs, float *y) {
    float d = ur_f16_to_f32(hd), dmin = ur_f16_to_f32(hmin);
    for (int j = 0; j < 4; j++) {
        uint8_t sc, m;
        kq_scale_min(2 * j, scales, &sc, &m);
        float d1 = d * sc, m1 = dmin * m;
        kq_scale_min(2 * j + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = dmin * m;
        const uint8_t *q = qs + 32 * j;
        for (int l = 0; l < 32; l++) {
            int hi = qh ? ((qh[l] >> (2 * j)) & 1) << 4 : 0;
            y[64 * j + l] = d1 * (float)((q[l] & 0xF) + hi) - m1;
        }
        for (int l = 0; l < 32; l++) {
            int hi = qh ? ((qh[l] >> (2 * j + 1)) & 1) << 4 : 0;
            y[64 * j + 32 + l] = d2 * (float)((q[l] >> 4) + hi) - m2;
        }
    }
}

static void deq_q6_K(const block_q6_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = ur_f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void ur_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    int bs = ur_type_block(type);
    if (bs == 0 || n <= 0) return;
    int64_t nb = n / bs;
    switch (type) {
    case UR_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case UR_TYPE_F16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ur_f16_to_f32(h[i]);
        break;
    }
    case UR_TYPE_BF16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ur_bf16_to_f32(h[i]);
        break;
    }
    case UR_TYPE_Q4_0: deq_q4_0(src, dst, nb); break;
    case UR_TYPE_Q8_0: deq_q8_0(src, dst, nb); break;
    case UR_TYPE_Q4_K: {
        const block_q4_K *b = src;
        for (int64_t i = 0; i < nb; i++)
            deq_kq(b[i].d, b[i].dmin, b[i].scales, NULL, b[i].qs, dst + 256 * i);
        break;
    }
    case UR_TYPE_Q5_K: {
        const block_q5_K *b = src;
        for (int64_t i = 0; i < nb; i++)
            deq_kq(b[i].d, b[i].dmin, b[i].scales, b[i].qh, b[i].qs, dst + 256 * i);
        break;
    }
    case UR_TYPE_Q6_K: deq_q6_K(src, dst, nb); break;
    case UR_TYPE_Q8_K: {
        const block_q8_K *b = src;
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < 256; j++) dst[256 * i + j] = b[i].d * (float)b[i].qs[j];
        break;
    }
    }
}

/* ---- encode ---------------------------------------------------------------- */

/* q4_0: d = (the value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5)). */
static void quant_q4_0(const float *x, block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float d = max / -8;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        y[i].d = ur_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int8_t a = (int8_t)(x[j] * id + 8.5f), b = (int8_t)(x[j + 16] * id + 8.5f);
            uint8_t q0 = (uint8_t)(a < 15 ? a : 15), q1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* q8_0 (reference form, used to write files): d = amax/127, q = roundf(x * (1/d)). */
static void quant_q8_0(const float *x, block_q8_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        y[i].d = ur_f32_to_f16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* q8_K: scale -127/(value of largest magnitude), round to nearest even, d = 1/scale. */
static void quant_q8_K(const float *x, block_q8_K *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 256) {
        float amax = 0, max = 0;
        for (int j = 0; j < 256; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0) continue;
        const float iscale = -127.f / max;
        for (int j = 0; j < 256; j++) {
            int v = ur_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}

int ur_quantize_row(int type, const float *src, void *dst, int64_t n) {
    int bs = ur_type_block(type);
    if (bs == 0 || n < 0 || n % bs) return -1;
    int64_t nb = n / bs;
    switch (type) {
    case UR_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case UR_TYPE_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ur_f32_to_f16(src[i]);
        return 0;
    case UR_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ur_f32_to_bf16(src[i]);
        return 0;
    case UR_TYPE_Q4_0: quant_q4_0(src, dst, nb); return 0;
    case UR_TYPE_Q8_0: quant_q8_0(src, dst, nb); return 0;
    case UR_TYPE_Q8_K: quant_q8_K(src, dst, nb); return 0;
    case UR_TYPE_Q4_K: ur_quant_q4_K(src, dst, nb); return 0;
    case UR_TYPE_Q5_K: ur_quant_q5_K(src, dst, nb); return 0;
    case UR_TYPE_Q6_K: ur_quant_q6_K(src, dst, nb); return 0;
    default: return -1;
    }
}
