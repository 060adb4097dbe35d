/* FastChat's MT-Bench answer file from a run's turn records (include/urial/run.h).
 *
 * FastChat's judge (fastchat/llm_judge) reads data/mt_bench/model_answer/MODEL.jsonl:
 * one line per question, {"question_id": the question's id as in question.jsonl,
 * "answer_id": a 22-character shortuuid string, "model_id": string, "choices":
 * [{"index": 0, "turns": [answer to turn 1, answer to turn 2, ...]}], "tstamp": float
 * seconds}, sorted by question_id (as its gen_model_answer.py leaves it). Our
 * resumable state is the run's per-turn records; this file is rebuilt from them
 * after every run (PATH.tmp, then rename), with each question whose turns are all
 * answered. answer_id is derived from the model id, the question and the answers
 * (shortuuid's alphabet), so rebuilding an unchanged file gives the same ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/json_util.h"
#include "urial/run.h"

/* shortuuid's alphabet: 57 characters without the look-alikes 0 1 I O l */
static const char ALPHABET[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static void answer_id(const char *model_id, const char *qid, json_t *turns, char out[23]) {
    char *t = json_dumps(turns, JSON_COMPACT);
    uint64_t h[2] = {ur_hash64_str(model_id), 0x9E3779B97F4A7C15ull};
    h[0] = ur_hash64(qid, strlen(qid), h[0]);
    h[0] = ur_hash64(t, strlen(t), h[0]);
    h[1] = ur_hash64(t, strlen(t), h[0] ^ h[1]);
    free(t);
    for (int i = 0; i < 22; i++) {
        uint64_t *w = &h[i < 11 ? 0 : 1];
        out[i] = ALPHABET[*w % 57];
        *w /= 57;
    }
    out[22] = 0;
}

/* The turn records: key (ur_record_key) -> output string. */
static json_t *read_turns(const char *path, ur_err *err) {
    FILE *f = fopen(path, "r");
    json_t *map = json_object();
    if (!f) return map; /* nothing answered yet */
    char *line = NULL;
    size_t cap = 0;
    ur_buf key = {0};
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, JSON_DECODE_ANY, NULL), *out = json_object_get(r, "output");
        char *id = json_is_object(r) ? json_dumps(json_object_get(r, "id"), JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        if (id && json_is_string(out)) { /* a torn last line is left to the run to repair */
            key.len = 0;
            ur_record_key(id, (int)json_integer_value(json_object_get(r, "turn")), &key);
            json_object_set(map, key.data, out);
        }
        free(id);
        json_decref(r);
    }
    free(line);
    ur_buf_free(&key);
    fclose(f);
    (void)err;
    return map;
}

/* Items in question_id order (numbers by value, then strings by text). */
static const ur_dataset *sort_ds;
static int by_qid(const void *a, const void *b) {
    const char *x = sort_ds->items[*(const int *)a].id, *y = sort_ds->items[*(const int *)b].id;
    const int sx = x[0] == '"', sy = y[0] == '"';
    if (sx != sy) return sx - sy;
    if (!sx) {
        double dx = strtod(x, NULL), dy = strtod(y, NULL);
        return (dx > dy) - (dx < dy);
    }
    return strcmp(x, y);
}

/* The line of one question, or NULL when a turn has no answer. */
static char *question_line(const ur_item *it, int n_turns, json_t *answers, const char *model_id, double now) {
    json_t *turns = json_array();
    ur_buf key = {0};
    for (int t = 1; t <= n_turns; t++) {
        key.len = 0;
        ur_record_key(it->id, t, &key);
        json_t *a = json_object_get(answers, key.data);
        if (!a) {
            ur_buf_free(&key);
            json_decref(turns);
            return NULL;
        }
        json_array_append(turns, a);
    }
    ur_buf_free(&key);
    char aid[23];
    answer_id(model_id, it->id, turns, aid);
    json_t *rec = json_object(), *choice = json_object(), *choices = json_array();
    json_object_set_new(rec, "question_id", json_loads(it->id, JSON_DECODE_ANY, NULL));
    json_object_set_new(rec, "answer_id", json_string(aid));
    json_object_set_new(rec, "model_id", json_string(model_id));
    json_object_set_new(choice, "index", json_integer(0));
    json_object_set_new(choice, "turns", turns);
    json_array_append_new(choices, choice);
    json_object_set_new(rec, "choices", choices);
    json_object_set_new(rec, "tstamp", json_real(now));
    char *line = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(rec);
    return line;
}

/* text to tmp, fsync, rename over path */
static int write_atomic(const char *tmp, const char *path, const ur_buf *text) {
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int bad = (text->len && fwrite(text->data, 1, text->len, f) != text->len) || fflush(f) || fsync(fileno(f));
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ur_run_fastchat(const ur_run_params *p, const char *turns_path, const char *out, int *n_written, ur_err *err) {
    const ur_dataset *ds = p->ds;
    *n_written = 0;
    if (ds->format != UR_DATA_MT_BENCH)
        return ur_errf(err, "run: %s: --format fastchat needs MT-Bench questions (\"question_id\", \"turns\")",
                       ds->path);
    json_t *answers = read_turns(turns_path, err);
    int *order = ur_xmalloc(sizeof(int) * (size_t)(ds->n + 1)), n = 0;
    for (int i = 0; i < ds->n; i++)
        if (ur_job_selects(&p->sel, i)) order[n++] = i;
    sort_ds = ds;
    qsort(order, (size_t)n, sizeof(int), by_qid);
    ur_buf tmp = {0}, text = {0};
    ur_buf_printf(&tmp, "%s.tmp", out);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    const double now = (double)tv.tv_sec + tv.tv_usec / 1e6; /* FastChat's time.time() */
    for (int k = 0; k < n; k++) {
        const ur_item *it = &ds->items[order[k]];
        int turns = it->n_turns;
        if (p->mt_turns > 0 && turns > p->mt_turns) turns = p->mt_turns;
        char *line = question_line(it, turns, answers, p->generator, now);
        if (!line) continue;
        ur_buf_puts(&text, line);
        ur_buf_puts(&text, "\n");
        free(line);
        (*n_written)++;
    }
    int rc = write_atomic(tmp.data, out, &text) ? ur_errf(err, "run: %s: cannot write the FastChat answers: %s", out,
                                                         strerror(errno))
                                               : 0;
    json_decref(answers);
    free(order);
    ur_buf_free(&tmp);
    ur_buf_free(&text);
    return rc;
}
