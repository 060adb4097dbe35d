/* tokenizer/tokens: text -> ids for every vocab kind (the special-token partition, then
 * the SPM or byte-level BPE tokenizer per text fragment), and small conveniences over it.
 *
 * Text is Unicode: bytes that are not valid UTF-8 are replaced first, one U+FFFD per
 * maximal invalid subpart, as a WHATWG decoder does; so every vocab tokenizes such input as
 * a Hugging Face tokenizer does once the caller has decoded it to a string. (llama.cpp
 * instead keeps the raw bytes for SentencePiece vocabs, as byte tokens, and gives one U+FFFD
 * per invalid byte for byte-level ones; valid text is unaffected.)
 *
 * Special tokens are split out first: CONTROL and UNKNOWN tokens only when
 * parse_special, USER_DEFINED tokens always (as llama.cpp and Hugging Face tokenizers
 * do). Longer special texts are split out first; each one splits every remaining text
 * fragment at all its non-overlapping occurrences. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab_int.h"

/* The text with invalid UTF-8 replaced (malloc'ed, *out_len set), or NULL when it is valid
 * (or on out-of-memory, with *oom set). */
static char *repair_utf8(const char *text, size_t len, size_t *out_len, int *oom) {
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;
    uint32_t c;
    int k = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = ur_utf8_decode(u + i, len - i, &c)) == 0) break;
        i += (size_t)k;
    }
    if (i == len) return NULL;
    char *o = malloc(3 * len); /* a replaced subpart of >= 1 byte becomes 3 bytes */
    if (!o) { *oom = 1; return NULL; }
    memcpy(o, text, i);
    size_t n = i;
    while (i < len) {
        k = ur_utf8_decode(u + i, len - i, &c);
        if (k > 0) {
            memcpy(o + n, u + i, (size_t)k);
            n += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(o + n, "\xEF\xBF\xBD", 3);
            n += 3;
            i += (size_t)ur_utf8_bad_len(u + i, len - i);
        }
    }
    *out_len = n;
    return o;
}

typedef struct frag {
    int32_t tok;        /* the special token, or -1 for text */
    size_t off, len;    /* text: bytes of the input */
} frag;

typedef struct frags {
    frag *a;
    size_t n, cap;
} frags;

static int frag_add(frags *f, int32_t tok, size_t off, size_t len) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        frag *p = realloc(f->a, cap * sizeof *p);
        if (!p) return -1;
        f->a = p;
        f->cap = cap;
    }
    f->a[f->n++] = (frag){tok, off, len};
    return 0;
}

/* Split the text fragments of *cur at every occurrence of special token `id`. */
static int split_special(const ur_vocab *v, const char *text, int32_t id, frags *cur, frags *next) {
    const char *st = v->text + v->text_off[id];
    size_t sl = ur_vocab_text_len(v, id);
    int found = 0;
    for (size_t i = 0; i < cur->n && !found; i++)
        if (cur->a[i].tok < 0 && cur->a[i].len >= sl && memmem(text + cur->a[i].off, cur->a[i].len, st, sl)) found = 1;
    if (!found) return 0; /* the common case: nothing to copy */
    next->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        frag f = cur->a[i];
        if (f.tok >= 0) {
            if (frag_add(next, f.tok, 0, 0) < 0) return -1;
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        const char *hit;
        while (end - pos >= sl && (hit = memmem(text + pos, end - pos, st, sl)) != NULL) {
            size_t at = (size_t)(hit - text);
            if (at > pos && frag_add(next, -1, pos, at - pos) < 0) return -1;
            if (frag_add(next, id, 0, 0) < 0) return -1;
            pos = at + sl;
        }
        if (pos < end && frag_add(next, -1, pos, end - pos) < 0) return -1;
    }
    frags t = *cur;
    *cur = *next;
    *next = t;
    return 0;
}

