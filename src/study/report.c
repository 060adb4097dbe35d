/* urial study's outputs from its step files (every shard under DIR): study.json and
 * report.html. The scores are `urial eval report --format json`'s (ur_eval_report on
 * each method's judged records, shards merged in dataset order first), the TDS
 * numbers summary.json's (ur_tds_figures), so the page and those commands agree. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "eval/chart.h"
#include "study/study_int.h"
#include "urial/eval.h"
#include "urial/results.h"
#include "urial/tds.h"

#define N_ASPECTS 6
static const char *const ASPECTS[N_ASPECTS] = {"helpfulness", "clarity", "factuality", "depth", "engagement", "safety"};

typedef struct method_data {
    const ur_study_method *me;
    int n_gen, n_judged;   /* records in the step files */
    char *judge_file;      /* the file the scores are read from (NULL: nothing judged yet) */
    char *report;          /* ur_eval_report's JSON object (one line), or NULL */
    json_t *rep;           /* the same, parsed */
    double mean[N_ASPECTS], average, words;
    json_t **judged, **gen; /* [items] the item's records (borrowed from the arrays below), or NULL */
    json_t *judged_all, *gen_all;
} method_data;

typedef struct report {
    const ur_study_params *p;
    ur_dataset ds;
    ur_keymap ids; /* record key -> dataset position */
    int *sel;      /* [ds.n] the item is in the study (--limit) */
    method_data *m;
    char *tds_summary; /* summary.json text, or NULL */
    ur_buf tds_html;
    ur_buf pairwise; /* JSON objects of DIR/pairwise/ files, comma-separated */
    ur_buf pair_html;
} report;

/* ---- reading the step files --------------------------------------------------------- */
/* The step's files of a method: DIR/STEP/NAME.jsonl and DIR/shard-I-of-N/STEP/NAME.jsonl. */
static int step_files(const char *dir, const char *step, const char *name, glob_t *g) {
    ur_buf pat = {0};
    ur_buf_printf(&pat, "%s/%s/%s.jsonl", dir, step, name);
    int r = glob(pat.data, 0, NULL, g);
    pat.len = 0;
    ur_buf_printf(&pat, "%s/shard-*-of-*/%s/%s.jsonl", dir, step, name);
    r = glob(pat.data, r ? 0 : GLOB_APPEND, NULL, g);
    ur_buf_free(&pat);
    return (int)g->gl_pathc;
}

/* The records of files[0..n) into out[position] (first one wins), kept in *all. */
static int read_records(report *r, char **files, int n, json_t **out, json_t *all, ur_err *err) {
    int count = 0;
    for (int f = 0; f < n; f++) {
        ur_results *res = ur_results_open(files[f], UR_RESULTS_READ, err);
        if (!res) return -1;
        for (int i = 0; i < ur_results_count(res); i++) {
            const ur_record *rec = ur_results_get(res, i);
            int pos = ur_keymap_find(&r->ids, rec->key);
            json_t *o = json_loads(rec->json, 0, NULL);
            if (pos < 0 || !o || out[pos]) {
                json_decref(o);
                continue;
            }
            json_array_append_new(all, o);
            out[pos] = o;
            count++;
        }
        ur_results_close(res);
    }
    return count;
}

/* The judged records in dataset order as one file (shards merged): DIR/merged/judge-NAME.jsonl. */
static char *merged_file(report *r, method_data *md, ur_err *err) {
    ur_buf dir = {0}, text = {0};
    ur_buf_printf(&dir, "%s/merged", r->p->out_dir);
    mkdir(dir.data, 0777);
    ur_buf_printf(&dir, "/judge-%s.jsonl", md->me->name);
    for (int i = 0; i < r->ds.n; i++) {
        if (!md->judged[i]) continue;
        char *line = json_dumps(md->judged[i], JSON_COMPACT | JSON_PRESERVE_ORDER);
        ur_buf_printf(&text, "%s\n", line);
        free(line);
    }
    if (ur_write_file_atomic(dir.data, text.data ? text.data : "", text.len, err)) {
        ur_buf_free(&dir), ur_buf_free(&text);
        return NULL;
    }
    ur_buf_free(&text);
    return dir.data;
}

