/* The HTTP side of urial serve, on libmicrohttpd with one thread per connection:
 * bodies read up to the limit, the API key checked, requests routed, jobs handed
 * to the engine, and answers sent back whole or as server-sent events. A
 * connection's thread waits for its job; while it waits it looks at the socket,
 * and a client that has gone away (closed its end) gets its job cancelled, so the
 * slot is freed at the engine's next step. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "serve/serve_int.h"

#define EMBED(n) extern const unsigned char ur_embed_##n[]; extern const size_t ur_embed_##n##_len;
EMBED(index_html)
EMBED(chat_js)
EMBED(chat_css)

/* A connection as the watchdog sees it: where its current request is, since when. */
enum { W_HEADERS = 0, W_BODY = 1, W_BUSY = 2, W_CUT = 3 };
typedef struct watch {
    int fd, phase;
    double since;
    struct watch *prev, *next;
} watch;

struct ur_server {
    struct MHD_Daemon *d;
    ur_engine *e;
    srv_api api;
    size_t max_body;
    char *model_name, *api_key;
    int port, loopback;
    double header_timeout, body_timeout;
    pthread_mutex_t mu; /* the watch list */
    watch *watched;
    pthread_t watchdog;
    int dog_running, dog_stop;
};

void ur_server_defaults(ur_server_params *p) {
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->port = 8080;
    p->parallel = 2;
    p->queue = 64;
    p->max_body = 1 << 20;
    p->max_tokens = 2048;
    p->max_connections = 256;
    p->max_client_connections = 64;
    p->header_timeout = 15;
    p->body_timeout = 60;
}

int ur_server_host_is_loopback(const char *host) {
    return !host || !*host || !strcmp(host, "localhost") || !strcmp(host, "::1") || !strcmp(host, "[::1]") ||
           !strncmp(host, "127.", 4);
}

