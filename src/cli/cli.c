/* What the subcommands share (src/cli/cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "urial/engine.h"
#include "urial/remote.h"
#include "urial/retrieve.h"
#include "urial/tensor.h"

int cli_fail(const char *fmt, ...) {
    va_list ap;
    fputs("urial: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* ---- option groups ------------------------------------------------------------------ */
void cli_engine_init(cli_engine *e, const char *model_help, const char *ctx_help) {
    memset(e, 0, sizeof *e);
    cli_opt *o = e->opts;
    if (model_help) *o++ = (cli_opt)OPT_STR("model", 'm', "MODEL.gguf", &e->model, model_help);
    *o++ = (cli_opt)OPT_INT("ctx", 0, "N", 16, 1 << 24, &e->ctx,
                            ctx_help ? ctx_help : "context length (default: the model's, at most 4096)");
    *o++ = (cli_opt)OPT_INT("threads", 't', "N", 1, 1024, &e->threads, "threads (default: all cores)");
    *o = (cli_opt)OPT_END;
}

void cli_format_init(cli_format *f) {
    memset(f, 0, sizeof *f);
    f->k = 3;
    cli_opt *o = f->opts;
    *o++ = (cli_opt)OPT_STR("urial", 0, "NAME|FILE", &f->urial,
                            "URIAL prompt for a base model: a built-in name or a prompt file\n"
                            "(default urial-k3; urial prompt --list shows the names)");
    *o++ = (cli_opt)OPT_STR("template", 0, "NAME|auto", &f->tmpl,
                            "an aligned model's chat template instead, or auto (the model's own)");
    *o++ = (cli_opt)OPT_TEXT("the URIAL paper's baselines (docs/baselines.md):");
    *o = (cli_opt)OPT_CHOICE("urial-format", 0, "backticks|legacy", &f->legacy,
                             "how a URIAL prompt's query is laid out: backticks (default, the authors'\n"
                             "urial_backticks) or legacy (the paper's: the query inline in the fence)");
    (o++)->seen = &f->format_given;
    *o++ = (cli_opt)OPT_FLAG("zero-shot", 0, &f->zero_shot,
                             "baseline: the query alone in the URIAL authors' zero-shot wrapper");
    *o++ = (cli_opt)OPT_STR("prefix-from", 0, "FILE", &f->prefix_from,
                            "baseline: continue the first --prefix-words words of the aligned answer\n"
                            "to the same instruction in FILE (urial run's JSONL, just-eval JSON, ...)");
    *o++ = (cli_opt)OPT_INT("prefix-words", 0, "K", 1, 1 << 20, &f->prefix_words,
                            "with --prefix-from: how many words of the aligned answer to continue");
    *o++ = (cli_opt)OPT_STR("retrieve", 0, "POOL", &f->retrieve,
                            "baseline: retrieval ICL, the --k examples of POOL (JSON/JSONL with\n"
                            "instruction and output) most similar to the query (BM25; index in POOL.bm25)");
    *o = (cli_opt)OPT_INT("k", 0, "K", 1, 64, &f->k, "with --retrieve: examples per query (default 3)");
    (o++)->seen = &f->k_given;
    *o++ = (cli_opt)OPT_STR("retrieve-embed", 0, "MODEL.gguf", &f->retrieve_embed,
                            "with --retrieve: similarity by this model's mean-pooled last hidden\n"
                            "states (cosine) instead of BM25; embeddings cached in POOL.emb-HASH");
    *o = (cli_opt)OPT_END;
}

int cli_format_given(const cli_format *f) {
    return f->urial || f->tmpl || f->format_given || f->zero_shot || f->prefix_from || f->retrieve;
}

