/* `urial run` as a job (include/urial/run.h): units, the conversation of a unit,
 * its record, and the checks that make a resumed file trustworthy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"
#include "urial/run.h"

typedef struct unit {
    int item;
    int turn; /* 0: a single-turn item; t >= 1: MT-Bench turn t */
} unit;

typedef struct run_task {
    ur_gen_task g; /* first: what the executor sees */
    ur_conv conv;
    ur_buf key;
} run_task;

typedef struct runner {
    const ur_run_params *p;
    ur_job *job;
    ur_gen_params gp; /* p->gp with the format's decoding applied */
    json_t *config;
    unit *units;
    int n_units;
} runner;

/* ---- the config ------------------------------------------------------------------------ */
static json_t *make_config(const ur_run_params *p, const ur_gen_params *gp) {
    json_t *c = json_object();
    json_object_set_new(c, "model", json_string(ur_base_name(p->model)));
    if (p->model_size) json_object_set_new(c, "model_size", json_integer((json_int_t)p->model_size));
    else /* model: the name on the server */
        json_object_set_new(c, "backend", json_string(p->fmt ? "openai" : "openai-chat"));
    size_t plen;
    const char *ptext = p->fmt ? ur_chat_urial_prompt(p->fmt, &plen) : NULL;
    const char *kind = p->fmt ? ur_chat_kind_name(p->fmt) : "chat-api";
    json_object_set_new(c, "prompt", json_string(p->fmt ? ur_base_name(ur_chat_name(p->fmt)) : "server"));
    json_object_set_new(c, "prompt_kind", json_string(kind));
    if (ptext && !strcmp(kind, "urial")) {
        char hex[20];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ur_hash64(ptext, plen, UR_HASH64_INIT));
        json_object_set_new(c, "prompt_hash", json_string(hex));
    }
    /* the baselines' parameters: the legacy format, the pool and k, the answer prefixes */
    if (p->fmt) {
        ur_buf params = {0};
        ur_chat_params_json(p->fmt, &params);
        json_t *pj = json_loads(params.data, 0, NULL);
        json_object_update(c, pj);
        json_decref(pj);
        ur_buf_free(&params);
    }
    const ur_sampler_params *s = &gp->sampler;
    json_object_set_new(c, "temp", ur_json_real6(s->temp));
    json_object_set_new(c, "top_k", json_integer(s->top_k));
    json_object_set_new(c, "top_p", ur_json_real6(s->top_p));
    json_object_set_new(c, "min_p", ur_json_real6(s->min_p));
    json_object_set_new(c, "repeat_penalty", ur_json_real6(s->repeat_penalty));
    json_object_set_new(c, "repeat_last_n", json_integer(s->repeat_last_n));
    json_object_set_new(c, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(c, "max_tokens", json_integer(gp->max_tokens));
    return c;
}

static ur_gen_params resolved(const ur_run_params *p) {
    ur_gen_params gp = p->gp;
    if (p->fmt) ur_chat_decoding(p->fmt, &gp.sampler); /* a chat API: the server's defaults */
    return gp;
}

char *ur_run_config(const ur_run_params *p) {
    ur_gen_params gp = resolved(p);
    json_t *c = make_config(p, &gp);
    char *s = json_dumps(c, UR_JSON_FLAGS);
    json_decref(c);
    return s;
}

/* ---- a unit --------------------------------------------------------------------------- */
static const char *turn_text(const ur_item *it, int turn) { return it->turns[turn ? turn - 1 : 0]; }

/* The conversation of a unit: earlier MT-Bench turns (the question and our answer
 * to it, from the file) and this turn's question. -1 (told) when an earlier turn has
 * no answer. */
static int unit_conv(runner *r, const unit *u, ur_conv *conv) {
    const ur_item *it = &r->p->ds->items[u->item];
    int t = u->turn ? u->turn : 1;
    ur_buf kk = {0};
    for (int k = 1; k < t; k++) {
        kk.len = 0;
        ur_record_key(it->id, k, &kk);
        const char *line = ur_job_record_line(r->job, kk.data);
        json_t *rec = line ? json_loads(line, 0, NULL) : NULL, *out = json_object_get(rec, "output");
        if (!json_is_string(out)) {
            json_decref(rec);
            ur_job_note(r->job, "run: %s: item %s: turn %d skipped: turn %d has no answer", r->p->ds->path, it->id, t,
                        k);
            ur_buf_free(&kk);
            return -1;
        }
        ur_conv_add(conv, UR_ROLE_USER, it->turns[k - 1], strlen(it->turns[k - 1]));
        ur_conv_add(conv, UR_ROLE_ASSISTANT, json_string_value(out), json_string_length(out));
        json_decref(rec);
    }
    ur_buf_free(&kk);
    ur_conv_add(conv, UR_ROLE_USER, it->turns[t - 1], strlen(it->turns[t - 1]));
    return 0;
}

