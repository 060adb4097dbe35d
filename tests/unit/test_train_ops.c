/* Training kernels and ops: the GEMM against its double reference (every
 * transpose, edges, alpha/beta, each SIMD level, thread-count invariance), the
 * row kernels, and every op's backward against central finite differences of
 * L = sum(r * y) for a fixed random r. */
#include <math.h>
#include <stdint.h>

#include "harness.h"
#include "train/internal.h"
#include "train/vmath.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* Pools of 1..8 threads, started on first use and kept for the whole binary. */
static ur_pool *g_pools[9];
static ur_pool *tpool(int nt) {
    if (!g_pools[nt]) g_pools[nt] = ur_pool_new(nt, NULL);
    return g_pools[nt];
}

static uint64_t rng_s = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng_s = rng_s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static void fill(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] = s * frand();
}
static double sum_rx(const float *r, const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * x[i];
    return s;
}
/* |a - b| <= tol * max(|a|, |b|, floor) */
static int close_rel(double a, double b, double tol, double floor) {
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= tol * (m > floor ? m : floor);
}

/* ---- GEMM ---------------------------------------------------------------------------- */
static void gemm_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int nt, double *maxerr) {
    long lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
    float *A = malloc(sizeof(float) * (size_t)((ta ? k : m) * lda)), *B = malloc(sizeof(float) * (size_t)((tb ? n : k) * ldb));
    float *C = malloc(sizeof(float) * (size_t)(m * ldc)), *R = malloc(sizeof(float) * (size_t)(m * ldc));
    fill(A, (size_t)((ta ? k : m) * lda), 1), fill(B, (size_t)((tb ? n : k) * ldb), 1), fill(C, (size_t)(m * ldc), 1);
    memcpy(R, C, sizeof(float) * (size_t)(m * ldc));
    ur_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, tpool(nt), NULL);
    ur_sgemm_ref(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, R, ldc);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            double e = fabs((double)C[i * ldc + j] - R[i * ldc + j]) / (sqrt((double)k) + 1);
            if (j >= n) e = C[i * ldc + j] == R[i * ldc + j] ? 0 : 1e9; /* padding untouched */
            if (e > *maxerr) *maxerr = e;
        }
    free(A), free(B), free(C), free(R);
}

static void test_gemm_vs_reference(void) {
    const int levels[3] = {UR_SIMD_SCALAR, UR_SIMD_AVX2, UR_SIMD_AVX512};
    const int top = ur_simd_level();
    const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {13, 33, 17}, {37, 70, 300}, {150, 65, 513}, {12, 32, 256}, {24, 64, 1}};
    for (int li = 0; li < 3; li++) {
        if (levels[li] > top) continue;
        ur_simd_set(levels[li]);
        double maxerr = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f, 1, &maxerr);
                    gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.5f, 1.0f, 2, &maxerr);
                }
        gemm_case(0, 1, 9, 11, 13, 2.0f, -0.5f, 1, &maxerr);
        CHECKF(maxerr < 1e-5, "level %d: max scaled error %g", levels[li], maxerr);
    }
    ur_simd_set(top);
}

static void test_gemm_threads_bit_identical(void) {
    const int m = 301, n = 517, k = 700;
    float *A = malloc(sizeof(float) * m * k), *B = malloc(sizeof(float) * k * n);
    float *C1 = malloc(sizeof(float) * m * n), *C2 = malloc(sizeof(float) * m * n);
    fill(A, (size_t)m * k, 1), fill(B, (size_t)k * n, 1);
    ur_sgemm(0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, C1, n, NULL, NULL);
    const int nts[] = {1, 2, 3, 8};
    for (int i = 0; i < 4; i++)
        for (int rep = 0; rep < 2; rep++) {
            memset(C2, 0, sizeof(float) * m * n);
            ur_sgemm(0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, C2, n, tpool(nts[i]), NULL);
            CHECKF(!memcmp(C1, C2, sizeof(float) * m * n), "%d threads", nts[i]);
        }
    free(A), free(B), free(C1), free(C2);
}

