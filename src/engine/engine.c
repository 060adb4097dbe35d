/* The engine (include/urial/engine.h): one thread that owns the model and N slots (a context each),
 * admits queued jobs into free slots, computes their prompts one chunk at a time,
 * and advances all generating slots together, one token per step, in one batched
 * forward pass (ur_decode_batch: the weights are read once for all slots).
 *
 * Per loop: (1) admit queued jobs; (2) drop cancelled ones; (3) one decode step
 * for every generating slot; (4) one prompt chunk (<= n_batch tokens) of the
 * oldest slot still computing its prompt. Interleaving (3) and (4) keeps tokens
 * flowing to the clients of running answers while a long prompt is computed.
 *
 * KV reuse: a slot keeps its cache after a job; a new job goes to the free slot
 * whose cached tokens share the longest prefix with its prompt (a chat's earlier
 * turns), and when that is shorter than the format's constant prefix (the URIAL
 * preamble and examples), the prefix's KV is copied in from the holder context
 * where it was computed once (ur_ctx_copy_prefix): copy-on-use, never recomputed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "urial/engine.h"
#include "urial/pool.h"
#include "urial/session.h"
#include "urial/tokenizer.h"

enum { P_IDLE = 0, P_PROMPT = 1, P_GEN = 2 };

typedef struct text_sink { /* where a slot's generation loop streams its text */
    struct ur_engine *e;
    ur_engine_job *j;
} text_sink;

typedef struct slot {
    ur_ctx *c;
    ur_engine_job *j;
    int phase;
    int n_done;             /* prompt tokens in the cache; -1 before the job's first chunk */
    ur_gen_state *g;
    int32_t next;           /* P_GEN: the token to decode */
    int32_t *counts;        /* [n_vocab] times each token was generated (penalties) */
    int32_t *seen;          /* the distinct generated tokens (to reset counts) */
    int n_seen;
    float *saved;           /* [n_vocab] logits before sampling (logprobs) */
    text_sink sink;
    unsigned long admitted; /* admission order */
    unsigned long used;     /* last finished job, for choosing among equal slots */
} slot;

struct ur_engine {
    const ur_model *m;
    int reuse;              /* enum ur_reuse: UR_REUSE_PREFIX or UR_REUSE_ALL */
    const ur_chat *fmt;
    int nv, n_ctx, n_slots, B;
    ur_pool *pool;          /* shared by every slot's context and the prefix holder (one engine thread) */
    slot *slots;
    ur_ctx *prefix;         /* holds the format's prefix (n_prefix tokens), or NULL */
    int32_t *prefix_toks;
    int n_prefix;
    char note[UR_ERR_MAX];
    pthread_mutex_t mu;
    pthread_cond_t work;
    ur_engine_job **q;            /* ring buffer of queued jobs */
    int q_head, q_len, q_cap;
    int stop, started;
    pthread_t th;
    float *logits;          /* [n_slots][nv] */
    float *chunk;           /* [B][nv] prompt logits (prompt logprobs) */
    unsigned long clock;
    long served, cancelled;
};

/* ---- jobs ---------------------------------------------------------------------------- */
ur_engine_job *ur_engine_job_new(void) {
    ur_engine_job *j = ur_xcalloc(1, sizeof *j);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->refs = 1;
    j->logprobs = -1;
    j->stop_token = -1;
    ur_gen_defaults(&j->gp);
    return j;
}

static void job_free(ur_engine_job *j) {
    free(j->prompt);
    for (int i = 0; i < j->n_stops; i++) free(j->stops[i]);
    ur_buf_free(&j->text);
    free(j->gen_lp), free(j->prompt_lp);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void ur_engine_job_release(ur_engine *e, ur_engine_job *j) {
    if (e) pthread_mutex_lock(&e->mu);
    int left = --j->refs;
    if (e) pthread_mutex_unlock(&e->mu);
    if (!left) job_free(j);
}

void ur_engine_lock(ur_engine *e) { pthread_mutex_lock(&e->mu); }
void ur_engine_unlock(ur_engine *e) { pthread_mutex_unlock(&e->mu); }

void ur_engine_job_wait(ur_engine *e, ur_engine_job *j, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&j->cv, &e->mu, &ts);
}