static void task_free(run_task *t) {
    if (!t) return;
    ur_gen_task_free(&t->g);
    ur_conv_free(&t->conv);
    ur_buf_free(&t->key);
    free(t);
}

static int start(void *user, int i, void **tasks, ur_err *err) {
    (void)err;
    runner *r = user;
    const unit *u = &r->units[i];
    run_task *t = ur_xcalloc(1, sizeof *t);
    ur_record_key(r->p->ds->items[u->item].id, u->turn, &t->key);
    if (unit_conv(r, u, &t->conv)) {
        task_free(t);
        return 0;
    }
    t->g.msgs = t->conv.msgs;
    t->g.n_msgs = t->conv.n;
    t->g.gp = r->gp;
    t->g.gp.sampler.seed = r->gp.sampler.seed ^ ur_hash64_str(t->key.data);
    tasks[0] = t;
    return 1;
}

/* The answer into the record: "output", and with the baselines what they add —
 * "retrieved" (the examples' ids, most similar first), or "prefix" and
 * "continuation" (the output is prefix + " " + continuation, as the authors join them). */
static void put_output(runner *r, const run_task *t, json_t *rec) {
    const ur_gen_task *g = &t->g;
    const ur_msg *q = &t->conv.msgs[t->conv.n - 1];
    const char *text = g->text.data ? g->text.data : "";
    ur_buf b = {0};
    const ur_chat *f = r->p->fmt; /* NULL: a chat API formats the prompt */
    if (f && ur_chat_retrieved(f, q->content, q->len, &b)) json_object_set_new(rec, "retrieved", json_loads(b.data, 0, NULL));
    b.len = 0;
    if (f && ur_chat_answer_prefix(f, q->content, q->len, &b) == 1) {
        ur_buf joined = {0};
        ur_chat_join_answer(b.data, b.len, text, g->text.len, &joined);
        json_object_set_new(rec, "output", ur_json_text(joined.data, joined.len));
        json_object_set_new(rec, "prefix", ur_json_text(b.data, b.len));
        json_object_set_new(rec, "continuation", ur_json_text(text, g->text.len));
        ur_buf_free(&joined);
    } else {
        json_object_set_new(rec, "output", ur_json_text(text, g->text.len));
    }
    ur_buf_free(&b);
}

/* The record of a unit answered in t. */
static char *make_record(runner *r, const unit *u, const run_task *t) {
    const ur_item *it = &r->p->ds->items[u->item];
    const ur_gen_task *g = &t->g;
    /* the id first, then the input's fields in their order (MT-Bench's "turns" aside:
     * "instruction" holds this turn), then ours */
    json_t *rec = json_object(), *in = json_loads(it->fields, 0, NULL), *v;
    const char *k;
    json_object_set_new(rec, "id", json_loads(it->id, JSON_DECODE_ANY, NULL));
    json_object_foreach(in, k, v) if (strcmp(k, "id") && !(u->turn && !strcmp(k, "turns"))) json_object_set(rec, k, v);
    json_decref(in);
    json_object_set_new(rec, "instruction", json_string(turn_text(it, u->turn)));
    put_output(r, t, rec);
    json_object_set_new(rec, "generator", json_string(r->p->generator));
    if (u->turn > 1) {
        json_t *h = json_array();
        for (int m = 0; m < t->conv.n - 1; m++) {
            json_t *msg = json_object();
            json_object_set_new(msg, "role", json_string(ur_role_name(t->conv.msgs[m].role)));
            json_object_set_new(msg, "content", ur_json_text(t->conv.msgs[m].content, t->conv.msgs[m].len));
            json_array_append_new(h, msg);
        }
        json_object_set_new(rec, "history", h);
    }
    json_object_set_new(rec, "input_index", json_integer(it->index));
    if (u->turn) json_object_set_new(rec, "turn", json_integer(u->turn));
    json_object_set(rec, "config", r->config);
    json_t *st = json_object();
    json_object_set_new(st, "prompt_tokens", json_integer(g->n_prompt));
    json_object_set_new(st, "cached_tokens", json_integer(g->n_cached));
    json_object_set_new(st, "output_tokens", json_integer(g->n_gen));
    json_object_set_new(st, "stop", json_string(ur_stop_reason_name(g->stop_reason)));
    if (r->p->model_size) {
        json_object_set_new(st, "prompt_s", json_real(g->t_prompt));
        json_object_set_new(st, "gen_s", json_real(g->t_gen));
        json_object_set_new(st, "n_ctx", json_integer(r->p->n_ctx));
    } else {
        json_object_set_new(st, "request_s", json_real(g->t_request));
    }
    json_object_set_new(rec, "stats", st);
    char *line = json_dumps(rec, UR_JSON_FLAGS);
    json_decref(rec);
    return line;
}

