/* urial — the job runner: a long job over a dataset as units of work, each ending
 * as one record appended to a JSONL file (urial/results.h), so that a job killed
 * at any moment resumes where it stopped, with nothing lost or done twice.
 *
 *   items ─▶ units (--limit, then --shard I/N; a unit may wait for another)
 *         ─▶ resume: units whose record is in the file are skipped; every record
 *            must carry the job's "config" (else the run is refused)
 *         ─▶ start(unit): its tasks ─▶ executor (N in flight) ─▶ finish(unit, task)
 *         ─▶ the unit's record, appended and fsync'ed ─▶ progress (units, tok/s, ETA)
 *
 * `urial run`, `urial tds`, `urial tds prefix` and `urial eval score|pairwise` are
 * jobs: each supplies its units, three callbacks (start, finish, and optionally
 * check) and an executor, and the runner does the rest. Records never depend on the
 * executor, the number of tasks in flight, the shard or where a run was cut off:
 * that is each command's contract (seeds from the unit's key, one fixed prompt). */
#ifndef URIAL_JOB_H
#define URIAL_JOB_H

#include <stddef.h>

#include "urial/base.h"
#include "urial/results.h"

/* ---- executors: where tasks run --------------------------------------------------- *
 * An executor runs tasks, up to `slots` at once: it calls next() whenever it has
 * room for one more task (0: none now; asked again after each done()), runs it, and
 * hands it back to done() with why == NULL (the result is in the task) or a
 * one-line reason it failed for good (after a remote executor's retries). A task is
 * a struct of the executor's kind (ur_http_task, ur_gen_task in urial/run.h,
 * ur_judge_task in urial/eval.h, or the caller's own for an inline executor) that
 * the caller may embed as the first member of a larger struct. done() returning
 * non-zero stops the loop. run() returns 0 when next() has nothing more and nothing
 * is in flight, or -1 with err (a callback stopped it, or a fatal error: a server's
 * 401/404, a local engine failure). */
typedef int (*ur_exec_next_fn)(void *user, void **task);
typedef int (*ur_exec_done_fn)(void *user, void *task, const char *why, ur_err *err);

typedef struct ur_exec ur_exec;
struct ur_exec {
    int slots; /* tasks in flight at most */
    /* Optional: called once before the first task (e.g. load or compute a prompt
     * prefix); not called when a job has nothing to do. */
    int (*begin)(ur_exec *x, ur_err *err);
    int (*run)(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err);
    void (*free)(ur_exec *x);
};
void ur_exec_free(ur_exec *x);
/* The free() of an executor that is one allocation (its struct, ur_exec first). */
void ur_exec_free_block(ur_exec *x);

/* For executors built on a work loop that tells requests apart by a `long` tag
 * (ur_remote_run, ur_judge_run): the runner's callbacks, and the task's address as
 * its tag. run() calls ur_exec_adapter_begin, then the loop, whose next() calls
 * ur_exec_adapter_take and whose done() calls ur_exec_adapter_give. */
typedef struct ur_exec_adapter {
    ur_exec base;
    ur_exec_next_fn next;
    ur_exec_done_fn done;
    void *user;
} ur_exec_adapter;
void ur_exec_adapter_begin(ur_exec_adapter *a, ur_exec_next_fn next, ur_exec_done_fn done, void *user);
void *ur_exec_adapter_take(ur_exec_adapter *a, long *tag); /* the next task (NULL: none now) */
int ur_exec_adapter_give(ur_exec_adapter *a, long tag, const char *why, ur_err *err);
void *ur_exec_adapter_task(long tag);

/* Inline: each task runs to completion in the caller's thread: work() returns 0
 * (done), 1 with *why (the task failed; done() gets that reason), or -1 with err
 * (fatal). */
typedef int (*ur_exec_work_fn)(void *user, void *task, const char **why, ur_err *err);
ur_exec *ur_exec_inline_new(ur_exec_work_fn work, void *user);

/* A request to an OpenAI-compatible server through a ur_remote client (borrowed;
 * its concurrency is the executor's slots). */
struct ur_remote;
typedef struct ur_http_task {
    const char *path; /* e.g. "/completions" */
    const char *body; /* JSON, valid until done() */
    ur_buf response;  /* the response body (a completion), filled before done() */
} ur_http_task;
ur_exec *ur_exec_http_new(struct ur_remote *client);

/* ---- units and their selection ---------------------------------------------------- */
/* --limit N and --shard I/N: of the items in dataset order, the first `limit` (< 0:
 * all), and of those the positions p with p % shard_n == shard_i, so that the
 * shards of a limited run add up to the limited run. */
typedef struct ur_job_select {
    long limit;
    int shard_i, shard_n;
} ur_job_select;
#define UR_JOB_SELECT_ALL ((ur_job_select){-1, 0, 1})
int ur_job_selects(const ur_job_select *s, int position);
/* "I/N" with 0 <= I < N; -1 when s is not that. */
int ur_job_parse_shard(const char *s, int *i, int *n);