int cli_format_check(const cli_format *f, const char *cmd) {
    const char *kinds[4] = {0};
    int n = 0;
    if (f->urial) kinds[n++] = "--urial";
    if (f->tmpl) kinds[n++] = "--template";
    if (f->zero_shot) kinds[n++] = "--zero-shot";
    if (f->retrieve) kinds[n++] = "--retrieve";
    if (f->urial && f->tmpl) return cli_fail("%s: give either --urial or --template, not both", cmd), -1;
    if (n > 1) return cli_fail("%s: give one of --urial, --template, --zero-shot and --retrieve, not %s and %s", cmd,
                               kinds[0], kinds[1]), -1;
    if (f->k_given && !f->retrieve) return cli_fail("%s: --k is for --retrieve POOL", cmd), -1;
    if (f->retrieve_embed && !f->retrieve) return cli_fail("%s: --retrieve-embed is for --retrieve POOL", cmd), -1;
    if (f->prefix_words && !f->prefix_from) return cli_fail("%s: --prefix-words is for --prefix-from FILE", cmd), -1;
    if (f->prefix_from && !f->prefix_words)
        return cli_fail("%s: --prefix-from %s needs --prefix-words K (how many words to continue)", cmd, f->prefix_from),
               -1;
    if (f->format_given && (f->tmpl || f->zero_shot || f->retrieve))
        return cli_fail("%s: --urial-format is for a URIAL prompt, not %s", cmd, kinds[0]), -1;
    if ((f->refuse & CLI_FORMAT_NO_PREFIX) && f->prefix_from)
        return cli_fail("%s: --prefix-from cannot be used here: %s", cmd, f->why ? f->why : "not supported"), -1;
    if ((f->refuse & CLI_FORMAT_NO_BASELINES) && (f->zero_shot || f->retrieve || f->format_given || f->prefix_from))
        return cli_fail("%s: the baselines (--zero-shot, --retrieve, --prefix-from, --urial-format) cannot be used "
                        "here: %s", cmd, f->why ? f->why : "not supported"), -1;
    return 0;
}

static ur_chat *open_template_auto(const char *cmd, const char *model, const ur_gguf *g, ur_err *err) {
    if (g) return ur_chat_template_auto(g, err);
    if (!model) return cli_fail("%s: --template auto needs -m MODEL to read the chat template from", cmd), NULL;
    ur_gguf *o = ur_gguf_open(model, err);
    ur_chat *f = o ? ur_chat_template_auto(o, err) : NULL;
    ur_gguf_close(o);
    return f;
}

static ur_chat *open_retrieval(const cli_format *fo, ur_err *err) {
    ur_buf note = {0};
    ur_retriever *r = ur_retriever_open(fo->retrieve, &note, err);
    if (note.len) fprintf(stderr, "urial: %s\n", note.data);
    note.len = 0;
    if (r && fo->retrieve_embed) {
        if (ur_retriever_use_embeddings(r, fo->retrieve_embed, 0, &note, err)) ur_retriever_free(r), r = NULL;
        else if (note.len) fprintf(stderr, "urial: %s\n", note.data);
    }
    ur_buf_free(&note);
    return r ? ur_chat_retrieval(r, fo->k) : NULL;
}

/* The model's GGUF when it is a readable file (NULL otherwise: a remote model's name). */
static ur_gguf *open_model_gguf(const char *model) {
    struct stat st;
    if (!model || stat(model, &st) || !S_ISREG(st.st_mode)) return NULL;
    return ur_gguf_open(model, NULL);
}

