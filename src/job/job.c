/* The job runner (include/urial/job.h): units, resume, the executor loop, progress. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/job.h"

enum { U_TODO = 0, U_RUNNING, U_RECORDED, U_SKIPPED, U_KEPT };

typedef struct unit {
    int after;  /* unit to finish first, or -1 */
    int state;  /* U_* */
    int out;    /* tasks sent and not finished */
    char *line; /* U_RECORDED, not yet in the file: its record (waiting for the units before it) */
} unit;

typedef struct task_ref { /* a task handed out (or waiting to be) */
    void *task;
    int unit, k;
} task_ref;

struct ur_job {
    ur_job_params p;
    unit *units;
    int n, cap;
    ur_keymap keys;    /* unit u has key number u */
    ur_results *res;
    task_ref *pending; /* tasks of started units not yet handed to the executor */
    int n_pending, cap_pending;
    task_ref *flight;  /* tasks the executor holds */
    int n_flight, cap_flight;
    int first;         /* units before it are not U_TODO */
    int unwritten;     /* units before it are in the file or need no record */
    int failed;        /* a callback failed inside next(): err holds why */
    ur_err err;
    ur_job_progress prog;
};

/* ---- selection ------------------------------------------------------------------------------ */
int ur_job_selects(const ur_job_select *s, int position) {
    if (s->limit >= 0 && position >= s->limit) return 0;
    return s->shard_n <= 1 || position % s->shard_n == s->shard_i;
}

int ur_job_parse_shard(const char *s, int *i, int *n) {
    char *end, *end2;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') return -1;
    long b = strtol(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 || b < 1 || b > 1 << 20 || a < 0 || a >= b) return -1;
    *i = (int)a, *n = (int)b;
    return 0;
}

/* ---- units ------------------------------------------------------------------------------------ */
ur_job *ur_job_new(const ur_job_params *p) {
    ur_job *j = ur_xcalloc(1, sizeof *j);
    j->p = *p;
    if (!j->p.made) j->p.made = "made";
    return j;
}

void ur_job_free(ur_job *j) {
    if (!j) return;
    for (int u = 0; u < j->n; u++) free(j->units[u].line);
    ur_keymap_free(&j->keys);
    free(j->units), free(j->pending), free(j->flight);
    ur_results_close(j->res);
    free(j);
}

int ur_job_add(ur_job *j, const char *key, int after) {
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 64;
        j->units = ur_xrealloc(j->units, sizeof *j->units * (size_t)j->cap);
    }
    if (ur_keymap_add(&j->keys, key) != j->n) return ur_keymap_find(&j->keys, key); /* a key given twice: one unit */
    j->units[j->n] = (unit){after, U_TODO, 0, NULL};
    j->prog.total = ++j->n;
    return j->n - 1;
}

int ur_job_units(const ur_job *j) { return j->n; }
const ur_results *ur_job_results(const ur_job *j) { return j->res; }
const ur_job_progress *ur_job_get_progress(const ur_job *j) { return &j->prog; }
int ur_job_is_recorded(const ur_job *j, int u) {
    return u >= 0 && u < j->n && (j->units[u].state == U_RECORDED || j->units[u].state == U_KEPT);
}
int ur_job_todo(const ur_job *j) { return j->prog.total - j->prog.kept - j->prog.recorded - j->prog.skipped; }

const char *ur_job_record_line(const ur_job *j, const char *key) {
    int u = ur_keymap_find(&j->keys, key);
    if (u >= 0 && j->units[u].line) return j->units[u].line;
    const ur_record *r = ur_results_find(j->res, key);
    return r ? r->json : NULL;
}

void ur_job_count(ur_job *j, long tokens, double seconds) {
    j->prog.tokens += tokens;
    j->prog.t_work += seconds;
}

static void progress(ur_job *j) {
    if (j->p.progress) j->p.progress(j->p.hook_user, &j->prog);
}

void ur_job_note(ur_job *j, const char *fmt, ...) {
    if (!j->p.note) return;
    char line[UR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->p.note(j->p.hook_user, line);
}

/* ---- resume ----------------------------------------------------------------------------------- */
/* The record's "config" against the job's: -1 with one line naming the first key that differs. */
static int check_config(ur_job *j, const ur_record *rec, json_t *mine, ur_err *err) {
    json_t *o = json_loads(rec->json, 0, NULL), *theirs = json_object_get(o, "config"), *mv;
    if (json_equal(theirs, mine)) {
        json_decref(o);
        return 0;
    }
    const char *key = "config", *k;
    char *a = NULL, *b = NULL;
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10);
    json_object_foreach(mine, k, mv) if (!json_equal(json_object_get(theirs, k), mv)) {
        key = k;
        a = json_dumps(json_object_get(theirs, k), flags);
        b = json_dumps(mv, flags);
        break;
    }
    ur_errf(err, "%s: %s: line %d was %s with another %s (%s, now %s); use another --out to keep both", j->p.name,
            j->p.out, rec->line, j->p.made, key, a ? a : "missing", b ? b : "?");
    free(a), free(b);
    json_decref(o);
    return -1;
}

