/* Options and progress output shared by `urial sft` and `urial train`. */
#ifndef URIAL_CLI_TRAIN_COMMON_H
#define URIAL_CLI_TRAIN_COMMON_H

#include "cli/cli.h"
#include "urial/train.h"

enum {
    CT_EPOCHS = 1000, CT_MAX_STEPS, CT_BATCH, CT_MICRO, CT_LR, CT_LR_END, CT_SCHED, CT_WARMUP, CT_BETA1, CT_BETA2,
    CT_EPS, CT_WD, CT_CLIP, CT_DROPOUT, CT_SEED, CT_SAVE_TYPE, CT_NAME, CT_SAMPLES, CT_SAMPLE_TOKENS, CT_EVAL_EVERY,
    CT_SAVE_EVERY, CT_SAVE_MIN, CT_RESUME, CT_RECOMPUTE, CT_QUIET, CT_CKPT_EVERY
};

#define CLI_TRAIN_LONGOPTS                                                                                        \
    {"epochs", required_argument, 0, CT_EPOCHS}, {"max-steps", required_argument, 0, CT_MAX_STEPS},               \
    {"batch", required_argument, 0, CT_BATCH}, {"micro-tokens", required_argument, 0, CT_MICRO},                  \
    {"lr", required_argument, 0, CT_LR}, {"lr-end", required_argument, 0, CT_LR_END},                             \
    {"sched", required_argument, 0, CT_SCHED}, {"warmup", required_argument, 0, CT_WARMUP},                       \
    {"beta1", required_argument, 0, CT_BETA1}, {"beta2", required_argument, 0, CT_BETA2},                         \
    {"eps", required_argument, 0, CT_EPS}, {"weight-decay", required_argument, 0, CT_WD},                         \
    {"clip", required_argument, 0, CT_CLIP}, {"dropout", required_argument, 0, CT_DROPOUT},                       \
    {"seed", required_argument, 0, CT_SEED}, {"save-type", required_argument, 0, CT_SAVE_TYPE},                   \
    {"name", required_argument, 0, CT_NAME}, {"samples", required_argument, 0, CT_SAMPLES},                       \
    {"sample-tokens", required_argument, 0, CT_SAMPLE_TOKENS}, {"eval-every", required_argument, 0, CT_EVAL_EVERY}, \
    {"save-every", required_argument, 0, CT_SAVE_EVERY}, {"save-minutes", required_argument, 0, CT_SAVE_MIN},     \
    {"resume", no_argument, 0, CT_RESUME}, {"recompute", no_argument, 0, CT_RECOMPUTE},                           \
    {"quiet", no_argument, 0, CT_QUIET}, {"threads", required_argument, 0, 't'},                                \
    {"ckpt-every", required_argument, 0, CT_CKPT_EVERY}

extern const char *const CLI_TRAIN_HELP_COMMON;

/* State of the option parsing and of the progress printer. */
typedef struct cli_train_extra {
    int lr_set, lr_end_set, dropout_set, quiet;
    double last_print;
} cli_train_extra;

void cli_train_defaults(ur_train_opts *o);
/* Handle a shared option: 1 handled, 0 not a shared option, -1 bad value (printed). */
int cli_train_opt(int c, const char *arg, ur_train_opts *o, cli_train_extra *x);
/* The progress callback (user = cli_train_extra). */
void cli_train_progress(void *user, const ur_train_event *ev);
/* What will be trained and the memory estimate, before starting. */
void cli_train_print_plan(const ur_tnet *n, const ur_train_opts *o, const ur_tdata *tr, const ur_tdata *dev);

#endif