ur_chat *cli_format_open(const cli_format *fo, const char *cmd, const char *model, const ur_gguf *g) {
    ur_err err = {{0}};
    ur_chat *f = NULL;
    if (cli_format_check(fo, cmd)) return NULL;
    ur_gguf *own = g ? NULL : open_model_gguf(model);
    const ur_gguf *mg = g ? g : own;
    if (fo->tmpl && !strcmp(fo->tmpl, "auto")) {
        f = open_template_auto(cmd, model, mg, &err);
    } else if (fo->tmpl) {
        f = ur_chat_template(fo->tmpl, &err);
    } else if (fo->zero_shot) {
        f = ur_chat_zero_shot();
    } else if (fo->retrieve) {
        f = open_retrieval(fo, &err);
    } else if (!fo->urial && mg && (f = ur_chat_recorded(mg, &err))) {
        /* the model's own URIAL prompt (urial defaults); its name says so in records */
    } else if (!err.msg[0]) {
        f = ur_chat_urial(fo->urial ? fo->urial : UR_URIAL_DEFAULT, &err);
    }
    if (f && fo->format_given && ur_chat_set_urial_format(f, fo->legacy, &err)) ur_chat_free(f), f = NULL;
    if (f && fo->prefix_from && ur_chat_set_answer_prefix(f, fo->prefix_from, fo->prefix_words, &err))
        ur_chat_free(f), f = NULL;
    if (f && mg) ur_chat_recorded_decoding(f, mg);
    ur_gguf_close(own);
    if (!f && err.msg[0]) cli_fail("%s", err.msg);
    else if (f && ur_chat_warning(f)) fprintf(stderr, "urial: warning: %s\n", ur_chat_warning(f));
    return f;
}

void cli_format_note_aligned(const cli_format *fo, const ur_model *m) {
    if (cli_format_given(fo) || !m) return;
    ur_str t = {0, 0};
    if (ur_gguf_get_str(m->gguf, "tokenizer.chat_template", &t, NULL) != 0 || !t.len) return;
    char *text = ur_xstrndup(t.ptr, t.len);
    const char *name = ur_chat_family(text);
    fprintf(stderr, "urial: note: %s has a%s%s chat template; the default URIAL prompt is for base models "
                    "(--template auto answers as the aligned model)\n", m->gguf->path, name ? " " : "", name ? name : "");
    free(text);
}

void cli_decoding_init(cli_decoding *d, int max_tokens, const char *max_tokens_help) {
    memset(d, 0, sizeof *d);
    ur_gen_defaults(&d->gp);
    d->gp.max_tokens = max_tokens;
    ur_sampler_params *s = &d->gp.sampler;
    s->repeat_last_n = UR_LAST_N_DEFAULT; /* the format's or the model's, else -1 */
    cli_opt *o = d->opts;
    *o++ = (cli_opt)OPT_INT("max-tokens", 'n', "N", -1, 1 << 24, &d->gp.max_tokens, max_tokens_help);
    *o++ = (cli_opt)OPT_TEXT("decoding (defaults: the URIAL paper's just-eval runs, docs/urial.md \"Decoding in the paper\"):");
    *o++ = (cli_opt)OPT_FLOAT("temp", 0, "T", 0, 100, &s->temp, "temperature (default 0 = greedy)");
    *o++ = (cli_opt)OPT_INT("top-k", 0, "K", 0, 1 << 30, &s->top_k, "keep the K most likely tokens (default 0 = off)");
    *o++ = (cli_opt)OPT_FLOAT("top-p", 0, "P", 0, 1, &s->top_p, "nucleus sampling mass (default 1 = off)");
    *o++ = (cli_opt)OPT_FLOAT("min-p", 0, "P", 0, 1, &s->min_p,
                              "drop tokens below P x the top probability (default 0 = off)");
    *o++ = (cli_opt)OPT_FLOAT("repeat-penalty", 0, "R", 0.01, 100, &s->repeat_penalty,
                              "Hugging Face repetition penalty (default: the model's recorded one, else 1.1\n"
                              "with a URIAL prompt, 1 = off with a template or a raw prompt, as the authors\n"
                              "ran aligned models)");
    *o++ = (cli_opt)OPT_INT("repeat-last-n", 0, "N", -1, 1 << 24, &s->repeat_last_n,
                            "penalise only the last N tokens (default: the model's recorded setting, else\n"
                            "-1: every token in the context, the prompt included, as Hugging Face / vLLM do)");
    *o++ = (cli_opt)OPT_U64("seed", 0, "S", &s->seed, "random seed for --temp > 0 (default 0)");
    *o = (cli_opt)OPT_END;
}

