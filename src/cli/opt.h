/* The commands' options as tables: one entry per option with its names, the value
 * it takes, one validation rule and one help text. Parsing, the range checks, the
 * "unknown option" errors and --help all come from the tables, and getopt's ids are
 * given out by position, so no two options can collide.
 *
 * A command's table lists its own options and includes shared groups (cli.h): the
 * model and engine (-m, -t, --ctx), the chat format (--urial | --template), decoding,
 * the prompt cache, the remote backend and the job selection (--limit, --shard). A
 * group is a struct holding its values and its own table, filled by its init
 * function, so the same option means the same thing with the same rule everywhere. */
#ifndef URIAL_CLI_OPT_H
#define URIAL_CLI_OPT_H

#include <stdint.h>

typedef enum cli_kind {
    CLI_END = 0, /* the end of a table */
    CLI_TEXT,    /* a line of help only (a heading, a note) */
    CLI_GROUP,   /* the options of another table (dst: const cli_opt *) */
    CLI_FLAG,    /* int *dst = 1 */
    CLI_STR,     /* const char **dst = the value */
    CLI_STRS,    /* cli_strs *dst: the value appended (a repeatable option) */
    CLI_INT,     /* int *dst, in [min, max] */
    CLI_LONG,    /* long *dst, in [min, max] */
    CLI_REAL,    /* double *dst, in [min, max] */
    CLI_FLOAT,   /* float *dst, in [min, max] */
    CLI_U64,     /* uint64_t *dst */
    CLI_CHOICE,  /* int *dst = the index of the value in `choices` ("multi|safety|auto") */
    CLI_FN,      /* fn(dst, value): 0, or -1 after printing the error */
} cli_kind;

typedef struct cli_opt {
    cli_kind kind;
    const char *name;    /* the long name, without "--" */
    int sh;              /* a short letter, or 0 */
    const char *arg;     /* the value's name in the help ("N", "FILE"); NULL for flags */
    const char *help;    /* "\n" starts an indented continuation line */
    void *dst;
    double min, max;     /* CLI_INT, CLI_LONG, CLI_REAL, CLI_FLOAT */
    const char *choices; /* CLI_CHOICE */
    int (*fn)(void *dst, const char *value);
    int *seen;           /* optional: set to 1 when the option is given */
} cli_opt;

typedef struct cli_strs {
    const char *v[64];
    int n;
} cli_strs;

#define OPT_END {.kind = CLI_END}
#define OPT_TEXT(h) {.kind = CLI_TEXT, .help = (h)}
#define OPT_GROUP(t) {.kind = CLI_GROUP, .dst = (void *)(t)}
#define OPT_FLAG(n, s, d, h) {.kind = CLI_FLAG, .name = (n), .sh = (s), .dst = (d), .help = (h)}
#define OPT_STR(n, s, a, d, h) {.kind = CLI_STR, .name = (n), .sh = (s), .arg = (a), .dst = (d), .help = (h)}
#define OPT_STRS(n, s, a, d, h) {.kind = CLI_STRS, .name = (n), .sh = (s), .arg = (a), .dst = (d), .help = (h)}
#define OPT_INT(n, s, a, lo, hi, d, h) \
    {.kind = CLI_INT, .name = (n), .sh = (s), .arg = (a), .min = (lo), .max = (hi), .dst = (d), .help = (h)}
#define OPT_LONG(n, s, a, lo, hi, d, h) \
    {.kind = CLI_LONG, .name = (n), .sh = (s), .arg = (a), .min = (lo), .max = (hi), .dst = (d), .help = (h)}
#define OPT_REAL(n, s, a, lo, hi, d, h) \
    {.kind = CLI_REAL, .name = (n), .sh = (s), .arg = (a), .min = (lo), .max = (hi), .dst = (d), .help = (h)}
#define OPT_FLOAT(n, s, a, lo, hi, d, h) \
    {.kind = CLI_FLOAT, .name = (n), .sh = (s), .arg = (a), .min = (lo), .max = (hi), .dst = (d), .help = (h)}
#define OPT_U64(n, s, a, d, h) {.kind = CLI_U64, .name = (n), .sh = (s), .arg = (a), .dst = (d), .help = (h)}
#define OPT_CHOICE(n, s, c, d, h) \
    {.kind = CLI_CHOICE, .name = (n), .sh = (s), .arg = (c), .choices = (c), .dst = (d), .help = (h)}
#define OPT_FN(n, s, a, f, d, h) {.kind = CLI_FN, .name = (n), .sh = (s), .arg = (a), .fn = (f), .dst = (d), .help = (h)}

/* A command: "run", "tds prefix", ... (messages), the text --help prints before the
 * options (usage lines and what the command does), its table, the text after the
 * options, and how many positional arguments it takes. */
typedef struct cli_cmd {
    const char *name;
    const char *usage;
    const cli_opt *opts;
    const char *epilog;
    int min_args, max_args;
} cli_cmd;

/* Parse argv[1..argc) (argv[0] is the command's name). Returns the index of the
 * first positional argument (argc when there is none), 0 after printing --help
 * (exit 0), or -1 after printing one error line (exit 1). */
int cli_parse(const cli_cmd *c, int argc, char **argv);

/* --help of a command, as cli_parse prints it. */
void cli_help(const cli_cmd *c);

#endif
