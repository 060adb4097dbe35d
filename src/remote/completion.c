/* /v1/completions and /v1/chat/completions requests and responses for the remote
 * backends (include/urial/remote.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/json_util.h"
#include "urial/remote.h"


/* The decoding fields both kinds of request share. */
static void put_decoding(json_t *o, const ur_gen_params *gp) {
    const ur_sampler_params *s = &gp->sampler;
    json_object_set_new(o, "max_tokens", json_integer(gp->max_tokens >= 0 ? gp->max_tokens : 1 << 20));
    json_object_set_new(o, "temperature", ur_json_real6(s->temp));
    json_object_set_new(o, "top_p", ur_json_real6(s->top_p));
    if (s->top_k > 0) json_object_set_new(o, "top_k", json_integer(s->top_k));
    if (s->min_p > 0) json_object_set_new(o, "min_p", ur_json_real6(s->min_p));
    const int pen = s->repeat_penalty > 0 && s->repeat_penalty != 1.0f;
    if (pen) json_object_set_new(o, "repetition_penalty", ur_json_real6(s->repeat_penalty));
    if (pen && s->repeat_last_n >= 0)
        json_object_set_new(o, "repeat_last_n", json_integer(s->repeat_last_n)); /* urial serve only */
    /* JSON integers are signed 64-bit; servers take smaller seeds */
    json_object_set_new(o, "seed", json_integer((json_int_t)(s->seed & 0x3fffffffffffffffull)));
    if (gp->n_stop > 0) {
        json_t *st = json_array();
        for (int i = 0; i < gp->n_stop; i++) json_array_append_new(st, json_string(gp->stop[i]));
        json_object_set_new(o, "stop", st);
    }
}

char *ur_remote_completion_body(const char *model, const char *prompt, size_t len, const ur_gen_params *gp) {
    json_t *o = json_object();
    if (model && *model) json_object_set_new(o, "model", json_string(model));
    json_t *p = json_stringn(prompt, len);
    json_object_set_new(o, "prompt", p ? p : json_string(""));
    put_decoding(o, gp);
    char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    return t;
}

char *ur_remote_chat_body(const char *model, const ur_msg *msgs, int n, const ur_gen_params *gp) {
    json_t *o = json_object(), *ms = json_array();
    if (model && *model) json_object_set_new(o, "model", json_string(model));
    for (int i = 0; i < n; i++) {
        json_t *m = json_object(), *c = json_stringn(msgs[i].content, msgs[i].len);
        json_object_set_new(m, "role", json_string(ur_role_name(msgs[i].role)));
        json_object_set_new(m, "content", c ? c : json_string(""));
        json_array_append_new(ms, m);
    }
    json_object_set_new(o, "messages", ms);
    put_decoding(o, gp);
    char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    return t;
}

/* Both kinds of answer: choices[0].text (completion) or choices[0].message.content (chat). */
static int parse_answer(const char *json, size_t len, int chat, ur_remote_answer *out, ur_err *err) {
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(json, len, 0, NULL);
    json_t *c = json_array_get(json_object_get(o, "choices"), 0);
    json_t *text = chat ? json_object_get(json_object_get(c, "message"), "content") : json_object_get(c, "text");
    if (!json_is_string(text)) {
        json_decref(o);
        if (chat)
            return ur_errf(err, "the server's answer is not a chat completion (no choices[0].message.content): %.80s",
                           json);
        return ur_errf(err, "the server's answer is not a text completion (no choices[0].text): %.80s", json);
    }
    ur_buf_put(&out->text, json_string_value(text), json_string_length(text));
    const char *fin = json_string_value(json_object_get(c, "finish_reason"));
    out->stop_reason = fin && !strcmp(fin, "length") ? UR_STOP_LENGTH : UR_STOP_STRING;
    json_t *u = json_object_get(o, "usage");
    out->n_prompt = (int)json_integer_value(json_object_get(u, "prompt_tokens"));
    out->n_gen = (int)json_integer_value(json_object_get(u, "completion_tokens"));
    out->n_cached = (int)json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
    json_decref(o);
    return 0;
}

int ur_remote_completion_parse(const char *json, size_t len, ur_remote_answer *out, ur_err *err) {
    return parse_answer(json, len, 0, out, err);
}

int ur_remote_chat_parse(const char *json, size_t len, ur_remote_answer *out, ur_err *err) {
    return parse_answer(json, len, 1, out, err);
}

void ur_remote_answer_free(ur_remote_answer *a) { ur_buf_free(&a->text); }

/* ---- one request, waited for ---------------------------------------------------------------- */
typedef struct one {
    const char *path, *body;
    int sent;
    ur_buf *out;
    char why[400];
} one;

static int one_next(void *user, long *tag, const char **path, const char **body) {
    one *o = user;
    if (o->sent) return 0;
    o->sent = 1;
    *tag = 0, *path = o->path, *body = o->body;
    return 1;
}

static int one_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    (void)tag, (void)err;
    one *o = user;
    if (json) ur_buf_put(o->out, json, len);
    else snprintf(o->why, sizeof o->why, "%s", why ? why : "the request failed");
    return 0;
}

int ur_remote_request(ur_remote *r, const char *path, const char *body, ur_buf *out, ur_err *err) {
    one o = {path, body, 0, out, ""};
    if (ur_remote_run(r, one_next, one_done, &o, err)) return -1;
    if (o.why[0]) return ur_errf(err, "%s", o.why);
    return 0;
}