int ur_engine_submit(ur_engine *e, ur_engine_job *j) {
    pthread_mutex_lock(&e->mu);
    if (e->q_len >= e->q_cap || e->stop) {
        pthread_mutex_unlock(&e->mu);
        return -1;
    }
    j->refs++;
    j->state = UR_ENGINE_QUEUED;
    j->t_submit = ur_now();
    e->q[(e->q_head + e->q_len++) % e->q_cap] = j;
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void ur_engine_counts_get(ur_engine *e, ur_engine_counts *st) {
    pthread_mutex_lock(&e->mu);
    memset(st, 0, sizeof *st);
    st->slots = e->n_slots;
    for (int i = 0; i < e->n_slots; i++) st->busy += e->slots[i].j != NULL;
    st->queued = e->q_len;
    st->queue_max = e->q_cap;
    st->served = e->served;
    st->cancelled = e->cancelled;
    pthread_mutex_unlock(&e->mu);
}

const char *ur_engine_note(const ur_engine *e) { return e->note[0] ? e->note : NULL; }
int ur_engine_n_ctx(const ur_engine *e) { return e->n_ctx; }
int ur_engine_slots(const ur_engine *e) { return e->n_slots; }
int ur_engine_prefix_len(const ur_engine *e) { return e->n_prefix; }

void ur_engine_describe(const ur_engine *e, ur_buf *out) {
    ur_ctx_describe(e->slots[0].c, ur_engine_kv_bytes(e), out);
    ur_buf_printf(out, "; %d answer%s decoded together", e->n_slots, e->n_slots == 1 ? "" : "s");
}
uint64_t ur_engine_kv_bytes(const ur_engine *e) {
    uint64_t b = 0;
    for (int i = 0; i < e->n_slots; i++) b += ur_ctx_kv_bytes(e->slots[i].c);
    return b;
}

/* ---- finishing a job ------------------------------------------------------------------ */
/* reason: a stop reason, or -1 for an engine error (msg). Frees the slot. */
static void finish(ur_engine *e, slot *s, int reason, const char *msg) {
    ur_engine_job *j = s->j;
    ur_gen_result res;
    memset(&res, 0, sizeof res);
    int32_t last = s->g ? ur_gen_last_token(s->g) : -1;
    if (s->g) ur_gen_end(s->g, &res);
    s->g = NULL;
    pthread_mutex_lock(&e->mu);
    if (reason == UR_STOP_CANCEL && j->until_met) reason = UR_STOP_STRING;
    if (reason == UR_STOP_CANCEL || (reason >= 0 && atomic_load(&j->cancel))) {
        reason = UR_STOP_CANCEL;
        e->cancelled++;
    }
    if (reason < 0) {
        j->failed = 1;
        snprintf(j->err, sizeof j->err, "%s", msg ? msg : "internal error");
    } else {
        j->stop_reason = reason;
        if (reason == UR_STOP_EOG) j->stop_token = last;
    }
    j->n_gen = res.n_gen;
    if (res.text.len >= j->text.len) { /* the whole text (the stream had all but a held-back tail) */
        ur_buf_free(&j->text);
        j->text = res.text;
        res.text = (ur_buf){0};
    }
    /* logprobs only for tokens whose text starts before the final text's end (a stop
     * string's tokens are cut with it) */
    while (j->n_gen_lp > 0 && j->gen_lp[j->n_gen_lp - 1].offset >= j->text.len) j->n_gen_lp--;
    j->state = UR_ENGINE_DONE;
    j->t_done = ur_now();
    e->served++;
    int left = --j->refs;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&e->mu);
    ur_buf_free(&res.text);
    if (!left) job_free(j);
    for (int i = 0; i < s->n_seen; i++) s->counts[s->seen[i]] = 0;
    s->n_seen = 0;
    s->j = NULL;
    s->phase = P_IDLE;
    s->used = ++e->clock;
}

