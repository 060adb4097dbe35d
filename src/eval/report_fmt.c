/* Report formats: Markdown tables, JSON with just-eval's key names, and a
 * self-contained HTML page with an SVG bar chart. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/report_int.h"

/* ---- tables (the same cells as Markdown or HTML) ------------------------------------ */
#define T_MAXC 40
typedef struct table {
    int nc, nr;
    char **cells; /* (nr + 1) * nc, row 0 the header */
} table;

static void t_init(table *t, int nc) {
    memset(t, 0, sizeof *t);
    t->nc = nc < T_MAXC ? nc : T_MAXC;
}
static void t_row(table *t) {
    t->cells = ur_xrealloc(t->cells, sizeof *t->cells * (size_t)(t->nr + 1) * (size_t)t->nc);
    for (int c = 0; c < t->nc; c++) t->cells[t->nr * t->nc + c] = NULL;
    t->nr++;
}
static void t_set(table *t, int c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void t_set(table *t, int c, const char *fmt, ...) {
    if (c >= t->nc) return;
    ur_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ur_buf_puts(&b, tmp);
    free(t->cells[(t->nr - 1) * t->nc + c]);
    t->cells[(t->nr - 1) * t->nc + c] = b.data;
}
static void put_escaped(ur_buf *o, const char *s, int html) {
    for (; *s; s++) {
        if (html && *s == '<') ur_buf_puts(o, "&lt;");
        else if (html && *s == '>') ur_buf_puts(o, "&gt;");
        else if (html && *s == '&') ur_buf_puts(o, "&amp;");
        else if (!html && *s == '|') ur_buf_puts(o, "\\|");
        else ur_buf_put(o, s, 1);
    }
}
static void t_emit(table *t, ur_buf *o, int html) {
    if (html) ur_buf_puts(o, "<table>\n");
    for (int r = 0; r < t->nr; r++) {
        ur_buf_puts(o, html ? "<tr>" : "|");
        for (int c = 0; c < t->nc; c++) {
            const char *s = t->cells[r * t->nc + c];
            if (html) ur_buf_puts(o, r ? (c ? "<td class=n>" : "<td>") : "<th>");
            else ur_buf_put(o, " ", 1);
            put_escaped(o, s ? s : "", html);
            ur_buf_puts(o, html ? (r ? "</td>" : "</th>") : " |");
        }
        ur_buf_puts(o, html ? "</tr>\n" : "\n");
        if (!html && r == 0) {
            ur_buf_puts(o, "|");
            for (int c = 0; c < t->nc; c++) ur_buf_puts(o, c ? "---:|" : "---|");
            ur_buf_puts(o, "\n");
        }
    }
    if (html) ur_buf_puts(o, "</table>\n");
    for (int i = 0; i < t->nr * t->nc; i++) free(t->cells[i]);
    free(t->cells);
}

/* Aspects of all scoring files, in order of first appearance. */
static int all_aspects(const rp_file *fs, int n, const char **names) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (fs[i].pairwise) continue;
        for (int a = 0; a < fs[i].n_aspects; a++) {
            int seen = 0;
            for (int j = 0; j < k; j++) seen |= !strcmp(names[j], fs[i].aspects[a]);
            if (!seen && k < RP_MAX_ASPECTS) names[k++] = fs[i].aspects[a];
        }
    }
    return k;
}

static int find_aspect(const rp_file *f, const char *name) {
    for (int a = 0; a < f->n_aspects; a++)
        if (!strcmp(f->aspects[a], name)) return a;
    return -1;
}

static void fmt_mean(char *buf, size_t n, double m, const char *fmt) {
    if (isnan(m)) snprintf(buf, n, "-");
    else snprintf(buf, n, fmt, m);
}

