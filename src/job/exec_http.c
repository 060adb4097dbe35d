/* The executor that sends each task as one request to an OpenAI-compatible server
 * (include/urial/job.h, ur_http_task), up to the client's concurrency at once. */
#include <stdlib.h>

#include "urial/job.h"
#include "urial/remote.h"

typedef struct http_exec {
    ur_exec_adapter a;
    ur_remote *client;
} http_exec;

static int h_next(void *user, long *tag, const char **path, const char **body) {
    ur_http_task *h = ur_exec_adapter_take(user, tag);
    if (!h) return 0;
    h->response.len = 0;
    *path = h->path;
    *body = h->body;
    return 1;
}

static int h_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    ur_http_task *h = ur_exec_adapter_task(tag);
    if (json) {
        h->response.len = 0;
        ur_buf_put(&h->response, json, len);
    }
    return ur_exec_adapter_give(user, tag, json ? NULL : why ? why : "the request failed", err);
}

static int h_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    http_exec *e = (http_exec *)x;
    ur_exec_adapter_begin(&e->a, next, done, user);
    return ur_remote_run(e->client, h_next, h_done, &e->a, err);
}

ur_exec *ur_exec_http_new(ur_remote *client) {
    http_exec *e = ur_xcalloc(1, sizeof *e);
    e->a.base = (ur_exec){.slots = ur_remote_concurrency(client), .run = h_run, .free = ur_exec_free_block};
    e->client = client;
    return &e->a.base;
}
