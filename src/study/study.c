/* urial study: the steps of the paper's experiment, each a resumable job (generate
 * per method, judge per method, TDS), then the report (src/study/report.c). A step
 * whose file is complete costs only reading it, so rerunning the same command after
 * a kill -9 goes straight to the step that was cut off. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "study/study_int.h"
#include "urial/chat.h"
#include "urial/engine.h"
#include "urial/eval.h"
#include "urial/model.h"
#include "urial/remote.h"
#include "urial/results.h"
#include "urial/run.h"
#include "urial/tds.h"

/* ---- paths -------------------------------------------------------------------------- */
void study_suffix(const ur_job_select *sel, char *buf, size_t n) {
    if (sel->shard_n > 1) snprintf(buf, n, "/shard-%d-of-%d", sel->shard_i, sel->shard_n);
    else buf[0] = 0;
}

char *study_path(const char *out_dir, const char *step, const char *name, const char *sfx, const char *ext) {
    ur_buf b = {0};
    ur_buf_printf(&b, "%s%s/%s/%s%s", out_dir, sfx ? sfx : "", step, name, ext ? ext : "");
    return b.data;
}

static int make_dir(const char *path, ur_err *err) {
    if (mkdir(path, 0777) && errno != EEXIST) return ur_errf(err, "%s: cannot create the directory: %s", path, strerror(errno));
    return 0;
}

/* A model's name: the file's base name without .gguf. */
void study_stem(const char *model, char *buf, size_t n) {
    const char *b = ur_base_name(model);
    size_t l = strlen(b);
    if (l > 5 && !strcmp(b + l - 5, ".gguf")) l -= 5;
    snprintf(buf, n, "%.*s", (int)l, b);
}

/* ---- the study's state -------------------------------------------------------------- */
typedef struct study {
    const ur_study_params *p;
    ur_dataset ds;
    char sfx[64];
    ur_model *m[2]; /* base, aligned (loaded when first needed) */
    ur_judge *judge;
    int failed_judged, skipped; /* judge records with an "error"; answers not generated */
} study;

