/* report.html: one self-contained page (no network) — the summary numbers, two SVG
 * plots drawn here (class ratio by position; the most frequent shifted tokens),
 * the top token lists, and every answer with its tokens coloured by class, drawn
 * by data/tds/report.js from a compact JSON block. Each position is a run of small
 * integers (token, rank, probabilities as round(-100 log10 p), KL in thousandths,
 * the base's alternatives as token ids and probabilities) written as base-32
 * digits — about 18 bytes for an unshifted position, 26 for a shifted one — and
 * the token texts are one table; 1000 Llama-2-chat answers (334k positions) give
 * a page of about 6-9 MB. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

#define EMBED(n) extern const unsigned char ur_embed_##n[]; extern const size_t ur_embed_##n##_len;
EMBED(report_css)
EMBED(report_js)

struct tds_report {
    ur_buf ex;    /* the examples' JSON objects, comma-separated */
    int n_ex;
    char **text;  /* [n_text] token texts by id (NULL: not used) */
    int n_text;
    int rank_gt;  /* a remote base: the largest K of a "rank_gt" (its η > K is written as K + 1) */
    int no_kl;    /* a position had "kl": null (a remote base) */
};

tds_report *tds_report_new(void) {
    tds_report *r = ur_xcalloc(1, sizeof *r);
    return r;
}

void tds_report_free(tds_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n_text; i++) free(r->text[i]);
    free(r->text);
    ur_buf_free(&r->ex);
    free(r);
}

static void keep_text(tds_report *r, json_int_t id, json_t *text) {
    if (id < 0 || id >= (1 << 24) || !json_is_string(text)) return;
    if (id >= r->n_text) {
        int n = r->n_text * 2 > id + 1 ? r->n_text * 2 : (int)id + 1;
        char **t = ur_xrealloc(r->text, sizeof *t * (size_t)n);
        memset(t + r->n_text, 0, sizeof *t * (size_t)(n - r->n_text));
        r->text = t, r->n_text = n;
    }
    if (!r->text[id]) r->text[id] = ur_xstrdup(json_string_value(text));
}

/* A number as base-32 digits, most significant first: every digit but the last
 * from "0-9a-v", the last from "A-Z!#$%()", so numbers need no separator
 * (0..31: one byte, ..1023: two, ..32767: three). report.js decodes it. */
static void put_num(ur_buf *b, unsigned long v) {
    static const char C[] = "0123456789abcdefghijklmnopqrstuv", F[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%()";
    char d[16];
    int n = 0;
    d[n++] = F[v % 32];
    for (v /= 32; v; v /= 32) d[n++] = C[v % 32];
    while (n) ur_buf_put(b, &d[--n], 1);
}

/* round(-100 log10 p), 0 .. 9999 */
static int qprob(double p) {
    if (!(p > 0)) return 9999;
    double q = -100 * log10(p);
    return q < 0 ? 0 : q > 9999 ? 9999 : (int)lround(q);
}

void tds_report_example(tds_report *r, json_t *rec) {
    json_t *toks = json_object_get(rec, "tokens"), *t, *ins = json_object_get(rec, "instruction");
    json_t *idx = json_object_get(rec, "input_index");
    char *id = json_dumps(json_object_get(rec, "id"), JSON_ENCODE_ANY | JSON_COMPACT);
    size_t i;
    ur_buf *b = &r->ex;
    ur_buf_printf(b, "%s\n{\"id\":%s,\"i\":%lld,\"q\":", r->n_ex++ ? "," : "", id ? id : "null",
                  json_is_integer(idx) ? (long long)json_integer_value(idx) : -1LL);
    free(id);
    const char *q = json_is_string(ins) ? json_string_value(ins) : "";
    ur_buf_json_str(b, q, strlen(q));
    ur_buf_puts(b, ",\"t\":\"");
    json_array_foreach(toks, i, t) {
        json_int_t tok = json_integer_value(json_object_get(t, "token"));
        json_int_t rank = json_integer_value(json_object_get(t, "rank"));
        json_t *gt = json_object_get(t, "rank_gt"), *jkl = json_object_get(t, "kl");
        if (json_is_null(json_object_get(t, "rank")) && json_is_integer(gt)) {
            rank = json_integer_value(gt) + 1; /* η > K: shown as such, classed as K + 1 */
            if (rank - 1 > r->rank_gt) r->rank_gt = (int)(rank - 1);
        }
        r->no_kl |= json_is_null(jkl);
        keep_text(r, tok, json_object_get(t, "text"));
        double kl = json_number_value(jkl);
        put_num(b, (unsigned long)tok);
        put_num(b, (unsigned long)rank);
        put_num(b, (unsigned long)qprob(json_number_value(json_object_get(t, "p_base"))));
        put_num(b, (unsigned long)qprob(json_number_value(json_object_get(t, "p_align"))));
        put_num(b, kl > 0 ? (unsigned long)lround(kl * 1000) : 0);
        /* alternatives (id + 1, 0 = none): with rank 1 the first is the token itself (already there) */
        json_t *top = json_object_get(t, "top");
        size_t first = rank == 1 ? 1 : 0;
        for (size_t j = first; j < first + (rank == 1 ? 2 : 3); j++) {
            json_t *a = json_array_get(top, j);
            json_int_t aid = json_is_integer(json_array_get(a, 0)) ? json_integer_value(json_array_get(a, 0)) : -1;
            if (aid >= 0) keep_text(r, aid, json_array_get(a, 1));
            put_num(b, (unsigned long)(aid + 1));
            put_num(b, aid >= 0 ? (unsigned long)qprob(json_number_value(json_array_get(a, 2))) : 0);
        }
    }
    ur_buf_puts(b, "\"}");
}

/* ---- HTML helpers ---------------------------------------------------------------- */
static void esc(ur_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': ur_buf_puts(b, "&amp;"); break;
        case '<': ur_buf_puts(b, "&lt;"); break;
        case '>': ur_buf_puts(b, "&gt;"); break;
        case '"': ur_buf_puts(b, "&quot;"); break;
        default: ur_buf_put(b, s + i, 1);
        }
    }
}

