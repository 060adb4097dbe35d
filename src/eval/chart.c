/* Inline SVG charts for the HTML reports (see chart.h). Sizes are in SVG user units;
 * text widths are estimated at 0.6 em per character (the labels are short; the
 * legends, whose names can be long, are HTML and wrap). */
#include "eval/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char CHART_CSS[] =
    "figure.chart{margin:1em 0;padding:.5em;border:1px solid #ddd;max-width:100%;box-sizing:border-box;"
    "break-inside:avoid;display:inline-block;vertical-align:top}"
    "figure.chart figcaption{font-weight:bold;margin-bottom:.3em}"
    "figure.chart svg{max-width:100%;height:auto;display:block}"
    "figure.chart text{font-family:sans-serif}"
    "ul.legend{list-style:none;margin:.4em 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.2em 1em;max-width:100%}"
    "ul.legend li{font-size:12px;overflow-wrap:anywhere;max-width:100%}"
    "ul.legend .sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}";

static const char *COLORS[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                               "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const char *chart_color(int i) { return COLORS[i % 10]; }

void chart_esc(ur_buf *o, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') ur_buf_puts(o, "&lt;");
        else if (*s == '>') ur_buf_puts(o, "&gt;");
        else if (*s == '&') ur_buf_puts(o, "&amp;");
        else if (*s == '"') ur_buf_puts(o, "&quot;");
        else ur_buf_put(o, s, 1);
    }
}

/* characters (UTF-8 continuation bytes not counted) */
static int text_w(const char *s, int px) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return (int)(0.62 * px * n) + 2;
}

static void head(ur_buf *o, const char *id, const char *title, int w, int h, int ns) {
    ur_buf_puts(o, "<figure class=\"chart\" id=\"");
    chart_esc(o, id);
    ur_buf_printf(o, "\" data-series=\"%d\"><figcaption>", ns);
    chart_esc(o, title);
    ur_buf_printf(o, "</figcaption>\n<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", w,
                  h, w, h);
    chart_esc(o, title);
    ur_buf_puts(o, "\">\n");
}

static void legend(ur_buf *o, const char *const *names, int n, const char *const *colors) {
    ur_buf_puts(o, "</svg>\n<ul class=\"legend\">");
    for (int i = 0; i < n; i++) {
        ur_buf_printf(o, "<li><span class=\"sw\" style=\"background:%s\"></span>", colors ? colors[i] : chart_color(i));
        chart_esc(o, names[i]);
        ur_buf_puts(o, "</li>");
    }
    ur_buf_puts(o, "</ul></figure>\n");
}

static void text(ur_buf *o, int x, int y, const char *anchor, const char *cls, const char *extra, const char *s) {
    ur_buf_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"%s\" class=\"%s\"%s>", x, y, anchor, cls,
                  extra ? extra : "");
    chart_esc(o, s);
    ur_buf_puts(o, "</text>\n");
}

