/* The numbers of a report (report.c) and their formats (report_fmt.c). */
#ifndef URIAL_REPORT_INT_H
#define URIAL_REPORT_INT_H

#include <stddef.h>

#include "urial/eval.h"

#define RP_MAX_ASPECTS 32
#define RP_MAX_GENS 8

typedef struct rp_vec {
    double *v;
    size_t n, cap;
} rp_vec;
void rp_push(rp_vec *v, double x);
double rp_mean(const rp_vec *v);                /* numpy's mean; NaN when empty */
void rp_pyfloat(double x, char *buf, size_t n); /* Python's repr of a float */

typedef struct rp_group {
    char *name;
    long total;
    rp_vec lens;
    rp_vec scores[RP_MAX_ASPECTS];
} rp_group;

/* One judged file. */
typedef struct rp_file {
    const char *file;
    char *model;  /* generator_cand when all records share it, else the file's base name */
    int pairwise;
    long total;   /* records counted (with a parsed_result) */
    long failed;  /* records written with an "error" */
    int n_aspects;
    char *aspects[RP_MAX_ASPECTS]; /* in order of first appearance */
    char scale[160];  /* the records' score scale ("1 to 6", "Fail=1 Pass=2 Excellent=3"; "1 to 5" by default) */
    int scale_seen, scale_mixed;
    /* scoring */
    rp_vec scores[RP_MAX_ASPECTS];
    rp_vec lens;
    rp_group *groups;
    int n_groups;
    /* pairwise: per aspect, wins of each generator and ties */
    int n_gens;
    char *gens[RP_MAX_GENS];
    rp_vec plens[RP_MAX_GENS];  /* words */
    rp_vec pchars[RP_MAX_GENS]; /* characters (Python's len), as the URIAL authors' show_table.py */
    long wins[RP_MAX_ASPECTS][RP_MAX_GENS];
    long ties[RP_MAX_ASPECTS];
} rp_file;

/* The heading's scale when every scoring file has the same one ("1 to 5"), else NULL. */
const char *rp_common_scale(const rp_file *fs, int n);
void rp_md(const rp_file *fs, int n, const ur_report_params *p, ur_buf *out);
void rp_json(const rp_file *fs, int n, const ur_report_params *p, ur_buf *out);
void rp_html(const rp_file *fs, int n, const ur_report_params *p, ur_buf *out);

#endif