/* ---- the runner -------------------------------------------------------------------- */
enum ur_job_finish {
    UR_JOB_RECORD = 0,  /* the unit is complete: its record is in *rec (appended by the runner) */
    UR_JOB_PENDING = 1, /* this task is done; the unit's other tasks are still out */
    UR_JOB_AGAIN = 2,   /* send this task again (e.g. a judge's answer that did not parse) */
    UR_JOB_SKIP = 3,    /* the unit ends without a record (a note said why) */
};
enum ur_job_check { UR_JOB_KEEP = 0, UR_JOB_REDO = 1 };
#define UR_JOB_MAX_TASKS 4

typedef struct ur_job_ops {
    /* The unit's tasks: returns how many (1..UR_JOB_MAX_TASKS) with tasks[] set, 0 when
     * the unit is skipped (the callback told why through its own notes), -1 fatal. */
    int (*start)(void *user, int unit, void **tasks, ur_err *err);
    /* Task k of the unit is back (why: NULL, or why it failed): enum ur_job_finish,
     * (records are written to the file in unit order, however they finish),
     * or -1 (fatal). After UR_JOB_RECORD or UR_JOB_SKIP the command frees the unit's
     * tasks; after -1 the runner drops the task (ops.drop). */
    int (*finish)(void *user, int unit, int k, void *task, const char *why, ur_buf *rec, ur_err *err);
    /* Optional: a record already in the file (after the "config" check), for the unit
     * with its key or -1 when it is not one of this run's units: UR_JOB_KEEP,
     * UR_JOB_REDO (removed from the file before the run, and done again), or -1 to
     * refuse the file (err says why). */
    int (*check)(void *user, int unit, const ur_record *rec, ur_err *err);
    /* Optional: free a task that will not be finished (a fatal error stopped the run
     * while it was out or waiting). */
    void (*drop)(void *user, int unit, void *task);
} ur_job_ops;

typedef struct ur_job_progress {
    int total;       /* units of this run */
    int kept;        /* their records were in the file already */
    int recorded;    /* recorded by this run */
    int skipped;     /* ended without a record (skipped or failed) */
    int in_flight;   /* started, not finished */
    long tokens;     /* work counted by the command (ur_job_count): tokens produced or scored */
    double t_work;   /* seconds of that work */
    double t0;       /* when the run started (ur_now) */
} ur_job_progress;

typedef struct ur_job_params {
    const char *out;    /* the JSONL file: created, or resumed */
    const char *name;   /* the command, for messages ("run", "tds") */
    const char *config; /* compact JSON object that every record in the file must carry as its
                           "config" (NULL: not checked) */
    const char *made;   /* the verb of the refusal: "line 3 was <made> with another seed" (default "made") */
    ur_job_ops ops;
    void *user;         /* the ops' */
    /* Optional, called with hook_user: progress after every change; one-line notes
     * (what opening the file found). */
    void (*progress)(void *hook_user, const ur_job_progress *p);
    void (*note)(void *hook_user, const char *line);
    void *hook_user;
} ur_job_params;

typedef struct ur_job ur_job;
ur_job *ur_job_new(const ur_job_params *p);
void ur_job_free(ur_job *j);
/* Add a unit: its record key (ur_record_key) and the unit that must be finished
 * (recorded or skipped) before it starts, or -1. Returns its index. */
int ur_job_add(ur_job *j, const char *key, int after);
int ur_job_units(const ur_job *j);
/* Open (create, lock) the file and apply the resume rules. -1 with err when the
 * file cannot be used: not ours, or made with another config (one line naming the
 * line and the first differing key). */
int ur_job_open(ur_job *j, ur_err *err);
/* Units still to do after ur_job_open. */
int ur_job_todo(const ur_job *j);
/* Run the units still to do on x (x->begin first, if there is anything to do).
 * Returns 0 when every unit finished (recorded or skipped), -1 with err on a fatal
 * error; records already appended stay. */
int ur_job_run(ur_job *j, ur_exec *x, ur_err *err);

/* The file's records (after ur_job_open). */
const ur_results *ur_job_results(const ur_job *j);
/* The record (a JSON line) with this key, in the file or finished and waiting for the
 * units before it to be written; NULL when there is none (e.g. an MT-Bench turn's
 * earlier answer). */
const char *ur_job_record_line(const ur_job *j, const char *key);
int ur_job_is_recorded(const ur_job *j, int unit);
const ur_job_progress *ur_job_get_progress(const ur_job *j);
/* Count work for the progress line and the summary (from the callbacks). */
void ur_job_count(ur_job *j, long tokens, double seconds);
/* Tell about a unit (from the callbacks): sent to the note hook. */
void ur_job_note(ur_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