static void score_tables(const rp_file *fs, int n, const ur_report_params *p, ur_buf *o, int html) {
    const char *names[RP_MAX_ASPECTS];
    int k = all_aspects(fs, n, names), nscore = 0, any_failed = 0;
    for (int i = 0; i < n; i++) nscore += !fs[i].pairwise, any_failed |= !fs[i].pairwise && fs[i].failed;
    if (!nscore) return;
    table t;
    t_init(&t, nscore + 1);
    t_row(&t);
    t_set(&t, 0, "aspect");
    for (int i = 0, c = 1; i < n; i++)
        if (!fs[i].pairwise) t_set(&t, c++, "%s", fs[i].model);
    char b[64];
    for (int a = 0; a < k; a++) {
        t_row(&t);
        t_set(&t, 0, "%s", names[a]);
        for (int i = 0, c = 1; i < n; i++) {
            if (fs[i].pairwise) continue;
            int j = find_aspect(&fs[i], names[a]);
            fmt_mean(b, sizeof b, j < 0 ? NAN : rp_mean(&fs[i].scores[j]), "%.2f");
            t_set(&t, c++, "%s", b);
        }
    }
    const char *rows[] = {"judged", "failed", "words (mean)"};
    for (int r = 0; r < 3; r++) {
        if (r == 1 && !any_failed) continue;
        t_row(&t);
        t_set(&t, 0, "%s", rows[r]);
        for (int i = 0, c = 1; i < n; i++) {
            if (fs[i].pairwise) continue;
            fmt_mean(b, sizeof b, rp_mean(&fs[i].lens), "%.1f");
            if (r == 0) t_set(&t, c++, "%ld", fs[i].total);
            else if (r == 1) t_set(&t, c++, "%ld", fs[i].failed);
            else t_set(&t, c++, "%s", b);
        }
    }
    const char *scale = rp_common_scale(fs, n);
    if (!scale) { /* files on different scales: a row says which */
        t_row(&t);
        t_set(&t, 0, "scale");
        for (int i = 0, c = 1; i < n; i++)
            if (!fs[i].pairwise) t_set(&t, c++, "%s", fs[i].scale_mixed ? "mixed" : fs[i].scale_seen ? fs[i].scale : "1 to 5");
        ur_buf_puts(o, html ? "<h2>Scores</h2>\n" : "## Scores\n\n");
    } else {
        ur_buf_printf(o, html ? "<h2>Scores (%s)</h2>\n" : "## Scores (%s)\n\n", scale);
    }
    t_emit(&t, o, html);
    if (!p->by) return;
    const char *by = p->by == UR_BY_DATASET ? "dataset" : "category";
    for (int i = 0; i < n; i++) {
        const rp_file *f = &fs[i];
        if (f->pairwise) continue;
        t_init(&t, f->n_aspects + 3);
        t_row(&t);
        t_set(&t, 0, "%s", by);
        t_set(&t, 1, "judged");
        for (int a = 0; a < f->n_aspects; a++) t_set(&t, 2 + a, "%s", f->aspects[a]);
        t_set(&t, 2 + f->n_aspects, "words");
        for (int g = 0; g < f->n_groups; g++) {
            const rp_group *gr = &f->groups[g];
            t_row(&t);
            t_set(&t, 0, "%s", gr->name);
            t_set(&t, 1, "%ld", gr->total);
            for (int a = 0; a < f->n_aspects; a++) {
                fmt_mean(b, sizeof b, rp_mean(&gr->scores[a]), "%.2f");
                t_set(&t, 2 + a, "%s", b);
            }
            fmt_mean(b, sizeof b, rp_mean(&gr->lens), "%.1f");
            t_set(&t, 2 + f->n_aspects, "%s", b);
        }
        if (html) ur_buf_printf(o, "<h3>%s by %s</h3>\n", f->model, by);
        else ur_buf_printf(o, "\n### %s by %s\n\n", f->model, by);
        t_emit(&t, o, html);
    }
}

static void pct(char *b, size_t n, long x, long total) {
    if (total) snprintf(b, n, "%.1f%% (%ld)", 100.0 * (double)x / (double)total, x);
    else snprintf(b, n, "-");
}

