/* urial serve (include/urial/serve.h) over real HTTP on loopback, with libcurl as
 * the client, on a small random-weight model with the Llama-2 vocabulary (so the
 * URIAL prompt is its real ~1.3k tokens): every endpoint; a chat answer equal to
 * the local session's greedy answer; streaming equal to the whole answer;
 * completions' logprobs and echo; concurrent requests (batched decoding) equal to
 * one at a time; every documented error with its status; the server still serving
 * after them; a client that goes away freeing its slot; the API key; a full queue.
 * Every server listens on port 0 (a free port) and is stopped at the end. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "urial/serve.h"
#include "urial/session.h"
#include "urial/tensor.h"

static ur_model *M;
static ur_chat *F;

/* ---- a client ------------------------------------------------------------------------- */
typedef struct resp {
    long status;
    ur_buf body;
    json_t *json; /* the body parsed, or NULL */
} resp;

static size_t on_body(char *d, size_t s, size_t n, void *u) {
    ur_buf_put(u, d, s * n);
    return s * n;
}

static CURL *easy(int port, const char *path, const char *body, const char *key, ur_buf *out, struct curl_slist **h) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    *h = curl_slist_append(NULL, "Content-Type: application/json");
    *h = curl_slist_append(*h, "Expect:");
    if (key) {
        char a[128];
        snprintf(a, sizeof a, "Authorization: Bearer %s", key);
        *h = curl_slist_append(*h, a);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    return c;
}

static void finish(CURL *c, resp *r) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    r->json = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
}

static resp req(int port, const char *path, const char *body, const char *key) {
    resp r = {0};
    struct curl_slist *h;
    CURL *c = easy(port, path, body, key, &r.body, &h);
    curl_easy_perform(c);
    finish(c, &r);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return r;
}

static void resp_free(resp *r) {
    ur_buf_free(&r->body);
    json_decref(r->json);
}

/* json["a"]["b"]...: a path of keys (or "[i]" indices) */
static json_t *at(json_t *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, "."))
        o = k[0] == '[' ? json_array_get(o, (size_t)atoi(k + 1)) : json_object_get(o, k);
    return o;
}
static const char *str_at(json_t *o, const char *path) { return json_string_value(at(o, path)); }

static ur_server *start(ur_server_params *p, ur_err *err) {
    p->port = 0;
    p->n_threads = 1;
    p->n_ctx = 2048;
    return ur_server_start(M, F, p, err);
}

static ur_server *S; /* the default server: 2 slots */
static int PORT;

/* ---- endpoints ----------------------------------------------------------------------------- */
static void test_health_models_page(void) {
    resp r = req(PORT, "/health", NULL, NULL);
    CHECKF(r.status == 200 && !strcmp(str_at(r.json, "status") ?: "", "ok"), "health %ld %s", r.status, r.body.data);
    resp_free(&r);
    r = req(PORT, "/v1/models", NULL, NULL);
    CHECKF(r.status == 200 && !strcmp(str_at(r.json, "data.[0].id") ?: "", "serve") &&
               !strcmp(str_at(r.json, "data.[0].meta.mode") ?: "", "urial"),
           "models %ld %s", r.status, r.body.data);
    resp_free(&r);
    r = req(PORT, "/", NULL, NULL);
    CHECKF(r.status == 200 && r.body.data && strstr(r.body.data, "chat.js"), "page %ld", r.status);
    resp_free(&r);
    r = req(PORT, "/chat.js", NULL, NULL);
    CHECKF(r.status == 200 && r.body.len > 100, "chat.js %ld", r.status);
    resp_free(&r);
}

/* The local session's greedy answer (as `urial chat` gives it) for one user message. */
static int local_answer(const char *q, int max_tokens, ur_buf *out) {
    ur_err err = {{0}};
    ur_ctx *c = ur_ctx_new(M, (ur_ctx_params){.n_ctx = 2048, .n_threads = 1}, &err);
    ur_session_params sp = {UR_REUSE_PREFIX, NULL};
    ur_session *s = c ? ur_session_new(c, F, &sp, &err) : NULL;
    ur_msg msg = {UR_ROLE_USER, (char *)q, strlen(q)};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = max_tokens;
    gp.sampler.repeat_penalty = 1.1f;
    ur_answer a;
    int rc = s && !ur_session_answer(s, &msg, 1, &gp, NULL, NULL, &a, &err) ? 0 : -1;
    if (!rc) ur_buf_put(out, a.text.data ? a.text.data : "", a.text.len), ur_answer_free(&a);
    else fprintf(stderr, "local: %s\n", err.msg);
    ur_session_free(s);
    ur_ctx_free(c);
    return rc;
}

