/* report.html: one self-contained page (no network) for one or several pairs side
 * by side — the numbers as a table (a column per pair), the paper's figures drawn
 * as inline SVG by figures.c, the top token lists, and every answer with its tokens
 * coloured by class, drawn by data/tds/report.js from a compact JSON block. Each
 * position is a run of small integers (token, rank, probabilities as round(-100
 * log10 p), the three KLs in thousandths, the ranked token when it is not the
 * written one, the base's alternatives as token ids and probabilities) written as
 * base-32 digits — about 22 bytes for an unshifted position, 30 for a shifted one —
 * and the token texts are one table; 1000 Llama-2-chat answers (334k positions)
 * give a page of about 8-11 MB per pair. */
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
    int no_kl;    /* a position had "kl_align_base": null (a remote base) */
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

/* round(-100 log10 p), 0 .. 9999 (an unknown p: 9999) */
static int qprob(double p) {
    if (!(p > 0)) return 9999;
    double q = -100 * log10(p);
    return q < 0 ? 0 : q > 9999 ? 9999 : (int)lround(q);
}

/* a KL in thousandths of a nat, zigzag-coded (the top-k variant can be negative):
 * v >= 0 -> 2v, v < 0 -> -2v - 1; unknown -> 0 */
static unsigned long qkl(json_t *x) {
    if (!json_is_number(x)) return 0;
    double v = json_number_value(x) * 1000;
    if (v > 1e9) v = 1e9;
    if (v < -1e9) v = -1e9;
    long q = lround(v);
    return q >= 0 ? 2ul * (unsigned long)q : 2ul * (unsigned long)(-q) - 1;
}

void tds_report_example(tds_report *r, json_t *rec, int ra) {
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
        json_t *gt = json_object_get(t, "rank_gt"), *top = json_object_get(t, "aligned_top");
        json_t *kab = json_object_get(t, "kl_align_base");
        if (!kab) kab = json_object_get(t, "kl"); /* records before issue 17 */
        if (json_is_null(json_object_get(t, "rank")) && json_is_integer(gt)) {
            rank = json_integer_value(gt) + 1; /* η > K: shown as such, classed as K + 1 */
            if (rank - 1 > r->rank_gt) r->rank_gt = (int)(rank - 1);
        }
        r->no_kl |= !json_is_number(kab);
        keep_text(r, tok, json_object_get(t, "text"));
        json_int_t ranked = ra && json_is_integer(top) ? json_integer_value(top) : tok;
        if (ranked != tok) keep_text(r, ranked, json_object_get(t, "aligned_top_text"));
        put_num(b, (unsigned long)tok);
        put_num(b, (unsigned long)rank);
        put_num(b, (unsigned long)qprob(json_number_value(json_object_get(t, "p_base"))));
        put_num(b, (unsigned long)qprob(json_number_value(json_object_get(t, "p_align"))));
        put_num(b, qkl(kab));
        put_num(b, qkl(json_object_get(t, "kl_base_align")));
        put_num(b, qkl(json_object_get(t, "kl_topk")));
        put_num(b, ranked != tok ? (unsigned long)ranked + 1 : 0);
        /* alternatives (id + 1, 0 = none): with rank 1 the first is the ranked token (already there) */
        json_t *alts = json_object_get(t, "top");
        size_t first = rank == 1 ? 1 : 0;
        for (size_t j = first; j < first + (rank == 1 ? 2 : 3); j++) {
            json_t *e = json_array_get(alts, j);
            json_int_t aid = json_is_integer(json_array_get(e, 0)) ? json_integer_value(json_array_get(e, 0)) : -1;
            if (aid >= 0) keep_text(r, aid, json_array_get(e, 1));
            put_num(b, (unsigned long)(aid + 1));
            put_num(b, aid >= 0 ? (unsigned long)qprob(json_number_value(json_array_get(e, 2))) : 0);
        }
    }
    ur_buf_puts(b, "\"}");
}