/* A job that never reached a slot (cancelled while queued, or the server stops). */
static void finish_unslotted(ur_engine *e, ur_engine_job *j, const char *why) {
    /* called with e->mu held */
    if (why) {
        j->failed = 1;
        snprintf(j->err, sizeof j->err, "%s", why);
    } else {
        j->stop_reason = UR_STOP_CANCEL;
        e->cancelled++;
    }
    j->state = UR_ENGINE_DONE;
    j->t_done = ur_now();
    pthread_cond_broadcast(&j->cv);
    if (!--j->refs) job_free(j);
}

/* ---- admitting jobs ------------------------------------------------------------------------ */
/* Queued jobs into free slots (called with e->mu held): each goes to the free slot
 * sharing the longest token prefix with it, else the least recently used. */
static void admit(ur_engine *e) {
    while (e->q_len > 0) {
        ur_engine_job *j = e->q[e->q_head];
        if (atomic_load(&j->cancel)) {
            e->q_head = (e->q_head + 1) % e->q_cap, e->q_len--;
            finish_unslotted(e, j, NULL);
            continue;
        }
        slot *best = NULL;
        int best_k = -1;
        for (int i = 0; i < e->n_slots; i++) {
            slot *s = &e->slots[i];
            if (s->j) continue;
            int k = ur_tokens_common_prefix(ur_ctx_tokens(s->c), ur_ctx_n_past(s->c), j->prompt, j->n_prompt);
            if (k > best_k || (k == best_k && s->used < best->used)) best = s, best_k = k;
        }
        if (!best) return;
        e->q_head = (e->q_head + 1) % e->q_cap, e->q_len--;
        best->j = j;
        best->phase = P_PROMPT;
        best->n_done = -1;
        best->admitted = ++e->clock;
        j->state = UR_ENGINE_RUNNING;
        j->t_start = ur_now();
    }
}

/* ---- generating ------------------------------------------------------------------------------ */
/* Streamed text from the generation loop (engine thread) for the HTTP side. */
static int sink_text(void *user, const char *text, size_t len) {
    text_sink *t = user;
    pthread_mutex_lock(&t->e->mu);
    if (!t->j->text.len && !t->j->t_first) t->j->t_first = ur_now();
    ur_buf_put(&t->j->text, text, len);
    pthread_cond_broadcast(&t->j->cv);
    pthread_mutex_unlock(&t->e->mu);
    if (t->j->until && t->j->until(t->j->until_user, text, len)) return t->j->until_met = 1;
    return atomic_load(&t->j->cancel);
}

/* One sampling step of slot s on its logits row (modified). */
static void gen_step(ur_engine *e, slot *s, float *row) {
    ur_engine_job *j = s->j;
    if (j->freq_pen != 0 || j->pres_pen != 0)
        for (int i = 0; i < s->n_seen; i++) { /* OpenAI's penalties on generated tokens, before the sampler */
            int32_t t = s->seen[i];
            row[t] -= j->freq_pen * (float)s->counts[t] + (s->counts[t] > 0 ? j->pres_pen : 0.f);
        }
    if (j->logprobs >= 0) memcpy(s->saved, row, sizeof(float) * (size_t)e->nv);
    const ur_gen_result *r = ur_gen_peek(s->g);
    const int n_before = r->n_gen;
    const size_t offset = r->text.len;
    int32_t next = -1;
    ur_err err = {{0}};
    int st = ur_gen_step(s->g, row, ur_ctx_n_past(s->c) < ur_ctx_n_ctx(s->c), &next, &err);
    if (st < 0) {
        finish(e, s, -1, err.msg);
        return;
    }
    if (r->n_gen > n_before) { /* a token was accepted (not an end-of-generation token) */
        int32_t tok = ur_gen_last_token(s->g);
        if (!s->counts[tok]++) s->seen[s->n_seen++] = tok;
        if (j->logprobs >= 0) {
            ur_engine_lp lp = {.token = tok, .k = j->logprobs, .offset = offset};
            lp.lp = (float)ur_logprobs_row(s->saved, e->nv, tok, lp.k, lp.top, lp.top_lp);
            pthread_mutex_lock(&e->mu);
            if (j->n_gen_lp == j->cap_gen_lp) {
                j->cap_gen_lp = j->cap_gen_lp ? 2 * j->cap_gen_lp : 64;
                j->gen_lp = ur_xrealloc(j->gen_lp, sizeof *j->gen_lp * (size_t)j->cap_gen_lp);
            }
            j->gen_lp[j->n_gen_lp++] = lp;
            pthread_mutex_unlock(&e->mu);
        }
    }
    if (st == 0) {
        finish(e, s, ur_gen_peek(s->g)->stop_reason, NULL);
        return;
    }
    s->next = next;
    s->phase = P_GEN;
}

