/* Generation executors (include/urial/run.h): answers on the local engine through a
 * session, or from an OpenAI-compatible server. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/engine.h"
#include "urial/remote.h"
#include "urial/run.h"

void ur_gen_task_free(ur_gen_task *t) {
    ur_buf_free(&t->text);
    free(t->body);
    t->body = NULL;
}

/* ---- local ------------------------------------------------------------------------------ */
typedef struct local_exec {
    ur_exec base;
    ur_session *s;
    void (*note)(void *, const char *);
    void *note_user;
} local_exec;

static void say(local_exec *e, const char *msg) {
    if (e->note && msg) e->note(e->note_user, msg);
}

static int local_begin(ur_exec *x, ur_err *err) {
    local_exec *e = (local_exec *)x;
    double t0 = ur_now();
    int how = ur_session_warm(e->s, err);
    say(e, ur_session_take_note(e->s));
    if (how == UR_PREFIX_COMPUTED) {
        char line[128];
        snprintf(line, sizeof line, "computed the %d-token prompt prefix in %.2f s", ur_session_prefix_len(e->s),
                 ur_now() - t0);
        say(e, line);
    }
    return how < 0 ? -1 : 0;
}

static int local_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    local_exec *e = (local_exec *)x;
    void *p;
    while (next(user, &p)) {
        ur_gen_task *t = p;
        ur_answer ans;
        ur_err aerr = {{0}};
        const char *why = NULL;
        if (ur_session_answer(e->s, t->msgs, t->n_msgs, &t->gp, NULL, NULL, &ans, &aerr)) {
            if (!ans.too_long) {
                *err = aerr;
                return -1;
            }
            t->too_long = 1;
            why = aerr.msg;
        } else {
            t->text.len = 0;
            ur_buf_put(&t->text, ans.text.data ? ans.text.data : "", ans.text.len);
            t->n_prompt = ans.gen.n_prompt;
            t->n_cached = ans.n_cached;
            t->n_gen = ans.gen.n_gen;
            t->stop_reason = ans.gen.stop_reason;
            t->t_prompt = ans.gen.t_prompt;
            t->t_gen = ans.gen.t_gen;
            ur_answer_free(&ans);
        }
        if (done(user, t, why, err)) return -1;
    }
    return 0;
}

ur_exec *ur_exec_gen_local_new(ur_session *s, void (*note)(void *, const char *), void *note_user) {
    local_exec *e = ur_xcalloc(1, sizeof *e);
    e->base = (ur_exec){.slots = 1, .begin = local_begin, .run = local_run, .free = ur_exec_free_block};
    e->s = s;
    e->note = note;
    e->note_user = note_user;
    return &e->base;
}

/* ---- the engine: many answers decoded together --------------------------------------------- */
typedef struct engine_exec {
    ur_exec base;
    ur_engine *e;             /* made by begin(): only a job with work to do computes the prefix */
    ur_engine_params p;
    const ur_model *m;
    const ur_chat *fmt;
    int add_bos, special;
    void (*note)(void *, const char *);
    void *note_user;
} engine_exec;

typedef struct out_job { /* a task handed to the engine */
    ur_gen_task *t;
    ur_engine_job *j;
} out_job;

/* The task's prompt as the engine's job, built exactly as a session builds it (the
 * format's rendering and tokenization, its stop strings then the task's, its decoding
 * defaults), so an answer is the one ur_session_answer gives. NULL with *why when the
 * prompt cannot be rendered or does not fit. */
static ur_engine_job *make_job(engine_exec *x, ur_gen_task *t, ur_err *why) {
    ur_buf text = {0};
    int32_t *toks = NULL;
    int nt = -1;
    if (!ur_chat_render(x->fmt, t->msgs, t->n_msgs, 1, &text, why))
        nt = ur_tokenize_alloc(x->m->vocab, text.data, text.len, x->add_bos, x->special, &toks, why);
    ur_buf_free(&text);
    if (nt < 0) return NULL;
    if (nt >= ur_engine_n_ctx(x->e)) {
        t->too_long = 1;
        ur_errf(why, "%s: the prompt has %d tokens but the context holds %d", x->m->gguf->path, nt,
                ur_engine_n_ctx(x->e));
        free(toks);
        return NULL;
    }
    ur_engine_job *j = ur_engine_job_new();
    j->prompt = toks;
    j->n_prompt = nt;
    j->gp = t->gp;
    ur_chat_decoding(x->fmt, &j->gp.sampler);
    int nfs;
    const char *const *fs = ur_chat_stops(x->fmt, &nfs);
    for (int i = 0; i < nfs && j->n_stops < UR_ENGINE_MAX_STOPS; i++) j->stops[j->n_stops++] = ur_xstrdup(fs[i]);
    for (int i = 0; i < t->gp.n_stop && j->n_stops < UR_ENGINE_MAX_STOPS; i++)
        j->stops[j->n_stops++] = ur_xstrdup(t->gp.stop[i]);
    j->gp.stop = (const char *const *)j->stops;
    j->gp.n_stop = j->n_stops;
    return j;
}

