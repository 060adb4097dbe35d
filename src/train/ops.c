/* Forward/backward pairs of the elementwise and row ops (shapes in internal.h).
 * Reductions over tokens (norm weight and embedding gradients) are split over
 * the feature dimension, never over tokens, so each sum runs in one fixed order
 * whatever the thread count. Each loop runs on a pool (NULL: the caller alone)
 * when it is large enough to be worth sharing; its body is a function of a row or
 * column range with the loop's arguments in a small struct. */
#include <math.h>
#include <string.h>

#include "train/internal.h"
#include "tensor/ops.h"
#include "train/vmath.h"

/* ---- embedding: x[t] = E[tok[t]] ------------------------------------------------- */
void tr_embed_fwd(const ur_tnet *n, const int32_t *tok, int N, float *x) {
    const int D = n->hp.dim;
    const float sc = n->hp.embd_scale;
    for (int t = 0; t < N; t++) {
        float *dst = x + (size_t)t * D;
        if (n->embd) memcpy(dst, n->embd + (size_t)tok[t] * D, sizeof(float) * (size_t)D);
        else if (tok[t] >= n->embd_fz.rows) /* a new token (LoRA): its trainable row */
            memcpy(dst, n->embd_new + (size_t)(tok[t] - n->embd_fz.rows) * D, sizeof(float) * (size_t)D);
        else
            ur_dequantize_row(n->embd_fz.type, (const uint8_t *)n->embd_fz.data + (size_t)tok[t] * n->embd_fz.row_bytes,
                              dst, D);
        if (sc != 1.0f)
            for (int i = 0; i < D; i++) dst[i] *= sc;
    }
}

/* gE[tok[t]] += dx[t]: columns split among threads in chunks of 64, tokens in order */
typedef struct embed_job {
    float *gE;
    const int32_t *tok;
    int N, D;
    const float *dx;
} embed_job;

static void embed_bwd_body(void *arg, int64_t c0, int64_t c1, int tid) {
    const embed_job *j = arg;
    const int D = j->D;
    (void)tid;
    const int i0 = (int)c0 * 64, i1 = (int)c1 * 64 < D ? (int)c1 * 64 : D;
    for (int t = 0; t < j->N; t++) {
        float *g = j->gE + (size_t)j->tok[t] * D;
        const float *d = j->dx + (size_t)t * D;
        for (int i = i0; i < i1; i++) g[i] += d[i];
    }
}

void tr_embed_bwd(float *gE, const int32_t *tok, int N, const float *dx, int D, ur_pool *pool) {
    embed_job j = {gE, tok, N, D, dx};
    ur_pool_for((size_t)N * D > 65536 ? pool : NULL, (D + 63) / 64, 1, embed_bwd_body, &j);
}

/* ---- RMSNorm: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) -------------------- */
typedef struct norm_job {
    float *y, *rstd, *dx, *gw;
    const float *x, *w, *dy;
    const float *rstd_in;
    int N, D;
    float eps;
} norm_job;

static void rmsnorm_fwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const norm_job *j = arg;
    const int D = j->D;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = j->x + (size_t)t * D;
        float *yr = j->y + (size_t)t * D;
        const float r = 1.0f / sqrtf(ur_vdot(xr, xr, D) / (float)D + j->eps);
        j->rstd[t] = r;
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * j->w[i];
    }
}

void tr_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps, ur_pool *pool) {
    norm_job j = {.y = y, .rstd = rstd, .x = x, .w = w, .N = N, .D = D, .eps = eps};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, rmsnorm_fwd_body, &j);
}

static void rmsnorm_apply_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const norm_job *j = arg;
    const int D = j->D;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = j->x + (size_t)t * D;
        float *yr = j->y + (size_t)t * D;
        const float r = j->rstd_in[t];
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * j->w[i];
    }
}

void tr_rmsnorm_apply(float *y, const float *x, const float *rstd, const float *w, int N, int D, ur_pool *pool) {
    norm_job j = {.y = y, .x = x, .rstd_in = rstd, .w = w, .N = N, .D = D};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, rmsnorm_apply_body, &j);
}

