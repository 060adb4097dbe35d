/* urial run -m MODEL --data FILE --out FILE [...] — answer every instruction of a
 * dataset into an append-only JSONL file, resumable after a crash, shardable.
 *
 * Order of work: the dataset's items (after --limit, then --shard) in file order;
 * an MT-Bench question's turns one after the other. A unit of work (an item, or one
 * turn of an MT-Bench question) is skipped when its record is already in --out,
 * otherwise answered and appended (one fsync'ed line). Every answer starts from the
 * same cached prompt prefix (UR_REUSE_PREFIX) and an item's sampling seed depends
 * only on --seed and the item's id, so outputs do not depend on the order, the
 * sharding, or where a run was interrupted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "urial/dataset.h"
#include "urial/remote.h"
#include "urial/results.h"
#include "urial/session.h"
#include "urial/tensor.h"

static const char *HELP =
    "usage: urial run -m MODEL.gguf --data FILE --out FILE [--urial NAME|FILE | --template NAME|auto] [options]\n"
    "Answer every instruction of a dataset, appending one JSON record per answer to --out.\n"
    "  --data FILE         just-eval-instruct JSON (array with \"id\", \"instruction\", ...), AlpacaEval JSON\n"
    "                      (array without ids: the id is the position, 0-based), MT-Bench JSONL\n"
    "                      (\"question_id\", \"turns\"), or JSONL with \"instruction\" and optionally \"id\"\n"
    "  --out FILE          JSONL results: created, or resumed (records already there are skipped)\n"
    "  --urial NAME|FILE   URIAL prompt (default urial-k3)    --template NAME|auto   an aligned model's template\n"
    "  --shard I/N         only items whose position p (after --limit) has p %% N == I\n"
    "  --limit N           only the first N items of the dataset\n"
    "  -n, --max-tokens N  tokens per answer at most (default 1024, as the paper's just-eval runs)\n"
    "  --mt-turns N        MT-Bench: answer the first N turns (default: all)\n"
    "  --generator NAME    the records' \"generator\" (default MODEL+PROMPT, or MODEL with a template)\n"
    "  --prompt-cache DIR  keep the prompt prefix's KV cache in DIR: computed once, loaded afterwards\n"
    "  --no-prefix-cache   compute every prompt in full (the uncached reference; same outputs, slower)\n"
    "  --ctx N             context length (default: the model's, at most 4096)\n"
    "  -t, --threads N     threads (default: all cores)\n"
    "Records: the input's fields, with \"id\", \"instruction\", \"output\" (the cleaned answer), \"generator\",\n"
    "\"input_index\", MT-Bench's \"turn\" (and \"history\", the earlier turns), \"config\" (model, prompt,\n"
    "decoding: must match to resume) and \"stats\" (tokens, cached tokens, seconds, stop reason).\n"
    "Kill it at any time and rerun the same command: finished records are kept, an incomplete last line\n"
    "is dropped, nothing is generated twice. urial merge joins shards into one JSON array.\n"
    "The sampling seed of an item is --seed mixed with its id: outputs do not depend on order or sharding.\n";

/* ---- JSON helpers --------------------------------------------------------------- */
/* A JSON string of n bytes; invalid UTF-8 and NUL bytes (a model can emit any byte)
 * become U+FFFD so that every reader, ours included, accepts the record. */
static json_t *jstr(const char *s, size_t n) {
    json_t *j = memchr(s, 0, n) ? NULL : json_stringn(s, n);
    if (j) return j;
    ur_buf b = {0};
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = u[i] < 0x80 ? 1 : u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : u[i] >= 0xC0 ? 2 : 0;
        json_t *t = l && u[i] && i + l <= n ? json_stringn(s + i, l) : NULL;
        if (t) ur_buf_put(&b, s + i, l), i += l, json_decref(t);
        else ur_buf_puts(&b, "\xEF\xBF\xBD"), i++;
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    ur_buf_free(&b);
    return j;
}

/* A float option as the user would write it (6 significant digits), so that the
 * config reads 1.1, not 1.100000023841858, and compares equal after a round trip. */
