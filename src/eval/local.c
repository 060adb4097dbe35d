/* The judge as a local GGUF model: each prompt is rendered with the model's chat
 * template (system message + prompt as the user's turn), or as plain text, and
 * answered greedily (just-eval's temperature 0) with the answer constrained to the
 * request's schema by a token mask (jsonmask.c), a mask per answer.
 * With a chat template the answers run on the engine (include/urial/engine.h):
 * `parallel` of them decoded together, each from the template's prefix, so an answer
 * does not depend on --parallel or on the order of the items. Plain text: one
 * answer at a time through ur_generate (reusing what consecutive prompts share). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"
#include "eval/jsonmask.h"
#include "urial/chat.h"
#include "urial/engine.h"
#include "urial/generate.h"
#include "urial/model.h"

#define MAX_SHAPES 4

typedef struct local_judge {
    ur_judge base;
    ur_model *m;
    ur_ctx *ctx;    /* plain text: one answer at a time */
    ur_engine *e;   /* a chat template: the engine */
    ur_chat *fmt;   /* NULL: plain text */
    jm_mask mask;   /* the token tables (and the plain path's state) */
    int parallel, n_ctx;
    int max_tokens; /* the answer's cap (0: the JSON shape's length) */
    int judged_any; /* a prompt fitted: later ones that do not fail alone */
    int reason_max, ws_max;
    struct {
        ur_judge_schema schema;
        jm_shape shape;
    } shapes[MAX_SHAPES];
    int n_shapes;
} local_judge;

static const jm_shape *shape_for(local_judge *j, const ur_judge_schema *s) {
    for (int i = 0; i < j->n_shapes; i++)
        if (!memcmp(&j->shapes[i].schema, s, sizeof *s)) return &j->shapes[i].shape;
    if (j->n_shapes == MAX_SHAPES) jm_shape_free(&j->shapes[--j->n_shapes].shape);
    j->shapes[j->n_shapes].schema = *s;
    jm_shape_init(&j->shapes[j->n_shapes].shape, &j->shapes[j->n_shapes].schema, j->reason_max, j->ws_max);
    return &j->shapes[j->n_shapes++].shape;
}

/* The text the model sees for a judge prompt. */
static int render(local_judge *j, const char *prompt, ur_buf *out, ur_err *err) {
    if (!j->fmt) {
        ur_buf_printf(out, "%s\n\n%s\n", UR_JUDGE_SYSTEM, prompt);
        return 0;
    }
    ur_conv c = {0};
    ur_conv_add(&c, UR_ROLE_SYSTEM, UR_JUDGE_SYSTEM, strlen(UR_JUDGE_SYSTEM));
    ur_conv_add(&c, UR_ROLE_USER, prompt, strlen(prompt));
    int rc = ur_chat_render(j->fmt, c.msgs, c.n, 1, out, NULL);
    if (rc) { /* a template without a system role: the system text opens the user's turn */
        ur_conv_free(&c);
        ur_buf u = {0};
        ur_buf_printf(&u, "%s\n\n%s", UR_JUDGE_SYSTEM, prompt);
        ur_conv_add(&c, UR_ROLE_USER, u.data, u.len);
        ur_buf_free(&u);
        out->len = 0;
        rc = ur_chat_render(j->fmt, c.msgs, c.n, 1, out, err);
    }
    ur_conv_free(&c);
    return rc;
}

static int tokenize(local_judge *j, const char *text, size_t len, int32_t **ids, ur_err *err) {
    const ur_vocab *v = j->m->vocab;
    int add_bos = (!j->fmt || ur_chat_add_bos(j->fmt)) && ur_vocab_add_bos(v);
    int special = j->fmt ? ur_chat_parse_special(j->fmt) : 0;
    return ur_tokenize_alloc(v, text, len, add_bos, special, ids, err);
}

/* Stop as soon as the answer is complete (no need to wait for an end token). */
static int stop_when_complete(void *user, const char *text, size_t len) {
    (void)text, (void)len;
    jm_mask *m = user;
    return jm_complete(m->shape, &m->st);
}

/* The longest answer: what the JSON shape allows (every allowed token spells at least
 * one byte), capped by --max-tokens. */
static int answer_max(const local_judge *j, const jm_shape *sh) {
    const int shape = (int)sh->max_bytes + 1;
    return j->max_tokens > 0 && j->max_tokens < shape ? j->max_tokens : shape;
}

/* The prompt's tokens, or -1 (err: fatal; also when the very first prompt cannot fit,
 * so a job that cannot judge stops before it starts) / -2 (why: this item cannot be
 * judged). */
