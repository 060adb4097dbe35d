/* The study's internals shared by study.c (the steps), plan.c (--plan) and
 * report.c (study.json, report.html). Not a public header. */
#ifndef URIAL_STUDY_INT_H
#define URIAL_STUDY_INT_H

#include <stddef.h>

#include "urial/dataset.h"
#include "urial/study.h"

/* "/shard-I-of-N" with --shard I/N (N > 1), else "": a shard's steps write under
 * DIR/shard-I-of-N/, so that its files have the same names as an unsharded study's. */
void study_suffix(const ur_job_select *sel, char *buf, size_t n);
/* OUT_DIR SFX/STEP/NAME EXT (malloc'ed). */
char *study_path(const char *out_dir, const char *step, const char *name, const char *sfx, const char *ext);
/* A model's name: the file's base name without ".gguf". */
void study_stem(const char *model, char *buf, size_t n);
/* The first method of the aligned model, or NULL. */
const ur_study_method *study_aligned_method(const ur_study_params *p);
/* --plan: the steps, what each has left and the estimated time, into *out. */
int study_plan(const ur_study_params *p, const ur_dataset *ds, const char *sfx, ur_buf *out, ur_err *err);

#endif
