/* Scalar kernels: activation quantizers and one dot product per weight type, the
 * fallback when the CPU has no AVX2 and the model the SIMD kernels follow. Each dot
 * is a sum over blocks of (weight scale x activation scale x integer dot), the way
 * ggml's vec_dot kernels compute it. */
#include <math.h>
#include <string.h>

#include "tensor/quant.h"

/* ---- activation quantizers --------------------------------------------------- */

/* Q8_0 as llama.cpp's x86 build quantizes activations (quantize_row_q8_0 with AVX2/
 * AVX-512): d = amax/127 stored as f16, q = round-to-nearest-even(x * (127/amax)).
 * (The reference quantizer used for files, ur_quantize_row, multiplies by 1/d and
 * rounds half away from zero; the two differ in rare last-bit cases.) */
static void act_q8_0(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    const int64_t k = a->k;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * k;
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t), *ds = (float *)act_dsum(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xr[32 * b + j]));
            float df = ur_f16_to_f32(ur_f32_to_f16(amax / 127.f));
            float id = amax != 0 ? 127.f / amax : 0.f;
            int s = 0;
            for (int j = 0; j < 32; j++) {
                int v = ur_nearest_int(xr[32 * b + j] * id);
                q[32 * b + j] = (int8_t)v;
                s += v;
            }
            d[b] = df;
            ds[b] = df * (float)s;
        }
    }
}

static void act_q8_K(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    const int64_t k = a->k;
    for (int64_t t = t0; t < t1; t++) {
        int8_t *q = (int8_t *)act_qs(a, L, t);
        float *d = (float *)act_d(a, L, t);
        int16_t *bs = (int16_t *)act_bsums(a, L, t);
        for (int64_t b = 0; b < L->nb; b++) {
            block_q8_K blk;
            ur_quantize_row(UR_TYPE_Q8_K, x + t * k + 256 * b, &blk, 256);
            memcpy(q + 256 * b, blk.qs, 256);
            memcpy(bs + 16 * b, blk.bsums, 32);
            d[b] = blk.d;
        }
    }
}

static void act_f32(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++)
        memcpy((void *)act_qs(a, L, t), x + t * a->k, (size_t)a->k * 4);
}
static void act_f16(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        uint16_t *h = (uint16_t *)act_qs(a, L, t);
        for (int64_t i = 0; i < a->k; i++) h[i] = ur_f32_to_f16(x[t * a->k + i]);
    }
}
static void act_bf16(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L) {
    for (int64_t t = t0; t < t1; t++) {
        uint16_t *h = (uint16_t *)act_qs(a, L, t);
        for (int64_t i = 0; i < a->k; i++) h[i] = ur_f32_to_bf16(x[t * a->k + i]);
    }
}

/* ---- dot products: weight row w against activation row t ------------------- */
typedef float (*dot_fn)(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t);

static float dot_q4_0(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const block_q4_0 *b = (const block_q4_0 *)w;
    const int8_t *q = act_qs(x, L, t);
    const float *d = act_d(x, L, t);
    float s = 0;
    for (int64_t i = 0; i < L->nb; i++, q += 32) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += ((b[i].qs[j] & 0xF) - 8) * q[j] + ((b[i].qs[j] >> 4) - 8) * q[j + 16];
        s += (float)sum * ur_f16_to_f32(b[i].d) * d[i];
    }
    return s;
}

static float dot_q8_0(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const block_q8_0 *b = (const block_q8_0 *)w;
    const int8_t *q = act_qs(x, L, t);
    const float *d = act_d(x, L, t);
    float s = 0;
    for (int64_t i = 0; i < L->nb; i++, q += 32) {
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += b[i].qs[j] * q[j];
        s += (float)sum * ur_f16_to_f32(b[i].d) * d[i];
    }
    return s;
}

/* q4_K / q5_K: per 256-block, isum = sum_j sc_j * (q . x over sub-block j) and
 * msum = sum_j m_j * (sum of x over sub-block j); y += dx * (d * isum - dmin * msum). */