/* ---- row kernels ----------------------------------------------------------------------- */
static void test_vexp_and_swiglu(void) {
    const int top = ur_simd_level();
    for (int lvl = 0; lvl <= top; lvl++) {
        ur_simd_set(lvl);
        float x[203], y[203];
        for (int i = 0; i < 203; i++) x[i] = -90.0f + 180.0f * (float)i / 202.0f;
        float s = ur_vexp_sum(y, x, 1.5f, 203);
        double ref = 0;
        for (int i = 0; i < 203; i++) {
            double e = exp((double)x[i] - 1.5);
            ref += e;
            if (e > 1e-37 && e < 1e38) CHECKF(fabs(y[i] - e) <= 3e-7 * e, "level %d: exp(%g) = %g, want %g", lvl, x[i] - 1.5, y[i], e);
        }
        CHECKF(close_rel(s, ref, 1e-5, 0), "level %d: sum %g vs %g", lvl, s, ref);
        float g[37], u[37], h[37], dh[37], dg[37], du[37], h2[37];
        fill(g, 37, 4), fill(u, 37, 2), fill(dh, 37, 1);
        ur_vswiglu(h, g, u, 37);
        ur_vswiglu_back(dg, du, h2, g, u, dh, 37);
        for (int i = 0; i < 37; i++) {
            double sg = 1.0 / (1.0 + exp(-(double)g[i]));
            CHECK(close_rel(h[i], g[i] * sg * u[i], 1e-5, 1e-6) && close_rel(h2[i], h[i], 1e-6, 1e-6));
            double eps = 1e-3, hp = (g[i] + eps) / (1 + exp(-(g[i] + eps))) * u[i], hm = (g[i] - eps) / (1 + exp(-(g[i] - eps))) * u[i];
            CHECKF(close_rel(dg[i], dh[i] * (hp - hm) / (2 * eps), 1e-4, 1e-4), "dg[%d] %g vs %g", i, dg[i], dh[i] * (hp - hm) / (2 * eps));
            CHECK(close_rel(du[i], dh[i] * g[i] * sg, 1e-5, 1e-6));
        }
    }
    ur_simd_set(top);
}

/* ---- ops by finite differences ------------------------------------------------------------ */
static void test_rmsnorm_grad(void) {
    enum { N = 5, D = 37 };
    float x[N * D], w[D], y[N * D], r[N * D], rstd[N], dx[N * D] = {0}, gw[D] = {0};
    fill(x, N * D, 2), fill(w, D, 1), fill(r, N * D, 1);
    tr_rmsnorm_fwd(y, rstd, x, w, N, D, 1e-5f, tpool(1));
    tr_rmsnorm_bwd(dx, gw, r, x, rstd, w, N, D, tpool(2));
    const float h = 1e-2f;
    for (int i = 0; i < N * D; i += 7) {
        float o = x[i];
        x[i] = o + h, tr_rmsnorm_fwd(y, rstd, x, w, N, D, 1e-5f, tpool(1));
        double lp = sum_rx(r, y, N * D);
        x[i] = o - h, tr_rmsnorm_fwd(y, rstd, x, w, N, D, 1e-5f, tpool(1));
        double lm = sum_rx(r, y, N * D);
        x[i] = o;
        CHECKF(close_rel(dx[i], (lp - lm) / (2 * h), 2e-3, 1e-2), "dx[%d] %g vs %g", i, dx[i], (lp - lm) / (2 * h));
    }
    for (int i = 0; i < D; i += 3) {
        float o = w[i];
        w[i] = o + h, tr_rmsnorm_fwd(y, rstd, x, w, N, D, 1e-5f, tpool(1));
        double lp = sum_rx(r, y, N * D);
        w[i] = o - h, tr_rmsnorm_fwd(y, rstd, x, w, N, D, 1e-5f, tpool(1));
        double lm = sum_rx(r, y, N * D);
        w[i] = o;
        CHECKF(close_rel(gw[i], (lp - lm) / (2 * h), 2e-3, 1e-2), "gw[%d] %g vs %g", i, gw[i], (lp - lm) / (2 * h));
    }
}

