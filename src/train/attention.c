/* Causal grouped-query attention over packed segments, forward and backward.
 *
 * For a segment starting at s0 and query head h (kv head g = h / (H/G)), in
 * blocks of TR_QB queries t0..t0+nq (keys from the block's first visible one,
 * kb, to t0+nq: nk of them; kb = s0 without a sliding window):
 *   S = Q K^T * sc                             [nq][nk]   (GEMM; sc = hp.attn_scale)
 *   S' = c tanh(S / c) with soft-capping c, else S
 *   P = softmax over the visible part of each row (causal, within the window),
 *       lse = log sum exp
 *   O = P V                                    [nq][hd]   (GEMM)
 * Only lse is kept; the backward recomputes S and P from it (flash-attention
 * style: memory O(N) instead of O(N^2)):
 *   dP = dO V^T,  dS' = P * (dP - rowsum(dO * O)),  dS = dS' (1 - tanh^2(S / c)),
 *   dQ = dS K sc,  dK += dS^T Q sc,  dV += P^T dO.
 * One task is one (segment, head); tasks run in parallel, each with its own S/P
 * scratch and GEMM workspace. dK and dV are accumulated per query head (dkh, dvh:
 * [N][D]) and summed over each kv head's group at the end, so no two tasks write
 * the same memory and every sum has a fixed order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/internal.h"
#include "train/vmath.h"

typedef struct task {
    int s0, len, h;
} task;

/* The (segment, head) tasks of a batch, longest segments first (better balance). */
static task *make_tasks(const int32_t *seg, int N, int H, int *n_tasks) {
    int n_seg = 0;
    for (int t = 0; t < N; t++) n_seg += seg[t] == t;
    task *ts = ur_xmalloc(sizeof *ts * (size_t)(n_seg * H + 1));
    int k = 0;
    for (int t = 0; t < N; t++) {
        if (seg[t] != t) continue;
        int e = t + 1;
        while (e < N && seg[e] == t) e++;
        for (int h = 0; h < H; h++) ts[k++] = (task){t, e - t, h};
    }
    /* insertion sort by length, descending (few segments) */
    for (int i = 1; i < k; i++) {
        task x = ts[i];
        int j = i - 1;
        while (j >= 0 && ts[j].len < x.len) ts[j + 1] = ts[j], j--;
        ts[j + 1] = x;
    }
    *n_tasks = k;
    return ts;
}

/* The arguments of both passes, for the pool loops over tasks. */
typedef struct att_job {
    ur_tctx *c;
    const ur_hparams *hp;
    int window;
    const task *ts;
    const float *q, *k, *v, *att, *lse_in, *datt;
    float *out, *lse, *dq;
} att_job;

/* The block of queries [qb, qb + nq) of a segment (offsets from its start): the first
 * visible key kb, and row i's visible keys [lo, qb + i] as columns [lo - kb, qb + i - kb]. */
static int block_first_key(int window, int qb) { return window && qb - window + 1 > 0 ? qb - window + 1 : 0; }
static int row_first_key(int window, int kb, int q) { return window && q - window + 1 > kb ? q - window + 1 : kb; }

/* Tasks [it0, it1) of the forward on thread tid (its S scratch and GEMM workspace;
 * the GEMMs inside run on this thread alone). */
