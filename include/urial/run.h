/* urial — batch runs (`urial run`): answer every instruction of a dataset with a
 * chat format (a URIAL prompt or an aligned model's template) into an append-only
 * JSONL file, on the job runner (urial/job.h): resumable after a crash, shardable.
 *
 * Units: the dataset's items (after --limit, then --shard) in file order; an
 * MT-Bench question gives one unit per turn, each after the turn before it (turn t
 * is answered in the conversation of the earlier turns and our answers to them, read
 * back from the file). A unit's sampling seed is the run's seed mixed with its record
 * key, and every answer starts from the same cached prompt prefix, so records do not
 * depend on the order, the sharding, the executor or where a run was interrupted.
 *
 * Records: the input's fields, with "id", "instruction", "output" (the cleaned
 * answer), "generator", "input_index", MT-Bench's "turn" (and "history", the earlier
 * turns), "config" (model, prompt, decoding: must match to resume) and "stats"; with
 * the paper's baselines (urial/chat.h) "retrieved" (the examples' ids) or "prefix" and
 * "continuation" ("output" = prefix + " " + continuation). */
#ifndef URIAL_RUN_H
#define URIAL_RUN_H

#include <stdint.h>

#include "urial/chat.h"
#include "urial/dataset.h"
#include "urial/generate.h"
#include "urial/job.h"
#include "urial/session.h"

struct ur_remote;

/* ---- generation executors: one task = one answer to a conversation --------------- */
typedef struct ur_gen_task {
    /* in */
    const ur_msg *msgs; /* the conversation, ending with a user message */
    int n_msgs;
    ur_gen_params gp;   /* the format's stop strings are added, its decoding defaults applied */
    /* out */
    ur_buf text;        /* the cleaned answer */
    int n_prompt, n_cached, n_gen, stop_reason;
    double t_prompt, t_gen; /* local: seconds for the prompt and the generation */
    double t_request;       /* remote: seconds from sending the request to its answer */
    int too_long;           /* failed: the prompt does not fit the context */
    char *body;             /* remote: the request (the executor's) */
} ur_gen_task;
void ur_gen_task_free(ur_gen_task *t);

/* Answers on the local engine through a session (borrowed), one at a time; begin()
 * makes the session hold its prompt prefix (loaded from its cache file or computed)
 * and tells how through note(note_user, line). A prompt that does not fit the
 * context fails its task (too_long); any other engine error is fatal. */
ur_exec *ur_exec_gen_local_new(ur_session *s, void (*note)(void *, const char *), void *note_user);

/* Answers on the engine (urial/engine.h, made by begin() with p and the format;
 * set p->reuse to UR_REUSE_PREFIX): its slots decode many answers together. Each
 * prompt is rendered, tokenized and decoded as ur_session_answer does it, and
 * batched decoding is bit-identical to decoding alone, so every answer is byte for
 * byte the one the session executor gives (tests/unit/test_engine_exec.c). begin()
 * tells note() what was made and what happened to the prefix. A prompt that does not
 * fit fails its task (too_long); an engine error is fatal. */
struct ur_engine_params;
ur_exec *ur_exec_gen_engine_new(const ur_model *m, const ur_chat *fmt, const struct ur_engine_params *p,
                                void (*note)(void *, const char *), void *note_user);

/* Answers from an OpenAI-compatible server (/v1/completions): the conversation is
 * rendered here with fmt and sent as text with the format's stop strings and the
 * task's decoding; the answer is cleaned here. model: the name on the server. The
 * client (borrowed) keeps its concurrency of requests in flight. */
ur_exec *ur_exec_gen_remote_new(struct ur_remote *client, const char *model, const ur_chat *fmt);
/* fmt NULL (--backend openai-chat), here and below: the conversation goes to
 * /v1/chat/completions as messages, the server applies the model's chat template
 * and its stop rules, and its answer is taken as it comes. */
/* The same two steps for one request sent by the caller (urial chat --backend openai):
 * the request body (malloc'ed; NULL with err when the conversation cannot be
 * rendered), then the task's result from the server's answer. */
char *ur_gen_task_body(const ur_chat *fmt, const char *model, const ur_gen_task *t, ur_err *err);
int ur_gen_task_answer(const ur_chat *fmt, ur_gen_task *t, const char *json, size_t len, ur_err *err);

/* ---- the run -------------------------------------------------------------------------- */
typedef struct ur_run_params {
    const ur_dataset *ds;
    const char *out;         /* the JSONL file: created, or resumed */
    ur_job_select sel;
    int mt_turns;            /* MT-Bench: answer the first N turns (0: all) */
    const ur_chat *fmt;      /* NULL: a chat API applies the model's template (config "backend":"openai-chat") */
    ur_gen_params gp;        /* max_tokens and the sampler (its seed is mixed with each unit's key) */
    const char *generator;   /* the records' "generator" */
    const char *model;       /* the model file (its base name goes in the config), or its name on a server */
    uint64_t model_size;     /* the file's size; 0: a server (the config says "backend":"openai") */
    int n_ctx;               /* recorded in local records' stats */
    /* optional, with hook_user: progress; one-line notes (what resuming found, skipped units) */
    void (*progress)(void *hook_user, const ur_job_progress *p);
    void (*note)(void *hook_user, const char *line);
    void *hook_user;
} ur_run_params;

/* The config every record carries (compact JSON, malloc'ed): the model, the prompt
 * (its name, kind — ur_chat_kind_name — and a hash of a URIAL prompt's text, plus
 * ur_chat_params_json: the legacy format, the pool's hash and k, the answer file),
 * the decoding after ur_chat_decoding. */
char *ur_run_config(const ur_run_params *p);

/* Answer every unit not yet in p->out with executor x (the job runner's rules).
 * *summary gets the final counts. Returns 0 when every unit finished (recorded or
 * skipped: see summary), -1 with err on a fatal error (the file cannot be used, an
 * engine error); records already appended stay. */
int ur_run(const ur_run_params *p, ur_exec *x, ur_job_progress *summary, ur_err *err);

/* MT-Bench in FastChat's format (fastchat/llm_judge's model_answer JSONL: question_id,
 * answer_id, model_id = p->generator, choices [{index 0, turns}], tstamp), rebuilt at
 * `out` from the run's per-turn records in turns_path (the resumable state): one line
 * per selected question whose turns are all answered, sorted by question_id. *n_written
 * gets the count. -1 with err when the data is not MT-Bench or out cannot be written. */
int ur_run_fastchat(const ur_run_params *p, const char *turns_path, const char *out, int *n_written, ur_err *err);

#endif
