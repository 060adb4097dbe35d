/* GEMM driver: packing, blocking, threading and the scalar micro-kernel (see
 * gemm.h). Loop order (Goto): for each NC-wide column block of C and each
 * KC-deep slice of k, B's slice is packed once into NR-column panels (shared by
 * the threads, ~KC*NC*4 bytes: L2/L3), then every MC-row block of A is packed into
 * MR-row panels (L2) and the micro-kernel walks the panels (a B panel of
 * KC*NR*4 = 32 KiB stays in L1 while the A panels stream past it). */
#include "train/gemm.h"

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

/* One (column block jc, k slice pc) step: pack B's panels, then the items (an MC-row
 * block of A times 1/jsplit of the column panels), each item on one thread with
 * that thread's A panels. */
typedef struct gemm_step {
    ur_gemm_impl impl;
    int ta, tb, m, n, MC, jsplit, n_jp, jc, nc, pc, kc, acc;
    float alpha;
    const float *A, *B;
    long lda, ldb, ldc;
    float *C, *bpack, *abase; /* abase: the per-thread A panels, a_floats each */
    size_t a_floats;
} gemm_step;

static void pack_b_body(void *arg, int64_t jp0, int64_t jp1, int tid) {
    const gemm_step *g = arg;
    const int NR = g->impl.nr;
    (void)tid;
    for (int jp = (int)jp0; jp < (int)jp1; jp++) {
        int j0 = jp * NR, cols = g->nc - j0 < NR ? g->nc - j0 : NR;
        float *dst = g->bpack + (size_t)jp * KC * NR;
        if (g->tb && g->impl.pack_b_t) g->impl.pack_b_t(dst, g->B, g->ldb, g->jc + j0, cols, g->pc, g->kc);
        else pack_b(dst, NR, g->B, g->ldb, g->tb, g->jc + j0, cols, g->pc, g->kc);
    }
}

static void items_body(void *arg, int64_t it0, int64_t it1, int tid) {
    const gemm_step *g = arg;
    const ur_gemm_impl impl = g->impl;
    const int MR = impl.mr, NR = impl.nr, m = g->m, n = g->n, kc = g->kc, pc = g->pc, acc = g->acc;
    const long ldc = g->ldc;
    const float alpha = g->alpha;
    float *apack = g->abase + g->a_floats * (size_t)tid;
    for (int it = (int)it0; it < (int)it1; it++) {
        const int ic = (it / g->jsplit) * g->MC, js = it % g->jsplit;
        const int mc = m - ic < g->MC ? m - ic : g->MC;
        const int n_ip = (mc + MR - 1) / MR;
        for (int ip = 0; ip < n_ip; ip++) {
            int rows = mc - ip * MR < MR ? mc - ip * MR : MR;
            float *dst = apack + (size_t)ip * MR * kc;
            if (!g->ta && impl.pack_a_t) impl.pack_a_t(dst, g->A, g->lda, ic + ip * MR, rows, pc, kc);
            else pack_a(dst, MR, g->A, g->lda, g->ta, ic + ip * MR, rows, pc, kc);
        }
        const int jp0 = (int)((long)g->n_jp * js / g->jsplit), jp1 = (int)((long)g->n_jp * (js + 1) / g->jsplit);
        for (int jp = jp0; jp < jp1; jp++) {
            const float *bp = g->bpack + (size_t)jp * KC * NR;
            const int j0 = g->jc + jp * NR, cols = n - j0 < NR ? n - j0 : NR;
            for (int ip = 0; ip < n_ip; ip++) {
                const int i0 = ic + ip * MR, rows = m - i0 < MR ? m - i0 : MR;
                float *c = g->C + (long)i0 * ldc + j0;
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

void ur_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, long lda, const float *B, long ldb,
              float beta, float *C, long ldc, ur_pool *pool, ur_gemm_ws *ws) {
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
    if (2.0 * m * n * k < 4e6) pool = NULL; /* too small to share */
    const int nt = ur_pool_threads(pool);

    ur_gemm_ws local = {0};
    if (!ws) ws = &local;
    const size_t b_floats = (size_t)KC * NC, a_floats = (size_t)KC * MC;
    float *buf = ws_reserve(ws, b_floats + a_floats * (size_t)nt);
    gemm_step g = {.impl = impl, .ta = ta, .tb = tb, .m = m, .n = n, .MC = MC, .alpha = alpha, .A = A, .B = B,
                   .lda = lda, .ldb = ldb, .ldc = ldc, .C = C, .bpack = buf, .abase = buf + b_floats,
                   .a_floats = a_floats};

    const int n_ic = (m + MC - 1) / MC;
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        const int n_jp = (nc + NR - 1) / NR;
        /* split column panels too when there are fewer row blocks than threads */
        int jsplit = n_ic >= 2 * nt ? 1 : (2 * nt + n_ic - 1) / n_ic;
        if (jsplit > n_jp) jsplit = n_jp;
        g.jc = jc, g.nc = nc, g.n_jp = n_jp, g.jsplit = jsplit;
        for (int pc = 0; pc < k; pc += KC) {
            g.pc = pc, g.kc = k - pc < KC ? k - pc : KC;
            g.acc = pc > 0 || beta != 0.0f;
            /* B's panels are shared by all items: all packed before any item starts */
            ur_pool_for(pool, n_jp, 0, pack_b_body, &g);
            ur_pool_for(pool, (int64_t)n_ic * jsplit, 1, items_body, &g);
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
