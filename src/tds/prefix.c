/* The prefix experiment's summary (prefix.json) and page (prefix.html), from the
 * records of prefix.jsonl. See ur_tds_prefix_summarize in include/urial/tds.h. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/tds.h"

#define MAX_K 32

typedef struct kstat {
    int k;
    int n_ex;             /* answers with T > k */
    long compared, matched, exact;
    int n_pos;            /* length of the arrays below */
    long *pos_n, *pos_m;  /* per position after the prefix: compared, matched */
} kstat;

static kstat *kstat_for(kstat *ks, int *nk, int k) {
    for (int i = 0; i < *nk; i++)
        if (ks[i].k == k) return &ks[i];
    if (*nk == MAX_K) return NULL;
    memset(&ks[*nk], 0, sizeof ks[*nk]);
    ks[*nk].k = k;
    return &ks[(*nk)++];
}

static int cmp_k(const void *a, const void *b) { return ((const kstat *)a)->k - ((const kstat *)b)->k; }

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

/* The last position reached by at least a tenth of the answers (+1). */
static int plot_len(const kstat *s) {
    long need = s->n_ex / 10 > 1 ? s->n_ex / 10 : 1;
    int len = 0;
    for (int p = 0; p < s->n_pos; p++)
        if (s->pos_n[p] >= need) len = p + 1;
    return len;
}

static void plot(ur_buf *b, const kstat *ks, int nk) {
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};
    const int W = 760, H = 280, L = 48, R = 90, T = 12, B = 34, pw = W - L - R, ph = H - T - B;
    int len = 0;
    for (int i = 0; i < nk; i++) {
        int l = plot_len(&ks[i]);
        if (l > len) len = l;
    }
    ur_buf_printf(b, "<svg id=\"prefix-plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                     "aria-label=\"agreement after the prefix\">\n", W, H, W, H);
    for (int g = 0; g <= 4; g++) {
        double y = T + ph - ph * g / 4.0;
        ur_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" "
                         "text-anchor=\"end\">%d%%</text>\n", L, L + pw, y, y, L - 5, y + 4, g * 25);
    }
    ur_buf_printf(b, "<polyline class=\"axis\" points=\"%d,%d %d,%d %d,%d\"/>\n", L, T, L, T + ph, L + pw, T + ph);
    int w = len ? (len + 59) / 60 : 1, nb = len ? (len + w - 1) / w : 0;
    for (int i = 0; i < nk; i++) {
        const kstat *s = &ks[i];
        const char *col = colors[i % 8];
        ur_buf_printf(b, "<polyline class=\"k\" data-k=\"%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s->k, col);
        for (int k = 0; k < nb; k++) {
            long n = 0, m = 0;
            for (int p = k * w; p < (k + 1) * w && p < s->n_pos; p++) n += s->pos_n[p], m += s->pos_m[p];
            if (!n) continue;
            ur_buf_printf(b, "%.1f,%.1f ", L + (nb == 1 ? pw / 2.0 : pw * (double)k / (nb - 1)), T + ph - ph * ratio(m, n));
        }
        ur_buf_printf(b, "\"/><text x=\"%d\" y=\"%d\" fill=\"%s\">k = %d</text>\n", L + pw + 8, T + 14 + 16 * i, col, s->k);
    }
    for (int k = 0; k < 6 && nb; k++) {
        int bin = nb == 1 ? 0 : (k * (nb - 1) + 2) / 5;
        ur_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
                      L + (nb == 1 ? pw / 2.0 : pw * (double)bin / (nb - 1)), T + ph + 14, bin * w);
        if (nb == 1) break;
    }
    ur_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">position after the forced prefix%s</text>\n</svg>\n",
                  L + pw / 2, H - 4, w > 1 ? " (binned)" : "");
}