static int prepare(local_judge *j, const char *prompt, const jm_shape *sh, int32_t **ids, char *why, size_t why_len,
                   ur_err *err) {
    ur_buf text = {0};
    *ids = NULL;
    int n = render(j, prompt, &text, err) ? -1 : tokenize(j, text.data, text.len, ids, err);
    ur_buf_free(&text);
    if (n < 0) {
        free(*ids), *ids = NULL;
        return -1;
    }
    const int answer = answer_max(j, sh);
    if (n + answer + 1 > j->n_ctx) {
        free(*ids), *ids = NULL;
        const int need = n + answer + 1;
        if (!j->judged_any) { /* the first prompt cannot be judged: stop before anything runs */
            ur_errf(err, "%s: the judge prompt has %d tokens and its answer may take %d: more than the context of %d; "
                    "give --ctx %d or more (the model was trained on %d), or a smaller --reason-max / --max-tokens",
                    j->m->gguf->path, n, answer, j->n_ctx, need, j->m->hp.n_ctx_train);
            return -1;
        }
        snprintf(why, why_len, "%s: the prompt has %d tokens and the answer may take %d: more than the context of %d (--ctx)",
                 j->m->gguf->path, n, answer, j->n_ctx);
        return -2;
    }
    j->judged_any = 1;
    return n;
}

static void gen_params(const local_judge *j, const jm_shape *sh, jm_mask *mask, ur_gen_params *gp) {
    ur_gen_defaults(gp);
    gp->max_tokens = answer_max(j, sh);
    gp->mask = &mask->hook;
    jm_mask_start(mask, sh);
}

/* Plain text: one answer at a time on the judge's context. */
static int run_plain(local_judge *j, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    long tag;
    const char *prompt;
    const ur_judge_schema *schema;
    while (next(user, &tag, &prompt, &schema) == 1) {
        j->base.stats.requests++;
        const jm_shape *sh = shape_for(j, schema);
        int32_t *ids;
        char why[256];
        int n = prepare(j, prompt, sh, &ids, why, sizeof why, err);
        if (n == -1) return -1;
        if (n == -2) {
            if (done(user, tag, NULL, 0, why, err)) return -1;
            continue;
        }
        ur_gen_params gp;
        gen_params(j, sh, &j->mask, &gp);
        ur_gen_result res;
        int rc = ur_generate(j->ctx, ids, n, &gp, stop_when_complete, &j->mask, &res, err);
        free(ids);
        if (!rc && done(user, tag, res.text.data ? res.text.data : "", res.text.len, NULL, err)) rc = -1;
        ur_buf_free(&res.text);
        if (rc) return -1;
    }
    return 0;
}

/* ---- the engine: `parallel` answers decoded together ---------------------------------- */
typedef struct out_answer {
    long tag;
    ur_engine_job *job; /* NULL: the entry is free */
    jm_mask mask;       /* this answer's state on the shared tables */
} out_answer;

/* Wait (up to 20 ms) unless an answer is already finished. */
static void engine_wait_any(local_judge *j, out_answer *out, int cap) {
    ur_engine_lock(j->e);
    int any = -1, first = -1;
    for (int i = 0; i < cap && any < 0; i++)
        if (out[i].job) {
            if (first < 0) first = i;
            if (out[i].job->state == UR_ENGINE_DONE) any = i;
        }
    if (any < 0 && first >= 0) ur_engine_job_wait(j->e, out[first].job, 20);
    ur_engine_unlock(j->e);
}

/* Hand back every finished answer; -1 when done() or the engine failed. */
static int engine_collect(local_judge *j, out_answer *out, int cap, int *n_out, ur_judge_done_fn done, void *user,
                          ur_err *err) {
    for (int i = 0; i < cap; i++) {
        if (!out[i].job) continue;
        ur_engine_lock(j->e);
        int fin = out[i].job->state == UR_ENGINE_DONE;
        ur_engine_unlock(j->e);
        if (!fin) continue;
        ur_engine_job *job = out[i].job;
        out[i].job = NULL, (*n_out)--;
        int rc = 0;
        if (job->failed) rc = -1, ur_errf(err, "%s", job->err);
        else if (done(user, out[i].tag, job->text.data ? job->text.data : "", job->text.len, NULL, err)) rc = -1;
        ur_engine_job_release(j->e, job);
        if (rc) return -1;
    }
    return 0;
}