void cli_cache_init(cli_cache *c, int with_off) {
    memset(c, 0, sizeof *c);
    c->opts[0] = (cli_opt)OPT_STR("prompt-cache", 0, "DIR", &c->dir,
                                  "keep the prompt prefix's KV cache in DIR: computed once, loaded afterwards");
    c->opts[1] = with_off ? (cli_opt)OPT_FLAG("no-prefix-cache", 0, &c->off,
                                              "compute every prompt in full (the uncached reference; same outputs,\n"
                                              "slower)")
                          : (cli_opt)OPT_END;
    c->opts[2] = (cli_opt)OPT_END;
}

int cli_cache_check(const cli_cache *c, const char *cmd) {
    if (c->dir && c->off) return cli_fail("%s: --prompt-cache and --no-prefix-cache contradict each other", cmd), -1;
    return 0;
}

static int parse_backend(void *dst, const char *v) {
    if (!strcmp(v, "openai")) *(int *)dst = CLI_BACKEND_OPENAI;
    else if (!strcmp(v, "openai-chat")) *(int *)dst = CLI_BACKEND_OPENAI_CHAT;
    else if (!strcmp(v, "local")) *(int *)dst = CLI_BACKEND_LOCAL;
    else return cli_fail("--backend '%s': give local, openai or openai-chat", v), -1;
    return 0;
}

void cli_remote_init(cli_remote *r, const char *what) {
    memset(r, 0, sizeof *r);
    r->concurrency = 4;
    r->timeout = 600;
    r->retries = 8;
    cli_opt *o = r->opts;
    *o++ = (cli_opt)OPT_TEXT(what);
    *o++ = (cli_opt)OPT_FN("backend", 0, "local|openai|openai-chat", parse_backend, &r->on,
                           "where the model runs (default local); openai sends the prompt rendered here\n"
                           "to /v1/completions, openai-chat the messages to /v1/chat/completions (the\n"
                           "server applies the model's chat template: GPT-class APIs, vLLM's chat models)");
    *o++ = (cli_opt)OPT_STR("base-url", 0, "URL", &r->url,
                            "the server's API, e.g. http://127.0.0.1:8000/v1 (vLLM's default port); -m is\n"
                            "the model's name there (a path ending in .gguf: its base name, as urial\n"
                            "serve names it)");
    *o++ = (cli_opt)OPT_STR("api-key-env", 0, "VAR", &r->key_env,
                            "send the key in environment variable VAR (\"Authorization: Bearer ...\")");
    *o++ = (cli_opt)OPT_INT("concurrency", 0, "N", 1, 1024, &r->concurrency, "requests in flight (default 4)");
    *o++ = (cli_opt)OPT_REAL("timeout", 0, "S", 0.001, 1e6, &r->timeout, "seconds per request (default 600)");
    *o++ = (cli_opt)OPT_INT("retries", 0, "N", 0, 1000, &r->retries,
                            "retries of a request on 429, 5xx, timeouts, broken connections (default 8)");
    *o = (cli_opt)OPT_END;
}

struct ur_remote *cli_remote_open(cli_remote *r, const char *cmd, const char *model) {
    const char *b = r->on == CLI_BACKEND_OPENAI_CHAT ? "openai-chat" : "openai";
    if (!r->url) return cli_fail("%s: --backend %s needs --base-url URL (e.g. http://127.0.0.1:8000/v1)", cmd, b), NULL;
    if (!model) return cli_fail("%s: --backend %s needs -m NAME, the model's name on the server", cmd, b), NULL;
    size_t n = strlen(model);
    if (n > 5 && !strcmp(model + n - 5, ".gguf")) { /* a GGUF path: urial serve's name for it */
        const char *b = ur_base_name(model);
        snprintf(r->model, sizeof r->model, "%.*s", (int)(model + n - 5 - b), b);
    } else {
        snprintf(r->model, sizeof r->model, "%s", model);
    }
    const char *key = NULL;
    if (r->key_env && !(key = getenv(r->key_env)))
        return cli_fail("%s: --api-key-env %s: the environment variable is not set", cmd, r->key_env), NULL;
    ur_remote_params p;
    ur_remote_defaults(&p);
    p.url = r->url;
    p.api_key = key;
    p.hint_404 = "check --base-url and -m, the model's name on the server";
    p.concurrency = r->concurrency;
    p.timeout = r->timeout;
    p.max_retries = r->retries;
    ur_err err = {{0}};
    struct ur_remote *c = ur_remote_new(&p, &err);
    if (!c) cli_fail("%s: %s", cmd, err.msg);
    return c;
}

