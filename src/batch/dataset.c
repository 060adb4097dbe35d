/* Evaluation sets (just-eval-instruct, AlpacaEval, MT-Bench, plain JSON lines),
 * read with Debian's jansson. See include/urial/dataset.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/dataset.h"

const char *ur_data_format_name(int format) {
    static const char *names[] = {"just-eval", "alpaca-eval", "mt-bench", "jsonl", "aligntds"};
    return format >= 0 && format <= UR_DATA_ALIGNTDS ? names[format] : "unknown";
}

void ur_record_key(const char *id_json, int turn, ur_buf *out) {
    ur_buf_puts(out, id_json);
    if (turn) ur_buf_printf(out, "#%d", turn);
}

void ur_dataset_free(ur_dataset *ds) {
    for (int i = 0; i < ds->n; i++) {
        ur_item *it = &ds->items[i];
        for (int t = 0; t < it->n_turns; t++) free(it->turns[t]);
        free(it->turns);
        free(it->id);
        free(it->fields);
    }
    free(ds->items);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}

/* "item 5" or "line 6" for messages. */
static const char *where(const ur_item *it, char *buf, size_t n) {
    if (it->line) snprintf(buf, n, "line %d", it->line);
    else snprintf(buf, n, "item %d", it->index);
    return buf;
}

/* Fill one item from its JSON object; `format` decides which fields hold the
 * turns and the id. has_id: set to whether the object carries an id. */
