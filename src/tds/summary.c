/* TDS summary: counts, ratios and curves over the examples of a tokens.jsonl,
 * written as summary.json (and handed to report.c for report.html). Every number
 * is recomputed from the records, so the summary of a resumed run or of merged
 * shards is the summary of the whole. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

const int TDS_BUCKET_FROM[TDS_N_BUCKETS] = {0, 5, 10, 20, 50, 100, 200, 500, 1000};
const int TDS_FIRST[TDS_N_FIRST] = {5, 10, 20};
const char *const TDS_METRIC_KEY[M_N] = {"kl_align_base", "kl_base_align", "kl_topk", "p_base", "tp", "tr"};

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
    for (int m = 0; m < M_N; m++) GROW(a->pos_m[m], a->n_posv, n);
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
    for (int m = 0; m < M_N; m++) free(a->pos_m[m]);
    for (int i = 0; i < a->n_tok; i++) free(a->tok_text[i]);
    free(a->pos_n), free(a->tok_text);
    json_decref(a->words);
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

static int cmp_word(const void *x, const void *y) {
    const tds_word *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->text, b->text);
}

int tds_top_words(const tds_agg *a, int k, tds_word *out) {
    size_t n = json_object_size(a->words), i = 0;
    tds_word *all = ur_xmalloc(sizeof *all * (n ? n : 1));
    const char *key;
    json_t *v;
    json_object_foreach(a->words, key, v) all[i++] = (tds_word){key, (long)json_integer_value(v)};
    qsort(all, n, sizeof *all, cmp_word);
    if ((int)n > k) n = (size_t)k;
    memcpy(out, all, sizeof *all * n);
    free(all);
    return (int)n;
}

int tds_plot_len(const tds_agg *a) {
    long need = a->n_ex / 10 > 1 ? a->n_ex / 10 : 1;
    int len = 0;
    for (int p = 0; p < a->n_posv; p++)
        if (a->pos_n[p] >= need) len = p + 1;
    return len;
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

/* Records of the aligned-token ranking say so in their config; records without
 * "rank" (urial before issue 17) ranked the written token. */
static int rank_aligned(json_t *config) {
    json_t *r = json_object_get(config, "rank");
    return json_is_string(r) && !strcmp(json_string_value(r), "aligned");
}

/* ---- shifted words -------------------------------------------------------------------- */
static int word_char(unsigned char c) { return c >= 0x80 || isalnum(c) || c == '\''; }

/* The word of the answer text txt[0..n) that holds the token at [s, e): the run of
 * word characters around its first one; a token without one (punctuation, white
 * space) is its own text without surrounding spaces. */
static void word_at(const char *txt, size_t n, size_t s, size_t e, ur_buf *out) {
    size_t i = s;
    while (i < e && !word_char((unsigned char)txt[i])) i++;
    if (i == e) {
        while (s < e && txt[s] == ' ') s++;
        while (e > s && txt[e - 1] == ' ') e--;
        ur_buf_put(out, txt + s, e > s ? e - s : 0);
        if (!out->len) ur_buf_put(out, " ", 1);
        return;
    }
    size_t a = i, b = i;
    while (a > 0 && word_char((unsigned char)txt[a - 1])) a--;
    while (b < n && word_char((unsigned char)txt[b])) b++;
    while (a < b && txt[a] == '\'') a++;
    while (b > a && txt[b - 1] == '\'') b--;
    ur_buf_put(out, txt + a, b - a);
}

static void count_word(tds_agg *a, const char *w) {
    if (!a->words) a->words = json_object();
    json_t *v = json_object_get(a->words, w);
    if (v) json_integer_set(v, json_integer_value(v) + 1);
    else json_object_set_new(a->words, w, json_integer(1));
}

/* ---- one example ------------------------------------------------------------------------ */
static int metric(json_t *t, int m, double *x) {
    json_t *v = json_object_get(t, TDS_METRIC_KEY[m]);
    if (m == M_KL_AB && !v) v = json_object_get(t, "kl"); /* records before issue 17 */
    if (!json_is_number(v)) return 0;
    *x = json_number_value(v);
    return 1;
}

typedef struct ex_count {
    long cls[3], n_top, n_wt;
    tds_mean kl;
} ex_count;

