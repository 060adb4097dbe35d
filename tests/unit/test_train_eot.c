/* A new end-of-turn token (urial sft --eot new, src/train/eot.c and the n_new rows of
 * net.c): the grown vocabulary reads the token's text as one control token and ends
 * generation on it; the new embedding and output rows start at the mean of the base's;
 * LoRA's separate new-row tensors compute what full training's extra matrix rows compute
 * (loss and gradients, tied and untied), their gradients match finite differences, an
 * optimizer step moves them, and a saved checkpoint has the token in its vocabulary, its
 * EOG set and its weights (the engine's loss equals the trainer's; generation stops on it). */
#include <math.h>
#include <stdint.h>

#include "harness.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tensor.h"
#include "urial/tokenizer.h"
#include "urial/train.h"

#define EOT "<|eot|>"

static int synth(const char *path, int tied) {
    ur_synth_params p;
    ur_synth_defaults(&p);
    p.dim = 64, p.n_layers = 2, p.n_heads = 4, p.n_kv_heads = 2, p.ff = 128, p.n_ctx = 64;
    p.tied = tied, p.seed = 5, p.vocab_path = "models/urial-demo-base.gguf", p.type = UR_TYPE_F32;
    ur_err err;
    return ur_synth_write(&p, path, &err);
}

static void grown_vocab(void) {
    ur_err err;
    ur_gguf *g = ur_gguf_open("models/urial-demo-base.gguf", &err), *vg = NULL;
    REQUIRE(g);
    ur_vocab *v = ur_vocab_with_eot(g, EOT, &vg, &err);
    REQUIRE(v);
    const int32_t V0 = 4096;
    CHECK(ur_vocab_size(v) == V0 + 1 && ur_vocab_eot(v) == V0 && ur_vocab_is_eog(v, V0));
    CHECK(ur_vocab_type(v, V0) == UR_TOK_CONTROL && ur_vocab_is_eog(v, ur_vocab_eos(v)));
    int32_t ids[16];
    int n = ur_tokenize(v, "Hi" EOT, strlen("Hi" EOT), 0, 1, ids, 16, &err);
    CHECKF(n == 2 && ids[1] == V0, "%d tokens, last %d", n, n > 0 ? ids[n - 1] : -1);
    n = ur_tokenize(v, EOT, strlen(EOT), 0, 0, ids, 16, &err); /* without special parsing: text */
    CHECKF(n > 1, "%d tokens", n);
    ur_vocab_free(v);
    ur_gguf_close(vg);
    /* a text the vocabulary already has is refused, naming the file and the token */
    CHECK(!ur_vocab_with_eot(g, "</s>", &vg, &err) && strstr(err.msg, "urial-demo-base.gguf") &&
          strstr(err.msg, "token 2"));
    ur_gguf_close(g);
}

static void jinja_marker(void) {
    char *t = ur_jinja_with_eot("{{ 'a' + eos_token }}{{ eos_token }}", "eos_token", EOT);
    CHECKF(t && !strcmp(t, "{{ 'a' + '" EOT "' }}{{ '" EOT "' }}"), "%s", t ? t : "(null)");
    free(t);
    CHECK(!ur_jinja_with_eot("{{ eos_token }}", "eos_token", "a'b"));
    CHECK(!ur_jinja_with_eot("{{ x }}", "eos_token", EOT));
}

/* A batch with the new token as an input and as a target (V0 = its id). */
static const int32_t TOK[12] = {1, 50, 60, 70, 4096, 80, 90, 100, 110, 120, 4096, 130};
static int32_t tgt[12], pos[12], seg[12];
static ur_tbatch batch(void) {
    for (int t = 0; t < 12; t++) tgt[t] = t + 1 < 12 ? TOK[t + 1] : -1, pos[t] = t, seg[t] = 0;
    return (ur_tbatch){.n = 12, .tokens = TOK, .targets = tgt, .pos = pos, .seg = seg};
}

static double rel(double a, double b) { return fabs(a - b) / fmax(1e-12, fmax(fabs(a), fabs(b))); }

