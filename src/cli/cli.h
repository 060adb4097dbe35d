/* Shared pieces of the subcommands: option parsing helpers and model loading
 * with the one-line error convention ("urial: FILE: what is wrong", exit 1). */
#ifndef URIAL_CLI_H
#define URIAL_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

/* Each subcommand: argc/argv start at the subcommand name. Returns the exit code. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_prompt(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tds(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print "urial: <fmt>" on one line to stderr and return 1 (the exit code). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing for option values; on error prints one line naming the
 * option and returns -1. */
int cli_int(const char *opt, const char *s, long min, long max, long *out);
int cli_float(const char *opt, const char *s, double min, double max, double *out);
int cli_u64(const char *opt, const char *s, uint64_t *out);

/* Run getopt_long with opterr off; returns the option, -1 at the end, or prints a
 * one-line error for an unknown option / missing value and returns '?'. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *cmd);

/* Parse a comma-separated list of token ids. Returns count or -1 (error printed). */
int cli_parse_ids(const char *s, int32_t **out);

/* Tokenize text into a malloc'ed array (*ids); returns the count or -1 (error printed). */
int cli_tokenize(const ur_vocab *v, const char *text, int add_bos, int special, int32_t **ids);

/* Weight type by name ("q4_0", "Q4_K", "f16", ...); -1 if unknown. */
int cli_type_from_name(const char *name);

/* Load a model and make a context; prints the error line and returns NULL on failure.
 * Tells on stderr what was loaded and the KV cache size unless quiet. */
ur_model *cli_load_model(const char *path);
ur_ctx *cli_new_ctx(const ur_model *m, int n_ctx, int n_threads, int quiet);

/* The chat format that --urial / --template ask for (neither: the default URIAL
 * prompt). --template auto reads the model's GGUF: `g` if given, else the file
 * `model` (NULL: an error saying -m is needed). Prints a warning the format has
 * and, on failure, the error line; returns NULL then. */
ur_chat *cli_open_format(const char *cmd, const char *urial, const char *tmpl, const char *model, const ur_gguf *g);

/* Sampling options shared by chat and run: --temp --top-k --top-p --min-p
 * --repeat-penalty --repeat-last-n --seed, with the decoding defaults of the URIAL
 * paper's runs (docs/urial.md "Decoding in the paper"): greedy, and for URIAL prompts the
 * Hugging Face repetition penalty 1.1 over the whole context; templates (aligned
 * models) get no penalty, as the authors ran their aligned baselines. */
enum { CLI_O_TEMP = 1000, CLI_O_TOPK, CLI_O_TOPP, CLI_O_MINP, CLI_O_RP, CLI_O_RLN, CLI_O_SEED };
#define CLI_SAMPLING_OPTIONS                                                                                          \
    {"temp", required_argument, 0, CLI_O_TEMP}, {"top-k", required_argument, 0, CLI_O_TOPK},                       \
        {"top-p", required_argument, 0, CLI_O_TOPP}, {"min-p", required_argument, 0, CLI_O_MINP},                   \
        {"repeat-penalty", required_argument, 0, CLI_O_RP}, {"repeat-last-n", required_argument, 0, CLI_O_RLN},     \
        {"seed", required_argument, 0, CLI_O_SEED}
extern const char CLI_SAMPLING_HELP[];
typedef struct cli_sampling {
    ur_sampler_params p;
    int rp_given; /* --repeat-penalty was given (else the format's default applies) */
} cli_sampling;
void cli_sampling_init(cli_sampling *s);
/* Returns 1 when c was a sampling option (handled), 0 when not, -1 on a bad value (printed). */
int cli_sampling_opt(cli_sampling *s, int c, const char *arg);
/* Final parameters for a format: the repetition penalty default by kind. */
ur_sampler_params cli_sampling_for(const cli_sampling *s, const ur_chat *f);

/* Remote backend options shared by run and chat (src/cli/remote.c):
 * --backend local|openai --base-url URL --api-key-env VAR --concurrency N --timeout S --retries N.
 * With --backend openai, -m/--model names the model on the server; a path ending in
 * .gguf names it as urial serve does (the file's base name without .gguf). */
enum { CLI_O_BACKEND = 1100, CLI_O_BASEURL, CLI_O_KEYENV, CLI_O_CONC, CLI_O_TIMEOUT, CLI_O_RETRIES };
#define CLI_REMOTE_OPTIONS                                                                                            \
    {"backend", required_argument, 0, CLI_O_BACKEND}, {"base-url", required_argument, 0, CLI_O_BASEURL},           \
        {"api-key-env", required_argument, 0, CLI_O_KEYENV}, {"concurrency", required_argument, 0, CLI_O_CONC},     \
        {"timeout", required_argument, 0, CLI_O_TIMEOUT}, {"retries", required_argument, 0, CLI_O_RETRIES}
extern const char CLI_REMOTE_HELP[];
typedef struct cli_remote {
    int on;                  /* --backend openai */
    const char *url, *key_env;
    long concurrency, retries;
    double timeout;
    char model[256];         /* the model's name on the server (cli_remote_open) */
} cli_remote;
void cli_remote_init(cli_remote *r);
/* Returns 1 when c was a remote option (handled), 0 when not, -1 on a bad value (printed). */
int cli_remote_opt(cli_remote *r, int c, const char *arg);
/* Check the options (cmd for messages; model: -m) and connect nothing yet: returns
 * the client, or NULL after printing the error line. */
struct ur_remote *cli_remote_open(cli_remote *r, const char *cmd, const char *model);

/* With neither --urial nor --template: a note on stderr when the model carries a
 * chat template urial recognises (an aligned model is probably meant). */
void cli_note_aligned(const ur_model *m, const char *urial, const char *tmpl);

/* A progress line on stderr, redrawn in place (callers draw it only when stderr is a
 * terminal): "[done/total] pct%  EXTRA  ETA t"; the ETA assumes the `left` items go
 * at the pace of the `worked` ones done in `elapsed` seconds ("?" before the first).
 * Used by run and eval. */
void cli_progress_line(int done, int total, int worked, int left, double elapsed, const char *extra);

/* Default context for chat and run: the model's, at most 4096 tokens (a long
 * trained context would make a large KV cache; --ctx N overrides). */
int cli_default_ctx(const ur_model *m);

/* Progress of a batch job (tds) on one stderr line with cli_progress_line, only
 * when stderr is a terminal: [done/total] %, tokens/s, ETA. Units are items. */
typedef struct cli_progress {
    int tty, total, done, skipped, generated; /* units: all, in the file, skipped, generated now */
    double t0, t_gen;                         /* start; seconds spent producing tokens */
    long tokens;                              /* tokens produced in t_gen */
} cli_progress;
void cli_progress_show(const cli_progress *p);

/* --shard I/N: 0 <= I < N. Returns 0, or -1 when s is not that. */
int cli_parse_shard(const char *s, long *i, long *n);

#endif
