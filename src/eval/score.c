/* Judging files: every selected item becomes one or two judge requests (scoring:
 * one; pairwise: A first, then B first), answers are parsed and checked, an
 * unparsable answer is asked again up to p->reask times, and each item ends as one
 * record appended to the output file, judged or with its "error". Resume: records
 * already in the file that were judged with the same prompt(s) are kept and their
 * items skipped; failed ones, and ones made with another prompt, are removed first
 * and judged again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"
#include "urial/results.h"

void ur_eval_defaults(ur_eval_params *p) {
    memset(p, 0, sizeof *p);
    p->mode = UR_JUDGE_MULTI;
    p->reask = 2;
}

typedef struct job {
    int unit;   /* the item's unit */
    int order;  /* pairwise: 0 = A shown first, 1 = B first */
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
    ur_eval_items a, b;
    json_t *b_by_id;  /* pairwise: id key -> index in b */
    unit *units;
    int n_units;
    job *jobs;
    int n_jobs;
    int *queue, q_head, q_tail; /* jobs ready to be sent (a ring of n_jobs + 1) */
    json_t *want;     /* id key -> the prompt(s) judging now would use */
    ur_results *out;
    ur_eval_progress prog;
} runner;

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void push(runner *r, int j) {
    r->queue[r->q_tail] = j;
    r->q_tail = (r->q_tail + 1) % (r->n_jobs + 1);
}

static void report(runner *r) {
    r->prog.stats = ur_judge_get_stats(r->judge);
    if (r->p->progress) r->p->progress(r->p->progress_user, &r->prog);
}

/* ---- records ------------------------------------------------------------------------------- */

static json_t *eval_config(runner *r, const unit *u) {
    const ur_judge_tmpl *t = u->jobs[0]->tmpl;
    return json_pack("{s:s,s:s,s:i,s:s}", "mode", ur_judge_mode_name(u->mode), "gpt", ur_judge_model(r->judge),
                     "max_words", -1, "template", ur_judge_tmpl_name(t));
}

static void copy_fields(json_t *rec, const ur_eval_item *it) {
    if (it->dataset) json_object_set_new(rec, "dataset", json_string(it->dataset));
    if (it->category) json_object_set_new(rec, "category", json_string(it->category));
    json_t *sid = json_object_get(it->fields, "source_id");
    if (sid) json_object_set(rec, "source_id", sid);
}

static const char *generator_of(const ur_eval_item *it, const char *path, ur_buf *tmp) {
    if (it->generator) return it->generator;
    const char *b = base_name(path), *dot = strrchr(b, '.');
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

/* The pairwise outcome for A per aspect: the verdicts of both orders summed. */
static json_t *outcome(const unit *u) {
    const ur_judge_schema *s = ur_judge_tmpl_schema(u->jobs[0]->tmpl);
    int v0[UR_JUDGE_MAX_ASPECTS], v1[UR_JUDGE_MAX_ASPECTS], total = 0, has_overall = 0;
    ur_judge_verdicts(s, u->jobs[0]->parsed, v0);
    ur_judge_verdicts(s, u->jobs[1]->parsed, v1); /* here +1 means B (shown first) is better */
    json_t *o = json_object();
    for (int i = 0; i < s->n_aspects; i++) {
        int sum = v0[i] - v1[i];
        total += sum;
        has_overall |= !strcmp(s->aspects[i], "overall");
        json_object_set_new(o, s->aspects[i], json_string(sum > 0 ? "win" : sum < 0 ? "lose" : "tie"));
    }
    if (!has_overall) /* the template asks for none: the sum over all aspects decides */
        json_object_set_new(o, "overall", json_string(total > 0 ? "win" : total < 0 ? "lose" : "tie"));
    return o;
}

static int write_unit(runner *r, unit *u, ur_err *err) {
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
        put_judgment(rec, u->jobs[0], "");
        put_judgment(rec, u->jobs[1], "_swapped");
        if (!error) json_object_set_new(rec, "outcome", outcome(u));
    }
    copy_fields(rec, a);
    int asks = 0;
    for (int i = 0; i < u->n_jobs; i++) asks += u->jobs[i]->asks;
    json_object_set_new(rec, "asks", json_integer(asks));
    if (error) json_object_set_new(rec, "error", ur_eval_jstr(error));
    char *line = ur_eval_dump(rec);
    int rc = ur_results_append(r->out, line, strlen(line), err);
    free(line);
    json_decref(rec);
    ur_buf_free(&g);
    if (!rc) error ? r->prog.failed++ : r->prog.judged++;
    return rc;
}

/* ---- the judge loop's callbacks ------------------------------------------------------------ */
static int next_job(void *user, long *tag, const char **prompt, const ur_judge_schema **schema) {
    runner *r = user;
    if (r->q_head == r->q_tail) return 0;
    int j = r->queue[r->q_head];
    r->q_head = (r->q_head + 1) % (r->n_jobs + 1);
    *tag = j;
    *prompt = r->jobs[j].prompt.data;
    *schema = ur_judge_tmpl_schema(r->jobs[j].tmpl);
    return 1;
}

