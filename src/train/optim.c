/* AdamW, gradient norm and clipping, learning-rate schedules (train.h). All loops
 * run over the one gradient buffer, tensor by tensor (weight decay is per tensor). */
#include <math.h>
#include <string.h>

#include "urial/train.h"

void ur_adamw_step(ur_tnet *n, float *m, float *v, int64_t t, float lr, const ur_adamw *o, int nthreads) {
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    const float step = (float)(lr / bc1), inv_bc2 = (float)(1.0 / bc2);
    for (int i = 0; i < n->n_tensors; i++) {
        const ur_ttensor *tt = &n->tensors[i];
        const int64_t cnt = tt->ne0 * tt->ne1;
        float *p = n->params + tt->off, *g = n->grads + tt->off, *mm = m + tt->off, *vv = v + tt->off;
        const float decay = tt->decay ? 1.0f - lr * o->weight_decay : 1.0f;
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nthreads > 1 && cnt > 32768)
        for (int64_t j = 0; j < cnt; j++) {
            const float gj = g[j];
            mm[j] = b1 * mm[j] + (1.0f - b1) * gj;
            vv[j] = b2 * vv[j] + (1.0f - b2) * gj * gj;
            p[j] = p[j] * decay - step * mm[j] / (sqrtf(vv[j] * inv_bc2) + eps);
        }
    }
}

/* Sum of squares in double over fixed 4096-element chunks, chunks added in order:
 * the same result for any thread count. */
double ur_grad_norm(const ur_tnet *n, int nthreads) {
    const size_t CH = 4096, nch = (n->n_params + CH - 1) / CH;
    double total = 0.0;
    for (size_t c0 = 0; c0 < nch; c0 += 256) {
        double part[256];
        const size_t c1 = c0 + 256 < nch ? c0 + 256 : nch;
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nthreads > 1)
        for (size_t c = c0; c < c1; c++) {
            const float *g = n->grads + c * CH;
            const size_t len = (c + 1) * CH <= n->n_params ? CH : n->n_params - c * CH;
            double s = 0.0;
            for (size_t j = 0; j < len; j++) s += (double)g[j] * g[j];
            part[c - c0] = s;
        }
        for (size_t c = c0; c < c1; c++) total += part[c - c0];
    }
    return sqrt(total);
}

void ur_grad_scale(ur_tnet *n, float s, int nthreads) {
    float *g = n->grads;
    const size_t cnt = n->n_params;
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nthreads > 1 && cnt > 65536)
    for (size_t j = 0; j < cnt; j++) g[j] *= s;
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
