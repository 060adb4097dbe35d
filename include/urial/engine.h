/* urial — the engine: N slots (a context each) that decode together. One thread owns
 * the model; jobs (a prompt as tokens and its decoding) wait in a queue, go to a free
 * slot, have their prompt computed a chunk at a time, and then every generating slot
 * advances one token per step in one batched forward pass (ur_decode_batch: the
 * weights are read once for all slots). The format's constant prefix (a URIAL
 * prompt's preamble and examples) is computed once and its KV copied into slots.
 * `urial serve` (HTTP) and `urial run --parallel N` (the job runner's executor,
 * urial/run.h) are its two users. A job's output does not depend on what else is in
 * the batch: batched decoding is bit-identical to decoding alone (tests/unit/
 * test_decode_batch.c), and with UR_REUSE_PREFIX every prompt is computed the same
 * way from the same prefix. */
#ifndef URIAL_ENGINE_H
#define URIAL_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/session.h"

#define UR_ENGINE_MAX_LOGPROBS 20 /* top logprobs per token at most (OpenAI's and vLLM's limit) */
#define UR_ENGINE_MAX_STOPS 16

/* Log-probabilities of one token: its own and the top k of its position. */
typedef struct ur_engine_lp {
    int32_t token;
    float lp;
    int k;
    int32_t top[UR_ENGINE_MAX_LOGPROBS];
    float top_lp[UR_ENGINE_MAX_LOGPROBS];
    size_t offset; /* byte offset of the token's text in the generated text */
} ur_engine_lp;

enum { UR_ENGINE_QUEUED = 0, UR_ENGINE_RUNNING = 1, UR_ENGINE_DONE = 2 };

/* One job. The caller fills the input, submits, and reads the output under the
 * engine's mutex; the engine writes the output. Freed when both let go. */
typedef struct ur_engine_job {
    /* ---- input (not changed once submitted) ---- */
    int chat;                 /* chat completion (cleaned answer) or raw completion */
    int32_t *prompt;
    int n_prompt;
    ur_gen_params gp;         /* sampler, max_tokens; stop points into stops */
    char *stops[UR_ENGINE_MAX_STOPS + 4];
    int n_stops;
    float freq_pen, pres_pen; /* OpenAI's frequency / presence penalties (generated tokens) */
    int logprobs;             /* top-k for generated tokens; -1: none */
    int prompt_logprobs;      /* 1: logprobs of every prompt token (echo + logprobs) */
    /* Optional: called (engine thread) with each piece of streamed text; non-zero
     * ends the job there with stop_reason UR_STOP_STRING (e.g. a judge's JSON answer
     * is complete). gp.mask, if set, is also called from the engine thread. */
    int (*until)(void *user, const char *text, size_t len);
    void *until_user;
    /* ---- output (under the engine mutex) ---- */
    int state;                /* UR_ENGINE_* */
    int until_met;            /* until() ended it */
    atomic_int cancel;        /* set by the caller: stop this job (e.g. the client went away) */
    ur_buf text;              /* raw generated text streamed so far (all of it at UR_ENGINE_DONE) */
    ur_engine_lp *gen_lp;           /* logprobs of generated tokens (n_gen_lp) */
    int n_gen_lp, cap_gen_lp;
    ur_engine_lp *prompt_lp;        /* [n_prompt] with prompt_logprobs; entry 0 has none */
    int n_gen, n_cached, stop_reason;
    int32_t stop_token;       /* the end-of-generation token that stopped it, or -1 */
    double t_submit, t_start, t_first, t_done;
    double t_prompt;          /* seconds computing the prompt (after the cached part) */
    int failed;               /* an engine error: message in err */
    char err[256];
    pthread_cond_t cv;        /* signalled when text grows and at UR_ENGINE_DONE */
    int refs;
} ur_engine_job;

typedef struct ur_engine ur_engine;
typedef struct ur_engine_params {
    int parallel;          /* slots: sequences decoded together (default 1, at most 256) */
    int queue;             /* jobs waiting for a slot at most (default 64) */
    int n_ctx;             /* context per slot (0: the model's, at most 4096) */
    int n_threads;         /* 0: all cores */
    const char *cache_dir; /* the prefix's KV cache file directory (urial/session.h), or NULL */
    int reuse;             /* UR_REUSE_PREFIX: every job starts from exactly the format's prefix (batch
                              runs: outputs independent of the order and of what else ran); UR_REUSE_ALL:
                              the longest prefix a free slot shares with the prompt (a chat's turns) */
} ur_engine_params;
void ur_engine_defaults(ur_engine_params *p);
/* Slots by default: 8 (batched decoding on a CPU levels off around there:
 * bench/URIAL_RUN.md), fewer when 8 KV caches of n_ctx tokens would pass a quarter
 * of the machine's memory. */
int ur_engine_default_parallel(const ur_model *m, int n_ctx);
/* Make the slots, compute (or load) the format's prefix once, start the engine thread. */
ur_engine *ur_engine_new(const ur_model *m, const ur_chat *fmt, const ur_engine_params *p, ur_err *err);
/* Stop the engine thread: running and queued jobs end (failed: "the server is
 * stopping"); later submissions are refused. */
void ur_engine_stop(ur_engine *e);
void ur_engine_free(ur_engine *e);
const char *ur_engine_note(const ur_engine *e);
int ur_engine_n_ctx(const ur_engine *e);
int ur_engine_slots(const ur_engine *e);
int ur_engine_prefix_len(const ur_engine *e); /* tokens of the format's prefix kept for every job */
/* "PATH: llama, ..., context N tokens, KV cache X MiB (all slots), T threads, simd;
 * P answers decoded together" (ur_ctx_describe), appended to out. */
void ur_engine_describe(const ur_engine *e, ur_buf *out);
uint64_t ur_engine_kv_bytes(const ur_engine *e); /* the slots' KV caches together */
/* A new job with one reference (the caller's). */
ur_engine_job *ur_engine_job_new(void);
/* Queue a job (the engine takes a reference). -1: the queue is full. */
int ur_engine_submit(ur_engine *e, ur_engine_job *j);
/* Drop a reference (under no lock; e = NULL for a job never submitted). */
void ur_engine_job_release(ur_engine *e, ur_engine_job *j);
/* The mutex that guards every job's output, and waiting on a job's condition. */
void ur_engine_lock(ur_engine *e);
void ur_engine_unlock(ur_engine *e);
/* Wait (locked) until signalled or `ms` milliseconds pass. */
void ur_engine_job_wait(ur_engine *e, ur_engine_job *j, int ms);
typedef struct ur_engine_counts {
    int slots, busy, queued, queue_max;
    long served, cancelled;
} ur_engine_counts;
void ur_engine_counts_get(ur_engine *e, ur_engine_counts *st);


#endif
