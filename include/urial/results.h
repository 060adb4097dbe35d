/* urial — append-only JSONL result files: one record (a JSON object on one line)
 * per finished item, each written with a single write(2) and fsync'ed before the
 * next, so that a run killed at any moment (kill -9, power loss) leaves every
 * finished record intact and at most one incomplete last line.
 *
 * Resume: opening a file for appending takes an exclusive lock (a second run on
 * the same file is refused), reads the records already there, and drops an
 * incomplete last line (text after the last newline: a record whose write was cut
 * short) by truncating the file to its last complete line; the item is simply
 * generated again. A complete line that is not a JSON object with an "id" is an
 * error (the file is not ours, or damaged: nothing is appended to it).
 *
 * A record is identified by its key (ur_record_key in urial/dataset.h): the id,
 * and "turn" when the record has one. */
#ifndef URIAL_RESULTS_H
#define URIAL_RESULTS_H

#include <stddef.h>

#include "urial/base.h"

typedef struct ur_record {
    char *key;    /* id JSON [+ "#turn"] */
    char *json;   /* the line, without its newline */
    char *output; /* its "output" string, or NULL */
    long index;   /* its "input_index", or -1 */
    int turn;     /* its "turn", or 0 */
    int line;     /* 1-based line in the file */
} ur_record;

typedef struct ur_results ur_results;

enum ur_results_mode { UR_RESULTS_READ = 0, UR_RESULTS_APPEND = 1 };

/* READ: read the records (a missing file is an error; an incomplete last line is
 * skipped with a note, the file is not changed); a file that is one JSON array
 * (urial merge's output, just-eval's files) gives its items as records. The file
 * must be regular and within the input cap (ur_open_input). APPEND: create the file if
 * needed, lock it, read it, drop an incomplete last line (with a note). A record
 * whose key was seen before in the file is skipped with a note (the first one
 * counts). */
ur_results *ur_results_open(const char *path, int mode, ur_err *err);
void ur_results_close(ur_results *r);

/* One line about what opening found (a dropped incomplete line, duplicates), or NULL. */
const char *ur_results_note(const ur_results *r);
int ur_results_count(const ur_results *r);
const ur_record *ur_results_get(const ur_results *r, int i);
/* The record with this key, or NULL. */
const ur_record *ur_results_find(const ur_results *r, const char *key);

/* Append a record: `json` is one JSON object (with an "id") without newlines,
 * whose key is not in the file yet; it is then findable. Written with its newline
 * in one write(2), then fsync'ed. On failure the file is cut back to its previous
 * length. */
int ur_results_append(ur_results *r, const char *json, size_t len, ur_err *err);

/* Write a whole file atomically: PATH.tmp.PID, fsync, rename, fsync the directory. */
int ur_write_file_atomic(const char *path, const void *data, size_t len, ur_err *err);

#endif
