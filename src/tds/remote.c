/* TDS with a remote base model: the aligned side computed here, the base side
 * read from an OpenAI-compatible server's prompt logprobs (see include/urial/tds.h,
 * "a remote base model"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tds/tds_int.h"

/* rows [i0, i1) of a chunk's logits: row i predicts next[i] (run on the pool) */
typedef struct rows_job {
    const float *la;
    int nv, mode;
    const int32_t *next;
    ur_tds_pos *out;
    ur_tds_topk *topk;
} rows_job;

static void rows_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const rows_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++)
        ur_tds_row_aligned(j->la + (size_t)i * j->nv, j->nv, j->next[i], j->mode, &j->out[i], &j->topk[i]);
}

int ur_tds_score_aligned(ur_ctx *aligned, const ur_tds_seq *sa, int mode, ur_tds_pos *out, ur_tds_topk *topk,
                         ur_err *err) {
    const ur_model *ma = ur_ctx_model(aligned);
    const int nv = ma->hp.n_vocab, n = sa->n, n_context = sa->n_context;
    const int32_t *seq = sa->ids;
    if (n_context < 1 || n <= n_context)
        return ur_errf(err, "tds: nothing to score (%d input and %d output tokens)", n_context, n - n_context);
    for (int i = 0; i < n; i++)
        if (seq[i] < 0 || seq[i] >= nv)
            return ur_errf(err, "%s: token id %d (position %d) is out of range [0, %d)", ma->gguf->path, seq[i], i, nv);
    /* the chunks of ur_tds_score (row r predicts seq[r + 1]), for the same logits */
    const int B = ur_ctx_n_batch(aligned), m = n - 1, first = n_context - 1;
    float *la = malloc(sizeof(float) * (size_t)B * (size_t)nv);
    if (!la) return ur_errf(err, "%s: out of memory for %d x %d logits", ma->gguf->path, B, nv);
    ur_ctx_truncate(aligned, 0);
    int rc = 0;
    for (int i0 = 0; i0 < m && !rc; i0 += B) {
        const int nb = m - i0 < B ? m - i0 : B;
        const int r0 = i0 > first ? i0 : first, rows = i0 + nb > r0 ? i0 + nb - r0 : 0;
        if (ur_decode_last(aligned, seq + i0, nb, la, rows, err)) {
            rc = -1;
            break;
        }
        rows_job j = {la, nv, mode, seq + r0 + 1, out + (r0 - first), topk + (r0 - first)};
        ur_pool_for(ur_ctx_pool(aligned), i0 + nb - r0, 4, rows_body, &j);
    }
    free(la);
    return rc;
}

char *ur_tds_remote_body(const char *model, const int32_t *seq, int n, int k, int max_tokens) {
    json_t *o = json_object(), *p = json_array();
    if (model && *model) json_object_set_new(o, "model", json_string(model));
    for (int i = 0; i < n; i++) json_array_append_new(p, json_integer(seq[i]));
    json_object_set_new(o, "prompt", p);
    json_object_set_new(o, "max_tokens", json_integer(max_tokens));
    json_object_set_new(o, "temperature", json_integer(0));
    json_object_set_new(o, "echo", json_true());
    json_object_set_new(o, "logprobs", json_integer(k));
    json_object_set_new(o, "return_tokens_as_token_ids", json_true());
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return t;
}

/* "token_id:ID" -> ID, or -1 */
static long token_id(const char *s) {
    if (!s || strncmp(s, "token_id:", 9) || !s[9]) return -1;
    char *end;
    long v = strtol(s + 9, &end, 10);
    return *end || v < 0 ? -1 : v;
}

typedef struct entry {
    int32_t id;
    double lp;
} entry;