static int item_from_json(const char *name, json_t *o, int format, ur_item *it, int *has_id, ur_err *err) {
    char w[32];
    if (!json_is_object(o)) return ur_errf(err, "%s: %s is not a JSON object", name, where(it, w, sizeof w));
    json_t *id = NULL;
    if (format == UR_DATA_MT_BENCH) {
        id = json_object_get(o, "question_id");
        if (!id) id = json_object_get(o, "id");
        json_t *turns = json_object_get(o, "turns");
        size_t nt = json_array_size(turns);
        if (!json_is_array(turns) || !nt)
            return ur_errf(err, "%s: %s has no \"turns\" (a non-empty list of user messages)", name,
                           where(it, w, sizeof w));
        if (nt > 64) return ur_errf(err, "%s: %s has %zu turns (at most 64)", name, where(it, w, sizeof w), nt);
        for (size_t t = 0; t < nt; t++)
            if (!json_is_string(json_array_get(turns, t)))
                return ur_errf(err, "%s: %s: turn %zu is not a string", name, where(it, w, sizeof w), t + 1);
        it->turns = ur_xcalloc(nt, sizeof *it->turns);
        it->n_turns = (int)nt;
        for (size_t t = 0; t < nt; t++) it->turns[t] = ur_xstrdup(json_string_value(json_array_get(turns, t)));
    } else {
        id = json_object_get(o, "id");
        const char *field = format == UR_DATA_ALIGNTDS ? "pure_input" : "instruction";
        json_t *ins = json_object_get(o, field);
        if (!json_is_string(ins)) return ur_errf(err, "%s: %s has no \"%s\" string", name, where(it, w, sizeof w), field);
        it->turns = ur_xcalloc(1, sizeof *it->turns);
        it->n_turns = 1;
        it->turns[0] = ur_xstrdup(json_string_value(ins));
    }
    *has_id = id != NULL;
    if (id && !json_is_integer(id) && !json_is_string(id))
        return ur_errf(err, "%s: %s: the id must be an integer or a string", name, where(it, w, sizeof w));
    json_t *idv = id ? json_incref(id) : json_integer(it->index);
    char *s = json_dumps(idv, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(idv);
    it->fields = json_dumps(o, JSON_COMPACT);
    if (!s || !it->fields) ur_oom(0);
    it->id = s;
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    const ur_item *x = *(const ur_item *const *)a, *y = *(const ur_item *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Every item has an id or none has; ids are unique. */
static int check_ids(const char *name, ur_dataset *ds, const int *has_id, ur_err *err) {
    char w[32], w2[32];
    for (int i = 1; i < ds->n; i++)
        if (has_id[i] != has_id[0]) {
            const ur_item *it = &ds->items[has_id[i] ? 0 : i];
            return ur_errf(err, "%s: %s has no id but %s has one (give every item an id, or none)", name,
                           where(it, w, sizeof w), where(&ds->items[has_id[i] ? i : 0], w2, sizeof w2));
        }
    const ur_item **by = ur_xmalloc(sizeof *by * (size_t)(ds->n ? ds->n : 1));
    for (int i = 0; i < ds->n; i++) by[i] = &ds->items[i];
    qsort(by, (size_t)ds->n, sizeof *by, cmp_id);
    int rc = 0;
    for (int i = 1; i < ds->n && !rc; i++)
        if (!strcmp(by[i - 1]->id, by[i]->id))
            rc = ur_errf(err, "%s: id %.64s appears twice (%s and %s)", name, by[i]->id, where(by[i - 1], w, sizeof w),
                         where(by[i], w2, sizeof w2));
    free(by);
    return rc;
}

static ur_item *grow(ur_dataset *ds, int *cap, int **has_id) {
    if (ds->n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        ds->items = ur_xrealloc(ds->items, sizeof *ds->items * (size_t)*cap);
        *has_id = ur_xrealloc(*has_id, sizeof **has_id * (size_t)*cap);
    }
    ur_item *it = &ds->items[ds->n];
    memset(it, 0, sizeof *it);
    it->index = ds->n;
    return it;
}

int ur_dataset_parse(const char *text, size_t len, const char *name, ur_dataset *ds, ur_err *err) {
    memset(ds, 0, sizeof *ds);
    ds->path = ur_xstrdup(name);
    int cap = 0, *has_id = NULL;
    json_error_t je;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3; /* a UTF-8 byte order mark */
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    if (i == len) {
        ur_errf(err, "%s: the dataset is empty", name);
        goto fail;
    }
    if (text[i] == '[') { /* a JSON array: just-eval-instruct or AlpacaEval */
        json_t *root = json_loadb(text, len, 0, &je);
        if (!root) {
            ur_errf(err, "%s: not valid JSON: %s (line %d, column %d)", name, je.text, je.line, je.column);
            goto fail;
        }
        size_t n = json_array_size(root);
        json_t *first = json_array_get(root, 0);
        ds->format = !json_object_get(first, "id") ? UR_DATA_ALPACA_EVAL
                     : json_object_get(first, "pure_input") && !json_object_get(first, "instruction") ? UR_DATA_ALIGNTDS
                     : UR_DATA_JUST_EVAL;
        int bad = 0;
        for (size_t k = 0; k < n && !bad; k++) {
            ur_item *it = grow(ds, &cap, &has_id);
            ds->n++;
            bad = item_from_json(name, json_array_get(root, k), ds->format, it, &has_id[k], err);
        }
        json_decref(root);
        if (bad) goto fail;
    } else if (text[i] == '{') { /* JSON lines: MT-Bench or plain */
        int line = 1, bad = 0;
        for (size_t p = 0; p < len && !bad; line++) {
            const char *nl = memchr(text + p, '\n', len - p);
            size_t e = nl ? (size_t)(nl - text) : len, q = p;
            while (q < e && (text[q] == ' ' || text[q] == '\t' || text[q] == '\r')) q++;
            if (q < e) {
                json_t *o = json_loadb(text + p, e - p, 0, &je);
                if (!o) {
                    ur_errf(err, "%s: line %d: not valid JSON: %s (column %d)", name, line, je.text, je.column);
                    bad = 1;
                    break;
                }
                if (!ds->n)
                    ds->format = json_object_get(o, "turns") && !json_object_get(o, "instruction") ? UR_DATA_MT_BENCH
                                                                                                  : UR_DATA_JSONL;
                ur_item *it = grow(ds, &cap, &has_id);
                it->line = line;
                ds->n++;
                bad = item_from_json(name, o, ds->format, it, &has_id[ds->n - 1], err);
                json_decref(o);
            }
            p = e + 1;
        }
        if (bad) goto fail;
    } else {
        ur_errf(err, "%s: not a dataset: expected a JSON array or JSON lines of objects", name);
        goto fail;
    }
    if (!ds->n) {
        ur_errf(err, "%s: the dataset has no items", name);
        goto fail;
    }
    if (check_ids(name, ds, has_id, err)) goto fail;
    free(has_id);
    return 0;
fail:
    free(has_id);
    ur_dataset_free(ds);
    return -1;
}

int ur_dataset_load(const char *path, ur_dataset *ds, ur_err *err) {
    memset(ds, 0, sizeof *ds);
    ur_buf b = {0};
    int rc = ur_read_file(path, "dataset", 0, &b, err) ? -1 : ur_dataset_parse(b.data, b.len, path, ds, err);
    ur_buf_free(&b);
    return rc;
}