static const char *QS[4] = {"What is 2+2?", "Write a haiku about the sea.", "Hello there", "Name three colours."};

static void chat_body(char *b, size_t n, const char *q, int max_tokens, int stream) {
    json_t *o = json_pack("{s:[{s:s,s:s},{s:s,s:s}],s:i,s:b}", "messages", "role", "system", "content", "ignored",
                          "role", "user", "content", q, "max_tokens", max_tokens, "stream", stream);
    char *t = json_dumps(o, JSON_COMPACT);
    snprintf(b, n, "%s", t);
    free(t);
    json_decref(o);
}

static void test_chat_equals_local(void) {
    for (int i = 0; i < 2; i++) {
        ur_buf want = {0};
        REQUIRE(!local_answer(QS[i], 24, &want));
        CHECKF(want.len > 0, "the local answer to '%s' is empty: the comparison would prove little", QS[i]);
        char b[1024];
        chat_body(b, sizeof b, QS[i], 24, 0);
        resp r = req(PORT, "/v1/chat/completions", b, NULL);
        const char *got = str_at(r.json, "choices.[0].message.content");
        CHECKF(r.status == 200 && got && !strcmp(got, want.data ? want.data : ""), "%ld: '%s' vs local '%s'", r.status,
               got ? got : r.body.data, want.data);
        CHECK(!strcmp(str_at(r.json, "object") ?: "", "chat.completion"));
        CHECK(json_integer_value(at(r.json, "usage.prompt_tokens")) > 1300);
        CHECK(json_integer_value(at(r.json, "usage.prompt_tokens_details.cached_tokens")) > 1300); /* the prefix */
        resp_free(&r);
        ur_buf_free(&want);
    }
}

/* "data: {...}\n\n" events: the deltas joined, the finish reason, [DONE] last */
static int parse_sse(const ur_buf *b, int chat, ur_buf *text, char *finish, int *n_events) {
    *n_events = 0;
    const char *p = b->data ? b->data : "";
    int done = 0;
    while ((p = strstr(p, "data: "))) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        if (!e) return -1;
        if (!strncmp(p, "[DONE]", 6)) done = 1;
        else {
            json_t *o = json_loadb(p, (size_t)(e - p), 0, NULL);
            if (!o) return -1;
            const char *d = str_at(o, chat ? "choices.[0].delta.content" : "choices.[0].text");
            if (d) ur_buf_puts(text, d);
            const char *f = str_at(o, "choices.[0].finish_reason");
            if (f) snprintf(finish, 32, "%s", f);
            json_decref(o);
            ++*n_events;
        }
        p = e;
    }
    return done ? 0 : -1;
}

