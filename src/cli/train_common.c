/* Options and progress output shared by `urial sft` and `urial train`. */
#include "cli/train_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/quantize.h"
#include "urial/tensor.h"

static int parse_sched(void *dst, const char *v) {
    if ((*(int *)dst = ur_sched_parse(v)) < 0) return cli_fail("--sched: '%s' is not linear, cosine or constant", v), -1;
    return 0;
}

/* A file type of `urial quantize` (the same code writes the checkpoints). */
static int parse_save_type(void *dst, const char *v) {
    ur_tsave_opts *s = dst;
    ur_qmix m;
    ur_err err = {{0}};
    if (ur_qmix_init(&m, v, 0, &err)) return cli_fail("--save-type: %s", err.msg), -1;
    s->type = m.base;
    s->mix = v;
    return 0;
}

void cli_train_init(cli_train *t) {
    memset(t, 0, sizeof *t);
    ur_train_opts *o = &t->o;
    o->adamw = (ur_adamw){0.9f, 0.95f, 1e-8f, 0.1f};
    o->clip = 1.0f;
    o->seed = 1;
    o->save.type = UR_TYPE_F32;
    o->sample_tokens = 200;
    o->save_minutes = 10;
    const cli_opt opts[] = {
        OPT_INT("epochs", 0, "N", 1, 1000000, &o->epochs, "passes over the training data"),
        OPT_LONG("max-steps", 0, "N", 0, 1e12, &o->max_steps, "stop after N optimizer steps (default 0 = all epochs)"),
        OPT_INT("batch", 0, "N", 1, 1 << 24, &o->batch,
                "sequences per optimizer step (gradients accumulated over micro-batches)"),
        OPT_INT("micro-tokens", 0, "N", 1, 1 << 24, &o->micro_tokens,
                "tokens per micro-batch: sequences are packed up to N tokens (activation\n"
                "memory grows with N; the default fits the longest sequence)"),
        {.kind = CLI_FLOAT, .name = "lr", .arg = "X", .min = 0, .max = 10, .dst = &o->sched.lr, .seen = &t->lr_set,
         .help = "peak learning rate"},
        {.kind = CLI_FLOAT, .name = "lr-end", .arg = "X", .min = 0, .max = 10, .dst = &o->sched.lr_end,
         .seen = &t->lr_end_set, .help = "final learning rate"},
        OPT_FN("sched", 0, "S", parse_sched, &o->sched.kind, "linear | cosine | constant decay from --lr to --lr-end"),
        {.kind = CLI_LONG, .name = "warmup", .arg = "N", .min = 0, .max = 1e12, .dst = &o->sched.warmup,
         .seen = &t->warmup_set, .help = "linear warmup steps from 0 to --lr"},
        OPT_FLOAT("beta1", 0, "X", 0, 0.999999, &o->adamw.beta1, "AdamW (default 0.9)"),
        OPT_FLOAT("beta2", 0, "X", 0, 0.999999, &o->adamw.beta2, "AdamW (default 0.95)"),
        OPT_FLOAT("eps", 0, "X", 0, 1, &o->adamw.eps, "AdamW (default 1e-8)"),
        OPT_FLOAT("weight-decay", 0, "X", 0, 10, &o->adamw.weight_decay, "AdamW, on matrices, not norms (default 0.1)"),
        OPT_FLOAT("clip", 0, "X", 0, 1e9, &o->clip, "clip the global gradient norm to X (0 = off; default 1)"),
        {.kind = CLI_FLOAT, .name = "dropout", .arg = "X", .min = 0, .max = 0.95, .dst = &o->dropout,
         .seen = &t->dropout_set, .help = "residual dropout at the top layer, rising linearly from 0 at the bottom"},
        OPT_U64("seed", 0, "N", &o->seed, "data order and dropout masks (default 1)"),
        OPT_FN("save-type", 0, "T", parse_save_type, &o->save,
               "checkpoint weights: f32 (default), f16, bf16, q8_0, q4_0, q4_K_M, q5_K_M, q6_K, ...\n"
               "(the types and mixtures of urial quantize; norms stay f32)"),
        OPT_STR("name", 0, "NAME", &o->save.name, "general.name of the checkpoints"),
        OPT_INT("samples", 0, "N", 0, 10000, &o->n_samples, "greedy sample generations per checkpoint in the report"),
        OPT_INT("sample-tokens", 0, "N", 1, 1 << 20, &o->sample_tokens, "tokens per sample (default 200)"),
        OPT_INT("ckpt-every", 0, "N", 1, 1 << 30, &o->ckpt_every,
                "a checkpoint every N epochs (default 1; the last step always gets one)"),
        OPT_INT("eval-every", 0, "N", 0, 1 << 30, &o->eval_every, "dev loss every N steps too (checkpoints always have it)"),
        OPT_INT("save-every", 0, "N", 0, 1 << 30, &o->save_every,
                "training state (for --resume) every N steps too (epoch ends always)"),
        OPT_REAL("save-minutes", 0, "X", 0, 1e9, &o->save_minutes,
                 "... and when X minutes passed since the last save (default 10)"),
        OPT_FLAG("resume", 0, &o->resume, "continue from DIR/state.gguf exactly where it stopped (same command)"),
        OPT_FLAG("overwrite", 0, &o->overwrite,
                 "start over in a DIR that holds a run (its run files and checkpoints are\n"
                 "removed); without it or --resume such a DIR is refused"),
        OPT_CHOICE("keep", 0, "all|last|best", &o->keep,
                   "checkpoint files kept: all (default: LIMA picks an epoch by reading every\n"
                   "checkpoint's samples), the last, or the lowest dev loss"),
        OPT_FLAG("recompute", 0, &o->recompute,
                 "keep only each layer's input, recompute the layer in the backward pass\n"
                 "(less activation memory, ~1/3 more compute)"),
        OPT_FLAG("quiet", 0, &t->quiet, "no per-step progress lines"),
        OPT_INT("threads", 't', "N", 1, 1024, &o->threads, "threads (default: all cores)"),
        OPT_END};
    _Static_assert(sizeof opts <= sizeof t->opts, "cli_train.opts is too small");
    memcpy(t->opts, opts, sizeof opts);
}

