/* GEMM driver: packing, blocking, threading and the scalar micro-kernel (see
 * gemm.h). Loop order (Goto): for each NC-wide column block of C and each
 * KC-deep slice of k, B's slice is packed once into NR-column panels (shared by
 * the threads, ~KC*NC*4 bytes: L2/L3), then every MC-row block of A is packed into
 * MR-row panels (L2) and the micro-kernel walks the panels (a B panel of
 * KC*NR*4 = 32 KiB stays in L1 while the A panels stream past it). */
#include "train/gemm.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "urial/tensor.h"

enum { KC = 256, NC_MAX = 4096, MC_TARGET = 144 };

/* ---- scalar micro-kernel: 4 x 16 (gcc vectorises the j loop) ------------- */
static void kernel_scalar(int kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
    float t[4][16];
    memset(t, 0, sizeof t);
    for (int p = 0; p < kc; p++, a += 4, b += 16)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 16; j++) t[i][j] += a[i] * b[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0.0f) + alpha * t[i][j];
}

static ur_gemm_impl pick_impl(void) {
    ur_gemm_impl k = {4, 16, kernel_scalar, NULL, NULL};
    int level = ur_simd_level();
    if (level >= UR_SIMD_AVX512 && ur_gemm_avx512(&k)) return k;
    if (level >= UR_SIMD_AVX2 && ur_gemm_avx2(&k)) return k;
    k = (ur_gemm_impl){4, 16, kernel_scalar, NULL, NULL};
    return k;
}

void ur_gemm_ws_free(ur_gemm_ws *ws) {
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

static float *ws_reserve(ur_gemm_ws *ws, size_t floats) {
    if (ws->cap >= floats) return ws->buf;
    free(ws->buf);
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    ws->buf = aligned_alloc(64, bytes);
    if (!ws->buf) abort(); /* a few MiB of scratch: nothing sensible to do without it */
    ws->cap = floats;
    return ws->buf;
}

/* dst[p][0..mr) = op(A)[i0 + 0..mr)[p0 + p] for p < kc; rows past m are zero. */
static void pack_a(float *dst, int MR, const float *A, long lda, int ta, int i0, int rows, int p0, int kc) {
    if (ta) {
        for (int p = 0; p < kc; p++) {
            const float *src = A + (long)(p0 + p) * lda + i0;
            float *d = dst + (long)p * MR;
            int i = 0;
            for (; i < rows; i++) d[i] = src[i];
            for (; i < MR; i++) d[i] = 0.0f;
        }
    } else {
        /* MR rows read side by side (sequential streams), the panel written in order */
        const float *src[16];
        for (int i = 0; i < MR; i++) src[i] = A + (long)(i0 + (i < rows ? i : 0)) * lda + p0;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (long)p * MR;
            for (int i = 0; i < MR; i++) d[i] = src[i][p];
        }
        if (rows < MR)
            for (int p = 0; p < kc; p++)
                for (int i = rows; i < MR; i++) dst[(long)p * MR + i] = 0.0f;
    }
}

/* dst[p][0..nr) = op(B)[p0 + p][j0 + 0..nr) for p < kc; columns past n are zero. */
static void pack_b(float *dst, int NR, const float *B, long ldb, int tb, int j0, int cols, int p0, int kc) {
    if (!tb) {
        for (int p = 0; p < kc; p++) {
            const float *src = B + (long)(p0 + p) * ldb + j0;
            float *d = dst + (long)p * NR;
            memcpy(d, src, sizeof(float) * (size_t)cols);
            for (int j = cols; j < NR; j++) d[j] = 0.0f;
        }
    } else {
        const float *src[64];
        for (int j = 0; j < NR; j++) src[j] = B + (long)(j0 + (j < cols ? j : 0)) * ldb + p0;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (long)p * NR;
            for (int j = 0; j < NR; j++) d[j] = src[j][p];
        }
        if (cols < NR)
            for (int p = 0; p < kc; p++)
                for (int j = cols; j < NR; j++) dst[(long)p * NR + j] = 0.0f;
    }
}

static void scale_c(int m, int n, float beta, float *C, long ldc) {
    for (int i = 0; i < m; i++) {
        float *c = C + (long)i * ldc;
        if (beta == 0.0f) memset(c, 0, sizeof(float) * (size_t)n);
        else
            for (int j = 0; j < n; j++) c[j] *= beta;
    }
}

