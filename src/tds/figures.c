/* The TDS report's figures as inline SVG (no script needed to see them, readable
 * when printed): the paper's class ratios by position, the share of shifted
 * positions by position and by relative position, AlignTDS's TP/TR curves (mean
 * base probability and rank of the ranked token), the KLs over positions, a cloud
 * of shifted words and the most frequent shifted tokens. Line figures draw a series
 * per pair (colour) and quantity (dash), every axis labelled, every series in the
 * legend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

static const char *const COLOR[6] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"};
static const char *const DASH[3] = {"", "7 4", "2 3"};

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

/* ---- a line chart ------------------------------------------------------------------ */
typedef struct series {
    char label[160];
    int color, dash;
    double *y; /* [nx], NAN: no point */
} series;

typedef struct chart {
    const char *id, *title, *xlabel, *ylabel;
    int nx;
    const double *x;   /* [nx] the x value of each point (axis units) */
    double xmin, xmax; /* axis range */
    double ymax;       /* 0: from the data */
    int percent;       /* 1: y as a percentage of 1; 2: that, and x in fractions (relative positions) */
} chart;

/* 1, 2 or 5 times a power of ten, >= v */
static double nice(double v) {
    if (!(v > 0)) return 1;
    double p = pow(10, floor(log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void fmt_tick(char *t, size_t n, double v, int percent) {
    if (percent) snprintf(t, n, "%g%%", 100 * v);
    else snprintf(t, n, "%g", fabs(v) < 1e-12 ? 0 : v);
}

static void line_chart(ur_buf *b, const chart *c, const series *s, int ns) {
    const int W = 760, L = 64, R = 16, T = 12, ph = 220, rows = (ns + 1) / 2, H = T + ph + 44 + 18 * rows + 6;
    const int pw = W - L - R;
    double ymax = c->ymax;
    for (int k = 0; k < ns && !(c->ymax > 0); k++)
        for (int i = 0; i < c->nx; i++)
            if (!isnan(s[k].y[i]) && s[k].y[i] > ymax) ymax = s[k].y[i];
    if (!(c->ymax > 0)) ymax = nice(ymax);
    const double xr = c->xmax > c->xmin ? c->xmax - c->xmin : 1;
#define PX(v) (L + pw * ((v) - c->xmin) / xr)
#define PY(v) (T + ph - ph * ((v) / ymax))
    ur_buf_printf(b, "<figure><figcaption>%s</figcaption>\n<svg id=\"%s\" class=\"fig line\" viewBox=\"0 0 %d %d\" "
                     "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", c->title, c->id, W, H, W, H, c->title);
    char t[32];
    for (int g = 0; g <= 4; g++) {
        double v = ymax * g / 4, y = PY(v);
        fmt_tick(t, sizeof t, v, c->percent);
        ur_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><text class=\"tick\" x=\"%d\" "
                         "y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L, L + pw, y, y, L - 5, y + 4, t);
    }
    for (int g = 0; g <= 5; g++) {
        double v = c->xmin + xr * g / 5;
        snprintf(t, sizeof t, "%g", c->percent == 2 ? v : round(v));
        ur_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(v), T + ph + 15, t);
    }
    ur_buf_printf(b, "<polyline class=\"axis\" points=\"%d,%d %d,%d %d,%d\"/>\n", L, T, L, T + ph, L + pw, T + ph);
    ur_buf_printf(b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + pw / 2, T + ph + 32,
                  c->xlabel);
    ur_buf_printf(b, "<text class=\"ylabel\" transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
                  T + ph / 2, c->ylabel);
    for (int k = 0; k < ns; k++) {
        ur_buf_printf(b, "<polyline class=\"series\" data-series=\"%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s%s%s "
                         "points=\"", k, COLOR[s[k].color % 6], *DASH[s[k].dash] ? " stroke-dasharray=\"" : "",
                      DASH[s[k].dash], *DASH[s[k].dash] ? "\"" : "");
        for (int i = 0; i < c->nx; i++)
            if (!isnan(s[k].y[i])) ur_buf_printf(b, "%.1f,%.1f ", PX(c->x[i]), PY(s[k].y[i] < ymax ? s[k].y[i] : ymax));
        ur_buf_puts(b, "\"/>\n");
    }
    for (int k = 0; k < ns; k++) { /* the legend, two entries a row */
        const int x = L + (k % 2) * (pw / 2), y = T + ph + 52 + 18 * (k / 2);
        ur_buf_printf(b, "<g class=\"legend-entry\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                         "stroke-width=\"2.5\"%s%s%s/><text x=\"%d\" y=\"%d\">", x, x + 28, y - 4, y - 4,
                      COLOR[s[k].color % 6], *DASH[s[k].dash] ? " stroke-dasharray=\"" : "", DASH[s[k].dash],
                      *DASH[s[k].dash] ? "\"" : "", x + 34, y);
        tds_esc(b, s[k].label, strlen(s[k].label));
        ur_buf_puts(b, "</text></g>\n");
    }
    if (!ns) ur_buf_printf(b, "<text x=\"%d\" y=\"%d\">not available (a remote base gives no full distribution)</text>\n",
                           L + 20, T + ph / 2);
#undef PX
#undef PY
    ur_buf_puts(b, "</svg></figure>\n");
}

/* ---- the line figures ------------------------------------------------------------ */
/* Absolute positions: up to the longest length reached by a tenth of a pair's
 * answers, in at most 60 bins of w positions. */
typedef struct bins {
    int len, w, nb;
    double *x;
} bins;

static bins make_bins(const tds_pair *p, int n) {
    bins g = {0, 1, 0, NULL};
    for (int i = 0; i < n; i++) {
        int l = tds_plot_len(p[i].a);
        if (l > g.len) g.len = l;
    }
    g.w = g.len ? (g.len + 59) / 60 : 1;
    g.nb = g.len ? (g.len + g.w - 1) / g.w : 0;
    g.x = ur_xcalloc((size_t)(g.nb ? g.nb : 1), sizeof *g.x);
    for (int k = 0; k < g.nb; k++) g.x[k] = k * g.w;
    return g;
}

/* A pair's series over the position bins: the shifted share (m < 0) or a metric's mean. */
static double *binned(const tds_agg *a, const bins *g, int m) {
    double *y = ur_xmalloc(sizeof *y * (size_t)(g->nb ? g->nb : 1));
    const int len = tds_plot_len(a);
    for (int k = 0; k < g->nb; k++) {
        long n = 0, s = 0;
        tds_mean v = {0, 0};
        for (int q = k * g->w; q < (k + 1) * g->w && q < len; q++) {
            n += a->pos_n[q], s += a->pos_cls[UR_TDS_SHIFTED][q];
            if (m >= 0) v.s += a->pos_m[m][q].s, v.n += a->pos_m[m][q].n;
        }
        y[k] = !n ? NAN : m < 0 ? ratio(s, n) : v.n ? tds_mean_of(v) : NAN;
    }
    return y;
}

static int any_point(const double *y, int n) {
    for (int i = 0; i < n; i++)
        if (!isnan(y[i])) return 1;
    return 0;
}

/* Add pair i's series of quantity m (or the shifted share, m < 0) with a label. */
static int add_series(series *s, int ns, const tds_pair *p, int i, const bins *g, int m, int dash, const char *what,
                      int rel) {
    double *y;
    if (rel) {
        y = ur_xmalloc(sizeof *y * TDS_REL_BINS);
        for (int k = 0; k < TDS_REL_BINS; k++)
            y[k] = !p[i].a->rel_n[k] ? NAN
                   : m < 0 ? ratio(p[i].a->rel_cls[UR_TDS_SHIFTED][k], p[i].a->rel_n[k])
                   : p[i].a->rel_m[m][k].n ? tds_mean_of(p[i].a->rel_m[m][k]) : NAN;
    } else {
        y = binned(p[i].a, g, m);
    }
    if (!any_point(y, rel ? TDS_REL_BINS : g->nb)) {
        free(y);
        return ns;
    }
    series *e = &s[ns];
    snprintf(e->label, sizeof e->label, "%s%s%s", p[i].label ? p[i].label : "", what && *what && p[i].label ? ": " : "",
             what ? what : "");
    e->color = i, e->dash = dash, e->y = y;
    return ns + 1;
}

static void free_series(series *s, int ns) {
    for (int k = 0; k < ns; k++) free(s[k].y);
}

void tds_fig_lines(ur_buf *b, const tds_pair *p, int n) {
    bins g = make_bins(p, n);
    series *s = ur_xcalloc((size_t)(3 * n + 1), sizeof *s);
    double rx[TDS_REL_BINS];
    for (int k = 0; k < TDS_REL_BINS; k++) rx[k] = (k + 0.5) / TDS_REL_BINS;
    char xl[160];
    snprintf(xl, sizeof xl, "position t in the answer (0 = first token%s)", g.w > 1 ? "; bins of positions" : "");
    if (g.w > 1) snprintf(xl, sizeof xl, "position t in the answer (0 = first token; bins of %d positions)", g.w);
    chart c = {"fig-shift-pos", "Share of shifted positions (η &gt; 3) by position", xl, "shifted positions",
               g.nb, g.x, 0, g.nb ? g.x[g.nb - 1] : 1, 1, 1};
    int ns = 0;
    ur_buf_puts(b, "<h2>The paper's figures</h2>\n<p class=\"note\">Positions reached by fewer than a tenth of a pair's "
                   "answers are left out of the curves over positions.</p>\n");
    for (int i = 0; i < n; i++) ns = add_series(s, ns, p, i, &g, -1, 0, "", 0);
    line_chart(b, &c, s, ns);
    free_series(s, ns);

    chart cr = {"fig-shift-rel", "Share of shifted positions by relative position t / T",
                "relative position t / T in the answer (T = its length), tenths", "shifted positions", TDS_REL_BINS, rx, 0,
                1, 1, 2};
    ns = 0;
    for (int i = 0; i < n; i++) ns = add_series(s, ns, p, i, &g, -1, 0, "", 1);
    line_chart(b, &cr, s, ns);
    free_series(s, ns);

    chart ct = {"fig-tp", "Mean base probability of the ranked token (AlignTDS's TP curve)", xl, "probability",
                g.nb, g.x, 0, c.xmax, 1, 0};
    ns = 0;
    for (int i = 0; i < n; i++) {
        ns = add_series(s, ns, p, i, &g, M_PBASE, 0, "P_base (whole vocabulary)", 0);
        ns = add_series(s, ns, p, i, &g, M_TP, 1, "TP (base top-30 renormalised)", 0);
    }
    line_chart(b, &ct, s, ns);
    free_series(s, ns);

    chart cq = {"fig-tr", "Mean base rank of the ranked token (AlignTDS's TR curve)", xl,
                "TR = η − 1 (50 if not in the top 30)", g.nb, g.x, 0, c.xmax, 0, 0};
    ns = 0;
    for (int i = 0; i < n; i++) ns = add_series(s, ns, p, i, &g, M_TR, 0, "TR", 0);
    line_chart(b, &cq, s, ns);
    free_series(s, ns);

    chart ck = {"fig-kl", "KL divergence over positions", xl, "mean KL (nats)", g.nb, g.x, 0, c.xmax, 0, 0};
    ns = 0;
    for (int i = 0; i < n; i++) {
        ns = add_series(s, ns, p, i, &g, M_KL_AB, 0, "KL(P_align ‖ P_base)", 0);
        ns = add_series(s, ns, p, i, &g, M_KL_BA, 1, "KL(P_base ‖ P_align)", 0);
        ns = add_series(s, ns, p, i, &g, M_KL_TOPK, 2, "AlignTDS top-30 KL(base ‖ aligned)", 0);
    }
    line_chart(b, &ck, s, ns);
    free_series(s, ns);
    free(s);
    free(g.x);
}

/* ---- per pair: class ratios, shifted words and tokens ------------------------------ */
/* Stacked areas of the class ratios against the position, shifted at the bottom. */
void tds_fig_classes(ur_buf *b, const tds_agg *a, int pair) {
    const int W = 760, H = 270, L = 64, R = 12, T = 12, B = 44, pw = W - L - R, ph = H - T - B;
    ur_buf_printf(b, "<svg id=\"fig-classes-%d\" class=\"fig classes\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                     "role=\"img\" aria-label=\"class ratio by position\">\n", pair + 1, W, H, W, H);
    const int len = tds_plot_len(a);
    if (!len) {
        ur_buf_printf(b, "<text x=\"%d\" y=\"%d\">no positions</text></svg>\n", W / 2 - 40, H / 2);
        return;
    }
    const int w = (len + 59) / 60, nb = (len + w - 1) / w;
    double *lo = ur_xcalloc((size_t)nb, sizeof *lo), *mid = ur_xcalloc((size_t)nb, sizeof *mid);
    for (int k = 0; k < nb; k++) {
        long n = 0, s = 0, m = 0;
        for (int p = k * w; p < (k + 1) * w && p < len; p++)
            n += a->pos_n[p], s += a->pos_cls[UR_TDS_SHIFTED][p], m += a->pos_cls[UR_TDS_MARGINAL][p];
        lo[k] = ratio(s, n), mid[k] = ratio(s + m, n);
    }
    for (int g = 0; g <= 4; g++) {
        double y = T + ph - ph * g / 4.0;
        ur_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                         "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                      L, L + pw, y, y, L - 5, y + 4, g * 25);
    }
#define X(k) (L + (nb == 1 ? pw / 2.0 : pw * (double)(k) / (nb - 1)))
#define Y(v) (T + ph - ph * (v))
    const char *cls[3] = {"area-s", "area-m", "area-u"};
    for (int c = 0; c < 3; c++) {
        ur_buf_printf(b, "<polygon class=\"%s\" points=\"", cls[c]);
        for (int k = 0; k < nb; k++) ur_buf_printf(b, "%.1f,%.1f ", X(k), Y(c == 0 ? lo[k] : c == 1 ? mid[k] : 1.0));
        for (int k = nb - 1; k >= 0; k--) ur_buf_printf(b, "%.1f,%.1f ", X(k), Y(c == 0 ? 0.0 : c == 1 ? lo[k] : mid[k]));
        ur_buf_puts(b, "\"/>\n");
    }
    ur_buf_printf(b, "<polyline class=\"axis\" points=\"%d,%d %d,%d %d,%d\"/>\n", L, T, L, T + ph, L + pw, T + ph);
    for (int k = 0; k < 6; k++) {
        int bin = nb == 1 ? 0 : (int)lround((nb - 1) * k / 5.0);
        ur_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", X(bin), T + ph + 15,
                      bin * w);
        if (nb == 1) break;
    }
#undef X
#undef Y
    ur_buf_printf(b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">position t in the answer (0 = first "
                     "token)%s</text>\n", L + pw / 2, H - 6, w > 1 ? ", binned" : "");
    ur_buf_printf(b, "<text class=\"ylabel\" transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">share of "
                     "positions</text>\n</svg>\n", T + ph / 2);
    free(lo), free(mid);
}

/* Horizontal bars: the 20 tokens most often shifted. */
void tds_fig_shifted_bars(ur_buf *b, const tds_agg *a, int pair) {
    tds_count top[20];
    int n = tds_top_tokens(a, UR_TDS_SHIFTED, 20, top);
    const int W = 760, L = 150, R = 60, T = 8, row = 18, H = T + (n ? n : 1) * row + 30, pw = W - L - R;
    ur_buf_printf(b, "<svg id=\"fig-shifted-%d\" class=\"fig bars\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                     "role=\"img\" aria-label=\"most frequent shifted tokens\">\n", pair + 1, W, H, W, H);
    if (!n) ur_buf_printf(b, "<text x=\"%d\" y=\"%d\">no shifted positions</text>\n", L, T + 13);
    for (int i = 0; i < n; i++) {
        double bw = pw * (double)top[i].count / (double)top[0].count;
        int y = T + i * row;
        ur_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 6, y + 13);
        tds_vis(b, a->tok_text[top[i].id]);
        ur_buf_printf(b, "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>"
                         "<text x=\"%.1f\" y=\"%d\">%ld</text>\n",
                      L, y + 2, bw, row - 4, L + bw + 4, y + 13, top[i].count);
    }
    ur_buf_printf(b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">shifted positions holding the token "
                     "(η &gt; 3; ␣ a space, ↵ a newline)</text>\n</svg>\n", L + pw / 2, H - 8);
}

