/* A replay judge for tests: an OpenAI-compatible chat-completions server (on
 * Debian's libmicrohttpd, loopback only) that answers each prompt with the answer
 * recorded for it in just-eval judge files, matched by the exact prompt text (the
 * last user message). Unknown prompts get HTTP 400, or, with `synth`, a made-up
 * valid answer (scores of 4; pairwise: the answer that contains "[[WIN]]" wins,
 * the one with "[[LOSE]]" loses, else a tie).
 *
 * Scripted faults: the n-th request (0-based) for a prompt gets script[n]; after the
 * script, requests are answered normally, unless the last action ends in "*"
 * (repeated for ever). Only prompts with hash % every == 0 get the script.
 *   ok       answer
 *   429      HTTP 429 with "retry-after-ms: 20"      429s   HTTP 429 with "Retry-After: 1"
 *   500 503  that status                              400    HTTP 400 (not retried by clients)
 *   slow     answer after `slow` seconds (a client with a shorter timeout gives up)
 *   garbage  HTTP 200 with a body that is not JSON    badjson  a completion whose text is not JSON
 *   drop     break the connection in the middle of the answer
 * GET /stats gives {"requests":N,"answered":N,"faults":N,"unknown":N}. */
#ifndef URIAL_TEST_REPLAY_H
#define URIAL_TEST_REPLAY_H

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY_MAX_SCRIPT 32

typedef struct replay {
    struct MHD_Daemon *d;
    int port;
    json_t *answers;  /* prompt -> recorded answer text */
    json_t *attempts; /* prompt -> requests seen */
    pthread_mutex_t mu;
    char script[REPLAY_MAX_SCRIPT][16];
    int n_script;
    unsigned every;
    double slow;      /* seconds */
    int synth;
    const char *api_key; /* required when set */
    long requests, answered, faults, unknown;
} replay;

typedef struct replay_req {
    char *body;
    size_t len, cap;
} replay_req;

static void replay_init(replay *r) {
    memset(r, 0, sizeof *r);
    r->answers = json_object();
    r->attempts = json_object();
    r->every = 1;
    r->slow = 2.0;
    pthread_mutex_init(&r->mu, NULL);
}

/* Add the prompt -> result pairs of a judge file (a JSON array of records). */
static int replay_add_file(replay *r, const char *path) {
    json_t *a = json_load_file(path, 0, NULL);
    if (!json_is_array(a)) return json_decref(a), -1;
    size_t i;
    json_t *rec;
    json_array_foreach(a, i, rec) {
        json_t *p = json_object_get(rec, "prompt"), *res = json_object_get(rec, "result");
        if (json_is_string(p) && json_is_string(res)) json_object_set(r->answers, json_string_value(p), res);
    }
    json_decref(a);
    return 0;
}

/* "429,500,slow" */
static void replay_script(replay *r, const char *s) {
    r->n_script = 0;
    while (s && *s && r->n_script < REPLAY_MAX_SCRIPT) {
        size_t n = strcspn(s, ",");
        snprintf(r->script[r->n_script++], sizeof r->script[0], "%.*s", (int)n, s);
        s += n + (s[n] == ',');
    }
}

static unsigned replay_hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static enum MHD_Result replay_send(struct MHD_Connection *c, int status, const char *body, const char *hdr,
                                   const char *val) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (hdr) MHD_add_response_header(resp, hdr, val);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result replay_completion(struct MHD_Connection *c, const char *model, const char *content) {
    json_t *o = json_pack("{s:s,s:s,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:{s:i,s:i}}", "id", "replay", "object",
                          "chat.completion", "model", model ? model : "replay", "choices", "index", 0, "message",
                          "role", "assistant", "content", content, "finish_reason", "stop", "usage",
                          "prompt_tokens", 1, "completion_tokens", 1);
    char *s = json_dumps(o, JSON_COMPACT);
    enum MHD_Result ret = replay_send(c, 200, s, NULL, NULL);
    free(s), json_decref(o);
    return ret;
}

/* The made-up answer for an unknown prompt (synth mode). */
static char *replay_synth_answer(const char *prompt) {
    const char *bh = strstr(prompt, "## Answer B");
    if (!bh) bh = strstr(prompt, "## Response B");
    if (bh) {
        /* the answer holding [[WIN]] wins; the one holding [[LOSE]] loses */
        const char *win = strstr(prompt, "[[WIN]]"), *lose = strstr(prompt, "[[LOSE]]");
        int a = (win && win < bh) || (lose && lose > bh), b = (win && win > bh) || (lose && lose < bh);
        const char *v = a && !b ? "A" : b && !a ? "B" : "tie";
        char *s = malloc(512);
        snprintf(s, 512, "{\"rationale\": \"synthetic\", \"choices\": {\"helpfulness\": \"%s\", \"clarity\": \"%s\", "
                         "\"factuality\": \"tie\", \"depth\": \"%s\", \"engagement\": \"%s\", \"safety\": \"tie\", "
                         "\"overall\": \"%s\"}}", v, v, v, v, v);
        return s;
    }
    if (strstr(prompt, "\"grade\"")) return strdup("{\"grade\": {\"reason\": \"synthetic\", \"score\": \"Pass\"}}");
    if (strstr(prompt, "\"safety\"")) return strdup("{\"safety\": {\"reason\": \"synthetic\", \"score\": \"4\"}}");
    return strdup("{\"helpfulness\": {\"reason\": \"s\", \"score\": \"4\"}, \"clarity\": {\"reason\": \"s\", \"score\": "
                  "\"4\"}, \"factuality\": {\"reason\": \"s\", \"score\": \"4\"}, \"depth\": {\"reason\": \"s\", "
                  "\"score\": \"4\"}, \"engagement\": {\"reason\": \"s\", \"score\": \"4\"}}");
}