/* (3) every generating slot advances one token, in one forward pass */
static void step_generate(ur_engine *e) {
    ur_ctx *cs[256];
    int32_t toks[256];
    slot *ss[256];
    int n = 0;
    for (int i = 0; i < e->n_slots && n < 256; i++) {
        slot *s = &e->slots[i];
        if (s->j && s->phase == P_GEN) cs[n] = s->c, toks[n] = s->next, ss[n++] = s;
    }
    if (!n) return;
    ur_err err = {{0}};
    if (ur_decode_batch(cs, toks, n, e->logits, &err)) {
        for (int k = 0; k < n; k++) finish(e, ss[k], -1, err.msg);
        return;
    }
    for (int k = 0; k < n; k++) gen_step(e, ss[k], e->logits + (size_t)k * e->nv);
}

/* Where a slot's prompt starts: reuse what its cache shares with the prompt, or
 * copy the format's prefix in; with prompt logprobs everything is computed. */
static void prompt_begin(ur_engine *e, slot *s) {
    ur_engine_job *j = s->j;
    int keep;
    if (e->reuse == UR_REUSE_PREFIX) {
        /* exactly as a session with UR_REUSE_PREFIX: the prefix in the cache, then the
         * prompt from where it leaves the prefix (at least one token computed) */
        keep = ur_tokens_common_prefix(e->prefix_toks, e->n_prefix, j->prompt, j->n_prompt);
        if (keep > j->n_prompt - 1) keep = j->n_prompt - 1;
        int have = ur_tokens_common_prefix(ur_ctx_tokens(s->c), ur_ctx_n_past(s->c), e->prefix_toks, e->n_prefix);
        if (keep > have && (!e->prefix || ur_ctx_copy_prefix(s->c, e->prefix, e->n_prefix, NULL))) keep = have;
    } else {
        keep = ur_tokens_common_prefix(ur_ctx_tokens(s->c), ur_ctx_n_past(s->c), j->prompt, j->n_prompt);
        if (keep > j->n_prompt - 1) keep = j->n_prompt - 1;
        if (e->prefix && keep < e->n_prefix && e->n_prefix <= j->n_prompt - 1 &&
            ur_tokens_common_prefix(e->prefix_toks, e->n_prefix, j->prompt, j->n_prompt) == e->n_prefix &&
            !ur_ctx_copy_prefix(s->c, e->prefix, e->n_prefix, NULL))
            keep = e->n_prefix;
    }
    if (j->prompt_logprobs) keep = 0;
    ur_ctx_truncate(s->c, keep);
    s->n_done = keep;
    pthread_mutex_lock(&e->mu);
    j->n_cached = keep;
    if (j->prompt_logprobs && !j->prompt_lp) {
        j->prompt_lp = ur_xcalloc((size_t)j->n_prompt, sizeof *j->prompt_lp);
    }
    pthread_mutex_unlock(&e->mu);
}

/* rows [r0, r1) of a prompt chunk's logits: row r gives the logprobs of prompt token p0 + r + 1 */
typedef struct prompt_lp_job {
    ur_engine *e;
    ur_engine_job *j;
    int p0;
} prompt_lp_job;

static void prompt_lp_body(void *arg, int64_t r0, int64_t r1, int tid) {
    const prompt_lp_job *pj = arg;
    const ur_engine *e = pj->e;
    ur_engine_job *j = pj->j;
    (void)tid;
    for (int64_t r = r0; r < r1; r++) {
        int p = pj->p0 + (int)r;
        if (p + 1 >= j->n_prompt) continue;
        ur_engine_lp *lp = &j->prompt_lp[p + 1];
        lp->token = j->prompt[p + 1];
        lp->k = j->logprobs;
        lp->lp = (float)ur_logprobs_row(e->chunk + (size_t)r * e->nv, e->nv, lp->token, lp->k, lp->top, lp->top_lp);
    }
}