static float dot_kq(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t, int five) {
    const int8_t *q8 = act_qs(x, L, t);
    const float *d8 = act_d(x, L, t);
    const int16_t *bs = act_bsums(x, L, t);
    float s = 0;
    for (int64_t i = 0; i < L->nb; i++, q8 += 256, bs += 16) {
        const uint8_t *scales, *qs, *qh = NULL;
        ur_half hd, hmin;
        if (five) {
            const block_q5_K *b = (const block_q5_K *)w + i;
            scales = b->scales, qs = b->qs, qh = b->qh, hd = b->d, hmin = b->dmin;
        } else {
            const block_q4_K *b = (const block_q4_K *)w + i;
            scales = b->scales, qs = b->qs, hd = b->d, hmin = b->dmin;
        }
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            kq_scale_min(j, scales, &sc, &m);
            int shift = (j & 1) * 4, dot = 0;
            const uint8_t *qq = qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                int v = (qq[l] >> shift) & 0xF;
                if (qh) v |= ((qh[l] >> j) & 1) << 4;
                dot += v * q8[32 * j + l];
            }
            isum += sc * dot;
            msum += m * (bs[2 * j] + bs[2 * j + 1]);
        }
        s += d8[i] * (ur_f16_to_f32(hd) * (float)isum - ur_f16_to_f32(hmin) * (float)msum);
    }
    return s;
}
static float dot_q4_K(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    return dot_kq(w, x, L, t, 0);
}
static float dot_q5_K(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    return dot_kq(w, x, L, t, 1);
}

static float dot_q6_K(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const block_q6_K *b = (const block_q6_K *)w;
    const int8_t *q8 = act_qs(x, L, t);
    const float *d8 = act_d(x, L, t);
    float s = 0;
    for (int64_t i = 0; i < L->nb; i++) {
        int8_t v[256];
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            int8_t *o = v + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (int8_t)(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
                o[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int dot = 0;
            for (int l = 0; l < 16; l++) dot += v[16 * j + l] * q8[256 * i + 16 * j + l];
            isum += b[i].scales[j] * dot;
        }
        s += ur_f16_to_f32(b[i].d) * d8[i] * (float)isum;
    }
    return s;
}

static float dot_f32(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const float *a = (const float *)act_qs(x, L, t), *b = (const float *)w;
    double s = 0;
    for (int64_t i = 0; i < x->k; i++) s += (double)(a[i] * b[i]);
    return (float)s;
}
static float dot_f16(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const uint16_t *a = (const uint16_t *)act_qs(x, L, t), *b = (const uint16_t *)w;
    double s = 0;
    for (int64_t i = 0; i < x->k; i++) s += (double)(ur_f16_to_f32(a[i]) * ur_f16_to_f32(b[i]));
    return (float)s;
}
static float dot_bf16(const uint8_t *w, const ur_act *x, const act_layout *L, int64_t t) {
    const uint16_t *a = (const uint16_t *)act_qs(x, L, t), *b = (const uint16_t *)w;
    double s = 0;
    for (int64_t i = 0; i < x->k; i++) s += (double)(ur_bf16_to_f32(a[i]) * ur_bf16_to_f32(b[i]));
    return (float)s;
}

static void mm_with(dot_fn dot, const mm_job *j, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < j->n; t++)
            j->y[t * j->ldy + r] = dot(j->W + r * j->wrow, j->x, &j->L, t);
}
#define MM(name)                                                                                   \
    static void mm_##name(const mm_job *j, int64_t r0, int64_t r1) { mm_with(dot_##name, j, r0, r1); }
MM(q4_0)
MM(q8_0)
MM(q4_K)
MM(q5_K)
MM(q6_K)
MM(f32)
MM(f16)
MM(bf16)

void kernels_scalar(kernel_table *t) {
    t->mm[UR_TYPE_Q4_0] = mm_q4_0;
    t->mm[UR_TYPE_Q8_0] = mm_q8_0;
    t->mm[UR_TYPE_Q4_K] = mm_q4_K;
    t->mm[UR_TYPE_Q5_K] = mm_q5_K;
    t->mm[UR_TYPE_Q6_K] = mm_q6_K;
    t->mm[UR_TYPE_F32] = mm_f32;
    t->mm[UR_TYPE_F16] = mm_f16;
    t->mm[UR_TYPE_BF16] = mm_bf16;
    t->act[UR_TYPE_Q8_0] = act_q8_0;
    t->act[UR_TYPE_Q8_K] = act_q8_K;
    t->act[UR_TYPE_F32] = act_f32;
    t->act[UR_TYPE_F16] = act_f16;
    t->act[UR_TYPE_BF16] = act_bf16;
}