/* One pass over the file's records: the config, then the command's check. Sets
 * *redo to the records to remove and fills keep with the lines to keep. */
static int check_records(ur_job *j, json_t *mine, int *redo, ur_buf *keep, ur_err *err) {
    *redo = 0;
    for (int i = 0; i < ur_results_count(j->res); i++) {
        const ur_record *rec = ur_results_get(j->res, i);
        if (mine && check_config(j, rec, mine, err)) return -1;
        int u = ur_keymap_find(&j->keys, rec->key), c = UR_JOB_KEEP;
        if (j->p.ops.check && (c = j->p.ops.check(j->p.user, u, rec, err)) < 0) return -1;
        if (c == UR_JOB_REDO) {
            (*redo)++;
            continue;
        }
        ur_buf_puts(keep, rec->json);
        ur_buf_put(keep, "\n", 1);
    }
    return 0;
}

int ur_job_open(ur_job *j, ur_err *err) {
    json_t *mine = NULL;
    if (j->p.config) {
        json_error_t je;
        if (!(mine = json_loads(j->p.config, 0, &je)) || !json_is_object(mine)) {
            json_decref(mine);
            return ur_errf(err, "%s: the job's config is not a JSON object (%s)", j->p.name, je.text);
        }
    }
    int rc = -1;
    for (int pass = 0; pass < 2; pass++) {
        if (!(j->res = ur_results_open(j->p.out, UR_RESULTS_APPEND, err))) goto out;
        if (ur_results_note(j->res)) ur_job_note(j, "%s", ur_results_note(j->res));
        ur_buf keep = {0};
        int redo = 0;
        if (check_records(j, mine, &redo, &keep, err)) {
            ur_buf_free(&keep);
            goto out;
        }
        if (!redo || pass == 1) {
            ur_buf_free(&keep);
            break;
        }
        /* rewrite the file without the records to redo (atomically), then open it again */
        ur_results_close(j->res);
        j->res = NULL;
        int w = ur_write_file_atomic(j->p.out, keep.data ? keep.data : "", keep.len, err);
        ur_buf_free(&keep);
        if (w) goto out;
        ur_job_note(j, "%s: %d record%s will be done again", j->p.out, redo, redo == 1 ? "" : "s");
    }
    for (int u = 0; u < j->n; u++)
        if (ur_results_find(j->res, j->keys.keys[u])) j->units[u].state = U_KEPT, j->prog.kept++;
    rc = 0;
out:
    json_decref(mine);
    return rc;
}

/* ---- the loop ----------------------------------------------------------------------------------- */
static void push(task_ref **a, int *n, int *cap, task_ref t) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *a = ur_xrealloc(*a, sizeof **a * (size_t)*cap);
    }
    (*a)[(*n)++] = t;
}

static int finished(const unit *u) { return u->state >= U_RECORDED; }

/* Records go into the file in unit order (the dataset's), whatever order the executor
 * finished them in, so a file does not depend on how many ran at once; a finished
 * record waits in memory for the units before it (at most the executor's in-flight
 * units: the runner hands units out in order). */
static int flush(ur_job *j, ur_err *err) {
    for (; j->unwritten < j->n; j->unwritten++) {
        unit *u = &j->units[j->unwritten];
        if (!finished(u)) break;
        if (!u->line) continue;
        int rc = ur_results_append(j->res, u->line, strlen(u->line), err);
        free(u->line);
        u->line = NULL;
        if (rc) return -1;
    }
    return 0;
}

/* The next unit that may start: to do, and its `after` finished. */
static int next_unit(ur_job *j) {
    while (j->first < j->n && j->units[j->first].state != U_TODO) j->first++;
    for (int u = j->first; u < j->n; u++) {
        const unit *x = &j->units[u];
        if (x->state == U_TODO && (x->after < 0 || finished(&j->units[x->after]))) return u;
    }
    return -1;
}

static int job_next(void *user, void **task) {
    ur_job *j = user;
    while (!j->failed && !j->n_pending) {
        int u = next_unit(j);
        if (u < 0) return 0;
        void *tasks[UR_JOB_MAX_TASKS] = {0};
        int n = j->p.ops.start(j->p.user, u, tasks, &j->err);
        if (n < 0 || n > UR_JOB_MAX_TASKS) {
            if (n > 0) ur_errf(&j->err, "%s: a unit has %d tasks (at most %d)", j->p.name, n, UR_JOB_MAX_TASKS);
            j->failed = 1;
            return 0;
        }
        if (!n) {
            j->units[u].state = U_SKIPPED;
            j->prog.skipped++;
            if (flush(j, &j->err)) {
                j->failed = 1;
                return 0;
            }
            progress(j);
            continue;
        }
        j->units[u].state = U_RUNNING;
        j->units[u].out = n;
        j->prog.in_flight++;
        for (int k = n - 1; k >= 0; k--) push(&j->pending, &j->n_pending, &j->cap_pending, (task_ref){tasks[k], u, k});
    }
    if (j->failed) return 0;
    task_ref t = j->pending[--j->n_pending]; /* the stack's top: the unit's tasks in order */
    push(&j->flight, &j->n_flight, &j->cap_flight, t);
    *task = t.task;
    return 1;
}