static void test_rope_inverse_is_transpose(void) {
    /* rope is a rotation: backward = inverse; check <R x, r> = <x, R^T r> and R^T R x = x */
    enum { N = 6, NH = 3, HD = 8 };
    float table[10 * HD];
    for (int p = 0; p < 10; p++) {
        for (int i = 0; i < HD / 2; i++) {
            float th = (float)p * powf(10000.0f, -2.0f * (float)i / HD);
            table[p * HD + 2 * i] = cosf(th), table[p * HD + 2 * i + 1] = sinf(th);
        }
    }
    int32_t pos[N] = {0, 3, 9, 1, 4, 7};
    for (int neox = 0; neox < 2; neox++) {
        float x[N * NH * HD], x0[N * NH * HD], r[N * NH * HD], rr[N * NH * HD];
        fill(x, N * NH * HD, 1), fill(r, N * NH * HD, 1);
        memcpy(x0, x, sizeof x), memcpy(rr, r, sizeof r);
        tr_rope(x, pos, table, N, NH, HD, HD, neox, 0, tpool(1));
        tr_rope(rr, pos, table, N, NH, HD, HD, neox, 1, tpool(1));
        CHECK(close_rel(sum_rx(r, x, N * NH * HD), sum_rx(rr, x0, N * NH * HD), 1e-5, 1e-3));
        tr_rope(x, pos, table, N, NH, HD, HD, neox, 1, tpool(1));
        for (int i = 0; i < N * NH * HD; i++) CHECK(fabsf(x[i] - x0[i]) < 1e-5f);
    }
}

static void test_xent_grad(void) {
    enum { N = 4, V = 53 };
    float lg[N * V], d[N * V], tmp[N * V];
    int32_t tg[N] = {3, 0, 52, 17};
    fill(lg, N * V, 3);
    memcpy(d, lg, sizeof lg);
    double nll = tr_xent(d, tg, N, V, 0.5f, 0.0f, tpool(2));
    double ref = 0;
    for (int t = 0; t < N; t++) {
        double m = -1e30, s = 0;
        for (int i = 0; i < V; i++) m = fmax(m, lg[t * V + i]);
        for (int i = 0; i < V; i++) s += exp(lg[t * V + i] - m);
        ref += m + log(s) - lg[t * V + tg[t]];
    }
    CHECK(close_rel(nll, ref, 1e-5, 1e-5));
    /* the gradient against the exact expression in double: scale * (softmax - onehot) */
    for (int t = 0; t < N; t++) {
        double m = -1e30, s = 0;
        for (int i = 0; i < V; i++) m = fmax(m, lg[t * V + i]);
        for (int i = 0; i < V; i++) s += exp(lg[t * V + i] - m);
        for (int i = 0; i < V; i++) {
            double want = 0.5 * (exp(lg[t * V + i] - m) / s - (i == tg[t]));
            CHECKF(fabs(d[t * V + i] - want) < 1e-7, "d[%d][%d] %g vs %g", t, i, d[t * V + i], want);
        }
    }
    (void)tmp;
}

/* Soft-capped logits (Gemma-2's final logits): l' = c tanh(l / c), the loss and d/dl
 * against the expression in double. */
