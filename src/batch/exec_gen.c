/* Generation executors (include/urial/run.h): answers on the local engine through a
 * session, or from an OpenAI-compatible server. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- remote --------------------------------------------------------------------------------- */
char *ur_gen_task_body(const ur_chat *fmt, const char *model, const ur_gen_task *t, ur_err *err) {
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
    if (ur_remote_completion_parse(json, len, &a, err)) return -1;
    t->text.len = 0;
    ur_chat_clean(fmt, a.text.data ? a.text.data : "", a.text.len, &t->text);
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
        *path = "/completions";
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