/* A token text with its whitespace made visible (␣ ↵ ⇥), HTML-escaped. */
static void vis(ur_buf *b, const char *s) {
    for (; s && *s; s++) {
        if (*s == ' ') ur_buf_puts(b, "\xE2\x90\xA3");
        else if (*s == '\n') ur_buf_puts(b, "\xE2\x86\xB5");
        else if (*s == '\t') ur_buf_puts(b, "\xE2\x87\xA5");
        else esc(b, s, 1);
    }
}

static const char *cfg_str(json_t *config, const char *key) {
    json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

/* ---- the plots ------------------------------------------------------------------- */
/* Stacked areas of the class ratios against the position, shifted at the bottom.
 * Positions reached by fewer than a tenth of the answers are left out (too few to
 * give a ratio); the rest is binned into at most 60 bins. */
static void plot_ratio(ur_buf *b, const tds_agg *a) {
    const int W = 760, H = 260, L = 48, R = 12, T = 12, B = 34, pw = W - L - R, ph = H - T - B;
    ur_buf_printf(b, "<svg id=\"ratio-plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                     "aria-label=\"class ratio by position\">\n", W, H, W, H);
    long need = a->n_ex / 10 > 1 ? a->n_ex / 10 : 1;
    int len = 0;
    for (int p = 0; p < a->n_posv; p++)
        if (a->pos_n[p] >= need) len = p + 1;
    if (!len) {
        ur_buf_printf(b, "<text x=\"%d\" y=\"%d\">no positions</text></svg>\n", W / 2 - 40, H / 2);
        return;
    }
    int w = (len + 59) / 60, nb = (len + w - 1) / w;
    double *lo = ur_xcalloc((size_t)nb, sizeof *lo), *mid = ur_xcalloc((size_t)nb, sizeof *mid);
    for (int k = 0; k < nb; k++) {
        long n = 0, s = 0, m = 0;
        for (int p = k * w; p < (k + 1) * w && p < len; p++)
            n += a->pos_n[p], s += a->pos_cls[UR_TDS_SHIFTED][p], m += a->pos_cls[UR_TDS_MARGINAL][p];
        lo[k] = ratio(s, n), mid[k] = ratio(s + m, n);
    }
    /* grid and axes */
    for (int g = 0; g <= 4; g++) {
        double y = T + ph - ph * g / 4.0;
        ur_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                         "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                      L, L + pw, y, y, L - 5, y + 4, g * 25);
    }
#define X(k) (L + (nb == 1 ? pw / 2.0 : pw * (double)(k) / (nb - 1)))
#define Y(v) (T + ph - ph * (v))
    /* the three areas: [0, lo] shifted, [lo, mid] marginal, [mid, 1] unshifted */
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
        ur_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", X(bin), T + ph + 14, bin * w);
        if (nb == 1) break;
    }
#undef X
#undef Y
    ur_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">position in the answer (0 = first token)%s</text>\n",
                  L + pw / 2, H - 4, w > 1 ? ", binned" : "");
    ur_buf_puts(b, "</svg>\n");
    free(lo), free(mid);
}

