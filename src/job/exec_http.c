/* The executor that sends each task as one request to an OpenAI-compatible server
 * (include/urial/job.h, ur_http_task), up to the client's concurrency at once. */
#include <stdint.h>
#include <stdlib.h>

#include "urial/job.h"
#include "urial/remote.h"

typedef struct http_exec {
    ur_exec base;
    ur_remote *client;
    ur_exec_next_fn next;
    ur_exec_done_fn done;
    void *user;
} http_exec;

static int h_next(void *user, long *tag, const char **path, const char **body) {
    http_exec *e = user;
    void *t;
    if (!e->next(e->user, &t)) return 0;
    ur_http_task *h = t;
    h->response.len = 0;
    *tag = (long)(intptr_t)t;
    *path = h->path;
    *body = h->body;
    return 1;
}

static int h_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    http_exec *e = user;
    ur_http_task *h = (ur_http_task *)(intptr_t)tag;
    if (json) {
        h->response.len = 0;
        ur_buf_put(&h->response, json, len);
    }
    return e->done(e->user, h, json ? NULL : why ? why : "the request failed", err);
}

static int h_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    http_exec *e = (http_exec *)x;
    e->next = next, e->done = done, e->user = user;
    return ur_remote_run(e->client, h_next, h_done, e, err);
}

static void h_free(ur_exec *x) { free(x); }

ur_exec *ur_exec_http_new(ur_remote *client) {
    http_exec *e = ur_xcalloc(1, sizeof *e);
    e->base = (ur_exec){.slots = ur_remote_concurrency(client), .run = h_run, .free = h_free};
    e->client = client;
    return &e->base;
}