int ur_tokenize(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special,
                int32_t *out, int max, ur_err *err) {
    if (!v) return ur_errf(err, "tokenize: no vocab");
    if (!text && len) return ur_errf(err, "tokenize: text is NULL");
    if (max < 0 || (!out && max > 0)) return ur_errf(err, "tokenize: bad output buffer");
    /* SPM escapes up to 3 bytes per input byte; symbol indices and offsets are 32-bit */
    if (len > (INT32_MAX - 3) / 3) return ur_errf(err, "tokenize: text of %zu bytes is too long", len);

    ur_sink sk = {out, max, 0};
    frags cur = {0}, nxt = {0};
    ur_spm_session *spm = NULL;
    ur_bpe_session *bpe = NULL;
    int rc = -1, oom = 0;
    size_t rlen = 0;
    char *repaired = repair_utf8(text, len, &rlen, &oom);
    if (oom) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
    if (repaired) text = repaired, len = rlen;

    if (add_bos && v->bos >= 0) ur_sink_put(&sk, v->bos);
    if (len == 0) { rc = 0; goto done; }

    if (frag_add(&cur, -1, 0, len) < 0) goto oom;
    /* Which byte pairs the text has: a special token with a pair the text lacks cannot occur
     * in it, which spares most of the searches (Gemma has ~6,400 user-defined tokens). */
    uint64_t pairs[65536 / 64] = {0}, bytes[4] = {0};
    for (size_t i = 0; i < len; i++) {
        unsigned a = (unsigned char)text[i];
        bytes[a >> 6] |= 1ull << (a & 63);
        if (i + 1 < len) {
            unsigned p = a << 8 | (unsigned char)text[i + 1];
            pairs[p >> 6] |= 1ull << (p & 63);
        }
    }
    for (int32_t k = 0; k < v->n_specials; k++) {
        int32_t id = v->specials[k];
        if (!parse_special && v->type[id] != UR_TOK_USER_DEFINED) continue;
        const unsigned char *st = (const unsigned char *)v->text + v->text_off[id];
        size_t sl = ur_vocab_text_len(v, id), j = 1;
        if (sl > len || !(bytes[st[0] >> 6] >> (st[0] & 63) & 1)) continue;
        for (; j < sl; j++) {
            unsigned p = (unsigned)st[j - 1] << 8 | st[j];
            if (!(pairs[p >> 6] >> (p & 63) & 1)) break;
        }
        if (j < sl) continue;
        if (split_special(v, text, id, &cur, &nxt) < 0) goto oom;
    }

    if (v->kind == UR_VOCAB_BPE) bpe = ur_bpe_session_new(v);
    else spm = ur_spm_session_new(v);
    int first = 1; /* the first fragment gets SPM's space prefix too */
    for (size_t i = 0; i < cur.n; i++) {
        frag f = cur.a[i];
        if (f.tok >= 0) {
            ur_sink_put(&sk, f.tok);
            first = 1;
            continue;
        }
        int r = bpe ? ur_bpe_fragment(bpe, text + f.off, f.len, &sk, err)
                    : ur_spm_fragment(spm, text + f.off, f.len, first, &sk, err);
        if (r < 0) goto done;
        first = 0;
    }
    rc = 0;
    goto done;
oom:
    ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
done:
    free(cur.a);
    free(nxt.a);
    ur_spm_session_free(spm);
    ur_bpe_session_free(bpe);
    free(repaired);
    if (rc < 0) return -1;
    if (sk.count > INT_MAX) return ur_errf(err, "tokenize: %lld tokens do not fit an int", (long long)sk.count);
    return (int)sk.count;
}

int ur_tokenize_alloc(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special, int32_t **out,
                      ur_err *err) {
    /* a guess that fits most texts (Llama-type vocabularies average > 3 bytes a token),
     * else exactly what the first pass counted */
    int cap = (int)(len < (1u << 20) ? len / 2 : (1u << 19)) + 8;
    for (;;) {
        int32_t *ids = ur_xmalloc(sizeof *ids * (size_t)cap);
        int n = ur_tokenize(v, text, len, add_bos, parse_special, ids, cap, err);
        if (n >= 0 && n <= cap) {
            *out = ids;
            return n;
        }
        free(ids);
        if (n < 0) return -1;
        cap = n;
    }
}

int ur_tokens_common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}
