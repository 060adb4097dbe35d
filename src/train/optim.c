/* AdamW, gradient norm and clipping, learning-rate schedules (train.h). All loops
 * run over the one gradient buffer, tensor by tensor (weight decay is per tensor),
 * as pool loops over element ranges. */
#include <math.h>
#include <string.h>

#include "urial/train.h"

/* one tensor's update, elements [j0, j1) */
typedef struct adamw_job {
    float *p, *g, *m, *v;
    float b1, b2, eps, step, inv_bc2, decay, scale;
} adamw_job;

static void adamw_body(void *arg, int64_t j0, int64_t j1, int tid) {
    const adamw_job *a = arg;
    const float b1 = a->b1, b2 = a->b2;
    float *p = a->p, *g = a->g, *mm = a->m, *vv = a->v;
    (void)tid;
    for (int64_t j = j0; j < j1; j++) {
        const float gj = g[j];
        mm[j] = b1 * mm[j] + (1.0f - b1) * gj;
        vv[j] = b2 * vv[j] + (1.0f - b2) * gj * gj;
        p[j] = p[j] * a->decay - a->step * mm[j] / (sqrtf(vv[j] * a->inv_bc2) + a->eps);
    }
}

void ur_adamw_step(ur_tnet *n, float *m, float *v, int64_t t, float lr, const ur_adamw *o, ur_pool *pool) {
    const float b1 = o->beta1, b2 = o->beta2;
    const double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    for (int i = 0; i < n->n_tensors; i++) {
        const ur_ttensor *tt = &n->tensors[i];
        const int64_t cnt = tt->ne0 * tt->ne1;
        adamw_job a = {n->params + tt->off, n->grads + tt->off, m + tt->off, v + tt->off, b1, b2, o->eps,
                       (float)(lr / bc1), (float)(1.0 / bc2), tt->decay ? 1.0f - lr * o->weight_decay : 1.0f, 0};
        ur_pool_for(cnt > 32768 ? pool : NULL, cnt, 16384, adamw_body, &a);
    }
}

/* sum of squares of the 4096-element chunks [c0, c1) */
static double sumsq_body(void *arg, int64_t c0, int64_t c1, int tid) {
    const ur_tnet *n = arg;
    (void)tid;
    double total = 0.0;
    for (int64_t c = c0; c < c1; c++) {
        const float *g = n->grads + (size_t)c * 4096;
        const size_t len = (size_t)(c + 1) * 4096 <= n->n_params ? 4096 : n->n_params - (size_t)c * 4096;
        double s = 0.0;
        for (size_t j = 0; j < len; j++) s += (double)g[j] * g[j];
        total += s;
    }
    return total;
}

/* Sum of squares in double over fixed 4096-element chunks, chunks added in order
 * (one per reduction chunk): the same result for any thread count. */
double ur_grad_norm(const ur_tnet *n, ur_pool *pool) {
    const int64_t nch = (int64_t)((n->n_params + 4095) / 4096);
    return sqrt(ur_pool_sum(pool, nch, 1, sumsq_body, (void *)n));
}

static void scale_body(void *arg, int64_t j0, int64_t j1, int tid) {
    const adamw_job *a = arg;
    (void)tid;
    for (int64_t j = j0; j < j1; j++) a->g[j] *= a->scale;
}

void ur_grad_scale(ur_tnet *n, float s, ur_pool *pool) {
    adamw_job a = {.g = n->grads, .scale = s};
    ur_pool_for(n->n_params > 65536 ? pool : NULL, (int64_t)n->n_params, 65536, scale_body, &a);
}

void ur_grad_zero(ur_tnet *n) { memset(n->grads, 0, sizeof(float) * n->n_params); }

float ur_sched_lr(const ur_sched *s, int64_t step, int64_t total) {
    if (s->warmup > 0 && step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == UR_SCHED_CONST) return s->lr;
    const int64_t span = total - s->warmup - 1;
    const double f = span > 0 ? (double)(step - s->warmup) / (double)span : 0.0;
    const double x = f < 0 ? 0 : f > 1 ? 1 : f;
    if (s->kind == UR_SCHED_COSINE) return (float)(s->lr_end + (s->lr - s->lr_end) * 0.5 * (1.0 + cos(M_PI * x)));
    return (float)(s->lr + (s->lr_end - s->lr) * x);
}

int ur_sched_parse(const char *name) {
    if (!strcmp(name, "linear")) return UR_SCHED_LINEAR;
    if (!strcmp(name, "cosine")) return UR_SCHED_COSINE;
    if (!strcmp(name, "constant")) return UR_SCHED_CONST;
    return -1;
}
