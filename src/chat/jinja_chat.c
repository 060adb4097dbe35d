/* A model's own chat template (tokenizer.chat_template) as a chat format: rendered by
 * the Jinja interpreter (jinja.h) exactly as Hugging Face renders it, with
 *     messages               [{"role": ..., "content": ...}, ...]
 *     bos_token, eos_token   the vocabulary's BOS / EOS pieces (undefined when the
 *                            GGUF names none, as when a tokenizer_config has none)
 *     add_generation_prompt  true when the text must open the assistant's turn
 * and nothing else (no tools, no date_string: templates then use their defaults).
 *
 * What the rest of urial asks of a format is derived by rendering sentinel
 * conversations (\x01, \x02, \x03 as contents: bytes no template trims):
 *   add_bos  0 when a rendering already starts with the BOS piece;
 *   stops    the end-of-turn text: in [user \x01, assistant \x03, user \x02] the text
 *            the template writes after \x03, cut to the first special token of the
 *            vocabulary found there (llama-3's <|eot_id|>, ChatML's <|im_end|>,
 *            Mistral's </s>, ...); without a vocabulary, the first <...> or [...]
 *            marker there, else the EOS piece if it is there, else that text less
 *            the next user turn's opening; then the EOS piece as a second stop
 *            string when it differs. */
#include <stdlib.h>
#include <string.h>

#include "chat/chat_int.h"
#include "chat/jinja.h"

#define SENTINEL_A "\x03"

static char *dup_str(const ur_str *s) { return s->ptr ? ur_xstrndup(s->ptr, s->len) : NULL; }

int jinja_render_msgs(const ur_chat *f, const ur_msg *m, int n, int gen, ur_buf *out, ur_err *err) {
    jj_ctx *c = jj_ctx_new();
    jv msgs = jj_ctx_list(c);
    for (int i = 0; i < n; i++) {
        jv d = jj_ctx_dict(c);
        jj_ctx_put(c, d, "role", jj_ctx_str(c, ur_role_name(m[i].role), strlen(ur_role_name(m[i].role))));
        jj_ctx_put(c, d, "content", jj_ctx_str(c, m[i].content ? m[i].content : "", m[i].content ? m[i].len : 0));
        jj_ctx_push(c, msgs, d);
    }
    jj_ctx_set(c, "messages", msgs);
    if (f->bos) jj_ctx_set(c, "bos_token", jj_ctx_str(c, f->bos, strlen(f->bos)));
    if (f->eos) jj_ctx_set(c, "eos_token", jj_ctx_str(c, f->eos, strlen(f->eos)));
    jj_ctx_set(c, "add_generation_prompt", (jv){.t = JV_BOOL, .u.b = !!gen});
    ur_err e = {{0}};
    int rc = jj_render(f->jinja, c, out, &e);
    jj_ctx_free(c);
    if (rc) return ur_errf(err, "%s: %s", f->where, e.msg);
    return 0;
}

/* Render sentinel messages (roles from `roles`, contents \x01 \x03 \x02 ...). */
static int render_probe(const ur_chat *f, const char *roles, int gen, ur_buf *out) {
    static char contents[][2] = {"\x01", SENTINEL_A, "\x02", "\x04"};
    ur_msg m[4];
    int n = (int)strlen(roles);
    for (int i = 0; i < n; i++)
        m[i] = (ur_msg){roles[i] == 'u' ? UR_ROLE_USER : roles[i] == 's' ? UR_ROLE_SYSTEM : UR_ROLE_ASSISTANT, contents[i], 1};
    ur_buf_put(out, "", 0);
    return jinja_render_msgs(f, m, n, gen, out, NULL);
}

/* The earliest special token of the vocabulary in s[0..n) (longest on ties), or NULL. */
static char *first_special(const ur_gguf *g, const char *s, size_t n) {
    const ur_gguf_kv *toks = ur_gguf_find(g, "tokenizer.ggml.tokens"), *types = ur_gguf_find(g, "tokenizer.ggml.token_type");
    if (!toks || toks->type != UR_GGUF_ARRAY || toks->arr_type != UR_GGUF_STRING) return NULL;
    int typed = types && types->type == UR_GGUF_ARRAY && types->arr_type == UR_GGUF_I32 && types->arr_n == toks->arr_n;
    size_t best = n, best_len = 0;
    const char *hit = NULL;
    for (uint64_t i = 0; i < toks->arr_n; i++) {
        const ur_str *t = &toks->strs[i];
        if (t->len < 2 || t->len > n) continue;
        if (typed) {
            int32_t ty;
            memcpy(&ty, types->data + 4 * i, 4);
            if (ty != 3 && ty != 4) continue; /* control and user-defined tokens */
        } else if (t->ptr[0] != '<' && t->ptr[0] != '[') {
            continue;
        }
        const char *p = memmem(s, n, t->ptr, t->len);
        if (!p) continue;
        size_t at = (size_t)(p - s);
        if (at < best || (at == best && t->len > best_len)) best = at, best_len = t->len, hit = t->ptr;
    }
    return hit ? ur_xstrndup(hit, best_len) : NULL;
}

/* The first marker that looks like a special token: <...>, [...] (no whitespace, at
 * most 48 bytes), e.g. <|eot_id|>, </s>, [/INST]. */
