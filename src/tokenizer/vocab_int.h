/* tokenizer internals shared by vocab.c (loading, lookups), tokens.c (special-token
 * partition, dispatch), spm.c and bpe.c (text -> ids), pretok.c (pre-tokenizers) and
 * detok.c (ids -> text). Not a public header. */
#ifndef URIAL_TOKENIZER_VOCAB_INT_H
#define URIAL_TOKENIZER_VOCAB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/pretok.h"
#include "urial/tokenizer.h"

/* per-token flags */
enum {
    UR_TOKF_SPECIAL = 1, /* CONTROL, UNKNOWN or USER_DEFINED: split out of the text before the
                            tokenizer runs; SPM adds a "▁" to the text fragment that follows it */
    UR_TOKF_EOG = 2,     /* ends generation (EOS, EOT, <|im_end|>, ...) */
};

enum ur_vocab_kind { UR_VOCAB_SPM = 1, UR_VOCAB_BPE = 2 };

/* One merge of byte-level BPE: the pair (left, right) -> id, by rank (lower merges first). */
typedef struct ur_merge {
    uint64_t key;  /* (uint64)left << 32 | right; UINT64_MAX = empty slot */
    int32_t rank;
    int32_t id;
} ur_merge;

struct ur_vocab {
    char model[32];           /* "llama" or "gpt2" */
    int kind;                 /* enum ur_vocab_kind */
    int32_t n;                /* number of tokens */

    /* Token i's stored piece is text + text_off[i], text_off[i+1] - text_off[i] - 1 bytes
     * (each piece is NUL-terminated in the arena). The decoded bytes (what the token
     * prints as with special=1: "▁" -> " " and <0xXX> -> the byte for SPM, the GPT-2
     * byte-to-unicode mapping undone for BPE, UNUSED -> "") are laid out the same way in `dec`. */
    char *text;
    uint64_t *text_off;       /* n + 1 */
    char *dec;
    uint64_t *dec_off;        /* n + 1 */

    float *score;             /* n (SPM; zeros when the file has none) */
    int8_t *type;             /* n, enum ur_tok_type (0 = undefined) */
    uint8_t *flags;           /* n, UR_TOKF_* */

    int32_t bos, eos, unk, eot, eom, pad; /* -1 when absent */
    int add_bos, add_eos, add_space_prefix;

    /* SPM byte fallback: byte -> "<0xXX>", else the 1-byte piece, else -1.
     * BPE: byte -> the token spelled by the byte's GPT-2 character (e.g. ' ' -> "Ġ"), else -1. */
    int32_t byte_tok[256];

    /* piece -> id, open addressing over ids (-1 = empty); capacity ht_mask + 1 (a power
     * of two >= 2n). Duplicate pieces map to the highest id, as llama.cpp does. */
    int32_t *ht;
    uint32_t ht_mask;

    /* CONTROL/UNKNOWN/USER_DEFINED tokens with non-empty text, longest first (ties by id):
     * the order in which they are split out of the text. */
    int32_t *specials;
    int32_t n_specials;

    /* BPE only */
    char pre[64];             /* tokenizer.ggml.pre ("default" when absent) */
    const ur_pretok *pretok;  /* the pre-tokenizer it names */
    ur_merge *merges;         /* open addressing, capacity merges_mask + 1 */
    uint32_t merges_mask;
    int32_t n_merges;
};

/* Id of the token whose piece is exactly s[0..len), or -1. */
int32_t ur_vocab_lookup(const ur_vocab *v, const char *s, size_t len);

static inline size_t ur_vocab_text_len(const ur_vocab *v, int32_t id) {
    return (size_t)(v->text_off[id + 1] - v->text_off[id] - 1);
}

/* The merge of tokens l and r: its slot, or NULL. */
static inline const ur_merge *ur_vocab_merge(const ur_vocab *v, int32_t l, int32_t r) {
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & v->merges_mask;
    for (;;) {
        const ur_merge *m = &v->merges[i];
        if (m->key == key) return m;
        if (m->key == UINT64_MAX) return NULL;
        i = (i + 1) & v->merges_mask;
    }
}

/* GPT-2's byte-to-unicode mapping: the code point byte b is spelled with in byte-level
 * vocabularies (printable Latin-1 bytes stand for themselves, the others for 256 + k). */
uint32_t ur_bpe_byte_cp(int b);

/* Tokens out: ids are written while there is room and counted always. */
typedef struct ur_sink {
    int32_t *out;
    int max;
    int64_t count;
} ur_sink;

static inline void ur_sink_put(ur_sink *s, int32_t id) {
    if (s->count < s->max) s->out[s->count] = id;
    s->count++;
}

/* The tokenizers proper, one text fragment (no special tokens in it) at a time. A
 * session holds scratch buffers reused across fragments; free it with *_session_free.
 * `first` is set for the first fragment and for a fragment right after a special token
 * (SPM gives those a leading space). Return 0, or -1 with err. */
typedef struct ur_spm_session ur_spm_session;
ur_spm_session *ur_spm_session_new(const ur_vocab *v);
void ur_spm_session_free(ur_spm_session *s);
int ur_spm_fragment(ur_spm_session *s, const char *text, size_t len, int first, ur_sink *out, ur_err *err);

typedef struct ur_bpe_session ur_bpe_session;
ur_bpe_session *ur_bpe_session_new(const ur_vocab *v);
void ur_bpe_session_free(ur_bpe_session *s);
int ur_bpe_fragment(ur_bpe_session *s, const char *text, size_t len, ur_sink *out, ur_err *err);

/* BPE vocab loading (bpe.c): merges, byte tokens, decoded bytes of normal tokens. */
int ur_bpe_load(ur_vocab *v, const ur_gguf *g, ur_err *err);

#endif
