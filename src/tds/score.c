/* TDS scoring: per-position statistics from two models' teacher-forced logits.
 * See include/urial/tds.h for the definitions (rank, classes, KL). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

const char *ur_tds_class_name(int cls) {
    static const char *names[] = {"unshifted", "marginal", "shifted"};
    return cls >= 0 && cls <= UR_TDS_SHIFTED ? names[cls] : "unknown";
}

int ur_tds_class_of(int rank) { return rank <= 1 ? UR_TDS_UNSHIFTED : rank <= 3 ? UR_TDS_MARGINAL : UR_TDS_SHIFTED; }

const char *ur_tds_rank_name(int mode) { return mode == UR_TDS_RANK_GIVEN ? "given" : "aligned"; }

int ur_tds_tr(int rank) { return rank >= 1 && rank <= UR_TDS_TOPK ? rank - 1 : UR_TDS_TR_ABSENT; }

/* The k largest entries of x[0..n), best first; ties: the lower id first (ids
 * arrive in increasing order, so a strict > keeps the earlier one ahead). */
static void top_k(const float *x, int n, int k, int32_t *ids) {
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && !(x[i] > x[ids[k - 1]])) continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && x[i] > x[ids[j - 1]]) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = i;
    }
    for (int j = have; j < k; j++) ids[j] = -1;
}

/* log-weights of a top-k list: log softmax over the list's logits */
static void list_lw(const float *x, const int32_t *ids, int k, double *lw) {
    double s = 0, m = ids[0] >= 0 ? x[ids[0]] : 0;
    for (int j = 0; j < k && ids[j] >= 0; j++) s += exp((double)x[ids[j]] - m);
    const double ls = log(s);
    for (int j = 0; j < k; j++) lw[j] = ids[j] >= 0 ? (double)x[ids[j]] - m - ls : -INFINITY;
}

void ur_tds_topk_stats(const int32_t *bid, const double *blw, const int32_t *aid, const double *alw, int32_t ranked,
                       double *tp, double *kl) {
    double s = 0, p = 0;
    for (int i = 0; i < UR_TDS_TOPK && bid[i] >= 0; i++) {
        if (bid[i] == ranked) p = exp(blw[i]);
        for (int j = 0; j < UR_TDS_TOPK && aid[j] >= 0; j++)
            if (aid[j] == bid[i]) {
                s += exp(blw[i]) * (blw[i] - alw[j]);
                break;
            }
    }
    *tp = p, *kl = s;
}

/* Two passes over a row pair (n_vocab floats each):
 *  1. both models' top UR_TDS_TOPK (so both maxima, the aligned model's top token
 *     and the base's top 3);
 *  2. in double: S_b = Σ e^(b_i - m_b), S_a = Σ e^(a_i - m_a),
 *     W_a = Σ e^(a_i - m_a) (a_i - b_i) and W_b = Σ e^(b_i - m_b) (b_i - a_i), so that
 *     with lse = m + ln S
 *       KL(P_a ‖ P_b) = W_a / S_a - lse_a + lse_b,  KL(P_b ‖ P_a) = W_b / S_b - lse_b + lse_a;
 *     and the base rank of the ranked token.
 * Identical rows give W = 0 and lse_a = lse_b exactly, hence both KLs = 0 exactly,
 * identical top-k lists and so a top-k KL of exactly 0. */