static int job_done(void *user, void *task, const char *why, ur_err *err) {
    ur_job *j = user;
    int i = 0;
    while (i < j->n_flight && j->flight[i].task != task) i++;
    if (i == j->n_flight) return ur_errf(err, "%s: an executor returned a task it was not given", j->p.name);
    task_ref t = j->flight[i];
    j->flight[i] = j->flight[--j->n_flight];
    unit *u = &j->units[t.unit];
    ur_buf rec = {0};
    int r = j->p.ops.finish(j->p.user, t.unit, t.k, task, why, &rec, err), rc = 0;
    switch (r) {
    case UR_JOB_AGAIN: push(&j->pending, &j->n_pending, &j->cap_pending, t); break;
    case UR_JOB_PENDING: u->out--; break;
    case UR_JOB_RECORD:
        u->line = rec.data ? rec.data : ur_xstrdup("");
        rec = (ur_buf){0};
        u->state = U_RECORDED, u->out = 0;
        j->prog.recorded++, j->prog.in_flight--;
        rc = flush(j, err);
        break;
    case UR_JOB_SKIP:
        u->state = U_SKIPPED, u->out = 0;
        j->prog.skipped++, j->prog.in_flight--;
        rc = flush(j, err);
        break;
    default: /* fatal: the task is the runner's to drop */
        if (j->p.ops.drop) j->p.ops.drop(j->p.user, t.unit, task);
        rc = -1;
        break;
    }
    ur_buf_free(&rec);
    if (!rc) progress(j);
    return rc;
}

int ur_job_run(ur_job *j, ur_exec *x, ur_err *err) {
    if (!j->res) return ur_errf(err, "%s: the job was not opened", j->p.name);
    j->prog.t0 = ur_now();
    progress(j);
    if (!ur_job_todo(j)) return 0;
    if (x->begin && x->begin(x, err)) return -1;
    int rc = x->run(x, job_next, job_done, j, err);
    if (!rc && j->failed) {
        *err = j->err;
        rc = -1;
    } else if (rc && err) { /* an executor's error (a server's 404, ...) names the job */
        size_t n = strlen(j->p.name);
        if (strncmp(err->msg, j->p.name, n) || strncmp(err->msg + n, ": ", 2)) {
            ur_err e = *err;
            ur_errf(err, "%s: %s", j->p.name, e.msg);
        }
    }
    /* a fatal stop leaves tasks out or waiting: the command frees them */
    for (int i = 0; i < j->n_flight; i++)
        if (j->p.ops.drop) j->p.ops.drop(j->p.user, j->flight[i].unit, j->flight[i].task);
    for (int i = 0; i < j->n_pending; i++)
        if (j->p.ops.drop) j->p.ops.drop(j->p.user, j->pending[i].unit, j->pending[i].task);
    j->n_flight = j->n_pending = 0;
    return rc;
}

/* ---- executors ------------------------------------------------------------------------------------- */
void ur_exec_free(ur_exec *x) {
    if (x && x->free) x->free(x);
}

void ur_exec_adapter_begin(ur_exec_adapter *a, ur_exec_next_fn next, ur_exec_done_fn done, void *user) {
    a->next = next, a->done = done, a->user = user;
}

void *ur_exec_adapter_take(ur_exec_adapter *a, long *tag) {
    void *t;
    if (!a->next(a->user, &t)) return NULL;
    *tag = (long)(intptr_t)t;
    return t;
}

void *ur_exec_adapter_task(long tag) { return (void *)(intptr_t)tag; }

int ur_exec_adapter_give(ur_exec_adapter *a, long tag, const char *why, ur_err *err) {
    return a->done(a->user, ur_exec_adapter_task(tag), why, err);
}

typedef struct inline_exec {
    ur_exec base;
    ur_exec_work_fn work;
    void *user;
} inline_exec;

static int inline_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    inline_exec *e = (inline_exec *)x;
    void *task;
    while (next(user, &task)) {
        const char *why = NULL;
        int r = e->work(e->user, task, &why, err);
        if (r < 0) return -1;
        if (done(user, task, r ? (why ? why : "failed") : NULL, err)) return -1;
    }
    return 0;
}

void ur_exec_free_block(ur_exec *x) { free(x); }

ur_exec *ur_exec_inline_new(ur_exec_work_fn work, void *user) {
    inline_exec *e = ur_xcalloc(1, sizeof *e);
    e->base = (ur_exec){.slots = 1, .run = inline_run, .free = ur_exec_free_block};
    e->work = work;
    e->user = user;
    return &e->base;
}
