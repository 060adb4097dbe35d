/* tokenizer/bpe: byte-level BPE ("gpt2" vocabularies: Llama-3, Qwen2, OLMo, DeepSeek, ...),
 * with the same results as Hugging Face tokenizers and llama.cpp.
 *
 * Per text fragment (special tokens are already split out by tokens.c):
 * 1. Decode UTF-8 to code points; invalid bytes become U+FFFD, one per maximal
 *    subpart as a WHATWG decoder does (what a Hugging Face tokenizer sees after the
 *    bytes were decoded to a string). NFC when the pre-tokenizer asks for it (Qwen2).
 * 2. The pre-tokenizer (pretok.c) splits the code points into pieces.
 * 3. Each piece's UTF-8 bytes start as one token per byte (the token spelled with the
 *    byte's GPT-2 character), and adjacent tokens are merged by rank: always the pair
 *    with the lowest merge rank, the leftmost on ties. Merges are looked up by token-id
 *    pair (vocab.c's table), so no strings are built. With ignore_merges (llama-bpe) a
 *    piece that is itself a token is emitted whole first.
 * The scratch buffers live in the session and grow to the largest fragment, so the
 * loop itself does not allocate. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab_int.h"

uint32_t ur_bpe_byte_cp(int b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (uint32_t)b;
    /* the others, in byte order, get 256, 257, ...: 0..32 -> 256..288, 127..160 -> 289..322, 173 -> 323 */
    if (b <= 32) return 256u + (uint32_t)b;
    if (b >= 127 && b <= 160) return 256u + 33u + (uint32_t)(b - 127);
    return 323; /* 0xAD */
}

/* ---- session ------------------------------------------------------------------------ */

typedef struct bsym {
    int32_t id;
    int32_t prev, next; /* live chain, -1 at the ends */
} bsym;

typedef struct bpair {
    int32_t rank;
    int32_t left;       /* symbol index; ties break by the leftmost */
    int32_t lid, rid;   /* the ids when queued: stale if the symbols changed since */
} bpair;

struct ur_bpe_session {
    const ur_vocab *v;
    uint32_t *cp;       /* code points of the fragment */
    uint16_t *cl;       /* their classes */
    uint32_t *off;      /* byte offset of each code point in u8, plus the end */
    uint32_t *nfc;      /* NFC scratch (4 per code point) */
    char *u8;           /* the fragment as valid UTF-8 (replacements and NFC applied) */
    size_t cap;         /* code points the arrays hold (u8 holds 4 * cap + 4 bytes) */
    bsym *sym;
    size_t cap_sym;
    bpair *heap;
    size_t n_heap, cap_heap;
    char *enc;          /* a piece spelled in byte-level characters (ignore_merges lookups) */
    size_t cap_enc;
    int32_t *ids;       /* the byte tokens of a long piece */
    size_t cap_ids;
    ur_sink *out;
    int oom;
};

ur_bpe_session *ur_bpe_session_new(const ur_vocab *v) {
    ur_bpe_session *s = ur_xcalloc(1, sizeof *s);
    s->v = v;
    return s;
}

void ur_bpe_session_free(ur_bpe_session *s) {
    if (!s) return;
    free(s->cp);
    free(s->cl);
    free(s->off);
    free(s->nfc);
    free(s->u8);
    free(s->sym);
    free(s->heap);
    free(s->enc);
    free(s->ids);
    free(s);
}

/* Room for n code points (the text is at most n bytes: every code point takes >= 1). */
static int reserve(ur_bpe_session *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t cap = n < 256 ? 256 : n;
    void *a = realloc(s->cp, cap * 4 * sizeof *s->cp), *b = realloc(s->cl, cap * 4 * sizeof *s->cl),
         *c = realloc(s->off, (cap * 4 + 1) * sizeof *s->off), *d = realloc(s->u8, cap * 12 + 4);
    if (a) s->cp = a;
    if (b) s->cl = b;
    if (c) s->off = c;
    if (d) s->u8 = d;
    if (!a || !b || !c || !d) return -1;
    free(s->nfc);
    s->nfc = malloc(cap * 4 * sizeof *s->nfc);
    if (!s->nfc) return -1;
    s->cap = cap;
    return 0;
}

static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 63)); o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 63));
    o[2] = (char)(0x80 | (c >> 6 & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* ---- the merge loop over one piece ---------------------------------------------------- */

static int above(const bpair *a, const bpair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(ur_bpe_session *s, bpair p) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 256;
        bpair *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return -1;
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!above(&p, &s->heap[par])) break;
        s->heap[i] = s->heap[par];
        i = par;
    }
    s->heap[i] = p;
    return 0;
}

