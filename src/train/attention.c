/* Causal grouped-query attention over packed segments, forward and backward.
 *
 * For a segment starting at s0 and query head h (kv head g = h / (H/G)), in
 * blocks of TR_QB queries t0..t0+nq (keys s0..t0+nq, i.e. nk of them):
 *   S = Q K^T / sqrt(hd)                       [nq][nk]   (GEMM)
 *   P = softmax over the causal part of each row, lse = log sum exp
 *   O = P V                                    [nq][hd]   (GEMM)
 * Only lse is kept; the backward recomputes S and P from it (flash-attention
 * style: memory O(N) instead of O(N^2)):
 *   dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),
 *   dQ = dS K / sqrt(hd),  dK += dS^T Q / sqrt(hd),  dV += P^T dO.
 * One task is one (segment, head); tasks run in parallel, each with its own S/P
 * scratch and GEMM workspace. dK and dV are accumulated per query head (dkh, dvh:
 * [N][D]) and summed over each kv head's group at the end, so no two tasks write
 * the same memory and every sum has a fixed order. */
#include <math.h>
#include <omp.h>
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

void tr_attention_fwd(ur_tctx *c, const ur_hparams *hp, const int32_t *seg, int N, const float *q, const float *k,
                      const float *v, float *att, float *lse) {
    const int D = hp->dim, hd = hp->head_dim, H = hp->n_heads, KV = hp->n_kv_heads * hd, grp = H / hp->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)hd);
    int n_tasks;
    task *ts = make_tasks(seg, N, H, &n_tasks);
    const int ld = c->max_seg;
#pragma omp parallel num_threads(c->nt) if (c->nt > 1 && n_tasks > 1)
    {
        const int tid = omp_get_thread_num();
        float *S = c->att_s + (size_t)tid * TR_QB * ld;
        ur_gemm_ws *ws = &c->ws[tid];
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < n_tasks; it++) {
            const int s0 = ts[it].s0, len = ts[it].len, h = ts[it].h, g = h / grp;
            const float *kg = k + (size_t)s0 * KV + (size_t)g * hd, *vg = v + (size_t)s0 * KV + (size_t)g * hd;
            for (int qb = 0; qb < len; qb += TR_QB) {
                const int t0 = s0 + qb, nq = len - qb < TR_QB ? len - qb : TR_QB, nk = qb + nq;
                ur_sgemm(0, 1, nq, nk, hd, scale, q + (size_t)t0 * D + (size_t)h * hd, D, kg, KV, 0.0f, S, ld, 1, ws);
                for (int i = 0; i < nq; i++) {
                    float *row = S + (size_t)i * ld;
                    const int valid = qb + i + 1;
                    const float m = ur_vmax(row, valid);
                    const float sum = ur_vexp_sum(row, row, m, valid);
                    const float inv = 1.0f / sum;
                    for (int j = 0; j < valid; j++) row[j] *= inv;
                    memset(row + valid, 0, sizeof(float) * (size_t)(nk - valid));
                    lse[(size_t)(t0 + i) * H + h] = m + logf(sum);
                }
                ur_sgemm(0, 0, nq, hd, nk, 1.0f, S, ld, vg, KV, 0.0f, att + (size_t)t0 * D + (size_t)h * hd, D, 1, ws);
            }
        }
    }
    free(ts);
}

void tr_attention_bwd(ur_tctx *c, const ur_hparams *hp, const int32_t *seg, int N, const float *q, const float *k,
                      const float *v, const float *att, const float *lse, const float *datt, float *dq, float *dk,
                      float *dv) {
    const int D = hp->dim, hd = hp->head_dim, H = hp->n_heads, G = hp->n_kv_heads, KV = G * hd, grp = H / G;
    const float scale = 1.0f / sqrtf((float)hd);
    int n_tasks;
    task *ts = make_tasks(seg, N, H, &n_tasks);
    const int ld = c->max_seg;
    float *dkh = c->dkh, *dvh = c->dvh;
    memset(dkh, 0, sizeof(float) * (size_t)N * D);
    memset(dvh, 0, sizeof(float) * (size_t)N * D);
#pragma omp parallel num_threads(c->nt) if (c->nt > 1 && n_tasks > 1)
    {
        const int tid = omp_get_thread_num();
        float *P = c->att_s + (size_t)tid * TR_QB * ld, *dP = c->att_p + (size_t)tid * TR_QB * ld;
        ur_gemm_ws *ws = &c->ws[tid];
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < n_tasks; it++) {
            const int s0 = ts[it].s0, len = ts[it].len, h = ts[it].h, g = h / grp;
            const float *kg = k + (size_t)s0 * KV + (size_t)g * hd, *vg = v + (size_t)s0 * KV + (size_t)g * hd;
            float *dkt = dkh + (size_t)s0 * D + (size_t)h * hd, *dvt = dvh + (size_t)s0 * D + (size_t)h * hd;
            for (int qb = 0; qb < len; qb += TR_QB) {
                const int t0 = s0 + qb, nq = len - qb < TR_QB ? len - qb : TR_QB, nk = qb + nq;
                const float *qt = q + (size_t)t0 * D + (size_t)h * hd, *dot = datt + (size_t)t0 * D + (size_t)h * hd;
                ur_sgemm(0, 1, nq, nk, hd, scale, qt, D, kg, KV, 0.0f, P, ld, 1, ws);
                ur_sgemm(0, 1, nq, nk, hd, 1.0f, dot, D, vg, KV, 0.0f, dP, ld, 1, ws);
                for (int i = 0; i < nq; i++) {
                    float *pr = P + (size_t)i * ld, *dr = dP + (size_t)i * ld;
                    const int valid = qb + i + 1;
                    ur_vexp_sum(pr, pr, lse[(size_t)(t0 + i) * H + h], valid);
                    const float di = ur_vdot(dot + (size_t)i * D, att + (size_t)(t0 + i) * D + (size_t)h * hd, hd);
                    for (int j = 0; j < valid; j++) dr[j] = pr[j] * (dr[j] - di);
                    memset(pr + valid, 0, sizeof(float) * (size_t)(nk - valid));
                    memset(dr + valid, 0, sizeof(float) * (size_t)(nk - valid));
                }
                ur_sgemm(0, 0, nq, hd, nk, scale, dP, ld, kg, KV, 0.0f, dq + (size_t)t0 * D + (size_t)h * hd, D, 1, ws);
                ur_sgemm(1, 0, nk, hd, nq, scale, dP, ld, qt, D, 1.0f, dkt, D, 1, ws);
                ur_sgemm(1, 0, nk, hd, nq, 1.0f, P, ld, dot, D, 1.0f, dvt, D, 1, ws);
            }
        }
    }
    free(ts);
    /* sum the per-head key/value gradients over each kv head's group */
#pragma omp parallel for num_threads(c->nt) schedule(static) if (c->nt > 1 && N > 16)
    for (int t = 0; t < N; t++)
        for (int g = 0; g < G; g++) {
            float *dkr = dk + (size_t)t * KV + (size_t)g * hd, *dvr = dv + (size_t)t * KV + (size_t)g * hd;
            const float *sk = dkh + (size_t)t * D + (size_t)g * grp * hd, *sv = dvh + (size_t)t * D + (size_t)g * grp * hd;
            memcpy(dkr, sk, sizeof(float) * (size_t)hd);
            memcpy(dvr, sv, sizeof(float) * (size_t)hd);
            for (int j = 1; j < grp; j++)
                for (int d = 0; d < hd; d++) dkr[d] += sk[(size_t)j * hd + d], dvr[d] += sv[(size_t)j * hd + d];
        }
}
