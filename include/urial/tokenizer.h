/* urial — tokenizers built from a GGUF's tokenizer.* metadata.
 *
 * "llama" (SentencePiece BPE with scores and byte fallback, as llama.cpp's SPM
 * tokenizer): the text gets a leading space ("▁") and spaces become "▁", pieces
 * are merged by highest score, unknown bytes become <0xXX> tokens. Other models
 * (e.g. "gpt2") are refused with a clear error until they are supported. */
#ifndef URIAL_TOKENIZER_H
#define URIAL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/gguf.h"

/* tokenizer.ggml.token_type values */
enum ur_tok_type {
    UR_TOK_NORMAL = 1, UR_TOK_UNKNOWN = 2, UR_TOK_CONTROL = 3,
    UR_TOK_USER_DEFINED = 4, UR_TOK_UNUSED = 5, UR_TOK_BYTE = 6,
};

typedef struct ur_vocab ur_vocab;

/* Build from metadata (`path` for messages is g->path). */
ur_vocab *ur_vocab_load(const ur_gguf *g, ur_err *err);
void ur_vocab_free(ur_vocab *v);

int32_t ur_vocab_size(const ur_vocab *v);
int32_t ur_vocab_bos(const ur_vocab *v);       /* -1 if none */
int32_t ur_vocab_eos(const ur_vocab *v);       /* -1 if none */
int32_t ur_vocab_eot(const ur_vocab *v);       /* end-of-turn token or -1 */
int ur_vocab_add_bos(const ur_vocab *v);       /* tokenizer.ggml.add_bos_token (default 1 for llama) */
int ur_vocab_is_eog(const ur_vocab *v, int32_t id); /* EOS, EOT, or another end-of-generation token */
/* The stored piece of a token (e.g. "▁Hello", "<0x0A>", "<s>"); len set. */
const char *ur_vocab_piece(const ur_vocab *v, int32_t id, size_t *len);
int ur_vocab_type(const ur_vocab *v, int32_t id);
const char *ur_vocab_model(const ur_vocab *v); /* "llama" */

/* Tokenize `len` bytes of text. add_bos: prepend BOS. parse_special: text like
 * "<s>" or "[INST]" that spells a control/user-defined token becomes that token
 * (otherwise it is tokenized as plain text). Writes at most `max` ids to out and
 * returns the total count (call again with a larger buffer if > max), or -1 on
 * error. */
int ur_tokenize(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special,
                int32_t *out, int max, ur_err *err);

/* The bytes one token stands for: "▁" becomes " ", <0xXX> becomes the byte;
 * control tokens give "" unless `special` (then their text). Writes at most n
 * bytes and returns the full length. */
int ur_token_to_bytes(const ur_vocab *v, int32_t id, int special, char *buf, int n);

/* Detokenize a whole sequence (the leading space the tokenizer added to the
 * first piece is removed, so detokenize(tokenize(s)) == s). Returns bytes written
 * (always NUL-terminated within n) or the required length when n is too small. */
int ur_detokenize(const ur_vocab *v, const int32_t *ids, int n_ids, int special, char *buf, int n);

/* Streaming detokenizer: push tokens one at a time; only complete UTF-8 sequences
 * come out (a multi-byte character split across byte tokens is held back until
 * complete). The first push drops the leading space of a sequence start when
 * `strip_leading_space` was set at init. */
typedef struct ur_detok {
    const ur_vocab *v;
    int special;
    int strip_leading_space;
    int started;
    char pending[8];
    int n_pending;
} ur_detok;
void ur_detok_init(ur_detok *d, const ur_vocab *v, int special, int strip_leading_space);
/* Appends the complete UTF-8 produced by `id` to out. */
void ur_detok_push(ur_detok *d, int32_t id, ur_buf *out);
/* Flushes held bytes (invalid sequences as U+FFFD) at end of stream. */
void ur_detok_flush(ur_detok *d, ur_buf *out);

#endif
