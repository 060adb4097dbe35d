/* Sessions: a context, a chat format, and the format's prefix kept in the KV
 * cache (computed once, or loaded from a cache file), from which every answer
 * starts. See include/urial/session.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "urial/session.h"
#include "urial/tokenizer.h"

struct ur_session {
    ur_ctx *ctx;
    const ur_chat *fmt;
    const ur_model *m;
    int reuse;
    int add_bos, special;
    int32_t *prefix; /* the prefix's tokens */
    int n_prefix;
    char *cache_dir, *cache_path;
    char note[UR_ERR_MAX];
    int has_note;
};

/* Add to the note, "; "-separated. */
static void note_add(ur_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(ur_session *s, const char *fmt, ...) {
    size_t n = s->has_note ? strlen(s->note) : 0;
    if (n) n += (size_t)snprintf(s->note + n, sizeof s->note - n, "; ");
    if (n >= sizeof s->note) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->note + n, sizeof s->note - n, fmt, ap);
    va_end(ap);
    s->has_note = 1;
}

const char *ur_session_take_note(ur_session *s) {
    if (!s->has_note) return NULL;
    s->has_note = 0;
    return s->note;
}

static int tokenize(const ur_session *s, const char *text, size_t len, int32_t **out, ur_err *err) {
    return ur_tokenize_alloc(s->m->vocab, text, len, s->add_bos, s->special, out, err);
}

/* The cache file's base name: MODEL.PROMPT.HASH.kv from the base names of the model
 * file and of the format's name (a prompt file's path), with characters outside
 * [A-Za-z0-9._-] as '_', and a hash of the full model path and format name. */
static void append_base(ur_buf *b, const char *path, const char *drop_ext) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base), el = strlen(drop_ext);
    if (n > el && !strcmp(base + n - el, drop_ext)) n -= el;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                 c == '_';
        ur_buf_put(b, ok ? &c : "_", 1);
    }
}

static char *cache_file_path(const char *dir, const char *model_path, const ur_chat *f) {
    uint64_t h = UR_HASH64_INIT; /* over "model\0kind\0name" */
    char full[PATH_MAX];
    const char *mp = realpath(model_path, full) ? full : model_path;
    const char *parts[3] = {mp, ur_chat_kind(f) == UR_CHAT_URIAL ? "urial" : "template", ur_chat_name(f)};
    for (int i = 0; i < 3; i++) h = ur_hash64(parts[i], strlen(parts[i]) + 1, h);
    ur_buf b = {0};
    ur_buf_puts(&b, dir);
    if (b.len && b.data[b.len - 1] != '/') ur_buf_puts(&b, "/");
    append_base(&b, model_path, ".gguf");
    ur_buf_puts(&b, ".");
    append_base(&b, ur_chat_name(f), ".txt");
    ur_buf_printf(&b, ".%08x.kv", (unsigned)(h ^ (h >> 32)));
    return b.data;
}

ur_session *ur_session_new(ur_ctx *c, const ur_chat *f, const ur_session_params *p, ur_err *err) {
    ur_session *s = calloc(1, sizeof *s);
    if (!s) {
        ur_errf(err, "out of memory");
        return NULL;
    }
    s->ctx = c;
    s->fmt = f;
    s->m = ur_ctx_model(c);
    s->reuse = p ? p->reuse : UR_REUSE_PREFIX;
    s->add_bos = ur_chat_add_bos(f) && ur_vocab_add_bos(s->m->vocab);
    s->special = ur_chat_parse_special(f);

    ur_buf pre = {0};
    if (ur_chat_prefix(f, NULL, 0, &pre, err) || (s->n_prefix = tokenize(s, pre.data, pre.len, &s->prefix, err)) < 0)
        goto fail;
    /* Keep only the tokens that every prompt starts with. The prefix's last token
     * can merge with the query's first bytes in some vocabularies (e.g. a template
     * prefix that ends in a space); URIAL's ends in "\n", a byte token nothing
     * merges with. Probe with queries that start differently; ur_session_answer
     * still checks every real prompt. */
    static const char *const probes[] = {"x", " x", "  x", "\nx", "1", "!", "#", "\xc3\xa9", "\xe2\x96\x81x", "<s>"};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0] && s->n_prefix > 0; i++) {
        ur_msg q = {UR_ROLE_USER, (char *)probes[i], strlen(probes[i])};
        ur_buf full = {0};
        int32_t *t = NULL;
        int nt = -1;
        if (!ur_chat_render(f, &q, 1, 1, &full, err)) nt = tokenize(s, full.data, full.len, &t, err);
        ur_buf_free(&full);
        if (nt < 0) goto fail;
        int k = ur_tokens_common_prefix(s->prefix, s->n_prefix, t, nt);
        if (k >= nt) k = nt - 1; /* at least one prompt token is always computed */
        if (k < s->n_prefix) s->n_prefix = k;
        free(t);
    }
    if (s->n_prefix >= ur_ctx_n_ctx(c)) {
        ur_errf(err, "%s: the prompt prefix of %s has %d tokens, the context holds %d (use a larger --ctx)",
                s->m->gguf->path, ur_chat_name(f), s->n_prefix, ur_ctx_n_ctx(c));
        goto fail;
    }
    if (p && p->cache_dir) {
        s->cache_dir = ur_xstrdup(p->cache_dir);
        s->cache_path = cache_file_path(p->cache_dir, s->m->gguf->path, f);
    }
    ur_buf_free(&pre);
    return s;
fail:
    ur_buf_free(&pre);
    ur_session_free(s);
    return NULL;
}

void ur_session_free(ur_session *s) {
    if (!s) return;
    free(s->prefix);
    free(s->cache_dir);
    free(s->cache_path);
    free(s);
}