static void full_vs_lora(int tied) {
    char path[300];
    snprintf(path, sizeof path, "%s/eot-%d.gguf", th_tmpdir(), tied);
    REQUIRE(synth(path, tied) == 0);
    ur_err err;
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    const int V0 = m->hp.n_vocab, D = m->hp.dim;
    ur_tnet *f = ur_tnet_from_model_grown(m, 1, &err), *l = ur_tnet_lora_grown(m, 2, 4.0f, UR_LORA_ALL, 3, 1, &err);
    REQUIRE(f && l);
    CHECK(f->hp.n_vocab == V0 + 1 && l->hp.n_vocab == V0 + 1 && l->tied == tied);
    CHECK(ur_tnet_find(l, "token_embd.weight.new") && (ur_tnet_find(l, "output.weight.new") == NULL) == tied);
    /* the new rows start at the mean of the base's rows */
    double worst = 0;
    for (int i = 0; i < D; i++) {
        double s = 0, so = 0;
        for (int r = 0; r < V0; r++) s += f->embd[(size_t)r * D + i], so += f->output.w[(size_t)r * D + i];
        worst = fmax(worst, fabs(f->embd[(size_t)V0 * D + i] - s / V0));
        worst = fmax(worst, fabs(f->output.w[(size_t)V0 * D + i] - so / V0));
        worst = fmax(worst, fabs(l->embd_new[i] - f->embd[(size_t)V0 * D + i]));
        worst = fmax(worst, fabs(l->output.xw[i] - f->output.w[(size_t)V0 * D + i]));
    }
    CHECKF(worst < 1e-6, "new rows vs the mean of the base's rows: %g", worst);
    /* LoRA at B = 0 is the full model: the same loss, the same gradient of the new rows */
    ur_tbatch b = batch();
    ur_tctx *cf = ur_tctx_new(f, 16, 0, 2, &err), *cl = ur_tctx_new(l, 16, 0, 2, &err);
    REQUIRE(cf && cl);
    ur_grad_zero(f), ur_grad_zero(l);
    int got;
    double lf = ur_tctx_step(cf, f, &b, 1.0f, (ur_tdrop){0}, &got), ll = ur_tctx_step(cl, l, &b, 1.0f, (ur_tdrop){0}, &got);
    CHECKF(rel(lf, ll) < 1e-5, "loss full %g, LoRA %g", lf, ll);
    double ge = 0, go = 0, gmax = 0;
    for (int i = 0; i < D; i++) {
        gmax = fmax(gmax, fabs(f->g_embd[(size_t)V0 * D + i]));
        ge = fmax(ge, fabs(l->g_embd_new[i] - f->g_embd[(size_t)V0 * D + i]));
        if (!tied) go = fmax(go, fabs(l->output.gxw[i] - f->output.gw[(size_t)V0 * D + i]));
    }
    CHECKF(gmax > 0 && ge <= 1e-4 * gmax && go <= 1e-4 * gmax, "new-row gradients: embedding %g, output %g (max %g)",
           ge, go, gmax);
    /* finite differences along the LoRA new rows; the mean embedding row is tiny (~3e-4 per
     * element) and goes through an RMS norm, so first give it an ordinary token's row */
    memcpy(l->embd_new, f->embd + (size_t)50 * D, sizeof(float) * (size_t)D);
    ur_grad_zero(l);
    ur_tctx_step(cl, l, &b, 1.0f, (ur_tdrop){0}, &got);
    const float hs[2] = {2e-3f, 1e-2f};
    float *rows[2] = {l->embd_new, tied ? NULL : l->output.xw};
    const float *grads[2] = {l->g_embd_new, tied ? NULL : l->output.gxw};
    double fd_worst = 0;
    for (int k = 0; k < 2; k++)
        for (int j = 0; rows[k] && j < D; j += 21) {
            const float x0 = rows[k][j], h = hs[k];
            rows[k][j] = x0 + h;
            double up = ur_tctx_eval(cl, l, &b, &got);
            rows[k][j] = x0 - h;
            double dn = ur_tctx_eval(cl, l, &b, &got);
            rows[k][j] = x0;
            double fd = (up - dn) / (2 * h);
            fd_worst = fmax(fd_worst, fabs(fd - grads[k][j]) / fmax(1e-3, fabs(fd)));
        }
    CHECKF(fd_worst < 1e-2, "finite differences vs gradients of the new rows: %g", fd_worst);
    /* an AdamW step moves the new rows */
    float before = l->embd_new[0], before_o = l->output.xw[0];
    float *mo = calloc(l->n_params, sizeof(float)), *vo = calloc(l->n_params, sizeof(float));
    ur_adamw o = {0.9f, 0.95f, 1e-8f, 0.1f};
    ur_adamw_step(l, mo, vo, 1, 1e-2f, &o, NULL);
    CHECK(l->embd_new[0] != before && l->output.xw[0] != before_o);
    free(mo), free(vo);
    /* the merged checkpoint: the token in its vocabulary and EOG set, the rows in its weights */
    char out[300];
    snprintf(out, sizeof out, "%s/eot-saved-%d.gguf", th_tmpdir(), tied);
    ur_tsave_opts so = {.name = "eot", .type = UR_TYPE_F32, .tok_src = m->gguf, .eot_text = EOT};
    REQUIRE(ur_tnet_save(l, &so, out, &err) == 0);
    ur_model *m2 = ur_model_load(out, &err);
    REQUIRE(m2);
    CHECK(m2->hp.n_vocab == V0 + 1 && ur_vocab_eot(m2->vocab) == V0 && ur_vocab_is_eog(m2->vocab, V0));
    CHECK(m2->tied_output == tied);
    double nll = ur_tctx_eval(cl, l, &b, &got);
    ur_ctx *ic = ur_ctx_new(m2, (ur_ctx_params){.n_ctx = 64, .n_threads = 2}, &err);
    REQUIRE(ic);
    float *lg = malloc(sizeof(float) * 12 * (size_t)(V0 + 1));
    REQUIRE(ur_decode(ic, TOK, 12, lg, 1, &err) == 0);
    double inf = 0;
    for (int t = 0; t < 11; t++) {
        const float *r = lg + (size_t)t * (V0 + 1);
        double mx = -1e30, s = 0;
        for (int i = 0; i <= V0; i++) mx = fmax(mx, r[i]);
        for (int i = 0; i <= V0; i++) s += exp(r[i] - mx);
        inf += mx + log(s) - r[tgt[t]];
    }
    CHECKF(rel(inf, nll) < 1e-3, "trainer %g vs engine %g", nll, inf);
    free(lg);
    ur_ctx_free(ic);
    ur_model_free(m2);
    ur_tctx_free(cf), ur_tctx_free(cl);
    ur_tnet_free(f), ur_tnet_free(l);
    ur_model_free(m);
}
static void full_vs_lora_untied(void) { full_vs_lora(0); }
static void full_vs_lora_tied(void) { full_vs_lora(1); }

