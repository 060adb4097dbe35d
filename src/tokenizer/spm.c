/* tokenizer/spm: text -> token ids for the "llama" (SentencePiece BPE) vocab,
 * with the same results as llama.cpp's SPM tokenizer.
 *
 * 1. Special tokens are split out first (partition): CONTROL and UNKNOWN tokens
 *    only when parse_special, USER_DEFINED tokens always (as llama.cpp and HF
 *    tokenizers do). Longer special texts are split out first; each one splits
 *    every remaining text fragment at all its non-overlapping occurrences.
 * 2. Each text fragment gets a leading space when it is the first fragment or
 *    follows a special token (and add_space_prefix), then every ' ' becomes "▁".
 * 3. The fragment is split into UTF-8 characters (the length comes from the lead
 *    byte alone, as llama.cpp does, so invalid input still splits the same way),
 *    and adjacent symbols are merged greedily: always the pair whose merged piece
 *    has the highest score in the vocab, the leftmost on ties. A binary heap of
 *    candidate pairs keeps this O(n log n); pairs made stale by a merge are
 *    recognised by their recorded size and skipped.
 * 4. Each final symbol is its token, or (when the character is not in the vocab)
 *    one <0xXX> byte token per byte.
 * (Step 1 is tokens.c's, shared with byte-level BPE.) */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_int.h"

/* ---- the SPM merge over one fragment ---------------------------------------- */

typedef struct sym {
    int32_t prev, next; /* neighbours in the live chain, -1 at the ends */
    uint32_t off, n;    /* bytes text[off, off+n); n = 0 once merged into the left neighbour */
} sym;

typedef struct bigram {
    float score;        /* score of the merged piece */
    int32_t left, right;
    uint32_t size;      /* bytes of the merged piece when queued (stale if the symbols changed) */
} bigram;

struct ur_spm_session {
    const ur_vocab *v;
    const char *text;
    sym *syms;
    size_t n_syms, cap_syms;
    bigram *heap;
    size_t n_heap, cap_heap;
    char *esc;          /* the escaped fragment ("▁" for spaces, the prefix) */
    size_t cap_esc;
};
typedef struct ur_spm_session session;

ur_spm_session *ur_spm_session_new(const ur_vocab *v) {
    ur_spm_session *s = ur_xcalloc(1, sizeof *s);
    s->v = v;
    return s;
}

void ur_spm_session_free(ur_spm_session *s) {
    if (!s) return;
    free(s->syms);
    free(s->heap);
    free(s->esc);
    free(s);
}

/* heap order: higher score first, then the leftmost pair */
static int above(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(session *s, bigram b) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 256;
        bigram *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return -1;
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!above(&b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
    return 0;
}

static bigram heap_pop(session *s) {
    bigram top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && above(&s->heap[c + 1], &s->heap[c])) c++;
        if (!above(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Queue the merge of two adjacent live symbols if the merged piece is a token. */
static int try_add(session *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    uint32_t size = s->syms[l].n + s->syms[r].n;
    int32_t id = ur_vocab_lookup(s->v, s->text + s->syms[l].off, size);
    if (id < 0) return 0;
    bigram b = {s->v->score[id], l, r, size};
    return heap_push(s, b);
}

/* UTF-8 sequence length from the lead byte's high nibble; continuation and invalid
 * bytes count as 1 (llama.cpp's table). */
static uint32_t lead_len(unsigned char c) {
    static const uint8_t t[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return t[c >> 4];
}

/* Tokenize one escaped fragment text[0, len). */
static int spm_merge(session *s, const char *text, size_t len, ur_sink *out, ur_err *err) {
    const ur_vocab *v = s->v;
    s->text = text;
    s->n_syms = 0;
    s->n_heap = 0;
    if (len > s->cap_syms) {
        sym *p = realloc(s->syms, len * sizeof *p);
        if (!p) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
        s->syms = p;
        s->cap_syms = len;
    }
    for (size_t off = 0; off < len;) {
        uint32_t n = lead_len((unsigned char)text[off]);
        if (n > len - off) n = (uint32_t)(len - off);
        int32_t i = (int32_t)s->n_syms++;
        s->syms[i] = (sym){i - 1, off + n == len ? -1 : i + 1, (uint32_t)off, n};
        off += n;
    }
    for (size_t i = 1; i < s->n_syms; i++)
        if (try_add(s, (int32_t)i - 1, (int32_t)i) < 0) goto oom;

    while (s->n_heap) {
        bigram b = heap_pop(s);
        sym *l = &s->syms[b.left], *r = &s->syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = b.left;
        if (try_add(s, l->prev, b.left) < 0 || try_add(s, b.left, l->next) < 0) goto oom;
    }

    for (int32_t i = s->n_syms ? 0 : -1; i >= 0; i = s->syms[i].next) {
        const sym *y = &s->syms[i];
        int32_t id = ur_vocab_lookup(v, text + y->off, y->n);
        if (id >= 0) {
            ur_sink_put(out, id);
            continue;
        }
        /* byte fallback; a vocab without byte tokens gets one UNK per unknown character */
        int have_bytes = 1;
        for (uint32_t k = 0; k < y->n; k++) have_bytes &= v->byte_tok[(unsigned char)text[y->off + k]] >= 0;
        if (have_bytes) {
            for (uint32_t k = 0; k < y->n; k++) ur_sink_put(out, v->byte_tok[(unsigned char)text[y->off + k]]);
        } else if (v->unk >= 0) {
            ur_sink_put(out, v->unk);
        } else {
            return ur_errf(err, "tokenize: byte 0x%02x is not in the vocab and the vocab has no byte or unknown token",
                           (unsigned char)text[y->off]);
        }
    }
    return 0;
oom:
    return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
}

/* Escape one fragment (a leading "▁" when it is the first or follows a special token,
 * every ' ' as "▁") and merge it. */
int ur_spm_fragment(ur_spm_session *s, const char *text, size_t len, int first, ur_sink *out, ur_err *err) {
    if (len > (INT32_MAX - 3) / 3) return ur_errf(err, "tokenize: text of %zu bytes is too long", len);
    size_t need = 3 * len + 3;
    if (need > s->cap_esc) {
        char *e = realloc(s->esc, need);
        if (!e) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
        s->esc = e;
        s->cap_esc = need;
    }
    size_t el = 0;
    if (s->v->add_space_prefix && first) {
        memcpy(s->esc, "\xE2\x96\x81", 3);
        el = 3;
    }
    for (size_t k = 0; k < len; k++) {
        if (text[k] == ' ') {
            memcpy(s->esc + el, "\xE2\x96\x81", 3);
            el += 3;
        } else {
            s->esc[el++] = text[k];
        }
    }
    return spm_merge(s, s->esc, el, out, err);
}
