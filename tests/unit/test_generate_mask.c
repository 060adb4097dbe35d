/* The generation loop's logit-mask hook (ur_gen_params.mask): only tokens the mask
 * lets through are generated, accept() sees exactly the generated tokens, an
 * end-of-generation token the mask allows stops generation, and a mask that allows
 * nothing makes ur_generate fail with its message. */
#include <math.h>

#include "harness.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

static ur_model *load_tiny(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.gguf", th_tmpdir());
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.dim = 64, sp.n_layers = 1, sp.n_heads = 2, sp.n_kv_heads = 1, sp.ff = 128, sp.n_ctx = 256, sp.seed = 5;
    ur_err err = {{0}};
    if (ur_synth_write(&sp, path, &err)) return NULL;
    return ur_model_load(path, &err);
}

/* Allows the digit tokens until `n_digits` were accepted, then only EOS. */
typedef struct digits {
    const ur_vocab *v;
    int n_digits, n_accepted, bad_accept, fail;
    int32_t seen[64];
} digits;

static int is_digit_token(const ur_vocab *v, int32_t id) {
    char b[16];
    int n = ur_token_to_bytes(v, id, 0, b, sizeof b);
    return n == 1 && b[0] >= '0' && b[0] <= '9';
}

static int digits_apply(void *user, float *logits, int nv, ur_err *err) {
    digits *d = user;
    if (d->fail) return ur_errf(err, "mask: nothing may come next");
    for (int i = 0; i < nv; i++) {
        int ok = d->n_accepted < d->n_digits ? is_digit_token(d->v, i) : i == ur_vocab_eos(d->v);
        if (!ok) logits[i] = -INFINITY;
    }
    return 0;
}

static void digits_accept(void *user, int32_t tok) {
    digits *d = user;
    if (d->n_accepted < 64) d->seen[d->n_accepted] = tok;
    if (d->n_accepted < d->n_digits && !is_digit_token(d->v, tok)) d->bad_accept = 1;
    d->n_accepted++;
}

static void mask_constrains_output(void) {
    ur_model *m = load_tiny();
    REQUIRE(m);
    ur_err err = {{0}};
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 128, .n_threads = 1}, &err);
    REQUIRE(c);
    int32_t prompt[16];
    REQUIRE(ur_tokenize(m->vocab, "Hi", 2, 1, 0, prompt, 16, &err) > 0);
    for (int temp = 0; temp < 2; temp++) {
        digits d = {.v = m->vocab, .n_digits = 7};
        ur_logit_mask mk = {&d, digits_apply, digits_accept};
        ur_gen_params gp;
        ur_gen_defaults(&gp);
        gp.max_tokens = 40;
        gp.sampler.temp = temp ? 1.5f : 0.0f;
        gp.sampler.seed = 3;
        gp.mask = &mk;
        ur_gen_result r;
        int np = ur_tokenize(m->vocab, "Hi", 2, 1, 0, prompt, 16, &err);
        REQUIRE(ur_generate(c, prompt, np, &gp, NULL, NULL, &r, &err) == 0);
        CHECKF(r.stop_reason == UR_STOP_EOG, "stop %s", ur_stop_reason_name(r.stop_reason));
        CHECKF(r.n_gen == 7 && r.text.len == 7, "n_gen %d len %zu", r.n_gen, r.text.len);
        for (size_t i = 0; i < r.text.len; i++) CHECK(r.text.data[i] >= '0' && r.text.data[i] <= '9');
        /* accept() saw the 7 digits and the EOS that stopped generation */
        CHECK(d.n_accepted == 8 && !d.bad_accept && d.seen[7] == ur_vocab_eos(m->vocab));
        for (int i = 0; i < 7; i++) CHECK(is_digit_token(m->vocab, d.seen[i]));
        ur_buf_free(&r.text);
    }
    /* a mask that allows nothing: ur_generate fails with the mask's message */
    digits d = {.v = m->vocab, .n_digits = 3, .fail = 1};
    ur_logit_mask mk = {&d, digits_apply, digits_accept};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.mask = &mk;
    ur_gen_result r;
    int np = ur_tokenize(m->vocab, "Hi", 2, 1, 0, prompt, 16, &err);
    err.msg[0] = 0;
    CHECK(ur_generate(c, prompt, np, &gp, NULL, NULL, &r, &err) == -1 && strstr(err.msg, "nothing may come next"));
    ur_buf_free(&r.text);
    /* without a mask the same model writes other tokens too (the mask did the work) */
    ur_gen_defaults(&gp);
    gp.max_tokens = 30;
    gp.ignore_eog = 1;
    REQUIRE(ur_generate(c, prompt, np, &gp, NULL, NULL, &r, &err) == 0);
    int non_digit = 0;
    for (size_t i = 0; i < r.text.len; i++) non_digit |= r.text.data[i] < '0' || r.text.data[i] > '9';
    CHECK(non_digit);
    ur_buf_free(&r.text);
    ur_ctx_free(c);
    ur_model_free(m);
}

int main(void) {
    th_suite = "generate_mask";
    RUN(mask_constrains_output);
    TEST_MAIN_END();
}
