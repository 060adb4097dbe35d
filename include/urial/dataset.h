/* urial — evaluation sets: the instructions a batch run answers.
 *
 * Four formats, told apart by their content:
 *  - just-eval-instruct (a JSON array of objects with "id" and "instruction", plus
 *    "dataset", "source_id", "category", "datasplit", ...);
 *  - AlpacaEval (a JSON array of objects with "instruction" and no "id": the id is
 *    the item's position, 0-based, as AlpacaEval's own order);
 *  - MT-Bench (JSON lines with "question_id" and "turns", a list of user messages:
 *    turn t is answered in the conversation of the earlier turns and answers);
 *  - plain JSON lines with "instruction" and, optionally, "id" (else the line's
 *    position among the items, 0-based).
 * Within a file, either every item has an id or none has; ids must be unique.
 * Every input field is kept (as JSON) so that it can be copied to the output. */
#ifndef URIAL_DATASET_H
#define URIAL_DATASET_H

#include "urial/base.h"

enum ur_data_format { UR_DATA_JUST_EVAL = 0, UR_DATA_ALPACA_EVAL = 1, UR_DATA_MT_BENCH = 2, UR_DATA_JSONL = 3 };
const char *ur_data_format_name(int format); /* "just-eval", "alpaca-eval", "mt-bench", "jsonl" */

typedef struct ur_item {
    int index;    /* position in the file, 0-based */
    int line;     /* line in the file (JSON lines), or 0 */
    char *id;     /* the id as compact JSON: 7 or "abc" (from the input, or the index) */
    int n_turns;  /* 1, or MT-Bench's number of turns */
    char **turns; /* the user message of each turn (NUL-terminated UTF-8) */
    char *fields; /* the whole input object as compact JSON */
} ur_item;

typedef struct ur_dataset {
    char *path;
    int format; /* enum ur_data_format */
    int n;
    ur_item *items;
} ur_dataset;

/* Read and check a dataset. Errors are one line naming the file and the item or
 * line: a missing file, invalid JSON, an item without an "instruction" string (or
 * MT-Bench "turns" of strings), ids on some items only, a duplicate id. */
int ur_dataset_load(const char *path, ur_dataset *ds, ur_err *err);
/* The same from text in memory (`name` is used in messages). */
int ur_dataset_parse(const char *text, size_t len, const char *name, ur_dataset *ds, ur_err *err);
void ur_dataset_free(ur_dataset *ds);

/* The key that identifies an output record: the id's JSON text, and for
 * MT-Bench "#" and the turn (1-based), e.g. "7", "\"abc\"", "81#2". turn 0 = no turn. */
void ur_record_key(const char *id_json, int turn, ur_buf *out);

#endif
