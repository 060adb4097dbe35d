/* urial — tensor types and kernels.
 *
 * Block formats are the ggml ones (the contract between file and kernel); the
 * type ids below are the ggml/GGUF ids. Every type has a scalar reference
 * (ur_dequantize_row) and the matmul has SIMD paths (AVX2, AVX-512, chosen at run
 * time from the CPU) that tests hold to that reference.
 *
 * Numerics follow llama.cpp so logits can be compared with it: before a matmul
 * the float activations are converted to the weight type's "activation type"
 * (Q8_0 for Q4_0/Q8_0, Q8_K for the K-quants, F16 for F16, BF16 for BF16, F32 for
 * F32) and the dot products are taken between the two. */
#ifndef URIAL_TENSOR_H
#define URIAL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "urial/pool.h"

enum ur_type {
    UR_TYPE_F32 = 0,
    UR_TYPE_F16 = 1,
    UR_TYPE_Q4_0 = 2,
    UR_TYPE_Q8_0 = 8,
    UR_TYPE_Q4_K = 12,
    UR_TYPE_Q5_K = 13,
    UR_TYPE_Q6_K = 14,
    UR_TYPE_Q8_K = 15, /* activation type only; never valid in a model file */
    UR_TYPE_BF16 = 30,
};

#define UR_QK 32   /* block size of Q4_0 / Q8_0 */
#define UR_QK_K 256 /* super-block size of the K-quants */

/* 1 for the eight weight types urial reads from files (not Q8_K). */
int ur_type_is_weight(int type);
/* "f32", "q4_K", ... ; "unknown" for anything else. */
const char *ur_type_name(int type);
/* Elements per block and bytes per block; 0 for unknown types. */
int ur_type_block(int type);
int ur_type_block_bytes(int type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
uint64_t ur_row_size(int type, int64_t n);

/* Half-precision conversions (round to nearest even; NaN/inf preserved). */
float ur_f16_to_f32(uint16_t h);
uint16_t ur_f32_to_f16(float f);
float ur_bf16_to_f32(uint16_t h);
uint16_t ur_f32_to_bf16(float f);

/* Scalar reference: decode n elements (a multiple of the block size) to float.
 * Works for every weight type and for Q8_K. */
void ur_dequantize_row(int type, const void *src, float *dst, int64_t n);
/* Encode n floats as `type`: F32, F16, BF16, Q8_0, Q4_0, Q8_K (as llama.cpp's
 * reference quantizers do), Q4_K, Q5_K, Q6_K (urial's encoders, quant_k.c). Returns -1
 * for a type that cannot be produced or n not a whole number of blocks. */
int ur_quantize_row(int type, const float *src, void *dst, int64_t n);

/* The activation type a weight type's dot products take (see above). */
int ur_act_type(int wtype);

/* Activations prepared for a matmul: n rows of k elements (k a multiple of the
 * type's block size) converted to `type` the way llama.cpp's x86 build converts them
 * (Q8_0: d = amax/127 as f16, q = round-half-even(x * 127/amax); Q8_K: its reference
 * quantizer; F16/BF16: round to nearest even). The layout of `data` is internal
 * (src/tensor/quant.h); row_bytes is the stride of its quant rows. The buffer is
 * reused across calls and grows as needed; ur_act_free releases it. */
typedef struct ur_act {
    int type;
    int64_t n, k;
    uint64_t row_bytes;
    void *data;
    size_t cap;
} ur_act;
/* pool: the threads to convert rows with (NULL: the caller alone); the bytes do not
 * depend on it. */
void ur_act_prepare(ur_act *a, int type, const float *x, int64_t n, int64_t k, ur_pool *pool);
void ur_act_free(ur_act *a);

/* Y[t*ldy + r] = sum_i W[r][i] * X[t][i] for t < x->n, r < rows.
 * W holds `rows` rows of x->k elements of wtype, row r at W + r*ur_row_size(wtype, k).
 * x must have been prepared with ur_act_type(wtype). Rows are shared among the
 * pool's threads (NULL: the caller alone); every Y element is summed over k in
 * one fixed order, so Y does not depend on the pool. */
void ur_matmul(const void *W, int wtype, int64_t rows, const ur_act *x, float *y, int64_t ldy, ur_pool *pool);

/* The same product through the scalar reference (dequantize + double
 * accumulation); for tests only. */
void ur_matmul_ref(const void *W, int wtype, int64_t rows, const ur_act *x, float *y, int64_t ldy);

/* SIMD level in use: 0 scalar, 1 AVX2 (+FMA, F16C; AVX-VNNI used when present),
 * 2 AVX-512 (F, BW, VL, DQ, VNNI, VBMI: Ice Lake, Zen 4 and later; other AVX-512 CPUs
 * run the AVX2 level).
 * ur_simd_set() caps the level (tests, debugging); returns the level now in use. */
enum { UR_SIMD_SCALAR = 0, UR_SIMD_AVX2 = 1, UR_SIMD_AVX512 = 2 };
int ur_simd_level(void);
int ur_simd_set(int max_level);
const char *ur_simd_name(int level);

#endif
