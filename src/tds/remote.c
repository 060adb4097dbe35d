/* TDS with a remote base model: the aligned side computed here, the base side
 * read from an OpenAI-compatible server's prompt logprobs (see include/urial/tds.h,
 * "a remote base model"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/tds.h"

/* P(token) of one logits row, in double, max-subtracted: the same operations in the
 * same order as ur_tds_row's P_align, so the two agree bit for bit. */
static double row_prob(const float *a, int nv, int32_t token) {
    float ma = a[0];
    for (int i = 0; i < nv; i++)
        if (a[i] > ma) ma = a[i];
    double sa = 0;
    for (int i = 0; i < nv; i++) sa += exp((double)a[i] - ma);
    return exp((double)a[token] - (ma + log(sa)));
}

/* rows [i0, i1) of a chunk's logits: row i predicts next[i] */
typedef struct rows_job {
    const float *la;
    int nv;
    const int32_t *next;
    ur_tds_pos *out;
} rows_job;

static void rows_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const rows_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) {
        ur_tds_pos *p = &j->out[i];
        memset(p, 0, sizeof *p);
        p->token = j->next[i];
        p->p_align = row_prob(j->la + (size_t)i * j->nv, j->nv, j->next[i]);
        p->p_base = p->kl = NAN;
        for (int t = 0; t < UR_TDS_TOP; t++) p->top[t] = -1;
    }
}

int ur_tds_score_aligned(ur_ctx *aligned, const int32_t *seq, int n, int n_context, ur_tds_pos *out, ur_err *err) {
    const ur_model *ma = ur_ctx_model(aligned);
    const int nv = ma->hp.n_vocab;
    if (n_context < 1 || n <= n_context)
        return ur_errf(err, "tds: nothing to score (%d input and %d output tokens)", n_context, n - n_context);
    for (int i = n_context; i < n; i++)
        if (seq[i] < 0 || seq[i] >= nv)
            return ur_errf(err, "%s: output token id %d (position %d) is out of range [0, %d)", ma->gguf->path, seq[i],
                           i - n_context, nv);
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
        rows_job j = {la, nv, seq + r0 + 1, out + (r0 - first)};
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

int ur_tds_remote_parse(const char *json, size_t len, const int32_t *seq, int n, int n_context, int k,
                        ur_tds_pos *out, ur_err *err) {
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
        ur_tds_pos *p = &out[i - n_context];
        json_t *l = json_array_get(lps, (size_t)i), *top = json_array_get(tops, (size_t)i), *v;
        if (!json_is_number(l) || !json_is_object(top)) {
            rc = ur_errf(err, "the server's answer has no logprobs for prompt position %d", i);
            goto out;
        }
        const double lt = json_number_value(l);
        size_t m = json_object_size(top), ne = 0;
        const char *key;
        entry *g = ur_xrealloc(e, sizeof *e * (m ? m : 1));
        e = g;
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
        /* the server lists its top K and adds the token itself when it is not one of them */
        const int in_top = self && m <= (size_t)k;
        int above = 0;
        for (size_t j = 0; j < ne; j++) above += e[j].lp > lt || (e[j].lp == lt && e[j].id < seq[i]);
        if (in_top) e[ne++] = (entry){seq[i], lt};
        qsort(e, ne, sizeof *e, cmp_entry);
        p->rank = in_top ? above + 1 : 0;
        p->rank_gt = in_top ? 0 : k;
        p->cls = ur_tds_class_of(in_top ? p->rank : k + 1);
        p->p_base = exp(lt);
        p->kl = NAN;
        for (int j = 0; j < UR_TDS_TOP; j++) {
            p->top[j] = (size_t)j < ne ? e[j].id : -1;
            p->top_p[j] = (size_t)j < ne ? exp(e[j].lp) : 0;
        }
    }
out:
    free(e);
    json_decref(o);
    return rc;
}
