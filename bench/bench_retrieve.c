/* Retrieval ICL speed (include/urial/retrieve.h): a synthetic pool made from the
 * just-eval instructions, then every query rendered with its K retrieved examples.
 *
 *   build/bench_retrieve make-pool JUST_EVAL.json N OUT.jsonl
 *       N items: the just-eval items, each varied deterministically (words replaced by
 *       words of other instructions, drawn with a fixed LCG), ids "i-v", outputs the
 *       item's first 60 words. The same N gives the same bytes.
 *   build/bench_retrieve run POOL QUERIES.json [THREADS] [K]
 *       opens the pool (loading or building POOL.bm25), then renders the retrieval
 *       prompt of every instruction in QUERIES on THREADS threads; prints the times.
 * bench/retrieve.sh runs both (see bench/RETRIEVE.md). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/chat.h"
#include "urial/dataset.h"
#include "urial/retrieve.h"

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* words of s (split on spaces) appended to w */
static void split_words(const char *s, char ***w, int *n, int *cap) {
    const char *p = s;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if (e > p) {
            if (*n == *cap) *w = ur_xrealloc(*w, sizeof **w * (size_t)(*cap = *cap ? 2 * *cap : 1024));
            (*w)[(*n)++] = ur_xstrndup(p, (size_t)(e - p));
        }
        p = e;
    }
}

static int make_pool(const char *src, int n, const char *out) {
    ur_dataset ds;
    ur_err err = {{0}};
    if (ur_dataset_load(src, &ds, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    char **words = NULL;
    int nw = 0, cap = 0;
    for (int i = 0; i < ds.n; i++) split_words(ds.items[i].turns[0], &words, &nw, &cap);
    FILE *f = fopen(out, "wb");
    if (!f) return perror(out), 1;
    uint64_t s = 42;
    for (int j = 0; j < n; j++) {
        const ur_item *it = &ds.items[j % ds.n];
        char **w = NULL;
        int k = 0, kc = 0;
        split_words(it->turns[0], &w, &k, &kc);
        ur_buf ins = {0};
        for (int i = 0; i < k; i++) {
            const char *word = j >= ds.n && lcg(&s) % 10 < 3 ? words[lcg(&s) % (uint64_t)nw] : w[i];
            ur_buf_printf(&ins, "%s%s", i ? " " : "", word);
        }
        json_t *o = json_loads(it->fields, 0, NULL), *ov = json_object_get(o, "output");
        const char *full = json_is_string(ov) ? json_string_value(ov) : "An answer.";
        char **ow = NULL;
        int no = 0, oc = 0;
        split_words(full, &ow, &no, &oc);
        ur_buf outp = {0};
        for (int i = 0; i < no && i < 60; i++) ur_buf_printf(&outp, "%s%s", i ? " " : "", ow[i]);
        json_t *rec = json_object();
        char id[32];
        snprintf(id, sizeof id, "%d-%d", j % ds.n, j / ds.n);
        json_object_set_new(rec, "id", json_string(id));
        json_object_set_new(rec, "instruction", json_string(ins.data ? ins.data : ""));
        json_object_set_new(rec, "output", json_string(outp.data ? outp.data : ""));
        char *line = json_dumps(rec, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(rec), json_decref(o);
        for (int i = 0; i < k; i++) free(w[i]);
        for (int i = 0; i < no; i++) free(ow[i]);
        free(w), free(ow);
        ur_buf_free(&ins), ur_buf_free(&outp);
    }
    fclose(f);
    for (int i = 0; i < nw; i++) free(words[i]);
    free(words);
    ur_dataset_free(&ds);
    return 0;
}

typedef struct worker {
    const ur_chat *f;
    const ur_dataset *q;
    int from, step;
    size_t bytes;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = w->from; i < w->q->n; i += w->step) {
        const char *text = w->q->items[i].turns[0];
        ur_msg m = {UR_ROLE_USER, (char *)text, strlen(text)};
        ur_buf b = {0};
        ur_err err = {{0}};
        if (!ur_chat_render(w->f, &m, 1, 1, &b, &err)) w->bytes += b.len;
        ur_buf_free(&b);
    }
    return NULL;
}

static int run(const char *pool, const char *queries, int threads, int k) {
    ur_err err = {{0}};
    ur_buf note = {0};
    double t0 = ur_now();
    ur_retriever *r = ur_retriever_open(pool, &note, &err);
    if (!r) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_open = ur_now() - t0;
    ur_dataset q;
    if (ur_dataset_load(queries, &q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    const int n_pool = ur_retriever_size(r);
    ur_chat *f = ur_chat_retrieval(r, k);
    worker ws[64];
    pthread_t th[64];
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    t0 = ur_now();
    for (int i = 0; i < threads; i++) {
        ws[i] = (worker){f, &q, i, threads, 0};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    size_t bytes = 0;
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL), bytes += ws[i].bytes;
    double t_q = ur_now() - t0;
    printf("pool: %d items, opened in %.2f s (%s)\n", n_pool, t_open, note.len ? note.data : "index loaded");
    printf("queries: %d, k=%d, %d threads: %.2f s (%.2f ms per query, %.1f MB of prompts)\n", q.n, k, threads, t_q,
           1e3 * t_q / (q.n ? q.n : 1), bytes / 1e6);
    printf("total: %.2f s for %d queries over a %d-item pool\n", t_open + t_q, q.n, n_pool);
    ur_chat_free(f);
    ur_dataset_free(&q);
    ur_buf_free(&note);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "make-pool")) return make_pool(argv[2], atoi(argv[3]), argv[4]);
    if (argc >= 4 && !strcmp(argv[1], "run"))
        return run(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 2, argc > 5 ? atoi(argv[5]) : 3);
    fprintf(stderr, "usage: bench_retrieve make-pool JUST_EVAL.json N OUT.jsonl\n"
                    "       bench_retrieve run POOL QUERIES.json [THREADS] [K]\n");
    return 1;
}
