/* Recorded reference logits (tests/ref/gen_logits.sh, gen_quant_logits.sh): after a
 * file's header lines, "# tokens a,b,..." and one line per position
 * "POS id:logit id:logit ..." with the reference's top REF_TOPN. The reader and the
 * comparison the reference tests share. */
#ifndef URIAL_TEST_REF_LOGITS_H
#define URIAL_TEST_REF_LOGITS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_TOPN 10
#define REF_MAXPOS 256

typedef struct ref_rows {
    int n_tok;
    int32_t tok[REF_MAXPOS];
    int32_t id[REF_MAXPOS][REF_TOPN];
    float logit[REF_MAXPOS][REF_TOPN];
} ref_rows;

/* The tokens line and the rows, read from f with getline's buffer *line; 0, or -1. */
static inline int ref_read_rows(FILE *f, char **line, size_t *cap, ref_rows *r) {
    if (getline(line, cap, f) <= 0 || strncmp(*line, "# tokens ", 9)) return -1;
    r->n_tok = 0;
    for (char *p = *line + 9; *p && *p != '\n' && r->n_tok < REF_MAXPOS;) {
        r->tok[r->n_tok++] = (int32_t)strtol(p, &p, 10);
        if (*p == ',') p++;
    }
    int row = 0, ok = 1;
    while (ok && row < r->n_tok && getline(line, cap, f) > 0) {
        char *p = *line;
        if (strtol(p, &p, 10) != row) ok = 0;
        for (int j = 0; ok && j < REF_TOPN; j++) {
            r->id[row][j] = (int32_t)strtol(p, &p, 10);
            if (*p++ != ':') ok = 0;
            r->logit[row][j] = strtof(p, &p);
        }
        row++;
    }
    return ok && row == r->n_tok ? 0 : -1;
}

/* The largest |logit|, over the reference's top ids, of every position. */
static inline double ref_scale(const ref_rows *r) {
    double scale = 0;
    for (int p = 0; p < r->n_tok; p++)
        for (int j = 0; j < REF_TOPN; j++) scale = fmax(scale, fabs(r->logit[p][j]));
    return scale;
}

/* Position p of logits lg (nv per row): the largest difference over the reference's top
 * ids relative to scale; *agree += 1 when the argmax is the reference's. */
static inline double ref_row_err(const ref_rows *r, int p, const float *lg, int nv, double scale, int *agree) {
    const float *row = lg + (size_t)p * (size_t)nv;
    int best = 0;
    for (int i = 1; i < nv; i++)
        if (row[i] > row[best]) best = i;
    *agree += best == r->id[p][0];
    double e = 0;
    for (int j = 0; j < REF_TOPN; j++) e = fmax(e, fabs(row[r->id[p][j]] - r->logit[p][j]) / scale);
    return e;
}

#endif