/* ---- HTML helpers ---------------------------------------------------------------- */
void tds_esc(ur_buf *b, const char *s, size_t n) {
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
void tds_vis(ur_buf *b, const char *s) {
    for (; s && *s; s++) {
        if (*s == ' ') ur_buf_puts(b, "\xE2\x90\xA3");
        else if (*s == '\n') ur_buf_puts(b, "\xE2\x86\xB5");
        else if (*s == '\t') ur_buf_puts(b, "\xE2\x87\xA5");
        else tds_esc(b, s, 1);
    }
}

static void esc_str(ur_buf *b, const char *s) { tds_esc(b, s ? s : "?", strlen(s ? s : "?")); }

static const char *cfg_str(json_t *config, const char *key) {
    json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0; }

/* ---- the numbers: a table with a column per pair ------------------------------------ */
static void cell_pct(ur_buf *b, long x, long n) { ur_buf_printf(b, "<td class=\"n\">%.2f%%</td>", 100 * ratio(x, n)); }

static void cell_mean(ur_buf *b, tds_mean m, const char *fmt) {
    if (!m.n) ur_buf_puts(b, "<td class=\"n\">–</td>");
    else {
        ur_buf_puts(b, "<td class=\"n\">");
        ur_buf_printf(b, fmt, tds_mean_of(m));
        ur_buf_puts(b, "</td>");
    }
}

static void row_cfg(ur_buf *b, const tds_pair *p, int n, const char *title, const char *key) {
    ur_buf_printf(b, "<tr><th>%s</th>", title);
    for (int i = 0; i < n; i++) {
        ur_buf_puts(b, "<td>");
        esc_str(b, cfg_str(p[i].config, key));
        ur_buf_puts(b, "</td>");
    }
    ur_buf_puts(b, "</tr>\n");
}

static void numbers_table(ur_buf *b, const tds_pair *p, int n) {
    ur_buf_puts(b, "<table class=\"nums\" id=\"nums\">\n<tr><th></th>");
    for (int i = 0; i < n; i++) {
        ur_buf_printf(b, "<th class=\"pair\"><span class=\"key k%d\"></span>", i % 6);
        esc_str(b, p[i].label);
        ur_buf_puts(b, "</th>");
    }
    ur_buf_puts(b, "</tr>\n");
    row_cfg(b, p, n, "base model", "base");
    row_cfg(b, p, n, "aligned model", "aligned");
    row_cfg(b, p, n, "base prompt", "base_prompt");
    row_cfg(b, p, n, "aligned prompt", "aligned_prompt");
    row_cfg(b, p, n, "ranked token", "rank");
    row_cfg(b, p, n, "tokenization", "tokenize");
    ur_buf_puts(b, "<tr><th>answers / positions</th>");
    for (int i = 0; i < n; i++) ur_buf_printf(b, "<td class=\"n\">%d / %ld</td>", p[i].a->n_ex, p[i].a->n_pos);
    static const char *names[3] = {"unshifted (η = 1)", "marginal (η = 2–3)", "shifted (η &gt; 3)"};
    static const char *cls[3] = {"u", "m", "s"};
    for (int c = 0; c < 3; c++) {
        ur_buf_printf(b, "</tr>\n<tr><th><span class=\"t %s\">%s</span></th>", cls[c], names[c]);
        for (int i = 0; i < n; i++) cell_pct(b, p[i].a->cls[c], p[i].a->n_pos);
    }
    ur_buf_puts(b, "</tr>\n<tr><th>written token = aligned model's top token</th>");
    for (int i = 0; i < n; i++) {
        if (p[i].a->n_top) cell_pct(b, p[i].a->n_written_top, p[i].a->n_top);
        else ur_buf_puts(b, "<td class=\"n\">–</td>");
    }
    static const char *mt[M_N] = {"mean KL(P_align ‖ P_base), nats", "mean KL(P_base ‖ P_align), nats",
                                  "mean AlignTDS top-30 KL(base ‖ aligned)", "mean P_base of the ranked token",
                                  "mean TP (AlignTDS: base top-30 renormalised)", "mean TR (AlignTDS: 0-based rank, 50 if not in the base's top 30)"};
    for (int m = 0; m < M_N; m++) {
        ur_buf_printf(b, "</tr>\n<tr><th>%s</th>", mt[m]);
        for (int i = 0; i < n; i++) cell_mean(b, p[i].a->m[m], m == M_TR ? "%.2f" : "%.4f");
    }
    for (int f = 0; f < TDS_N_FIRST; f++) {
        ur_buf_printf(b, "</tr>\n<tr><th>first %d tokens: shifted (share of all shifted)</th>", TDS_FIRST[f]);
        for (int i = 0; i < n; i++) {
            const tds_agg *a = p[i].a;
            long pn = 0, s = 0;
            for (int q = 0; q < TDS_FIRST[f] && q < a->n_posv; q++) pn += a->pos_n[q], s += a->pos_cls[UR_TDS_SHIFTED][q];
            ur_buf_printf(b, "<td class=\"n\">%.2f%% (%.1f%%)</td>", 100 * ratio(s, pn), 100 * ratio(s, a->cls[UR_TDS_SHIFTED]));
        }
    }
    ur_buf_puts(b, "</tr>\n</table>\n");
    for (int i = 0; i < n; i++)
        if (p[i].r->no_kl)
            ur_buf_printf(b, "<p class=\"note\">%s: KL not available with a remote base (only its top %d logprobs are "
                             "known; %ld positions have η &gt; %d)</p>\n", p[i].label ? p[i].label : "",
                          p[i].r->rank_gt, p[i].a->n_gt, p[i].r->rank_gt);
}

static void token_list(ur_buf *b, const tds_agg *a, int cls, const char *title) {
    tds_count top[50];
    int n = tds_top_tokens(a, cls, 50, top);
    ur_buf_printf(b, "<div><h3>%s</h3><ol>", title);
    for (int i = 0; i < n; i++) {
        ur_buf_puts(b, "<li><code class=\"tk\">");
        tds_vis(b, a->tok_text[top[i].id]);
        ur_buf_printf(b, "</code> %ld</li>", top[i].count);
    }
    ur_buf_puts(b, n ? "</ol></div>\n" : "<li>none</li></ol></div>\n");
}

/* ---- the page -------------------------------------------------------------------- */
static void page_head(ur_buf *b, const tds_pair *p, int n) {
    ur_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>TDS: ");
    for (int i = 0; i < n; i++) {
        const char *base = cfg_str(p[i].config, "base"), *aligned = cfg_str(p[i].config, "aligned");
        if (i) ur_buf_puts(b, "; ");
        esc_str(b, base ? base : "base");
        ur_buf_puts(b, " vs ");
        esc_str(b, aligned ? aligned : "aligned");
    }
    ur_buf_puts(b, "</title>\n<style>\n");
    ur_buf_put(b, ur_embed_report_css, ur_embed_report_css_len);
    ur_buf_puts(b, "</style></head><body>\n<h1>Token distribution shift</h1>\n<p class=\"legend\">η = the base model's "
                   "rank of the ranked token (the aligned model's own top token, or the written one: see <i>ranked "
                   "token</i>) given the base's input and the answer so far: <span class=\"t u\">unshifted</span> η = 1 "
                   "<span class=\"t m\">marginal</span> η = 2–3 <span class=\"t s\">shifted</span> η &gt; 3</p>\n");
}

/* The data: JSON inside a script element, every '<' escaped so that no text can close it. */
static void page_data(ur_buf *b, const tds_pair *p, int n) {
    ur_buf d = {0};
    ur_buf_puts(&d, "{\"vocab\":{");
    int n_text = 0, first = 1;
    for (int k = 0; k < n; k++)
        if (p[k].r->n_text > n_text) n_text = p[k].r->n_text;
    for (int i = 0; i < n_text; i++) {
        const char *t = NULL;
        for (int k = 0; k < n && !t; k++) t = i < p[k].r->n_text ? p[k].r->text[i] : NULL;
        if (!t) continue;
        ur_buf_printf(&d, "%s\"%d\":", first ? "" : ",", i);
        ur_buf_json_str(&d, t, strlen(t));
        first = 0;
    }
    ur_buf_puts(&d, "},\n\"pairs\":[");
    for (int k = 0; k < n; k++) {
        const tds_report *r = p[k].r;
        ur_buf_printf(&d, "%s{\"label\":", k ? ",\n" : "");
        ur_buf_json_str(&d, p[k].label ? p[k].label : "", strlen(p[k].label ? p[k].label : ""));
        if (r->rank_gt || r->no_kl) ur_buf_printf(&d, ",\"rank_gt\":%d,\"no_kl\":%s", r->rank_gt, r->no_kl ? "true" : "false");
        ur_buf_puts(&d, ",\"examples\":[");
        ur_buf_put(&d, r->ex.data ? r->ex.data : "", r->ex.len);
        ur_buf_puts(&d, "]}");
    }
    ur_buf_puts(&d, "]}");
    ur_buf_puts(b, "<script type=\"application/json\" id=\"tds-data\">");
    for (size_t i = 0; i < d.len; i++) {
        if (d.data[i] == '<') ur_buf_puts(b, "\\u003c");
        else ur_buf_put(b, d.data + i, 1);
    }
    ur_buf_free(&d);
}

void tds_report_figures(const tds_pair *p, int n, ur_buf *b) {
    ur_buf_puts(b, "<h2>Summary</h2>\n");
    numbers_table(b, p, n);
    tds_fig_lines(b, p, n);
    for (int i = 0; i < n; i++) {
        ur_buf_puts(b, "<section class=\"pair-figs\"><h2>");
        if (n > 1) {
            ur_buf_printf(b, "<span class=\"key k%d\"></span>", i % 6);
            esc_str(b, p[i].label);
            ur_buf_puts(b, ": ");
        }
        ur_buf_puts(b, "class ratio by position</h2>\n<p class=\"legend\"><span class=\"t s\">shifted</span><span "
                       "class=\"t m\">marginal</span><span class=\"t u0\">unshifted</span></p>\n");
        tds_fig_classes(b, p[i].a, i);
        ur_buf_puts(b, "<h3>Shifted words (sized by count)</h3>\n");
        tds_fig_words(b, p[i].a, i);
        ur_buf_puts(b, "<h3>Most frequent shifted tokens</h3>\n");
        tds_fig_shifted_bars(b, p[i].a, i);
        ur_buf_puts(b, "<div class=\"cols\">\n");
        token_list(b, p[i].a, UR_TDS_SHIFTED, "shifted (η &gt; 3)");
        token_list(b, p[i].a, UR_TDS_UNSHIFTED, "unshifted (η = 1)");
        ur_buf_puts(b, "</div></section>\n");
    }
}

void tds_report_finish(const tds_pair *p, int n, ur_buf *b) {
    page_head(b, p, n);
    tds_report_figures(p, n, b);
    ur_buf_puts(b, "<h2>Answers</h2>\n<div id=\"controls\">");
    ur_buf_puts(b, n > 1 ? "<label>pair <select id=\"pair\">" : "<label hidden>pair <select id=\"pair\">");
    for (int i = 0; i < n; i++) {
        ur_buf_printf(b, "<option value=\"%d\">", i);
        esc_str(b, p[i].label ? p[i].label : "pair");
        ur_buf_puts(b, "</option>");
    }
    ur_buf_puts(b, "</select></label><label>order <select id=\"sort\">"
                   "<option value=\"input\">as in the dataset</option><option value=\"most\">most shifted first</option>"
                   "<option value=\"least\">least shifted first</option></select></label>"
                   "<button id=\"prev\">&larr; previous</button><span id=\"page\"></span>"
                   "<button id=\"next\">next &rarr;</button><span>hover a token for η and the base model's top "
                   "tokens</span></div>\n<div id=\"examples\"></div>\n<div id=\"tip\" hidden></div>\n");
    page_data(b, p, n);
    ur_buf_puts(b, "</script>\n<script>\n");
    ur_buf_put(b, ur_embed_report_js, ur_embed_report_js_len);
    ur_buf_puts(b, "</script>\n</body></html>\n");
}

const char *ur_tds_report_css(size_t *len) {
    *len = ur_embed_report_css_len;
    return (const char *)ur_embed_report_css;
}
