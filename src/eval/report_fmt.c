/* Report formats: Markdown tables, JSON with just-eval's key names, and a
 * self-contained HTML page with SVG charts (src/eval/chart.c, shared with urial study). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/chart.h"
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
    if (html) { /* the page has its own table (series merged, named uniquely): rp_html */
        ur_buf scratch = {0};
        t_emit(&t, &scratch, 1);
        ur_buf_free(&scratch);
    } else {
        const char *scale = rp_common_scale(fs, n);
        if (!scale) { /* files on different scales: a row says which */
            t_row(&t);
            t_set(&t, 0, "scale");
            for (int i = 0, c = 1; i < n; i++)
                if (!fs[i].pairwise)
                    t_set(&t, c++, "%s", fs[i].scale_mixed ? "mixed" : fs[i].scale_seen ? fs[i].scale : "1 to 5");
            ur_buf_puts(o, "## Scores\n\n");
        } else {
            ur_buf_printf(o, "## Scores (%s)\n\n", scale);
        }
        t_emit(&t, o, 0);
    }
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
/* A series of the page: one model's means. Scoring files with the same generator whose
 * aspects do not overlap (a multi-aspect file and a safety file of one model) are one
 * series; names that still clash get the file's name added (chart_unique_names). */
typedef struct series {
    const char *model, *file;
    double mean[RP_MAX_ASPECTS]; /* per page aspect, NAN when absent */
    long total;
    double words;
} series;

static int make_series(const rp_file *fs, int n, const char **names, int k, series *sv) {
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const rp_file *f = &fs[i];
        if (f->pairwise) continue;
        int into = -1;
        for (int j = 0; j < ns && into < 0; j++) {
            int overlap = 0;
            for (int a = 0; a < k; a++) overlap |= !isnan(sv[j].mean[a]) && find_aspect(f, names[a]) >= 0;
            if (!strcmp(sv[j].model, f->model) && !overlap) into = j;
        }
        if (into < 0) {
            into = ns++;
            sv[into] = (series){.model = f->model, .file = ur_base_name(f->file), .words = rp_mean(&f->lens)};
            for (int a = 0; a < k; a++) sv[into].mean[a] = NAN;
        }
        for (int a = 0; a < k; a++) {
            int j = find_aspect(f, names[a]);
            if (j >= 0) sv[into].mean[a] = rp_mean(&f->scores[j]);
        }
        sv[into].total += f->total;
    }
    return ns;
}

static double series_avg(const series *s, int k) {
    double t = 0;
    int m = 0;
    for (int a = 0; a < k; a++)
        if (!isnan(s->mean[a])) t += s->mean[a], m++;
    return m ? t / m : NAN;
}

static void series_table(const series *sv, char **labels, int ns, const char **names, int k, ur_buf *o) {
    table t;
    char b[64];
    t_init(&t, ns + 1);
    t_row(&t);
    t_set(&t, 0, "aspect");
    for (int s = 0; s < ns; s++) t_set(&t, s + 1, "%s", labels[s]);
    for (int a = 0; a <= k + 2; a++) {
        t_row(&t);
        t_set(&t, 0, "%s", a < k ? names[a] : a == k ? "average" : a == k + 1 ? "judged" : "words (mean)");
        for (int s = 0; s < ns; s++) {
            double v = a < k ? sv[s].mean[a] : a == k ? series_avg(&sv[s], k) : a == k + 2 ? sv[s].words : NAN;
            if (a == k + 1) t_set(&t, s + 1, "%ld", sv[s].total);
            else fmt_mean(b, sizeof b, v, a == k + 2 ? "%.1f" : "%.2f"), t_set(&t, s + 1, "%s", b);
        }
    }
    ur_buf_puts(o, "<h2>Scores (1 to 5)</h2>\n");
    t_emit(&t, o, 1);
}

