/* Options and progress output shared by `urial sft` and `urial train`. */
#ifndef URIAL_CLI_TRAIN_COMMON_H
#define URIAL_CLI_TRAIN_COMMON_H

#include "cli/cli.h"
#include "urial/train.h"

/* The training options (an option group, see cli/opt.h) and the state of the
 * progress printer. The *_set flags tell which defaults the user overrode. */
typedef struct cli_train {
    ur_train_opts o;
    int lr_set, lr_end_set, dropout_set, warmup_set, quiet;
    double last_print;
    cli_opt opts[32];
} cli_train;
void cli_train_init(cli_train *t);

/* Print the plan, train, and report: the exit code. The report's subtitle is the
 * command line (argv from the subcommand's name). */
int cli_train_go(cli_train *t, ur_tnet *n, ur_tdata *tr, ur_tdata *dev, int argc, char **argv);

/* The progress callback (user = cli_train). */
void cli_train_progress(void *user, const ur_train_event *ev);
/* What will be trained and the memory estimate, before starting. */
void cli_train_print_plan(const ur_tnet *n, const ur_train_opts *o, const ur_tdata *tr, const ur_tdata *dev);

#endif
