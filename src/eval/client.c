/* The judge as an OpenAI-compatible chat-completions server, on libcurl's multi
 * interface: up to `concurrency` requests in flight; a request that meets a 429, a
 * 5xx, a timeout, a broken connection or a body that is not a completion is tried
 * again after an exponential backoff with jitter (at least the server's
 * Retry-After / retry-after-ms), up to max_retries times; 401/403/404 stop the run
 * (no retry can fix a bad key, model or URL); other 4xx fail that request. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eval/eval_int.h"

const char UR_JUDGE_SYSTEM[] = "You are an AI assistant that helps people find information.";

void ur_judge_http_defaults(ur_judge_http_params *p) {
    memset(p, 0, sizeof *p);
    p->url = "https://api.openai.com/v1";
    p->model = "gpt-4o";
    p->concurrency = 4;
    p->timeout = 120;
    p->max_retries = 8;
    p->backoff = 1;
    p->backoff_max = 60;
    p->retry_after_max = 600;
    p->max_tokens = 1024;
    p->temperature = 0;
}

enum { S_FREE = 0, S_ACTIVE = 1, S_WAITING = 2 };

typedef struct slot {
    int state;
    CURL *h;
    long tag;
    int attempt;        /* retries so far */
    double not_before;  /* S_WAITING: when to try again */
    ur_buf req, resp;
    double retry_after; /* seconds the server asked for, or -1 */
    char why[256];      /* the last failure, for the record if retries run out */
} slot;

typedef struct http_judge {
    ur_judge base;
    ur_judge_http_params p;
    char *url, *auth;
    CURLM *multi;
    struct curl_slist *hdrs;
    uint64_t rng;
} http_judge;

static double rand01(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

static size_t on_body(char *data, size_t size, size_t n, void *user) {
    ur_buf_put(user, data, size * n);
    return size * n;
}

/* Retry-After: seconds or an HTTP date; retry-after-ms (OpenAI, Azure): milliseconds. */
static size_t on_header(char *data, size_t size, size_t n, void *user) {
    slot *s = user;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof line) return len;
    memcpy(line, data, len);
    line[len] = 0;
    char *colon = strchr(line, ':');
    if (!colon) return len;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    char *end = v + strlen(v);
    while (end > v && isspace((unsigned char)end[-1])) *--end = 0;
    char *e;
    if (!strcasecmp(line, "retry-after-ms")) {
        double ms = strtod(v, &e);
        if (e != v && ms >= 0) s->retry_after = ms / 1000.0;
    } else if (!strcasecmp(line, "retry-after") && s->retry_after < 0) {
        double sec = strtod(v, &e);
        if (e != v && !*e && sec >= 0) s->retry_after = sec;
        else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) s->retry_after = t > time(NULL) ? (double)(t - time(NULL)) : 0;
        }
    }
    return len;
}

static int start(http_judge *j, slot *s) {
    if (!s->h && !(s->h = curl_easy_init())) return -1;
    CURL *h = s->h;
    curl_easy_reset(h);
    s->resp.len = 0;
    s->retry_after = -1;
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->req.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)s->req.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long ms = (long)(j->p.timeout * 1000);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 && ms < 30000 ? ms : 30000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "urial-eval");
    if (curl_multi_add_handle(j->multi, h) != CURLM_OK) return -1;
    s->state = S_ACTIVE;
    j->base.stats.requests++;
    return 0;
}

static void build_request(http_judge *j, slot *s, const char *prompt) {
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
    s->req.len = 0;
    ur_buf_puts(&s->req, t ? t : "{}");
    free(t);
    json_decref(o);
}

/* The server's error message from a JSON error body, else the body's start. */
static void server_message(const ur_buf *b, char *out, size_t n) {
    json_t *o = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    const char *m = json_string_value(json_object_get(json_object_get(o, "error"), "message"));
    if (!m) m = json_string_value(json_object_get(o, "error"));
    if (m) snprintf(out, n, "%.160s", m);
    else snprintf(out, n, "%.80s", b->data ? b->data : "");
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    json_decref(o);
}

