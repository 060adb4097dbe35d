/* urial tds and urial tds prefix: what the two share — the options that pick the
 * models, the data and the answers, and turning one dataset item into its input +
 * answer tokens (rendered and tokenized, with the answer read from --outputs or
 * decoded greedily from the aligned model). */
#ifndef URIAL_CLI_TDS_JOB_H
#define URIAL_CLI_TDS_JOB_H

#include <jansson.h>

#include "cli/cli.h"
#include "urial/dataset.h"
#include "urial/results.h"
#include "urial/tds.h"

typedef struct tds_job {
    /* options */
    const char *base_path, *aligned_path, *data_path, *outputs_path, *urial, *tmpl, *out_dir;
    long max_tokens; /* answer tokens scored at most; -1 = all (given answers) */
    long limit, shard_i, shard_n, n_ctx, threads;
    cli_remote rem;     /* urial tds --backend openai: the base model on a server (--base: its name there) */
    long top_k;         /* --top-logprobs K asked of the server */
    /* opened by tds_job_open */
    struct ur_remote *client; /* rem.on: the base's server (then mb and cb are NULL) */
    ur_dataset ds;
    json_t *outputs;    /* object: id JSON -> answer text (--outputs), or NULL */
    ur_model *mb, *ma;
    ur_ctx *cb, *ca;
    ur_chat *fmt;       /* NULL: the items' own rendered "input" (AlignTDS files) */
    ur_buf sep;         /* the format's text between the generation prompt and the answer */
    int *sel, n_sel;    /* the items of this run (--limit, then --shard), as indices */
} tds_job;

/* Options both commands take: returns 1 when c was one of them (handled), 0 when
 * not, -1 on a bad value (printed). */
enum { TDS_O_BASE = 2000, TDS_O_ALIGNED, TDS_O_DATA, TDS_O_OUTPUTS, TDS_O_URIAL, TDS_O_TEMPLATE, TDS_O_OUT,
       TDS_O_LIMIT, TDS_O_SHARD, TDS_O_CTX };
#define TDS_JOB_OPTIONS                                                                                              \
    {"base", required_argument, 0, TDS_O_BASE}, {"aligned", required_argument, 0, TDS_O_ALIGNED},                 \
        {"data", required_argument, 0, TDS_O_DATA}, {"outputs", required_argument, 0, TDS_O_OUTPUTS},             \
        {"urial", required_argument, 0, TDS_O_URIAL}, {"template", required_argument, 0, TDS_O_TEMPLATE},         \
        {"out", required_argument, 0, TDS_O_OUT}, {"limit", required_argument, 0, TDS_O_LIMIT},                   \
        {"shard", required_argument, 0, TDS_O_SHARD}, {"ctx", required_argument, 0, TDS_O_CTX},                   \
        {"max-tokens", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'}
extern const char TDS_JOB_HELP[];
void tds_job_init(tds_job *j);
int tds_job_opt(tds_job *j, int c, const char *arg);

/* Check the options, read the data and the answers, load both models (refusing
 * different tokenizers) and make their contexts. Prints the error; returns 0/-1. */
int tds_job_open(tds_job *j, const char *cmd);
void tds_job_close(tds_job *j);

/* The run's "config" (what decides the records; must match to resume). */
json_t *tds_job_config(const tds_job *j, const char *cmd);
/* Every record in res must carry this config (else one error line, -1). */
int tds_check_configs(const ur_results *res, const char *path, json_t *mine, const char *cmd);

/* One item as tokens. Returns 0; 1 when the item is skipped (a note is printed:
 * no answer in --outputs, an empty answer, too long for the context); -1 on a
 * fatal error (printed). answer: the answer's text; stop: "given" or the
 * generation's stop reason. Leaves the aligned context holding generated tokens. */
int tds_job_example(tds_job *j, const ur_item *it, ur_tds_seq *seq, ur_buf *answer, const char **stop, int tty);

/* One answer's tokens.jsonl record (src/cli/tds.c). */
void tds_make_record(const tds_job *j, const ur_item *it, const char *cfg, const ur_buf *answer, const char *stop,
                     const ur_tds_seq *seq, const ur_tds_pos *pos, ur_buf *b);

/* urial tds --backend openai (src/cli/tds_remote.c): score the selection's items not
 * yet in res, the aligned side here and the base's logprobs from j->client with
 * up to --concurrency requests in flight, appending records to res. Prints the
 * error line; 0/-1. */
int tds_run_remote(tds_job *j, ur_results *res, const char *cfg, cli_progress *pg);

/* mkdir DIR (and no error if it exists); prints the error; 0/-1. */
int tds_mkdir(const char *dir, const char *cmd);

#endif