int ur_tds_prefix_summarize(const char *name, const char *const *records, int n, ur_buf *json, ur_buf *html,
                            ur_err *err) {
    kstat ks[MAX_K];
    int nk = 0, rc = 0;
    json_t *config = NULL;
    for (int r = 0; r < n && !rc; r++) {
        json_error_t je;
        json_t *o = json_loads(records[r], 0, &je), *pre = json_object_get(o, "prefix"), *e;
        size_t i;
        if (!json_is_array(pre)) {
            rc = ur_errf(err, "%s: record %d is not a prefix record (an object with a \"prefix\" array)", name, r + 1);
            json_decref(o);
            break;
        }
        if (!config) config = json_incref(json_object_get(o, "config"));
        json_array_foreach(pre, i, e) {
            json_t *m = json_object_get(e, "match");
            kstat *s = kstat_for(ks, &nk, (int)json_integer_value(json_object_get(e, "k")));
            if (!s || !json_is_string(m)) {
                rc = ur_errf(err, "%s: record %d: %s", name, r + 1, s ? "a prefix entry has no \"match\" string" : "too many k");
                break;
            }
            const char *bits = json_string_value(m);
            int len = (int)json_string_length(m);
            if (!len) continue;
            if (len > s->n_pos) {
                s->pos_n = ur_xrealloc(s->pos_n, sizeof(long) * (size_t)len);
                s->pos_m = ur_xrealloc(s->pos_m, sizeof(long) * (size_t)len);
                memset(s->pos_n + s->n_pos, 0, sizeof(long) * (size_t)(len - s->n_pos));
                memset(s->pos_m + s->n_pos, 0, sizeof(long) * (size_t)(len - s->n_pos));
                s->n_pos = len;
            }
            int run = 1;
            s->n_ex++;
            for (int p = 0; p < len; p++) {
                int hit = bits[p] == '1';
                s->pos_n[p]++, s->pos_m[p] += hit;
                s->compared++, s->matched += hit;
                run &= hit;
                s->exact += run;
            }
        }
        json_decref(o);
    }
    if (!rc) {
        qsort(ks, (size_t)nk, sizeof *ks, cmp_k);
        char *cfg = config ? json_dumps(config, JSON_COMPACT) : NULL;
        ur_buf_printf(json, "{\n  \"config\": %s,\n  \"answers\": %d,\n  \"k\": [", cfg ? cfg : "null", n);
        free(cfg);
        for (int i = 0; i < nk; i++) {
            const kstat *s = &ks[i];
            ur_buf_printf(json, "%s\n    {\"k\": %d, \"answers\": %d, \"positions\": %ld, \"matched\": %ld, \"agreement\": %.6g, "
                                "\"mean_exact_run\": %.6g,\n     \"by_position\": {\"positions\": [",
                          i ? "," : "", s->k, s->n_ex, s->compared, s->matched, ratio(s->matched, s->compared),
                          s->n_ex ? (double)s->exact / s->n_ex : 0);
            for (int p = 0; p < s->n_pos; p++) ur_buf_printf(json, "%s%ld", p ? "," : "", s->pos_n[p]);
            ur_buf_puts(json, "], \"agreement\": [");
            for (int p = 0; p < s->n_pos; p++) ur_buf_printf(json, "%s%.4g", p ? "," : "", ratio(s->pos_m[p], s->pos_n[p]));
            ur_buf_puts(json, "]}}");
        }
        ur_buf_puts(json, nk ? "\n  ]\n}\n" : "]\n}\n");
    }
    if (!rc && html) {
        ur_buf_puts(html, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>TDS prefix experiment"
                          "</title>\n<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:0 auto;"
                          "padding:1em 1.5em}table{border-collapse:collapse}td,th{padding:.15em .9em .15em 0;text-align:"
                          "right}svg{font:11px system-ui,sans-serif;max-width:100%;height:auto}.grid{stroke:#e4e4e4}"
                          ".axis{stroke:#888;fill:none}</style></head><body>\n<h1>Prefix experiment</h1>\n<p>The first k "
                          "tokens of the aligned model's answer are forced into the base model's context; the base "
                          "model continues greedily. Agreement: the share of the remaining positions where its token "
                          "is the aligned one (position by position, without re-synchronising).</p>\n"
                          "<table id=\"prefix-table\"><tr><th>k</th><th>answers</th><th>positions</th><th>agreement</th>"
                          "<th>mean exact run</th></tr>\n");
        for (int i = 0; i < nk; i++)
            ur_buf_printf(html, "<tr><td>%d</td><td>%d</td><td>%ld</td><td>%.2f%%</td><td>%.2f</td></tr>\n", ks[i].k,
                          ks[i].n_ex, ks[i].compared, 100 * ratio(ks[i].matched, ks[i].compared),
                          ks[i].n_ex ? (double)ks[i].exact / ks[i].n_ex : 0);
        ur_buf_puts(html, "</table>\n<h2>Agreement by position after the prefix</h2>\n");
        plot(html, ks, nk);
        ur_buf_puts(html, "</body></html>\n");
    }
    for (int i = 0; i < nk; i++) free(ks[i].pos_n), free(ks[i].pos_m);
    json_decref(config);
    return rc;
}