/* One position: its class, means and token counts. 0, or -1 when it lacks a field. */
static int count_pos(tds_agg *a, json_t *t, int i, int T, int ra, ex_count *e) {
    json_t *tok = json_object_get(t, "token"), *rank = json_object_get(t, "rank"), *gt = json_object_get(t, "rank_gt");
    json_t *text = json_object_get(t, "text"), *top = json_object_get(t, "aligned_top");
    /* a remote base: "rank":null with "rank_gt":K (η > K) */
    const int beyond = json_is_null(rank) && json_is_integer(gt) && json_integer_value(gt) >= 1 &&
                       json_integer_value(gt) < (1 << 30);
    if (!json_is_integer(tok) || json_integer_value(tok) < 0 || json_integer_value(tok) >= (1 << 24) ||
        (!beyond && (!json_is_integer(rank) || json_integer_value(rank) < 1 || json_integer_value(rank) >= (1 << 30))) ||
        !json_is_string(text) || (top && (!json_is_integer(top) || json_integer_value(top) < 0 ||
                                          json_integer_value(top) >= (1 << 24))))
        return -1;
    const int eta = beyond ? (int)json_integer_value(gt) + 1 : (int)json_integer_value(rank);
    const int c = ur_tds_class_of(eta), written = (int)json_integer_value(tok);
    const int ranked = ra && top ? (int)json_integer_value(top) : written;
    json_t *rtext = ranked != written ? json_object_get(t, "aligned_top_text") : text;
    e->cls[c]++, a->n_gt += beyond;
    if (top) e->n_top++, e->n_wt += json_integer_value(top) == written;
    a->pos_n[i]++, a->pos_cls[c][i]++;
    const int rb = T ? (int)((long)i * TDS_REL_BINS / T) : 0;
    a->rel_n[rb]++, a->rel_cls[c][rb]++;
    for (int m = 0; m < M_N; m++) {
        double x;
        int known = m == M_TR ? (!beyond || eta > UR_TDS_TOPK) : metric(t, m, &x);
        if (m == M_TR) x = ur_tds_tr(eta);
        if (!known) continue;
        a->m[m].s += x, a->m[m].n++;
        a->pos_m[m][i].s += x, a->pos_m[m][i].n++;
        a->rel_m[m][rb].s += x, a->rel_m[m][rb].n++;
        if (m == M_KL_AB) e->kl.s += x, e->kl.n++;
    }
    agg_tok(a, ranked + 1);
    a->tok_cnt[c][ranked]++;
    if (!a->tok_text[ranked]) a->tok_text[ranked] = ur_xstrdup(json_is_string(rtext) ? json_string_value(rtext) : "?");
    return 0;
}

/* The shifted words of an example (after its positions are counted). */
static void count_words(tds_agg *a, json_t *toks, int ra) {
    size_t n = json_array_size(toks), i;
    size_t *off = ur_xmalloc(sizeof *off * (n + 1));
    ur_buf txt = {0}, w = {0};
    json_t *t;
    json_array_foreach(toks, i, t) {
        off[i] = txt.len;
        ur_buf_puts(&txt, json_string_value(json_object_get(t, "text")));
    }
    off[n] = txt.len;
    json_array_foreach(toks, i, t) {
        json_t *rank = json_object_get(t, "rank"), *gt = json_object_get(t, "rank_gt");
        json_t *top = json_object_get(t, "aligned_top"), *tok = json_object_get(t, "token");
        const int eta = json_is_integer(rank) ? (int)json_integer_value(rank) : (int)json_integer_value(gt) + 1;
        if (ur_tds_class_of(eta) != UR_TDS_SHIFTED) continue;
        w.len = 0;
        if (ra && top && json_integer_value(top) != json_integer_value(tok)) { /* a token not in the text */
            const char *s = json_string_value(json_object_get(t, "aligned_top_text"));
            word_at(s ? s : "?", strlen(s ? s : "?"), 0, strlen(s ? s : "?"), &w);
        } else {
            word_at(txt.data, txt.len, off[i], off[i + 1], &w);
        }
        count_word(a, w.data);
    }
    free(off);
    ur_buf_free(&txt), ur_buf_free(&w);
}