static void note(const study *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const study *s, const char *fmt, ...) {
    if (!s->p->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->p->note(s->p->hook_user, line);
}

static ur_model *model_of(study *s, int which, ur_err *err) {
    if (!s->m[which]) s->m[which] = ur_model_load(which ? s->p->aligned : s->p->base, err);
    return s->m[which];
}

static int default_ctx(const study *s, const ur_model *m) {
    if (s->p->n_ctx) return s->p->n_ctx;
    return m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096;
}

/* The method's chat format (m: the model, NULL when it is on a server). */
static ur_chat *open_format(const study *s, const ur_study_method *me, const ur_model *m, ur_err *err) {
    ur_chat *f = NULL;
    if (me->prompt == UR_STUDY_URIAL || me->prompt == UR_STUDY_URIAL_LEGACY) {
        f = ur_chat_urial(me->arg, err);
        if (f && me->prompt == UR_STUDY_URIAL_LEGACY && ur_chat_set_urial_format(f, 1, err)) ur_chat_free(f), f = NULL;
    } else if (me->prompt == UR_STUDY_ZERO_SHOT) {
        f = ur_chat_zero_shot();
    } else if (me->model == UR_STUDY_ALIGNED && s->p->aligned_template && strcmp(s->p->aligned_template, "auto")) {
        f = ur_chat_template(s->p->aligned_template, err);
    } else if (!strcmp(me->arg, "auto")) {
        if (!m) {
            ur_errf(err, "study: method %s: --template auto reads the model's GGUF; a model on a server has none here",
                    me->name);
            return NULL;
        }
        f = ur_chat_template_auto(m->gguf, err);
    } else {
        f = ur_chat_template(me->arg, err);
    }
    if (f && ur_chat_warning(f)) note(s, "warning: %s", ur_chat_warning(f));
    return f;
}

/* ---- step: generate --------------------------------------------------------------------- */
/* A model's name on its server: a GGUF path's stem (as urial serve names it), else as given. */
static void remote_name(const char *model, char *buf, size_t n) {
    size_t l = strlen(model);
    if (l > 5 && !strcmp(model + l - 5, ".gguf")) study_stem(model, buf, n);
    else snprintf(buf, n, "%s", model);
}

/* name: the model's name on a server (borrowed by the remote executor: it must outlive it) */
static ur_exec *gen_exec(study *s, const ur_study_method *me, const ur_model *m, const ur_chat *f, const char *name,
                         int *n_ctx) {
    const ur_study_params *p = s->p;
    if (p->client) {
        int al = me->model == UR_STUDY_ALIGNED && p->client_aligned;
        return ur_exec_gen_remote_new(al ? p->client_aligned : p->client, name, f);
    }
    ur_engine_params ep;
    ur_engine_defaults(&ep);
    ep.n_ctx = *n_ctx = default_ctx(s, m);
    ep.n_threads = p->threads;
    ep.parallel = p->parallel ? p->parallel : ur_engine_default_parallel(m, ep.n_ctx);
    ep.queue = 2 * ep.parallel;
    ep.cache_dir = p->cache_dir;
    ep.reuse = UR_REUSE_PREFIX;
    return ur_exec_gen_engine_new(m, f, &ep, p->note, p->hook_user);
}

static int gen_step(study *s, const ur_study_method *me, ur_err *err) {
    const ur_study_params *p = s->p;
    const char *model = me->model == UR_STUDY_ALIGNED ? p->aligned : p->base;
    const ur_model *m = p->client ? NULL : model_of(s, me->model, err);
    if (!p->client && !m) return -1;
    ur_chat *f = open_format(s, me, m, err);
    if (!f) return -1;
    char *out = study_path(p->out_dir, "gen", me->name, s->sfx, ".jsonl");
    char stem[256], gen[400], name[256];
    study_stem(model, stem, sizeof stem);
    remote_name(model, name, sizeof name);
    snprintf(gen, sizeof gen, "%s+%s", stem, me->name);
    int n_ctx = 0;
    ur_exec *x = gen_exec(s, me, m, f, name, &n_ctx);
    ur_run_params rp = {.ds = &s->ds, .out = out, .sel = p->sel, .fmt = f, .gp = p->gp, .generator = gen,
                        .model = p->client ? name : model, .model_size = m ? m->gguf->size : 0, .n_ctx = n_ctx,
                        .progress = p->progress, .note = p->note, .hook_user = p->hook_user};
    ur_job_progress pg;
    int rc = ur_run(&rp, x, &pg, err);
    if (!rc)
        note(s, "study: generate %s: %d of %d answers in %s (%d now, %d skipped)", me->name, pg.kept + pg.recorded,
             pg.total, out, pg.recorded, pg.skipped);
    s->skipped += rc ? 0 : pg.skipped;
    ur_exec_free(x);
    ur_chat_free(f);
    free(out);
    return rc;
}

/* ---- step: judge -------------------------------------------------------------------------- */
static ur_judge *open_judge(const ur_study_params *p, ur_err *err) {
    if (!strncmp(p->judge, "local:", 6)) {
        ur_judge_local_params lp = {.model_path = p->judge + 6, .chat_template = "auto", .n_ctx = p->judge_ctx,
                                    .n_threads = p->threads, .parallel = p->judge_parallel,
                                    .reason_max = p->judge_reason_max};
        return ur_judge_local_new(&lp, err);
    }
    ur_judge_http_params hp;
    ur_judge_http_defaults(&hp);
    hp.url = p->judge;
    if (p->judge_model) hp.model = p->judge_model;
    hp.api_key = p->api_key;
    return ur_judge_http_new(&hp, err);
}

static void judge_note(void *user, const char *msg) {
    const study *s = user;
    note(s, "%s", msg);
}

/* Records in a step's file (0: missing or empty). */
static int records_in(const char *path) {
    ur_err e = {{0}};
    struct stat st;
    if (stat(path, &st) || !st.st_size) return 0;
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, &e);
    int n = r ? ur_results_count(r) : 0;
    ur_results_close(r);
    return n;
}

static int judge_step(study *s, const ur_study_method *me, ur_err *err) {
    const ur_study_params *p = s->p;
    char *gen = study_path(p->out_dir, "gen", me->name, s->sfx, ".jsonl");
    int n = records_in(gen);
    free(gen);
    if (!n) {
        note(s, "study: judge %s: no answers to judge yet", me->name);
        return 0;
    }
    if (!s->judge) {
        if (!(s->judge = open_judge(p, err))) return -1;
        if (ur_judge_note(s->judge)) note(s, "%s", ur_judge_note(s->judge));
    }
    char *in = study_path(p->out_dir, "gen", me->name, s->sfx, ".jsonl");
    char *out = study_path(p->out_dir, "judge", me->name, s->sfx, ".jsonl");
    ur_judge_tmpl *tm = ur_judge_tmpl_builtin(UR_JUDGE_MULTI), *ts = ur_judge_tmpl_builtin(UR_JUDGE_SAFETY);
    ur_eval_params ep;
    ur_eval_defaults(&ep);
    ep.mode = UR_EVAL_AUTO;
    ep.in = in, ep.out = out, ep.tmpl = tm, ep.tmpl_safety = ts;
    ep.note = judge_note, ep.progress_user = s;
    ur_eval_progress sum;
    int rc = ur_eval_score(s->judge, &ep, &sum, err);
    if (!rc) {
        note(s, "study: judge %s: %d items in %s (%d judged now, %d failed)", me->name, sum.total, out, sum.judged,
             sum.failed);
        s->failed_judged += sum.failed;
    }
    ur_judge_tmpl_free(tm), ur_judge_tmpl_free(ts);
    free(in), free(out);
    return rc;
}

