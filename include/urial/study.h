/* urial — the URIAL paper's whole experiment for one base/aligned pair (`urial study`):
 *
 *   dataset ─▶ generate: the base model once per method (URIAL K=0/1/3, K=8, a prompt
 *              file, ...), the aligned model under its own chat template
 *           ─▶ judge: every output with the just-eval protocol (multi-aspect on regular
 *              items, safety on red-team ones: ur_eval_score's UR_EVAL_AUTO)
 *           ─▶ TDS: the base model's ranks of the aligned model's answers (ur_tds_run)
 *           ─▶ DIR/study.json and DIR/report.html (tables and figures of all of it)
 *
 * Every step is a job of the job runner (urial/job.h) writing its own JSONL under
 * DIR, so a study killed anywhere resumes where it stopped when the same command
 * runs again: nothing recomputed, nothing lost. Files (W: DIR, or with --shard I/N
 * DIR/shard-I-of-N; a study's shards may share one DIR and its report counts them all):
 *   W/gen/METHOD.jsonl           urial run's records
 *   W/judge/METHOD.jsonl         urial eval score's records (--mode auto)
 *   W/tds/tokens.jsonl           urial tds's records (the aligned method's answers)
 *   DIR/tds/summary.json         TDS summary of all shards
 *   DIR/study.json, DIR/report.html */
#ifndef URIAL_STUDY_H
#define URIAL_STUDY_H

#include "urial/base.h"
#include "urial/generate.h"
#include "urial/job.h"

/* ---- methods: a name and how its outputs are generated ------------------------------ */
enum ur_study_model { UR_STUDY_BASE = 0, UR_STUDY_ALIGNED = 1 };
enum ur_study_prompt {
    UR_STUDY_URIAL = 0,    /* a URIAL prompt: built-in name or file (ur_chat_urial) */
    UR_STUDY_TEMPLATE = 1, /* a chat template name, or "auto": the model's own */
    UR_STUDY_ZERO_SHOT = 2,    /* the query alone in the authors' zero-shot wrapper (--zero-shot) */
    UR_STUDY_URIAL_LEGACY = 3, /* a URIAL prompt in the paper-era format (--urial-format legacy) */
    /* Left: retrieval ICL (--retrieve POOL --k K: a pool to name) and prefix decoding
     * (--prefix-from: the aligned method's outputs of this very study) as entries. */
};
typedef struct ur_study_method {
    char name[64];   /* the file names and the report's row: "urial-k3", "aligned" */
    int model;       /* enum ur_study_model */
    int prompt;      /* enum ur_study_prompt */
    char arg[512];   /* the URIAL prompt (name or file), or the template name */
    char what[160];  /* one line for --plan and the report */
} ur_study_method;

/* The methods of a list: comma-separated names of the built-in table (urial-k0,
 * urial-k1, urial-k3, urial-k8, urial-k3-safe, aligned) or NAME=FILE (a URIAL prompt
 * file under that name); NULL or "" gives the default "urial-k0,urial-k1,urial-k3,
 * aligned". Returns how many (<= max), or -1 with one line naming the bad entry. */
int ur_study_methods(const char *list, ur_study_method *out, int max, ur_err *err);
/* The built-in table, for --help: one "NAME  WHAT" line each. */
void ur_study_methods_help(ur_buf *out);

/* ---- the study ------------------------------------------------------------------------ */
struct ur_remote;
enum { UR_STUDY_BY_CATEGORY = 0, UR_STUDY_BY_DATASET = 1, UR_STUDY_BY_TAG = 2 };
typedef struct ur_study_params {
    const char *base, *aligned; /* GGUF files, or (client) the models' names on the server */
    const char *aligned_template; /* the aligned methods' chat template (NULL: "auto", the model's own) */
    const char *data;           /* the instructions: just-eval-instruct, AlpacaEval, JSONL */
    const char *out_dir;        /* created */
    const ur_study_method *methods;
    int n_methods;
    ur_job_select sel;          /* --limit, --shard */
    ur_gen_params gp;           /* generation: max_tokens and the sampler (the paper's greedy) */
    int threads, n_ctx, parallel; /* the local engine (0: defaults) */
    const char *cache_dir;      /* prefix KV cache files, or NULL */
    struct ur_remote *client;   /* generation on an OpenAI-compatible server, or NULL (borrowed) */
    struct ur_remote *client_aligned; /* the aligned model's server when it is another one, or NULL */
    /* the judge: "local:MODEL.gguf" or a URL; judge_model, api_key for a URL */
    const char *judge, *judge_model, *api_key;
    int judge_parallel, judge_ctx, judge_reason_max; /* a local judge (0: defaults) */
    int by;                     /* the report's breakdown: UR_STUDY_BY_* */
    int plan;                   /* print the steps and the estimated time; run nothing */
    void (*progress)(void *hook_user, const ur_job_progress *p);
    void (*note)(void *hook_user, const char *line); /* one line per step, resume notes */
    void *hook_user;
} ur_study_params;

/* Run every step still to do, then write study.json and report.html. 0 when every
 * step finished (items a step skipped are told by notes and counted in study.json),
 * -1 with err (one line naming the file or option). With plan set: out gets the steps
 * and the estimated time, nothing is run. */
int ur_study_run(const ur_study_params *p, ur_buf *plan, ur_err *err);

/* Rewrite DIR/study.json and DIR/report.html from the step files under DIR (all
 * shards there); *report_path (malloc'ed) where the page is. */
int ur_study_report(const ur_study_params *p, char **report_path, ur_err *err);

#endif