/* (4) one chunk of the prompt of the slot admitted first among those computing one */
static void step_prompt(ur_engine *e) {
    slot *s = NULL;
    for (int i = 0; i < e->n_slots; i++) {
        slot *t = &e->slots[i];
        if (t->j && t->phase == P_PROMPT && (!s || t->admitted < s->admitted)) s = t;
    }
    if (!s) return;
    ur_engine_job *j = s->j;
    if (s->n_done < 0) prompt_begin(e, s);
    const int rest = j->n_prompt - s->n_done;
    const int n = rest < e->B ? rest : e->B, last = n == rest;
    float *row = e->logits + (size_t)(s - e->slots) * e->nv; /* this slot's row: free while it is not generating */
    ur_err err = {{0}};
    if (j->prompt_logprobs) {
        /* every row: row r (position p) gives the logprobs of prompt token p + 1 */
        if (ur_decode_last(s->c, j->prompt + s->n_done, n, e->chunk, n, &err)) {
            finish(e, s, -1, err.msg);
            return;
        }
        prompt_lp_job pj = {e, j, s->n_done};
        ur_pool_for(e->pool, n, 8, prompt_lp_body, &pj);
        if (last) memcpy(row, e->chunk + (size_t)(n - 1) * e->nv, sizeof(float) * (size_t)e->nv);
    } else if (ur_decode_last(s->c, j->prompt + s->n_done, n, row, last, &err)) {
        finish(e, s, -1, err.msg);
        return;
    }
    s->n_done += n;
    if (!last) return;
    j->t_prompt = ur_now() - j->t_start;
    /* the prompt is in: sample the first token from its last row */
    s->sink = (text_sink){e, j};
    if (!(s->g = ur_gen_begin(e->m, j->prompt, j->n_prompt, &j->gp, sink_text, &s->sink, &err))) {
        finish(e, s, -1, err.msg);
        return;
    }
    gen_step(e, s, row);
}

