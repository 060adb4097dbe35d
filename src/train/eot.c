/* A new end-of-turn token (LIMA: "a special end-of-turn token (EOT) at the end of
 * each utterance"): the tokenizer metadata of a base model with one more token, a
 * control token named as tokenizer.ggml.eot_token_id, so that the tokenizer (with
 * special parsing) reads its text as one token and urial and llama.cpp end
 * generation on it. The network's side (its embedding and output rows) is in net.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "urial/train.h"

static int is_key(const ur_str *k, const char *s) { return k->len == strlen(s) && !memcmp(k->ptr, s, k->len); }

/* An array kv with one more element: strings get `text`, F32 0, I32 `ival`. */
static void put_grown_arr(ur_gguf_writer *w, const ur_gguf_kv *kv, const char *text, int32_t ival) {
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
    const uint64_t n = kv->arr_n;
    if (kv->arr_type == UR_GGUF_STRING) {
        const char **s = ur_xmalloc(sizeof *s * (size_t)(n + 1));
        size_t *len = ur_xmalloc(sizeof *len * (size_t)(n + 1));
        for (uint64_t i = 0; i < n; i++) s[i] = kv->strs[i].ptr, len[i] = kv->strs[i].len;
        s[n] = text, len[n] = strlen(text);
        ur_gguf_w_arr_str(w, key, s, len, n + 1);
        free(s), free(len);
        return;
    }
    /* numeric: 4-byte elements (scores F32, token_type I32) */
    uint8_t *e = ur_xmalloc(4 * (size_t)(n + 1));
    memcpy(e, kv->data, 4 * (size_t)n);
    if (kv->arr_type == UR_GGUF_F32) {
        float z = 0.0f;
        memcpy(e + 4 * n, &z, 4);
    } else {
        memcpy(e + 4 * n, &ival, 4);
    }
    ur_gguf_w_arr(w, key, kv->arr_type, e, n + 1);
    free(e);
}

void ur_tok_put_eot(ur_gguf_writer *w, const ur_gguf *src, const char *text, const char *chat_template) {
    const ur_gguf_kv *toks = ur_gguf_find(src, "tokenizer.ggml.tokens");
    const uint64_t n = toks ? toks->arr_n : 0;
    int have_types = 0;
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const ur_gguf_kv *kv = &src->kv[i];
        const ur_str *k = &kv->key;
        if (k->len <= 10 || memcmp(k->ptr, "tokenizer.", 10)) continue;
        if (is_key(k, "tokenizer.ggml.eot_token_id") || (chat_template && is_key(k, "tokenizer.chat_template")))
            continue;
        if (is_key(k, "tokenizer.ggml.tokens") || (kv->type == UR_GGUF_ARRAY && kv->arr_n == n &&
                                                  (is_key(k, "tokenizer.ggml.scores") ||
                                                   is_key(k, "tokenizer.ggml.token_type")))) {
            have_types |= is_key(k, "tokenizer.ggml.token_type");
            put_grown_arr(w, kv, text, UR_TOK_CONTROL);
            continue;
        }
        ur_gguf_w_copy_kv(w, kv);
    }
    if (!have_types) { /* every token normal, the new one a control token */
        int32_t *t = ur_xmalloc(sizeof *t * (size_t)(n + 1));
        for (uint64_t i = 0; i < n; i++) t[i] = UR_TOK_NORMAL;
        t[n] = UR_TOK_CONTROL;
        ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, t, n + 1);
        free(t);
    }
    ur_gguf_w_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)n);
    if (chat_template) ur_gguf_w_str(w, "tokenizer.chat_template", chat_template);
}

ur_vocab *ur_vocab_with_eot(const ur_gguf *src, const char *text, ur_gguf **g, ur_err *err) {
    *g = NULL;
    const ur_gguf_kv *toks = ur_gguf_find(src, "tokenizer.ggml.tokens");
    if (!toks || toks->type != UR_GGUF_ARRAY || toks->arr_type != UR_GGUF_STRING)
        return ur_errf(err, "%s: no tokenizer.ggml.tokens to add a token to", src->path), NULL;
    if (!*text) return ur_errf(err, "the end-of-turn token's text is empty"), NULL;
    for (uint64_t i = 0; i < toks->arr_n; i++)
        if (toks->strs[i].len == strlen(text) && !memcmp(toks->strs[i].ptr, text, toks->strs[i].len))
            return ur_errf(err, "%s: '%s' is already token %llu of the vocabulary (choose another --eot-text)",
                           src->path, text, (unsigned long long)i),
                   NULL;
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/urial-eot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return ur_errf(err, "%s: cannot create a temporary file", path), NULL;
    close(fd);
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_tok_put_eot(w, src, text, NULL);
    int rc = ur_gguf_write(w, path, err);
    ur_gguf_writer_free(w);
    ur_vocab *v = NULL;
    if (!rc && (*g = ur_gguf_open(path, err)) && !(v = ur_vocab_load(*g, err))) {
        ur_gguf_close(*g);
        *g = NULL;
    }
    unlink(path);
    return v;
}

char *ur_jinja_with_eot(const char *jinja, const char *marker, const char *text) {
    if (strpbrk(text, "'\\\n\r{}%") || !*marker || !strstr(jinja, marker)) return NULL;
    ur_buf b = {0};
    const size_t ml = strlen(marker);
    for (const char *p = jinja, *q; *p; p = q + ml) {
        if (!(q = strstr(p, marker))) {
            ur_buf_puts(&b, p);
            break;
        }
        ur_buf_put(&b, p, (size_t)(q - p));
        ur_buf_printf(&b, "'%s'", text);
    }
    return b.data;
}