/* Count one example; per_ex gets its summary.json entry. */
static int count_example(const char *name, json_t *rec, int ra, tds_agg *a, ur_buf *per_ex, ur_err *err) {
    json_t *toks = json_object_get(rec, "tokens"), *t;
    size_t n = json_array_size(toks), i;
    ex_count e = {{0, 0, 0}, 0, 0, {0, 0}};
    char *id = json_dumps(json_object_get(rec, "id"), JSON_ENCODE_ANY | JSON_COMPACT);
    agg_pos(a, (int)n);
    json_array_foreach(toks, i, t) {
        if (count_pos(a, t, (int)i, (int)n, ra, &e)) {
            ur_errf(err, "%s: example %s: position %zu lacks a \"token\", \"rank\" or \"text\"", name, id ? id : "?", i);
            free(id);
            return -1;
        }
    }
    count_words(a, toks, ra);
    a->n_ex++;
    a->n_pos += (long)n;
    for (int c = 0; c < 3; c++) a->cls[c] += e.cls[c];
    a->n_top += e.n_top, a->n_written_top += e.n_wt;
    double d = n ? (double)n : 1;
    json_t *idx = json_object_get(rec, "input_index");
    ur_buf_printf(per_ex, "%s\n    {\"id\":%s,\"input_index\":%lld,\"positions\":%zu,\"unshifted\":%ld,\"marginal\":%ld,"
                          "\"shifted\":%ld,\"ratios\":{\"unshifted\":%.6g,\"marginal\":%.6g,\"shifted\":%.6g},",
                  a->n_ex > 1 ? "," : "", id ? id : "null", json_is_integer(idx) ? (long long)json_integer_value(idx) : -1LL,
                  n, e.cls[0], e.cls[1], e.cls[2], e.cls[0] / d, e.cls[1] / d, e.cls[2] / d);
    if (e.n_top) ur_buf_printf(per_ex, "\"written_is_aligned_top\":%.6g,", (double)e.n_wt / (double)e.n_top);
    else ur_buf_puts(per_ex, "\"written_is_aligned_top\":null,");
    if (e.kl.n < (long)n || !n) ur_buf_puts(per_ex, "\"mean_kl_align_base\":null}");
    else ur_buf_printf(per_ex, "\"mean_kl_align_base\":%.6g}", tds_mean_of(e.kl));
    free(id);
    return 0;
}

/* ---- summary.json ------------------------------------------------------------------ */
static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

static void put_mean(ur_buf *b, tds_mean m, const char *fmt) {
    if (!m.n) ur_buf_puts(b, "null");
    else ur_buf_printf(b, fmt, tds_mean_of(m));
}

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

static void put_words(ur_buf *b, const tds_agg *a) {
    tds_word w[60];
    int n = tds_top_words(a, 60, w);
    ur_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        ur_buf_puts(b, i ? ",\n    {\"word\":" : "\n    {\"word\":");
        ur_buf_json_str(b, w[i].text, strlen(w[i].text));
        ur_buf_printf(b, ",\"count\":%ld}", w[i].count);
    }
    ur_buf_puts(b, n ? "\n  ]" : "]");
}

static const char *const KL_NAME[3] = {"align_base", "base_align", "aligntds_topk"};
static const char *const KL_WHAT[3] = {
    "KL(P_align || P_base) over the whole vocabulary, nats",
    "KL(P_base || P_align) over the whole vocabulary, nats",
    "AlignTDS's compute_dist_diff.py: both models' top-30 logits renormalised by a softmax over each list, "
    "then the sum over the tokens in both lists of w_base ln(w_base / w_align) (KL(base || aligned) restricted "
    "to the shared top-30 tokens; it can be negative)"};