/* A finished job's result into its task; the why of a failure. */
static const char *take_result(engine_exec *x, out_job *o, ur_err *why) {
    ur_gen_task *t = o->t;
    ur_engine_job *j = o->j;
    if (j->failed) return ur_errf(why, "%s", j->err), why->msg;
    t->text.len = 0;
    ur_chat_clean(x->fmt, j->text.data ? j->text.data : "", j->text.len, &t->text);
    ur_buf_put(&t->text, "", 0);
    t->n_prompt = j->n_prompt;
    t->n_cached = j->n_cached;
    t->n_gen = j->n_gen;
    t->stop_reason = j->stop_reason;
    t->t_prompt = j->t_prompt;
    t->t_gen = j->t_done - j->t_start - j->t_prompt;
    return NULL;
}

static int engine_run(ur_exec *xb, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    engine_exec *x = (engine_exec *)xb;
    const int cap = 2 * xb->slots; /* the slots busy and as many waiting: no slot idles between jobs */
    out_job *out = ur_xcalloc((size_t)cap, sizeof *out);
    int n = 0, rc = 0, more = 1; /* more: next() had work when last asked */
    while (!rc) {
        void *p;
        while (more && n < cap && (more = next(user, &p))) {
            ur_gen_task *t = p;
            ur_err why = {{0}};
            ur_engine_job *j = make_job(x, t, &why);
            if (!j || ur_engine_submit(x->e, j)) {
                if (j) ur_errf(&why, "the engine's queue is full"), ur_engine_job_release(NULL, j);
                if (done(user, t, why.msg, err)) rc = -1;
                continue;
            }
            out[n++] = (out_job){t, j};
        }
        if (!n) break;
        /* wait for any job to finish, then hand every finished one back */
        ur_engine_lock(x->e);
        int k = 0;
        while (k < n && out[k].j->state != UR_ENGINE_DONE) k++;
        if (k == n) ur_engine_job_wait(x->e, out[0].j, 20);
        ur_engine_unlock(x->e);
        for (int i = 0; i < n && !rc;) {
            ur_engine_lock(x->e);
            int fin = out[i].j->state == UR_ENGINE_DONE;
            ur_engine_unlock(x->e);
            if (!fin) {
                i++;
                continue;
            }
            out_job o = out[i];
            out[i] = out[--n];
            ur_err why = {{0}};
            const char *w = take_result(x, &o, &why);
            ur_engine_job_release(x->e, o.j);
            if (w && !o.t->too_long) { /* an engine error is fatal, as it is for a session */
                *err = why;
                rc = -1;
            } else if (done(user, o.t, w, err)) {
                rc = -1;
            }
            more = 1; /* next() may have work again (a unit that waited for this one) */
        }
    }
    for (int i = 0; i < n; i++) { /* a fatal stop: jobs still out are cancelled */
        atomic_store(&out[i].j->cancel, 1);
        ur_engine_job_release(x->e, out[i].j);
    }
    free(out);
    return rc;
}

static int engine_begin(ur_exec *xb, ur_err *err) {
    engine_exec *x = (engine_exec *)xb;
    double t0 = ur_now();
    if (!(x->e = ur_engine_new(x->m, x->fmt, &x->p, err))) return -1;
    if (!x->note) return 0;
    ur_buf line = {0};
    ur_engine_describe(x->e, &line);
    x->note(x->note_user, line.data);
    line.len = 0;
    if (ur_engine_note(x->e)) ur_buf_puts(&line, ur_engine_note(x->e));
    else if (ur_engine_prefix_len(x->e))
        ur_buf_printf(&line, "computed the %d-token prompt prefix in %.2f s", ur_engine_prefix_len(x->e), ur_now() - t0);
    if (line.len) x->note(x->note_user, line.data);
    ur_buf_free(&line);
    return 0;
}

static void engine_free(ur_exec *xb) {
    engine_exec *x = (engine_exec *)xb;
    ur_engine_free(x->e);
    free(x);
}

