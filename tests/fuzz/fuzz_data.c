/* libFuzzer target for the JSON/JSONL readers (make fuzz-data): datasets (just-eval,
 * AlpacaEval, MT-Bench, JSONL instructions), results files (JSONL with a torn last
 * line, duplicates, or one JSON array), the judge's outputs files, and chat
 * conversations. The first byte picks the reader; the rest is the file. Files are
 * memfds (regular files, as ur_open_input wants) opened by their /proc path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "eval/eval_int.h"
#include "urial/chat.h"
#include "urial/dataset.h"
#include "urial/results.h"

#define ASSERT(c)                   \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static void one_line(const ur_err *e) { ASSERT(e->msg[0] && !strchr(e->msg, '\n')); }

/* The bytes as a file: its path in *path (the caller closes the fd). */
static int as_file(const uint8_t *d, size_t n, char *path, size_t cap) {
    int fd = memfd_create("fuzz", 0);
    ASSERT(fd >= 0);
    ASSERT(write(fd, d, n) == (ssize_t)n);
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static void dataset(const uint8_t *d, size_t n) {
    ur_dataset ds = {0};
    ur_err err = {{0}};
    if (ur_dataset_parse((const char *)d, n, "fuzz.json", &ds, &err) == 0) {
        for (int i = 0; i < ds.n; i++) ASSERT(ds.items[i].n_turns >= 1);
        ur_dataset_free(&ds);
    } else {
        one_line(&err);
    }
}

static void results(const uint8_t *d, size_t n) {
    char path[64];
    int fd = as_file(d, n, path, sizeof path);
    ur_err err = {{0}};
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, &err);
    if (r) {
        for (int i = 0; i < ur_results_count(r); i++) {
            const ur_record *rec = ur_results_get(r, i);
            ASSERT(rec && rec->key && rec->json && ur_results_find(r, rec->key) == rec);
        }
        ur_results_close(r);
    } else {
        one_line(&err);
    }
    json_t *a = ur_eval_records_load(path, &err);
    if (a) ASSERT(json_is_array(a));
    else one_line(&err);
    json_decref(a);
    close(fd);
}

static void conversation(const uint8_t *d, size_t n) {
    ur_conv c = {0};
    ur_err err = {{0}};
    if (ur_conv_parse_json(&c, (const char *)d, n, "fuzz.json", &err)) one_line(&err);
    for (int i = 0; i < c.n; i++) ASSERT(c.msgs[i].content && strlen(c.msgs[i].content) <= c.msgs[i].len);
    ur_conv_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0: dataset(data + 1, size - 1); break;
    case 1: results(data + 1, size - 1); break;
    default: conversation(data + 1, size - 1); break;
    }
    return 0;
}
