/* Helpers shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "urial/tensor.h"

static void fmt_secs(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void cli_progress_line(int done, int total, int worked, int left, double elapsed, const char *extra) {
    char eta[32] = "?";
    if (worked) fmt_secs(elapsed / worked * left, eta, sizeof eta);
    fprintf(stderr, "\r\033[K[%d/%d] %.1f%%  %s  ETA %s", done, total, total ? 100.0 * done / total : 100.0,
            extra ? extra : "", eta);
    fflush(stderr);
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    fputs("urial: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_int(const char *opt, const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        cli_fail("option %s: '%s' is not an integer in [%ld, %ld]", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        cli_fail("option %s: '%s' is not a number in [%g, %g]", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        cli_fail("option %s: '%s' is not a non-negative integer", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *cmd) {
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?' || c == ':') {
        const char *bad = argv[optind - 1];
        if (optopt && strchr(shortopts, optopt) && c == ':')
            cli_fail("%s: option -%c needs a value (see urial %s --help)", cmd, optopt, cmd);
        else if (optopt)
            cli_fail("%s: option '%s' is unknown or needs a value (see urial %s --help)", cmd, bad, cmd);
        else
            cli_fail("%s: option '%s' is unknown or needs a value (see urial %s --help)", cmd, bad, cmd);
        return '?';
    }
    return c;
}

int cli_parse_ids(const char *s, int32_t **out) {
    size_t cap = 16, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    const char *p = s;
    while (ids && *p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            free(ids);
            cli_fail("--ids: '%s' is not a comma-separated list of token ids", s);
            return -1;
        }
        if (n == cap) {
            int32_t *nids = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!nids) break;
            ids = nids;
        }
        ids[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (!ids) return cli_fail("out of memory"), -1;
    if (!n) {
        free(ids);
        cli_fail("--ids: no token ids given");
        return -1;
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

ur_model *cli_load_model(const char *path) {
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path, &err);
    if (!m) cli_fail("%s", err.msg);
    return m;
}

ur_ctx *cli_new_ctx(const ur_model *m, int n_ctx, int n_threads, int quiet) {
    ur_err err = {{0}};
    ur_ctx_params p = {.n_ctx = n_ctx, .n_threads = n_threads};
    ur_ctx *c = ur_ctx_new(m, p, &err);
    if (!c) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    if (!quiet)
        fprintf(stderr, "urial: %s: %s, %.2fM params, context %d tokens, KV cache %.1f MiB, %d threads, %s\n",
                m->gguf->path, ur_arch_name(m->hp.arch), (double)m->n_params / 1e6, ur_ctx_n_ctx(c),
                (double)ur_ctx_kv_bytes(c) / (1 << 20), ur_ctx_threads(c), ur_simd_name(ur_simd_level()));
    return c;
}

int cli_tokenize(const ur_vocab *v, const char *text, int add_bos, int special, int32_t **ids) {
    ur_err err = {{0}};
    size_t len = strlen(text);
    int cap = (int)(len < 1 << 20 ? len : 1 << 20) + 8;
    for (;;) {
        int32_t *buf = malloc(sizeof *buf * (size_t)cap);
        if (!buf) return cli_fail("out of memory tokenizing %zu bytes", len), -1;
        int n = ur_tokenize(v, text, len, add_bos, special, buf, cap, &err);
        if (n < 0) {
            free(buf);
            cli_fail("%s", err.msg);
            return -1;
        }
        if (n <= cap) {
            *ids = buf;
            return n;
        }
        free(buf);
        cap = n;
    }
}

ur_chat *cli_open_format(const char *cmd, const char *urial, const char *tmpl, const char *model, const ur_gguf *g) {
    ur_err err = {{0}};
    ur_chat *f = NULL;
    if (urial && tmpl) return cli_fail("%s: give either --urial or --template, not both", cmd), NULL;
    if (tmpl && !strcmp(tmpl, "auto")) {
        if (g) {
            f = ur_chat_template_auto(g, &err);
        } else {
            if (!model)
                return cli_fail("%s: --template auto needs -m MODEL to read the chat template from", cmd), NULL;
            ur_gguf *o = ur_gguf_open(model, &err);
            if (o) f = ur_chat_template_auto(o, &err);
            ur_gguf_close(o);
        }
    } else if (tmpl) {
        f = ur_chat_template(tmpl, &err);
    } else {
        f = ur_chat_urial(urial ? urial : UR_URIAL_DEFAULT, &err);
    }
    if (!f) cli_fail("%s", err.msg);
    else if (ur_chat_warning(f)) fprintf(stderr, "urial: warning: %s\n", ur_chat_warning(f));
    return f;
}

const char CLI_SAMPLING_HELP[] =
    "decoding (defaults: the URIAL paper's just-eval runs, see docs/urial.md \"Decoding in the paper\"):\n"
    "  --temp T            temperature (default 0 = greedy)\n"
    "  --top-k K           keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P           nucleus sampling mass (default 1 = off)\n"
    "  --min-p P           drop tokens below P x the top probability (default 0 = off)\n"
    "  --repeat-penalty R  Hugging Face repetition penalty (default 1.1 with a URIAL prompt, 1 = off with\n"
    "                      a template, as the authors ran aligned models)\n"
    "  --repeat-last-n N   penalise only the last N tokens (default -1: every token in the context,\n"
    "                      the URIAL prompt included, as Hugging Face / vLLM do)\n"
    "  --seed S            random seed for --temp > 0 (default 0)\n";

void cli_sampling_init(cli_sampling *s) {
    memset(s, 0, sizeof *s);
    ur_sampler_defaults(&s->p);
}

int cli_sampling_opt(cli_sampling *s, int c, const char *arg) {
    long v;
    double d;
    switch (c) {
    case CLI_O_TEMP: if (cli_float("--temp", arg, 0, 100, &d)) return -1; s->p.temp = (float)d; return 1;
    case CLI_O_TOPK: if (cli_int("--top-k", arg, 0, 1 << 30, &v)) return -1; s->p.top_k = (int)v; return 1;
    case CLI_O_TOPP: if (cli_float("--top-p", arg, 0, 1, &d)) return -1; s->p.top_p = (float)d; return 1;
    case CLI_O_MINP: if (cli_float("--min-p", arg, 0, 1, &d)) return -1; s->p.min_p = (float)d; return 1;
    case CLI_O_RP:
        if (cli_float("--repeat-penalty", arg, 0.01, 100, &d)) return -1;
        s->p.repeat_penalty = (float)d;
        s->rp_given = 1;
        return 1;
    case CLI_O_RLN: if (cli_int("--repeat-last-n", arg, -1, 1 << 24, &v)) return -1; s->p.repeat_last_n = (int)v; return 1;
    case CLI_O_SEED: return cli_u64("--seed", arg, &s->p.seed) ? -1 : 1;
    }
    return 0;
}

ur_sampler_params cli_sampling_for(const cli_sampling *s, const ur_chat *f) {
    ur_sampler_params p = s->p;
    if (!s->rp_given) p.repeat_penalty = ur_chat_kind(f) == UR_CHAT_URIAL ? 1.1f : 1.0f;
    return p;
}

int cli_default_ctx(const ur_model *m) { return m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096; }

void cli_progress_show(const cli_progress *p) {
    if (!p->tty) return;
    char tps[32];
    snprintf(tps, sizeof tps, "%.1f tok/s", p->t_gen > 0 ? p->tokens / p->t_gen : 0.0);
    cli_progress_line(p->done, p->total, p->generated, p->total - p->done - p->skipped, ur_now() - p->t0, tps);
}

int cli_parse_shard(const char *s, long *i, long *n) {
    char *end, *end2;
    *i = strtol(s, &end, 10);
    if (end == s || *end != '/') return -1;
    *n = strtol(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 || *n < 1 || *i < 0 || *i >= *n) return -1;
    return 0;
}

void cli_note_aligned(const ur_model *m, const char *urial, const char *tmpl) {
    if (urial || tmpl) return;
    ur_str t = {0, 0};
    if (ur_gguf_get_str(m->gguf, "tokenizer.chat_template", &t, NULL) != 0 || !t.len) return;
    char *text = strndup(t.ptr, t.len);
    if (!text) return;
    const char *name = ur_chat_detect(text, NULL);
    if (name)
        fprintf(stderr, "urial: note: %s has a %s chat template; the default URIAL prompt is for base models "
                        "(--template auto answers as the aligned model)\n", m->gguf->path, name);
    free(text);
}