/* dx_i += r w_i dy_i - r^3/D x_i sum_j(w_j dy_j x_j) for rows [t0, t1) */
static void rmsnorm_dx_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const norm_job *j = arg;
    const int D = j->D;
    const float *w = j->w;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = j->x + (size_t)t * D, *dyr = j->dy + (size_t)t * D;
        float *dxr = j->dx + (size_t)t * D;
        const float r = j->rstd_in[t];
        float s[16] = {0};
        int i = 0;
        for (; i + 16 <= D; i += 16)
            for (int k = 0; k < 16; k++) s[k] += w[i + k] * dyr[i + k] * xr[i + k];
        float dot = 0.0f;
        for (int k = 0; k < 16; k++) dot += s[k];
        for (; i < D; i++) dot += w[i] * dyr[i] * xr[i];
        const float c = r * r * r * dot / (float)D;
        for (i = 0; i < D; i++) dxr[i] += r * w[i] * dyr[i] - c * xr[i];
    }
}

/* gw_i += sum_t dy_ti x_ti r_t for the columns of 64-wide chunks [c0, c1), tokens in order */
static void rmsnorm_gw_body(void *arg, int64_t c0, int64_t c1, int tid) {
    const norm_job *j = arg;
    const int D = j->D;
    (void)tid;
    for (int64_t ch = c0; ch < c1; ch++) {
        const int i0 = (int)ch * 64, i1 = i0 + 64 < D ? i0 + 64 : D;
        float acc[64] = {0};
        for (int t = 0; t < j->N; t++) {
            const float *xr = j->x + (size_t)t * D, *dyr = j->dy + (size_t)t * D;
            const float r = j->rstd_in[t];
            for (int i = i0; i < i1; i++) acc[i - i0] += dyr[i] * xr[i] * r;
        }
        for (int i = i0; i < i1; i++) j->gw[i] += acc[i - i0];
    }
}

void tr_rmsnorm_bwd(float *dx, float *gw, const float *dy, const float *x, const float *rstd, const float *w, int N,
                    int D, ur_pool *pool) {
    norm_job j = {.dx = dx, .gw = gw, .dy = dy, .x = x, .rstd_in = rstd, .w = w, .N = N, .D = D};
    if (N <= 16) pool = NULL;
    ur_pool_for(pool, N, 0, rmsnorm_dx_body, &j);
    if (gw) ur_pool_for(pool, (D + 63) / 64, 1, rmsnorm_gw_body, &j);
}

/* ---- rope: pairs (a, b) of each head rotate by theta(pos):
 *   forward  a' = a c - b s,  b' = a s + b c
 *   backward (the transpose)  da = da' c + db' s,  db = -da' s + db' c ---------- */
typedef struct rope_job {
    float *x;
    const int32_t *pos;
    const float *table;
    int nh, hd, n_rot, neox, inv;
} rope_job;

static void rope_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const rope_job *j = arg;
    const int half = j->n_rot / 2, nh = j->nh, hd = j->hd, neox = j->neox;
    const float sgn = j->inv ? -1.0f : 1.0f;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const float *cs = j->table + (size_t)j->pos[t] * j->n_rot;
        for (int h = 0; h < nh; h++) {
            float *xh = j->x + (size_t)t * nh * hd + (size_t)h * hd;
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

void tr_rope(float *x, const int32_t *pos, const float *table, int N, int nh, int hd, int n_rot, int neox, int inv,
             ur_pool *pool) {
    rope_job j = {x, pos, table, nh, hd, n_rot, neox, inv};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, rope_body, &j);
}

/* ---- SwiGLU: h = silu(g) * u ---------------------------------------------------------- */
typedef struct swiglu_job {
    float *h, *dg, *du;
    const float *g, *u, *dh;
    int F;
} swiglu_job;

static void swiglu_fwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const swiglu_job *j = arg;
    const size_t F = (size_t)j->F;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) ur_vswiglu(j->h + t * F, j->g + t * F, j->u + t * F, j->F);
}