int ur_session_prefix_len(const ur_session *s) { return s->n_prefix; }
const int32_t *ur_session_prefix_tokens(const ur_session *s) { return s->prefix; }
const char *ur_session_cache_path(const ur_session *s) { return s->cache_path; }

static int holds_prefix(const ur_session *s) {
    return ur_ctx_n_past(s->ctx) >= s->n_prefix &&
           ur_tokens_common_prefix(ur_ctx_tokens(s->ctx), s->n_prefix, s->prefix, s->n_prefix) == s->n_prefix;
}

/* Compute the prefix in an emptied context: one ur_decode call from position 0,
 * always the same chunks, so every path to the prefix's KV gives the same bits. */
static int compute_prefix(ur_session *s, int n, ur_err *err) {
    ur_ctx_truncate(s->ctx, 0);
    return n > 0 ? ur_decode(s->ctx, s->prefix, n, NULL, 0, err) : 0;
}

int ur_session_warm(ur_session *s, ur_err *err) {
    if (s->n_prefix == 0 || s->reuse == UR_REUSE_NONE || holds_prefix(s)) return UR_PREFIX_PRESENT;
    if (s->cache_path) {
        ur_err e = {{0}};
        int rc = ur_ctx_load_prefix(s->ctx, s->cache_path, s->prefix, s->n_prefix, &e);
        if (rc == 1) {
            note_add(s, "loaded the %d-token prompt prefix from %s", s->n_prefix, s->cache_path);
            return UR_PREFIX_LOADED;
        }
        if (rc < 0) note_add(s, "prompt cache ignored: %s; recomputing the prefix", e.msg);
    }
    if (compute_prefix(s, s->n_prefix, err)) return -1;
    if (s->cache_path) {
        ur_err e = {{0}};
        if (mkdir(s->cache_dir, 0777) && errno != EEXIST)
            note_add(s, "%s: cannot create the prompt cache directory: %s (prefix not saved)", s->cache_dir,
                     strerror(errno));
        else if (ur_ctx_save_prefix(s->ctx, s->n_prefix, s->cache_path, &e))
            note_add(s, "%s (prefix not saved)", e.msg);
    }
    return UR_PREFIX_COMPUTED;
}

void ur_answer_free(ur_answer *a) {
    ur_buf_free(&a->text);
    ur_buf_free(&a->gen.text);
}

int ur_session_answer(ur_session *s, const ur_msg *msgs, int n, const ur_gen_params *gp, ur_gen_cb cb, void *user,
                      ur_answer *out, ur_err *err) {
    memset(out, 0, sizeof *out);
    const char *path = s->m->gguf->path;
    if (n <= 0 || msgs[n - 1].role != UR_ROLE_USER)
        return ur_errf(err, "%s: a conversation to answer must end with a user message", ur_chat_name(s->fmt));
    ur_buf text = {0};
    int32_t *toks = NULL;
    const char **stops = NULL;
    int rc = -1, nt = -1;
    if (ur_chat_render(s->fmt, msgs, n, 1, &text, err) || (nt = tokenize(s, text.data, text.len, &toks, err)) < 0)
        goto out;
    if (nt >= ur_ctx_n_ctx(s->ctx)) {
        out->too_long = 1;
        ur_errf(err, "%s: the prompt has %d tokens but the context holds %d", path, nt, ur_ctx_n_ctx(s->ctx));
        goto out;
    }

    /* the format's stop strings, then the caller's */
    int nfs;
    const char *const *fs = ur_chat_stops(s->fmt, &nfs);
    ur_gen_params g = *gp;
    ur_chat_decoding(s->fmt, &g.sampler);
    stops = ur_xmalloc(sizeof *stops * (size_t)(nfs + gp->n_stop + 1));
    for (int i = 0; i < nfs; i++) stops[i] = fs[i];
    for (int i = 0; i < gp->n_stop; i++) stops[nfs + i] = gp->stop[i];
    g.stop = stops;
    g.n_stop = nfs + gp->n_stop;

    /* how much of the prompt is the prefix (all of it, unless the query's first bytes
     * merged with the prefix's last token); at least one token is left to compute */
    int k = ur_tokens_common_prefix(toks, nt, s->prefix, s->n_prefix);
    if (k > nt - 1) k = nt - 1;
    double t0 = ur_now(), t_pre = 0;
    int computed = 0;
    if (s->reuse == UR_REUSE_NONE) { /* the same steps as computing the prefix for the cache */
        if (compute_prefix(s, s->n_prefix, err)) goto out;
        ur_ctx_truncate(s->ctx, k);
        t_pre = ur_now() - t0;
    } else {
        int how = ur_session_warm(s, err);
        if (how < 0) goto out;
        if (how != UR_PREFIX_PRESENT) t_pre = ur_now() - t0;
        if (s->reuse == UR_REUSE_PREFIX || k < s->n_prefix) ur_ctx_truncate(s->ctx, k);
        if (how == UR_PREFIX_COMPUTED) computed = k; /* computed for this answer: not "cached" */
    }
    if (ur_generate(s->ctx, toks, nt, &g, cb, user, &out->gen, err)) goto out;
    out->gen.t_prompt += t_pre;
    out->n_cached = s->reuse == UR_REUSE_NONE ? 0 : out->gen.n_reused - computed;
    ur_chat_clean(s->fmt, out->gen.text.data, out->gen.text.len, &out->text);
    ur_buf_put(&out->text, "", 0);
    rc = 0;
out:
    if (rc) ur_answer_free(out);
    free(stops);
    free(toks);
    ur_buf_free(&text);
    return rc;
}