static void pair_tables(const rp_file *fs, int n, ur_buf *o, int html) {
    for (int i = 0; i < n; i++) {
        const rp_file *f = &fs[i];
        if (!f->pairwise) continue;
        const char *ga = f->n_gens > 0 ? f->gens[0] : "A", *gb = f->n_gens > 1 ? f->gens[1] : "B";
        if (html) ur_buf_printf(o, "<h2>%s vs %s</h2>\n<p>%s</p>\n", ga, gb, f->file);
        else ur_buf_printf(o, "\n## %s vs %s\n\n%s\n\n", ga, gb, f->file);
        table t;
        t_init(&t, 4);
        t_row(&t);
        t_set(&t, 0, "aspect");
        t_set(&t, 1, "%s wins", ga);
        t_set(&t, 2, "tie");
        t_set(&t, 3, "%s wins", gb);
        char b[64];
        for (int a = 0; a < f->n_aspects; a++) {
            long w = f->wins[a][0], l = f->n_gens > 1 ? f->wins[a][1] : 0, tt = f->ties[a], tot = w + l + tt;
            t_row(&t);
            t_set(&t, 0, "%s", f->aspects[a]);
            pct(b, sizeof b, w, tot), t_set(&t, 1, "%s", b);
            pct(b, sizeof b, tt, tot), t_set(&t, 2, "%s", b);
            pct(b, sizeof b, l, tot), t_set(&t, 3, "%s", b);
        }
        t_emit(&t, o, html);
        char la[32], lb[32], ca[32], cb[32];
        fmt_mean(la, sizeof la, f->n_gens > 0 ? rp_mean(&f->plens[0]) : NAN, "%.1f");
        fmt_mean(lb, sizeof lb, f->n_gens > 1 ? rp_mean(&f->plens[1]) : NAN, "%.1f");
        fmt_mean(ca, sizeof ca, f->n_gens > 0 ? rp_mean(&f->pchars[0]) : NAN, "%.1f");
        fmt_mean(cb, sizeof cb, f->n_gens > 1 ? rp_mean(&f->pchars[1]) : NAN, "%.1f");
        ur_buf_printf(o, html ? "<p>%ld pairs judged, %ld failed; words (mean): %s %s, %s %s; characters (mean): %s, %s</p>\n"
                              : "\n%ld pairs judged, %ld failed; words (mean): %s %s, %s %s; characters (mean): %s, %s\n",
                      f->total, f->failed, ga, la, gb, lb, ca, cb);
    }
}

void rp_md(const rp_file *fs, int n, const ur_report_params *p, ur_buf *out) {
    score_tables(fs, n, p, out, 0);
    pair_tables(fs, n, out, 0);
    if (!out->data) ur_buf_puts(out, "");
}

/* ---- JSON ------------------------------------------------------------------------------ */
static void jnum(ur_buf *o, double x) {
    char b[64];
    if (isnan(x)) {
        ur_buf_puts(o, "null");
        return;
    }
    rp_pyfloat(x, b, sizeof b);
    ur_buf_puts(o, b);
}
static void jkey(ur_buf *o, const char *k, const char *suffix) {
    ur_buf b = {0};
    ur_buf_puts(&b, k);
    if (suffix) ur_buf_puts(&b, suffix);
    ur_buf_json_str(o, b.data, b.len);
    ur_buf_put(o, ":", 1);
    ur_buf_free(&b);
}

static void score_stats_json(ur_buf *o, long total, const rp_vec *scores, char *const *aspects, int na,
                             const rp_vec *lens) {
    ur_buf_printf(o, "\"total\":%ld", total);
    for (int a = 0; a < na; a++) {
        ur_buf_put(o, ",", 1);
        jkey(o, aspects[a], "_mean");
        jnum(o, rp_mean(&scores[a]));
    }
    ur_buf_puts(o, ",\"avg_lens\":");
    jnum(o, rp_mean(lens));
}

/* The URIAL authors' show_table.py numbers for the first generator (A, or their
 * model): per aspect win / tie / lose in percent, (count / total) * 100, and the
 * mean length in characters of each generator's outputs. */
static void pair_rates_json(ur_buf *o, const rp_file *f) {
    ur_buf_puts(o, ",\"avg_chars\":{");
    for (int g = 0; g < f->n_gens; g++) {
        if (g) ur_buf_put(o, ",", 1);
        jkey(o, f->gens[g], NULL);
        jnum(o, rp_mean(&f->pchars[g]));
    }
    ur_buf_puts(o, "},\"rates\":{");
    for (int a = 0; a < f->n_aspects; a++) {
        long w = f->n_gens > 0 ? f->wins[a][0] : 0, l = f->n_gens > 1 ? f->wins[a][1] : 0, t = f->ties[a];
        double tot = (double)(w + l + t);
        if (a) ur_buf_put(o, ",", 1);
        jkey(o, f->aspects[a], NULL);
        ur_buf_puts(o, "{\"win\":");
        jnum(o, tot > 0 ? (double)w / tot * 100 : NAN);
        ur_buf_puts(o, ",\"tie\":");
        jnum(o, tot > 0 ? (double)t / tot * 100 : NAN);
        ur_buf_puts(o, ",\"lose\":");
        jnum(o, tot > 0 ? (double)l / tot * 100 : NAN);
        ur_buf_put(o, "}", 1);
    }
    ur_buf_put(o, "}", 1);
}