/* generation ends on the new token: a mask that lets only it through at the third step */
typedef struct force {
    int step;
    int32_t tok;
} force;
static int force_apply(void *user, float *logits, int n_vocab, ur_err *err) {
    (void)err;
    force *f = user;
    if (++f->step == 3)
        for (int i = 0; i < n_vocab; i++)
            if (i != f->tok) logits[i] = -INFINITY;
    return 0;
}
static void force_accept(void *user, int32_t tok) { (void)user, (void)tok; }

static void generation_stops(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/eot-saved-0.gguf", th_tmpdir());
    ur_err err;
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_threads = 2}, &err);
    REQUIRE(c);
    force f = {0, ur_vocab_eot(m->vocab)};
    ur_logit_mask mask = {&f, force_apply, force_accept};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = 10;
    gp.mask = &mask;
    int32_t toks[16];
    gp.tokens = toks, gp.tokens_cap = 16;
    ur_gen_result res;
    REQUIRE(ur_generate(c, TOK, 4, &gp, NULL, NULL, &res, &err) == 0);
    CHECKF(res.stop_reason == UR_STOP_EOG && res.n_gen == 2 && toks[2] == 4096, "stop %d after %d tokens",
           res.stop_reason, res.n_gen);
    CHECK(!res.text.data || !strstr(res.text.data, EOT));
    ur_buf_free(&res.text);
    ur_ctx_free(c);
    ur_model_free(m);
}

int main(void) {
    th_suite = "train_eot";
    RUN(grown_vocab);
    RUN(jinja_marker);
    RUN(full_vs_lora_untied);
    RUN(full_vs_lora_tied);
    RUN(generation_stops);
    TEST_MAIN_END();
}