static json_t *jreal(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", (double)v);
    return json_real(strtod(buf, NULL));
}
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The part of the record that must match to resume: what decides the outputs. */
static json_t *make_config(const char *model, const ur_model *m, const ur_chat *f, const ur_gen_params *gp) {
    json_t *c = json_object();
    json_object_set_new(c, "model", json_string(base_name(model)));
    if (m) json_object_set_new(c, "model_size", json_integer((json_int_t)m->gguf->size));
    else json_object_set_new(c, "backend", json_string("openai")); /* model: the name on the server */
    json_object_set_new(c, "prompt", json_string(base_name(ur_chat_name(f))));
    size_t plen;
    const char *ptext = ur_chat_urial_prompt(f, &plen);
    json_object_set_new(c, "prompt_kind", json_string(ptext ? "urial" : "template"));
    if (ptext) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < plen; i++) h = (h ^ (unsigned char)ptext[i]) * 1099511628211ull;
        char hex[20];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        json_object_set_new(c, "prompt_hash", json_string(hex));
    }
    const ur_sampler_params *s = &gp->sampler;
    json_object_set_new(c, "temp", jreal(s->temp));
    json_object_set_new(c, "top_k", json_integer(s->top_k));
    json_object_set_new(c, "top_p", jreal(s->top_p));
    json_object_set_new(c, "min_p", jreal(s->min_p));
    json_object_set_new(c, "repeat_penalty", jreal(s->repeat_penalty));
    json_object_set_new(c, "repeat_last_n", json_integer(s->repeat_last_n));
    json_object_set_new(c, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(c, "max_tokens", json_integer(gp->max_tokens));
    return c;
}

/* Every record already in the file must have been made with this config. */
static int check_configs(const ur_results *res, const char *out, json_t *mine) {
    for (int i = 0; i < ur_results_count(res); i++) {
        const ur_record *rec = ur_results_get(res, i);
        json_t *o = json_loads(rec->json, 0, NULL), *theirs = json_object_get(o, "config");
        if (json_equal(theirs, mine)) {
            json_decref(o);
            continue;
        }
        const char *key = "config", *v;
        json_t *mv;
        char *a = NULL, *b = NULL;
        json_object_foreach(mine, v, mv) if (!json_equal(json_object_get(theirs, v), mv)) {
            key = v;
            a = json_dumps(json_object_get(theirs, v), JSON_FLAGS | JSON_ENCODE_ANY);
            b = json_dumps(mv, JSON_FLAGS | JSON_ENCODE_ANY);
            break;
        }
        cli_fail("run: %s: line %d was generated with another %s (%s, now %s); use another --out to keep both",
                 out, rec->line, key, a ? a : "missing", b ? b : "?");
        free(a), free(b);
        json_decref(o);
        return -1;
    }
    return 0;
}

/* A record already in the file for a unit of this run must answer the same
 * instruction: an --out left from another dataset with the same ids is refused. */
static int check_instruction(const ur_record *rec, const char *out, const char *want, const char *id) {
    json_t *o = json_loads(rec->json, 0, NULL), *ins = json_object_get(o, "instruction");
    int same = json_is_string(ins) && !strcmp(json_string_value(ins), want);
    json_decref(o);
    if (same) return 0;
    cli_fail("run: %s: line %d (id %.64s) answers another instruction than the dataset's item with that id; use "
             "another --out", out, rec->line, id);
    return -1;
}

/* ---- progress --------------------------------------------------------------------- */
typedef struct progress {
    int tty, total, done, skipped, generated; /* units: all, in the file, skipped, generated now */
    double t0, t_gen;
    long tokens;
} progress;

static void show_progress(const progress *p) {
    if (!p->tty) return;
    char tps[32];
    snprintf(tps, sizeof tps, "%.1f tok/s", p->t_gen > 0 ? p->tokens / p->t_gen : 0.0);
    cli_progress_line(p->done, p->total, p->generated, p->total - p->done - p->skipped, ur_now() - p->t0, tps);
}

/* ---- the run ------------------------------------------------------------------------ */
typedef struct unit {
    int item;
    int turn; /* 0: a single-turn item; t >= 1: MT-Bench turn t */
} unit;

