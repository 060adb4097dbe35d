/* The job runner (include/urial/job.h) with a scripted executor that keeps several
 * tasks in flight and hands them back out of order: selection and shards, every
 * unit recorded exactly once, dependent units in order, tasks asked again, units of
 * two tasks, skipped units, resume (kept records, a torn last line, another config
 * refused, records redone), fatal errors that leave nothing behind. */
#include <fcntl.h>
#include <unistd.h>

#include "harness.h"
#include "urial/job.h"

/* ---- a scripted executor: `slots` tasks out at once, returned in a scrambled order ---- */
typedef struct fake_exec {
    ur_exec base;
    int max_out, most_out; /* the most tasks it held at once */
} fake_exec;

static int fake_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    fake_exec *e = (fake_exec *)x;
    void *out[16];
    int n = 0, turn = 0;
    for (;;) {
        void *t;
        while (n < x->slots && next(user, &t)) out[n++] = t;
        if (n > e->most_out) e->most_out = n;
        if (!n) return 0;
        int i = (turn++ * 7 + 1) % n; /* not in the order they went out */
        t = out[i];
        out[i] = out[--n];
        if (done(user, t, NULL, err)) return -1;
    }
}

static fake_exec *fake_new(int slots) {
    fake_exec *e = calloc(1, sizeof *e);
    e->base = (ur_exec){.slots = slots, .run = fake_run, .free = (void (*)(ur_exec *))free};
    return e;
}

/* ---- a command: unit u's record is {"id":u,"v":...}; behaviour per unit is scripted ---- */
enum { NU = 12 };
typedef struct task {
    int unit, k;
} task;
typedef struct cmd {
    ur_job *job;
    int n_tasks[NU];  /* tasks per unit (default 1) */
    int again[NU];    /* times the first task is sent again */
    int skip_start[NU], skip_finish[NU], fatal_at; /* fatal_at: unit whose finish is fatal (-1 none) */
    int started[NU], recorded_order[NU], n_recorded, sent;
    int after_ok;     /* every unit started after the one it waits for was finished */
    int live;         /* tasks allocated and not freed */
    int dropped;
    const char *config;
} cmd;

static int c_start(void *user, int u, void **tasks, ur_err *err) {
    (void)err;
    cmd *c = user;
    c->started[u]++;
    if (u % 4 == 3 && !ur_job_is_recorded(c->job, u - 1) && !c->skip_start[u - 1] && !c->skip_finish[u - 1])
        c->after_ok = 0;
    if (c->skip_start[u]) return 0;
    int n = c->n_tasks[u] ? c->n_tasks[u] : 1;
    for (int k = 0; k < n; k++) {
        task *t = malloc(sizeof *t);
        t->unit = u, t->k = k;
        tasks[k] = t;
        c->live++;
    }
    return n;
}

static int c_finish(void *user, int u, int k, void *tp, const char *why, ur_buf *rec, ur_err *err) {
    cmd *c = user;
    task *t = tp;
    c->sent++;
    if (why || t->unit != u || t->k != k) return ur_errf(err, "task mix-up");
    if (u == c->fatal_at) return ur_errf(err, "unit %d: fatal", u);
    if (k == 0 && c->again[u]) {
        c->again[u]--;
        return UR_JOB_AGAIN;
    }
    free(t);
    c->live--;
    if (k + 1 < (c->n_tasks[u] ? c->n_tasks[u] : 1)) return UR_JOB_PENDING;
    if (c->skip_finish[u]) return UR_JOB_SKIP;
    ur_buf_printf(rec, "{\"id\":%d,\"v\":%d,\"config\":%s}", u, u * u, c->config ? c->config : "{}");
    ur_job_count(c->job, 10, 0.5);
    c->recorded_order[c->n_recorded++] = u;
    return UR_JOB_RECORD;
}

static void c_drop(void *user, int u, void *t) {
    (void)u;
    cmd *c = user;
    free(t);
    c->live--;
    c->dropped++;
}

static int redo_unit = -1;
static int c_check(void *user, int u, const ur_record *rec, ur_err *err) {
    (void)user;
    if (strstr(rec->json, "\"refuse\"")) return ur_errf(err, "line %d: refused", rec->line);
    return u == redo_unit ? UR_JOB_REDO : UR_JOB_KEEP;
}