enum { C_OK = 0, C_RETRY = 1, C_FAIL = 2, C_FATAL = 3 };

/* Classify a finished transfer; on C_OK *content (malloc'ed) has the answer. */
static int classify(http_judge *j, slot *s, CURLcode cc, char **content, size_t *clen) {
    ur_judge_stats *st = &j->base.stats;
    char msg[200];
    if (cc != CURLE_OK) {
        snprintf(s->why, sizeof s->why, "%s: %s", j->url, curl_easy_strerror(cc));
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(s->why, sizeof s->why, "%s: no answer within %g s (--timeout)", j->url, j->p.timeout);
            st->timeouts++;
            return C_RETRY;
        }
        if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) return C_FATAL;
        st->conn_errors++;
        return C_RETRY;
    }
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        server_message(&s->resp, msg, sizeof msg);
        snprintf(s->why, sizeof s->why, "%s: HTTP %ld: %s", j->url, status, msg);
        if (status == 401 || status == 403 || status == 404) {
            snprintf(s->why, sizeof s->why, "%s: HTTP %ld: %s (%s)", j->url, status, msg,
                     status == 404 ? "check --judge-url and --judge-model" : "check the API key");
            return C_FATAL;
        }
        if (status == 429) st->http_429++;
        if (status >= 500) st->http_5xx++;
        return status == 408 || status == 409 || status == 425 || status == 429 || status >= 500 ? C_RETRY : C_FAIL;
    }
    json_t *o = json_loadb(s->resp.data ? s->resp.data : "", s->resp.len, 0, NULL);
    json_t *choice = json_array_get(json_object_get(o, "choices"), 0);
    json_t *c = json_object_get(json_object_get(choice, "message"), "content");
    const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
    int rc = C_OK;
    if (!o || !json_is_object(choice)) {
        snprintf(s->why, sizeof s->why, "%s: the answer is not a chat completion: %.60s", j->url,
                 s->resp.data ? s->resp.data : "");
        st->bad_bodies++;
        rc = C_RETRY;
    } else if (!json_is_string(c)) {
        snprintf(s->why, sizeof s->why, "%s: the completion has no text (finish_reason %s)", j->url, fin ? fin : "?");
        rc = C_FAIL;
    } else {
        *clen = json_string_length(c);
        *content = malloc(*clen + 1);
        if (!*content) abort();
        memcpy(*content, json_string_value(c), *clen + 1);
    }
    json_decref(o);
    return rc;
}

static double backoff_delay(http_judge *j, slot *s) {
    double d = j->p.backoff;
    for (int i = 1; i < s->attempt && d < j->p.backoff_max; i++) d *= 2;
    if (d > j->p.backoff_max) d = j->p.backoff_max;
    d *= 0.5 + 0.5 * rand01(&j->rng); /* jitter: spread retries of many requests */
    if (s->retry_after >= 0) {
        double ra = s->retry_after < j->p.retry_after_max ? s->retry_after : j->p.retry_after_max;
        if (ra > d) d = ra;
    }
    return d;
}

