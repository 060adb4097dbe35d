/* TDS internals shared by summary.c (aggregation, summary.json) and report.c
 * (report.html). Not a public header. */
#ifndef URIAL_TDS_INT_H
#define URIAL_TDS_INT_H

#include <jansson.h>

#include "urial/tds.h"

/* score.c: AlignTDS's TP and top-k KL(base ‖ aligned) from the two top-k lists
 * (ids, -1 past the end; log-weights), for the ranked token. */
void ur_tds_topk_stats(const int32_t *bid, const double *blw, const int32_t *aid, const double *alw, int32_t ranked,
                       double *tp, double *kl);
/* score.c: the aligned row's part of ur_tds_row (a remote base), and its top-k list. */
void ur_tds_row_aligned(const float *a, int nv, int32_t token, int mode, ur_tds_pos *out, ur_tds_topk *tk);

/* seq.c: the input tokens a prompt gives before an answer text, as ur_tds_seq_text
 * builds them (joint: up to the seam). Returns their number (>= 1) with *ids
 * malloc'ed (it may hold more), or -1. */
int tds_input_tokens(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen, int add_bos,
                     int parse_special, int tokenize, int32_t **ids, ur_err *err);

/* Position buckets of summary.json "by_bucket" (0-based positions, [from, to]). */
#define TDS_N_BUCKETS 9
extern const int TDS_BUCKET_FROM[TDS_N_BUCKETS];
/* The "first N tokens" of summary.json. */
#define TDS_N_FIRST 3
extern const int TDS_FIRST[TDS_N_FIRST];
/* Bins of the relative position t / T (summary.json "by_relative_position"). */
#define TDS_REL_BINS 10

/* The per-position numbers averaged in summary.json and the report. */
enum { M_KL_AB, M_KL_BA, M_KL_TOPK, M_PBASE, M_TP, M_TR, M_N };
extern const char *const TDS_METRIC_KEY[M_N]; /* "kl_align_base", ... as in tokens.jsonl */

/* A mean: sum and count of the known values. */
typedef struct tds_mean {
    double s;
    long n;
} tds_mean;
static inline double tds_mean_of(tds_mean m) { return m.n ? m.s / (double)m.n : 0; }

/* Everything counted over one pair's examples. */
typedef struct tds_agg {
    int n_ex;
    long n_pos, cls[3];
    tds_mean m[M_N];
    long n_gt;                  /* positions with only η > K known (a remote base) */
    long n_top, n_written_top;  /* positions with "aligned_top" / where it is the written token */
    int n_posv;                 /* length of the per-position arrays (max pos + 1) */
    long *pos_n, *pos_cls[3];   /* [n_posv] positions seen / of each class at each pos */
    tds_mean *pos_m[M_N];       /* [n_posv] */
    long rel_n[TDS_REL_BINS], rel_cls[3][TDS_REL_BINS];
    tds_mean rel_m[M_N][TDS_REL_BINS];
    int n_tok;                  /* length of the per-token arrays (max id + 1) */
    long *tok_cnt[3];           /* [n_tok] occurrences of each ranked token, by class */
    char **tok_text;            /* [n_tok] its text (NULL: not seen) */
    json_t *words;              /* shifted words: text -> count */
} tds_agg;

/* A token count for the top-k lists: sorted by count (descending), then id. */
typedef struct tds_count {
    int32_t id;
    long count;
} tds_count;
/* The k most frequent tokens of a class; returns how many (<= k) were filled. */
int tds_top_tokens(const tds_agg *a, int cls, int k, tds_count *out);
/* The k most frequent shifted words (ties: by text), as json_t string keys into
 * a->words and their counts; returns how many. */
typedef struct tds_word {
    const char *text;
    long count;
} tds_word;
int tds_top_words(const tds_agg *a, int k, tds_word *out);
/* The last position reached by at least a tenth of the answers (+1). */
int tds_plot_len(const tds_agg *a);

/* report.c: the page is built while the records are read (one at a time, so
 * memory stays at one record's JSON). One tds_report per pair. */
typedef struct tds_report tds_report;
tds_report *tds_report_new(void);
void tds_report_free(tds_report *r);
/* One example's tokens (rec: the record; already checked by summary.c; rank_aligned:
 * the ranked token is the aligned model's top token). */
void tds_report_example(tds_report *r, json_t *rec, int rank_aligned);
/* One pair of the page. */
typedef struct tds_pair {
    const char *label;
    const tds_agg *a;
    json_t *config;
    tds_report *r;
} tds_pair;
/* The whole page. */
void tds_report_finish(const tds_pair *pairs, int n, ur_buf *html);
/* The page's numbers and figures alone (no head, answers or script), for other pages. */
void tds_report_figures(const tds_pair *pairs, int n, ur_buf *html);

/* figures.c: the paper's figures as inline SVG, one series per pair. */
void tds_fig_classes(ur_buf *b, const tds_agg *a, int pair);        /* stacked class ratios by position */
void tds_fig_shifted_bars(ur_buf *b, const tds_agg *a, int pair);   /* the 20 most frequent shifted tokens */
void tds_fig_words(ur_buf *b, const tds_agg *a, int pair);          /* shifted words, sized by count */
void tds_fig_lines(ur_buf *b, const tds_pair *pairs, int n);        /* the line figures (by position, relative, TP/TR, KL) */
/* HTML-escape / make whitespace visible (␣ ↵ ⇥). */
void tds_esc(ur_buf *b, const char *s, size_t n);
void tds_vis(ur_buf *b, const char *s);

#endif
