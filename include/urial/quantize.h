/* urial — quantizing a model: llama.cpp's file types (pure types and the k-quant
 * mixtures, which tensor gets which type) and the streaming file quantizer that
 * `urial quantize` and `urial sft --save-type` share.
 *
 * The names are llama-quantize's: f32 f16 bf16 q8_0 q4_0 q4_K_S q4_K_M q5_K_S q5_K_M
 * q6_K, with q4_K = q4_K_M and q5_K = q5_K_M as there (case does not matter). Only
 * matrices whose names end in "weight" are converted; vectors (norms, biases, rope
 * factors) keep their type. The rules for a quantized file type, as llama.cpp's
 * quantizer applies them (docs/bridges.md#quantize):
 *   - output.weight (token_embd.weight when the output is tied to it): Q6_K, or Q8_0
 *     when the type is q8_0 or the rows are not a multiple of 256;
 *   - q4_K_M, q5_K_M: attn_v of layer i and ffn_down of layer i get Q6_K when
 *     i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2 (n layers); phi3's fused attn_qkv
 *     gets Q5_K (q4_K_M) or Q6_K (q5_K_M);
 *   - q4_K_S: attn_v of the first 4 layers and ffn_down of layers i < n/8 get Q5_K;
 *   - a matrix whose rows are not a multiple of the chosen type's block falls back
 *     to Q8_0, else F16 (llama.cpp uses Q5_0/Q5_1 for Q4_K/Q5_K, which urial does
 *     not run: a documented departure);
 *   - pure (llama-quantize --pure): every matrix gets the base type. */
#ifndef URIAL_QUANTIZE_H
#define URIAL_QUANTIZE_H

#include <stdint.h>

#include "urial/base.h"
#include "urial/pool.h"

typedef struct ur_qmix {
    char name[16]; /* canonical name ("q4_K_M") */
    int ftype;     /* general.file_type: llama.cpp's llama_ftype id */
    int base;      /* the type most matrices get (enum ur_type) */
    int pure;      /* 1: every matrix gets `base` */
    /* set by ur_qmix_begin, updated by ur_qmix_type */
    int n_layers, has_output, i_attn_v;
} ur_qmix;

/* Parse a file type name. -1 with err ("unknown type 'x' (f32 f16 ...)") otherwise. */
int ur_qmix_init(ur_qmix *m, const char *name, int pure, ur_err *err);
/* The list of names, for messages and --help. */
const char *ur_qmix_names(void);
/* Start a model: its layer count and whether it has its own output.weight. */
void ur_qmix_begin(ur_qmix *m, int n_layers, int has_output);
/* The type tensor `name` (n_dims, rows of ne0 elements, now of type cur) gets.
 * Call it once per tensor, in file order (the attn_v rule counts them). */
int ur_qmix_type(ur_qmix *m, const char *name, int n_dims, int64_t ne0, int cur);

/* Encode rows of F32 (rows x cols) as `type` on the pool's threads. */
void ur_quantize_rows(ur_pool *pool, int type, const float *src, void *dst, int64_t rows, int64_t cols);

typedef struct ur_quantize_stats {
    int n_tensors;
    int count[31];          /* tensors written per type */
    uint64_t bytes_in, bytes_out;
} ur_quantize_stats;

/* Quantize the GGUF at `in` into `out` (mix from ur_qmix_init), tensor by tensor:
 * each converted tensor is dequantized to F32 a row at a time and re-encoded on
 * `threads` threads (0 = all cores), so memory is one output tensor. Metadata is
 * copied with general.file_type and general.quantization_version set. */
int ur_quantize_file(const char *in, const char *out, ur_qmix *mix, int threads, ur_quantize_stats *st, ur_err *err);

#endif
