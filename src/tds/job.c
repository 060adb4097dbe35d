/* `urial tds` and `urial tds prefix` as jobs on the runner (include/urial/tds.h):
 * an item becomes input + answer tokens, then a record; the base side is scored
 * here (inline) or on a server (one request per item, several in flight). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/json_util.h"
#include "urial/remote.h"
#include "urial/results.h"
#include "tds/tds_int.h"

typedef struct tds_task {
    ur_http_task http;  /* first: what the remote executor sees */
    int unit;
    ur_tds_seq sa, sb;  /* the aligned model's and the base's sequences (the same answer) */
    ur_buf answer;
    const char *stop;   /* "given" or the greedy generation's stop reason */
    ur_tds_pos *pos;    /* [T] */
    ur_tds_topk *topk;  /* remote: [T] the aligned top-k lists */
    char *body;
    int max_sent;       /* remote: the request's "max_tokens" */
    long tokens;        /* tokens this item put through a model (progress) */
    double t_local;     /* seconds of local work */
    ur_buf rec;         /* prefix: the record, built by the work */
} tds_task;

typedef struct tds_run {
    const ur_tds_params *p;
    ur_job *job;
    json_t *outputs;    /* id JSON -> answer text, or NULL (greedy) */
    ur_buf sep_a, sep_b; /* each prompt's text between its generation prompt and the answer */
    int *items;         /* unit -> dataset item */
    char *cfg;          /* the config as compact JSON */
    int max_tokens;     /* resolved */
    int remote_max;     /* remote: "max_tokens" of the requests: 0 (echo only), or 1 once refused */
    int prefix;         /* the prefix experiment */
    int32_t *cont;      /* prefix: continuation buffer */
    long scored;
    double t_score;
} tds_run;

/* ---- setting up ------------------------------------------------------------------------ */
/* outputs: id JSON -> answer text. A JSON array (just-eval, the TDS authors' files)
 * or JSON lines with "id" and "output" (urial run's results). */
static json_t *load_outputs(const char *path, ur_err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je), *map = json_object();
    if (json_is_array(root)) {
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o) {
            json_t *id = json_object_get(o, "id"), *out = json_object_get(o, "output");
            if (json_is_array(out)) out = json_array_get(out, 0);
            if ((!json_is_integer(id) && !json_is_string(id)) || !json_is_string(out)) {
                ur_errf(err, "%s: item %zu has no id or no \"output\" (a string, or a list whose first element is one)",
                        path, i);
                json_decref(root), json_decref(map);
                return NULL;
            }
            char *key = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
            json_object_set(map, key, out);
            free(key);
        }
        json_decref(root);
        return map;
    }
    json_decref(root);
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, err);
    if (!r) {
        json_decref(map);
        return NULL;
    }
    for (int i = 0; i < ur_results_count(r); i++) {
        const ur_record *rec = ur_results_get(r, i);
        if (rec->output) json_object_set_new(map, rec->key, json_string(rec->output));
    }
    ur_results_close(r);
    return map;
}

/* A prompt's baseline parameters (the pool and k, the legacy URIAL format), when it has any. */
static void prompt_params(json_t *c, const char *key, const ur_tds_prompt *pr) {
    if (pr->kind != UR_TDS_PROMPT_FORMAT || !pr->fmt) return;
    ur_buf b = {0};
    ur_chat_params_json(pr->fmt, &b);
    json_t *o = json_loads(b.data, 0, NULL);
    if (json_object_size(o)) json_object_set(c, key, o);
    json_decref(o);
    ur_buf_free(&b);
}