/* UTF-8 characters in s */
static int n_chars(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The 60 most frequent shifted words (sub-word pieces merged into the word of the
 * answer that holds them), sized by count, laid out in lines; each with its count. */
void tds_fig_words(ur_buf *b, const tds_agg *a, int pair) {
    tds_word w[60];
    const int n = tds_top_words(a, 60, w), W = 760;
    double *fs = ur_xmalloc(sizeof *fs * (size_t)(n ? n : 1)), *x = ur_xmalloc(sizeof *x * (size_t)(n ? n : 1));
    int *line = ur_xmalloc(sizeof *line * (size_t)(n ? n : 1)), nl = 0;
    double cx = 8, lh[64] = {0};
    for (int i = 0; i < n; i++) {
        fs[i] = 12 + 22 * sqrt((double)w[i].count / (double)w[0].count);
        double wd = 0.6 * fs[i] * n_chars(w[i].text) + 0.6 * 10 * 4 + 14;
        if (cx + wd > W - 8 && cx > 8 && nl < 63) nl++, cx = 8;
        x[i] = cx, line[i] = nl, cx += wd;
        if (fs[i] + 8 > lh[nl]) lh[nl] = fs[i] + 8;
    }
    double y0[64], H = 8;
    for (int l = 0; l <= nl; l++) y0[l] = H + lh[l] - 6, H += lh[l];
    ur_buf_printf(b, "<svg id=\"fig-words-%d\" class=\"fig words\" viewBox=\"0 0 %d %.0f\" width=\"%d\" height=\"%.0f\" "
                     "role=\"img\" aria-label=\"shifted words\">\n", pair + 1, W, H + 26, W, H + 26);
    if (!n) ur_buf_puts(b, "<text x=\"8\" y=\"20\">no shifted positions</text>\n");
    for (int i = 0; i < n; i++) {
        ur_buf_printf(b, "<text class=\"word\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" fill-opacity=\"%.2f\"><title>",
                      x[i], y0[line[i]], fs[i], 0.55 + 0.45 * sqrt((double)w[i].count / (double)w[0].count));
        tds_esc(b, w[i].text, strlen(w[i].text));
        ur_buf_printf(b, ": %ld shifted</title>", w[i].count);
        tds_vis(b, w[i].text);
        ur_buf_printf(b, "<tspan class=\"count\" font-size=\"10\" dx=\"2\">%ld</tspan></text>\n", w[i].count);
    }
    ur_buf_printf(b, "<text class=\"xlabel\" x=\"8\" y=\"%.0f\">word (size and the small number: shifted positions in "
                     "it; a token missing from the answer counts as itself)</text>\n</svg>\n", H + 18);
    free(fs), free(x), free(line);
}