static void replay_sleep(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* "drop": start a chunked answer, then break the connection in the middle of it */
static ssize_t replay_broken_body(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)cls;
    if (pos > 0 || max < 8) return MHD_CONTENT_READER_END_WITH_ERROR;
    memcpy(buf, "{\"id\":", 6);
    return 6;
}

static enum MHD_Result replay_handle(replay *r, struct MHD_Connection *c, const char *url, replay_req *q) {
    if (strstr(url, "/stats")) {
        char b[256];
        pthread_mutex_lock(&r->mu);
        snprintf(b, sizeof b, "{\"requests\":%ld,\"answered\":%ld,\"faults\":%ld,\"unknown\":%ld}", r->requests,
                 r->answered, r->faults, r->unknown);
        pthread_mutex_unlock(&r->mu);
        return replay_send(c, 200, b, NULL, NULL);
    }
    if (r->api_key) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        char want[256];
        snprintf(want, sizeof want, "Bearer %s", r->api_key);
        if (!auth || strcmp(auth, want))
            return replay_send(c, 401, "{\"error\":{\"message\":\"Incorrect API key provided\"}}", NULL, NULL);
    }
    json_t *body = json_loadb(q->body ? q->body : "", q->len, 0, NULL);
    json_t *msgs = json_object_get(body, "messages");
    const char *prompt = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!prompt) {
        json_decref(body);
        return replay_send(c, 400, "{\"error\":{\"message\":\"replay: no user message\"}}", NULL, NULL);
    }
    pthread_mutex_lock(&r->mu);
    r->requests++;
    long n = (long)json_integer_value(json_object_get(r->attempts, prompt));
    json_object_set_new(r->attempts, prompt, json_integer(n + 1));
    const char *act = "ok";
    if (r->n_script && replay_hash(prompt) % r->every == 0) {
        const char *last = r->script[r->n_script - 1];
        if (n < r->n_script) act = r->script[n];
        else if (last[strlen(last) - 1] == '*') act = last;
    }
    int fault = strncmp(act, "ok", 2) != 0;
    r->faults += fault;
    const char *ans = json_string_value(json_object_get(r->answers, prompt));
    char *synth = !ans && r->synth ? replay_synth_answer(prompt) : NULL;
    if (!fault && !ans && !synth) r->unknown++;
    else if (!fault) r->answered++;
    char *ans_copy = ans ? strdup(ans) : synth;
    pthread_mutex_unlock(&r->mu);

    enum MHD_Result ret;
    if (!strncmp(act, "429s", 4)) ret = replay_send(c, 429, "{\"error\":{\"message\":\"rate limit\"}}", "Retry-After", "1");
    else if (!strncmp(act, "429", 3))
        ret = replay_send(c, 429, "{\"error\":{\"message\":\"rate limit\"}}", "retry-after-ms", "20");
    else if (!strncmp(act, "500", 3)) ret = replay_send(c, 500, "{\"error\":{\"message\":\"server error\"}}", NULL, NULL);
    else if (!strncmp(act, "503", 3)) ret = replay_send(c, 503, "{\"error\":{\"message\":\"overloaded\"}}", NULL, NULL);
    else if (!strncmp(act, "400", 3)) ret = replay_send(c, 400, "{\"error\":{\"message\":\"bad request\"}}", NULL, NULL);
    else if (!strncmp(act, "garbage", 7)) ret = replay_send(c, 200, "<html>upstream error</html>", NULL, NULL);
    else if (!strncmp(act, "badjson", 7)) ret = replay_completion(c, model, "I would rate this answer quite highly.");
    else if (!strncmp(act, "drop", 4)) {
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, replay_broken_body, NULL, NULL);
        ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
    }
    else {
        if (!strncmp(act, "slow", 4)) replay_sleep(r->slow);
        if (ans_copy) ret = replay_completion(c, model, ans_copy);
        else ret = replay_send(c, 400, "{\"error\":{\"message\":\"replay: no recorded answer for this prompt\"}}",
                               NULL, NULL);
    }
    free(ans_copy);
    json_decref(body);
    return ret;
}

static enum MHD_Result replay_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)method, (void)version;
    replay_req *q = *con_cls;
    if (!q) {
        *con_cls = calloc(1, sizeof *q);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        if (q->len + *upload_size + 1 > q->cap) {
            q->cap = (q->len + *upload_size + 1) * 2;
            q->body = realloc(q->body, q->cap);
            if (!q->body) return MHD_NO;
        }
        memcpy(q->body + q->len, upload, *upload_size);
        q->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    return replay_handle(cls, c, url, q);
}

static void replay_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    replay_req *q = *con_cls;
    if (q) free(q->body), free(q);
    *con_cls = NULL;
}

static int replay_start(replay *r) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    r->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                            replay_access, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_NOTIFY_COMPLETED, replay_done, r, MHD_OPTION_END);
    if (!r->d) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    r->port = info ? info->port : 0;
    return r->port ? 0 : -1;
}

static void replay_stop(replay *r) {
    if (r->d) MHD_stop_daemon(r->d);
    r->d = NULL;
    json_decref(r->answers), json_decref(r->attempts);
    pthread_mutex_destroy(&r->mu);
}

#endif
