/* urial merge OUT.json SHARD.jsonl... — join result files (the shards of a run, or
 * a run and its resumptions) into the JSON array just-eval and AlpacaEval read:
 * records ordered by their position in the dataset ("input_index", then "turn"),
 * each key once. With --jsonl the result is JSON lines instead, each record's line
 * as it was (e.g. the shards of `urial tds` into one tokens.jsonl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "urial/results.h"

static const char USAGE[] =
    "usage: urial merge [--jsonl] OUT.json RESULTS.jsonl...\n"
    "Join the JSONL results of urial run (e.g. its shards) into one JSON array, written atomically to\n"
    "OUT.json: the format just-eval and AlpacaEval read. Records are ordered by their position in the\n"
    "dataset (\"input_index\", then MT-Bench's \"turn\"; records without one come last, in file order).\n"
    "A record whose id (and turn) came before is dropped with a message when its output is the same\n"
    "(e.g. overlapping shards), and is an error when its output differs. An incomplete last line (a\n"
    "run still going, or killed) is ignored with a message. An input may also be a JSON array of records\n"
    "(urial merge's own output, just-eval's files).\n";

typedef struct entry {
    const ur_record *rec;
    const char *file;
    long order; /* position among all records read, for a stable sort */
} entry;

static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    long xi = x->rec->index < 0 ? __LONG_MAX__ : x->rec->index, yi = y->rec->index < 0 ? __LONG_MAX__ : y->rec->index;
    if (xi != yi) return xi < yi ? -1 : 1;
    if (x->rec->index >= 0 && x->rec->turn != y->rec->turn) return x->rec->turn < y->rec->turn ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static int cmp_key(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = strcmp(x->rec->key, y->rec->key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int same_output(const ur_record *a, const ur_record *b) {
    if (!a->output || !b->output) return a->output == b->output;
    return !strcmp(a->output, b->output);
}

int cmd_merge(int argc, char **argv) {
    int jsonl = 0;
    const cli_opt opts[] = {OPT_FLAG("jsonl", 0, &jsonl,
                                     "write JSON lines (each record's line unchanged) instead of a JSON array, e.g.\n"
                                     "to join the shards of urial tds: urial merge --jsonl ALL/tokens.jsonl\n"
                                     "S0/tokens.jsonl S1/tokens.jsonl"),
                            OPT_END};
    const cli_cmd cmd = {"merge", USAGE, opts, NULL, 0, 1 << 20};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (argc - a < 2) return cli_fail("merge: give OUT.json and at least one results file (see urial merge --help)");
    const char *out = argv[a];
    int nf = argc - a - 1, rc = 1;
    char **files = argv + a + 1;
    ur_results **rs = ur_xcalloc((size_t)nf, sizeof *rs);
    entry *es = NULL;
    size_t ne = 0, cap = 0;
    json_t *arr = NULL;
    char *text = NULL;
    ur_err err = {{0}};
    for (int i = 0; i < nf; i++) {
        if (!strcmp(files[i], out)) {
            cli_fail("merge: %s is both the output and an input", out);
            goto done;
        }
        if (!(rs[i] = ur_results_open(files[i], UR_RESULTS_READ, &err))) {
            cli_fail("%s", err.msg);
            goto done;
        }
        if (ur_results_note(rs[i])) fprintf(stderr, "urial: merge: %s\n", ur_results_note(rs[i]));
        for (int k = 0; k < ur_results_count(rs[i]); k++) {
            if (ne == cap) {
                cap = cap ? 2 * cap : 256;
                es = ur_xrealloc(es, sizeof *es * cap);
            }
            es[ne] = (entry){ur_results_get(rs[i], k), files[i], (long)ne};
            ne++;
        }
    }

    /* one record per key: drop repeats with the same output, refuse different ones */
    if (ne) qsort(es, ne, sizeof *es, cmp_key); /* es is NULL without records */
    size_t kept = 0, dups = 0;
    for (size_t i = 0; i < ne; i++) {
        if (kept && !strcmp(es[kept - 1].rec->key, es[i].rec->key)) {
            if (!same_output(es[kept - 1].rec, es[i].rec)) {
                cli_fail("merge: id %.64s is in %s (line %d) and %s (line %d) with different outputs", es[i].rec->key,
                         es[kept - 1].file, es[kept - 1].rec->line, es[i].file, es[i].rec->line);
                goto done;
            }
            dups++;
            continue;
        }
        es[kept++] = es[i];
    }
    if (dups) fprintf(stderr, "urial: merge: dropped %zu repeated records (same id and output)\n", dups);
    if (kept) qsort(es, kept, sizeof *es, cmp_entry);

    size_t len;
    if (jsonl) {
        ur_buf lines = {0};
        for (size_t i = 0; i < kept; i++) {
            ur_buf_puts(&lines, es[i].rec->json);
            ur_buf_puts(&lines, "\n");
        }
        text = lines.data ? lines.data : ur_xcalloc(1, 1);
        len = lines.len;
    } else {
        arr = json_array();
        for (size_t i = 0; i < kept; i++) {
            json_error_t je;
            json_t *o = json_loads(es[i].rec->json, 0, &je);
            if (!o) {
                cli_fail("merge: %s: line %d: %s", es[i].file, es[i].rec->line, je.text);
                goto done;
            }
            json_array_append_new(arr, o);
        }
        text = json_dumps(arr, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (!text) {
            cli_fail("merge: cannot encode the merged records");
            goto done;
        }
        len = strlen(text);
        text[len++] = '\n'; /* json_dumps' NUL becomes the final newline */
    }
    if (ur_write_file_atomic(out, text, len, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    fprintf(stderr, "urial: merge: %zu records from %d file%s written to %s\n", kept, nf, nf == 1 ? "" : "s", out);
    rc = 0;
done:
    free(text);
    json_decref(arr);
    free(es);
    for (int i = 0; i < nf; i++) ur_results_close(rs[i]);
    free(rs);
    return rc;
}