static void test_stream_equals_whole(void) {
    char b[1024];
    chat_body(b, sizeof b, QS[1], 24, 0);
    resp whole = req(PORT, "/v1/chat/completions", b, NULL);
    chat_body(b, sizeof b, QS[1], 24, 1);
    resp st = req(PORT, "/v1/chat/completions", b, NULL);
    ur_buf text = {0};
    char fin[32] = "";
    int n_ev;
    CHECKF(st.status == 200 && !parse_sse(&st.body, 1, &text, fin, &n_ev), "stream %ld %.300s", st.status, st.body.data);
    const char *w = str_at(whole.json, "choices.[0].message.content");
    CHECKF(w && !strcmp(w, text.data ? text.data : ""), "stream '%s' vs whole '%s'", text.data, w);
    CHECKF(n_ev > 2 && !strcmp(fin, str_at(whole.json, "choices.[0].finish_reason") ?: "?"), "%d events, finish %s",
           n_ev, fin);
    ur_buf_free(&text);
    resp_free(&whole), resp_free(&st);
    /* completions stream, with stop and usage */
    resp c = req(PORT, "/v1/completions",
                 "{\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0,\"stream\":true,"
                 "\"stream_options\":{\"include_usage\":true}}", NULL);
    resp cw = req(PORT, "/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0}", NULL);
    ur_buf t2 = {0};
    CHECKF(c.status == 200 && !parse_sse(&c.body, 0, &t2, fin, &n_ev), "%ld %.200s", c.status, c.body.data);
    CHECKF(!strcmp(t2.data ? t2.data : "", str_at(cw.json, "choices.[0].text") ?: "?"), "'%s' vs '%s'", t2.data,
           str_at(cw.json, "choices.[0].text"));
    CHECK(strstr(c.body.data, "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":12"));
    ur_buf_free(&t2);
    resp_free(&c), resp_free(&cw);
}

static void test_completion_logprobs(void) {
    resp r = req(PORT, "/v1/completions",
                 "{\"prompt\":\"The capital of France is\",\"max_tokens\":4,\"temperature\":0,\"logprobs\":3,\"echo\":true}",
                 NULL);
    REQUIRE(r.status == 200);
    json_t *lp = at(r.json, "choices.[0].logprobs");
    size_t n = json_array_size(json_object_get(lp, "tokens"));
    int np = (int)json_integer_value(at(r.json, "usage.prompt_tokens"));
    CHECKF(n == (size_t)np + 4 && json_array_size(json_object_get(lp, "token_logprobs")) == n &&
               json_array_size(json_object_get(lp, "text_offset")) == n, "%zu tokens, prompt %d", n, np);
    CHECK(json_is_null(at(lp, "token_logprobs.[0]")) && json_is_null(at(lp, "top_logprobs.[0]")));
    const char *text = str_at(r.json, "choices.[0].text");
    CHECK(text && !strncmp(text, "The capital of France is", 24));
    /* offsets into the echoed text: BOS and "The" at 0, " capital" at 3, the answer at 24 */
    json_t *off = json_object_get(lp, "text_offset");
    CHECKF(json_integer_value(json_array_get(off, 1)) == 0 && json_integer_value(json_array_get(off, 2)) == 3 &&
               json_integer_value(json_array_get(off, (size_t)np)) == 24,
           "text_offset %lld %lld ... %lld", (long long)json_integer_value(json_array_get(off, 1)),
           (long long)json_integer_value(json_array_get(off, 2)), (long long)json_integer_value(json_array_get(off, (size_t)np)));
    /* greedy: each generated token is its position's most likely one; logprobs <= 0 */
    for (size_t i = (size_t)np; i < n; i++) {
        double l = json_number_value(json_array_get(json_object_get(lp, "token_logprobs"), i));
        json_t *top = json_array_get(json_object_get(lp, "top_logprobs"), i);
        double best = -1e9;
        const char *k;
        json_t *v;
        json_object_foreach(top, k, v) if (json_number_value(v) > best) best = json_number_value(v);
        CHECKF(l <= 0 && fabs(l - best) < 1e-5, "token %zu: %g, best of top %g", i, l, best);
    }
    /* the prompt's logprobs equal the model's (local decode + log-softmax) */
    ur_err err = {{0}};
    ur_ctx *c = ur_ctx_new(M, (ur_ctx_params){.n_ctx = 64, .n_threads = 1}, &err);
    int32_t toks[64];
    int nt = ur_tokenize(M->vocab, "The capital of France is", 24, 1, 1, toks, 64, &err);
    float *lg = malloc(sizeof(float) * (size_t)nt * (size_t)M->hp.n_vocab);
    REQUIRE(c && nt == np && !ur_decode(c, toks, nt, lg, 1, &err));
    for (int i = 1; i < nt; i++) {
        double want = ur_logprobs_row(lg + (size_t)(i - 1) * M->hp.n_vocab, M->hp.n_vocab, toks[i], 0, NULL, NULL);
        double got = json_number_value(json_array_get(json_object_get(lp, "token_logprobs"), (size_t)i));
        CHECKF(fabs(want - got) < 1e-4, "prompt token %d: %g vs local %g", i, got, want);
    }
    free(lg);
    ur_ctx_free(c);
    resp_free(&r);
    /* chat logprobs */
    r = req(PORT, "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":3,\"logprobs\":true,\"top_logprobs\":2}",
            NULL);
    CHECKF(r.status == 200 && json_array_size(at(r.json, "choices.[0].logprobs.content")) >= 1 &&
               json_array_size(at(r.json, "choices.[0].logprobs.content.[0].top_logprobs")) == 2,
           "%ld %.300s", r.status, r.body.data);
    resp_free(&r);
}

/* n requests at once (curl multi): each answer equal to the same request alone */
static void test_concurrent_equal(void) {
    enum { N = 6 };
    char bodies[N][1024];
    resp alone[N], together[N];
    memset(together, 0, sizeof together);
    for (int i = 0; i < N; i++) {
        chat_body(bodies[i], sizeof bodies[i], QS[i % 4], 16 + i, i % 2);
        if (i % 2) snprintf(bodies[i], sizeof bodies[i], "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}", QS[i % 4], 10 + i);
        alone[i] = req(PORT, i % 2 ? "/v1/completions" : "/v1/chat/completions", bodies[i], NULL);
    }
    CURLM *mm = curl_multi_init();
    CURL *cs[N];
    struct curl_slist *hs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = easy(PORT, i % 2 ? "/v1/completions" : "/v1/chat/completions", bodies[i], NULL, &together[i].body, &hs[i]);
        curl_multi_add_handle(mm, cs[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(mm, &running);
        if (running) curl_multi_poll(mm, NULL, 0, 200, NULL);
    }
    for (int i = 0; i < N; i++) {
        finish(cs[i], &together[i]);
        const char *path = i % 2 ? "choices.[0].text" : "choices.[0].message.content";
        const char *a = str_at(alone[i].json, path), *b = str_at(together[i].json, path);
        CHECKF(a && b && !strcmp(a, b), "request %d: alone '%s', together '%s'", i, a ? a : alone[i].body.data,
               b ? b : together[i].body.data);
        curl_multi_remove_handle(mm, cs[i]);
        curl_easy_cleanup(cs[i]);
        curl_slist_free_all(hs[i]);
        resp_free(&alone[i]), resp_free(&together[i]);
    }
    curl_multi_cleanup(mm);
}

/* ---- errors -------------------------------------------------------------------------------- */
static void expect_error(int port, const char *path, const char *body, const char *key, long status, const char *code,
                         const char *param) {
    resp r = req(port, path, body, key);
    json_t *e = json_object_get(r.json, "error");
    CHECKF(r.status == status && json_is_string(json_object_get(e, "message")) && json_is_string(json_object_get(e, "type")),
           "%s %.60s: status %ld (want %ld): %.200s", path, body ? body : "", r.status, status, r.body.data);
    if (code) CHECKF(!strcmp(str_at(e, "code") ?: "", code), "%.60s: code %s, want %s", body, str_at(e, "code"), code);
    if (param) CHECKF(!strcmp(str_at(e, "param") ?: "", param), "%.60s: param %s, want %s", body, str_at(e, "param"), param);
    resp_free(&r);
}

static void test_bad_requests(void) {
    const char *C = "/v1/chat/completions", *P = "/v1/completions";
    expect_error(PORT, C, "{\"messages\": [", NULL, 400, NULL, NULL);
    expect_error(PORT, C, "[1,2]", NULL, 400, NULL, NULL);
    expect_error(PORT, C, "{}", NULL, 400, NULL, "messages");
    expect_error(PORT, C, "{\"messages\":\"hi\"}", NULL, 400, NULL, "messages");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", NULL, 400, NULL, "messages[0].role");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"5\"}", NULL, 400, NULL,
                 "max_tokens");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":7}", NULL, 400, NULL,
                 "temperature");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":1}", NULL, 400, NULL, "stream");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", NULL, 400, NULL, "n");
    expect_error(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", NULL, 400, NULL, "stop");
    expect_error(PORT, P, "{\"prompt\":[1,2,99999999]}", NULL, 400, NULL, "prompt");
    expect_error(PORT, P, "{\"prompt\":\"x\",\"logprobs\":50}", NULL, 400, NULL, "logprobs");
    expect_error(PORT, P, "{\"max_tokens\":3}", NULL, 400, NULL, "prompt");
    /* a prompt over the context (2048 tokens): 3000 words */
    ur_buf big = {0};
    ur_buf_puts(&big, "{\"prompt\":\"");
    for (int i = 0; i < 3000; i++) ur_buf_puts(&big, " cat");
    ur_buf_puts(&big, "\"}");
    expect_error(PORT, P, big.data, NULL, 400, "context_length_exceeded", "prompt");
    /* a body over --max-body (1 MiB): 413 */
    big.len = 0;
    ur_buf_puts(&big, "{\"prompt\":\"");
    for (int i = 0; i < (1 << 20) / 8 + 10; i++) ur_buf_puts(&big, "xxxxxxxx");
    ur_buf_puts(&big, "\"}");
    expect_error(PORT, P, big.data, NULL, 413, "request_too_large", NULL);
    ur_buf_free(&big);
    expect_error(PORT, "/v1/nothing", "{}", NULL, 404, NULL, NULL);
    expect_error(PORT, "/v1/models", "{}", NULL, 405, NULL, NULL);
    /* and it still serves */
    resp r = req(PORT, C, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4}", NULL);
    CHECKF(r.status == 200 && str_at(r.json, "choices.[0].message.content"), "after errors: %ld %s", r.status, r.body.data);
    resp_free(&r);
}

/* a client that reads the first event of a long stream and hangs up: its slot is freed */
static size_t hang_up(char *d, size_t s, size_t n, void *u) {
    (void)d;
    *(int *)u += 1;
    return *(int *)u > 1 ? 0 : s * n; /* returning less aborts the transfer */
}

static void test_disconnect_cancels(void) {
    resp h0 = req(PORT, "/health", NULL, NULL);
    long cancelled0 = (long)json_integer_value(at(h0.json, "cancelled"));
    resp_free(&h0);
    char b[1024];
    chat_body(b, sizeof b, QS[2], 100000, 1);
    struct curl_slist *h;
    ur_buf sink = {0};
    CURL *c = easy(PORT, "/v1/chat/completions", b, NULL, &sink, &h);
    int calls = 0;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hang_up);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &calls);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        resp r = req(PORT, "/health", NULL, NULL);
        ok = json_integer_value(at(r.json, "slots_busy")) == 0 && json_integer_value(at(r.json, "cancelled")) > cancelled0;
        resp_free(&r);
        if (!ok) usleep(50000);
    }
    CHECKF(ok, "the slot was not freed after the client went away");
}