ur_exec *ur_exec_gen_engine_new(const ur_model *m, const ur_chat *fmt, const ur_engine_params *p,
                                void (*note)(void *, const char *), void *note_user) {
    engine_exec *x = ur_xcalloc(1, sizeof *x);
    x->base = (ur_exec){.slots = p->parallel, .begin = engine_begin, .run = engine_run, .free = engine_free};
    x->p = *p;
    x->note = note;
    x->note_user = note_user;
    x->m = m;
    x->fmt = fmt;
    x->add_bos = ur_chat_add_bos(fmt) && ur_vocab_add_bos(m->vocab);
    x->special = ur_chat_parse_special(fmt);
    return &x->base;
}

/* ---- remote --------------------------------------------------------------------------------- */
char *ur_gen_task_body(const ur_chat *fmt, const char *model, const ur_gen_task *t, ur_err *err) {
    if (!fmt) return ur_remote_chat_body(model, t->msgs, t->n_msgs, &t->gp); /* the server's template */
    ur_buf prompt = {0};
    if (ur_chat_render(fmt, t->msgs, t->n_msgs, 1, &prompt, err)) {
        ur_buf_free(&prompt);
        return NULL;
    }
    ur_gen_params gp = t->gp;
    ur_chat_decoding(fmt, &gp.sampler);
    gp.stop = ur_chat_stops(fmt, &gp.n_stop);
    char *body = ur_remote_completion_body(model, prompt.data ? prompt.data : "", prompt.len, &gp);
    ur_buf_free(&prompt);
    return body;
}

int ur_gen_task_answer(const ur_chat *fmt, ur_gen_task *t, const char *json, size_t len, ur_err *err) {
    ur_remote_answer a;
    if (fmt ? ur_remote_completion_parse(json, len, &a, err) : ur_remote_chat_parse(json, len, &a, err)) return -1;
    t->text.len = 0;
    if (fmt) ur_chat_clean(fmt, a.text.data ? a.text.data : "", a.text.len, &t->text);
    else ur_buf_put(&t->text, a.text.data ? a.text.data : "", a.text.len); /* the server cleaned it */
    ur_buf_put(&t->text, "", 0);
    t->n_prompt = a.n_prompt;
    t->n_cached = a.n_cached;
    t->n_gen = a.n_gen;
    t->stop_reason = a.stop_reason;
    ur_remote_answer_free(&a);
    return 0;
}

typedef struct remote_exec {
    ur_exec_adapter a;
    ur_remote *client;
    const char *model;
    const ur_chat *fmt;
} remote_exec;

static int r_next(void *user, long *tag, const char **path, const char **body) {
    remote_exec *e = user;
    ur_gen_task *t;
    while ((t = ur_exec_adapter_take(&e->a, tag))) {
        ur_err err = {{0}};
        free(t->body);
        if (!(t->body = ur_gen_task_body(e->fmt, e->model, t, &err))) {
            /* a conversation that cannot be rendered fails its task, not the run */
            ur_err derr = {{0}};
            if (ur_exec_adapter_give(&e->a, *tag, err.msg, &derr)) return 0;
            continue;
        }
        t->t_request = ur_now(); /* the start, until the answer comes */
        *path = e->fmt ? "/completions" : "/chat/completions";
        *body = t->body;
        return 1;
    }
    return 0;
}

static int r_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    remote_exec *e = user;
    ur_gen_task *t = ur_exec_adapter_task(tag);
    t->t_request = ur_now() - t->t_request;
    ur_err perr = {{0}};
    if (!json) why = why ? why : "the request failed";
    else why = ur_gen_task_answer(e->fmt, t, json, len, &perr) ? perr.msg : NULL;
    free(t->body);
    t->body = NULL;
    return ur_exec_adapter_give(&e->a, tag, why, err);
}

static int remote_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    remote_exec *e = (remote_exec *)x;
    ur_exec_adapter_begin(&e->a, next, done, user);
    return ur_remote_run(e->client, r_next, r_done, e, err);
}

ur_exec *ur_exec_gen_remote_new(ur_remote *client, const char *model, const ur_chat *fmt) {
    remote_exec *e = ur_xcalloc(1, sizeof *e);
    e->a.base = (ur_exec){.slots = ur_remote_concurrency(client), .run = remote_run, .free = ur_exec_free_block};
    e->client = client;
    e->model = model;
    e->fmt = fmt;
    return &e->a.base;
}