/* ---- grouped bars ---------------------------------------------------------------------- */
void chart_bars(ur_buf *o, const char *id, const char *title, const char *xlabel, const char *ylabel, double ymax,
                const char *const *cats, int nc, const char *const *names, const double *vals, int ns) {
    int maxc = 0;
    for (int c = 0; c < nc; c++) maxc = text_w(cats[c], 12) > maxc ? text_w(cats[c], 12) : maxc;
    const int bw = ns > 6 ? 10 : 16, gap = 20, top = 14, left = 58, ph = 200;
    int gw = ns * bw + gap, rot = maxc > gw - 4, w = left + nc * gw + 16;
    int cat_h = rot ? (int)(maxc * 0.71) + 16 : 18, h = top + ph + cat_h + 24;
    if (w < text_w(xlabel, 12) + left + 16) w = text_w(xlabel, 12) + left + 16;
    head(o, id, title, w, h, ns);
    for (int t = 0; t <= 5; t++) {
        int py = top + ph - t * ph / 5;
        char lab[32];
        snprintf(lab, sizeof lab, "%g", ymax * t / 5);
        ur_buf_printf(o, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", left, w - 10, py, py);
        text(o, left - 6, py + 4, "end", "tick", NULL, lab);
    }
    char rotate[64];
    snprintf(rotate, sizeof rotate, " transform=\"rotate(-90 14 %d)\"", top + ph / 2);
    text(o, 14, top + ph / 2, "middle", "axis-label y-label", rotate, ylabel);
    for (int c = 0; c < nc; c++) {
        int x0 = left + c * gw + gap / 2;
        for (int s = 0; s < ns; s++) {
            double v = vals[s * nc + c];
            if (isnan(v)) continue;
            int bh = (int)lround((v < 0 ? 0 : v > ymax ? ymax : v) / ymax * ph);
            ur_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x0 + s * bw,
                          top + ph - bh, bw - 2, bh, chart_color(s));
            chart_esc(o, names[s]);
            ur_buf_puts(o, ", ");
            chart_esc(o, cats[c]);
            ur_buf_printf(o, ": %.2f</title></rect>\n", v);
        }
        int cx = x0 + ns * bw / 2, cy = top + ph + 14;
        if (rot) {
            char tr[80];
            snprintf(tr, sizeof tr, " transform=\"rotate(-45 %d %d)\"", cx, cy);
            text(o, cx, cy, "end", "cat", tr, cats[c]);
        } else {
            text(o, cx, cy, "middle", "cat", NULL, cats[c]);
        }
    }
    ur_buf_printf(o, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", left, w - 10, top + ph, top + ph);
    text(o, left + (w - left) / 2, h - 6, "middle", "axis-label x-label", NULL, xlabel);
    legend(o, names, ns, NULL);
}

/* ---- radar ------------------------------------------------------------------------------- */
void chart_radar(ur_buf *o, const char *id, const char *title, const char *const *axes, int na, double rmax,
                 const char *const *names, const double *vals, int ns) {
    int maxl = 0;
    for (int a = 0; a < na; a++) maxl = text_w(axes[a], 12) > maxl ? text_w(axes[a], 12) : maxl;
    const int r = 90, pad = maxl + 10, cx = r + pad, cy = r + 30, w = 2 * (r + pad), h = 2 * r + 60;
    head(o, id, title, w, h, ns);
    for (int ring = 1; ring <= 5; ring++) { /* the scale's rings, 1 to 5 of rmax / 5 */
        ur_buf_puts(o, "<polygon fill=\"none\" stroke=\"#ddd\" points=\"");
        for (int a = 0; a < na; a++) {
            double ang = -M_PI / 2 + 2 * M_PI * a / na, rr = r * ring / 5.0;
            ur_buf_printf(o, "%.1f,%.1f ", cx + rr * cos(ang), cy + rr * sin(ang));
        }
        ur_buf_puts(o, "\"/>\n");
        char lab[16];
        snprintf(lab, sizeof lab, "%g", rmax * ring / 5);
        ur_buf_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#888\" class=\"tick\">%s</text>\n", cx + 2,
                      cy - r * ring / 5 + 3, lab);
    }
    for (int a = 0; a < na; a++) {
        double ang = -M_PI / 2 + 2 * M_PI * a / na, c = cos(ang), s = sin(ang);
        ur_buf_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", cx, cy, cx + r * c,
                      cy + r * s);
        const char *anchor = c > 0.3 ? "start" : c < -0.3 ? "end" : "middle";
        text(o, (int)lround(cx + (r + 8) * c), (int)lround(cy + (r + 8) * s + (s > 0.3 ? 10 : s < -0.3 ? -2 : 4)), anchor,
             "axis-label", NULL, axes[a]);
    }
    for (int i = 0; i < ns; i++) {
        ur_buf_printf(o, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                      chart_color(i), chart_color(i));
        for (int a = 0; a < na; a++) {
            double v = vals[i * na + a], ang = -M_PI / 2 + 2 * M_PI * a / na;
            double rr = isnan(v) ? 0 : r * (v < 0 ? 0 : v > rmax ? rmax : v) / rmax;
            ur_buf_printf(o, "%.1f,%.1f ", cx + rr * cos(ang), cy + rr * sin(ang));
        }
        ur_buf_puts(o, "\"><title>");
        chart_esc(o, names[i]);
        ur_buf_puts(o, "</title></polygon>\n");
    }
    legend(o, names, ns, NULL);
}

/* ---- win / tie / lose -------------------------------------------------------------------- */
void chart_stack(ur_buf *o, const char *id, const char *title, const char *const *rows, int nr,
                 const char *const *parts, const long *counts) {
    static const char *col[3] = {"#59a14f", "#bab0ac", "#e15759"};
    int maxl = 0;
    for (int i = 0; i < nr; i++) maxl = text_w(rows[i], 12) > maxl ? text_w(rows[i], 12) : maxl;
    const int bw = 400, bh = 18, left = maxl + 12, top = 8, w = left + bw + 20, ph = nr * (bh + 6);
    const int h = top + ph + 40;
    head(o, id, title, w, h, 3);
    for (int r = 0; r < nr; r++) {
        const long *v = counts + 3 * r;
        long tot = v[0] + v[1] + v[2];
        int y = top + r * (bh + 6), x = left;
        text(o, left - 6, y + 13, "end", "cat", NULL, rows[r]);
        for (int k = 0; k < 3 && tot; k++) {
            int ww = (int)lround((double)v[k] * bw / (double)tot);
            ur_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x, y, ww, bh,
                          col[k]);
            chart_esc(o, parts[k]);
            ur_buf_printf(o, ": %ld of %ld</title></rect>\n", v[k], tot);
            x += ww;
        }
    }
    for (int t = 0; t <= 4; t++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d%%", 25 * t);
        text(o, left + t * bw / 4, top + ph + 12, "middle", "tick", NULL, lab);
    }
    text(o, left + bw / 2, h - 6, "middle", "axis-label x-label", NULL, "share of the judged pairs");
    legend(o, parts, 3, col);
}

void chart_unique_names(const char *const *names, const char *const *detail, int n, char **out) {
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= j != i && !strcmp(names[i], names[j]);
        ur_buf b = {0};
        ur_buf_puts(&b, names[i]);
        if (dup && detail && detail[i]) ur_buf_printf(&b, " (%s)", detail[i]);
        out[i] = b.data;
    }
    for (int i = 0; i < n; i++) {
        int k = 1;
        for (int j = 0; j < i; j++) k += !strcmp(out[i], out[j]);
        if (k > 1) {
            ur_buf b = {0};
            ur_buf_printf(&b, "%s #%d", out[i], k);
            free(out[i]);
            out[i] = b.data;
        }
    }
}
