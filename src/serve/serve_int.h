/* urial serve internals: a request as the engine sees it (job), the engine (slots,
 * queue, batched decoding: engine.c), and the OpenAI request/response JSON (api.c)
 * that server.c (HTTP) glues together. See include/urial/serve.h. */
#ifndef URIAL_SERVE_INT_H
#define URIAL_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "urial/generate.h"
#include "urial/serve.h"

#define SRV_MAX_LOGPROBS 20 /* top logprobs per token at most (OpenAI's and vLLM's limit) */
#define SRV_MAX_STOPS 16

/* Log-probabilities of one token: its own and the top k of its position. */
typedef struct srv_lp {
    int32_t token;
    float lp;
    int k;
    int32_t top[SRV_MAX_LOGPROBS];
    float top_lp[SRV_MAX_LOGPROBS];
    size_t offset; /* byte offset of the token's text in the generated text */
} srv_lp;

enum { JOB_QUEUED = 0, JOB_RUNNING = 1, JOB_DONE = 2 };

/* One request. The HTTP thread fills the input, submits, and reads the output
 * under the engine's mutex; the engine writes the output. Freed when both let go. */
typedef struct srv_job {
    /* ---- input (not changed once submitted) ---- */
    int chat;                 /* chat completion (cleaned answer) or raw completion */
    int32_t *prompt;
    int n_prompt;
    ur_gen_params gp;         /* sampler, max_tokens; stop points into stops */
    char *stops[SRV_MAX_STOPS + 4];
    int n_stops;
    float freq_pen, pres_pen; /* OpenAI's frequency / presence penalties (generated tokens) */
    int logprobs;             /* top-k for generated tokens; -1: none */
    int prompt_logprobs;      /* 1: logprobs of every prompt token (echo + logprobs) */
    /* ---- output (under the engine mutex) ---- */
    int state;                /* JOB_* */
    atomic_int cancel;        /* set by the HTTP side: the client went away */
    ur_buf text;              /* raw generated text streamed so far (all of it at JOB_DONE) */
    srv_lp *gen_lp;           /* logprobs of generated tokens (n_gen_lp) */
    int n_gen_lp, cap_gen_lp;
    srv_lp *prompt_lp;        /* [n_prompt] with prompt_logprobs; entry 0 has none */
    int n_gen, n_cached, stop_reason;
    int32_t stop_token;       /* the end-of-generation token that stopped it, or -1 */
    double t_submit, t_start, t_first, t_done;
    int failed;               /* an engine error: message in err */
    char err[256];
    pthread_cond_t cv;        /* signalled when text grows and at JOB_DONE */
    int refs;
} srv_job;

/* ---- the engine (engine.c) ---- */
typedef struct srv_engine srv_engine;
srv_engine *srv_engine_new(const ur_model *m, const ur_chat *fmt, const ur_server_params *p, ur_err *err);
/* Stop the engine thread: running and queued jobs end (failed: "the server is
 * stopping"); later submissions are refused. */
void srv_engine_stop(srv_engine *e);
void srv_engine_free(srv_engine *e);
const char *srv_engine_note(const srv_engine *e);
int srv_engine_n_ctx(const srv_engine *e);
/* A new job with one reference (the caller's). */
srv_job *srv_job_new(void);
/* Queue a job (the engine takes a reference). -1: the queue is full. */
int srv_engine_submit(srv_engine *e, srv_job *j);
/* Drop a reference (under no lock; e = NULL for a job never submitted). */
void srv_job_release(srv_engine *e, srv_job *j);
/* The mutex that guards every job's output, and waiting on a job's condition. */
void srv_engine_lock(srv_engine *e);
void srv_engine_unlock(srv_engine *e);
/* Wait (locked) until signalled or `ms` milliseconds pass. */
void srv_job_wait(srv_engine *e, srv_job *j, int ms);
typedef struct srv_stats {
    int slots, busy, queued, queue_max;
    long served, cancelled;
} srv_stats;
void srv_engine_stats(srv_engine *e, srv_stats *st);

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
int srv_parse_request(const srv_api *a, int chat, const char *body, size_t len, srv_req *r, srv_job **job, srv_error *e);

/* Responses from a finished job (read under the engine lock or after JOB_DONE). */
void srv_response_json(const srv_api *a, const srv_req *r, const srv_job *j, ur_buf *out);
/* Streaming: one "data: {...}\n\n" event with a text delta (chat: the cleaned
 * answer's new bytes; completions: raw text), or the final event(s) and [DONE]. */
void srv_chunk_json(const srv_api *a, const srv_req *r, const char *delta, size_t len, int first, ur_buf *out);
void srv_chunk_final(const srv_api *a, const srv_req *r, const srv_job *j, ur_buf *out);
void srv_models_json(const srv_api *a, ur_buf *out);
const char *srv_finish_reason(const srv_job *j);

#endif
