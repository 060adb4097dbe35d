/* Internal to src/tensor: the ggml block layouts (byte-exact; they are the
 * contract between a GGUF file and the kernels), the layout of prepared
 * activations, and the kernel table each ISA file fills in.
 *
 * Element order inside the blocks (i = element index within the block):
 *   q4_0  x[i] = d * (q - 8); q of i<16 is the low nibble of qs[i], of i>=16 the high nibble of qs[i-16].
 *   q8_0  x[i] = d * qs[i].
 *   q4_K  256 elements = 8 sub-blocks of 32, each with a 6-bit scale sc and min m (packed in
 *         scales[12], see kq_scale_min); elements 64j..64j+31 are the low nibbles of
 *         qs[32j..32j+31] (sub-block 2j), 64j+32..64j+63 their high nibbles (sub-block 2j+1);
 *         x = d*sc*q - dmin*m.
 *   q5_K  as q4_K with a fifth bit: element 64j+l takes bit 2j of qh[l], 64j+32+l bit 2j+1.
 *   q6_K  16 sub-blocks of 16 with int8 scales; in each half (128 elements, ql += 64,
 *         qh += 32) element l, l+32, l+64, l+96 (l < 32) take the low nibble of ql[l],
 *         the low nibble of ql[l+32], the high nibble of ql[l], the high nibble of ql[l+32],
 *         and bits 0-1, 2-3, 4-5, 6-7 of qh[l] as bits 4-5; x = d*sc*(q - 32).
 *   q8_K  x[i] = d * qs[i] (d is f32); bsums[j] = sum of qs[16j..16j+15]. */
#ifndef URIAL_TENSOR_QUANT_H
#define URIAL_TENSOR_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "urial/tensor.h"

typedef uint16_t ur_half; /* IEEE binary16 bits */

typedef struct { ur_half d; uint8_t qs[16]; } block_q4_0;
typedef struct { ur_half d; int8_t qs[32]; } block_q8_0;
typedef struct { ur_half d, dmin; uint8_t scales[12]; uint8_t qs[128]; } block_q4_K;
typedef struct { ur_half d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ur_half d; } block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K");

/* Sub-block j (0..7) scale and min of a q4_K/q5_K block: 6 bits each, the first four
 * pairs in the low 6 bits of scales[0..7], the last four split into a nibble of
 * scales[8..11] and the top 2 bits of scales[0..7]. */
static inline void kq_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* The k-quant encoders (quant_k.c): nb super-blocks of 256 floats into dst. */
void ur_quant_q4_K(const float *x, void *dst, int64_t nb);
void ur_quant_q5_K(const float *x, void *dst, int64_t nb);
void ur_quant_q6_K(const float *x, void *dst, int64_t nb);

/* Round to nearest, ties to even, through the float mantissa (|f| < 2^22): ggml's
 * nearest_int, and what _mm*_round_ps(_MM_FROUND_TO_NEAREST_INT) gives. */
static inline int ur_nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    __builtin_memcpy(&i, &v, 4);
    return (i & 0x007FFFFF) - 0x00400000;
}

/* ---- prepared activations ------------------------------------------------
 * ur_act.data holds, for n rows (tokens) of k elements, all 64-byte aligned:
 *
 *   qs   [n][qstride]  Q8_0/Q8_K: the int8 quants of each row, in element order.
 *                      F32/F16/BF16: the row itself in that type.
 *   d    [n][nb]       float block scales (Q8_0: the f16-rounded scale; Q8_K: the f32 one).
 *   sum  [n][nsum]     Q8_0: float d * (sum of the block's quants), one per 32-block;
 *                      Q8_K: int16 sums of 16 quants (the bsums), 16 per 256-block.
 *   pan  [ng][...]     only when n >= UR_PANEL_MIN_N: the rows regrouped by 16 tokens for
 *                      the GEMM kernels ("panels"), ng = ceil(n/16), missing tokens zero:
 *        Q8_0: per 32-block: 8 x [16 tokens x 4 bytes] of (q + 128) as uint8, then the 16
 *              tokens' float d                               -> 576 bytes per block
 *        Q8_K: per 256-block: 64 x [16 x 4 bytes] of (q + 128), 16 float d, then for the 8
 *              sub-blocks of 32: 16 floats d * (sum of the sub-block's quants)
 *                                                            -> 4672 bytes per block
 *        F32/F16/BF16: per element: 16 floats (the activation values as f32)
 *                                                            -> 64 bytes per element
 * The (q + 128) form lets vpdpbusd (unsigned x signed) take the activation as the
 * unsigned side and the weights as signed, with a per-weight-block correction. */