/* ---- small helpers -------------------------------------------------------------------- */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, const void *body,
                                 size_t len, const char *hdr, const char *val) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (hdr) MHD_add_response_header(r, hdr, val);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const ur_buf *b) {
    return send_body(c, status, "application/json", b->data ? b->data : "", b->len, NULL, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, const srv_error *e, const char *hdr, const char *val) {
    ur_buf b = {0};
    srv_error_json(e, &b);
    enum MHD_Result r = send_body(c, (unsigned)e->status, "application/json", b.data, b.len, hdr, val);
    ur_buf_free(&b);
    return r;
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *type, const char *code, const char *fmt,
                            const char *arg) {
    srv_error e;
    srv_fail(&e, status, type, code, NULL, fmt, arg);
    return send_error(c, &e, status == 405 ? "Allow" : NULL, arg);
}

/* The client closed its end of the connection (it went away or gave up). */
static int client_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    char b;
    return (p.revents & POLLIN) && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int conn_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* ---- streaming ------------------------------------------------------------------------ */
typedef struct stream {
    ur_server *s;
    srv_req r;
    ur_engine_job *j;
    int fd;
    size_t raw_done;   /* bytes of the job's raw text already turned into events */
    ur_chat_stream cs; /* chat: the answer cleaned as it streams */
    ur_buf out;        /* events not yet handed to libmicrohttpd */
    size_t out_off;
    int first, finished;
} stream;

/* Wait for more text (or the end), then turn it into events in st->out. Returns
 * -1 when the client has gone away. */
static int stream_fill(stream *st) {
    ur_engine *e = st->s->e;
    ur_engine_job *j = st->j;
    ur_buf raw = {0};
    ur_engine_lock(e);
    while (j->text.len == st->raw_done && j->state != UR_ENGINE_DONE) {
        ur_engine_job_wait(e, j, 100);
        if (j->text.len == st->raw_done && j->state != UR_ENGINE_DONE && client_gone(st->fd)) {
            atomic_store(&j->cancel, 1);
            ur_engine_unlock(e);
            return -1;
        }
    }
    ur_buf_put(&raw, j->text.data ? j->text.data + st->raw_done : "", j->text.len - st->raw_done);
    st->raw_done = j->text.len;
    int done = j->state == UR_ENGINE_DONE;
    ur_engine_unlock(e);

    const srv_api *a = &st->s->api;
    ur_buf delta = {0};
    if (st->r.chat) {
        if (raw.len) ur_chat_stream_push(&st->cs, raw.data, raw.len, &delta);
        if (done) ur_chat_stream_end(&st->cs, &delta);
    } else {
        if (st->first && st->r.echo && st->r.echo_text) ur_buf_puts(&delta, st->r.echo_text);
        ur_buf_put(&delta, raw.data ? raw.data : "", raw.len);
    }
    if (delta.len || st->first) srv_chunk_json(a, &st->r, delta.data ? delta.data : "", delta.len, st->first, &st->out);
    st->first = 0;
    if (done) {
        if (j->failed) {
            srv_error err;
            srv_fail(&err, 500, "server_error", NULL, NULL, "%s", j->err);
            ur_buf_puts(&st->out, "data: ");
            srv_error_json(&err, &st->out);
            ur_buf_puts(&st->out, "\n\ndata: [DONE]\n\n");
        } else {
            srv_chunk_final(a, &st->r, j, &st->out);
        }
        st->finished = 1;
    }
    ur_buf_free(&raw), ur_buf_free(&delta);
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    while (st->out_off >= st->out.len) {
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        st->out.len = st->out_off = 0;
        if (stream_fill(st)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->out.len - st->out_off < max ? st->out.len - st->out_off : max;
    memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    return (ssize_t)n;
}

/* libmicrohttpd is done with the response: sent, or the connection broke. */
static void stream_free(void *cls) {
    stream *st = cls;
    atomic_store(&st->j->cancel, 1); /* no effect once the job is done */
    ur_engine_job_release(st->s->e, st->j);
    ur_chat_stream_free(&st->cs);
    ur_buf_free(&st->out);
    srv_req_free(&st->r);
    free(st);
}

/* ---- the API ------------------------------------------------------------------------------- */
static enum MHD_Result api_generate(ur_server *s, struct MHD_Connection *c, int chat, const ur_buf *body) {
    srv_req r;
    ur_engine_job *j;
    srv_error err;
    if (srv_parse_request(&s->api, chat, body->data ? body->data : "", body->len, &r, &j, &err))
        return send_error(c, &err, NULL, NULL);
    if (ur_engine_submit(s->e, j)) {
        ur_engine_job_release(NULL, j);
        srv_req_free(&r);
        ur_engine_counts st;
        ur_engine_counts_get(s->e, &st);
        srv_fail(&err, 503, "server_error", "server_busy", NULL,
                 "the server is busy: %d requests are waiting for %d slots (--queue); retry later", st.queued, st.slots);
        return send_error(c, &err, "Retry-After", "1");
    }
    if (r.stream) {
        stream *st = ur_xcalloc(1, sizeof *st);
        st->s = s, st->r = r, st->j = j, st->fd = conn_fd(c), st->first = 1;
        ur_chat_stream_init(&st->cs, s->api.fmt);
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        if (!resp) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    /* the whole answer: wait, watching the socket */
    int fd = conn_fd(c), gone = 0;
    ur_engine_lock(s->e);
    while (j->state != UR_ENGINE_DONE) {
        ur_engine_job_wait(s->e, j, 100);
        if (j->state != UR_ENGINE_DONE && client_gone(fd)) {
            atomic_store(&j->cancel, 1);
            gone = 1;
            break;
        }
    }
    ur_engine_unlock(s->e);
    enum MHD_Result ret = MHD_NO;
    if (!gone) {
        ur_buf b = {0};
        if (j->failed) {
            srv_fail(&err, 500, "server_error", NULL, NULL, "%s", j->err);
            ret = send_error(c, &err, NULL, NULL);
        } else {
            srv_response_json(&s->api, &r, j, &b);
            ret = send_json(c, 200, &b);
        }
        ur_buf_free(&b);
    }
    ur_engine_job_release(s->e, j);
    srv_req_free(&r);
    return ret;
}

/* ---- deadlines: headers and bodies must arrive in time, not only keep trickling ----------- */
static void on_connection(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_ConnectionNotificationCode code) {
    ur_server *s = cls;
    watch *w = *ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        w = ur_xcalloc(1, sizeof *w);
        w->fd = conn_fd(c), w->since = ur_now();
        pthread_mutex_lock(&s->mu);
        w->next = s->watched;
        if (s->watched) s->watched->prev = w;
        s->watched = w;
        pthread_mutex_unlock(&s->mu);
        *ctx = w;
        return;
    }
    if (!w) return; /* closed: libmicrohttpd closes the socket after this */
    pthread_mutex_lock(&s->mu);
    if (w->prev) w->prev->next = w->next;
    else s->watched = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&s->mu);
    free(w);
    *ctx = NULL;
}

static void watch_set(ur_server *s, struct MHD_Connection *c, int phase) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    watch *w = ci ? ci->socket_context : NULL;
    if (!w) return;
    pthread_mutex_lock(&s->mu);
    if (w->phase != W_CUT) w->phase = phase, w->since = ur_now();
    pthread_mutex_unlock(&s->mu);
}

/* Every 100 ms: shut down the sockets whose headers or body are late; their
 * connection threads then see the end of the stream and close them. */
static void *watchdog_main(void *arg) {
    ur_server *s = arg;
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->mu);
        if (s->dog_stop) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        const double now = ur_now();
        for (watch *w = s->watched; w; w = w->next) {
            const double limit = w->phase == W_HEADERS ? s->header_timeout : w->phase == W_BODY ? s->body_timeout : 0;
            if (limit > 0 && now - w->since > limit && w->fd >= 0) {
                shutdown(w->fd, SHUT_RDWR);
                w->phase = W_CUT;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- routing ------------------------------------------------------------------------------- */
typedef struct conn {
    ur_buf body;
    int too_large;
} conn;

static int authorized(ur_server *s, struct MHD_Connection *c) {
    if (!s->api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t n = strlen(h), m = strlen(s->api_key);
    unsigned diff = (unsigned)(n ^ m); /* compare in constant time */
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)s->api_key[i] ^ (unsigned char)(i < n ? h[i] : 0);
    return diff == 0;
}

/* Bound to loopback: the Host header must name the loopback too, so that a web page
 * whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is not answered. */
static int host_allowed(const ur_server *s, struct MHD_Connection *c) {
    if (!s->loopback) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h) return 1; /* HTTP/1.0 without Host: not a browser */
    char name[256];
    size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
    if (n >= sizeof name || (h[0] == '[' && !strchr(h, ']'))) return 0;
    memcpy(name, h, n), name[n] = 0;
    if (h[n] && (h[n] != ':' || !h[n + 1] || strspn(h + n + 1, "0123456789") != strlen(h + n + 1))) return 0;
    return !strcasecmp(name, "localhost") || !strcmp(name, "[::1]") || !strncmp(name, "127.", 4);
}

/* "application/json", optionally followed by parameters ("; charset=utf-8"); not "application/jsonfoo". */
static int is_json_type(const char *ct) {
    if (!ct || strncasecmp(ct, "application/json", 16)) return 0;
    ct += 16;
    while (*ct == ' ' || *ct == '\t') ct++;
    return !*ct || *ct == ';';
}

/* What can be refused from the request line and the headers, before any body is read:
 * Host, URL, method, API key, size, type. MHD_YES (or NO) when answered here; -1 otherwise. */
static int refuse_early(ur_server *s, struct MHD_Connection *c, const char *url, const char *method, conn *k) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!host_allowed(s, c))
        return fail(c, 403, "invalid_request_error", "host_not_allowed",
                    "the server listens on loopback and answers only Host: localhost or 127.0.0.1%s", "");
    if (!strcmp(url, "/") || !strcmp(url, "/index.html") || !strcmp(url, "/chat.js") || !strcmp(url, "/chat.css") ||
        !strcmp(url, "/health"))
        return get ? -1 : (int)fail(c, 405, "invalid_request_error", NULL, "this URL only answers %s", "GET");
    int models = !strcmp(url, "/v1/models"), gen = !strcmp(url, "/v1/chat/completions") || !strcmp(url, "/v1/completions");
    if (!models && !gen) return fail(c, 404, "invalid_request_error", "not_found", "Unknown request URL: %.200s", url);
    if (!authorized(s, c))
        return fail(c, 401, "invalid_request_error", "invalid_api_key",
                    "Incorrect or missing API key: send \"Authorization: Bearer KEY\"%s", "");
    if (models) return get ? -1 : (int)fail(c, 405, "invalid_request_error", NULL, "this URL only answers %s", "GET");
    if (!post) return fail(c, 405, "invalid_request_error", NULL, "this URL only answers %s", "POST");
    if (k->too_large) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", s->max_body);
        return fail(c, 413, "invalid_request_error", "request_too_large",
                    "the request body is larger than %s bytes (the server's --max-body)", lim);
    }
    /* JSON only: a browser must then ask first (CORS preflight), which this server
     * does not allow, so other web pages cannot make a browser send it requests */
    if (!is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
        return fail(c, 415, "invalid_request_error", NULL, "the body must be JSON (Content-Type: application/json)%s", "");
    return -1;
}

