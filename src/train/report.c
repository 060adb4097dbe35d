/* out_dir/report.md from out_dir/checkpoints.jsonl: the run's settings, one row
 * per checkpoint (train loss, dev loss and perplexity), then every checkpoint's
 * greedy sample generations side by side with the prompts, so a checkpoint can be
 * picked by reading outputs as LIMA did (they chose between epochs 5 and 10). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "train/trainer.h"

/* Text as a markdown block quote (every line prefixed with "> "). */
static void quote(ur_buf *b, const char *s) {
    if (!*s) {
        ur_buf_puts(b, "> *(empty)*\n");
        return;
    }
    ur_buf_puts(b, "> ");
    for (; *s; s++) {
        if (*s == '\n') ur_buf_puts(b, "  \n> ");
        else ur_buf_put(b, s, 1);
    }
    ur_buf_puts(b, "\n");
}

json_t *tr_ckpt_records(const char *path) {
    json_t *recs = json_array();
    FILE *f = fopen(path, "rb");
    if (!f) return recs;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)len, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            continue;
        }
        /* a record repeated after a resume replaces the earlier one */
        json_int_t step = json_integer_value(json_object_get(j, "step"));
        for (size_t i = 0; i < json_array_size(recs); i++)
            if (json_integer_value(json_object_get(json_array_get(recs, i), "step")) == step) {
                json_array_remove(recs, i);
                break;
            }
        json_array_append_new(recs, j);
    }
    free(line);
    fclose(f);
    return recs;
}

int tr_report_write(const char *out_dir, const char *title, const char *about, ur_err *err) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/checkpoints.jsonl", out_dir);
    json_t *recs = tr_ckpt_records(path);
    ur_buf b = {0};
    ur_buf_printf(&b, "# urial training report\n\n");
    if (title && *title) ur_buf_printf(&b, "`%s`\n\n", title);
    ur_buf_puts(&b, about ? about : "");
    ur_buf_puts(&b, "\n## Checkpoints\n\n| epoch | step | train loss | dev loss | dev perplexity | file |\n|---|---|---|---|---|---|\n");
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_t *dl = json_object_get(r, "dev_loss"), *dp = json_object_get(r, "dev_ppl");
        char dls[32] = "–", dps[32] = "–";
        if (json_is_number(dl)) snprintf(dls, sizeof dls, "%.4f", json_number_value(dl));
        if (json_is_number(dp)) snprintf(dps, sizeof dps, "%.3f", json_number_value(dp));
        ur_buf_printf(&b, "| %lld | %lld | %.4f | %s | %s | `%s` |\n",
                      (long long)json_integer_value(json_object_get(r, "epoch")),
                      (long long)json_integer_value(json_object_get(r, "step")),
                      json_number_value(json_object_get(r, "train_loss")), dls, dps,
                      json_string_value(json_object_get(r, "file")) ? json_string_value(json_object_get(r, "file")) : "");
    }
    ur_buf_puts(&b, "\nLosses are mean negative log-likelihoods (nats) per target token; perplexity = exp(dev loss).\n");
    ur_buf_puts(&b, "\n## Sample generations (greedy)\n");
    json_array_foreach(recs, i, r) {
        json_t *sm = json_object_get(r, "samples");
        if (!json_array_size(sm)) continue;
        const char *from = json_string_value(json_object_get(r, "samples_from"));
        from = !from ? "" : !strcmp(from, "dev") ? "dev prompts" : !strcmp(from, "train") ? "training prompts"
                                                                                         : "given prompts";
        ur_buf_printf(&b, "\n### epoch %lld, step %lld — `%s` (%s)\n",
                      (long long)json_integer_value(json_object_get(r, "epoch")),
                      (long long)json_integer_value(json_object_get(r, "step")),
                      json_string_value(json_object_get(r, "file")), from);
        size_t k;
        json_t *s;
        json_array_foreach(sm, k, s) {
            ur_buf_printf(&b, "\n**%zu. Prompt:**\n\n", k + 1);
            quote(&b, json_string_value(json_object_get(s, "prompt")));
            ur_buf_puts(&b, "\n**Output:**\n\n");
            quote(&b, json_string_value(json_object_get(s, "output")));
            const char *ref = json_string_value(json_object_get(s, "reference"));
            if (ref) {
                ur_buf_puts(&b, "\n*Reference:*\n\n");
                quote(&b, ref);
            }
        }
    }
    json_decref(recs);
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f || fwrite(b.data, 1, b.len, f) != b.len) rc = ur_errf(err, "%s: cannot write: %s", tmp, strerror(errno));
    if (f && fclose(f) && !rc) rc = ur_errf(err, "%s: cannot write", tmp);
    if (!rc && rename(tmp, path)) rc = ur_errf(err, "%s: cannot rename: %s", path, strerror(errno));
    ur_buf_free(&b);
    return rc;
}
