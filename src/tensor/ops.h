/* Elementwise and row operations of the transformer, in float, with the same
 * arithmetic as llama.cpp where it matters for comparing logits. Shapes are in
 * elements; rows are contiguous. */
#ifndef URIAL_OPS_H
#define URIAL_OPS_H

#include <stddef.h>
#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w   (n elements; y may alias x) */
void ur_rmsnorm(float *y, const float *x, const float *w, int n, float eps);

/* Rotary embedding of one head vector x[head_dim] at position pos, in place.
 * cs holds n_rot/2 (cos, sin) pairs for that position (ur_rope_cache).
 * neox = 0: rotate pairs (x[2i], x[2i+1]); neox = 1: pairs (x[i], x[i + n_rot/2]). */
void ur_rope(float *x, const float *cs, int n_rot, int neox);
/* cos/sin table for one position: theta_i = pos / scale * base^(-2i/n_rot) / freqs[i]
 * (freqs NULL: all 1); both multiplied by mscale (LongRoPE's attention factor, else 1). */
void ur_rope_cache(float *cs, float pos, int n_rot, float base, float scale, const float *freqs, float mscale);

/* h[i] = silu(g[i]) * u[i] */
void ur_swiglu(float *h, const float *g, const float *u, int n);
/* h[i] = gelu(g[i]) * u[i] with GELU's tanh form, as llama.cpp computes it: gelu of
 * g rounded to F16, looked up in a table of F16 results, for -10 < g < 10 (0 below,
 * g above). h may alias g or u. */
void ur_geglu(float *h, const float *g, const float *u, int n);
/* The tanh form of GELU in float: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))). */
float ur_gelu(float x);

/* F32 rows into the F16 KV cache */
void ur_f32_to_f16_row(uint16_t *dst, const float *src, int n);

/* Attention of nq <= UR_ATTN_MAXQ queries that share one KV head (attn.c): query i
 * attends positions lo[i]..hi[i]; position p's key and value are the F16 rows
 * k + (p % rows) * kv_stride and v + (p % rows) * kv_stride (hd values each).
 * s = q.k scale, [cap > 0] s = cap tanh(s); out[i] = softmax(s) v. A query's result
 * does not depend on the other queries of the call. scratch: ur_attend_scratch(n_ctx,
 * hd) floats for positions below n_ctx. */
#define UR_ATTN_MAXQ 16
typedef struct ur_attn {
    const float *q[UR_ATTN_MAXQ];
    float *out[UR_ATTN_MAXQ];
    int lo[UR_ATTN_MAXQ], hi[UR_ATTN_MAXQ];
    int nq, hd, rows, kv_stride;
    const uint16_t *k, *v;
    float scale, cap;
} ur_attn;
void ur_attend(const ur_attn *a, float *scratch);
size_t ur_attend_scratch(int n_ctx, int hd);

#endif