static void test_api_key(void) {
    ur_server_params p;
    ur_server_defaults(&p);
    p.api_key = "sekret";
    ur_err err = {{0}};
    ur_server *s = start(&p, &err);
    REQUIRE(s);
    int port = ur_server_port(s);
    expect_error(port, "/v1/models", NULL, NULL, 401, "invalid_api_key", NULL);
    expect_error(port, "/v1/models", NULL, "wrong", 401, "invalid_api_key", NULL);
    resp r = req(port, "/v1/models", NULL, "sekret");
    CHECK(r.status == 200);
    resp_free(&r);
    r = req(port, "/health", NULL, NULL); /* no key needed */
    CHECK(r.status == 200);
    resp_free(&r);
    ur_server_stop(s);
}

/* one slot, one queue place: of several long requests at once, some get 503 */
static void test_queue_full(void) {
    ur_server_params p;
    ur_server_defaults(&p);
    p.parallel = 1, p.queue = 1, p.max_tokens = 400;
    ur_err err = {{0}};
    ur_server *s = start(&p, &err);
    REQUIRE(s);
    enum { N = 5 };
    CURLM *mm = curl_multi_init();
    CURL *cs[N];
    struct curl_slist *hs[N];
    resp rs[N];
    memset(rs, 0, sizeof rs);
    const char *body = "{\"prompt\":\"Hello\",\"max_tokens\":400,\"temperature\":1,\"seed\":1}";
    for (int i = 0; i < N; i++) {
        cs[i] = easy(ur_server_port(s), "/v1/completions", body, NULL, &rs[i].body, &hs[i]);
        curl_multi_add_handle(mm, cs[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(mm, &running);
        if (running) curl_multi_poll(mm, NULL, 0, 200, NULL);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        finish(cs[i], &rs[i]);
        ok += rs[i].status == 200;
        busy += rs[i].status == 503 && !strcmp(str_at(rs[i].json, "error.code") ?: "", "server_busy");
        curl_multi_remove_handle(mm, cs[i]);
        curl_easy_cleanup(cs[i]);
        curl_slist_free_all(hs[i]);
        resp_free(&rs[i]);
    }
    curl_multi_cleanup(mm);
    CHECKF(ok >= 1 && busy >= 1 && ok + busy == N, "%d answered, %d busy of %d", ok, busy, N);
    ur_server_stop(s);
}

/* ---- issue 21: raw HTTP, to control every byte and its timing ------------------------------ */
static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) close(fd), fd = -1;
    return fd;
}

