/* TDS summary: counts, ratios and curves over the examples of a tokens.jsonl,
 * written as summary.json (and handed to report.c for report.html). Every number
 * is recomputed from the records, so the summary of a resumed run or of merged
 * shards is the summary of the whole. */
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

const int TDS_BUCKET_FROM[TDS_N_BUCKETS] = {0, 5, 10, 20, 50, 100, 200, 500, 1000};
const int TDS_FIRST[TDS_N_FIRST] = {5, 10, 20};

/* Grow a zero-filled array from `old` to `need` elements. */
#define GROW(p, old, need)                                                                                          \
    do {                                                                                                              \
        (p) = ur_xrealloc((p), sizeof *(p) * (size_t)(need));                                                            \
        memset((p) + (old), 0, sizeof *(p) * (size_t)((need) - (old)));                                               \
    } while (0)

static void agg_pos(tds_agg *a, int need) {
    if (need <= a->n_posv) return;
    int n = a->n_posv * 2 > need ? a->n_posv * 2 : need;
    GROW(a->pos_n, a->n_posv, n);
    for (int c = 0; c < 3; c++) GROW(a->pos_cls[c], a->n_posv, n);
    GROW(a->pos_kl, a->n_posv, n);
    a->n_posv = n;
}

static void agg_tok(tds_agg *a, int need) {
    if (need <= a->n_tok) return;
    int n = a->n_tok * 2 > need ? a->n_tok * 2 : need;
    for (int c = 0; c < 3; c++) GROW(a->tok_cnt[c], a->n_tok, n);
    GROW(a->tok_text, a->n_tok, n);
    a->n_tok = n;
}

static void agg_free(tds_agg *a) {
    for (int c = 0; c < 3; c++) free(a->pos_cls[c]), free(a->tok_cnt[c]);
    for (int i = 0; i < a->n_tok; i++) free(a->tok_text[i]);
    free(a->pos_n), free(a->pos_kl), free(a->tok_text);
}