static void fwd_body(void *arg, int64_t it0, int64_t it1, int tid) {
    const att_job *a = arg;
    const ur_hparams *hp = a->hp;
    const int QD = hp->q_dim, hd = hp->head_dim, H = hp->n_heads, KV = hp->kv_dim, grp = H / hp->n_kv_heads;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const float *q = a->q, *k = a->k, *v = a->v;
    float *att = a->out, *lse = a->lse;
    const task *ts = a->ts;
    const int ld = a->c->max_seg;
    float *S = a->c->att_s + (size_t)tid * TR_QB * ld;
    ur_gemm_ws *ws = &a->c->ws[tid];
    for (int it = (int)it0; it < (int)it1; it++) {
        const int s0 = ts[it].s0, len = ts[it].len, h = ts[it].h, g = h / grp;
        for (int qb = 0; qb < len; qb += TR_QB) {
            const int t0 = s0 + qb, nq = len - qb < TR_QB ? len - qb : TR_QB, kb = block_first_key(a->window, qb);
            const int nk = qb + nq - kb;
            const float *kg = k + (size_t)(s0 + kb) * KV + (size_t)g * hd, *vg = v + (size_t)(s0 + kb) * KV + (size_t)g * hd;
            ur_sgemm(0, 1, nq, nk, hd, scale, q + (size_t)t0 * QD + (size_t)h * hd, QD, kg, KV, 0.0f, S, ld, NULL, ws);
            for (int i = 0; i < nq; i++) {
                float *row = S + (size_t)i * ld;
                const int lo = row_first_key(a->window, kb, qb + i) - kb, hi = qb + i - kb + 1; /* columns [lo, hi) */
                if (cap > 0)
                    for (int j = lo; j < hi; j++) row[j] = cap * tanhf(row[j] / cap);
                const float m = ur_vmax(row + lo, hi - lo);
                const float sum = ur_vexp_sum(row + lo, row + lo, m, hi - lo);
                const float inv = 1.0f / sum;
                for (int j = lo; j < hi; j++) row[j] *= inv;
                memset(row, 0, sizeof(float) * (size_t)lo);
                memset(row + hi, 0, sizeof(float) * (size_t)(nk - hi));
                lse[(size_t)(t0 + i) * H + h] = m + logf(sum);
            }
            ur_sgemm(0, 0, nq, hd, nk, 1.0f, S, ld, vg, KV, 0.0f, att + (size_t)t0 * QD + (size_t)h * hd, QD, NULL,
                     ws);
        }
    }
}

void tr_attention_fwd(ur_tctx *c, const ur_hparams *hp, int window, const int32_t *seg, int N, const float *q,
                      const float *k, const float *v, float *att, float *lse) {
    int n_tasks;
    task *ts = make_tasks(seg, N, hp->n_heads, &n_tasks);
    att_job j = {.c = c, .hp = hp, .window = window, .ts = ts, .q = q, .k = k, .v = v, .out = att, .lse = lse};
    ur_pool_for(n_tasks > 1 ? c->pool : NULL, n_tasks, 1, fwd_body, &j);
    free(ts);
}

/* Tasks [it0, it1) of the backward on thread tid (its P/dP scratch and workspace). */
static void bwd_body(void *arg, int64_t it0, int64_t it1, int tid) {
    const att_job *a = arg;
    const ur_hparams *hp = a->hp;
    const int QD = hp->q_dim, hd = hp->head_dim, H = hp->n_heads, G = hp->n_kv_heads, KV = hp->kv_dim, grp = H / G;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const float *q = a->q, *k = a->k, *v = a->v, *att = a->att, *lse = a->lse_in, *datt = a->datt;
    float *dq = a->dq, *dkh = a->c->dkh, *dvh = a->c->dvh;
    const task *ts = a->ts;
    const int ld = a->c->max_seg;
    float *P = a->c->att_s + (size_t)tid * TR_QB * ld, *dP = a->c->att_p + (size_t)tid * TR_QB * ld;
    ur_gemm_ws *ws = &a->c->ws[tid];
    for (int it = (int)it0; it < (int)it1; it++) {
        const int s0 = ts[it].s0, len = ts[it].len, h = ts[it].h, g = h / grp;
        for (int qb = 0; qb < len; qb += TR_QB) {
            const int t0 = s0 + qb, nq = len - qb < TR_QB ? len - qb : TR_QB, kb = block_first_key(a->window, qb);
            const int nk = qb + nq - kb;
            const float *kg = k + (size_t)(s0 + kb) * KV + (size_t)g * hd, *vg = v + (size_t)(s0 + kb) * KV + (size_t)g * hd;
            float *dkt = dkh + (size_t)(s0 + kb) * QD + (size_t)h * hd, *dvt = dvh + (size_t)(s0 + kb) * QD + (size_t)h * hd;
            const float *qt = q + (size_t)t0 * QD + (size_t)h * hd, *dot = datt + (size_t)t0 * QD + (size_t)h * hd;
            ur_sgemm(0, 1, nq, nk, hd, scale, qt, QD, kg, KV, 0.0f, P, ld, NULL, ws);
            ur_sgemm(0, 1, nq, nk, hd, 1.0f, dot, QD, vg, KV, 0.0f, dP, ld, NULL, ws);
            for (int i = 0; i < nq; i++) {
                float *pr = P + (size_t)i * ld, *dr = dP + (size_t)i * ld;
                const int lo = row_first_key(a->window, kb, qb + i) - kb, hi = qb + i - kb + 1;
                const float l = lse[(size_t)(t0 + i) * H + h];
                const float di = ur_vdot(dot + (size_t)i * QD, att + (size_t)(t0 + i) * QD + (size_t)h * hd, hd);
                if (cap > 0) {
                    for (int j = lo; j < hi; j++) {
                        const float th = tanhf(pr[j] / cap), p = expf(cap * th - l);
                        pr[j] = p;
                        dr[j] = p * (dr[j] - di) * (1.0f - th * th);
                    }
                } else {
                    ur_vexp_sum(pr + lo, pr + lo, l, hi - lo);
                    for (int j = lo; j < hi; j++) dr[j] = pr[j] * (dr[j] - di);
                }
                memset(pr, 0, sizeof(float) * (size_t)lo), memset(dr, 0, sizeof(float) * (size_t)lo);
                memset(pr + hi, 0, sizeof(float) * (size_t)(nk - hi));
                memset(dr + hi, 0, sizeof(float) * (size_t)(nk - hi));
            }
            ur_sgemm(0, 0, nq, hd, nk, scale, dP, ld, kg, KV, 0.0f, dq + (size_t)t0 * QD + (size_t)h * hd, QD, NULL,
                     ws);
            ur_sgemm(1, 0, nk, hd, nq, scale, dP, ld, qt, QD, 1.0f, dkt, QD, NULL, ws);
            ur_sgemm(1, 0, nk, hd, nq, 1.0f, P, ld, dot, QD, 1.0f, dvt, QD, NULL, ws);
        }
    }
}

