/* urial — tokenizers built from a GGUF's tokenizer.* metadata.
 *
 * "llama" (SentencePiece BPE with scores and byte fallback, as llama.cpp's SPM
 * tokenizer: Llama-2, Mistral, Gemma): the text gets a leading space ("▁") when
 * add_space_prefix, spaces become "▁", pieces are merged by highest score, unknown
 * bytes become <0xXX> tokens.
 * "gpt2" (byte-level BPE: Llama-3, Qwen2/2.5/3, OLMo, DeepSeek, SmolLM, ...): the
 * pre-tokenizer named by tokenizer.ggml.pre splits the text (regex-equivalent
 * scanners over Unicode categories), each piece's bytes are merged by merge rank;
 * invalid UTF-8 becomes U+FFFD first, and Qwen2's pre-tokenizer normalizes to NFC.
 * Other models (WordPiece, Unigram, ...) are refused with a clear error. */
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
int ur_vocab_add_eos(const ur_vocab *v);       /* tokenizer.ggml.add_eos_token (default 0); ur_tokenize never appends EOS */
int ur_vocab_is_eog(const ur_vocab *v, int32_t id); /* EOS, EOT, or another end-of-generation token */
/* The stored piece of a token (e.g. "▁Hello", "<0x0A>", "<s>"); len set. */
const char *ur_vocab_piece(const ur_vocab *v, int32_t id, size_t *len);
int ur_vocab_type(const ur_vocab *v, int32_t id);
const char *ur_vocab_model(const ur_vocab *v); /* "llama" or "gpt2" */
/* What the tokenizer is, for people: "SentencePiece BPE" or "byte-level BPE". */
const char *ur_vocab_kind_name(const ur_vocab *v);
/* The pre-tokenizer of a byte-level vocab as tokenizer.ggml.pre names it ("llama-bpe",
 * "qwen2", ...), or NULL for SentencePiece vocabs. */
const char *ur_vocab_pre(const ur_vocab *v);
/* The regexes it implements (" ; " between stages), or NULL. */
const char *ur_vocab_pre_regex(const ur_vocab *v);
int32_t ur_vocab_eom(const ur_vocab *v);       /* end-of-message token (<|eom_id|>) or -1 */
/* The pre-tokenizer names urial knows, one line each with its aliases (for help texts), into
 * buf (NUL-terminated, truncated to n); returns the full length. */
size_t ur_pretok_names(char *buf, size_t n);

/* Tokenize `len` bytes of text. add_bos: prepend BOS (if the vocab has one).
 * parse_special: text like "<s>" or "[INST]" that spells a control/unknown token
 * becomes that token (otherwise it is tokenized as plain text); as in llama.cpp,
 * user-defined tokens are split out either way, and the text after a special
 * token gets its own leading space. Writes at most `max` ids to out and returns
 * the total count (call again with a larger buffer if > max), or -1 on error. */
int ur_tokenize(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special,
                int32_t *out, int max, ur_err *err);
/* The same into a malloc'ed array (*out, freed by the caller; never NULL on
 * success, even for no tokens): returns the count, or -1 on error. */
int ur_tokenize_alloc(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special, int32_t **out,
                      ur_err *err);

/* Write a vocab-only GGUF from a Hugging Face tokenizer.json, reading tokenizer_config.json,
 * config.json and chat_template.jinja beside it when present: the tokenizer metadata as
 * llama.cpp's converter writes it (byte-level BPE as "gpt2" with the pre-tokenizer its
 * regexes name, SentencePiece-style BPE as "llama"), so urial and llama.cpp can load it.
 * Options may be NULL/0: pre overrides the detected pre-tokenizer, arch sets
 * general.architecture (default "llama"), name general.name, vocab_size pads the token
 * list with UNUSED "[PAD<id>]" tokens up to a model's embedding rows (default: config.json's
 * vocab_size, else the tokenizer's own size). */
typedef struct ur_convert_opts {
    const char *pre, *arch, *name;
    int64_t vocab_size;
} ur_convert_opts;
int ur_tokenizer_convert(const char *json_path, const ur_convert_opts *o, const char *out_path, ur_err *err);

/* How many leading tokens a[0..na) and b[0..nb) share. */
int ur_tokens_common_prefix(const int32_t *a, int na, const int32_t *b, int nb);

/* The bytes one token stands for: "▁" becomes " ", <0xXX> becomes the byte;
 * control and unknown tokens give "" unless `special` (then their text),
 * user-defined tokens their text, unused tokens "". Writes at most n bytes (no
 * NUL) and returns the full length, or -1 for an id outside the vocab. */
int ur_token_to_bytes(const ur_vocab *v, int32_t id, int special, char *buf, int n);

/* Detokenize a whole sequence. The spaces the tokenizer added (before the first
 * text and before text that follows a special token) are removed, so
 * detokenize(tokenize(s)) == s for valid UTF-8 s (except that a literal "▁",
 * U+2581, comes back as a space, as in SentencePiece). Ids outside the vocab
 * print nothing. Returns the
 * text's length L without the NUL; the buffer holds min(L, n-1) bytes and a NUL
 * (when n > 0), so L >= n means "call again with n > L". -1 if L > INT_MAX. */
int ur_detokenize(const ur_vocab *v, const int32_t *ids, int n_ids, int special, char *buf, int n);

/* Streaming detokenizer: push tokens one at a time; only complete UTF-8 sequences
 * come out (a multi-byte character split across byte tokens is held back until
 * complete; bytes that cannot be valid UTF-8 come out as U+FFFD). When
 * `strip_leading_space` was set at init, the leading space of the first text token
 * (and of the first text token after a special token) is dropped, exactly as
 * ur_detokenize does; set it when pushing a sequence from its start, clear it
 * when continuing after a prompt. */
typedef struct ur_detok {
    const ur_vocab *v;
    int special;
    int strip_leading_space;
    int started;        /* a text token came since the start or the last special token */
    char pending[8];    /* an unfinished UTF-8 sequence (at most 3 bytes) */
    int n_pending;
} ur_detok;
void ur_detok_init(ur_detok *d, const ur_vocab *v, int special, int strip_leading_space);
/* Appends the complete UTF-8 produced by `id` to out. */
void ur_detok_push(ur_detok *d, int32_t id, ur_buf *out);
/* Flushes held bytes (invalid sequences as U+FFFD) at end of stream. */
void ur_detok_flush(ur_detok *d, ur_buf *out);

#endif