typedef struct runner {
    const char *model_path, *out;
    const ur_model *m;
    const ur_chat *fmt;
    ur_session *s;
    ur_results *res;
    const ur_dataset *ds;
    ur_gen_params gp;
    uint64_t seed;
    json_t *config;
    const char *generator;
    int n_ctx;
} runner;

static uint64_t hash_key(const char *k) {
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* The conversation of a unit: earlier MT-Bench turns (the question and our answer
 * to it, from --out) and this turn's question. Returns 1 (skipped, told on stderr)
 * when an earlier turn has no answer. */
static int unit_conv(runner *r, const unit *u, ur_conv *conv, int tty) {
    const ur_item *it = &r->ds->items[u->item];
    int t = u->turn ? u->turn : 1;
    for (int k = 1; k < t; k++) {
        ur_buf kk = {0};
        ur_record_key(it->id, k, &kk);
        const ur_record *prev = ur_results_find(r->res, kk.data);
        ur_buf_free(&kk);
        if (!prev || !prev->output) {
            fprintf(stderr, "%surial: run: %s: item %s: turn %d skipped: turn %d has no answer\n", tty ? "\n" : "",
                    r->ds->path, it->id, t, k);
            ur_conv_free(conv);
            return 1;
        }
        ur_conv_add(conv, UR_ROLE_USER, it->turns[k - 1], strlen(it->turns[k - 1]));
        ur_conv_add(conv, UR_ROLE_ASSISTANT, prev->output, strlen(prev->output));
    }
    ur_conv_add(conv, UR_ROLE_USER, it->turns[t - 1], strlen(it->turns[t - 1]));
    return 0;
}

/* Append the record of a unit answered with `output`; stats (taken) is its "stats". */
static int write_record(runner *r, const unit *u, const ur_conv *conv, const char *output, size_t len, json_t *st) {
    const ur_item *it = &r->ds->items[u->item];
    int t = u->turn ? u->turn : 1;
    /* the id first, then the input's fields in their order (MT-Bench's "turns" aside:
     * "instruction" holds this turn), then ours */
    json_t *rec = json_object(), *in = json_loads(it->fields, 0, NULL), *v;
    const char *k;
    json_object_set_new(rec, "id", json_loads(it->id, JSON_DECODE_ANY, NULL));
    json_object_foreach(in, k, v) if (strcmp(k, "id") && !(u->turn && !strcmp(k, "turns"))) json_object_set(rec, k, v);
    json_decref(in);
    json_object_set_new(rec, "instruction", json_string(it->turns[t - 1]));
    json_object_set_new(rec, "output", jstr(output ? output : "", len));
    json_object_set_new(rec, "generator", json_string(r->generator));
    if (t > 1) {
        json_t *h = json_array();
        for (int k = 0; k < conv->n - 1; k++) {
            json_t *msg = json_object();
            json_object_set_new(msg, "role", json_string(ur_role_name(conv->msgs[k].role)));
            json_object_set_new(msg, "content", jstr(conv->msgs[k].content, conv->msgs[k].len));
            json_array_append_new(h, msg);
        }
        json_object_set_new(rec, "history", h);
    }
    json_object_set_new(rec, "input_index", json_integer(it->index));
    if (u->turn) json_object_set_new(rec, "turn", json_integer(u->turn));
    json_object_set(rec, "config", r->config);
    json_object_set_new(rec, "stats", st);
    char *line = json_dumps(rec, JSON_FLAGS);
    json_decref(rec);
    ur_err err = {{0}};
    int rc = line && !ur_results_append(r->res, line, strlen(line), &err) ? 0 : -1;
    if (rc) cli_fail("%s", line ? err.msg : "run: cannot encode a record");
    free(line);
    return rc;
}

/* Answer one unit locally and append its record. Returns 0, 1 when skipped (the
 * prompt does not fit, or an earlier turn is missing), -1 on a fatal error. */
static int do_unit(runner *r, const unit *u, const char *key, progress *pg) {
    const ur_item *it = &r->ds->items[u->item];
    ur_conv conv = {0};
    if (unit_conv(r, u, &conv, pg->tty)) return 1;
    ur_gen_params gp = r->gp;
    gp.sampler.seed = r->seed ^ hash_key(key);
    ur_answer ans;
    ur_err err = {{0}};
    if (ur_session_answer(r->s, conv.msgs, conv.n, &gp, NULL, NULL, &ans, &err)) {
        ur_conv_free(&conv);
        if (!ans.too_long) return cli_fail("%s", err.msg), -1;
        char turn[32] = "";
        if (u->turn) snprintf(turn, sizeof turn, " turn %d", u->turn);
        fprintf(stderr, "%surial: run: item %s%s skipped: %s (use a larger --ctx)\n", pg->tty ? "\n" : "", it->id,
                turn, err.msg);
        return 1;
    }
    json_t *st = json_object();
    json_object_set_new(st, "prompt_tokens", json_integer(ans.gen.n_prompt));
    json_object_set_new(st, "cached_tokens", json_integer(ans.n_cached));
    json_object_set_new(st, "output_tokens", json_integer(ans.gen.n_gen));
    json_object_set_new(st, "stop", json_string(ur_stop_reason_name(ans.gen.stop_reason)));
    json_object_set_new(st, "prompt_s", json_real(ans.gen.t_prompt));
    json_object_set_new(st, "gen_s", json_real(ans.gen.t_gen));
    json_object_set_new(st, "n_ctx", json_integer(r->n_ctx));
    int rc = write_record(r, u, &conv, ans.text.data, ans.text.len, st);
    pg->tokens += ans.gen.n_gen;
    pg->t_gen += ans.gen.t_gen;
    ur_answer_free(&ans);
    ur_conv_free(&conv);
    return rc;
}

/* ---- --backend openai: the units as /v1/completions requests, several in flight -------- */
enum { U_TODO = 0, U_FLIGHT = 1, U_DONE = 2 };
typedef struct remote_run {
    runner *r;
    const unit *units;
    int n;
    int *state;        /* U_* per unit */
    char **body;       /* per unit in flight: the request */
    ur_conv *conv;     /* per unit in flight */
    double *t0;
    int first;         /* units before it are all U_DONE */
    progress *pg;
    const char *model; /* the name on the server */
} remote_run;

static int remote_next(void *user, long *tag, const char **path, const char **body) {
    remote_run *rr = user;
    runner *r = rr->r;
    ur_buf key = {0}, prompt = {0};
    int found = 0;
    while (rr->first < rr->n && rr->state[rr->first] == U_DONE) rr->first++;
    for (int i = rr->first; i < rr->n && !found; i++) {
        if (rr->state[i] != U_TODO) continue;
        const unit *u = &rr->units[i];
        key.len = 0;
        ur_record_key(r->ds->items[u->item].id, u->turn, &key);
        if (ur_results_find(r->res, key.data)) { /* already in --out */
            rr->state[i] = U_DONE;
            continue;
        }
        /* the turn before (the unit before it) must be answered first */
        if (u->turn > 1 && i > 0 && rr->units[i - 1].item == u->item && rr->state[i - 1] != U_DONE) continue;
        ur_conv conv = {0};
        if (unit_conv(r, u, &conv, rr->pg->tty)) {
            rr->state[i] = U_DONE;
            rr->pg->skipped++;
            continue;
        }
        ur_err err = {{0}};
        prompt.len = 0;
        if (ur_chat_render(r->fmt, conv.msgs, conv.n, 1, &prompt, &err)) {
            fprintf(stderr, "urial: run: item %s skipped: %s\n", r->ds->items[u->item].id, err.msg);
            ur_conv_free(&conv);
            rr->state[i] = U_DONE;
            rr->pg->skipped++;
            continue;
        }
        ur_gen_params gp = r->gp;
        gp.sampler.seed = r->seed ^ hash_key(key.data);
        int ns;
        gp.stop = ur_chat_stops(r->fmt, &ns);
        gp.n_stop = ns;
        rr->body[i] = ur_remote_completion_body(rr->model, prompt.data ? prompt.data : "", prompt.len, &gp);
        rr->conv[i] = conv;
        rr->state[i] = U_FLIGHT;
        rr->t0[i] = ur_now();
        *tag = i;
        *path = "/completions";
        *body = rr->body[i];
        found = 1;
    }
    ur_buf_free(&key), ur_buf_free(&prompt);
    return found;
}

static int remote_done(void *user, long tag, const char *json, size_t len, const char *why, ur_err *err) {
    (void)err;
    remote_run *rr = user;
    runner *r = rr->r;
    const int i = (int)tag;
    const unit *u = &rr->units[i];
    const char *id = r->ds->items[u->item].id;
    ur_remote_answer a = {0};
    ur_err perr = {{0}};
    int rc = 0;
    if (!json || ur_remote_completion_parse(json, len, &a, &perr)) {
        fprintf(stderr, "%surial: run: item %s%s failed: %s\n", rr->pg->tty ? "\n" : "", id, u->turn ? " (a turn)" : "",
                json ? perr.msg : why);
        rr->pg->skipped++;
    } else {
        ur_buf clean = {0};
        ur_chat_clean(r->fmt, a.text.data ? a.text.data : "", a.text.len, &clean);
        double dt = ur_now() - rr->t0[i];
        json_t *st = json_object();
        json_object_set_new(st, "prompt_tokens", json_integer(a.n_prompt));
        json_object_set_new(st, "cached_tokens", json_integer(a.n_cached));
        json_object_set_new(st, "output_tokens", json_integer(a.n_gen));
        json_object_set_new(st, "stop", json_string(ur_stop_reason_name(a.stop_reason)));
        json_object_set_new(st, "request_s", json_real(dt));
        rc = write_record(r, u, &rr->conv[i], clean.data, clean.len, st);
        ur_buf_free(&clean);
        rr->pg->done++, rr->pg->generated++;
        rr->pg->tokens += a.n_gen;
        rr->pg->t_gen = ur_now() - rr->pg->t0;
        show_progress(rr->pg);
    }
    ur_remote_answer_free(&a);
    ur_conv_free(&rr->conv[i]);
    free(rr->body[i]);
    rr->body[i] = NULL;
    rr->state[i] = U_DONE;
    return rc;
}

static int run_remote(runner *r, ur_remote *client, const unit *units, int n, progress *pg, const char *model) {
    remote_run rr = {r, units, n, calloc((size_t)n + 1, sizeof(int)), calloc((size_t)n + 1, sizeof(char *)),
                     calloc((size_t)n + 1, sizeof(ur_conv)), calloc((size_t)n + 1, sizeof(double)), 0, pg, model};
    if (!rr.state || !rr.body || !rr.conv || !rr.t0) abort();
    show_progress(pg);
    ur_err err = {{0}};
    int rc = ur_remote_run(client, remote_next, remote_done, &rr, &err);
    if (pg->tty) fputc('\n', stderr);
    if (rc && err.msg[0]) cli_fail("run: %s", err.msg);
    for (int i = 0; i < n; i++) free(rr.body[i]), ur_conv_free(&rr.conv[i]);
    free(rr.state), free(rr.body), free(rr.conv), free(rr.t0);
    return rc;
}

int cmd_run(int argc, char **argv) {
    enum { O_URIAL = 256, O_TEMPLATE, O_DATA, O_OUT, O_SHARD, O_LIMIT, O_TURNS, O_GEN, O_CACHE, O_NOCACHE, O_CTX };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"data", required_argument, 0, O_DATA},
        {"out", required_argument, 0, O_OUT},      {"urial", required_argument, 0, O_URIAL},
        {"template", required_argument, 0, O_TEMPLATE}, {"shard", required_argument, 0, O_SHARD},
        {"limit", required_argument, 0, O_LIMIT},  {"max-tokens", required_argument, 0, 'n'},
        {"mt-turns", required_argument, 0, O_TURNS}, {"generator", required_argument, 0, O_GEN},
        {"prompt-cache", required_argument, 0, O_CACHE}, {"no-prefix-cache", no_argument, 0, O_NOCACHE},
        {"ctx", required_argument, 0, O_CTX},      {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},             CLI_SAMPLING_OPTIONS,
        CLI_REMOTE_OPTIONS,                        {0, 0, 0, 0}};
    const char *model = NULL, *data = NULL, *out = NULL, *urial = NULL, *tmpl = NULL, *cache = NULL, *gen = NULL;
    long shard_i = 0, shard_n = 1, limit = -1, max_tokens = 1024, turns = 1 << 20, n_ctx = 0, threads = 0;
    int nocache = 0, c, r;
    cli_sampling samp;
    cli_sampling_init(&samp);
    cli_remote rem;
    cli_remote_init(&rem);
    while ((c = cli_getopt(argc, argv, "m:n:t:h", opts, "run")) != -1) {
        if ((r = cli_sampling_opt(&samp, c, optarg)) != 0 || (r = cli_remote_opt(&rem, c, optarg)) != 0) {
            if (r < 0) return 1;
            continue;
        }
        switch (c) {
        case 'm': model = optarg; break;
        case O_DATA: data = optarg; break;
        case O_OUT: out = optarg; break;
        case O_URIAL: urial = optarg; break;
        case O_TEMPLATE: tmpl = optarg; break;
        case O_SHARD:
            if (cli_parse_shard(optarg, &shard_i, &shard_n))
                return cli_fail("run: --shard '%s' is not I/N with 0 <= I < N (e.g. 0/4)", optarg);
            break;
        case O_LIMIT: if (cli_int("--limit", optarg, 0, 1L << 30, &limit)) return 1; break;
        case 'n': if (cli_int("--max-tokens", optarg, -1, 1 << 24, &max_tokens)) return 1; break;
        case O_TURNS: if (cli_int("--mt-turns", optarg, 1, 64, &turns)) return 1; break;
        case O_GEN: gen = optarg; break;
        case O_CACHE: cache = optarg; break;
        case O_NOCACHE: nocache = 1; break;
        case O_CTX: if (cli_int("--ctx", optarg, 16, 1 << 24, &n_ctx)) return 1; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 1; break;
        case 'h': fputs(HELP, stdout); fputs(CLI_SAMPLING_HELP, stdout); fputs(CLI_REMOTE_HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model || !data || !out) return cli_fail("run: -m MODEL, --data FILE and --out FILE are required (see urial run --help)");
    if (optind != argc) return cli_fail("run: unexpected argument '%s'", argv[optind]);
    if (urial && tmpl) return cli_fail("run: give either --urial or --template, not both");
    if (cache && nocache) return cli_fail("run: --prompt-cache and --no-prefix-cache contradict each other");
    ur_remote *client = NULL;
    if (rem.on && !(client = cli_remote_open(&rem, "run", model))) return 1;

    ur_err err = {{0}};
    ur_dataset ds;
    if (ur_dataset_load(data, &ds, &err)) return cli_fail("%s", err.msg);
    /* the selection: --limit first, then the shard, so that shards of a limited run
     * add up to the limited run */
    int n_sel = limit >= 0 && limit < ds.n ? (int)limit : ds.n, n_units = 0;
    unit *units = malloc(sizeof *units * (size_t)(n_sel ? n_sel : 1) * (ds.format == UR_DATA_MT_BENCH ? 64 : 1));
    if (!units) abort();
    for (int i = 0; i < n_sel; i++) {
        if (i % shard_n != shard_i) continue;
        if (ds.format != UR_DATA_MT_BENCH) units[n_units++] = (unit){i, 0};
        else
            for (int t = 1; t <= ds.items[i].n_turns && t <= turns; t++) units[n_units++] = (unit){i, t};
    }

    runner rn = {.model_path = model, .out = out, .ds = &ds};
    int rc = 1;
    /* remote: no model here (--template auto reads -m's GGUF if it is a file) */
    ur_model *m = client ? NULL : cli_load_model(model);
    ur_chat *f = NULL;
    ur_ctx *ctx = NULL;
    char *genbuf = NULL;
    if (!m && !client) goto done;
    rn.m = m;
    if (!(f = cli_open_format("run", urial, tmpl, model, m ? m->gguf : NULL))) goto done;
    if (m) cli_note_aligned(m, urial, tmpl);
    rn.fmt = f;
    rn.n_ctx = n_ctx ? (int)n_ctx : m ? cli_default_ctx(m) : 0;
    ur_gen_defaults(&rn.gp);
    rn.gp.max_tokens = (int)max_tokens;
    rn.gp.sampler = cli_sampling_for(&samp, f);
    rn.seed = rn.gp.sampler.seed;
    rn.config = make_config(client ? rem.model : model, m, f, &rn.gp);
    if (gen) {
        rn.generator = gen;
    } else {
        ur_buf g = {0};
        const char *mb = base_name(model);
        size_t ml = strlen(mb);
        ur_buf_put(&g, mb, ml > 5 && !strcmp(mb + ml - 5, ".gguf") ? ml - 5 : ml);
        if (ur_chat_kind(f) == UR_CHAT_URIAL) ur_buf_printf(&g, "+%s", base_name(ur_chat_name(f)));
        rn.generator = genbuf = g.data;
    }

    if (!(rn.res = ur_results_open(out, UR_RESULTS_APPEND, &err))) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (ur_results_note(rn.res)) fprintf(stderr, "urial: %s\n", ur_results_note(rn.res));
    if (check_configs(rn.res, out, rn.config)) goto done;
    progress pg = {.tty = isatty(2), .total = n_units, .t0 = ur_now()};
    ur_buf key = {0};
    for (int i = 0; i < n_units; i++) {
        key.len = 0;
        const ur_item *it = &ds.items[units[i].item];
        ur_record_key(it->id, units[i].turn, &key);
        const ur_record *rec = ur_results_find(rn.res, key.data);
        if (rec && check_instruction(rec, out, it->turns[units[i].turn ? units[i].turn - 1 : 0], it->id)) {
            ur_buf_free(&key);
            goto done;
        }
        pg.done += rec != NULL;
    }
    int todo = n_units - pg.done;
    fprintf(stderr, "urial: run: %s: %d items (%s)%s; %d %s in this selection, %d already in %s, %d to generate\n", data,
            ds.n, ur_data_format_name(ds.format), shard_n > 1 ? ", sharded" : "", n_units,
            ds.format == UR_DATA_MT_BENCH ? "turns" : "items", pg.done, out, todo);

    if (todo > 0 && client) {
        if (run_remote(&rn, client, units, n_units, &pg, rem.model)) goto done;
    } else if (todo > 0) {
        if (!(ctx = cli_new_ctx(m, rn.n_ctx, (int)threads, 0))) goto done;
        ur_session_params sp = {nocache ? UR_REUSE_NONE : UR_REUSE_PREFIX, cache};
        if (!(rn.s = ur_session_new(ctx, f, &sp, &err))) {
            cli_fail("%s", err.msg);
            goto done;
        }
        if (!nocache) {
            double t0 = ur_now();
            int how = ur_session_warm(rn.s, &err);
            const char *note = ur_session_take_note(rn.s);
            if (note) fprintf(stderr, "urial: %s\n", note);
            if (how < 0) {
                cli_fail("%s", err.msg);
                goto done;
            }
            if (how == UR_PREFIX_COMPUTED)
                fprintf(stderr, "urial: computed the %d-token prompt prefix in %.2f s\n", ur_session_prefix_len(rn.s),
                        ur_now() - t0);
        }
        show_progress(&pg);
        for (int i = 0; i < n_units; i++) {
            key.len = 0;
            ur_record_key(ds.items[units[i].item].id, units[i].turn, &key);
            if (ur_results_find(rn.res, key.data)) continue;
            int st = do_unit(&rn, &units[i], key.data, &pg);
            if (st < 0) {
                if (pg.tty) fputc('\n', stderr);
                ur_buf_free(&key);
                goto done;
            }
            if (st == 0) pg.done++, pg.generated++;
            else pg.skipped++;
            show_progress(&pg);
        }
        if (pg.tty) fputc('\n', stderr);
    }
    ur_buf_free(&key);
    double el = ur_now() - pg.t0;
    fprintf(stderr,
            "urial: run: %d of %d done (%d generated now, %d skipped) in %.1f s; %ld tokens at %.1f tok/s; %s\n",
            pg.done, n_units, pg.generated, pg.skipped, el, pg.tokens, pg.t_gen > 0 ? pg.tokens / pg.t_gen : 0.0, out);
    rc = pg.done == n_units ? 0 : 1;
done:
    ur_results_close(rn.res);
    ur_session_free(rn.s);
    ur_ctx_free(ctx);
    json_decref(rn.config);
    free(genbuf);
    ur_chat_free(f);
    ur_model_free(m);
    ur_remote_free(client);
    free(units);
    ur_dataset_free(&ds);
    return rc;
}
