/* tokenizer/pretok: the pre-tokenizers of byte-level BPE vocabularies, selected by the
 * GGUF key tokenizer.ggml.pre. Each is a sequence of regex splits (as in llama.cpp and
 * Hugging Face tokenizers: every stage splits each piece of the previous stage into its
 * matches and the gaps between them), and each stage is a hand-written scanner that gives
 * the length of the regex's match at a position, with the regex's semantics exactly
 * (ordered alternatives, greedy quantifiers with backtracking, lookahead) over Unicode
 * classes from tools/gen_unicode.py. Not a public header. */
#ifndef URIAL_TOKENIZER_PRETOK_H
#define URIAL_TOKENIZER_PRETOK_H

#include <stddef.h>
#include <stdint.h>

/* Text as code points and their class bits (UR_CL_* in unicode.h). */
typedef struct ur_pt_text {
    const uint32_t *cp;
    const uint16_t *cl;
} ur_pt_text;

/* The length of the stage's match at position i of the piece [.., end) (0: no match).
 * The piece's end is the end of the text for anchors and lookahead. */
typedef size_t (*ur_pt_match)(const ur_pt_text *t, size_t i, size_t end);

typedef struct ur_pretok {
    const char *name;          /* the canonical tokenizer.ggml.pre name */
    const char *const *alias;  /* other names for it, NULL-terminated */
    ur_pt_match stage[6];
    int n_stages;
    int ignore_merges;         /* a piece that is itself a token is taken whole (llama-bpe) */
    int add_bos;               /* llama.cpp's default for tokenizer.ggml.add_bos_token */
    int nfc;                   /* the text is NFC-normalized first (Qwen2's normalizer) */
    const char *regex;         /* what the stages implement, for `urial info` and the docs */
} ur_pretok;

/* The pre-tokenizer a tokenizer.ggml.pre value names, or NULL. */
const ur_pretok *ur_pretok_find(const char *name, size_t len);
/* All of them, NULL-terminated (docs, tests). */
extern const ur_pretok *const ur_pretoks[];

/* Split t[start, end) into pieces, calling emit(ctx, a, b) for each in order. */
typedef void (*ur_pt_emit)(void *ctx, size_t a, size_t b);
void ur_pretok_split(const ur_pretok *p, const ur_pt_text *t, size_t start, size_t end, ur_pt_emit emit, void *ctx);

#endif