static int cmp_entry(const void *x, const void *y) {
    const entry *a = x, *b = y;
    if (a->lp != b->lp) return a->lp > b->lp ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The base's fields of one position from the server's entries e[0..ne) (sorted, best
 * first; the written token's own entry included only when it is in the top K) and
 * the written token's logprob lt. */
static void fill_base(ur_tds_pos *p, const entry *e, size_t ne, double lt, int k, const ur_tds_topk *tk) {
    const int32_t r = p->ranked;
    int found = -1;
    for (size_t j = 0; j < ne && found < 0; j++)
        if (e[j].id == r) found = (int)j;
    p->rank = found >= 0 ? found + 1 : 0; /* entries are sorted with ties by id: the index is η - 1 */
    p->rank_gt = found >= 0 ? 0 : k;
    p->cls = ur_tds_class_of(found >= 0 ? p->rank : k + 1);
    p->p_base = r == p->token ? exp(lt) : found >= 0 ? exp(e[found].lp) : NAN;
    p->kl_ab = p->kl_ba = NAN;
    p->tp = p->kl_topk = NAN;
    if (ne >= UR_TDS_TOPK) { /* the base's top-k list, renormalised from its logprobs */
        int32_t bid[UR_TDS_TOPK];
        double blw[UR_TDS_TOPK], m = e[0].lp, s = 0;
        for (int j = 0; j < UR_TDS_TOPK; j++) s += exp(e[j].lp - m);
        for (int j = 0; j < UR_TDS_TOPK; j++) bid[j] = e[j].id, blw[j] = e[j].lp - m - log(s);
        ur_tds_topk_stats(bid, blw, tk->id, tk->lw, r, &p->tp, &p->kl_topk);
    }
    for (int j = 0; j < UR_TDS_TOP; j++) {
        p->top[j] = (size_t)j < ne ? e[j].id : -1;
        p->top_p[j] = (size_t)j < ne ? exp(e[j].lp) : 0;
    }
}

int ur_tds_remote_parse(const char *json, size_t len, const ur_tds_seq *b, int k, const ur_tds_topk *topk,
                        ur_tds_pos *out, ur_err *err) {
    const int32_t *seq = b->ids;
    const int n = b->n, n_context = b->n_context;
    json_t *o = json_loadb(json, len, 0, NULL);
    json_t *lp = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "logprobs");
    json_t *toks = json_object_get(lp, "tokens"), *lps = json_object_get(lp, "token_logprobs");
    json_t *tops = json_object_get(lp, "top_logprobs");
    int rc = 0;
    entry *e = NULL;
    if (!json_is_array(toks) || !json_is_array(lps) || !json_is_array(tops) || json_array_size(toks) < (size_t)n ||
        json_array_size(lps) < (size_t)n || json_array_size(tops) < (size_t)n) {
        rc = ur_errf(err, "the server's answer has no prompt logprobs for the %d tokens sent (does it take \"echo\" "
                          "with \"logprobs\"?): %.80s", n, json);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        long id = token_id(json_string_value(json_array_get(toks, (size_t)i)));
        if (id != seq[i]) {
            if (id < 0)
                rc = ur_errf(err, "the server's answer does not give tokens as \"token_id:ID\" (vLLM's "
                                  "\"return_tokens_as_token_ids\"), needed to read the base's ranks");
            else
                rc = ur_errf(err, "the server echoed token %ld at prompt position %d, not the %d sent", id, i, seq[i]);
            goto out;
        }
    }
    for (int i = n_context; i < n; i++) {
        json_t *l = json_array_get(lps, (size_t)i), *top = json_array_get(tops, (size_t)i), *v;
        if (!json_is_number(l) || !json_is_object(top)) {
            rc = ur_errf(err, "the server's answer has no logprobs for prompt position %d", i);
            goto out;
        }
        const double lt = json_number_value(l);
        size_t m = json_object_size(top), ne = 0;
        const char *key;
        e = ur_xrealloc(e, sizeof *e * (m ? m : 1));
        int self = 0;
        json_object_foreach(top, key, v) {
            long id = token_id(key);
            if (id < 0 || !json_is_number(v)) {
                rc = ur_errf(err, "the server's top_logprobs at prompt position %d has an entry '%.40s' that is not "
                                  "\"token_id:ID\": a number", i, key);
                goto out;
            }
            if (id == seq[i]) self = 1;
            else e[ne++] = (entry){(int32_t)id, json_number_value(v)};
        }
        /* the server lists its top K and adds the written token when it is not one of them */
        if (self && m <= (size_t)k) e[ne++] = (entry){seq[i], lt};
        qsort(e, ne, sizeof *e, cmp_entry);
        fill_base(&out[i - n_context], e, ne, lt, k, &topk[i - n_context]);
    }
out:
    free(e);
    json_decref(o);
    return rc;
}