static int parse_shard(void *dst, const char *v) {
    ur_job_select *s = dst;
    if (ur_job_parse_shard(v, &s->shard_i, &s->shard_n))
        return cli_fail("--shard '%s' is not I/N with 0 <= I < N (e.g. 0/4)", v), -1;
    return 0;
}

void cli_select_init(cli_select *s) {
    memset(s, 0, sizeof *s);
    s->sel = UR_JOB_SELECT_ALL;
    s->opts[0] = (cli_opt)OPT_LONG("limit", 0, "N", 0, 1L << 30, &s->sel.limit, "only the first N items of the dataset");
    s->opts[1] = (cli_opt)OPT_FN("shard", 0, "I/N", parse_shard, &s->sel,
                                 "only items whose position p (after --limit) has p % N == I; each shard\n"
                                 "needs its own output, joined with urial merge");
    s->progress_every = 30;
    s->opts[2] = (cli_opt)OPT_REAL("progress-every", 0, "S", 0, 1e9, &s->progress_every,
                                   "without a terminal (a log file): a progress line every S seconds\n"
                                   "(done/total, tok/s, ETA; default 30; 0 = none)");
    s->opts[3] = (cli_opt)OPT_END;
}

/* ---- models ------------------------------------------------------------------------- */
ur_model *cli_load_model(const char *path) {
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path, &err);
    if (!m) cli_fail("%s", err.msg);
    return m;
}

int cli_default_ctx(const ur_model *m) { return m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096; }

void cli_ctx_warn(const ur_model *m, int n_ctx) {
    static int warned;
    if (warned || n_ctx <= m->hp.n_ctx_train || m->hp.n_ctx_train <= 0) return;
    warned = 1;
    fprintf(stderr, "urial: warning: --ctx %d is beyond the %d tokens %s was trained on: past them its output may be "
                    "garbage\n", n_ctx, m->hp.n_ctx_train, m->gguf->path);
}

ur_ctx *cli_new_ctx(const ur_model *m, int n_ctx, int n_threads, int quiet) {
    ur_err err = {{0}};
    if (!n_ctx) n_ctx = cli_default_ctx(m);
    cli_ctx_warn(m, n_ctx);
    ur_ctx_params p = {.n_ctx = n_ctx, .n_threads = n_threads};
    ur_ctx *c = ur_ctx_new(m, p, &err);
    if (!c) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    if (!quiet) {
        ur_buf d = {0};
        ur_ctx_describe(c, 0, &d);
        fprintf(stderr, "urial: %s\n", d.data);
        ur_buf_free(&d);
    }
    return c;
}

const char CLI_PARALLEL_HELP[] =
    "answers decoded together in one batch (default 8, fewer when their KV caches\n"
    "would pass a quarter of the memory); outputs do not depend on it";

void cli_engine_params(const ur_model *m, const cli_engine *eng, int parallel, const char *cache_dir,
                       struct ur_engine_params *p) {
    ur_engine_defaults(p);
    p->n_ctx = eng->ctx ? eng->ctx : cli_default_ctx(m);
    cli_ctx_warn(m, p->n_ctx);
    p->n_threads = eng->threads;
    p->parallel = parallel ? parallel : ur_engine_default_parallel(m, p->n_ctx);
    p->queue = 2 * p->parallel;
    p->cache_dir = cache_dir;
    p->reuse = UR_REUSE_PREFIX;
}

