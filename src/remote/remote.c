/* The OpenAI-compatible client's transport (include/urial/remote.h): up to
 * `concurrency` requests in flight on one libcurl multi handle; a request whose
 * failure a retry can fix waits in its slot (S_WAITING) until its backoff ends. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "urial/remote.h"

void ur_remote_defaults(ur_remote_params *p) {
    memset(p, 0, sizeof *p);
    p->concurrency = 4;
    p->timeout = 120;
    p->max_retries = 8;
    p->backoff = 1;
    p->backoff_max = 60;
    p->retry_after_max = 600;
}

enum { S_FREE = 0, S_ACTIVE = 1, S_WAITING = 2 };

typedef struct slot {
    int state;
    CURL *h;
    long tag;
    char *url;          /* the request's full URL */
    const char *body;   /* the caller's, valid until done() */
    int attempt;        /* retries so far */
    double not_before;  /* S_WAITING: when to try again */
    ur_buf resp;
    size_t max_body;    /* the body's cap (the params' max_body) */
    int too_big;        /* the body passed it: the transfer was stopped */
    double retry_after; /* seconds the server asked for, or -1 */
    char why[320];      /* the last failure, for done() if retries run out */
} slot;

struct ur_remote {
    ur_remote_params p;
    char *base, *auth, *hint;
    CURLM *multi;
    struct curl_slist *hdrs;
    uint64_t rng;
    ur_remote_stats stats;
};

