/* Linear layers: y[N][out] = x[N][in] W^T, with W trainable (F32 GEMM in both
 * directions) or frozen in the base model's mapping plus LoRA adapters.
 *
 * Frozen weights: the forward uses ur_matmul on the stored type (quantized
 * weights with quantized activations, as inference does; F32 weights through the
 * GEMM). The backward needs dx = dy W, the transposed product, which no quantized
 * kernel provides: W is dequantized TR_DEQ_ROWS rows at a time into scratch and
 * multiplied with the F32 GEMM (dx += dy[:, r0:r1] W[r0:r1, :]), so the scratch
 * stays small for any vocabulary and the dequantization (rows x in per call) is
 * small next to the GEMM (N x rows x in).
 *
 * A frozen weight may have nx trainable rows after its own (the output rows of
 * tokens added to the vocabulary): y's last nx columns are x xw^T, and their
 * gradient flows to xw and into dx like any trainable weight's. */
#include <string.h>

#include "train/internal.h"

/* y = x W^T for a frozen weight (rows of y ldy apart) */
static void frozen_mul(ur_tctx *c, const ur_weight *w, const float *x, int N, float *y, int ldy) {
    if (w->type == UR_TYPE_F32) {
        ur_sgemm(0, 1, N, (int)w->rows, (int)w->cols, 1.0f, x, (long)w->cols, w->data, (long)w->cols, 0.0f, y, ldy,
                 c->pool, &c->ws[c->nt]);
        return;
    }
    ur_act_prepare(&c->act, ur_act_type(w->type), x, N, w->cols, c->pool);
    ur_matmul(w->data, w->type, w->rows, &c->act, y, ldy, c->pool);
}

/* rows [r0 + i0, r0 + i1) of a frozen weight into deq */
typedef struct deq_job {
    const ur_weight *w;
    float *deq;
    int r0, in;
} deq_job;

static void deq_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const deq_job *j = arg;
    (void)tid;
    for (int64_t r = i0; r < i1; r++)
        ur_dequantize_row(j->w->type, (const uint8_t *)j->w->data + (size_t)(j->r0 + r) * j->w->row_bytes,
                          j->deq + (size_t)r * j->in, j->in);
}

/* dx (+)= dy W for a frozen weight (rows of dy ldy apart) */
static void frozen_mul_t(ur_tctx *c, const ur_weight *w, const float *dy, int ldy, int N, float *dx, int acc) {
    const int in = (int)w->cols, out = (int)w->rows;
    if (w->type == UR_TYPE_F32) {
        ur_sgemm(0, 0, N, in, out, 1.0f, dy, ldy, w->data, in, acc ? 1.0f : 0.0f, dx, in, c->pool, &c->ws[c->nt]);
        return;
    }
    for (int r0 = 0; r0 < out; r0 += TR_DEQ_ROWS) {
        const int nr = out - r0 < TR_DEQ_ROWS ? out - r0 : TR_DEQ_ROWS;
        deq_job j = {w, c->deq, r0, in};
        ur_pool_for(c->pool, nr, 0, deq_body, &j);
        ur_sgemm(0, 0, N, in, nr, 1.0f, dy + r0, ldy, c->deq, in, (acc || r0 > 0) ? 1.0f : 0.0f, dx, in, c->pool,
                 &c->ws[c->nt]);
    }
}

void tr_lin_fwd(ur_tctx *c, const ur_tlin *l, const float *x, int N, float *y) {
    ur_gemm_ws *ws = &c->ws[c->nt];
    if (l->w) ur_sgemm(0, 1, N, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, y, l->out, c->pool, ws);
    else frozen_mul(c, &l->fz, x, N, y, l->out);
    if (!l->w && l->nx) /* the new rows: y[:, rows:] = x xw^T */
        ur_sgemm(0, 1, N, l->nx, l->in, 1.0f, x, l->in, l->xw, l->in, 0.0f, y + l->fz.rows, l->out, c->pool, ws);
    if (l->r) {
        /* y += s (x A^T) B^T */
        float *u = c->lora_u;
        ur_sgemm(0, 1, N, l->r, l->in, 1.0f, x, l->in, l->a, l->in, 0.0f, u, l->r, c->pool, ws);
        ur_sgemm(0, 1, N, l->out, l->r, l->s, u, l->r, l->b, l->r, 1.0f, y, l->out, c->pool, ws);
    }
}

void tr_lin_bwd(ur_tctx *c, const ur_tlin *l, const float *x, const float *dy, int N, float *dx, int acc) {
    ur_gemm_ws *ws = &c->ws[c->nt];
    if (l->w) {
        if (l->gw) ur_sgemm(1, 0, l->out, l->in, N, 1.0f, dy, l->out, x, l->in, 1.0f, l->gw, l->in, c->pool, ws);
        if (dx) ur_sgemm(0, 0, N, l->in, l->out, 1.0f, dy, l->out, l->w, l->in, acc ? 1.0f : 0.0f, dx, l->in, c->pool, ws);
    } else if (dx) {
        frozen_mul_t(c, &l->fz, dy, l->out, N, dx, acc);
    }
    if (!l->w && l->nx) { /* gxw += dy[:, rows:]^T x;  dx += dy[:, rows:] xw */
        const float *dyx = dy + l->fz.rows;
        ur_sgemm(1, 0, l->nx, l->in, N, 1.0f, dyx, l->out, x, l->in, 1.0f, l->gxw, l->in, c->pool, ws);
        if (dx) ur_sgemm(0, 0, N, l->in, l->nx, 1.0f, dyx, l->out, l->xw, l->in, 1.0f, dx, l->in, c->pool, ws);
    }
    if (l->r) {
        float *u = c->lora_u, *du = c->lora_du;
        /* u = x A^T;  gB += s dy^T u;  du = s dy B;  gA += du^T x;  dx += du A */
        ur_sgemm(0, 1, N, l->r, l->in, 1.0f, x, l->in, l->a, l->in, 0.0f, u, l->r, c->pool, ws);
        ur_sgemm(1, 0, l->out, l->r, N, l->s, dy, l->out, u, l->r, 1.0f, l->gb, l->r, c->pool, ws);
        ur_sgemm(0, 0, N, l->r, l->out, l->s, dy, l->out, l->b, l->r, 0.0f, du, l->r, c->pool, ws);
        ur_sgemm(1, 0, l->r, l->in, N, 1.0f, du, l->r, x, l->in, 1.0f, l->ga, l->in, c->pool, ws);
        if (dx) ur_sgemm(0, 0, N, l->in, l->r, 1.0f, du, l->r, l->a, l->in, 1.0f, dx, l->in, c->pool, ws);
    }
}
