/* What the subcommands share: the one-line error convention ("urial: FILE: what is
 * wrong", exit 1), the option groups several commands take (one table each: see
 * opt.h), opening models and chat formats, and the progress line of long jobs. */
#ifndef URIAL_CLI_H
#define URIAL_CLI_H

#include <stdint.h>

#include "cli/opt.h"
#include "urial/base.h"
#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/job.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

/* Each subcommand: argc/argv start at the subcommand name. Returns the exit code. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_convert_tokenizer(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_defaults(int argc, char **argv);
int cmd_prompt(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tds(int argc, char **argv);
int cmd_study(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* Print "urial: <fmt>" on one line to stderr and return 1 (the exit code). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- option groups ------------------------------------------------------------------ */
/* The model and the engine: -m/--model (when model_help is not NULL), -t/--threads N,
 * --ctx N (the context length; one rule for every command: 16 to 16M tokens). */
typedef struct cli_engine {
    const char *model;
    int threads, ctx; /* 0: all cores; the command's default context */
    cli_opt opts[4];
} cli_engine;
void cli_engine_init(cli_engine *e, const char *model_help, const char *ctx_help);

/* The chat format: --urial NAME|FILE or --template NAME|auto (neither: the default
 * URIAL prompt), and the URIAL paper's tuning-free baselines (docs/baselines.md):
 * --urial-format legacy|backticks, --zero-shot, --prefix-from FILE --prefix-words K,
 * --retrieve POOL [--k K] [--retrieve-embed MODEL.gguf]. The retrieval options come last in opts (a command that
 * has its own --k cuts the table there: opts[CLI_FORMAT_RETRIEVE] = OPT_END). */
enum { CLI_FORMAT_ZERO_SHOT = 4, CLI_FORMAT_RETRIEVE = 7 }; /* indices in opts */
enum { CLI_FORMAT_NO_PREFIX = 1, CLI_FORMAT_NO_BASELINES = 2 }; /* cli_format.refuse */
typedef struct cli_format {
    const char *urial, *tmpl;
    int legacy, format_given; /* --urial-format legacy; given at all */
    int zero_shot;
    const char *prefix_from;
    int prefix_words;
    const char *retrieve, *retrieve_embed;
    int k, k_given;
    int refuse;      /* CLI_FORMAT_*: what this command cannot do (a one-line refusal) */
    const char *why; /* the refusal's reason ("a chat has no aligned answers to continue") */
    cli_opt opts[12];
} cli_format;
void cli_format_init(cli_format *f);
/* Any option of the group given (a format other than the default URIAL prompt)? */
int cli_format_given(const cli_format *f);
/* The format asked for. --template auto reads the model's GGUF: `g` if given, else
 * the file `model` (NULL: an error saying -m is needed). Prints the format's warning
 * and notes (the retrieval index) and, on failure, the error line (contradicting
 * options included); returns NULL then. */
ur_chat *cli_format_open(const cli_format *f, const char *cmd, const char *model, const ur_gguf *g);
/* The options' own contradictions and this command's refusals: 0, or -1 (printed). */
int cli_format_check(const cli_format *f, const char *cmd);
/* With no format option given: a note on stderr when the model carries a
 * chat template urial recognises (an aligned model is probably meant). */
void cli_format_note_aligned(const cli_format *f, const ur_model *m);

/* Decoding: -n/--max-tokens N, --temp, --top-k, --top-p, --min-p, --repeat-penalty,
 * --repeat-last-n, --seed. The defaults are the URIAL paper's just-eval runs: greedy,
 * and the format's repetition penalty (ur_chat_decoding: 1.1 with a URIAL prompt, off
 * with a template) unless --repeat-penalty is given. */
typedef struct cli_decoding {
    ur_gen_params gp;
    cli_opt opts[10];
} cli_decoding;
void cli_decoding_init(cli_decoding *d, int max_tokens, const char *max_tokens_help);

/* The prompt prefix's KV cache: --prompt-cache DIR, --no-prefix-cache. */
typedef struct cli_cache {
    const char *dir;
    int off;
    cli_opt opts[3];
} cli_cache;
void cli_cache_init(cli_cache *c, int with_off);
int cli_cache_check(const cli_cache *c, const char *cmd); /* 0, or -1 (printed) when both are given */