static double rand01(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

/* The body, up to the cap: past it the transfer stops (a server that never ends its body). */
static size_t on_body(char *data, size_t size, size_t n, void *user) {
    slot *s = user;
    if (s->resp.len + size * n > s->max_body) {
        s->too_big = 1;
        return 0;
    }
    ur_buf_put(&s->resp, data, size * n);
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

static int start(ur_remote *r, slot *s) {
    if (!s->h && !(s->h = curl_easy_init())) return -1;
    CURL *h = s->h;
    curl_easy_reset(h);
    s->resp.len = 0;
    s->max_body = r->p.max_body ? r->p.max_body : UR_REMOTE_MAX_BODY;
    s->too_big = 0;
    s->retry_after = -1;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long ms = (long)(r->p.timeout * 1000);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 && ms < 30000 ? ms : 30000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "urial");
    if (curl_multi_add_handle(r->multi, h) != CURLM_OK) return -1;
    s->state = S_ACTIVE;
    r->stats.requests++;
    return 0;
}

/* base + path, unless base already ends with path */
static char *full_url(const ur_remote *r, const char *path) {
    ur_buf u = {0};
    size_t bl = strlen(r->base), pl = strlen(path);
    if (bl >= pl && !strcmp(r->base + bl - pl, path)) ur_buf_puts(&u, r->base);
    else ur_buf_printf(&u, "%s%s", r->base, path);
    return u.data;
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

/* Classify a finished transfer. */
static int classify(ur_remote *r, slot *s, CURLcode cc) {
    ur_remote_stats *st = &r->stats;
    char msg[200];
    if (cc != CURLE_OK && s->too_big) {
        if (s->max_body >= (1u << 20))
            snprintf(s->why, sizeof s->why, "%s: the answer passed %zu MiB; stopped reading it", s->url, s->max_body >> 20);
        else snprintf(s->why, sizeof s->why, "%s: the answer passed %zu bytes; stopped reading it", s->url, s->max_body);
        st->bad_bodies++;
        return C_FAIL;
    }
    if (cc != CURLE_OK) {
        snprintf(s->why, sizeof s->why, "%s: %s", s->url, curl_easy_strerror(cc));
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(s->why, sizeof s->why, "%s: no answer within %g s (--timeout)", s->url, r->p.timeout);
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
        snprintf(s->why, sizeof s->why, "%s: HTTP %ld: %s", s->url, status, msg);
        if (status == 401 || status == 403 || status == 404) {
            snprintf(s->why, sizeof s->why, "%s: HTTP %ld: %s (%s)", s->url, status, msg,
                     status == 404 ? r->hint : "check the API key");
            return C_FATAL;
        }
        if (status == 429) st->http_429++;
        if (status >= 500) st->http_5xx++;
        return status == 408 || status == 409 || status == 425 || status == 429 || status >= 500 ? C_RETRY : C_FAIL;
    }
    json_t *o = json_loadb(s->resp.data ? s->resp.data : "", s->resp.len, 0, NULL);
    int ok = json_is_array(json_object_get(o, "choices")) && json_array_size(json_object_get(o, "choices")) > 0;
    json_decref(o);
    if (ok) return C_OK;
    snprintf(s->why, sizeof s->why, "%s: the answer is not a completion: %.60s", s->url, s->resp.data ? s->resp.data : "");
    st->bad_bodies++;
    return C_RETRY;
}

static double backoff_delay(ur_remote *r, slot *s) {
    double d = r->p.backoff;
    for (int i = 1; i < s->attempt && d < r->p.backoff_max; i++) d *= 2;
    if (d > r->p.backoff_max) d = r->p.backoff_max;
    d *= 0.5 + 0.5 * rand01(&r->rng); /* jitter: spread retries of many requests */
    if (s->retry_after >= 0) {
        double ra = s->retry_after < r->p.retry_after_max ? s->retry_after : r->p.retry_after_max;
        if (ra > d) d = ra;
    }
    return d;
}

int ur_remote_run(ur_remote *r, ur_remote_next_fn next, ur_remote_done_fn done, void *user, ur_err *err) {
    int n = r->p.concurrency > 0 ? r->p.concurrency : 1;
    slot *slots = ur_xcalloc((size_t)n, sizeof *slots);
    int rc = 0, more = 1;
    for (;;) {
        double now = ur_now(), wake = now + 1.0;
        int busy = 0;
        for (int i = 0; i < n && !rc; i++) {
            slot *s = &slots[i];
            if (s->state == S_WAITING && now >= s->not_before && start(r, s))
                rc = ur_errf(err, "%s: cannot start a request", s->url);
            if (s->state == S_FREE && more) {
                const char *path, *body;
                if (next(user, &s->tag, &path, &body) == 1) {
                    s->attempt = 0;
                    free(s->url);
                    s->url = full_url(r, path);
                    s->body = body;
                    if (start(r, s)) rc = ur_errf(err, "%s: cannot start a request", s->url);
                } else {
                    more = 0;
                }
            }
            if (s->state == S_WAITING && s->not_before < wake) wake = s->not_before;
            busy += s->state != S_FREE;
        }
        if (rc || (!busy && !more)) break;
        int running;
        curl_multi_perform(r->multi, &running);
        CURLMsg *m;
        int left;
        while (!rc && (m = curl_multi_info_read(r->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(r->multi, m->easy_handle);
            int how = classify(r, s, cc);
            if (how == C_RETRY && s->attempt < r->p.max_retries) {
                s->attempt++;
                r->stats.retries++;
                s->state = S_WAITING;
                s->not_before = ur_now() + backoff_delay(r, s);
                continue;
            }
            s->state = S_FREE;
            more = 1;
            if (how == C_FATAL) {
                rc = ur_errf(err, "%s", s->why);
            } else if (how == C_OK) {
                if (done(user, s->tag, s->resp.data, s->resp.len, NULL, err)) rc = -1;
            } else {
                char why[360];
                snprintf(why, sizeof why, "%s%s", s->why, how == C_RETRY ? " (retries exhausted)" : "");
                if (done(user, s->tag, NULL, 0, why, err)) rc = -1;
            }
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
        curl_multi_poll(r->multi, NULL, 0, (int)ms, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (slots[i].state == S_ACTIVE) curl_multi_remove_handle(r->multi, slots[i].h);
        if (slots[i].h) curl_easy_cleanup(slots[i].h);
        ur_buf_free(&slots[i].resp);
        free(slots[i].url);
    }
    free(slots);
    return rc;
}

ur_remote *ur_remote_new(const ur_remote_params *p, ur_err *err) {
    if (!p->url || !*p->url) return ur_errf(err, "remote: no URL"), NULL;
    if (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8))
        return ur_errf(err, "%s: the URL must start with http:// or https://", p->url), NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return ur_errf(err, "remote: cannot initialise libcurl"), NULL;
    ur_remote *r = ur_xcalloc(1, sizeof *r);
    r->p = *p;
    r->base = ur_xstrdup(p->url);
    size_t bl = strlen(r->base);
    while (bl > 8 && r->base[bl - 1] == '/') r->base[--bl] = 0;
    r->hint = ur_xstrdup(p->hint_404 ? p->hint_404 : "check the URL and the model name");
    r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    if (p->api_key && *p->api_key) {
        ur_buf a = {0};
        ur_buf_printf(&a, "Authorization: Bearer %s", p->api_key);
        r->auth = a.data;
        r->hdrs = curl_slist_append(r->hdrs, r->auth);
    }
    r->rng = p->seed ? p->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (!(r->multi = curl_multi_init())) {
        ur_remote_free(r);
        return ur_errf(err, "remote: cannot initialise libcurl"), NULL;
    }
    return r;
}

void ur_remote_free(ur_remote *r) {
    if (!r) return;
    if (r->multi) curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->hdrs);
    free(r->base), free(r->auth), free(r->hint);
    free(r);
    curl_global_cleanup();
}

int ur_remote_concurrency(const ur_remote *r) { return r->p.concurrency > 0 ? r->p.concurrency : 1; }

const ur_remote_stats *ur_remote_get_stats(const ur_remote *r) { return &r->stats; }
