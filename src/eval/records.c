/* Files of the judging commands: the outputs to judge (read with urial/dataset.h,
 * the reader `urial run` uses), judged records (JSON arrays or our JSONL), and the
 * output file, append-only and resumable (urial/results.h). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"
#include "eval/eval_int.h"
#include "urial/dataset.h"
#include "urial/results.h"

int ur_eval_is_red_team(const char *category, const char *dataset) {
    if (category && !strcmp(category, "safety")) return 1;
    if (!dataset) return 0;
    return !strcmp(dataset, "hh-rlhf/red-team-attempts") || !strcmp(dataset, "MaliciousInstruct") ||
           strstr(dataset, "red-team") || strstr(dataset, "red_team");
}

char *ur_eval_id_key(const json_t *id) {
    char *k = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!k) ur_oom(0);
    return k;
}

char *ur_eval_dump(const json_t *rec) {
    char *s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) ur_oom(0);
    return s;
}

static const char *str_field(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void ur_eval_items_free(ur_eval_items *it) {
    json_decref(it->root);
    json_decref(it->ids);
    free(it->items);
    memset(it, 0, sizeof *it);
}

int ur_eval_items_load(const char *path, ur_eval_items *it, ur_err *err) {
    memset(it, 0, sizeof *it);
    ur_dataset ds;
    if (ur_dataset_load(path, &ds, err)) return -1;
    if (ds.format == UR_DATA_MT_BENCH) {
        ur_dataset_free(&ds);
        return ur_errf(err, "%s: MT-Bench questions cannot be judged with just-eval's templates (they need one "
                            "instruction and one output per item)", path);
    }
    it->root = json_array();
    it->ids = json_array();
    it->items = ur_xcalloc((size_t)(ds.n ? ds.n : 1), sizeof *it->items);
    if (!it->root) ur_oom(0);
    for (int i = 0; i < ds.n; i++) {
        json_t *o = json_loads(ds.items[i].fields, 0, NULL), *id = json_loads(ds.items[i].id, JSON_DECODE_ANY, NULL);
        if (!o || !id) ur_oom(0); /* the dataset reader wrote them: only memory can be short */
        json_array_append_new(it->root, o);
        json_array_append_new(it->ids, id);
        ur_eval_item *e = &it->items[i];
        e->fields = o;
        e->id = id;
        e->instruction = str_field(o, "instruction");
        e->output = str_field(o, "output");
        e->generator = str_field(o, "generator");
        e->dataset = str_field(o, "dataset");
        e->category = str_field(o, "category");
        if (!e->output) {
            char w[64];
            snprintf(w, sizeof w, ds.items[i].line ? "line %d" : "item %d",
                     ds.items[i].line ? ds.items[i].line : ds.items[i].index);
            ur_errf(err, "%s: %s (id %.40s) has no \"output\" string: judging needs model outputs (urial run "
                         "writes them)", path, w, ds.items[i].id);
            ur_dataset_free(&ds);
            ur_eval_items_free(it);
            return -1;
        }
        it->n++;
    }
    ur_dataset_free(&ds);
    return 0;
}

json_t *ur_eval_records_load(const char *path, ur_err *err) {
    if (access(path, F_OK)) return ur_errf(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    const int fd = ur_open_input(path, "outputs file", 0, err);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) return fd >= 0 ? close(fd), ur_errf(err, "%s: cannot open", path), NULL : NULL;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {
    }
    if (c == '[') { /* a JSON array (just-eval's own files, urial merge) */
        rewind(f);
        json_error_t je;
        json_t *a = json_loadf(f, 0, &je);
        fclose(f);
        if (!a) return ur_errf(err, "%s: line %d: invalid JSON (%s)", path, je.line, je.text), NULL;
        if (!json_is_array(a)) return json_decref(a), ur_errf(err, "%s: not a JSON array", path), NULL;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_is_object(json_array_get(a, i))) {
                json_decref(a);
                return ur_errf(err, "%s: item %zu is not a JSON object", path, i), NULL;
            }
        return a;
    }
    fclose(f);
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, err);
    if (!r) return NULL;
    json_t *a = json_array();
    for (int i = 0; i < ur_results_count(r); i++) {
        json_t *o = json_loads(ur_results_get(r, i)->json, 0, NULL);
        if (o) json_array_append_new(a, o);
    }
    ur_results_close(r);
    return a;
}

json_t *ur_eval_jstr(const char *s) {
    return ur_json_text(s, strlen(s));
}