static json_t *make_config(const tds_run *r, const char *cmd) {
    const ur_tds_params *p = r->p;
    json_t *c = json_object();
    json_object_set_new(c, "command", json_string(cmd));
    if (p->client) { /* the base on a server: its name there and K (the URL may change between runs) */
        json_object_set_new(c, "base", json_string(p->base_name));
        json_object_set_new(c, "backend", json_string("openai"));
        json_object_set_new(c, "top_logprobs", json_integer(p->top_k));
    } else {
        json_object_set_new(c, "base", json_string(ur_base_name(p->base_name)));
        json_object_set_new(c, "base_size", json_integer((json_int_t)ur_ctx_model(p->base)->gguf->size));
    }
    json_object_set_new(c, "aligned", json_string(ur_base_name(p->aligned_name)));
    json_object_set_new(c, "aligned_size", json_integer((json_int_t)ur_ctx_model(p->aligned)->gguf->size));
    json_object_set_new(c, "aligned_prompt", json_string(ur_base_name(ur_tds_prompt_name(&p->aligned_prompt))));
    json_object_set_new(c, "base_prompt", json_string(ur_base_name(ur_tds_prompt_name(&p->base_prompt))));
    prompt_params(c, "aligned_prompt_params", &p->aligned_prompt);
    prompt_params(c, "base_prompt_params", &p->base_prompt);
    json_object_set_new(c, "tokenize", json_string(ur_tds_tokenize_name(p->tokenize)));
    if (!r->prefix) json_object_set_new(c, "rank", json_string(ur_tds_rank_name(p->rank)));
    json_object_set_new(c, "answers", json_string(p->outputs ? ur_base_name(p->outputs) : "greedy"));
    json_object_set_new(c, "max_tokens", json_integer(r->max_tokens));
    if (r->prefix) {
        json_t *jk = json_array();
        for (int i = 0; i < p->n_ks; i++) json_array_append_new(jk, json_integer(p->ks[i]));
        json_object_set_new(c, "k", jk);
    }
    return c;
}

