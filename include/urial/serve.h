/* urial — an OpenAI-compatible HTTP server (libmicrohttpd) on urial's engine.
 *
 * Endpoints: POST /v1/chat/completions (a conversation rendered with the server's
 * chat format: a URIAL prompt for a base model, or an aligned model's template),
 * POST /v1/completions (a raw prompt; logprobs, echo with prompt logprobs),
 * GET /v1/models, GET /health, and GET / (a small chat page, compiled in).
 *
 * Threads: libmicrohttpd runs one thread per connection; those threads parse
 * requests, tokenize, and stream answers, and never run the model. One engine
 * thread owns the model and `parallel` slots (a context each, with its own KV
 * cache): it admits queued requests into free slots, computes prompts in chunks,
 * and advances every generating slot by one token per step in a single batched
 * forward pass (ur_decode_batch), using one pool of n_threads for every slot. So the
 * cores are never shared by two forward passes, however many clients there are.
 *
 * The chat format's constant prefix (for URIAL: the preamble and the examples,
 * ~1.3k tokens) is computed once at start (or loaded from cache_dir) and copied
 * into a slot's KV cache when a request needs it; a slot also reuses whatever
 * its cache already shares with a new prompt (the earlier turns of a chat). */
#ifndef URIAL_SERVE_H
#define URIAL_SERVE_H

#include <stddef.h>

#include "urial/base.h"
#include "urial/chat.h"
#include "urial/model.h"

typedef struct ur_server_params {
    const char *host;       /* address to listen on (default "127.0.0.1": this machine only) */
    int port;               /* default 8080; 0 = a free port (see ur_server_port) */
    int parallel;           /* slots: requests generated at once (default 2) */
    int queue;              /* requests waiting for a slot at most; more get HTTP 503 (default 64) */
    const char *api_key;    /* required as "Authorization: Bearer KEY" on /v1/; NULL = none */
    size_t max_body;        /* request body bytes at most; more get HTTP 413 (default 1 MiB) */
    int max_tokens;         /* tokens per answer at most; larger max_tokens are lowered (default 2048) */
    int n_ctx;              /* context per slot (0: the model's, at most 4096) */
    int n_threads;          /* engine threads (0: all cores) */
    int max_connections;    /* open connections at most (default 256) */
    int max_client_connections; /* open connections from one IP address at most (default 64) */
    double header_timeout;  /* seconds from a connection's start (or its last answer) to a request's complete
                               headers; slower ones are closed (default 15; slowloris) */
    double body_timeout;    /* seconds from the headers to the whole body (default 60) */
    const char *model_name; /* the model's id in the API (default: the file's base name without .gguf) */
    const char *cache_dir;  /* keep the prefix's KV cache here (NULL: compute it at start) */
} ur_server_params;
void ur_server_defaults(ur_server_params *p);

typedef struct ur_server ur_server;

/* Whether host is a loopback address ("127.0.0.1", "::1", "localhost", 127.x.y.z): then
 * only requests whose Host header names the loopback are answered (DNS rebinding). */
int ur_server_host_is_loopback(const char *host);

/* Load nothing: the model and the format are the caller's and must outlive the
 * server. Computes the format's prefix, starts the engine thread and listens.
 * Fails with one line (e.g. the port is taken). */
ur_server *ur_server_start(const ur_model *m, const ur_chat *fmt, const ur_server_params *p, ur_err *err);
int ur_server_port(const ur_server *s);
/* What happened with the prefix's cache file at start (see ur_session_take_note), or NULL. */
const char *ur_server_note(const ur_server *s);
/* Stop listening, cancel what is queued or running, join the threads, free. */
void ur_server_stop(ur_server *s);

#endif