static char notes[4096];
static void note(void *user, const char *line) {
    (void)user;
    snprintf(notes + strlen(notes), sizeof notes - strlen(notes), "%s\n", line);
}

/* A job over NU units (unit 4q+3 waits for 4q+2), run on a fake executor. */
static int run_job(cmd *c, const char *path, int slots, ur_err *err) {
    ur_job_params p = {.out = path, .name = "test", .config = c->config, .ops = {c_start, c_finish, c_check, c_drop},
                       .user = c, .note = note};
    c->job = ur_job_new(&p);
    c->after_ok = 1;
    char key[16];
    for (int u = 0; u < NU; u++) {
        snprintf(key, sizeof key, "%d", u);
        int i = ur_job_add(c->job, key, u % 4 == 3 ? u - 1 : -1);
        if (i != u) return ur_errf(err, "unit index %d for %d", i, u);
    }
    fake_exec *x = fake_new(slots);
    int rc = ur_job_open(c->job, err) || ur_job_run(c->job, &x->base, err) ? -1 : 0;
    ur_exec_free(&x->base);
    return rc;
}

static int lines(const char *path) {
    size_t n;
    char *s = th_read_file(path, &n);
    int k = 0;
    for (size_t i = 0; s && i < n; i++) k += s[i] == '\n';
    free(s);
    return k;
}

static void selection(void) {
    ur_job_select s = {5, 1, 2};
    int got[10], n = 0;
    for (int p = 0; p < 10; p++)
        if (ur_job_selects(&s, p)) got[n++] = p;
    CHECK(n == 2 && got[0] == 1 && got[1] == 3);
    ur_job_select all = UR_JOB_SELECT_ALL;
    CHECK(ur_job_selects(&all, 0) && ur_job_selects(&all, 1 << 20));
    int i, m;
    CHECK(!ur_job_parse_shard("3/4", &i, &m) && i == 3 && m == 4);
    CHECK(ur_job_parse_shard("4/4", &i, &m) && ur_job_parse_shard("1", &i, &m) && ur_job_parse_shard("-1/2", &i, &m) &&
          ur_job_parse_shard("1/2x", &i, &m) && ur_job_parse_shard("0/0", &i, &m));
}

static void every_unit_once_out_of_order(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/a.jsonl", th_tmpdir());
    cmd c = {.fatal_at = -1};
    c.n_tasks[5] = 2; /* a unit of two tasks (pairwise judging) */
    c.again[6] = 2;   /* a task asked again twice (an answer that did not parse) */
    c.skip_start[8] = 1;
    c.skip_finish[9] = 1;
    ur_err err = {{0}};
    REQUIRE(!run_job(&c, path, 3, &err));
    const ur_job_progress *p = ur_job_get_progress(c.job);
    CHECKF(p->total == NU && p->recorded == NU - 2 && p->skipped == 2 && p->kept == 0 && p->in_flight == 0,
           "%d %d %d %d", p->total, p->recorded, p->skipped, p->in_flight);
    CHECK(p->tokens == 10L * (NU - 2) && p->t_work == 0.5 * (NU - 2));
    CHECK(c.after_ok && c.live == 0 && c.dropped == 0);
    CHECK(c.sent == NU - 1 + 1 + 2); /* one per unit that started, + unit 5's second task + 2 re-asks */
    for (int u = 0; u < NU; u++) CHECK(c.started[u] == 1);
    CHECK(lines(path) == NU - 2);
    ur_job_free(c.job);
    /* resumed: the records are kept; the two skipped units are tried again */
    cmd d = {.fatal_at = -1};
    REQUIRE(!run_job(&d, path, 2, &err));
    p = ur_job_get_progress(d.job);
    CHECK(p->kept == NU - 2 && p->recorded == 2 && d.started[8] == 1 && d.started[0] == 0 && lines(path) == NU);
    ur_job_free(d.job);
    /* the same records whatever the executor's slots or order */
    char path1[300];
    snprintf(path1, sizeof path1, "%s/a1.jsonl", th_tmpdir());
    cmd e = {.fatal_at = -1};
    REQUIRE(!run_job(&e, path1, 1, &err));
    ur_results *r0 = ur_results_open(path, UR_RESULTS_READ, &err), *r1 = ur_results_open(path1, UR_RESULTS_READ, &err);
    REQUIRE(r0 && r1);
    for (int u = 0; u < NU; u++) {
        char k[8];
        snprintf(k, sizeof k, "%d", u);
        const ur_record *a = ur_results_find(r0, k), *b = ur_results_find(r1, k);
        CHECK(a && b && !strcmp(a->json, b->json));
    }
    CHECK(e.recorded_order[0] == 0 && e.recorded_order[NU - 1] == NU - 1); /* one slot: in order */
    ur_results_close(r0), ur_results_close(r1);
    ur_job_free(e.job);
}

