/* Options and progress output shared by `urial sft` and `urial train`. */
#include "cli/train_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/tensor.h"

const char *const CLI_TRAIN_HELP_COMMON =
    "  --epochs N            passes over the training data\n"
    "  --max-steps N         stop after N optimizer steps (default 0 = all epochs)\n"
    "  --batch N             sequences per optimizer step (gradients accumulated over micro-batches)\n"
    "  --micro-tokens N      tokens per micro-batch: sequences are packed up to N tokens (activation\n"
    "                        memory grows with N; the default fits the longest sequence)\n"
    "  --lr X --lr-end X     peak and final learning rate\n"
    "  --sched S             linear | cosine | constant decay from --lr to --lr-end\n"
    "  --warmup N            linear warmup steps from 0 to --lr\n"
    "  --beta1 X --beta2 X --eps X --weight-decay X   AdamW (weight decay on matrices, not norms)\n"
    "  --clip X              clip the global gradient norm to X (0 = off; default 1)\n"
    "  --dropout X           residual dropout at the top layer, rising linearly from 0 at the bottom\n"
    "  --seed N              data order and dropout masks (default 1)\n"
    "  --save-type T         checkpoint weights: f32 (default), f16, bf16, q8_0, q4_0 (norms stay f32)\n"
    "  --name NAME           general.name of the checkpoints\n"
    "  --samples N           greedy sample generations per checkpoint in the report\n"
    "  --sample-tokens N     tokens per sample (default 200)\n"
    "  --ckpt-every N        a checkpoint every N epochs (default 1; the last step always gets one)\n"
    "  --eval-every N        dev loss every N steps too (checkpoints always have it)\n"
    "  --save-every N        training state (for --resume) every N steps too (epoch ends always)\n"
    "  --save-minutes X      ... and when X minutes passed since the last save (default 10)\n"
    "  --resume              continue from DIR/state.gguf exactly where it stopped (same command)\n"
    "  --recompute           keep only each layer's input, recompute the layer in the backward pass\n"
    "                        (less activation memory, ~1/3 more compute)\n"
    "  --quiet               no per-step progress lines\n"
    "  -t, --threads N       threads (default: all cores)\n";

int cli_train_opt(int c, const char *arg, ur_train_opts *o, cli_train_extra *x) {
    long v;
    double d;
    switch (c) {
    case CT_EPOCHS: if (cli_int("--epochs", arg, 1, 1000000, &v)) return -1; o->epochs = (int)v; return 1;
    case CT_MAX_STEPS: if (cli_int("--max-steps", arg, 0, 1L << 40, &v)) return -1; o->max_steps = v; return 1;
    case CT_BATCH: if (cli_int("--batch", arg, 1, 1 << 24, &v)) return -1; o->batch = (int)v; return 1;
    case CT_MICRO: if (cli_int("--micro-tokens", arg, 1, 1 << 24, &v)) return -1; o->micro_tokens = (int)v; return 1;
    case CT_LR: if (cli_float("--lr", arg, 0, 10, &d)) return -1; o->sched.lr = (float)d, x->lr_set = 1; return 1;
    case CT_LR_END: if (cli_float("--lr-end", arg, 0, 10, &d)) return -1; o->sched.lr_end = (float)d, x->lr_end_set = 1; return 1;
    case CT_SCHED:
        if ((o->sched.kind = ur_sched_parse(arg)) < 0) {
            cli_fail("--sched: '%s' is not linear, cosine or constant", arg);
            return -1;
        }
        return 1;
    case CT_WARMUP: if (cli_int("--warmup", arg, 0, 1L << 40, &v)) return -1; o->sched.warmup = v; return 1;
    case CT_BETA1: if (cli_float("--beta1", arg, 0, 0.999999, &d)) return -1; o->adamw.beta1 = (float)d; return 1;
    case CT_BETA2: if (cli_float("--beta2", arg, 0, 0.999999, &d)) return -1; o->adamw.beta2 = (float)d; return 1;
    case CT_EPS: if (cli_float("--eps", arg, 0, 1, &d)) return -1; o->adamw.eps = (float)d; return 1;
    case CT_WD: if (cli_float("--weight-decay", arg, 0, 10, &d)) return -1; o->adamw.weight_decay = (float)d; return 1;
    case CT_CLIP: if (cli_float("--clip", arg, 0, 1e9, &d)) return -1; o->clip = (float)d; return 1;
    case CT_DROPOUT: if (cli_float("--dropout", arg, 0, 0.95, &d)) return -1; o->dropout = (float)d, x->dropout_set = 1; return 1;
    case CT_SEED: if (cli_u64("--seed", arg, &o->seed)) return -1; return 1;
    case CT_SAVE_TYPE: {
        int t = cli_type_from_name(arg);
        if (t != UR_TYPE_F32 && t != UR_TYPE_F16 && t != UR_TYPE_BF16 && t != UR_TYPE_Q8_0 && t != UR_TYPE_Q4_0) {
            cli_fail("--save-type: '%s' is not f32, f16, bf16, q8_0 or q4_0", arg);
            return -1;
        }
        o->save.type = t;
        return 1;
    }
    case CT_NAME: o->save.name = arg; return 1;
    case CT_SAMPLES: if (cli_int("--samples", arg, 0, 10000, &v)) return -1; o->n_samples = (int)v; return 1;
    case CT_SAMPLE_TOKENS: if (cli_int("--sample-tokens", arg, 1, 1 << 20, &v)) return -1; o->sample_tokens = (int)v; return 1;
    case CT_EVAL_EVERY: if (cli_int("--eval-every", arg, 0, 1L << 40, &v)) return -1; o->eval_every = (int)v; return 1;
    case CT_SAVE_EVERY: if (cli_int("--save-every", arg, 0, 1L << 40, &v)) return -1; o->save_every = (int)v; return 1;
    case CT_SAVE_MIN: if (cli_float("--save-minutes", arg, 0, 1e9, &d)) return -1; o->save_minutes = d; return 1;
    case CT_RESUME: o->resume = 1; return 1;
    case CT_RECOMPUTE: o->recompute = 1; return 1;
    case 't': if (cli_int("--threads", arg, 1, 1024, &v)) return -1; o->threads = (int)v; return 1;
    case CT_QUIET: x->quiet = 1; return 1;
    case CT_CKPT_EVERY: if (cli_int("--ckpt-every", arg, 1, 1 << 30, &v)) return -1; o->ckpt_every = (int)v; return 1;
    }
    return 0;
}

void cli_train_defaults(ur_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->adamw = (ur_adamw){0.9f, 0.95f, 1e-8f, 0.1f};
    o->clip = 1.0f;
    o->seed = 1;
    o->save.type = UR_TYPE_F32;
    o->sample_tokens = 200;
    o->save_minutes = 10;
}

static void fmt_time(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) snprintf(b, n, "?");
    else if (s >= 3600) snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(b, n, "%.0fs", s);
}

void cli_train_progress(void *user, const ur_train_event *ev) {
    cli_train_extra *x = user;
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