static int cmp_count(const void *x, const void *y) {
    const tds_count *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

int tds_top_tokens(const tds_agg *a, int cls, int k, tds_count *out) {
    int n = 0;
    tds_count *all = ur_xrealloc(NULL, sizeof *all * (size_t)(a->n_tok ? a->n_tok : 1));
    for (int i = 0; i < a->n_tok; i++)
        if (a->tok_cnt[cls][i]) all[n++] = (tds_count){i, a->tok_cnt[cls][i]};
    qsort(all, (size_t)n, sizeof *all, cmp_count);
    if (n > k) n = k;
    memcpy(out, all, sizeof *all * (size_t)n);
    free(all);
    return n;
}

/* ---- reading the records ---------------------------------------------------------- */
typedef struct rec_ref {
    long index; /* "input_index" (or the record's position when absent) */
    int i;      /* position in the input array */
} rec_ref;

static int cmp_ref(const void *x, const void *y) {
    const rec_ref *a = x, *b = y;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static json_t *parse(const char *name, const char *text, int i, ur_err *err) {
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o) ur_errf(err, "%s: record %d is not valid JSON: %s", name, i + 1, je.text);
    else if (!json_is_object(o) || !json_is_array(json_object_get(o, "tokens"))) {
        ur_errf(err, "%s: record %d is not a TDS record (an object with a \"tokens\" array)", name, i + 1);
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Count one example; per_ex gets its summary.json entry. */
static int count_example(const char *name, json_t *rec, tds_agg *a, ur_buf *per_ex, ur_err *err) {
    json_t *toks = json_object_get(rec, "tokens"), *t;
    size_t n = json_array_size(toks), i;
    long cls[3] = {0, 0, 0}, nokl = 0;
    double kl = 0;
    char *id = json_dumps(json_object_get(rec, "id"), JSON_ENCODE_ANY | JSON_COMPACT);
    agg_pos(a, (int)n);
    json_array_foreach(toks, i, t) {
        json_t *tok = json_object_get(t, "token"), *rank = json_object_get(t, "rank"), *k = json_object_get(t, "kl");
        json_t *text = json_object_get(t, "text"), *gt = json_object_get(t, "rank_gt");
        /* a remote base: "rank":null with "rank_gt":K (η > K), "kl":null */
        const int beyond = json_is_null(rank) && json_is_integer(gt) && json_integer_value(gt) >= 1 &&
                           json_integer_value(gt) < (1 << 30);
        if (!json_is_integer(tok) || json_integer_value(tok) < 0 || json_integer_value(tok) >= (1 << 24) ||
            (!beyond && (!json_is_integer(rank) || json_integer_value(rank) < 1 || json_integer_value(rank) >= (1 << 30))) ||
            (!json_is_number(k) && !json_is_null(k)) || !json_is_string(text)) {
            ur_errf(err, "%s: example %s: position %zu lacks a \"token\", \"rank\", \"kl\" or \"text\"", name,
                    id ? id : "?", i);
            free(id);
            return -1;
        }
        int c = ur_tds_class_of(beyond ? (int)json_integer_value(gt) + 1 : (int)json_integer_value(rank));
        int tid = (int)json_integer_value(tok);
        double x = json_is_number(k) ? json_number_value(k) : 0;
        nokl += !json_is_number(k), a->n_gt += beyond;
        cls[c]++, kl += x;
        a->pos_n[i]++, a->pos_cls[c][i]++, a->pos_kl[i] += x;
        agg_tok(a, tid + 1);
        a->tok_cnt[c][tid]++;
        if (!a->tok_text[tid]) a->tok_text[tid] = ur_xstrdup(json_string_value(text));
    }
    a->n_ex++;
    a->n_pos += (long)n;
    for (int c = 0; c < 3; c++) a->cls[c] += cls[c];
    a->kl_sum += kl;
    a->n_nokl += nokl;
    double d = n ? (double)n : 1;
    json_t *idx = json_object_get(rec, "input_index");
    ur_buf_printf(per_ex, "%s\n    {\"id\":%s,\"input_index\":%lld,\"positions\":%zu,\"unshifted\":%ld,\"marginal\":%ld,"
                          "\"shifted\":%ld,\"ratios\":{\"unshifted\":%.6g,\"marginal\":%.6g,\"shifted\":%.6g},\"mean_kl\":",
                  a->n_ex > 1 ? "," : "", id ? id : "null", json_is_integer(idx) ? (long long)json_integer_value(idx) : -1LL,
                  n, cls[0], cls[1], cls[2], cls[0] / d, cls[1] / d, cls[2] / d);
    if (nokl) ur_buf_puts(per_ex, "null}");
    else ur_buf_printf(per_ex, "%.6g}", kl / d);
    free(id);
    return 0;
}

/* ---- summary.json ------------------------------------------------------------------ */
static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

static void put_top(ur_buf *b, const tds_agg *a, int cls) {
    tds_count top[50];
    int n = tds_top_tokens(a, cls, 50, top);
    ur_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        const char *t = a->tok_text[top[i].id] ? a->tok_text[top[i].id] : "";
        ur_buf_printf(b, "%s\n    {\"token\":%d,\"text\":", i ? "," : "", top[i].id);
        ur_buf_json_str(b, t, strlen(t));
        ur_buf_printf(b, ",\"count\":%ld}", top[i].count);
    }
    ur_buf_puts(b, n ? "\n  ]" : "]");
}

static void write_summary(const tds_agg *a, json_t *config, const ur_buf *per_ex, ur_buf *b) {
    char *cfg = config ? json_dumps(config, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    ur_buf_printf(b, "{\n  \"config\": %s,\n  \"examples\": %d,\n  \"positions\": %ld,\n", cfg ? cfg : "null", a->n_ex,
                  a->n_pos);
    free(cfg);
    ur_buf_printf(b, "  \"counts\": {\"unshifted\": %ld, \"marginal\": %ld, \"shifted\": %ld},\n", a->cls[0], a->cls[1],
                  a->cls[2]);
    ur_buf_printf(b, "  \"ratios\": {\"unshifted\": %.6g, \"marginal\": %.6g, \"shifted\": %.6g},\n",
                  ratio(a->cls[0], a->n_pos), ratio(a->cls[1], a->n_pos), ratio(a->cls[2], a->n_pos));
    const int nokl = a->n_nokl > 0; /* a remote base: KL not known, written as null */
    if (nokl)
        ur_buf_printf(b, "  \"mean_kl\": null,\n  \"kl_available\": false,\n  \"ranks_beyond_top_k\": %ld,\n", a->n_gt);
    else
        ur_buf_printf(b, "  \"mean_kl\": %.6g,\n", a->n_pos ? a->kl_sum / (double)a->n_pos : 0);

    /* the first N output tokens: how many of them are shifted, and which share of
     * all shifted positions they hold */
    ur_buf_puts(b, "  \"first_tokens\": [");
    for (int f = 0; f < TDS_N_FIRST; f++) {
        long n = 0, s = 0;
        for (int p = 0; p < TDS_FIRST[f] && p < a->n_posv; p++) n += a->pos_n[p], s += a->pos_cls[UR_TDS_SHIFTED][p];
        ur_buf_printf(b, "%s\n    {\"n\": %d, \"positions\": %ld, \"shifted\": %ld, \"shifted_ratio\": %.6g, "
                         "\"share_of_shifted\": %.6g}",
                      f ? "," : "", TDS_FIRST[f], n, s, ratio(s, n), ratio(s, a->cls[UR_TDS_SHIFTED]));
    }
    ur_buf_puts(b, "\n  ],\n  \"by_bucket\": [");
    for (int k = 0; k < TDS_N_BUCKETS; k++) {
        int from = TDS_BUCKET_FROM[k], to = k + 1 < TDS_N_BUCKETS ? TDS_BUCKET_FROM[k + 1] - 1 : -1;
        long n = 0, c[3] = {0, 0, 0};
        double kl = 0;
        for (int p = from; p < a->n_posv && (to < 0 || p <= to); p++) {
            n += a->pos_n[p], kl += a->pos_kl[p];
            for (int j = 0; j < 3; j++) c[j] += a->pos_cls[j][p];
        }
        ur_buf_printf(b, "%s\n    {\"from\": %d, \"to\": %d, \"positions\": %ld, \"unshifted\": %.6g, \"marginal\": %.6g, "
                         "\"shifted\": %.6g, \"mean_kl\": ",
                      k ? "," : "", from, to, n, ratio(c[0], n), ratio(c[1], n), ratio(c[2], n));
        if (nokl) ur_buf_puts(b, "null}");
        else ur_buf_printf(b, "%.6g}", n ? kl / (double)n : 0);
    }
    /* per position, as columns: positions seen at t, and the class ratios and mean KL there */
    int np = 0;
    for (int p = 0; p < a->n_posv; p++)
        if (a->pos_n[p]) np = p + 1;
    ur_buf_puts(b, "\n  ],\n  \"by_position\": {\n    \"positions\": [");
    for (int p = 0; p < np; p++) ur_buf_printf(b, "%s%ld", p ? "," : "", a->pos_n[p]);
    static const char *names[3] = {"unshifted", "marginal", "shifted"};
    for (int c = 0; c < 3; c++) {
        ur_buf_printf(b, "],\n    \"%s\": [", names[c]);
        for (int p = 0; p < np; p++) ur_buf_printf(b, "%s%.4g", p ? "," : "", ratio(a->pos_cls[c][p], a->pos_n[p]));
    }
    if (nokl) {
        ur_buf_puts(b, "],\n    \"mean_kl\": null\n  },\n  \"top_shifted\": ");
    } else {
        ur_buf_puts(b, "],\n    \"mean_kl\": [");
        for (int p = 0; p < np; p++) ur_buf_printf(b, "%s%.4g", p ? "," : "", a->pos_kl[p] / (double)a->pos_n[p]);
        ur_buf_puts(b, "]\n  },\n  \"top_shifted\": ");
    }
    put_top(b, a, UR_TDS_SHIFTED);
    ur_buf_puts(b, ",\n  \"top_unshifted\": ");
    put_top(b, a, UR_TDS_UNSHIFTED);
    ur_buf_puts(b, ",\n  \"per_example\": [");
    ur_buf_put(b, per_ex->data ? per_ex->data : "", per_ex->len);
    ur_buf_puts(b, a->n_ex ? "\n  ]\n}\n" : "]\n}\n");
}

int ur_tds_summarize(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html,
                     ur_err *err) {
    /* pass 1: the order (by input_index); pass 2: count, one record at a time */
    rec_ref *refs = ur_xrealloc(NULL, sizeof *refs * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        json_t *o = parse(name, records[i], i, err);
        if (!o) {
            free(refs);
            return -1;
        }
        json_t *idx = json_object_get(o, "input_index");
        refs[i] = (rec_ref){json_is_integer(idx) ? (long)json_integer_value(idx) : i, i};
        json_decref(o);
    }
    qsort(refs, (size_t)n, sizeof *refs, cmp_ref);
    tds_agg a;
    memset(&a, 0, sizeof a);
    ur_buf per_ex = {0};
    json_t *config = NULL;
    tds_report *rep = html ? tds_report_new() : NULL;
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        json_t *o = parse(name, records[refs[k].i], refs[k].i, err);
        if (!o || count_example(name, o, &a, &per_ex, err)) rc = -1;
        else {
            if (!config) config = json_incref(json_object_get(o, "config"));
            if (rep) tds_report_example(rep, o);
        }
        json_decref(o);
    }
    if (!rc) {
        size_t start = summary->len;
        write_summary(&a, config, &per_ex, summary);
        if (rep) tds_report_finish(rep, &a, summary->data + start, config, html);
    }
    tds_report_free(rep);
    json_decref(config);
    ur_buf_free(&per_ex);
    agg_free(&a);
    free(refs);
    return rc;
}