/* The remote backend: --backend local|openai|openai-chat, --base-url URL, --api-key-env VAR,
 * --concurrency N, --timeout S, --retries N. With --backend openai, -m names the
 * model on the server (a path ending in .gguf: its base name, as urial serve names
 * it). */
enum { CLI_BACKEND_LOCAL = 0, CLI_BACKEND_OPENAI = 1, CLI_BACKEND_OPENAI_CHAT = 2 };
typedef struct cli_remote {
    int on; /* CLI_BACKEND_*: --backend openai (/v1/completions, the prompt rendered here) or openai-chat
               (/v1/chat/completions, the server's template) */
    const char *url, *key_env;
    int concurrency, retries;
    double timeout;
    char model[256]; /* the model's name on the server (cli_remote_open) */
    cli_opt opts[8];
} cli_remote;
void cli_remote_init(cli_remote *r, const char *what);
/* Check the options (cmd for messages; model: -m) and make the client, or print the
 * error and return NULL. */
struct ur_remote *cli_remote_open(cli_remote *r, const char *cmd, const char *model);

/* A job's selection: --limit N, --shard I/N; and --progress-every S (the log line's period). */
typedef struct cli_select {
    ur_job_select sel;
    double progress_every;
    cli_opt opts[4];
} cli_select;
void cli_select_init(cli_select *s);

/* ---- models ------------------------------------------------------------------------- */
/* Load a model; prints the error line and returns NULL on failure. */
ur_model *cli_load_model(const char *path);
/* The default context: the model's trained one, at most 4096 tokens (a long trained
 * context would make a large KV cache; --ctx N overrides). */
/* One line on stderr (once per process) when n_ctx passes the context m was trained on. */
void cli_ctx_warn(const ur_model *m, int n_ctx);
int cli_default_ctx(const ur_model *m);
/* A context of n_ctx tokens (0: cli_default_ctx); tells on stderr what was
 * loaded and the KV cache size unless quiet; prints the error and returns NULL. */
ur_ctx *cli_new_ctx(const ur_model *m, int n_ctx, int n_threads, int quiet);
/* The engine parameters (urial/engine.h) of a batch job: `parallel` slots (0: the
 * default, see CLI_PARALLEL_HELP) of e->ctx tokens, every job from exactly the
 * format's prefix (UR_REUSE_PREFIX), the prefix cached in cache_dir. */
struct ur_engine_params;
extern const char CLI_PARALLEL_HELP[];
void cli_engine_params(const ur_model *m, const cli_engine *e, int parallel, const char *cache_dir,
                       struct ur_engine_params *p);

/* Tokenize into a malloc'ed array (*ids); returns the count, or -1 (printed). */
int cli_tokenize(const ur_vocab *v, const char *text, int add_bos, int special, int32_t **ids);
/* A comma-separated list of token ids; returns the count, or -1 (printed). */
int cli_parse_ids(const char *s, int32_t **out);
/* Weight type by name ("q4_0", "Q4_K", "f16", ...); -1 if unknown. As an option
 * (CLI_FN, dst int *): "unknown type 'X' (f32 f16 ...)" on error. */
int cli_type_from_name(const char *name);
int cli_opt_type(void *dst, const char *v);

/* ---- long jobs on stderr ------------------------------------------------------------ */
/* A job's progress: in a terminal a bar redrawn in place, "[#####-----] done/total
 * pct%  EXTRA  ETA t"; without one (a log, nohup, a batch scheduler) one line
 * "urial: NAME: done/total (pct%), EXTRA, ETA t" every `every` seconds. The ETA from the
 * pace of the units finished so far; and its
 * notes, one line each, on a fresh line. Pass as a job's hooks with a cli_job_view. */
typedef struct cli_job_view {
    int tty;
    int drawn; /* a progress line is on the screen */
    const char *name; /* the command, in log lines ("run") */
    double every;     /* without a terminal: a log line every this many seconds (0: none) */
    double last;      /* when the last log line was printed */
    const char *(*extra)(void *user, const ur_job_progress *p, char *buf, size_t n); /* NULL: tok/s */
    void *user;
} cli_job_view;
void cli_job_init_view(cli_job_view *v);
void cli_job_progress(void *view, const ur_job_progress *p);
void cli_job_note(void *view, const char *line);
void cli_job_end_view(cli_job_view *v); /* ends the progress line */
/* tokens / second of a job's work (or of its wall time when it counted no seconds) */
double cli_job_rate(const ur_job_progress *p);

#endif