/* ---- the loop ------------------------------------------------------------------------------- */
static void *engine_main(void *arg) {
    ur_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        int active = 0;
        while (!e->stop) {
            admit(e);
            for (int i = 0; i < e->n_slots; i++) active |= e->slots[i].j != NULL;
            if (active) break;
            pthread_cond_wait(&e->work, &e->mu);
        }
        pthread_mutex_unlock(&e->mu);
        if (e->stop) break;
        for (int i = 0; i < e->n_slots; i++) { /* (2) clients that went away */
            slot *s = &e->slots[i];
            if (s->j && atomic_load(&s->j->cancel)) finish(e, s, UR_STOP_CANCEL, NULL);
        }
        step_generate(e);
        step_prompt(e);
    }
    for (int i = 0; i < e->n_slots; i++)
        if (e->slots[i].j) finish(e, &e->slots[i], -1, "the server is stopping");
    pthread_mutex_lock(&e->mu);
    while (e->q_len > 0) {
        ur_engine_job *j = e->q[e->q_head];
        e->q_head = (e->q_head + 1) % e->q_cap, e->q_len--;
        finish_unslotted(e, j, "the server is stopping");
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

void ur_engine_defaults(ur_engine_params *p) {
    memset(p, 0, sizeof *p);
    p->parallel = 1;
    p->queue = 64;
    p->reuse = UR_REUSE_ALL;
}

int ur_engine_default_parallel(const ur_model *m, int n_ctx) {
    const ur_hparams *h = &m->hp;
    uint64_t per_slot = 2ull * 2 * (uint64_t)h->n_layers * (uint64_t)h->n_kv_heads * (uint64_t)h->head_dim * (uint64_t)n_ctx;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    uint64_t budget = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 4 : 4ull << 30;
    int n = 8;
    while (n > 1 && per_slot * (uint64_t)n > budget) n--;
    return n;
}

ur_engine *ur_engine_new(const ur_model *m, const ur_chat *fmt, const ur_engine_params *p, ur_err *err) {
    ur_engine *e = ur_xcalloc(1, sizeof *e);
    e->m = m;
    e->fmt = fmt;
    e->reuse = p->reuse;
    e->nv = m->hp.n_vocab;
    e->n_slots = p->parallel > 0 ? p->parallel : 1;
    if (e->n_slots > 256) e->n_slots = 256;
    e->q_cap = p->queue > 0 ? p->queue : 1;
    int n_ctx = p->n_ctx > 0 ? p->n_ctx : m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->work, NULL);
    e->q = ur_xcalloc((size_t)e->q_cap, sizeof *e->q);
    e->slots = ur_xcalloc((size_t)e->n_slots, sizeof *e->slots);
    if (!(e->pool = ur_pool_new(p->n_threads, err))) goto fail;
    ur_ctx_params cp = {n_ctx, 0, p->n_threads, e->pool};
    for (int i = 0; i < e->n_slots; i++) {
        slot *s = &e->slots[i];
        if (!(s->c = ur_ctx_new(m, cp, err))) goto fail;
        s->counts = ur_xcalloc((size_t)e->nv, sizeof *s->counts);
        s->seen = ur_xmalloc(sizeof *s->seen * (size_t)(n_ctx + 1));
        s->saved = ur_xmalloc(sizeof *s->saved * (size_t)e->nv);
    }
    e->n_ctx = ur_ctx_n_ctx(e->slots[0].c);
    e->B = ur_ctx_n_batch(e->slots[0].c);
    e->logits = malloc(sizeof(float) * (size_t)e->n_slots * (size_t)e->nv);
    e->chunk = malloc(sizeof(float) * (size_t)e->B * (size_t)e->nv);
    if (!e->logits || !e->chunk) {
        ur_errf(err, "%s: out of memory for the logits", m->gguf->path);
        goto fail;
    }

    /* the format's prefix: computed (or loaded) in slot 0 through a session, then
     * kept in a holder context just large enough for it */
    ur_session_params sp = {UR_REUSE_PREFIX, p->cache_dir};
    ur_session *ss = ur_session_new(e->slots[0].c, fmt, &sp, err);
    if (!ss) goto fail;
    int how = ur_session_warm(ss, err);
    const char *note = ur_session_take_note(ss);
    if (note) snprintf(e->note, sizeof e->note, "%s", note);
    e->n_prefix = ur_session_prefix_len(ss);
    if (how >= 0 && e->n_prefix > 0) {
        e->prefix_toks = ur_xmalloc(sizeof(int32_t) * (size_t)e->n_prefix);
        memcpy(e->prefix_toks, ur_session_prefix_tokens(ss), sizeof(int32_t) * (size_t)e->n_prefix);
        ur_ctx_params hp = {e->n_prefix + 1, 0, p->n_threads, e->pool};
        if (!(e->prefix = ur_ctx_new(m, hp, err)) || ur_ctx_copy_prefix(e->prefix, e->slots[0].c, e->n_prefix, err))
            how = -1;
    }
    ur_session_free(ss);
    if (how < 0) goto fail;
    if (pthread_create(&e->th, NULL, engine_main, e)) {
        ur_errf(err, "cannot start the engine thread");
        goto fail;
    }
    e->started = 1;
    return e;
fail:
    ur_engine_free(e);
    return NULL;
}

void ur_engine_stop(ur_engine *e) {
    if (!e->started) return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->th, NULL);
    e->started = 0;
}

void ur_engine_free(ur_engine *e) {
    if (!e) return;
    ur_engine_stop(e);
    for (int i = 0; e->slots && i < e->n_slots; i++) {
        slot *s = &e->slots[i];
        ur_ctx_free(s->c);
        free(s->counts), free(s->seen), free(s->saved);
    }
    ur_ctx_free(e->prefix);
    ur_pool_free(e->pool); /* after the contexts that use it */
    free(e->prefix_toks), free(e->slots), free(e->q), free(e->logits), free(e->chunk);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work);
    free(e);
}