void tr_swiglu_fwd(float *h, const float *g, const float *u, int N, int F, ur_pool *pool) {
    swiglu_job j = {.h = h, .g = g, .u = u, .F = F};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, swiglu_fwd_body, &j);
}

static void swiglu_bwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const swiglu_job *j = arg;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const size_t o = (size_t)t * (size_t)j->F;
        ur_vswiglu_back(j->dg + o, j->du + o, j->h ? j->h + o : NULL, j->g + o, j->u + o, j->dh + o, j->F);
    }
}

void tr_swiglu_bwd(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int N, int F,
                   ur_pool *pool) {
    swiglu_job j = {.h = h, .dg = dg, .du = du, .g = g, .u = u, .dh = dh, .F = F};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, swiglu_bwd_body, &j);
}

/* ---- GeGLU: h = gelu(g) * u, gelu(x) = x/2 (1 + tanh(c (x + a x^3))), c = sqrt(2/pi):
 *   gelu'(x) = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2),  t = tanh(c (x + a x^3)) --------- */
static void geglu_fwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const swiglu_job *j = arg;
    const size_t F = (size_t)j->F;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const float *g = j->g + t * F, *u = j->u + t * F;
        float *h = j->h + t * F;
        for (size_t i = 0; i < F; i++) h[i] = ur_gelu(g[i]) * u[i];
    }
}

void tr_geglu_fwd(float *h, const float *g, const float *u, int N, int F, ur_pool *pool) {
    swiglu_job j = {.h = h, .g = g, .u = u, .F = F};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, geglu_fwd_body, &j);
}

static void geglu_bwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const swiglu_job *j = arg;
    const float a = 0.044715f, c = 0.79788456080286535587989211986876f;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        const size_t o = (size_t)t * (size_t)j->F;
        for (int i = 0; i < j->F; i++) {
            const float x = j->g[o + i], uu = j->u[o + i], dh = j->dh[o + i];
            const float th = tanhf(c * x * (1.0f + a * x * x));
            const float gl = 0.5f * x * (1.0f + th);
            const float dgl = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * c * (1.0f + 3.0f * a * x * x);
            if (j->h) j->h[o + i] = gl * uu;
            j->du[o + i] = dh * gl;
            j->dg[o + i] = dh * uu * dgl;
        }
    }
}

void tr_geglu_bwd(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int N, int F,
                  ur_pool *pool) {
    swiglu_job j = {.h = h, .dg = dg, .du = du, .g = g, .u = u, .dh = dh, .F = F};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, geglu_bwd_body, &j);
}

/* ---- biases: y[t] += b; gb += sum_t dy[t] (columns in 64-wide chunks, tokens in order) ---- */
typedef struct bias_job {
    float *y, *gb;
    const float *b, *dy;
    int N, n;
} bias_job;

static void bias_fwd_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const bias_job *j = arg;
    (void)tid;
    for (int64_t t = t0; t < t1; t++)
        for (int i = 0; i < j->n; i++) j->y[(size_t)t * j->n + i] += j->b[i];
}

void tr_bias_fwd(float *y, const float *b, int N, int n, ur_pool *pool) {
    if (!b) return;
    bias_job j = {.y = y, .b = b, .N = N, .n = n};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, bias_fwd_body, &j);
}

static void bias_bwd_body(void *arg, int64_t c0, int64_t c1, int tid) {
    const bias_job *j = arg;
    (void)tid;
    for (int64_t ch = c0; ch < c1; ch++) {
        const int i0 = (int)ch * 64, i1 = i0 + 64 < j->n ? i0 + 64 : j->n;
        float acc[64] = {0};
        for (int t = 0; t < j->N; t++)
            for (int i = i0; i < i1; i++) acc[i - i0] += j->dy[(size_t)t * j->n + i];
        for (int i = i0; i < i1; i++) j->gb[i] += acc[i - i0];
    }
}