static bpair heap_pop(ur_bpe_session *s) {
    bpair top = s->heap[0], last = s->heap[--s->n_heap];
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

static int queue(ur_bpe_session *s, int32_t l) {
    if (l < 0) return 0;
    int32_t r = s->sym[l].next;
    if (r < 0) return 0;
    const ur_merge *m = ur_vocab_merge(s->v, s->sym[l].id, s->sym[r].id);
    if (!m) return 0;
    bpair p = {m->rank, l, s->sym[l].id, s->sym[r].id};
    return heap_push(s, p);
}

/* Short pieces (most words) merge by scanning the pairs; long ones (runs of spaces,
 * long numbers or words in scripts the vocab knows little of) through a heap. */
enum { SCAN_MAX = 24 };

static void merge_scan(ur_bpe_session *s, int32_t *id, size_t n) {
    const ur_vocab *v = s->v;
    int32_t rank[SCAN_MAX], res[SCAN_MAX];
    for (size_t k = 0; k + 1 < n; k++) {
        const ur_merge *m = ur_vocab_merge(v, id[k], id[k + 1]);
        rank[k] = m ? m->rank : INT32_MAX;
        res[k] = m ? m->id : -1;
    }
    while (n > 1) {
        size_t best = 0;
        for (size_t k = 1; k + 1 < n; k++)
            if (rank[k] < rank[best]) best = k;
        if (rank[best] == INT32_MAX) break;
        /* symbols best and best+1 become one: the pairs after it move down by one */
        id[best] = res[best];
        memmove(id + best + 1, id + best + 2, (n - best - 2) * sizeof *id);
        if (n > best + 3) {
            memmove(rank + best + 1, rank + best + 2, (n - best - 3) * sizeof *rank);
            memmove(res + best + 1, res + best + 2, (n - best - 3) * sizeof *res);
        }
        n--;
        for (size_t k = best ? best - 1 : 0; k <= best && k + 1 < n; k++) {
            const ur_merge *m = ur_vocab_merge(v, id[k], id[k + 1]);
            rank[k] = m ? m->rank : INT32_MAX;
            res[k] = m ? m->id : -1;
        }
    }
    for (size_t k = 0; k < n; k++) ur_sink_put(s->out, id[k]);
}

static int merge_heap(ur_bpe_session *s, const int32_t *id, size_t n) {
    if (n > s->cap_sym) {
        bsym *p = realloc(s->sym, n * sizeof *p);
        if (!p) return -1;
        s->sym = p;
        s->cap_sym = n;
    }
    for (size_t k = 0; k < n; k++) s->sym[k] = (bsym){id[k], (int32_t)k - 1, k + 1 < n ? (int32_t)k + 1 : -1};
    s->n_heap = 0;
    for (size_t k = 0; k + 1 < n; k++)
        if (queue(s, (int32_t)k) < 0) return -1;
    while (s->n_heap) {
        bpair p = heap_pop(s);
        bsym *l = &s->sym[p.left];
        if (l->id != p.lid || l->next < 0 || s->sym[l->next].id != p.rid) continue; /* stale */
        bsym *r = &s->sym[l->next];
        const ur_merge *m = ur_vocab_merge(s->v, p.lid, p.rid);
        l->id = m->id;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = p.left;
        if (queue(s, l->prev) < 0 || queue(s, p.left) < 0) return -1;
    }
    for (int32_t k = 0; k >= 0; k = s->sym[k].next) ur_sink_put(s->out, s->sym[k].id);
    return 0;
}

/* One piece: bytes u8[a, b). */
static void piece(void *ctx, size_t a, size_t b) {
    ur_bpe_session *s = ctx;
    const ur_vocab *v = s->v;
    const unsigned char *p = (const unsigned char *)s->u8 + s->off[a];
    size_t n = s->off[b] - s->off[a];
    if (s->oom) return;
    if (v->pretok->ignore_merges && n > 1) {
        if (2 * n > s->cap_enc) {
            char *e = realloc(s->enc, 2 * n);
            if (!e) { s->oom = 1; return; }
            s->enc = e;
            s->cap_enc = 2 * n;
        }
        size_t el = 0;
        for (size_t k = 0; k < n; k++) el += put_utf8(s->enc + el, ur_bpe_byte_cp(p[k]));
        int32_t id = ur_vocab_lookup(v, s->enc, el);
        if (id >= 0) {
            ur_sink_put(s->out, id);
            return;
        }
    }
    int32_t small[SCAN_MAX], *ids = small;
    if (n > SCAN_MAX) {
        if (n > s->cap_ids) {
            int32_t *p2 = realloc(s->ids, n * sizeof *p2);
            if (!p2) { s->oom = 1; return; }
            s->ids = p2;
            s->cap_ids = n;
        }
        ids = s->ids;
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t id = v->byte_tok[p[k]];
        if (id >= 0) ids[m++] = id; /* a vocab without the byte's token drops it, as HF does without unk */
    }
    if (m <= SCAN_MAX) merge_scan(s, ids, m);
    else if (merge_heap(s, ids, m) < 0) s->oom = 1;
}

int ur_bpe_fragment(ur_bpe_session *s, const char *text, size_t len, ur_sink *out, ur_err *err) {
    const ur_vocab *v = s->v;
    if (reserve(s, len) < 0) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
    /* 1. code points, with U+FFFD for invalid sequences; u8 is the text they spell */
    const unsigned char *u = (const unsigned char *)text;
    size_t n = 0, o = 0;
    int maybe_nfc = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int k = ur_utf8_decode(u + i, len - i, &c);
        if (k) {
            memcpy(s->u8 + o, u + i, (size_t)k);
            i += (size_t)k;
        } else {
            c = 0xFFFD;
            i += (size_t)ur_utf8_bad_len(u + i, len - i);
            memcpy(s->u8 + o, "\xEF\xBF\xBD", 3);
        }
        s->off[n] = (uint32_t)o;
        o += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (c >= 0x300 && (ur_ucat_byte(c) & UR_UNFC)) maybe_nfc = 1;
        s->cp[n++] = c;
    }
    if (v->pretok->nfc && maybe_nfc) {
        size_t m = ur_nfc(s->cp, n, s->nfc), need = 0;
        for (size_t k = 0; k < m; k++) need += s->nfc[k] < 0x80 ? 1 : s->nfc[k] < 0x800 ? 2 : s->nfc[k] < 0x10000 ? 3 : 4;
        if (need > s->cap * 12 + 4) {
            char *u8 = realloc(s->u8, need);
            if (!u8) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
            s->u8 = u8;
            s->cap = 0; /* the arrays no longer match one size: regrow all next time */
        }
        o = 0;
        for (size_t k = 0; k < m; k++) {
            s->cp[k] = s->nfc[k];
            s->off[k] = (uint32_t)o;
            o += put_utf8(s->u8 + o, s->cp[k]);
        }
        n = m;
    }
    s->off[n] = (uint32_t)o;
    for (size_t k = 0; k < n; k++) s->cl[k] = ur_uclass(s->cp[k]);
    /* 2.-3. */
    ur_pt_text t = {s->cp, s->cl};
    s->out = out;
    s->oom = 0;
    ur_pretok_split(v->pretok, &t, 0, n, piece, s);
    if (s->oom) return ur_errf(err, "tokenize: out of memory for %zu bytes of text", len);
    return 0;
}

