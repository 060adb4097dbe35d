/* Internal to the training loop (trainer.c, state.c, report.c). */
#ifndef URIAL_TRAIN_TRAINER_H
#define URIAL_TRAIN_TRAINER_H

#include <jansson.h>
#include <stdint.h>

#include "urial/train.h"

/* Where a run stands: optimizer steps done and the current epoch's running loss. */
typedef struct tr_progress {
    int64_t step;
    double epoch_nll;
    int64_t epoch_targets;
} tr_progress;

int tr_state_save(const char *path, const ur_tnet *n, const float *m, const float *v, const tr_progress *p,
                  const char *fingerprint, ur_err *err);
int tr_state_load(const char *path, ur_tnet *n, float *m, float *v, tr_progress *p, const char *fingerprint,
                  ur_err *err);

/* Remove the files a run writes (run files, report, checkpoints, adapters) from dir (--overwrite). */
int tr_outdir_clear(const char *dir, ur_err *err);
/* Remove the checkpoint files (and their adapters) that --keep does not keep, after a checkpoint. */
void tr_keep_prune(const char *dir, const char *ck_path, int keep);

/* Append one line to a JSONL file and fsync it. */
int tr_jsonl_append(const char *path, const char *line, ur_err *err);
/* Keep only the records whose "step" is <= step (after a resume). */
int tr_jsonl_truncate_steps(const char *path, int64_t step, ur_err *err);
/* Rewrite out_dir/report.md from out_dir/checkpoints.jsonl; `about` is markdown
 * describing the run (model, data, recipe). */
/* checkpoints.jsonl's records (objects), a step repeated after a resume replacing the
 * earlier record; an empty array when the file is missing (report.c). */
json_t *tr_ckpt_records(const char *path);
int tr_report_write(const char *out_dir, const char *title, const char *about, ur_err *err);

#endif
