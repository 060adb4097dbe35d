/* urial tds --backend openai: the aligned model here (its answer, greedy or given,
 * and P_align from one teacher-forced forward), the base model's logprobs from an
 * OpenAI-compatible server (see include/urial/tds.h, "a remote base model").
 *
 * The remote client asks for the next request whenever one of its --concurrency
 * slots is free; preparing it (tokenizing, generating, the aligned forward) is
 * the local work, done while the server computes the requests already sent.
 * Records are appended as answers come back, so tokens.jsonl is in finishing
 * order; resume and summaries go by id and input_index, as for a local run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/tds_job.h"
#include "urial/remote.h"

typedef struct pend { /* an item prepared and sent, waiting for the server */
    ur_tds_seq seq;
    ur_buf answer;
    const char *stop;
    ur_tds_pos *pos;
    char *body;
    double t_local; /* seconds of local work on it */
} pend;

typedef struct rrun {
    tds_job *j;
    ur_results *res;
    const char *cfg;
    cli_progress *pg;
    int next;                /* the next selection index to look at */
    pend **p;                /* [n_sel] by selection index: in flight */
    int *requeue, n_requeue; /* selection indices to send again (see max_tokens) */
    int max_tokens;          /* 0 (echo only), or 1 once a server refused 0 */
    int failed;              /* a local error was printed: send nothing more */
    long tokens;             /* answer tokens scored */
    ur_buf rec;
} rrun;

static void pend_free(pend *p) {
    if (!p) return;
    ur_tds_seq_free(&p->seq);
    ur_buf_free(&p->answer);
    free(p->pos), free(p->body), free(p);
}

/* The next item not yet in tokens.jsonl, prepared; NULL when there is none (or on
 * a local error, then rr->failed). */
static pend *prepare(rrun *rr, int *sel) {
    tds_job *j = rr->j;
    ur_err err = {{0}};
    while (rr->next < j->n_sel) {
        const int i = rr->next++;
        const ur_item *it = &j->ds.items[j->sel[i]];
        if (ur_results_find(rr->res, it->id)) continue;
        pend *p = calloc(1, sizeof *p);
        if (!p) abort();
        p->stop = "given";
        double t0 = ur_now();
        int st = tds_job_example(j, it, &p->seq, &p->answer, &p->stop, rr->pg->tty);
        if (st) {
            pend_free(p);
            if (st < 0) {
                rr->failed = 1;
                return NULL;
            }
            rr->pg->skipped++;
            cli_progress_show(rr->pg);
            continue;
        }
        p->pos = malloc(sizeof *p->pos * (size_t)(p->seq.n - p->seq.n_context));
        if (!p->pos) abort();
        if (ur_tds_score_aligned(j->ca, p->seq.ids, p->seq.n, p->seq.n_context, p->pos, &err)) {
            cli_fail("%s", err.msg);
            pend_free(p);
            rr->failed = 1;
            return NULL;
        }
        p->t_local = ur_now() - t0;
        *sel = i;
        return p;
    }
    return NULL;
}

static int rr_next(void *user, long *tag, const char **path, const char **body) {
    rrun *rr = user;
    if (rr->failed) return 0;
    int i;
    if (rr->n_requeue) {
        i = rr->requeue[--rr->n_requeue];
    } else {
        pend *p = prepare(rr, &i);
        if (!p) return 0;
        rr->p[i] = p;
    }
    pend *p = rr->p[i];
    const ur_tds_seq *s = &p->seq;
    free(p->body);
    p->body = ur_tds_remote_body(rr->j->rem.model, s->ids, s->n, (int)rr->j->top_k, rr->max_tokens);
    *tag = i, *path = "/completions", *body = p->body;
    return 1;
}

static int rr_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    rrun *rr = user;
    tds_job *j = rr->j;
    pend *p = rr->p[tag];
    const ur_item *it = &j->ds.items[j->sel[tag]];
    if (!json) {
        /* OpenAI's API and vLLM take "max_tokens": 0 with "echo" (the prompt only); a
         * server that does not gets 1 (the generated token is not used) */
        if (rr->max_tokens == 0 && why && strstr(why, "HTTP 400") && strstr(why, "max_tokens")) {
            fprintf(stderr, "%surial: tds: the server refuses \"max_tokens\": 0; asking for 1 token (not used)\n",
                    rr->pg->tty ? "\n" : "");
            rr->max_tokens = 1;
            rr->requeue[rr->n_requeue++] = (int)tag;
            return 0;
        }
        return ur_errf(err, "tds: item %s: %s", it->id, why ? why : "the request failed");
    }
    ur_err perr = {{0}};
    if (ur_tds_remote_parse(json, len, p->seq.ids, p->seq.n, p->seq.n_context, (int)j->top_k, p->pos, &perr))
        return ur_errf(err, "tds: item %s: %s", it->id, perr.msg);
    const int T = p->seq.n - p->seq.n_context;
    rr->rec.len = 0;
    tds_make_record(j, it, rr->cfg, &p->answer, p->stop, &p->seq, p->pos, &rr->rec);
    if (ur_results_append(rr->res, rr->rec.data, rr->rec.len, err)) return -1;
    rr->tokens += T;
    rr->pg->done++, rr->pg->generated++;
    rr->pg->tokens += T;
    rr->pg->t_gen += p->t_local;
    cli_progress_show(rr->pg);
    pend_free(p);
    rr->p[tag] = NULL;
    return 0;
}

int tds_run_remote(tds_job *j, ur_results *res, const char *cfg, cli_progress *pg) {
    rrun rr = {.j = j, .res = res, .cfg = cfg, .pg = pg};
    rr.p = calloc((size_t)j->n_sel + 1, sizeof *rr.p);
    rr.requeue = calloc((size_t)j->n_sel + 1, sizeof *rr.requeue);
    if (!rr.p || !rr.requeue) abort();
    ur_err err = {{0}};
    double t0 = ur_now();
    int rc = ur_remote_run(j->client, rr_next, rr_done, &rr, &err);
    if (pg->tty) fputc('\n', stderr);
    if (rc) cli_fail("%s%s", strncmp(err.msg, "tds: ", 5) ? "tds: " : "", err.msg);
    const ur_remote_stats *st = ur_remote_get_stats(j->client);
    double dt = ur_now() - t0;
    if (!rc && !rr.failed)
        fprintf(stderr, "urial: tds: %d of %d done (%d scored now, %d skipped); base logprobs from %s (model %s, top %ld): "
                    "%ld requests, %ld retries; %ld answer tokens in %.2f s\n",
            pg->done, j->n_sel, pg->generated, pg->skipped, j->rem.url, j->rem.model, j->top_k, st->requests,
            st->retries, rr.tokens, dt);
    for (int i = 0; i < j->n_sel; i++) pend_free(rr.p[i]);
    free(rr.p), free(rr.requeue);
    ur_buf_free(&rr.rec);
    return rc || rr.failed ? -1 : 0;
}
