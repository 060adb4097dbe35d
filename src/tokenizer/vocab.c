/* tokenizer/vocab: the vocabulary built from a GGUF's tokenizer.ggml.* metadata.
 *
 * Everything the tokenizer and detokenizer need is computed once here: the pieces
 * (copied, so the vocab outlives the GGUF), a hash from piece to id, the decoded
 * bytes of every token, the byte tables, the list of special tokens in split order,
 * and which tokens end generation (bpe.c adds the merges of byte-level BPE). Defaults
 * follow llama.cpp's loader: for "llama" (SentencePiece) BOS 1, EOS 2, UNK 0,
 * add_bos_token true, add_space_prefix true; for "gpt2" (byte-level BPE) BOS and EOS
 * 11, no UNK, add_bos_token as the pre-tokenizer's model family has it (true for
 * llama-bpe), no space prefix; add_eos_token false for both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_int.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define MAX_TOKENS (1u << 26) /* real vocabs have < 1M tokens; keeps every size below in range */

/* Tokens that end a turn or a text in common chat formats: llama.cpp treats every one
 * of them as end-of-generation (and as a control token) even when the file names no EOT
 * token, and takes the first of eot_texts it finds as the EOT token when none is named
 * (its map order; here the list order, so the choice does not depend on a hash). */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", /* DeepSeek's "<｜end▁of▁sentence｜>" */
    "<end_of_utterance>",
};

/* ---- hash: piece -> id ------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t len) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static const char *piece(const ur_vocab *v, int32_t id) { return v->text + v->text_off[id]; }

int32_t ur_vocab_lookup(const ur_vocab *v, const char *s, size_t len) {
    uint32_t i = hash_bytes(s, len) & v->ht_mask;
    for (;;) {
        int32_t id = v->ht[i];
        if (id < 0) return -1;
        if (ur_vocab_text_len(v, id) == len && memcmp(piece(v, id), s, len) == 0) return id;
        i = (i + 1) & v->ht_mask;
    }
}

/* Insert every id; a later duplicate replaces the earlier one (llama.cpp's
 * token_to_id map is filled in id order, so the last duplicate wins). */
static int build_hash(ur_vocab *v) {
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)v->n) cap *= 2;
    v->ht = malloc(cap * sizeof *v->ht);
    if (!v->ht) return -1;
    memset(v->ht, 0xff, cap * sizeof *v->ht);
    v->ht_mask = cap - 1;
    for (int32_t id = 0; id < v->n; id++) {
        size_t len = ur_vocab_text_len(v, id);
        uint32_t i = hash_bytes(piece(v, id), len) & v->ht_mask;
        while (v->ht[i] >= 0) {
            int32_t o = v->ht[i];
            if (ur_vocab_text_len(v, o) == len && memcmp(piece(v, o), piece(v, id), len) == 0) break;
            i = (i + 1) & v->ht_mask;
        }
        v->ht[i] = id;
    }
    return 0;
}

/* ---- messages --------------------------------------------------------------- */

