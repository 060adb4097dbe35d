/* TDS internals shared by summary.c (aggregation, summary.json) and report.c
 * (report.html). Not a public header. */
#ifndef URIAL_TDS_INT_H
#define URIAL_TDS_INT_H

#include <jansson.h>

#include "urial/tds.h"

/* Position buckets of summary.json "by_bucket" (0-based positions, [from, to]). */
#define TDS_N_BUCKETS 9
extern const int TDS_BUCKET_FROM[TDS_N_BUCKETS];
/* The "first N tokens" of summary.json. */
#define TDS_N_FIRST 3
extern const int TDS_FIRST[TDS_N_FIRST];

/* Everything counted over the examples. */
typedef struct tds_agg {
    int n_ex;
    long n_pos, cls[3];
    double kl_sum;
    long n_nokl, n_gt;          /* positions without KL / with only η > K known (a remote base) */
    int n_posv;                 /* length of the per-position arrays (max pos + 1) */
    long *pos_n, *pos_cls[3];   /* [n_posv] positions seen / of each class at each pos */
    double *pos_kl;             /* [n_posv] KL sums */
    int n_tok;                  /* length of the per-token arrays (max id + 1) */
    long *tok_cnt[3];           /* [n_tok] occurrences of each token as o_t, by class */
    char **tok_text;            /* [n_tok] its text (NULL: not seen) */
} tds_agg;

/* A token count for the top-k lists: sorted by count (descending), then id. */
typedef struct tds_count {
    int32_t id;
    long count;
} tds_count;
/* The k most frequent tokens of a class; returns how many (<= k) were filled. */
int tds_top_tokens(const tds_agg *a, int cls, int k, tds_count *out);

/* report.c: the page is built while the records are read (one at a time, so
 * memory stays at one record's JSON). */
typedef struct tds_report tds_report;
tds_report *tds_report_new(void);
void tds_report_free(tds_report *r);
/* One example's tokens (rec: the record; already checked by summary.c). */
void tds_report_example(tds_report *r, json_t *rec);
/* The whole page. */
void tds_report_finish(tds_report *r, const tds_agg *a, const char *summary_json, json_t *config, ur_buf *html);

#endif