void ur_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, long lda, const float *B, long ldb,
              float beta, float *C, long ldc, int nthreads, ur_gemm_ws *ws) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        if (beta != 1.0f) scale_c(m, n, beta, C, ldc);
        return;
    }
    if (beta != 0.0f && beta != 1.0f) {
        scale_c(m, n, beta, C, ldc);
        beta = 1.0f;
    }
    const ur_gemm_impl impl = pick_impl();
    const int MR = impl.mr, NR = impl.nr;
    const int MC = (MC_TARGET / MR) * MR;
    int NC = n < NC_MAX ? (n + NR - 1) / NR * NR : NC_MAX;
    int nt = nthreads > 1 && 2.0 * m * n * k >= 4e6 ? nthreads : 1;
    if (omp_in_parallel()) nt = 1;

    ur_gemm_ws local = {0};
    if (!ws) ws = &local;
    const size_t b_floats = (size_t)KC * NC, a_floats = (size_t)KC * MC;
    float *buf = ws_reserve(ws, b_floats + a_floats * (size_t)nt);
    float *bpack = buf;

    const int n_ic = (m + MC - 1) / MC;
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        const int n_jp = (nc + NR - 1) / NR;
        /* split column panels too when there are fewer row blocks than threads */
        int jsplit = n_ic >= 2 * nt ? 1 : (2 * nt + n_ic - 1) / n_ic;
        if (jsplit > n_jp) jsplit = n_jp;
        const int items = n_ic * jsplit;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const int acc = pc > 0 || beta != 0.0f;
#pragma omp parallel num_threads(nt) if (nt > 1)
            {
                const int tid = omp_get_thread_num();
                float *apack = buf + b_floats + a_floats * (size_t)tid;
#pragma omp for schedule(static)
                for (int jp = 0; jp < n_jp; jp++) {
                    int j0 = jp * NR, cols = nc - j0 < NR ? nc - j0 : NR;
                    if (tb && impl.pack_b_t) impl.pack_b_t(bpack + (size_t)jp * KC * NR, B, ldb, jc + j0, cols, pc, kc);
                    else pack_b(bpack + (size_t)jp * KC * NR, NR, B, ldb, tb, jc + j0, cols, pc, kc);
                }
#pragma omp for schedule(dynamic, 1)
                for (int it = 0; it < items; it++) {
                    const int ic = (it / jsplit) * MC, js = it % jsplit;
                    const int mc = m - ic < MC ? m - ic : MC;
                    const int n_ip = (mc + MR - 1) / MR;
                    for (int ip = 0; ip < n_ip; ip++) {
                        int rows = mc - ip * MR < MR ? mc - ip * MR : MR;
                        if (!ta && impl.pack_a_t) impl.pack_a_t(apack + (size_t)ip * MR * kc, A, lda, ic + ip * MR, rows, pc, kc);
                        else pack_a(apack + (size_t)ip * MR * kc, MR, A, lda, ta, ic + ip * MR, rows, pc, kc);
                    }
                    const int jp0 = (int)((long)n_jp * js / jsplit), jp1 = (int)((long)n_jp * (js + 1) / jsplit);
                    for (int jp = jp0; jp < jp1; jp++) {
                        const float *bp = bpack + (size_t)jp * KC * NR;
                        const int j0 = jc + jp * NR, cols = n - j0 < NR ? n - j0 : NR;
                        for (int ip = 0; ip < n_ip; ip++) {
                            const int i0 = ic + ip * MR, rows = m - i0 < MR ? m - i0 : MR;
                            float *c = C + (long)i0 * ldc + j0;
                            const float *ap = apack + (size_t)ip * MR * kc;
                            if (rows == MR && cols == NR) {
                                impl.kernel(kc, ap, bp, c, ldc, alpha, acc);
                            } else {
                                float tile[16 * 64] __attribute__((aligned(64)));
                                impl.kernel(kc, ap, bp, tile, NR, alpha, 0);
                                for (int i = 0; i < rows; i++)
                                    for (int j = 0; j < cols; j++)
                                        c[(long)i * ldc + j] = (acc ? c[(long)i * ldc + j] : 0.0f) + tile[i * NR + j];
                            }
                        }
                    }
                }
            }
        }
    }
    ur_gemm_ws_free(&local);
}

void ur_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, long lda, const float *B,
                  long ldb, float beta, float *C, long ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[(long)p * lda + i] : A[(long)i * lda + p];
                double b = tb ? B[(long)j * ldb + p] : B[(long)p * ldb + j];
                s += a * b;
            }
            float *c = C + (long)i * ldc + j;
            *c = (float)((beta == 0.0f ? 0.0 : (double)beta * *c) + alpha * s);
        }
}
