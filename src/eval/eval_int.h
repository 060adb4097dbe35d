/* Internals shared by the src/eval files (jansson-based helpers). */
#ifndef URIAL_EVAL_INT_H
#define URIAL_EVAL_INT_H

#include <jansson.h>

#include "urial/eval.h"

/* ---- schema (template.c) ---- */
/* The schema a JSON example shows (see enum ur_judge_shape); -1 if it shows none. */
int ur_judge_schema_from_json(const json_t *example, ur_judge_schema *s);
void ur_judge_schema_default(int mode, ur_judge_schema *s);
int ur_judge_schema_is_pairwise(const ur_judge_schema *s);

/* ---- answers (parse.c) ---- */
/* ur_judge_parse with the parsed answer as JSON (new reference); extracted may be NULL. */
json_t *ur_judge_parse_json(const ur_judge_schema *s, const char *text, size_t len, ur_buf *extracted, ur_err *err);
/* A pairwise answer's verdict per aspect: +1 the first answer shown (A) is better,
 * -1 the second, 0 a tie. v has s->n_aspects entries. The answer must be valid. */
void ur_judge_verdicts(const ur_judge_schema *s, const json_t *parsed, int *v);
/* A score as just-eval's report reads it: float(score), "N/A" counting as 5.
 * Returns 0, or -1 when it is neither a number nor a numeric string nor "N/A". */
int ur_judge_score_value(const json_t *score, double *out);
/* A score's value on a scale: a number (or numeric string) within it, "N/A" as 5
 * (numeric scales), or one of its labels (any case); 0, or -1 when it is none of these. */
int ur_judge_scale_value(const ur_judge_scale *s, const json_t *score, double *out);
/* The scale a record was judged on: eval_config.scale ({"min","max"} or {"labels":{..}}),
 * else 1 to 5; and back. */
void ur_judge_scale_from_json(const json_t *j, ur_judge_scale *s);
json_t *ur_judge_scale_json(const ur_judge_scale *s);
/* Parse "1-6" or "Fail=1 Pass=2 Excellent=3"; -1 (err says why) if malformed. */
int ur_judge_scale_parse(const char *text, size_t len, ur_judge_scale *s, ur_err *err);

/* ---- judges (client.c, local.c) ---- */
/* just-eval's system message (openai_chat_request, when given a bare prompt) */
extern const char UR_JUDGE_SYSTEM[];
struct ur_judge {
    int (*run)(ur_judge *j, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err);
    void (*destroy)(ur_judge *j);
    char *model;
    char *note;
    ur_judge_stats stats;
};

/* ---- records (records.c) ---- */
/* One item to judge: its fields from the outputs file. */
typedef struct ur_eval_item {
    json_t *fields; /* the input object (borrowed from the loaded array) */
    json_t *id;     /* its "id", or its position */
    const char *instruction, *output, *generator, *dataset, *category;
} ur_eval_item;

typedef struct ur_eval_items {
    json_t *root; /* array of the items' objects */
    json_t *ids;  /* array of their ids */
    int n;
    ur_eval_item *items;
} ur_eval_items;
/* Read outputs: a JSON array (just-eval, AlpacaEval, urial merge) or JSONL (urial
 * run) of objects with "instruction" and "output" (and optionally "id",
 * "generator", "dataset", "category"); ids unique. */
int ur_eval_items_load(const char *path, ur_eval_items *it, ur_err *err);
void ur_eval_items_free(ur_eval_items *it);

/* Judged records of a file: a JSON array or JSONL (an incomplete last line is
 * ignored); returns a new array reference, or NULL. */
json_t *ur_eval_records_load(const char *path, ur_err *err);

/* A JSON string of s; invalid UTF-8 (e.g. a server message cut short) becomes U+FFFD. */
json_t *ur_eval_jstr(const char *s);

/* The key of an id for lookups: its compact JSON text (malloc'ed). */
char *ur_eval_id_key(const json_t *id);
/* Compact JSON of a record for a JSONL line (malloc'ed). */
char *ur_eval_dump(const json_t *rec);

#endif