static int job_done(void *user, long tag, const char *text, size_t len, const char *why, ur_err *err) {
    runner *r = user;
    job *jb = &r->jobs[tag];
    unit *u = &r->units[jb->unit];
    if (text) {
        jb->asks++;
        r->prog.asks++;
        ur_buf x = {0};
        ur_err perr;
        json_t *parsed = ur_judge_parse_json(ur_judge_tmpl_schema(jb->tmpl), text, len, &x, &perr);
        free(jb->result);
        if (parsed) {
            jb->parsed = parsed;
            jb->result = x.data;
        } else {
            ur_buf_free(&x);
            jb->result = strndup(text, len);
            if (jb->asks <= r->p->reask) { /* ask again */
                push(r, (int)tag);
                report(r);
                return 0;
            }
            ur_buf e = {0};
            ur_buf_printf(&e, "the judge's answer could not be used after %d asks: %s", jb->asks, perr.msg);
            jb->error = e.data;
        }
    } else {
        jb->error = strdup(why ? why : "the request failed");
    }
    jb->done = 1;
    if (++u->n_done == u->n_jobs && write_unit(r, u, err)) return -1;
    report(r);
    return 0;
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

/* A record is kept unless its item is selected now and it failed or used other prompts. */
static int keep_record(void *user, const json_t *rec) {
    runner *r = user;
    char *key = ur_eval_id_key(json_object_get(rec, "id"));
    json_t *want = json_object_get(r->want, key);
    free(key);
    if (!want) return 1;
    if (json_object_get(rec, "error") || !json_is_object(json_object_get(rec, "parsed_result"))) return 0;
    if (!json_equal(json_object_get(rec, "prompt"), json_array_get(want, 0))) return 0;
    if (r->pairwise && (!json_equal(json_object_get(rec, "prompt_swapped"), json_array_get(want, 1)) ||
                        !json_is_object(json_object_get(rec, "outcome"))))
        return 0;
    return 1;
}

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
    r->units = calloc((size_t)r->a.n + 1, sizeof *r->units);
    r->jobs = calloc(2 * (size_t)r->a.n + 1, sizeof *r->jobs);
    r->want = json_object();
    if (!r->units || !r->jobs) abort();
    for (int i = 0; i < r->a.n && (!p->limit || r->n_units < p->limit); i++) {
        const ur_eval_item *it = &r->a.items[i];
        if (!selected(r, it)) continue;
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
        u->n_jobs = r->pairwise ? 2 : 1;
        for (int o = 0; o < u->n_jobs; o++) {
            job *jb = &r->jobs[r->n_jobs + o];
            jb->unit = r->n_units;
            jb->order = o;
            jb->tmpl = t;
            if (!r->pairwise) ur_judge_render(t, it->instruction, it->output, NULL, &jb->prompt);
            else ur_judge_render(t, it->instruction, o ? b->output : it->output, o ? it->output : b->output, &jb->prompt);
            json_array_append_new(prompts, json_string(jb->prompt.data));
            u->jobs[o] = jb;
        }
        json_object_set_new(r->want, key, prompts);
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
        ur_buf_free(&jb->prompt);
        json_decref(jb->parsed);
        free(jb->result), free(jb->error);
    }
    free(r->jobs), free(r->units), free(r->queue);
    json_decref(r->want), json_decref(r->b_by_id);
    ur_eval_items_free(&r->a), ur_eval_items_free(&r->b);
    ur_results_close(r->out);
}

static int judge_files(ur_judge *j, const ur_eval_params *p, int pairwise, ur_eval_progress *summary, ur_err *err) {
    runner r = {.p = p, .judge = j, .pairwise = pairwise};
    int rc = -1;
    json_t *kept = NULL;
    if (!p->tmpl || (p->mode == UR_EVAL_AUTO && !p->tmpl_safety)) {
        ur_errf(err, "eval: no judge template");
        goto out;
    }
    if (setup(&r, err)) goto out;
    int dropped;
    ur_buf notes = {0};
    r.out = ur_eval_open_out(p->out, r.pairwise, keep_record, &r, &kept, &dropped, &notes, err);
    if (r.out && dropped)
        ur_buf_printf(&notes, "%s%s: %d records that failed or were judged with another prompt are judged again",
                      notes.len ? "; " : "", p->out, dropped);
    if (notes.len && p->note) p->note(p->progress_user, notes.data);
    ur_buf_free(&notes);
    if (!r.out) goto out;
    r.queue = malloc(sizeof *r.queue * ((size_t)r.n_jobs + 1));
    if (!r.queue) abort();
    for (int i = 0; i < r.n_units; i++) {
        unit *u = &r.units[i];
        char *key = ur_eval_id_key(r.a.items[u->item].id);
        if (json_object_get(kept, key)) r.prog.kept++;
        else
            for (int o = 0; o < u->n_jobs; o++) push(&r, (int)(u->jobs[o] - r.jobs));
        free(key);
    }
    report(&r);
    rc = ur_judge_run(j, next_job, job_done, &r, err);
    report(&r);
out:
    if (summary) *summary = r.prog, summary->stats = ur_judge_get_stats(j);
    json_decref(kept);
    cleanup(&r);
    return rc;
}

int ur_eval_score(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err) {
    if (p->mode != UR_EVAL_AUTO && p->mode != UR_JUDGE_MULTI && p->mode != UR_JUDGE_SAFETY)
        return ur_errf(err, "eval score: the mode must be multi, safety or auto");
    return judge_files(j, p, 0, summary, err);
}

int ur_eval_pairwise(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err) {
    if (!p->in_b) return ur_errf(err, "eval pairwise: no B file");
    return judge_files(j, p, 1, summary, err);
}
