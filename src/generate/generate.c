/* The generation loop: prompt (reusing the cached prefix), then sample, decode,
 * detokenize and stream until a stop condition. Stop strings may span tokens: the
 * text that could still turn into a stop string is held back, so no part of a
 * stop string ever reaches the callback. */
#include <stdlib.h>
#include <string.h>

#include "urial/generate.h"
#include "urial/tokenizer.h"

void ur_gen_defaults(ur_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->max_tokens = 256;
    ur_sampler_defaults(&p->sampler);
}

const char *ur_stop_reason_name(int reason) {
    static const char *names[] = {"length", "eog", "stop", "context", "cancel"};
    return reason >= 0 && reason <= UR_STOP_CANCEL ? names[reason] : "unknown";
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t stop_holdback(const char *s, size_t n, const char *const *stop, int n_stop) {
    size_t best = 0;
    for (int i = 0; i < n_stop; i++) {
        size_t sl = strlen(stop[i]);
        for (size_t k = sl ? sl - 1 : 0; k > best; k--)
            if (k <= n && !memcmp(s + n - k, stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Earliest occurrence at or after `from` of any stop string in s[0..n), or -1. */
static long find_stop(const char *s, size_t n, size_t from, const char *const *stop, int n_stop) {
    long best = -1;
    for (int i = 0; i < n_stop; i++) {
        size_t sl = strlen(stop[i]);
        if (!sl || sl > n) continue;
        for (size_t j = from; j + sl <= n; j++)
            if (!memcmp(s + j, stop[i], sl)) {
                if (best < 0 || (long)j < best) best = (long)j;
                break;
            }
    }
    return best;
}

/* ---- one token at a time ------------------------------------------------------- */
struct ur_gen_state {
    const ur_model *m;
    ur_gen_params gp;
    ur_gen_cb cb;
    void *user;
    ur_sampler *s;
    ur_detok dt;
    size_t emitted; /* bytes of res.text already given to the callback */
    int32_t last;
    int done;
    ur_gen_result res;
};

ur_gen_state *ur_gen_begin(const ur_model *m, const int32_t *prompt, int n_prompt, const ur_gen_params *gp, ur_gen_cb cb,
                           void *user, ur_err *err) {
    ur_gen_state *g = calloc(1, sizeof *g);
    if (!g || !(g->s = ur_sampler_new(&gp->sampler, m->hp.n_vocab))) {
        free(g);
        ur_errf(err, "%s: out of memory", m->gguf->path);
        return NULL;
    }
    g->m = m;
    g->gp = *gp;
    g->cb = cb;
    g->user = user;
    g->last = -1;
    g->res.n_prompt = n_prompt;
    g->res.stop_reason = UR_STOP_LENGTH;
    for (int i = 0; i < n_prompt; i++) ur_sampler_accept(g->s, prompt[i]);
    ur_detok_init(&g->dt, m->vocab, 0, 0);
    return g;
}

/* The end: unless a stop string or the callback ended it, the held-back tail did not
 * become a stop string and is output after all. */
static int finish(ur_gen_state *g, int reason) {
    g->res.stop_reason = reason;
    g->done = 1;
    if (reason != UR_STOP_STRING && reason != UR_STOP_CANCEL) {
        ur_detok_flush(&g->dt, &g->res.text);
        if (g->cb && g->res.text.len > g->emitted)
            g->cb(g->user, g->res.text.data + g->emitted, g->res.text.len - g->emitted);
        g->emitted = g->res.text.len;
    }
    return 0;
}

int ur_gen_step(ur_gen_state *g, float *logits, int room, int32_t *next, ur_err *err) {
    const ur_gen_params *gp = &g->gp;
    const int nv = g->m->hp.n_vocab;
    ur_gen_result *res = &g->res;
    if (g->done) return 0;
    if (gp->max_tokens >= 0 && res->n_gen >= gp->max_tokens) return finish(g, UR_STOP_LENGTH);
    if (gp->mask && gp->mask->apply(gp->mask->user, logits, nv, err)) {
        g->done = 1;
        return -1;
    }
    int32_t tok = ur_sample(g->s, logits);
    g->last = tok;
    if (gp->mask) gp->mask->accept(gp->mask->user, tok);
    if (!gp->ignore_eog && ur_vocab_is_eog(g->m->vocab, tok)) {
        if (gp->tokens && res->n_gen < gp->tokens_cap) gp->tokens[res->n_gen] = tok;
        return finish(g, UR_STOP_EOG);
    }
    ur_sampler_accept(g->s, tok);
    if (gp->tokens && res->n_gen < gp->tokens_cap) gp->tokens[res->n_gen] = tok;
    res->n_gen++;
    ur_detok_push(&g->dt, tok, &res->text);

    const char *text = res->text.data ? res->text.data : "";
    long at = find_stop(text, res->text.len, g->emitted, gp->stop, gp->n_stop);
    if (at >= 0) {
        if (g->cb && (size_t)at > g->emitted) g->cb(g->user, res->text.data + g->emitted, (size_t)at - g->emitted);
        res->text.len = (size_t)at;
        res->text.data[at] = 0;
        g->emitted = (size_t)at;
        return finish(g, UR_STOP_STRING);
    }
    size_t hold = stop_holdback(text, res->text.len, gp->stop, gp->n_stop);
    if (res->text.len - hold > g->emitted) {
        int cancel = g->cb && g->cb(g->user, res->text.data + g->emitted, res->text.len - hold - g->emitted);
        g->emitted = res->text.len - hold;
        if (cancel) return finish(g, UR_STOP_CANCEL);
    }
    if (gp->max_tokens >= 0 && res->n_gen >= gp->max_tokens) return finish(g, UR_STOP_LENGTH);
    if (!room) return finish(g, UR_STOP_CONTEXT);
    *next = tok;
    return 1;
}

const ur_gen_result *ur_gen_peek(const ur_gen_state *g) { return &g->res; }
int32_t ur_gen_last_token(const ur_gen_state *g) { return g->last; }
size_t ur_gen_emitted(const ur_gen_state *g) { return g->emitted; }

void ur_gen_end(ur_gen_state *g, ur_gen_result *res) {
    if (!g) return;
    if (res) *res = g->res;
    else ur_buf_free(&g->res.text);
    ur_sampler_free(g->s);
    free(g);
}

/* ---- the whole loop ------------------------------------------------------------------ */
int ur_generate(ur_ctx *c, const int32_t *prompt, int n_prompt, const ur_gen_params *gp, ur_gen_cb cb, void *user,
                ur_gen_result *res, ur_err *err) {
    const ur_model *m = ur_ctx_model(c);
    const int nv = m->hp.n_vocab;
    memset(res, 0, sizeof *res);
    res->n_prompt = n_prompt;
    if (n_prompt <= 0) return ur_errf(err, "%s: the prompt is empty (no tokens)", m->gguf->path);
    if (n_prompt >= ur_ctx_n_ctx(c))
        return ur_errf(err, "%s: the prompt has %d tokens but the context holds %d (use a larger --ctx)", m->gguf->path,
                       n_prompt, ur_ctx_n_ctx(c));

    /* reuse the longest cached prefix; at least one prompt token is decoded to get logits */
    int keep = 0;
    const int32_t *cached = ur_ctx_tokens(c);
    while (keep < ur_ctx_n_past(c) && keep < n_prompt - 1 && cached[keep] == prompt[keep]) keep++;
    ur_ctx_truncate(c, keep);

    ur_gen_state *g = ur_gen_begin(m, prompt, n_prompt, gp, cb, user, err);
    if (!g) return -1;
    float *logits = ur_xmalloc(sizeof(float) * (size_t)nv);
    int rc = 0;
    double t0 = ur_now(), t_prompt = 0;
    if (ur_decode(c, prompt + keep, n_prompt - keep, logits, 0, err)) {
        rc = -1;
    } else {
        t_prompt = ur_now() - t0;
        t0 = ur_now();
        int32_t tok;
        int st;
        while ((st = ur_gen_step(g, logits, ur_ctx_n_past(c) < ur_ctx_n_ctx(c), &tok, err)) == 1)
            if (ur_decode(c, &tok, 1, logits, 0, err)) {
                st = -1;
                break;
            }
        rc = st < 0 ? -1 : 0;
    }
    double t_gen = ur_now() - t0;
    ur_gen_end(g, rc ? NULL : res);
    free(logits);
    if (rc) {
        memset(res, 0, sizeof *res);
        res->n_prompt = n_prompt;
        return -1;
    }
    res->n_reused = keep;
    res->t_prompt = t_prompt;
    res->t_gen = t_gen;
    return 0;
}