static int http_run(ur_judge *base, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    http_judge *j = (http_judge *)base;
    int n = j->p.concurrency > 0 ? j->p.concurrency : 1;
    slot *slots = calloc((size_t)n, sizeof *slots);
    if (!slots) abort();
    int rc = 0, more = 1;
    for (;;) {
        double now = ur_now(), wake = now + 1.0;
        int busy = 0;
        for (int i = 0; i < n && !rc; i++) {
            slot *s = &slots[i];
            if (s->state == S_WAITING && now >= s->not_before && start(j, s))
                rc = ur_errf(err, "%s: cannot start a request", j->url);
            if (s->state == S_FREE && more) {
                const char *prompt;
                const ur_judge_schema *schema;
                if (next(user, &s->tag, &prompt, &schema) == 1) {
                    s->attempt = 0;
                    build_request(j, s, prompt);
                    if (start(j, s)) rc = ur_errf(err, "%s: cannot start a request", j->url);
                } else {
                    more = 0;
                }
            }
            if (s->state == S_WAITING && s->not_before < wake) wake = s->not_before;
            busy += s->state != S_FREE;
        }
        if (rc || (!busy && !more)) break;
        int running;
        curl_multi_perform(j->multi, &running);
        CURLMsg *m;
        int left;
        while (!rc && (m = curl_multi_info_read(j->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(j->multi, m->easy_handle);
            char *content = NULL;
            size_t clen = 0;
            int how = classify(j, s, cc, &content, &clen);
            if (how == C_RETRY && s->attempt < j->p.max_retries) {
                s->attempt++;
                j->base.stats.retries++;
                s->state = S_WAITING;
                s->not_before = ur_now() + backoff_delay(j, s);
                continue;
            }
            s->state = S_FREE;
            more = 1;
            if (how == C_FATAL) {
                rc = ur_errf(err, "%s", s->why);
            } else if (how == C_OK) {
                if (done(user, s->tag, content, clen, NULL, err)) rc = -1;
            } else {
                char why[300];
                snprintf(why, sizeof why, "%s%s", s->why, how == C_RETRY ? " (retries exhausted)" : "");
                if (done(user, s->tag, NULL, 0, why, err)) rc = -1;
            }
            free(content);
        }
        if (rc) break;
        /* sleep until a socket is ready, a retry is due, or 1 s passes */
        int idle = 0;
        for (int i = 0; i < n; i++) {
            if (slots[i].state == S_WAITING && slots[i].not_before < wake) wake = slots[i].not_before;
            idle |= slots[i].state == S_FREE;
        }
        if (idle && more) continue; /* a slot is free and there may be work for it: no sleeping */
        long ms = (long)((wake - ur_now()) * 1000) + 1;
        if (ms > 1000) ms = 1000;
        if (ms < 0) ms = 0;
        curl_multi_poll(j->multi, NULL, 0, (int)ms, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (slots[i].state == S_ACTIVE) curl_multi_remove_handle(j->multi, slots[i].h);
        if (slots[i].h) curl_easy_cleanup(slots[i].h);
        ur_buf_free(&slots[i].req), ur_buf_free(&slots[i].resp);
    }
    free(slots);
    return rc;
}

static void http_destroy(ur_judge *base) {
    http_judge *j = (http_judge *)base;
    if (j->multi) curl_multi_cleanup(j->multi);
    curl_slist_free_all(j->hdrs);
    free(j->url), free(j->auth);
    curl_global_cleanup();
}

ur_judge *ur_judge_http_new(const ur_judge_http_params *p, ur_err *err) {
    if (!p->url || !*p->url) return ur_errf(err, "judge: no URL"), NULL;
    if (!p->model || !*p->model) return ur_errf(err, "judge: no model name (--judge-model)"), NULL;
    if (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8))
        return ur_errf(err, "%s: the judge URL must start with http:// or https://", p->url), NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return ur_errf(err, "judge: cannot initialise libcurl"), NULL;
    http_judge *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->p = *p;
    j->base.run = http_run;
    j->base.destroy = http_destroy;
    j->base.model = strdup(p->model);
    ur_buf u = {0};
    ur_buf_puts(&u, p->url);
    size_t sl = strlen("/chat/completions");
    if (u.len < sl || strcmp(u.data + u.len - sl, "/chat/completions")) {
        while (u.len && u.data[u.len - 1] == '/') u.data[--u.len] = 0;
        ur_buf_puts(&u, "/chat/completions");
    }
    j->url = u.data;
    j->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    j->hdrs = curl_slist_append(j->hdrs, "Expect:");
    if (p->api_key && *p->api_key) {
        ur_buf a = {0};
        ur_buf_printf(&a, "Authorization: Bearer %s", p->api_key);
        j->auth = a.data;
        j->hdrs = curl_slist_append(j->hdrs, j->auth);
    }
    j->rng = p->seed ? p->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (!(j->multi = curl_multi_init())) {
        ur_judge_free(&j->base);
        return ur_errf(err, "judge: cannot initialise libcurl"), NULL;
    }
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