static void fmt_time(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) snprintf(b, n, "?");
    else if (s >= 3600) snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(b, n, "%.0fs", s);
}

void cli_train_progress(void *user, const ur_train_event *ev) {
    cli_train *x = user;
    char eta[32], el[32];
    switch (ev->kind) {
    case UR_TEV_START:
        if (ev->resumed_from) fprintf(stderr, "urial: resuming at step %lld of %lld\n", (long long)ev->resumed_from,
                                      (long long)ev->total_steps);
        return;
    case UR_TEV_STEP: {
        double now = ur_now();
        if (x->quiet || (now - x->last_print < 1.0 && ev->step != ev->total_steps)) return;
        x->last_print = now;
        fmt_time(eta, sizeof eta, ev->eta_s);
        fprintf(stderr, "step %lld/%lld  epoch %d/%d  loss %.4f  lr %.3g  grad-norm %.3g  %.0f tok/s  ETA %s\n",
                (long long)ev->step, (long long)ev->total_steps, ev->epoch, ev->epochs, ev->loss, ev->lr, ev->gnorm,
                ev->tok_s, eta);
        return;
    }
    case UR_TEV_EVAL:
        if (!x->quiet)
            fprintf(stderr, "step %lld  dev loss %.4f  perplexity %.3f\n", (long long)ev->step, ev->dev_loss,
                    exp(ev->dev_loss));
        return;
    case UR_TEV_CKPT:
        fprintf(stderr, "urial: checkpoint %s (epoch %d, step %lld)\n", ev->path, ev->epoch, (long long)ev->step);
        return;
    case UR_TEV_DONE:
        fmt_time(el, sizeof el, ev->elapsed_s);
        fprintf(stderr, "urial: done: %lld steps in %s (%.0f tok/s); report: %s\n", (long long)ev->step, el, ev->tok_s,
                ev->path);
        return;
    }
}

void cli_train_print_plan(const ur_tnet *n, const ur_train_opts *o, const ur_tdata *tr, const ur_tdata *dev) {
    const uint64_t state = 4ull * sizeof(float) * n->n_params;
    const uint64_t act = ur_tctx_bytes(n, o->micro_tokens, o->recompute, o->threads);
    fprintf(stderr,
            "urial: %s: %.2fM trainable parameters; %d training sequences (%lld tokens, %lld with a loss)%s\n",
            o->kind, (double)n->n_params / 1e6, tr->n, (long long)tr->n_tokens, (long long)tr->n_targets,
            tr->n_truncated ? ", some truncated" : "");
    if (dev) fprintf(stderr, "urial: dev: %d sequences (%lld target tokens)\n", dev->n, (long long)dev->n_targets);
    fprintf(stderr,
            "urial: memory estimate %.0f MiB: weights + gradients + AdamW moments %.0f MiB, activations %.0f MiB "
            "(micro-batches of %d tokens%s)%s\n",
            (double)(state + act) / (1 << 20), (double)state / (1 << 20), (double)act / (1 << 20), o->micro_tokens,
            o->recompute ? ", recompute" : "", n->base && n->lora ? ", plus the mapped base model" : "");
}

int cli_train_go(cli_train *t, ur_tnet *n, ur_tdata *tr, ur_tdata *dev, int argc, char **argv) {
    ur_err err = {{0}};
    if (ur_train_check_out(&t->o, &err)) return cli_fail("%s", err.msg);
    ur_buf title = {0};
    for (int i = 0; i < argc; i++) ur_buf_printf(&title, "%s%s", i ? " " : "urial ", argv[i]);
    t->o.title = title.data;
    cli_train_print_plan(n, &t->o, tr, dev);
    int rc = ur_train_run(n, tr, dev, &t->o, cli_train_progress, t, &err) ? cli_fail("%s", err.msg) : 0;
    t->o.title = NULL;
    ur_buf_free(&title);
    return rc;
}