static void put_head(const tds_agg *a, json_t *config, ur_buf *b) {
    char *cfg = config ? json_dumps(config, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    ur_buf_printf(b, "{\n  \"config\": %s,\n  \"examples\": %d,\n  \"positions\": %ld,\n", cfg ? cfg : "null", a->n_ex,
                  a->n_pos);
    free(cfg);
    ur_buf_printf(b, "  \"counts\": {\"unshifted\": %ld, \"marginal\": %ld, \"shifted\": %ld},\n", a->cls[0], a->cls[1],
                  a->cls[2]);
    ur_buf_printf(b, "  \"ratios\": {\"unshifted\": %.6g, \"marginal\": %.6g, \"shifted\": %.6g},\n",
                  ratio(a->cls[0], a->n_pos), ratio(a->cls[1], a->n_pos), ratio(a->cls[2], a->n_pos));
    ur_buf_printf(b, "  \"written_is_aligned_top\": {\"positions\": %ld, \"count\": %ld, \"ratio\": ", a->n_top,
                  a->n_written_top);
    if (a->n_top) ur_buf_printf(b, "%.6g},\n", ratio(a->n_written_top, a->n_top));
    else ur_buf_puts(b, "null},\n");
    ur_buf_puts(b, "  \"kl\": {");
    for (int k = 0; k < 3; k++) {
        ur_buf_printf(b, "%s\n    \"%s\": {\"mean\": ", k ? "," : "", KL_NAME[k]);
        put_mean(b, a->m[k], "%.6g");
        ur_buf_puts(b, ", \"what\": ");
        ur_buf_json_str(b, KL_WHAT[k], strlen(KL_WHAT[k]));
        ur_buf_puts(b, "}");
    }
    ur_buf_puts(b, "\n  },\n  \"mean_p_base\": ");
    put_mean(b, a->m[M_PBASE], "%.6g");
    ur_buf_puts(b, ",\n  \"mean_tp\": ");
    put_mean(b, a->m[M_TP], "%.6g");
    ur_buf_puts(b, ",\n  \"mean_tr\": ");
    put_mean(b, a->m[M_TR], "%.6g");
    ur_buf_puts(b, ",\n");
    if (a->m[M_KL_AB].n < a->n_pos) /* a remote base: the full-vocabulary KLs are not known */
        ur_buf_printf(b, "  \"kl_available\": false,\n  \"ranks_beyond_top_k\": %ld,\n", a->n_gt);
}

/* The first N output tokens: how many of them are shifted, and which share of all
 * shifted positions they hold; then the position buckets. */
static void put_buckets(const tds_agg *a, ur_buf *b) {
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
        tds_mean kl = {0, 0};
        for (int p = from; p < a->n_posv && (to < 0 || p <= to); p++) {
            n += a->pos_n[p], kl.s += a->pos_m[M_KL_AB][p].s, kl.n += a->pos_m[M_KL_AB][p].n;
            for (int j = 0; j < 3; j++) c[j] += a->pos_cls[j][p];
        }
        ur_buf_printf(b, "%s\n    {\"from\": %d, \"to\": %d, \"positions\": %ld, \"unshifted\": %.6g, \"marginal\": %.6g, "
                         "\"shifted\": %.6g, \"mean_kl_align_base\": ",
                      k ? "," : "", from, to, n, ratio(c[0], n), ratio(c[1], n), ratio(c[2], n));
        if (kl.n < n) ur_buf_puts(b, "null}");
        else ur_buf_printf(b, "%.6g}", tds_mean_of(kl));
    }
    ur_buf_puts(b, "\n  ],\n");
}

/* Columns over np entries: the positions seen, the class ratios and the means. */
static void put_columns(ur_buf *b, const char *key, int np, const long *n, const long *const *cls,
                        const tds_mean *const *m) {
    ur_buf_printf(b, "  \"%s\": {\n    \"positions\": [", key);
    for (int p = 0; p < np; p++) ur_buf_printf(b, "%s%ld", p ? "," : "", n[p]);
    ur_buf_puts(b, "]");
    static const char *names[3] = {"unshifted", "marginal", "shifted"};
    for (int c = 0; c < 3; c++) {
        ur_buf_printf(b, ",\n    \"%s\": [", names[c]);
        for (int p = 0; p < np; p++) ur_buf_printf(b, "%s%.4g", p ? "," : "", ratio(cls[c][p], n[p]));
        ur_buf_puts(b, "]");
    }
    for (int k = 0; k < M_N; k++) {
        long known = 0;
        for (int p = 0; p < np; p++) known += m[k][p].n;
        ur_buf_printf(b, ",\n    \"%s\": %s", TDS_METRIC_KEY[k], known ? "[" : "null");
        if (!known) continue;
        for (int p = 0; p < np; p++) {
            ur_buf_puts(b, p ? "," : "");
            put_mean(b, m[k][p], "%.4g");
        }
        ur_buf_puts(b, "]");
    }
    ur_buf_puts(b, "\n  },\n");
}