void tr_bias_bwd(float *gb, const float *dy, int N, int n, ur_pool *pool) {
    if (!gb) return;
    bias_job j = {.gb = gb, .dy = dy, .N = N, .n = n};
    ur_pool_for((size_t)N * n > 65536 ? pool : NULL, (n + 63) / 64, 1, bias_bwd_body, &j);
}

/* ---- residual dropout ----------------------------------------------------------------- */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct dropout_job {
    float *y;
    int D;
    uint64_t base, thr;
    float keep;
} dropout_job;

static void dropout_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const dropout_job *j = arg;
    (void)tid;
    for (int64_t t = t0; t < t1; t++) {
        float *r = j->y + (size_t)t * j->D;
        const uint64_t rb = j->base + (uint64_t)t * 0x9E3779B97F4A7C15ull;
        for (int i = 0; i < j->D; i++) {
            uint64_t hsh = mix64(rb + (uint64_t)i * 0xD1B54A32D192ED03ull) >> 32;
            r[i] = hsh >= j->thr ? r[i] * j->keep : 0.0f;
        }
    }
}

void tr_dropout(float *y, int N, int D, float p, uint64_t key, int layer, int branch, ur_pool *pool) {
    if (!(p > 0.0f)) return;
    const uint64_t base = mix64(key ^ mix64(((uint64_t)(unsigned)layer << 8 | (unsigned)branch) + 0x5851F42D4C957F2Dull));
    /* keep an element when its 32-bit hash >= p * 2^32 */
    dropout_job j = {y, D, base, (uint64_t)((double)p * 4294967296.0), 1.0f / (1.0f - p)};
    ur_pool_for(N > 16 ? pool : NULL, N, 0, dropout_body, &j);
}

/* ---- cross-entropy over a chunk of logits ------------------------------------------------ */
typedef struct xent_job {
    float *logits;
    const int32_t *targets;
    int V;
    float scale, cap;
} xent_job;

/* one row (the reduction's chunk is 1 row): its -log p(target), and the row becomes its gradient */
static double xent_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const xent_job *j = arg;
    const int V = j->V;
    (void)tid;
    double nll = 0.0;
    for (int64_t t = t0; t < t1; t++) {
        float *row = j->logits + (size_t)t * V;
        const int y = j->targets[t];
        if (j->cap > 0) { /* l' = cap tanh(l / cap); d/dl = d/dl' (1 - tanh^2) */
            const float cap = j->cap, inv = 1.0f / cap;
            float m = -INFINITY;
            for (int i = 0; i < V; i++) row[i] = tanhf(row[i] * inv), m = fmaxf(m, cap * row[i]);
            double s = 0;
            for (int i = 0; i < V; i++) s += expf(cap * row[i] - m);
            nll += (double)m + log(s) - (double)(cap * row[y]);
            const float f = j->scale / (float)s;
            for (int i = 0; i < V; i++) {
                const float th = row[i];
                row[i] = (expf(cap * th - m) * f - (i == y ? j->scale : 0.0f)) * (1.0f - th * th);
            }
            continue;
        }
        const float ly = row[y];
        const float m = ur_vmax(row, V);
        const float s = ur_vexp_sum(row, row, m, V);
        nll += (double)(m + logf(s) - ly);
        const float inv = j->scale / s;
        for (int i = 0; i < V; i++) row[i] *= inv;
        row[y] -= j->scale;
    }
    return nll;
}

/* The row losses are added in row order whatever the thread count (chunks of one
 * row, partial sums in chunk order): the sequential loop's sum. */
double tr_xent(float *logits, const int32_t *targets, int n, int V, float scale, float cap, ur_pool *pool) {
    xent_job j = {logits, targets, V, scale, cap};
    return ur_pool_sum(n > 4 ? pool : NULL, n, 1, xent_body, &j);
}

typedef struct add_job {
    float *y;
    const float *a, *b;
} add_job;

static void add_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const add_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) j->y[i] = j->a[i] + j->b[i];
}

void tr_add(float *y, const float *a, const float *b, size_t n, ur_pool *pool) {
    add_job j = {y, a, b};
    ur_pool_for(n > 65536 ? pool : NULL, (int64_t)n, 16384, add_body, &j);
}