#define UR_PANEL_MIN_N 16
#define UR_PANEL_T 16

typedef struct {
    int64_t nb, nsum, qstride, ng;
    size_t off_qs, off_d, off_sum, off_pan, pan_block, pan_group, total;
} act_layout;

void act_layout_of(int type, int64_t n, int64_t k, act_layout *L);

static inline const int8_t *act_qs(const ur_act *a, const act_layout *L, int64_t t) {
    return (const int8_t *)a->data + L->off_qs + (size_t)t * (size_t)L->qstride;
}
static inline const float *act_d(const ur_act *a, const act_layout *L, int64_t t) {
    return (const float *)((const char *)a->data + L->off_d) + t * L->nb;
}
static inline const float *act_dsum(const ur_act *a, const act_layout *L, int64_t t) {
    return (const float *)((const char *)a->data + L->off_sum) + t * L->nsum;
}
static inline const int16_t *act_bsums(const ur_act *a, const act_layout *L, int64_t t) {
    return (const int16_t *)((const char *)a->data + L->off_sum) + t * L->nsum;
}
static inline const uint8_t *act_pan(const ur_act *a, const act_layout *L, int64_t g) {
    return (const uint8_t *)a->data + L->off_pan + (size_t)g * L->pan_group;
}

/* ---- kernels --------------------------------------------------------------
 * One matmul job: rows [r0, r1) of W against all n prepared activation rows. */
typedef struct {
    const uint8_t *W;
    uint64_t wrow; /* bytes per weight row */
    int wtype;
    int64_t k, n;
    const ur_act *x;
    act_layout L;
    float *y;
    int64_t ldy;
} mm_job;

typedef void (*mm_fn)(const mm_job *job, int64_t r0, int64_t r1);

/* Drives a GEMV body CALL(r0, r1, t0, N) (N a constant 1..4: tokens t0..t0+N-1) over
 * all n tokens: passes of up to 4 tokens over chunks of 64 rows, so that passes after
 * the first read the chunk's weights from L2 rather than memory. */
#define UR_GEMV_ROWS 64
#define GEMV_ALL(j, r0, r1, CALL)                                                                  \
    for (int64_t rc_ = (r0); rc_ < (r1); rc_ += UR_GEMV_ROWS) {                                     \
        int64_t re_ = rc_ + UR_GEMV_ROWS < (r1) ? rc_ + UR_GEMV_ROWS : (r1);                        \
        for (int64_t t0_ = 0; t0_ < (j)->n; t0_ += 4) {                                            \
            int64_t nn_ = (j)->n - t0_;                                                            \
            if (nn_ >= 4) CALL(rc_, re_, t0_, 4);                                                  \
            else if (nn_ == 3) CALL(rc_, re_, t0_, 3);                                             \
            else if (nn_ == 2) CALL(rc_, re_, t0_, 2);                                             \
            else CALL(rc_, re_, t0_, 1);                                                           \
        }                                                                                          \
    }
/* Quantize activation rows [t0, t1) of x (row stride k) into the qs/d/sum parts. */
typedef void (*act_fn)(const float *x, int64_t t0, int64_t t1, ur_act *a, const act_layout *L);

/* Build the panels of groups [g0, g1) from the qs/d/sum parts. */
typedef void (*pan_fn)(ur_act *a, const act_layout *L, int64_t g0, int64_t g1);

typedef struct {
    mm_fn mm[31];   /* by weight type id; NULL: fall back to the next lower level */
    act_fn act[31]; /* by activation type id; NULL: fall back */
    pan_fn pan[31]; /* by activation type id; NULL: fall back */
} kernel_table;

void kernels_scalar(kernel_table *t);
void kernels_avx2(kernel_table *t, int vnni);
void kernels_avx512(kernel_table *t);
void kernels_avx512_q(kernel_table *t); /* the quantized-weight part (kernels_avx512_q.c) */

/* Builds the panel part of an activation from its qs/d/sum parts (scalar; any level). */
void act_build_panels(ur_act *a, const act_layout *L, int64_t g0, int64_t g1);

/* Internal knob for tests: 0 disables AVX-VNNI in the AVX2 kernels (to test the
 * vpmaddubsw path on a CPU that has VNNI). Returns the previous value. */
int ur_simd_allow_vnni(int allow);

#endif
