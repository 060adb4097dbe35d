/* urial serve internals: the OpenAI request/response JSON (api.c) that server.c
 * (HTTP) glues to the engine (include/urial/engine.h). See include/urial/serve.h. */
#ifndef URIAL_SERVE_INT_H
#define URIAL_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "urial/engine.h"
#include "urial/generate.h"
#include "urial/serve.h"

/* ---- requests and responses (api.c) ---- */
typedef struct srv_api {
    const ur_model *m;
    const ur_chat *fmt;
    const char *model_name;
    int n_ctx, max_tokens;
    long created; /* the server's start (the model's "created") */
} srv_api;

/* An error for the client: HTTP status and OpenAI's error JSON fields. */
typedef struct srv_error {
    int status;
    const char *type;  /* "invalid_request_error", "server_error", ... */
    const char *code;  /* NULL or e.g. "context_length_exceeded" */
    char param[64];    /* the offending field, or "" */
    char msg[512];
} srv_error;
int srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* {"error": {...}} */
void srv_error_json(const srv_error *e, ur_buf *out);

/* What a request asks for besides the job. */
typedef struct srv_req {
    int chat, stream, include_usage, echo, token_ids;
    int top_logprobs;   /* chat: top_logprobs; completions: logprobs */
    char *echo_text;    /* completions with echo: the prompt text */
    char id[48];
    long created;
} srv_req;
void srv_req_free(srv_req *r);

/* Parse and check a body; on success *job is a new job ready to submit. */
int srv_parse_request(const srv_api *a, int chat, const char *body, size_t len, srv_req *r, ur_engine_job **job, srv_error *e);

/* Responses from a finished job (read under the engine lock or after UR_ENGINE_DONE). */
void srv_response_json(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out);
/* Streaming: one "data: {...}\n\n" event with a text delta (chat: the cleaned
 * answer's new bytes; completions: raw text), or the final event(s) and [DONE]. */
void srv_chunk_json(const srv_api *a, const srv_req *r, const char *delta, size_t len, int first, ur_buf *out);
void srv_chunk_final(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out);
void srv_models_json(const srv_api *a, ur_buf *out);
const char *srv_finish_reason(const ur_engine_job *j);

#endif