/* ---- loading (vocab.c calls this for "gpt2" vocabs) ------------------------------------ */

/* tokenizer.ggml.merges: "LEFT RIGHT" strings, rank = index. A merge whose parts or
 * result are not tokens can never apply and is skipped; a repeated pair keeps its
 * first (lowest) rank. */
int ur_bpe_load(ur_vocab *v, const ur_gguf *g, ur_err *err) {
    const ur_gguf_kv *mk;
    int rc = ur_gguf_get_arr(g, "tokenizer.ggml.merges", UR_GGUF_STRING, &mk, err);
    if (rc < 0) return -1;
    if (rc == 1) return ur_errf(err, "%s: key 'tokenizer.ggml.merges' is missing (byte-level BPE needs it)", g->path);
    if (mk->arr_n > (1u << 26)) return ur_errf(err, "%s: %llu merges, more than urial accepts", g->path,
                                             (unsigned long long)mk->arr_n);
    uint32_t cap = 16;
    while (cap < 2 * mk->arr_n) cap *= 2;
    v->merges = malloc((size_t)cap * sizeof *v->merges);
    if (!v->merges) return ur_errf(err, "%s: out of memory for %llu merges", g->path, (unsigned long long)mk->arr_n);
    for (uint32_t i = 0; i < cap; i++) v->merges[i].key = UINT64_MAX;
    v->merges_mask = cap - 1;
    char buf[1024];
    for (uint64_t r = 0; r < mk->arr_n; r++) {
        const char *s = mk->strs[r].ptr;
        size_t len = (size_t)mk->strs[r].len, sp = 1;
        while (sp < len && s[sp] != ' ') sp++; /* the separator: the first space after the first byte */
        if (sp >= len || len >= sizeof buf) continue;
        int32_t l = ur_vocab_lookup(v, s, sp), rt = ur_vocab_lookup(v, s + sp + 1, len - sp - 1);
        memcpy(buf, s, sp);
        memcpy(buf + sp, s + sp + 1, len - sp - 1);
        int32_t id = ur_vocab_lookup(v, buf, len - 1);
        if (l < 0 || rt < 0 || id < 0) continue;
        uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)rt;
        uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & v->merges_mask;
        while (v->merges[i].key != UINT64_MAX && v->merges[i].key != key) i = (i + 1) & v->merges_mask;
        if (v->merges[i].key == key) continue;
        v->merges[i] = (ur_merge){key, (int32_t)r, id};
        v->n_merges++;
    }
    /* the byte tokens: each byte's GPT-2 character */
    for (int b = 0; b < 256; b++) {
        char s[4];
        size_t n = put_utf8(s, ur_bpe_byte_cp(b));
        v->byte_tok[b] = ur_vocab_lookup(v, s, n);
    }
    return 0;
}