int cli_tokenize(const ur_vocab *v, const char *text, int add_bos, int special, int32_t **ids) {
    ur_err err = {{0}};
    int n = ur_tokenize_alloc(v, text, strlen(text), add_bos, special, ids, &err);
    if (n < 0) cli_fail("%s", err.msg);
    return n;
}

int cli_parse_ids(const char *s, int32_t **out) {
    size_t cap = 16, n = 0;
    int32_t *ids = ur_xmalloc(cap * sizeof *ids);
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            free(ids);
            return cli_fail("--ids: '%s' is not a comma-separated list of token ids", s), -1;
        }
        if (n == cap) ids = ur_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (!n) {
        free(ids);
        return cli_fail("--ids: no token ids given"), -1;
    }
    *out = ids;
    return (int)n;
}

int cli_type_from_name(const char *name) {
    static const int ids[] = {UR_TYPE_F32,  UR_TYPE_F16,  UR_TYPE_BF16, UR_TYPE_Q4_0,
                              UR_TYPE_Q8_0, UR_TYPE_Q4_K, UR_TYPE_Q5_K, UR_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (!strcasecmp(name, ur_type_name(ids[i]))) return ids[i];
    return -1;
}

int cli_opt_type(void *dst, const char *v) {
    int t = cli_type_from_name(v);
    if (t < 0) return cli_fail("unknown type '%s' (f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K)", v), -1;
    *(int *)dst = t;
    return 0;
}

/* ---- long jobs on stderr ------------------------------------------------------------ */
static void fmt_secs(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

double cli_job_rate(const ur_job_progress *p) {
    double t = p->t_work > 0 ? p->t_work : ur_now() - p->t0;
    return t > 0 ? (double)p->tokens / t : 0.0;
}

void cli_job_init_view(cli_job_view *v) {
    memset(v, 0, sizeof *v);
    v->tty = isatty(2);
    v->every = 30;
    v->last = ur_now();
}

/* "[#######-----------------]" for done of total */
static void bar(char *b, int width, int done, int total) {
    int full = total > 0 ? (int)((double)width * done / total) : width;
    b[0] = '[';
    for (int i = 0; i < width; i++) b[1 + i] = i < full ? '#' : '-';
    b[width + 1] = ']', b[width + 2] = 0;
}

void cli_job_progress(void *view, const ur_job_progress *p) {
    cli_job_view *v = view;
    const double now = ur_now();
    if (!v->tty && (v->every <= 0 || now - v->last < v->every)) return;
    int done = p->kept + p->recorded, worked = p->recorded + p->skipped, left = p->total - done - p->skipped;
    char eta[32] = "?", extra[160], b[40];
    if (worked) fmt_secs((now - p->t0) / worked * left, eta, sizeof eta);
    if (v->extra) v->extra(v->user, p, extra, sizeof extra);
    else snprintf(extra, sizeof extra, "%.1f tok/s", cli_job_rate(p));
    const double pct = p->total ? 100.0 * done / p->total : 100.0;
    if (!v->tty) { /* a log: whole lines, every `every` seconds */
        fprintf(stderr, "urial: %s: %d/%d (%.1f%%), %s, ETA %s\n", v->name ? v->name : "progress", done, p->total, pct,
                extra, eta);
        v->last = now;
        return;
    }
    bar(b, 24, done, p->total);
    fprintf(stderr, "\r\033[K%s %d/%d %.1f%%  %s  ETA %s", b, done, p->total, pct, extra, eta);
    fflush(stderr);
    v->drawn = 1;
}

void cli_job_note(void *view, const char *line) {
    cli_job_view *v = view;
    if (v->drawn) fputs("\r\033[K", stderr);
    v->drawn = 0;
    fprintf(stderr, "urial: %s\n", line);
}

void cli_job_end_view(cli_job_view *v) {
    if (v->drawn) fputc('\n', stderr);
    v->drawn = 0;
}