static int make_dir(const char *dir, const char *cmd, ur_err *err) {
    if (mkdir(dir, 0777) && errno != EEXIST)
        return ur_errf(err, "%s: %s: cannot create the directory: %s", cmd, dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return ur_errf(err, "%s: %s is not a directory", cmd, dir);
    return 0;
}

/* ---- one item as tokens -------------------------------------------------------------------- */
static int skip(tds_run *r, const ur_item *it, const char *why) {
    ur_job_note(r->job, "tds: item %s skipped: %s", it->id, why);
    return 1;
}

const char *ur_tds_prompt_name(const ur_tds_prompt *p) {
    switch (p->kind) {
    case UR_TDS_PROMPT_FORMAT: return p->fmt ? ur_chat_name(p->fmt) : "?";
    case UR_TDS_PROMPT_INPUT: return "input";
    case UR_TDS_PROMPT_ALIGNTDS: return "aligntds";
    case UR_TDS_PROMPT_PLAIN: return "plain";
    default: return "same";
    }
}

/* A prompt's text for an item, and how to tokenize it (not SAME). In separate mode
 * every text is tokenized as Hugging Face's encode(add_special_tokens=True) does:
 * BOS added as the vocabulary says (even before a spelled-out one), specials parsed. */
static int render(tds_run *r, const ur_tds_prompt *pr, const ur_item *it, ur_buf *prompt, int *add_bos, int *special,
                  ur_err *err) {
    const ur_tds_params *p = r->p;
    const ur_vocab *v = ur_ctx_model(p->aligned)->vocab;
    const char *q = it->turns[0];
    *add_bos = ur_vocab_add_bos(v);
    *special = 0;
    if (pr->kind == UR_TDS_PROMPT_FORMAT) {
        ur_msg m = {UR_ROLE_USER, (char *)q, strlen(q)};
        if (ur_chat_render(pr->fmt, &m, 1, 1, prompt, err)) return -1;
        *add_bos = ur_chat_add_bos(pr->fmt) && ur_vocab_add_bos(v);
        *special = ur_chat_parse_special(pr->fmt);
    } else if (pr->kind == UR_TDS_PROMPT_ALIGNTDS) {
        ur_tds_aligntds_prompt(q, strlen(q), prompt);
    } else if (pr->kind == UR_TDS_PROMPT_PLAIN) {
        ur_buf_puts(prompt, q);
    } else { /* the TDS authors' "input": already rendered, special tokens spelled out */
        json_t *o = json_loads(it->fields, 0, NULL), *in = json_object_get(o, "input");
        if (!json_is_string(in)) {
            json_decref(o);
            return ur_errf(err, "tds: %s: item %s has no rendered \"input\" (give another --aligned-prompt)", p->ds->path,
                           it->id);
        }
        ur_buf_put(prompt, json_string_value(in), json_string_length(in));
        json_decref(o);
        char bos[32];
        int32_t b = ur_vocab_bos(v);
        int bl = b >= 0 ? ur_token_to_bytes(v, b, 1, bos, sizeof bos) : 0;
        if (bl > 0 && bl <= (int)sizeof bos && prompt->len >= (size_t)bl && !memcmp(prompt->data, bos, (size_t)bl))
            *add_bos = 0;
        *special = 1;
    }
    if (p->tokenize == UR_TDS_SEPARATE) *add_bos = ur_vocab_add_bos(v), *special = 1;
    return 0;
}

/* The aligned model's greedy answer after the prompt, its tokens into t->sa. */
static int greedy_answer(tds_run *r, const ur_item *it, tds_task *t, const char *prompt, int add_bos, int special,
                         int n_ctx, ur_err *err) {
    const ur_tds_params *p = r->p;
    const ur_vocab *v = ur_ctx_model(p->aligned)->vocab;
    const ur_chat *fmt = p->aligned_prompt.kind == UR_TDS_PROMPT_FORMAT ? p->aligned_prompt.fmt : NULL;
    int32_t *ids = NULL;
    int np = ur_tokenize_alloc(v, prompt, strlen(prompt), add_bos, special, &ids, err);
    if (np < 0) return -1;
    int cap = (r->max_tokens >= 0 ? r->max_tokens : n_ctx) + 1;
    ur_tds_seq *seq = &t->sa;
    seq->ids = ur_xmalloc(sizeof *seq->ids * (size_t)(np + cap));
    memcpy(seq->ids, ids, sizeof *ids * (size_t)np);
    free(ids);
    if (np + 1 >= n_ctx) return skip(r, it, "the prompt does not fit the context (use a larger --ctx)");
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = cap - 1;
    if (fmt) gp.stop = ur_chat_stops(fmt, &gp.n_stop);
    gp.tokens = seq->ids + np;
    gp.tokens_cap = cap;
    ur_gen_result res;
    if (ur_generate(p->aligned, seq->ids, np, &gp, NULL, NULL, &res, err)) return -1;
    int n = res.n_gen + (res.stop_reason == UR_STOP_EOG);
    if (res.stop_reason == UR_STOP_STRING) { /* keep the tokens whose text is before the stop string */
        ur_detok d;
        ur_buf txt = {0};
        ur_detok_init(&d, v, 0, 0);
        int keep = 0;
        for (int i = 0; i < n; i++) {
            ur_detok_push(&d, seq->ids[np + i], &txt);
            if (txt.len > res.text.len) break;
            keep = i + 1;
        }
        ur_buf_free(&txt);
        n = keep;
    }
    seq->n = np + n;
    seq->n_context = np;
    t->stop = ur_stop_reason_name(res.stop_reason);
    if (fmt) ur_chat_clean(fmt, res.text.data ? res.text.data : "", res.text.len, &t->answer);
    else ur_buf_put(&t->answer, res.text.data ? res.text.data : "", res.text.len);
    ur_buf_free(&res.text);
    return n ? 0 : skip(r, it, "the aligned model's answer is empty");
}

/* The aligned model's sequence in t->sa. 0; 1 skipped (told); -1 fatal. */
static int aligned_seq(tds_run *r, const ur_item *it, tds_task *t, int n_ctx, ur_err *err) {
    const ur_tds_params *p = r->p;
    const ur_vocab *v = ur_ctx_model(p->aligned)->vocab;
    ur_buf prompt = {0};
    int add_bos, special, rc;
    if (render(r, &p->aligned_prompt, it, &prompt, &add_bos, &special, err)) {
        ur_buf_free(&prompt);
        return -1;
    }
    if (!r->outputs) {
        rc = greedy_answer(r, it, t, prompt.data ? prompt.data : "", add_bos, special, n_ctx, err);
        ur_buf_free(&prompt);
        return rc;
    }
    json_t *out = json_object_get(r->outputs, it->id);
    if (!out) {
        rc = skip(r, it, "no answer for this id in --outputs");
    } else {
        ur_buf_put(&t->answer, json_string_value(out), json_string_length(out));
        ur_buf_put(&prompt, r->sep_a.data ? r->sep_a.data : "", r->sep_a.len);
        ur_err e = {{0}};
        rc = ur_tds_seq_text(v, prompt.data ? prompt.data : "", prompt.len, t->answer.data ? t->answer.data : "",
                             t->answer.len, add_bos, special, 0, p->tokenize, &t->sa, &e)
                 ? skip(r, it, e.msg)
                 : 0;
        if (!rc && r->max_tokens >= 0 && t->sa.n - t->sa.n_context > r->max_tokens)
            t->sa.n = t->sa.n_context + r->max_tokens;
    }
    ur_buf_free(&prompt);
    return rc;
}

/* The base's sequence in t->sb: its own input, then the aligned sequence's answer
 * tokens (SAME: the aligned sequence itself). 0; 1 skipped; -1 fatal. */
static int base_seq(tds_run *r, const ur_item *it, tds_task *t, ur_err *err) {
    const ur_tds_params *p = r->p;
    const ur_vocab *v = ur_ctx_model(p->aligned)->vocab;
    const int T = t->sa.n - t->sa.n_context;
    int32_t *ids = NULL;
    int k;
    if (p->base_prompt.kind == UR_TDS_PROMPT_SAME) {
        k = t->sa.n_context;
        ids = ur_xmalloc(sizeof *ids * (size_t)(k + T));
        memcpy(ids, t->sa.ids, sizeof *ids * (size_t)k);
    } else {
        ur_buf prompt = {0};
        int add_bos, special;
        if (render(r, &p->base_prompt, it, &prompt, &add_bos, &special, err)) {
            ur_buf_free(&prompt);
            return -1;
        }
        ur_buf_put(&prompt, r->sep_b.data ? r->sep_b.data : "", r->sep_b.len);
        ur_err e = {{0}};
        k = tds_input_tokens(v, prompt.data ? prompt.data : "", prompt.len, t->answer.data ? t->answer.data : "",
                             t->answer.len, add_bos, special, p->tokenize, &ids, &e);
        ur_buf_free(&prompt);
        if (k < 0) return skip(r, it, e.msg);
        ids = ur_xrealloc(ids, sizeof *ids * (size_t)(k + T));
    }
    memcpy(ids + k, t->sa.ids + t->sa.n_context, sizeof *ids * (size_t)T);
    t->sb = (ur_tds_seq){ids, k + T, k};
    return 0;
}

/* One item as the two sequences in t. 0; 1 when it is skipped (told); -1 fatal.
 * Leaves the aligned context holding generated tokens. */
static int example(tds_run *r, const ur_item *it, tds_task *t, ur_err *err) {
    const ur_tds_params *p = r->p;
    const int na = ur_ctx_n_ctx(p->aligned), nb = p->base ? ur_ctx_n_ctx(p->base) : na;
    t->stop = "given";
    int rc = aligned_seq(r, it, t, na < nb ? na : nb, err);
    if (!rc) rc = base_seq(r, it, t, err);
    if (!rc && (t->sa.n - 1 > na || t->sb.n - 1 > nb))
        rc = skip(r, it, "input + answer do not fit the context (use a larger --ctx or --max-tokens)");
    return rc;
}

/* ---- records ------------------------------------------------------------------------------------ */
static void put_ids(ur_buf *b, const char *key, const int32_t *ids, int n) {
    ur_buf_printf(b, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) ur_buf_printf(b, "%s%d", i ? "," : "", ids[i]);
    ur_buf_puts(b, "]");
}

static void record_head(const tds_run *r, const ur_item *it, const tds_task *t, ur_buf *b) {
    ur_buf_printf(b, "{\"id\":%s,\"input_index\":%d,\"instruction\":", it->id, it->index);
    ur_buf_json_str(b, it->turns[0], strlen(it->turns[0]));
    ur_buf_puts(b, ",\"output\":");
    ur_buf_json_str(b, t->answer.data ? t->answer.data : "", t->answer.len);
    ur_buf_printf(b, ",\"stop\":\"%s\",\"config\":%s,\"n_aligned_input\":%d,\"n_base_input\":%d", t->stop, r->cfg,
                  t->sa.n_context, t->sb.n_context);
}

/* tokens.jsonl: the item, the answer, both inputs' tokens and the positions. */
static void tds_record(const tds_run *r, const ur_item *it, const tds_task *t, ur_buf *b) {
    record_head(r, it, t, b);
    put_ids(b, "aligned_input_ids", t->sa.ids, t->sa.n_context);
    put_ids(b, "base_input_ids", t->sb.ids, t->sb.n_context);
    ur_buf_printf(b, ",\"n_tokens\":%d,\"tokens\":", t->sa.n - t->sa.n_context);
    ur_tds_tokens_json(ur_ctx_model(r->p->aligned)->vocab, t->pos, t->sa.n - t->sa.n_context, b);
    ur_buf_puts(b, "}");
}

/* prefix.jsonl, one k: the base model continues its input + o[0..k) for T - k tokens. */
static int prefix_k(tds_run *r, tds_task *t, int k, ur_buf *b, ur_err *err) {
    const ur_tds_seq *seq = &t->sb;
    const int T = seq->n - seq->n_context, left = T - k;
    ur_buf_printf(b, "{\"k\":%d", k);
    if (left <= 0) {
        ur_buf_puts(b, ",\"compared\":0,\"matched\":0,\"exact\":0,\"match\":\"\",\"continuation\":[]}");
        return 0;
    }
    int32_t *cont = r->cont = ur_xrealloc(r->cont, sizeof *cont * (size_t)left);
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = left;
    gp.tokens = cont;
    gp.tokens_cap = left;
    ur_gen_result res;
    if (ur_generate(r->p->base, seq->ids, seq->n_context + k, &gp, NULL, NULL, &res, err)) return -1;
    int got = res.n_gen + (res.stop_reason == UR_STOP_EOG);
    if (got > left) got = left;
    ur_buf_free(&res.text);
    const int32_t *o = seq->ids + seq->n_context + k;
    int matched = 0, exact = 0, run = 1;
    for (int q = 0; q < left; q++) {
        int hit = q < got && cont[q] == o[q];
        matched += hit;
        run &= hit;
        exact += run;
    }
    ur_buf_printf(b, ",\"compared\":%d,\"matched\":%d,\"exact\":%d,\"match\":\"", left, matched, exact);
    for (int q = 0; q < left; q++) ur_buf_puts(b, q < got && cont[q] == o[q] ? "1" : "0");
    ur_buf_puts(b, "\",\"continuation\":[");
    for (int q = 0; q < got; q++) ur_buf_printf(b, "%s%d", q ? "," : "", cont[q]);
    ur_buf_puts(b, "]}");
    r->scored += left;
    t->tokens += left;
    return 0;
}

static int prefix_record(tds_run *r, const ur_item *it, tds_task *t, ur_err *err) {
    const ur_tds_seq *seq = &t->sb;
    const int T = seq->n - seq->n_context;
    ur_buf *b = &t->rec;
    record_head(r, it, t, b);
    put_ids(b, "base_input_ids", seq->ids, seq->n_context);
    put_ids(b, "answer_ids", seq->ids + seq->n_context, T);
    ur_buf_puts(b, ",\"prefix\":[");
    for (int k = 0; k < r->p->n_ks; k++) {
        if (k) ur_buf_puts(b, ",");
        if (prefix_k(r, t, r->p->ks[k], b, err)) return -1;
    }
    ur_buf_puts(b, "]}");
    return 0;
}

/* ---- the job's callbacks ----------------------------------------------------------------------- */
static void task_free(tds_task *t) {
    if (!t) return;
    ur_tds_seq_free(&t->sa), ur_tds_seq_free(&t->sb);
    ur_buf_free(&t->answer), ur_buf_free(&t->rec), ur_buf_free(&t->http.response);
    free(t->pos), free(t->topk), free(t->body), free(t);
}

static const ur_item *item_of(const tds_run *r, int unit) { return &r->p->ds->items[r->items[unit]]; }

static int start(void *user, int unit, void **tasks, ur_err *err) {
    tds_run *r = user;
    const ur_tds_params *p = r->p;
    tds_task *t = ur_xcalloc(1, sizeof *t);
    t->unit = unit;
    double t0 = ur_now();
    int st = example(r, item_of(r, unit), t, err);
    if (st) {
        task_free(t);
        return st < 0 ? -1 : 0;
    }
    const int T = t->sa.n - t->sa.n_context;
    t->pos = ur_xmalloc(sizeof *t->pos * (size_t)T);
    if (p->client) { /* the aligned side now, while the server computes the requests in flight */
        t->topk = ur_xmalloc(sizeof *t->topk * (size_t)T);
        if (ur_tds_score_aligned(p->aligned, &t->sa, p->rank, t->pos, t->topk, err)) {
            task_free(t);
            return -1;
        }
        t->max_sent = r->remote_max;
        t->body = ur_tds_remote_body(p->base_name, t->sb.ids, t->sb.n, p->top_k, t->max_sent);
        t->http.path = "/completions";
        t->http.body = t->body;
    }
    t->t_local = ur_now() - t0;
    tasks[0] = t;
    return 1;
}

/* The inline executor's work: both models here (tds), or the prefix continuations. */
static int work(void *user, void *task, const char **why, ur_err *err) {
    (void)why;
    tds_run *r = user;
    tds_task *t = task;
    double t0 = ur_now();
    int rc = r->prefix ? prefix_record(r, item_of(r, t->unit), t, err)
                       : ur_tds_score(r->p->base, r->p->aligned, &t->sb, &t->sa, r->p->rank, t->pos, err);
    if (!r->prefix) r->scored += t->sa.n - 1 + t->sb.n - 1;
    r->t_score += ur_now() - t0;
    t->t_local += ur_now() - t0;
    return rc;
}

static void drop(void *user, int unit, void *task) {
    (void)user, (void)unit;
    task_free(task);
}

static int finish(void *user, int unit, int k, void *task, const char *why, ur_buf *rec, ur_err *err) {
    (void)k;
    tds_run *r = user;
    tds_task *t = task;
    const ur_item *it = item_of(r, unit);
    const int T = t->sa.n - t->sa.n_context;
    if (r->p->client) {
        if (why) {
            /* OpenAI's API and vLLM take "max_tokens": 0 with "echo" (the prompt only); a
             * server that does not gets 1 (the generated token is not used) */
            if (r->remote_max == 0 && strstr(why, "HTTP 400") && strstr(why, "max_tokens")) {
                ur_job_note(r->job, "tds: the server refuses \"max_tokens\": 0; asking for 1 token (not used)");
                r->remote_max = 1;
            }
            if (r->remote_max == 1 && t->max_sent == 0) {
                free(t->body);
                t->max_sent = 1;
                t->body = ur_tds_remote_body(r->p->base_name, t->sb.ids, t->sb.n, r->p->top_k, 1);
                t->http.body = t->body;
                return UR_JOB_AGAIN;
            }
            return ur_errf(err, "tds: item %s: %s", it->id, why);
        }
        ur_err perr = {{0}};
        if (ur_tds_remote_parse(t->http.response.data, t->http.response.len, &t->sb, r->p->top_k, t->topk, t->pos,
                                &perr)) {
            return ur_errf(err, "tds: item %s: %s", it->id, perr.msg);
        }
        r->scored += T;
    } else if (why) {
        return ur_errf(err, "tds: item %s: %s", it->id, why);
    }
    if (r->prefix) ur_buf_put(rec, t->rec.data, t->rec.len);
    else tds_record(r, it, t, rec);
    ur_job_count(r->job, r->prefix ? t->tokens : T, t->t_local);
    task_free(t);
    return UR_JOB_RECORD;
}

/* ---- running ------------------------------------------------------------------------------------ */
static int run_job(const ur_tds_params *p, int prefix, ur_tds_summary *s, ur_err *err) {
    const char *cmd = prefix ? "tds prefix" : "tds";
    memset(s, 0, sizeof *s);
    if (p->ds->format == UR_DATA_MT_BENCH)
        return ur_errf(err, "%s: %s: multi-turn (MT-Bench) data is not supported: give single-turn instructions", cmd,
                       p->ds->path);
    if (prefix && p->client) return ur_errf(err, "tds prefix: the base model must be local");
    if (p->aligned_prompt.kind == UR_TDS_PROMPT_SAME)
        return ur_errf(err, "%s: the aligned model's prompt cannot be \"same\"", cmd);
    tds_run r = {.p = p, .prefix = prefix, .max_tokens = p->max_tokens};
    ur_exec *x = NULL;
    ur_buf path = {0};
    json_t *config = NULL;
    int rc = -1;
    if (p->outputs && !(r.outputs = load_outputs(p->outputs, err))) goto out;
    if (r.max_tokens == -2) r.max_tokens = r.outputs ? -1 : 1024;
    if (p->aligned_prompt.kind == UR_TDS_PROMPT_FORMAT && ur_tds_answer_sep(p->aligned_prompt.fmt, &r.sep_a, err))
        goto out;
    if (p->base_prompt.kind == UR_TDS_PROMPT_FORMAT && ur_tds_answer_sep(p->base_prompt.fmt, &r.sep_b, err)) goto out;
    if (make_dir(p->out_dir, cmd, err)) goto out;
    config = make_config(&r, cmd);
    r.cfg = json_dumps(config, JSON_COMPACT);
    ur_buf_printf(&path, "%s/%s", p->out_dir, prefix ? "prefix.jsonl" : "tokens.jsonl");
    ur_job_params jp = {.out = path.data, .name = cmd, .config = r.cfg, .ops = {start, finish, NULL, drop}, .user = &r,
                        .progress = p->progress, .note = p->note, .hook_user = p->hook_user};
    r.job = ur_job_new(&jp);
    r.items = ur_xmalloc(sizeof *r.items * ((size_t)p->ds->n + 1));
    for (int i = 0; i < p->ds->n; i++)
        if (ur_job_selects(&p->sel, i)) r.items[ur_job_add(r.job, p->ds->items[i].id, -1)] = i;
    if (ur_job_open(r.job, err)) goto out;
    const ur_job_progress *pg = ur_job_get_progress(r.job);
    if (prefix)
        ur_job_note(r.job, "tds prefix: %s: %d in this selection, %d already in %s, %d to run", p->ds->path, pg->total,
                    pg->kept, path.data, ur_job_todo(r.job));
    else
        ur_job_note(r.job, "tds: %s: %d items (%s)%s; %d in this selection, %d already in %s, %d to score", p->ds->path,
                    p->ds->n, ur_data_format_name(p->ds->format), p->sel.shard_n > 1 ? ", sharded" : "", pg->total,
                    pg->kept, path.data, ur_job_todo(r.job));
    x = p->client ? ur_exec_http_new(p->client) : ur_exec_inline_new(work, &r);
    /* the remote executor's task is the tds_task's first member */
    rc = ur_job_run(r.job, x, err);
out:
    if (r.job) s->p = *ur_job_get_progress(r.job);
    s->scored_tokens = r.scored;
    s->t_score = r.t_score;
    s->max_tokens = r.max_tokens;
    ur_exec_free(x);
    ur_job_free(r.job);
    json_decref(config), json_decref(r.outputs);
    free(r.cfg), free(r.items), free(r.cont);
    ur_buf_free(&r.sep_a), ur_buf_free(&r.sep_b), ur_buf_free(&path);
    return rc;
}

int ur_tds_run(const ur_tds_params *p, ur_tds_summary *s, ur_err *err) { return run_job(p, 0, s, err); }
int ur_tds_prefix_run(const ur_tds_params *p, ur_tds_summary *s, ur_err *err) { return run_job(p, 1, s, err); }

/* One dir's records (tokens.jsonl or prefix.jsonl) into res. */
static ur_results *read_records(const char *dir, int prefix, ur_buf *note, const char ***recs, int *n, ur_err *err) {
    ur_buf path = {0};
    ur_buf_printf(&path, "%s/%s", dir, prefix ? "prefix.jsonl" : "tokens.jsonl");
    ur_results *res = ur_results_open(path.data, UR_RESULTS_READ, err);
    ur_buf_free(&path);
    if (!res) return NULL;
    if (note && ur_results_note(res)) ur_buf_printf(note, "%s%s", note->len ? "; " : "", ur_results_note(res));
    *n = ur_results_count(res);
    *recs = ur_xmalloc(sizeof **recs * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++) (*recs)[i] = ur_results_get(res, i)->json;
    return res;
}

static int write_in(const char *dir, const char *name, const ur_buf *text, ur_err *err) {
    ur_buf path = {0};
    ur_buf_printf(&path, "%s/%s", dir, name);
    int rc = ur_write_file_atomic(path.data, text->data ? text->data : "", text->len, err);
    ur_buf_free(&path);
    return rc;
}

int ur_tds_write_reports(const char *const *dirs, int nd, int prefix, const char *html_path, ur_buf *summaries,
                         int *n_out, ur_buf *note, ur_err *err) {
    ur_results **res = ur_xcalloc((size_t)nd, sizeof *res);
    const char ***recs = ur_xcalloc((size_t)nd, sizeof *recs);
    ur_tds_pair_records *pr = ur_xcalloc((size_t)nd, sizeof *pr);
    ur_buf html = {0}, *names = ur_xcalloc((size_t)nd, sizeof *names);
    int rc = -1;
    for (int i = 0; i < nd; i++) {
        int n = 0;
        if (!(res[i] = read_records(dirs[i], prefix, note, &recs[i], &n, err))) goto out;
        ur_buf_printf(&names[i], "%s/%s", dirs[i], prefix ? "prefix.jsonl" : "tokens.jsonl");
        /* a pair is labelled by its directory when there are several (else by its models) */
        pr[i] = (ur_tds_pair_records){nd > 1 ? ur_base_name(dirs[i]) : NULL, names[i].data, recs[i], n};
        if (n_out) n_out[i] = n;
        summaries[i].len = 0;
    }
    if (prefix) {
        if (ur_tds_prefix_summarize(pr[0].name, recs[0], pr[0].n, &summaries[0], &html, err) ||
            write_in(dirs[0], "prefix.json", &summaries[0], err) || write_in(dirs[0], "prefix.html", &html, err))
            goto out;
    } else {
        if (ur_tds_summarize_pairs(pr, nd, summaries, &html, err)) goto out;
        for (int i = 0; i < nd; i++)
            if (write_in(dirs[i], "summary.json", &summaries[i], err)) goto out;
        if (html_path ? ur_write_file_atomic(html_path, html.data, html.len, err) : write_in(dirs[0], "report.html", &html, err))
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < nd; i++) {
        free(recs[i]);
        ur_results_close(res[i]);
        ur_buf_free(&names[i]);
    }
    free(res), free(recs), free(pr), free(names);
    ur_buf_free(&html);
    return rc;
}
