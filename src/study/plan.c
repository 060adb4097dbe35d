/* urial study --plan: the steps, what each has left (records already in its file
 * are not redone) and the time they should take on this machine, from a short
 * measurement of each local model: a 64-token prompt computed in one batch
 * (prompt tokens/s) and 16 tokens decoded one at a time (answer tokens/s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/study_int.h"
#include "urial/model.h"
#include "urial/results.h"

typedef struct speed {
    double prompt_tps, gen_tps; /* 0: not measured (a server) */
} speed;

static int measure(const char *path, int threads, speed *sp, ur_err *err) {
    ur_model *m = ur_model_load(path, err);
    if (!m) return -1;
    int n_ctx = m->hp.n_ctx_train < 256 ? m->hp.n_ctx_train : 256, nv = m->hp.n_vocab, rc = -1;
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = n_ctx, .n_threads = threads}, err);
    int np = n_ctx / 4 < 64 ? n_ctx / 4 : 64, ng = 16;
    int32_t *ids = ur_xmalloc(sizeof *ids * (size_t)(np + ng));
    for (int i = 0; i < np + ng; i++) ids[i] = (int32_t)((i * 7919 + 3) % nv);
    float *logits = ur_xmalloc(sizeof *logits * (size_t)nv);
    if (c) {
        double t0 = ur_now();
        if (!ur_decode(c, ids, np, logits, 0, err)) {
            double t1 = ur_now();
            int i = 0;
            while (i < ng && !ur_decode(c, ids + np + i, 1, logits, 0, err)) i++;
            double t2 = ur_now();
            if (i == ng) {
                sp->prompt_tps = np / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
                sp->gen_tps = ng / (t2 - t1 > 1e-9 ? t2 - t1 : 1e-9);
                rc = 0;
            }
        }
    }
    free(ids), free(logits);
    ur_ctx_free(c);
    ur_model_free(m);
    return rc;
}

/* Records in a JSONL step file (0 when it does not exist), and their mean output tokens. */
static int done_in(const char *path, double *mean_out) {
    ur_err e = {{0}};
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    fclose(f);
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, &e);
    if (!r) return 0;
    int n = ur_results_count(r);
    long tok = 0, k = 0;
    for (int i = 0; i < n; i++) {
        const char *s = strstr(ur_results_get(r, i)->json, "\"output_tokens\":");
        if (s) tok += atol(s + 16), k++;
    }
    if (mean_out && k) *mean_out = (double)tok / (double)k;
    ur_results_close(r);
    return n;
}

static void fmt_time(double s, char *b, size_t n) {
    if (s < 0) snprintf(b, n, "?");
    else if (s >= 3600) snprintf(b, n, "%.1f h", s / 3600);
    else if (s >= 60) snprintf(b, n, "%.1f min", s / 60);
    else snprintf(b, n, "%.0f s", s);
}

static int selected(const ur_study_params *p, const ur_dataset *ds) {
    int n = 0;
    for (int i = 0; i < ds->n; i++) n += ur_job_selects(&p->sel, i);
    return n;
}

/* One line per step; returns the step's estimated seconds (-1: unknown). */
static double step_line(ur_buf *o, int k, const char *what, const char *file, int n, int done, double tokens_per_item,
                        double tps) {
    int todo = n - done > 0 ? n - done : 0;
    double t = !todo ? 0 : tps > 0 ? todo * tokens_per_item / tps : -1;
    char tb[32];
    fmt_time(t, tb, sizeof tb);
    ur_buf_printf(o, "%2d. %-44s %4d of %4d to do  ~%-9s %s\n", k, what, todo, n, tb, file);
    return t;
}

int study_plan(const ur_study_params *p, const ur_dataset *ds, const char *sfx, ur_buf *o, ur_err *err) {
    speed sp[3] = {{0, 0}, {0, 0}, {0, 0}}; /* base, aligned, local judge */
    const char *paths[3] = {p->base, p->aligned, p->judge && !strncmp(p->judge, "local:", 6) ? p->judge + 6 : NULL};
    for (int w = 0; w < 3; w++)
        if (paths[w] && (w == 2 || !p->client) && measure(paths[w], p->threads, &sp[w], err)) return -1;
    const int n = selected(p, ds), mt = p->gp.max_tokens > 0 ? p->gp.max_tokens : 1024;
    ur_buf_printf(o, "urial study: %d items of %s (%s), %d methods; steps (records already written are kept):\n", n,
                  ds->path, ur_data_format_name(ds->format), p->n_methods);
    double total = 0;
    int unknown = 0, k = 0;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < p->n_methods; i++) {
            const ur_study_method *me = &p->methods[i];
            if (me->model != w) continue;
            char *f = study_path(p->out_dir, "gen", me->name, sfx, ".jsonl"), what[128];
            double mean = mt;
            int done = done_in(f, &mean);
            snprintf(what, sizeof what, "generate %s", me->name);
            /* the answer decoded token by token, and a prompt of ~256 tokens in a batch */
            double tps = sp[w].gen_tps > 0 ? 1.0 / (1.0 / sp[w].gen_tps + 256.0 / mean / sp[w].prompt_tps) : 0;
            double t = step_line(o, ++k, what, f, n, done, mean, tps);
            t < 0 ? unknown++ : (void)(total += t);
            free(f);
        }
    for (int i = 0; i < p->n_methods; i++) {
        char *f = study_path(p->out_dir, "judge", p->methods[i].name, sfx, ".jsonl"), what[128];
        snprintf(what, sizeof what, "judge %s", p->methods[i].name);
        /* a judgment: a ~700-token prompt, ~300 answer tokens */
        double tps = sp[2].gen_tps > 0 ? 1000.0 / (300.0 / sp[2].gen_tps + 700.0 / sp[2].prompt_tps) : 0;
        double t = step_line(o, ++k, what, f, n, done_in(f, NULL), 1000, tps);
        t < 0 ? unknown++ : (void)(total += t);
        free(f);
    }
    if (study_aligned_method(p) && !p->client) {
        ur_buf f = {0};
        ur_buf_printf(&f, "%s%s/tds/tokens.jsonl", p->out_dir, sfx);
        /* both models read ~(256 + max_tokens) tokens per answer in a batch */
        double tps = 1.0 / (1.0 / sp[0].prompt_tps + 1.0 / sp[1].prompt_tps);
        double t = step_line(o, ++k, "TDS between the pair", f.data, n, done_in(f.data, NULL), 256.0 + mt / 2.0, tps);
        t < 0 ? unknown++ : (void)(total += t);
        ur_buf_free(&f);
    }
    ur_buf_printf(o, "%2d. write study.json and report.html         %s/\n", ++k, p->out_dir);
    for (int w = 0; w < 3; w++)
        if (sp[w].gen_tps > 0)
            ur_buf_printf(o, "measured here: %s: %.0f prompt tokens/s, %.1f answer tokens/s (one answer at a time)\n",
                          paths[w], sp[w].prompt_tps, sp[w].gen_tps);
    char tb[32];
    fmt_time(total, tb, sizeof tb);
    ur_buf_printf(o, "estimated time: ~%s%s (answers of %d tokens at most; batched decoding, --parallel, makes the "
                     "generation and a local judge faster)\n",
                  tb, unknown ? " plus the steps on servers (not measured)" : "", mt);
    return 0;
}