void ur_tds_row(const float *b, const float *a, int nv, int32_t token, int mode, ur_tds_pos *out) {
    int32_t bt[UR_TDS_TOPK], at[UR_TDS_TOPK];
    const int k = nv < UR_TDS_TOPK ? nv : UR_TDS_TOPK;
    top_k(b, nv, k, bt);
    top_k(a, nv, k, at);
    for (int j = k; j < UR_TDS_TOPK; j++) bt[j] = at[j] = -1;
    const int32_t r = mode == UR_TDS_RANK_GIVEN ? token : at[0];
    const float mb = b[bt[0]], ma = a[at[0]], br = b[r];
    int above = 0;
    double sb = 0, sa = 0, wa = 0, wb = 0;
    for (int i = 0; i < nv; i++) {
        const double eb = exp((double)b[i] - mb), ea = exp((double)a[i] - ma), d = (double)a[i] - (double)b[i];
        sb += eb;
        sa += ea;
        wa += ea * d;
        wb -= eb * d;
        above += b[i] > br || (b[i] == br && i < r);
    }
    const double lse_b = mb + log(sb), lse_a = ma + log(sa);
    out->token = token;
    out->aligned_top = at[0];
    out->ranked = r;
    out->rank = above + 1;
    out->rank_gt = 0;
    out->cls = ur_tds_class_of(out->rank);
    out->p_base = exp((double)br - lse_b);
    out->p_align = exp((double)a[r] - lse_a);
    const double kab = wa / sa - lse_a + lse_b, kba = wb / sb - lse_b + lse_a;
    out->kl_ab = kab > 0 ? kab : 0; /* rounding can give -1e-17 for nearly equal rows */
    out->kl_ba = kba > 0 ? kba : 0;
    double blw[UR_TDS_TOPK], alw[UR_TDS_TOPK];
    list_lw(b, bt, UR_TDS_TOPK, blw);
    list_lw(a, at, UR_TDS_TOPK, alw);
    ur_tds_topk_stats(bt, blw, at, alw, r, &out->tp, &out->kl_topk);
    for (int j = 0; j < UR_TDS_TOP; j++) {
        out->top[j] = j < k ? bt[j] : -1;
        out->top_p[j] = j < k ? exp((double)b[bt[j]] - lse_b) : 0;
    }
}

/* The aligned side alone (a remote base): what ur_tds_row computes from the
 * aligned row, bit for bit, and its top-k list. */
void ur_tds_row_aligned(const float *a, int nv, int32_t token, int mode, ur_tds_pos *out, ur_tds_topk *tk) {
    int32_t at[UR_TDS_TOPK];
    const int k = nv < UR_TDS_TOPK ? nv : UR_TDS_TOPK;
    top_k(a, nv, k, at);
    for (int j = k; j < UR_TDS_TOPK; j++) at[j] = -1;
    const int32_t r = mode == UR_TDS_RANK_GIVEN ? token : at[0];
    const float ma = a[at[0]];
    double sa = 0;
    for (int i = 0; i < nv; i++) sa += exp((double)a[i] - ma);
    memset(out, 0, sizeof *out);
    out->token = token;
    out->aligned_top = at[0];
    out->ranked = r;
    out->p_align = exp((double)a[r] - (ma + log(sa)));
    out->p_base = out->tp = out->kl_ab = out->kl_ba = out->kl_topk = NAN;
    for (int j = 0; j < UR_TDS_TOP; j++) out->top[j] = -1;
    memcpy(tk->id, at, sizeof at);
    list_lw(a, at, UR_TDS_TOPK, tk->lw);
}

int ur_tds_same_vocab(const ur_model *base, const ur_model *aligned, ur_err *err) {
    const ur_vocab *vb = base->vocab, *va = aligned->vocab;
    const char *pb = base->gguf->path, *pa = aligned->gguf->path;
    int nb = ur_vocab_size(vb), na = ur_vocab_size(va);
    if (nb != na || base->hp.n_vocab != aligned->hp.n_vocab)
        return ur_errf(err, "%s and %s have different tokenizers (%d and %d tokens): TDS needs one vocabulary", pb, pa,
                       nb, na);
    if (ur_vocab_bos(vb) != ur_vocab_bos(va) || ur_vocab_eos(vb) != ur_vocab_eos(va))
        return ur_errf(err, "%s and %s have different tokenizers (BOS/EOS ids %d/%d and %d/%d): TDS needs one vocabulary",
                       pb, pa, ur_vocab_bos(vb), ur_vocab_eos(vb), ur_vocab_bos(va), ur_vocab_eos(va));
    for (int32_t i = 0; i < nb; i++) {
        size_t lb, la;
        const char *sb = ur_vocab_piece(vb, i, &lb), *sa = ur_vocab_piece(va, i, &la);
        if (lb != la || memcmp(sb, sa, lb) || ur_vocab_type(vb, i) != ur_vocab_type(va, i))
            return ur_errf(err, "%s and %s have different tokenizers (token %d is '%.*s' and '%.*s'): TDS needs one vocabulary",
                           pb, pa, i, (int)(lb < 40 ? lb : 40), sb, (int)(la < 40 ? la : 40), sa);
    }
    return 0;
}

/* One model's side of the scoring: its sequence goes through it in chunks of B
 * tokens from position 0 (as one ur_decode call would cut it); buf holds the rows
 * of answer positions [lo, hi) of the last chunk decoded. */
typedef struct tds_side {
    ur_ctx *c;
    const ur_tds_seq *s;
    float *buf;
    int next, lo, hi;
} tds_side;

