/* Judging files on the job runner (include/urial/job.h): every selected item is a
 * unit with one or two judge tasks (scoring: one; pairwise: A first, then B first,
 * or, in random order, one task showing the pair in the order a seeded coin gives);
 * an answer that does not parse is asked again up to p->reask times, and each unit
 * ends as one record appended to the output file, judged or with its "error".
 * Resume: records already in the file that were judged with the same prompt(s) are
 * kept and their items skipped; failed ones, and ones made with another prompt, are
 * removed first and judged again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pyrandom.h"
#include "eval/eval_int.h"
#include "urial/job.h"
#include "urial/results.h"

void ur_eval_defaults(ur_eval_params *p) {
    memset(p, 0, sizeof *p);
    p->mode = UR_JUDGE_MULTI;
    p->reask = 2;
    p->order = UR_ORDER_BOTH;
    p->seed = 42;
}

typedef struct job {
    ur_judge_task task; /* first: what the executor sees */
    int unit;   /* the item's unit */
    int order;  /* pairwise: 0 = A shown first, 1 = B first (swapped) */
    ur_buf prompt;
    const ur_judge_tmpl *tmpl;
    int asks;   /* answers received */
    int done;
    json_t *parsed;
    char *result; /* the extracted answer (judged) or the raw last answer */
    char *error;
} job;

typedef struct unit {
    int item, item_b; /* indices into items (and items_b) */
    int mode;         /* UR_JUDGE_* */
    int n_jobs, n_done;
    job *jobs[2];
} unit;

typedef struct runner {
    const ur_eval_params *p;
    ur_judge *judge;
    int pairwise;
    int random_order; /* pairwise: one judgment per pair, order by coin */
    ur_eval_items a, b;
    json_t *b_by_id;  /* pairwise: id key -> index in b */
    unit *units;
    int n_units;
    job *jobs;
    int n_jobs;
    json_t *want;     /* id key -> the prompt(s) judging now would use */
    ur_job *job;
    ur_eval_progress prog;
} runner;

static void report(runner *r) {
    r->prog.stats = ur_judge_get_stats(r->judge);
    if (r->p->progress) r->p->progress(r->p->progress_user, &r->prog);
}

static void on_progress(void *user, const ur_job_progress *p) {
    runner *r = user;
    r->prog.kept = p->kept;
    report(r);
}

static void on_note(void *user, const char *line) {
    runner *r = user;
    if (r->p->note) r->p->note(r->p->progress_user, line);
}

/* ---- records ------------------------------------------------------------------------------- */

static json_t *eval_config(runner *r, const unit *u) {
    const ur_judge_tmpl *t = u->jobs[0]->tmpl;
    json_t *c = json_pack("{s:s,s:s,s:i,s:s}", "mode", ur_judge_mode_name(u->mode), "gpt", ur_judge_model(r->judge),
                          "max_words", -1, "template", ur_judge_tmpl_name(t));
    if (!ur_judge_scale_is_default(&ur_judge_tmpl_schema(t)->scale))
        json_object_set_new(c, "scale", ur_judge_scale_json(&ur_judge_tmpl_schema(t)->scale));
    if (r->random_order) {
        json_object_set_new(c, "order", json_string("random"));
        json_object_set_new(c, "seed", json_integer((json_int_t)r->p->seed));
    }
    return c;
}

static void copy_fields(json_t *rec, const ur_eval_item *it) {
    if (it->dataset) json_object_set_new(rec, "dataset", json_string(it->dataset));
    if (it->category) json_object_set_new(rec, "category", json_string(it->category));
    json_t *sid = json_object_get(it->fields, "source_id");
    if (sid) json_object_set(rec, "source_id", sid);
}

