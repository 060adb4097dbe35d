/* Matmul front end: activation preparation, run-time ISA dispatch, threading,
 * and the scalar reference product the tests hold every kernel to.
 *
 * Y[t][r] = sum_i W[r][i] * X[t][i]; W is rows x k in its block format (used in
 * place, never copied), X is n x k floats converted first (ur_act_prepare) to the
 * weight type's activation type. The kernels (kernels_*.c) take a range of rows;
 * here rows are split in contiguous chunks among a pool's threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/quant.h"

/* ---- CPU features and the kernel tables ------------------------------------ */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(UR_NO_SIMD)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* Highest level this CPU (and OS) supports; *vnni: AVX-VNNI (256-bit) present. */
static int detect(int *vnni) {
    unsigned a, b, c, d;
    *vnni = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return UR_SIMD_SCALAR;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return UR_SIMD_SCALAR;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6) return UR_SIMD_SCALAR;
    unsigned b7 = 0, c7 = 0, a71 = 0;
    if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d)) {
        unsigned b1, c1, d1;
        if (a >= 1) __get_cpuid_count(7, 1, &a71, &b1, &c1, &d1);
    }
    int avx2 = (b7 >> 5) & 1;
    if (!(avx2 && fma && f16c)) return UR_SIMD_SCALAR;
    *vnni = (a71 >> 4) & 1;
    /* AVX-512 level: F, DQ, BW, VL, VBMI, VNNI (Ice Lake, Zen 4 and later) with the
     * OS saving opmask and zmm state. */
    int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
    int vbmi = (c7 >> 1) & 1, vnni512 = (c7 >> 11) & 1;
    if (f && dq && bw && vl && vbmi && vnni512 && (xcr0 & 0xE6) == 0xE6) return UR_SIMD_AVX512;
    return UR_SIMD_AVX2;
}
#else
static int detect(int *vnni) {
    *vnni = 0;
    return UR_SIMD_SCALAR;
}
#endif

static struct {
    int init, max_level, level, vnni, allow_vnni;
    kernel_table t[3];
} g_cpu;

static void cpu_init_once(void) {
    g_cpu.max_level = detect(&g_cpu.vnni);
    g_cpu.level = g_cpu.max_level;
    g_cpu.allow_vnni = 1;
    kernels_scalar(&g_cpu.t[0]);
    if (g_cpu.max_level >= UR_SIMD_AVX2) kernels_avx2(&g_cpu.t[1], g_cpu.vnni);
    if (g_cpu.max_level >= UR_SIMD_AVX512) kernels_avx512(&g_cpu.t[2]);
    __atomic_store_n(&g_cpu.init, 1, __ATOMIC_RELEASE);
}

static void cpu_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!__atomic_load_n(&g_cpu.init, __ATOMIC_ACQUIRE)) pthread_once(&once, cpu_init_once);
}

int ur_simd_level(void) {
    cpu_init();
    return g_cpu.level;
}

int ur_simd_set(int max_level) {
    cpu_init();
    if (max_level < 0) max_level = 0;
    g_cpu.level = max_level < g_cpu.max_level ? max_level : g_cpu.max_level;
    return g_cpu.level;
}

