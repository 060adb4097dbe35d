/* tokenizer internals shared by vocab.c (loading, lookups), spm.c (text -> ids)
 * and detok.c (ids -> text). Not a public header. */
#ifndef URIAL_TOKENIZER_VOCAB_INT_H
#define URIAL_TOKENIZER_VOCAB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "urial/tokenizer.h"

/* per-token flags */
enum {
    UR_TOKF_SPECIAL = 1, /* CONTROL, UNKNOWN or USER_DEFINED: split out of the text before SPM, and
                            the tokenizer adds a "▁" to the text fragment that follows it */
    UR_TOKF_EOG = 2,     /* ends generation (EOS, EOT, <|im_end|>, ...) */
};

struct ur_vocab {
    char model[32];           /* "llama" */
    int32_t n;                /* number of tokens */

    /* Token i's stored piece is text + text_off[i], text_off[i+1] - text_off[i] - 1 bytes
     * (each piece is NUL-terminated in the arena). The decoded bytes (what the token
     * prints as with special=1: "▁" -> " ", <0xXX> -> the byte, UNUSED -> "") are laid
     * out the same way in `dec`. */
    char *text;
    uint64_t *text_off;       /* n + 1 */
    char *dec;
    uint64_t *dec_off;        /* n + 1 */

    float *score;             /* n */
    int8_t *type;             /* n, enum ur_tok_type (0 = undefined) */
    uint8_t *flags;           /* n, UR_TOKF_* */

    int32_t bos, eos, unk, eot, pad; /* -1 when absent */
    int add_bos, add_eos, add_space_prefix;

    /* byte -> token for byte fallback: "<0xXX>", else the 1-byte piece, else -1 */
    int32_t byte_tok[256];

    /* piece -> id, open addressing over ids (-1 = empty); capacity ht_mask + 1 (a power
     * of two >= 2n). Duplicate pieces map to the highest id, as llama.cpp does. */
    int32_t *ht;
    uint32_t ht_mask;

    /* CONTROL/UNKNOWN/USER_DEFINED tokens with non-empty text, longest first (ties by id):
     * the order in which they are split out of the text. */
    int32_t *specials;
    int32_t n_specials;
};

/* Id of the token whose piece is exactly s[0..len), or -1. */
int32_t ur_vocab_lookup(const ur_vocab *v, const char *s, size_t len);

static inline size_t ur_vocab_text_len(const ur_vocab *v, int32_t id) {
    return (size_t)(v->text_off[id + 1] - v->text_off[id] - 1);
}

#endif
