/* Shared pieces of the subcommands: option parsing helpers and model loading
 * with the one-line error convention ("urial: FILE: what is wrong", exit 1). */
#ifndef URIAL_CLI_H
#define URIAL_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "urial/base.h"
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

#endif
