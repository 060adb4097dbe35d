/* urial — a client for OpenAI-compatible servers (OpenAI, vLLM, urial serve, ...),
 * on libcurl's multi interface: many requests in flight, each retried on the
 * failures a retry can fix. The LLM judge (urial eval) and the remote backends of
 * urial run and chat (src/remote/completion.c) send their requests through it.
 *
 * Retries: a 408/409/425/429, a 5xx, a timeout, a broken connection, or a 2xx body
 * that is not a completion (no "choices") is tried again after an exponential
 * backoff with jitter (at least the server's Retry-After / retry-after-ms), up to
 * max_retries times; 401/403/404 stop the run (no retry fixes a bad key, model or
 * URL); other 4xx fail that one request. */
#ifndef URIAL_REMOTE_H
#define URIAL_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"

typedef struct ur_remote_params {
    const char *url;        /* base URL, e.g. "http://127.0.0.1:8080/v1"; a request's path is appended
                               unless the URL already ends with it */
    const char *api_key;    /* sent as "Authorization: Bearer KEY"; NULL: none (local servers) */
    const char *hint_404;   /* added to a 404's message, e.g. "check --judge-url and --judge-model" */
    int concurrency;        /* requests in flight (default 4) */
    double timeout;         /* seconds for one request, connecting included (default 120) */
    int max_retries;        /* default 8 */
    double backoff;         /* first retry delay in seconds; doubled each retry, with jitter (default 1) */
    double backoff_max;     /* longest delay between two tries (default 60) */
    double retry_after_max; /* a server's Retry-After is honoured up to this many seconds (default 600) */
    uint64_t seed;          /* for the jitter */
    size_t max_body;        /* the longest answer body read; a longer one fails its request (0: the default,
                               UR_REMOTE_MAX_BODY) */
} ur_remote_params;
#define UR_REMOTE_MAX_BODY (64u << 20) /* 64 MiB: a completion with logprobs of a long answer fits */
#define UR_JUDGE_MAX_BODY (4u << 20)   /* a judge's answer is at most a few thousand tokens */
void ur_remote_defaults(ur_remote_params *p);

typedef struct ur_remote_stats {
    long requests; /* sent, retries included */
    long retries;
    long http_429, http_5xx, timeouts, conn_errors, bad_bodies; /* causes of retries */
} ur_remote_stats;

typedef struct ur_remote ur_remote;
ur_remote *ur_remote_new(const ur_remote_params *p, ur_err *err);
void ur_remote_free(ur_remote *r);
const ur_remote_stats *ur_remote_get_stats(const ur_remote *r);
int ur_remote_concurrency(const ur_remote *r); /* requests in flight at most */

/* The work loop. next() hands out the next request: returns 1 and sets *tag, *path
 * (e.g. "/completions") and *body (JSON text; both valid until done() for that tag),
 * or 0 when it has none now (it is asked again after each done()). done() gets
 * the response body (a JSON object with "choices"), or json NULL and `why` (a
 * request that failed for good: retries exhausted, HTTP 400, ...); returning
 * non-zero (after filling err) stops the loop. Returns 0 when next() has nothing
 * and nothing is in flight, or -1: a callback stopped it, or a fatal error (HTTP
 * 401/403/404) in err. */
typedef int (*ur_remote_next_fn)(void *user, long *tag, const char **path, const char **body);
typedef int (*ur_remote_done_fn)(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err);
int ur_remote_run(ur_remote *r, ur_remote_next_fn next, ur_remote_done_fn done, void *user, ur_err *err);

/* ---- generation on a server (src/remote/completion.c) --------------------------------
 * urial run / chat with --backend openai: the prompt is rendered here (URIAL or a
 * template) and sent to /v1/completions as text, with the format's stop strings and
 * gp's decoding: temperature, top_p, top_k, min_p, max_tokens, seed, and the
 * repetition penalty as vLLM's `repetition_penalty` extension (urial serve takes it
 * too; OpenAI's own API does not). The answer is cleaned here (ur_chat_clean), so a
 * greedy answer is the local one whenever the server's logits are. */
#include "urial/generate.h"

/* The request's JSON body (malloc'ed). gp->stop[0..n_stop) are sent as "stop". */
char *ur_remote_completion_body(const char *model, const char *prompt, size_t len, const ur_gen_params *gp);
/* --backend openai-chat: the conversation itself as "messages" for /v1/chat/completions
 * (the server applies the model's chat template), with the same decoding fields. */
#include "urial/chat.h"
char *ur_remote_chat_body(const char *model, const ur_msg *msgs, int n, const ur_gen_params *gp);

typedef struct ur_remote_answer {
    ur_buf text;            /* the generated text (the stop string excluded) */
    int stop_reason;        /* UR_STOP_STRING for "stop" (a stop string or the end of text), UR_STOP_LENGTH */
    int n_prompt, n_gen, n_cached; /* from "usage" (0 when the server does not say) */
} ur_remote_answer;
/* Read a completions response (text_completion). -1 with one line when it is not one. */
int ur_remote_completion_parse(const char *json, size_t len, ur_remote_answer *out, ur_err *err);
/* Read a chat completions response (choices[0].message.content). */
int ur_remote_chat_parse(const char *json, size_t len, ur_remote_answer *out, ur_err *err);
void ur_remote_answer_free(ur_remote_answer *a);

/* One request, waited for: POST body to path; *out gets the response body (a
 * completion; the caller frees it). -1 with one line in err when it failed for good. */
int ur_remote_request(ur_remote *r, const char *path, const char *body, ur_buf *out, ur_err *err);

#endif