/* A request that passed refuse_early, its body read: answer it. */
static enum MHD_Result route(ur_server *s, struct MHD_Connection *c, const char *url, conn *k) {
    static const struct { const char *path, *type; const unsigned char *data; const size_t *len; } pages[] = {
        {"/", "text/html; charset=utf-8", ur_embed_index_html, &ur_embed_index_html_len},
        {"/index.html", "text/html; charset=utf-8", ur_embed_index_html, &ur_embed_index_html_len},
        {"/chat.js", "text/javascript; charset=utf-8", ur_embed_chat_js, &ur_embed_chat_js_len},
        {"/chat.css", "text/css; charset=utf-8", ur_embed_chat_css, &ur_embed_chat_css_len},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (!strcmp(url, pages[i].path)) return send_body(c, 200, pages[i].type, pages[i].data, *pages[i].len, NULL, NULL);
    ur_buf b = {0};
    enum MHD_Result r;
    if (!strcmp(url, "/health")) {
        ur_engine_counts st;
        ur_engine_counts_get(s->e, &st);
        ur_buf_printf(&b, "{\"status\":\"ok\",\"slots\":%d,\"slots_busy\":%d,\"queued\":%d,\"served\":%ld,\"cancelled\":%ld}",
                      st.slots, st.busy, st.queued, st.served, st.cancelled);
        r = send_json(c, 200, &b);
    } else if (!strcmp(url, "/v1/models")) {
        srv_models_json(&s->api, &b);
        r = send_json(c, 200, &b);
    } else if (k->too_large) { /* the body grew past --max-body without a Content-Length saying so */
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", s->max_body);
        r = fail(c, 413, "invalid_request_error", "request_too_large",
                 "the request body is larger than %s bytes (the server's --max-body)", lim);
    } else {
        r = api_generate(s, c, !strcmp(url, "/v1/chat/completions"), &k->body);
    }
    ur_buf_free(&b);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    ur_server *s = cls;
    conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return MHD_NO;
        *con_cls = k;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->max_body) k->too_large = 1;
        int early = refuse_early(s, c, url, method, k); /* before a byte of the body is read */
        if (early >= 0) return (enum MHD_Result)early;
        watch_set(s, c, W_BODY);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!k->too_large && k->body.len + *upload_size > s->max_body) {
            k->too_large = 1;
            ur_buf_free(&k->body);
        }
        if (!k->too_large) ur_buf_put(&k->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    watch_set(s, c, W_BUSY); /* an answer may take long: no deadline while it is made */
    return route(s, c, url, k);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)toe;
    watch_set(cls, c, W_HEADERS); /* the next request on this connection has header_timeout */
    conn *k = *con_cls;
    if (!k) return;
    ur_buf_free(&k->body);
    free(k);
    *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------------------------ */