static char *first_marker(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '<' && s[i] != '[') continue;
        char close = s[i] == '<' ? '>' : ']';
        for (size_t j = i + 1; j < n && j - i < 48; j++) {
            if (s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == s[i]) break;
            if (s[j] == close) return j > i + 1 ? ur_xstrndup(s + i, j + 1 - i) : NULL;
        }
    }
    return NULL;
}

static char *turn_end_fallback(const ur_chat *f, const char *tail, size_t n) {
    char *m = first_marker(tail, n);
    if (m) return m;
    if (f->eos && *f->eos && memmem(tail, n, f->eos, strlen(f->eos))) return ur_xstrdup(f->eos);
    ur_buf one = {0};
    char *stop = NULL;
    if (!render_probe(f, "u", 0, &one)) { /* drop what opens the next user turn */
        const char *u = memchr(one.data, '\x01', one.len);
        size_t k = 0, ul = u ? (size_t)(u - one.data) : 0;
        while (u && k < n && k < ul && tail[n - 1 - k] == one.data[ul - 1 - k]) k++;
        size_t b, e;
        py_strip(tail, n - k, &b, &e);
        if (e > b) stop = ur_xstrndup(tail + b, e - b);
    }
    ur_buf_free(&one);
    return stop;
}

static void derive_stops(ur_chat *f, const ur_gguf *g) {
    ur_buf r = {0};
    char *turn = NULL;
    int rc = render_probe(f, "uau", 0, &r);
    if (rc) { /* a template that wants something else of a conversation: the answer last */
        r.len = 0;
        rc = render_probe(f, "ua", 0, &r);
    }
    if (!rc) {
        const char *a = memchr(r.data, SENTINEL_A[0], r.len), *u2 = a ? memchr(a, '\x02', r.len - (size_t)(a - r.data)) : NULL;
        if (a) {
            size_t n = u2 ? (size_t)(u2 - a - 1) : r.len - (size_t)(a + 1 - r.data);
            turn = g ? first_special(g, a + 1, n) : NULL;
            if (!turn) turn = turn_end_fallback(f, a + 1, n);
        }
    }
    ur_buf_free(&r);
    if (turn) f->stop[f->n_stop++] = turn;
    if (f->eos && *f->eos && (!turn || strcmp(turn, f->eos))) f->stop[f->n_stop++] = ur_xstrdup(f->eos);
    f->stop[f->n_stop] = NULL;
}

static void derive_add_bos(ur_chat *f) {
    ur_buf r = {0};
    f->jinja_add_bos = 1;
    if (f->bos && *f->bos && !render_probe(f, "u", 1, &r) && r.len >= strlen(f->bos) && !memcmp(r.data, f->bos, strlen(f->bos)))
        f->jinja_add_bos = 0;
    ur_buf_free(&r);
}

static ur_chat *jinja_new(const char *name, const char *where, const char *text, size_t len, const char *bos,
                          const char *eos, const ur_gguf *g, ur_err *err) {
    ur_err e = {{0}};
    jj_tmpl *t = jj_parse(text, len, &e);
    if (!t) {
        ur_errf(err, "%s: %s", where, e.msg);
        return NULL;
    }
    ur_chat *f = chat_new(UR_CHAT_TEMPLATE, name);
    f->jinja = t;
    f->where = ur_xstrdup(where);
    f->bos = bos ? ur_xstrdup(bos) : NULL;
    f->eos = eos ? ur_xstrdup(eos) : NULL;
    derive_add_bos(f);
    derive_stops(f, g);
    return f;
}

ur_chat *ur_chat_jinja(const char *name, const char *text, size_t len, const char *bos, const char *eos, ur_err *err) {
    return jinja_new(name, name, text, len, bos, eos, NULL, err);
}

/* The piece of token `key` (tokenizer.ggml.bos_token_id / eos_token_id), or NULL. */
static char *token_piece(const ur_gguf *g, const char *key) {
    uint32_t id;
    const ur_gguf_kv *toks = ur_gguf_find(g, "tokenizer.ggml.tokens");
    if (ur_gguf_get_u32(g, key, &id, NULL) != 0 || !toks || toks->type != UR_GGUF_ARRAY ||
        toks->arr_type != UR_GGUF_STRING || id >= toks->arr_n)
        return NULL;
    return dup_str(&toks->strs[id]);
}

ur_chat *jinja_chat_from_gguf(const ur_gguf *g, const ur_str *tmpl, ur_err *err) {
    char *bos = token_piece(g, "tokenizer.ggml.bos_token_id"), *eos = token_piece(g, "tokenizer.ggml.eos_token_id");
    ur_buf where = {0};
    ur_buf_printf(&where, "%s: tokenizer.chat_template", g->path);
    ur_chat *f = jinja_new("tokenizer.chat_template", where.data, tmpl->ptr, tmpl->len, bos, eos, g, err);
    ur_buf_free(&where);
    free(bos);
    free(eos);
    return f;
}

void jinja_chat_free(ur_chat *f) {
    jj_free(f->jinja);
    free(f->where);
    free(f->bos);
    free(f->eos);
    for (int i = 0; i < f->n_stop; i++) free(f->stop[i]);
}