/* ---- step: TDS ------------------------------------------------------------------------------ */
const ur_study_method *study_aligned_method(const ur_study_params *p) {
    for (int i = 0; i < p->n_methods; i++)
        if (p->methods[i].model == UR_STUDY_ALIGNED) return &p->methods[i];
    return NULL;
}

static int tds_step(study *s, const ur_study_method *me, ur_err *err) {
    const ur_study_params *p = s->p;
    char *gen = study_path(p->out_dir, "gen", me->name, s->sfx, ".jsonl");
    int n = records_in(gen);
    free(gen);
    if (!n) {
        note(s, "study: TDS: no answers of %s yet", me->name);
        return 0;
    }
    ur_model *mb = model_of(s, UR_STUDY_BASE, err), *ma = mb ? model_of(s, UR_STUDY_ALIGNED, err) : NULL;
    if (!ma) return -1;
    if (ur_tds_same_vocab(mb, ma, err)) {
        note(s, "study: TDS skipped: %s", err->msg);
        return 0;
    }
    ur_chat *f = open_format(s, me, ma, err);
    if (!f) return -1;
    int nb = default_ctx(s, mb), na = default_ctx(s, ma), rc = -1;
    ur_ctx *cb = ur_ctx_new(mb, (ur_ctx_params){.n_ctx = nb < na ? nb : na, .n_threads = p->threads}, err);
    ur_ctx *ca = cb ? ur_ctx_new(ma, (ur_ctx_params){.n_ctx = nb < na ? nb : na, .n_threads = p->threads}, err) : NULL;
    char *outputs = study_path(p->out_dir, "gen", me->name, s->sfx, ".jsonl");
    ur_buf dir = {0};
    ur_buf_printf(&dir, "%s%s/tds", p->out_dir, s->sfx);
    if (ca) {
        ur_tds_params tp = {.ds = &s->ds, .outputs = outputs, .aligned_prompt = {UR_TDS_PROMPT_FORMAT, f},
                            .base_prompt = {UR_TDS_PROMPT_ALIGNTDS, NULL}, .tokenize = UR_TDS_JOINT,
                            .rank = UR_TDS_RANK_ALIGNED, .base = cb, .aligned = ca, .base_name = p->base,
                            .aligned_name = p->aligned, .max_tokens = -1, .sel = p->sel, .out_dir = dir.data,
                            .progress = p->progress, .note = p->note, .hook_user = p->hook_user};
        ur_tds_summary ts;
        rc = ur_tds_run(&tp, &ts, err);
        if (!rc)
            note(s, "study: TDS: %d of %d answers in %s/tokens.jsonl (%d now, %d skipped)", ts.p.kept + ts.p.recorded,
                 ts.p.total, dir.data, ts.p.recorded, ts.p.skipped);
    }
    ur_ctx_free(ca), ur_ctx_free(cb);
    ur_chat_free(f);
    free(outputs);
    ur_buf_free(&dir);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------------- */
static int check_params(const ur_study_params *p, ur_err *err) {
    if (!p->base || !p->aligned || !p->data || !p->out_dir)
        return ur_errf(err, "study: --base, --aligned, --data and --out are required");
    if (!p->n_methods) return ur_errf(err, "study: no methods");
    if (!p->plan && !p->judge) return ur_errf(err, "study: --judge URL|local:MODEL.gguf is required (the just-eval judge)");
    if (p->judge && !strncmp(p->judge, "local:", 6) && !p->judge[6])
        return ur_errf(err, "study: --judge local: needs a model file (local:MODEL.gguf)");
    struct stat js;
    if (p->judge && !strncmp(p->judge, "local:", 6) && stat(p->judge + 6, &js))
        return ur_errf(err, "%s: --judge local: %s", p->judge + 6, strerror(errno));
    for (int w = 0; w < 2 && !p->client; w++) {
        const char *f = w ? p->aligned : p->base;
        struct stat st;
        if (stat(f, &st)) return ur_errf(err, "%s: --%s: %s", f, w ? "aligned" : "base", strerror(errno));
    }
    return 0;
}

/* Every method's prompt file or template opens (before any step runs). */
static int check_methods(const ur_study_params *p, ur_err *err) {
    for (int i = 0; i < p->n_methods; i++) {
        const ur_study_method *me = &p->methods[i];
        const char *t = me->model == UR_STUDY_ALIGNED && p->aligned_template ? p->aligned_template : me->arg;
        if (me->prompt == UR_STUDY_TEMPLATE && !strcmp(t, "auto")) continue;
        if (me->prompt == UR_STUDY_ZERO_SHOT) continue;
        ur_chat *f = me->prompt == UR_STUDY_TEMPLATE ? ur_chat_template(t, err) : ur_chat_urial(me->arg, err);
        if (!f) return -1;
        ur_chat_free(f);
    }
    return 0;
}

static int open_study(study *s, const ur_study_params *p, ur_err *err) {
    memset(s, 0, sizeof *s);
    s->p = p;
    study_suffix(&p->sel, s->sfx, sizeof s->sfx);
    if (check_params(p, err) || check_methods(p, err) || ur_dataset_load(p->data, &s->ds, err)) return -1;
    if (s->ds.format == UR_DATA_MT_BENCH)
        return ur_errf(err, "%s: study: MT-Bench (multi-turn) is not supported; give single-turn instructions", p->data);
    return 0;
}

static void close_study(study *s) {
    ur_judge_free(s->judge);
    ur_model_free(s->m[0]), ur_model_free(s->m[1]);
    ur_dataset_free(&s->ds);
}

static int run_steps(study *s, ur_err *err) {
    const ur_study_params *p = s->p;
    const char *dirs[] = {"", "", "/gen", "/judge"};
    for (int i = 0; i < 4; i++) {
        ur_buf d = {0};
        ur_buf_printf(&d, "%s%s%s", p->out_dir, i ? s->sfx : "", dirs[i]);
        int r = make_dir(d.data, err);
        ur_buf_free(&d);
        if (r) return -1;
    }
    int n = p->n_methods, step = 0, total = 2 * n + 1;
    /* the base model's methods first, then the aligned model's: one model in memory at a time */
    for (int w = 0; w < 2; w++) {
        for (int i = 0; i < n; i++) {
            if (p->methods[i].model != w) continue;
            note(s, "study: step %d of %d: generate %s (%s)", ++step, total, p->methods[i].name, p->methods[i].what);
            if (gen_step(s, &p->methods[i], err)) return -1;
        }
        if (w == 0 && s->m[0] && study_aligned_method(p)) ur_model_free(s->m[0]), s->m[0] = NULL;
    }
    ur_model_free(s->m[1]), s->m[1] = NULL;
    for (int i = 0; i < n; i++) {
        note(s, "study: step %d of %d: judge %s", ++step, total, p->methods[i].name);
        if (judge_step(s, &p->methods[i], err)) return -1;
    }
    ur_judge_free(s->judge), s->judge = NULL;
    const ur_study_method *am = study_aligned_method(p);
    note(s, "study: step %d of %d: TDS between the pair", ++step, total);
    if (!am) note(s, "study: TDS skipped: no method of the aligned model");
    else if (p->client) note(s, "study: TDS skipped: it needs both models here (urial tds --backend openai scores a base "
                                "model on a server against a local aligned model)");
    else if (tds_step(s, am, err)) return -1;
    return 0;
}

int ur_study_run(const ur_study_params *p, ur_buf *plan, ur_err *err) {
    study s;
    int rc = open_study(&s, p, err);
    if (!rc && p->plan) rc = study_plan(p, &s.ds, s.sfx, plan, err);
    else if (!rc) rc = run_steps(&s, err);
    int failed = s.failed_judged, skipped = s.skipped;
    close_study(&s);
    if (rc || p->plan) return rc;
    char *html = NULL;
    if (ur_study_report(p, &html, err)) return -1;
    note(&s, "study: wrote %s/study.json and %s", p->out_dir, html);
    free(html);
    if (skipped)
        return ur_errf(err, "study: %d answers were not generated (the notes above say why); run the same command "
                            "again to retry them", skipped);
    if (failed)
        return ur_errf(err, "study: %d judge records failed (each has its \"error\" in %s/judge/); run the same command "
                            "again to retry them", failed, p->out_dir);
    return 0;
}