static void several_in_flight(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/b.jsonl", th_tmpdir());
    cmd c = {.fatal_at = -1};
    ur_err err = {{0}};
    ur_job_params p = {.out = path, .name = "test", .ops = {c_start, c_finish, NULL, c_drop}, .user = &c};
    c.job = ur_job_new(&p);
    for (int u = 0; u < NU; u++) {
        char key[8];
        snprintf(key, sizeof key, "%d", u);
        ur_job_add(c.job, key, -1);
    }
    fake_exec *x = fake_new(4);
    REQUIRE(!ur_job_open(c.job, &err) && !ur_job_run(c.job, &x->base, &err));
    CHECK(x->most_out == 4 && c.recorded_order[0] != 0); /* four out at once, back out of order */
    ur_exec_free(&x->base);
    ur_job_free(c.job);
}

static void resume_rules(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/c.jsonl", th_tmpdir());
    cmd c = {.fatal_at = -1, .config = "{\"seed\":1,\"model\":\"m\"}"};
    ur_err err = {{0}};
    REQUIRE(!run_job(&c, path, 2, &err));
    ur_job_free(c.job);
    /* another config: refused, naming the line and the key; the file is not touched */
    cmd d = {.fatal_at = -1, .config = "{\"seed\":2,\"model\":\"m\"}"};
    CHECK(run_job(&d, path, 2, &err) && strstr(err.msg, "test: ") &&
          strstr(err.msg, "line 1 was made with another seed (1, now 2)") && lines(path) == NU && !d.started[0]);
    ur_job_free(d.job);
    /* a torn last line (a write cut short): dropped with a note, its unit done again */
    int fd = open(path, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "{\"id\":99,\"v\"", 12) == 12);
    close(fd);
    /* and one record redone: removed from the file first, then recorded again */
    redo_unit = 4;
    notes[0] = 0;
    cmd e = {.fatal_at = -1, .config = c.config};
    REQUIRE(!run_job(&e, path, 2, &err));
    const ur_job_progress *p = ur_job_get_progress(e.job);
    CHECK(p->kept == NU - 1 && p->recorded == 1 && e.started[4] == 1 && lines(path) == NU);
    CHECK(strstr(notes, "incomplete last line") && strstr(notes, "1 record will be done again"));
    ur_job_free(e.job);
    redo_unit = -1;
    /* a record the command refuses: the run stops before anything is done */
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, "{\"id\":\"x\",\"refuse\":1,\"config\":{\"seed\":1,\"model\":\"m\"}}\n", 54) == 54);
    close(fd);
    cmd f = {.fatal_at = -1, .config = c.config};
    CHECKF(run_job(&f, path, 2, &err) && strstr(err.msg, "refused"), "%s", err.msg);
    ur_job_free(f.job);
}

static void fatal_leaves_nothing_behind(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/d.jsonl", th_tmpdir());
    cmd c = {.fatal_at = 6};
    ur_err err = {{0}};
    CHECK(run_job(&c, path, 3, &err) && strstr(err.msg, "unit 6: fatal"));
    CHECK(c.live == 0 && c.dropped >= 1); /* tasks out or waiting were dropped */
    const ur_job_progress *p = ur_job_get_progress(c.job);
    CHECK(lines(path) == p->recorded && p->recorded < NU);
    ur_job_free(c.job);
}

int main(void) {
    th_suite = "job";
    RUN(selection);
    RUN(every_unit_once_out_of_order);
    RUN(several_in_flight);
    RUN(resume_rules);
    RUN(fatal_leaves_nothing_behind);
    TEST_MAIN_END();
}
