/* TDS scoring: per-position statistics from two models' teacher-forced logits.
 * See include/urial/tds.h for the definitions (rank, classes, KL). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "urial/tds.h"

const char *ur_tds_class_name(int cls) {
    static const char *names[] = {"unshifted", "marginal", "shifted"};
    return cls >= 0 && cls <= UR_TDS_SHIFTED ? names[cls] : "unknown";
}

int ur_tds_class_of(int rank) { return rank <= 1 ? UR_TDS_UNSHIFTED : rank <= 3 ? UR_TDS_MARGINAL : UR_TDS_SHIFTED; }

/* Two passes over a row pair (n_vocab floats each):
 *  1. the base rank of `token`, the base's top 3 and both maxima;
 *  2. in double: S_b = Σ e^(b_i - m_b), S_a = Σ e^(a_i - m_a) and
 *     W = Σ e^(a_i - m_a) (a_i - b_i), so that with lse = m + ln S
 *       KL(P_a ‖ P_b) = Σ p_a,i (ln p_a,i - ln p_b,i) = W / S_a - lse_a + lse_b.
 * Identical rows give W = 0 and lse_a = lse_b exactly, hence KL = 0 exactly. */
void ur_tds_row(const float *b, const float *a, int nv, int32_t token, ur_tds_pos *out) {
    const float bt = b[token];
    int above = 0, top[UR_TDS_TOP];
    float mb = b[0], ma = a[0];
    for (int j = 0; j < UR_TDS_TOP; j++) top[j] = -1;
    for (int i = 0; i < nv; i++) {
        const float x = b[i];
        above += x > bt || (x == bt && i < token);
        if (x > mb) mb = x;
        if (a[i] > ma) ma = a[i];
        /* ids arrive in increasing order, so a strict > keeps the lower id first on ties */
        if (top[UR_TDS_TOP - 1] < 0 || x > b[top[UR_TDS_TOP - 1]]) {
            int j = UR_TDS_TOP - 1;
            while (j > 0 && (top[j - 1] < 0 || x > b[top[j - 1]])) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = i;
        }
    }
    double sb = 0, sa = 0, w = 0;
    for (int i = 0; i < nv; i++) {
        const double eb = exp((double)b[i] - mb), ea = exp((double)a[i] - ma);
        sb += eb;
        sa += ea;
        w += ea * ((double)a[i] - (double)b[i]);
    }
    const double lse_b = mb + log(sb), lse_a = ma + log(sa);
    out->token = token;
    out->rank = above + 1;
    out->rank_gt = 0;
    out->cls = ur_tds_class_of(out->rank);
    out->p_base = exp((double)bt - lse_b);
    out->p_align = exp((double)a[token] - lse_a);
    double kl = w / sa - lse_a + lse_b;
    out->kl = kl > 0 ? kl : 0; /* rounding can give -1e-17 for nearly equal rows */
    for (int j = 0; j < UR_TDS_TOP; j++) {
        out->top[j] = top[j];
        out->top_p[j] = top[j] >= 0 ? exp((double)b[top[j]] - lse_b) : 0;
    }
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

/* rows [i0, i1) of a chunk's two logits blocks: row i predicts next[i] */
typedef struct rows_job {
    const float *lb, *la;
    int nv;
    const int32_t *next;
    ur_tds_pos *out;
} rows_job;

static void rows_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const rows_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++)
        ur_tds_row(j->lb + (size_t)i * j->nv, j->la + (size_t)i * j->nv, j->nv, j->next[i], &j->out[i]);
}

int ur_tds_score(ur_ctx *base, ur_ctx *aligned, const int32_t *seq, int n, int n_context, ur_tds_pos *out,
                 ur_err *err) {
    const ur_model *mb = ur_ctx_model(base), *ma = ur_ctx_model(aligned);
    const int nv = mb->hp.n_vocab;
    if (ma->hp.n_vocab != nv)
        return ur_errf(err, "%s and %s have different vocabulary sizes (%d and %d)", mb->gguf->path, ma->gguf->path,
                       nv, ma->hp.n_vocab);
    if (n_context < 1 || n <= n_context)
        return ur_errf(err, "tds: nothing to score (%d input and %d output tokens)", n_context, n - n_context);
    for (int i = n_context; i < n; i++)
        if (seq[i] < 0 || seq[i] >= nv)
            return ur_errf(err, "%s: output token id %d (position %d) is out of range [0, %d)", mb->gguf->path, seq[i],
                           i - n_context, nv);
    /* Row r of the teacher-forced logits (after seq[r]) predicts seq[r + 1], so the
     * answer needs rows n_context-1 .. n-2 and seq[n-1] is never fed. Chunks start at
     * multiples of B from position 0, as in one ur_decode call; in each, the rows
     * from `first` on are a tail of the chunk (ur_decode_last). */
    const int B = ur_ctx_n_batch(base), m = n - 1, first = n_context - 1;
    float *lb = malloc(sizeof(float) * (size_t)B * (size_t)nv), *la = malloc(sizeof(float) * (size_t)B * (size_t)nv);
    if (!lb || !la) {
        free(lb), free(la);
        return ur_errf(err, "%s: out of memory for %d x %d logits", mb->gguf->path, B, nv);
    }
    ur_ctx_truncate(base, 0);
    ur_ctx_truncate(aligned, 0);
    int rc = 0;
    for (int i0 = 0; i0 < m && !rc; i0 += B) {
        const int nb = m - i0 < B ? m - i0 : B;
        const int r0 = i0 > first ? i0 : first, rows = i0 + nb > r0 ? i0 + nb - r0 : 0;
        if (ur_decode_last(base, seq + i0, nb, lb, rows, err) || ur_decode_last(aligned, seq + i0, nb, la, rows, err)) {
            rc = -1;
            break;
        }
        rows_job j = {lb, la, nv, seq + r0 + 1, out + (r0 - first)};
        ur_pool_for(ur_ctx_pool(base), i0 + nb - r0, 4, rows_body, &j);
    }
    free(lb), free(la);
    return rc;
}
