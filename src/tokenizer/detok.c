/* tokenizer/detok: token ids -> text, whole sequences and streamed.
 *
 * A token prints as its decoded bytes (vocab.c): NORMAL pieces with "▁" as ' ',
 * BYTE tokens as their byte, USER_DEFINED pieces verbatim, CONTROL and UNKNOWN
 * pieces only when `special` (as llama.cpp's token_to_piece).
 *
 * The tokenizer puts a "▁" before the first text fragment and before every text
 * fragment that follows a special token (spm.c); the detokenizer removes exactly
 * that space, from the first text token at the start and after each special token,
 * so that detokenize(tokenize(s)) == s. (llama.cpp's own detokenize removes only
 * the space at the very start, and not even that when the sequence begins with
 * BOS.) */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_int.h"

/* The bytes token `id` prints as; NULL with *len 0 for an id outside the vocab. */
static const char *token_bytes(const ur_vocab *v, int32_t id, int special, size_t *len) {
    *len = 0;
    if (id < 0 || id >= v->n) return NULL;
    if (!special && (v->type[id] == UR_TOK_CONTROL || v->type[id] == UR_TOK_UNKNOWN)) return v->dec;
    *len = (size_t)(v->dec_off[id + 1] - v->dec_off[id] - 1);
    return v->dec + v->dec_off[id];
}

int ur_token_to_bytes(const ur_vocab *v, int32_t id, int special, char *buf, int n) {
    if (id < 0 || id >= v->n) return -1;
    size_t len;
    const char *p = token_bytes(v, id, special, &len);
    if (buf && n > 0) memcpy(buf, p, len < (size_t)n ? len : (size_t)n);
    return len > INT_MAX ? INT_MAX : (int)len;
}

int ur_detokenize(const ur_vocab *v, const int32_t *ids, int n_ids, int special, char *buf, int n) {
    size_t total = 0, cap = n > 0 ? (size_t)n - 1 : 0; /* room for text, leaving the NUL */
    int strip = v->add_space_prefix;
    for (int i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        size_t len;
        const char *p = token_bytes(v, id, special, &len);
        if (id >= 0 && id < v->n && (v->flags[id] & UR_TOKF_SPECIAL)) {
            strip = v->add_space_prefix;
        } else {
            if (strip && len > 0 && p[0] == ' ') p++, len--;
            strip = 0;
        }
        if (len && total < cap) memcpy(buf + total, p, len < cap - total ? len : cap - total);
        total += len;
        if (total > INT_MAX) return -1;
    }
    if (n > 0) buf[total < cap ? total : cap] = 0;
    return (int)total;
}

/* ---- streaming -------------------------------------------------------------- */

/* Length of the UTF-8 sequence a lead byte starts, 0 if it cannot start one. */
static int seq_need(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

/* May byte b stand at position k (>= 1) of a sequence led by `lead`? The second
 * byte's range excludes overlongs, surrogates and code points above U+10FFFF. */
static int cont_ok(unsigned char lead, int k, unsigned char b) {
    unsigned lo = 0x80, hi = 0xBF;
    if (k == 1) {
        if (lead == 0xE0) lo = 0xA0;
        else if (lead == 0xED) hi = 0x9F;
        else if (lead == 0xF0) lo = 0x90;
        else if (lead == 0xF4) hi = 0x8F;
    }
    return b >= lo && b <= hi;
}

static void put_bad(ur_buf *out) { ur_buf_put(out, "\xEF\xBF\xBD", 3); } /* U+FFFD */

/* Pass complete, valid UTF-8 through; hold back an unfinished sequence at the
 * end; replace each maximal invalid subsequence with U+FFFD. */
static void feed(ur_detok *d, const unsigned char *p, size_t n, ur_buf *out) {
    size_t i = 0, run = 0; /* p[run, i) is valid text not yet written */
    while (i < n) {
        if (d->n_pending > 0) {
            unsigned char lead = (unsigned char)d->pending[0];
            if (cont_ok(lead, d->n_pending, p[i])) {
                d->pending[d->n_pending++] = (char)p[i++];
                if (d->n_pending == seq_need(lead)) {
                    ur_buf_put(out, d->pending, (size_t)d->n_pending);
                    d->n_pending = 0;
                }
            } else { /* the held sequence was cut short: p[i] starts afresh */
                put_bad(out);
                d->n_pending = 0;
            }
            run = i;
            continue;
        }
        unsigned char c = p[i];
        if (c < 0x80) { i++; continue; }
        int need = seq_need(c), k = 1;
        if (need == 0) { /* continuation or impossible byte on its own */
            ur_buf_put(out, p + run, i - run);
            put_bad(out);
            run = ++i;
            continue;
        }
        while (k < need && i + (size_t)k < n && cont_ok(c, k, p[i + (size_t)k])) k++;
        if (k == need) { i += (size_t)need; continue; }
        ur_buf_put(out, p + run, i - run);
        if (i + (size_t)k == n) { /* valid so far, more bytes to come */
            memcpy(d->pending, p + i, (size_t)k);
            d->n_pending = k;
            return;
        }
        put_bad(out);
        i += (size_t)k;
        run = i;
    }
    ur_buf_put(out, p + run, n - run);
}

void ur_detok_init(ur_detok *d, const ur_vocab *v, int special, int strip_leading_space) {
    memset(d, 0, sizeof *d);
    d->v = v;
    d->special = special;
    d->strip_leading_space = strip_leading_space;
}

void ur_detok_push(ur_detok *d, int32_t id, ur_buf *out) {
    const ur_vocab *v = d->v;
    size_t len;
    const char *p = token_bytes(v, id, d->special, &len);
    if (id >= 0 && id < v->n && (v->flags[id] & UR_TOKF_SPECIAL)) {
        d->started = 0; /* the tokenizer puts a space before text after a special token */
    } else {
        if (!d->started && d->strip_leading_space && v->add_space_prefix && len > 0 && p[0] == ' ') p++, len--;
        d->started = 1;
    }
    if (len) feed(d, (const unsigned char *)p, len, out);
}

void ur_detok_flush(ur_detok *d, ur_buf *out) {
    if (d->n_pending > 0) put_bad(out);
    d->n_pending = 0;
}