static int finish(void *user, int i, int k, void *task, const char *why, ur_buf *rec, ur_err *err) {
    (void)k;
    runner *r = user;
    const unit *u = &r->units[i];
    run_task *t = task;
    const char *id = r->p->ds->items[u->item].id;
    int rc = UR_JOB_RECORD;
    if (why) {
        char turn[32] = "";
        if (u->turn) snprintf(turn, sizeof turn, " turn %d", u->turn);
        if (t->g.too_long) ur_job_note(r->job, "run: item %s%s skipped: %s (use a larger --ctx)", id, turn, why);
        else ur_job_note(r->job, "run: item %s%s failed: %s", id, turn, why);
        rc = UR_JOB_SKIP;
    } else {
        char *line = make_record(r, u, t);
        if (!line) return ur_errf(err, "run: item %s: cannot encode its record", id);
        ur_buf_puts(rec, line);
        free(line);
        ur_job_count(r->job, t->g.n_gen, 0); /* the rate: tokens over the run's wall time (answers overlap) */
    }
    task_free(t);
    return rc;
}

static void drop(void *user, int i, void *task) {
    (void)user, (void)i;
    task_free(task);
}

/* A record already in the file for a unit of this run must answer the same
 * instruction: an --out left from another dataset with the same ids is refused. */
static int check(void *user, int i, const ur_record *rec, ur_err *err) {
    runner *r = user;
    if (i < 0) return UR_JOB_KEEP;
    const unit *u = &r->units[i];
    const ur_item *it = &r->p->ds->items[u->item];
    json_t *o = json_loads(rec->json, 0, NULL), *ins = json_object_get(o, "instruction");
    int same = json_is_string(ins) && !strcmp(json_string_value(ins), turn_text(it, u->turn));
    json_decref(o);
    if (same) return UR_JOB_KEEP;
    return ur_errf(err, "run: %s: line %d (id %.64s) answers another instruction than the dataset's item with that "
                        "id; use another --out", r->p->out, rec->line, it->id);
}

/* ---- the run ------------------------------------------------------------------------- */
int ur_run(const ur_run_params *p, ur_exec *x, ur_job_progress *summary, ur_err *err) {
    const ur_dataset *ds = p->ds;
    runner r = {.p = p, .gp = resolved(p)};
    r.config = make_config(p, &r.gp);
    char *cfg = json_dumps(r.config, UR_JSON_FLAGS);
    ur_job_params jp = {.out = p->out, .name = "run", .config = cfg, .made = "generated",
                        .ops = {start, finish, check, drop}, .user = &r,
                        .progress = p->progress, .note = p->note, .hook_user = p->hook_user};
    r.job = ur_job_new(&jp);
    const int mt = ds->format == UR_DATA_MT_BENCH;
    r.units = ur_xmalloc(sizeof *r.units * ((size_t)ds->n * (mt ? 64 : 1) + 1));
    ur_buf key = {0};
    for (int i = 0; i < ds->n; i++) {
        if (!ur_job_selects(&p->sel, i)) continue;
        int turns = mt ? ds->items[i].n_turns : 1, prev = -1;
        if (mt && p->mt_turns > 0 && turns > p->mt_turns) turns = p->mt_turns;
        for (int t = 1; t <= turns && t <= 64; t++) {
            r.units[r.n_units] = (unit){i, mt ? t : 0};
            key.len = 0;
            ur_record_key(ds->items[i].id, mt ? t : 0, &key);
            prev = ur_job_add(r.job, key.data, prev);
            r.n_units++;
        }
    }
    ur_buf_free(&key);
    int rc = ur_job_open(r.job, err);
    if (!rc) {
        const ur_job_progress *pg = ur_job_get_progress(r.job);
        ur_job_note(r.job, "run: %s: %d items (%s)%s; %d %s in this selection, %d already in %s, %d to generate",
                    ds->path, ds->n, ur_data_format_name(ds->format), p->sel.shard_n > 1 ? ", sharded" : "",
                    r.n_units, mt ? "turns" : "items", pg->kept, p->out, ur_job_todo(r.job));
        rc = ur_job_run(r.job, x, err);
    }
    if (summary) *summary = *ur_job_get_progress(r.job);
    ur_job_free(r.job);
    json_decref(r.config);
    free(cfg);
    free(r.units);
    return rc;
}