static int run_engine(local_judge *j, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    const int cap = 2 * j->parallel; /* the slots busy and as many waiting */
    out_answer *out = ur_xcalloc((size_t)cap, sizeof *out);
    for (int i = 0; i < cap; i++) jm_mask_share(&out[i].mask, &j->mask);
    int n_out = 0, more = 1, rc = 0;
    while (!rc) {
        long tag;
        const char *prompt;
        const ur_judge_schema *schema;
        while (!rc && more && n_out < cap && (more = next(user, &tag, &prompt, &schema) == 1)) {
            j->base.stats.requests++;
            if (j->n_shapes == MAX_SHAPES && n_out) { /* a new schema may evict one in use: drain first */
                while (n_out && !rc) {
                    engine_wait_any(j, out, cap);
                    rc = engine_collect(j, out, cap, &n_out, done, user, err);
                }
                if (rc) break;
            }
            const jm_shape *sh = shape_for(j, schema);
            int32_t *ids;
            char why[256];
            int n = prepare(j, prompt, sh, &ids, why, sizeof why, err);
            if (n == -1) rc = -1;
            if (n == -2 && done(user, tag, NULL, 0, why, err)) rc = -1;
            if (n < 0) continue;
            int k = 0;
            while (out[k].job) k++;
            ur_engine_job *job = ur_engine_job_new();
            job->prompt = ids, job->n_prompt = n, job->logprobs = -1;
            gen_params(j, sh, &out[k].mask, &job->gp);
            job->until = stop_when_complete, job->until_user = &out[k].mask;
            if (ur_engine_submit(j->e, job)) {
                ur_engine_job_release(NULL, job);
                rc = -1, ur_errf(err, "%s: the judge's queue is full", j->m->gguf->path);
                break;
            }
            out[k].tag = tag, out[k].job = job, n_out++;
        }
        if (rc || !n_out) break;
        engine_wait_any(j, out, cap);
        rc = engine_collect(j, out, cap, &n_out, done, user, err);
        more = 1; /* next() may have work again */
    }
    /* a fatal stop: cancel what is out and wait for it (the engine uses its mask) */
    for (int i = 0; i < cap; i++)
        if (out[i].job) atomic_store(&out[i].job->cancel, 1);
    for (int i = 0; i < cap; i++) {
        if (!out[i].job) continue;
        ur_engine_lock(j->e);
        while (out[i].job->state != UR_ENGINE_DONE) ur_engine_job_wait(j->e, out[i].job, 20);
        ur_engine_unlock(j->e);
        ur_engine_job_release(j->e, out[i].job);
    }
    for (int i = 0; i < cap; i++) jm_mask_free(&out[i].mask);
    free(out);
    return rc;
}

static int local_run(ur_judge *base, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    local_judge *j = (local_judge *)base;
    return j->e ? run_engine(j, next, done, user, err) : run_plain(j, next, done, user, err);
}

static void local_destroy(ur_judge *base) {
    local_judge *j = (local_judge *)base;
    for (int i = 0; i < j->n_shapes; i++) jm_shape_free(&j->shapes[i].shape);
    ur_engine_free(j->e);
    jm_mask_free(&j->mask);
    ur_chat_free(j->fmt);
    ur_ctx_free(j->ctx);
    ur_model_free(j->m);
}

ur_judge *ur_judge_local_new(const ur_judge_local_params *p, ur_err *err) {
    ur_model *m = ur_model_load(p->model_path, err);
    if (!m) return NULL;
    local_judge *j = ur_xcalloc(1, sizeof *j);
    j->m = m;
    j->base.run = local_run;
    j->base.destroy = local_destroy;
    j->reason_max = p->reason_max > 0 ? p->reason_max : 400;
    j->ws_max = p->ws_max;
    const char *b = strrchr(p->model_path, '/');
    b = b ? b + 1 : p->model_path;
    size_t bl = strlen(b);
    j->base.model = ur_xstrndup(b, bl > 5 && !strcmp(b + bl - 5, ".gguf") ? bl - 5 : bl);
    const char *t = p->chat_template ? p->chat_template : "auto";
    ur_buf note = {0};
    if (!strcmp(t, "auto")) {
        j->fmt = ur_chat_template_auto(m->gguf, NULL);
        if (j->fmt) ur_buf_printf(&note, "%s: judging with chat template %s", p->model_path, ur_chat_name(j->fmt));
        else
            ur_buf_printf(&note, "%s: no chat template recognised in the model: the judge prompt is given as plain "
                                 "text (--judge-template NAME to choose one)", p->model_path);
    } else if (strcmp(t, "raw") && !(j->fmt = ur_chat_template(t, err))) {
        ur_judge_free(&j->base);
        return NULL;
    }
    j->base.note = note.data;
    j->max_tokens = p->max_tokens;
    j->n_ctx = p->n_ctx > 0 ? p->n_ctx : m->hp.n_ctx_train < 8192 ? m->hp.n_ctx_train : 8192;
    jm_mask_init(&j->mask, m->vocab);
    if (j->fmt) {
        ur_engine_params ep;
        ur_engine_defaults(&ep);
        ep.n_ctx = j->n_ctx;
        ep.n_threads = p->n_threads;
        ep.parallel = j->parallel = p->parallel > 0 ? p->parallel : ur_engine_default_parallel(m, j->n_ctx);
        ep.queue = 2 * ep.parallel;
        ep.reuse = UR_REUSE_PREFIX;
        j->e = ur_engine_new(m, j->fmt, &ep, err);
    } else {
        ur_ctx_params cp = {.n_ctx = j->n_ctx, .n_threads = p->n_threads};
        j->ctx = ur_ctx_new(m, cp, err);
    }
    if (!j->e && !j->ctx) {
        ur_judge_free(&j->base);
        return NULL;
    }
    return &j->base;
}