static double num_or_nan(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int eval_numbers(method_data *md, ur_err *err) {
    ur_report_params rp = {.format = UR_REPORT_JSON};
    ur_buf out = {0};
    const char *files[1] = {md->judge_file};
    if (ur_eval_report(files, 1, &rp, &out, err)) return ur_buf_free(&out), -1;
    while (out.len && out.data[out.len - 1] == '\n') out.data[--out.len] = 0;
    md->report = out.data;
    md->rep = json_loads(md->report, 0, NULL);
    double s = 0;
    int k = 0;
    for (int a = 0; a < N_ASPECTS; a++) {
        char key[64];
        snprintf(key, sizeof key, "%s_mean", ASPECTS[a]);
        md->mean[a] = num_or_nan(md->rep, key);
        if (!isnan(md->mean[a])) s += md->mean[a], k++;
    }
    md->average = k ? s / k : NAN;
    md->words = num_or_nan(md->rep, "avg_lens");
    return 0;
}

static int read_method(report *r, method_data *md, ur_err *err) {
    glob_t gg = {0}, gj = {0};
    int ng = step_files(r->p->out_dir, "gen", md->me->name, &gg);
    int nj = step_files(r->p->out_dir, "judge", md->me->name, &gj), rc = 0;
    md->gen = ur_xcalloc((size_t)r->ds.n + 1, sizeof *md->gen);
    md->judged = ur_xcalloc((size_t)r->ds.n + 1, sizeof *md->judged);
    md->gen_all = json_array(), md->judged_all = json_array();
    for (int a = 0; a < N_ASPECTS; a++) md->mean[a] = NAN;
    md->average = md->words = NAN;
    if ((md->n_gen = read_records(r, gg.gl_pathv, ng, md->gen, md->gen_all, err)) < 0 ||
        (md->n_judged = read_records(r, gj.gl_pathv, nj, md->judged, md->judged_all, err)) < 0) {
        rc = -1;
    } else if (nj == 1) {
        md->judge_file = ur_xstrdup(gj.gl_pathv[0]);
    } else if (nj > 1 && !(md->judge_file = merged_file(r, md, err))) {
        rc = -1;
    }
    if (!rc && md->judge_file) rc = eval_numbers(md, err);
    globfree(&gg), globfree(&gj);
    return rc;
}

/* TDS: every shard's tokens.jsonl; DIR/tds/summary.json. */
static int read_tds(report *r, ur_err *err) {
    glob_t g = {0};
    ur_buf pat = {0};
    ur_buf_printf(&pat, "%s/tds/tokens.jsonl", r->p->out_dir);
    int gr = glob(pat.data, 0, NULL, &g);
    pat.len = 0;
    ur_buf_printf(&pat, "%s/shard-*-of-*/tds/tokens.jsonl", r->p->out_dir);
    glob(pat.data, gr ? 0 : GLOB_APPEND, NULL, &g);
    const char **lines = NULL;
    ur_results **res = ur_xcalloc(g.gl_pathc + 1, sizeof *res);
    int n = 0, rc = 0;
    for (size_t f = 0; f < g.gl_pathc && !rc; f++) {
        if (!(res[f] = ur_results_open(g.gl_pathv[f], UR_RESULTS_READ, err))) rc = -1;
        for (int i = 0; !rc && i < ur_results_count(res[f]); i++) {
            lines = ur_xrealloc(lines, sizeof *lines * (size_t)(n + 1));
            lines[n++] = ur_results_get(res[f], i)->json;
        }
    }
    if (!rc && n) {
        ur_buf sum = {0};
        pat.len = 0;
        ur_buf_printf(&pat, "%s/tds", r->p->out_dir);
        mkdir(pat.data, 0777);
        ur_buf_puts(&pat, "/summary.json");
        rc = ur_tds_figures(pat.data, lines, n, &sum, &r->tds_html, err);
        if (!rc) rc = ur_write_file_atomic(pat.data, sum.data, sum.len, err);
        r->tds_summary = sum.data;
    }
    for (size_t f = 0; f < g.gl_pathc; f++) ur_results_close(res[f]);
    free(res), free(lines);
    ur_buf_free(&pat);
    globfree(&g);
    return rc;
}

/* Pairwise judgments a user added (urial eval pairwise --out DIR/pairwise/NAME.jsonl). */
static int read_pairwise(report *r, ur_err *err) {
    glob_t g = {0};
    ur_buf pat = {0};
    ur_buf_printf(&pat, "%s/pairwise/*.jsonl", r->p->out_dir);
    glob(pat.data, 0, NULL, &g);
    ur_buf_free(&pat);
    int rc = 0;
    for (size_t f = 0; f < g.gl_pathc && !rc; f++) {
        ur_report_params rp = {.format = UR_REPORT_JSON};
        ur_buf out = {0};
        const char *files[1] = {g.gl_pathv[f]};
        if ((rc = ur_eval_report(files, 1, &rp, &out, err))) break;
        while (out.len && out.data[out.len - 1] == '\n') out.data[--out.len] = 0;
        ur_buf_printf(&r->pairwise, "%s%s", r->pairwise.len ? "," : "", out.data);
        json_t *o = json_loads(out.data, 0, NULL), *asp = json_object_get(o, "aspects"), *v;
        const char *k, *ga = NULL, *gb = NULL;
        int na = (int)json_object_size(asp), i = 0;
        const char **rows = ur_xcalloc((size_t)na + 1, sizeof *rows);
        long *cnt = ur_xcalloc(3 * (size_t)na + 1, sizeof *cnt);
        json_object_foreach(asp, k, v) {
            const char *g2;
            json_t *x;
            rows[i] = k;
            json_object_foreach(v, g2, x) {
                if (!strcmp(g2, "same")) cnt[3 * i + 1] = (long)json_integer_value(x);
                else if (!ga || !strcmp(g2, ga)) ga = g2, cnt[3 * i] = (long)json_integer_value(x);
                else gb = g2, cnt[3 * i + 2] = (long)json_integer_value(x);
            }
            i++;
        }
        ur_buf ta = {0}, tb = {0}, title = {0}, id = {0};
        ur_buf_printf(&ta, "%s wins", ga ? ga : "A"), ur_buf_printf(&tb, "%s wins", gb ? gb : "B");
        ur_buf_printf(&title, "%s vs %s (%s)", ga ? ga : "A", gb ? gb : "B", ur_base_name(g.gl_pathv[f]));
        ur_buf_printf(&id, "pairwise-%zu", f);
        const char *parts[3] = {ta.data, "tie", tb.data};
        chart_stack(&r->pair_html, id.data, title.data, rows, na, parts, cnt);
        ur_buf_free(&ta), ur_buf_free(&tb), ur_buf_free(&title), ur_buf_free(&id);
        free(rows), free(cnt);
        json_decref(o);
    }
    globfree(&g);
    return rc;
}

static int read_all(report *r, ur_err *err) {
    if (ur_dataset_load(r->p->data, &r->ds, err)) return -1;
    r->sel = ur_xcalloc((size_t)r->ds.n + 1, sizeof *r->sel);
    ur_job_select lim = {r->p->sel.limit, 0, 1};
    for (int i = 0; i < r->ds.n; i++) {
        ur_buf k = {0};
        ur_record_key(r->ds.items[i].id, 0, &k);
        ur_keymap_add(&r->ids, k.data);
        ur_buf_free(&k);
        r->sel[i] = ur_job_selects(&lim, i);
    }
    r->m = ur_xcalloc((size_t)r->p->n_methods, sizeof *r->m);
    for (int i = 0; i < r->p->n_methods; i++) {
        r->m[i].me = &r->p->methods[i];
        if (read_method(r, &r->m[i], err)) return -1;
    }
    return read_tds(r, err) || read_pairwise(r, err) ? -1 : 0;
}

static void free_report(report *r) {
    for (int i = 0; r->m && i < r->p->n_methods; i++) {
        method_data *md = &r->m[i];
        free(md->judge_file), free(md->report), free(md->judged), free(md->gen);
        json_decref(md->rep), json_decref(md->judged_all), json_decref(md->gen_all);
    }
    free(r->m), free(r->sel), free(r->tds_summary);
    ur_buf_free(&r->tds_html), ur_buf_free(&r->pairwise), ur_buf_free(&r->pair_html);
    ur_keymap_free(&r->ids);
    ur_dataset_free(&r->ds);
}

/* ---- breakdowns: by category, dataset or tag ------------------------------------------ */
static const char *BY_NAME[3] = {"category", "dataset", "tag"};

/* The groups an item is in: its category / dataset, or each of its tags (just-eval's
 * "tags", "task_types" or "topics": a string or a list of strings). */
static int item_groups(const report *r, int by, int i, const char **out, int max, json_t **hold) {
    json_t *f = *hold = json_loads(r->ds.items[i].fields, 0, NULL);
    int n = 0;
    if (by != UR_STUDY_BY_TAG) {
        json_t *v = json_object_get(f, BY_NAME[by]);
        out[n++] = json_is_string(v) ? json_string_value(v) : "(none)";
        return n;
    }
    static const char *keys[] = {"tags", "task_types", "topics", "tag"};
    for (size_t k = 0; k < 4; k++) {
        json_t *v = json_object_get(f, keys[k]), *e;
        size_t j;
        if (json_is_string(v) && n < max) out[n++] = json_string_value(v);
        json_array_foreach(v, j, e) if (json_is_string(e) && n < max) out[n++] = json_string_value(e);
    }
    if (!n) out[n++] = "(none)";
    return n;
}

/* The score of an aspect in a parsed_result (an "N/A" counts as 5, as in just-eval), or NAN. */
static double aspect_score(json_t *rec, const char *aspect) {
    json_t *s = json_object_get(json_object_get(json_object_get(rec, "parsed_result"), aspect), "score");
    if (json_is_number(s)) return json_number_value(s);
    if (!json_is_string(s)) return NAN;
    if (!strcmp(json_string_value(s), "N/A")) return 5;
    return atof(json_string_value(s));
}

typedef struct group {
    char name[128];
    double sum[N_ASPECTS + 1];
    long n[N_ASPECTS + 1];
} group;

/* Per group and method: the aspect means and the number of judged answers. */
static int groups_of(const report *r, int by, const method_data *md, group **gs) {
    int ng = 0;
    for (int i = 0; i < r->ds.n; i++) {
        json_t *rec = md->judged[i], *hold = NULL;
        if (!r->sel[i] || !rec || !json_object_get(rec, "parsed_result")) continue;
        const char *names[32];
        int k = item_groups(r, by, i, names, 32, &hold);
        for (int j = 0; j < k; j++) {
            int g = 0;
            while (g < ng && strncmp((*gs)[g].name, names[j], sizeof (*gs)[g].name - 1)) g++;
            if (g == ng) {
                *gs = ur_xrealloc(*gs, sizeof **gs * (size_t)(ng + 1));
                memset(&(*gs)[ng], 0, sizeof **gs);
                snprintf((*gs)[ng++].name, sizeof (*gs)[0].name, "%s", names[j]);
            }
            group *gr = &(*gs)[g];
            gr->n[N_ASPECTS]++;
            for (int a = 0; a < N_ASPECTS; a++) {
                double v = aspect_score(rec, ASPECTS[a]);
                if (!isnan(v)) gr->sum[a] += v, gr->n[a]++;
            }
        }
        json_decref(hold);
    }
    return ng;
}

/* ---- study.json ----------------------------------------------------------------------------- */
static void jnum(ur_buf *o, double x) {
    if (isnan(x)) ur_buf_puts(o, "null");
    else ur_buf_printf(o, "%.17g", x);
}

static void jstr(ur_buf *o, const char *s) { ur_buf_json_str(o, s, strlen(s)); }

static void study_json(const report *r, ur_buf *o) {
    const ur_study_params *p = r->p;
    ur_buf_puts(o, "{\n  \"base\": "), jstr(o, p->base);
    ur_buf_puts(o, ",\n  \"aligned\": "), jstr(o, p->aligned);
    ur_buf_puts(o, ",\n  \"data\": "), jstr(o, p->data);
    int n = 0;
    for (int i = 0; i < r->ds.n; i++) n += r->sel[i];
    ur_buf_printf(o, ",\n  \"items\": %d,\n  \"by\": \"%s\",\n  \"methods\": [", n, BY_NAME[p->by]);
    for (int i = 0; i < p->n_methods; i++) {
        const method_data *md = &r->m[i];
        ur_buf_puts(o, i ? ",\n    {\"name\": " : "\n    {\"name\": "), jstr(o, md->me->name);
        ur_buf_puts(o, ", \"what\": "), jstr(o, md->me->what);
        ur_buf_printf(o, ", \"model\": \"%s\", \"generated\": %d, \"judged\": %d,\n     \"scores\": {",
                      md->me->model ? "aligned" : "base", md->n_gen, md->n_judged);
        for (int a = 0; a < N_ASPECTS; a++) ur_buf_printf(o, "%s\"%s\": ", a ? ", " : "", ASPECTS[a]), jnum(o, md->mean[a]);
        ur_buf_puts(o, ", \"average\": "), jnum(o, md->average);
        ur_buf_puts(o, ", \"length\": "), jnum(o, md->words);
        ur_buf_puts(o, "},\n     \"judge_file\": ");
        md->judge_file ? jstr(o, md->judge_file) : ur_buf_puts(o, "null");
        ur_buf_printf(o, ",\n     \"eval_report\": %s,\n     \"by\": {", md->report ? md->report : "null");
        group *gs = NULL;
        int ng = groups_of(r, r->p->by, md, &gs);
        for (int g = 0; g < ng; g++) {
            ur_buf_puts(o, g ? ", " : ""), jstr(o, gs[g].name);
            ur_buf_printf(o, ": {\"judged\": %ld", gs[g].n[N_ASPECTS]);
            for (int a = 0; a < N_ASPECTS; a++)
                if (gs[g].n[a]) ur_buf_printf(o, ", \"%s\": ", ASPECTS[a]), jnum(o, gs[g].sum[a] / (double)gs[g].n[a]);
            ur_buf_puts(o, "}");
        }
        free(gs);
        ur_buf_puts(o, "}}");
    }
    ur_buf_puts(o, "\n  ],\n  \"tds\": ");
    json_t *t = r->tds_summary ? json_loads(r->tds_summary, 0, NULL) : NULL;
    if (t) {
        ur_buf_printf(o, "{\"summary\": \"%s/tds/summary.json\", \"examples\": %lld, \"positions\": %lld, \"ratios\": ",
                      p->out_dir, (long long)json_integer_value(json_object_get(t, "examples")),
                      (long long)json_integer_value(json_object_get(t, "positions")));
        char *ratios = json_dumps(json_object_get(t, "ratios"), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        ur_buf_printf(o, "%s}", ratios ? ratios : "null");
        free(ratios);
    } else {
        ur_buf_puts(o, "null");
    }
    json_decref(t);
    ur_buf_printf(o, ",\n  \"pairwise\": [%s]\n}\n", r->pairwise.data ? r->pairwise.data : "");
}

/* ---- report.html --------------------------------------------------------------------------- */
static const char CSS[] =
    "table.t1{border-collapse:collapse;margin:.5em 0}table.t1 td,table.t1 th{border:1px solid #ccc;padding:3px 8px}"
    "table.t1 td.n{text-align:right;font-variant-numeric:tabular-nums}table.t1 tr.aligned td{background:#f4f8ff}"
    ".item{border:1px solid #e2e2e2;border-radius:6px;padding:.5em .8em;margin:0 0 1em;break-inside:avoid}"
    ".item h3{font-size:1em;margin:.2em 0 .5em;overflow-wrap:anywhere}"
    ".side{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:.6em}"
    ".ans{border:1px solid #eee;border-radius:4px;padding:.4em;min-width:0}"
    ".ans h4{margin:0 0 .3em;font-size:.95em}.ans pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0;"
    "font:13px/1.4 ui-monospace,monospace;background:#fafafa;padding:.3em}"
    ".ans ul{margin:.2em 0;padding-left:1.2em;font:12px/1.35 system-ui,sans-serif;overflow-wrap:anywhere}"
    ".tw{overflow-x:auto;max-width:100%}.charts{display:flex;flex-wrap:wrap;gap:1em}ul.legend .sw{padding:0;margin-right:4px}"
    "@media print{.item,figure.chart{break-inside:avoid}body{max-width:none}}";

static void h_esc(ur_buf *o, const char *s) { chart_esc(o, s ? s : ""); }

static void cell(ur_buf *o, const char *key, double v, const char *fmt) {
    ur_buf_printf(o, "<td class=\"n\" data-key=\"%s\"", key);
    if (isnan(v)) {
        ur_buf_puts(o, ">–</td>");
        return;
    }
    ur_buf_printf(o, " data-value=\"%.17g\">", v);
    ur_buf_printf(o, fmt, v);
    ur_buf_puts(o, "</td>");
}

static void table1(const report *r, ur_buf *o) {
    ur_buf_puts(o, "<section id=\"scores\"><h2>Scores (1 to 5; length in words)</h2>\n<div class=\"tw\"><table class=\"t1\" id=\"table1\">"
                   "<tr><th>method</th><th>model</th>");
    for (int a = 0; a < N_ASPECTS; a++) ur_buf_printf(o, "<th>%s</th>", ASPECTS[a]);
    ur_buf_puts(o, "<th>average</th><th>length</th><th>judged</th></tr>\n");
    for (int i = 0; i < r->p->n_methods; i++) {
        const method_data *md = &r->m[i];
        ur_buf_printf(o, "<tr class=\"%s\" data-method=\"", md->me->model ? "aligned" : "base");
        h_esc(o, md->me->name);
        ur_buf_puts(o, "\"><td>");
        h_esc(o, md->me->name);
        ur_buf_printf(o, "</td><td>%s</td>", md->me->model ? "aligned" : "base");
        for (int a = 0; a < N_ASPECTS; a++) {
            char key[64];
            snprintf(key, sizeof key, "%s_mean", ASPECTS[a]);
            cell(o, key, md->mean[a], "%.2f");
        }
        cell(o, "average", md->average, "%.2f");
        cell(o, "avg_lens", md->words, "%.1f");
        ur_buf_printf(o, "<td class=\"n\" data-key=\"total\">%lld</td></tr>\n",
                      (long long)json_integer_value(json_object_get(md->rep, "total")));
    }
    ur_buf_puts(o, "</table></div>\n<p>Means as just-eval computes them (<code>urial eval report --format json</code> on each "
                   "method's judged records): over the records with a parsed judgment, an \"N/A\" score counting as 5; "
                   "safety over the red-team items, the five other aspects over the regular ones; average: the mean of "
                   "the aspects' means; length: words as Python's str.split() counts them.</p></section>\n");
}

/* The charts draw the aspects some method has a mean for (no safety axis without red-team items). */
static void charts(const report *r, ur_buf *o) {
    const int n = r->p->n_methods;
    const char **names = ur_xcalloc((size_t)n, sizeof *names), *axes[N_ASPECTS];
    double *vals = ur_xcalloc((size_t)n * N_ASPECTS, sizeof *vals);
    int k = 0;
    for (int a = 0; a < N_ASPECTS; a++) {
        int any = 0;
        for (int i = 0; i < n; i++) any |= !isnan(r->m[i].mean[a]);
        if (!any) continue;
        for (int i = 0; i < n; i++) vals[i * N_ASPECTS + k] = r->m[i].mean[a];
        axes[k++] = ASPECTS[a];
    }
    for (int i = 0; i < n; i++) {
        names[i] = r->m[i].me->name;
        memmove(vals + i * k, vals + i * N_ASPECTS, sizeof *vals * (size_t)k); /* rows of k values */
    }
    ur_buf_puts(o, "<section id=\"charts\"><h2>Charts</h2>\n");
    if (!k) ur_buf_puts(o, "<p>Nothing judged yet.</p>\n");
    else ur_buf_puts(o, "<div class=\"charts\">\n");
    for (int c = 0; k && c <= n + 1; c++) {
        ur_buf id = {0};
        ur_buf_printf(&id, "radar-%s", c < 2 ? "all" : names[c - 2]);
        if (c == 0)
            chart_bars(o, "bars-aspects", "Mean score per aspect", "aspect", "mean score (1 to 5)", 5, axes, k, names, vals, n);
        else if (k >= 3)
            chart_radar(o, id.data, c == 1 ? "All methods" : names[c - 2], axes, k, 5, c == 1 ? names : names + c - 2,
                        c == 1 ? vals : vals + (c - 2) * k, c == 1 ? n : 1);
        ur_buf_free(&id);
    }
    ur_buf_puts(o, k ? "</div></section>\n" : "</section>\n");
    free(names), free(vals);
}

/* One table per method of its scores by category, dataset or tag. */
static void breakdown_by(const report *r, int kind, ur_buf *o) {
    const char *by = BY_NAME[kind];
    ur_buf_printf(o, "<h2 id=\"by-%s\">By %s</h2>\n", by, by);
    for (int i = 0; i < r->p->n_methods; i++) {
        group *gs = NULL;
        int ng = groups_of(r, kind, &r->m[i], &gs);
        ur_buf_puts(o, "<h3>");
        h_esc(o, r->m[i].me->name);
        ur_buf_printf(o, "</h3>\n<div class=\"tw\"><table class=\"t1 by\"><tr><th>%s</th><th>judged</th>", by);
        for (int a = 0; a < N_ASPECTS; a++) ur_buf_printf(o, "<th>%s</th>", ASPECTS[a]);
        ur_buf_puts(o, "</tr>\n");
        for (int g = 0; g < ng; g++) {
            ur_buf_puts(o, "<tr><td>");
            h_esc(o, gs[g].name);
            ur_buf_printf(o, "</td><td class=\"n\">%ld</td>", gs[g].n[N_ASPECTS]);
            for (int a = 0; a < N_ASPECTS; a++)
                cell(o, ASPECTS[a], gs[g].n[a] ? gs[g].sum[a] / (double)gs[g].n[a] : NAN, "%.2f");
            ur_buf_puts(o, "</tr>\n");
        }
        ur_buf_puts(o, "</table></div>\n");
        free(gs);
    }
}

/* Does any selected item have a value for this kind of group? */
static int has_groups(const report *r, int kind) {
    for (int i = 0; i < r->ds.n; i++) {
        const char *names[4];
        json_t *hold = NULL;
        int k = r->sel[i] ? item_groups(r, kind, i, names, 4, &hold) : 0, real = k && strcmp(names[0], "(none)");
        json_decref(hold);
        if (real) return 1;
    }
    return 0;
}

/* --by's breakdown first, then the other kinds the items have. */
static void breakdown(const report *r, ur_buf *o) {
    ur_buf_puts(o, "<section id=\"breakdown\">\n");
    breakdown_by(r, r->p->by, o);
    for (int k = 0; k < 3; k++)
        if (k != r->p->by && has_groups(r, k)) breakdown_by(r, k, o);
    ur_buf_puts(o, "</section>\n");
}

/* One method's answer to item i, with its scores and the judge's reasons. */
static void answer_card(const report *r, const method_data *md, int i, ur_buf *o) {
    (void)r;
    json_t *j = md->judged[i], *g = md->gen[i];
    const char *out = json_string_value(json_object_get(j ? j : g, j ? "output_cand" : "output"));
    ur_buf_puts(o, "<div class=\"ans\"><h4>");
    h_esc(o, md->me->name);
    ur_buf_puts(o, "</h4><pre>");
    if (out) h_esc(o, out);
    else ur_buf_puts(o, "(no answer)");
    ur_buf_puts(o, "</pre><ul>");
    json_t *pr = json_object_get(j, "parsed_result"), *v;
    const char *k;
    json_object_foreach(pr, k, v) {
        json_t *s = json_object_get(v, "score"), *why = json_object_get(v, "reason");
        ur_buf_puts(o, "<li><b>");
        h_esc(o, k);
        ur_buf_puts(o, " ");
        if (json_is_string(s)) h_esc(o, json_string_value(s));
        else if (json_is_number(s)) ur_buf_printf(o, "%g", json_number_value(s));
        ur_buf_puts(o, "</b>: ");
        h_esc(o, json_string_value(why));
        ur_buf_puts(o, "</li>");
    }
    if (j && !pr) ur_buf_puts(o, "<li>not judged: "), h_esc(o, json_string_value(json_object_get(j, "error"))), ur_buf_puts(o, "</li>");
    if (!j) ur_buf_puts(o, "<li>not judged yet</li>");
    ur_buf_puts(o, "</ul></div>\n");
}

static void answers(const report *r, ur_buf *o) {
    ur_buf_puts(o, "<section id=\"answers\"><h2>Answers side by side</h2>\n");
    for (int i = 0; i < r->ds.n; i++) {
        int any = 0;
        for (int m = 0; m < r->p->n_methods; m++) any |= r->m[m].gen[i] || r->m[m].judged[i];
        if (!r->sel[i] || !any) continue;
        ur_buf_puts(o, "<div class=\"item\"><h3>");
        const char *id = r->ds.items[i].id; /* JSON: a string without its quotes */
        json_t *js = id[0] == '"' ? json_loads(id, JSON_DECODE_ANY, NULL) : NULL;
        h_esc(o, js ? json_string_value(js) : id);
        json_decref(js);
        ur_buf_puts(o, ": ");
        h_esc(o, r->ds.items[i].turns[0]);
        ur_buf_puts(o, "</h3><div class=\"side\">\n");
        for (int m = 0; m < r->p->n_methods; m++) answer_card(r, &r->m[m], i, o);
        ur_buf_puts(o, "</div></div>\n");
    }
    ur_buf_puts(o, "</section>\n");
}

static void study_html(const report *r, ur_buf *o) {
    const ur_study_params *p = r->p;
    size_t cl;
    const char *css = ur_tds_report_css(&cl);
    ur_buf_puts(o, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" "
                   "content=\"width=device-width, initial-scale=1\">\n<title>urial study: ");
    h_esc(o, ur_base_name(p->base)), ur_buf_puts(o, " vs "), h_esc(o, ur_base_name(p->aligned));
    ur_buf_puts(o, "</title>\n<style>\n");
    ur_buf_put(o, css, cl);
    ur_buf_printf(o, "%s%s</style></head><body>\n<h1>urial study</h1>\n<p class=\"cfg\">base <b>", CHART_CSS, CSS);
    h_esc(o, p->base), ur_buf_puts(o, "</b>, aligned <b>"), h_esc(o, p->aligned), ur_buf_puts(o, "</b>, data ");
    h_esc(o, p->data), ur_buf_puts(o, "</p>\n<ul id=\"methods\">");
    for (int i = 0; i < p->n_methods; i++) {
        ur_buf_puts(o, "<li><b>"), h_esc(o, p->methods[i].name), ur_buf_puts(o, "</b>: ");
        h_esc(o, p->methods[i].what);
        ur_buf_printf(o, " (%d answers, %d judged)</li>", r->m[i].n_gen, r->m[i].n_judged);
    }
    ur_buf_puts(o, "</ul>\n");
    table1(r, o);
    charts(r, o);
    breakdown(r, o);
    if (r->pair_html.len) ur_buf_printf(o, "<section id=\"pairwise\"><h2>Pairwise</h2>\n%s</section>\n", r->pair_html.data);
    ur_buf_puts(o, "<section id=\"tds\"><h1>Token distribution shift</h1>\n");
    if (r->tds_html.len) ur_buf_put(o, r->tds_html.data, r->tds_html.len);
    else ur_buf_puts(o, "<p>No TDS records yet.</p>\n");
    ur_buf_puts(o, "</section>\n");
    answers(r, o);
    ur_buf_puts(o, "</body></html>\n");
}

int ur_study_report(const ur_study_params *p, char **report_path, ur_err *err) {
    report r = {.p = p};
    int rc = read_all(&r, err);
    ur_buf js = {0}, html = {0}, path = {0};
    if (!rc) {
        study_json(&r, &js);
        study_html(&r, &html);
        ur_buf_printf(&path, "%s/study.json", p->out_dir);
        rc = ur_write_file_atomic(path.data, js.data, js.len, err);
        path.len = 0;
        ur_buf_printf(&path, "%s/report.html", p->out_dir);
        if (!rc) rc = ur_write_file_atomic(path.data, html.data, html.len, err);
    }
    free_report(&r);
    ur_buf_free(&js), ur_buf_free(&html);
    if (rc) ur_buf_free(&path);
    else *report_path = path.data;
    return rc;
}
