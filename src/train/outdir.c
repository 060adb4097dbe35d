/* The run directory (train.h): whether a run may use it (--resume needs a state, a
 * fresh run does not silently replace another run's files), clearing it for
 * --overwrite, and which checkpoint files stay (--keep last|best|all). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "train/trainer.h"

static const char *const RUN_FILES[3] = {"state.gguf", "log.jsonl", "checkpoints.jsonl"};

static int exists_in(const char *dir, const char *name) {
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

int ur_train_check_out(const ur_train_opts *o, ur_err *err) {
    if (!o->out_dir || !*o->out_dir) return ur_errf(err, "no output directory");
    if (o->resume && o->overwrite) return ur_errf(err, "%s: --resume and --overwrite exclude each other", o->out_dir);
    if (o->resume) {
        if (!exists_in(o->out_dir, "state.gguf"))
            return ur_errf(err, "%s/state.gguf: no training state to resume (start without --resume)", o->out_dir);
        return 0;
    }
    if (o->overwrite) return 0;
    for (int i = 0; i < 3; i++)
        if (exists_in(o->out_dir, RUN_FILES[i]))
            return ur_errf(err, "%s: holds a run already (%s): --resume continues it, --overwrite starts over",
                           o->out_dir, RUN_FILES[i]);
    return 0;
}

/* A file this trainer writes: the run files, report.md, and checkpoints/adapters. */
static int is_run_file(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, RUN_FILES[i])) return 1;
    if (!strcmp(name, "report.md") || !strcmp(name, "state.gguf.tmp")) return 1;
    const size_t n = strlen(name);
    if (n < 5 || strcmp(name + n - 5, ".gguf")) return 0;
    return !strncmp(name, "epoch-", 6) || !strncmp(name, "step-", 5) || !strncmp(name, "adapter-", 8);
}

int tr_outdir_clear(const char *dir, ur_err *err) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : ur_errf(err, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!is_run_file(e->d_name)) continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (remove(p) && errno != ENOENT) rc = ur_errf(err, "%s: cannot remove: %s", p, strerror(errno));
    }
    closedir(d);
    return rc;
}

/* Remove checkpoint `file` and its LoRA adapter twin. */
static void remove_ckpt(const char *dir, const char *file) {
    char p[4200], an[300];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    remove(p);
    const char *num = !strncmp(file, "epoch-", 6) ? file + 6 : !strncmp(file, "step-", 5) ? file + 5 : NULL;
    if (!num) return;
    snprintf(an, sizeof an, "adapter-%s", num);
    snprintf(p, sizeof p, "%s/%s", dir, an);
    remove(p);
}

void tr_keep_prune(const char *dir, const char *ck_path, int keep) {
    if (keep != UR_KEEP_LAST && keep != UR_KEEP_BEST) return;
    json_t *all = tr_ckpt_records(ck_path), *recs = json_array(), *r;
    size_t k;
    json_array_foreach(all, k, r) /* the records of checkpoint files */
        if (json_is_string(json_object_get(r, "file"))) json_array_append(recs, r);
    json_decref(all);
    const size_t n = json_array_size(recs);
    size_t pick = n ? n - 1 : 0;
    if (keep == UR_KEEP_BEST) {
        double best = INFINITY;
        for (size_t i = 0; i < n; i++) {
            double d = json_number_value(json_object_get(json_array_get(recs, i), "dev_loss"));
            if (json_is_number(json_object_get(json_array_get(recs, i), "dev_loss")) && d < best) best = d, pick = i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *file = json_string_value(json_object_get(json_array_get(recs, i), "file"));
        if (i != pick && strcmp(file, json_string_value(json_object_get(json_array_get(recs, pick), "file"))))
            remove_ckpt(dir, file);
    }
    json_decref(recs);
}
