/* Single-precision GEMM for training: the three products of every linear layer
 * (forward y = x W^T, backward dx = dy W and dW += dy^T x) and the attention's
 * small products, all row-major.
 *
 *   C[m][n] = beta * C + alpha * op(A) · op(B)
 *   op(A) is m x k: A stored [m][k] (ta = 0) or [k][m] (ta = 1), row stride lda
 *   op(B) is k x n: B stored [k][n] (tb = 0) or [n][k] (tb = 1), row stride ldb
 *
 * Goto/BLIS blocking: B is packed in KC x NR panels, A in MR x KC panels, and a
 * register-blocked micro-kernel (AVX-512 12 x 32, AVX2 6 x 16, scalar 4 x 16)
 * runs over them. Each C element is summed over k in one fixed order whatever
 * the thread count, so results are bit-identical for 1 or N threads (training
 * resumes exactly). beta is 0 or 1 in practice; other values scale C first. */
#ifndef URIAL_TRAIN_GEMM_H
#define URIAL_TRAIN_GEMM_H

#include <stddef.h>

#include "urial/pool.h"

/* Scratch for the packed panels; zero-initialise, reuse across calls, free with
 * ur_gemm_ws_free. One workspace per concurrent caller. */
typedef struct ur_gemm_ws {
    float *buf;
    size_t cap; /* floats */
} ur_gemm_ws;
void ur_gemm_ws_free(ur_gemm_ws *ws);

/* The work is shared among pool's threads (NULL: the caller alone, as inside a
 * loop body, with that thread's own ws). ws may be NULL (a temporary is allocated). */
void ur_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, long lda, const float *B, long ldb,
              float beta, float *C, long ldc, ur_pool *pool, ur_gemm_ws *ws);

/* The same product with double accumulation in plain loops (tests). */
void ur_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, long lda, const float *B,
                  long ldb, float beta, float *C, long ldc);

/* Micro-kernels, one per SIMD level: c[mr][nr] (row stride ldc) = (acc ? c : 0) +
 * alpha * sum_p a[p][0..MR) x b[p][0..NR) over kc packed steps. Only full tiles
 * reach the kernels; the driver handles edges through a local tile. */
typedef void (*ur_gemm_kernel)(int kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc);
/* Transposing packs (optional, NULL = the driver's scalar loops): A stored [m][k]
 * into an MR-row panel, B stored [n][k] into an NR-column panel; rows/cols past
 * the matrix are zero. */
typedef void (*ur_gemm_pack)(float *dst, const float *src, long ld, int r0, int rows, int p0, int kc);
typedef struct ur_gemm_impl {
    int mr, nr;
    ur_gemm_kernel kernel;
    ur_gemm_pack pack_a_t, pack_b_t;
} ur_gemm_impl;
int ur_gemm_avx512(ur_gemm_impl *k); /* 0 when not compiled in */
int ur_gemm_avx2(ur_gemm_impl *k);

#endif