/* Read what the server sends until it closes or `secs` pass; returns -1 on a timeout. */
static int raw_read(int fd, ur_buf *out, double secs) {
    const double end = ur_now() + secs;
    for (;;) {
        const double left = end - ur_now();
        if (left <= 0) return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        char b[4096];
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0) return 0;
        ur_buf_put(out, b, (size_t)n);
        if (strstr(out->data ? out->data : "", "\r\n\r\n") && memchr(out->data, '}', out->len)) return 0;
    }
}

/* Send `text`, return the status of the answer (0: none within secs); body in *out. */
static int raw_req(int port, const char *text, double secs, ur_buf *out) {
    int fd = raw_connect(port);
    if (fd < 0) return -1;
    send(fd, text, strlen(text), MSG_NOSIGNAL);
    out->len = 0;
    int rc = raw_read(fd, out, secs);
    close(fd);
    ur_buf_put(out, "", 0);
    int status = 0;
    if (!rc && out->len > 12) sscanf(out->data, "HTTP/1.%*d %d", &status);
    return status;
}

static void test_host_allow_list(void) {
    ur_buf b = {0};
    CHECKF(raw_req(PORT, "GET /health HTTP/1.1\r\nHost: evil.example\r\n\r\n", 5, &b) == 403, "%s", b.data);
    CHECKF(strstr(b.data, "host_not_allowed") != NULL, "%s", b.data);
    CHECKF(raw_req(PORT, "GET /v1/models HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n", 5, &b) == 403, "%s", b.data);
    CHECKF(raw_req(PORT, "GET /health HTTP/1.1\r\nHost: localhost.evil.example\r\n\r\n", 5, &b) == 403, "%s", b.data);
    CHECKF(raw_req(PORT, "GET /health HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n", 5, &b) == 200,
           "%s", b.data);
    CHECKF(raw_req(PORT, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 5, &b) == 200,
           "%s", b.data);
    CHECKF(raw_req(PORT, "GET /health HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n", 5, &b) == 200,
           "%s", b.data);
    ur_buf_free(&b);
}