void rp_json(const rp_file *fs, int n, const ur_report_params *p, ur_buf *o) {
    for (int i = 0; i < n; i++) {
        const rp_file *f = &fs[i];
        ur_buf_puts(o, "{\"file\":");
        ur_buf_json_str(o, f->file, strlen(f->file));
        if (!f->pairwise) {
            ur_buf_puts(o, ",\"generator\":");
            ur_buf_json_str(o, f->model, strlen(f->model));
            ur_buf_put(o, ",", 1);
            score_stats_json(o, f->total, f->scores, f->aspects, f->n_aspects, &f->lens);
            if (f->scale_seen && (f->scale_mixed || strcmp(f->scale, "1 to 5"))) {
                ur_buf_puts(o, ",\"scale\":");
                ur_buf_json_str(o, f->scale_mixed ? "mixed" : f->scale, strlen(f->scale_mixed ? "mixed" : f->scale));
            }
            if (p->by) {
                ur_buf_puts(o, ",\"by\":{");
                for (int g = 0; g < f->n_groups; g++) {
                    if (g) ur_buf_put(o, ",", 1);
                    jkey(o, f->groups[g].name, NULL);
                    ur_buf_put(o, "{", 1);
                    score_stats_json(o, f->groups[g].total, f->groups[g].scores, f->aspects, f->n_aspects,
                                     &f->groups[g].lens);
                    ur_buf_put(o, "}", 1);
                }
                ur_buf_put(o, "}", 1);
            }
        } else {
            /* just-eval's pairwise keys: the overall wins of each generator, "same", total, avg_lens */
            int ov = find_aspect(f, "overall");
            for (int g = 0; ov >= 0 && g < f->n_gens; g++) {
                ur_buf_put(o, ",", 1);
                jkey(o, f->gens[g], NULL);
                ur_buf_printf(o, "%ld", f->wins[ov][g]);
            }
            if (ov >= 0 && f->ties[ov]) ur_buf_printf(o, ",\"same\":%ld", f->ties[ov]);
            ur_buf_printf(o, ",\"total\":%ld,\"avg_lens\":{", f->total);
            for (int g = 0; g < f->n_gens; g++) {
                if (g) ur_buf_put(o, ",", 1);
                jkey(o, f->gens[g], NULL);
                jnum(o, rp_mean(&f->plens[g]));
            }
            ur_buf_puts(o, "},\"aspects\":{");
            for (int a = 0; a < f->n_aspects; a++) {
                if (a) ur_buf_put(o, ",", 1);
                jkey(o, f->aspects[a], NULL);
                ur_buf_put(o, "{", 1);
                for (int g = 0; g < f->n_gens; g++) {
                    jkey(o, f->gens[g], NULL);
                    ur_buf_printf(o, "%ld,", f->wins[a][g]);
                }
                ur_buf_printf(o, "\"same\":%ld}", f->ties[a]);
            }
            ur_buf_put(o, "}", 1);
            pair_rates_json(o, f);
        }
        if (f->failed) ur_buf_printf(o, ",\"failed\":%ld", f->failed);
        ur_buf_puts(o, "}\n");
    }
}

/* ---- HTML with SVG charts ---------------------------------------------------------------- */
static const char *COLORS[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};

/* Grouped bars: one group per aspect, one bar per scoring file, the y axis 0 to 5 (or to
 * the largest mean, for scales beyond 5). */