static void test_xent_softcap_grad(void) {
    enum { N = 3, V = 41 };
    float lg[N * V], d[N * V];
    int32_t tg[N] = {5, 40, 0};
    const double cap = 2.5;
    fill(lg, N * V, 6);
    memcpy(d, lg, sizeof lg);
    double nll = tr_xent(d, tg, N, V, 0.5f, (float)cap, tpool(2)), ref = 0;
    for (int t = 0; t < N; t++) {
        double m = -1e30, s = 0, c[V];
        for (int i = 0; i < V; i++) c[i] = cap * tanh(lg[t * V + i] / cap), m = fmax(m, c[i]);
        for (int i = 0; i < V; i++) s += exp(c[i] - m);
        ref += m + log(s) - c[tg[t]];
        for (int i = 0; i < V; i++) {
            const double th = c[i] / cap, want = 0.5 * (exp(c[i] - m) / s - (i == tg[t])) * (1 - th * th);
            CHECKF(fabs(d[t * V + i] - want) < 1e-6, "d[%d][%d] %g vs %g", t, i, d[t * V + i], want);
        }
    }
    CHECKF(close_rel(nll, ref, 1e-5, 1e-5), "nll %g vs %g", nll, ref);
}

/* GeGLU (tanh GELU) and bias gradients against central finite differences. */
static void test_geglu_and_bias_grad(void) {
    enum { N = 5, F = 37 };
    float g[N * F], u[N * F], h[N * F], r[N * F], dg[N * F], du[N * F], h2[N * F];
    fill(g, N * F, 4), fill(u, N * F, 1), fill(r, N * F, 1);
    tr_geglu_fwd(h, g, u, N, F, tpool(1));
    tr_geglu_bwd(dg, du, h2, g, u, r, N, F, tpool(1));
    CHECK(!memcmp(h, h2, sizeof h));
    const float e = 1e-3f;
    for (int i = 0; i < N * F; i += 7) {
        for (int which = 0; which < 2; which++) {
            float *x = which ? u : g, o = x[i];
            x[i] = o + e, tr_geglu_fwd(h2, g, u, N, F, NULL);
            double lp = sum_rx(r, h2, N * F);
            x[i] = o - e, tr_geglu_fwd(h2, g, u, N, F, NULL);
            double lm = sum_rx(r, h2, N * F);
            x[i] = o;
            double fd = (lp - lm) / (2.0 * e);
            CHECKF(close_rel(which ? du[i] : dg[i], fd, 2e-3, 1e-2), "%s[%d]: %g vs %g", which ? "du" : "dg", i,
                   which ? du[i] : dg[i], fd);
        }
    }
    float b[F], y[N * F], gb[F] = {0};
    fill(b, F, 1);
    memcpy(y, g, sizeof y);
    tr_bias_fwd(y, b, N, F, tpool(2));
    for (int t = 0; t < N; t++)
        for (int i = 0; i < F; i++) CHECK(y[t * F + i] == g[t * F + i] + b[i]);
    tr_bias_bwd(gb, r, N, F, tpool(2));
    for (int i = 0; i < F; i++) {
        double s = 0;
        for (int t = 0; t < N; t++) s += r[t * F + i];
        CHECK(close_rel(gb[i], s, 1e-6, 1e-6));
    }
}