/* Horizontal bars: the 20 tokens most often shifted. */
static void plot_shifted(ur_buf *b, const tds_agg *a) {
    tds_count top[20];
    int n = tds_top_tokens(a, UR_TDS_SHIFTED, 20, top);
    const int W = 760, L = 150, R = 60, T = 8, row = 18, H = T + (n ? n : 1) * row + 8, pw = W - L - R;
    ur_buf_printf(b, "<svg id=\"shifted-plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                     "aria-label=\"most frequent shifted tokens\">\n", W, H, W, H);
    if (!n) ur_buf_printf(b, "<text x=\"%d\" y=\"%d\">no shifted positions</text>\n", L, T + 13);
    for (int i = 0; i < n; i++) {
        double bw = pw * (double)top[i].count / (double)top[0].count;
        int y = T + i * row;
        ur_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 6, y + 13);
        vis(b, a->tok_text[top[i].id]);
        ur_buf_printf(b, "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>"
                         "<text x=\"%.1f\" y=\"%d\">%ld</text>\n",
                      L, y + 2, bw, row - 4, L + bw + 4, y + 13, top[i].count);
    }
    ur_buf_puts(b, "</svg>\n");
}

static void token_list(ur_buf *b, const tds_agg *a, int cls, const char *title) {
    tds_count top[50];
    int n = tds_top_tokens(a, cls, 50, top);
    ur_buf_printf(b, "<div><h3>%s</h3><ol>", title);
    for (int i = 0; i < n; i++) {
        ur_buf_puts(b, "<li><code class=\"tk\">");
        vis(b, a->tok_text[top[i].id]);
        ur_buf_printf(b, "</code> %ld</li>", top[i].count);
    }
    ur_buf_puts(b, n ? "</ol></div>\n" : "<li>none</li></ol></div>\n");
}