static void score_chart(const rp_file *fs, int n, ur_buf *o) {
    const char *names[RP_MAX_ASPECTS];
    int k = all_aspects(fs, n, names), m = 0;
    for (int i = 0; i < n; i++) m += !fs[i].pairwise;
    if (!k || !m) return;
    const int bw = 18, gap = 24, h = 200, top = 20, left = 40;
    int ymax = 5;
    for (int i = 0; i < n; i++)
        for (int a = 0; !fs[i].pairwise && a < fs[i].n_aspects; a++) {
            double v = rp_mean(&fs[i].scores[a]);
            if (!isnan(v) && v > ymax) ymax = (int)ceil(v);
        }
    int gw = m * bw + gap, w = left + k * gw + 20;
    ur_buf_printf(o, "<svg width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"mean score per aspect\">\n", w,
                  h + top + 60);
    for (int y = 0; y <= ymax; y++) {
        int py = top + h - y * h / ymax;
        ur_buf_printf(o, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                         "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d</text>\n",
                      left, w - 10, py, py, left - 6, py + 4, y);
    }
    for (int a = 0; a < k; a++) {
        int x0 = left + a * gw + gap / 2;
        for (int i = 0, j = 0; i < n; i++) {
            if (fs[i].pairwise) continue;
            int ai = find_aspect(&fs[i], names[a]);
            double v = ai < 0 ? NAN : rp_mean(&fs[i].scores[ai]);
            if (!isnan(v)) {
                int bh = (int)lround(v / ymax * h);
                ur_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x0 + j * bw,
                              top + h - bh, bw - 2, bh, COLORS[j % 8]);
                put_escaped(o, fs[i].model, 1);
                ur_buf_printf(o, " %s %.2f</title></rect>\n", names[a], v);
            }
            j++;
        }
        ur_buf_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">", x0 + m * bw / 2,
                      top + h + 16);
        put_escaped(o, names[a], 1);
        ur_buf_puts(o, "</text>\n");
    }
    for (int i = 0, j = 0, lx = left; i < n; i++) {
        if (fs[i].pairwise) continue;
        ur_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                         "font-size=\"12\">", lx, top + h + 32, COLORS[j % 8], lx + 16, top + h + 43);
        put_escaped(o, fs[i].model, 1);
        ur_buf_puts(o, "</text>\n");
        lx += 30 + 7 * (int)strlen(fs[i].model);
        j++;
    }
    ur_buf_puts(o, "</svg>\n");
}

/* Pairwise: one 100% bar per aspect, A wins / tie / B wins. */
static void pair_chart(const rp_file *f, ur_buf *o) {
    const int w = 400, bh = 18, left = 110;
    ur_buf_printf(o, "<svg width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"win, tie, lose per aspect\">\n",
                  left + w + 20, f->n_aspects * (bh + 6) + 10);
    for (int a = 0; a < f->n_aspects; a++) {
        long v[3] = {f->wins[a][0], f->ties[a], f->n_gens > 1 ? f->wins[a][1] : 0};
        long tot = v[0] + v[1] + v[2];
        int y = 5 + a * (bh + 6), x = left;
        ur_buf_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">", left - 6, y + 13);
        put_escaped(o, f->aspects[a], 1);
        ur_buf_puts(o, "</text>\n");
        static const char *col[] = {"#59a14f", "#bab0ac", "#e15759"};
        for (int s = 0; s < 3 && tot; s++) {
            int ww = (int)lround((double)v[s] * w / (double)tot);
            ur_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%ld</title></rect>\n",
                          x, y, ww, bh, col[s], v[s]);
            x += ww;
        }
    }
    ur_buf_puts(o, "</svg>\n");
}

void rp_html(const rp_file *fs, int n, const ur_report_params *p, ur_buf *o) {
    ur_buf_puts(o, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>urial eval report</title>\n"
                   "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
                   "td,th{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right}</style></head><body>\n"
                   "<h1>Judged outputs</h1>\n");
    score_chart(fs, n, o);
    score_tables(fs, n, p, o, 1);
    for (int i = 0; i < n; i++)
        if (fs[i].pairwise) {
            pair_tables(&fs[i], 1, o, 1);
            pair_chart(&fs[i], o);
        }
    ur_buf_puts(o, "<p>Means as just-eval computes them: over the records with a parsed judgment, an \"N/A\" score "
                   "counting as 5; words as Python's str.split() counts them.</p>\n</body></html>\n");
}