const char *ur_simd_name(int level) {
    switch (level) {
    case UR_SIMD_SCALAR: return "scalar";
    case UR_SIMD_AVX2: return "avx2";
    case UR_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}

int ur_simd_allow_vnni(int allow) {
    cpu_init();
    int old = g_cpu.allow_vnni;
    if (allow != old && g_cpu.max_level >= UR_SIMD_AVX2) {
        g_cpu.allow_vnni = allow;
        memset(&g_cpu.t[1], 0, sizeof g_cpu.t[1]);
        kernels_avx2(&g_cpu.t[1], g_cpu.vnni && allow);
    }
    return old;
}

static mm_fn pick_mm(int wtype) {
    for (int l = g_cpu.level; l >= 0; l--)
        if (g_cpu.t[l].mm[wtype]) return g_cpu.t[l].mm[wtype];
    return NULL;
}
static act_fn pick_act(int atype) {
    for (int l = g_cpu.level; l >= 0; l--)
        if (g_cpu.t[l].act[atype]) return g_cpu.t[l].act[atype];
    return NULL;
}
static pan_fn pick_pan(int atype) {
    for (int l = g_cpu.level; l >= 0; l--)
        if (g_cpu.t[l].pan[atype]) return g_cpu.t[l].pan[atype];
    return act_build_panels;
}

/* ---- activations ------------------------------------------------------------ */
int ur_act_type(int wtype) {
    switch (wtype) {
    case UR_TYPE_Q4_0:
    case UR_TYPE_Q8_0: return UR_TYPE_Q8_0;
    case UR_TYPE_Q4_K:
    case UR_TYPE_Q5_K:
    case UR_TYPE_Q6_K: return UR_TYPE_Q8_K;
    case UR_TYPE_F16: return UR_TYPE_F16;
    case UR_TYPE_BF16: return UR_TYPE_BF16;
    case UR_TYPE_F32: return UR_TYPE_F32;
    default: return -1;
    }
}

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

void act_layout_of(int type, int64_t n, int64_t k, act_layout *L) {
    memset(L, 0, sizeof *L);
    size_t pan_elem = 0; /* panel bytes per element of k (float types) */
    switch (type) {
    case UR_TYPE_Q8_0:
        L->nb = k / 32;
        L->nsum = L->nb;
        L->qstride = (int64_t)align64((size_t)k);
        L->pan_block = 576;
        break;
    case UR_TYPE_Q8_K:
        L->nb = k / 256;
        L->nsum = 16 * L->nb;
        L->qstride = (int64_t)align64((size_t)k);
        L->pan_block = 4672;
        break;
    case UR_TYPE_F32: L->qstride = (int64_t)align64((size_t)k * 4); pan_elem = 64; break;
    default: /* F16, BF16 */ L->qstride = (int64_t)align64((size_t)k * 2); pan_elem = 64; break;
    }
    size_t sum_bytes = type == UR_TYPE_Q8_K ? 2 : 4;
    L->off_qs = 0;
    L->off_d = align64((size_t)n * (size_t)L->qstride);
    L->off_sum = L->off_d + align64((size_t)(n * L->nb) * 4);
    L->off_pan = L->off_sum + align64((size_t)(n * L->nsum) * sum_bytes);
    L->ng = n >= UR_PANEL_MIN_N ? (n + UR_PANEL_T - 1) / UR_PANEL_T : 0;
    L->pan_group = pan_elem ? pan_elem * (size_t)k : L->pan_block * (size_t)L->nb;
    L->total = L->off_pan + (size_t)L->ng * L->pan_group;
}

static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

void act_build_panels(ur_act *a, const act_layout *L, int64_t g0, int64_t g1) {
    const int64_t n = a->n, k = a->k;
    for (int64_t g = g0; g < g1; g++) {
        uint8_t *P = (uint8_t *)a->data + L->off_pan + (size_t)g * L->pan_group;
        int64_t t0 = g * UR_PANEL_T;
        if (a->type == UR_TYPE_Q8_0 || a->type == UR_TYPE_Q8_K) {
            int bk = a->type == UR_TYPE_Q8_0 ? 32 : 256;
            for (int64_t b = 0; b < L->nb; b++) {
                uint8_t *B = P + (size_t)b * L->pan_block;
                for (int j = 0; j < bk / 4; j++)
                    for (int t = 0; t < UR_PANEL_T; t++) {
                        uint32_t v = 0x80808080u;
                        if (t0 + t < n) {
                            memcpy(&v, act_qs(a, L, t0 + t) + b * bk + 4 * j, 4);
                            v ^= 0x80808080u;
                        }
                        put_u32(B + 64 * j + 4 * t, v);
                    }
                float *D = (float *)(B + bk * 16);
                for (int t = 0; t < UR_PANEL_T; t++) D[t] = t0 + t < n ? act_d(a, L, t0 + t)[b] : 0;
                if (a->type == UR_TYPE_Q8_K) {
                    float *S = D + 16;
                    for (int s = 0; s < 8; s++)
                        for (int t = 0; t < UR_PANEL_T; t++) {
                            float v = 0;
                            if (t0 + t < n) {
                                const int16_t *bs = act_bsums(a, L, t0 + t) + 16 * b;
                                v = D[t] * (float)(bs[2 * s] + bs[2 * s + 1]);
                            }
                            S[16 * s + t] = v;
                        }
                }
            }
        } else {
            float *F = (float *)P;
            for (int t = 0; t < UR_PANEL_T; t++) {
                const void *row = t0 + t < n ? (const void *)act_qs(a, L, t0 + t) : NULL;
                for (int64_t e = 0; e < k; e++) {
                    float v = 0;
                    if (row) {
                        if (a->type == UR_TYPE_F32) v = ((const float *)row)[e];
                        else if (a->type == UR_TYPE_F16) v = ur_f16_to_f32(((const uint16_t *)row)[e]);
                        else v = ur_bf16_to_f32(((const uint16_t *)row)[e]);
                    }
                    F[e * UR_PANEL_T + t] = v;
                }
            }
        }
    }
}

/* ur_act_prepare's two loops: token rows [4*c0, 4*c1), then panel groups [g0, g1) */
typedef struct act_job {
    act_fn f;
    pan_fn pf;
    const float *x;
    ur_act *a;
    const act_layout *L;
} act_job;

static void act_rows_body(void *arg, int64_t c0, int64_t c1, int tid) {
    const act_job *j = arg;
    (void)tid;
    const int64_t t1 = 4 * c1 < j->a->n ? 4 * c1 : j->a->n;
    j->f(j->x, 4 * c0, t1, j->a, j->L);
}

static void act_panels_body(void *arg, int64_t g0, int64_t g1, int tid) {
    const act_job *j = arg;
    (void)tid;
    j->pf(j->a, j->L, g0, g1);
}

void ur_act_prepare(ur_act *a, int type, const float *x, int64_t n, int64_t k, ur_pool *pool) {
    cpu_init();
    act_layout L;
    act_layout_of(type, n, k, &L);
    if (L.total > a->cap || !a->data) {
        free(a->data);
        size_t cap = L.total + L.total / 4 + 64;
        a->data = NULL;
        if (posix_memalign(&a->data, 64, cap)) abort(); /* out of memory */
        a->cap = cap;
    }
    a->type = type;
    a->n = n;
    a->k = k;
    a->row_bytes = (uint64_t)L.qstride;
    act_job j = {pick_act(type), pick_pan(type), x, a, &L};
    if (n * k < 32768 || n < 2) pool = NULL; /* too small to share */
    /* tokens in chunks of 4, then (once all are converted) panels one by one; each
     * row and each panel is converted on its own, so any split gives the same bytes */
    ur_pool_for(pool, (n + 3) / 4, 1, act_rows_body, &j);
    if (L.ng) ur_pool_for(pool, L.ng, 1, act_panels_body, &j);
}

void ur_act_free(ur_act *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- matmul ------------------------------------------------------------------ */
typedef struct mm_call {
    mm_fn f;
    mm_job *job;
} mm_call;

static void mm_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const mm_call *m = arg;
    (void)tid;
    m->f(m->job, r0, r1);
}

void ur_matmul(const void *W, int wtype, int64_t rows, const ur_act *x, float *y, int64_t ldy, ur_pool *pool) {
    cpu_init();
    if (rows <= 0 || x->n <= 0) return;
    mm_job job = {.W = W, .wrow = ur_row_size(wtype, x->k), .wtype = wtype, .k = x->k,
                  .n = x->n, .x = x, .y = y, .ldy = ldy};
    act_layout_of(x->type, x->n, x->k, &job.L);
    mm_call call = {pick_mm(wtype), &job};
    /* below ~64K multiply-adds the hand-off costs more than it saves */
    if (rows < 32 || rows * x->k * x->n < 65536) pool = NULL;
    /* Rows go out in chunks, about 8 per thread, taken dynamically: on a shared machine
     * a thread that loses its core for a time slice then delays one chunk, not its whole
     * share. Chunks are contiguous (streamed) and whole GEMM tiles (4 or 3 rows); each
     * row's dot products are the same whichever chunk holds it. */
    const int64_t chunk = (rows / (8 * ur_pool_threads(pool)) + 47) / 48 * 48;
    ur_pool_for(pool, rows, chunk, mm_body, &call);
}

/* One activation row back to float (the values the kernels multiply by). */
static void act_row_float(const ur_act *x, const act_layout *L, int64_t t, float *out) {
    const int64_t k = x->k;
    const int8_t *q = act_qs(x, L, t);
    switch (x->type) {
    case UR_TYPE_Q8_0:
    case UR_TYPE_Q8_K: {
        int bk = x->type == UR_TYPE_Q8_0 ? 32 : 256;
        const float *d = act_d(x, L, t);
        for (int64_t i = 0; i < k; i++) out[i] = d[i / bk] * (float)q[i];
        break;
    }
    case UR_TYPE_F32: memcpy(out, q, (size_t)k * 4); break;
    case UR_TYPE_F16:
        for (int64_t i = 0; i < k; i++) out[i] = ur_f16_to_f32(((const uint16_t *)q)[i]);
        break;
    case UR_TYPE_BF16:
        for (int64_t i = 0; i < k; i++) out[i] = ur_bf16_to_f32(((const uint16_t *)q)[i]);
        break;
    }
}

void ur_matmul_ref(const void *W, int wtype, int64_t rows, const ur_act *x, float *y, int64_t ldy) {
    act_layout L;
    act_layout_of(x->type, x->n, x->k, &L);
    const int64_t k = x->k, n = x->n;
    float *w = malloc((size_t)k * sizeof *w), *a = malloc((size_t)(n * k) * sizeof *a);
    if (!w || !a) abort();
    for (int64_t t = 0; t < n; t++) act_row_float(x, &L, t, a + t * k);
    uint64_t wrow = ur_row_size(wtype, k);
    for (int64_t r = 0; r < rows; r++) {
        ur_dequantize_row(wtype, (const uint8_t *)W + r * wrow, w, k);
        for (int64_t t = 0; t < n; t++) {
            double s = 0;
            for (int64_t i = 0; i < k; i++) s += (double)w[i] * (double)a[t * k + i];
            y[t * ldy + r] = (float)s;
        }
    }
    free(w);
    free(a);
}