static void test_dropout_mask(void) {
    enum { N = 64, D = 100 };
    float y[N * D], z[N * D];
    for (int i = 0; i < N * D; i++) y[i] = 1.0f;
    memcpy(z, y, sizeof y);
    tr_dropout(y, N, D, 0.25f, 42, 3, 1, tpool(1));
    tr_dropout(z, N, D, 0.25f, 42, 3, 1, tpool(2));
    int zeros = 0;
    for (int i = 0; i < N * D; i++) {
        zeros += y[i] == 0.0f;
        CHECK(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
    }
    CHECK(!memcmp(y, z, sizeof y)); /* same mask for any thread count */
    CHECKF(zeros > 0.2 * N * D && zeros < 0.3 * N * D, "%d of %d dropped", zeros, N * D);
    for (int i = 0; i < N * D; i++) z[i] = 1.0f;
    tr_dropout(z, N, D, 0.25f, 43, 3, 1, tpool(1)); /* another key: another mask */
    CHECK(memcmp(y, z, sizeof y));
}

/* A context for op tests: a tiny net gives the shapes, the test supplies hp. */
static ur_tctx *small_ctx(int tokens, int nt) {
    ur_hparams hp = {0};
    hp.n_vocab = 16, hp.dim = 32, hp.n_layers = 1, hp.n_heads = 4, hp.n_kv_heads = 2, hp.ff = 32, hp.n_ctx_train = 512;
    ur_err err;
    ur_tnet *n = ur_tnet_new(&hp, 0, 1, &err);
    ur_tctx *c = ur_tctx_new(n, tokens, 0, nt, &err);
    ur_tnet_free(n);
    return c;
}

/* Attention in double, straight from the definition (the finite differences are
 * taken on this, so they are not limited by float rounding). */
static double att_scale = 0, att_cap = 0; /* 0: 1/sqrt(HD), no soft-capping */
static int att_window = 0;                /* 0: no sliding window */

static void attention_ref(const int32_t *seg, int N, int H, int G, int HD, const float *q, const float *k,
                          const float *v, double *out) {
    const int D = H * HD, KV = G * HD;
    const double sc = att_scale > 0 ? att_scale : 1 / sqrt((double)HD);
    double *s = malloc(sizeof(double) * (size_t)N);
    for (int t = 0; t < N; t++)
        for (int h = 0; h < H; h++) {
            const int g = h / (H / G);
            const int lo = att_window && t - att_window + 1 > seg[t] ? t - att_window + 1 : seg[t];
            double m = -1e300, z = 0;
            for (int j = lo; j <= t; j++) {
                double d = 0;
                for (int e = 0; e < HD; e++) d += (double)q[t * D + h * HD + e] * k[j * KV + g * HD + e];
                s[j] = d * sc;
                if (att_cap > 0) s[j] = att_cap * tanh(s[j] / att_cap);
                m = fmax(m, s[j]);
            }
            for (int j = lo; j <= t; j++) z += (s[j] = exp(s[j] - m));
            for (int e = 0; e < HD; e++) {
                double o = 0;
                for (int j = lo; j <= t; j++) o += s[j] / z * v[j * KV + g * HD + e];
                out[t * D + h * HD + e] = o;
            }
        }
    free(s);
}

/* two segments, the second longer than one query block (TR_QB), GQA 4 heads / 2 kv heads;
 * then the same with a sliding window (shorter than a block, so blocks start past their
 * segment's start), Gemma-2's soft-capping and another query scale */
static void attention_grad_case(int window, double cap, double scale) {
    enum { N = 150, H = 4, G = 2, HD = 8, D = H * HD, KV = G * HD };
    ur_hparams hp = {0};
    hp.dim = D, hp.n_heads = H, hp.n_kv_heads = G, hp.head_dim = HD, hp.q_dim = D, hp.kv_dim = KV;
    hp.attn_scale = scale > 0 ? (float)scale : 1.0f / sqrtf((float)HD), hp.attn_softcap = (float)cap;
    att_window = window, att_cap = cap, att_scale = hp.attn_scale;
    ur_tctx *c = small_ctx(N, 2);
    REQUIRE(c);
    int32_t seg[N];
    for (int t = 0; t < N; t++) seg[t] = t < 9 ? 0 : 9;
    static float q[N * D], k[N * KV], v[N * KV], att[N * D], lse[N * H], r[N * D];
    static float dq[N * D], dk[N * KV], dv[N * KV];
    static double ref[N * D], refp[N * D];
    fill(q, N * D, 1.5f), fill(k, N * KV, 1.5f), fill(v, N * KV, 1), fill(r, N * D, 1);
    tr_attention_fwd(c, &hp, window, seg, N, q, k, v, att, lse);
    attention_ref(seg, N, H, G, HD, q, k, v, ref);
    double maxe = 0;
    for (int i = 0; i < N * D; i++) maxe = fmax(maxe, fabs(att[i] - ref[i]));
    CHECKF(maxe < 1e-5, "forward max error %g", maxe);
    tr_attention_bwd(c, &hp, window, seg, N, q, k, v, att, lse, r, dq, dk, dv);
    const float h = 1e-3f;
    struct { float *x, *g; int n; } ins[3] = {{q, dq, N * D}, {k, dk, N * KV}, {v, dv, N * KV}};
    int checked = 0;
    for (int which = 0; which < 3; which++)
        for (int i = which; i < ins[which].n; i += 97) {
            float o = ins[which].x[i];
            ins[which].x[i] = o + h, attention_ref(seg, N, H, G, HD, q, k, v, refp);
            ins[which].x[i] = o - h, attention_ref(seg, N, H, G, HD, q, k, v, ref);
            ins[which].x[i] = o;
            double lp = 0, lm = 0;
            for (int j = 0; j < N * D; j++) lp += r[j] * refp[j], lm += r[j] * ref[j];
            double fd = (lp - lm) / ((double)(o + h) - (double)(o - h));
            CHECKF(close_rel(ins[which].g[i], fd, 1e-4, 1e-2), "input %d [%d]: %g vs %g", which, i, ins[which].g[i], fd);
            checked++;
        }
    CHECK(checked > 20);
    ur_tctx_free(c);
    att_window = 0, att_cap = 0, att_scale = 0;
}

static void test_attention_grad(void) { attention_grad_case(0, 0, 0); }
static void test_attention_window_softcap_grad(void) { attention_grad_case(37, 1.5, 0.6); }

static void test_linear_lora_grad(void) {
    /* y = x W^T + s (x A^T) B^T with W frozen in Q8_0 (forward through ur_matmul,
     * backward through dequantized rows) and A, B trainable */
    enum { N = 7, IN = 64, OUT = 40, R = 4 };
    ur_tctx *c = small_ctx(N, 2);
    REQUIRE(c);
    float wf[OUT * IN];
    fill(wf, OUT * IN, 0.5f);
    uint8_t wq[OUT * 68];
    for (int i = 0; i < OUT; i++) ur_quantize_row(UR_TYPE_Q8_0, wf + i * IN, wq + i * 68, IN);
    float a[R * IN], b[OUT * R], ga[R * IN] = {0}, gb[OUT * R] = {0};
    fill(a, R * IN, 0.3f), fill(b, OUT * R, 0.3f);
    ur_tlin l = {.in = IN, .out = OUT, .r = R, .s = 0.75f, .a = a, .ga = ga, .b = b, .gb = gb};
    l.fz = (ur_weight){.data = wq, .type = UR_TYPE_Q8_0, .rows = OUT, .cols = IN, .row_bytes = 68};
    float x[N * IN], y[N * OUT], r[N * OUT], dx[N * IN];
    fill(x, N * IN, 1), fill(r, N * OUT, 1);
    /* the frozen part's dx must be exactly dy W (dequantized), independent of activation rounding */
    tr_lin_bwd(c, &l, x, r, N, dx, 0);
    const float h = 1e-2f;
    struct { float *x, *g; int n; } ps[2] = {{a, ga, R * IN}, {b, gb, OUT * R}};
    for (int which = 0; which < 2; which++)
        for (int i = 0; i < ps[which].n; i += 11) {
            float o = ps[which].x[i];
            ps[which].x[i] = o + h, tr_lin_fwd(c, &l, x, N, y);
            double lp = sum_rx(r, y, N * OUT);
            ps[which].x[i] = o - h, tr_lin_fwd(c, &l, x, N, y);
            double lm = sum_rx(r, y, N * OUT);
            ps[which].x[i] = o;
            double fd = (lp - lm) / (2 * h);
            CHECKF(close_rel(ps[which].g[i], fd, 1e-2, 1e-2), "%s[%d]: %g vs %g", which ? "B" : "A", i, ps[which].g[i], fd);
        }
    /* dx against the exact product with the dequantized weight plus the LoRA term */
    float wd[OUT * IN];
    for (int i = 0; i < OUT; i++) ur_dequantize_row(UR_TYPE_Q8_0, wq + i * 68, wd + i * IN, IN);
    for (int t = 0; t < N; t++)
        for (int i = 0; i < IN; i++) {
            double s = 0;
            for (int o = 0; o < OUT; o++) {
                double ba = 0;
                for (int j = 0; j < R; j++) ba += (double)b[o * R + j] * a[j * IN + i];
                s += (double)r[t * OUT + o] * (wd[o * IN + i] + 0.75 * ba);
            }
            CHECKF(close_rel(dx[t * IN + i], s, 1e-4, 1e-3), "dx[%d][%d] %g vs %g", t, i, dx[t * IN + i], s);
        }
    ur_tctx_free(c);
}

/* The loss sum (a reduction over rows), its gradient and the norm weight gradient
 * (sums over tokens) are the same bytes for 1, 2, 3 and 8 threads as on the caller
 * alone. */
static void test_xent_sum_independent_of_threads(void) {
    enum { N = 67, V = 1000, D = 200 };
    float *lg = malloc(sizeof(float) * N * V), *d0 = malloc(sizeof(float) * N * V), *d = malloc(sizeof(float) * N * V);
    float *x = malloc(sizeof(float) * N * D), *dy = malloc(sizeof(float) * N * D), w[D], rstd[N];
    float *dx0 = calloc(N * D, sizeof(float)), *dx = malloc(sizeof(float) * N * D), gw0[D] = {0}, gw[D];
    int32_t tg[N];
    REQUIRE(lg && d0 && d && x && dy && dx0 && dx);
    fill(lg, N * V, 8), fill(x, N * D, 2), fill(dy, N * D, 1), fill(w, D, 1);
    for (int t = 0; t < N; t++) tg[t] = (t * 37) % V;
    memcpy(d0, lg, sizeof(float) * N * V);
    const double nll0 = tr_xent(d0, tg, N, V, 0.25f, 0.0f, NULL);
    for (int t = 0; t < N; t++) rstd[t] = 0.5f + 0.01f * (float)t;
    tr_rmsnorm_bwd(dx0, gw0, dy, x, rstd, w, N, D, NULL);
    const int nts[] = {1, 2, 3, 8};
    for (int i = 0; i < 4; i++) {
        memcpy(d, lg, sizeof(float) * N * V);
        double nll = tr_xent(d, tg, N, V, 0.25f, 0.0f, tpool(nts[i]));
        CHECKF(!memcmp(&nll, &nll0, sizeof nll), "%d threads: nll %.17g vs %.17g", nts[i], nll, nll0);
        CHECKF(!memcmp(d, d0, sizeof(float) * N * V), "%d threads: dlogits differ", nts[i]);
        memset(dx, 0, sizeof(float) * N * D), memset(gw, 0, sizeof gw);
        tr_rmsnorm_bwd(dx, gw, dy, x, rstd, w, N, D, tpool(nts[i]));
        CHECKF(!memcmp(dx, dx0, sizeof(float) * N * D) && !memcmp(gw, gw0, sizeof gw), "%d threads: norm grads differ",
               nts[i]);
    }
    free(lg), free(d0), free(d), free(x), free(dy), free(dx0), free(dx);
}

int main(void) {
    th_suite = "train_ops";
    RUN(test_gemm_vs_reference);
    RUN(test_gemm_threads_bit_identical);
    RUN(test_vexp_and_swiglu);
    RUN(test_rmsnorm_grad);
    RUN(test_rope_inverse_is_transpose);
    RUN(test_xent_grad);
    RUN(test_dropout_mask);
    RUN(test_attention_grad);
    RUN(test_attention_window_softcap_grad);
    RUN(test_xent_softcap_grad);
    RUN(test_geglu_and_bias_grad);
    RUN(test_linear_lora_grad);
    RUN(test_xent_sum_independent_of_threads);
    for (int i = 0; i < 9; i++) ur_pool_free(g_pools[i]);
    TEST_MAIN_END();
}
