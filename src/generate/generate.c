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
    res->n_reused = keep;

    ur_sampler *s = ur_sampler_new(&gp->sampler, nv);
    float *logits = malloc(sizeof(float) * (size_t)nv);
    if (!s || !logits) {
        ur_sampler_free(s);
        free(logits);
        return ur_errf(err, "%s: out of memory", m->gguf->path);
    }
    for (int i = 0; i < n_prompt; i++) ur_sampler_accept(s, prompt[i]);

    int rc = 0;
    double t0 = ur_now();
    if (ur_decode(c, prompt + keep, n_prompt - keep, logits, 0, err)) {
        rc = -1;
        goto out;
    }
    res->t_prompt = ur_now() - t0;
    t0 = ur_now();

    ur_detok dt;
    ur_detok_init(&dt, m->vocab, 0, 0);
    size_t emitted = 0; /* bytes of res->text already given to the callback */
    res->stop_reason = UR_STOP_LENGTH;
    for (;;) {
        if (gp->max_tokens >= 0 && res->n_gen >= gp->max_tokens) break;
        if (gp->mask && gp->mask->apply(gp->mask->user, logits, nv, err)) {
            rc = -1;
            goto out;
        }
        int32_t tok = ur_sample(s, logits);
        if (gp->mask) gp->mask->accept(gp->mask->user, tok);
        if (!gp->ignore_eog && ur_vocab_is_eog(m->vocab, tok)) {
            res->stop_reason = UR_STOP_EOG;
            break;
        }
        ur_sampler_accept(s, tok);
        res->n_gen++;
        ur_detok_push(&dt, tok, &res->text);

        long at = find_stop(res->text.data ? res->text.data : "", res->text.len, emitted, gp->stop, gp->n_stop);
        if (at >= 0) {
            if (cb && (size_t)at > emitted) cb(user, res->text.data + emitted, (size_t)at - emitted);
            res->text.len = (size_t)at;
            res->text.data[at] = 0;
            res->stop_reason = UR_STOP_STRING;
            break;
        }
        size_t hold = stop_holdback(res->text.data ? res->text.data : "", res->text.len, gp->stop, gp->n_stop);
        if (res->text.len - hold > emitted) {
            if (cb && cb(user, res->text.data + emitted, res->text.len - hold - emitted)) {
                emitted = res->text.len - hold;
                res->stop_reason = UR_STOP_CANCEL;
                break;
            }
            emitted = res->text.len - hold;
        }
        if (gp->max_tokens >= 0 && res->n_gen >= gp->max_tokens) break;
        if (ur_ctx_n_past(c) >= ur_ctx_n_ctx(c)) {
            res->stop_reason = UR_STOP_CONTEXT;
            break;
        }
        if (ur_decode(c, &tok, 1, logits, 0, err)) {
            rc = -1;
            goto out;
        }
    }
    if (res->stop_reason != UR_STOP_STRING && res->stop_reason != UR_STOP_CANCEL) {
        ur_detok_flush(&dt, &res->text);
        /* the held-back tail did not become a stop string: it is output after all */
        if (cb && res->text.len > emitted) cb(user, res->text.data + emitted, res->text.len - emitted);
    }
    res->t_gen = ur_now() - t0;
out:
    ur_sampler_free(s);
    free(logits);
    return rc;
}