/* ---- the page -------------------------------------------------------------------- */
void tds_report_finish(tds_report *r, const tds_agg *a, const char *summary_json, json_t *config, ur_buf *html) {
    (void)summary_json;
    const char *base = cfg_str(config, "base"), *aligned = cfg_str(config, "aligned");
    ur_buf *b = html;
    ur_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>TDS: ");
    esc(b, base ? base : "base", strlen(base ? base : "base"));
    ur_buf_puts(b, " vs ");
    esc(b, aligned ? aligned : "aligned", strlen(aligned ? aligned : "aligned"));
    ur_buf_puts(b, "</title>\n<style>\n");
    ur_buf_put(b, ur_embed_report_css, ur_embed_report_css_len);
    ur_buf_puts(b, "</style></head><body>\n<h1>Token distribution shift</h1>\n<p class=\"cfg\">base <b>");
    esc(b, base ? base : "?", strlen(base ? base : "?"));
    ur_buf_puts(b, "</b> · aligned <b>");
    esc(b, aligned ? aligned : "?", strlen(aligned ? aligned : "?"));
    const char *prompt = cfg_str(config, "prompt");
    if (prompt) {
        ur_buf_puts(b, "</b> · input <b>");
        esc(b, prompt, strlen(prompt));
    }
    ur_buf_puts(b, "</b></p>\n");

    /* the numbers */
    const long P = a->n_pos;
    ur_buf_printf(b, "<h2>Summary</h2>\n<p class=\"legend\">η = the base model's rank of the aligned model's token: "
                     "<span class=\"t u\">unshifted</span> η = 1 <span class=\"t m\">marginal</span> η = 2–3 "
                     "<span class=\"t s\">shifted</span> η &gt; 3</p>\n<table class=\"nums\" id=\"nums\">\n"
                     "<tr><th>answers</th><td class=\"n\">%d</td></tr>\n<tr><th>positions</th><td class=\"n\">%ld</td></tr>\n",
                  a->n_ex, P);
    static const char *names[3] = {"unshifted", "marginal", "shifted"};
    for (int c = 0; c < 3; c++)
        ur_buf_printf(b, "<tr><th>%s</th><td class=\"n\">%ld</td><td class=\"n\">%.2f%%</td></tr>\n", names[c],
                      a->cls[c], 100 * ratio(a->cls[c], P));
    if (a->n_nokl)
        ur_buf_printf(b, "<tr><th>mean KL(P_align ‖ P_base)</th><td class=\"n\">–</td><td>KL not available with a "
                         "remote base (only its top %d logprobs are known; %ld positions have η &gt; %d)</td></tr>\n",
                      r->rank_gt ? r->rank_gt : 0, a->n_gt, r->rank_gt ? r->rank_gt : 0);
    else
        ur_buf_printf(b, "<tr><th>mean KL(P_align ‖ P_base)</th><td class=\"n\">%.4f</td><td>nats</td></tr>\n",
                      P ? a->kl_sum / (double)P : 0);
    for (int f = 0; f < TDS_N_FIRST; f++) {
        long n = 0, s = 0;
        for (int p = 0; p < TDS_FIRST[f] && p < a->n_posv; p++) n += a->pos_n[p], s += a->pos_cls[UR_TDS_SHIFTED][p];
        ur_buf_printf(b, "<tr><th>first %d tokens: shifted</th><td class=\"n\">%.2f%%</td><td>holding %.1f%% of all "
                         "shifted positions</td></tr>\n",
                      TDS_FIRST[f], 100 * ratio(s, n), 100 * ratio(s, a->cls[UR_TDS_SHIFTED]));
    }
    ur_buf_puts(b, "</table>\n<h2>Class ratio by position</h2>\n<p class=\"legend\"><span class=\"t s\">shifted</span>"
                   "<span class=\"t m\">marginal</span><span style=\"background:#cfe8cf\">unshifted</span></p>\n");
    plot_ratio(b, a);
    ur_buf_puts(b, "<h2>Most frequent shifted tokens</h2>\n");
    plot_shifted(b, a);
    ur_buf_puts(b, "<h2>Top tokens by class</h2>\n<div class=\"cols\">\n");
    token_list(b, a, UR_TDS_SHIFTED, "shifted (η &gt; 3)");
    token_list(b, a, UR_TDS_UNSHIFTED, "unshifted (η = 1)");
    ur_buf_puts(b, "</div>\n<h2>Answers</h2>\n<div id=\"controls\"><label>order <select id=\"sort\">"
                   "<option value=\"input\">as in the dataset</option><option value=\"most\">most shifted first</option>"
                   "<option value=\"least\">least shifted first</option></select></label>"
                   "<button id=\"prev\">&larr; previous</button><span id=\"page\"></span>"
                   "<button id=\"next\">next &rarr;</button><span>hover a token for η and the base model's top "
                   "tokens</span></div>\n<div id=\"examples\"></div>\n<div id=\"tip\" hidden></div>\n");

    /* the data: JSON inside a script element, every '<' escaped so that no text can close it */
    ur_buf d = {0};
    ur_buf_puts(&d, "{");
    if (r->rank_gt || r->no_kl) ur_buf_printf(&d, "\"rank_gt\":%d,\"no_kl\":%s,", r->rank_gt, r->no_kl ? "true" : "false");
    ur_buf_puts(&d, "\"vocab\":{");
    int first = 1;
    for (int i = 0; i < r->n_text; i++) {
        if (!r->text[i]) continue;
        ur_buf_printf(&d, "%s\"%d\":", first ? "" : ",", i);
        ur_buf_json_str(&d, r->text[i], strlen(r->text[i]));
        first = 0;
    }
    ur_buf_puts(&d, "},\n\"examples\":[");
    ur_buf_put(&d, r->ex.data ? r->ex.data : "", r->ex.len);
    ur_buf_puts(&d, "]}");
    ur_buf_puts(b, "<script type=\"application/json\" id=\"tds-data\">");
    for (size_t i = 0; i < d.len; i++) {
        if (d.data[i] == '<') ur_buf_puts(b, "\\u003c");
        else ur_buf_put(b, d.data + i, 1);
    }
    ur_buf_free(&d);
    ur_buf_puts(b, "</script>\n<script>\n");
    ur_buf_put(b, ur_embed_report_js, ur_embed_report_js_len);
    ur_buf_puts(b, "</script>\n</body></html>\n");
}
