/* Reports over judged files: per-aspect means as just-eval's report computes them
 * (bit for bit: numpy's pairwise summation, N/A as 5.0, words as Python's
 * str.split()), breakdowns by dataset or category, pairwise win/tie/lose; as
 * Markdown, JSON (just-eval's keys) or HTML with an SVG chart (report_fmt.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"
#include "eval/report_int.h"

/* ---- numbers as numpy and Python make them ------------------------------------------ */
void rp_push(rp_vec *v, double x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->v = ur_xrealloc(v->v, sizeof *v->v * v->cap);
    }
    v->v[v->n++] = x;
}

/* numpy's pairwise summation (npy_pairwise_sum for float64): blocks of at most 128
 * summed with 8 accumulators, larger arrays split in halves (multiples of 8). */
static double pairwise_sum(const double *a, size_t n) {
    if (n < 8) {
        double r = 0.0;
        for (size_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* float(np.mean(values)); NaN for none. (Below 8192 values numpy sums the whole
 * array in one pairwise pass; just-eval's integer word counts and 1-5 scores are
 * exact in any order anyway.) */
double rp_mean(const rp_vec *v) { return v->n ? pairwise_sum(v->v, v->n) / (double)v->n : NAN; }

/* Python's repr of a float (shortest text that reads back the same; "5.0", not "5"). */
void rp_pyfloat(double x, char *buf, size_t n) {
    if (isnan(x)) {
        snprintf(buf, n, "NaN");
        return;
    }
    int p;
    for (p = 1; p < 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    snprintf(buf, n, "%.*g", p, x);
    double ax = fabs(x);
    if (strchr(buf, 'e') && ax >= 1e-4 && ax < 1e16) {
        int e10 = (int)floor(log10(ax));
        snprintf(buf, n, "%.*f", p - 1 - e10 > 0 ? p - 1 - e10 : 0, x);
    }
    if (!strpbrk(buf, ".e")) strncat(buf, ".0", n - strlen(buf) - 1);
}

/* Python str.isspace() code points (what str.split() splits on). */
static int py_space(unsigned cp) {
    return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

long ur_word_count(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    long words = 0;
    int in_word = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp = u[i];
        size_t l = 1;
        if (cp >= 0xc0 && cp < 0xf8) { /* decode a sequence (invalid ones count as one non-space byte) */
            size_t want = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : 2;
            unsigned v = cp & (0x7f >> want);
            size_t k = 1;
            while (k < want && i + k < n && (u[i + k] & 0xc0) == 0x80) v = (v << 6) | (u[i + k] & 0x3f), k++;
            if (k == want) cp = v, l = want;
        }
        int sp = py_space(cp);
        if (!sp && !in_word) words++;
        in_word = !sp;
        i += l;
    }
    return words;
}

/* ---- reading one file ------------------------------------------------------------------ */
static int aspect_index(rp_file *f, const char *name) {
    for (int i = 0; i < f->n_aspects; i++)
        if (!strcmp(f->aspects[i], name)) return i;
    if (f->n_aspects == RP_MAX_ASPECTS) return -1;
    f->aspects[f->n_aspects] = ur_xstrdup(name);
    return f->n_aspects++;
}

static int gen_index(rp_file *f, const char *name) {
    if (!name) name = "?";
    for (int i = 0; i < f->n_gens; i++)
        if (!strcmp(f->gens[i], name)) return i;
    if (f->n_gens == RP_MAX_GENS) return RP_MAX_GENS - 1;
    f->gens[f->n_gens] = ur_xstrdup(name);
    return f->n_gens++;
}

static rp_group *group_of(rp_file *f, const char *name) {
    for (int i = 0; i < f->n_groups; i++)
        if (!strcmp(f->groups[i].name, name)) return &f->groups[i];
    f->groups = ur_xrealloc(f->groups, sizeof *f->groups * (size_t)(f->n_groups + 1));
    rp_group *g = &f->groups[f->n_groups++];
    memset(g, 0, sizeof *g);
    g->name = ur_xstrdup(name);
    return g;
}

static const char *jstr(const json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double words_of(const json_t *rec, const char *k) {
    const char *s = jstr(rec, k);
    return s ? (double)ur_word_count(s, strlen(s)) : 0.0;
}

/* The scale a record was judged on (eval_config.scale, else 1 to 5), noted for the file. */
static void note_scale(rp_file *f, const json_t *rec, ur_judge_scale *sc) {
    ur_judge_scale_from_json(json_object_get(json_object_get(rec, "eval_config"), "scale"), sc);
    char t[160];
    ur_judge_scale_text(sc, t, sizeof t);
    if (!f->scale_seen++) snprintf(f->scale, sizeof f->scale, "%s", t);
    else if (strcmp(f->scale, t)) f->scale_mixed = 1;
}

const char *rp_common_scale(const rp_file *fs, int n) {
    const char *s = NULL;
    for (int i = 0; i < n; i++) {
        if (fs[i].pairwise || !fs[i].scale_seen) continue;
        if (fs[i].scale_mixed || (s && strcmp(s, fs[i].scale))) return NULL;
        s = fs[i].scale;
    }
    return s ? s : "1 to 5";
}

static void score_record(rp_file *f, json_t *rec, const char *group) {
    json_t *pr = json_object_get(rec, "parsed_result");
    if (!json_is_object(pr)) {
        if (json_object_get(rec, "error")) f->failed++;
        return;
    }
    ur_judge_scale sc;
    note_scale(f, rec, &sc);
    rp_group *g = group ? group_of(f, group) : NULL;
    double len = words_of(rec, "output_cand");
    rp_push(&f->lens, len);
    f->total++;
    if (g) rp_push(&g->lens, len), g->total++;
    const char *k;
    json_t *v;
    json_object_foreach(pr, k, v) {
        double d; /* labels by the record's scale; numbers as just-eval reads them, whatever the range */
        json_t *score = json_object_get(v, "score");
        if (!json_is_object(v) ||
            (sc.n_labels ? ur_judge_scale_value(&sc, score, &d) : ur_judge_score_value(score, &d)))
            continue;
        int a = aspect_index(f, k);
        if (a < 0) continue;
        rp_push(&f->scores[a], d);
        if (g) rp_push(&g->scores[a], d);
    }
}

/* Python's len() of a string: its code points (the text is valid UTF-8). */
static double chars_of(const char *s) {
    long n = 0;
    for (; s && *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return (double)n;
}

/* An output that may be a list (the URIAL authors keep a list's first element). */
static const char *output_of(const json_t *rec, const char *k) {
    json_t *v = json_object_get(rec, k);
    if (json_is_array(v)) v = json_array_get(v, 0);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void pair_lens(rp_file *f, int g, const char *text) {
    rp_push(&f->plens[g], text ? (double)ur_word_count(text, strlen(text)) : 0.0);
    rp_push(&f->pchars[g], chars_of(text));
}

/* A record of the URIAL authors' evaluate/eval.py (model_output, ref_output,
 * generator, ref_generator, assignment, parsed_result.choices), counted as their
 * show_table.py counts it: the model was shown as B when assignment.A is the
 * reference's name; per aspect, "tie", the model's letter (win) or the
 * reference's (lose), any other choice not counted; lengths in characters. */
static void urial_record(rp_file *f, json_t *rec) {
    json_t *ch = json_object_get(json_object_get(rec, "parsed_result"), "choices");
    if (!json_is_object(json_object_get(rec, "parsed_result"))) {
        if (json_object_get(rec, "error")) f->failed++;
        return;
    }
    const char *gm = jstr(rec, "generator"), *gr = jstr(rec, "ref_generator");
    int im = gen_index(f, gm), ir = gen_index(f, gr);
    const char *shown_a = jstr(json_object_get(rec, "assignment"), "A");
    const char *mine = shown_a && gr && !strcmp(shown_a, gr) ? "B" : "A", *theirs = *mine == 'A' ? "B" : "A";
    const char *k;
    json_t *v;
    json_object_foreach(ch, k, v) {
        const char *c = json_string_value(v);
        int a = aspect_index(f, k);
        if (a < 0 || !c) continue;
        if (!strcmp(c, "tie")) f->ties[a]++;
        else if (!strcmp(c, mine)) f->wins[a][im]++;
        else if (!strcmp(c, theirs)) f->wins[a][ir]++;
    }
    f->total++;
    pair_lens(f, im, output_of(rec, "model_output"));
    pair_lens(f, ir, output_of(rec, "ref_output"));
}

/* A pairwise record: our "outcome" (both orders, or one order mapped back to A),
 * else the single verdict of parsed_result (just-eval's records). */
static void pair_record(rp_file *f, json_t *rec) {
    json_t *out = json_object_get(rec, "outcome"), *pr = json_object_get(rec, "parsed_result");
    if (!json_is_object(out) && !json_is_object(pr)) {
        if (json_object_get(rec, "error")) f->failed++;
        return;
    }
    int ia = gen_index(f, jstr(rec, "generator_A")), ib = gen_index(f, jstr(rec, "generator_B"));
    const char *k;
    json_t *v;
    if (json_is_object(out)) {
        json_object_foreach(out, k, v) {
            int a = aspect_index(f, k);
            const char *s = json_string_value(v);
            if (a < 0 || !s) continue;
            if (!strcmp(s, "win")) f->wins[a][ia]++;
            else if (!strcmp(s, "lose")) f->wins[a][ib]++;
            else f->ties[a]++;
        }
    } else {
        ur_judge_schema s;
        if (ur_judge_schema_from_json(pr, &s)) return;
        int vd[UR_JUDGE_MAX_ASPECTS];
        ur_judge_verdicts(&s, pr, vd);
        for (int i = 0; i < s.n_aspects; i++) {
            int a = aspect_index(f, s.aspects[i]);
            if (a < 0) continue;
            if (vd[i] > 0) f->wins[a][ia]++;
            else if (vd[i] < 0) f->wins[a][ib]++;
            else f->ties[a]++;
        }
    }
    f->total++;
    pair_lens(f, ia, jstr(rec, "output_A"));
    pair_lens(f, ib, jstr(rec, "output_B"));
}

static int read_file(rp_file *f, const char *path, const ur_report_params *p, json_t *lookup, ur_err *err) {
    json_t *a = ur_eval_records_load(path, err);
    if (!a) return -1;
    f->file = path;
    f->pairwise = -1;
    size_t i;
    json_t *rec;
    const char *model = NULL;
    int mixed = 0;
    json_array_foreach(a, i, rec) {
        int urial = !json_object_get(rec, "output_A") && json_object_get(rec, "assignment") &&
                    json_object_get(rec, "model_output");
        int pw = urial || json_object_get(rec, "output_A") != NULL;
        if (!pw && !json_object_get(rec, "output_cand")) continue; /* not a judge record */
        if (f->pairwise >= 0 && f->pairwise != pw) {
            json_decref(a);
            return ur_errf(err, "%s: record %zu: scoring and pairwise records are mixed", path, i);
        }
        f->pairwise = pw;
        if (pw) {
            urial ? urial_record(f, rec) : pair_record(f, rec);
            continue;
        }
        const char *g = jstr(rec, "generator_cand");
        if (g && !model) model = g;
        else if (g && strcmp(g, model)) mixed = 1;
        const char *group = NULL;
        if (p->by) {
            const char *field = p->by == UR_BY_DATASET ? "dataset" : "category";
            group = jstr(rec, field);
            if (!group && lookup) {
                char *key = ur_eval_id_key(json_object_get(rec, "id"));
                group = jstr(json_object_get(lookup, key), field);
                free(key);
            }
            if (!group) group = "(unknown)";
        }
        score_record(f, rec, group);
    }
    if (f->pairwise < 0) f->pairwise = 0;
    const char *base = strrchr(path, '/');
    f->model = ur_xstrdup(model && !mixed ? model : base ? base + 1 : path);
    json_decref(a);
    return 0;
}

static void free_file(rp_file *f) {
    for (int i = 0; i < f->n_aspects; i++) free(f->aspects[i]), free(f->scores[i].v);
    for (int i = 0; i < f->n_gens; i++) free(f->gens[i]), free(f->plens[i].v), free(f->pchars[i].v);
    for (int g = 0; g < f->n_groups; g++) {
        free(f->groups[g].name), free(f->groups[g].lens.v);
        for (int i = 0; i < RP_MAX_ASPECTS; i++) free(f->groups[g].scores[i].v);
    }
    free(f->groups), free(f->lens.v), free(f->model);
}

/* id key -> the item's fields, from the --data outputs file. */
static json_t *load_lookup(const char *path, ur_err *err) {
    ur_eval_items it;
    if (ur_eval_items_load(path, &it, err)) return NULL;
    json_t *m = json_object();
    for (int i = 0; i < it.n; i++) {
        char *k = ur_eval_id_key(it.items[i].id);
        json_object_set(m, k, it.items[i].fields);
        free(k);
    }
    ur_eval_items_free(&it);
    return m;
}

int ur_eval_report(const char *const *files, int n, const ur_report_params *p, ur_buf *out, ur_err *err) {
    if (n <= 0) return ur_errf(err, "report: no files");
    json_t *lookup = NULL;
    if (p->data && !(lookup = load_lookup(p->data, err))) return -1;
    rp_file *fs = ur_xcalloc((size_t)n, sizeof *fs);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = read_file(&fs[i], files[i], p, lookup, err);
    if (!rc) {
        if (p->format == UR_REPORT_JSON) rp_json(fs, n, p, out);
        else if (p->format == UR_REPORT_HTML) rp_html(fs, n, p, out);
        else rp_md(fs, n, p, out);
    }
    for (int i = 0; i < n; i++) free_file(&fs[i]);
    free(fs);
    json_decref(lookup);
    return rc;
}