ur_server *ur_server_start(const ur_model *m, const ur_chat *fmt, const ur_server_params *p, ur_err *err) {
    ur_server *s = ur_xcalloc(1, sizeof *s);
    s->max_body = p->max_body ? p->max_body : 1 << 20;
    pthread_mutex_init(&s->mu, NULL);
    s->header_timeout = p->header_timeout > 0 ? p->header_timeout : 15;
    s->body_timeout = p->body_timeout > 0 ? p->body_timeout : 60;
    s->loopback = ur_server_host_is_loopback(p->host);
    if (p->api_key && *p->api_key) s->api_key = ur_xstrdup(p->api_key);
    if (p->model_name) {
        s->model_name = ur_xstrdup(p->model_name);
    } else {
        const char *b = strrchr(m->gguf->path, '/');
        b = b ? b + 1 : m->gguf->path;
        size_t n = strlen(b);
        s->model_name = ur_xstrndup(b, n > 5 && !strcmp(b + n - 5, ".gguf") ? n - 5 : n);
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    const char *host = p->host && *p->host ? p->host : "127.0.0.1";
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        ur_errf(err, "%s: cannot listen there: %s", host, gai_strerror(gai));
        goto fail;
    }
    ur_engine_params ep;
    ur_engine_defaults(&ep);
    ep.parallel = p->parallel;
    ep.queue = p->queue;
    ep.n_ctx = p->n_ctx;
    ep.n_threads = p->n_threads;
    ep.cache_dir = p->cache_dir;
    ep.reuse = UR_REUSE_ALL; /* a chat's earlier turns stay in the slot's cache */
    if (!(s->e = ur_engine_new(m, fmt, &ep, err))) goto fail;
    s->api = (srv_api){m, fmt, s->model_name, ur_engine_n_ctx(s->e), p->max_tokens > 0 ? p->max_tokens : 2048,
                       (long)time(NULL)};
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    errno = 0;
    s->d = MHD_start_daemon(flags, (uint16_t)p->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
                            s, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)(p->max_client_connections > 0 ? p->max_client_connections : 64),
                            MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)(p->max_connections > 0 ? p->max_connections : 256), MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)300, MHD_OPTION_END);
    if (!s->d) {
        ur_errf(err, "%s:%d: cannot listen there%s%s", host, p->port, errno ? ": " : "", errno ? strerror(errno) : "");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : p->port;
    freeaddrinfo(ai);
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s)) {
        ur_errf(err, "cannot start the server's watchdog thread");
        ur_server_stop(s);
        return NULL;
    }
    s->dog_running = 1;
    return s;
fail:
    if (ai) freeaddrinfo(ai);
    ur_server_stop(s);
    return NULL;
}

int ur_server_port(const ur_server *s) { return s->port; }
const char *ur_server_note(const ur_server *s) { return ur_engine_note(s->e); }

void ur_server_stop(ur_server *s) {
    if (!s) return;
    if (s->dog_running) {
        pthread_mutex_lock(&s->mu);
        s->dog_stop = 1;
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->watchdog, NULL);
    }
    if (s->e) ur_engine_stop(s->e); /* every job ends: the connections' threads stop waiting */
    if (s->d) MHD_stop_daemon(s->d);
    ur_engine_free(s->e);
    free(s->model_name), free(s->api_key);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