static void test_strict_type_and_405(void) {
    ur_buf b = {0};
    const char *body = "{\"prompt\":\"Hi\",\"max_tokens\":1}";
    char rq[512];
    snprintf(rq, sizeof rq, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/jsonfoo\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
    CHECKF(raw_req(PORT, rq, 10, &b) == 415, "%s", b.data);
    snprintf(rq, sizeof rq, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; "
             "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
    CHECKF(raw_req(PORT, rq, 30, &b) == 200, "%s", b.data);
    CHECKF(raw_req(PORT, "POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 5, &b) == 405, "%s",
           b.data);
    CHECKF(strstr(b.data, "this URL only answers GET") && strstr(b.data, "Allow: GET"), "%s", b.data);
    CHECKF(raw_req(PORT, "GET /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5, &b) == 405, "%s", b.data);
    CHECKF(strstr(b.data, "this URL only answers POST") != NULL, "%s", b.data);
    ur_buf_free(&b);
}

/* a parser message quoting a raw newline of the body stays one line (found by fuzz-api) */
static void test_error_one_line(void) {
    resp r = req(PORT, "/v1/chat/completions", "{\"stop\":[\"\\\n\"],\"messages\":[]}", NULL);
    const char *m = str_at(r.json, "error.message");
    CHECKF(r.status == 400 && m && !strchr(m, '\n'), "%ld %s", r.status, r.body.data);
    resp_free(&r);
}

static void test_unknown_model_404(void) {
    resp r = req(PORT, "/v1/chat/completions", "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
                 NULL);
    CHECKF(r.status == 404 && str_at(r.json, "error.code") && !strcmp(str_at(r.json, "error.code"), "model_not_found"),
           "%ld %s", r.status, r.body.data);
    resp_free(&r);
    r = req(PORT, "/v1/completions", "{\"model\":\"serve\",\"prompt\":\"Hi\",\"max_tokens\":1}", NULL);
    CHECKF(r.status == 200, "the served name: %ld %s", r.status, r.body.data);
    resp_free(&r);
}

/* a wrong key is answered at once, before the (announced, never sent) body */
static void test_auth_before_body(void) {
    ur_server_params p;
    ur_server_defaults(&p);
    p.api_key = "sekret";
    ur_err err = {{0}};
    ur_server *s = start(&p, &err);
    REQUIRE(s);
    ur_buf b = {0};
    int st = raw_req(ur_server_port(s), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer no\r\n"
                     "Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n", 3, &b);
    CHECKF(st == 401, "status %d: %s", st, b.data ? b.data : "");
    ur_buf_free(&b);
    ur_server_stop(s);
}

/* headers and bodies that trickle in are cut at their deadline, not kept alive by each byte */
static void test_deadlines(void) {
    ur_server_params p;
    ur_server_defaults(&p);
    p.header_timeout = 0.5, p.body_timeout = 0.5;
    ur_err err = {{0}};
    ur_server *s = start(&p, &err);
    REQUIRE(s);
    const int port = ur_server_port(s);
    const char *parts[2] = {"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                            "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: 1000\r\n\r\n{\"prompt\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (int k = 0; k < 2; k++) {
        int fd = raw_connect(port);
        REQUIRE(fd >= 0);
        const char *t = parts[k];
        size_t head = k ? strstr(t, "\r\n\r\n") - t + 4 : 20;
        send(fd, t, head, MSG_NOSIGNAL);
        const double t0 = ur_now();
        int closed = 0;
        for (size_t i = head; t[i] && !closed; i++) { /* one byte every 50 ms: never idle for long */
            closed = send(fd, t + i, 1, MSG_NOSIGNAL) < 0;
            struct pollfd q = {fd, POLLIN, 0};
            if (!closed && poll(&q, 1, 50) > 0) {
                char c;
                closed = recv(fd, &c, 1, MSG_DONTWAIT) == 0;
            }
        }
        const double took = ur_now() - t0;
        CHECKF(closed && took < 2.0, "%s: closed %d after %.2f s", k ? "body" : "headers", closed, took);
        close(fd);
    }
    resp r = req(port, "/health", NULL, NULL); /* and it serves */
    CHECK(r.status == 200);
    resp_free(&r);
    ur_server_stop(s);
}

int main(void) {
    th_suite = "serve";
    const char *fx = th_fixtures();
    if (!fx) {
        printf("SKIP serve/all: no fixtures\n");
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char vocab[4300], path[512];
    snprintf(vocab, sizeof vocab, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    snprintf(path, sizeof path, "%s/serve.gguf", th_tmpdir());
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.dim = 64, sp.n_layers = 2, sp.n_heads = 4, sp.n_kv_heads = 2, sp.ff = 128, sp.n_ctx = 4096;
    sp.type = UR_TYPE_Q8_0, sp.scale = 0.3f, sp.seed = 5, sp.vocab_path = vocab;
    ur_err err = {{0}};
    if (ur_synth_write(&sp, path, &err) || !(M = ur_model_load(path, &err)) || !(F = ur_chat_urial("urial-k3", &err))) {
        printf("FAIL serve/setup: %s\n", err.msg);
        return 1;
    }
    ur_server_params p;
    ur_server_defaults(&p);
    p.max_tokens = 200;
    if (!(S = start(&p, &err))) {
        printf("FAIL serve/start: %s\n", err.msg);
        return 1;
    }
    PORT = ur_server_port(S);
    RUN(test_health_models_page);
    RUN(test_chat_equals_local);
    RUN(test_stream_equals_whole);
    RUN(test_completion_logprobs);
    RUN(test_concurrent_equal);
    RUN(test_bad_requests);
    RUN(test_disconnect_cancels);
    RUN(test_api_key);
    RUN(test_queue_full);
    RUN(test_host_allow_list);
    RUN(test_strict_type_and_405);
    RUN(test_unknown_model_404);
    RUN(test_error_one_line);
    RUN(test_auth_before_body);
    RUN(test_deadlines);
    ur_server_stop(S);
    ur_chat_free(F);
    ur_model_free(M);
    unlink(path);
    rmdir(th_tmpdir());
    curl_global_cleanup();
    TEST_MAIN_END();
}
