/* Forward/backward pairs of the elementwise and row ops (shapes in internal.h).
 * Reductions over tokens (norm weight and embedding gradients) are split over
 * the feature dimension, never over tokens, so each sum runs in one fixed order
 * whatever the thread count. */
#include <math.h>
#include <string.h>

#include "train/internal.h"
#include "train/vmath.h"

/* ---- embedding: x[t] = E[tok[t]] ------------------------------------------------- */
void tr_embed_fwd(const ur_tnet *n, const int32_t *tok, int N, float *x) {
    const int D = n->hp.dim;
    for (int t = 0; t < N; t++) {
        float *dst = x + (size_t)t * D;
        if (n->embd) memcpy(dst, n->embd + (size_t)tok[t] * D, sizeof(float) * (size_t)D);
        else
            ur_dequantize_row(n->embd_fz.type, (const uint8_t *)n->embd_fz.data + (size_t)tok[t] * n->embd_fz.row_bytes,
                              dst, D);
    }
}

/* gE[tok[t]] += dx[t]: columns split among threads, tokens in order */
void tr_embed_bwd(float *gE, const int32_t *tok, int N, const float *dx, int D, int nt) {
    const int CH = 64, nch = (D + CH - 1) / CH;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && (size_t)N * D > 65536)
    for (int c = 0; c < nch; c++) {
        const int i0 = c * CH, i1 = i0 + CH < D ? i0 + CH : D;
        for (int t = 0; t < N; t++) {
            float *g = gE + (size_t)tok[t] * D;
            const float *d = dx + (size_t)t * D;
            for (int i = i0; i < i1; i++) g[i] += d[i];
        }
    }
}

/* ---- RMSNorm: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) -------------------- */
void tr_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) {
        const float *xr = x + (size_t)t * D;
        float *yr = y + (size_t)t * D;
        const float r = 1.0f / sqrtf(ur_vdot(xr, xr, D) / (float)D + eps);
        rstd[t] = r;
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * w[i];
    }
}

void tr_rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int N, int D, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) {
        const float *xr = x + (size_t)t * D;
        float *yr = y + (size_t)t * D;
        const float r = rstd[t];
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * w[i];
    }
}

/* dx_i += r w_i dy_i - r^3/D x_i sum_j(w_j dy_j x_j);  gw_i += sum_t dy_ti x_ti r_t */
void tr_rmsnorm_bwd(float *dx, float *gw, const float *dy, const float *x, const float *rstd, const float *w, int N,
                    int D, int nt) {
#pragma omp parallel num_threads(nt) if (nt > 1 && N > 16)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < N; t++) {
            const float *xr = x + (size_t)t * D, *dyr = dy + (size_t)t * D;
            float *dxr = dx + (size_t)t * D;
            const float r = rstd[t];
            float s[16] = {0};
            int i = 0;
            for (; i + 16 <= D; i += 16)
                for (int j = 0; j < 16; j++) s[j] += w[i + j] * dyr[i + j] * xr[i + j];
            float dot = 0.0f;
            for (int j = 0; j < 16; j++) dot += s[j];
            for (; i < D; i++) dot += w[i] * dyr[i] * xr[i];
            const float c = r * r * r * dot / (float)D;
            for (i = 0; i < D; i++) dxr[i] += r * w[i] * dyr[i] - c * xr[i];
        }
        if (gw) {
            const int CH = 64, nch = (D + CH - 1) / CH;
#pragma omp for schedule(static)
            for (int ch = 0; ch < nch; ch++) {
                const int i0 = ch * CH, i1 = i0 + CH < D ? i0 + CH : D;
                float acc[64] = {0};
                for (int t = 0; t < N; t++) {
                    const float *xr = x + (size_t)t * D, *dyr = dy + (size_t)t * D;
                    const float r = rstd[t];
                    for (int i = i0; i < i1; i++) acc[i - i0] += dyr[i] * xr[i] * r;
                }
                for (int i = i0; i < i1; i++) gw[i] += acc[i - i0];
            }
        }
    }
}

/* ---- rope: pairs (a, b) of each head rotate by theta(pos):
 *   forward  a' = a c - b s,  b' = a s + b c
 *   backward (the transpose)  da = da' c + db' s,  db = -da' s + db' c ---------- */
void tr_rope(float *x, const int32_t *pos, const float *table, int N, int nh, int hd, int n_rot, int neox, int inv,
             int nt) {
    const int half = n_rot / 2;
    const float sgn = inv ? -1.0f : 1.0f;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) {
        const float *cs = table + (size_t)pos[t] * n_rot;
        for (int h = 0; h < nh; h++) {
            float *xh = x + (size_t)t * nh * hd + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                const float c = cs[2 * i], s = sgn * cs[2 * i + 1];
                const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                const float x0 = xh[a], x1 = xh[b];
                xh[a] = x0 * c - x1 * s;
                xh[b] = x0 * s + x1 * c;
            }
        }
    }
}

/* ---- SwiGLU: h = silu(g) * u ---------------------------------------------------------- */
void tr_swiglu_fwd(float *h, const float *g, const float *u, int N, int F, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) ur_vswiglu(h + (size_t)t * F, g + (size_t)t * F, u + (size_t)t * F, F);
}

void tr_swiglu_bwd(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int N, int F,
                   int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) {
        const size_t o = (size_t)t * F;
        ur_vswiglu_back(dg + o, du + o, h ? h + o : NULL, g + o, u + o, dh + o, F);
    }
}

/* ---- residual dropout ----------------------------------------------------------------- */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tr_dropout(float *y, int N, int D, float p, uint64_t key, int layer, int branch, int nt) {
    if (!(p > 0.0f)) return;
    const uint64_t base = mix64(key ^ mix64(((uint64_t)(unsigned)layer << 8 | (unsigned)branch) + 0x5851F42D4C957F2Dull));
    /* keep an element when its 32-bit hash >= p * 2^32 */
    const uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    const float keep = 1.0f / (1.0f - p);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && N > 16)
    for (int t = 0; t < N; t++) {
        float *r = y + (size_t)t * D;
        const uint64_t rb = base + (uint64_t)t * 0x9E3779B97F4A7C15ull;
        for (int i = 0; i < D; i++) {
            uint64_t hsh = mix64(rb + (uint64_t)i * 0xD1B54A32D192ED03ull) >> 32;
            r[i] = hsh >= thr ? r[i] * keep : 0.0f;
        }
    }
}

/* ---- cross-entropy over a chunk of logits ------------------------------------------------ */
double tr_xent(float *logits, const int32_t *targets, int n, int V, float scale, int nt) {
    double nll = 0.0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : nll) if (nt > 1 && n > 4)
    for (int t = 0; t < n; t++) {
        float *row = logits + (size_t)t * V;
        const int y = targets[t];
        const float ly = row[y];
        const float m = ur_vmax(row, V);
        const float s = ur_vexp_sum(row, row, m, V);
        nll += (double)(m + logf(s) - ly);
        const float inv = scale / s;
        for (int i = 0; i < V; i++) row[i] *= inv;
        row[y] -= scale;
    }
    return nll;
}

void tr_add(float *y, const float *a, const float *b, size_t n, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