static void write_summary(const tds_agg *a, json_t *config, const ur_buf *per_ex, ur_buf *b) {
    put_head(a, config, b);
    put_buckets(a, b);
    /* per position and per tenth of the answer, as columns */
    int np = 0;
    for (int p = 0; p < a->n_posv; p++)
        if (a->pos_n[p]) np = p + 1;
    const long *cls[3] = {a->pos_cls[0], a->pos_cls[1], a->pos_cls[2]};
    const tds_mean *m[M_N];
    for (int k = 0; k < M_N; k++) m[k] = a->pos_m[k];
    put_columns(b, "by_position", np, a->pos_n, cls, m);
    const long *rcls[3] = {a->rel_cls[0], a->rel_cls[1], a->rel_cls[2]};
    for (int k = 0; k < M_N; k++) m[k] = a->rel_m[k];
    put_columns(b, "by_relative_position", TDS_REL_BINS, a->rel_n, rcls, m);
    ur_buf_puts(b, "  \"top_shifted\": ");
    put_top(b, a, UR_TDS_SHIFTED);
    ur_buf_puts(b, ",\n  \"top_unshifted\": ");
    put_top(b, a, UR_TDS_UNSHIFTED);
    ur_buf_puts(b, ",\n  \"shifted_words\": ");
    put_words(b, a);
    ur_buf_puts(b, ",\n  \"per_example\": [");
    ur_buf_put(b, per_ex->data ? per_ex->data : "", per_ex->len);
    ur_buf_puts(b, a->n_ex ? "\n  ]\n}\n" : "]\n}\n");
}

/* One pair: its records counted in input_index order into *a, its summary.json
 * into *summary, its examples into rep (if not NULL). */
static int summarize_one(const ur_tds_pair_records *pr, tds_agg *a, json_t **config, ur_buf *summary, tds_report *rep,
                         ur_err *err) {
    const int n = pr->n;
    rec_ref *refs = ur_xmalloc(sizeof *refs * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        json_t *o = parse(pr->name, pr->records[i], i, err);
        if (!o) {
            free(refs);
            return -1;
        }
        json_t *idx = json_object_get(o, "input_index");
        refs[i] = (rec_ref){json_is_integer(idx) ? (long)json_integer_value(idx) : i, i};
        json_decref(o);
    }
    qsort(refs, (size_t)n, sizeof *refs, cmp_ref);
    ur_buf per_ex = {0};
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        json_t *o = parse(pr->name, pr->records[refs[k].i], refs[k].i, err);
        if (o && !*config) *config = json_incref(json_object_get(o, "config"));
        const int ra = rank_aligned(*config);
        if (!o || count_example(pr->name, o, ra, a, &per_ex, err)) rc = -1;
        else if (rep) tds_report_example(rep, o, ra);
        json_decref(o);
    }
    if (!rc) write_summary(a, *config, &per_ex, summary);
    ur_buf_free(&per_ex);
    free(refs);
    return rc;
}

static int summarize(const ur_tds_pair_records *pairs, int np, ur_buf *summaries, ur_buf *html, int figures_only,
                     ur_err *err) {
    tds_agg *a = ur_xcalloc((size_t)(np ? np : 1), sizeof *a);
    tds_pair *tp = ur_xcalloc((size_t)(np ? np : 1), sizeof *tp);
    ur_buf *labels = ur_xcalloc((size_t)(np ? np : 1), sizeof *labels);
    int rc = 0;
    for (int i = 0; i < np && !rc; i++) {
        tp[i] = (tds_pair){pairs[i].label, &a[i], NULL, html ? tds_report_new() : NULL};
        rc = summarize_one(&pairs[i], &a[i], &tp[i].config, &summaries[i], tp[i].r, err);
        if (!rc && !tp[i].label) { /* "BASE vs ALIGNED" from the records */
            json_t *b = json_object_get(tp[i].config, "base"), *al = json_object_get(tp[i].config, "aligned");
            ur_buf_printf(&labels[i], "%s vs %s", json_is_string(b) ? json_string_value(b) : "base",
                          json_is_string(al) ? json_string_value(al) : "aligned");
            tp[i].label = labels[i].data;
        }
    }
    if (!rc && html) (figures_only ? tds_report_figures : tds_report_finish)(tp, np, html);
    for (int i = 0; i < np; i++) {
        tds_report_free(tp[i].r);
        json_decref(tp[i].config);
        agg_free(&a[i]);
        ur_buf_free(&labels[i]);
    }
    free(a), free(tp), free(labels);
    return rc;
}

int ur_tds_summarize_pairs(const ur_tds_pair_records *pairs, int np, ur_buf *summaries, ur_buf *html, ur_err *err) {
    return summarize(pairs, np, summaries, html, 0, err);
}

int ur_tds_figures(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html, ur_err *err) {
    ur_tds_pair_records p = {NULL, name, records, n};
    return summarize(&p, 1, summary, html, 1, err);
}

int ur_tds_summarize(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html,
                     ur_err *err) {
    ur_tds_pair_records p = {NULL, name, records, n};
    return ur_tds_summarize_pairs(&p, 1, summary, html, err);
}