/* A short printable rendering of untrusted bytes for error messages. */
static const char *quote(const char *s, size_t len, char *buf, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o + 8 > n) { /* room for one more escape, "..." and the NUL is gone */
            memcpy(buf + o, "...", 4);
            return buf;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

static int model_error(const ur_gguf *g, ur_str m, ur_err *err) {
    static const struct { const char *name, *what; } known[] = {
        {"bert", "WordPiece"}, {"t5", "Unigram"},
        {"rwkv", "RWKV"}, {"plamo2", "PLaMo-2"}, {"no_vocab", "no vocabulary"}, {"none", "no vocabulary"},
    };
    char q[80];
    quote(m.ptr, (size_t)m.len, q, sizeof q);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (m.len == strlen(known[i].name) && memcmp(m.ptr, known[i].name, m.len) == 0)
            return ur_errf(err, "%s: tokenizer '%s' (%s) is not supported yet", g->path, q, known[i].what);
    return ur_errf(err, "%s: tokenizer '%s' is not supported (supported: 'llama', 'gpt2')", g->path, q);
}

/* ---- loading ---------------------------------------------------------------- */

/* A special token id: 0 and *out set (-1 when the key is absent and dflt is out of
 * range), or -1 with err when the key has the wrong type or names no token. */
static int get_id(const ur_gguf *g, const char *key, int32_t n, int32_t dflt, int32_t *out, ur_err *err) {
    int64_t id;
    int rc = ur_gguf_get_i64(g, key, &id, err);
    if (rc < 0) return -1;
    if (rc == 1) {
        *out = dflt < n ? dflt : -1;
        return 0;
    }
    if (id < 0 || id >= n)
        return ur_errf(err, "%s: %s = %lld is out of range (the vocab has %d tokens)", g->path, key,
                       (long long)id, n);
    *out = (int32_t)id;
    return 0;
}

static int get_flag(const ur_gguf *g, const char *key, int dflt, int *out, ur_err *err) {
    int b;
    int rc = ur_gguf_get_bool(g, key, &b, err);
    if (rc < 0) return -1;
    *out = rc == 1 ? dflt : b != 0;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a piece spelled "<0xXX>", or -1. */
static int byte_piece(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* A byte-level token's bytes: each character stands for the byte GPT-2's mapping gives
 * it; a character outside the mapping (not in real vocabs) is kept as it is. */
static size_t bpe_decode(const int16_t *inv, const char *s, size_t len, char *d) {
    size_t dl = 0;
    for (size_t k = 0; k < len;) {
        unsigned char c = (unsigned char)s[k];
        uint32_t cp = 0;
        size_t n = 1;
        if (c < 0x80) cp = c;
        else if (c >= 0xC0 && c < 0xE0 && k + 1 < len) cp = (uint32_t)(c & 0x1F) << 6 | (s[k + 1] & 0x3F), n = 2;
        else cp = 0xFFFF, n = 1;
        if (cp < 324 && inv[cp] >= 0) {
            d[dl++] = (char)inv[cp];
            k += n;
        } else { /* copy the whole character */
            n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (n > len - k) n = len - k;
            memcpy(d + dl, s + k, n);
            dl += n;
            k += n;
        }
    }
    return dl;
}

/* Copy the pieces into one arena and build the decoded bytes of every token. */
static int build_pieces(ur_vocab *v, const ur_gguf *g, const ur_gguf_kv *toks, ur_err *err) {
    uint64_t total = 0;
    for (int32_t i = 0; i < v->n; i++) total += toks->strs[i].len + 1;
    v->text = malloc(total ? total : 1);
    v->dec = malloc(total ? total : 1); /* decoding never lengthens a piece */
    v->text_off = malloc((size_t)(v->n + 1) * sizeof *v->text_off);
    v->dec_off = malloc((size_t)(v->n + 1) * sizeof *v->dec_off);
    if (!v->text || !v->dec || !v->text_off || !v->dec_off)
        return ur_errf(err, "%s: out of memory for the vocab", g->path);
    int16_t inv[324]; /* GPT-2 character -> byte */
    for (int c = 0; c < 324; c++) inv[c] = -1;
    for (int b = 0; b < 256; b++) inv[ur_bpe_byte_cp(b)] = (int16_t)b;
    uint64_t to = 0, dof = 0;
    for (int32_t i = 0; i < v->n; i++) {
        const char *s = toks->strs[i].ptr;
        size_t len = (size_t)toks->strs[i].len;
        v->text_off[i] = to;
        memcpy(v->text + to, s, len);
        v->text[to + len] = 0;
        to += len + 1;

        v->dec_off[i] = dof;
        char *d = v->dec + dof;
        size_t dl = 0;
        switch (v->type[i]) {
        case UR_TOK_NORMAL:
            if (v->kind == UR_VOCAB_BPE) {
                dl = bpe_decode(inv, s, len, d);
                break;
            }
            /* "▁" (E2 96 81) -> ' ' */
            for (size_t k = 0; k < len; k++) {
                if (k + 2 < len && (unsigned char)s[k] == 0xE2 && (unsigned char)s[k + 1] == 0x96 &&
                    (unsigned char)s[k + 2] == 0x81) {
                    d[dl++] = ' ';
                    k += 2;
                } else {
                    d[dl++] = s[k];
                }
            }
            break;
        case UR_TOK_BYTE: {
            int b = byte_piece(s, len);
            if (b < 0) {
                char q[80];
                return ur_errf(err, "%s: token %d has type BYTE but its text '%s' is not <0xXX>", g->path, i,
                               quote(s, len, q, sizeof q));
            }
            d[dl++] = (char)b;
            break;
        }
        case UR_TOK_CONTROL: case UR_TOK_UNKNOWN: case UR_TOK_USER_DEFINED:
            memcpy(d, s, len);
            dl = len;
            break;
        default: /* UNUSED and undefined types print as nothing */
            break;
        }
        d[dl] = 0;
        dof += dl + 1;
    }
    v->text_off[v->n] = to;
    v->dec_off[v->n] = dof;
    return 0;
}

/* Split order of special tokens: longer first (so "<|im_end|>" wins over a shorter
 * token inside it), ties by id. */
static int special_before(const ur_vocab *v, int32_t x, int32_t y) {
    size_t lx = ur_vocab_text_len(v, x), ly = ur_vocab_text_len(v, y);
    return lx != ly ? lx > ly : x < y;
}

static int build_specials(ur_vocab *v) {
    v->specials = malloc((size_t)v->n * sizeof *v->specials);
    int32_t *tmp = malloc((size_t)v->n * sizeof *tmp);
    if (!v->specials || !tmp) { free(tmp); return -1; }
    int32_t m = 0;
    for (int32_t i = 0; i < v->n; i++)
        if ((v->flags[i] & UR_TOKF_SPECIAL) && ur_vocab_text_len(v, i) > 0) v->specials[m++] = i;
    v->n_specials = m;
    /* bottom-up merge sort (qsort would need a global for the vocab; some vocabs have
     * many thousands of user-defined tokens, so no quadratic sort either) */
    int32_t *a = v->specials, *b = tmp;
    for (int32_t w = 1; w < m; w *= 2) {
        for (int32_t lo = 0; lo < m; lo += 2 * w) {
            int32_t mid = lo + w < m ? lo + w : m, hi = lo + 2 * w < m ? lo + 2 * w : m;
            int32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = special_before(v, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        int32_t *t = a; a = b; b = t;
    }
    if (a != v->specials) memcpy(v->specials, a, (size_t)m * sizeof *a);
    free(tmp);
    return 0;
}

ur_vocab *ur_vocab_load(const ur_gguf *g, ur_err *err) {
    if (!g) {
        ur_errf(err, "ur_vocab_load: no GGUF");
        return NULL;
    }
    ur_str model;
    int rc = ur_gguf_get_str(g, KEY_MODEL, &model, err);
    if (rc < 0) return NULL;
    if (rc == 1) {
        ur_errf(err, "%s: no tokenizer (key '" KEY_MODEL "' is missing)", g->path);
        return NULL;
    }
    int kind = model.len == 5 && memcmp(model.ptr, "llama", 5) == 0  ? UR_VOCAB_SPM
               : model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0 ? UR_VOCAB_BPE
                                                                     : 0;
    if (!kind) {
        model_error(g, model, err);
        return NULL;
    }

    /* the pre-tokenizer (byte-level BPE): llama.cpp's "default" when the key is absent */
    const ur_pretok *pre = NULL;
    ur_str pre_name = {"default", 7};
    if (kind == UR_VOCAB_BPE) {
        if ((rc = ur_gguf_get_str(g, "tokenizer.ggml.pre", &pre_name, err)) < 0) return NULL;
        if (rc == 1) pre_name = (ur_str){"default", 7};
        pre = ur_pretok_find(pre_name.ptr, pre_name.len);
        if (!pre) {
            char q[80];
            ur_errf(err, "%s: pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported (urial convert-tokenizer --help lists them)",
                    g->path, quote(pre_name.ptr, pre_name.len, q, sizeof q));
            return NULL;
        }
    }

    /* scores and token types are optional (llama.cpp: 0 and NORMAL) */
    const ur_gguf_kv *toks, *scores = NULL, *types = NULL;
    if ((rc = ur_gguf_get_arr(g, KEY_TOKENS, UR_GGUF_STRING, &toks, err)) < 0) return NULL;
    if (rc == 1) { ur_errf(err, "%s: key '" KEY_TOKENS "' is missing", g->path); return NULL; }
    if (ur_gguf_get_arr(g, KEY_SCORES, UR_GGUF_F32, &scores, err) < 0) return NULL;
    if (ur_gguf_get_arr(g, KEY_TYPES, UR_GGUF_I32, &types, err) < 0) return NULL;
    if (toks->arr_n == 0) { ur_errf(err, "%s: '" KEY_TOKENS "' is empty", g->path); return NULL; }
    if (toks->arr_n > MAX_TOKENS) {
        ur_errf(err, "%s: '" KEY_TOKENS "' has %llu entries, more than urial accepts", g->path,
                (unsigned long long)toks->arr_n);
        return NULL;
    }
    if ((scores && scores->arr_n != toks->arr_n) || (types && types->arr_n != toks->arr_n)) {
        ur_errf(err, "%s: tokenizer arrays differ in length: %llu tokens, %llu scores, %llu token types", g->path,
                (unsigned long long)toks->arr_n, (unsigned long long)(scores ? scores->arr_n : toks->arr_n),
                (unsigned long long)(types ? types->arr_n : toks->arr_n));
        return NULL;
    }

    ur_vocab *v = calloc(1, sizeof *v);
    if (!v) { ur_errf(err, "%s: out of memory for the vocab", g->path); return NULL; }
    snprintf(v->model, sizeof v->model, "%s", kind == UR_VOCAB_SPM ? "llama" : "gpt2");
    v->kind = kind;
    v->pretok = pre;
    snprintf(v->pre, sizeof v->pre, "%.*s", (int)(pre_name.len < 63 ? pre_name.len : 63), pre_name.ptr);
    v->n = (int32_t)toks->arr_n;
    v->score = calloc((size_t)v->n, sizeof *v->score);
    v->type = malloc((size_t)v->n);
    v->flags = calloc((size_t)v->n, 1);
    if (!v->score || !v->type || !v->flags) { ur_errf(err, "%s: out of memory for the vocab", g->path); goto fail; }
    for (int32_t i = 0; i < v->n; i++) {
        int32_t t = UR_TOK_NORMAL; /* the mapping gives no alignment guarantee: copy out */
        if (scores) memcpy(&v->score[i], scores->data + 4 * (size_t)i, 4);
        if (types) memcpy(&t, types->data + 4 * (size_t)i, 4);
        v->type[i] = (int8_t)(t >= UR_TOK_NORMAL && t <= UR_TOK_BYTE ? t : 0); /* unknown types: undefined */
    }
    if (build_pieces(v, g, toks, err) < 0) goto fail;
    if (build_hash(v) < 0) { ur_errf(err, "%s: out of memory for the vocab", g->path); goto fail; }

    int spm = kind == UR_VOCAB_SPM;
    if (get_id(g, "tokenizer.ggml.bos_token_id", v->n, spm ? 1 : 11, &v->bos, err) < 0 ||
        get_id(g, "tokenizer.ggml.eos_token_id", v->n, spm ? 2 : 11, &v->eos, err) < 0 ||
        get_id(g, "tokenizer.ggml.unknown_token_id", v->n, spm ? 0 : -1, &v->unk, err) < 0 ||
        get_id(g, "tokenizer.ggml.eot_token_id", v->n, -1, &v->eot, err) < 0 ||
        get_id(g, "tokenizer.ggml.eom_token_id", v->n, -1, &v->eom, err) < 0 ||
        get_id(g, "tokenizer.ggml.padding_token_id", v->n, -1, &v->pad, err) < 0)
        goto fail;
    if (get_flag(g, "tokenizer.ggml.add_bos_token", spm ? 1 : pre->add_bos, &v->add_bos, err) < 0 ||
        get_flag(g, "tokenizer.ggml.add_eos_token", 0, &v->add_eos, err) < 0 ||
        get_flag(g, "tokenizer.ggml.add_space_prefix", spm, &v->add_space_prefix, err) < 0)
        goto fail;
    if (!spm) v->add_space_prefix = 0; /* byte-level BPE spells spaces itself */

    /* End of generation, as llama.cpp derives it: EOS, EOT, EOM, and every token spelled
     * like a chat format's end of turn (made a control token if it was not one). */
    for (size_t k = 0; k < sizeof eot_texts / sizeof eot_texts[0] && v->eot < 0; k++) {
        int32_t id = ur_vocab_lookup(v, eot_texts[k], strlen(eot_texts[k]));
        if (id >= 0) v->eot = id;
    }
    if (v->eom < 0) v->eom = ur_vocab_lookup(v, "<|eom_id|>", 10);
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = ur_vocab_lookup(v, eog_texts[k], strlen(eog_texts[k]));
        if (id >= 0) v->flags[id] |= UR_TOKF_EOG;
    }
    if (v->eot >= 0) v->flags[v->eot] |= UR_TOKF_EOG;
    if (v->eom >= 0) v->flags[v->eom] |= UR_TOKF_EOG;
    for (int32_t i = 0; i < v->n; i++)
        if ((v->flags[i] & UR_TOKF_EOG) && v->type[i] != UR_TOK_CONTROL) v->type[i] = UR_TOK_CONTROL;
    if (v->eos >= 0) v->flags[v->eos] |= UR_TOKF_EOG;
    for (int32_t i = 0; i < v->n; i++) {
        int t = v->type[i];
        if (t == UR_TOK_CONTROL || t == UR_TOK_UNKNOWN || t == UR_TOK_USER_DEFINED) v->flags[i] |= UR_TOKF_SPECIAL;
    }
    if (build_specials(v) < 0) { ur_errf(err, "%s: out of memory for the vocab", g->path); goto fail; }

    if (spm) {
        for (int b = 0; b < 256; b++) {
            char s[7];
            snprintf(s, sizeof s, "<0x%02X>", b);
            int32_t id = ur_vocab_lookup(v, s, 6);
            if (id < 0) {
                char c = (char)b;
                id = ur_vocab_lookup(v, &c, 1);
            }
            v->byte_tok[b] = id;
        }
    } else if (ur_bpe_load(v, g, err) < 0) {
        goto fail;
    }
    return v;

fail:
    ur_vocab_free(v);
    return NULL;
}

void ur_vocab_free(ur_vocab *v) {
    if (!v) return;
    free(v->text);
    free(v->text_off);
    free(v->dec);
    free(v->dec_off);
    free(v->score);
    free(v->type);
    free(v->flags);
    free(v->ht);
    free(v->specials);
    free(v->merges);
    free(v);
}

/* ---- facts ------------------------------------------------------------------ */

int32_t ur_vocab_size(const ur_vocab *v) { return v->n; }
int32_t ur_vocab_bos(const ur_vocab *v) { return v->bos; }
int32_t ur_vocab_eos(const ur_vocab *v) { return v->eos; }
int32_t ur_vocab_eot(const ur_vocab *v) { return v->eot; }
int ur_vocab_add_bos(const ur_vocab *v) { return v->add_bos; }
int ur_vocab_add_eos(const ur_vocab *v) { return v->add_eos; }
const char *ur_vocab_model(const ur_vocab *v) { return v->model; }
int32_t ur_vocab_eom(const ur_vocab *v) { return v->eom; }
const char *ur_vocab_kind_name(const ur_vocab *v) {
    return v->kind == UR_VOCAB_BPE ? "byte-level BPE" : "SentencePiece BPE";
}
const char *ur_vocab_pre(const ur_vocab *v) { return v->kind == UR_VOCAB_BPE ? v->pretok->name : NULL; }
const char *ur_vocab_pre_regex(const ur_vocab *v) { return v->kind == UR_VOCAB_BPE ? v->pretok->regex : NULL; }

int ur_vocab_is_eog(const ur_vocab *v, int32_t id) {
    return id >= 0 && id < v->n && (v->flags[id] & UR_TOKF_EOG) != 0;
}

const char *ur_vocab_piece(const ur_vocab *v, int32_t id, size_t *len) {
    if (id < 0 || id >= v->n) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = ur_vocab_text_len(v, id);
    return piece(v, id);
}

int ur_vocab_type(const ur_vocab *v, int32_t id) { return id >= 0 && id < v->n ? v->type[id] : 0; }