/* rows [t0, t1): sum the per-head key/value gradients over each kv head's group, heads in order */
typedef struct group_job {
    const ur_hparams *hp;
    const float *dkh, *dvh;
    float *dk, *dv;
} group_job;

static void group_body(void *arg, int64_t t0, int64_t t1, int tid) {
    const group_job *j = arg;
    const int D = j->hp->q_dim, hd = j->hp->head_dim, G = j->hp->n_kv_heads, KV = G * hd, grp = j->hp->n_heads / G;
    (void)tid;
    for (int64_t t = t0; t < t1; t++)
        for (int g = 0; g < G; g++) {
            float *dkr = j->dk + (size_t)t * KV + (size_t)g * hd, *dvr = j->dv + (size_t)t * KV + (size_t)g * hd;
            const float *sk = j->dkh + (size_t)t * D + (size_t)g * grp * hd;
            const float *sv = j->dvh + (size_t)t * D + (size_t)g * grp * hd;
            memcpy(dkr, sk, sizeof(float) * (size_t)hd);
            memcpy(dvr, sv, sizeof(float) * (size_t)hd);
            for (int h = 1; h < grp; h++)
                for (int d = 0; d < hd; d++) dkr[d] += sk[(size_t)h * hd + d], dvr[d] += sv[(size_t)h * hd + d];
        }
}

void tr_attention_bwd(ur_tctx *c, const ur_hparams *hp, int window, const int32_t *seg, int N, const float *q,
                      const float *k, const float *v, const float *att, const float *lse, const float *datt, float *dq,
                      float *dk, float *dv) {
    int n_tasks;
    task *ts = make_tasks(seg, N, hp->n_heads, &n_tasks);
    memset(c->dkh, 0, sizeof(float) * (size_t)N * hp->q_dim);
    memset(c->dvh, 0, sizeof(float) * (size_t)N * hp->q_dim);
    att_job j = {.c = c, .hp = hp, .window = window, .ts = ts, .q = q, .k = k, .v = v, .att = att, .lse_in = lse,
                 .datt = datt, .dq = dq};
    ur_pool_for(n_tasks > 1 ? c->pool : NULL, n_tasks, 1, bwd_body, &j);
    free(ts);
    group_job gj = {hp, c->dkh, c->dvh, dk, dv};
    ur_pool_for(N > 16 ? c->pool : NULL, N, 0, group_body, &gj);
}