static void score_charts(const rp_file *fs, int n, ur_buf *o) {
    const char *names[RP_MAX_ASPECTS];
    int k = all_aspects(fs, n, names);
    series *sv = ur_xcalloc((size_t)n + 1, sizeof *sv);
    int ns = make_series(fs, n, names, k, sv);
    if (!ns || !k) {
        free(sv);
        return;
    }
    const char **base = ur_xcalloc((size_t)ns, sizeof *base), **files = ur_xcalloc((size_t)ns, sizeof *files);
    char **labels = ur_xcalloc((size_t)ns, sizeof *labels);
    double *vals = ur_xcalloc((size_t)ns * (size_t)k, sizeof *vals);
    for (int s = 0; s < ns; s++) {
        base[s] = sv[s].model, files[s] = sv[s].file;
        for (int a = 0; a < k; a++) vals[s * k + a] = sv[s].mean[a];
    }
    chart_unique_names(base, files, ns, labels);
    /* the axis: 1 to 5, or the files' common declared scale (e.g. LIMA's 1 to 6) */
    const char *scale = rp_common_scale(fs, n);
    double ymax = 5;
    for (int i = 0; i < ns * k; i++)
        if (!isnan(vals[i]) && vals[i] > ymax) ymax = ceil(vals[i]);
    char ylabel[96];
    snprintf(ylabel, sizeof ylabel, "mean score (%s)", scale ? scale : "scales differ");
    ur_buf_puts(o, "<div class=\"charts\">\n");
    chart_bars(o, "scores-bars", "Mean score per aspect", "aspect", ylabel, ymax, names, k, (const char *const *)labels,
               vals, ns);
    if (k >= 3)
        chart_radar(o, "scores-radar", "Aspects (radar)", names, k, ymax, (const char *const *)labels, vals, ns);
    ur_buf_puts(o, "</div>\n");
    series_table(sv, labels, ns, names, k, o);
    for (int s = 0; s < ns; s++) free(labels[s]);
    free(labels), free(base), free(files), free(vals), free(sv);
}

/* Pairwise: one 100% bar per aspect, A wins / tie / B wins, with its legend. */
static void pair_chart(const rp_file *f, int i, ur_buf *o) {
    const char *rows[RP_MAX_ASPECTS];
    long counts[RP_MAX_ASPECTS * 3];
    for (int a = 0; a < f->n_aspects; a++) {
        rows[a] = f->aspects[a];
        counts[3 * a] = f->wins[a][0], counts[3 * a + 1] = f->ties[a];
        counts[3 * a + 2] = f->n_gens > 1 ? f->wins[a][1] : 0;
    }
    ur_buf ta = {0}, tb = {0}, id = {0};
    ur_buf_printf(&ta, "%s wins", f->n_gens > 0 ? f->gens[0] : "A");
    ur_buf_printf(&tb, "%s wins", f->n_gens > 1 ? f->gens[1] : "B");
    ur_buf_printf(&id, "pairwise-%d", i);
    const char *parts[3] = {ta.data, "tie", tb.data};
    chart_stack(o, id.data, "Win, tie, lose per aspect", rows, f->n_aspects, parts, counts);
    ur_buf_free(&ta), ur_buf_free(&tb), ur_buf_free(&id);
}

void rp_html(const rp_file *fs, int n, const ur_report_params *p, ur_buf *o) {
    ur_buf_printf(o, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>urial eval report</title>\n"
                     "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
                     "td,th{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right}"
                     ".charts{display:flex;flex-wrap:wrap;gap:1em}%s</style></head><body>\n"
                     "<h1>Judged outputs</h1>\n",
                  CHART_CSS);
    score_charts(fs, n, o);
    score_tables(fs, n, p, o, 1);
    for (int i = 0; i < n; i++)
        if (fs[i].pairwise) {
            pair_tables(&fs[i], 1, o, 1);
            pair_chart(&fs[i], i, o);
        }
    ur_buf_puts(o, "<p>Means as just-eval computes them: over the records with a parsed judgment, an \"N/A\" score "
                   "counting as 5; words as Python's str.split() counts them. A multi-aspect file and a safety file "
                   "of the same generator are one column; average: the mean of its aspects' means.</p>\n</body></html>\n");
}