/* Decode chunks until one gives answer rows (row r after ids[r] predicts ids[r + 1],
 * so the answer needs rows n_context - 1 .. n - 2; ids[n - 1] is never fed). */
static int side_advance(tds_side *d, int B, ur_err *err) {
    const int m = d->s->n - 1, first = d->s->n_context - 1;
    while (d->next < m) {
        const int i0 = d->next, nb = m - i0 < B ? m - i0 : B;
        const int r0 = i0 > first ? i0 : first, rows = i0 + nb > r0 ? i0 + nb - r0 : 0;
        if (ur_decode_last(d->c, d->s->ids + i0, nb, d->buf, rows, err)) return -1;
        d->next += nb;
        if (rows) {
            d->lo = r0 - first, d->hi = d->lo + rows;
            return 0;
        }
    }
    return ur_errf(err, "tds: internal error: no rows left for answer position %d", d->hi);
}

static int check_seq(const ur_model *m, const ur_tds_seq *s, ur_err *err) {
    const int nv = m->hp.n_vocab;
    if (s->n_context < 1 || s->n <= s->n_context)
        return ur_errf(err, "tds: nothing to score (%d input and %d output tokens)", s->n_context, s->n - s->n_context);
    for (int i = 0; i < s->n; i++)
        if (s->ids[i] < 0 || s->ids[i] >= nv)
            return ur_errf(err, "%s: token id %d (%s position %d) is out of range [0, %d)", m->gguf->path, s->ids[i],
                           i < s->n_context ? "input" : "answer", i < s->n_context ? i : i - s->n_context, nv);
    return 0;
}

/* answer positions done + [i0, i1) of the rows both sides hold (run on the pool) */
typedef struct rows_job {
    const tds_side *b, *a;
    int nv;
    const int32_t *o;
    int mode;
    ur_tds_pos *out;
    int done;
} rows_job;

static void rows_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const rows_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) {
        const int t = j->done + (int)i;
        ur_tds_row(j->b->buf + (size_t)(t - j->b->lo) * j->nv, j->a->buf + (size_t)(t - j->a->lo) * j->nv, j->nv,
                   j->o[t], j->mode, &j->out[t]);
    }
}

int ur_tds_score(ur_ctx *base, ur_ctx *aligned, const ur_tds_seq *sb, const ur_tds_seq *sa, int mode,
                 ur_tds_pos *out, ur_err *err) {
    const ur_model *mb = ur_ctx_model(base), *ma = ur_ctx_model(aligned);
    const int nv = mb->hp.n_vocab, T = sa->n - sa->n_context;
    if (ma->hp.n_vocab != nv)
        return ur_errf(err, "%s and %s have different vocabulary sizes (%d and %d)", mb->gguf->path, ma->gguf->path,
                       nv, ma->hp.n_vocab);
    if (check_seq(ma, sa, err) || check_seq(mb, sb, err)) return -1;
    if (sb->n - sb->n_context != T ||
        memcmp(sb->ids + sb->n_context, sa->ids + sa->n_context, sizeof *sa->ids * (size_t)T))
        return ur_errf(err, "tds: the base's and the aligned model's sequences do not end in the same answer tokens");
    const size_t rowsz = sizeof(float) * (size_t)nv;
    tds_side b = {base, sb, malloc(rowsz * (size_t)ur_ctx_n_batch(base)), 0, 0, 0};
    tds_side a = {aligned, sa, malloc(rowsz * (size_t)ur_ctx_n_batch(aligned)), 0, 0, 0};
    if (!b.buf || !a.buf) {
        free(b.buf), free(a.buf);
        return ur_errf(err, "%s: out of memory for 2 x %d x %d logits", mb->gguf->path, ur_ctx_n_batch(base), nv);
    }
    ur_ctx_truncate(base, 0);
    ur_ctx_truncate(aligned, 0);
    int rc = 0, done = 0;
    const int32_t *o = sa->ids + sa->n_context;
    while (done < T && !rc) {
        if ((b.hi <= done && side_advance(&b, ur_ctx_n_batch(base), err)) ||
            (a.hi <= done && side_advance(&a, ur_ctx_n_batch(aligned), err))) {
            rc = -1;
            break;
        }
        const int end = b.hi < a.hi ? b.hi : a.hi;
        rows_job j = {&b, &a, nv, o, mode, out, done};
        ur_pool_for(ur_ctx_pool(base), end - done, 4, rows_body, &j);
        done = end;
    }
    free(b.buf), free(a.buf);
    return rc;
}
