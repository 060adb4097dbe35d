/* The judge as an OpenAI-compatible chat-completions server: just-eval's request
 * (a system message, the prompt as the user message, temperature 0, top_p 1,
 * max_tokens 1024) sent through the remote client (include/urial/remote.h: many
 * in flight, retries with backoff), the answer's message content handed on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"
#include "urial/remote.h"

const char UR_JUDGE_SYSTEM[] = "You are an AI assistant that helps people find information.";

void ur_judge_http_defaults(ur_judge_http_params *p) {
    memset(p, 0, sizeof *p);
    ur_remote_params rp;
    ur_remote_defaults(&rp);
    p->url = "https://api.openai.com/v1";
    p->model = "gpt-4o";
    p->concurrency = rp.concurrency;
    p->timeout = rp.timeout;
    p->max_retries = rp.max_retries;
    p->backoff = rp.backoff;
    p->backoff_max = rp.backoff_max;
    p->retry_after_max = rp.retry_after_max;
    p->max_tokens = 1024;
    p->temperature = 0;
}

typedef struct http_judge {
    ur_judge base;
    ur_judge_http_params p;
    ur_remote *r;
} http_judge;

/* ur_judge_run's callbacks, seen through the remote client's: each request's body
 * is built when it is handed out and kept until it is done */
typedef struct run_ctx {
    http_judge *j;
    ur_judge_next_fn next;
    ur_judge_done_fn done;
    void *user;
    char **bodies; /* by tag, while in flight */
    long *tags;
    int n;
} run_ctx;

static void copy_stats(http_judge *j) {
    const ur_remote_stats *r = ur_remote_get_stats(j->r);
    ur_judge_stats *s = &j->base.stats;
    s->requests = r->requests, s->retries = r->retries, s->http_429 = r->http_429, s->http_5xx = r->http_5xx;
    s->timeouts = r->timeouts, s->conn_errors = r->conn_errors, s->bad_bodies = r->bad_bodies;
}

static char *build_request(const http_judge *j, const char *prompt) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(j->p.model));
    json_t *msgs = json_array();
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", UR_JUDGE_SYSTEM));
    json_t *content = json_string(prompt); /* NULL for invalid UTF-8: our prompts come from JSON, so never */
    json_t *user = json_pack("{s:s,s:o}", "role", "user", "content", content ? content : json_string(""));
    json_array_append_new(msgs, user);
    json_object_set_new(o, "messages", msgs);
    json_object_set_new(o, "temperature", json_real(j->p.temperature));
    json_object_set_new(o, "top_p", json_real(1.0));
    json_object_set_new(o, "n", json_integer(1));
    json_object_set_new(o, "max_tokens", json_integer(j->p.max_tokens));
    json_object_set_new(o, "frequency_penalty", json_real(0));
    json_object_set_new(o, "presence_penalty", json_real(0));
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return t ? t : ur_xstrdup("{}");
}

static int on_next(void *user, long *tag, const char **path, const char **body) {
    run_ctx *c = user;
    const char *prompt;
    const ur_judge_schema *schema;
    if (c->next(c->user, tag, &prompt, &schema) != 1) return 0;
    int i = 0;
    while (i < c->n && c->bodies[i]) i++; /* a free place: there are as many as requests in flight */
    c->bodies[i] = build_request(c->j, prompt);
    c->tags[i] = *tag;
    *path = "/chat/completions";
    *body = c->bodies[i];
    return 1;
}

static int on_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    run_ctx *c = user;
    for (int i = 0; i < c->n; i++)
        if (c->bodies[i] && c->tags[i] == tag) {
            free(c->bodies[i]);
            c->bodies[i] = NULL;
            break;
        }
    copy_stats(c->j);
    if (!json) return c->done(c->user, tag, NULL, 0, why, err);
    json_t *o = json_loadb(json, len, 0, NULL);
    json_t *choice = json_array_get(json_object_get(o, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    int rc;
    if (json_is_string(content)) {
        rc = c->done(c->user, tag, json_string_value(content), json_string_length(content), NULL, err);
    } else {
        const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
        char w[256];
        snprintf(w, sizeof w, "%s: the completion has no text (finish_reason %s)", c->j->p.url, fin ? fin : "?");
        rc = c->done(c->user, tag, NULL, 0, w, err);
    }
    json_decref(o);
    return rc;
}

static int http_run(ur_judge *base, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    http_judge *j = (http_judge *)base;
    int n = j->p.concurrency > 0 ? j->p.concurrency : 1;
    run_ctx c = {j, next, done, user, ur_xcalloc((size_t)n, sizeof(char *)), ur_xcalloc((size_t)n, sizeof(long)), n};
    int rc = ur_remote_run(j->r, on_next, on_done, &c, err);
    copy_stats(j);
    for (int i = 0; i < n; i++) free(c.bodies[i]);
    free(c.bodies), free(c.tags);
    return rc;
}

static void http_destroy(ur_judge *base) { ur_remote_free(((http_judge *)base)->r); }

ur_judge *ur_judge_http_new(const ur_judge_http_params *p, ur_err *err) {
    if (!p->url || !*p->url) return ur_errf(err, "judge: no URL"), NULL;
    if (!p->model || !*p->model) return ur_errf(err, "judge: no model name (--judge-model)"), NULL;
    if (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8))
        return ur_errf(err, "%s: the judge URL must start with http:// or https://", p->url), NULL;
    ur_remote_params rp = {p->url, p->api_key, "check --judge-url and --judge-model", p->concurrency, p->timeout,
                           p->max_retries, p->backoff, p->backoff_max, p->retry_after_max, p->seed, UR_JUDGE_MAX_BODY};
    ur_remote *r = ur_remote_new(&rp, err);
    if (!r) return NULL;
    http_judge *j = ur_xcalloc(1, sizeof *j);
    j->p = *p;
    j->r = r;
    j->base.run = http_run;
    j->base.destroy = http_destroy;
    j->base.model = ur_xstrdup(p->model);
    return &j->base;
}

/* ---- every judge ------------------------------------------------------------------------ */
int ur_judge_run(ur_judge *j, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    return j->run(j, next, done, user, err);
}

void ur_judge_free(ur_judge *j) {
    if (!j) return;
    j->destroy(j);
    free(j->model), free(j->note), free(j);
}

const char *ur_judge_model(const ur_judge *j) { return j->model; }
const char *ur_judge_note(const ur_judge *j) { return j->note; }
const ur_judge_stats *ur_judge_get_stats(const ur_judge *j) { return &j->stats; }