static const char *generator_of(const ur_eval_item *it, const char *path, ur_buf *tmp) {
    if (it->generator) return it->generator;
    const char *b = ur_base_name(path), *dot = strrchr(b, '.');
    tmp->len = 0;
    ur_buf_put(tmp, b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
    return tmp->data;
}

static void put_judgment(json_t *rec, const job *jb, const char *suffix) {
    char k[64];
    snprintf(k, sizeof k, "prompt%s", suffix);
    json_object_set_new(rec, k, json_string(jb->prompt.data));
    snprintf(k, sizeof k, "result%s", suffix);
    json_object_set_new(rec, k, ur_eval_jstr(jb->result ? jb->result : "N/A"));
    if (jb->parsed) {
        snprintf(k, sizeof k, "parsed_result%s", suffix);
        json_object_set(rec, k, jb->parsed);
    }
}

/* The pairwise outcome for A per aspect: the verdicts of both orders summed, or
 * the one verdict, turned round when B was shown first. */
static json_t *outcome(const unit *u) {
    const ur_judge_schema *s = ur_judge_tmpl_schema(u->jobs[0]->tmpl);
    int v0[UR_JUDGE_MAX_ASPECTS], v1[UR_JUDGE_MAX_ASPECTS] = {0}, total = 0, has_overall = 0;
    ur_judge_verdicts(s, u->jobs[0]->parsed, v0);
    if (u->n_jobs == 2) ur_judge_verdicts(s, u->jobs[1]->parsed, v1); /* here +1 means B (shown first) is better */
    int sign = u->n_jobs == 1 && u->jobs[0]->order ? -1 : 1;
    json_t *o = json_object();
    for (int i = 0; i < s->n_aspects; i++) {
        int sum = sign * v0[i] - v1[i];
        total += sum;
        has_overall |= !strcmp(s->aspects[i], "overall");
        json_object_set_new(o, s->aspects[i], json_string(sum > 0 ? "win" : sum < 0 ? "lose" : "tie"));
    }
    if (!has_overall) /* the template asks for none: the sum over all aspects decides */
        json_object_set_new(o, "overall", json_string(total > 0 ? "win" : total < 0 ? "lose" : "tie"));
    return o;
}

static void write_unit(runner *r, unit *u, ur_buf *out) {
    const ur_eval_item *a = &r->a.items[u->item];
    ur_buf g = {0};
    json_t *rec = json_object();
    json_object_set(rec, "id", a->id);
    json_object_set_new(rec, "input", json_string(a->instruction));
    const char *error = NULL;
    for (int i = 0; i < u->n_jobs; i++)
        if (u->jobs[i]->error && !error) error = u->jobs[i]->error;
    if (!r->pairwise) {
        json_object_set_new(rec, "output_cand", json_string(a->output));
        json_object_set_new(rec, "generator_cand", json_string(generator_of(a, r->p->in, &g)));
        json_object_set_new(rec, "eval_config", eval_config(r, u));
        put_judgment(rec, u->jobs[0], "");
    } else {
        const ur_eval_item *b = &r->b.items[u->item_b];
        json_object_set_new(rec, "output_A", json_string(a->output));
        json_object_set_new(rec, "output_B", json_string(b->output));
        json_object_set_new(rec, "generator_A", json_string(generator_of(a, r->p->in, &g)));
        json_object_set_new(rec, "generator_B", json_string(generator_of(b, r->p->in_b, &g)));
        json_object_set_new(rec, "eval_config", eval_config(r, u));
        if (r->random_order) { /* the URIAL authors' keys: which generator was shown as A and as B */
            int sw = u->jobs[0]->order;
            json_t *ga = json_object_get(rec, "generator_A"), *gb = json_object_get(rec, "generator_B");
            json_object_set_new(rec, "swapped", json_boolean(sw));
            json_object_set_new(rec, "assignment", json_pack("{s:O,s:O}", "A", sw ? gb : ga, "B", sw ? ga : gb));
        }
        put_judgment(rec, u->jobs[0], "");
        if (u->n_jobs == 2) put_judgment(rec, u->jobs[1], "_swapped");
        if (!error) json_object_set_new(rec, "outcome", outcome(u));
    }
    copy_fields(rec, a);
    int asks = 0;
    for (int i = 0; i < u->n_jobs; i++) asks += u->jobs[i]->asks;
    json_object_set_new(rec, "asks", json_integer(asks));
    if (error) json_object_set_new(rec, "error", ur_eval_jstr(error));
    char *line = ur_eval_dump(rec);
    ur_buf_puts(out, line);
    free(line);
    json_decref(rec);
    ur_buf_free(&g);
    error ? r->prog.failed++ : r->prog.judged++;
}

/* ---- the job's callbacks --------------------------------------------------------------------- */
static int start(void *user, int i, void **tasks, ur_err *err) {
    (void)err;
    runner *r = user;
    unit *u = &r->units[i];
    for (int o = 0; o < u->n_jobs; o++) {
        job *jb = u->jobs[o];
        jb->task.prompt = jb->prompt.data;
        jb->task.schema = ur_judge_tmpl_schema(jb->tmpl);
        tasks[o] = jb;
    }
    return u->n_jobs;
}

static int finish(void *user, int i, int k, void *task, const char *why, ur_buf *rec, ur_err *err) {
    (void)k, (void)err;
    runner *r = user;
    job *jb = task;
    unit *u = &r->units[i];
    if (!why) {
        jb->asks++;
        r->prog.asks++;
        ur_buf x = {0};
        ur_err perr;
        const ur_buf *ans = &jb->task.answer;
        json_t *parsed = ur_judge_parse_json(jb->task.schema, ans->data ? ans->data : "", ans->len, &x, &perr);
        free(jb->result);
        if (parsed) {
            jb->parsed = parsed;
            jb->result = x.data;
        } else {
            ur_buf_free(&x);
            jb->result = ur_xstrndup(ans->data ? ans->data : "", ans->len);
            if (jb->asks <= r->p->reask) { /* ask again */
                report(r);
                return UR_JOB_AGAIN;
            }
            ur_buf e = {0};
            ur_buf_printf(&e, "the judge's answer could not be used after %d asks: %s", jb->asks, perr.msg);
            jb->error = e.data;
        }
    } else {
        jb->error = ur_xstrdup(why);
    }
    jb->done = 1;
    if (++u->n_done < u->n_jobs) return UR_JOB_PENDING;
    write_unit(r, u, rec);
    return UR_JOB_RECORD;
}

/* A record of urial eval (or just-eval) of the right kind? */
static int judge_record(const json_t *o, int pairwise) {
    const char *mode = json_string_value(json_object_get(json_object_get(o, "eval_config"), "mode"));
    if (!mode || !json_is_string(json_object_get(o, "prompt"))) return 0;
    return pairwise == !strncmp(mode, "pairwise", 8);
}

/* Every record must be one of urial eval's, of this kind (a file of other records,
 * e.g. urial run's outputs given as --out by mistake, is refused, never rewritten);
 * one of this run's units is judged again when it failed or used other prompts. */
static int check(void *user, int i, const ur_record *rec, ur_err *err) {
    runner *r = user;
    json_t *o = json_loads(rec->json, 0, NULL);
    int rc = UR_JOB_KEEP;
    if (!judge_record(o, r->pairwise)) {
        rc = ur_errf(err, "%s: line %d is not a %s record of urial eval (no \"prompt\" or \"eval_config\", or "
                          "another mode); use another --out", r->p->out, rec->line, r->pairwise ? "pairwise" : "score");
    } else if (i >= 0) {
        char *key = ur_eval_id_key(json_object_get(o, "id"));
        json_t *want = json_object_get(r->want, key);
        free(key);
        /* a record of the other order mode is judged again (a random-order record
         * has no prompt_swapped; one with the same prompt must agree on the swap) */
        json_t *sw = json_object_get(o, "swapped"), *want_sw = json_array_get(want, 1);
        if (json_object_get(o, "error") || !json_is_object(json_object_get(o, "parsed_result")) ||
            !json_equal(json_object_get(o, "prompt"), json_array_get(want, 0)) ||
            (r->pairwise && (!json_is_object(json_object_get(o, "outcome")) ||
                             (r->random_order ? !sw || !json_equal(sw, want_sw)
                                              : !json_equal(json_object_get(o, "prompt_swapped"), want_sw)))))
            rc = UR_JOB_REDO;
    }
    json_decref(o);
    return rc;
}

/* ---- setting up ---------------------------------------------------------------------------- */
static int item_mode(const runner *r, const ur_eval_item *it) {
    if (r->pairwise) return UR_JUDGE_PAIRWISE;
    if (r->p->mode != UR_EVAL_AUTO) return r->p->mode;
    return ur_eval_is_red_team(it->category, it->dataset) ? UR_JUDGE_SAFETY : UR_JUDGE_MULTI;
}

static int selected(const runner *r, const ur_eval_item *it) {
    int red = ur_eval_is_red_team(it->category, it->dataset);
    return r->p->only == UR_ONLY_ALL || (r->p->only == UR_ONLY_RED_TEAM) == red;
}

static int add_units(runner *r, const char *swap, ur_err *err);

static int setup(runner *r, ur_err *err) {
    const ur_eval_params *p = r->p;
    if (ur_eval_items_load(p->in, &r->a, err)) return -1;
    if (r->pairwise) {
        if (ur_eval_items_load(p->in_b, &r->b, err)) return -1;
        r->b_by_id = json_object();
        for (int i = 0; i < r->b.n; i++) {
            char *k = ur_eval_id_key(r->b.items[i].id);
            json_object_set_new(r->b_by_id, k, json_integer(i));
            free(k);
        }
    }
    /* random order: one coin per item of the A file, in file order, whatever the
     * selection, so that --limit and shards show each pair as the whole run does */
    char *swap = ur_xcalloc((size_t)r->a.n + 1, 1);
    if (r->random_order) {
        ur_pyrandom rng;
        ur_pyrandom_seed(&rng, p->seed);
        for (int i = 0; i < r->a.n; i++) swap[i] = !(ur_pyrandom_random(&rng) < 0.5);
    }
    int rc = add_units(r, swap, err);
    free(swap);
    return rc;
}

/* The units of the selected items, their jobs and the prompts they use (r->want). */
static int add_units(runner *r, const char *swap, ur_err *err) {
    const ur_eval_params *p = r->p;
    r->units = ur_xcalloc((size_t)r->a.n + 1, sizeof *r->units);
    r->jobs = ur_xcalloc(2 * (size_t)r->a.n + 1, sizeof *r->jobs);
    r->want = json_object();
    /* the selection: --only, then --limit over those, then the shard */
    const ur_job_select sel = {p->limit > 0 ? p->limit : -1, p->shard_i, p->shard_n};
    for (int i = 0, pos = 0; i < r->a.n; i++) {
        const ur_eval_item *it = &r->a.items[i];
        if (!selected(r, it) || !ur_job_selects(&sel, pos++)) continue;
        unit *u = &r->units[r->n_units];
        u->item = i;
        u->mode = item_mode(r, it);
        char *key = ur_eval_id_key(it->id);
        const ur_eval_item *b = NULL;
        if (r->pairwise) {
            json_t *bi = json_object_get(r->b_by_id, key);
            if (!bi) {
                ur_errf(err, "%s: no item with id %.40s (it is in %s)", p->in_b, key, p->in);
                free(key);
                return -1;
            }
            u->item_b = (int)json_integer_value(bi);
            b = &r->b.items[u->item_b];
            if (strcmp(b->instruction, it->instruction)) {
                ur_errf(err, "%s: item %.40s has another instruction than in %s", p->in_b, key, p->in);
                free(key);
                return -1;
            }
        }
        const ur_judge_tmpl *t = u->mode == UR_JUDGE_SAFETY && p->mode == UR_EVAL_AUTO ? p->tmpl_safety : p->tmpl;
        json_t *prompts = json_array();
        u->n_jobs = r->pairwise && !r->random_order ? 2 : 1;
        for (int o = 0; o < u->n_jobs; o++) {
            job *jb = &r->jobs[r->n_jobs + o];
            jb->unit = r->n_units;
            jb->order = r->random_order ? swap[i] : o;
            jb->tmpl = t;
            if (!r->pairwise) ur_judge_render(t, it->instruction, it->output, NULL, &jb->prompt);
            else if (!jb->order) ur_judge_render(t, it->instruction, it->output, b->output, &jb->prompt);
            else ur_judge_render(t, it->instruction, b->output, it->output, &jb->prompt);
            json_array_append_new(prompts, json_string(jb->prompt.data));
            u->jobs[o] = jb;
        }
        if (r->random_order) json_array_append_new(prompts, json_boolean(swap[i]));
        json_object_set_new(r->want, key, prompts);
        ur_job_add(r->job, key, -1);
        free(key);
        r->n_jobs += u->n_jobs;
        r->n_units++;
    }
    r->prog.total = r->n_units;
    return 0;
}

static void cleanup(runner *r) {
    for (int i = 0; i < r->n_jobs; i++) {
        job *jb = &r->jobs[i];
        ur_buf_free(&jb->prompt), ur_buf_free(&jb->task.answer);
        json_decref(jb->parsed);
        free(jb->result), free(jb->error);
    }
    free(r->jobs), free(r->units);
    json_decref(r->want), json_decref(r->b_by_id);
    ur_eval_items_free(&r->a), ur_eval_items_free(&r->b);
    ur_job_free(r->job);
}

static int judge_files(ur_judge *j, const ur_eval_params *p, int pairwise, ur_eval_progress *summary, ur_err *err) {
    runner r = {.p = p, .judge = j, .pairwise = pairwise, .random_order = pairwise && p->order == UR_ORDER_RANDOM};
    int rc = -1;
    ur_exec *x = NULL;
    if (!p->tmpl || (p->mode == UR_EVAL_AUTO && !p->tmpl_safety)) {
        ur_errf(err, "eval: no judge template");
        goto out;
    }
    ur_job_params jp = {.out = p->out, .name = pairwise ? "eval pairwise" : "eval score", .ops = {start, finish, check, NULL},
                        .user = &r, .progress = on_progress, .note = on_note, .hook_user = &r};
    r.job = ur_job_new(&jp);
    if (setup(&r, err) || ur_job_open(r.job, err)) goto out;
    x = ur_judge_exec_new(j);
    rc = ur_job_run(r.job, x, err);
    report(&r);
out:
    if (summary) *summary = r.prog, summary->stats = ur_judge_get_stats(j);
    ur_exec_free(x);
    cleanup(&r);
    return rc;
}

/* ---- the judge as an executor --------------------------------------------------------------- */
typedef struct judge_exec {
    ur_exec_adapter a;
    ur_judge *judge;
} judge_exec;

static int je_next(void *user, long *tag, const char **prompt, const ur_judge_schema **schema) {
    ur_judge_task *jt = ur_exec_adapter_take(user, tag);
    if (!jt) return 0;
    *prompt = jt->prompt;
    *schema = jt->schema;
    return 1;
}

static int je_done(void *user, long tag, const char *text, size_t len, const char *why, ur_err *err) {
    ur_judge_task *jt = ur_exec_adapter_task(tag);
    jt->answer.len = 0;
    if (text) ur_buf_put(&jt->answer, text, len);
    return ur_exec_adapter_give(user, tag, text ? NULL : why ? why : "the request failed", err);
}

static int je_run(ur_exec *x, ur_exec_next_fn next, ur_exec_done_fn done, void *user, ur_err *err) {
    judge_exec *e = (judge_exec *)x;
    ur_exec_adapter_begin(&e->a, next, done, user);
    return ur_judge_run(e->judge, je_next, je_done, &e->a, err);
}

ur_exec *ur_judge_exec_new(ur_judge *j) {
    judge_exec *e = ur_xcalloc(1, sizeof *e);
    e->a.base = (ur_exec){.slots = 1, .run = je_run, .free = ur_exec_free_block};
    e->judge = j;
    return &e->a.base;
}

/* --mode auto with two judges (the paper's split): the regular items on the five
 * aspects with j, then the red-team items on safety with p->judge_safety, into the
 * same file (each pass keeps the other's records); --limit and --shard apply to
 * each group. */
static int score_split(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err) {
    ur_eval_progress s[2] = {{0}, {0}};
    int rc = 0;
    if (p->only != UR_ONLY_RED_TEAM) {
        ur_eval_params a = *p;
        a.mode = UR_JUDGE_MULTI, a.only = UR_ONLY_REGULAR;
        rc = judge_files(j, &a, 0, &s[0], err);
    }
    if (!rc && p->only != UR_ONLY_REGULAR) {
        ur_eval_params b = *p;
        b.mode = UR_JUDGE_SAFETY, b.only = UR_ONLY_RED_TEAM, b.tmpl = p->tmpl_safety;
        rc = judge_files(p->judge_safety, &b, 0, &s[1], err);
    }
    if (summary) {
        *summary = s[0];
        summary->total += s[1].total, summary->kept += s[1].kept, summary->judged += s[1].judged;
        summary->failed += s[1].failed, summary->asks += s[1].asks;
        summary->stats = ur_judge_get_stats(j);
    }
    return rc;
}

int ur_eval_score(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err) {
    if (p->mode != UR_EVAL_AUTO && p->mode != UR_JUDGE_MULTI && p->mode != UR_JUDGE_SAFETY)
        return ur_errf(err, "eval score: the mode must be multi, safety or auto");
    if (p->mode == UR_EVAL_AUTO && p->judge_safety && p->judge_safety != j) {
        if (!p->tmpl || !p->tmpl_safety) return ur_errf(err, "eval: no judge template");
        return score_split(j, p, summary, err);
    }
    return judge_files(j, p, 0, summary, err);
}

int ur_eval_pairwise(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err) {
    if (!p->in_b) return ur_errf(err, "eval pairwise: no B file");
    return judge_files(j, p, 1, summary, err);
}
